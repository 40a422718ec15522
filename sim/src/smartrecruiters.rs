//! A SmartRecruiters simulator, as `vendor-apis/smartrecruiters.md` (section 11) describes it.
//!
//! `X-SmartToken` or OAuth2 client credentials (`POST /identity/oauth/token`); the three
//! paging envelopes (`/jobs` and `/candidates` with `pageId`/`nextPageId` and `totalFound`,
//! users without a total, `/offers` with `offset`); `X-RateLimit-*` headers on every
//! response; 429 above 10 requests/s, above 8 in flight, or above 1 concurrent
//! `GET /candidates` (switchable); null fields omitted; versioned path prefixes.

use crate::{FIRST, LAST, Rng, Window, ts};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each, for snapshots.
    Small,
    /// 16 jobs, 60 candidates, about 100 applications.
    Full,
}

const API: &str = "https://api.smartrecruiters.com";

/// One application: a candidate's assignment to a job, with what hangs off it.
#[derive(Clone, Debug)]
pub struct Application {
    /// Application UUID.
    pub id: String,
    /// Candidate id.
    pub candidate_id: String,
    /// Job id.
    pub job_id: String,
    /// Whether it is the candidate's primary assignment.
    pub primary: bool,
    /// `GET /candidates/{id}/jobs/{jobId}` (with `id`).
    pub detail: Value,
    /// Status history entries, in the order served.
    pub history: Vec<Value>,
    /// Interviews (Interview API objects).
    pub interviews: Vec<Value>,
    /// Offers.
    pub offers: Vec<Value>,
}

/// The data served.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Users (list items).
    pub users: Vec<Value>,
    /// Job details; the list serves their summary.
    pub jobs: Vec<Value>,
    /// Job status history by job id.
    pub job_history: HashMap<String, Vec<Value>>,
    /// Hiring team by job id.
    pub hiring_team: HashMap<String, Vec<Value>>,
    /// Job ads by job id.
    pub job_ads: HashMap<String, Vec<Value>>,
    /// Posting configuration by job ad id.
    pub posting_config: HashMap<String, Value>,
    /// Candidate details.
    pub candidates: Vec<Value>,
    /// Applications.
    pub applications: Vec<Application>,
    /// Hiring processes.
    pub hiring_processes: Vec<Value>,
    /// Rejection reasons.
    pub rejection_reasons: Vec<Value>,
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn hex24(rng: &mut Rng) -> String {
    format!("{:016x}{:08x}", rng.next(), rng.next() >> 32)
}

fn action(url: String) -> Value {
    json!({"url": url, "method": "GET"})
}

const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Berlin", "Berlin", "Germany", "de"),
    ("Kraków", "Lesser Poland", "Poland", "pl"),
    ("São Paulo", "SP", "Brazil", "br"),
    ("Montréal", "QC", "Canada", "ca"),
    ("London", "England", "United Kingdom", "gb"),
];
const JOB_TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Warehouse Associate",
    "Product Designer",
    "Talent Partner",
    "Data Analyst",
    "Field Technician",
    "Support Engineer",
    "Controller",
];
const EMPLOYMENT: &[(&str, &str)] = &[
    ("permanent", "Full-time"),
    ("part_time", "Part-time"),
    ("contract", "Contract"),
    ("intern", "Intern"),
    ("seasonal", "Seasonal"),
];
const JOB_STATUSES: &[&str] = &[
    "SOURCING",
    "SOURCING",
    "INTERVIEW",
    "OFFER",
    "FILLED",
    "CREATED",
    "CANCELLED",
    "ON_HOLD",
];
const POSTING: &[&str] = &["PUBLIC", "INTERNAL", "NOT_PUBLISHED", "PRIVATE", "PUBLIC"];
const ROLES: &[&str] = &[
    "HIRING_MANAGER",
    "RECRUITER",
    "INTERVIEW_TEAM",
    "EXECUTIVE",
    "COORDINATOR",
];
const OFFER_STATUSES: &[&str] = &[
    "CREATED",
    "PENDING_APPROVAL",
    "APPROVED",
    "NOT_APPROVED",
    "PENDING_ACCEPTANCE",
    "ACCEPTED",
    "NOT_ACCEPTED",
    "ABANDONED",
];
const SOURCES: &[&str] = &[
    "Employee Referral",
    "LinkedIn",
    "Career Site",
    "Indeed",
    "Agentur Müller",
];

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let mut rng = Rng::new(0x5352_2024);
    let (n_users, n_jobs, n_cands) = match size {
        Size::Small => (4, 3, 5),
        Size::Full => (25, 16, 60),
    };
    let day = 86_400u64;
    let mut d = Dataset::default();
    for i in 0..n_users {
        let (f, l) = (FIRST[(i * 3) % FIRST.len()], LAST[(i * 5 + 1) % LAST.len()]);
        let mut u = json!({
            "id": hex24(&mut rng), "email": format!("{}.{}@acme-robotics.test", i, l.to_lowercase().replace(' ', "")),
            "firstName": f, "lastName": l,
            "systemRole": {"id": (["ADMINISTRATOR", "STANDARD", "EXTENDED", "RESTRICTED"][i % 4]), "name": "Role"},
            "language": {"code": "en"}, "active": i % 6 != 5, "updatedOn": ts(i as u64 * day), "accessGroups": [],
        });
        if i % 3 == 0 {
            u["externalData"] = json!(format!("EMP-{:05}", 400 + i));
        }
        d.users.push(u);
    }
    let uid = |d: &Dataset, i: usize| {
        d.users[i % d.users.len()]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    d.hiring_processes = vec![
        json!({"id": "default", "name": "Default Hiring Process", "active": true, "subStatuses": {
            "IN_REVIEW": ["Resume Review", "Phone Screen", "Assessment"], "INTERVIEW": ["First Interview", "Technical Interview", "Final Interview"], "OFFERED": ["Offer Pending", "Offer Accepted", "Offer Declined"]}}),
        json!({"id": hex24(&mut rng), "name": "Warehouse Hourly", "active": true, "subStatuses": {
            "IN_REVIEW": ["Quick Screen", "Phone Screen"], "INTERVIEW": ["On-site Walkthrough"], "OFFERED": ["Verbal Offer"]}}),
    ];
    d.rejection_reasons = [
        "Not enough experience",
        "Salary expectations too high",
        "Position filled",
        "Keine Arbeitserlaubnis",
    ]
    .iter()
    .map(|l| json!({"id": uuid(&mut rng), "label": l}))
    .collect();

    for j in 0..n_jobs {
        let id = uuid(&mut rng);
        let created = 20 * day + j as u64 * 2 * day;
        let (city, region, country, cc) = CITIES[j % CITIES.len()];
        let (emp_id, emp_label) = EMPLOYMENT[j % EMPLOYMENT.len()];
        let status = JOB_STATUSES[j % JOB_STATUSES.len()];
        let mut job = json!({
            "id": id, "title": JOB_TITLES[j % JOB_TITLES.len()], "refNumber": format!("REF{:04}K", 2000 + j),
            "createdOn": ts(created), "updatedOn": ts(created + 10 * day), "lastActivityOn": ts(created + 12 * day),
            "department": {"id": format!("{}", 884_500 + j % 4), "label": (["Platform Engineering", "Operations", "People", "Finance"][j % 4])},
            "location": {"country": country, "countryCode": cc, "region": region, "city": city, "address": format!("Straße {} {}", j + 1, city), "postalCode": format!("{:05}", 10_000 + j * 37), "remote": j % 3 == 0},
            "status": status, "postingStatus": POSTING[j % POSTING.len()],
            "industry": {"id": "computer_software", "label": "Computer Software"},
            "function": {"id": (["engineering", "operations", "design"][j % 3]), "label": (["Engineering", "Operations", "Design"][j % 3])},
            "typeOfEmployment": {"id": emp_id, "label": emp_label},
            "experienceLevel": {"id": "mid_senior_level", "label": (["Mid-Senior Level", "Entry Level", "Director"][j % 3])},
            "template": false, "creator": {"id": uid(&d, j), "firstName": "Maria", "lastName": "Lopez"},
            "jobAd": {"sections": {
                "companyDescription": {"title": "Company Description", "text": "<p>Acme Robotics builds warehouse robots.</p>"},
                "jobDescription": {"title": "Job Description", "text": format!("<p>Job {j}: own the work.</p>")},
                "qualifications": {"title": "Qualifications", "text": "<ul><li>Curiosity</li></ul>"}}},
            "properties": [
                {"id": "5880c55be4b0cfde272956ad", "label": "Brand", "value": {"id": format!("brand-{}", j % 2), "label": (["Acme Logistics", "Acme Robotik"][j % 2])}},
                {"id": "COUNTRY", "label": "Country", "value": {"id": cc, "label": country}}],
            "actions": {"details": action(format!("{API}/jobs/{id}")), "hiringTeam": action(format!("{API}/jobs/{id}/hiring-team"))},
        });
        if j % 5 != 4 {
            job["actions"]["applyOnWeb"] = action(format!(
                "https://jobs.smartrecruiters.com/AcmeRobotics/{}-job-{j}",
                743_999_000 + j
            ));
        }
        if j % 7 == 6 {
            job.as_object_mut().unwrap().remove("refNumber");
        }
        let mut hist = vec![json!({"changedOn": ts(created), "status": "CREATED"})];
        if status != "CREATED" {
            hist.push(json!({"changedOn": ts(created + day), "status": "SOURCING"}));
            if status != "SOURCING" {
                hist.push(json!({"changedOn": ts(created + 8 * day), "status": status}));
            }
        }
        if j % 2 == 1 {
            hist.reverse(); // the order is not promised
        }
        d.job_history.insert(id.clone(), hist);
        let team: Vec<Value> = (0..(1 + j % 3))
            .map(|k| {
                let u = uid(&d, j * 3 + k);
                json!({"id": u, "role": ROLES[(j + k) % ROLES.len()], "actions": {"details": action(format!("{API}/user-api/v201804/users/{u}"))}})
            })
            .chain((j % 4 == 0).then(|| {
                let u = uid(&d, j * 3);
                json!({"id": u, "role": "RECRUITER", "actions": {"details": action(format!("{API}/user-api/v201804/users/{u}"))}})
            }))
            .collect();
        d.hiring_team.insert(id.clone(), team);
        let mut ads = Vec::new();
        for a in 0..(j % 3) {
            let ad_id = uuid(&mut rng);
            let published = a == 0;
            ads.push(json!({
                "id": ad_id, "title": format!("{} ({})", JOB_TITLES[j % JOB_TITLES.len()], (["EN", "DE"][a % 2])),
                "language": {"code": (["en", "de"][a % 2]), "label": "English"},
                "jobAd": {"sections": {"jobDescription": {"title": "Job Description", "text": format!("<p>Ad {a} for job {j}.</p>")}}},
                "createdOn": ts(created + (a as u64 + 1) * day), "updatedOn": ts(created + (a as u64 + 2) * day),
                "applyUrl": format!("https://jobs.smartrecruiters.com/AcmeRobotics/{}?oga=true", ad_id),
                "postingStatus": if published { "PUBLISHED" } else { "NOT_PUBLISHED" },
                "visibility": (["PUBLIC", "INTERNAL", "PRIVATE"][(j + a) % 3]), "default": a == 0,
                "creator": {"id": uid(&d, j)},
                "actions": {"postings": action(format!("{API}/jobs/{id}/jobads/{ad_id}/postings"))},
            }));
            let q = |qid: &str, label: &str, typ: &str, required: bool, values: &[(&str, &str)]| {
                json!({"id": qid, "label": label, "repeatable": false, "fields": [{"id": "answer", "label": "", "type": typ, "required": required,
                    "values": values.iter().map(|(i, l)| json!({"id": i, "label": l})).collect::<Vec<_>>()}]})
            };
            let questions = match (j + a) % 3 {
                0 => vec![
                    q(
                        "q-work-permit",
                        "Do you have a permit to work in the EU?",
                        "SINGLE_SELECT",
                        true,
                        &[("yes", "Yes"), ("no", "No")],
                    ),
                    q(
                        "q-visa-sponsor",
                        "Do you need visa sponsorship?",
                        "RADIO",
                        false,
                        &[("yes", "Yes"), ("no", "No")],
                    ),
                    q("q-motivation", "Why Acme?", "TEXTAREA", false, &[]),
                ],
                1 => vec![
                    q("q-start", "Earliest start date", "INPUT_TEXT", true, &[]),
                    q(
                        "q-shifts",
                        "Which shifts can you work?",
                        "MULTI_SELECT",
                        false,
                        &[("early", "Früh"), ("late", "Spät"), ("night", "Nacht")],
                    ),
                ],
                _ => vec![],
            };
            let conditionals = if (j + a) % 3 == 0 {
                json!([{"parentQuestionId": "q-work-permit", "fieldId": "answer", "valueIds": ["no"], "conditionalQuestions": ["q-visa-sponsor"]}])
            } else {
                json!([])
            };
            d.posting_config.insert(ad_id, json!({"questions": questions, "settings": {"avatarUploadAvailable": false, "conditionals": conditionals},
                "privacyPolicies": [{"url": "https://acme-robotics.test/privacy", "orgName": "Acme Robotics GmbH"}]}));
        }
        d.job_ads.insert(id, ads);
        d.jobs.push(job);
    }

    // candidates and applications
    let statuses = [
        "NEW",
        "IN_REVIEW",
        "INTERVIEW",
        "OFFERED",
        "HIRED",
        "REJECTED",
        "WITHDRAWN",
        "LEAD",
        "INTERVIEW",
        "IN_REVIEW",
    ];
    for c in 0..n_cands {
        let id = uuid(&mut rng);
        let created = 40 * day + c as u64 * 7200;
        let (f, l) = (
            FIRST[(c * 7 + 2) % FIRST.len()],
            LAST[(c * 3 + 5) % LAST.len()],
        );
        let (city, region, country, cc) = CITIES[c % CITIES.len()];
        let n_apps = (1 + [0, 0, 1, 2, 0, 1][c % 6]).min(n_jobs);
        let mut assignments = Vec::new();
        for k in 0..n_apps {
            let j = (c * 5 + k) % n_jobs; // distinct jobs per candidate
            let job = &d.jobs[j];
            let job_id = job["id"].as_str().unwrap().to_owned();
            let status = statuses[(c + k * 3) % statuses.len()];
            let process = &d.hiring_processes[j % 2];
            let sub: Option<String> = match status {
                "IN_REVIEW" | "INTERVIEW" | "OFFERED" => {
                    let opts = process["subStatuses"][status].as_array().unwrap();
                    if c % 11 == 10 {
                        Some("Ad-hoc Step".to_owned())
                    } else {
                        Some(opts[(c + k) % opts.len()].as_str().unwrap().to_owned())
                    }
                }
                _ => None,
            };
            let applied = created + k as u64 * 3 * day;
            let mut history = vec![
                json!({"changedOn": ts(applied), "status": if status == "LEAD" { "LEAD" } else { "NEW" }}),
            ];
            if !matches!(status, "NEW" | "LEAD") {
                history.push(json!({"changedOn": ts(applied + day), "status": "IN_REVIEW", "subStatus": "Resume Review"}));
                if status != "IN_REVIEW" {
                    let mut e = json!({"changedOn": ts(applied + 4 * day + (c as u64 % 5) * 3600), "status": status});
                    if let Some(s) = &sub {
                        e["subStatus"] = json!(s);
                    }
                    history.push(e);
                }
            }
            if c % 4 == 1 {
                history.reverse();
            }
            let app_id = uuid(&mut rng);
            let mut detail = json!({
                "id": app_id, "status": status, "source": SOURCES[(c + k) % SOURCES.len()],
                "actions": {"sourceDetails": action(format!("{API}/configuration/sources/REFERRALS/values/{}", 5000 + c))},
                "url": format!("https://www.smartrecruiters.com/app/people/applications/{id}/job/{job_id}"),
            });
            if let Some(s) = &sub {
                detail["subStatus"] = json!(s);
            }
            if status == "REJECTED" {
                let r = &d.rejection_reasons[c % d.rejection_reasons.len()];
                detail["reasonOfRejection"] = json!({"id": r["id"], "label": r["label"]});
            }
            if status == "WITHDRAWN" {
                detail["reasonOfWithdrawal"] =
                    json!({"id": "w-1", "label": "Accepted another offer"});
            }
            if matches!(status, "HIRED" | "OFFERED") {
                detail["startsOn"] = json!(ts(applied + 60 * day));
            }
            let mut interviews = Vec::new();
            if matches!(status, "INTERVIEW" | "OFFERED" | "HIRED") {
                let slots: Vec<Value> = (0..(1 + c % 3))
                    .map(|s| {
                        let start = applied + (5 + s as u64) * day + 9 * 3600;
                        let interviewers: Vec<Value> = (0..(1 + (c + s) % 3)).map(|i| json!({"id": uid(&d, c + s + i * 7), "status": (["accepted", "pending", "declined", "tentative"][(c + i) % 4])})).collect();
                        let mut slot = json!({"id": uuid(&mut rng), "interviewType": (["Video", "Onsite", "Phone"][s % 3]), "title": (["Technical Interview", "Culture Chat", "Final Round"][s % 3]),
                            "startsOn": ts(start), "endsOn": ts(start + 3600), "interviewers": interviewers, "candidateStatus": "accepted"});
                        if s % 3 == 1 {
                            slot["place"] = json!(format!("Room {}.{}", s + 1, c % 9));
                        }
                        slot
                    })
                    .collect();
                let mut iv = json!({"id": uuid(&mut rng), "candidate": {"id": id, "status": "accepted"}, "jobId": job_id, "organizerId": uid(&d, c),
                    "timezone": "Europe/Berlin", "timeslots": slots, "createdOn": ts(applied + 4 * day), "source": "Acme Scheduler"});
                if c % 2 == 0 {
                    iv["location"] = json!(format!("https://meet.example.com/acme-{c}"));
                }
                interviews.push(iv);
            }
            let mut offers = Vec::new();
            if matches!(status, "OFFERED" | "HIRED") || c % 9 == 3 {
                let offer_id = uuid(&mut rng);
                offers.push(json!({
                    "id": offer_id, "status": if status == "HIRED" { "ACCEPTED" } else { OFFER_STATUSES[(c + k) % OFFER_STATUSES.len()] },
                    "createdOn": ts(applied + 10 * day), "updatedOn": ts(applied + 11 * day),
                    "properties": {"salary": format!("{}", 50_000 + c * 500), "currency": "EUR"},
                    "actions": {"candidate": action(format!("{API}/candidates/{id}")), "job": action(format!("{API}/jobs/{job_id}")),
                                "details": action(format!("{API}/candidates/{id}/jobs/{job_id}/offers/{offer_id}"))},
                }));
            }
            assignments.push((
                job_id.clone(),
                job["title"].clone(),
                status,
                sub.clone(),
                detail.clone(),
            ));
            d.applications.push(Application {
                id: app_id,
                candidate_id: id.clone(),
                job_id,
                primary: k == 0,
                detail,
                history,
                interviews,
                offers,
            });
        }
        let assign = |(job_id, title, status, sub, detail): &(
            String,
            Value,
            &str,
            Option<String>,
            Value,
        ),
                      full: bool| {
            let mut a = json!({"job": {"id": job_id, "title": title, "actions": {"details": action(format!("{API}/jobs/{job_id}"))}}, "status": status});
            if let Some(s) = sub {
                a["subStatus"] = json!(s);
            }
            if full {
                for k in [
                    "source",
                    "reasonOfRejection",
                    "reasonOfWithdrawal",
                    "startsOn",
                ] {
                    if let Some(v) = detail.get(k) {
                        a[k] = v.clone();
                    }
                }
            }
            a
        };
        let mut cand = json!({
            "id": id, "internal": c % 10 == 9, "firstName": f, "lastName": l,
            "createdOn": ts(created), "updatedOn": ts(created + 20 * day),
            "location": {"country": country, "countryCode": cc, "region": region, "city": city},
            "tags": (["rust", "referral", "night-shift", "relocation-ok"].iter().enumerate().filter(|(t, _)| (c + t) % 4 == 0).map(|(_, t)| *t).collect::<Vec<_>>()),
            "averageRating": c % 5, "consent": {"status": (["ACQUIRED", "PENDING", "REQUIRED"][c % 3])},
            "web": {"linkedin": if c % 3 == 0 { json!(format!("https://www.linkedin.com/in/cand-{c}")) } else { Value::Null }, "twitter": if c % 5 == 0 { json!(format!("https://twitter.com/cand{c}")) } else { Value::Null }, "website": if c % 4 == 0 { json!(format!("https://cand{c}.dev")) } else { Value::Null }},
            "education": [{"institution": "TU Hamburg", "degree": "MSc", "major": "Computer Science", "current": false, "startDate": "2014-10", "endDate": "2016-09"}],
            "experience": if c % 3 == 2 { json!([]) } else { json!([{"title": (["Backend Engineer", "Lagerist", "Designer"][c % 3]), "company": (["Nordfracht AG", "Café Lumière", "Łódź Robotics"][c % 3]), "current": true, "startDate": "2019-02"}]) },
            "primaryAssignment": assign(&assignments[0], true),
            "secondaryAssignments": assignments[1..].iter().map(|a| assign(a, true)).collect::<Vec<_>>(),
            "actions": {"details": action(format!("{API}/candidates/{id}"))},
        });
        if c % 7 != 3 {
            cand["email"] = json!(format!("cand{c}@example.org"));
        }
        if c % 4 != 1 {
            cand["phoneNumber"] = json!(format!("+49 151 {:07}", 1_000_000 + c * 13));
        }
        d.candidates.push(cand);
    }
    d
}

/// Removes null members, as SmartRecruiters does.
pub fn omit_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), omit_nulls(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(omit_nulls).collect()),
        other => other.clone(),
    }
}

/// The list view of a candidate: no phone, web, education, experience; secondary
/// assignments carry only the job id and actions.
fn candidate_summary(c: &Value) -> Value {
    let mut s = c.clone();
    let m = s.as_object_mut().unwrap();
    for k in ["phoneNumber", "web", "education", "experience"] {
        m.remove(k);
    }
    if let Some(p) = m
        .get_mut("primaryAssignment")
        .and_then(|p| p.as_object_mut())
    {
        for k in [
            "source",
            "reasonOfRejection",
            "reasonOfWithdrawal",
            "startsOn",
        ] {
            p.remove(k);
        }
    }
    if let Some(Value::Array(sec)) = m.get_mut("secondaryAssignments") {
        for a in sec.iter_mut() {
            *a = json!({"job": {"id": a["job"]["id"], "actions": a["job"]["actions"]}});
        }
    }
    s
}

fn job_summary(j: &Value) -> Value {
    let mut s = j.clone();
    let m = s.as_object_mut().unwrap();
    for k in [
        "industry",
        "function",
        "typeOfEmployment",
        "experienceLevel",
        "jobAd",
        "properties",
        "template",
        "creator",
    ] {
        m.remove(k);
    }
    s
}

/// Switches and counters of a running simulator.
pub struct Sim {
    /// The data served.
    pub data: RwLock<Dataset>,
    /// Accepted `X-SmartToken`.
    pub api_key: String,
    /// OAuth2 client id and secret.
    pub client: (String, String),
    /// Whether the limits (10/s, 8 in flight, 1 concurrent candidate list) are enforced.
    pub limits_on: bool,
    window: Window,
    in_flight: AtomicI64,
    candidates_in_flight: AtomicI64,
    tokens: std::sync::Mutex<Vec<String>>,
    /// Requests answered.
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    /// Most concurrent `GET /candidates` seen.
    pub max_candidate_list_concurrency: AtomicI64,
}

/// A running simulator.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub sim: Arc<Sim>,
}

impl Running {
    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts a simulator on `127.0.0.1:port` (0: any free port).
pub async fn start(
    size: Size,
    api_key: &str,
    client: (&str, &str),
    limits_on: bool,
    port: u16,
) -> std::io::Result<Running> {
    let sim = Arc::new(Sim {
        data: RwLock::new(dataset(size)),
        api_key: api_key.to_owned(),
        client: (client.0.to_owned(), client.1.to_owned()),
        limits_on,
        window: Window::new(10),
        in_flight: AtomicI64::new(0),
        candidates_in_flight: AtomicI64::new(0),
        tokens: Default::default(),
        requests: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
        max_candidate_list_concurrency: AtomicI64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// The routes.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/identity/oauth/token", post(token))
        .route("/user-api/v201804/users", get(users))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/status/history", get(job_history))
        .route("/jobs/{id}/hiring-team", get(hiring_team))
        .route("/jobs/{id}/jobads", get(job_ads))
        .route("/postings/{id}/configuration", get(posting_config))
        .route("/candidates", get(candidates))
        .route("/candidates/{id}", get(candidate))
        .route("/candidates/{id}/jobs/{job}", get(application))
        .route(
            "/candidates/{id}/jobs/{job}/status/history",
            get(application_history),
        )
        .route(
            "/candidates/{id}/jobs/{job}/offers",
            get(application_offers),
        )
        .route("/interviews-api/v201904/interviews", get(interviews))
        .route("/offers", get(offers))
        .route("/configuration/hiring-processes", get(hiring_processes))
        .route("/configuration/rejection-reasons", get(rejection_reasons))
        .with_state(sim)
}

/// Holds a request's place in the concurrency counts.
struct Slot<'a>(&'a Sim, bool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.1 {
            self.0.candidates_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn limit_headers(sim: &Sim, mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", "10".parse().unwrap());
    h.insert("x-ratelimit-remaining", "9".parse().unwrap());
    h.insert("x-ratelimit-concurrent-limit", "8".parse().unwrap());
    let left = (8 - sim.in_flight.load(Ordering::SeqCst)).max(0);
    h.insert(
        "x-ratelimit-concurrent-remaining",
        left.to_string().parse().unwrap(),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

/// Auth and limits; the slot must live until the answer is built.
fn gate<'a>(sim: &'a Sim, headers: &HeaderMap, candidate_list: bool) -> Result<Slot<'a>, Response> {
    sim.requests.fetch_add(1, Ordering::Relaxed);
    let n = sim.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let c = if candidate_list {
        sim.candidates_in_flight.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        0
    };
    sim.max_candidate_list_concurrency
        .fetch_max(c, Ordering::SeqCst);
    let slot = Slot(sim, candidate_list);
    let token = headers.get("x-smarttoken").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = token == Some(sim.api_key.as_str())
        || bearer.is_some_and(|b| sim.tokens.lock().unwrap().iter().any(|t| t == b));
    if !ok {
        return Err(limit_headers(
            sim,
            error(StatusCode::UNAUTHORIZED, "Unauthorized"),
        ));
    }
    if sim.limits_on && (!sim.window.allow() || n > 8 || c > 1) {
        sim.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(limit_headers(
            sim,
            error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        ));
    }
    Ok(slot)
}

fn answer(sim: &Sim, body: Value) -> Response {
    limit_headers(sim, Json(omit_nulls(&body)).into_response())
}

async fn token(State(sim): State<Arc<Sim>>, body: String) -> Response {
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace('+', " ")))
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_id") != Some(&sim.client.0)
        || form.get("client_secret") != Some(&sim.client.1)
    {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let t = format!("sr-token-{}", sim.tokens.lock().unwrap().len() + 1);
    sim.tokens.lock().unwrap().push(t.clone());
    Json(json!({"access_token": t, "token_type": "bearer", "expires_in": 1800})).into_response()
}

fn limit_of(q: &HashMap<String, String>) -> usize {
    q.get("limit")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(10)
        .clamp(1, 100) as usize
}

/// A `pageId` page: the cursor is the offset, base64-ish encoded.
fn cursor_page(rows: &[Value], q: &HashMap<String, String>) -> (Vec<Value>, Option<String>) {
    let start = q
        .get("pageId")
        .and_then(|p| p.strip_prefix("cur-"))
        .and_then(|p| usize::from_str_radix(p, 16).ok())
        .unwrap_or(0);
    let limit = limit_of(q);
    let page: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
    let next = (start + limit < rows.len()).then(|| format!("cur-{:x}", start + limit));
    (page, next)
}

async fn users(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    let (page, next) = cursor_page(&d.users, &q);
    answer(
        &sim,
        json!({"limit": limit_of(&q), "nextPageId": next, "content": page}),
    )
}

async fn jobs(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if q.contains_key("pageId") && q.get("sort").map(String::as_str) != Some("job_id") {
        return error(
            StatusCode::BAD_REQUEST,
            "sort=job_id is required with pageId",
        );
    }
    let d = sim.data.read().unwrap();
    let mut rows: Vec<Value> = d.jobs.iter().map(job_summary).collect();
    if q.get("sort").map(String::as_str) == Some("job_id") {
        rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    }
    let (page, next) = cursor_page(&rows, &q);
    answer(
        &sim,
        json!({"limit": limit_of(&q), "offset": 0, "nextPageId": next, "totalFound": rows.len(), "content": page}),
    )
}

async fn job(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    match d.jobs.iter().find(|j| j["id"] == id.as_str()) {
        Some(j) => answer(&sim, j.clone()),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

fn listed(sim: &Sim, rows: Option<&Vec<Value>>) -> Response {
    match rows {
        Some(r) => answer(sim, json!({"totalFound": r.len(), "content": r})),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

async fn job_history(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    listed(&sim, sim.data.read().unwrap().job_history.get(&id))
}

async fn hiring_team(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    listed(&sim, sim.data.read().unwrap().hiring_team.get(&id))
}

async fn job_ads(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    listed(&sim, sim.data.read().unwrap().job_ads.get(&id))
}

async fn posting_config(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match sim.data.read().unwrap().posting_config.get(&id) {
        Some(c) => answer(&sim, c.clone()),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

async fn candidates(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let slot = match gate(&sim, &headers, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // a slow endpoint: concurrent callers overlap
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (body, next) = {
        let d = sim.data.read().unwrap();
        let rows: Vec<Value> = d.candidates.iter().map(candidate_summary).collect();
        let (page, next) = cursor_page(&rows, &q);
        (
            json!({"limit": limit_of(&q), "offset": 0, "nextPageId": next, "totalFound": rows.len(), "content": page}),
            next,
        )
    };
    let mut r = answer(&sim, body);
    if let Some(n) = next {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        r.headers_mut().insert(
            "link",
            format!(
                "<http://{host}{}?limit={}&pageId={n}>; rel=\"next\"",
                uri.path(),
                limit_of(&q)
            )
            .parse()
            .unwrap(),
        );
    }
    drop(slot);
    r
}

async fn candidate(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    match d.candidates.iter().find(|c| c["id"] == id.as_str()) {
        Some(c) => answer(&sim, c.clone()),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

fn find_app<'a>(d: &'a Dataset, cid: &str, jid: &str) -> Option<&'a Application> {
    d.applications
        .iter()
        .find(|a| a.candidate_id == cid && a.job_id == jid)
}

async fn application(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((cid, jid)): Path<(String, String)>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    match find_app(&d, &cid, &jid) {
        Some(a) => answer(&sim, a.detail.clone()),
        None => error(StatusCode::NOT_FOUND, "Resource not found"),
    }
}

async fn application_history(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((cid, jid)): Path<(String, String)>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    listed(&sim, find_app(&d, &cid, &jid).map(|a| &a.history))
}

async fn application_offers(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((cid, jid)): Path<(String, String)>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    listed(&sim, find_app(&d, &cid, &jid).map(|a| &a.offers))
}

async fn interviews(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(app) = q.get("applicationId") else {
        return error(StatusCode::BAD_REQUEST, "applicationId is required");
    };
    let d = sim.data.read().unwrap();
    let rows: Vec<Value> = d
        .applications
        .iter()
        .filter(|a| &a.id == app)
        .flat_map(|a| a.interviews.clone())
        .collect();
    answer(&sim, json!({"content": rows}))
}

async fn offers(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let d = sim.data.read().unwrap();
    let rows: Vec<Value> = d
        .applications
        .iter()
        .flat_map(|a| a.offers.clone())
        .collect();
    let offset = q
        .get("offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = limit_of(&q);
    let page: Vec<Value> = rows.iter().skip(offset).take(limit).cloned().collect();
    answer(
        &sim,
        json!({"limit": limit, "offset": offset, "totalFound": rows.len(), "content": page}),
    )
}

async fn hiring_processes(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    listed(&sim, Some(&sim.data.read().unwrap().hiring_processes))
}

async fn rejection_reasons(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let _slot = match gate(&sim, &headers, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    listed(&sim, Some(&sim.data.read().unwrap().rejection_reasons))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_has_the_promised_variety() {
        let d = dataset(Size::Full);
        assert_eq!(d.jobs.len(), 16);
        assert_eq!(d.candidates.len(), 60);
        assert!(d.applications.len() >= 90);
        let statuses: std::collections::HashSet<&str> = d
            .applications
            .iter()
            .map(|a| a.detail["status"].as_str().unwrap())
            .collect();
        for s in [
            "NEW",
            "IN_REVIEW",
            "INTERVIEW",
            "OFFERED",
            "HIRED",
            "REJECTED",
            "WITHDRAWN",
            "LEAD",
        ] {
            assert!(statuses.contains(s), "{s}");
        }
        assert!(d.applications.iter().any(|a| {
            a.interviews
                .iter()
                .any(|i| i["timeslots"].as_array().unwrap().len() > 1)
        }));
        let offer_statuses: std::collections::HashSet<&str> = d
            .applications
            .iter()
            .flat_map(|a| a.offers.iter().map(|o| o["status"].as_str().unwrap()))
            .collect();
        assert!(offer_statuses.len() >= 5, "{offer_statuses:?}");
        assert!(
            d.posting_config
                .values()
                .any(|c| !c["settings"]["conditionals"].as_array().unwrap().is_empty())
        );
        assert!(d.candidates.iter().any(|c| c.get("email").is_none()));
        assert!(
            d.candidates
                .iter()
                .any(|c| c["secondaryAssignments"].as_array().unwrap().len() >= 2)
        );
        // null fields are omitted from answers
        assert!(
            omit_nulls(&json!({"a": null, "b": {"c": null, "d": 1}})) == json!({"b": {"d": 1}})
        );
    }
}
