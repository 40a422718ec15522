//! A loopback server for the example connector (a made-up ATS), with switches for the
//! failure modes the engine must handle: auth kinds, 5xx, 429, off-host links, bad data.
#![allow(dead_code, clippy::result_large_err, clippy::useless_vec)]

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How the server authenticates.
#[derive(Clone, Debug)]
pub enum AuthMode {
    ApiKey(String),
    Bearer(String),
    Basic(String, String),
    OAuth {
        client_id: String,
        client_secret: String,
        expires_in: u64,
    },
}

#[derive(Debug)]
pub struct Config {
    pub auth: AuthMode,
    /// 500s answered to /v1/users before it works.
    pub users_500: u32,
    /// 429s answered to /v1/users before it works.
    pub users_429: u32,
    /// Retry-After header value sent with 429s.
    pub retry_after: Option<String>,
    /// The jobs next link points at another host.
    pub off_host_link: bool,
    /// Candidate 103 gets a malformed email.
    pub invalid_email: bool,
    /// /v1/applications always answers 500.
    pub applications_500: bool,
    /// Jobs the vendor no longer has (left out of /v1/jobs, their team answers 404).
    pub removed_jobs: Vec<String>,
    /// /v1/jobs/{id}/team always answers 500.
    pub team_500: bool,
    /// Tokens issued so far; the first token is refused once (to test refresh on 401).
    pub tokens_issued: u32,
    pub revoke_first_token: bool,
    /// 200s with a body cut short answered to /v1/users before it works.
    pub users_garbled: u32,
    /// /v1/users puts bytes that are not UTF-8 inside a name.
    pub users_bad_utf8: bool,
    /// /v1/users nests one record's value deeper than any parser allows.
    pub users_deep: bool,
    /// Replaces the jobs `Link` header.
    pub jobs_link: Option<String>,
    /// The candidates cursor comes back: page-2 points at page-2 again.
    pub candidates_cursor_loop: bool,
    /// The candidates cursor never ends: page-N points at page-N+1.
    pub candidates_endless: bool,
    /// /v1/applications ignores `offset` (and reports no total): the same page forever.
    pub applications_ignore_offset: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            auth: AuthMode::ApiKey("test-key-123".into()),
            users_500: 0,
            users_429: 0,
            retry_after: None,
            off_host_link: false,
            invalid_email: false,
            applications_500: false,
            removed_jobs: Vec::new(),
            team_500: false,
            tokens_issued: 0,
            revoke_first_token: false,
            users_garbled: 0,
            users_bad_utf8: false,
            users_deep: false,
            jobs_link: None,
            candidates_cursor_loop: false,
            candidates_endless: false,
            applications_ignore_offset: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
}

#[derive(Clone, Default)]
pub struct Server {
    pub config: Arc<Mutex<Config>>,
    pub log: Arc<Mutex<Vec<Logged>>>,
    pub addr: String,
    /// Requests in flight on /v1/jobs/{id}/team, and the most seen at once.
    pub team_inflight: Arc<Mutex<(u32, u32)>>,
    /// Arrival times of every request.
    pub arrivals: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl Server {
    pub fn requests_to(&self, path: &str) -> Vec<Logged> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.path == path)
            .cloned()
            .collect()
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts the server on 127.0.0.1 with a free port.
pub async fn start(config: Config) -> Server {
    let mut server = Server {
        config: Arc::new(Mutex::new(config)),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    server.addr = listener.local_addr().unwrap().to_string();
    let app = Router::new()
        .route("/v1/users", get(users))
        .route("/v1/jobs", get(jobs))
        .route("/v1/jobs/{id}/team", get(team))
        .route("/v1/posts", get(posts))
        .route("/v1/candidates", get(candidates))
        .route("/v1/applications", get(applications))
        .route("/v1/offers", get(offers))
        .route("/v1/interviews", get(interviews))
        .route("/oauth/token", post(token))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    server
}

fn log_and_auth(s: &Server, method: &str, uri: &Uri, headers: &HeaderMap) -> Result<(), Response> {
    s.arrivals.lock().unwrap().push(std::time::Instant::now());
    s.log.lock().unwrap().push(Logged {
        method: method.into(),
        path: uri.path().into(),
        query: uri.query().unwrap_or("").into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    });
    let mut cfg = s.config.lock().unwrap();
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let ok = match &cfg.auth {
        AuthMode::ApiKey(k) => h("x-api-key") == *k,
        AuthMode::Bearer(t) => h("authorization") == format!("Bearer {t}"),
        AuthMode::Basic(u, p) => {
            use base64::Engine;
            h("authorization")
                == format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
        }
        AuthMode::OAuth { .. } => {
            let auth = h("authorization");
            let valid = auth.starts_with("Bearer tok-");
            if valid && cfg.revoke_first_token && auth == "Bearer tok-1" {
                cfg.revoke_first_token = false;
                false
            } else {
                valid
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized"})),
        )
            .into_response())
    }
}

async fn token(State(s): State<Server>, uri: Uri, body: String) -> Response {
    s.log.lock().unwrap().push(Logged {
        method: "POST".into(),
        path: uri.path().into(),
        query: body.clone(),
        headers: Default::default(),
    });
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut cfg = s.config.lock().unwrap();
    let AuthMode::OAuth {
        client_id,
        client_secret,
        expires_in,
    } = cfg.auth.clone()
    else {
        return (StatusCode::NOT_FOUND, "no oauth").into_response();
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_id") != Some(&client_id)
        || form.get("client_secret") != Some(&client_secret)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized"})),
        )
            .into_response();
    }
    cfg.tokens_issued += 1;
    Json(json!({"access_token": format!("tok-{}", cfg.tokens_issued), "token_type": "bearer", "expires_in": expires_in})).into_response()
}

fn page<T: Clone>(items: &[T], page: usize, per_page: usize) -> Vec<T> {
    items
        .iter()
        .skip((page.max(1) - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect()
}

async fn users(
    State(s): State<Server>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    {
        let mut cfg = s.config.lock().unwrap();
        if cfg.users_500 > 0 {
            cfg.users_500 -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
        }
        if cfg.users_429 > 0 {
            cfg.users_429 -= 1;
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"message": "Too Many Requests"})),
            )
                .into_response();
            if let Some(ra) = &cfg.retry_after {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            return r;
        }
        if cfg.users_garbled > 0 {
            cfg.users_garbled -= 1;
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                r#"[{"id": "u1", "name": {"first": "Ad"#,
            )
                .into_response();
        }
        if cfg.users_bad_utf8 {
            let mut body = br#"[{"id": "u1", "name": {"first": "Ad"#.to_vec();
            body.extend_from_slice(b"\xff\xfe");
            body.extend_from_slice(br#"a", "last": "L"}, "email": null, "active": true}]"#);
            return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
        }
        if cfg.users_deep && q.get("page").map(String::as_str) != Some("1") {
            return Json(json!([])).into_response();
        }
        if cfg.users_deep {
            // u1 nests a value 50,000 levels deep; the others are ordinary
            let deep = format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000));
            let body = format!(
                r#"[{{"id": "u1", "name": {{"first": "A", "last": "B"}}, "email": null, "active": true, "x": {deep}}},
                   {{"id": "u2", "name": {{"first": "Bob", "last": null}}, "email": null, "active": false}}]"#
            );
            return (StatusCode::OK, [("content-type", "application/json")], body).into_response();
        }
    }
    let all = vec![
        json!({"id": "u1", "name": {"first": "Ada", "last": "Lovelace"}, "email": "ada@acme.test", "active": true}),
        json!({"id": "u2", "name": {"first": "Bob", "last": null}, "email": null, "active": false}),
        json!({"id": "u3", "name": {"first": "Zoë", "last": "Ødegård"}, "email": "zoe@acme.test", "active": true}),
    ];
    let p: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
    let per: usize = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    Json(Value::Array(page(&all, p, per))).into_response()
}

async fn jobs(
    State(s): State<Server>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    let statuses: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.as_str())
        .collect();
    if statuses != ["open", "closed"] {
        return (
            StatusCode::BAD_REQUEST,
            format!("expected status=open&status=closed, got {statuses:?}"),
        )
            .into_response();
    }
    let all = vec![
        json!({"id": "j1", "title": "Rust Engineer", "code": "R-1", "private": false, "state": "open", "hours": 40,
               "departments": [{"name": "Platform"}, {"name": "Engineering"}], "office": {"city": "Lisbon", "country_code": "PT", "name": "Lisbon HQ"},
               "openings": [1, 2], "opened_at": "2024-01-10T09:00:00+01:00", "created_at": "2024-01-01",
               "labels": {"team": "core", "level": 3}}),
        json!({"id": "j2", "title": "Recruiter", "code": null, "private": null, "state": "paused", "hours": 20,
               "departments": [], "office": null, "openings": [], "opened_at": null, "created_at": "2024-02-01T00:00:00Z"}),
        json!({"id": "j3", "title": "Designer", "code": "D-3", "private": true, "state": "closed", "hours": 40,
               "departments": [{"name": "Design"}], "office": {"city": null, "country_code": null, "name": null}, "openings": [1], "opened_at": null, "created_at": null}),
    ];
    let removed = s.config.lock().unwrap().removed_jobs.clone();
    let all: Vec<Value> = all
        .into_iter()
        .filter(|j| !removed.iter().any(|r| j["id"] == r.as_str()))
        .collect();
    let p: usize = q
        .iter()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let per: usize = q
        .iter()
        .find(|(k, _)| k == "per_page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(100);
    let items = page(&all, p, per);
    let mut resp = Json(Value::Array(items)).into_response();
    if let Some(link) = s.config.lock().unwrap().jobs_link.clone() {
        resp.headers_mut().insert("link", link.parse().unwrap());
        return resp;
    }
    if p * per < all.len() {
        let host = if s.config.lock().unwrap().off_host_link {
            "evil.example.com".to_owned()
        } else {
            s.addr.clone()
        };
        let link = format!(
            "<http://{host}/v1/jobs?status=open&status=closed&per_page={per}&page={}>; rel=\"next\"",
            p + 1
        );
        resp.headers_mut().insert("link", link.parse().unwrap());
    }
    resp
}

async fn team(
    State(s): State<Server>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    {
        let mut f = s.team_inflight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    s.team_inflight.lock().unwrap().0 -= 1;
    if s.config.lock().unwrap().team_500 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "team service down").into_response();
    }
    let body = match id.as_str() {
        "j1" => {
            json!({"hiring_managers": [{"user_id": "u1"}], "recruiters": [{"user_id": "u1"}, {"user_id": "u2"}]})
        }
        "j3" => json!({"hiring_managers": [{"user_id": "u3"}], "recruiters": []}),
        _ => json!({"hiring_managers": [], "recruiters": []}),
    };
    Json(body).into_response()
}

async fn posts(State(s): State<Server>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    Json(json!([
        {"id": "p1", "job_id": "j1", "title": "Rust Engineer (old)", "content": "<p>old</p>", "url": "https://jobs.acme.test/p1", "live": true, "active": true, "updated_at": "2024-01-01T00:00:00Z"},
        {"id": "p2", "job_id": "j1", "title": "Rust Engineer", "content": "<p>Build things in Rust.</p>", "url": "https://jobs.acme.test/p2", "live": true, "active": true, "updated_at": "2024-03-01T00:00:00Z"},
        {"id": "p3", "job_id": "j1", "title": "Rust Engineer (draft)", "content": "<p>draft</p>", "url": null, "live": false, "active": true, "updated_at": "2024-05-01T00:00:00Z"},
        {"id": "p4", "job_id": "j2", "title": "Recruiter", "content": "<p>hidden</p>", "url": null, "live": false, "active": true, "updated_at": "2024-02-01T00:00:00Z"}
    ]))
    .into_response()
}

async fn candidates(
    State(s): State<Server>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    let bad = s.config.lock().unwrap().invalid_email;
    let c3_email = if bad {
        "not-an-email"
    } else {
        "li@example.org"
    };
    let (looping, endless) = {
        let c = s.config.lock().unwrap();
        (c.candidates_cursor_loop, c.candidates_endless)
    };
    if endless {
        let n: u64 = q
            .get("cursor")
            .and_then(|c| c.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        return Json(json!({"data": [{"id": n, "first_name": "N", "last_name": "N", "tags": [], "emails": [], "phones": []}], "next": format!("page-{}", n + 1)})).into_response();
    }
    let body = match q.get("cursor").map(String::as_str) {
        Some("page-2") if looping => json!({"data": [
            {"id": 103, "first_name": "李", "last_name": "雷", "headline": null, "tags": [], "emails": [], "phones": [], "created": null}
        ], "next": "page-2"}),
        None => json!({"data": [
            {"id": 101, "first_name": "Ana", "last_name": "Silva", "headline": "Engineer", "tags": ["rust", "remote"],
             "emails": [{"address": "ana@example.org", "kind": "personal"}, {"address": null, "kind": "work"}, {"address": "ana@work.example", "kind": "work"}],
             "phones": ["+351 912 000 000"], "created": "2024-01-05T10:00:00.123Z"},
            {"id": 102, "first_name": "Jörg", "last_name": "Müller", "headline": "  ", "tags": ["rust"], "emails": [], "phones": [], "created": null}
        ], "next": "page-2"}),
        Some("page-2") => json!({"data": [
            {"id": 103, "first_name": "李", "last_name": "雷", "headline": null, "tags": [], "emails": [{"address": c3_email, "kind": "other"}], "phones": [], "created": "2024-02-05T10:00:00Z"}
        ], "next": null}),
        Some(other) => {
            return (StatusCode::BAD_REQUEST, format!("unknown cursor {other}")).into_response();
        }
    };
    Json(body).into_response()
}

async fn applications(
    State(s): State<Server>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    if s.config.lock().unwrap().applications_500 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database on fire").into_response();
    }
    let all = vec![
        json!({"id": "a1", "candidate_id": 101, "job_id": "j1", "stage": "screen", "status": "active", "source": "Referral", "applied_at": "2024-02-01T00:00:00Z", "rejected_at": null}),
        json!({"id": "a2", "candidate_id": 101, "job_id": "j2", "stage": "applied", "status": "rejected", "source": "LinkedIn", "applied_at": "2024-01-01T00:00:00Z", "rejected_at": "2024-01-15T12:00:00Z"}),
        json!({"id": "a3", "candidate_id": 102, "job_id": "j1", "stage": "offer", "status": "hired", "source": null, "applied_at": "2024-03-01T00:00:00Z", "rejected_at": null}),
    ];
    if s.config.lock().unwrap().applications_ignore_offset {
        return Json(json!({"items": all[..2].to_vec()})).into_response();
    }
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(10);
    let items: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    Json(json!({"items": items, "total": all.len()})).into_response()
}

async fn offers(State(s): State<Server>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    Json(json!([
        {"id": "o1", "candidate": 101, "job": "j1", "state": "sent"},
        {"id": "o2", "candidate": 102, "job": "j1", "state": "mystery"}
    ]))
    .into_response()
}

async fn interviews(State(s): State<Server>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = log_and_auth(&s, "GET", &uri, &headers) {
        return r;
    }
    Json(json!({"content": [
        {"id": "i1", "title": "Technical", "application_id": "a1", "status": "scheduled", "slots": [
            {"id": "s1", "start": "2024-02-10T09:00:00Z", "end": "2024-02-10T10:00:00Z", "link": "https://meet.example/abc", "interviewers": ["u1", "u2"]},
            {"id": "s2", "start": "2024-02-11T09:00:00Z", "end": "2024-02-11T10:00:00Z", "link": null, "interviewers": ["u3"]}
        ]},
        {"id": "i2", "title": "Culture", "application_id": "a3", "status": "canceled", "slots": [
            {"id": "s3", "start": "2024-03-02T09:00:00Z", "end": "2024-03-02T09:30:00Z", "link": null, "interviewers": []}
        ]}
    ]}))
    .into_response()
}
