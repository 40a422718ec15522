//! Faults a vendor API can throw at a run, against the loopback server: numbers far out of
//! range, broken links, 429 bursts, bodies cut short or garbled, loops in pagination. Each
//! ends in a completed run or a clean failure, never a panic or a hang.

mod common;

use common::{AuthMode, Config, Server};
use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EXAMPLE: &str = "tests/fixtures/example.yaml";
const KEY: &[(&str, &str)] = &[("ACME_API_KEY", "test-key-123")];

fn opts(server: &Server, out: &Path, env: &[(&str, &str)]) -> RunOptions {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(&server.url()).unwrap());
    o.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o
}

/// The example connector with `edit` applied to its text, written into `dir`.
fn example_with(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::copy(
        "tests/fixtures/example.cassette.ndjson",
        dir.join("example.cassette.ndjson"),
    )
    .unwrap();
    let p = dir.join("example.yaml");
    std::fs::write(&p, edit(std::fs::read_to_string(EXAMPLE).unwrap())).unwrap();
    p
}

async fn run_spec(
    server: &Server,
    spec: &Path,
    env: &[(&str, &str)],
) -> (Report, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(compile_file(spec).unwrap_or_else(|e| panic!("{e}")));
    let report = run(plan, opts(server, dir.path(), env)).await.unwrap();
    (report, dir)
}

fn read(out: &Path, model: &str) -> Vec<Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_huge_retry_after_is_capped_by_the_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = example_with(tmp.path(), |t| {
        t.replace(
            "  max_backoff_ms: 50\n",
            "  max_backoff_ms: 50\n  max_retry_after_secs: 1\n",
        )
    });
    let server = common::start(Config {
        users_429: 1,
        retry_after: Some("1e30".into()),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let (report, _dir) = run_spec(&server, &spec, KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the capped second"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "not 10^30 seconds"
    );
}

#[tokio::test]
async fn a_link_header_with_brackets_out_of_order_ends_the_pages() {
    let server = common::start(Config {
        jobs_link: Some(r#"x>y<z; rel="next""#.into()),
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert_eq!(
        server.requests_to("/v1/jobs").len(),
        1,
        "no usable next link"
    );
}

#[tokio::test]
async fn a_huge_oauth_expires_in_is_clamped() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("oauth.yaml");
    std::fs::write(&spec, "name: oauth_test\nbase_url: https://api.acme.invalid\ninputs:\n  id: { env: T_ID }\n  secret: { env: T_SECRET }\nauth:\n  type: oauth2_client_credentials\n  token_url: /oauth/token\n  client_id: \"{{ inputs.id }}\"\n  client_secret: \"{{ inputs.secret }}\"\nstreams:\n  users:\n    model: users\n    request: { path: /v1/users }\n    pagination: { type: page_number, param: page, size_param: per_page, size: 2 }\n    fields:\n      remote_id: $.id\n").unwrap();
    let server = common::start(Config {
        auth: AuthMode::OAuth {
            client_id: "cid".into(),
            client_secret: "cs".into(),
            expires_in: u64::MAX,
        },
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_spec(&server, &spec, &[("T_ID", "cid"), ("T_SECRET", "cs")]).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert_eq!(
        server.requests_to("/oauth/token").len(),
        1,
        "the token is cached"
    );
}

#[tokio::test]
async fn a_429_burst_is_waited_out_without_spending_attempts() {
    // 8 answers of 429 with Retry-After: 0.25 s, against max_attempts 4 and backoffs of at
    // most 50 ms: 2 s of waiting, far more than max_attempts × backoff
    let server = common::start(Config {
        users_429: 8,
        retry_after: Some("0.25".into()),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let (report, dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(read(dir.path(), "users").len(), 3);
    assert_eq!(
        report.streams["users"].requests, 10,
        "8 × 429, then 2 pages"
    );
}

#[tokio::test]
async fn rate_limiting_beyond_the_wait_budget_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = example_with(tmp.path(), |t| {
        t.replace(
            "  max_backoff_ms: 50\n",
            "  max_backoff_ms: 50\n  max_rate_limit_wait_secs: 1\n",
        )
    });
    let server = common::start(Config {
        users_429: 1000,
        retry_after: Some("0.3".into()),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let (report, _dir) = run_spec(&server, &spec, KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("429")
            && err.contains("/v1/users")
            && err.contains("max_rate_limit_wait_secs"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        server.requests_to("/v1/users").len() <= 6,
        "about 1 s of 0.3 s waits"
    );
}

#[tokio::test]
async fn a_garbled_200_is_retried_then_the_run_completes() {
    let server = common::start(Config {
        users_garbled: 2,
        ..Default::default()
    })
    .await;
    let (report, dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    assert_eq!(report.streams["users"].retries, 2);
    assert_eq!(read(dir.path(), "users").len(), 3);
}

#[tokio::test]
async fn a_body_that_stays_garbled_fails_without_echoing_it() {
    let server = common::start(Config {
        users_garbled: 1000,
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("/v1/users") && err.contains("not JSON") && err.contains("4 attempts"),
        "{err}"
    );
    assert!(!err.contains("\"id\""), "no payload in the message: {err}");
    assert_eq!(server.requests_to("/v1/users").len(), 4);
}

#[tokio::test]
async fn invalid_utf8_in_a_string_is_replaced_not_fatal() {
    let server = common::start(Config {
        users_bad_utf8: true,
        ..Default::default()
    })
    .await;
    let (report, dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let users = read(dir.path(), "users");
    assert!(
        users[0]["first_name"]
            .as_str()
            .unwrap()
            .contains('\u{FFFD}'),
        "{:?}",
        users[0]
    );
}

#[tokio::test]
async fn a_value_nested_too_deep_fails_that_record_not_the_page() {
    let server = common::start(Config {
        users_deep: true,
        ..Default::default()
    })
    .await;
    let (report, dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(
        report.status,
        Status::CompletedWithInvalidRecords,
        "{:?}",
        report.error
    );
    let users = &report.models["users"];
    assert_eq!((users.written, users.invalid), (1, 1));
    let bad = &users.invalid_records[0];
    assert_eq!(bad.remote_id.as_deref(), Some("u1"));
    assert!(
        bad.pointer.starts_with("/remote_data/~1v1~1users/x/0/0"),
        "{}",
        bad.pointer
    );
    assert!(
        bad.reason.contains("deeper than 128 levels"),
        "{}",
        bad.reason
    );
    assert_eq!(read(dir.path(), "users")[0]["remote_id"], "u2");
    assert_eq!(report.streams["users"].retries, 0, "not retried");
}

#[tokio::test]
async fn error_messages_do_not_echo_the_vendor_body() {
    let server = common::start(Config {
        applications_500: true,
        ..Default::default()
    })
    .await;
    let (report, dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("500 Internal Server Error") && err.contains("/v1/applications"),
        "{err}"
    );
    assert!(!err.contains("database on fire"), "{err}");
    let written = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(!written.contains("database on fire"));
}

#[tokio::test]
async fn a_repeating_cursor_is_an_error_after_a_bounded_number_of_requests() {
    let server = common::start(Config {
        candidates_cursor_loop: true,
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let (report, _dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("stream `candidates`")
            && err.contains("repeats")
            && err.contains("cursor=page-2"),
        "{err}"
    );
    assert_eq!(server.requests_to("/v1/candidates").len(), 2);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn max_pages_bounds_an_endless_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = example_with(tmp.path(), |t| {
        t.replace(
            "    pagination: { type: cursor, cursor: $.next, param: cursor }\n",
            "    pagination: { type: cursor, cursor: $.next, param: cursor }\n    max_pages: 5\n",
        )
    });
    assert!(
        std::fs::read_to_string(&spec)
            .unwrap()
            .contains("max_pages: 5")
    );
    let server = common::start(Config {
        candidates_endless: true,
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_spec(&server, &spec, KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("stream `candidates`") && err.contains("max_pages (5)"),
        "{err}"
    );
    assert_eq!(server.requests_to("/v1/candidates").len(), 5);
}

#[tokio::test]
async fn a_mapping_that_fails_at_run_time_names_its_place_in_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = example_with(tmp.path(), |t| {
        t.replacen(
            "      email: $.email\n",
            "      email: { expr: \"record.name | merge(3)\" }\n",
            1,
        )
    });
    let text = std::fs::read_to_string(&spec).unwrap();
    let line = text.lines().position(|l| l.contains("merge(3)")).unwrap() + 1;
    let server = common::start(Config::default()).await;
    let (report, _dir) = run_spec(&server, &spec, KEY).await;
    assert_eq!(
        report.status,
        Status::CompletedWithInvalidRecords,
        "{:?}",
        report.error
    );
    let bad = &report.models["users"].invalid_records[0];
    let at = format!("{}:{line}:", spec.display());
    assert!(
        bad.reason.contains(&at) && bad.reason.contains("merge(3)"),
        "{} (expected {at})",
        bad.reason
    );
}

#[tokio::test]
async fn a_server_that_ignores_the_offset_is_caught_on_the_second_page() {
    let server = common::start(Config {
        applications_ignore_offset: true,
        ..Default::default()
    })
    .await;
    let (report, _dir) = run_spec(&server, Path::new(EXAMPLE), KEY).await;
    assert_eq!(report.status, Status::Failed);
    let err = report.error.unwrap();
    assert!(
        err.contains("stream `applications`")
            && err.contains("same page")
            && err.contains("offset=2"),
        "{err}"
    );
    assert_eq!(server.requests_to("/v1/applications").len(), 2);
}
