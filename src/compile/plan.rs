//! The compiled plan: what `run` executes. No field here is a string to be parsed again.

use super::expr::{Expr, Template};
use super::jsonpath::JsonPath;
use super::schema::ModelSchema;
use crate::spec::{ClientAuthStyle, Duplicates, Keep};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Index of a stream in [`Plan::streams`] (and of every per-stream table of a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub usize);
/// Index of a lookup in [`Plan::lookups`] (and of every per-lookup table of a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub usize);

macro_rules! index_by {
    ($id:ty) => {
        impl<T> std::ops::Index<$id> for [T] {
            type Output = T;
            fn index(&self, i: $id) -> &T {
                &self[i.0]
            }
        }
        impl<T> std::ops::IndexMut<$id> for [T] {
            fn index_mut(&mut self, i: $id) -> &mut T {
                &mut self[i.0]
            }
        }
        impl<T> std::ops::Index<$id> for Vec<T> {
            type Output = T;
            fn index(&self, i: $id) -> &T {
                &self[i.0]
            }
        }
        impl<T> std::ops::IndexMut<$id> for Vec<T> {
            fn index_mut(&mut self, i: $id) -> &mut T {
                &mut self[i.0]
            }
        }
    };
}
index_by!(StreamId);
index_by!(LookupId);

/// A compiled connector.
#[derive(Debug)]
pub struct Plan {
    /// Connector name.
    /// Hash of the connector as written (every setting, not its comments or layout).
    pub fingerprint: u64,
    pub name: String,
    /// Human title.
    pub title: Option<String>,
    /// Connector-level notes.
    pub notes: Option<String>,
    /// The connector file.
    pub file: PathBuf,
    /// Base URL (fixed, or built from inputs before the run).
    pub base_url: BaseUrl,
    /// Environment inputs.
    pub inputs: Vec<Input>,
    /// Authentication.
    pub auth: Option<Auth>,
    /// Headers of every request.
    pub headers: Vec<(String, Template)>,
    /// Connector-wide limits.
    pub limits: Limits,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Cassette for `--sandbox`.
    pub sandbox: Option<PathBuf>,
    /// The request `mapper check` makes, when the connector declares one.
    pub check: Option<CheckRequest>,
    /// Lookups.
    pub lookups: Vec<Lookup>,
    /// Streams, in an order where every stream comes after those it depends on.
    pub streams: Vec<Stream>,
    /// The unified models this connector emits, in the unified order.
    pub models: Vec<ModelInfo>,
}

/// One request without a parent (`check:`): what `mapper check` sends.
#[derive(Debug)]
pub struct CheckRequest {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Path template.
    pub path: Template,
    /// Query parameters (a list repeats the parameter).
    pub query: Vec<(String, Vec<Template>)>,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
    /// JSON body.
    pub body: Option<BodyTemplate>,
    /// An error inside a 2xx answer.
    pub error_when: Option<ErrorWhen>,
}

/// The parts of one request, borrowed from a `check:` request or an HTTP stream.
pub struct RequestParts<'p> {
    /// HTTP method.
    pub method: &'p reqwest::Method,
    /// Path template.
    pub path: &'p Template,
    /// Query parameters.
    pub query: &'p [(String, Vec<Template>)],
    /// Extra headers.
    pub headers: &'p [(String, Template)],
    /// JSON body.
    pub body: Option<&'p BodyTemplate>,
    /// An error inside a 2xx answer.
    pub error_when: Option<&'p ErrorWhen>,
}

impl CheckRequest {
    /// Its parts.
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: self.body.as_ref(),
            error_when: self.error_when.as_ref(),
        }
    }
}

impl HttpSource {
    /// The parts of its first request (before pagination and deltas add theirs).
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: self.body.as_ref(),
            error_when: self.error_when.as_ref(),
        }
    }
}

/// An environment input.
#[derive(Debug, Clone)]
pub struct Input {
    /// Name in templates (`inputs.<name>`).
    pub name: String,
    /// Environment variable.
    pub env: String,
    /// Redacted everywhere.
    pub secret: bool,
    /// Default when unset.
    pub default: Option<String>,
    /// Value in sandbox runs.
    pub sandbox: Option<String>,
}

/// Authentication, compiled.
#[derive(Debug)]
pub enum Auth {
    /// Header(s).
    ApiKey {
        /// Header name and value.
        headers: Vec<(String, Template)>,
    },
    /// Bearer token.
    Bearer {
        /// The token.
        token: Template,
    },
    /// HTTP Basic.
    Basic {
        /// User name.
        username: Template,
        /// Password.
        password: Option<Template>,
    },
    /// OAuth2 client credentials.
    OAuth2 {
        /// Token endpoint (path or URL).
        token_url: Template,
        /// Client id.
        client_id: Template,
        /// Client secret.
        client_secret: Template,
        /// Scopes.
        scopes: Vec<String>,
        /// How the client authenticates.
        client_auth: ClientAuthStyle,
        /// Extra form parameters.
        extra: Vec<(String, Template)>,
    },
    /// First usable alternative.
    AnyOf(Vec<Auth>),
}

impl Auth {
    /// Input names the alternative reads.
    pub fn inputs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |t: &Template| {
            for v in t.nested_variables() {
                if let Some(n) = v.strip_prefix("inputs.") {
                    let n = n.split('.').next().unwrap_or(n).to_owned();
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        };
        match self {
            Auth::ApiKey { headers } => headers.iter().for_each(|(_, t)| add(t)),
            Auth::Bearer { token } => add(token),
            Auth::Basic { username, password } => {
                add(username);
                if let Some(p) = password {
                    add(p)
                }
            }
            Auth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                extra,
                ..
            } => {
                add(token_url);
                add(client_id);
                add(client_secret);
                extra.iter().for_each(|(_, t)| add(t));
            }
            Auth::AnyOf(opts) => {
                for o in opts {
                    for n in o.inputs() {
                        if !out.contains(&n) {
                            out.push(n);
                        }
                    }
                }
            }
        }
        out
    }

    /// A short human name of the auth kind (for docs and messages).
    pub fn kind(&self) -> String {
        match self {
            Auth::ApiKey { headers } => format!(
                "API key header ({})",
                headers
                    .iter()
                    .map(|(h, _)| h.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Auth::Bearer { .. } => "bearer token".into(),
            Auth::Basic { .. } => "HTTP basic".into(),
            Auth::OAuth2 { .. } => "OAuth2 client credentials".into(),
            Auth::AnyOf(o) => o.iter().map(|a| a.kind()).collect::<Vec<_>>().join(", or "),
        }
    }
}

/// Rate and concurrency limits.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Requests per second.
    pub requests_per_second: Option<f64>,
    /// Requests in flight.
    pub max_concurrency: Option<u32>,
    /// The budget reported in response headers.
    pub headers: Option<BudgetHeaders>,
}

/// Response headers reporting the request budget, compiled.
#[derive(Debug, Clone, Default)]
pub struct BudgetHeaders {
    /// Requests left in the window.
    pub remaining: String,
    /// When the window resets.
    pub reset: Option<String>,
    /// How `reset` is written.
    pub reset_format: crate::spec::ResetFormat,
    /// Pause when no reset time is given.
    pub window: Duration,
    /// Pause at or below this many remaining requests.
    pub reserve: u64,
}

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts including the first.
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Largest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// Total time one request may spend waiting out 429 answers.
    pub max_rate_limit_wait: Duration,
}

/// A JSONPath or template evaluated against a record's scope.
#[derive(Debug)]
pub enum KeyExpr {
    /// JSONPath into the record; the first match.
    Path(JsonPath),
    /// Template rendered to text.
    Template(Template),
}

/// A compiled lookup.
#[derive(Debug)]
pub struct Lookup {
    /// Name.
    pub name: String,
    /// Source stream (unused for a side-loaded lookup).
    pub stream: StreamId,
    /// A side-loaded lookup: the records at this JSONPath of each response page.
    pub side_load: Option<JsonPath>,
    /// Key of each record (none: one entry with every record).
    pub key: Option<KeyExpr>,
    /// Value stored (whole record when absent).
    pub value: Option<ValueMap>,
    /// Records that enter the index.
    pub where_: Option<Expr>,
    /// Ordering among records with the same key.
    pub order_by: Option<KeyExpr>,
    /// What is kept per key.
    pub keep: Keep,
}

/// Where records sit in a value; each part may attach constants.
#[derive(Debug)]
pub struct Selector {
    /// Paths and their constants.
    pub parts: Vec<(JsonPath, Arc<Map<String, Value>>)>,
}

/// Where a derived stream's records sit: in the source record, or in a lookup's value.
#[derive(Debug)]
pub struct Explode {
    /// Sources in order, each with its constants.
    pub parts: Vec<(ExplodeSource, Arc<Map<String, Value>>)>,
}

/// One source of a derived stream's records.
#[derive(Debug)]
pub enum ExplodeSource {
    /// Every match of a JSONPath into the source record.
    Path(JsonPath),
    /// The value a lookup holds for a key of the source record.
    Lookup {
        /// The lookup.
        lookup: LookupId,
        /// Its key (none for a lookup without key).
        key: Option<KeyExpr>,
        /// JSONPath into the value (none: its elements, or the value itself).
        path: Option<JsonPath>,
    },
}

/// A compiled stream.
#[derive(Debug)]
pub struct Stream {
    /// Name.
    pub name: String,
    /// Where its records come from.
    pub source: Source,
    /// Records kept.
    pub filter: Option<Expr>,
    /// The unified model it emits, if any.
    pub output: Option<ModelMap>,
    /// Streams whose records must all be available first.
    pub deps: Vec<StreamId>,
    /// Whether other streams read its records afterwards (they are spooled).
    pub spooled: bool,
    /// Lookups filled from its records.
    pub feeds: Vec<LookupId>,
    /// A tombstone stream: which records its records delete.
    pub tombstone: Option<Tombstone>,
    /// Coverage note.
    pub note: Option<String>,
}

/// What a tombstone stream deletes.
#[derive(Debug)]
pub struct Tombstone {
    /// The model of the deleted records.
    pub model: &'static str,
    /// The deleted record's vendor id.
    pub remote_id: ValueMap,
    /// When it was deleted (none: the run's start).
    pub deleted_at: Option<ValueMap>,
}

/// Where a stream's records come from.
#[derive(Debug)]
pub enum Source {
    /// HTTP requests.
    Http(Box<HttpSource>),
    /// Exploded from another stream's records.
    Derive {
        /// The source stream.
        from: StreamId,
        /// Where the new records sit.
        explode: Explode,
    },
    /// Inline records.
    Static(Vec<Value>),
}

/// An HTTP source.
#[derive(Debug)]
pub struct HttpSource {
    /// Method.
    pub method: reqwest::Method,
    /// Path template.
    pub path: Template,
    /// Query parameters; several values repeat the parameter.
    pub query: Vec<(String, Vec<Template>)>,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
    /// Fan-out parent.
    pub for_each: Option<StreamId>,
    /// Parents in flight at once.
    pub concurrency: usize,
    /// Where records sit in a body.
    pub records: Selector,
    /// Pagination.
    pub pagination: Pagination,
    /// Extra limits of this stream.
    pub limits: Limits,
    /// Statuses meaning "no records".
    pub empty_on_status: Vec<u16>,
    /// Incremental filter.
    pub delta: Option<Delta>,
    /// JSON body.
    pub body: Option<BodyTemplate>,
    /// Where the pagination token goes.
    pub inject: crate::spec::Inject,
    /// Ends the walk when true of a page's body.
    pub stop_when: Option<Expr>,
    /// Makes a 2xx answer a failed request.
    pub error_when: Option<ErrorWhen>,
    /// Most pages one request may take.
    pub max_pages: Option<u64>,
}

/// The vendor's base URL: written out, or a template over `inputs` (a regional host, a
/// tenant subdomain) resolved once before the run.
#[derive(Debug)]
pub enum BaseUrl {
    /// Written out.
    Fixed(url::Url),
    /// Built from inputs.
    Template(Template),
}

impl BaseUrl {
    /// The URL for these inputs (`scope` holds `inputs`).
    pub fn resolve(&self, scope: &minijinja::Value) -> Result<url::Url, String> {
        match self {
            BaseUrl::Fixed(u) => Ok(u.clone()),
            BaseUrl::Template(t) => {
                let text = t.render(scope).map_err(|e| format!("base_url: {e}"))?;
                parse_base_url(text.trim())
                    .map_err(|e| format!("base_url `{}` (from inputs): {e}", t.as_str()))
            }
        }
    }

    /// As written in the connector.
    pub fn as_written(&self) -> String {
        match self {
            BaseUrl::Fixed(u) => u.to_string(),
            BaseUrl::Template(t) => t.as_str().to_owned(),
        }
    }
}

/// A base URL: absolute, http or https, with a host.
pub fn parse_base_url(text: &str) -> Result<url::Url, String> {
    match url::Url::parse(text) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => Ok(u),
        Ok(_) => Err(format!("`{text}` must be an absolute http(s) URL")),
        Err(e) => Err(format!("`{text}` is not a URL: {e}")),
    }
}

/// An incremental filter: what is sent (a time or a token), where, and how.
#[derive(Debug)]
pub struct Delta {
    /// Time or token.
    pub kind: crate::spec::DeltaKind,
    /// Parameter or body member.
    pub param: String,
    /// Query or body.
    pub inject: crate::spec::Inject,
    /// Subtracted from the last sync's start.
    pub overlap: Duration,
    /// How the time is written.
    pub format: crate::spec::DeltaFormat,
    /// Token kind: where the last page holds the next token.
    pub token: Option<JsonPath>,
    /// Token kind: the answer that says the token expired.
    pub expired_when: Option<Expr>,
}

/// A JSON body whose strings may be templates (a lone `{{ expression }}` keeps its type).
#[derive(Debug)]
pub enum BodyTemplate {
    /// Sent as written.
    Literal(Value),
    /// A template string.
    Template(Template),
    /// An array.
    Array(Vec<BodyTemplate>),
    /// An object.
    Object(Vec<(String, BodyTemplate)>),
}

impl BodyTemplate {
    /// The body for a scope of `inputs`, `parent`, `parents`, `vars`.
    pub fn render(&self, scope: &minijinja::Value) -> Result<Value, String> {
        Ok(match self {
            BodyTemplate::Literal(v) => v.clone(),
            BodyTemplate::Template(t) => t.render_value(scope)?,
            BodyTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            BodyTemplate::Object(members) => {
                let mut m = Map::with_capacity(members.len());
                for (k, v) in members {
                    m.insert(k.clone(), v.render(scope).map_err(|e| format!("{k}: {e}"))?);
                }
                Value::Object(m)
            }
        })
    }
}

/// A condition that makes a 2xx answer a failed request.
#[derive(Debug)]
pub struct ErrorWhen {
    /// Over `response`.
    pub condition: Expr,
    /// Where the message is.
    pub message: Option<JsonPath>,
}

/// Pagination with where its token goes and when it stops.
#[derive(Debug)]
pub struct Paging {
    /// How the next page is found.
    pub kind: Pagination,
    /// Where its token goes.
    pub inject: crate::spec::Inject,
    /// When the walk ends early.
    pub stop_when: Option<Expr>,
}

/// Pagination, compiled.
#[derive(Debug)]
pub enum Pagination {
    /// One request.
    None,
    /// Body cursor.
    Cursor {
        /// Cursor location.
        cursor: JsonPath,
        /// Query parameter.
        param: String,
        /// Stop on an empty page.
        stop_on_empty: bool,
        /// Sent as received (already percent-encoded).
        encoded: bool,
    },
    /// A next-page URL in the body.
    NextUrl {
        /// Where.
        path: JsonPath,
    },
    /// `Link: rel="next"`.
    LinkHeader {
        /// Full page size.
        page_size: Option<u64>,
    },
    /// Page numbers.
    PageNumber {
        /// Page parameter.
        param: String,
        /// First page.
        start: u64,
        /// Size parameter.
        size_param: Option<String>,
        /// Page size.
        size: u64,
        /// Total pages in the body.
        total_pages: Option<JsonPath>,
        /// Prefer `Link` next.
        follow_link: bool,
    },
    /// Offset and limit.
    Offset {
        /// Offset parameter.
        offset_param: String,
        /// Limit parameter.
        limit_param: String,
        /// Page size.
        limit: u64,
        /// Total in the body.
        total: Option<JsonPath>,
    },
}

/// How a stream's records become unified records.
#[derive(Debug)]
pub struct ModelMap {
    /// The model's schema.
    pub model: &'static ModelSchema,
    /// Every field of the model, in schema order.
    pub fields: Vec<Field>,
    /// Index in `fields` of `remote_id` (non-join models).
    pub remote_id: Option<usize>,
    /// Indexes in `fields` of the join key.
    pub key: Vec<usize>,
    /// Duplicate handling.
    pub duplicates: Option<Duplicates>,
    /// Payloads kept in `remote_data` (empty: the field is null).
    pub remote_data: Vec<Root>,
    /// Whether the unified record depends on nothing but the record and its parent chain
    /// (no lookups, no `inputs`, not a join model, no `duplicates: merge`).
    pub record_only: bool,
}

/// One unified field.
#[derive(Debug)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// How it is filled.
    pub value: FieldValue,
    /// Coverage note.
    pub note: Option<String>,
}

/// How a unified field is filled.
#[derive(Debug)]
pub enum FieldValue {
    /// The unified id.
    Id,
    /// When the content last changed.
    ChangedAt,
    /// Raw payloads.
    RemoteData,
    /// Not mapped: this empty value.
    Empty(Value),
    /// Mapped.
    Mapped(Box<ValueMap>),
}

/// A value mapping with its post-processing.
#[derive(Debug)]
pub struct ValueMap {
    /// Source of the value.
    pub source: ValueSource,
    /// Transformation of the value (bound as `value`).
    pub then: Option<Expr>,
    /// Turn a remote id into this model's unified id.
    pub ref_model: Option<&'static str>,
    /// Enum map.
    pub map: Option<EnumMap>,
    /// Default when null or unmapped.
    pub default: Option<Value>,
    /// Conversion.
    pub cast: Option<Cast>,
    /// Drop duplicate array elements.
    pub unique: bool,
    /// Empty object/array → null.
    pub null_if_empty: bool,
    /// Where the mapping is written (`file:line:column`), for run-time errors.
    pub loc: String,
}

/// An enum map: vendor values to unified ones.
#[derive(Debug)]
pub struct EnumMap {
    /// Vendor value (as text) → unified value.
    pub values: HashMap<String, Value>,
    /// The field it fills, as reported for unknown values (`status`, `location.country`).
    pub field: String,
}

/// Where a value comes from.
#[derive(Debug)]
pub enum ValueSource {
    /// JSONPath from a root.
    Path {
        /// Root.
        root: Root,
        /// Path.
        path: JsonPath,
        /// All matches as an array.
        all: bool,
    },
    /// Typed expression.
    Expr(Expr),
    /// Template; a lone expression keeps its type.
    Template(Template),
    /// Constant.
    Const(Value),
    /// Lookup query.
    Lookup {
        /// The lookup.
        lookup: LookupId,
        /// Its key (none for a lookup without key).
        key: Option<KeyExpr>,
        /// Narrowing of the value found.
        select: Option<JsonPath>,
    },
    /// One element per match.
    Each {
        /// Root (of a JSONPath).
        root: Root,
        /// With a lookup: the JSONPath applies to the value it holds for this key.
        lookup: Option<(LookupId, Option<KeyExpr>)>,
        /// The elements: every match of a JSONPath, or the array a lone `{{ expression }}` yields.
        path: KeyExpr,
        /// Element filter.
        where_: Option<Expr>,
        /// Element mapping.
        item: Box<EachItem>,
    },
    /// An object built member by member.
    Object(Vec<(String, ValueMap)>),
}

/// What `each` builds per element.
#[derive(Debug)]
pub enum EachItem {
    /// An object.
    Object(Vec<(String, ValueMap)>),
    /// A value.
    Value(Box<ValueMap>),
}

/// The value a JSONPath starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// The current record.
    Record,
    /// An ancestor: 1 is the parent.
    Parent(usize),
    /// The stream's constants.
    Vars,
    /// The current element of `each`.
    Item,
}

/// Conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// To text.
    String,
    /// To an integer.
    Integer,
    /// To a number.
    Number,
    /// To a boolean.
    Boolean,
    /// To a UTC date-time with milliseconds (numbers are epoch times in this unit).
    DateTime(crate::spec::EpochUnit),
}

/// A model the connector emits.
#[derive(Debug)]
pub struct ModelInfo {
    /// Model name.
    pub name: &'static str,
    /// Streams emitting it.
    pub streams: Vec<StreamId>,
    /// Tombstone streams deleting its records.
    pub tombstones: Vec<StreamId>,
}

impl Plan {
    /// The environment variable of an input (its name when the connector declares none).
    pub fn env_of(&self, input: &str) -> String {
        self.inputs
            .iter()
            .find(|i| i.name == input)
            .map_or_else(|| input.to_owned(), |i| i.env.clone())
    }

    /// The stream with this name.
    pub fn stream(&self, name: &str) -> Option<StreamId> {
        self.streams
            .iter()
            .position(|s| s.name == name)
            .map(StreamId)
    }
}
