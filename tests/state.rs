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

/// Starts `mapper run` on the Gem connector against `url` in the background.
fn spawn_gem_run(url: &str, dir: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", GEM, "--base-url", url, "--out"])
        .arg(dir)
        .env("GEM_API_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The newest row of the `runs` table: (status, finished).
fn last_run(out: &Path) -> (String, bool) {
    let conn = rusqlite::Connection::open(out.join("state.db")).unwrap();
    conn.query_row(
        "SELECT status, finished_at IS NOT NULL FROM runs ORDER BY id DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// Waits until the newest run of the state is `running` (the run has begun), up to 20 s.
async fn wait_until_running(out: &Path, before: i64) {
    for _ in 0..400 {
        if let Ok(conn) = rusqlite::Connection::open(out.join("state.db"))
            && let Ok((id, status)) = conn.query_row(
                "SELECT id, status FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            && id > before
            && status == "running"
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the run never started");
}

fn run_count(out: &Path) -> i64 {
    rusqlite::Connection::open(out.join("state.db"))
        .unwrap()
        .query_row("SELECT max(id) FROM runs", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn killed_run_then_rerun_ends_consistent() {
    let sim = gem::start(gem::Size::Full, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = gem_sync(&sim.url(), out.path(), false).await;
    let before = read(out.path(), "candidates");
    let before_file = std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap();
    sim.sim.data.write().unwrap().candidates[0]["title"] = "Principal Engineer".into();
    sim.sim.data.write().unwrap().jobs.remove(0);
    sim.sim
        .delay_ms
        .store(250, std::sync::atomic::Ordering::Relaxed);
    let runs = run_count(out.path());
    let mut child = spawn_gem_run(&sim.url(), out.path());
    // kill once the run has begun and some of its requests were answered
    wait_until_running(out.path(), runs).await;
    let answered = sim.sim.requests.load(std::sync::atomic::Ordering::Relaxed);
    while sim.sim.requests.load(std::sync::atomic::Ordering::Relaxed) < answered + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // the kill landed mid-run: the run began and never finished, its report was never written
    assert_eq!(last_run(out.path()), ("running".to_owned(), false));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["started_at"], first.started_at.as_str());
    // the previous snapshot and state are intact
    let conn = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let deleted: i64 = conn
        .query_row(
            "SELECT count(*) FROM records WHERE model = 'candidates' AND deleted_by = 'absence'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deleted, 0);
    drop(conn);
    assert_eq!(
        std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap(),
        before_file
    );
    // a rerun completes normally, and marks the killed run interrupted in the history
    sim.sim
        .delay_ms
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let r = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let after = read(out.path(), "candidates");
    assert_eq!(after.len(), before.len());
    assert_eq!(after["cd_0"]["title"], "Principal Engineer");
    assert_eq!(r.models["jobs"].deleted, 1);
    let conn = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let statuses: Vec<String> = conn
        .prepare("SELECT status FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses, ["success", "interrupted", "success"]);
}

#[tokio::test]
async fn sigint_stops_the_run_cleanly() {
    let sim = gem::start(gem::Size::Full, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    gem_sync(&sim.url(), out.path(), false).await;
    let before_file = std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap();
    sim.sim.data.write().unwrap().candidates.remove(3);
    sim.sim
        .delay_ms
        .store(250, std::sync::atomic::Ordering::Relaxed);
    let runs = run_count(out.path());
    let child = spawn_gem_run(&sim.url(), out.path());
    wait_until_running(out.path(), runs).await;
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "interrupted");
    assert_eq!(last_run(out.path()), ("interrupted".to_owned(), true));
    assert_eq!(
        std::fs::read_to_string(out.path().join("candidates.ndjson")).unwrap(),
        before_file,
        "the previous output is intact"
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn gem_soft_deleted_job_and_candidate_flag_their_dependents_and_nothing_else() {
    let sim = gem::start(gem::Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    gem_sync(&sim.url(), out.path(), false).await;
    let models = [
        "users",
        "jobs",
        "job_postings",
        "candidates",
        "application_stages",
        "applications",
        "interviews",
        "job_application_stages",
        "job_hiring_team_members",
        "interviewing_team_members",
    ];
    let flagged = |out: &Path| -> std::collections::BTreeSet<(String, String)> {
        models
            .iter()
            .flat_map(|m| {
                read(out, m)
                    .into_iter()
                    .filter(|(_, r)| !r["remote_deleted_at"].is_null())
                    .map(move |(k, _)| (m.to_string(), k))
            })
            .collect()
    };
    let before = flagged(out.path());
    // the vendor soft-deletes a live job, and a live candidate with its applications
    let when = "2025-06-01T00:00:00.000Z";
    let (job, cand, apps) = {
        let mut d = sim.sim.data.write().unwrap();
        let j = d
            .jobs
            .iter_mut()
            .find(|j| j["deleted_at"].is_null())
            .unwrap();
        j["deleted_at"] = when.into();
        let job = j["id"].as_str().unwrap().to_owned();
        let with_apps: std::collections::HashSet<String> = d
            .applications
            .iter()
            .map(|a| a["candidate_id"].as_str().unwrap().to_owned())
            .collect();
        let c = d
            .candidates
            .iter_mut()
            .find(|c| c["deleted_at"].is_null() && with_apps.contains(c["id"].as_str().unwrap()))
            .unwrap();
        c["deleted_at"] = when.into();
        let cand = c["id"].as_str().unwrap().to_owned();
        let mut apps = Vec::new();
        for a in d
            .applications
            .iter_mut()
            .filter(|a| a["candidate_id"] == cand.as_str())
        {
            if a["deleted_at"].is_null() {
                a["deleted_at"] = when.into();
                apps.push(a["id"].as_str().unwrap().to_owned());
            }
        }
        (job, cand, apps)
    };
    let source_before = read(out.path(), "candidates")[&cand]["source"].clone();
    let r = gem_sync(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let jobs = read(out.path(), "jobs");
    let job_uid = jobs[&job]["id"].as_str().unwrap().to_owned();
    let mut expected = before.clone();
    expected.insert(("jobs".into(), job.clone()));
    expected.insert(("candidates".into(), cand.clone()));
    for a in &apps {
        expected.insert(("applications".into(), a.clone()));
    }
    for (k, m) in read(out.path(), "job_hiring_team_members") {
        if m["job_id"] == job_uid.as_str() {
            expected.insert(("job_hiring_team_members".into(), k));
        }
    }
    assert_eq!(
        flagged(out.path()),
        expected,
        "every dependent flagged and nothing else"
    );
    assert_eq!(jobs[&job]["remote_deleted_at"], when);
    // a soft-deleted candidate keeps the source of its earliest application
    let cands = read(out.path(), "candidates");
    assert!(!source_before.is_null());
    assert_eq!(cands[&cand]["source"], source_before);
    println!("newly flagged after soft-deleting job {job} and candidate {cand}:");
    for m in models {
        println!("  {m}: {} of {}", r.models[m].deleted, r.models[m].written);
    }
}

#[tokio::test]
async fn smartrecruiters_removed_job_and_candidate_take_their_dependents_and_nothing_else() {
    let sim = sr::start(sr::Size::Small, KEY, ("c", "s"), false, 0)
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let env = [("SMARTRECRUITERS_API_KEY", KEY)];
    let spec = "connectors/smartrecruiters.yaml";
    let r1 = sync(spec, &sim.url(), out.path(), false, &env).await;
    assert_eq!(r1.status, Status::Success, "{:?}", r1.error);
    let models: Vec<String> = r1.models.keys().cloned().collect();
    let all: HashMap<String, HashMap<String, Value>> = models
        .iter()
        .map(|m| (m.clone(), read(out.path(), m)))
        .collect();
    let (job, cand) = {
        let mut d = sim.sim.data.write().unwrap();
        // a job with postings and a hiring team
        let i = d
            .jobs
            .iter()
            .position(|j| {
                let id = j["id"].as_str().unwrap();
                d.job_ads.get(id).is_some_and(|a| !a.is_empty())
                    && d.hiring_team.get(id).is_some_and(|t| !t.is_empty())
            })
            .unwrap();
        let job = d.jobs.remove(i)["id"].as_str().unwrap().to_owned();
        let cand = d.candidates.remove(0)["id"].as_str().unwrap().to_owned();
        (job, cand)
    };
    let r2 = sync(spec, &sim.url(), out.path(), false, &env).await;
    assert_eq!(r2.status, Status::Success, "{:?}", r2.error);
    // what depends on the job or the candidate: records referring to them, transitively
    let mut closure: std::collections::HashSet<String> = [
        all["jobs"][&job]["id"].as_str().unwrap().to_owned(),
        all["candidates"][&cand]["id"].as_str().unwrap().to_owned(),
    ]
    .into();
    loop {
        let n = closure.len();
        for recs in all.values() {
            for r in recs.values() {
                let refers = r.as_object().unwrap().iter().any(|(k, v)| {
                    k != "id"
                        && k.ends_with("_id")
                        && v.as_str().is_some_and(|s| closure.contains(s))
                });
                if refers {
                    closure.insert(r["id"].as_str().unwrap().to_owned());
                }
            }
        }
        if closure.len() == n {
            break;
        }
    }
    let mut deleted = Vec::new();
    for m in &models {
        for (k, r) in read(out.path(), m) {
            if !r["remote_deleted_at"].is_null() {
                deleted.push((m.clone(), k, r["id"].as_str().unwrap().to_owned()));
            }
        }
    }
    // vocabularies derived from the deleted records may go with them; nothing else does
    for (m, k, id) in &deleted {
        assert!(
            closure.contains(id)
                || ["tags", "screening_questions", "application_stages"].contains(&m.as_str()),
            "{m} {k} was marked deleted but depends on neither the job nor the candidate"
        );
    }
    // and every record fetched for them is deleted
    let is_deleted = |id: &str| deleted.iter().any(|d| d.2 == id);
    for m in [
        "jobs",
        "job_hiring_team_members",
        "job_postings",
        "job_screening_questions",
        "candidates",
        "candidate_tags",
        "applications",
        "interviews",
        "interviewing_team_members",
    ] {
        let dependents: Vec<&Value> = all[m]
            .values()
            .filter(|r| closure.contains(r["id"].as_str().unwrap()))
            .filter(|r| {
                // an application of another candidate to the removed job is still the vendor's
                m != "applications" || r["candidate_id"] == all["candidates"][&cand]["id"]
            })
            .collect();
        assert!(
            !dependents.is_empty() || m == "job_screening_questions",
            "{m} has dependents"
        );
        for r in dependents {
            // interviews and their team follow their application
            let parent_gone = match m {
                "interviews" => is_deleted(r["application_id"].as_str().unwrap_or("")),
                "interviewing_team_members" => is_deleted(r["interview_id"].as_str().unwrap_or("")),
                _ => true,
            };
            if parent_gone {
                assert!(is_deleted(r["id"].as_str().unwrap()), "{m} {r} is deleted");
            }
        }
    }
    let total: u64 = r2.models.values().map(|m| m.deleted).sum();
    assert_eq!(total as usize, deleted.len());
    println!("deleted after removing job {job} and candidate {cand}:");
    for m in &models {
        println!(
            "  {m}: {} of {}",
            r2.models[m].deleted, r2.models[m].written
        );
    }
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
    // the applications model stream sends its filter (the lookup's stream of the same
    // endpoint reads in full, so candidates keep their source)
    assert!(
        log.iter()
            .any(|l| l.starts_with("/ats/v0/applications/") && l.contains("last_activity_after=")),
        "{log:?}"
    );
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

/// The SmartRecruiters simulator (small dataset, limits off).
async fn sr_start() -> sr::Running {
    sr::start(sr::Size::Small, KEY, ("c", "s"), false, 0)
        .await
        .unwrap()
}

const SR: &str = "connectors/smartrecruiters.yaml";

/// A full SmartRecruiters sync against the simulator.
async fn sr_sync(sim: &sr::Running, out: &Path) -> Report {
    sync(
        SR,
        &sim.url(),
        out,
        false,
        &[("SMARTRECRUITERS_API_KEY", KEY)],
    )
    .await
}

#[tokio::test]
async fn a_record_mapped_from_the_same_source_is_not_mapped_again() {
    let sim = sr_start().await;
    let out = tempfile::tempdir().unwrap();
    let r1 = sr_sync(&sim, out.path()).await;
    assert_eq!(r1.status, Status::Success, "{:?}", r1.error);
    let n = r1.models["candidates"].written;
    let first = read(out.path(), "candidates");
    // break every stored content hash: only a record mapped again compares with it
    let db = rusqlite::Connection::open(out.path().join("state.db")).unwrap();
    let fingerprinted: i64 = db
        .query_row(
            "SELECT count(source_fp) FROM records WHERE model = 'candidates'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        fingerprinted as u64, n,
        "every candidate has its source's fingerprint"
    );
    db.execute("UPDATE records SET hash = 0 WHERE model = 'candidates'", [])
        .unwrap();
    // a record mapped again compares with its stored version: its content is the same (in
    // whatever member order), so it is unchanged, and its stored hash is rewritten
    let broken = || -> u64 {
        db.query_row(
            "SELECT count(*) FROM records WHERE model = 'candidates' AND hash = 0",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
    };
    let r2 = sr_sync(&sim, out.path()).await;
    let c = &r2.models["candidates"];
    assert_eq!(
        (c.unchanged, c.updated),
        (n, 0),
        "no candidate was mapped again"
    );
    assert_eq!(broken(), n, "no stored hash was compared");
    assert_eq!(read(out.path(), "candidates"), first);

    // a candidate the vendor changed is mapped again, and only that one
    let changed = {
        let mut d = sim.sim.data.write().unwrap();
        d.candidates[0]["firstName"] = "Changed".into();
        d.candidates[0]["id"].as_str().unwrap().to_owned()
    };
    let r3 = sr_sync(&sim, out.path()).await;
    let c = &r3.models["candidates"];
    assert_eq!((c.unchanged, c.updated), (n - 1, 1));
    assert_eq!(
        broken(),
        n - 1,
        "only the changed candidate was mapped again"
    );
    assert_eq!(
        read(out.path(), "candidates")[&changed]["first_name"],
        "Changed"
    );

    // a connector that changes in any setting maps everything again
    let (mut s, map, file) = mapper::spec::load_file(Path::new(SR)).unwrap();
    s.title = Some("SmartRecruiters, retitled".into());
    let plan = mapper::compile::compile(&s, &map, &file).unwrap();
    let mut o = RunOptions::new(out.path().to_path_buf());
    o.base_url = Some(url::Url::parse(&sim.url()).unwrap());
    o.env = [("SMARTRECRUITERS_API_KEY".to_owned(), KEY.to_owned())].into();
    let r4 = run(Arc::new(plan), o).await.unwrap();
    let c = &r4.models["candidates"];
    assert_eq!((c.unchanged, c.updated), (n, 0), "the same content");
    assert_eq!(broken(), 0, "mapped again, every stored version compared");
    assert_eq!(r4.models.values().map(|m| m.deleted).sum::<u64>(), 0);
}

#[tokio::test]
async fn a_record_deleted_by_absence_and_back_unchanged_is_live_again() {
    let sim = sr_start().await;
    let out = tempfile::tempdir().unwrap();
    sr_sync(&sim, out.path()).await;
    let gone = sim.sim.data.write().unwrap().candidates.pop().unwrap();
    let id = gone["id"].as_str().unwrap().to_owned();
    let r2 = sr_sync(&sim, out.path()).await;
    assert_eq!(r2.models["candidates"].deleted, 1);
    assert!(!read(out.path(), "candidates")[&id]["remote_deleted_at"].is_null());
    sim.sim.data.write().unwrap().candidates.push(gone);
    let r3 = sr_sync(&sim, out.path()).await;
    let c = &r3.models["candidates"];
    assert_eq!((c.updated, c.deleted), (0, 0));
    assert!(read(out.path(), "candidates")[&id]["remote_deleted_at"].is_null());
}
