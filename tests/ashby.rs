//! The Ashby connector against the Ashby simulator: POST bodies with body cursors, counts
//! that need every page, references, stable ids, sync tokens and their expiry, errors inside
//! 200 answers, deletions by absence, auth failure, rate limits, the sandbox, a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::ashby::{self, Dataset, Size};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/ashby.yaml";
const KEY: &str = "ashby-test-key";

async fn run_ashby(url: &str, out: &Path, delta: bool) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = [("ASHBY_API_KEY".to_owned(), KEY.to_owned())].into();
    o.delta = delta;
    run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap()
}

const MODELS: &[&str] = &[
    "users",
    "jobs",
    "job_postings",
    "screening_questions",
    "job_screening_questions",
    "candidates",
    "tags",
    "candidate_tags",
    "application_stages",
    "job_application_stages",
    "applications",
    "interviews",
    "interviewing_team_members",
    "job_hiring_team_members",
    "offers",
    "rejection_reasons",
];

fn s(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

fn form_fields(p: &Value) -> Vec<&Value> {
    p["applicationFormDefinition"]["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["fields"].as_array().into_iter().flatten())
        .collect()
}

/// The number of records each model should have, from the simulator's dataset.
fn expected_counts(d: &Dataset) -> Vec<(&'static str, usize)> {
    let postings = d.published_postings();
    let questions: HashSet<String> = postings
        .iter()
        .flat_map(|p| form_fields(p))
        .map(|f| s(&f["field"]["id"]))
        .collect();
    let job_questions: HashSet<(String, String)> = postings
        .iter()
        .flat_map(|p| {
            form_fields(p)
                .into_iter()
                .map(|f| (s(&p["jobId"]), s(&f["field"]["id"])))
        })
        .collect();
    let pairs = |rows: &[Value], list: &str, id: &str| -> usize {
        rows.iter()
            .flat_map(|r| {
                r[list]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |t| (s(&r["id"]), s(&t[id])))
            })
            .collect::<HashSet<_>>()
            .len()
    };
    let roles = [
        "Hiring Manager",
        "Recruiter",
        "Recruiting Coordinator",
        "Sourcer",
    ];
    let team: HashSet<(String, String)> = d
        .jobs
        .iter()
        .flat_map(|j| {
            j["hiringTeam"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| roles.contains(&m["role"].as_str().unwrap_or("")))
                .map(move |m| (s(&j["id"]), s(&m["userId"])))
        })
        .collect();
    let interviewers: HashSet<(String, String)> = d
        .events()
        .into_iter()
        .flat_map(|e| {
            e["interviewerUserIds"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |u| (s(&e["id"]), s(u)))
        })
        .collect();
    let job_stages: usize = d
        .jobs
        .iter()
        .map(|j| {
            d.interview_stages
                .iter()
                .filter(|st| st["interviewPlanId"] == j["defaultInterviewPlanId"])
                .count()
        })
        .sum();
    vec![
        ("users", d.users.len()),
        ("jobs", d.jobs.len()),
        ("job_postings", postings.len()),
        ("screening_questions", questions.len()),
        ("job_screening_questions", job_questions.len()),
        ("candidates", d.candidates.len()),
        ("tags", d.candidate_tags.len()),
        ("candidate_tags", pairs(&d.candidates, "tags", "id")),
        ("application_stages", d.interview_stages.len()),
        ("job_application_stages", job_stages),
        ("applications", d.applications.len()),
        ("interviews", d.events().len()),
        ("interviewing_team_members", interviewers.len()),
        ("job_hiring_team_members", team.len()),
        ("offers", d.offers.len()),
        ("rejection_reasons", d.archive_reasons.len()),
    ]
}

const REFS: &[(&str, &str, &str)] = &[
    ("applications", "job_id", "jobs"),
    ("applications", "candidate_id", "candidates"),
    ("applications", "current_stage_id", "application_stages"),
    ("interviews", "application_id", "applications"),
    ("interviews", "stage_id", "application_stages"),
    ("job_postings", "job_id", "jobs"),
    ("job_screening_questions", "job_id", "jobs"),
    (
        "job_screening_questions",
        "question_id",
        "screening_questions",
    ),
    ("job_application_stages", "job_id", "jobs"),
    ("job_application_stages", "stage_id", "application_stages"),
    ("job_hiring_team_members", "job_id", "jobs"),
    ("job_hiring_team_members", "user_id", "users"),
    ("interviewing_team_members", "interview_id", "interviews"),
    ("interviewing_team_members", "user_id", "users"),
    ("candidate_tags", "candidate_id", "candidates"),
    ("candidate_tags", "tag_id", "tags"),
    ("offers", "application_id", "applications"),
];

#[tokio::test]
async fn full_size_run_is_valid_complete_and_consistent() {
    let sim = ashby::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let d = sim.sim.data().clone();
    assert!(d.applications.len() > 100, "more than one page");
    for (model, n) in expected_counts(&d) {
        assert_eq!(read(out.path(), model).len(), n, "{model}");
        assert_eq!(report.models[model].invalid, 0, "{model}");
    }
    assert_valid_and_unique(out.path(), MODELS);
    assert_references_resolve(out.path(), REFS);

    // every request was a POST with a JSON object body; cursors only after the first page
    for r in sim.sim.log() {
        assert_eq!(r.method, "POST", "{}", r.path);
        assert!(r.json().is_object(), "{} {}", r.path, r.body);
        assert!(r.json().get("cursor").is_none_or(|c| c.is_string()));
    }

    // the mapping table's rules, record by record
    let jobs = by_remote(&read(out.path(), "jobs"));
    for j in &d.jobs {
        let r = &jobs[&s(&j["id"])];
        let p = d.posting_of_job(j["id"].as_str().unwrap());
        let want_vis = p.map(|p| {
            if p["isListed"] == true {
                "PUBLIC"
            } else {
                "UNLISTED"
            }
        });
        assert_eq!(r["visibility"].as_str(), want_vis, "{}", j["id"]);
        assert_eq!(r["status"], j["status"].as_str().unwrap().to_uppercase());
        assert_eq!(r["job_code"], j["customRequisitionId"]);
    }
    let apps = by_remote(&read(out.path(), "applications"));
    let mut outcomes = HashSet::new();
    for a in &d.applications {
        let r = &apps[&s(&a["id"])];
        let want = match a["status"].as_str().unwrap() {
            "Hired" => "HIRED",
            "Archived" => "DECLINED",
            _ => "PENDING",
        };
        assert_eq!(r["outcome"], want);
        assert_eq!(r["rejection_reason_name"], a["archiveReason"]["text"]);
        outcomes.insert(want);
    }
    assert_eq!(outcomes.len(), 3);
    let cands = by_remote(&read(out.path(), "candidates"));
    for c in &d.candidates {
        let r = &cands[&s(&c["id"])];
        let name = c["name"].as_str().unwrap();
        let (first, last) = name
            .split_once(' ')
            .map_or((name, None), |(f, l)| (f, Some(l)));
        assert_eq!(r["first_name"], first, "{name}");
        assert_eq!(r["last_name"].as_str(), last, "{name}");
        assert_eq!(r["source"], c["source"]["title"]);
    }
}

#[tokio::test]
async fn ids_are_identical_across_two_runs() {
    let sim = ashby::start(Size::Small, KEY, false, 0).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_ashby(&sim.url(), a.path(), false).await;
    run_ashby(&sim.url(), b.path(), false).await;
    support::assert_same_ids(a.path(), b.path(), MODELS);
}

#[tokio::test]
async fn delta_sends_the_sync_tokens_and_an_expired_token_falls_back_to_a_full_listing() {
    let sim = ashby::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let cand = sim.sim.data().candidates[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sim.sim.touch("candidate", &cand));
    sim.sim.clear_log();
    let r = run_ashby(&sim.url(), out.path(), true).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    for p in [
        "/user.list",
        "/job.list",
        "/candidate.list",
        "/candidateTag.list",
        "/application.list",
        "/interviewSchedule.list",
        "/offer.list",
    ] {
        let bodies = sim.sim.bodies(p);
        assert!(bodies[0]["syncToken"].is_string(), "{p}: {bodies:?}");
    }
    assert_eq!(
        r.models["candidates"].written, 1,
        "only the touched candidate"
    );

    // 31 days later every token has expired: the run lists everything again
    sim.sim.advance(std::time::Duration::from_secs(31 * 86_400));
    sim.sim.clear_log();
    let r = run_ashby(&sim.url(), out.path(), true).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let bodies = sim.sim.bodies("/candidate.list");
    assert!(bodies[0]["syncToken"].is_string());
    assert!(
        bodies.iter().any(|b| b.get("syncToken").is_none()),
        "{bodies:?}"
    );
    assert_eq!(
        r.models["candidates"].written as usize,
        sim.sim.data().candidates.len()
    );
}

#[tokio::test]
async fn an_error_inside_a_200_answer_fails_the_run_and_deletes_nothing() {
    let sim = ashby::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    // the third page of applications answers success: false
    sim.sim
        .inject_failure("/application.list", "internal_error", 2);
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_ne!(r.status, Status::Success);
    let err = r.error.unwrap_or_default();
    assert!(err.contains("/application.list"), "{err}");
    for m in MODELS {
        assert!(
            read(out.path(), m)
                .iter()
                .all(|r| r["remote_deleted_at"].is_null()),
            "{m}"
        );
    }
}

#[tokio::test]
async fn a_deletion_between_two_full_syncs_reaches_the_record_and_its_dependents() {
    let sim = ashby::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let cand = sim
        .sim
        .data()
        .candidates
        .iter()
        .find(|c| !c["applicationIds"].as_array().unwrap().is_empty())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = sim.sim.delete("candidate", &cand);
    let gone_apps: Vec<&String> = gone
        .iter()
        .filter(|(r, _)| r == "application")
        .map(|(_, id)| id)
        .collect();
    assert!(!gone_apps.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let cands = by_remote(&read(out.path(), "candidates"));
    assert!(!cands[&cand]["remote_deleted_at"].is_null());
    let apps = by_remote(&read(out.path(), "applications"));
    for a in &gone_apps {
        assert!(!apps[*a]["remote_deleted_at"].is_null(), "application {a}");
    }
    let deleted = apps
        .values()
        .filter(|a| !a["remote_deleted_at"].is_null())
        .count();
    assert_eq!(deleted, gone_apps.len(), "nothing else is deleted");
}

#[tokio::test]
async fn wrong_key_fails_with_exit_1() {
    let sim = ashby::start(Size::Small, KEY, false, 0).await.unwrap();
    let (code, stderr) = support::run_with_wrong_key(SPEC, &sim.url(), "ASHBY_API_KEY").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
}

#[tokio::test]
async fn the_rate_limited_simulator_is_handled() {
    // the one test with the simulator's limit on (10 requests/s), small dataset
    let sim = ashby::start(Size::Small, KEY, true, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(
        read(out.path(), "applications").len(),
        sim.sim.data().applications.len()
    );
}

#[test]
fn sandbox_runs_offline_on_a_realistic_dataset() {
    let report = support::sandbox_report(SPEC, "ASHBY_API_KEY");
    for m in MODELS {
        assert!(report["models"][m]["written"].as_u64().unwrap() > 0, "{m}");
    }
    assert!(
        report["models"]["applications"]["written"]
            .as_u64()
            .unwrap()
            >= 1000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_sandbox_cassette_is_the_simulators_data() {
    let sim = ashby::start(Size::Full, KEY, false, 0).await.unwrap();
    sim.sim.freeze_clock();
    support::assert_cassette_fresh(
        Path::new(SPEC),
        &sim.url(),
        ("ASHBY_API_KEY", KEY),
        "connectors/ashby.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = ashby::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_ashby(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("ashby_small_unified_output", all);
}
