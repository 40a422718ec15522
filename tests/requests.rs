//! Requests beyond GET-with-a-query, against loopback servers: an RPC-style API
//! (`tests/fixtures/rpc.yaml`: POST bodies with typed values, cursors in the body with a stop
//! condition, `success: false` inside 200 answers, sync tokens and their expiry) and a
//! JSON:API one (`tests/fixtures/jsonapi.yaml`: next links in the body, side-loaded
//! `included` records, hyphenated keys), both also replayed from cassettes.

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mapper::compile::compile_file;
use mapper::run::output::Status;
use mapper::run::{RunError, RunOptions, run};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Rpc {
    /// (id, name, changed since the last token)
    people: Vec<(String, String, bool)>,
    bodies: Vec<(String, Value)>,
    /// Tokens issued so far.
    issued: u32,
    /// `/candidate.list` answers `success: false`.
    failing: bool,
}

#[derive(Clone, Default)]
struct RpcApi(Arc<Mutex<Rpc>>);

fn ok(results: Value) -> Json<Value> {
    Json(json!({"success": true, "results": results}))
}

fn rpc_error(code: &str, message: &str) -> Response {
    Json(json!({"success": false, "errors": [code], "errorInfo": {"code": code, "message": message}}))
        .into_response()
}

async fn candidate_list(
    State(api): State<RpcApi>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut g = api.0.lock().unwrap();
    g.bodies.push(("/candidate.list".into(), body.clone()));
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/json",
        "a JSON body says so"
    );
    if g.failing {
        return rpc_error("invalid_input", "limit must be at most 100");
    }
    if body["limit"] != json!(2) || body["includeArchived"] != json!(true) {
        return rpc_error("invalid_input", "bad filters");
    }
    let incremental = match body.get("syncToken").and_then(|t| t.as_str()) {
        None => false,
        Some("expired") => return rpc_error("sync_token_expired", "the token expired"),
        Some(t) if t == format!("tok-{}", g.issued) => true,
        Some(_) => return rpc_error("invalid_input", "unknown token"),
    };
    let all: Vec<Value> = g
        .people
        .iter()
        .filter(|p| !incremental || p.2)
        .map(|(id, name, _)| json!({"id": id, "name": name, "headline": null}))
        .collect();
    let start: usize = match body.get("cursor") {
        None => 0,
        Some(Value::String(c)) => match c.strip_prefix("c").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return rpc_error("invalid_cursor", "bad cursor"),
        },
        Some(_) => return rpc_error("invalid_input", "cursor is not a string"),
    };
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let more = start + 2 < all.len();
    let mut out = json!({"success": true, "results": page, "moreDataAvailable": more});
    if more {
        out["nextCursor"] = json!(format!("c{}", start + 2));
    } else {
        g.issued += 1;
        out["syncToken"] = json!(format!("tok-{}", g.issued));
        for p in &mut g.people {
            p.2 = false;
        }
    }
    Json(out).into_response()
}

async fn application_list(State(api): State<RpcApi>, Json(body): Json<Value>) -> Response {
    let mut g = api.0.lock().unwrap();
    g.bodies.push(("/application.list".into(), body.clone()));
    // the limit came from `{{ 1 + 1 }}`: a number, not the text "2"
    if body["limit"] != json!(2) {
        return rpc_error("invalid_input", "limit must be a number");
    }
    let Some(c) = body["candidateId"].as_str() else {
        return rpc_error("invalid_input", "candidateId is required");
    };
    ok(json!([{"id": format!("a-{c}"), "candidateId": c}])).into_response()
}

async fn start_rpc() -> (RpcApi, String) {
    let api = RpcApi::default();
    api.0.lock().unwrap().people = (1..=5)
        .map(|i| (format!("c{i}"), format!("Person {i}"), false))
        .collect();
    let app = Router::new()
        .route("/candidate.list", post(candidate_list))
        .route("/application.list", post(application_list))
        .with_state(api.clone());
    (api, serve(app).await)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn opts(url: &str, out: &Path, env: (&str, &str)) -> RunOptions {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = HashMap::from([(env.0.to_owned(), env.1.to_owned())]);
    o
}

fn read(out: &Path, model: &str) -> HashMap<String, Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r["remote_id"].as_str().unwrap().to_owned(), r))
        .collect()
}

#[tokio::test]
async fn post_bodies_body_cursors_and_sync_tokens() {
    let (api, url) = start_rpc().await;
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new("tests/fixtures/rpc.yaml")).unwrap());
    let env = ("RPC_KEY", "k");
    let cassette = out.path().join("rpc.cassette.ndjson");
    let mut o = opts(&url, out.path(), env);
    o.record = Some(cassette.clone());
    let report = run(plan.clone(), o).await.unwrap();
    assert_eq!(report.status, Status::Success, "{report:#?}");
    // all three pages were read: the cursor went in the body
    assert_eq!(read(out.path(), "candidates").len(), 5);
    assert_eq!(read(out.path(), "applications").len(), 5);

    // the cassette tells the three POSTs of one path apart by their bodies, so it replays
    let replay = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(replay.path().to_path_buf());
    o.env = HashMap::from([(env.0.to_owned(), env.1.to_owned())]);
    o.sandbox = true;
    let replay_plan = Arc::new(mapper::compile::Plan {
        sandbox: Some(cassette),
        ..compile_file(Path::new("tests/fixtures/rpc.yaml")).unwrap()
    });
    let replayed = run(replay_plan, o).await.unwrap();
    assert_eq!(replayed.status, Status::Success, "{replayed:#?}");
    assert_eq!(read(replay.path(), "candidates").len(), 5);
    assert_eq!(read(replay.path(), "applications").len(), 5);
    let bodies: Vec<Value> = api
        .0
        .lock()
        .unwrap()
        .bodies
        .iter()
        .filter(|(p, _)| p == "/candidate.list")
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(bodies[0].get("cursor").is_none(), "{bodies:?}");
    assert_eq!(bodies[1]["cursor"], "c2");
    assert_eq!(bodies[2]["cursor"], "c4");

    // a delta run sends the token the full sync ended with, and stores the next one
    api.0.lock().unwrap().people[2].2 = true;
    let mut o = opts(&url, out.path(), env);
    o.delta = true;
    let delta = run(plan.clone(), o).await.unwrap();
    assert_eq!(delta.status, Status::Success, "{delta:#?}");
    let last = api
        .0
        .lock()
        .unwrap()
        .bodies
        .iter()
        .rev()
        .find(|(p, _)| p == "/candidate.list")
        .unwrap()
        .1
        .clone();
    assert_eq!(last["syncToken"], "tok-1", "{last}");
    assert_eq!(delta.streams["candidates"].records, 1);
    let mut o = opts(&url, out.path(), env);
    o.delta = true;
    run(plan.clone(), o).await.unwrap();
    let last = api
        .0
        .lock()
        .unwrap()
        .bodies
        .iter()
        .rev()
        .find(|(p, _)| p == "/candidate.list")
        .unwrap()
        .1
        .clone();
    assert_eq!(last["syncToken"], "tok-2", "{last}");

    // an expired token: the stream is walked again in full
    let db = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    db.execute(
        "UPDATE syncs SET token = 'expired' WHERE stream = 'candidates'",
        [],
    )
    .unwrap();
    drop(db);
    let mut o = opts(&url, out.path(), env);
    o.delta = true;
    let again = run(plan, o).await.unwrap();
    assert_eq!(again.status, Status::Success, "{again:#?}");
    assert_eq!(again.streams["candidates"].records, 5);
}

#[tokio::test]
async fn an_error_inside_a_200_answer_fails_the_run_and_deletes_nothing() {
    let (api, url) = start_rpc().await;
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new("tests/fixtures/rpc.yaml")).unwrap());
    let env = ("RPC_KEY", "k");
    run(plan.clone(), opts(&url, out.path(), env))
        .await
        .unwrap();
    let before = std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap();
    api.0.lock().unwrap().failing = true;
    let report = run(plan, opts(&url, out.path(), env)).await;
    let failed = match report {
        Err(e) => e.to_string(),
        Ok(r) => {
            assert_eq!(r.status, Status::Failed, "{r:#?}");
            format!("{:?}", r.error)
        }
    };
    assert!(failed.contains("limit must be at most 100"), "{failed}");
    let after = std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap();
    assert_eq!(before, after, "nothing was deleted or rewritten");
}

// JSON:API

async fn jobs(uri: Uri, headers: HeaderMap) -> Response {
    let host = headers.get("host").unwrap().to_str().unwrap().to_owned();
    let q: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Token token=k") {
        return (axum::http::StatusCode::UNAUTHORIZED, "no").into_response();
    }
    let size: usize = q
        .get("page[size]")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let number: usize = q
        .get("page[number]")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let all: Vec<(u32, &str, u32)> = vec![(1, "Backend", 10), (2, "Frontend", 11), (3, "Data", 10)];
    let page: Vec<&(u32, &str, u32)> = all.iter().skip((number - 1) * size).take(size).collect();
    let data: Vec<Value> = page
        .iter()
        .map(|(id, title, dep)| {
            json!({"id": id.to_string(), "type": "jobs",
                   "attributes": {"job-title": title, "job-code": format!("J-{id}")},
                   "relationships": {"department": {"data": {"type": "departments", "id": dep.to_string()}}}})
        })
        .collect();
    let mut included: Vec<Value> = Vec::new();
    for (_, _, dep) in &page {
        let d = json!({"id": dep.to_string(), "type": "departments", "attributes": {"name": format!("Dept {dep}")}});
        if !included.contains(&d) {
            included.push(d);
        }
    }
    let mut links = json!({});
    if number * size < all.len() {
        links["next"] = json!(format!(
            "http://{host}/v1/jobs?page%5Bsize%5D={size}&page%5Bnumber%5D={}&include=department",
            number + 1
        ));
    }
    Json(json!({"data": data, "included": included, "links": links})).into_response()
}

#[tokio::test]
async fn json_api_next_links_side_loads_and_hyphenated_keys() {
    let url = serve(Router::new().route("/v1/jobs", get(jobs))).await;
    let out = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new("tests/fixtures/jsonapi.yaml")).unwrap());
    let cassette = out.path().join("jobs.cassette.ndjson");
    let mut o = opts(&url, out.path(), ("JSONAPI_KEY", "k"));
    o.record = Some(cassette.clone());
    let report = run(plan.clone(), o).await.unwrap();
    assert_eq!(report.status, Status::Success, "{report:#?}");
    let jobs = read(out.path(), "jobs");
    assert_eq!(jobs.len(), 3, "both pages");
    assert_eq!(jobs["1"]["name"], "Backend");
    assert_eq!(jobs["1"]["job_code"], "J-1");
    assert_eq!(jobs["2"]["department"], "Dept 11");
    assert_eq!(
        jobs["3"]["department"], "Dept 10",
        "from the second page's `included`"
    );
    assert_eq!(report.streams["jobs"].requests, 2);

    // the recorded next links name the connector's host, so the cassette replays offline
    let text = std::fs::read_to_string(&cassette).unwrap();
    assert!(
        text.contains("https://jsonapi.example.com/v1/jobs?"),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1"), "{text}");
    let replay = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(replay.path().to_path_buf());
    o.env = HashMap::from([("JSONAPI_KEY".to_owned(), "k".to_owned())]);
    let plan = Arc::new(mapper::compile::Plan {
        sandbox: Some(cassette),
        ..compile_file(Path::new("tests/fixtures/jsonapi.yaml")).unwrap()
    });
    o.sandbox = true;
    let replayed = run(plan, o).await.unwrap();
    assert_eq!(replayed.status, Status::Success, "{replayed:#?}");
    assert_eq!(
        read(replay.path(), "jobs"),
        jobs_without_meta(&jobs, &read(replay.path(), "jobs"))
    );
}

/// The replayed records equal the recorded ones (their `changed_at` aside).
fn jobs_without_meta(
    recorded: &HashMap<String, Value>,
    replayed: &HashMap<String, Value>,
) -> HashMap<String, Value> {
    recorded
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v["changed_at"] = replayed[k]["changed_at"].clone();
            (k.clone(), v)
        })
        .collect()
}

#[test]
fn request_feature_mistakes_are_compile_errors() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string("tests/fixtures/rpc.yaml").unwrap();
    let cases = [
        ("        token: $.syncToken\n", "", "needs `token`"),
        (
            "  in: body\n  stop_when",
            "  in: header\n  encoded: true\n  stop_when",
            "`encoded` is about query",
        ),
        (
            "response.success == false",
            "response.success ==",
            "error_when.condition",
        ),
        (
            "for_each: candidates",
            "for_each: candidates\n    filter: \"{{ x\"",
            "filter",
        ),
    ];
    for (from, to, message) in cases {
        assert!(spec.contains(from), "{from}");
        let path = dir.path().join("rpc.yaml");
        std::fs::write(&path, spec.replacen(from, to, 1)).unwrap();
        let err = compile_file(&path).unwrap_err().to_string();
        assert!(err.contains(message), "{to}: {err}");
    }
    let _ = RunError::Usage(String::new());
}
