//! Walks the pages of one request (for one parent record, or the top level): builds each
//! page's URL, sends it through the client, selects the records and decides what comes next.

use super::record::{Rec, Scope};
use super::{RunCtx, RunError, http, map};
use crate::compile::jsonpath::JsonPath;
use crate::compile::{HttpSource, Pagination, StreamId};
use serde_json::Value;
use std::sync::Arc;

/// A number at a JSONPath of the body (a total, a page count).
fn body_u64(path: &Option<JsonPath>, body: &Value) -> Option<u64> {
    path.as_ref()
        .and_then(|p| p.first(body))
        .and_then(|v| v.as_u64())
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
        let err = |e: String| RunError::Spec(format!("streams.{name}.request: {e}"));
        let path = h.path.render(&scope).map_err(err)?;
        let mut base_query = Vec::new();
        for (k, ts) in &h.query {
            for t in ts {
                base_query.push((k.clone(), t.render(&scope).map_err(err)?));
            }
        }
        if let Some((param, since)) = &rc.cursors[sid] {
            base_query.retain(|(k, _)| k != param);
            base_query.push((param.clone(), since.clone()));
        }
        let mut headers = Vec::new();
        for (k, t) in &h.headers {
            headers.push((k.clone(), t.render(&scope).map_err(err)?));
        }
        let (page_no, offset) = match &h.pagination {
            Pagination::PageNumber { start, .. } => (*start, 0),
            _ => (0, 0),
        };
        Ok(Pager {
            rc,
            sid,
            h,
            parent,
            path,
            base_query,
            headers,
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
    fn check_bounds(&mut self, url: &url::Url, what: &str) -> Result<(), RunError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        url.as_str().hash(&mut h);
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
        let url = match self.next.take() {
            Some(u) => u,
            None => {
                let mut q = self.base_query.clone();
                match &self.h.pagination {
                    Pagination::PageNumber {
                        param,
                        size_param,
                        size,
                        ..
                    } => {
                        q.retain(|(k, _)| k != param && Some(k) != size_param.as_ref());
                        q.push((param.clone(), self.page_no.to_string()));
                        if let Some(sp) = size_param {
                            q.push((sp.clone(), size.to_string()));
                        }
                    }
                    Pagination::Offset {
                        offset_param,
                        limit_param,
                        limit,
                        ..
                    } => {
                        q.retain(|(k, _)| k != offset_param && k != limit_param);
                        q.push((offset_param.clone(), self.offset.to_string()));
                        q.push((limit_param.clone(), limit.to_string()));
                    }
                    _ => {}
                }
                client.url_for(&self.path, &q).map_err(|e| self.fail(e))?
            }
        };
        let what = format!("{} {}", self.h.method, client.redactor.redact(url.as_str()));
        self.check_bounds(&url, &what)?;
        let gate = self.rc.gates[self.sid].as_ref();
        let (resp, body) = client
            .get_json(
                &self.h.method,
                url.clone(),
                &self.headers,
                &self.rc.counters[self.sid],
                gate,
            )
            .await
            .map_err(|e| self.fail(e))?;
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
        let source: Arc<str> = Arc::from(url.path());
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
        let body_hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            resp.body.hash(&mut h);
            h.finish()
        };
        if n > 0 && self.last_body.replace(body_hash) == Some(body_hash) {
            return Err(self.fail(format!(
                "pagination repeats itself: {what} answered the same page as the request before (does the API ignore the page parameter?)"
            )));
        }
        let link = resp.header("link").and_then(|l| http::next_link(l, &url));
        match &self.h.pagination {
            Pagination::None => self.done = true,
            Pagination::Cursor {
                cursor,
                param,
                stop_on_empty,
                encoded,
            } => {
                let c = cursor
                    .first(&body)
                    .and_then(map::key_text)
                    .filter(|c| !c.is_empty());
                match c {
                    Some(c) if !(*stop_on_empty && n == 0) => {
                        let mut q: Vec<(String, String)> = self
                            .base_query
                            .iter()
                            .filter(|(k, _)| k != param)
                            .cloned()
                            .collect();
                        let mut next = if *encoded {
                            client.url_for(&self.path, &q)
                        } else {
                            q.push((param.clone(), c.clone()));
                            client.url_for(&self.path, &q)
                        }
                        .map_err(|e| self.fail(e))?;
                        if *encoded {
                            http::append_raw_query(&mut next, param, &c);
                        }
                        self.next = Some(next);
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
        Ok(Some(recs))
    }
}
