//! The Greenhouse connector against the Greenhouse simulator: validity, counts, references,
//! stable ids, coverage rules, deletions by absence, delta filters, auth failure, rate
//! limits, the sandbox, and a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::greenhouse::{self, Dataset, Size};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/greenhouse.yaml";
const KEY: &str = "greenhouse-test-key";

async fn run_gh(url: &str, out: &Path, delta: bool) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = [("GREENHOUSE_API_KEY".to_owned(), KEY.to_owned())].into();
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
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn question_id(q: &Value) -> String {
    q["name"]
        .as_str()
        .unwrap()
        .trim_end_matches("[]")
        .to_owned()
}

fn custom_questions(p: &Value) -> impl Iterator<Item = &Value> {
    p["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["name"].as_str().unwrap().starts_with("question_"))
}

/// The number of records each model should have, from the simulator's dataset.
fn expected_counts(d: &Dataset) -> Vec<(&'static str, usize)> {
    let live = || d.job_posts.iter().filter(|p| p["active"] == true);
    let questions: HashSet<String> = live().flat_map(custom_questions).map(question_id).collect();
    let job_questions: HashSet<(String, String)> = live()
        .filter(|p| !p["job_id"].is_null())
        .flat_map(|p| custom_questions(p).map(move |q| (s(&p["job_id"]), question_id(q))))
        .collect();
    let candidate_tags: HashSet<(String, String)> = d
        .candidates
        .iter()
        .flat_map(|c| {
            c["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |t| (s(&c["id"]), s(t)))
        })
        .collect();
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
                        .map(move |u| (s(&j["id"]), s(&u["id"])))
                })
        })
        .collect();
    let interviewers: HashSet<(String, String)> = d
        .scheduled_interviews
        .iter()
        .flat_map(|i| {
            i["interviewers"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |u| (s(&i["id"]), s(&u["id"])))
        })
        .collect();
    vec![
        ("users", d.users.len()),
        ("jobs", d.jobs.len()),
        ("job_postings", d.job_posts.len()),
        ("screening_questions", questions.len()),
        ("job_screening_questions", job_questions.len()),
        ("candidates", d.candidates.len()),
        ("tags", d.tags.len()),
        ("candidate_tags", candidate_tags.len()),
        ("application_stages", d.job_stages.len()),
        ("job_application_stages", d.job_stages.len()),
        ("applications", d.applications.len()),
        ("interviews", d.scheduled_interviews.len()),
        ("interviewing_team_members", interviewers.len()),
        ("job_hiring_team_members", team.len()),
        ("offers", d.offers.len()),
        (
            "rejection_reasons",
            d.rejection_reasons.len() + d.default_rejection_reasons.len(),
        ),
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
    let sim = greenhouse::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let d = sim.sim.data.read().unwrap().clone();
    assert!(d.jobs.len() >= 50 && d.candidates.len() >= 500 && d.applications.len() >= 1000);
    for (model, n) in expected_counts(&d) {
        assert_eq!(read(out.path(), model).len(), n, "{model}");
        assert_eq!(report.models[model].invalid, 0, "{model}");
    }
    assert_valid_and_unique(out.path(), MODELS);
    assert_references_resolve(out.path(), REFS);

    // the mapping table's rules, record by record
    let jobs = by_remote(&read(out.path(), "jobs"));
    let cands = by_remote(&read(out.path(), "candidates"));
    let apps = by_remote(&read(out.path(), "applications"));
    let offers = by_remote(&read(out.path(), "offers"));
    let posts = by_remote(&read(out.path(), "job_postings"));
    let users = by_remote(&read(out.path(), "users"));
    for u in &d.users {
        let r = &users[&s(&u["id"])];
        assert_eq!(r["email"], u["primary_email_address"]);
        let want = if u["disabled"] == true {
            "INACTIVE"
        } else {
            "ACTIVE"
        };
        assert_eq!(r["status"], want);
    }
    for j in &d.jobs {
        let r = &jobs[&s(&j["id"])];
        assert_eq!(r["job_code"], j["requisition_id"]);
        assert_eq!(r["status"], j["status"].as_str().unwrap().to_uppercase());
        assert_eq!(r["department"], j["departments"][0]["name"]);
        assert_eq!(r["location"]["raw"], j["offices"][0]["location"]["name"]);
        let best = d
            .job_posts
            .iter()
            .filter(|p| p["job_id"] == j["id"] && p["live"] == true && p["active"] == true)
            .max_by_key(|p| (s(&p["created_at"]), p["id"].as_u64()));
        assert_eq!(
            r["description"],
            best.map(|p| p["content"].clone()).unwrap_or(Value::Null)
        );
    }
    for p in &d.job_posts {
        let r = &posts[&s(&p["id"])];
        assert_eq!(r["remote_deleted_at"].is_null(), p["active"] == true, "{p}");
        assert_eq!(r["job_id"].is_null(), p["job_id"].is_null());
    }
    let mut statuses = HashSet::new();
    for a in &d.applications {
        let r = &apps[&s(&a["id"])];
        let want = match a["status"].as_str().unwrap() {
            "hired" => "HIRED",
            "rejected" => "DECLINED",
            _ => "PENDING",
        };
        assert_eq!(r["outcome"], want);
        assert_eq!(r["rejection_reason_name"], a["rejection_reason"]["name"]);
        assert_eq!(
            r["current_stage_id"].is_null(),
            a["current_stage"].is_null()
        );
        statuses.insert(want);
    }
    assert_eq!(statuses.len(), 3);
    for c in &d.candidates {
        let r = &cands[&s(&c["id"])];
        let first = d
            .applications
            .iter()
            .filter(|a| a["candidate_id"] == c["id"])
            .min_by_key(|a| (s(&a["applied_at"]), a["id"].as_u64()));
        assert_eq!(
            r["source"],
            first
                .map(|a| a["source"]["public_name"].clone())
                .unwrap_or(Value::Null)
        );
        assert_eq!(
            r["email_addresses"].as_array().unwrap().len(),
            c["email_addresses"].as_array().unwrap().len()
        );
    }
    for o in &d.offers {
        let r = &offers[&s(&o["id"])];
        let want = match o["status"].as_str().unwrap() {
            "accepted" => "ACCEPTED",
            "rejected" => "DECLINED",
            "deprecated" => "ABANDONED",
            _ if o["sent_at"].is_null() => "DRAFT",
            _ => "SENT",
        };
        assert_eq!(r["status"], want, "{o}");
    }
}

#[tokio::test]
async fn ids_are_identical_across_two_runs() {
    let sim = greenhouse::start(Size::Small, KEY, false, 0).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_gh(&sim.url(), a.path(), false).await;
    run_gh(&sim.url(), b.path(), false).await;
    support::assert_same_ids(a.path(), b.path(), MODELS);
}

#[tokio::test]
async fn a_deletion_between_two_full_syncs_reaches_the_record_and_its_dependents() {
    let sim = greenhouse::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(first.status, Status::Success, "{:?}", first.error);
    let (cand, apps, post) = {
        let d = sim.sim.data.read().unwrap();
        let cid = d.applications[0]["candidate_id"].clone();
        let c = d
            .candidates
            .iter()
            .find(|c| c["id"] == cid)
            .unwrap()
            .clone();
        let apps: Vec<String> = d
            .applications
            .iter()
            .filter(|a| a["candidate_id"] == cid)
            .map(|a| s(&a["id"]))
            .collect();
        let post = d.job_posts.iter().find(|p| p["active"] == true).unwrap()["id"].clone();
        (c, apps, post)
    };
    {
        let mut d = sim.sim.data.write().unwrap();
        assert!(d.delete_candidate(cand["id"].as_u64().unwrap()));
        assert!(d.delete_job_post(post.as_u64().unwrap()));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(second.status, Status::Success, "{:?}", second.error);
    let cands = by_remote(&read(out.path(), "candidates"));
    assert!(!cands[&s(&cand["id"])]["remote_deleted_at"].is_null());
    let all_apps = by_remote(&read(out.path(), "applications"));
    for a in &apps {
        assert!(
            !all_apps[a]["remote_deleted_at"].is_null(),
            "application {a}"
        );
    }
    let deleted_apps = all_apps
        .values()
        .filter(|a| !a["remote_deleted_at"].is_null())
        .count();
    assert_eq!(deleted_apps, apps.len(), "nothing else is deleted");
    let tags = read(out.path(), "candidate_tags");
    let cid = &cands[&s(&cand["id"])]["id"];
    for t in tags.iter().filter(|t| &t["candidate_id"] == cid) {
        assert!(!t["remote_deleted_at"].is_null());
    }
    let posts = by_remote(&read(out.path(), "job_postings"));
    let p = &posts[&s(&post)];
    assert!(!p["remote_deleted_at"].is_null());
    assert_eq!(p["status"], "INACTIVE");
}

#[tokio::test]
async fn delta_sends_the_declared_filters() {
    let sim = greenhouse::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    // a candidate and a job change; their applications and posts do not
    let (cand, job) = {
        let mut d = sim.sim.data.write().unwrap();
        let now = "2030-01-01T00:00:00.000Z";
        d.candidates[0]["updated_at"] = now.into();
        d.jobs[0]["updated_at"] = now.into();
        (s(&d.candidates[0]["id"]), s(&d.jobs[0]["id"]))
    };
    let before_cands = by_remote(&read(out.path(), "candidates"));
    let before_jobs = by_remote(&read(out.path(), "jobs"));
    sim.sim.log.lock().unwrap().clear();
    let r = run_gh(&sim.url(), out.path(), true).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert_eq!(
        r.models["candidates"].written, 1,
        "only the changed candidate"
    );
    // lookups still see every application and post: the values survive the delta run
    let cands = by_remote(&read(out.path(), "candidates"));
    assert!(!cands[&cand]["source"].is_null());
    assert_eq!(cands[&cand]["source"], before_cands[&cand]["source"]);
    let jobs = by_remote(&read(out.path(), "jobs"));
    assert_eq!(jobs[&job]["description"], before_jobs[&job]["description"]);
    let seen = sim.sim.requests_seen();
    let with = |path: &str, param: &str| {
        seen.iter()
            .any(|l| l.contains(&format!("{path}?")) && l.contains(&format!("{param}=")))
    };
    for p in [
        "/v1/users",
        "/v1/jobs",
        "/v1/job_posts",
        "/v1/job_stages",
        "/v1/candidates",
        "/v1/scheduled_interviews",
        "/v1/offers",
    ] {
        assert!(with(p, "updated_after"), "{p}: {seen:?}");
    }
    assert!(with("/v1/applications", "last_activity_after"), "{seen:?}");
    assert!(!with("/v1/applications", "updated_after"), "{seen:?}");
}

#[tokio::test]
async fn wrong_key_fails_with_exit_1_naming_the_401() {
    let sim = greenhouse::start(Size::Small, KEY, false, 0).await.unwrap();
    let (code, stderr) = support::run_with_wrong_key(SPEC, &sim.url(), "GREENHOUSE_API_KEY").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("/v1/"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_rate_limit_headers_keep_the_run_under_the_budget() {
    // the one test with the simulator's limit on: 50 requests per 10 s, small dataset
    let sim = greenhouse::start(Size::Small, KEY, true, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let refused = sim
        .sim
        .rate_limited
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(refused, 0, "the run slowed down before a 429");
}

#[test]
fn sandbox_runs_offline_on_a_realistic_dataset() {
    let report = support::sandbox_report(SPEC, "GREENHOUSE_API_KEY");
    for m in MODELS {
        assert!(report["models"][m]["written"].as_u64().unwrap() > 0, "{m}");
    }
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
    let sim = greenhouse::start(Size::Full, KEY, false, 0).await.unwrap();
    support::assert_cassette_fresh(
        Path::new(SPEC),
        &sim.url(),
        ("GREENHOUSE_API_KEY", KEY),
        "connectors/greenhouse.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = greenhouse::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_gh(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("greenhouse_small_unified_output", all);
}

#[tokio::test]
async fn a_limited_run_reads_lookup_streams_in_full_so_references_resolve() {
    let sim = greenhouse::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(out.path().to_path_buf());
    o.base_url = Some(url::Url::parse(&sim.url()).unwrap());
    o.env = [("GREENHOUSE_API_KEY".to_owned(), KEY.to_owned())].into();
    o.limit = Some(3);
    let r = run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap();
    // candidate tags name their tag by text: the tag list feeds a lookup, so it is whole
    assert_eq!(r.status, Status::Success, "{:?}", r.models);
    let d = sim.sim.data.read().unwrap().clone();
    assert_eq!(read(out.path(), "tags").len(), d.tags.len());
    assert_eq!(read(out.path(), "candidates").len(), 3);
    assert!(
        read(out.path(), "candidate_tags")
            .iter()
            .all(|t| !t["tag_id"].is_null())
    );
}
