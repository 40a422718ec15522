//! What connector authors write: the serde types of a connector YAML file (stage 1 of 3).
//!
//! Nothing here is interpreted: strings stay strings until `compile` parses them. The editor
//! schema (`schemas/connector.schema.json`) is generated from these types, so every field
//! carries a doc comment that becomes its description.

pub mod editor;
mod field;
mod load;
mod skeleton;

pub use editor::editor_schema;
pub use field::{EpochUnit, FieldDef, FieldSpec, KeySpec};
pub use load::{LoadError, SourceMap, load_bytes, load_file, load_str};
pub use skeleton::skeleton;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// A connector: one vendor API described declaratively.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Short machine name of the connector (`[a-z0-9_]+`); names the default output folder.
    pub name: String,
    /// Human title of the vendor, for docs.
    #[serde(default)]
    pub title: Option<String>,
    /// Notes about the connector as a whole (coverage docs).
    #[serde(default)]
    pub notes: Option<String>,
    /// Base URL of the vendor API, e.g. `https://api.example.com`. Paths of endpoints are
    /// appended to it; credentials are only ever sent to its host.
    pub base_url: String,
    /// Values read from the environment (credentials, tenant names), usable in templates as
    /// `inputs.<name>`.
    #[serde(default)]
    pub inputs: IndexMap<String, InputSpec>,
    /// How requests authenticate. Omit for public APIs.
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    /// Headers sent with every request (templates allowed).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Connector-wide request rate and concurrency limits.
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    /// Retry policy for transient failures (5xx, 429, timeouts, connection errors).
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// Per-request timeout in seconds, from 0.1 to 3600 (default 60).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Default pagination for every HTTP stream that does not declare its own.
    #[serde(default)]
    pub pagination: Option<PaginationSpec>,
    /// An answer that is an error although its status is 2xx (e.g. `success: false`), for
    /// every request; a request's own `error_when` replaces it.
    #[serde(default)]
    pub error_when: Option<ErrorWhenSpec>,
    /// The cheap request `mapper check` makes to tell whether the credentials work (default:
    /// the first page of the first stream that needs no parent). Sees `inputs`.
    #[serde(default)]
    pub check: Option<RequestSpec>,
    /// Bundled sample data used by `mapper run --sandbox` (no network, no credentials).
    #[serde(default)]
    pub sandbox: Option<SandboxSpec>,
    /// Indexes built from a stream's records, queried by field mappings of other streams.
    #[serde(default)]
    pub lookups: IndexMap<String, LookupSpec>,
    /// The record streams: where records come from and, for streams that emit a unified
    /// model, how each field is mapped.
    pub streams: IndexMap<String, StreamSpec>,
}

/// A value read from an environment variable.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Name of the environment variable, e.g. `EXAMPLE_API_KEY`.
    pub env: String,
    /// Whether the value is a secret: redacted in every log, error and debug output (default true).
    #[serde(default)]
    pub secret: Option<bool>,
    /// Value used when the variable is unset. An input without default is required only by
    /// the auth alternative (or template) that uses it.
    #[serde(default)]
    pub default: Option<String>,
    /// What the value is, for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// Value used by `--sandbox` runs instead of the environment.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// How requests authenticate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSpec {
    /// One or more headers carrying an API key, e.g. `X-API-Key: "{{ inputs.api_key }}"`.
    ApiKey {
        /// Header name → value template.
        headers: IndexMap<String, String>,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Template of the token, e.g. `"{{ inputs.token }}"`.
        token: String,
    },
    /// HTTP Basic authentication.
    Basic {
        /// Template of the user name.
        username: String,
        /// Template of the password (may be empty).
        #[serde(default)]
        password: Option<String>,
    },
    /// OAuth2 client credentials: a token is requested, cached until it expires, and
    /// refreshed once when a request answers 401.
    Oauth2ClientCredentials {
        /// Token endpoint: a path on the base URL (`/oauth/token`) or an absolute URL on the same host.
        token_url: String,
        /// Template of the client id.
        client_id: String,
        /// Template of the client secret.
        client_secret: String,
        /// Scopes requested, sent space-separated as `scope`.
        #[serde(default)]
        scopes: Vec<String>,
        /// How credentials are sent: `form` body (default) or HTTP `basic` auth.
        #[serde(default)]
        client_auth: Option<ClientAuthStyle>,
        /// Extra form parameters of the token request.
        #[serde(default)]
        extra_params: IndexMap<String, String>,
    },
    /// Alternatives in order of preference: the first whose inputs are all set is used.
    AnyOf {
        /// The alternatives.
        options: Vec<AuthSpec>,
    },
}

/// How an OAuth2 client sends its credentials to the token endpoint.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthStyle {
    /// `client_id` and `client_secret` in the form body.
    Form,
    /// HTTP Basic auth header with client id and secret.
    Basic,
}

/// Rate and concurrency limits.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Maximum requests per second, from 0.01 to 10000; requests are evenly spaced.
    #[serde(default)]
    pub requests_per_second: Option<f64>,
    /// Maximum requests in flight at once, from 1 to 1024.
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// The budget the API reports in response headers: requests pause before it runs out
    /// instead of running into a 429.
    #[serde(default)]
    pub headers: Option<RateLimitHeadersSpec>,
}

/// Response headers that report the remaining request budget.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitHeadersSpec {
    /// Header with the requests left in the current window, e.g. `X-RateLimit-Remaining`.
    pub remaining: String,
    /// Header saying when the window resets, e.g. `X-RateLimit-Reset` (optional).
    #[serde(default)]
    pub reset: Option<String>,
    /// How `reset` is written: `epoch_seconds` (default) or `delay_seconds` (seconds from now).
    #[serde(default)]
    pub reset_format: Option<ResetFormat>,
    /// How long to pause when the budget is low and no reset time is given, in seconds,
    /// from 0.1 to 3600 (default 1).
    #[serde(default)]
    pub window_secs: Option<f64>,
    /// Pause new requests when at most this many remain, from 0 to 100000 (default: the
    /// connector's `max_concurrency`, or 1).
    #[serde(default)]
    pub reserve: Option<u64>,
}

/// How a rate-limit reset header is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResetFormat {
    /// The Unix time (seconds) when the window resets.
    #[default]
    EpochSeconds,
    /// Seconds from now until the window resets.
    DelaySeconds,
}

/// Retry policy.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts per request including the first, from 1 to 100 (default 5). Spent by 5xx
    /// answers, timeouts and connection errors; 429 answers do not spend attempts.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// First backoff in milliseconds, doubled each retry, with jitter; from 1 to 600000
    /// (default 500).
    #[serde(default)]
    pub initial_backoff_ms: Option<u64>,
    /// Upper bound of one backoff in milliseconds, from `initial_backoff_ms` to 3600000
    /// (default 30000).
    #[serde(default)]
    pub max_backoff_ms: Option<u64>,
    /// Upper bound on a server's `Retry-After`, in seconds, from 1 to 86400 (default 120).
    #[serde(default)]
    pub max_retry_after_secs: Option<u64>,
    /// Total time one request may spend waiting out 429 answers, in seconds, from 1 to
    /// 86400 (default 900); then the request fails.
    #[serde(default)]
    pub max_rate_limit_wait_secs: Option<u64>,
}

/// How a paged endpoint is walked. State starts fresh for each parent record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaginationSpec {
    /// A single request.
    None,
    /// A cursor read from the body and sent back as a query parameter
    /// (`nextPageId` → `pageId`). Stops when the cursor is missing, null or empty.
    Cursor {
        /// JSONPath of the next cursor in the response body, e.g. `$.nextPageId`.
        cursor: String,
        /// Query parameter that carries the cursor, e.g. `pageId`.
        param: String,
        /// Also stop on a page with no records (default true).
        #[serde(default)]
        stop_on_empty: Option<bool>,
        /// The cursor is already percent-encoded by the API: send it as received instead of
        /// encoding it again (default false).
        #[serde(default)]
        encoded: Option<bool>,
        /// Where `param` goes: `query` (default), `body` (a top-level member) or `header`.
        #[serde(default, rename = "in")]
        in_: Option<Inject>,
        /// Expression over `response` (the page's body) that ends the walk when true, e.g.
        /// `not response.moreDataAvailable`.
        #[serde(default)]
        stop_when: Option<String>,
    },
    /// Follow a next-page URL given in the body (absolute or relative; same host only).
    /// Stops when it is missing, null or empty.
    NextUrl {
        /// JSONPath of the URL, e.g. `$.links.next`.
        path: String,
        /// Expression over `response` that ends the walk when true.
        #[serde(default)]
        stop_when: Option<String>,
    },
    /// Follow the `Link` header's `rel="next"` URL (same host only). Stops when there is
    /// no next link, on an empty page, or on a page shorter than `page_size` if given.
    LinkHeader {
        /// Expected full page size, from 1 to 1000000; a shorter page is the last one.
        #[serde(default)]
        page_size: Option<u64>,
        /// Expression over `response` that ends the walk when true.
        #[serde(default)]
        stop_when: Option<String>,
    },
    /// Page numbers: `param` counts up from `start`; stops on a page shorter than `size`,
    /// on an empty page, or when `total_pages` says so. Follows a `Link: rel="next"` header
    /// instead of counting when `follow_link` is set and the header is present.
    PageNumber {
        /// Query parameter of the page number, e.g. `page`.
        param: String,
        /// First page number, from 0 to 1000000000 (default 1).
        #[serde(default)]
        start: Option<u64>,
        /// Query parameter of the page size, e.g. `per_page`.
        #[serde(default)]
        size_param: Option<String>,
        /// Page size requested and expected, from 1 to 1000000.
        size: u64,
        /// JSONPath of the total page count in the body, if the API reports one.
        #[serde(default)]
        total_pages: Option<String>,
        /// Prefer the `Link` header's next URL when present (default false).
        #[serde(default)]
        follow_link: Option<bool>,
        /// Where `param` and `size_param` go: `query` (default) or `body`.
        #[serde(default, rename = "in")]
        in_: Option<Inject>,
        /// Expression over `response` that ends the walk when true.
        #[serde(default)]
        stop_when: Option<String>,
    },
    /// Offset and limit: `offset_param` grows by the records received; stops when the
    /// offset reaches `total`, or on a short or empty page.
    Offset {
        /// Query parameter of the offset, e.g. `offset`.
        offset_param: String,
        /// Query parameter of the limit, e.g. `limit`.
        limit_param: String,
        /// Records requested per page, from 1 to 1000000.
        limit: u64,
        /// JSONPath of the total record count in the body, e.g. `$.totalFound`.
        #[serde(default)]
        total: Option<String>,
        /// Where `offset_param` and `limit_param` go: `query` (default) or `body`.
        #[serde(default, rename = "in")]
        in_: Option<Inject>,
        /// Expression over `response` that ends the walk when true.
        #[serde(default)]
        stop_when: Option<String>,
    },
}

/// Bundled sample data for `--sandbox`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// Cassette of recorded HTTP exchanges, relative to the connector file.
    pub cassette: String,
}

/// An index from a key to values of another stream's records, built before it is queried.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// The stream whose records fill the index.
    #[serde(default)]
    pub stream: Option<String>,
    /// Instead of `stream`: a JSONPath into each response body (e.g. `$.included[*]` of a
    /// JSON:API document) whose records fill an index of that page only, queried by the
    /// records that arrived on it (and their derived and fan-out records).
    #[serde(default)]
    pub side_load: Option<String>,
    /// The key of each record: a JSONPath (`$.job_id`) or a template (`"{{ record.a }}:{{ record.b }}"`).
    /// Omit it for one entry holding every record (in order): a lookup queried without `key`.
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// Value stored for the key (default: the whole record).
    #[serde(default)]
    pub value: Option<FieldSpec>,
    /// Expression that must be true for a record to enter the index, e.g. `record.live and record.active`.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// Sort key among records with the same key (JSONPath or template); ascending.
    #[serde(default)]
    pub order_by: Option<KeySpec>,
    /// Which record a key keeps: `first` or `last` after ordering, or `all` (an array).
    /// Default `first`, or `all` for a lookup without `key`.
    #[serde(default)]
    pub keep: Option<Keep>,
    /// Coverage note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Which records a lookup keeps per key.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The first (lowest `order_by`, or first seen).
    First,
    /// The last (highest `order_by`, or last seen).
    Last,
    /// All of them, as an array in order.
    All,
}

/// A stream of records: fetched over HTTP, derived from another stream's records, or written inline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// The unified model this stream emits (`candidates`, `jobs`, ...). Streams without a
    /// model only feed other streams or lookups.
    #[serde(default)]
    pub model: Option<String>,
    /// Coverage note on the model as this connector fills it.
    #[serde(default)]
    pub note: Option<String>,
    /// HTTP request of the stream (one per parent record when `for_each` is set).
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Fan-out: issue `request` once per record of this stream; templates see it as `parent`.
    #[serde(default)]
    pub for_each: Option<String>,
    /// Parents processed concurrently during fan-out, from 1 to 256 (default 4).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// JSONPath selecting the records in each response body: `$[*]` for a bare array,
    /// `$.content[*]` for an envelope, `$` for a single object (default `$[*]`).
    #[serde(default)]
    pub records: Option<Selector>,
    /// Derive records from each record of another stream (no request); see `explode`.
    #[serde(default)]
    pub from: Option<String>,
    /// With `from`: where the new records sit in each source record, e.g. `$.timeslots[*]`.
    /// The source record becomes `parent`.
    #[serde(default)]
    pub explode: Option<Selector>,
    /// Inline records, for fixed vocabularies the API does not list.
    #[serde(default, rename = "static")]
    pub static_: Option<Vec<serde_json::Value>>,
    /// Expression that must be true for a record to be kept, e.g. `not record.is_template`.
    #[serde(default)]
    pub filter: Option<String>,
    /// Pagination of this stream's request (default: the connector's `pagination`, else none).
    #[serde(default)]
    pub pagination: Option<PaginationSpec>,
    /// Limits for this stream's requests, on top of the connector's.
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    /// Most pages one request may take (for each parent with `for_each`), from 1 to
    /// 100000000; a request that needs more fails the run instead of being cut short.
    /// Default: no limit (a cursor, next link or page that repeats is always an error).
    #[serde(default)]
    pub max_pages: Option<u64>,
    /// Treat these HTTP statuses (100 to 599) of a fan-out request as "no records" (e.g. `[404]`).
    #[serde(default)]
    pub empty_on_status: Vec<u16>,
    /// For join models: the mapped fields whose values make up the record's identity.
    #[serde(default)]
    pub key: Vec<String>,
    /// What to do when two records map to the same id: `skip` later ones, or `merge`
    /// them (arrays unioned, first non-null scalar kept). Default: report as invalid.
    #[serde(default)]
    pub duplicates: Option<Duplicates>,
    /// Which raw payloads go into `remote_data`: `record` (default) and/or ancestors
    /// `parent`, `parent.parent`, ... Each is keyed by the API path it came from.
    #[serde(default)]
    pub remote_data: Option<Vec<String>>,
    /// Field mappings of the unified model, field name → mapping.
    #[serde(default)]
    pub fields: IndexMap<String, FieldSpec>,
    /// A tombstone stream (no `model`): each record names a record of a model that the vendor
    /// deleted, which is marked deleted in full and delta runs (unless this run saw it).
    #[serde(default)]
    pub deletes: Option<DeletesSpec>,
}

/// What a tombstone stream's records say was deleted.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletesSpec {
    /// The unified model of the deleted records (emitted by another stream of the connector).
    pub model: String,
    /// The deleted record's vendor id, e.g. `$.id`.
    pub remote_id: FieldSpec,
    /// When it was deleted, e.g. `{ path: $.deletedAt, as: datetime, unit: milliseconds }`
    /// (default, or when null: the run's start).
    #[serde(default)]
    pub deleted_at: Option<FieldSpec>,
}

/// Handling of records that map to an id already written.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Duplicates {
    /// Keep the first, drop later ones silently.
    Skip,
    /// Merge into the first: arrays unioned, first non-null scalar kept.
    Merge,
}

/// One HTTP request template.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Path on the base URL; templates allowed, e.g. `/jobs/{{ parent.id }}/hiring-team`.
    pub path: String,
    /// Query parameters; a list value repeats the parameter (`status=A&status=B`).
    #[serde(default)]
    pub query: IndexMap<String, QueryValue>,
    /// Extra headers (templates allowed).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// JSON body, sent with `Content-Type: application/json` (e.g. with `method: POST`). A
    /// string that is a lone `{{ expression }}` keeps its type (numbers stay numbers); other
    /// strings with `{{ }}` render as text; everything else is sent as written. Sees
    /// `inputs`, `parent`, `parents`, `vars`.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Incremental sync: with `mapper run --delta`, asks for what changed since the stream's
    /// last successful sync (a time less a safety overlap, or the token the vendor gave).
    #[serde(default)]
    pub delta: Option<DeltaSpec>,
    /// An answer that is an error although its status is 2xx (overrides the connector's).
    #[serde(default)]
    pub error_when: Option<ErrorWhenSpec>,
}

/// A condition on a 2xx answer's body that makes it a failed request, never zero records.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorWhenSpec {
    /// Expression over `response` (the body), e.g. `response.success == false`.
    pub condition: String,
    /// JSONPath of the error message in the body, e.g. `$.errorInfo.message`.
    #[serde(default)]
    pub message: Option<String>,
}

/// Where a pagination token, delta value or cursor goes in a request.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Inject {
    /// A query parameter.
    #[default]
    Query,
    /// A top-level member of the JSON body.
    Body,
    /// A request header.
    Header,
}

/// What an incremental sync sends.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeltaKind {
    /// The time of the last successful sync, less `overlap_secs`.
    #[default]
    Time,
    /// The opaque token the last page of the last successful sync returned.
    Token,
}

/// The filter an endpoint offers for incremental syncs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaSpec {
    /// `time` (default) or `token`.
    #[serde(default)]
    pub kind: Option<DeltaKind>,
    /// Parameter (or body member) taking the time or token, e.g. `updated_after`.
    pub param: String,
    /// Where `param` goes: `query` (default) or `body`.
    #[serde(default, rename = "in")]
    pub in_: Option<Inject>,
    /// With `kind: token`: JSONPath of the token in the body of the last page, e.g. `$.syncToken`.
    #[serde(default)]
    pub token: Option<String>,
    /// With `kind: token`: expression over `response` that says the token expired; the
    /// stream is then walked again in full.
    #[serde(default)]
    pub expired_when: Option<String>,
    /// How the time is written: `iso8601` (default, `2024-04-02T08:30:44.000Z`),
    /// `epoch_seconds` or `epoch_milliseconds`.
    #[serde(default)]
    pub format: Option<DeltaFormat>,
    /// Seconds subtracted from the last sync's start, to miss nothing, from 0 to 31536000
    /// (default 300).
    #[serde(default)]
    pub overlap_secs: Option<u64>,
}

/// How a delta filter writes the time.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeltaFormat {
    /// UTC ISO-8601 with milliseconds, `2024-04-02T08:30:44.000Z`.
    #[default]
    Iso8601,
    /// Whole seconds since the Unix epoch.
    EpochSeconds,
    /// Milliseconds since the Unix epoch.
    EpochMilliseconds,
}

/// A query parameter value: one template, or a list that repeats the parameter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum QueryValue {
    /// Sent once.
    One(ScalarString),
    /// Sent once per element.
    Many(Vec<ScalarString>),
}

/// A scalar written as string, number or boolean; used as its text.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScalarString {
    /// Text (templates allowed).
    Text(String),
    /// A number.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
}

impl ScalarString {
    /// The text of the scalar.
    pub fn text(&self) -> String {
        match self {
            ScalarString::Text(s) => s.clone(),
            ScalarString::Number(n) => n.to_string(),
            ScalarString::Bool(b) => b.to_string(),
        }
    }
}

/// Where records sit in a JSON value: one JSONPath, or several, each with constants.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Selector {
    /// One JSONPath; every match is a record.
    Path(String),
    /// Several sources, in order.
    Many(Vec<SelectorPart>),
}

/// One source of records with constants attached.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorPart {
    /// JSONPath; every match is a record. With `lookup`: a JSONPath into the lookup's value
    /// (default: each element of the value when it is an array, else the value).
    #[serde(default)]
    pub path: Option<String>,
    /// With `explode` only: the records are the value a lookup holds (for `key`), not a part
    /// of the source record; e.g. a company-wide pipeline exploded for every job.
    #[serde(default)]
    pub lookup: Option<String>,
    /// With `lookup`: the key, as a JSONPath into the source record or a template. Omit for
    /// a lookup without `key`.
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// Constants visible to mappings of these records as `vars.<name>`.
    #[serde(default)]
    pub vars: IndexMap<String, serde_json::Value>,
}
