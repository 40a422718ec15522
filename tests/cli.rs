//! The `mapper` binary: spec diagnostics (a corpus of broken specs with snapshots), the
//! editor schema's freshness, exit codes, and record → replay (the sandbox mechanism).

mod common;

use common::Config;
use std::path::Path;
use std::process::Command;

fn mapper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mapper"))
}

#[test]
fn broken_specs_report_every_problem_with_its_position() {
    insta::glob!("fixtures/broken/*.yaml", |path| {
        let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
        let out = mapper().arg("validate").arg(rel).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", rel.display());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.is_empty(), "{}", rel.display());
        check_diagnostic_lines(rel, &stderr);
        insta::assert_snapshot!(stderr);
    });
}

/// Every line is `file:line:column: ...` with a real position, or `file: ...` for a file that
/// cannot be read at all (no made-up `:0:0:`); messages speak to the author, not of internals.
fn check_diagnostic_lines(rel: &Path, stderr: &str) {
    for line in stderr.lines() {
        let rest = line
            .strip_prefix(rel.to_str().unwrap())
            .unwrap_or_else(|| panic!("{line}"));
        if let Some(msg) = rest.strip_prefix(": ") {
            assert!(
                msg.starts_with("cannot read") || msg.starts_with("is a directory"),
                "{line}"
            );
        } else {
            let mut parts = rest[1..].splitn(3, ':');
            assert!(parts.next().unwrap().parse::<u32>().unwrap() > 0, "{line}");
            assert!(parts.next().unwrap().parse::<u32>().unwrap() > 0, "{line}");
        }
        for internal in [
            "DuplicateKeyPolicy",
            "untagged enum",
            "budget breached",
            "Options",
            "panicked",
        ] {
            assert!(!line.contains(internal), "{line}");
        }
    }
}

#[test]
fn the_broken_spec_corpus_has_at_least_40_entries() {
    let n = std::fs::read_dir("tests/fixtures/broken")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert!(n >= 40, "{n} entries");
}

#[test]
fn a_missing_connector_file_is_reported_without_a_position() {
    let rel = Path::new("tests/fixtures/broken/no_such_file.yaml");
    assert!(!rel.exists());
    let out = mapper().arg("validate").arg(rel).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    check_diagnostic_lines(rel, &stderr);
    insta::assert_snapshot!(stderr, @"tests/fixtures/broken/no_such_file.yaml: cannot read: no such file");
}

#[test]
fn example_connector_validates() {
    let out = mapper()
        .args(["validate", "tests/fixtures/example.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (13 streams, 12 models)"));
}

#[test]
fn committed_editor_schema_is_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connector.schema.json");
    let out = mapper()
        .args(["schema", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let fresh = std::fs::read_to_string(&path).unwrap();
    let committed = std::fs::read_to_string("schemas/connector.schema.json").unwrap();
    assert!(
        fresh == committed,
        "schemas/connector.schema.json is stale: run `cargo run -- schema` and commit it"
    );
    let schema: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    // every property of every definition is documented (the docs become editor hints)
    fn walk(v: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    missing.push(format!("{path}.{k}"));
                }
            }
        }
        if let Some(obj) = v.as_object() {
            for (k, child) in obj {
                walk(child, &format!("{path}/{k}"), missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    assert!(missing.is_empty(), "undocumented: {missing:?}");
}

async fn run_binary(
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
) -> (Option<i32>, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut c = mapper();
        c.args(&args).env_remove("ACME_API_KEY");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

fn run_args(server: &common::Server, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "run".to_owned(),
        "tests/fixtures/example.yaml".into(),
        "--base-url".into(),
        server.url(),
        "--out".into(),
        out.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = vec![("ACME_API_KEY", "test-key-123")];

    let (code, stdout, stderr) = run_binary(run_args(&server, dir.path(), &[]), key.clone()).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("candidates") && stdout.contains("status success"),
        "{stdout}"
    );
    assert!(dir.path().join("report.json").exists() && dir.path().join("jobs.ndjson").exists());

    let (code, _, stderr) = run_binary(run_args(&server, dir.path(), &[]), vec![]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("ACME_API_KEY"), "{stderr}");

    let (code, _, stderr) = run_binary(
        run_args(&server, dir.path(), &[]),
        vec![("ACME_API_KEY", "nope-nope")],
    )
    .await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("/v1/users"),
        "{stderr}"
    );

    server.config.lock().unwrap().invalid_email = true;
    let (code, stdout, stderr) = run_binary(run_args(&server, dir.path(), &[]), key.clone()).await;
    assert_eq!(code, Some(2), "{stdout}");
    // one grouped line per model and reason, not a line per record
    assert!(
        stderr.contains("candidates: 1 invalid record(s) left out")
            && stderr.contains("1 × at /email_addresses/0/email_address")
            && stderr.contains("remote ids 103"),
        "{stderr}"
    );
    server.config.lock().unwrap().invalid_email = false;

    let (code, _, stderr) = run_binary(
        run_args(&server, dir.path(), &["--models", "users,nope"]),
        key.clone(),
    )
    .await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("`nope`"), "{stderr}");

    let (code, _, stderr) = run_binary(
        vec!["run".into(), "tests/fixtures/broken/cycle.yaml".into()],
        key.clone(),
    )
    .await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("cycle.yaml:"), "{stderr}");

    // a connector without sandbox data
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("nosandbox.yaml");
    let text = std::fs::read_to_string("tests/fixtures/example.yaml")
        .unwrap()
        .replace("sandbox:\n  cassette: example.cassette.ndjson\n", "");
    std::fs::write(&spec, text).unwrap();
    let (code, _, stderr) = run_binary(
        vec![
            "run".into(),
            spec.display().to_string(),
            "--sandbox".into(),
            "--out".into(),
            tmp.path().join("o").display().to_string(),
        ],
        vec![],
    )
    .await;
    assert_eq!(code, Some(3));
    assert!(stderr.contains("no sandbox data"), "{stderr}");

    // usage errors are 3, not clap's 2 (which the README keeps for invalid records); help is 0
    for args in [vec![], vec!["run"], vec!["run", "x.yaml", "--no-such-flag"]] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let (code, _, stderr) = run_binary(args.clone(), vec![]).await;
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
    }
    let (code, stdout, _) = run_binary(vec!["--help".into()], vec![]).await;
    assert_eq!(code, Some(0));
    assert!(stdout.contains("validate"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_cassette_replays_offline_with_the_same_output() {
    let server = common::start(Config::default()).await;
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("example.yaml");
    std::fs::copy("tests/fixtures/example.yaml", &spec).unwrap();
    let cassette = work.path().join("example.cassette.ndjson");
    std::fs::write(&cassette, "").unwrap();
    let live = work.path().join("live");
    let args = vec![
        "run".to_owned(),
        spec.display().to_string(),
        "--base-url".into(),
        server.url(),
        "--out".into(),
        live.display().to_string(),
        "--record".into(),
        cassette.display().to_string(),
    ];
    let (code, _, stderr) = run_binary(args, vec![("ACME_API_KEY", "test-key-123")]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let recorded = std::fs::read_to_string(&cassette).unwrap();
    assert!(
        !recorded.contains("test-key-123"),
        "credentials are never recorded"
    );
    assert!(recorded.lines().count() >= 14);

    let replay = work.path().join("replay");
    let requests_before = server.log.lock().unwrap().len();
    let (code, stdout, stderr) = run_binary(
        vec![
            "run".into(),
            spec.display().to_string(),
            "--sandbox".into(),
            "--out".into(),
            replay.display().to_string(),
        ],
        vec![],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("status success"));
    assert_eq!(
        server.log.lock().unwrap().len(),
        requests_before,
        "the sandbox makes no request"
    );
    for model in [
        "jobs",
        "candidates",
        "job_hiring_team_members",
        "offers",
        "interviews",
    ] {
        let strip = |p: &Path| -> Vec<serde_json::Value> {
            std::fs::read_to_string(p.join(format!("{model}.ndjson")))
                .unwrap()
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["changed_at"] = serde_json::Value::Null;
                    v
                })
                .collect()
        };
        assert_eq!(strip(&live), strip(&replay), "{model}");
    }
    // the committed sandbox cassette of the example is this recording
    if std::env::var_os("UPDATE_CASSETTE").is_some() {
        std::fs::write("tests/fixtures/example.cassette.ndjson", &recorded).unwrap();
    }
    let committed =
        std::fs::read_to_string("tests/fixtures/example.cassette.ndjson").unwrap_or_default();
    assert!(
        committed == recorded,
        "tests/fixtures/example.cassette.ndjson is stale: rerun this test with UPDATE_CASSETTE=1"
    );
}

#[test]
fn sandbox_run_of_the_example_works_offline() {
    let dir = tempfile::tempdir().unwrap();
    let out = mapper()
        .args(["run", "tests/fixtures/example.yaml", "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove("ACME_API_KEY")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("job_hiring_team_members") && stdout.contains("status success"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["sandbox"], true);
    assert_eq!(report["models"]["candidates"]["written"], 3);
}

#[test]
fn bad_base_urls_and_sandbox_delta_are_usage_errors_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("ftp://127.0.0.1:9", "must be http or https"),
        ("localhost:8080", "did you mean http://localhost:8080"),
        ("http://", "--base-url"),
    ] {
        let started = std::time::Instant::now();
        let out = mapper()
            .args([
                "run",
                "tests/fixtures/example.yaml",
                "--base-url",
                url,
                "--out",
            ])
            .arg(dir.path())
            .env("ACME_API_KEY", "k")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        // refused before any request is tried (no retries for seconds)
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{url}"
        );
    }
    let out = mapper()
        .args([
            "run",
            "tests/fixtures/example.yaml",
            "--sandbox",
            "--delta",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--delta"));
}

#[test]
fn each_integration_gets_its_own_default_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "tests/fixtures/example.yaml",
        dir.path().join("example.yaml"),
    )
    .unwrap();
    std::fs::copy(
        "tests/fixtures/example.cassette.ndjson",
        dir.path().join("example.cassette.ndjson"),
    )
    .unwrap();
    for integration in ["default", "tenant2"] {
        let out = mapper()
            .current_dir(dir.path())
            .args([
                "run",
                "example.yaml",
                "--sandbox",
                "--integration",
                integration,
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let first = std::fs::read_to_string(dir.path().join("out/example/jobs.ndjson")).unwrap();
    let second =
        std::fs::read_to_string(dir.path().join("out/example/tenant2/jobs.ndjson")).unwrap();
    assert_ne!(first, second, "different id namespaces, different files");
}

#[test]
fn shell_completions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = mapper().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("validate") && text.contains("base-url"),
            "{shell}: {text}"
        );
    }
    let out = mapper().args(["completions", "nosh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_takes_few_records_with_few_requests_and_deletes_nothing() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = vec![("ACME_API_KEY", "test-key-123")];
    let (code, _, stderr) = run_binary(run_args(&server, dir.path(), &[]), key.clone()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let full_users = server.requests_to("/v1/users").len();
    assert!(full_users >= 2);
    let (code, _, stderr) = run_binary(
        run_args(&server, dir.path(), &["--limit", "1"]),
        key.clone(),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        server.requests_to("/v1/users").len(),
        full_users + 1,
        "one page is enough for one record"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    for (model, m) in report["models"].as_object().unwrap() {
        // job posts and applications feed lookups: read in full, so references resolve
        if !["job_postings", "applications"].contains(&model.as_str()) {
            assert!(m["written"].as_u64().unwrap() <= 1, "{model}: {m}");
        }
        assert_eq!(m["deleted"], 0, "{model}: a limited run deletes nothing");
    }
    // the snapshot still holds every record of the full run, none flagged deleted
    let users = std::fs::read_to_string(dir.path().join("users.ndjson")).unwrap();
    assert_eq!(users.lines().count(), 3);
    assert!(!users.contains("\"remote_deleted_at\":\"20"), "{users}");
    let (code, _, _) = run_binary(run_args(&server, dir.path(), &["--limit", "0"]), key).await;
    assert_eq!(code, Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn show_http_logs_each_request_and_quiet_silences_warnings() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = vec![("ACME_API_KEY", "test-key-123")];
    let (code, _, stderr) = run_binary(
        run_args(&server, dir.path(), &["--limit", "2", "--show-http"]),
        key.clone(),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("/v1/users?page=1&per_page=2 → 200 in")
            && stderr.contains("2 records; next: page 2"),
        "{stderr}"
    );
    assert!(!stderr.contains("test-key-123"), "{stderr}");
    server.config.lock().unwrap().invalid_email = true;
    let mut args = run_args(&server, dir.path(), &[]);
    args.insert(0, "-q".into());
    let (code, _, stderr) = run_binary(args, key).await;
    assert_eq!(code, Some(2));
    assert!(
        !stderr.contains("DEBUG") && !stderr.contains(" WARN "),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_says_credentials_ok_or_names_the_request_and_status() {
    let server = common::start(Config::default()).await;
    let args = |url: String| {
        vec![
            "check".to_owned(),
            "tests/fixtures/example.yaml".into(),
            "--base-url".into(),
            url,
        ]
    };
    let (code, stdout, stderr) =
        run_binary(args(server.url()), vec![("ACME_API_KEY", "test-key-123")]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("credentials ok") && stdout.contains("/v1/"),
        "{stdout}"
    );
    let (code, _, stderr) = run_binary(args(server.url()), vec![("ACME_API_KEY", "wrong")]).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("401") && stderr.contains("GET ") && stderr.contains("/v1/"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong"), "{stderr}");
    // without the credential: which variable to set
    let (code, _, stderr) = run_binary(args(server.url()), vec![]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("ACME_API_KEY"), "{stderr}");
}

#[test]
fn describe_prints_streams_and_models_and_stable_json() {
    let out = mapper()
        .args(["describe", "connectors/greenhouse.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["describe_version"], 1);
    assert_eq!(d["inputs"][0]["env"], "GREENHOUSE_API_KEY");
    let streams = d["streams"].as_array().unwrap();
    let apps = streams
        .iter()
        .find(|s| s["name"] == "applications")
        .unwrap();
    assert_eq!(apps["path"], "/v1/applications");
    assert_eq!(apps["pagination"], "link_header");
    assert_eq!(apps["delta"], "time last_activity_after");
    let team = streams
        .iter()
        .find(|s| s["name"] == "job_hiring_team_members")
        .unwrap();
    assert_eq!(team["from"], "jobs");
    assert_eq!(team["depends_on"], serde_json::json!(["jobs"]));
    let models = d["models"].as_array().unwrap();
    assert_eq!(models.len(), 16);
    let jobs = models.iter().find(|m| m["name"] == "jobs").unwrap();
    let post_url = jobs["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "post_url")
        .unwrap();
    assert!(post_url["note"].as_str().unwrap().contains("no public URL"));
    let text = mapper()
        .args(["describe", "connectors/greenhouse.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("GET /v1/applications [link_header]"),
        "{text}"
    );
}

#[test]
fn new_writes_a_skeleton_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("connectors")).unwrap();
    let run = |args: &[&str]| {
        mapper()
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let o = run(&["new", "acme"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("connectors/acme.yaml")).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=../schemas/connector.schema.json"));
    let o = run(&["validate", "connectors/acme.yaml"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["new", "acme"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not overwriting"));
    assert_eq!(run(&["new", "Acme-ATS"]).status.code(), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_writes_output_but_leaves_the_state_alone() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = vec![("ACME_API_KEY", "test-key-123")];
    let (code, _, stderr) = run_binary(run_args(&server, dir.path(), &[]), key.clone()).await;
    assert_eq!(code, Some(0), "{stderr}");
    let runs = |dir: &Path| -> i64 {
        let db = rusqlite::Connection::open(dir.join("state.db")).unwrap();
        db.query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap()
    };
    let before = runs(dir.path());
    // the vendor removed a job: a dry full sync does not mark it deleted, and keeps no trace
    server.config.lock().unwrap().removed_jobs = vec!["j1".into()];
    std::fs::remove_file(dir.path().join("jobs.ndjson")).unwrap();
    let (code, _, stderr) =
        run_binary(run_args(&server, dir.path(), &["--dry-run"]), key.clone()).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        runs(dir.path()),
        before,
        "no run recorded in the real state"
    );
    let jobs = std::fs::read_to_string(dir.path().join("jobs.ndjson")).unwrap();
    assert!(!jobs.contains("\"remote_deleted_at\":\"20"), "{jobs}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["dry_run"], true);
    // the same sync for real marks it deleted
    let (code, _, stderr) = run_binary(run_args(&server, dir.path(), &[]), key).await;
    assert_eq!(code, Some(0), "{stderr}");
    let jobs = std::fs::read_to_string(dir.path().join("jobs.ndjson")).unwrap();
    assert!(jobs.contains("\"remote_deleted_at\":\"20"), "{jobs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn config_files_give_inputs_per_integration() {
    let server = common::start(Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("mapper.toml");
    std::fs::write(
        &toml,
        "[default]\napi_key = \"test-key-123\"\n\n[tenant2]\napi_key = \"wrong\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let cfg = toml.display().to_string();
    let (code, _, stderr) = run_binary(run_args(&server, &out, &["--config", &cfg]), vec![]).await;
    assert_eq!(code, Some(0), "{stderr}");
    // another integration's values; the environment wins over the file
    let (code, _, stderr) = run_binary(
        run_args(
            &server,
            &out,
            &["--config", &cfg, "--integration", "tenant2"],
        ),
        vec![],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        !stderr.contains("wrong"),
        "the file's secrets are redacted too: {stderr}"
    );
    let (code, _, stderr) = run_binary(
        run_args(
            &server,
            &out,
            &["--config", &cfg, "--integration", "tenant2"],
        ),
        vec![("ACME_API_KEY", "test-key-123")],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    // YAML works the same; an input the connector does not declare is a usage error
    let yaml = dir.path().join("mapper.yaml");
    std::fs::write(&yaml, "default:\n  api_kee: test-key-123\n").unwrap();
    let (code, _, stderr) = run_binary(
        run_args(&server, &out, &["--config", &yaml.display().to_string()]),
        vec![],
    )
    .await;
    assert_eq!(code, Some(3));
    assert!(
        stderr.contains("api_kee") && stderr.contains("api_key"),
        "{stderr}"
    );
}

#[test]
fn every_connector_matches_the_editor_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/connector.schema.json").unwrap())
            .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("connectors")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.push("tests/fixtures/example.yaml".into());
    assert!(files.len() >= 5);
    for f in files {
        let doc: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
    // and a misspelled field of a model is caught in the editor already
    let bad: serde_json::Value = serde_saphyr::from_str(
        "name: x\nbase_url: https://x.example.com\nstreams:\n  s:\n    model: jobs\n    static: []\n    fields: { remote_id: $.id, nmae: $.name }\n",
    )
    .unwrap();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn the_readme_cli_reference_matches_help() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("## CLI").unwrap();
    let end = readme[start..].find("### Exit codes").unwrap() + start;
    let reference = &readme[start..end];
    let help = |args: &[&str]| {
        let o = mapper().args(args).arg("--help").output().unwrap();
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8(o.stdout).unwrap()
    };
    let top = help(&[]);
    let commands: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 8, "{commands:?}");
    for c in &commands {
        assert!(
            reference.contains(&format!("mapper {c}")),
            "README's CLI reference lacks `mapper {c}`"
        );
        for line in help(&[c]).lines() {
            let Some(flag) = line
                .split_whitespace()
                .find(|w| w.starts_with("--"))
                .map(|w| w.trim_end_matches(',').trim_end_matches("..."))
            else {
                continue;
            };
            if ["--help", "--verbose", "--quiet", "--version"].contains(&flag) {
                continue;
            }
            assert!(
                reference.contains(flag),
                "README's CLI reference lacks `{flag}` of `mapper {c}`"
            );
        }
    }
}
