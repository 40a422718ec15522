//! The Lever connector against the Lever simulator: validity, counts, references, stable ids,
//! the mapping rules of the notes, deletions (tombstones and absence) in full and delta runs,
//! the delta filters, auth failure, the rate-limited simulator, the sandbox, and a snapshot.

mod support;

use mapper::compile::compile_file;
use mapper::run::output::{Report, Status};
use mapper::run::{RunOptions, run};
use mapper_sim::lever::{self, Size};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use support::{assert_references_resolve, assert_valid_and_unique, by_remote, read, snapshot_of};

const SPEC: &str = "connectors/lever.yaml";
const KEY: &str = "lever-test-key";

async fn run_lever(url: &str, out: &Path, delta: bool) -> Report {
    let mut o = RunOptions::new(out.to_path_buf());
    o.base_url = Some(url::Url::parse(url).unwrap());
    o.env = [("LEVER_API_KEY".to_owned(), KEY.to_owned())].into();
    o.delta = delta;
    run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap()
}

fn unified(model: &str, remote: &str) -> String {
    mapper::ids::unified_id("default", model, remote)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Epoch milliseconds as the unified date-time.
fn iso(ms: &Value) -> Value {
    let ms = ms.as_i64().unwrap();
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap();
    Value::from(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
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
    "job_application_stages",
    "job_hiring_team_members",
    "interviewing_team_members",
];

/// The record count per model that the simulator's data must give.
fn expected_counts(d: &lever::Dataset) -> Vec<(&'static str, usize)> {
    let field_ids: HashSet<&str> = d
        .postings
        .iter()
        .flat_map(|p| arr(&d.forms[s(&p["id"])]["customQuestions"]))
        .flat_map(|f| arr(&f["fields"]))
        .map(|f| s(&f["id"]))
        .collect();
    let job_questions: usize = d
        .postings
        .iter()
        .map(|p| {
            arr(&d.forms[s(&p["id"])]["customQuestions"])
                .iter()
                .flat_map(|f| arr(&f["fields"]))
                .map(|f| s(&f["id"]))
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    let team: HashSet<(&str, &str)> = d
        .postings
        .iter()
        .flat_map(|p| {
            [&p["hiringManager"], &p["owner"]]
                .into_iter()
                .filter_map(|u| u.as_str())
                .map(move |u| (s(&p["id"]), u))
        })
        .collect();
    let interviews: Vec<&Value> = d.interviews.values().flatten().collect();
    let interviewers: usize = interviews
        .iter()
        .map(|i| {
            arr(&i["interviewers"])
                .iter()
                .map(|u| s(&u["id"]))
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    vec![
        ("users", d.users.len()),
        ("jobs", d.postings.len()),
        ("job_postings", d.postings.len()),
        ("candidates", d.opportunities.len()),
        ("application_stages", d.stages.len()),
        ("applications", d.applications().count()),
        ("screening_questions", field_ids.len()),
        ("tags", d.tags().len()),
        ("interviews", interviews.len()),
        ("offers", d.offers.values().map(Vec::len).sum()),
        (
            "rejection_reasons",
            d.archive_reasons
                .iter()
                .filter(|r| r["type"] != "hired")
                .count(),
        ),
        (
            "candidate_tags",
            d.opportunities
                .iter()
                .map(|o| arr(&o["tags"]).iter().collect::<HashSet<_>>().len())
                .sum(),
        ),
        ("job_screening_questions", job_questions),
        ("job_application_stages", d.postings.len() * d.stages.len()),
        ("job_hiring_team_members", team.len()),
        ("interviewing_team_members", interviewers),
    ]
}

const REFS: &[(&str, &str, &str)] = &[
    ("applications", "job_id", "jobs"),
    ("applications", "candidate_id", "candidates"),
    ("applications", "current_stage_id", "application_stages"),
    ("interviews", "application_id", "applications"),
    ("interviews", "stage_id", "application_stages"),
    ("offers", "application_id", "applications"),
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
];

/// One full-size run: valid, complete (every page of every list), consistent, and each
/// mapping rule of the notes; then a second run gives the same ids.
#[tokio::test(flavor = "multi_thread")]
async fn full_run_is_valid_complete_consistent_and_stable() {
    let sim = lever::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(report.status, Status::Success, "{:?}", report.error);
    let d = sim.sim.data.read().unwrap().clone();
    let out = out.path();

    for (model, n) in expected_counts(&d) {
        assert_eq!(read(out, model).len(), n, "{model}");
        assert_eq!(report.models[model].invalid, 0, "{model}");
    }
    assert!(d.opportunities.len() > 1000 && d.applications().count() > 1000);
    assert_valid_and_unique(out, MODELS);
    assert_references_resolve(out, REFS);
    // nothing is deleted on a first sync: the pre-existing deleted rows were never seen
    for model in MODELS {
        assert!(
            read(out, model)
                .iter()
                .all(|r| r["remote_deleted_at"].is_null()),
            "{model}"
        );
    }

    // every list was paged with limit=100 and the token as received; opportunities with
    // confidentiality=all and expand=applications
    let opp_queries = sim.sim.queries_of("/v1/opportunities");
    assert_eq!(opp_queries.len(), 11, "{opp_queries:?}");
    for q in &opp_queries {
        assert!(q.contains("limit=100"), "{q}");
        assert!(q.contains("confidentiality=all"), "{q}");
        assert!(q.contains("expand=applications"), "{q}");
    }
    assert!(
        opp_queries[1].contains("offset=%5B100%2C"),
        "{opp_queries:?}"
    );
    let users_q = sim.sim.queries_of("/v1/users");
    assert!(
        users_q[0].contains("includeDeactivated=true"),
        "{users_q:?}"
    );
    assert!(
        sim.sim.queries_of("/v1/postings")[0].contains("confidentiality=all"),
        "confidential postings are asked for"
    );

    check_rules(&d, out);

    // a second run: the same ids in the same order
    let again = tempfile::tempdir().unwrap();
    let r2 = run_lever(&sim.url(), again.path(), false).await;
    assert_eq!(r2.status, Status::Success, "{:?}", r2.error);
    support::assert_same_ids(out, again.path(), MODELS);
}

fn check_rules(d: &lever::Dataset, out: &Path) {
    let users = by_remote(&read(out, "users"));
    let jobs = by_remote(&read(out, "jobs"));
    let posts = by_remote(&read(out, "job_postings"));
    let cands = by_remote(&read(out, "candidates"));
    let apps = by_remote(&read(out, "applications"));
    let ivs = by_remote(&read(out, "interviews"));
    let offers = by_remote(&read(out, "offers"));
    let stages = by_remote(&read(out, "application_stages"));

    // users: name split at the first space; deactivated → INACTIVE
    let mut inactive = 0;
    for u in &d.users {
        let r = &users[s(&u["id"])];
        let name = s(&u["name"]);
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        assert_eq!(r["first_name"], first);
        assert_eq!(
            r["last_name"],
            if last.is_empty() {
                Value::Null
            } else {
                last.into()
            }
        );
        assert_eq!(r["email"], u["email"]);
        let want = if u["deactivatedAt"].is_null() {
            "ACTIVE"
        } else {
            "INACTIVE"
        };
        inactive += (want == "INACTIVE") as usize;
        assert_eq!(r["status"], want);
    }
    assert!(inactive > 0);
    assert!(users.values().any(|u| u["last_name"] == "José García"));

    // jobs and postings
    let mut confidential = 0;
    for p in &d.postings {
        let id = s(&p["id"]);
        let (j, jp) = (&jobs[id], &posts[id]);
        assert_eq!(j["name"], p["text"]);
        let code = if p["reqCode"].is_null() {
            arr(&p["requisitionCodes"])
                .first()
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            p["reqCode"].clone()
        };
        assert_eq!(j["job_code"], code, "{id}");
        let desc = s(&j["description"]);
        assert!(
            desc.starts_with(s(&p["content"]["descriptionHtml"])),
            "{desc}"
        );
        // the notes' table: descriptionHtml + each list's content + closingHtml, joined
        let want: String = std::iter::once(s(&p["content"]["descriptionHtml"]))
            .chain(arr(&p["content"]["lists"]).iter().map(|l| s(&l["content"])))
            .chain(std::iter::once(s(&p["content"]["closingHtml"])))
            .collect();
        assert_eq!(desc, want, "{id}");
        let headings: Vec<&str> = arr(&p["content"]["lists"])
            .iter()
            .map(|l| s(&l["text"]))
            .collect();
        if !headings.is_empty() {
            assert_eq!(
                j["custom_fields"]["list_headings"],
                serde_json::json!(headings)
            );
        }
        assert!(desc.ends_with(s(&p["content"]["closingHtml"])));
        assert_eq!(jp["description_html"], j["description"]);
        let conf = p["confidentiality"] == "confidential";
        confidential += conf as usize;
        assert_eq!(j["confidential"], conf);
        assert_eq!(j["category"], p["categories"]["team"]);
        assert_eq!(j["department"], p["categories"]["department"]);
        assert_eq!(j["experience_level"], p["categories"]["level"]);
        assert_eq!(j["post_url"], p["urls"]["show"]);
        assert_eq!(j["location"]["raw"], p["categories"]["location"]);
        assert_eq!(j["location"]["country"], p["country"]);
        assert_eq!(j["remote_created_at"], iso(&p["createdAt"]));
        assert_eq!(j["remote_updated_at"], iso(&p["updatedAt"]));
        let status = match s(&p["state"]) {
            "published" | "internal" => "OPEN",
            "closed" => "CLOSED",
            _ => "DRAFT",
        };
        assert_eq!(j["status"], status, "{id}");
        let employment = match p["categories"]["commitment"].as_str() {
            Some("Full-time") => "FULL_TIME".into(),
            Some("Part-time") => "PART_TIME".into(),
            Some("Contract") | Some("Temporary") => "CONTRACT".into(),
            Some("Internship") => "INTERNSHIP".into(),
            Some("Seasonal") => "SEASONAL".into(),
            _ => Value::Null,
        };
        assert_eq!(j["employment_type"], employment, "{id}");
        let channels: Vec<&str> = arr(&p["distributionChannels"]).iter().map(s).collect();
        let vis = if channels.contains(&"public") {
            "PUBLIC".into()
        } else if channels.contains(&"internal") || p["state"] == "internal" {
            "INTERNAL".into()
        } else {
            Value::Null
        };
        assert_eq!(jp["visibility"], vis, "{id}");
        if !conf {
            assert_eq!(j["visibility"], vis, "{id}");
        } else {
            assert_eq!(j["visibility"], "CONFIDENTIAL");
        }
        let pstatus = match s(&p["state"]) {
            "published" | "internal" => "ACTIVE",
            "closed" => "INACTIVE",
            _ => "DRAFT",
        };
        assert_eq!(jp["status"], pstatus);
        assert_eq!(jp["job_id"], j["id"]);
        assert_eq!(jp["url"], p["urls"]["show"]);
    }
    assert!(confidential > 0, "confidential postings are read");

    // hiring team: hiring manager and owner, merged when one user is both
    let team = read(out, "job_hiring_team_members");
    for p in &d.postings {
        let job = unified("jobs", s(&p["id"]));
        for (who, role) in [("hiringManager", "HIRING_MANAGER"), ("owner", "RECRUITER")] {
            if let Some(u) = p[who].as_str() {
                let m = team
                    .iter()
                    .find(|m| {
                        m["job_id"] == job.as_str() && m["user_id"] == unified("users", u).as_str()
                    })
                    .unwrap();
                assert!(arr(&m["roles"]).iter().any(|r| r == role));
            }
        }
    }

    // the company-wide pipeline for every job, in order
    for (i, st) in d.stages.iter().enumerate() {
        assert_eq!(stages[s(&st["id"])]["global_index"], i);
        assert_eq!(stages[s(&st["id"])]["name"], st["text"]);
    }
    let jas = read(out, "job_application_stages");
    let last = d.stages.last().unwrap();
    let r = jas
        .iter()
        .find(|r| {
            r["job_id"] == unified("jobs", s(&d.postings[0]["id"])).as_str()
                && r["stage_id"] == unified("application_stages", s(&last["id"])).as_str()
        })
        .unwrap();
    assert_eq!(r["index"], d.stages.len() - 1);

    // candidates = opportunities; applications with outcome from the archive reason type
    let reasons: HashMap<&str, &Value> =
        d.archive_reasons.iter().map(|r| (s(&r["id"]), r)).collect();
    let (mut hired, mut declined, mut pending, mut conf_c) = (0, 0, 0, 0);
    for o in &d.opportunities {
        let oid = s(&o["id"]);
        let c = &cands[oid];
        let name = s(&o["name"]);
        let (first, _) = name.split_once(' ').unwrap_or((name, ""));
        assert_eq!(c["first_name"], first);
        assert_eq!(
            c["source"],
            arr(&o["sources"]).first().cloned().unwrap_or(Value::Null)
        );
        let conf = o["confidentiality"] == "confidential";
        conf_c += conf as usize;
        assert_eq!(c["confidential"], conf);
        assert_eq!(arr(&c["email_addresses"]).len(), arr(&o["emails"]).len());
        assert_eq!(arr(&c["phone_numbers"]).len(), arr(&o["phones"]).len());
        assert_eq!(arr(&c["social_media"]).len(), arr(&o["links"]).len());
        for (p, r) in arr(&o["phones"]).iter().zip(arr(&c["phone_numbers"])) {
            assert_eq!(r["phone_number"], p["value"]);
            assert_eq!(r["type"], s(&p["type"]).to_uppercase());
        }
        assert_eq!(c["location"]["raw"], o["location"]);
        assert_eq!(c["remote_created_at"], iso(&o["createdAt"]));
        assert_eq!(c["custom_fields"]["contact_id"], o["contact"]);
        for a in arr(&o["applications"]) {
            let r = &apps[s(&a["id"])];
            assert_eq!(r["candidate_id"], c["id"]);
            assert_eq!(r["job_id"], unified("jobs", s(&a["posting"])).as_str());
            assert_eq!(
                r["current_stage_id"],
                unified("application_stages", s(&o["stage"])).as_str()
            );
            assert_eq!(r["remote_created_at"], iso(&a["createdAt"]));
            match a["archived"]["reason"].as_str() {
                None => {
                    pending += 1;
                    assert_eq!(r["outcome"], "PENDING");
                    assert!(r["rejection_reason_name"].is_null() && r["rejected_at"].is_null());
                }
                Some(reason) if reasons[reason]["type"] == "hired" => {
                    hired += 1;
                    assert_eq!(r["outcome"], "HIRED");
                    // the notes' table: the archive reason's text and time, hired too
                    assert_eq!(r["rejection_reason_name"], reasons[reason]["text"]);
                    assert_eq!(r["rejected_at"], iso(&a["archived"]["archivedAt"]));
                }
                Some(reason) => {
                    declined += 1;
                    assert_eq!(r["outcome"], "DECLINED");
                    assert_eq!(r["rejection_reason_name"], reasons[reason]["text"]);
                    assert_eq!(r["rejected_at"], iso(&a["archived"]["archivedAt"]));
                }
            }
        }

        // interviews: the application of one of their postings; end = start + duration
        for iv in d.interviews.get(oid).into_iter().flatten() {
            let r = &ivs[s(&iv["id"])];
            assert_eq!(r["title"], iv["subject"]);
            assert_eq!(r["starting_at"], iso(&iv["date"]));
            let end = iv["date"].as_i64().unwrap() + iv["duration"].as_i64().unwrap() * 60_000;
            assert_eq!(r["ending_at"], iso(&end.into()));
            assert_eq!(r["canceled"], !iv["canceledAt"].is_null());
            assert_eq!(
                r["stage_id"],
                unified("application_stages", s(&iv["stage"])).as_str()
            );
            let want = arr(&o["applications"])
                .iter()
                .find(|a| arr(&iv["postings"]).contains(&a["posting"]))
                .map(|a| unified("applications", s(&a["id"])));
            assert_eq!(
                r["application_id"].as_str(),
                want.as_deref(),
                "{}",
                iv["id"]
            );
        }
        // offers: the application for the offer's posting
        for of in d.offers.get(oid).into_iter().flatten() {
            let r = &offers[s(&of["id"])];
            let a = arr(&o["applications"])
                .iter()
                .find(|a| a["posting"] == of["posting"])
                .unwrap();
            assert_eq!(
                r["application_id"],
                unified("applications", s(&a["id"])).as_str()
            );
            let status = match s(&of["status"]) {
                "draft" | "approval-sent" => "DRAFT",
                "approved" => "APPROVED",
                "sent" | "sent-manually" | "opened" => "SENT",
                "denied" => "DECLINED",
                "signed" => "ACCEPTED",
                other => panic!("{other}"),
            };
            assert_eq!(r["status"], status);
            assert_eq!(r["remote_created_at"], iso(&of["createdAt"]));
        }
    }
    assert!(hired > 0 && declined > 0 && pending > 0 && conf_c > 0);
    assert!(
        ivs.values().any(|i| i["application_id"].is_null()),
        "an interview naming no posting has no application"
    );

    // screening questions: types, options, required per posting
    let qs = by_remote(&read(out, "screening_questions"));
    let jsq = read(out, "job_screening_questions");
    for p in &d.postings {
        let fields: Vec<&Value> = arr(&d.forms[s(&p["id"])]["customQuestions"])
            .iter()
            .flat_map(|f| arr(&f["fields"]))
            .collect();
        for (i, f) in fields.iter().enumerate() {
            let q = &qs[s(&f["id"])];
            assert_eq!(q["title"], f["text"]);
            let names: Vec<Value> = arr(&f["options"])
                .iter()
                .map(|o| o["text"].clone())
                .collect();
            if names.is_empty() {
                assert!(q["format"]["options"].is_null());
            } else {
                let got: Vec<Value> = arr(&q["format"]["options"])
                    .iter()
                    .map(|o| o["name"].clone())
                    .collect();
                assert_eq!(got, names);
            }
            let r = jsq
                .iter()
                .find(|r| {
                    r["job_id"] == unified("jobs", s(&p["id"])).as_str()
                        && r["question_id"] == q["id"]
                })
                .unwrap();
            assert_eq!(r["required"], f["required"]);
            assert_eq!(r["index"], i);
        }
    }
    let types: HashSet<&str> = qs.values().map(|q| s(&q["format"]["type"])).collect();
    for t in [
        "TEXT",
        "SINGLE_SELECT",
        "MULTI_SELECT",
        "BOOLEAN",
        "FILE",
        "DATE",
    ] {
        assert!(types.contains(t), "{t}: {types:?}");
    }

    // rejection reasons: all archive reasons but the hired one
    let rr = by_remote(&read(out, "rejection_reasons"));
    for r in &d.archive_reasons {
        assert_eq!(rr.contains_key(s(&r["id"])), r["type"] != "hired");
    }
}

/// Deletions at the vendor between two full syncs: the tombstones' times on the records
/// themselves, and the records that hang under them gone too; a delta run sends the declared
/// epoch-millisecond filters and applies the deleted lists.
#[tokio::test(flavor = "multi_thread")]
async fn deletions_and_delta_runs() {
    let sim = lever::start(Size::Full, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);

    // an opportunity with applications, interviews, offers and tags; a posting with applications
    let (opp, opp_apps, opp_ivs, opp_offers, posting, posting_apps) = {
        let d = sim.sim.data.read().unwrap();
        let o = d
            .opportunities
            .iter()
            .find(|o| {
                let id = s(&o["id"]);
                !d.interviews[id].is_empty()
                    && !d.offers[id].is_empty()
                    && !arr(&o["tags"]).is_empty()
            })
            .unwrap();
        let id = s(&o["id"]).to_owned();
        let apps: Vec<String> = arr(&o["applications"])
            .iter()
            .map(|a| s(&a["id"]).to_owned())
            .collect();
        let ivs: Vec<String> = d.interviews[&id]
            .iter()
            .map(|i| s(&i["id"]).to_owned())
            .collect();
        let offers: Vec<String> = d.offers[&id]
            .iter()
            .map(|i| s(&i["id"]).to_owned())
            .collect();
        let postings_of_o: HashSet<&str> = arr(&o["applications"])
            .iter()
            .map(|a| s(&a["posting"]))
            .collect();
        let p = d
            .postings
            .iter()
            .find(|p| {
                !postings_of_o.contains(s(&p["id"]))
                    && d.applications().any(|a| a["posting"] == p["id"])
            })
            .unwrap();
        let pid = s(&p["id"]).to_owned();
        let papps: Vec<String> = d
            .applications()
            .filter(|a| a["posting"] == p["id"])
            .map(|a| s(&a["id"]).to_owned())
            .collect();
        (id, apps, ivs, offers, pid, papps)
    };
    let opp_at = sim.sim.delete_opportunity(&opp).unwrap();
    let post_at = sim.sim.delete_posting(&posting).unwrap();

    let r = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let o = out.path();
    let deleted_at = |model: &str, remote: &str| -> Value {
        by_remote(&read(o, model))[remote]["remote_deleted_at"].clone()
    };
    // the tombstones' times
    assert_eq!(deleted_at("candidates", &opp), iso(&opp_at.into()));
    assert_eq!(deleted_at("jobs", &posting), iso(&post_at.into()));
    assert_eq!(deleted_at("job_postings", &posting), iso(&post_at.into()));
    for a in &opp_apps {
        assert_eq!(deleted_at("applications", a), iso(&opp_at.into()));
    }
    for a in &posting_apps {
        assert_eq!(deleted_at("applications", a), iso(&post_at.into()));
    }
    // the dependents: gone from the lists, so deleted by absence
    for i in &opp_ivs {
        assert!(deleted_at("interviews", i).is_string());
    }
    for i in &opp_offers {
        assert!(deleted_at("offers", i).is_string());
    }
    let cid = unified("candidates", &opp);
    let ctags = read(o, "candidate_tags");
    let mine: Vec<&Value> = ctags
        .iter()
        .filter(|t| t["candidate_id"] == cid.as_str())
        .collect();
    assert!(!mine.is_empty() && mine.iter().all(|t| t["remote_deleted_at"].is_string()));
    let jid = unified("jobs", &posting);
    for model in ["job_application_stages", "job_hiring_team_members"] {
        let recs = read(o, model);
        let mine: Vec<&Value> = recs
            .iter()
            .filter(|t| t["job_id"] == jid.as_str())
            .collect();
        assert!(!mine.is_empty(), "{model}");
        assert!(
            mine.iter().all(|t| t["remote_deleted_at"].is_string()),
            "{model}"
        );
        assert!(
            recs.iter()
                .filter(|t| t["job_id"] != jid.as_str())
                .any(|t| t["remote_deleted_at"].is_null()),
            "{model}"
        );
    }
    assert_eq!(r.models["candidates"].deleted, 1);
    assert_eq!(r.models["jobs"].deleted, 1);

    // a delta run: epoch-ms filters on the opportunity, posting and deleted lists; a deletion
    // since the last sync arrives through the tombstone list
    let (gone, gone_apps) = {
        let d = sim.sim.data.read().unwrap();
        let o = d
            .opportunities
            .iter()
            .find(|o| !arr(&o["applications"]).is_empty())
            .unwrap();
        (
            s(&o["id"]).to_owned(),
            arr(&o["applications"])
                .iter()
                .map(|a| s(&a["id"]).to_owned())
                .collect::<Vec<_>>(),
        )
    };
    let gone_at = sim.sim.delete_opportunity(&gone).unwrap();
    sim.sim.log.lock().unwrap().clear();
    let before = lever::now_ms();
    let r = run_lever(&sim.url(), out.path(), true).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    for (path, param) in [
        ("/v1/opportunities", "updated_at_start"),
        ("/v1/postings", "updated_at_start"),
        ("/v1/opportunities/deleted", "deleted_at_start"),
        ("/v1/postings/deleted", "deleted_at_start"),
        ("/v1/applications/deleted", "deleted_at_start"),
    ] {
        let qs = sim.sim.queries_of(path);
        assert!(!qs.is_empty(), "{path}");
        for q in &qs {
            let v: i64 = q
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{param}=")))
                .unwrap_or_else(|| panic!("{path}?{q} lacks {param}"))
                .parse()
                .unwrap_or_else(|_| panic!("{path}?{q}: {param} is not epoch ms"));
            // the last sync's start minus the overlap: recent, in milliseconds
            assert!(v > before - 3_600_000 && v < before, "{path}?{q}");
        }
    }
    // only what changed since: far fewer opportunities than a full walk
    assert!(
        r.models["candidates"].written < 100,
        "{:?}",
        r.models["candidates"]
    );
    assert_eq!(deleted_at("candidates", &gone), iso(&gone_at.into()));
    for a in &gone_apps {
        assert_eq!(deleted_at("applications", a), iso(&gone_at.into()));
    }
}

#[tokio::test]
async fn wrong_key_fails_with_exit_1_naming_the_401() {
    let sim = lever::start(Size::Small, KEY, false, 0).await.unwrap();
    let url = sim.url();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
            .args(["run", SPEC, "--base-url", &url, "--out"])
            .arg(&dir)
            .env("LEVER_API_KEY", "not-the-key")
            .env_remove("LEVER_ACCESS_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("/v1/"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_oauth_access_token_is_sent_as_bearer() {
    let sim = lever::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(out.path().to_path_buf());
    o.base_url = Some(url::Url::parse(&sim.url()).unwrap());
    o.env = [(
        "LEVER_ACCESS_TOKEN".to_owned(),
        lever::ACCESS_TOKEN.to_owned(),
    )]
    .into();
    let r = run(Arc::new(compile_file(Path::new(SPEC)).unwrap()), o)
        .await
        .unwrap();
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let d = sim.sim.data.read().unwrap().clone();
    assert_eq!(read(out.path(), "candidates").len(), d.opportunities.len());
}

/// With the simulator's token bucket on (10/s, bursts of 20), the run follows the budget
/// headers and waits out any 429, and gets everything.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_simulator_is_handled() {
    use std::sync::atomic::Ordering::Relaxed;
    let sim = lever::start(Size::Small, KEY, true, 0).await.unwrap();
    // another client of the same key has just spent the whole burst: the run's first
    // requests meet 429s
    let client = reqwest::Client::new();
    for _ in 0..24 {
        client
            .get(format!("{}/v1/stages", sim.url()))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap();
    }
    let refused_before = sim.sim.rate_limited.load(Relaxed);
    assert!(refused_before > 0);
    let out = tempfile::tempdir().unwrap();
    let r = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    assert!(
        sim.sim.rate_limited.load(Relaxed) > refused_before,
        "the run met 429s"
    );
    assert!(r.retries > 0);
    let d = sim.sim.data.read().unwrap().clone();
    let requests = sim.sim.requests.load(Relaxed);
    assert!(
        requests > 24 + 20,
        "more requests than one burst: {requests}"
    );
    for (model, n) in expected_counts(&d) {
        assert_eq!(read(out.path(), model).len(), n, "{model}");
    }
}

#[test]
fn sandbox_runs_offline_on_a_realistic_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", SPEC, "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove("LEVER_API_KEY")
        .env_remove("LEVER_ACCESS_TOKEN")
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
    let n = |m: &str| report["models"][m]["written"].as_u64().unwrap();
    assert!(n("jobs") >= 50);
    assert!(n("job_postings") >= 50);
    assert!(n("candidates") >= 500);
    assert!(n("applications") >= 1000);
    for m in MODELS {
        assert!(n(m) > 0, "{m}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_sandbox_cassette_is_the_simulators_data() {
    let sim = lever::start(Size::Full, KEY, false, 0).await.unwrap();
    support::assert_cassette_fresh(
        Path::new(SPEC),
        &sim.url(),
        ("LEVER_API_KEY", KEY),
        "connectors/lever.cassette.ndjson",
    )
    .await;
}

#[tokio::test]
async fn small_dataset_snapshot() {
    let sim = lever::start(Size::Small, KEY, false, 0).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(r.status, Status::Success, "{:?}", r.error);
    let all = snapshot_of(out.path(), MODELS);
    insta::assert_json_snapshot!("lever_small_unified_output", all);
}

/// Nulls and empty values where Lever may send them do not make records invalid.
#[tokio::test]
async fn null_and_empty_vendor_values_are_tolerated() {
    let sim = lever::start(Size::Small, KEY, false, 0).await.unwrap();
    let (opp, app) = {
        let mut d = sim.sim.data.write().unwrap();
        d.users[0]["name"] = Value::Null;
        d.users[1]["name"] = "  Cher ".into();
        let p = &mut d.postings[0];
        for k in [
            "categories",
            "content",
            "distributionChannels",
            "tags",
            "country",
            "urls",
            "hiringManager",
            "owner",
        ] {
            p[k] = Value::Null;
        }
        let pid = s(&d.postings[0]["id"]).to_owned();
        d.forms.get_mut(&pid).unwrap()["customQuestions"] = serde_json::json!([]);
        let i = d
            .opportunities
            .iter()
            .position(|o| {
                !arr(&o["applications"]).is_empty() && !d.interviews[s(&o["id"])].is_empty()
            })
            .unwrap();
        let oid = s(&d.opportunities[i]["id"]).to_owned();
        let o = &mut d.opportunities[i];
        for k in [
            "name",
            "phones",
            "emails",
            "links",
            "tags",
            "sources",
            "location",
            "headline",
            "createdAt",
        ] {
            o[k] = Value::Null;
        }
        o["archived"] = serde_json::json!({"reason": "no-such-reason", "archivedAt": null});
        let a = &mut o["applications"][0];
        a["posting"] = Value::Null;
        a["company"] = Value::Null;
        a["archived"] = serde_json::json!({"reason": "no-such-reason", "archivedAt": null});
        let aid = s(&a["id"]).to_owned();
        let iv = &mut d.interviews.get_mut(&oid).unwrap()[0];
        for k in [
            "postings",
            "duration",
            "location",
            "stage",
            "interviewers",
            "subject",
        ] {
            iv[k] = Value::Null;
        }
        if let Some(of) = d.offers.values_mut().flatten().next() {
            for k in ["fields", "signatures", "approvedAt", "sentAt"] {
                of[k] = Value::Null;
            }
        }
        (oid, aid)
    };
    let out = tempfile::tempdir().unwrap();
    let r = run_lever(&sim.url(), out.path(), false).await;
    assert_eq!(
        r.status,
        Status::Success,
        "{:?}",
        r.models
            .values()
            .flat_map(|m| m.invalid_records.clone())
            .collect::<Vec<_>>()
    );
    let d = sim.sim.data.read().unwrap().clone();
    let users = by_remote(&read(out.path(), "users"));
    let u0 = &users[s(&d.users[0]["id"])];
    assert!(u0["first_name"].is_null() && u0["last_name"].is_null());
    let u1 = &users[s(&d.users[1]["id"])];
    assert_eq!(u1["first_name"], "Cher");
    assert!(u1["last_name"].is_null());
    let c = &by_remote(&read(out.path(), "candidates"))[&opp];
    assert!(c["first_name"].is_null() && c["location"].is_null());
    assert_eq!(c["phone_numbers"], serde_json::json!([]));
    let a = &by_remote(&read(out.path(), "applications"))[&app];
    assert!(a["job_id"].is_null());
    assert_eq!(
        a["outcome"], "DECLINED",
        "archived for a reason no longer listed"
    );
    assert!(a["rejected_at"].is_null());
    let j = &by_remote(&read(out.path(), "jobs"))[s(&d.postings[0]["id"])];
    assert!(
        j["description"].is_null() && j["location"].is_null() && j["employment_type"].is_null()
    );
}
