//! The HTTP client of a run: URL building, authentication (with an OAuth2 token cache),
//! rate and concurrency limits, retries with backoff, and the same-host rule for credentials.

use super::RunError;
use super::transport::{Request, Response, Transport};
use crate::compile::expr::Template;
use crate::compile::{Auth, BudgetHeaders, Limits, Plan, RetryPolicy};
use crate::secret::{Redactor, Secret};
use crate::spec::{ClientAuthStyle, ResetFormat};
use minijinja::Value as MjValue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Evenly spaced request slots: at most `rps` requests in any second.
///
/// Hand-written rather than governor: governor's GCRA lets a burst of the quota through at
/// once, which vendors that count a sliding window answer with 429; this spaces every
/// request, measured from when the previous one really left (a dozen lines).
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter for `rps` requests per second.
    pub fn new(rps: f64) -> Self {
        // 2% margin: a server counting a closed one-second window never sees rps + 1
        // the compiler keeps rps within 0.01..=10000; stay finite whatever comes in
        let interval = Duration::try_from_secs_f64(1.02 / rps)
            .unwrap_or(Duration::from_secs(102))
            .min(Duration::from_secs(102));
        RateLimiter {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }
    /// Waits for the next slot. The lock is held while waiting, so slots are measured from
    /// when the previous request really left, not from when it was scheduled: a stalled
    /// task never lets a burst through.
    pub async fn acquire(&self) {
        let mut next = self.next.lock().await;
        tokio::time::sleep_until((*next).into()).await;
        *next = Instant::now() + self.interval;
    }
}

/// The request budget an API reports in its response headers: when an answer says at most
/// `reserve` requests remain, new requests wait until the window resets.
pub struct Budget {
    headers: BudgetHeaders,
    paused_until: std::sync::Mutex<Option<Instant>>,
}

impl Budget {
    fn new(headers: BudgetHeaders) -> Budget {
        Budget {
            headers,
            paused_until: std::sync::Mutex::new(None),
        }
    }

    /// Waits while the budget is spent.
    async fn wait(&self) {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = until
            && t > Instant::now()
        {
            tracing::debug!("request budget spent: waiting {:?}", t - Instant::now());
            tokio::time::sleep_until(t.into()).await;
        }
    }

    /// Reads an answer's budget headers; pauses when the budget is nearly spent.
    fn observe(&self, resp: &Response, max_wait: Duration) {
        let Some(remaining) = resp
            .header(&self.headers.remaining)
            .and_then(|v| v.trim().parse::<f64>().ok())
        else {
            return;
        };
        if remaining > self.headers.reserve as f64 {
            return;
        }
        let reset = self
            .headers
            .reset
            .as_deref()
            .and_then(|h| resp.header(h))
            .and_then(|v| reset_delay(v, self.headers.reset_format));
        let wait = reset.unwrap_or(self.headers.window).min(max_wait);
        let until = Instant::now() + wait;
        let mut p = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }
}

/// How long until a reset header's moment (none when unreadable or past).
fn reset_delay(v: &str, format: ResetFormat) -> Option<Duration> {
    let n: f64 = v.trim().parse().ok().filter(|n: &f64| n.is_finite())?;
    match format {
        ResetFormat::DelaySeconds => {
            Duration::try_from_secs_f64(n.clamp(0.0, MAX_VENDOR_SECS)).ok()
        }
        ResetFormat::EpochSeconds => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            // a reset in the past (clock skew) still waits a little: the window is closing
            Duration::try_from_secs_f64((n - now).clamp(0.0, MAX_VENDOR_SECS))
                .ok()
                .map(|d| d.max(Duration::from_millis(100)))
        }
    }
}

/// Limits that apply to one group of requests (the connector, or one stream).
#[derive(Default)]
pub struct Gate {
    rate: Option<RateLimiter>,
    slots: Option<Semaphore>,
    budget: Option<Budget>,
}

impl Gate {
    /// A gate for these limits.
    pub fn new(l: &Limits) -> Gate {
        Gate {
            rate: l.requests_per_second.map(RateLimiter::new),
            slots: l.max_concurrency.map(|c| Semaphore::new(c as usize)),
            budget: l.headers.clone().map(Budget::new),
        }
    }
}

/// Counters of one stream's requests.
#[derive(Default, Debug)]
pub struct Counters {
    /// Requests sent (including retries).
    pub requests: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
}

/// Resolved authentication (inputs substituted).
enum ResolvedAuth {
    None,
    Headers(Vec<(String, Secret)>),
    OAuth2 {
        token_url: String,
        client_id: Secret,
        client_secret: Secret,
        scopes: Vec<String>,
        style: ClientAuthStyle,
        extra: Vec<(String, String)>,
    },
}

struct Token {
    value: Secret,
    expires: Instant,
}

/// The client shared by all streams of a run.
pub struct Client {
    transport: Transport,
    base: url::Url,
    /// The configured base host, accepted in next links and rewritten to `base`.
    original_host: (String, Option<u16>),
    auth: ResolvedAuth,
    static_headers: Vec<(String, String)>,
    retry: RetryPolicy,
    gate: Gate,
    token: Mutex<Option<Token>>,
    /// Hides secrets in messages.
    pub redactor: Redactor,
    /// Invalid UTF-8 sequences in response bodies, replaced by U+FFFD.
    pub invalid_utf8: AtomicU64,
}

fn host_port(u: &url::Url) -> (String, Option<u16>) {
    (
        u.host_str().unwrap_or("").to_ascii_lowercase(),
        u.port_or_known_default(),
    )
}

impl Client {
    /// Builds the client. `scope` holds `inputs` for auth and header templates.
    pub fn new(
        transport: Transport,
        plan: &Plan,
        configured_base: &url::Url,
        override_base: Option<&url::Url>,
        auth: Option<&Auth>,
        scope: &MjValue,
        redactor: Redactor,
    ) -> Result<Client, RunError> {
        let replay = matches!(transport, Transport::Replay { .. });
        let (headers, limits, retry) = (&plan.headers, &plan.limits, plan.retry);
        let mut base = configured_base.clone();
        if let Some(o) = override_base {
            base.set_scheme(o.scheme()).map_err(|_| {
                RunError::Usage(format!("--base-url {o}: cannot use scheme {}", o.scheme()))
            })?;
            base.set_host(o.host_str())
                .map_err(|e| RunError::Usage(format!("--base-url {o}: {e}")))?;
            base.set_port(o.port())
                .map_err(|_| RunError::Usage(format!("--base-url {o}: cannot set port")))?;
        }
        let render = |t: &Template| {
            t.render(scope)
                .map_err(|e| RunError::Spec(format!("auth: {e}")))
        };
        let auth = match auth {
            None => ResolvedAuth::None,
            Some(a) => resolve_auth(a, &render)?,
        };
        let mut static_headers = Vec::new();
        for (k, t) in headers {
            static_headers.push((
                k.clone(),
                t.render(scope)
                    .map_err(|e| RunError::Spec(format!("headers.{k}: {e}")))?,
            ));
        }
        Ok(Client {
            transport,
            original_host: host_port(configured_base),
            base,
            auth,
            static_headers,
            retry,
            // a replayed cassette is not a server to be gentle with
            gate: if replay {
                Gate::default()
            } else {
                Gate::new(limits)
            },
            token: Mutex::new(None),
            redactor,
            invalid_utf8: AtomicU64::new(0),
        })
    }

    /// The effective base URL.
    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// The transport (to save a recording).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// URL of a path on the base URL.
    pub fn url_for(&self, path: &str, query: &[(String, String)]) -> Result<url::Url, String> {
        let mut u = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        let (p, q) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        u.set_path(&format!("{prefix}{p}"));
        u.set_query(q);
        if !query.is_empty() {
            let mut pairs = u.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(u)
    }

    /// Checks that a URL given by the server (a next link) is on the base host; rewrites
    /// the configured vendor host to the effective one (`--base-url`).
    pub fn same_host(&self, link: &url::Url) -> Result<url::Url, String> {
        let hp = host_port(link);
        if hp == host_port(&self.base) {
            return Ok(link.clone());
        }
        if hp == self.original_host {
            let mut u = link.clone();
            let _ = u.set_scheme(self.base.scheme());
            let _ = u.set_host(self.base.host_str());
            let _ = u.set_port(self.base.port());
            return Ok(u);
        }
        Err(format!(
            "refusing to follow {} : it is not on the API host {}, and credentials are only sent there",
            self.redactor.redact(link.as_str()),
            self.base.host_str().unwrap_or("")
        ))
    }

    async fn bearer(
        &self,
        force: bool,
        counters: &Counters,
    ) -> Result<Option<(String, String)>, String> {
        let ResolvedAuth::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scopes,
            style,
            extra,
        } = &self.auth
        else {
            return Ok(None);
        };
        let mut guard = self.token.lock().await;
        if !force
            && let Some(t) = guard.as_ref()
            && t.expires > Instant::now()
        {
            return Ok(Some((
                "Authorization".into(),
                format!("Bearer {}", t.value.expose()),
            )));
        }
        let url = if token_url.starts_with("http://") || token_url.starts_with("https://") {
            let u = url::Url::parse(token_url).map_err(|e| format!("token_url: {e}"))?;
            self.same_host(&u)?
        } else {
            self.url_for(token_url, &[])?
        };
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        match style {
            ClientAuthStyle::Form => {
                form.push(("client_id".into(), client_id.expose().to_owned()));
                form.push(("client_secret".into(), client_secret.expose().to_owned()));
            }
            ClientAuthStyle::Basic => {
                use base64::Engine;
                let v = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    client_id.expose(),
                    client_secret.expose()
                ));
                headers.push(("Authorization".into(), format!("Basic {v}")));
            }
        }
        if !scopes.is_empty() {
            form.push(("scope".into(), scopes.join(" ")));
        }
        form.extend(extra.iter().cloned());
        let req = Request {
            method: reqwest::Method::POST,
            url: url.clone(),
            headers,
            form: Some(form),
            json: None,
        };
        let (resp, _) = self
            .send_with_retries(&req, counters, None, false, false)
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let url = self.redactor.redact(url.as_str());
        if !(200..300).contains(&resp.status) {
            return Err(format!(
                "token request POST {url} answered {}",
                status_text(resp.status)
            ));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            access_token: String,
            #[serde(default)]
            expires_in: Option<serde_json::Value>,
        }
        let t: TokenResponse = serde_json::from_slice(&resp.body).map_err(|e| {
            format!(
                "token response of POST {url} is not a token (expected JSON with `access_token`): {}",
                json_error(&e)
            )
        })?;
        let life = token_life(t.expires_in.as_ref());
        // refresh a little before the server would refuse it
        let expires = Instant::now() + life - Duration::from_secs(30).min(life / 10);
        let value = Secret::new(t.access_token);
        let header = (
            "Authorization".to_owned(),
            format!("Bearer {}", value.expose()),
        );
        *guard = Some(Token { value, expires });
        Ok(Some(header))
    }

    /// Sends a request with auth, limits and retries. `Err` only for failures that retries
    /// could not fix or that are final; non-2xx statuses are returned for the caller to judge.
    pub async fn get(
        &self,
        method: &reqwest::Method,
        url: url::Url,
        extra_headers: &[(String, String)],
        counters: &Counters,
        stream_gate: Option<&Gate>,
    ) -> Result<Response, String> {
        self.get_inner(
            method,
            url,
            None,
            extra_headers,
            counters,
            stream_gate,
            false,
        )
        .await
        .map(|(r, _)| r)
    }

    /// Like [`Client::get`], and parses a 2xx body as JSON (a blank body is null). A 2xx
    /// body that is not JSON (cut short, garbled) is retried like a 5xx; invalid UTF-8 in
    /// it is replaced by U+FFFD and counted in [`Client::invalid_utf8`].
    pub async fn get_json(
        &self,
        method: &reqwest::Method,
        url: url::Url,
        body: Option<serde_json::Value>,
        extra_headers: &[(String, String)],
        counters: &Counters,
        stream_gate: Option<&Gate>,
    ) -> Result<(Response, serde_json::Value), String> {
        self.get_inner(
            method,
            url,
            body,
            extra_headers,
            counters,
            stream_gate,
            true,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn get_inner(
        &self,
        method: &reqwest::Method,
        url: url::Url,
        body: Option<serde_json::Value>,
        extra_headers: &[(String, String)],
        counters: &Counters,
        stream_gate: Option<&Gate>,
        json: bool,
    ) -> Result<(Response, serde_json::Value), String> {
        let mut headers: Vec<(String, String)> = vec![("Accept".into(), "application/json".into())];
        headers.extend(self.static_headers.iter().cloned());
        if let ResolvedAuth::Headers(h) = &self.auth {
            headers.extend(h.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())));
        }
        headers.extend(extra_headers.iter().cloned());
        let mut req = Request {
            method: method.clone(),
            url,
            headers,
            form: None,
            json: body,
        };
        let mut refreshed = false;
        loop {
            let mut attempt_req = req.clone();
            if let Some(h) = self.bearer(refreshed, counters).await? {
                attempt_req.headers.push(h);
            }
            let (resp, body) = self
                .send_with_retries(&attempt_req, counters, stream_gate, true, json)
                .await?;
            if resp.status == 401 && matches!(self.auth, ResolvedAuth::OAuth2 { .. }) && !refreshed
            {
                refreshed = true;
                counters.retries.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "401 on {}: refreshing the OAuth2 token once",
                    self.redactor.redact(req.url.as_str())
                );
                continue;
            }
            req.form = None;
            return Ok((resp, body));
        }
    }

    /// Parses a 2xx body: `Ok(None)` when it is not JSON (worth a retry). Values of any depth
    /// parse; a record nested too deep is cut and made invalid by the pager. Large bodies
    /// are parsed on the blocking pool, so that the stream can map the previous page meanwhile.
    async fn parse_body(
        &self,
        what: &str,
        body: &bytes::Bytes,
    ) -> Result<Option<serde_json::Value>, String> {
        let (parsed, invalid) = if body.len() >= PARSE_ELSEWHERE_BYTES {
            let b = body.clone();
            tokio::task::spawn_blocking(move || parse_bytes(&b))
                .await
                .map_err(|e| format!("{what}: parsing the response: {e}"))?
        } else {
            parse_bytes(body)
        };
        if invalid > 0 {
            self.invalid_utf8
                .fetch_add(invalid as u64, Ordering::Relaxed);
            tracing::warn!(
                "{what}: {invalid} invalid UTF-8 sequence(s) in the response, replaced by U+FFFD"
            );
        }
        match parsed {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!("{what}: the response is not JSON ({})", json_error(&e));
                Ok(None)
            }
        }
    }

    async fn send_with_retries(
        &self,
        req: &Request,
        counters: &Counters,
        stream_gate: Option<&Gate>,
        gated: bool,
        json: bool,
    ) -> Result<(Response, serde_json::Value), String> {
        let mut attempt = 0u32;
        // 429 answers do not spend attempts: they are waited out within this deadline
        let mut limited = 0u32;
        let mut limited_since: Option<Instant> = None;
        let what = format!("{} {}", req.method, self.redactor.redact(req.url.as_str()));
        loop {
            let result = {
                let _g = match (gated, &self.gate.slots) {
                    (true, Some(s)) => Some(s.acquire().await.map_err(|e| e.to_string())?),
                    _ => None,
                };
                let _s = match stream_gate.and_then(|g| g.slots.as_ref()) {
                    Some(s) => Some(s.acquire().await.map_err(|e| e.to_string())?),
                    None => None,
                };
                if let Some(r) = stream_gate.and_then(|g| g.rate.as_ref()) {
                    r.acquire().await;
                }
                if let Some(r) = &self.gate.rate {
                    r.acquire().await;
                }
                for b in [
                    stream_gate.and_then(|g| g.budget.as_ref()),
                    self.gate.budget.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    b.wait().await;
                }
                counters.requests.fetch_add(1, Ordering::Relaxed);
                let sent = self.transport.send(req).await;
                if let Ok(r) = &sent {
                    for b in [
                        stream_gate.and_then(|g| g.budget.as_ref()),
                        self.gate.budget.as_ref(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        b.observe(r, self.retry.max_retry_after);
                    }
                }
                sent
            };
            // what went wrong, if anything: (message, wait before the next try)
            let (problem, wait) = match result {
                Ok(r) if r.status == 429 => {
                    limited += 1;
                    let since = *limited_since.get_or_insert_with(Instant::now);
                    let ra = r
                        .header("retry-after")
                        .and_then(parse_retry_after)
                        .map(|d| d.min(self.retry.max_retry_after));
                    // honour Retry-After, but never hammer the server faster than the backoff
                    let w = ra.unwrap_or(Duration::ZERO).max(self.backoff(limited));
                    let budget = self.retry.max_rate_limit_wait;
                    if since.elapsed() + w > budget {
                        return Err(format!(
                            "{what}: still 429 Too Many Requests after {limited} answers and {:.0}s of waiting (max_rate_limit_wait_secs: {})",
                            since.elapsed().as_secs_f64(),
                            budget.as_secs()
                        ));
                    }
                    tracing::warn!(
                        "{what}: 429 Too Many Requests ({limited} so far), waiting {w:?}"
                    );
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(w).await;
                    continue;
                }
                Ok(r) if r.status >= 500 => {
                    attempt += 1;
                    (status_text(r.status), self.backoff(attempt))
                }
                Ok(r) if json && (200..300).contains(&r.status) => {
                    attempt += 1;
                    match self.parse_body(&what, &r.body).await? {
                        Some(v) => return Ok((r, v)),
                        None => (
                            format!("{}, but the body is not JSON", status_text(r.status)),
                            self.backoff(attempt),
                        ),
                    }
                }
                Ok(r) => return Ok((r, serde_json::Value::Null)),
                Err(e) if e.is_transient() => {
                    attempt += 1;
                    (e.to_string(), self.backoff(attempt))
                }
                Err(e) => return Err(format!("{what}: {e}")),
            };
            if attempt >= self.retry.max_attempts {
                return Err(format!("{what} failed after {attempt} attempts: {problem}"));
            }
            tracing::warn!("{what}: {problem} (attempt {attempt})");
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry.initial_backoff.as_secs_f64()
            * 2f64.powi(attempt.saturating_sub(1).min(60) as i32);
        let capped = base.min(self.retry.max_backoff.as_secs_f64());
        // full jitter in [capped/2, capped]
        Duration::try_from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5))
            .unwrap_or(self.retry.max_backoff)
    }
}

/// Largest delay mapper takes from a vendor (a `Retry-After`, a token lifetime): one year.
const MAX_VENDOR_SECS: f64 = 365.0 * 86_400.0;

/// A serde_json error without the values it may quote from the payload.
pub fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "cut short".to_owned(),
        Category::Syntax => {
            let m = e.to_string();
            match m.find(" at line ") {
                Some(i) if m.contains("recursion limit") => m[..i].to_owned(),
                _ => "invalid JSON".to_owned(),
            }
        }
        Category::Data => {
            let m = e.to_string();
            match m.find(" at line ") {
                Some(i) if m.starts_with("missing field") => m[..i].to_owned(),
                _ => "unexpected value".to_owned(),
            }
        }
        Category::Io => "read error".to_owned(),
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Bodies at least this large are parsed off the stream's thread. Smaller pages are parsed
/// where they are mapped: measured, handing a 45 KB page to the blocking pool cost more CPU
/// (values freed on another thread than the one that built them) than it saved in wall time.
const PARSE_ELSEWHERE_BYTES: usize = 64 * 1024;

/// A body as JSON (blank is null), and how many invalid UTF-8 sequences were replaced.
fn parse_bytes(body: &[u8]) -> (Result<serde_json::Value, serde_json::Error>, usize) {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return (Ok(serde_json::Value::Null), 0);
    }
    let (text, invalid) = lossy_utf8(body);
    // any depth parses (the stack grows as needed); records nested too deep are cut and made
    // invalid one by one afterwards, and the rest of the page is read
    let parse = || -> Result<serde_json::Value, serde_json::Error> {
        use serde::Deserialize;
        let mut de = serde_json::Deserializer::from_str(&text);
        de.disable_recursion_limit();
        let v = serde_json::Value::deserialize(serde_stacker::Deserializer::new(&mut de))?;
        de.end()?;
        Ok(v)
    };
    (parse(), invalid)
}

/// The body as text, invalid UTF-8 sequences replaced by U+FFFD, and how many there were.
fn lossy_utf8(body: &[u8]) -> (std::borrow::Cow<'_, str>, usize) {
    match std::str::from_utf8(body) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), 0),
        Err(_) => {
            let mut n = 0;
            for chunk in body.utf8_chunks() {
                if !chunk.invalid().is_empty() {
                    n += 1;
                }
            }
            (String::from_utf8_lossy(body), n)
        }
    }
}

/// How long an OAuth2 token lives, from its `expires_in` (a number or numeric text of
/// seconds), clamped to between one second and a year; one hour when absent or unreadable.
fn token_life(expires_in: Option<&serde_json::Value>) -> Duration {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite())
    .unwrap_or(3600.0);
    Duration::from_secs_f64(secs.clamp(1.0, MAX_VENDOR_SECS))
}

fn resolve_auth(
    a: &Auth,
    render: &dyn Fn(&Template) -> Result<String, RunError>,
) -> Result<ResolvedAuth, RunError> {
    Ok(match a {
        Auth::ApiKey { headers } => ResolvedAuth::Headers(
            headers
                .iter()
                .map(|(k, t)| Ok((k.clone(), Secret::new(render(t)?))))
                .collect::<Result<_, RunError>>()?,
        ),
        Auth::Bearer { token } => ResolvedAuth::Headers(vec![(
            "Authorization".into(),
            Secret::new(format!("Bearer {}", render(token)?)),
        )]),
        Auth::Basic { username, password } => {
            use base64::Engine;
            let pw = match password {
                Some(p) => render(p)?,
                None => String::new(),
            };
            let v = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{pw}", render(username)?));
            ResolvedAuth::Headers(vec![(
                "Authorization".into(),
                Secret::new(format!("Basic {v}")),
            )])
        }
        Auth::OAuth2 {
            token_url,
            client_id,
            client_secret,
            scopes,
            client_auth,
            extra,
        } => ResolvedAuth::OAuth2 {
            token_url: render(token_url)?,
            client_id: Secret::new(render(client_id)?),
            client_secret: Secret::new(render(client_secret)?),
            scopes: scopes.clone(),
            style: *client_auth,
            extra: extra
                .iter()
                .map(|(k, t)| Ok((k.clone(), render(t)?)))
                .collect::<Result<_, RunError>>()?,
        },
        // alternatives are chosen before resolving, and the compiler refuses nested any_of
        Auth::AnyOf(_) => {
            return Err(RunError::Spec(
                "auth: any_of alternatives must be chosen before resolving".into(),
            ));
        }
    })
}

/// `Retry-After`: delay in seconds, or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        // NaN, negative: ignored; huge: clamped (the policy's cap applies afterwards)
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(MAX_VENDOR_SECS)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// `401 Unauthorized`-style text.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(r) => format!("{status} {r}"),
        None => status.to_string(),
    }
}

/// The `rel="next"` URL of a `Link` header, resolved against the request URL.
pub fn next_link(header: &str, base: &url::Url) -> Option<url::Url> {
    for part in split_links(header) {
        let part = part.trim();
        let Some(s) = part.find('<') else { continue };
        let Some(e) = part[s..].find('>').map(|e| s + e) else {
            continue;
        };
        let params = &part[e + 1..];
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=").is_some_and(|r| {
                r.trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return base.join(&part[s + 1..e]).ok();
        }
    }
    None
}

fn split_links(h: &str) -> Vec<&str> {
    // split on commas outside <...>
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in h.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&h[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&h[start..]);
    out
}

/// Appends `name=value` to the URL's query with `value` as the API gave it: an
/// already percent-encoded token keeps its `%XX` escapes; only bytes that cannot stand in a
/// query value (space, `&`, `#`, `+`, controls, non-ASCII) are escaped.
pub fn append_raw_query(url: &mut url::Url, name: &str, value: &str) {
    let mut v = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~%!$'()*,;:@/?=".contains(&b) {
            v.push(b as char);
        } else {
            v.push_str(&format!("%{b:02X}"));
        }
    }
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let q = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{name}={v}"),
        _ => format!("{name}={v}"),
    };
    url.set_query(Some(&q));
}

#[cfg(test)]
mod tests {

    #[test]
    fn raw_query_values_keep_their_escapes() {
        let mut u = url::Url::parse("https://x.test/v1/a?limit=2").unwrap();
        append_raw_query(&mut u, "offset", "%5B3%2C14%2C%22a b%22%5D&x");
        assert_eq!(
            u.as_str(),
            "https://x.test/v1/a?limit=2&offset=%5B3%2C14%2C%22a%20b%22%5D%26x"
        );
        let mut u = url::Url::parse("https://x.test/v1/a").unwrap();
        append_raw_query(&mut u, "page token", "é");
        assert_eq!(u.query(), Some("page+token=%C3%A9"));
    }

    #[test]
    fn reset_headers_in_both_formats() {
        assert_eq!(
            reset_delay("3", ResetFormat::DelaySeconds),
            Some(Duration::from_secs(3))
        );
        let soon = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5;
        let d = reset_delay(&soon.to_string(), ResetFormat::EpochSeconds).unwrap();
        assert!(
            d <= Duration::from_secs(5) && d >= Duration::from_secs(3),
            "{d:?}"
        );
        assert_eq!(
            reset_delay("1", ResetFormat::EpochSeconds),
            Some(Duration::from_millis(100))
        );
        assert_eq!(reset_delay("soon", ResetFormat::DelaySeconds), None);
    }
    #[test]
    fn a_body_of_any_depth_parses_and_is_cut_without_recursion() {
        let body = format!(
            "[{{\"id\": 1, \"x\": {}1{}}}]",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let (v, invalid) = super::parse_bytes(body.as_bytes());
        let mut v = v.expect("any depth parses");
        assert_eq!(invalid, 0);
        assert!(crate::run::depth::truncate_deep(&mut v, 128).is_some());
        crate::run::depth::drop_deep(v);
    }

    use super::*;

    #[test]
    fn parses_link_headers_and_retry_after() {
        let base = url::Url::parse("https://api.example.com/items?page=1").unwrap();
        let h = r#"<https://api.example.com/items?page=2&per_page=5>; rel="next", <https://api.example.com/items?page=9>; rel="last""#;
        assert_eq!(
            next_link(h, &base).unwrap().as_str(),
            "https://api.example.com/items?page=2&per_page=5"
        );
        assert_eq!(
            next_link(r#"</items?page=3>; rel="next""#, &base)
                .unwrap()
                .as_str(),
            "https://api.example.com/items?page=3"
        );
        assert!(next_link(r#"<https://x/y>; rel="last""#, &base).is_none());
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        let future =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        let d = parse_retry_after(&future).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert!(parse_retry_after("soon").is_none());
    }

    #[test]
    fn vendor_numbers_and_headers_never_panic() {
        let base = url::Url::parse("https://api.example.com/items").unwrap();
        for h in [
            r#"x>y<z; rel="next""#,
            "<",
            ">",
            "><",
            r#"<>; rel="next""#,
            ", , ,",
            "",
        ] {
            let _ = next_link(h, &base);
        }
        assert!(next_link(r#"x>y<z; rel="next""#, &base).is_none());
        let cap = Duration::from_secs_f64(MAX_VENDOR_SECS);
        assert_eq!(parse_retry_after("1e30"), Some(cap));
        assert_eq!(parse_retry_after("inf"), Some(cap));
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("-5"), None);
        assert_eq!(token_life(Some(&serde_json::json!(1e300))), cap);
        assert_eq!(token_life(Some(&serde_json::json!(u64::MAX))), cap);
        assert_eq!(
            token_life(Some(&serde_json::json!(-10))),
            Duration::from_secs(1)
        );
        assert_eq!(
            token_life(Some(&serde_json::json!("120"))),
            Duration::from_secs(120)
        );
        assert_eq!(token_life(None), Duration::from_secs(3600));
        let _ = RateLimiter::new(1e-300);
        let _ = RateLimiter::new(0.0);
    }

    #[test]
    fn bodies_are_read_leniently_and_described_without_their_content() {
        let (text, n) = lossy_utf8(b"[\"a\xffb\", \"\xfe\"]");
        assert_eq!(n, 2);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[0], "a\u{FFFD}b");
        let e = serde_json::from_str::<serde_json::Value>(r#"{"secret": tru"#).unwrap_err();
        let m = json_error(&e);
        assert!(!m.contains("secret") && m.contains("line 1"), "{m}");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            access_token: String,
        }
        let e = serde_json::from_str::<T>(r#"{"access_token": 12345}"#).unwrap_err();
        assert!(!json_error(&e).contains("12345"), "{}", json_error(&e));
    }
}
