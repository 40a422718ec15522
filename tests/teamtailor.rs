//! The Teamtailor connector against the Teamtailor simulator: validity, counts, references,
//! stable ids, the mapping rules of the notes' table, deletions by absence (record and
//! dependents), `--delta` filters, auth failure, rate limiting, the sandbox, and a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::teamtailor::{self as tt, Dataset, Res, Size};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/teamtailor.yaml";
const KEY: &str = "tt-test-key";

async fn run_tt(url: &str, out: &Path, delta: bool) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = [("TEAMTAILOR_API_KEY".to_owned(), KEY.to_owned())].into();
    o.delta = delta;
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
    "offers",
    "rejection_reasons",
    "candidate_tags",
    "job_screening_questions",
    "job_application_stages",
    "job_hiring_team_members",
];

fn rel_id(r: &Res, name: &str) -> Option<String> {
    r.one(name).map(|t| t.id.to_string())
}

/// The (job, user) pairs of the hiring teams: each job's recruiter and its team members.
fn hiring_team(d: &Dataset) -> HashMap<(String, String), Vec<&'static str>> {
    let mut team: HashMap<(String, String), Vec<&'static str>> = HashMap::new();
    for j in d.all("jobs") {
        if let Some(u) = rel_id(j, "user") {
            team.entry((j.id.to_string(), u))
                .or_default()
                .push("RECRUITER");
        }
    }
    for m in d.all("team-memberships") {
        if let (Some(t), Some(u)) = (m.one("team"), rel_id(m, "user"))
            && t.kind == "jobs"
        {
            team.entry((t.id.to_string(), u)).or_default();
        }
    }
    team
}

/// Expected record count per model from the simulator's data.
fn expected_counts(d: &Dataset) -> Vec<(&'static str, usize)> {
    let tags: BTreeSet<String> = d
        .all("candidates")
        .iter()
        .flat_map(|c| c.attributes["tags"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let cand_tags: usize = d
        .all("candidates")
        .iter()
        .map(|c| {
            c.attributes["tags"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    vec![
        ("users", d.count("users")),
        ("jobs", d.count("jobs")),
        ("job_postings", d.count("jobs")),
        ("candidates", d.count("candidates")),
        ("application_stages", d.count("stages")),
        ("applications", d.count("job-applications")),
        ("screening_questions", d.count("questions")),
        ("tags", tags.len()),
        ("offers", d.count("job-offers")),
        ("rejection_reasons", d.count("reject-reasons")),
        ("candidate_tags", cand_tags),
        ("job_screening_questions", d.count("picked-questions")),
        ("job_application_stages", d.count("stages")),
        ("job_hiring_team_members", hiring_team(d).len()),
    ]
}

fn assert_counts(out: &Path, report: &Report, d: &Dataset) {
    for (model, n) in expected_counts(d) {
        assert_eq!(read(out, model).len(), n, "{model}");
        assert_eq!(report.models[model].written as usize, n, "{model}");
        assert_eq!(report.models[model].invalid, 0, "{model}");
    }
}

const REFS: &[(&str, &str, &str)] = &[
    ("applications", "job_id", "jobs"),
    ("applications", "candidate_id", "candidates"),
    ("applications", "current_stage_id", "application_stages"),
    ("job_postings", "job_id", "jobs"),
    ("offers", "application_id", "applications"),
    ("candidate_tags", "candidate_id", "candidates"),
    ("candidate_tags", "tag_id", "tags"),
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
];

/// One full-size run: valid, complete, consistent, and every rule of the mapping table.
#[tokio::test]
async fn full_size_run_is_valid_complete_and_follows_the_mapping_table() {
    let sim = tt::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_tt(&sim.url(), out.path(), false).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let out = out.path();
    let d = sim.sim.data.read().unwrap().clone();
    assert_counts(out, &report, &d);
    assert_valid_and_unique(out, MODELS);
    assert_references_resolve(out, REFS);
    // every list was paged 30 at a time and followed to its end
    let log = sim.sim.logged();
    assert!(
        log.iter().all(|l| l.contains("page%5Bsize%5D=30")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("/v1/job-applications") && l.contains("page%5Bnumber%5D=35"))
    );
    assert_eq!(sim.sim.rate_limited.load(Ordering::Relaxed), 0);

    // users: name split at the first space, login email first, no_access → INACTIVE
    let users = by_remote(&read(out, "users"));
    for u in d.all("users") {
        let r = &users[&u.id.to_string()];
        let name = u.str("name").unwrap();
        let (first, last) = match name.split_once(' ') {
            Some((f, l)) => (json!(f), json!(l)),
            None => (json!(name), Value::Null),
        };
        assert_eq!(
            (&r["first_name"], &r["last_name"]),
            (&first, &last),
            "{name}"
        );
        let email = u.attributes["login-email"]
            .as_str()
            .or(u.str("email"))
            .map(|e| json!(e))
            .unwrap_or(Value::Null);
        assert_eq!(r["email"], email);
        let status = if u.str("role") == Some("no_access") {
            "INACTIVE"
        } else {
            "ACTIVE"
        };
        assert_eq!(r["status"], status);
    }
    assert!(users.values().any(|u| u["last_name"].is_null()));
    assert!(users.values().any(|u| u["status"] == "INACTIVE"));

    // jobs and their postings
    let jobs = by_remote(&read(out, "jobs"));
    let posts = by_remote(&read(out, "job_postings"));
    let mut seen_status = HashSet::new();
    for j in d.all("jobs") {
        let id = j.id.to_string();
        let (r, p) = (&jobs[&id], &posts[&id]);
        let a = &j.attributes;
        assert_eq!(r["name"], a["title"]);
        assert_eq!(r["description"], a["body"]);
        let status = match a["status"].as_str().unwrap() {
            "open" | "unlisted" => "OPEN",
            "draft" | "temp" => "DRAFT",
            "archived" => "ARCHIVED",
            other => panic!("{other}"),
        };
        assert_eq!(r["status"], status);
        seen_status.insert(status);
        let vis = if a["internal"] == true {
            "INTERNAL"
        } else if a["human-status"] == "unlisted" {
            "UNLISTED"
        } else {
            "PUBLIC"
        };
        assert_eq!(r["visibility"], vis);
        assert_eq!(p["visibility"], vis);
        let et = match a["employment-type"].as_str() {
            Some("fulltime") => json!("FULL_TIME"),
            Some("parttime") => json!("PART_TIME"),
            Some("temporary" | "contract") => json!("CONTRACT"),
            Some("internship") => json!("INTERNSHIP"),
            Some("seasonal") => json!("SEASONAL"),
            _ => Value::Null,
        };
        assert_eq!(r["employment_type"], et);
        let dept = j
            .one("department")
            .map(|t| d.get("departments", t.id).unwrap().attributes["name"].clone())
            .unwrap_or(Value::Null);
        assert_eq!(r["department"], dept);
        match j.refs("locations").first() {
            Some(t) => {
                let l = &d.get("locations", t.id).unwrap().attributes;
                assert_eq!(r["location"]["city"], l["city"]);
                assert_eq!(r["location"]["country"], l["country"]);
                assert_eq!(r["location"]["zip_code"], l["zip"]);
                assert_eq!(r["location"]["street_1"], l["address"]);
                assert_eq!(r["location"]["raw"], l["name"]);
            }
            None => assert!(r["location"].is_null()),
        }
        let url = j
            .links
            .iter()
            .find(|(k, _)| *k == "careersite-job-url")
            .unwrap()
            .1
            .clone();
        assert_eq!(r["post_url"], url);
        assert_eq!(p["url"], url);
        assert_eq!(
            r["remote_created_at"],
            mapper_datetime(a["created-at"].as_str().unwrap())
        );
        let pstatus = match a["human-status"].as_str().unwrap() {
            "published" | "unlisted" => "ACTIVE",
            "draft" | "scheduled" | "unsaved" => "DRAFT",
            "expired" | "archived" => "INACTIVE",
            other => panic!("{other}"),
        };
        assert_eq!(p["status"], pstatus);
        assert_eq!(p["job_id"], r["id"]);
        assert_eq!(p["description_html"], a["body"]);
        assert!(r["remote_data"]["/v1/jobs"].is_object());
    }
    assert_eq!(seen_status.len(), 3, "{seen_status:?}");

    // hiring team: the recruiter is RECRUITER, team members have no unified role
    let team: HashMap<(String, String), Value> = read(out, "job_hiring_team_members")
        .into_iter()
        .map(|m| {
            (
                (
                    m["job_id"].as_str().unwrap().to_owned(),
                    m["user_id"].as_str().unwrap().to_owned(),
                ),
                m["roles"].clone(),
            )
        })
        .collect();
    for ((job, user), roles) in hiring_team(&d) {
        let got = &team[&(unified("jobs", &job), unified("users", &user))];
        assert_eq!(got, &json!(roles), "{job} {user}");
    }
    assert!(team.values().any(|r| r == &json!([])));

    // job stages: index = rank of row-order within the job
    let jas: HashMap<String, Value> = read(out, "job_application_stages")
        .into_iter()
        .map(|r| (r["stage_id"].as_str().unwrap().to_owned(), r))
        .collect();
    let stages = by_remote(&read(out, "application_stages"));
    let mut reordered = 0;
    for s in d.all("stages") {
        let job = s.one("job").unwrap().id;
        let mut orders: Vec<(i64, u64)> = d
            .all("stages")
            .iter()
            .filter(|x| x.one("job").unwrap().id == job)
            .map(|x| (x.attributes["row-order"].as_i64().unwrap(), x.id))
            .collect();
        orders.sort();
        let rank = orders.iter().position(|(_, id)| *id == s.id).unwrap();
        let by_id = orders.iter().filter(|(_, id)| *id < s.id).count();
        if rank != by_id {
            reordered += 1;
        }
        let r = &jas[&unified("application_stages", &s.id.to_string())];
        assert_eq!(r["index"], rank, "{}", s.id);
        assert_eq!(r["job_id"], unified("jobs", &job.to_string()));
        assert_eq!(stages[&s.id.to_string()]["name"], s.attributes["name"]);
        assert!(stages[&s.id.to_string()]["global_index"].is_null());
    }
    assert!(reordered > 0, "some stages' ids are not in row order");

    // candidates
    let cands = by_remote(&read(out, "candidates"));
    for c in d.all("candidates") {
        let r = &cands[&c.id.to_string()];
        let a = &c.attributes;
        assert_eq!(r["first_name"], a["first-name"]);
        assert_eq!(r["last_name"], a["last-name"]);
        let emails: Vec<Value> = a["email"]
            .as_str()
            .map(|e| json!({"email_address": e, "type": null}))
            .into_iter()
            .collect();
        assert_eq!(r["email_addresses"], json!(emails));
        let phones: Vec<Value> = a["phone"]
            .as_str()
            .map(|p| json!({"phone_number": p, "type": null}))
            .into_iter()
            .collect();
        assert_eq!(r["phone_numbers"], json!(phones));
        let social: Vec<Value> = a["linkedin-url"]
            .as_str()
            .map(|l| json!({"link": l, "type": "LINKEDIN", "username": null}))
            .into_iter()
            .collect();
        assert_eq!(r["social_media"], json!(social));
        assert_eq!(r["source"], a["referring-site"]);
        assert_eq!(r["custom_fields"]["tags"], a["tags"]);
        match c.refs("locations").first() {
            Some(t) => assert_eq!(
                r["location"]["city"],
                d.get("locations", t.id).unwrap().attributes["city"]
            ),
            None => assert!(r["location"].is_null()),
        }
    }

    // applications: outcome, rejection reason, references
    let apps = by_remote(&read(out, "applications"));
    let mut outcomes = HashSet::new();
    for a in d.all("job-applications") {
        let r = &apps[&a.id.to_string()];
        let stage = d.get("stages", a.one("stage").unwrap().id).unwrap();
        let outcome = if !a.attributes["rejected-at"].is_null() {
            "DECLINED"
        } else if stage.str("stage-type") == Some("Hired") {
            "HIRED"
        } else {
            "PENDING"
        };
        assert_eq!(r["outcome"], outcome, "{}", a.id);
        outcomes.insert(outcome);
        let reason = a
            .one("reject-reason")
            .map(|t| d.get("reject-reasons", t.id).unwrap().attributes["reason"].clone())
            .unwrap_or(Value::Null);
        assert_eq!(r["rejection_reason_name"], reason);
        assert_eq!(
            r["candidate_id"],
            unified("candidates", &rel_id(a, "candidate").unwrap())
        );
        assert_eq!(r["job_id"], unified("jobs", &rel_id(a, "job").unwrap()));
        assert_eq!(
            r["current_stage_id"],
            unified("application_stages", &stage.id.to_string())
        );
        match a.attributes["rejected-at"].as_str() {
            Some(t) => assert_eq!(r["rejected_at"], mapper_datetime(t)),
            None => assert!(r["rejected_at"].is_null()),
        }
    }
    assert_eq!(outcomes.len(), 3);

    // screening questions and the jobs' picked questions
    let qs = by_remote(&read(out, "screening_questions"));
    for q in d.all("questions") {
        let r = &qs[&q.id.to_string()];
        let multiple = q.attributes["multiple"] == true;
        let typ = match q.str("question-type").unwrap() {
            "Boolean" => "BOOLEAN",
            "Text" => "TEXT",
            "Range" => "NUMBER",
            "Video" => "FILE",
            "Choice" if multiple => "MULTI_SELECT",
            "Choice" => "SINGLE_SELECT",
            other => panic!("{other}"),
        };
        assert_eq!(r["format"]["type"], typ);
        let names: Vec<Value> = r["format"]["options"]
            .as_array()
            .map(|o| o.iter().map(|x| x["name"].clone()).collect())
            .unwrap_or_default();
        let alts = q.attributes["alternatives"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(names, alts);
    }
    let jsq = read(out, "job_screening_questions");
    for j in d.all("jobs") {
        let picked: Vec<&Res> = d
            .all("picked-questions")
            .iter()
            .filter(|p| p.parent == Some(j.id))
            .collect();
        for (i, p) in picked.iter().enumerate() {
            let qid = unified(
                "screening_questions",
                &p.one("question").unwrap().id.to_string(),
            );
            let r = jsq
                .iter()
                .find(|r| {
                    r["job_id"] == unified("jobs", &j.id.to_string()) && r["question_id"] == qid
                })
                .unwrap();
            assert_eq!(r["index"], i);
            assert_eq!(r["required"], p.attributes["mandatory"]);
        }
    }

    // offers: the answer wins, otherwise the offer's status
    let offers = by_remote(&read(out, "offers"));
    let mut statuses = HashSet::new();
    for o in d.all("job-offers") {
        let r = &offers[&o.id.to_string()];
        let status = match (o.str("response"), o.str("status").unwrap()) {
            (Some("accepted"), _) => "ACCEPTED",
            (Some("declined"), _) => "DECLINED",
            (_, "draft" | "pending_approval") => "DRAFT",
            (_, "approved") => "APPROVED",
            (_, "rejected") => "ABANDONED",
            (_, "sent") => "SENT",
            other => panic!("{other:?}"),
        };
        assert_eq!(r["status"], status);
        statuses.insert(status);
        assert_eq!(
            r["application_id"],
            unified("applications", &rel_id(o, "job-application").unwrap())
        );
    }
    assert_eq!(statuses.len(), 6, "{statuses:?}");

    // rejection reasons
    let reasons = by_remote(&read(out, "rejection_reasons"));
    for rr in d.all("reject-reasons") {
        let r = &reasons[&rr.id.to_string()];
        assert_eq!(r["name"], rr.attributes["reason"]);
        assert_eq!(
            r["custom_fields"]["rejected_by_company"],
            rr.attributes["rejected-by-company"]
        );
    }
}

/// Teamtailor's `2025-02-20T10:30:43.910+01:00` as mapper writes it (UTC, milliseconds).
fn mapper_datetime(s: &str) -> String {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Two full syncs give identical ids; a candidate and a job removed at Teamtailor between
/// two full syncs are reported deleted with their dependents; `--delta` sends the declared
/// filter only to candidates and job applications.
#[tokio::test]
async fn ids_stable_deletions_reported_and_delta_filtered() {
    let sim = tt::start(Size::Full, KEY, false, 0).await.unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = run_tt(&sim.url(), a.path(), false).await;
    assert_eq!(ra.status, Status::Success, "{:?}", ra.error);
    // a second run, on a state of its own: the same ids in the same order
    let rb = run_tt(&sim.url(), b.path(), false).await;
    assert_eq!(rb.status, Status::Success, "{:?}", rb.error);
    support::assert_same_ids(a.path(), b.path(), MODELS);
    let d = sim.sim.data.read().unwrap().clone();

    // a candidate with applications, an offer and tags; a job with stages, applications,
    // picked questions, a recruiter and team members
    let cand = d
        .all("candidates")
        .iter()
        .find(|c| {
            c.attributes["tags"].as_array().unwrap().len() >= 2
                && c.refs("job-applications").iter().any(|app| {
                    d.all("job-offers")
                        .iter()
                        .any(|o| o.one("job-application").unwrap().id == app.id)
                })
        })
        .unwrap()
        .clone();
    let job = d
        .all("jobs")
        .iter()
        .find(|j| {
            j.one("user").is_some()
                && !j.refs("picked-questions").is_empty()
                && !j.refs("team-memberships").is_empty()
                && !j.refs("candidates").is_empty()
        })
        .unwrap()
        .clone();
    assert!(sim.sim.delete("candidates", cand.id));
    assert!(sim.sim.delete("jobs", job.id));

    // the next full sync on the first state
    let rc = run_tt(&sim.url(), a.path(), false).await;
    assert_eq!(rc.status, Status::Success, "{:?}", rc.error);
    let d2 = sim.sim.data.read().unwrap().clone();

    let out = a.path();
    let deleted = |model: &str| -> HashSet<String> {
        read(out, model)
            .into_iter()
            .filter(|r| !r["remote_deleted_at"].is_null())
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // nothing else is deleted: the deleted records are exactly those the simulator lost
    for (model, n) in expected_counts(&d) {
        let after = expected_counts(&d2)
            .into_iter()
            .find(|(m, _)| *m == model)
            .unwrap()
            .1;
        if model != "tags" {
            assert_eq!(deleted(model).len(), n - after, "{model}");
        }
        assert_eq!(
            read(out, model).len(),
            n,
            "{model}: deleted ones stay listed"
        );
    }
    // the candidate and its dependents
    let cid = cand.id.to_string();
    assert!(deleted("candidates").contains(&unified("candidates", &cid)));
    let gone_apps: Vec<u64> = d
        .all("job-applications")
        .iter()
        .filter(|x| x.one("candidate").unwrap().id == cand.id || x.one("job").unwrap().id == job.id)
        .map(|x| x.id)
        .collect();
    assert!(gone_apps.len() >= 2);
    for app in &gone_apps {
        assert!(deleted("applications").contains(&unified("applications", &app.to_string())));
    }
    let gone_offers: Vec<u64> = d
        .all("job-offers")
        .iter()
        .filter(|o| gone_apps.contains(&o.one("job-application").unwrap().id))
        .map(|o| o.id)
        .collect();
    assert!(!gone_offers.is_empty());
    for o in gone_offers {
        assert!(deleted("offers").contains(&unified("offers", &o.to_string())));
    }
    let cand_uid = unified("candidates", &cid);
    let ct_deleted: Vec<Value> = read(out, "candidate_tags")
        .into_iter()
        .filter(|r| r["candidate_id"] == cand_uid)
        .collect();
    assert_eq!(
        ct_deleted.len(),
        cand.attributes["tags"].as_array().unwrap().len()
    );
    assert!(ct_deleted.iter().all(|r| !r["remote_deleted_at"].is_null()));
    // the job and its dependents
    let jid = unified("jobs", &job.id.to_string());
    assert!(deleted("jobs").contains(&jid));
    assert!(deleted("job_postings").contains(&unified("job_postings", &job.id.to_string())));
    for s in job.refs("stages") {
        assert!(
            deleted("application_stages")
                .contains(&unified("application_stages", &s.id.to_string()))
        );
    }
    for model in [
        "job_application_stages",
        "job_screening_questions",
        "job_hiring_team_members",
    ] {
        let recs: Vec<Value> = read(out, model)
            .into_iter()
            .filter(|r| r["job_id"] == jid)
            .collect();
        assert!(!recs.is_empty(), "{model}");
        assert!(
            recs.iter().all(|r| !r["remote_deleted_at"].is_null()),
            "{model}"
        );
    }
    // a live record is not deleted
    let live_cand = d2.all("candidates")[0].id.to_string();
    assert!(!deleted("candidates").contains(&unified("candidates", &live_cand)));

    // --delta: the declared filter on candidates and job applications, full lists
    // elsewhere; a candidate changed since the last sync comes through
    let changed = d2.all("candidates")[3].id;
    {
        let mut data = sim.sim.data.write().unwrap();
        let c = data.get_mut("candidates", changed).unwrap();
        c.attributes.insert("first-name".into(), json!("Delta"));
        c.attributes
            .insert("updated-at".into(), json!(tt::tt(2_000 * 86_400)));
    }
    let before = sim.sim.logged().len();
    let rd = run_tt(&sim.url(), a.path(), true).await;
    assert_eq!(rd.status, Status::Success, "{:?}", rd.error);
    let log = sim.sim.logged()[before..].to_vec();
    for prefix in ["/v1/candidates?", "/v1/job-applications?"] {
        let l: Vec<&String> = log.iter().filter(|l| l.starts_with(prefix)).collect();
        assert!(!l.is_empty(), "{prefix}");
        assert!(
            l.iter()
                .all(|l| l.contains("filter%5Bupdated-at%5D%5Bfrom%5D=")),
            "{prefix}: {l:?}"
        );
    }
    for prefix in ["/v1/jobs?", "/v1/users?", "/v1/stages?", "/v1/job-offers?"] {
        let l: Vec<&String> = log.iter().filter(|l| l.starts_with(prefix)).collect();
        assert!(!l.is_empty(), "{prefix}");
        assert!(
            l.iter().all(|l| !l.contains("updated-at")),
            "{prefix}: {l:?}"
        );
    }
    assert_eq!(
        rd.models["candidates"].written, 1,
        "only the changed candidate"
    );
    let c = &by_remote(&read(out, "candidates"))[&changed.to_string()];
    assert_eq!(c["first_name"], "Delta");
    // a delta run deletes nothing more
    assert_eq!(deleted("candidates").len(), 1);
}

#[tokio::test]
async fn wrong_key_fails_with_exit_1_naming_the_401() {
    let sim = tt::start(Size::Small, KEY, false, 0).await.unwrap();
    let (code, stderr) = support::run_with_wrong_key(SPEC, &sim.url(), "TEAMTAILOR_API_KEY").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("/v1/"),
        "{stderr}"
    );
}

/// The one test with the simulator's rate limit on (50 per rolling 10 s). First most of the
/// key's budget is already spent when the run starts: the run follows the budget headers and
/// waits for the window instead of running into 429s. Then the budget is spent completely:
/// the first answers are 429s, and the run waits for `Retry-After` and completes.
#[tokio::test]
async fn rate_limited_simulator_is_handled() {
    let sim = tt::start(Size::Small, KEY, true, 0).await.unwrap();
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        "authorization",
        format!("Token token={KEY}").parse().unwrap(),
    );
    h.insert("x-api-version", "20240404".parse().unwrap());
    let d = sim.sim.data.read().unwrap().clone();

    for _ in 0..tt::RATE_LIMIT - 10 {
        assert_eq!(sim.sim.handle("GET", "/v1/departments", "", &h).status, 200);
    }
    let before = sim.sim.requests.load(Ordering::Relaxed);
    let out = tempfile::tempdir().unwrap();
    let r = run_tt(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert!(
        sim.sim.requests.load(Ordering::Relaxed) - before > 10,
        "the run needs more than the budget left"
    );
    assert_eq!(
        sim.sim.rate_limited.load(Ordering::Relaxed),
        0,
        "the headers were followed"
    );
    assert_counts(out.path(), &r, &d);

    while sim.sim.handle("GET", "/v1/departments", "", &h).status != 429 {}
    let limited = sim.sim.rate_limited.load(Ordering::Relaxed);
    let out = tempfile::tempdir().unwrap();
    let r = run_tt(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert!(sim.sim.rate_limited.load(Ordering::Relaxed) > limited);
    assert_counts(out.path(), &r, &d);
}

#[test]
fn sandbox_runs_offline_on_a_realistic_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", SPEC, "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove("TEAMTAILOR_API_KEY")
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
    let d = tt::dataset(Size::Full);
    for (model, n) in expected_counts(&d) {
        assert_eq!(
            report["models"][model]["written"].as_u64().unwrap() as usize,
            n,
            "{model}"
        );
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
    let sim = tt::start(Size::Full, KEY, false, 0).await.unwrap();
    support::assert_cassette_fresh(
        Path::new(SPEC),
        &sim.url(),
        ("TEAMTAILOR_API_KEY", KEY),
        "connectors/teamtailor.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = tt::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_tt(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let d = sim.sim.data.read().unwrap().clone();
    assert_counts(out.path(), &r, &d);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("teamtailor_small_unified_output", all);
}

/// Null and empty values where Teamtailor may send them do not break a run.
#[tokio::test]
async fn null_and_empty_vendor_values_are_tolerated() {
    let sim = tt::start(Size::Small, KEY, false, 0).await.unwrap();
    {
        let mut d = sim.sim.data.write().unwrap();
        let first = |d: &Dataset, kind: &str| d.all(kind)[0].id;
        let (u, j, c, a, o, q) = (
            first(&d, "users"),
            first(&d, "jobs"),
            first(&d, "candidates"),
            first(&d, "job-applications"),
            first(&d, "job-offers"),
            first(&d, "questions"),
        );
        let nulls = |r: &mut Res, keys: &[&str]| {
            for k in keys {
                r.attributes.insert((*k).into(), Value::Null);
            }
        };
        let user = d.get_mut("users", u).unwrap();
        nulls(
            user,
            &["name", "email", "login-email", "role", "role-addons"],
        );
        let job = d.get_mut("jobs", j).unwrap();
        nulls(
            job,
            &[
                "title",
                "body",
                "status",
                "human-status",
                "internal",
                "tags",
                "employment-type",
                "created-at",
            ],
        );
        job.rels.clear();
        job.links.clear();
        let cand = d.get_mut("candidates", c).unwrap();
        nulls(
            cand,
            &[
                "first-name",
                "email",
                "phone",
                "linkedin-url",
                "tags",
                "updated-at",
            ],
        );
        cand.rels.clear();
        let app = d.get_mut("job-applications", a).unwrap();
        nulls(app, &["rejected-at", "referring-site", "created-at"]);
        app.rels.remove("reject-reason");
        app.rels.remove("stage");
        let offer = d.get_mut("job-offers", o).unwrap();
        nulls(offer, &["details", "status", "response"]);
        offer.rels.clear();
        let question = d.get_mut("questions", q).unwrap();
        nulls(question, &["question-type", "alternatives", "multiple"]);
        d.derive();
    }
    let out = tempfile::tempdir().unwrap();
    let r = run_tt(&sim.url(), out.path(), false).await;
    assert_eq!(
        r.status,
        Status::Success,
        "{:?} {:?}",
        r.error,
        r.models
            .values()
            .flat_map(|m| m.invalid_records.clone())
            .collect::<Vec<_>>()
    );
    let d = sim.sim.data.read().unwrap().clone();
    let users = by_remote(&read(out.path(), "users"));
    let u = &users[&d.all("users")[0].id.to_string()];
    assert!(u["first_name"].is_null() && u["last_name"].is_null() && u["status"].is_null());
    let jobs = by_remote(&read(out.path(), "jobs"));
    let j = &jobs[&d.all("jobs")[0].id.to_string()];
    assert!(j["location"].is_null() && j["department"].is_null() && j["status"].is_null());
    let cands = by_remote(&read(out.path(), "candidates"));
    let c = &cands[&d.all("candidates")[0].id.to_string()];
    assert_eq!(c["email_addresses"], json!([]));
    assert_eq!(c["social_media"], json!([]));
    let apps = by_remote(&read(out.path(), "applications"));
    let a = &apps[&d.all("job-applications")[0].id.to_string()];
    assert!(a["current_stage_id"].is_null());
    assert_eq!(a["outcome"], "PENDING");
    let offers = by_remote(&read(out.path(), "offers"));
    let o = &offers[&d.all("job-offers")[0].id.to_string()];
    assert!(o["status"].is_null() && o["application_id"].is_null());
    let qs = by_remote(&read(out.path(), "screening_questions"));
    assert_eq!(
        qs[&d.all("questions")[0].id.to_string()]["format"]["type"],
        "UNKNOWN"
    );
}
