//! Stage 2: turns a [`Spec`] into a [`Plan`]. The only place strings are parsed; every
//! problem is collected and reported at once with file, line:column and spec path.

pub mod expr;
pub mod jsonpath;
mod locality;
pub mod plan;
pub mod schema;

pub use plan::*;

use crate::spec::{
    self, AuthSpec, FieldDef, FieldSpec, LoadError, PaginationSpec, SourceMap, Spec,
};
use expr::{Expr, Template};
use jsonpath::JsonPath;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One problem in a connector file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: String,
    /// Line, from 1 (0: the problem is the file as a whole, e.g. it cannot be read).
    pub line: u32,
    /// Column, from 1 (0 with line 0).
    pub col: u32,
    /// Spec path, e.g. `streams.candidates.fields.email`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // about the file as a whole (it could not be read): no position to give
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a connector did not compile.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The file could not be read or deserialized.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The file was read but has problems.
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

impl CompileError {
    /// Every problem as a diagnostic.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            CompileError::Invalid(d) => d.clone(),
            CompileError::Load(LoadError::Yaml {
                file,
                pos,
                path,
                message,
            }) => {
                vec![Diagnostic {
                    file: file.clone(),
                    line: pos.line,
                    col: pos.col,
                    path: path.clone(),
                    message: message.clone(),
                }]
            }
            CompileError::Load(
                e @ (LoadError::Io { file, .. }
                | LoadError::Directory { file }
                | LoadError::TooLarge { file, .. }),
            ) => {
                // no position: the file itself could not be read
                let text = e.to_string();
                vec![Diagnostic {
                    file: file.clone(),
                    line: 0,
                    col: 0,
                    path: String::new(),
                    message: text
                        .strip_prefix(&format!("{file}: "))
                        .unwrap_or(&text)
                        .to_owned(),
                }]
            }
        }
    }
}

/// Reads and compiles a connector file.
pub fn compile_file(path: &Path) -> Result<Plan, CompileError> {
    let (spec, map, file) = spec::load_file(path)?;
    compile(&spec, &map, &file).map_err(CompileError::Invalid)
}

/// Compiles a loaded spec. `file` locates relative paths (the sandbox cassette).
pub fn compile(spec: &Spec, map: &SourceMap, file: &Path) -> Result<Plan, Vec<Diagnostic>> {
    let mut c = Compiler {
        map,
        diags: Vec::new(),
        inputs: spec.inputs.keys().cloned().collect(),
    };
    let plan = c.plan(spec, file);
    if let (true, Some(plan)) = (c.diags.is_empty(), plan) {
        Ok(plan)
    } else {
        if c.diags.is_empty() {
            c.err("", "the connector could not be compiled");
        }
        c.diags.sort_by_key(|d| (d.line, d.col));
        c.diags.dedup();
        Err(c.diags)
    }
}

/// Variables each kind of template may read.
const REQUEST_VARS: &[&str] = &["inputs", "parent", "parents", "vars"];
const RESPONSE_VARS: &[&str] = &["inputs", "parent", "parents", "vars", "response"];
const RECORD_VARS: &[&str] = &[
    "inputs",
    "record",
    "parent",
    "parents",
    "vars",
    "item",
    "item_index",
    "index",
];
const THEN_VARS: &[&str] = &[
    "inputs",
    "record",
    "parent",
    "parents",
    "vars",
    "item",
    "item_index",
    "index",
    "value",
];
const MJ_GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "none",
    "true",
    "false",
    "loop",
];

struct Compiler<'a> {
    map: &'a SourceMap,
    diags: Vec<Diagnostic>,
    inputs: HashSet<String>,
}

impl Compiler<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.map.pos(path);
        self.diags.push(Diagnostic {
            file: self.map.file.clone(),
            line: pos.line,
            col: pos.col,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// `file:line:column` of the node at `path`, for run-time messages.
    fn loc(&self, path: &str) -> String {
        let pos = self.map.pos(path);
        format!("{}:{}:{}", self.map.file, pos.line, pos.col)
    }

    fn err_key(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.map.key_pos(path);
        self.diags.push(Diagnostic {
            file: self.map.file.clone(),
            line: pos.line,
            col: pos.col,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn check_vars(
        &mut self,
        path: &str,
        what: &str,
        top: Vec<String>,
        nested: Vec<String>,
        allowed: &[&str],
    ) {
        for v in top {
            if !allowed.contains(&v.as_str()) && !MJ_GLOBALS.contains(&v.as_str()) {
                self.err(
                    path,
                    format!(
                        "{what} reads unknown variable `{v}` (available: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        for v in nested {
            if let Some(rest) = v.strip_prefix("inputs.") {
                let name = rest.split('.').next().unwrap_or(rest);
                if !self.inputs.contains(name) {
                    self.err(
                        path,
                        format!("{what} reads `inputs.{name}`, which `inputs` does not declare"),
                    );
                }
            }
        }
    }

    fn template(&mut self, path: &str, text: &str, allowed: &[&str]) -> Option<Template> {
        match Template::compile(text) {
            Ok(t) => {
                let t = t.located(self.loc(path));
                self.check_vars(
                    path,
                    "template",
                    t.variables(),
                    t.nested_variables(),
                    allowed,
                );
                Some(t)
            }
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }

    fn expr(&mut self, path: &str, text: &str, allowed: &[&str]) -> Option<Expr> {
        match Expr::compile(text) {
            Ok(e) => {
                let e = e.located(self.loc(path));
                self.check_vars(
                    path,
                    "expression",
                    e.variables(),
                    e.nested_variables(),
                    allowed,
                );
                Some(e)
            }
            Err(e) => {
                self.err(path, e);
                None
            }
        }
    }

    fn jsonpath(&mut self, path: &str, text: &str) -> Option<JsonPath> {
        JsonPath::parse(text).map_err(|e| self.err(path, e)).ok()
    }

    fn key_expr(&mut self, path: &str, text: &str) -> Option<KeyExpr> {
        if text.trim_start().starts_with('$') {
            self.jsonpath(path, text).map(KeyExpr::Path)
        } else if text.contains("{{") {
            self.template(path, text, RECORD_VARS)
                .map(KeyExpr::Template)
        } else {
            self.err(
                path,
                format!("`{text}` is neither a JSONPath (`$...`) nor a template (`{{{{ ... }}}}`)"),
            );
            None
        }
    }

    fn plan(&mut self, spec: &Spec, file: &Path) -> Option<Plan> {
        if spec.name.is_empty()
            || !spec
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            self.err(
                "name",
                format!("connector name `{}` must match [a-z0-9_]+", spec.name),
            );
        }
        let base_url = if spec.base_url.contains("{{") || spec.base_url.contains("{%") {
            self.template("base_url", &spec.base_url, &["inputs"])
                .map(BaseUrl::Template)
        } else {
            match parse_base_url(&spec.base_url) {
                Ok(u) => Some(BaseUrl::Fixed(u)),
                Err(e) => {
                    self.err("base_url", format!("base_url {e}"));
                    None
                }
            }
        };
        let mut inputs = Vec::new();
        for (name, i) in &spec.inputs {
            let p = format!("inputs.{name}");
            if i.env.is_empty() || !i.env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                self.err(
                    &format!("{p}.env"),
                    format!("`{}` is not an environment variable name", i.env),
                );
            }
            inputs.push(Input {
                name: name.clone(),
                env: i.env.clone(),
                secret: i.secret.unwrap_or(true),
                default: i.default.clone(),
                sandbox: i.sandbox.clone(),
            });
        }
        let auth = spec.auth.as_ref().and_then(|a| self.auth("auth", a));
        let headers = self.headers("headers", &spec.headers);
        let limits = self.limits("rate_limit", spec.rate_limit.as_ref());
        let r = spec.retry.clone().unwrap_or_default();
        let max_attempts = self.int_in(
            "retry.max_attempts",
            r.max_attempts.map(u64::from),
            1,
            100,
            5,
        );
        let initial_ms = self.int_in(
            "retry.initial_backoff_ms",
            r.initial_backoff_ms,
            1,
            600_000,
            500,
        );
        let max_ms = self.int_in(
            "retry.max_backoff_ms",
            r.max_backoff_ms,
            1,
            3_600_000,
            30_000.max(initial_ms),
        );
        if max_ms < initial_ms && r.max_backoff_ms.is_some() {
            self.err(
                "retry.max_backoff_ms",
                format!("`max_backoff_ms` ({max_ms}) must be at least `initial_backoff_ms` ({initial_ms})"),
            );
        }
        let retry = RetryPolicy {
            max_attempts: max_attempts as u32,
            initial_backoff: Duration::from_millis(initial_ms),
            max_backoff: Duration::from_millis(max_ms.max(initial_ms)),
            max_retry_after: Duration::from_secs(self.int_in(
                "retry.max_retry_after_secs",
                r.max_retry_after_secs,
                1,
                86_400,
                120,
            )),
            max_rate_limit_wait: Duration::from_secs(self.int_in(
                "retry.max_rate_limit_wait_secs",
                r.max_rate_limit_wait_secs,
                1,
                86_400,
                900,
            )),
        };
        let timeout = Duration::from_secs_f64(self.num_in(
            "timeout_secs",
            spec.timeout_secs,
            0.1,
            3600.0,
            60.0,
        ));
        let sandbox = spec.sandbox.as_ref().map(|s| {
            let p = file.parent().unwrap_or(Path::new(".")).join(&s.cassette);
            if !p.is_file() {
                self.err(
                    "sandbox.cassette",
                    format!("cassette `{}` not found", p.display()),
                );
            }
            p
        });
        let check = self.check_request(spec);

        // Streams: names first, so references can be resolved in any order.
        let names: Vec<String> = spec.streams.keys().cloned().collect();
        let lookup_names: Vec<String> = spec.lookups.keys().cloned().collect();
        let lookup_keyed: Vec<bool> = spec.lookups.values().map(|l| l.key.is_some()).collect();
        let emitted: HashSet<String> = spec
            .streams
            .values()
            .filter_map(|s| s.model.clone())
            .collect();
        let env = Names {
            streams: &names,
            lookups: &lookup_names,
            lookup_keyed: &lookup_keyed,
            emitted: &emitted,
        };

        let mut lookups = Vec::new();
        for (name, l) in &spec.lookups {
            let p = format!("lookups.{name}");
            let (stream, side_load) = match (&l.stream, &l.side_load) {
                (Some(st), None) => {
                    let stream = names.iter().position(|n| n == st).map(StreamId);
                    if stream.is_none() {
                        self.err(
                            &format!("{p}.stream"),
                            format!(
                                "unknown stream `{st}`{}",
                                hint(st, names.iter().map(String::as_str))
                            ),
                        );
                    }
                    (stream, None)
                }
                (None, Some(sl)) => match self.jsonpath(&format!("{p}.side_load"), sl) {
                    // side-loaded: no stream (a placeholder that indexes nothing)
                    Some(jp) => (Some(StreamId(usize::MAX)), Some(jp)),
                    None => (None, None),
                },
                _ => {
                    self.err(&p, "a lookup needs exactly one of `stream` or `side_load`");
                    (None, None)
                }
            };
            let key = match &l.key {
                Some(k) => self.key_expr(&format!("{p}.key"), k).map(Some),
                None => Some(None),
            };
            let value = l
                .value
                .as_ref()
                .and_then(|v| self.value_map(&format!("{p}.value"), v, &env, None, false));
            let where_ = l
                .where_
                .as_ref()
                .and_then(|w| self.expr(&format!("{p}.where"), w, RECORD_VARS));
            let order_by = l
                .order_by
                .as_ref()
                .and_then(|o| self.key_expr(&format!("{p}.order_by"), o));
            // `None` (with a diagnostic) keeps the indexes aligned with the names
            lookups.push(match (stream, key) {
                (Some(stream), Some(key)) => Some(Lookup {
                    name: name.clone(),
                    stream,
                    side_load,
                    key,
                    value,
                    where_,
                    order_by,
                    keep: l.keep.unwrap_or(if l.key.is_some() {
                        spec::Keep::First
                    } else {
                        spec::Keep::All
                    }),
                }),
                _ => None,
            });
        }

        let mut streams = Vec::new();
        for (name, s) in &spec.streams {
            streams.push(self.stream(name, s, spec, &env));
        }
        let mut streams: Vec<Stream> = streams.into_iter().collect::<Option<Vec<_>>>()?;
        let mut lookups: Vec<Lookup> = lookups.into_iter().collect::<Option<Vec<_>>>()?;
        // lookups used by each stream's mapping are dependencies of that stream
        for (i, (_, s)) in spec.streams.iter().enumerate() {
            let mut used = Vec::new();
            collect_lookups(s, &mut used);
            for l in used {
                if let Some(li) = lookup_names.iter().position(|n| n == &l)
                    && lookups[li].side_load.is_none()
                {
                    let src = lookups[li].stream;
                    if !streams[i].deps.contains(&src) {
                        streams[i].deps.push(src);
                    }
                }
            }
        }
        for (li, l) in lookups.iter().enumerate() {
            if let Some(s) = streams.get_mut(l.stream.0) {
                s.feeds.push(LookupId(li));
            }
        }
        // spooled: read by another stream after it finishes
        for i in 0..streams.len() {
            let read_by_child = streams.iter().any(|s| match &s.source {
                Source::Http(h) => h.for_each == Some(StreamId(i)),
                Source::Derive { from, .. } => *from == StreamId(i),
                Source::Static(_) => false,
            });
            streams[i].spooled = read_by_child;
        }
        let order = match topo_order(&streams) {
            Ok(o) => o,
            Err(cycle) => {
                self.err(
                    &format!("streams.{}", streams[cycle].name),
                    format!(
                        "stream `{}` depends on itself (through for_each, from or a lookup)",
                        streams[cycle].name
                    ),
                );
                return None;
            }
        };
        // Re-number streams in dependency order.
        let mut renumber = vec![StreamId(0); streams.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old] = StreamId(new);
        }
        let mut slots: Vec<Option<Stream>> = streams.into_iter().map(Some).collect();
        let mut streams: Vec<Stream> = order.iter().map(|&o| slots[o].take().unwrap()).collect();
        for s in &mut streams {
            s.deps = s.deps.iter().map(|d| renumber[*d]).collect();
            match &mut s.source {
                Source::Http(h) => h.for_each = h.for_each.map(|p| renumber[p]),
                Source::Derive { from, .. } => *from = renumber[*from],
                Source::Static(_) => {}
            }
        }
        for l in &mut lookups {
            if l.side_load.is_none() {
                l.stream = renumber[l.stream];
            }
        }
        let models = schema::model_names()
            .filter_map(|m| {
                let ids: Vec<StreamId> = streams
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.output.as_ref().is_some_and(|o| o.model.name == m))
                    .map(|(i, _)| StreamId(i))
                    .collect();
                let tombstones: Vec<StreamId> = streams
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.tombstone.as_ref().is_some_and(|t| t.model == m))
                    .map(|(i, _)| StreamId(i))
                    .collect();
                (!ids.is_empty()).then(|| ModelInfo {
                    name: schema::model(m).unwrap().name,
                    streams: ids,
                    tombstones,
                })
            })
            .collect();
        if !self.diags.is_empty() {
            return None;
        }
        Some(Plan {
            // the spec's own structure, written out: what changes it changes this
            fingerprint: xxhash_rust::xxh3::xxh3_64(format!("{spec:?}").as_bytes()),
            name: spec.name.clone(),
            title: spec.title.clone(),
            notes: spec.notes.clone(),
            file: file.to_path_buf(),
            base_url: base_url?,
            inputs,
            auth,
            headers,
            limits,
            retry,
            timeout,
            sandbox,
            check,
            lookups,
            streams,
            models,
        })
    }

    /// A request's method (GET when it names none).
    fn method(&mut self, rp: &str, req: &spec::RequestSpec) -> reqwest::Method {
        match req
            .method
            .as_deref()
            .unwrap_or("GET")
            .to_ascii_uppercase()
            .parse::<reqwest::Method>()
        {
            Ok(m) => m,
            Err(_) => {
                self.err(&format!("{rp}.method"), "not an HTTP method");
                reqwest::Method::GET
            }
        }
    }

    /// A request's path template, which starts with `/`.
    fn request_path(&mut self, rp: &str, req: &spec::RequestSpec) -> Option<Template> {
        let path = self.template(&format!("{rp}.path"), &req.path, REQUEST_VARS);
        if !req.path.starts_with('/') && !req.path.starts_with("{{") {
            self.err(&format!("{rp}.path"), "a request path starts with `/`");
        }
        path
    }

    /// A request's query parameters (a list repeats the parameter).
    fn query(&mut self, rp: &str, req: &spec::RequestSpec) -> Vec<(String, Vec<Template>)> {
        let mut query = Vec::new();
        for (k, v) in &req.query {
            let qp = format!("{rp}.query.{k}");
            let vals = match v {
                spec::QueryValue::One(x) => vec![x.text()],
                spec::QueryValue::Many(xs) => xs.iter().map(|x| x.text()).collect(),
            };
            let ts: Vec<Template> = vals
                .iter()
                .filter_map(|t| self.template(&qp, t, REQUEST_VARS))
                .collect();
            query.push((k.clone(), ts));
        }
        query
    }

    /// The `check:` request: one request without a parent (no delta, no pagination).
    fn check_request(&mut self, spec: &Spec) -> Option<CheckRequest> {
        let req = spec.check.as_ref()?;
        let rp = "check";
        if req.delta.is_some() {
            self.err(
                "check.delta",
                "a check request is one plain request: it takes no `delta`",
            );
        }
        for var in ["parent", "parents", "vars"] {
            let uses = |t: &str| t.contains(&format!("{var}.")) || t.contains(&format!("{var}["));
            if uses(&req.path)
                || req.query.values().any(|q| match q {
                    spec::QueryValue::One(x) => uses(&x.text()),
                    spec::QueryValue::Many(xs) => xs.iter().any(|x| uses(&x.text())),
                })
            {
                self.err(
                    rp,
                    format!("a check request has no parent: it sees only `inputs`, not `{var}`"),
                );
            }
        }
        let method = self.method(rp, req);
        let path = self.request_path(rp, req);
        let query = self.query(rp, req);
        let headers = self.headers("check.headers", &req.headers);
        let body = req.body.as_ref().and_then(|b| self.body("check.body", b));
        let error_when = match (&req.error_when, &spec.error_when) {
            (Some(e), _) => self.error_when("check.error_when", e),
            (None, Some(e)) => self.error_when("error_when", e),
            (None, None) => None,
        };
        Some(CheckRequest {
            method,
            path: path?,
            query,
            headers,
            body,
            error_when,
        })
    }

    fn headers(
        &mut self,
        path: &str,
        h: &indexmap::IndexMap<String, String>,
    ) -> Vec<(String, Template)> {
        let mut out = Vec::new();
        for (k, v) in h {
            let p = format!("{path}.{k}");
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
                self.err_key(&p, format!("`{k}` is not a valid header name"));
            }
            if let Some(t) = self.template(&p, v, REQUEST_VARS) {
                out.push((k.clone(), t));
            }
        }
        out
    }

    fn limits(&mut self, path: &str, l: Option<&spec::RateLimitSpec>) -> Limits {
        let Some(l) = l else { return Limits::default() };
        let rps = l.requests_per_second.map(|r| {
            self.num_in(
                &format!("{path}.requests_per_second"),
                Some(r),
                0.01,
                10_000.0,
                1.0,
            )
        });
        let conc = l.max_concurrency.map(|c| {
            self.int_in(
                &format!("{path}.max_concurrency"),
                Some(u64::from(c)),
                1,
                1024,
                1,
            ) as u32
        });
        let headers = l.headers.as_ref().map(|h| {
            let hp = format!("{path}.headers");
            for (k, name) in [
                ("remaining", Some(&h.remaining)),
                ("reset", h.reset.as_ref()),
            ] {
                if let Some(name) = name
                    && reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                {
                    self.err(
                        &format!("{hp}.{k}"),
                        format!("`{name}` is not a header name"),
                    );
                }
            }
            let window = self.num_in(
                &format!("{hp}.window_secs"),
                h.window_secs,
                0.1,
                3600.0,
                1.0,
            );
            BudgetHeaders {
                remaining: h.remaining.to_ascii_lowercase(),
                reset: h.reset.as_ref().map(|r| r.to_ascii_lowercase()),
                reset_format: h.reset_format.unwrap_or_default(),
                window: Duration::from_secs_f64(window),
                reserve: self.int_in(
                    &format!("{hp}.reserve"),
                    h.reserve,
                    0,
                    100_000,
                    u64::from(conc.unwrap_or(1)),
                ),
            }
        });
        Limits {
            requests_per_second: rps,
            max_concurrency: conc,
            headers,
        }
    }

    /// An integer setting checked against its accepted range (`default` when absent or out
    /// of range, with a diagnostic).
    fn int_in(&mut self, path: &str, v: Option<u64>, lo: u64, hi: u64, default: u64) -> u64 {
        match v {
            None => default,
            Some(v) if (lo..=hi).contains(&v) => v,
            Some(v) => {
                let name = path.rsplit('.').next().unwrap_or(path);
                self.err(
                    path,
                    format!("`{name}` must be between {lo} and {hi} (got {v})"),
                );
                default.clamp(lo, hi)
            }
        }
    }

    /// A number setting checked against its accepted range, like [`Compiler::int_in`].
    fn num_in(&mut self, path: &str, v: Option<f64>, lo: f64, hi: f64, default: f64) -> f64 {
        match v {
            None => default,
            Some(v) if v.is_finite() && v >= lo && v <= hi => v,
            Some(v) => {
                let name = path.rsplit('.').next().unwrap_or(path);
                let got = if v != 0.0 && !(1e-4..1e15).contains(&v.abs()) {
                    format!("{v:e}")
                } else {
                    v.to_string()
                };
                self.err(
                    path,
                    format!("`{name}` must be between {lo} and {hi} (got {got})"),
                );
                default.clamp(lo, hi)
            }
        }
    }

    fn auth(&mut self, path: &str, a: &AuthSpec) -> Option<Auth> {
        let v = REQUEST_VARS;
        Some(match a {
            AuthSpec::ApiKey { headers } => {
                if headers.is_empty() {
                    self.err(path, "api_key auth needs at least one header");
                }
                Auth::ApiKey {
                    headers: self.headers(&format!("{path}.headers"), headers),
                }
            }
            AuthSpec::Bearer { token } => Auth::Bearer {
                token: self.template(&format!("{path}.token"), token, v)?,
            },
            AuthSpec::Basic { username, password } => Auth::Basic {
                username: self.template(&format!("{path}.username"), username, v)?,
                password: match password {
                    Some(p) => Some(self.template(&format!("{path}.password"), p, v)?),
                    None => None,
                },
            },
            AuthSpec::Oauth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scopes,
                client_auth,
                extra_params,
            } => Auth::OAuth2 {
                token_url: self.template(&format!("{path}.token_url"), token_url, v)?,
                client_id: self.template(&format!("{path}.client_id"), client_id, v)?,
                client_secret: self.template(&format!("{path}.client_secret"), client_secret, v)?,
                scopes: scopes.clone(),
                client_auth: client_auth.unwrap_or(spec::ClientAuthStyle::Form),
                extra: self.headers(&format!("{path}.extra_params"), extra_params),
            },
            AuthSpec::AnyOf { options } => {
                if options.is_empty() {
                    self.err(path, "any_of needs at least one option");
                }
                let mut opts = Vec::new();
                for (i, o) in options.iter().enumerate() {
                    let op = format!("{path}.options[{i}]");
                    if matches!(o, AuthSpec::AnyOf { .. }) {
                        self.err(
                            &op,
                            "an any_of option cannot itself be any_of: list its alternatives in the outer `options`",
                        );
                        continue;
                    }
                    if let Some(a) = self.auth(&op, o) {
                        opts.push(a);
                    }
                }
                Auth::AnyOf(opts)
            }
        })
    }

    fn selector(&mut self, path: &str, s: &spec::Selector) -> Option<Selector> {
        let parts = match s {
            spec::Selector::Path(p) => {
                vec![(self.jsonpath(path, p)?, Arc::new(serde_json::Map::new()))]
            }
            spec::Selector::Many(parts) => {
                let mut out = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let pp = format!("{path}[{i}]");
                    if part.lookup.is_some() || part.key.is_some() {
                        self.err(
                            &pp,
                            "`lookup` and `key` go with a derived stream's `explode`; `records` selects from the response",
                        );
                        continue;
                    }
                    let Some(p) = &part.path else {
                        self.err(&pp, "needs a `path`");
                        continue;
                    };
                    if let Some(jp) = self.jsonpath(&format!("{pp}.path"), p) {
                        out.push((jp, Arc::new(part.vars.clone().into_iter().collect())));
                    }
                }
                if parts.is_empty() {
                    self.err(path, "needs at least one path");
                }
                out
            }
        };
        Some(Selector { parts })
    }

    fn explode(&mut self, path: &str, s: &spec::Selector, env: &Names) -> Option<Explode> {
        let parts = match s {
            spec::Selector::Path(p) => vec![(
                ExplodeSource::Path(self.jsonpath(path, p)?),
                Arc::new(serde_json::Map::new()),
            )],
            spec::Selector::Many(parts) => {
                if parts.is_empty() {
                    self.err(path, "needs at least one part");
                }
                let mut out = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let pp = format!("{path}[{i}]");
                    let vars = Arc::new(part.vars.clone().into_iter().collect());
                    let jp = match &part.path {
                        Some(p) => match self.jsonpath(&format!("{pp}.path"), p) {
                            Some(jp) => Some(jp),
                            None => continue,
                        },
                        None => None,
                    };
                    let source = match (&part.lookup, jp) {
                        (Some(l), path) => match self.lookup_ref(&pp, l, part.key.as_ref(), env) {
                            Some((lookup, key)) => ExplodeSource::Lookup { lookup, key, path },
                            None => continue,
                        },
                        (None, Some(jp)) => {
                            if part.key.is_some() {
                                self.err(&format!("{pp}.key"), "`key` goes with `lookup`");
                            }
                            ExplodeSource::Path(jp)
                        }
                        (None, None) => {
                            self.err(&pp, "needs a `path` or a `lookup`");
                            continue;
                        }
                    };
                    out.push((source, vars));
                }
                out
            }
        };
        Some(Explode { parts })
    }

    /// A query of lookup `name` with `key`: the lookup exists, and a key is given exactly
    /// when the lookup has one.
    fn lookup_ref(
        &mut self,
        p: &str,
        name: &str,
        key: Option<&String>,
        env: &Names,
    ) -> Option<(LookupId, Option<KeyExpr>)> {
        let Some(lookup) = env.lookups.iter().position(|n| n == name).map(LookupId) else {
            self.err(
                &format!("{p}.lookup"),
                format!(
                    "unknown lookup `{name}`{}",
                    hint(name, env.lookups.iter().map(String::as_str))
                ),
            );
            return None;
        };
        match (key, env.lookup_keyed[lookup]) {
            (Some(k), true) => Some((lookup, Some(self.key_expr(&format!("{p}.key"), k)?))),
            (None, false) => Some((lookup, None)),
            (None, true) => {
                self.err(
                    p,
                    format!("lookup `{name}` has a `key`: give the `key` to look up"),
                );
                None
            }
            (Some(_), false) => {
                self.err(
                    &format!("{p}.key"),
                    format!("lookup `{name}` has no `key` (it holds every record): drop `key`"),
                );
                None
            }
        }
    }

    fn pagination(&mut self, path: &str, p: &PaginationSpec) -> Paging {
        use spec::Inject;
        let stop = |c: &mut Self, s: &Option<String>| {
            s.as_ref()
                .and_then(|e| c.expr(&format!("{path}.stop_when"), e, RESPONSE_VARS))
        };
        let (kind, inject, stop_when) = match p {
            PaginationSpec::None => (Pagination::None, Inject::Query, None),
            PaginationSpec::Cursor {
                cursor,
                param,
                stop_on_empty,
                encoded,
                in_,
                stop_when,
            } => {
                let kind = match self.jsonpath(&format!("{path}.cursor"), cursor) {
                    Some(c) => Pagination::Cursor {
                        cursor: c,
                        param: param.clone(),
                        stop_on_empty: stop_on_empty.unwrap_or(true),
                        encoded: encoded.unwrap_or(false),
                    },
                    None => Pagination::None,
                };
                if encoded.unwrap_or(false) && in_.is_some_and(|i| i != Inject::Query) {
                    self.err(
                        &format!("{path}.encoded"),
                        "`encoded` is about query parameters; a body or header cursor is sent as received anyway",
                    );
                }
                (kind, in_.unwrap_or_default(), stop(self, stop_when))
            }
            PaginationSpec::NextUrl {
                path: np,
                stop_when,
            } => (
                match self.jsonpath(&format!("{path}.path"), np) {
                    Some(jp) => Pagination::NextUrl { path: jp },
                    None => Pagination::None,
                },
                Inject::Query,
                stop(self, stop_when),
            ),
            PaginationSpec::LinkHeader {
                page_size,
                stop_when,
            } => (
                Pagination::LinkHeader {
                    page_size: page_size.map(|n| {
                        self.int_in(&format!("{path}.page_size"), Some(n), 1, 1_000_000, 1)
                    }),
                },
                Inject::Query,
                stop(self, stop_when),
            ),
            PaginationSpec::PageNumber {
                param,
                start,
                size_param,
                size,
                total_pages,
                follow_link,
                in_,
                stop_when,
            } => {
                let size = self.int_in(&format!("{path}.size"), Some(*size), 1, 1_000_000, 1);
                let start = self.int_in(&format!("{path}.start"), *start, 0, 1_000_000_000, 1);
                let kind = Pagination::PageNumber {
                    param: param.clone(),
                    start,
                    size_param: size_param.clone(),
                    size,
                    total_pages: total_pages
                        .as_ref()
                        .and_then(|t| self.jsonpath(&format!("{path}.total_pages"), t)),
                    follow_link: follow_link.unwrap_or(false),
                };
                (kind, self.no_header(path, *in_), stop(self, stop_when))
            }
            PaginationSpec::Offset {
                offset_param,
                limit_param,
                limit,
                total,
                in_,
                stop_when,
            } => {
                let limit = self.int_in(&format!("{path}.limit"), Some(*limit), 1, 1_000_000, 1);
                let kind = Pagination::Offset {
                    offset_param: offset_param.clone(),
                    limit_param: limit_param.clone(),
                    limit,
                    total: total
                        .as_ref()
                        .and_then(|t| self.jsonpath(&format!("{path}.total"), t)),
                };
                (kind, self.no_header(path, *in_), stop(self, stop_when))
            }
        };
        Paging {
            kind,
            inject,
            stop_when,
        }
    }

    /// Page numbers and offsets go in the query or the body (two values cannot share a header).
    fn no_header(&mut self, path: &str, i: Option<spec::Inject>) -> spec::Inject {
        if i == Some(spec::Inject::Header) {
            self.err(
                &format!("{path}.in"),
                "page numbers and offsets go in the `query` or the `body`",
            );
        }
        i.unwrap_or_default()
    }

    fn body(&mut self, path: &str, v: &Value) -> Option<BodyTemplate> {
        Some(match v {
            Value::String(s) if s.contains("{{") || s.contains("{%") => {
                BodyTemplate::Template(self.template(path, s, REQUEST_VARS)?)
            }
            Value::Array(items) => BodyTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.body(&format!("{path}[{i}]"), x))
                    .collect::<Option<_>>()?,
            ),
            Value::Object(m) => BodyTemplate::Object(
                m.iter()
                    .map(|(k, x)| Some((k.clone(), self.body(&format!("{path}.{k}"), x)?)))
                    .collect::<Option<_>>()?,
            ),
            other => BodyTemplate::Literal(other.clone()),
        })
    }

    fn delta(&mut self, p: &str, d: &spec::DeltaSpec, fan_out: bool) -> Option<Delta> {
        use spec::DeltaKind;
        let kind = d.kind.unwrap_or_default();
        let overlap = self.int_in(
            &format!("{p}.overlap_secs"),
            d.overlap_secs,
            0,
            31_536_000,
            300,
        );
        if d.in_ == Some(spec::Inject::Header) {
            self.err(
                &format!("{p}.in"),
                "a delta goes in the `query` or the `body`",
            );
        }
        let token = match (kind, &d.token) {
            (DeltaKind::Token, Some(t)) => Some(self.jsonpath(&format!("{p}.token"), t)?),
            (DeltaKind::Token, None) => {
                self.err(
                    p,
                    "a token delta needs `token`: the JSONPath of the token in the last page",
                );
                return None;
            }
            (DeltaKind::Time, _) => {
                if d.token.is_some() || d.expired_when.is_some() {
                    self.err(p, "`token` and `expired_when` go with `kind: token`");
                }
                None
            }
        };
        if kind == DeltaKind::Token && fan_out {
            self.err(
                p,
                "a token delta needs a top-level stream (one walk, one token), not `for_each`",
            );
        }
        let expired_when = d
            .expired_when
            .as_ref()
            .and_then(|e| self.expr(&format!("{p}.expired_when"), e, RESPONSE_VARS));
        Some(Delta {
            kind,
            param: d.param.clone(),
            inject: d.in_.unwrap_or_default(),
            overlap: Duration::from_secs(overlap),
            format: d.format.unwrap_or_default(),
            token,
            expired_when,
        })
    }

    fn error_when(&mut self, path: &str, e: &spec::ErrorWhenSpec) -> Option<ErrorWhen> {
        let condition = self.expr(&format!("{path}.condition"), &e.condition, RESPONSE_VARS);
        let message = match &e.message {
            Some(m) => Some(self.jsonpath(&format!("{path}.message"), m)?),
            None => None,
        };
        Some(ErrorWhen {
            condition: condition?,
            message,
        })
    }

    fn stream(
        &mut self,
        name: &str,
        s: &spec::StreamSpec,
        spec: &Spec,
        env: &Names,
    ) -> Option<Stream> {
        let p = format!("streams.{name}");
        let sources = [s.request.is_some(), s.from.is_some(), s.static_.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if sources != 1 {
            self.err(
                &p,
                "a stream needs exactly one of `request`, `from` or `static`",
            );
        }
        let stream_ref = |c: &mut Self, field: &str, target: &str| -> Option<StreamId> {
            let id = env.streams.iter().position(|n| n == target).map(StreamId);
            if id.is_none() {
                c.err(
                    &format!("{p}.{field}"),
                    format!(
                        "unknown stream `{target}`{} (streams: {})",
                        hint(target, env.streams.iter().map(String::as_str)),
                        env.streams.join(", ")
                    ),
                );
            }
            id
        };
        let mut deps = Vec::new();
        let source = if let Some(req) = &s.request {
            if s.explode.is_some() {
                self.err(
                    &format!("{p}.explode"),
                    "`explode` goes with `from`; an HTTP stream selects with `records`",
                );
            }
            let for_each = s
                .for_each
                .as_ref()
                .and_then(|f| stream_ref(self, "for_each", f));
            if let Some(f) = for_each {
                deps.push(f);
            }
            let rp = format!("{p}.request");
            let method = self.method(&rp, req);
            let path = self.request_path(&rp, req);
            let query = self.query(&rp, req);
            let headers = self.headers(&format!("{rp}.headers"), &req.headers);
            let records = match &s.records {
                Some(r) => self.selector(&format!("{p}.records"), r),
                None => Some(Selector {
                    parts: vec![(
                        JsonPath::parse("$[*]").unwrap(),
                        Arc::new(Default::default()),
                    )],
                }),
            };
            let paging = match s.pagination.as_ref().or(spec.pagination.as_ref()) {
                Some(pg) => {
                    let pp = if s.pagination.is_some() {
                        format!("{p}.pagination")
                    } else {
                        "pagination".into()
                    };
                    self.pagination(&pp, pg)
                }
                None => Paging {
                    kind: Pagination::None,
                    inject: spec::Inject::Query,
                    stop_when: None,
                },
            };
            let body = req
                .body
                .as_ref()
                .and_then(|b| self.body(&format!("{rp}.body"), b));
            let error_when = match (&req.error_when, &spec.error_when) {
                (Some(e), _) => self.error_when(&format!("{rp}.error_when"), e),
                (None, Some(e)) => self.error_when("error_when", e),
                (None, None) => None,
            };
            let limits = self.limits(&format!("{p}.rate_limit"), s.rate_limit.as_ref());
            let concurrency = self.int_in(
                &format!("{p}.concurrency"),
                s.concurrency.map(u64::from),
                1,
                256,
                4,
            ) as usize;
            let max_pages = s
                .max_pages
                .map(|m| self.int_in(&format!("{p}.max_pages"), Some(m), 1, 100_000_000, 1));
            if for_each.is_none() && !s.empty_on_status.is_empty() {
                self.err(
                    &format!("{p}.empty_on_status"),
                    "`empty_on_status` goes with `for_each` (a parent without the sub-resource has no records); a top-level list that answers an error is a failed request, never an empty list that would delete what was synced",
                );
            }
            for (i, st) in s.empty_on_status.iter().enumerate() {
                if !(100..=599).contains(st) {
                    self.err(
                        &format!("{p}.empty_on_status[{i}]"),
                        format!("`empty_on_status` entries must be between 100 and 599 (got {st})"),
                    );
                }
            }
            let delta = req
                .delta
                .as_ref()
                .and_then(|d| self.delta(&format!("{rp}.delta"), d, for_each.is_some()));
            Source::Http(Box::new(HttpSource {
                method,
                path: path?,
                query,
                headers,
                for_each,
                concurrency,
                records: records?,
                pagination: paging.kind,
                limits,
                empty_on_status: s.empty_on_status.clone(),
                delta,
                max_pages,
                body,
                inject: paging.inject,
                stop_when: paging.stop_when,
                error_when,
            }))
        } else if let Some(from) = &s.from {
            for (k, set) in [
                ("records", s.records.is_some()),
                ("for_each", s.for_each.is_some()),
                ("pagination", s.pagination.is_some()),
                ("max_pages", s.max_pages.is_some()),
            ] {
                if set {
                    self.err(
                        &format!("{p}.{k}"),
                        format!("`{k}` goes with `request`; a derived stream uses `explode`"),
                    );
                }
            }
            let from = stream_ref(self, "from", from)?;
            deps.push(from);
            let explode = match &s.explode {
                Some(e) => self.explode(&format!("{p}.explode"), e, env)?,
                None => Explode {
                    parts: vec![(
                        // "$" always parses
                        ExplodeSource::Path(JsonPath::parse("$").unwrap()),
                        Arc::new(Default::default()),
                    )],
                },
            };
            Source::Derive { from, explode }
        } else if let Some(records) = &s.static_ {
            Source::Static(records.clone())
        } else {
            return None;
        };
        let filter = s
            .filter
            .as_ref()
            .and_then(|f| self.expr(&format!("{p}.filter"), f, RECORD_VARS));
        let output = match &s.model {
            Some(m) => self.model_map(&p, m, s, env),
            None => {
                if !s.fields.is_empty() {
                    self.err(&format!("{p}.fields"), "`fields` needs a `model`");
                }
                None
            }
        };
        let tombstone = s
            .deletes
            .as_ref()
            .and_then(|d| self.tombstone(&p, s, d, env));
        Some(Stream {
            name: name.to_owned(),
            source,
            filter,
            output,
            deps,
            spooled: false,
            feeds: Vec::new(),
            tombstone,
            note: s.note.clone(),
        })
    }

    fn tombstone(
        &mut self,
        p: &str,
        s: &spec::StreamSpec,
        d: &spec::DeletesSpec,
        env: &Names,
    ) -> Option<Tombstone> {
        let p = format!("{p}.deletes");
        if s.model.is_some() {
            self.err(
                &p,
                "a tombstone stream (`deletes`) emits no model of its own: drop `model`",
            );
        }
        let model = match schema::model(&d.model) {
            Some(m) if env.emitted.contains(&d.model) => Some(m.name),
            Some(_) => {
                self.err(
                    &format!("{p}.model"),
                    format!("no stream of this connector emits `{}`", d.model),
                );
                None
            }
            None => {
                self.err(
                    &format!("{p}.model"),
                    format!(
                        "unknown unified model `{}`{}",
                        d.model,
                        hint(&d.model, schema::model_names())
                    ),
                );
                None
            }
        };
        let remote_id = self.value_map(&format!("{p}.remote_id"), &d.remote_id, env, None, false);
        let deleted_at = match &d.deleted_at {
            Some(f) => Some(self.value_map(&format!("{p}.deleted_at"), f, env, None, false)?),
            None => None,
        };
        Some(Tombstone {
            model: model?,
            remote_id: remote_id?,
            deleted_at,
        })
    }

    fn model_map(
        &mut self,
        p: &str,
        m: &str,
        s: &spec::StreamSpec,
        env: &Names,
    ) -> Option<ModelMap> {
        let Some(schema) = schema::model(m) else {
            self.err(
                &format!("{p}.model"),
                format!(
                    "unknown unified model `{m}`{} (models: {})",
                    hint(m, schema::model_names()),
                    schema::model_names().collect::<Vec<_>>().join(", ")
                ),
            );
            return None;
        };
        let mut mapped: HashMap<&str, ValueMap> = HashMap::new();
        for (fname, f) in &s.fields {
            let fp = format!("{p}.fields.{fname}");
            if schema::COMPUTED_FIELDS.contains(&fname.as_str()) {
                self.err_key(
                    &fp,
                    format!("`{fname}` is computed by mapper and cannot be mapped"),
                );
                continue;
            }
            let Some(prop) = schema.property(fname) else {
                self.err_key(
                    &fp,
                    format!(
                        "model `{m}` has no field `{fname}`{} (fields: {})",
                        hint(fname, schema.fields().iter().copied()),
                        schema.fields().join(", ")
                    ),
                );
                continue;
            };
            if let Some(v) = self.value_map(
                &fp,
                f,
                env,
                Some((schema, fname.clone(), prop.clone())),
                false,
            ) {
                mapped.insert(fname.as_str(), v);
            }
        }
        let mut fields = Vec::new();
        for fname in schema.fields() {
            let note = s.fields.get(fname).and_then(field_note);
            let value = match fname {
                "id" => FieldValue::Id,
                "changed_at" => FieldValue::ChangedAt,
                "remote_data" => FieldValue::RemoteData,
                _ => match mapped.remove(fname) {
                    Some(v) => FieldValue::Mapped(Box::new(v)),
                    None => FieldValue::Empty(schema.empty_value(fname)),
                },
            };
            fields.push(Field {
                name: fname.to_owned(),
                value,
                note,
            });
        }
        let remote_id = fields
            .iter()
            .position(|f| f.name == "remote_id" && matches!(f.value, FieldValue::Mapped(_)));
        let mut key = Vec::new();
        if schema.join {
            if remote_id.is_some() {
                self.err(
                    &format!("{p}.fields.remote_id"),
                    format!("`{m}` is a join model: it has no remote id; declare `key` instead"),
                );
            }
            if s.key.is_empty() {
                self.err(&format!("{p}.model"), format!("`{m}` is a join model: declare `key`, the fields that identify a record (e.g. [job_id, user_id])"));
            }
            for (i, k) in s.key.iter().enumerate() {
                match fields
                    .iter()
                    .position(|f| &f.name == k && matches!(f.value, FieldValue::Mapped(_)))
                {
                    Some(idx) => key.push(idx),
                    None => self.err(
                        &format!("{p}.key[{i}]"),
                        format!("key field `{k}` is not mapped"),
                    ),
                }
            }
        } else {
            if remote_id.is_none() {
                self.err(
                    &format!("{p}.fields"),
                    format!("model `{m}` needs a `remote_id` mapping"),
                );
            }
            if !s.key.is_empty() {
                self.err(
                    &format!("{p}.key"),
                    "`key` is for join models; this model is identified by `remote_id`",
                );
            }
        }
        let remote_data = match &s.remote_data {
            None => vec![Root::Record],
            Some(list) => list
                .iter()
                .enumerate()
                .filter_map(|(i, r)| self.root(&format!("{p}.remote_data[{i}]"), r))
                .collect(),
        };
        if schema.property("remote_data").is_none() && s.remote_data.is_some() {
            self.err(
                &format!("{p}.remote_data"),
                format!("model `{m}` has no remote_data"),
            );
        }
        Some(ModelMap {
            record_only: locality::record_only(&fields, schema.join, s.duplicates),
            model: schema,
            fields,
            remote_id,
            key,
            duplicates: s.duplicates,
            remote_data,
        })
    }

    fn root(&mut self, path: &str, r: &str) -> Option<Root> {
        match r {
            "record" | "$" => Some(Root::Record),
            "vars" => Some(Root::Vars),
            "item" => Some(Root::Item),
            _ => {
                let parts: Vec<&str> = r.split('.').collect();
                if !parts.is_empty() && parts.iter().all(|p| *p == "parent") {
                    Some(Root::Parent(parts.len()))
                } else {
                    self.err(path, format!("`{r}` is not a root: use record, parent, parent.parent, ..., vars or item"));
                    None
                }
            }
        }
    }

    /// Compiles one mapping. `target` is the unified property it fills (for name and enum checks).
    fn value_map(
        &mut self,
        p: &str,
        f: &FieldSpec,
        env: &Names,
        target: Option<(&'static schema::ModelSchema, String, Value)>,
        in_each: bool,
    ) -> Option<ValueMap> {
        let def: FieldDef = match f {
            FieldSpec::Short(s) if s.trim_start().starts_with('$') => FieldDef {
                path: Some(s.clone()),
                ..Default::default()
            },
            FieldSpec::Short(s) if s.contains("{{") => FieldDef {
                template: Some(s.clone()),
                ..Default::default()
            },
            FieldSpec::Short(s) => {
                self.err(p, format!("`{s}` is neither a JSONPath (`$...`) nor a template (`{{{{ ... }}}}`); write `{{const: ...}}` for a constant"));
                return None;
            }
            FieldSpec::Full(d) => (**d).clone(),
        };
        let sources: Vec<&str> = [
            ("path", def.path.is_some()),
            ("expr", def.expr.is_some()),
            ("template", def.template.is_some()),
            ("const", def.const_.is_some()),
            ("lookup", def.lookup.is_some() && def.each.is_none()),
            ("each", def.each.is_some()),
            ("fields", def.fields.is_some() && def.each.is_none()),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
        if sources.len() != 1 {
            if sources.is_empty() {
                self.err(p, "a mapping needs one source: path, expr, template, const, lookup, each or fields");
            } else {
                self.err(
                    p,
                    format!(
                        "a mapping has one source, this one has {}",
                        sources.join(" and ")
                    ),
                );
            }
            return None;
        }
        let root = match &def.of {
            Some(o) => self.root(&format!("{p}.of"), o)?,
            None if in_each => Root::Item,
            None => Root::Record,
        };
        let member_target =
            |c: &mut Self, name: &str| -> Option<(&'static schema::ModelSchema, String, Value)> {
                let (schema, tname, tprop) = target.as_ref()?;
                if !schema::has_members(tprop) {
                    return None; // free-form object (custom_fields): any member
                }
                let dotted = format!("{tname}.{name}");
                match schema.property(&dotted) {
                    Some(prop) => Some((*schema, dotted, prop.clone())),
                    None => {
                        c.err_key(
                            &format!("{p}.fields.{name}"),
                            format!("`{tname}` has no member `{name}`"),
                        );
                        None
                    }
                }
            };
        let source = if let Some(path) = &def.path {
            let pp = if matches!(f, FieldSpec::Short(_)) {
                p.to_owned()
            } else {
                format!("{p}.path")
            };
            ValueSource::Path {
                root,
                path: self.jsonpath(&pp, path)?,
                all: def.all.unwrap_or(false),
            }
        } else if let Some(e) = &def.expr {
            // an object, list or constant the model's schema cannot take is known now
            if let Some((_, tname, tprop)) = &target
                && def.then.is_none()
                && def.map.is_none()
                && def.as_.is_none()
                && def.default.is_none()
                && let Some(problem) = expr::literal_shape_problem(e, tprop)
            {
                self.err(&format!("{p}.expr"), format!("`{tname}`: {problem}"));
            }
            ValueSource::Expr(self.expr(&format!("{p}.expr"), e, RECORD_VARS)?)
        } else if let Some(t) = &def.template {
            let tp = if matches!(f, FieldSpec::Short(_)) {
                p.to_owned()
            } else {
                format!("{p}.template")
            };
            ValueSource::Template(self.template(&tp, t, RECORD_VARS)?)
        } else if let Some(c) = &def.const_ {
            ValueSource::Const(c.clone())
        } else if let (Some(l), None) = (&def.lookup, &def.each) {
            let (lookup, key) = self.lookup_ref(p, l, def.key.as_ref(), env)?;
            ValueSource::Lookup {
                lookup,
                key,
                select: match &def.select {
                    Some(s) => Some(self.jsonpath(&format!("{p}.select"), s)?),
                    None => None,
                },
            }
        } else if let Some(each) = &def.each {
            let lookup = match &def.lookup {
                Some(l) => {
                    if def.select.is_some() {
                        self.err(
                            &format!("{p}.select"),
                            "with `each`, the JSONPath of `each` narrows the lookup's value; drop `select`",
                        );
                    }
                    Some(self.lookup_ref(p, l, def.key.as_ref(), env)?)
                }
                None => None,
            };
            let path = self.key_expr(&format!("{p}.each"), each)?;
            let where_ = def
                .where_
                .as_ref()
                .and_then(|w| self.expr(&format!("{p}.where"), w, RECORD_VARS));
            let item = match (&def.fields, &def.value) {
                (Some(fields), None) => {
                    let mut members = Vec::new();
                    for (name, mf) in fields {
                        let t = member_target(self, name);
                        if t.is_none()
                            && target
                                .as_ref()
                                .is_some_and(|(_, _, tp)| schema::has_members(tp))
                        {
                            continue;
                        }
                        if let Some(v) =
                            self.value_map(&format!("{p}.fields.{name}"), mf, env, t, true)
                        {
                            members.push((name.clone(), v));
                        }
                    }
                    if let Some((_, _, tp)) = &target {
                        complete_members(tp, &mut members);
                    }
                    EachItem::Object(members)
                }
                (None, Some(v)) => EachItem::Value(Box::new(self.value_map(
                    &format!("{p}.value"),
                    v,
                    env,
                    None,
                    true,
                )?)),
                _ => {
                    self.err(
                        p,
                        "`each` needs exactly one of `fields` (objects) or `value` (scalars)",
                    );
                    return None;
                }
            };
            ValueSource::Each {
                root,
                lookup,
                path,
                where_,
                item: Box::new(item),
            }
        } else {
            let mut members = Vec::new();
            for (name, mf) in def.fields.as_ref().unwrap() {
                let t = member_target(self, name);
                if t.is_none()
                    && target
                        .as_ref()
                        .is_some_and(|(_, _, tp)| schema::has_members(tp))
                {
                    continue;
                }
                if let Some(v) = self.value_map(&format!("{p}.fields.{name}"), mf, env, t, in_each)
                {
                    members.push((name.clone(), v));
                }
            }
            if let Some((_, _, tp)) = &target {
                complete_members(tp, &mut members);
            }
            ValueSource::Object(members)
        };
        if def.where_.is_some() && def.each.is_none() {
            self.err(&format!("{p}.where"), "`where` goes with `each`");
        }
        if def.value.is_some() && def.each.is_none() {
            self.err(&format!("{p}.value"), "`value` goes with `each`");
        }
        if (def.key.is_some() || def.select.is_some()) && def.lookup.is_none() {
            self.err(p, "`key` and `select` go with `lookup`");
        }
        let ref_model = match &def.ref_ {
            Some(r) => match schema::model(r) {
                Some(m) if env.emitted.contains(r) => Some(m.name),
                Some(_) => {
                    self.err(
                        &format!("{p}.ref"),
                        format!("references model `{r}`, which no stream of this connector emits"),
                    );
                    None
                }
                None => {
                    self.err(
                        &format!("{p}.ref"),
                        format!(
                            "unknown unified model `{r}`{}",
                            hint(r, schema::model_names())
                        ),
                    );
                    None
                }
            },
            None => None,
        };
        let cast = match def.as_.as_deref() {
            None => None,
            Some("string") => Some(Cast::String),
            Some("integer") => Some(Cast::Integer),
            Some("number") => Some(Cast::Number),
            Some("boolean") => Some(Cast::Boolean),
            Some("datetime") => Some(Cast::DateTime(def.unit.unwrap_or_default())),
            Some(other) => {
                self.err(
                    &format!("{p}.as"),
                    format!(
                        "unknown conversion `{other}` ({})",
                        spec::editor::CASTS.join(", ")
                    ),
                );
                None
            }
        };
        if def.unit.is_some() && !matches!(cast, Some(Cast::DateTime(_))) {
            self.err(
                &format!("{p}.unit"),
                "`unit` is the unit of numeric input to `as: datetime`; add `as: datetime`",
            );
        }
        // enum maps must produce values the unified schema accepts
        if let (Some(map), Some((_, tname, prop))) = (&def.map, &target) {
            let allowed = prop
                .get("enum")
                .or_else(|| prop.get("items").and_then(|i| i.get("enum")));
            if let Some(Value::Array(allowed)) = allowed {
                for (k, v) in map {
                    if !allowed.contains(v) {
                        self.err(
                            &format!("{p}.map.{k}"),
                            format!(
                                "`{v}` is not a value of `{tname}` ({})",
                                allowed
                                    .iter()
                                    .map(|a| a.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                }
                if let Some(d) = &def.default
                    && !allowed.contains(d)
                {
                    self.err(
                        &format!("{p}.default"),
                        format!("`{d}` is not a value of `{tname}`"),
                    );
                }
            }
        }
        let then = def
            .then
            .as_ref()
            .and_then(|t| self.expr(&format!("{p}.then"), t, THEN_VARS));
        Some(ValueMap {
            source,
            then,
            ref_model,
            map: def.map.map(|m| EnumMap {
                values: m.into_iter().collect(),
                field: field_label(p),
            }),
            default: def.default,
            cast,
            unique: def.unique.unwrap_or(false),
            null_if_empty: def.null_if_empty.unwrap_or(false),
            loc: self.loc(p),
        })
    }
}

/// The unified field a mapping at spec path `p` fills: `streams.jobs.fields.location.fields.city`
/// → `location.city`.
fn field_label(p: &str) -> String {
    let rest = p.split_once(".fields.").map(|(_, r)| r).unwrap_or(p);
    rest.split('.')
        .filter(|s| *s != "fields" && *s != "each")
        .collect::<Vec<_>>()
        .join(".")
}

/// Adds the members an object's schema declares but the mapping leaves out, as their empty value.
fn complete_members(target: &Value, members: &mut Vec<(String, ValueMap)>) {
    let props = schema::ordered_properties(target);
    if props.is_empty() {
        return;
    }
    let mapped: Vec<String> = members.iter().map(|(k, _)| k.clone()).collect();
    let mut ordered = Vec::new();
    for (name, prop) in props {
        match members.iter().position(|(k, _)| k == name) {
            Some(i) => ordered.push(members.remove(i)),
            None if !mapped.iter().any(|m| m == name) => ordered.push((
                name.to_owned(),
                ValueMap {
                    source: ValueSource::Const(schema::empty_value_of(prop)),
                    then: None,
                    ref_model: None,
                    map: None,
                    default: None,
                    cast: None,
                    unique: false,
                    null_if_empty: false,
                    loc: String::new(),
                },
            )),
            None => {}
        }
    }
    ordered.append(members);
    *members = ordered;
}

/// `, did you mean `x`?` when a known name is close to `name`.
fn hint<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    crate::suggest::did_you_mean(name, known)
        .map(|k| format!(", did you mean `{k}`?"))
        .unwrap_or_default()
}

struct Names<'a> {
    streams: &'a [String],
    lookups: &'a [String],
    /// Per lookup: whether it has a `key`.
    lookup_keyed: &'a [bool],
    emitted: &'a HashSet<String>,
}

fn field_note(f: &FieldSpec) -> Option<String> {
    match f {
        FieldSpec::Full(d) => d.note.clone(),
        FieldSpec::Short(_) => None,
    }
}

fn collect_lookups(s: &spec::StreamSpec, out: &mut Vec<String>) {
    fn walk(f: &FieldSpec, out: &mut Vec<String>) {
        if let FieldSpec::Full(d) = f {
            if let Some(l) = &d.lookup {
                out.push(l.clone());
            }
            for m in d.fields.iter().flat_map(|m| m.values()) {
                walk(m, out);
            }
            if let Some(v) = &d.value {
                walk(v, out);
            }
        }
    }
    for f in s.fields.values() {
        walk(f, out);
    }
    if let Some(spec::Selector::Many(parts)) = &s.explode {
        out.extend(parts.iter().filter_map(|p| p.lookup.clone()));
    }
}

/// Streams in an order where dependencies come first; `Err(i)` names a stream on a cycle.
fn topo_order(streams: &[Stream]) -> Result<Vec<usize>, usize> {
    let n = streams.len();
    let mut state = vec![0u8; n]; // 0 new, 1 visiting, 2 done
    let mut order = Vec::with_capacity(n);
    fn visit(
        i: usize,
        streams: &[Stream],
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> Result<(), usize> {
        match state[i] {
            2 => return Ok(()),
            1 => return Err(i),
            _ => {}
        }
        state[i] = 1;
        for &d in &streams[i].deps {
            visit(d.0, streams, state, order)?;
        }
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, streams, &mut state, &mut order)?;
    }
    Ok(order)
}
