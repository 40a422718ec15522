//! The Gem connector against the Gem simulator: validity, counts, references, stable ids,
//! each coverage-note rule, auth failure, rate limiting, the sandbox, and a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::gem::{self, Size};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/gem.yaml";
const KEY: &str = "gem-test-key";

async fn run_gem(url: &str, out: &Path) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = [("GEM_API_KEY".to_owned(), KEY.to_owned())].into();
    run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap()
}

const MODELS: &[&str] = &[
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

struct Full {
    data: gem::Dataset,
    out: tempfile::TempDir,
    report: Report,
}

async fn full_run() -> Full {
    let sim = gem::start(Size::Full, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_gem(&sim.url(), out.path()).await;
    let data = sim.sim.data.read().unwrap().clone();
    Full { data, out, report }
}

#[tokio::test]
async fn full_size_run_is_valid_complete_and_consistent() {
    let f = full_run().await;
    assert_eq!(f.report.status, Status::Success, "{:?}", f.report.error);
    let out = f.out.path();
    // counts equal the simulator's (soft-deleted rows included)
    let d = &f.data;
    let expect = [
        ("users", d.users.len()),
        ("jobs", d.jobs.len()),
        ("job_postings", d.job_posts.len()),
        ("candidates", d.candidates.len()),
        ("application_stages", d.job_stages.len()),
        ("applications", d.applications.len()),
        ("interviews", d.scheduled_interviews.len()),
        ("job_application_stages", d.job_stages.len()),
        (
            "interviewing_team_members",
            d.scheduled_interviews
                .iter()
                .map(|i| i["interviewers"].as_array().unwrap().len())
                .sum(),
        ),
    ];
    for (model, n) in expect {
        assert_eq!(read(out, model).len(), n, "{model}");
        assert_eq!(f.report.models[model].written as usize, n, "{model}");
        assert_eq!(f.report.models[model].invalid, 0, "{model}");
    }
    let team: HashSet<(String, String)> = d
        .jobs
        .iter()
        .flat_map(|j| {
            ["hiring_managers", "recruiters", "coordinators", "sourcers"]
                .iter()
                .flat_map(move |r| {
                    j["hiring_team"][r]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(move |u| {
                            (
                                j["id"].as_str().unwrap().to_owned(),
                                u["id"].as_str().unwrap().to_owned(),
                            )
                        })
                })
        })
        .collect();
    assert_eq!(read(out, "job_hiring_team_members").len(), team.len());

    // every record is valid against its schema; ids are unique; every reference resolves
    assert_valid_and_unique(out, MODELS);
    let refs: &[(&str, &str, &str)] = &[
        ("applications", "job_id", "jobs"),
        ("applications", "candidate_id", "candidates"),
        ("applications", "current_stage_id", "application_stages"),
        ("interviews", "application_id", "applications"),
        ("interviews", "stage_id", "application_stages"),
        ("job_postings", "job_id", "jobs"),
        ("job_application_stages", "job_id", "jobs"),
        ("job_application_stages", "stage_id", "application_stages"),
        ("job_hiring_team_members", "job_id", "jobs"),
        ("job_hiring_team_members", "user_id", "users"),
        ("interviewing_team_members", "interview_id", "interviews"),
        ("interviewing_team_members", "user_id", "users"),
    ];
    assert_references_resolve(out, refs);
}

#[tokio::test]
async fn ids_are_identical_across_two_runs() {
    let sim = gem::start(Size::Full, KEY, None, 0).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_gem(&sim.url(), a.path()).await;
    run_gem(&sim.url(), b.path()).await;
    support::assert_same_ids(a.path(), b.path(), MODELS);
}

#[tokio::test]
async fn coverage_rules() {
    let f = full_run().await;
    let out = f.out.path();
    let d = &f.data;
    let jobs = by_remote(&read(out, "jobs"));
    let cands = by_remote(&read(out, "candidates"));
    let apps = by_remote(&read(out, "applications"));

    // location = first office, department = first department; all of both in custom_fields
    let mut multi = 0;
    for j in &d.jobs {
        let u = &jobs[j["id"].as_str().unwrap()];
        let offices = j["offices"].as_array().unwrap();
        let depts = j["departments"].as_array().unwrap();
        assert_eq!(u["location"]["raw"], offices[0]["location"]["name"]);
        assert_eq!(u["department"], depts[0]["name"]);
        let names = |a: &[Value]| a.iter().map(|o| o["name"].clone()).collect::<Vec<_>>();
        assert_eq!(u["custom_fields"]["offices"], Value::Array(names(offices)));
        assert_eq!(
            u["custom_fields"]["departments"],
            Value::Array(names(depts))
        );
        assert_eq!(
            u["custom_fields"]["employment_type"],
            j["custom_fields"]["employment_type"]
        );
        if offices.len() > 1 && depts.len() > 1 {
            multi += 1;
        }
        // confidential from job.confidential
        assert_eq!(u["confidential"], j["confidential"]);
    }
    assert!(multi > 0);

    // description and post_url from the most recent live and active post
    let mut with_post = 0;
    for j in &d.jobs {
        let id = j["id"].as_str().unwrap();
        let best = d
            .job_posts
            .iter()
            .filter(|p| {
                p["job_id"] == id
                    && p["live"] == true
                    && p["active"] == true
                    && p["deleted_at"].is_null()
            })
            .max_by_key(|p| {
                (
                    p["created_at"].as_str().unwrap().to_owned(),
                    p["id"].as_str().unwrap().to_owned(),
                )
            });
        let u = &jobs[id];
        match best {
            Some(p) => {
                with_post += 1;
                assert_eq!(u["description"], p["content"], "{id}");
                assert_eq!(u["post_url"], p["absolute_url"], "{id}");
            }
            None => assert!(
                u["description"].is_null() && u["post_url"].is_null(),
                "{id}"
            ),
        }
    }
    assert!(with_post > 0);
    assert!(
        d.job_posts.iter().filter(|p| p["live"] == true).count() > with_post,
        "some jobs have several live posts"
    );

    // candidate source = the earliest live application's source, or the earliest
    // application's when all are soft-deleted (as a soft-deleted candidate's are); each
    // application keeps its own
    let mut soft_deleted_with_source = 0;
    for c in &d.candidates {
        let id = c["id"].as_str().unwrap();
        let earliest = d
            .applications
            .iter()
            .filter(|a| a["candidate_id"] == id)
            .min_by_key(|a| {
                (
                    !a["deleted_at"].is_null(),
                    a["applied_at"].as_str().unwrap().to_owned(),
                    a["id"].as_str().unwrap().to_owned(),
                )
            });
        if !c["deleted_at"].is_null() && earliest.is_some() {
            soft_deleted_with_source += 1;
        }
        assert_eq!(
            cands[id]["source"],
            earliest
                .map(|a| a["source"]["public_name"].clone())
                .unwrap_or(Value::Null),
            "{id}"
        );
        // confidential from is_private
        assert_eq!(cands[id]["confidential"], c["is_private"]);
    }
    assert!(
        soft_deleted_with_source > 0,
        "soft-deleted candidates keep the source of their (soft-deleted) applications"
    );
    for a in &d.applications {
        assert_eq!(
            apps[a["id"].as_str().unwrap()]["custom_fields"]["source"],
            a["source"]["public_name"]
        );
    }

    // soft-deleted rows are records with remote_deleted_at = deleted_at
    for (model, rows) in [
        ("jobs", &d.jobs),
        ("candidates", &d.candidates),
        ("applications", &d.applications),
        ("users", &d.users),
    ] {
        let recs = by_remote(&read(out, model));
        let deleted: Vec<&Value> = rows.iter().filter(|r| !r["deleted_at"].is_null()).collect();
        assert!(!deleted.is_empty(), "{model}");
        for r in deleted {
            assert_eq!(
                recs[r["id"].as_str().unwrap()]["remote_deleted_at"],
                r["deleted_at"],
                "{model}"
            );
        }
    }

    // an interview's stage is the stage whose plan holds its interview definition
    let stages = by_remote(&read(out, "application_stages"));
    for si in d.scheduled_interviews.iter().take(200) {
        let stage = d
            .job_stages
            .iter()
            .find(|s| {
                s["interviews"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|iv| iv["id"] == si["interview"]["id"])
            })
            .unwrap();
        let u = &by_remote(&read(out, "interviews"))[si["id"].as_str().unwrap()];
        assert_eq!(u["stage_id"], stages[stage["id"].as_str().unwrap()]["id"]);
    }

    // job stages: index from priority
    let jas = read(out, "job_application_stages");
    let s0 = d.job_stages.iter().find(|s| s["priority"] == 2).unwrap();
    let rec = jas
        .iter()
        .find(|r| r["stage_id"] == stages[s0["id"].as_str().unwrap()]["id"])
        .unwrap();
    assert_eq!(rec["index"], 2);
    assert_eq!(rec["job_id"], jobs[s0["job_id"].as_str().unwrap()]["id"]);

    // hiring team: one member per user with all their roles
    let team = read(out, "job_hiring_team_members");
    assert!(
        team.iter()
            .any(|m| m["roles"] == json!(["HIRING_MANAGER", "RECRUITER"]))
    );
}

#[tokio::test]
async fn wrong_key_fails_with_exit_1_naming_the_401() {
    let sim = gem::start(Size::Small, KEY, None, 0).await.unwrap();
    let (code, stderr) = support::run_with_wrong_key(SPEC, &sim.url(), "GEM_API_KEY").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("/ats/v0/"),
        "{stderr}"
    );
}

#[tokio::test]
async fn rate_limited_simulator_is_handled() {
    // at the declared 20 requests/s the simulator never has to refuse
    let sim = gem::start(Size::Full, KEY, Some(20), 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gem(&sim.url(), out.path()).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(
        sim.sim
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // a stricter tenant (3/s) answers 429s; the run waits for Retry-After and completes
    let sim = gem::start(Size::Full, KEY, Some(3), 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gem(&sim.url(), out.path()).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert!(
        sim.sim
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the simulator did refuse some requests"
    );
    assert!(r.retries > 0);
    assert_eq!(read(out.path(), "applications").len(), 1000);
}

#[test]
fn sandbox_runs_offline_on_a_realistic_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", SPEC, "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove("GEM_API_KEY")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("interviewing_team_members"), "{stdout}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert!(report["models"]["jobs"]["written"].as_u64().unwrap() >= 50);
    assert!(report["models"]["candidates"]["written"].as_u64().unwrap() >= 500);
    assert!(
        report["models"]["applications"]["written"]
            .as_u64()
            .unwrap()
            >= 1000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_sandbox_cassette_is_the_simulators_data() {
    let sim = gem::start(Size::Full, KEY, None, 0).await.unwrap();
    support::assert_cassette_fresh(
        Path::new(SPEC),
        &sim.url(),
        ("GEM_API_KEY", KEY),
        "connectors/gem.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = gem::start(Size::Small, KEY, None, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gem(&sim.url(), out.path()).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("gem_small_unified_output", all);
}

#[tokio::test]
async fn null_and_empty_vendor_values_are_tolerated() {
    let sim = gem::start(Size::Small, KEY, None, 0).await.unwrap();
    {
        let mut d = sim.sim.data.write().unwrap();
        let j = &mut d.jobs[0];
        for k in [
            "custom_fields",
            "hiring_team",
            "requisition_id",
            "opened_at",
            "confidential",
        ] {
            j[k] = Value::Null;
        }
        j["offices"] = json!([]);
        j["departments"] = json!([]);
        let c = &mut d.candidates[0];
        for k in ["custom_fields", "tags", "company", "created_at"] {
            c[k] = Value::Null;
        }
        c["phone_numbers"] = json!([{"type": null, "value": "+1 555 0100"}]);
        c["social_media_addresses"] = json!([{"value": "@handle"}, {"value": null}]);
        let a = &mut d.applications[0];
        for k in ["source", "credited_to", "current_stage", "rejection_reason"] {
            a[k] = Value::Null;
        }
        d.job_stages[0]["interviews"] = Value::Null;
    }
    let out = tempfile::tempdir().unwrap();
    let r = run_gem(&sim.url(), out.path()).await;
    assert_eq!(
        r.status,
        Status::Success,
        "{:?}",
        r.models
            .values()
            .flat_map(|m| m.invalid_records.clone())
            .collect::<Vec<_>>()
    );
    let cands = by_remote(&read(out.path(), "candidates"));
    let c = &cands["cd_0"];
    assert_eq!(
        c["phone_numbers"],
        json!([{"phone_number": "+1 555 0100", "type": null}])
    );
    assert_eq!(
        c["social_media"],
        json!([{"link": null, "type": null, "username": "@handle"}])
    );
    let jobs = by_remote(&read(out.path(), "jobs"));
    assert!(jobs["jb_0"]["location"].is_null() && jobs["jb_0"]["department"].is_null());
    assert_eq!(jobs["jb_0"]["integration_fields"], json!([]));
}
