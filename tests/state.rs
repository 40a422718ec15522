//! Sync state between runs (Gem and SmartRecruiters against their simulators, whose data
//! the tests change): stable ids and changed_at, edits, removals, returns, failed and killed
//! runs, delta syncs, and integrations.

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::{gem, smartrecruiters as sr};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

const GEM: &str = "connectors/gem.yaml";
const KEY: &str = "state-key";

async fn sync(spec: &str, url: &str, out: &Path, delta: bool, env: &[(&str, &str)]) -> Report {
    // two runs in one millisecond would share a timestamp
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o.delta = delta;
    run(Arc::new(compile_file(Path::new(spec)).unwrap()), o)
        .await
        .unwrap()
}

async fn gem_sync(url: &str, out: &Path, delta: bool) -> Report {
    sync(GEM, url, out, delta, &[("GEM_API_KEY", KEY)]).await
}

fn read(out: &Path, model: &str) -> HashMap<String, Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            (
                r["remote_id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| r["id"].as_str().unwrap().to_owned()),
                r,
            )
        })
        .collect()
}

#[tokio::test]
async fn unchanged_sync_keeps_ids_and_changed_at() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(first.status, Status::Success);
    let before: HashMap<&str, HashMap<String, Value>> = [
        "jobs",
        "candidates",
        "applications",
        "job_hiring_team_members",
    ]
    .iter()
    .map(|m| (*m, read(out.path(), m)))
    .collect();
    let second = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(second.status, Status::Success);
    for (m, recs) in &before {
        let after = read(out.path(), m);
        assert_eq!(after.len(), recs.len(), "{m}");
        for (k, r) in recs {
            assert_eq!(after[k]["id"], r["id"], "{m} {k}");
            assert_eq!(
                after[k]["changed_at"], r["changed_at"],
                "{m} {k}: an unchanged record keeps changed_at"
            );
        }
        let rep = &second.models[*m];
        assert_eq!((rep.created, rep.updated, rep.deleted), (0, 0, 0), "{m}");
        assert_eq!(rep.unchanged as usize, recs.len(), "{m}");
    }
    assert!(out.path().join("state.db").exists());
}

#[tokio::test]
async fn edits_removals_additions_and_returns() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    gem_sync(&sim.url(), out.path(), false).await;
    let run1 = read(out.path(), "candidates");
    let (edited, removed) = ("cd_0".to_owned(), "cd_1".to_owned());
    let removed_row = {
        let mut d = sim.sim.data.write().unwrap();
        d.candidates[0]["first_name"] = "Édith".into();
        let i = d
            .candidates
            .iter()
            .position(|c| c["id"] == removed.as_str())
            .unwrap();
        let row = d.candidates.remove(i);
        let mut new = row.clone();
        new["id"] = "cd_new".into();
        d.candidates.push(new);
        row
    };
    let r2 = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(r2.status, Status::Success);
    let run2 = read(out.path(), "candidates");
    // edited: a later changed_at
    assert_eq!(run2[&edited]["first_name"], "Édith");
    assert!(run2[&edited]["changed_at"].as_str() > run1[&edited]["changed_at"].as_str());
    // removed: remote_deleted_at, everything else kept
    assert_eq!(
        run2[&removed]["remote_deleted_at"].as_str(),
        Some(r2.started_at.as_str())
    );
    let mut a = run1[&removed].clone();
    let mut b = run2[&removed].clone();
    a["remote_deleted_at"] = Value::Null;
    b["remote_deleted_at"] = Value::Null;
    assert_eq!(a, b);
    // new: appears
    assert!(run2["cd_new"]["remote_deleted_at"].is_null());
    let rep = &r2.models["candidates"];
    assert_eq!((rep.created, rep.updated, rep.deleted), (1, 1, 1));
    // the removed one returns: undeleted, changed_at as before
    sim.sim
        .data
        .write()
        .unwrap()
        .candidates
        .insert(1, removed_row);
    gem_sync(&sim.url(), out.path(), false).await;
    let run3 = read(out.path(), "candidates");
    assert!(run3[&removed]["remote_deleted_at"].is_null());
    assert_eq!(run3[&removed]["changed_at"], run1[&removed]["changed_at"]);
}

#[tokio::test]
async fn failed_run_marks_nothing_deleted() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    gem_sync(&sim.url(), out.path(), false).await;
    let job = {
        let mut d = sim.sim.data.write().unwrap();
        d.jobs.remove(0)["id"].as_str().unwrap().to_owned()
    };
    sim.sim
        .failing
        .lock()
        .unwrap()
        .insert("applications".into());
    let url = sim.url();
    let dir = out.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
            .args(["run", GEM, "--base-url", &url, "--out"])
            .arg(&dir)
            .env("GEM_API_KEY", KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let jobs = read(out.path(), "jobs");
    assert!(
        jobs[&job]["remote_deleted_at"].is_null(),
        "a failed run marks nothing deleted"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "failed");
    assert!(
        report["models"]
            .as_object()
            .unwrap()
            .values()
            .all(|m| m["deleted"] == 0)
    );
    // once the endpoint works again, the job is found deleted
    sim.sim.failing.lock().unwrap().clear();
    gem_sync(&sim.url(), out.path(), false).await;
    assert!(read(out.path(), "jobs")[&job]["remote_deleted_at"].is_string());
}

#[tokio::test]
async fn killed_run_then_rerun_ends_consistent() {
    let sim = gem::start(gem::Size::Full, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    gem_sync(&sim.url(), out.path(), false).await;
    let before = read(out.path(), "candidates");
    sim.sim.data.write().unwrap().candidates[0]["title"] = "Principal Engineer".into();
    sim.sim
        .delay_ms
        .store(250, std::sync::atomic::Ordering::Relaxed);
    let (url, dir) = (sim.url(), out.path().to_path_buf());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", GEM, "--base-url", &url, "--out"])
        .arg(&dir)
        .env("GEM_API_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // the previous snapshot and state are intact
    let conn = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM records WHERE model = 'candidates'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n as usize, before.len());
    drop(conn);
    // a rerun completes normally
    sim.sim
        .delay_ms
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let r = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let after = read(out.path(), "candidates");
    assert_eq!(after.len(), before.len());
    assert_eq!(after["cd_0"]["title"], "Principal Engineer");
    assert!(after.values().all(|c| c["remote_deleted_at"].is_null()
        == before[c["remote_id"].as_str().unwrap()]["remote_deleted_at"].is_null()));
}

#[tokio::test]
async fn delta_sends_the_filter_and_deletes_nothing() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = gem_sync(&sim.url(), out.path(), false).await;
    let removed = {
        let mut d = sim.sim.data.write().unwrap();
        d.candidates.remove(0)["id"].as_str().unwrap().to_owned()
    };
    sim.sim.log.lock().unwrap().clear();
    let r = gem_sync(&sim.url(), out.path(), true).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(r.mode, "delta");
    let log = sim.sim.log.lock().unwrap().clone();
    let cand = log
        .iter()
        .find(|l| l.starts_with("/ats/v0/candidates/"))
        .unwrap();
    assert!(cand.contains("updated_after="), "{cand}");
    let apps = log
        .iter()
        .find(|l| l.starts_with("/ats/v0/applications/"))
        .unwrap();
    assert!(apps.contains("last_activity_after="), "{apps}");
    // the filter is the last sync's start minus the overlap
    let since = cand
        .split("updated_after=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .replace("%3A", ":");
    assert!(since.as_str() < first.started_at.as_str());
    let cands = read(out.path(), "candidates");
    assert!(
        cands[&removed]["remote_deleted_at"].is_null(),
        "delta deletes nothing"
    );
    assert_eq!(r.models.values().map(|m| m.deleted).sum::<u64>(), 0);
}

#[tokio::test]
async fn integrations_do_not_share_ids() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let state = out.path().join("shared.db");
    let mut ids = Vec::new();
    for integration in ["tenant-a", "tenant-b"] {
        let dir = out.path().join(integration);
        let mut o = RunOptions::new(dir.clone());
        o.base_url = Some(url::Url::parse(&sim.url()).unwrap());
        o.env = [("GEM_API_KEY".to_owned(), KEY.to_owned())].into();
        o.integration = integration.into();
        o.state = Some(state.clone());
        let r = run(Arc::new(compile_file(Path::new(GEM)).unwrap()), o)
            .await
            .unwrap();
        assert_eq!(r.status, Status::Success);
        assert!(
            r.models["jobs"].created > 0,
            "each integration has its own state"
        );
        ids.push(
            read(&dir, "jobs")
                .values()
                .map(|j| j["id"].as_str().unwrap().to_owned())
                .collect::<std::collections::HashSet<_>>(),
        );
    }
    assert!(ids[0].is_disjoint(&ids[1]));
}

#[tokio::test]
async fn smartrecruiters_unchanged_sync_keeps_changed_at_and_delta_deletes_nothing() {
    let sim = sr::start(sr::Size::Small, KEY, ("c", "s"), false, 0)
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let env = [("SMARTRECRUITERS_API_KEY", KEY)];
    let spec = "connectors/smartrecruiters.yaml";
    let r1 = sync(spec, &sim.url(), out.path(), false, &env).await;
    assert_eq!(r1.status, Status::Success, "{:?}", r1.error);
    let before = read(out.path(), "applications");
    let r2 = sync(spec, &sim.url(), out.path(), false, &env).await;
    assert_eq!(r2.status, Status::Success);
    let after = read(out.path(), "applications");
    for (k, r) in &before {
        assert_eq!(after[k]["changed_at"], r["changed_at"]);
    }
    assert_eq!(r2.models["applications"].unchanged as usize, before.len());
    let r3 = sync(spec, &sim.url(), out.path(), true, &env).await;
    assert_eq!(r3.status, Status::Success);
    assert_eq!(r3.models.values().map(|m| m.deleted).sum::<u64>(), 0);
}
