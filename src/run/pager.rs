//! Walks the pages of one request (for one parent record, or the top level): builds each
//! page's URL, sends it through the client, selects the records and decides what comes next.

use super::record::{Rec, Scope, SideLoads};
use super::{DeltaValue, RunCtx, RunError, http, map};
use crate::compile::jsonpath::JsonPath;
use crate::compile::{ErrorWhen, HttpSource, Pagination, RequestParts, StreamId};
use crate::spec::Inject;
use minijinja::Value as MjValue;
use serde_json::Value;
use std::sync::Arc;

/// A number at a JSONPath of the body (a total, a page count).
fn body_u64(path: &Option<JsonPath>, body: &Value) -> Option<u64> {
    path.as_ref()
        .and_then(|p| p.first(body))
        .and_then(|v| v.as_u64())
}

/// One request of a walk: its URL, JSON body and headers.
type Outgoing = (url::Url, Option<Value>, Vec<(String, String)>);

/// A request's templates rendered for one scope.
pub(super) struct Rendered {
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Option<Value>,
}

/// Renders a request's path, query, headers and body (a stream's first page, or the `check:`
/// request) for one scope.
pub(super) fn render(parts: &RequestParts<'_>, scope: &MjValue) -> Result<Rendered, String> {
    let mut query = Vec::new();
    for (k, ts) in parts.query {
        for t in ts {
            query.push((k.clone(), t.render(scope)?));
        }
    }
    let mut headers = Vec::new();
    for (k, t) in parts.headers {
        headers.push((k.clone(), t.render(scope)?));
    }
    Ok(Rendered {
        path: parts.path.render(scope)?,
        query,
        headers,
        body: parts.body.map(|b| b.render(scope)).transpose()?,
    })
}

/// The message of an error inside a 2xx answer, when `error_when` says the body is one;
/// `scope` holds `response` (and the request's variables).
pub(super) fn answer_error(
    ew: &ErrorWhen,
    scope: &MjValue,
    body: &Value,
) -> Result<Option<String>, String> {
    if !ew.condition.is_true(scope)? {
        return Ok(None);
    }
    Ok(Some(
        ew.message
            .as_ref()
            .and_then(|m| m.first(body))
            .and_then(map::key_text)
            .unwrap_or_else(|| "no message".into()),
    ))
}

/// Walks the pages of one request (for one parent, or the top level).
pub(super) struct Pager<'a, 'r> {
    rc: &'r RunCtx<'a>,
    sid: StreamId,
    h: &'r HttpSource,
    parent: Option<Arc<Rec>>,
    path: String,
    base_query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    /// The request body before pagination adds its members.
    base_body: Option<Value>,
    /// The delta value sent (removed when the vendor says a token expired).
    delta: Option<DeltaValue>,
    /// The request scope (for `stop_when`, `error_when`, `expired_when`).
    scope: MjValue,
    /// A cursor for the next request.
    cursor: Option<String>,
    /// The token the last page gave (token deltas).
    pub(super) token: Option<String>,
    next: Option<url::Url>,
    page_no: u64,
    offset: u64,
    index: u64,
    done: bool,
    /// Hashes of the URLs requested so far: a repeat means the pagination loops.
    seen: std::collections::HashSet<u64>,
    /// Hash of the previous page's body: a server that ignores the page parameter answers
    /// the same page again.
    last_body: Option<u64>,
}

impl<'a, 'r> Pager<'a, 'r> {
    pub(super) fn new(
        rc: &'r RunCtx<'a>,
        sid: StreamId,
        h: &'r HttpSource,
        parent: Option<Arc<Rec>>,
    ) -> Result<Self, RunError> {
        let name = &rc.plan.streams[sid].name;
        let scope = Scope::request(rc.inputs, parent.as_deref());
        let Rendered {
            path,
            query: base_query,
            headers,
            body: base_body,
        } = render(&h.parts(), &scope)
            .map_err(|e| RunError::Spec(format!("streams.{name}.request: {e}")))?;
        let (page_no, offset) = match &h.pagination {
            Pagination::PageNumber { start, .. } => (*start, 0),
            _ => (0, 0),
        };
        let delta = rc.cursors[sid].clone();
        Ok(Pager {
            rc,
            sid,
            h,
            parent,
            path,
            base_query,
            headers,
            base_body,
            delta,
            scope,
            cursor: None,
            token: None,
            next: None,
            page_no,
            offset,
            index: 0,
            done: false,
            seen: Default::default(),
            last_body: None,
        })
    }

    /// Whether pagination reads a part of the body that `records` may select (then the
    /// records are copied, not moved out).
    fn reads_inside_records(&self, records: &JsonPath) -> bool {
        let paths: Vec<&JsonPath> = match &self.h.pagination {
            Pagination::Cursor { cursor, .. } => vec![cursor],
            Pagination::PageNumber {
                total_pages: Some(p),
                ..
            } => vec![p],
            Pagination::Offset { total: Some(p), .. } => vec![p],
            _ => Vec::new(),
        };
        if paths.is_empty() {
            return false;
        }
        let Some(key) = records.first_key() else {
            return true;
        };
        paths.iter().any(|p| p.first_key().is_none_or(|k| k == key))
    }

    fn fail(&self, message: String) -> RunError {
        RunError::Http {
            stream: self.rc.plan.streams[self.sid].name.clone(),
            message,
        }
    }

    /// Refuses a request that repeats an earlier one of this walk (the cursor, next link or
    /// page loops) or that goes beyond the stream's `max_pages`.
    fn check_bounds(
        &mut self,
        url: &url::Url,
        body: Option<&Value>,
        headers: &[(String, String)],
        what: &str,
    ) -> Result<(), RunError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        url.as_str().hash(&mut h);
        body.map(|b| b.to_string()).hash(&mut h);
        headers.hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return Err(self.fail(format!(
                "pagination repeats itself: {what} was already requested after {} page(s) (the cursor, next link or page number came back)",
                self.seen.len()
            )));
        }
        if let Some(max) = self.h.max_pages
            && self.seen.len() as u64 > max
        {
            return Err(self.fail(format!(
                "{what} would be page {} of one request, beyond the stream's max_pages ({max})",
                self.seen.len()
            )));
        }
        Ok(())
    }

    pub(super) async fn next(&mut self) -> Result<Option<Vec<Rec>>, RunError> {
        if self.done {
            return Ok(None);
        }
        let client = self.rc.client;
        let (url, body, headers) = self.request()?;
        let what = format!("{} {}", self.h.method, client.redactor.redact(url.as_str()));
        self.check_bounds(&url, body.as_ref(), &headers, &what)?;
        let gate = self.rc.gates[self.sid].as_ref();
        let sent_at = std::time::Instant::now();
        let (resp, body) = client
            .get_json(
                &self.h.method,
                url.clone(),
                body,
                &headers,
                &self.rc.counters[self.sid],
                gate,
            )
            .await
            .map_err(|e| self.fail(e))?;
        let took = sent_at.elapsed();
        if self.parent.is_some() && self.h.empty_on_status.contains(&resp.status) {
            self.done = true;
            return Ok(Some(Vec::new()));
        }
        if !(200..300).contains(&resp.status) {
            return Err(self.fail(format!(
                "{what} answered {}",
                http::status_text(resp.status)
            )));
        }
        if self.token_expired(&body)? {
            return Box::pin(self.next()).await;
        }
        self.check_error(&body, &what)?;
        let source: Arc<str> = Arc::from(url.path());
        let side = self.side_loads(&body, &source)?;
        let mut recs = Vec::new();
        // one selector moves its records out of the body (read again below only for cursors
        // and totals, which sit outside the records); several copy them
        let mut body = body;
        // a page no deeper than a record may be (nearly always) needs no per-record check;
        // otherwise nothing deeper than twice that is kept, so copies below stay shallow
        let deep = super::depth::deeper_than(&body, super::depth::MAX_RECORD_DEPTH);
        if deep {
            super::depth::truncate_deep(&mut body, 2 * super::depth::MAX_RECORD_DEPTH);
        }
        let single = self.h.records.parts.len() == 1;
        for (path, vars) in &self.h.records.parts {
            let vars = match &self.parent {
                Some(p) => p.child_vars(vars),
                None => vars.clone(),
            };
            let found: Vec<Value> = if single && !self.reads_inside_records(path) {
                path.take(&mut body)
            } else {
                path.find(&body).into_iter().cloned().collect()
            };
            for mut m in found {
                let cut = match deep {
                    true => super::depth::truncate_deep(&mut m, super::depth::MAX_RECORD_DEPTH),
                    false => None,
                };
                let mut rec = Rec::new(
                    m,
                    source.clone(),
                    vars.clone(),
                    self.parent.clone(),
                    self.index,
                );
                rec.side = side.clone();
                if let Some(inner) = cut {
                    let src = source.replace('~', "~0").replace('/', "~1");
                    rec.defect = Some((
                        format!("/remote_data/{src}{inner}"),
                        format!(
                            "the vendor's record nests values deeper than {} levels (at {inner}), which mapper does not read",
                            super::depth::MAX_RECORD_DEPTH
                        ),
                    ));
                }
                recs.push(rec);
                self.index += 1;
            }
        }

        let n = recs.len() as u64;
        let body_hash = xxhash_rust::xxh3::xxh3_64(&resp.body);
        if n > 0 && self.last_body.replace(body_hash) == Some(body_hash) {
            return Err(self.fail(format!(
                "pagination repeats itself: {what} answered the same page as the request before (does the API ignore the page parameter?)"
            )));
        }
        if let Some(d) = &self.h.delta
            && let Some(t) = &d.token
        {
            self.token = t
                .first(&body)
                .and_then(map::key_text)
                .filter(|t| !t.is_empty());
        }
        let stop = match &self.h.stop_when {
            Some(e) => e
                .is_true(&self.response_scope(&body))
                .map_err(|e| self.fail(format!("stop_when: {e}")))?,
            None => false,
        };
        let link = resp.header("link").and_then(|l| http::next_link(l, &url));
        match &self.h.pagination {
            _ if stop => self.done = true,
            Pagination::None => self.done = true,
            Pagination::Cursor {
                cursor,
                stop_on_empty,
                ..
            } => {
                let c = cursor
                    .first(&body)
                    .and_then(map::key_text)
                    .filter(|c| !c.is_empty());
                match c {
                    Some(c) if !(*stop_on_empty && n == 0) => self.cursor = Some(c),
                    _ => self.done = true,
                }
            }
            Pagination::NextUrl { path } => {
                let next = path
                    .first(&body)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.trim().is_empty());
                match next {
                    Some(next) if n > 0 => {
                        let u = url.join(next.trim()).map_err(|e| {
                            self.fail(format!("the next page's URL `{next}` is not a URL: {e}"))
                        })?;
                        self.next = Some(client.same_host(&u).map_err(|e| self.fail(e))?);
                    }
                    _ => self.done = true,
                }
            }
            Pagination::LinkHeader { page_size } => {
                let short = page_size.is_some_and(|s| n < s);
                match link {
                    Some(l) if n > 0 && !short => {
                        self.next = Some(client.same_host(&l).map_err(|e| self.fail(e))?)
                    }
                    _ => self.done = true,
                }
            }
            Pagination::PageNumber {
                size,
                total_pages,
                follow_link,
                ..
            } => {
                let beyond_total = body_u64(total_pages, &body).is_some_and(|t| self.page_no >= t);
                if n == 0 || n < *size || beyond_total {
                    self.done = true;
                } else {
                    self.page_no = self.page_no.saturating_add(1);
                    if *follow_link && let Some(l) = link {
                        self.next = Some(client.same_host(&l).map_err(|e| self.fail(e))?);
                    }
                }
            }
            Pagination::Offset { limit, total, .. } => {
                self.offset = self.offset.saturating_add(n);
                let reached = body_u64(total, &body).is_some_and(|t| self.offset >= t);
                if n == 0 || n < *limit || reached {
                    self.done = true;
                }
            }
        }
        tracing::debug!(
            target: "mapper::http",
            "{what} → {} in {} ms, {n} records; next: {}",
            resp.status,
            took.as_millis(),
            self.next_text()
        );
        Ok(Some(recs))
    }

    /// What the walk does next, for the request log (URLs redacted).
    fn next_text(&self) -> String {
        let r = &self.rc.client.redactor;
        match (&self.done, &self.next, &self.cursor) {
            (true, _, _) => "done".into(),
            (false, Some(u), _) => r.redact(u.as_str()),
            (false, None, Some(c)) => format!("cursor {}", r.redact(c)),
            _ => match &self.h.pagination {
                Pagination::PageNumber { .. } => format!("page {}", self.page_no),
                Pagination::Offset { .. } => format!("offset {}", self.offset),
                _ => "done".into(),
            },
        }
    }

    /// The next request: its URL, body and headers, with the pagination token and the delta
    /// value where they go.
    fn request(&mut self) -> Result<Outgoing, RunError> {
        let client = self.rc.client;
        let mut headers = self.headers.clone();
        let mut body = self.base_body.clone();
        let mut q = self.base_query.clone();
        let mut raw: Option<(String, String)> = None;
        let put = |body: &mut Option<Value>, k: &str, v: Value| {
            let b = body.get_or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(m) = b {
                m.insert(k.to_owned(), v);
            }
        };
        if let Some(d) = &self.delta {
            match d.inject {
                Inject::Body => put(&mut body, &d.param, d.value.clone()),
                _ => {
                    q.retain(|(k, _)| k != &d.param);
                    q.push((d.param.clone(), map::key_text(&d.value).unwrap_or_default()));
                }
            }
        }
        if let Some(u) = self.next.take() {
            return Ok((u, body, headers));
        }
        let inject = self.h.inject;
        let mut set = |q: &mut Vec<(String, String)>, k: &str, v: Value| match inject {
            Inject::Body => put(&mut body, k, v),
            Inject::Header => headers.push((k.to_owned(), map::key_text(&v).unwrap_or_default())),
            Inject::Query => {
                q.retain(|(x, _)| x != k);
                q.push((k.to_owned(), map::key_text(&v).unwrap_or_default()));
            }
        };
        match &self.h.pagination {
            Pagination::PageNumber {
                param,
                size_param,
                size,
                ..
            } => {
                set(&mut q, param, Value::from(self.page_no));
                if let Some(sp) = size_param {
                    set(&mut q, sp, Value::from(*size));
                }
            }
            Pagination::Offset {
                offset_param,
                limit_param,
                limit,
                ..
            } => {
                set(&mut q, offset_param, Value::from(self.offset));
                set(&mut q, limit_param, Value::from(*limit));
            }
            Pagination::Cursor { param, encoded, .. } => {
                if let Some(c) = self.cursor.take() {
                    if *encoded && inject == Inject::Query {
                        q.retain(|(k, _)| k != param);
                        raw = Some((param.clone(), c));
                    } else {
                        set(&mut q, param, Value::String(c));
                    }
                }
            }
            _ => {}
        }
        let mut url = client.url_for(&self.path, &q).map_err(|e| self.fail(e))?;
        if let Some((k, v)) = raw {
            http::append_raw_query(&mut url, &k, &v);
        }
        Ok((url, body, headers))
    }

    /// `response` (and the request's variables) for conditions on a page's body.
    fn response_scope(&self, body: &Value) -> MjValue {
        let mut m: std::collections::BTreeMap<&str, MjValue> = std::collections::BTreeMap::new();
        for k in ["inputs", "parent", "parents", "vars"] {
            if let Ok(v) = self.scope.get_attr(k)
                && !v.is_undefined()
            {
                m.insert(k, v);
            }
        }
        m.insert("response", MjValue::from(minijinja::value::Serde(body)));
        MjValue::from(m)
    }

    /// A 2xx answer that `error_when` says is an error fails the request.
    fn check_error(&self, body: &Value, what: &str) -> Result<(), RunError> {
        let Some(ew) = &self.h.error_when else {
            return Ok(());
        };
        let Some(message) = answer_error(ew, &self.response_scope(body), body)
            .map_err(|e| self.fail(format!("error_when: {e}")))?
        else {
            return Ok(());
        };
        Err(self.fail(format!(
            "{what} answered an error inside a 2xx answer: {}",
            self.rc.client.redactor.redact(&message)
        )))
    }

    /// Whether the vendor says the delta token expired; then the walk starts again in full.
    fn token_expired(&mut self, body: &Value) -> Result<bool, RunError> {
        let Some(d) = &self.h.delta else {
            return Ok(false);
        };
        let (Some(e), Some(_)) = (&d.expired_when, &self.delta) else {
            return Ok(false);
        };
        if !e
            .is_true(&self.response_scope(body))
            .map_err(|e| self.fail(format!("expired_when: {e}")))?
        {
            return Ok(false);
        }
        tracing::warn!(
            "streams.{}: the delta token expired; walking the stream in full",
            self.rc.plan.streams[self.sid].name
        );
        self.delta = None;
        self.cursor = None;
        self.next = None;
        self.seen.clear();
        self.last_body = None;
        Ok(true)
    }

    /// Indexes of the side-loaded lookups over this page (none when no lookup side-loads).
    fn side_loads(
        &self,
        body: &Value,
        source: &Arc<str>,
    ) -> Result<Option<Arc<SideLoads>>, RunError> {
        let plan = self.rc.plan;
        let mut out = SideLoads::default();
        for (li, l) in plan.lookups.iter().enumerate() {
            let Some(path) = &l.side_load else { continue };
            let mut idx = map::LookupIndex::new(l);
            let env = map::Env {
                inputs: self.rc.inputs,
                lookups: &[],
                integration: self.rc.integration,
                now: self.rc.now,
                unmapped: None,
            };
            for (i, v) in path.find(body).into_iter().enumerate() {
                let rec = Rec::new(
                    v.clone(),
                    source.clone(),
                    Default::default(),
                    None,
                    i as u64,
                );
                idx.add(l, &rec, &env)
                    .map_err(|e| RunError::Spec(format!("lookups.{}: {e}", l.name)))?;
            }
            idx.finish();
            out.0.insert(li, idx.into_values());
        }
        Ok((!out.0.is_empty()).then(|| Arc::new(out)))
    }
}
