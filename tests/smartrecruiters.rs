//! The SmartRecruiters connector against the SmartRecruiters simulator: validity, counts,
//! references, stable ids, the offer → application rule, the status-history rule, the
//! one-concurrent-`GET /candidates` rule, both auth kinds, the sandbox, and a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::smartrecruiters::{self as sr, Size};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/smartrecruiters.yaml";
const KEY: &str = "sr-test-key";
const CLIENT: (&str, &str) = ("sr-client", "sr-secret");

async fn run_sr(url: &str, out: &Path, env: &[(&str, &str)]) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap()
}

fn unified(model: &str, remote: &str) -> String {
    mapper::ids::unified_id("default", model, remote)
}

const MODELS: &[&str] = &[
    "users",
    "jobs",
    "job_postings",
    "candidates",
    "application_stages",
    "applications",
    "screening_questions",
    "tags",
    "interviews",
    "offers",
    "rejection_reasons",
    "candidate_tags",
    "job_screening_questions",
    "job_hiring_team_members",
    "interviewing_team_members",
];

/// One full-size run with the simulator's limits on: everything the issue asks of it.
#[tokio::test]
async fn full_run_with_limits_on() {
    let sim = sr::start(Size::Full, KEY, CLIENT, true, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_sr(&sim.url(), out.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let out = out.path();
    let d = sim.sim.data.read().unwrap().clone();

    // one concurrent GET /candidates, and no 429 left unhandled
    assert_eq!(
        sim.sim
            .max_candidate_list_concurrency
            .load(Ordering::SeqCst),
        1
    );
    assert_eq!(report.models.values().map(|m| m.invalid).sum::<u64>(), 0);

    // counts equal the simulator's
    let slots: usize = d
        .applications
        .iter()
        .flat_map(|a| a.interviews.iter())
        .map(|i| i["timeslots"].as_array().unwrap().len())
        .sum();
    let expect = [
        ("users", d.users.len()),
        ("jobs", d.jobs.len()),
        ("job_postings", d.job_ads.values().map(|a| a.len()).sum()),
        ("candidates", d.candidates.len()),
        ("applications", d.applications.len()),
        ("interviews", slots),
        (
            "offers",
            d.applications.iter().map(|a| a.offers.len()).sum(),
        ),
        ("rejection_reasons", d.rejection_reasons.len()),
        (
            "tags",
            d.candidates
                .iter()
                .flat_map(|c| {
                    c["tags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap())
                })
                .collect::<HashSet<_>>()
                .len(),
        ),
        (
            "candidate_tags",
            d.candidates
                .iter()
                .map(|c| c["tags"].as_array().unwrap().len())
                .sum(),
        ),
    ];
    for (model, n) in expect {
        assert_eq!(read(out, model).len(), n, "{model}");
    }

    // valid, unique ids, every reference resolves
    assert_valid_and_unique(out, MODELS);
    let refs: &[(&str, &str, &str)] = &[
        ("applications", "job_id", "jobs"),
        ("applications", "candidate_id", "candidates"),
        ("applications", "current_stage_id", "application_stages"),
        ("offers", "application_id", "applications"),
        ("interviews", "application_id", "applications"),
        ("job_postings", "job_id", "jobs"),
        ("job_screening_questions", "job_id", "jobs"),
        (
            "job_screening_questions",
            "question_id",
            "screening_questions",
        ),
        (
            "job_screening_questions",
            "precondition_question_id",
            "screening_questions",
        ),
        ("job_hiring_team_members", "job_id", "jobs"),
        ("job_hiring_team_members", "user_id", "users"),
        ("interviewing_team_members", "interview_id", "interviews"),
        ("interviewing_team_members", "user_id", "users"),
        ("candidate_tags", "candidate_id", "candidates"),
        ("candidate_tags", "tag_id", "tags"),
    ];
    assert_references_resolve(out, refs);
    // every application's current stage resolves, including sub-statuses no process lists
    let apps = read(out, "applications");
    assert!(apps.iter().all(|a| a["current_stage_id"].is_string()));

    // offer → application: the application of the offer's candidate and job
    let offers = by_remote(&read(out, "offers"));
    for a in &d.applications {
        for o in &a.offers {
            assert_eq!(
                offers[o["id"].as_str().unwrap()]["application_id"],
                unified("applications", &a.id).as_str()
            );
        }
    }

    // status history: rejected_at, remote_created_at, remote_updated_at
    let apps = by_remote(&apps);
    let mut rejected = 0;
    for a in &d.applications {
        let u = &apps[&a.id];
        let mut when: Vec<&str> = a
            .history
            .iter()
            .map(|h| h["changedOn"].as_str().unwrap())
            .collect();
        when.sort();
        assert_eq!(u["remote_created_at"], when[0], "{}", a.id);
        assert_eq!(u["remote_updated_at"], *when.last().unwrap(), "{}", a.id);
        let rej = a
            .history
            .iter()
            .filter(|h| h["status"] == "REJECTED")
            .map(|h| h["changedOn"].as_str().unwrap())
            .max();
        assert_eq!(u["rejected_at"].as_str(), rej, "{}", a.id);
        if rej.is_some() {
            rejected += 1;
            assert_eq!(u["outcome"], "DECLINED");
        }
        // one application per assignment, with its candidate and job
        assert_eq!(
            u["candidate_id"],
            unified("candidates", &a.candidate_id).as_str()
        );
        assert_eq!(u["job_id"], unified("jobs", &a.job_id).as_str());
    }
    assert!(rejected > 0);
    assert!(
        d.applications.iter().any(|a| !a.primary),
        "secondary assignments are applications too"
    );

    // interviews: one per timeslot; interviewers are members
    let ivs = by_remote(&read(out, "interviews"));
    let members = read(out, "interviewing_team_members");
    for a in &d.applications {
        for iv in &a.interviews {
            for slot in iv["timeslots"].as_array().unwrap() {
                let u = &ivs[slot["id"].as_str().unwrap()];
                assert_eq!(u["application_id"], unified("applications", &a.id).as_str());
                assert_eq!(u["starting_at"], slot["startsOn"]);
                let n = members
                    .iter()
                    .filter(|m| m["interview_id"] == u["id"])
                    .count();
                assert_eq!(n, slot["interviewers"].as_array().unwrap().len());
            }
        }
    }

    // enum values exactly as in the reference
    let stages = by_remote(&read(out, "application_stages"));
    assert_eq!(stages["OFFERED"]["global_index"], 4);
    assert_eq!(stages["HIRED"]["global_index"], 5);
    assert!(stages.contains_key("INTERVIEW:Technical Interview"));
    assert!(!stages.contains_key("OFFER") && !stages.contains_key("HIRE"));

    // conditional screening questions
    let jsq = read(out, "job_screening_questions");
    let cond = jsq
        .iter()
        .find(|q| q["question_id"] == unified("screening_questions", "q-visa-sponsor").as_str())
        .unwrap();
    assert_eq!(
        cond["precondition_question_id"],
        unified("screening_questions", "q-work-permit").as_str()
    );
    assert_eq!(
        cond["precondition_options"],
        serde_json::json!(["q-work-permit:no"])
    );
    assert_eq!(cond["index"], 1);
}

#[tokio::test]
async fn missing_status_history_leaves_history_fields_empty() {
    let sim = sr::start(Size::Small, KEY, CLIENT, false, 0).await.unwrap();
    let target = {
        let mut d = sim.sim.data.write().unwrap();
        d.applications[0].history.clear();
        d.applications[0].id.clone()
    };
    let out = tempfile::tempdir().unwrap();
    let r = run_sr(&sim.url(), out.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let apps = by_remote(&read(out.path(), "applications"));
    let a = &apps[&target];
    assert!(
        a["remote_created_at"].is_null()
            && a["remote_updated_at"].is_null()
            && a["rejected_at"].is_null()
    );
    assert!(
        apps.values()
            .filter(|x| x["remote_id"] != target.as_str())
            .all(|x| x["remote_created_at"].is_string())
    );
}

#[tokio::test]
async fn oauth_client_credentials_work_without_an_api_key() {
    let sim = sr::start(Size::Small, KEY, CLIENT, true, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_sr(
        &sim.url(),
        out.path(),
        &[
            ("SMARTRECRUITERS_CLIENT_ID", CLIENT.0),
            ("SMARTRECRUITERS_CLIENT_SECRET", CLIENT.1),
        ],
    )
    .await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert!(!read(out.path(), "candidates").is_empty());
    // neither credential: a clear error naming the variables
    let mut o = RunOptions::new(out.path().to_path_buf());
    o.env = HashMap::new();
    let err = run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SMARTRECRUITERS_API_KEY")
            && err.contains("SMARTRECRUITERS_CLIENT_ID and SMARTRECRUITERS_CLIENT_SECRET"),
        "{err}"
    );
}

#[tokio::test]
async fn ids_are_stable_across_runs() {
    let sim = sr::start(Size::Small, KEY, CLIENT, false, 0).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_sr(&sim.url(), a.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    run_sr(&sim.url(), b.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    support::assert_same_ids(a.path(), b.path(), MODELS);
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = sr::start(Size::Small, KEY, CLIENT, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_sr(&sim.url(), out.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("smartrecruiters_small_unified_output", all);
}

#[test]
fn sandbox_runs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", SPEC, "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove("SMARTRECRUITERS_API_KEY")
        .env_remove("SMARTRECRUITERS_CLIENT_ID")
        .env_remove("SMARTRECRUITERS_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["models"].as_object().unwrap().len(), 15);
    assert!(
        report["models"]["applications"]["written"]
            .as_u64()
            .unwrap()
            >= 90
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_sandbox_cassette_is_the_simulators_data() {
    let sim = sr::start(Size::Full, KEY, CLIENT, false, 0).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // record at full speed: a copy of the connector without its rate limits
    let spec = tmp.path().join("smartrecruiters.yaml");
    let text = std::fs::read_to_string(SPEC)
        .unwrap()
        .replace("requests_per_second: 10", "requests_per_second: 1000");
    std::fs::write(&spec, text).unwrap();
    std::fs::write(tmp.path().join("smartrecruiters.cassette.ndjson"), "").unwrap();
    support::assert_cassette_fresh(
        &spec,
        &sim.url(),
        ("SMARTRECRUITERS_API_KEY", KEY),
        "connectors/smartrecruiters.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn records_missing_optional_fields_are_mapped() {
    let sim = sr::start(Size::Small, KEY, CLIENT, false, 0).await.unwrap();
    {
        let mut d = sim.sim.data.write().unwrap();
        let c = &mut d.candidates[0];
        for k in [
            "web",
            "location",
            "experience",
            "tags",
            "email",
            "phoneNumber",
        ] {
            c[k] = Value::Null;
        }
        let j = &mut d.jobs[0];
        for k in [
            "properties",
            "location",
            "typeOfEmployment",
            "jobAd",
            "actions",
        ] {
            j[k] = Value::Null;
        }
        for a in d.applications.iter_mut() {
            for o in a.offers.iter_mut() {
                o["properties"] = Value::Null;
            }
        }
    }
    // the simulator omits null fields, as SmartRecruiters does: these records arrive without them
    let out = tempfile::tempdir().unwrap();
    let r = run_sr(&sim.url(), out.path(), &[("SMARTRECRUITERS_API_KEY", KEY)]).await;
    assert_eq!(
        r.status,
        Status::Success,
        "{:?}",
        r.models
            .values()
            .flat_map(|m| m.invalid_records.clone())
            .collect::<Vec<_>>()
    );
    let cands = read(out.path(), "candidates");
    assert!(
        cands
            .iter()
            .any(|c| c["social_media"] == serde_json::json!([]) && c["location"].is_null())
    );
}
