//! Engine features for vendors beyond the first two, against a loopback server
//! (`tests/fixtures/features.yaml`): epoch timestamps in seconds and milliseconds, delta
//! filters as epoch times, opaque cursors sent as received, tombstone streams in full and
//! delta runs, explode and `each` over a lookup with `item_index`, a base URL built from an
//! input, and a request budget read from response headers.

#![allow(clippy::result_large_err)]

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mapper::compile::compile_file;
use mapper::run::output::Status;
use mapper::run::{RunError, RunOptions, run};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

const SPEC: &str = "tests/fixtures/features.yaml";
const KEY: &str = "feat-key";
/// Requests allowed per whole second of the server's clock.
const BUDGET: usize = 2;

#[derive(Default)]
struct Inner {
    people: Vec<Value>,
    deleted: Vec<Value>,
    /// Every request's path and raw query.
    log: Vec<(String, String)>,
    /// (second, requests in it)
    window: (u64, usize),
    too_many: usize,
}

#[derive(Clone, Default)]
struct Api(Arc<Mutex<Inner>>);

impl Api {
    fn log(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().log.clone()
    }
    fn queries(&self, path: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, q)| q)
            .collect()
    }
    fn delete(&self, id: &str, at_ms: i64) {
        let mut g = self.0.lock().unwrap();
        g.people.retain(|p| p["id"] != id);
        g.deleted.push(json!({"id": id, "deletedAt": at_ms}));
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Auth, logging and the budget: at most [`BUDGET`] requests per second, each answer saying
/// how many remain and when the second ends.
fn gate(api: &Api, uri: &Uri, headers: &HeaderMap) -> Result<HeaderMap, Response> {
    use base64::Engine;
    let mut g = api.0.lock().unwrap();
    g.log.push((
        uri.path().to_owned(),
        uri.query().unwrap_or_default().to_owned(),
    ));
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "bad key"})),
        )
            .into_response());
    }
    let sec = now_secs();
    if g.window.0 != sec {
        g.window = (sec, 0);
    }
    if g.window.1 >= BUDGET {
        g.too_many += 1;
        return Err((StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response());
    }
    g.window.1 += 1;
    let mut h = HeaderMap::new();
    h.insert(
        "x-budget-remaining",
        (BUDGET - g.window.1).to_string().parse().unwrap(),
    );
    h.insert("x-budget-reset", (sec + 1).to_string().parse().unwrap());
    Ok(h)
}

async fn jobs(State(api): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    match gate(&api, &uri, &headers) {
        Err(r) => r,
        Ok(h) => (
            h,
            Json(json!({"data": [
                {"id": "j1", "title": "Backend", "createdAt": 1_700_000_000_659i64, "updatedAt": 1_700_000_100.659},
                {"id": "j2", "title": "Frontend", "createdAt": 1_700_000_000_001i64, "updatedAt": 1_700_000_200}
            ]})),
        )
            .into_response(),
    }
}

async fn stages(State(api): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    match gate(&api, &uri, &headers) {
        Err(r) => r,
        Ok(h) => (
            h,
            Json(json!({"data": [
                {"id": "lead-new", "text": "New lead"},
                {"id": "st-2", "text": "Phone screen"},
                {"id": "offer", "text": "Offer"}
            ]})),
        )
            .into_response(),
    }
}

/// Pages of two with an opaque token `percent-encode("[n]")`; a token encoded a second time
/// (`%255B`) is refused, as a strict server would.
async fn people_list(State(api): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    let h = match gate(&api, &uri, &headers) {
        Err(r) => return r,
        Ok(h) => h,
    };
    let q = uri.query().unwrap_or_default().to_owned();
    let params: HashMap<String, String> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    let raw_offset = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("offset="))
        .map(str::to_owned);
    let start = match raw_offset {
        None => 0,
        Some(t) => match t
            .strip_prefix("%5B")
            .and_then(|r| r.strip_suffix("%5D"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"message": format!("Invalid offset token {t}")})),
                )
                    .into_response();
            }
        },
    };
    let since: i64 = params
        .get("updated_since")
        .map(|s| s.parse().unwrap_or(i64::MAX))
        .unwrap_or(0);
    let all: Vec<Value> = api
        .0
        .lock()
        .unwrap()
        .people
        .iter()
        .filter(|p| p["updatedAt"].as_i64().unwrap_or(0) >= since)
        .cloned()
        .collect();
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let mut body = json!({"data": page, "hasNext": start + 2 < all.len()});
    if start + 2 < all.len() {
        body["next"] = json!(format!("%5B{}%5D", start + 2));
    }
    (h, Json(body)).into_response()
}

async fn deleted(State(api): State<Api>, uri: Uri, headers: HeaderMap) -> Response {
    match gate(&api, &uri, &headers) {
        Err(r) => r,
        Ok(h) => {
            let d = api.0.lock().unwrap().deleted.clone();
            (h, Json(json!({"data": d, "hasNext": false}))).into_response()
        }
    }
}

async fn start() -> (Api, String) {
    let people = (1..=5)
        .map(|i| {
            json!({"id": format!("p{i}"), "name": format!("Person {i}"),
                   "createdAt": 1_700_000_000_000i64 + i, "updatedAt": 1_700_000_000_000i64 + i})
        })
        .collect();
    let api = Api(Arc::new(Mutex::new(Inner {
        people,
        ..Default::default()
    })));
    let app = Router::new()
        .route("/api/jobs", get(jobs))
        .route("/api/stages", get(stages))
        .route("/api/people", get(people_list))
        .route("/api/people/deleted", get(deleted))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (api, format!("127.0.0.1:{}", addr.port()))
}

/// Options with the host given as the connector's input, not as `--base-url`.
fn opts(host: &str, out: &Path, delta: bool) -> RunOptions {
    let mut o = RunOptions::new(out.to_path_buf());
    o.env = [("FEAT_HOST", host), ("FEAT_KEY", KEY)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o.delta = delta;
    o
}

fn read(out: &Path, model: &str) -> HashMap<String, Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            let k = r["remote_id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{}|{}", r["job_id"], r["stage_id"]));
            (k, r)
        })
        .collect()
}

#[tokio::test]
async fn epoch_times_cursors_lookups_and_budget() {
    let (api, host) = start().await;
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new(SPEC)).unwrap());
    let report = run(plan, opts(&host, out.path(), false)).await.unwrap();
    assert_eq!(report.status, Status::Success, "{report:#?}");

    // epoch milliseconds and fractional seconds, exact to the millisecond
    let jobs = read(out.path(), "jobs");
    assert_eq!(jobs["j1"]["remote_created_at"], "2023-11-14T22:13:20.659Z");
    assert_eq!(jobs["j1"]["remote_updated_at"], "2023-11-14T22:15:00.659Z");
    assert_eq!(jobs["j2"]["remote_created_at"], "2023-11-14T22:13:20.001Z");
    assert_eq!(jobs["j2"]["remote_updated_at"], "2023-11-14T22:16:40.000Z");

    // `each` over a lookup, with item_index
    let fields = jobs["j1"]["integration_fields"].as_array().unwrap();
    assert_eq!(fields.len(), 3);
    assert_eq!(fields[1]["id"], "stage.1");
    assert_eq!(fields[1]["label"], "1: Phone screen");

    // the company-wide pipeline exploded for every job, with its position
    let stages = read(out.path(), "application_stages");
    assert_eq!(stages["offer"]["global_index"], 2);
    let jas = read(out.path(), "job_application_stages");
    assert_eq!(jas.len(), 6, "2 jobs × 3 stages");
    let j2 = mapper::ids::unified_id("default", "jobs", "j2");
    let offer = mapper::ids::unified_id("default", "application_stages", "offer");
    assert_eq!(jas[&format!("\"{j2}\"|\"{offer}\"")]["index"], 2);

    // the opaque cursor went back exactly as received: 3 pages of 2, 2, 1
    let queries = api.queries("/api/people");
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(queries[1].contains("offset=%5B2%5D"), "{queries:?}");
    assert_eq!(read(out.path(), "candidates").len(), 5);

    // the budget headers kept every request below the server's limit
    assert_eq!(api.0.lock().unwrap().too_many, 0, "{:?}", api.log());
}

#[tokio::test]
async fn tombstones_delete_in_full_and_delta_runs_and_deltas_send_epoch_times() {
    let (api, host) = start().await;
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new(SPEC)).unwrap());
    let first = run(plan.clone(), opts(&host, out.path(), false))
        .await
        .unwrap();
    assert_eq!(first.status, Status::Success, "{first:#?}");

    // deleted at the vendor: gone from the list, named in the deleted list
    api.delete("p2", 1_700_000_999_123);
    let before = now_secs() * 1000;
    let delta = run(plan.clone(), opts(&host, out.path(), true))
        .await
        .unwrap();
    assert_eq!(delta.status, Status::Success, "{delta:#?}");
    let people = read(out.path(), "candidates");
    assert_eq!(people.len(), 5, "a deleted record stays, flagged");
    assert_eq!(
        people["p2"]["remote_deleted_at"], "2023-11-14T22:29:59.123Z",
        "the vendor's deletion time"
    );
    assert!(people["p1"]["remote_deleted_at"].is_null());
    assert_eq!(delta.models["candidates"].deleted, 1);

    // the delta filters went out as epoch milliseconds and epoch seconds
    let q = api.queries("/api/people").pop().unwrap();
    let since: u64 = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "updated_since")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no updated_since in {q}"));
    assert!(
        since <= before && since + 120_000 > before,
        "{since} vs {before}"
    );
    let q = api.queries("/api/people/deleted").pop().unwrap();
    let since: u64 = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "deleted_since")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no deleted_since in {q}"));
    assert!(
        since <= before / 1000 && since + 120 > before / 1000,
        "{since}"
    );

    // a full run keeps the vendor's time (the tombstone, not absence, deleted it)
    api.delete("p4", 1_700_001_000_000);
    let full = run(plan, opts(&host, out.path(), false)).await.unwrap();
    assert_eq!(full.status, Status::Success, "{full:#?}");
    let people = read(out.path(), "candidates");
    assert_eq!(
        people["p4"]["remote_deleted_at"],
        "2023-11-14T22:30:00.000Z"
    );
    assert_eq!(
        people["p2"]["remote_deleted_at"],
        "2023-11-14T22:29:59.123Z"
    );
    assert_eq!(full.models["candidates"].deleted, 1);
}

#[tokio::test]
async fn a_tombstone_does_not_delete_a_record_the_run_saw() {
    let (api, host) = start().await;
    let out = tempfile::tempdir().unwrap();
    // the deleted list names p1, which the list still returns
    api.0
        .lock()
        .unwrap()
        .deleted
        .push(json!({"id": "p1", "deletedAt": 1_700_000_000_000i64}));
    let plan = Arc::new(compile_file(Path::new(SPEC)).unwrap());
    run(plan.clone(), opts(&host, out.path(), false))
        .await
        .unwrap();
    let report = run(plan, opts(&host, out.path(), false)).await.unwrap();
    assert_eq!(report.status, Status::Success);
    assert!(read(out.path(), "candidates")["p1"]["remote_deleted_at"].is_null());
}

#[tokio::test]
async fn a_base_url_input_that_is_not_a_url_is_refused_before_any_request() {
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new(SPEC)).unwrap());
    let err = run(plan, opts("not a host/", out.path(), false))
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::Usage(_)), "{err}");
    assert!(err.to_string().contains("base_url"), "{err}");
}

#[test]
fn feature_mistakes_are_compile_errors() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let cases = [
        // a keyless lookup queried with a key
        (
            "explode: [{ lookup: pipeline }]",
            "explode: [{ lookup: pipeline, key: $.id }]",
            "has no `key`",
        ),
        // `unit` without `as: datetime`
        (
            "remote_created_at: { path: $.createdAt, as: datetime, unit: milliseconds }\n\n  deleted_people",
            "remote_created_at: { path: $.createdAt, unit: milliseconds }\n\n  deleted_people",
            "`unit` is the unit",
        ),
        // a tombstone of a model nobody emits
        (
            "model: candidates\n      remote_id",
            "model: offers\n      remote_id",
            "no stream of this connector emits `offers`",
        ),
        // a lookup part in `records`
        (
            "records: $.data[*]\n    fields:\n      remote_id: $.id\n      name: $.title",
            "records: [{ lookup: pipeline }]\n    fields:\n      remote_id: $.id\n      name: $.title",
            "go with a derived stream",
        ),
    ];
    for (from, to, message) in cases {
        assert!(spec.contains(from), "{from}");
        let path = dir.path().join("features.yaml");
        std::fs::write(&path, spec.replacen(from, to, 1)).unwrap();
        let err = compile_file(&path).unwrap_err().to_string();
        assert!(err.contains(message), "{to}: {err}");
    }
}
