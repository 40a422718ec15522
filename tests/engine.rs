//! The engine against a loopback server: every auth kind, pagination kind, fan-out,
//! explode, lookups, enum maps, retries, 429, invalid records, off-host links, failures.

mod common;

use common::{AuthMode, Config, Server};
use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunError, RunOptions, run};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EXAMPLE: &str = "tests/fixtures/example.yaml";

fn opts(server: &Server, out: &Path, env: &[(&str, &str)]) -> RunOptions {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(&server.url()).unwrap());
    o.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o
}

fn read(out: &Path, model: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap_or_else(|e| panic!("{model}.ndjson: {e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_remote_id(records: &[Value]) -> HashMap<String, Value> {
    records
        .iter()
        .map(|r| (r["remote_id"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

async fn run_example(server: &Server, env: &[(&str, &str)]) -> (Report, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new(EXAMPLE)).unwrap());
    let report = run(plan, opts(server, dir.path(), env)).await.unwrap();
    (report, dir)
}

const KEY: &[(&str, &str)] = &[("ACME_API_KEY", "test-key-123")];

#[tokio::test]
async fn full_run_maps_every_model() {
    let server = common::start(Config::default()).await;
    let (report, dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::Success, "{report:#?}");
    let out = dir.path();

    // page_number: 2 + 1 users, stops on the short page
    let users = by_remote_id(&read(out, "users"));
    assert_eq!(users.len(), 3);
    assert_eq!(server.requests_to("/v1/users").len(), 2);
    assert_eq!(users["u1"]["status"], "ACTIVE");
    assert_eq!(users["u2"]["status"], "INACTIVE");
    assert_eq!(users["u3"]["first_name"], "Zoë");

    // link header, repeated array query params, header from a non-secret input
    let jobs = by_remote_id(&read(out, "jobs"));
    assert_eq!(jobs.len(), 3);
    let job_reqs = server.requests_to("/v1/jobs");
    assert_eq!(job_reqs.len(), 2);
    assert!(
        job_reqs[0].query.contains("status=open&status=closed"),
        "{}",
        job_reqs[0].query
    );
    assert_eq!(job_reqs[0].headers["x-region"], "eu");
    let j1 = &jobs["j1"];
    assert_eq!(j1["status"], "OPEN");
    assert_eq!(
        jobs["j2"]["status"],
        Value::Null,
        "unmapped enum value becomes null"
    );
    assert_eq!(j1["employment_type"], "FULL_TIME");
    assert_eq!(jobs["j2"]["employment_type"], "PART_TIME");
    assert_eq!(j1["department"], "Platform");
    assert_eq!(
        j1["location"],
        json!({"city": "Lisbon", "country": "PT", "state": null, "zip_code": null, "street_1": null, "street_2": null, "raw": "Lisbon HQ"})
    );
    assert_eq!(
        jobs["j3"]["location"],
        Value::Null,
        "all-null object becomes null"
    );
    assert_eq!(
        j1["custom_fields"],
        json!({"departments": ["Platform", "Engineering"], "headcount": 2, "department_count": 2})
    );
    assert_eq!(j1["opened_at"], "2024-01-10T08:00:00.000Z");
    assert_eq!(
        j1["integration_fields"],
        json!([
            {"id": "j1.level", "key": "level", "type": "CUSTOM", "value": 3, "label": "Level"},
            {"id": "j1.team", "key": "team", "type": "CUSTOM", "value": "core", "label": "Team"}
        ]),
        "each over an expression: a dict's items"
    );
    assert_eq!(jobs["j2"]["integration_fields"], json!([]));
    assert_eq!(j1["remote_created_at"], "2024-01-01T00:00:00.000Z");
    assert_eq!(jobs["j2"]["confidential"], false, "default applies to null");
    // lookup: most recent live and active post
    assert_eq!(j1["description"], "<p>Build things in Rust.</p>");
    assert_eq!(j1["post_url"], "https://jobs.acme.test/p2");
    assert_eq!(jobs["j2"]["description"], Value::Null);
    assert_eq!(
        j1["remote_data"],
        json!({"/v1/jobs": server_job_j1(&read(out, "jobs"))})
    );

    // references hold unified ids
    let posts = read(out, "job_postings");
    assert_eq!(posts.len(), 4);
    assert!(
        posts
            .iter()
            .all(|p| p["job_id"] == j1["id"] || p["job_id"] == jobs["j2"]["id"])
    );

    // fan-out + explode with vars + merge of duplicates
    let team = read(out, "job_hiring_team_members");
    assert_eq!(team.len(), 3, "{team:#?}");
    assert_eq!(server.requests_to("/v1/jobs/j1/team").len(), 1);
    let ada_j1 = team
        .iter()
        .find(|m| m["job_id"] == j1["id"] && m["user_id"] == users["u1"]["id"])
        .unwrap();
    assert_eq!(ada_j1["roles"], json!(["HIRING_MANAGER", "RECRUITER"]));
    assert_eq!(ada_j1["remote_id"], Value::Null);

    // cursor pagination, each/where, templates, numeric ids as text, lookup with order
    let cands = by_remote_id(&read(out, "candidates"));
    assert_eq!(cands.len(), 3);
    assert_eq!(server.requests_to("/v1/candidates").len(), 2);
    let ana = &cands["101"];
    assert_eq!(
        ana["email_addresses"],
        json!([{"email_address": "ana@example.org", "type": "PERSONAL"}, {"email_address": "ana@work.example", "type": "WORK"}])
    );
    assert_eq!(
        ana["phone_numbers"],
        json!([{"phone_number": "+351 912 000 000", "type": null}])
    );
    assert_eq!(ana["source"], "LinkedIn", "earliest application's source");
    assert_eq!(ana["title"], "Engineer");
    assert_eq!(cands["102"]["title"], Value::Null);
    assert_eq!(cands["102"]["email_addresses"], json!([]));
    assert_eq!(cands["103"]["first_name"], "李");
    assert_eq!(ana["remote_created_at"], "2024-01-05T10:00:00.123Z");

    // distinct tags from candidates; join records
    let tags = read(out, "tags");
    assert_eq!(tags.len(), 2);
    let ctags = read(out, "candidate_tags");
    assert_eq!(ctags.len(), 3);
    let tag_ids: Vec<&Value> = tags.iter().map(|t| &t["id"]).collect();
    assert!(ctags.iter().all(|c| tag_ids.contains(&&c["tag_id"])));

    // offset pagination with total; enum maps; static stream references
    let apps = by_remote_id(&read(out, "applications"));
    assert_eq!(apps.len(), 3);
    assert_eq!(server.requests_to("/v1/applications").len(), 2);
    assert_eq!(apps["a2"]["outcome"], "DECLINED");
    assert_eq!(
        apps["a3"]["custom_fields"]["position"], 2,
        "index counts across pages"
    );
    assert_eq!(apps["a3"]["outcome"], "HIRED");
    let stages = by_remote_id(&read(out, "application_stages"));
    assert_eq!(apps["a1"]["current_stage_id"], stages["screen"]["id"]);
    assert_eq!(stages["offer"]["global_index"], 2);
    assert_eq!(apps["a1"]["candidate_id"], ana["id"]);

    // lookup across streams: offer → application from candidate and job
    let offers = by_remote_id(&read(out, "offers"));
    assert_eq!(offers["o1"]["application_id"], apps["a1"]["id"]);
    assert_eq!(offers["o1"]["status"], "SENT");
    assert_eq!(offers["o2"]["application_id"], apps["a3"]["id"]);

    // explode timeslots; interviewers from a derived stream of a derived stream
    let ivs = by_remote_id(&read(out, "interviews"));
    assert_eq!(ivs.len(), 3);
    assert_eq!(ivs["s1"]["title"], "Technical");
    assert_eq!(ivs["s1"]["application_id"], apps["a1"]["id"]);
    assert_eq!(ivs["s1"]["location"]["raw"], "https://meet.example/abc");
    assert_eq!(ivs["s3"]["canceled"], true);
    assert_eq!(
        ivs["s1"]["remote_data"]["/v1/interviews"]["id"], "s1",
        "record first; the parent shares its path"
    );
    let members = read(out, "interviewing_team_members");
    assert_eq!(members.len(), 3);
    assert!(
        members
            .iter()
            .all(|m| ivs.values().any(|i| i["id"] == m["interview_id"]))
    );

    // report
    assert_eq!(report.models["users"].written, 3);
    assert_eq!(report.models["users"].requests, 2);
    assert!(report.requests >= 14);
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["status"], "success");
    assert_eq!(rep["models"]["jobs"]["written"], 3);
}

fn server_job_j1(jobs: &[Value]) -> Value {
    jobs.iter().find(|j| j["remote_id"] == "j1").unwrap()["remote_data"]["/v1/jobs"].clone()
}

#[tokio::test]
async fn ids_are_stable_across_runs_and_namespaced_by_integration() {
    let server = common::start(Config::default()).await;
    let (_, a) = run_example(&server, KEY).await;
    let (_, b) = run_example(&server, KEY).await;
    for model in [
        "jobs",
        "candidates",
        "job_hiring_team_members",
        "interviews",
    ] {
        let ids = |d: &Path| {
            read(d, model)
                .iter()
                .map(|r| r["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(a.path()), ids(b.path()), "{model}");
        let unique: std::collections::HashSet<String> =
            ids(a.path()).iter().map(|v| v.to_string()).collect();
        assert_eq!(unique.len(), ids(a.path()).len(), "{model} ids are unique");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&server, dir.path(), KEY);
    o.integration = "tenant-b".into();
    run(Arc::new(compile_file(Path::new(EXAMPLE)).unwrap()), o)
        .await
        .unwrap();
    assert_ne!(
        read(a.path(), "jobs")[0]["id"],
        read(dir.path(), "jobs")[0]["id"]
    );
}

#[tokio::test]
async fn retries_5xx_and_honours_429_retry_after() {
    let server = common::start(Config {
        users_500: 2,
        users_429: 1,
        retry_after: Some("1".into()),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    let (report, dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert_eq!(read(dir.path(), "users").len(), 3);
    assert_eq!(report.streams["users"].retries, 3);
    assert_eq!(report.streams["users"].requests, 5);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "waited for Retry-After"
    );
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    // an HTTP date has whole seconds: 3 s ahead is at least 2 s ahead once truncated, and
    // the assertion below leaves a second of slack for a loaded machine
    let when =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(3));
    let server = common::start(Config {
        users_429: 1,
        retry_after: Some(when),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    let (report, _dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::Success);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000));
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_keeps_earlier_output() {
    let server = common::start(Config::default()).await;
    let (_, dir) = run_example(&server, KEY).await;
    let before = std::fs::read_to_string(dir.path().join("applications.ndjson")).unwrap();
    server.config.lock().unwrap().applications_500 = true;
    let plan = Arc::new(compile_file(Path::new(EXAMPLE)).unwrap());
    let report = run(plan, opts(&server, dir.path(), KEY)).await.unwrap();
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("/v1/applications")
            && err.contains("500 Internal Server Error")
            && err.contains("after 4 attempts"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("applications.ndjson")).unwrap(),
        before,
        "the earlier complete output is kept"
    );
    assert!(!dir.path().join("applications.ndjson.partial").exists());
    assert!(!report.models["applications"].complete);
}

#[tokio::test]
async fn invalid_record_is_reported_and_others_written() {
    let server = common::start(Config {
        invalid_email: true,
        ..Default::default()
    })
    .await;
    let (report, dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::CompletedWithInvalidRecords);
    let c = &report.models["candidates"];
    assert_eq!((c.written, c.invalid), (2, 1));
    let bad = &c.invalid_records[0];
    assert_eq!(bad.remote_id.as_deref(), Some("103"));
    assert_eq!(bad.pointer, "/email_addresses/0/email_address");
    assert!(bad.reason.contains("email"), "{}", bad.reason);
    assert_eq!(read(dir.path(), "candidates").len(), 2);
}

#[tokio::test]
async fn off_host_next_link_is_refused() {
    let server = common::start(Config {
        off_host_link: true,
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("evil.example.com") && err.contains("refusing"),
        "{err}"
    );
    let jobs = server.requests_to("/v1/jobs");
    assert_eq!(jobs.len(), 1, "only the first page was requested: {jobs:?}");
}

#[tokio::test]
async fn missing_credential_names_the_variable() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(Path::new(EXAMPLE)).unwrap());
    let err = run(plan, opts(&server, dir.path(), &[])).await.unwrap_err();
    assert!(matches!(err, RunError::MissingInput(_)));
    assert!(err.to_string().contains("ACME_API_KEY"), "{err}");
    assert!(
        server.log.lock().unwrap().is_empty(),
        "nothing was requested"
    );
}

#[tokio::test]
async fn wrong_key_fails_with_401_and_no_secret_in_the_message() {
    let server = common::start(Config::default()).await;
    let (report, _dir) = run_example(&server, &[("ACME_API_KEY", "wrong-key-999")]).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(!err.contains("wrong-key-999"));
}

#[tokio::test]
async fn models_filter_runs_only_what_is_needed() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&server, dir.path(), KEY);
    o.models = Some(vec!["offers".into()]);
    let report = run(Arc::new(compile_file(Path::new(EXAMPLE)).unwrap()), o)
        .await
        .unwrap();
    assert_eq!(report.status, Status::Success);
    assert_eq!(report.models.keys().collect::<Vec<_>>(), vec!["offers"]);
    assert!(server.requests_to("/v1/users").is_empty());
    assert_eq!(
        server.requests_to("/v1/applications").len(),
        2,
        "the lookup's stream runs"
    );
    assert!(!dir.path().join("applications.ndjson").exists());
    let mut o = opts(&server, dir.path(), KEY);
    o.models = Some(vec!["nope".into()]);
    assert!(matches!(
        run(Arc::new(compile_file(Path::new(EXAMPLE)).unwrap()), o).await,
        Err(RunError::Usage(_))
    ));
}

/// Writes a one-stream connector with the given auth block.
fn auth_spec(dir: &Path, auth: &str, inputs: &str) -> PathBuf {
    let text = format!(
        "name: auth_test\nbase_url: https://api.acme.invalid\ninputs:\n{inputs}\nauth:\n{auth}\nstreams:\n  users:\n    model: users\n    request: {{ path: /v1/users }}\n    pagination: {{ type: page_number, param: page, size_param: per_page, size: 2 }}\n    fields:\n      remote_id: $.id\n"
    );
    let p = dir.join("auth.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

async fn run_spec(
    server: &Server,
    spec: &Path,
    env: &[(&str, &str)],
) -> Result<(Report, tempfile::TempDir), RunError> {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(spec).unwrap_or_else(|e| panic!("{e}")));
    run(plan, opts(server, dir.path(), env))
        .await
        .map(|r| (r, dir))
}

#[tokio::test]
async fn bearer_and_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let server = common::start(Config {
        auth: AuthMode::Bearer("tkn-42".into()),
        ..Default::default()
    })
    .await;
    let spec = auth_spec(
        tmp.path(),
        "  type: bearer\n  token: \"{{ inputs.token }}\"",
        "  token: { env: T_TOKEN }",
    );
    let (r, _) = run_spec(&server, &spec, &[("T_TOKEN", "tkn-42")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);

    let server = common::start(Config {
        auth: AuthMode::Basic("me".into(), "pw:x".into()),
        ..Default::default()
    })
    .await;
    let spec = auth_spec(
        tmp.path(),
        "  type: basic\n  username: \"{{ inputs.user }}\"\n  password: \"{{ inputs.pass }}\"",
        "  user: { env: T_USER }\n  pass: { env: T_PASS }",
    );
    let (r, _) = run_spec(&server, &spec, &[("T_USER", "me"), ("T_PASS", "pw:x")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let (r, _) = run_spec(&server, &spec, &[("T_USER", "me"), ("T_PASS", "nope")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Failed);
}

const OAUTH: &str = "  type: oauth2_client_credentials\n  token_url: /oauth/token\n  client_id: \"{{ inputs.id }}\"\n  client_secret: \"{{ inputs.secret }}\"";

#[tokio::test]
async fn oauth2_token_is_cached_and_refreshed_once_on_401() {
    let tmp = tempfile::tempdir().unwrap();
    let server = common::start(Config {
        auth: AuthMode::OAuth {
            client_id: "cid".into(),
            client_secret: "csecret".into(),
            expires_in: 1800,
        },
        revoke_first_token: true,
        ..Default::default()
    })
    .await;
    let spec = auth_spec(
        tmp.path(),
        OAUTH,
        "  id: { env: T_ID }\n  secret: { env: T_SECRET }",
    );
    let (r, _) = run_spec(&server, &spec, &[("T_ID", "cid"), ("T_SECRET", "csecret")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let tokens = server.requests_to("/oauth/token");
    assert_eq!(tokens.len(), 2, "one token, refreshed once after the 401");
    let users = server.requests_to("/v1/users");
    assert_eq!(users.len(), 3, "first page refused once, then two pages");
    assert_eq!(
        users[2].headers["authorization"], "Bearer tok-2",
        "the cached token is reused"
    );
}

#[tokio::test]
async fn any_of_auth_picks_the_alternative_whose_inputs_are_set() {
    let tmp = tempfile::tempdir().unwrap();
    let auth = format!(
        "  type: any_of\n  options:\n    - type: api_key\n      headers: {{ X-Api-Key: \"{{{{ inputs.key }}}}\" }}\n    - {}",
        OAUTH.trim_start().replace("\n  ", "\n      ")
    );
    let inputs = "  key: { env: T_KEY }\n  id: { env: T_ID }\n  secret: { env: T_SECRET }";
    let spec = auth_spec(tmp.path(), &auth, inputs);
    let server = common::start(Config {
        auth: AuthMode::OAuth {
            client_id: "cid".into(),
            client_secret: "cs".into(),
            expires_in: 60,
        },
        ..Default::default()
    })
    .await;
    let (r, _) = run_spec(&server, &spec, &[("T_ID", "cid"), ("T_SECRET", "cs")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let server = common::start(Config {
        auth: AuthMode::ApiKey("kk-1234".into()),
        ..Default::default()
    })
    .await;
    let (r, _) = run_spec(&server, &spec, &[("T_KEY", "kk-1234")])
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let err = run_spec(&server, &spec, &[("T_ID", "cid")])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("T_KEY") && err.contains("T_ID and T_SECRET"),
        "{err}"
    );
}

#[tokio::test]
async fn per_stream_concurrency_limit_overrides_fan_out_concurrency() {
    let server = common::start(Config::default()).await;
    let (report, _dir) = run_example(&server, KEY).await;
    assert_eq!(report.status, Status::Success);
    assert_eq!(
        server.team_inflight.lock().unwrap().1,
        1,
        "job_team allows 1 request in flight"
    );

    // the same connector without the stream's limit fans out 3 at a time
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(tmp.path());
    std::fs::write(
        &spec,
        std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace("    rate_limit: { max_concurrency: 1 }\n", ""),
    )
    .unwrap();
    let server = common::start(Config::default()).await;
    let (report, _dir) = run_spec(&server, &spec, KEY).await.unwrap();
    assert_eq!(report.status, Status::Success);
    assert!(
        server.team_inflight.lock().unwrap().1 > 1,
        "without the limit, parents are fetched concurrently"
    );
}

#[tokio::test]
async fn requests_per_second_spaces_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(tmp.path());
    std::fs::write(
        &spec,
        std::fs::read_to_string(EXAMPLE)
            .unwrap()
            .replace("requests_per_second: 200", "requests_per_second: 10"),
    )
    .unwrap();
    let server = common::start(Config::default()).await;
    let (report, _dir) = run_spec(&server, &spec, KEY).await.unwrap();
    assert_eq!(report.status, Status::Success);
    let mut t = server.arrivals.lock().unwrap().clone();
    t.sort();
    assert!(t.len() >= 14);
    // 10/s → one slot every 102 ms; half of it is left for arrival jitter on a loaded machine
    for w in t.windows(2) {
        assert!(
            w[1] - w[0] >= std::time::Duration::from_millis(50),
            "{:?}",
            w[1] - w[0]
        );
    }
    // and never more than 10 (plus one for jitter at the window's edges) in any second
    for (i, start) in t.iter().enumerate() {
        let n = t[i..]
            .iter()
            .take_while(|x| **x - *start < std::time::Duration::from_secs(1))
            .count();
        assert!(n <= 11, "{n} requests within one second");
    }
}

/// A copy of the example connector (with its cassette) in `dir`, to edit.
fn copy_example(dir: &Path) -> PathBuf {
    std::fs::copy(
        "tests/fixtures/example.cassette.ndjson",
        dir.join("example.cassette.ndjson"),
    )
    .unwrap();
    dir.join("example.yaml")
}
