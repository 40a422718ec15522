//! The sync state's rules against the example connector's loopback server: an invalid record
//! is not a deleted one; a removed parent takes its per-parent records with it and nothing
//! else; a failed run changes nothing; runs are numbered; unknown enum values are counted; a
//! database of the previous schema version migrates without moving `changed_at`.

mod common;

use common::{Config, Server};
use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const EXAMPLE: &str = "tests/fixtures/example.yaml";
const KEY: &[(&str, &str)] = &[("ACME_API_KEY", "test-key-123")];

async fn sync(server: &Server, out: &Path) -> Report {
    // two runs in one millisecond would share a timestamp
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(&server.url()).unwrap());
    o.env = KEY
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let plan = Arc::new(compile_file(Path::new(EXAMPLE)).unwrap());
    run(plan, o).await.unwrap()
}

/// Records of a model by remote id (join records by id).
fn read(out: &Path, model: &str) -> HashMap<String, Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap_or_else(|e| panic!("{model}.ndjson: {e}"))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            let key = r["remote_id"]
                .as_str()
                .or(r["id"].as_str())
                .unwrap()
                .to_owned();
            (key, r)
        })
        .collect()
}

/// Ids of the records each model has marked deleted.
fn deleted(out: &Path, models: &[&str]) -> Vec<(String, String)> {
    let mut out_ids = Vec::new();
    for m in models {
        for (k, r) in read(out, m) {
            if !r["remote_deleted_at"].is_null() {
                out_ids.push((m.to_string(), k));
            }
        }
    }
    out_ids.sort();
    out_ids
}

const MODELS: &[&str] = &[
    "users",
    "jobs",
    "job_postings",
    "candidates",
    "applications",
    "offers",
    "interviews",
    "job_hiring_team_members",
    "interviewing_team_members",
];

#[tokio::test]
async fn invalid_record_keeps_its_last_valid_version_and_is_never_deleted() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    let first = sync(&server, out.path()).await;
    assert_eq!(first.status, Status::Success);
    let before = read(out.path(), "candidates")["103"].clone();
    server.config.lock().unwrap().invalid_email = true;
    for _ in 0..2 {
        let r = sync(&server, out.path()).await;
        assert_eq!(r.status, Status::CompletedWithInvalidRecords);
        let c = &r.models["candidates"];
        assert_eq!((c.invalid, c.deleted), (1, 0));
        assert_eq!(c.invalid_records[0].remote_id.as_deref(), Some("103"));
        let now = read(out.path(), "candidates");
        assert_eq!(
            now["103"], before,
            "the last valid version is kept, not deleted"
        );
        assert!(deleted(out.path(), MODELS).is_empty());
    }
}

#[tokio::test]
async fn removed_parent_takes_its_per_parent_records_and_nothing_else() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    assert_eq!(sync(&server, out.path()).await.status, Status::Success);
    let jobs = read(out.path(), "jobs");
    let j1 = jobs["j1"]["id"].as_str().unwrap().to_owned();
    let team_of_j1: Vec<String> = read(out.path(), "job_hiring_team_members")
        .into_iter()
        .filter(|(_, r)| r["job_id"] == j1.as_str())
        .map(|(k, _)| k)
        .collect();
    assert!(!team_of_j1.is_empty(), "j1 has a hiring team");
    server.config.lock().unwrap().removed_jobs = vec!["j1".into()];
    let r = sync(&server, out.path()).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    // the job and the hiring team fetched per job (its request was not made again) are gone
    let mut expected: Vec<(String, String)> = team_of_j1
        .iter()
        .map(|k| ("job_hiring_team_members".to_owned(), k.clone()))
        .collect();
    expected.push(("jobs".into(), "j1".into()));
    expected.sort();
    assert_eq!(deleted(out.path(), MODELS), expected);
    let started = r.started_at.as_str();
    assert_eq!(read(out.path(), "jobs")["j1"]["remote_deleted_at"], started);
    assert_eq!(
        r.models["job_hiring_team_members"].deleted,
        team_of_j1.len() as u64
    );
    // the job comes back: everything is live again, and changed_at did not move
    let team_before = read(out.path(), "job_hiring_team_members");
    server.config.lock().unwrap().removed_jobs.clear();
    let r = sync(&server, out.path()).await;
    assert_eq!(r.status, Status::Success);
    assert!(deleted(out.path(), MODELS).is_empty());
    let team_after = read(out.path(), "job_hiring_team_members");
    for k in &team_of_j1 {
        assert_eq!(team_after[k]["changed_at"], team_before[k]["changed_at"]);
    }
}

#[tokio::test]
async fn failed_child_request_deletes_nothing_and_changes_nothing() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    sync(&server, out.path()).await;
    let files: Vec<(String, String)> = MODELS
        .iter()
        .map(|m| {
            let f = out.path().join(format!("{m}.ndjson"));
            (m.to_string(), std::fs::read_to_string(f).unwrap())
        })
        .collect();
    {
        let mut c = server.config.lock().unwrap();
        c.removed_jobs = vec!["j3".into()];
        c.team_500 = true;
    }
    let r = sync(&server, out.path()).await;
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.error.as_deref().unwrap_or("").contains("/team"),
        "{:?}",
        r.error
    );
    assert!(r.models.values().all(|m| m.deleted == 0 && !m.complete));
    for (m, text) in &files {
        let now = std::fs::read_to_string(out.path().join(format!("{m}.ndjson"))).unwrap();
        assert_eq!(&now, text, "{m}: a failed run publishes nothing");
    }
    assert!(deleted(out.path(), MODELS).is_empty());
    let db = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let (status, n): (String, i64) = db
        .query_row(
            "SELECT status, (SELECT count(*) FROM records WHERE remote_deleted_at IS NOT NULL) FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), n), ("failed", 0));
}

#[tokio::test]
async fn runs_are_numbered_with_their_counts() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    sync(&server, out.path()).await;
    server.config.lock().unwrap().removed_jobs = vec!["j2".into()];
    sync(&server, out.path()).await;
    let db = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, mapper::state::sqlite::SCHEMA_VERSION);
    let mut stmt = db
        .prepare("SELECT id, kind, status, finished_at IS NOT NULL, counts FROM runs ORDER BY id")
        .unwrap();
    let rows: Vec<(i64, String, String, bool, String)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0 + 1, rows[1].0);
    for r in &rows {
        assert_eq!((r.1.as_str(), r.3), ("full", true));
        assert!(r.2 == "success" || r.2 == "completed_with_invalid_records");
    }
    let counts: Value = serde_json::from_str(&rows[1].4).unwrap();
    assert_eq!(counts["jobs"]["deleted"], 1);
    assert_eq!(counts["jobs"]["unchanged"], 2);
}

#[tokio::test]
async fn enum_values_without_a_mapping_are_counted() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    let r = sync(&server, out.path()).await;
    // j2's state `paused` is not in the jobs status map
    assert_eq!(r.models["jobs"].unmapped_values["status"]["paused"], 1);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["models"]["jobs"]["unmapped_values"],
        serde_json::json!({"status": {"paused": 1}})
    );
    // and again in a run where nothing changed (the record is mapped again to count it)
    let r = sync(&server, out.path()).await;
    assert_eq!(r.models["jobs"].unmapped_values["status"]["paused"], 1);
    assert_eq!(r.models["jobs"].updated, 0);
}

/// The schema of version 0 (before runs were numbered), as an earlier mapper wrote it.
const V0: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, integration TEXT NOT NULL, model TEXT NOT NULL,
    id TEXT NOT NULL, remote_id TEXT, record TEXT NOT NULL, hash TEXT NOT NULL,
    changed_at TEXT NOT NULL, remote_deleted_at TEXT, first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL, scope TEXT NOT NULL, UNIQUE (integration, model, id));
CREATE INDEX records_scope ON records (integration, model, scope);
CREATE TABLE syncs (integration TEXT NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, PRIMARY KEY (integration, stream));
";

#[tokio::test]
async fn a_database_of_the_previous_schema_version_migrates() {
    let server = common::start(Config::default()).await;
    let fresh = tempfile::tempdir().unwrap();
    sync(&server, fresh.path()).await;
    // write what an earlier mapper would have: the same records, SHA-256 hashes, old times
    let old = tempfile::tempdir().unwrap();
    let old_time = "2020-01-01T00:00:00.000Z";
    {
        let db = rusqlite::Connection::open(old.path().join("state.db")).unwrap();
        db.execute_batch(V0).unwrap();
        for m in MODELS {
            for (_, mut r) in read(fresh.path(), m) {
                r["changed_at"] = old_time.into();
                let obj = r.as_object().unwrap();
                let enc = mapper::state::Encoded::new(String::new(), None, obj);
                db.execute(
                    "INSERT INTO records (integration, model, id, remote_id, record, hash, changed_at, remote_deleted_at, first_seen, last_seen, scope)
                     VALUES ('default', ?1, ?2, ?3, ?4, ?5, ?6, NULL, ?6, ?6, '/x')",
                    rusqlite::params![
                        m,
                        r["id"].as_str().unwrap(),
                        r["remote_id"].as_str(),
                        r.to_string(),
                        mapper::state::legacy_hash(&enc.content),
                        old_time
                    ],
                )
                .unwrap();
            }
        }
        db.execute(
            "INSERT INTO syncs VALUES ('default', 'jobs', 'full', ?1, ?1)",
            [old_time],
        )
        .unwrap();
    }
    let r = sync(&server, old.path()).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    for m in MODELS {
        let rep = &r.models[*m];
        assert_eq!(
            (rep.created, rep.updated, rep.deleted),
            (0, 0, 0),
            "{m}: every migrated record is recognised unchanged"
        );
        for (k, rec) in read(old.path(), m) {
            assert_eq!(rec["changed_at"], old_time, "{m} {k}: changed_at kept");
        }
    }
    let db = rusqlite::Connection::open(old.path().join("state.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, mapper::state::sqlite::SCHEMA_VERSION);
    // and a third run on the migrated database is an ordinary unchanged run
    drop(db);
    let r = sync(&server, old.path()).await;
    assert!(
        r.models
            .values()
            .all(|m| m.created + m.updated + m.deleted == 0)
    );
}

#[tokio::test]
async fn records_an_earlier_mapper_stored_with_zstd_are_still_read() {
    use mapper::state::Store;
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    sync(&server, out.path()).await;
    let path = out.path().join("state.db");
    // store every record as the previous version did: a zstd frame, with the model's
    // dictionary where the row has one
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        for m in MODELS {
            let records = read(out.path(), m);
            let contents: Vec<(String, mapper::state::Encoded)> = records
                .values()
                .map(|r| {
                    let enc =
                        mapper::state::Encoded::new(String::new(), None, r.as_object().unwrap());
                    (r["id"].as_str().unwrap().to_owned(), enc)
                })
                .collect();
            // a dictionary of the model's own records, for every other record
            let dict: Vec<u8> = contents
                .iter()
                .take(3)
                .flat_map(|(_, e)| e.content.clone())
                .collect();
            db.execute(
                "INSERT INTO dictionaries (integration, model, run_id, dict) VALUES ('default', ?1, 1, ?2)",
                rusqlite::params![m, dict],
            )
            .unwrap();
            let dict_id = db.last_insert_rowid();
            for (i, (id, enc)) in contents.iter().enumerate() {
                let (dict_col, blob) = if i % 2 == 0 {
                    let mut c = zstd::bulk::Compressor::with_dictionary(-1, &dict).unwrap();
                    (Some(dict_id), c.compress(&enc.content).unwrap())
                } else {
                    (None, zstd::bulk::compress(&enc.content, -1).unwrap())
                };
                let n = db
                    .execute(
                        "UPDATE records SET encoding = 'zstd', dict = ?4, split = ?2, record = ?3 WHERE id = ?1",
                        rusqlite::params![id, enc.split as i64, blob, dict_col],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }
    let mut store = mapper::state::sqlite::SqliteStore::open(&path, "default").unwrap();
    for m in MODELS {
        let mut buf = Vec::new();
        store.export(m, &mut buf).unwrap();
        let exported: Vec<Value> = std::str::from_utf8(&buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected = read(out.path(), m);
        assert_eq!(exported.len(), expected.len(), "{m}");
        for r in exported {
            let key = r["remote_id"].as_str().or(r["id"].as_str()).unwrap();
            assert_eq!(r, expected[key], "{m} {key}");
        }
    }
}

#[tokio::test]
async fn a_database_of_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = mapper::state::sqlite::SqliteStore::open(&path, "default")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("newer mapper"), "{err}");
}

#[tokio::test]
async fn a_stale_snapshot_is_rewritten_by_the_next_run_even_if_it_fails() {
    let server = common::start(Config::default()).await;
    let out = tempfile::tempdir().unwrap();
    sync(&server, out.path()).await;
    let jobs = out.path().join("jobs.ndjson");
    let good = std::fs::read_to_string(&jobs).unwrap();
    // as after a kill between the state's commit and the files' rename
    std::fs::write(&jobs, "").unwrap();
    rusqlite::Connection::open(out.path().join("state.db"))
        .unwrap()
        .execute(
            "UPDATE snapshots SET run_id = NULL WHERE model = 'jobs'",
            [],
        )
        .unwrap();
    server.config.lock().unwrap().team_500 = true;
    let r = sync(&server, out.path()).await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(std::fs::read_to_string(&jobs).unwrap(), good);
}
