//! An Ashby simulator, as `vendor-apis/ashby.md` (section 11, "Decisions for this project") describes it.
//!
//! RPC over HTTP: every endpoint is `POST /<object>.<verb>` with a JSON body (an empty body
//! reads as `{}`); other methods answer 405, unknown paths 404. Basic auth with the API key
//! as user name (401 `unauthenticated` without `Authorization`, 403 `invalid_api_key` for any
//! other key). Errors use the envelope `{success: false, errors: [code], errorInfo: {code,
//! message, requestId}}`; input problems answer HTTP 200. Paged lists take `limit` (1..100)
//! and `cursor` in the body and answer `moreDataAvailable` / `nextCursor`; a cursor is bound to
//! the filters it was issued for. The last page of an incremental list carries a `syncToken`;
//! sending it back lists what changed since the walk that issued it began, and a token older
//! than 30 days fails with `sync_token_expired`. 429 above 10 requests/s per key (token
//! bucket, burst 10, switchable). Tests can delete or touch records, move the clock, inject
//! `success: false` answers, and read a log of every request received.

use crate::{FIRST, LAST, Rng, date, ts};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each (5 users, 4 jobs, 6 candidates, 7 applications), for snapshots.
    Small,
    /// A realistic tenant: 120 users, 112 jobs, 600 candidates, exactly 1,000 applications
    /// (ten exactly full pages), more than one page of every large list.
    Full,
}

const DAY: u64 = 86_400;
/// 2023-01-01T00:00:00Z in epoch milliseconds (the origin of [`ts`]).
const EPOCH_2023_MS: i64 = 1_672_531_200_000;
/// The simulated clock starts 1,000 days after 2023-01-01 (2025-09-27); every generated
/// timestamp is earlier.
const START_SECS: u64 = 1000 * DAY;
/// Sync tokens expire this long after their issue.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * DAY);
/// Requests per second per key (and the burst).
pub const RATE_PER_SECOND: f64 = 10.0;
/// Default and maximum `limit`.
pub const MAX_LIMIT: u64 = 100;
const SALT: &str = "ashby-sim/northwind";

/// The records served, per resource. Members whose name starts with `_` are the simulator's
/// bookkeeping (creation and change times of records that do not expose them, links) and are
/// never served. Records are ordered by `createdAt` (or `_createdAt`), then `id`; a record's
/// change time is its `updatedAt` (or `_updatedAt`).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `user.list`
    pub users: Vec<Value>,
    /// `department.list`
    pub departments: Vec<Value>,
    /// `location.list`
    pub locations: Vec<Value>,
    /// `job.list` (`jobPostingIds` is filled in when served; `_openings` for `expand`)
    pub jobs: Vec<Value>,
    /// `jobPosting.info` objects, published or not (`_published`); `jobPosting.list` serves
    /// the published ones in list shape.
    pub job_postings: Vec<Value>,
    /// `interviewPlan.list`
    pub interview_plans: Vec<Value>,
    /// `interviewStage.list` rows of every plan (`_activityId`, `_interviewIds` feed
    /// `jobInterviewPlan.info`).
    pub interview_stages: Vec<Value>,
    /// `candidate.list`
    pub candidates: Vec<Value>,
    /// `candidateTag.list`
    pub candidate_tags: Vec<Value>,
    /// `application.list`
    pub applications: Vec<Value>,
    /// `application.listHistory` rows of every application (`_applicationId`).
    pub application_history: Vec<Value>,
    /// `archiveReason.list`
    pub archive_reasons: Vec<Value>,
    /// `source.list`
    pub sources: Vec<Value>,
    /// `interview.list` (interview definitions)
    pub interviews: Vec<Value>,
    /// `interviewSchedule.list`, each with its `interviewEvents`.
    pub interview_schedules: Vec<Value>,
    /// `offer.list`
    pub offers: Vec<Value>,
}

/// The resource names [`Dataset::rows`], [`Sim::delete`] and [`Sim::touch`] accept (the
/// object part of the endpoint names; `interviewEvent` and `applicationHistory` too).
pub const RESOURCES: &[&str] = &[
    "user",
    "department",
    "location",
    "job",
    "jobPosting",
    "interviewPlan",
    "interviewStage",
    "candidate",
    "candidateTag",
    "application",
    "applicationHistory",
    "archiveReason",
    "source",
    "interview",
    "interviewSchedule",
    "interviewEvent",
    "offer",
];

impl Dataset {
    /// The rows of a flat resource (`interviewEvent` is nested in schedules: see
    /// [`Dataset::events`]).
    pub fn rows(&self, resource: &str) -> Option<&Vec<Value>> {
        Some(match resource {
            "user" => &self.users,
            "department" => &self.departments,
            "location" => &self.locations,
            "job" => &self.jobs,
            "jobPosting" => &self.job_postings,
            "interviewPlan" => &self.interview_plans,
            "interviewStage" => &self.interview_stages,
            "candidate" => &self.candidates,
            "candidateTag" => &self.candidate_tags,
            "application" => &self.applications,
            "applicationHistory" => &self.application_history,
            "archiveReason" => &self.archive_reasons,
            "source" => &self.sources,
            "interview" => &self.interviews,
            "interviewSchedule" => &self.interview_schedules,
            "offer" => &self.offers,
            _ => return None,
        })
    }

    /// Mutable rows of a flat resource, for tests that change data between runs.
    pub fn rows_mut(&mut self, resource: &str) -> Option<&mut Vec<Value>> {
        Some(match resource {
            "user" => &mut self.users,
            "department" => &mut self.departments,
            "location" => &mut self.locations,
            "job" => &mut self.jobs,
            "jobPosting" => &mut self.job_postings,
            "interviewPlan" => &mut self.interview_plans,
            "interviewStage" => &mut self.interview_stages,
            "candidate" => &mut self.candidates,
            "candidateTag" => &mut self.candidate_tags,
            "application" => &mut self.applications,
            "applicationHistory" => &mut self.application_history,
            "archiveReason" => &mut self.archive_reasons,
            "source" => &mut self.sources,
            "interview" => &mut self.interviews,
            "interviewSchedule" => &mut self.interview_schedules,
            "offer" => &mut self.offers,
            _ => return None,
        })
    }

    /// Every interview event (of every schedule).
    pub fn events(&self) -> Vec<&Value> {
        self.interview_schedules
            .iter()
            .flat_map(|s| s["interviewEvents"].as_array().into_iter().flatten())
            .collect()
    }

    /// The postings `jobPosting.list` returns (published ones), unfiltered.
    pub fn published_postings(&self) -> Vec<&Value> {
        self.job_postings
            .iter()
            .filter(|p| p["_published"] == true)
            .collect()
    }

    /// A job's posting in the sense of the notes' decision 12: its published posting with
    /// the latest `updatedAt`, ties broken by the greater `id`.
    pub fn posting_of_job(&self, job_id: &str) -> Option<&Value> {
        self.published_postings()
            .into_iter()
            .filter(|p| p["jobId"] == job_id)
            .max_by(|a, b| {
                (a["updatedAt"].as_str(), a["id"].as_str())
                    .cmp(&(b["updatedAt"].as_str(), b["id"].as_str()))
            })
    }
}

/// A copy of a record without the simulator's `_` members.
pub fn public(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A record's creation time (the sort key with its id).
pub fn created_of(v: &Value) -> &str {
    v.get("createdAt")
        .and_then(Value::as_str)
        .or_else(|| v.get("_createdAt").and_then(Value::as_str))
        .unwrap_or("")
}

/// A record's change time (what a sync token compares).
pub fn changed_of(v: &Value) -> &str {
    v.get("updatedAt")
        .and_then(Value::as_str)
        .or_else(|| v.get("_updatedAt").and_then(Value::as_str))
        .unwrap_or("")
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

/// Lower-case ASCII for e-mail addresses (`Łukasz Wróbel` → `lukasz.wrobel`).
fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.to_lowercase().chars() {
        let r = match ch {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ō' => "o",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            'ç' => "c",
            'ł' => "l",
            'ñ' => "n",
            'ß' => "ss",
            'æ' => "ae",
            '李' => "li",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(r);
    }
    if out.is_empty() { "x".into() } else { out }
}

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Platform",
    "Data & Analytics",
    "Design",
    "People",
    "Finance",
    "Vertrieb",
    "Customer Success",
    "Opérations",
    "Legal",
    "Marketing",
    "Research",
    "Hardware (legacy)",
    "Field Services",
];

/// name, locality, region, country, postal code, street, workplace type ("" = null).
type Place = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
const LOCATIONS: &[Place] = &[
    (
        "Lisbon",
        "Lisboa",
        "Lisboa",
        "Portugal",
        "1100-053",
        "Rua Augusta 12",
        "Hybrid",
    ),
    (
        "Berlin",
        "Berlin",
        "Berlin",
        "Germany",
        "10115",
        "Invalidenstraße 117",
        "Hybrid",
    ),
    (
        "São Paulo",
        "São Paulo",
        "SP",
        "Brazil",
        "01310-100",
        "Avenida Paulista 1578",
        "OnSite",
    ),
    (
        "Kraków",
        "Kraków",
        "Lesser Poland",
        "Poland",
        "31-042",
        "Rynek Główny 1",
        "OnSite",
    ),
    (
        "Montréal",
        "Montréal",
        "QC",
        "Canada",
        "H2Y 1C6",
        "275 Rue Notre-Dame Est",
        "Hybrid",
    ),
    (
        "München",
        "München",
        "Bavaria",
        "Germany",
        "80331",
        "Marienplatz 8",
        "OnSite",
    ),
    (
        "London",
        "London",
        "England",
        "United Kingdom",
        "EC2A 4NE",
        "1 Finsbury Avenue",
        "Hybrid",
    ),
    (
        "Tōkyō",
        "Chiyoda",
        "Tokyo",
        "Japan",
        "100-0005",
        "1-1 Marunouchi",
        "OnSite",
    ),
    (
        "New York",
        "New York",
        "NY",
        "United States",
        "10013",
        "85 Broad Street",
        "Hybrid",
    ),
    ("Remote (EU)", "", "", "", "", "", "Remote"),
    (
        "Zürich",
        "Zürich",
        "ZH",
        "Switzerland",
        "8001",
        "Bahnhofstrasse 21",
        "OnSite",
    ),
    (
        "Dublin",
        "Dublin",
        "Leinster",
        "Ireland",
        "D02 X285",
        "2 Grand Canal Square",
        "Hybrid",
    ),
];

const PLAN_TITLES: &[&str] = &[
    "Engineering Interview Plan",
    "Default Interview Plan",
    "Go-to-Market Plan",
    "Hourly Roles",
    "Design Plan",
    "Legacy Plan 2022",
];
const PLAN_MIDDLES: &[&[&str]] = &[
    &[
        "Recruiter Screen",
        "Technical Interview",
        "System Design",
        "Onsite",
    ],
    &[
        "Recruiter Screen",
        "Hiring Manager Interview",
        "Final Interview",
    ],
    &["Discovery Call", "Case Study", "Panel"],
    &["Phone Screen", "Trial Shift"],
    &["Portfolio Review", "Design Challenge", "Team Chat"],
    &["Interview"],
];

const JOB_TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Product Designer",
    "Account Executive, DACH",
    "Data Analyst",
    "Ingénieur·e DevOps",
    "Warehouse Associate",
    "Talent Partner",
    "Frontend Engineer",
    "Customer Success Manager",
    "Controller",
    "Site Reliability Engineer",
    "Backend-Entwickler (m/w/d)",
    "Engineering Manager",
    "Sales Development Representative",
    "Machine Learning Engineer",
    "Office Manager",
    "Recruiting Coordinator",
    "Security Engineer",
    "Technical Writer",
    "Solutions Architect",
];
const EMPLOYMENT: &[&str] = &[
    "FullTime",
    "FullTime",
    "FullTime",
    "PartTime",
    "Contract",
    "Intern",
    "FullTime",
    "Temporary",
];
/// Exactly the notes' hiring-team roles (decision 10).
pub const HIRING_ROLES: &[&str] = &[
    "Hiring Manager",
    "Recruiter",
    "Recruiting Coordinator",
    "Sourcer",
];

const INTERVIEW_TITLES: &[&str] = &[
    "Recruiter Screen",
    "Technical Interview",
    "System Design",
    "Pair Programming",
    "Hiring Manager Chat",
    "Culture Add",
    "Portfolio Review",
    "Case Study Presentation",
    "Debrief",
    "Reference Call",
    "Entrevista técnica",
    "Kennenlernen mit dem Team",
    "Take-home Review",
    "Executive Interview",
];

const TAGS: &[(&str, bool)] = &[
    ("rust", false),
    ("referral", false),
    ("Boomerang", false),
    ("relocation-ok", false),
    ("visa needed", false),
    ("Silver medalist", false),
    ("日本語", false),
    ("Français courant", false),
    ("senior", false),
    ("diversity-pipeline", false),
    ("night-shift", false),
    ("ex-Big Tech", false),
    ("do-not-contact", true),
    ("2022 campaign", true),
];

const SOURCES: &[(&str, &str, bool)] = &[
    ("LinkedIn", "Sourced", false),
    ("Referral", "Referral", false),
    ("Company Website", "Inbound", false),
    ("Indeed", "Job Board", false),
    ("Agentur Müller", "Agency", false),
    ("Career Fair Lisboa", "Event", false),
    ("GitHub", "Sourced", false),
    ("Welcome to the Jungle", "Job Board", false),
    ("AngelList", "Job Board", false),
    ("Old Careers Page", "Inbound", true),
];

const REASONS: &[(&str, &str, bool)] = &[
    ("Insufficient experience", "RejectedByOrg", false),
    ("Accepted another offer", "RejectedByCandidate", false),
    ("Duplicate (legacy)", "Other", true),
    ("Salary expectations", "RejectedByOrg", false),
    ("Position filled", "Other", false),
    ("Withdrew: relocation", "RejectedByCandidate", false),
    ("No work permit", "RejectedByOrg", false),
    ("Unresponsive", "Other", false),
    ("Keine Rückmeldung", "RejectedByCandidate", false),
];

/// Application statuses in a 20-long cycle: 9 Active, 7 Archived, 2 Hired, 2 Lead.
const APP_STATUS: &[&str] = &[
    "Active", "Archived", "Hired", "Lead", "Active", "Archived", "Active", "Archived", "Active",
    "Active", "Archived", "Hired", "Active", "Archived", "Lead", "Active", "Archived", "Active",
    "Archived", "Active",
];
/// Applications per candidate in a 12-long cycle summing to 20 (600 candidates → 1,000).
const APPS_PER_CANDIDATE: &[usize] = &[1, 2, 1, 0, 2, 1, 3, 2, 1, 2, 1, 4];

const COMPANIES: &[&str] = &[
    "Ferrovia Data",
    "Nordfracht AG",
    "Café Lumière",
    "Łódź Robotics",
    "Kōbō Systems",
    "Acme Corp",
    "Självständig",
];
const POSITIONS: &[&str] = &[
    "Staff Engineer",
    "Software Engineer",
    "Designer",
    "Account Manager",
    "Analyst",
    "Lagerist",
    "Team Lead",
];
const SCHOOLS: &[&str] = &[
    "Universidade do Porto",
    "TU München",
    "Uniwersytet Jagielloński",
    "McGill University",
    "Université Paris-Saclay",
    "東京大学",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Lisbon", "Lisboa", "Portugal", "Europe/Lisbon"),
    ("Porto", "Porto", "Portugal", "Europe/Lisbon"),
    ("Berlin", "Berlin", "Germany", "Europe/Berlin"),
    ("Kraków", "Lesser Poland", "Poland", "Europe/Warsaw"),
    ("São Paulo", "SP", "Brazil", "America/Sao_Paulo"),
    ("Montréal", "QC", "Canada", "America/Toronto"),
    ("Ōsaka", "Osaka", "Japan", "Asia/Tokyo"),
];

/// Generation context: the ids of shared definitions.
struct Ids {
    custom_fields: HashMap<&'static str, String>,
    groups: HashMap<&'static str, String>,
    brands: Vec<String>,
    source_types: HashMap<&'static str, String>,
    interviewer_pool: String,
}

fn cf(ids: &Ids, title: &'static str, value: Value, label: Option<&str>) -> Value {
    json!({"id": ids.custom_fields.get(title).cloned().unwrap_or_default(), "title": title,
        "value": value, "isPrivate": title == "Salary band", "valueLabel": label})
}

/// A user as embedded in other records (`author`, `creditedToUser`, `scheduledBy`).
fn user_ref(u: &Value) -> Value {
    json!({"id": u["id"], "firstName": u["firstName"], "lastName": u["lastName"], "email": u["email"],
        "globalRole": u["globalRole"], "isEnabled": u["isEnabled"], "updatedAt": u["updatedAt"]})
}

fn form_field(
    id: &str,
    ty: &str,
    path: &str,
    title: &str,
    required: bool,
    values: &[(&str, &str)],
) -> Value {
    json!({"isRequired": required,
        "descriptionHtml": if ty == "File" { json!("<p>PDF or DOCX, up to 10 MB.</p>") } else { Value::Null },
        "field": {"id": id, "type": ty, "path": path, "humanReadablePath": title, "title": title, "isNullable": !required,
            "selectableValues": values.iter().map(|(l, v)| json!({"label": l, "value": v})).collect::<Vec<_>>()}})
}

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let full = size == Size::Full;
    let mut rng = Rng::new(0xA5B7_2025);
    let mut d = Dataset::default();
    let ids = Ids {
        custom_fields: [
            "Employee ID",
            "Level",
            "Cost center",
            "Remote eligible",
            "Headcount",
            "Priority",
            "Target start",
            "Notice period (weeks)",
            "Willing to relocate",
            "Desired start",
            "Seniority",
            "Languages",
            "Salary band",
            "Referral bonus eligible",
            "Visa status",
            "Signing bonus",
        ]
        .into_iter()
        .map(|t| (t, uuid(&mut rng)))
        .collect(),
        groups: [
            "Lead",
            "PreInterviewScreen",
            "Active",
            "Offer",
            "Hired",
            "Archived",
        ]
        .into_iter()
        .map(|t| (t, uuid(&mut rng)))
        .collect(),
        brands: vec![uuid(&mut rng), uuid(&mut rng)],
        source_types: [
            "Sourced",
            "Referral",
            "Inbound",
            "Job Board",
            "Agency",
            "Event",
        ]
        .into_iter()
        .map(|t| (t, uuid(&mut rng)))
        .collect(),
        interviewer_pool: uuid(&mut rng),
    };

    // users
    let n_users = if full { 120 } else { 5 };
    let mut seen_emails = HashSet::new();
    for i in 0..n_users {
        let (first, last) = (
            FIRST[(i * 5 + 3) % FIRST.len()],
            LAST[(i * 7 + 1) % LAST.len()],
        );
        let mut email = format!("{}.{}@northwind.test", slug(first), slug(last));
        if !seen_emails.insert(email.clone()) {
            email = format!("{}.{}{i}@northwind.test", slug(first), slug(last));
        }
        let role = if i == 0 {
            "Organization Admin"
        } else {
            [
                "Elevated Access",
                "Limited Access",
                "Limited Access",
                "External Recruiter",
                "Organization Admin",
                "Elevated Access",
            ][i % 6]
        };
        let manager = if i > 0 && i % 4 != 0 {
            d.users[(i - 1) / 4]["id"].clone()
        } else {
            Value::Null
        };
        let custom = if i % 3 == 0 {
            json!([cf(
                &ids,
                "Employee ID",
                json!(format!("E-{:04}", 1000 + i)),
                None
            )])
        } else {
            json!([])
        };
        let i64_ = i as u64;
        d.users.push(json!({
            "id": uuid(&mut rng), "firstName": first, "lastName": last,
            "email": if i % 23 == 17 { Value::Null } else { json!(email) },
            "globalRole": role, "isEnabled": i % 11 != 4,
            "updatedAt": ts(200 * DAY + i64_ * 5 * DAY + i64_ * 37), "managerId": manager,
            "customFields": custom, "_createdAt": ts(i64_ * DAY / 2 + 3600),
        }));
    }
    let user = |d: &Dataset, i: usize| d.users[i % d.users.len()].clone();

    // departments and locations
    let n_dep = if full { DEPARTMENTS.len() } else { 3 };
    for (i, name) in DEPARTMENTS.iter().take(n_dep).enumerate() {
        let archived = if full { i >= 12 } else { i == 2 };
        let parent = if (full && (1..=2).contains(&i)) || (!full && i == 1) {
            d.departments[0]["id"].clone()
        } else {
            Value::Null
        };
        let i64_ = i as u64;
        d.departments.push(json!({
            "id": uuid(&mut rng), "name": name, "externalName": if i % 3 == 1 { json!(format!("{name} @ Northwind")) } else { Value::Null },
            "isArchived": archived, "parentId": parent, "createdAt": ts(i64_ * DAY + 7200),
            "updatedAt": ts((100 + i64_ * 3 + if archived { 200 } else { 0 }) * DAY), "extraData": null,
        }));
    }
    let places: Vec<&Place> = if full {
        LOCATIONS.iter().collect()
    } else {
        vec![&LOCATIONS[0], &LOCATIONS[9], &LOCATIONS[11]]
    };
    for (i, (name, city, region, country, postal, street, work)) in places.iter().enumerate() {
        let opt = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
        let i64_ = i as u64;
        d.locations.push(json!({
            "id": uuid(&mut rng), "name": name, "externalName": if *name == "Remote (EU)" { json!("Remote — Europe") } else { Value::Null },
            "isArchived": *name == "Dublin",
            "address": {"postalAddress": {"addressCountry": opt(country), "addressRegion": opt(region),
                "addressLocality": opt(city), "postalCode": opt(postal), "streetAddress": opt(street)}},
            "isRemote": *work == "Remote", "workplaceType": work, "parentLocationId": null, "type": "Location", "extraData": null,
            "_createdAt": ts(i64_ * DAY + 9000), "_updatedAt": ts((120 + i64_ * 2) * DAY),
        }));
    }

    // interview plans and stages
    let n_plans = if full { PLAN_TITLES.len() } else { 2 };
    for p in 0..n_plans {
        let plan_id = uuid(&mut rng);
        let p64 = p as u64;
        d.interview_plans.push(
            json!({"id": plan_id, "title": PLAN_TITLES[p], "isArchived": full && p == 5,
            "createdAt": ts((10 + p64) * DAY + 600), "updatedAt": ts((60 + p64 * 7) * DAY + 60)}),
        );
        let stages = [
            ("New Lead", "Lead"),
            ("Application Review", "PreInterviewScreen"),
        ]
        .into_iter()
        .chain(PLAN_MIDDLES[p].iter().map(|t| (*t, "Active")))
        .chain([
            ("Offer", "Offer"),
            ("Hired", "Hired"),
            ("Archived", "Archived"),
        ]);
        for (k, (title, ty)) in stages.enumerate() {
            let group = if p == 3 && ty == "Active" {
                Value::Null
            } else {
                json!(ids.groups.get(ty))
            };
            d.interview_stages.push(json!({"id": uuid(&mut rng), "title": title, "type": ty,
                "orderInInterviewPlan": k, "interviewStageGroupId": group, "interviewPlanId": plan_id,
                "_activityId": uuid(&mut rng), "_interviewIds": []}));
        }
    }
    let active_plans: Vec<String> = d
        .interview_plans
        .iter()
        .filter(|p| p["isArchived"] == false)
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();

    // jobs
    let n_jobs = if full { 112 } else { 4 };
    let active_deps: Vec<usize> = (0..d.departments.len())
        .filter(|&i| d.departments[i]["isArchived"] == false)
        .collect();
    let archived_dep = (0..d.departments.len()).find(|&i| d.departments[i]["isArchived"] == true);
    let active_locs: Vec<usize> = (0..d.locations.len())
        .filter(|&i| d.locations[i]["isArchived"] == false)
        .collect();
    let archived_loc = (0..d.locations.len()).find(|&i| d.locations[i]["isArchived"] == true);
    let mut job_created = Vec::new();
    for j in 0..n_jobs {
        let status = if !full {
            ["Open", "Open", "Closed", "Draft"][j]
        } else if j % 19 == 5 {
            "Draft"
        } else if j % 7 == 3 {
            "Closed"
        } else if j % 11 == 9 {
            "Archived"
        } else {
            "Open"
        };
        let dep = match archived_dep {
            Some(a) if status == "Archived" && j % 2 == 1 => a,
            _ => active_deps[j % active_deps.len()],
        };
        let loc = match archived_loc {
            _ if full && j % 17 == 16 => None,
            Some(a) if status == "Closed" && j % 2 == 0 => Some(a),
            _ => Some(active_locs[j % active_locs.len()]),
        };
        let plan = &active_plans[j % active_plans.len()];
        let created = 30 * DAY + j as u64 * 5 * DAY + (j as u64 * 137) % 3600;
        job_created.push(created);
        let mut team: Vec<Value> = (0..1 + j % 4)
            .map(|k| {
                let u = user(&d, j * 3 + k * 7);
                json!({"email": u["email"], "firstName": u["firstName"], "lastName": u["lastName"], "role": HIRING_ROLES[k], "userId": u["id"]})
            })
            .collect();
        if j % 5 == 0 {
            // one person, two roles
            let u = user(&d, j * 3 + 7);
            team.push(json!({"email": u["email"], "firstName": u["firstName"], "lastName": u["lastName"], "role": "Sourcer", "userId": u["id"]}));
        }
        let mut custom = Vec::new();
        if j % 2 == 0 {
            custom.push(cf(&ids, "Level", json!(format!("L{}", 1 + j % 6)), None));
        }
        if j % 3 == 0 {
            custom.push(cf(
                &ids,
                "Cost center",
                json!(format!("CC-{}", 100 + j % 9)),
                None,
            ));
        }
        if j % 4 == 1 {
            custom.push(cf(&ids, "Remote eligible", json!(j % 8 == 1), None));
        }
        if j % 5 == 2 {
            custom.push(cf(&ids, "Headcount", json!(1 + j % 4), None));
        }
        if j % 6 == 3 || j == 1 {
            custom.push(cf(&ids, "Priority", json!("high"), Some("High")));
        }
        if j % 7 == 0 {
            custom.push(cf(&ids, "Target start", json!("2025-11-01"), None));
        }
        if j % 9 == 4 {
            custom.push(cf(&ids, "Salary band", json!("€70k–€90k"), None));
        }
        let opened = (status != "Draft").then(|| created + 2 * DAY);
        let closed = matches!(status, "Closed" | "Archived").then(|| created + 120 * DAY);
        let job_id = uuid(&mut rng);
        let openings: Vec<Value> = (0..1 + usize::from(j % 3 == 0))
            .map(|o| {
                let state = match (status, o) {
                    ("Open", _) => "Open",
                    ("Draft", _) => "Draft",
                    (_, 0) => "Filled",
                    _ => "Closed",
                };
                json!({"id": uuid(&mut rng), "openedAt": opened.map(ts), "closedAt": closed.map(ts), "isArchived": status == "Archived",
                    "archivedAt": if status == "Archived" { json!(closed.map(ts)) } else { Value::Null }, "openingState": state,
                    "latestVersion": {"id": uuid(&mut rng), "identifier": format!("OPN-{:04}", j * 2 + o + 1), "description": null,
                        "authorId": user(&d, j)["id"], "createdAt": ts(created + 3600), "teamId": d.departments[dep]["id"],
                        "jobIds": [job_id], "targetHireDate": date(created + 90 * DAY), "targetStartDate": null,
                        "isBackfill": o == 1, "employmentType": EMPLOYMENT[j % EMPLOYMENT.len()],
                        "locationIds": loc.map(|l| vec![d.locations[l]["id"].clone()]).unwrap_or_default(),
                        "hiringTeam": [], "customFields": []}})
            })
            .collect();
        let title = if j >= JOB_TITLES.len() && j % 3 == 1 {
            format!("{} II", JOB_TITLES[j % JOB_TITLES.len()])
        } else {
            JOB_TITLES[j % JOB_TITLES.len()].to_owned()
        };
        d.jobs.push(json!({
            "id": job_id, "title": title, "confidential": (full && j % 13 == 7) || (!full && j == 1),
            "status": status, "employmentType": EMPLOYMENT[j % EMPLOYMENT.len()],
            "locationId": loc.map(|l| d.locations[l]["id"].clone()), "departmentId": d.departments[dep]["id"],
            "defaultInterviewPlanId": plan, "interviewPlanIds": [plan], "customFields": custom,
            "jobPostingIds": [], "customRequisitionId": if j % 4 == 3 { Value::Null } else { json!(format!("REQ-{:04}", 400 + j)) },
            "brandId": if j % 3 == 1 { Value::Null } else { json!(ids.brands[j % 2]) },
            "hiringTeam": team, "author": user_ref(&user(&d, j * 2)),
            "createdAt": ts(created), "updatedAt": ts(created + 130 * DAY + j as u64 * 3600),
            "openedAt": opened.map(ts), "closedAt": closed.map(ts),
            "location": loc.map(|l| public(&d.locations[l])),
            "_openings": openings,
        }));
    }

    // interview definitions, and which of them each interview stage schedules
    let n_iv = if full { 40 } else { 4 };
    let open_jobs: Vec<usize> = (0..n_jobs)
        .filter(|&j| d.jobs[j]["status"] != "Draft")
        .collect();
    for i in 0..n_iv {
        let base = INTERVIEW_TITLES[i % INTERVIEW_TITLES.len()];
        let title = if i >= INTERVIEW_TITLES.len() {
            format!(
                "{base} ({})",
                ["Platform", "Sales", "Design"][i / INTERVIEW_TITLES.len() % 3]
            )
        } else {
            base.to_owned()
        };
        let i64_ = i as u64;
        d.interviews.push(json!({
            "id": uuid(&mut rng), "title": title,
            "externalTitle": if i % 4 == 0 { json!(format!("{title} with Northwind")) } else { Value::Null },
            "isArchived": if full { i % 9 == 8 } else { i == 3 }, "isDebrief": base == "Debrief",
            "isFeedbackRequired": i % 3 != 2, "isFeedbackRequested": i % 5 != 4,
            "instructionsHtml": if i % 2 == 0 { json!(format!("<p>Focus on <strong>{title}</strong>.</p>")) } else { Value::Null },
            "instructionsPlain": if i % 2 == 0 { json!(format!("Focus on {title}.")) } else { Value::Null },
            "jobId": if i % 3 == 2 { d.jobs[open_jobs[i % open_jobs.len()]]["id"].clone() } else { Value::Null },
            "feedbackFormDefinitionId": uuid(&mut rng),
            "_createdAt": ts(15 * DAY + i64_ * 3 * DAY), "_updatedAt": ts(150 * DAY + i64_ * 2 * DAY),
        }));
    }
    let mut s = 0;
    for st in d.interview_stages.iter_mut() {
        if st["type"] == "Active" {
            let mut list = vec![d.interviews[s % n_iv]["id"].clone()];
            if s % 3 == 0 {
                list.push(d.interviews[(s + 5) % n_iv]["id"].clone());
            }
            st["_interviewIds"] = json!(list);
            s += 1;
        }
    }

    // tags, sources, archive reasons
    let n_tags = if full { TAGS.len() } else { 4 };
    for (i, (title, _)) in TAGS.iter().take(n_tags).enumerate() {
        let archived = if full { TAGS[i].1 } else { i == 3 };
        d.candidate_tags.push(json!({"id": uuid(&mut rng), "title": title, "isArchived": archived,
            "_createdAt": ts(20 * DAY + i as u64 * DAY), "_updatedAt": ts(180 * DAY + i as u64 * DAY)}));
    }
    let srcs: Vec<&(&str, &str, bool)> = if full {
        SOURCES.iter().collect()
    } else {
        vec![&SOURCES[0], &SOURCES[1], &SOURCES[2], &SOURCES[9]]
    };
    for (i, (title, ty, archived)) in srcs.iter().enumerate() {
        d.sources.push(
            json!({"id": uuid(&mut rng), "title": title, "isArchived": archived,
            "sourceType": {"id": ids.source_types.get(ty), "title": ty, "isArchived": false},
            "_createdAt": ts(5 * DAY + i as u64 * DAY)}),
        );
    }
    let n_reasons = if full { REASONS.len() } else { 3 };
    for (i, (text, ty, archived)) in REASONS.iter().take(n_reasons).enumerate() {
        d.archive_reasons.push(
            json!({"id": uuid(&mut rng), "text": text, "reasonType": ty, "isArchived": archived,
            "_createdAt": ts(6 * DAY + i as u64 * DAY)}),
        );
    }

    // job postings (published and not), each job's form shared by its postings
    let sys = |rng: &mut Rng| uuid(rng);
    let f_name = sys(&mut rng);
    let f_email = sys(&mut rng);
    let f_phone = sys(&mut rng);
    let f_resume = sys(&mut rng);
    let f_location = sys(&mut rng);
    let q: Vec<String> = (0..8).map(|_| uuid(&mut rng)).collect();
    for j in 0..n_jobs {
        let job = d.jobs[j].clone();
        let status = job["status"].as_str().unwrap_or_default();
        let title = job["title"].as_str().unwrap_or_default().to_owned();
        let count = if job["location"].is_null() {
            0
        } else {
            match status {
                "Open" => [2, 3, 1, 0, 1, 1, 2, 1, 3, 1][j % 10],
                "Draft" => j % 2,
                _ => 1,
            }
        };
        let mut s1 = vec![
            form_field(&f_name, "String", "_systemfield_name", "Name", true, &[]),
            form_field(&f_email, "Email", "_systemfield_email", "Email", true, &[]),
            form_field(&f_phone, "Phone", "_systemfield_phone", "Phone", false, &[]),
            form_field(
                &f_resume,
                "File",
                "_systemfield_resume",
                "Resume",
                j % 2 == 0,
                &[],
            ),
        ];
        if j % 4 == 1 {
            s1.push(form_field(
                &f_location,
                "Location",
                "_systemfield_location",
                "Location",
                false,
                &[],
            ));
        }
        let mut s2 = vec![form_field(
            &q[0],
            "Boolean",
            &q[0],
            "Will you now or in the future require visa sponsorship?",
            j % 2 == 0,
            &[],
        )];
        if j % 3 == 0 {
            s2.push(form_field(
                &q[1],
                "String",
                &q[1],
                "LinkedIn profile",
                false,
                &[],
            ));
        }
        s2.push(form_field(
            &q[2],
            "Date",
            &q[2],
            "Earliest start date",
            j % 5 == 0,
            &[],
        ));
        if j % 2 == 1 {
            s2.push(form_field(
                &q[3],
                "Number",
                &q[3],
                "Years of professional experience",
                true,
                &[],
            ));
            s2.push(form_field(
                &q[4],
                "ValueSelect",
                &q[4],
                "Preferred work mode",
                false,
                &[
                    ("On-site", "on_site"),
                    ("Hybrid", "hybrid"),
                    ("Remote", "remote"),
                ],
            ));
        }
        if j % 4 == 2 || j == 0 {
            s2.push(form_field(
                &q[5],
                "MultiValueSelect",
                &q[5],
                "Which languages do you speak fluently?",
                false,
                &[
                    ("English", "en"),
                    ("Português", "pt"),
                    ("Deutsch", "de"),
                    ("Français", "fr"),
                    ("日本語", "ja"),
                ],
            ));
        }
        if j % 3 == 1 {
            s2.push(form_field(
                &q[6],
                "LongText",
                &q[6],
                "Cover letter",
                false,
                &[],
            ));
            s2.push(form_field(
                &q[7],
                "Number",
                &q[7],
                "Salary expectation (EUR, yearly)",
                false,
                &[],
            ));
        }
        if j % 3 == 0 {
            let own = uuid(&mut rng);
            s2.push(form_field(
                &own,
                "LongText",
                &own,
                &format!("Why do you want to join us as {title}?"),
                true,
                &[],
            ));
        }
        let mut sections = vec![json!({"title": "Your details", "fields": s1})];
        if j % 5 != 4 {
            sections.push(json!({"title": "A few questions", "fields": s2}));
        }
        let form = json!({"sections": sections});
        let created = job_created[j];
        let loc = job["location"].clone();
        for p in 0..count {
            let id = uuid(&mut rng);
            let published = status == "Open" && !(count == 3 && p == 2);
            // two published postings of one job share updatedAt (ties go to the greater id);
            // a third, unpublished one is the most recently updated
            let updated = if count == 2 && j % 4 == 0 {
                created + 5 * DAY
            } else {
                created + 5 * DAY + p as u64 * DAY
            };
            let p_title = match p {
                0 => title.clone(),
                1 => format!("{title} – Remote"),
                _ => format!("{title} (EN)"),
            };
            let html = format!(
                "<h2>About the role</h2><p>As <strong>{p_title}</strong> at Northwind you own your work end to end — café included.</p><ul><li>Ship</li><li>Learn</li></ul>"
            );
            let plain = format!(
                "About the role\nAs {p_title} at Northwind you own your work end to end — café included.\n- Ship\n- Learn"
            );
            let dep = d
                .departments
                .iter()
                .find(|x| x["id"] == job["departmentId"])
                .map(|x| x["name"].clone())
                .unwrap_or(Value::Null);
            let secondary: Vec<Value> = if p == 1 {
                active_locs
                    .iter()
                    .map(|&l| d.locations[l]["id"].clone())
                    .filter(|l| *l != loc["id"])
                    .take(2)
                    .collect()
            } else {
                vec![]
            };
            d.job_postings.push(json!({
                "id": id, "title": p_title, "jobId": job["id"], "departmentName": dep, "teamName": dep,
                "locationName": loc["name"], "locationIds": {"primaryLocationId": loc["id"], "secondaryLocationIds": secondary},
                "workplaceType": loc["workplaceType"], "employmentType": job["employmentType"],
                "isListed": !((p == 1 && j % 2 == 0) || (p == 0 && j % 6 == 4)),
                "publishedDate": date(created + 2 * DAY + p as u64 * DAY),
                "applicationDeadline": if j % 8 == 5 { json!(ts(created + 60 * DAY)) } else { Value::Null },
                "externalLink": if j % 9 == 8 { Value::Null } else { json!(format!("https://jobs.ashbyhq.com/northwind/{id}")) },
                "applyLink": format!("https://jobs.ashbyhq.com/northwind/{id}/application"),
                "compensationTierSummary": if j % 3 == 0 { json!("€70K – €95K • Offers Equity") } else { Value::Null },
                "shouldDisplayCompensationOnJobBoard": j % 6 == 0,
                "updatedAt": ts(updated),
                "descriptionPlain": plain, "descriptionHtml": html,
                "descriptionSocial": if p == 0 { json!(format!("Join Northwind as {p_title}!")) } else { Value::Null },
                "descriptionParts": {"descriptionOpening": null, "descriptionBody": {"html": html, "plain": plain}, "descriptionClosing": null},
                "linkedData": null, "address": loc["address"], "isRemote": loc["workplaceType"] == "Remote",
                "applicationFormDefinition": form, "surveyFormDefinitions": [],
                "_published": published,
            }));
        }
    }

    // candidates, applications, history, schedules with events, offers
    let n_cands = if full { 600 } else { 6 };
    let eligible: Vec<usize> = (0..n_jobs)
        .filter(|&j| d.jobs[j]["status"] != "Draft")
        .collect();
    let tag_refs: Vec<Value> = d.candidate_tags.iter().map(public).collect();
    let archived_tag = tag_refs.iter().position(|t| t["isArchived"] == true);
    let src_refs: Vec<Value> = d.sources.iter().map(public).collect();
    let mut a = 0usize;
    for c in 0..n_cands {
        let cid = uuid(&mut rng);
        // four candidates created in the same millisecond, across the first page boundary
        let c_created = if (98..=101).contains(&c) {
            280 * DAY + 98 * 77_760
        } else {
            280 * DAY + c as u64 * 77_760 + (c as u64 % 7) * 1111
        };
        let (f, l) = (
            FIRST[(c * 7 + 3) % FIRST.len()],
            LAST[(c * 11 + 5) % LAST.len()],
        );
        let name = match c % 29 {
            11 => f.to_owned(),
            5 | 19 => format!("{f} {} {l}", LAST[(c * 3) % LAST.len()]),
            _ => format!("{f} {l}"),
        };
        let n_emails = match c % 11 {
            3 => 0,
            0 | 5 => 2,
            7 => 3,
            _ => 1,
        };
        let emails: Vec<Value> = (0..n_emails)
            .map(|e| {
                let ty = ["Personal", "Work", "Other"][(c + e) % 3];
                let domain = ["mailbox.pt", "web.de", "example.org", "correo.es"][(c + e) % 4];
                let value = if e == 0 {
                    format!("{}.{}{c}@{domain}", slug(f), slug(l))
                } else {
                    format!("{}{}@work{e}.example.com", slug(f), c)
                };
                json!({"value": value, "type": ty, "isPrimary": e == 0})
            })
            .collect();
        let n_phones = match c % 7 {
            2 => 0,
            4 => 2,
            _ => 1,
        };
        let phones: Vec<Value> = (0..n_phones)
            .map(|e| {
                let value = [
                    format!("+351 912 {:03} {:03}", c % 1000, (c * 7) % 1000),
                    format!("+49 151 {:07}", 1_000_000 + c * 13),
                    format!("+55 11 9{:04}-{:04}", c % 10_000, (c * 3) % 10_000),
                ][(c + e) % 3]
                    .clone();
                json!({"value": value, "type": (["Personal", "Work", "Other"][(c / 2 + e) % 3]), "isPrimary": e == 0})
            })
            .collect();
        let social: Vec<Value> = match c % 4 {
            0 => vec![],
            1 => vec![
                json!({"type": "LinkedIn", "url": format!("https://www.linkedin.com/in/{}-{c}", slug(f))}),
            ],
            2 => vec![
                json!({"type": "LinkedIn", "url": format!("https://www.linkedin.com/in/{}-{c}", slug(f))}),
                json!({"type": "GitHub", "url": format!("https://github.com/{}{c}", slug(l))}),
            ],
            _ => vec![
                json!({"type": "Website", "url": format!("https://{}{c}.dev", slug(l))}),
                json!({"type": "Twitter", "url": format!("https://twitter.com/{}{c}", slug(f))}),
            ],
        };
        let nt = tag_refs.len();
        let tags: Vec<Value> = match c % 5 {
            0 => vec![],
            1 => vec![tag_refs[c % nt].clone()],
            2 => vec![tag_refs[c % nt].clone(), tag_refs[(c + 1) % nt].clone()],
            3 => {
                let mut t = vec![tag_refs[(c + 2) % nt].clone()];
                if let Some(i) = archived_tag
                    && i != (c + 2) % nt
                {
                    t.push(tag_refs[i].clone());
                }
                t
            }
            _ => vec![
                tag_refs[0].clone(),
                tag_refs[(c + 3) % nt].clone(),
                tag_refs[(c + 4) % nt].clone(),
            ],
        };
        let mut tags_dedup = Vec::new();
        for t in tags {
            if !tags_dedup.iter().any(|x: &Value| x["id"] == t["id"]) {
                tags_dedup.push(t);
            }
        }
        let city = CITIES[c % CITIES.len()];
        let location = match c % 6 {
            4 => Value::Null,
            5 => {
                json!({"id": uuid(&mut rng), "locationSummary": city.2, "locationComponents": [{"type": "Country", "name": city.2}]})
            }
            _ => json!({"id": uuid(&mut rng), "locationSummary": format!("{}, {}", city.0, city.2),
                "locationComponents": [{"type": "City", "name": city.0}, {"type": "Region", "name": city.1}, {"type": "Country", "name": city.2}]}),
        };
        let mut c_custom = Vec::new();
        match c % 4 {
            0 => {
                c_custom.push(cf(&ids, "Notice period (weeks)", json!(4 + c % 9), None));
                c_custom.push(cf(&ids, "Willing to relocate", json!(c % 8 == 0), None));
            }
            1 => c_custom.push(cf(
                &ids,
                "Desired start",
                json!(date(c_created + 60 * DAY)),
                None,
            )),
            2 => c_custom.push(cf(
                &ids,
                "Seniority",
                json!(["junior", "mid", "senior"][c % 3]),
                Some(["Junior", "Mid-level", "Senior"][c % 3]),
            )),
            _ => {}
        }
        if c % 6 == 5 {
            c_custom.push(cf(&ids, "Languages", json!(["en", "pt"]), None));
        }

        let primary_email = emails.first().cloned().unwrap_or(Value::Null);
        let primary_phone = phones.first().cloned().unwrap_or(Value::Null);
        let pool: Vec<usize> = eligible
            .iter()
            .copied()
            .filter(|&j| job_created[j] + 2 * DAY < c_created)
            .collect();
        let k = APPS_PER_CANDIDATE[c % APPS_PER_CANDIDATE.len()].min(pool.len());
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < k {
            let j = pool[rng.below(pool.len() as u64) as usize];
            if !chosen.contains(&j) {
                chosen.push(j);
            }
        }
        let mut app_ids = Vec::new();
        let mut c_updated = c_created + DAY;
        let mut c_source = Value::Null;
        for (t, &j) in chosen.iter().enumerate() {
            let app_id = uuid(&mut rng);
            let status = APP_STATUS[a % APP_STATUS.len()];
            let job = d.jobs[j].clone();
            let plan = job["defaultInterviewPlanId"].clone();
            let stages: Vec<Value> = {
                let mut v: Vec<Value> = d
                    .interview_stages
                    .iter()
                    .filter(|s| s["interviewPlanId"] == plan)
                    .cloned()
                    .collect();
                v.sort_by_key(|s| s["orderInInterviewPlan"].as_u64());
                v
            };
            let offer_i = stages.len() - 3;
            let (hired_i, archived_i) = (stages.len() - 2, stages.len() - 1);
            let sourced = status == "Lead" || a % 3 == 0;
            let first = if sourced { 0 } else { 1 };
            let mut walked: Vec<usize> = match status {
                "Lead" => vec![0],
                "Active" => (first..=(1 + rng.below(offer_i as u64) as usize).max(first)).collect(),
                "Hired" => (first..=offer_i).chain([hired_i]).collect(),
                _ => {
                    let r = if a % 7 == 0 {
                        offer_i
                    } else {
                        rng.below(offer_i as u64 + 1) as usize
                    };
                    (first..=r.max(first)).collect()
                }
            };
            if status == "Archived" {
                walked.push(archived_i);
            }
            let a_created = c_created
                + t as u64 * 3 * DAY
                + (a as u64 % 5) * 600
                + if a % 50 == 7 { 0 } else { 17 };
            let step = 2 * DAY + (a as u64 % 4) * 3 * 3600;
            let entered: Vec<u64> = (0..walked.len())
                .map(|n| a_created + 60 + n as u64 * step)
                .collect();
            let last_entered = *entered.last().unwrap_or(&a_created);
            let current = public(&stages[*walked.last().unwrap_or(&0)]);
            for (n, &si) in walked.iter().enumerate() {
                d.application_history.push(json!({
                    "id": uuid(&mut rng), "stageId": stages[si]["id"], "title": stages[si]["title"], "stageNumber": n,
                    "enteredStageAt": ts(entered[n]), "leftStageAt": entered.get(n + 1).map(|t| ts(*t)),
                    "actorId": if n == 0 && !sourced { Value::Null } else { user(&d, a + n)["id"].clone() },
                    "_applicationId": app_id, "_createdAt": ts(entered[n]),
                }));
            }
            let source = if a % 13 == 12 {
                Value::Null
            } else if sourced {
                src_refs[[0, 1, 4, 6][a % 4] % src_refs.len()].clone()
            } else {
                src_refs[[2, 3, 7, 8, 9][a % 5] % src_refs.len()].clone()
            };
            if t == 0 {
                c_source = source.clone();
            }
            let via = if sourced {
                Value::Null
            } else {
                d.job_postings
                    .iter()
                    .find(|p| p["jobId"] == job["id"])
                    .map(|p| p["id"].clone())
                    .unwrap_or(Value::Null)
            };
            let mut a_custom = Vec::new();
            if a % 6 == 0 {
                a_custom.push(cf(
                    &ids,
                    "Referral bonus eligible",
                    json!(a % 12 == 0),
                    None,
                ));
            }
            if a % 10 == 3 {
                a_custom.push(cf(
                    &ids,
                    "Visa status",
                    json!("needs_sponsorship"),
                    Some("Needs sponsorship"),
                ));
            }
            let reason = (status == "Archived").then(|| {
                let r = &d.archive_reasons[(a * 7 + a / 20) % d.archive_reasons.len()];
                json!({"id": r["id"], "text": r["text"], "reasonType": r["reasonType"], "isArchived": r["isArchived"], "customFields": []})
            });
            let a_updated = last_entered + 1800 + (a as u64 % 11) * 60;
            c_updated = c_updated.max(a_updated + 60);
            let team = if a % 9 == 0 {
                let u = user(&d, a + 2);
                json!([{"email": u["email"], "firstName": u["firstName"], "lastName": u["lastName"], "role": "Recruiter", "userId": u["id"]}])
            } else {
                json!([])
            };
            d.applications.push(json!({
                "id": app_id, "createdAt": ts(a_created), "updatedAt": ts(a_updated), "status": status,
                "customFields": a_custom,
                "candidate": {"id": cid, "name": name, "primaryEmailAddress": primary_email, "primaryPhoneNumber": primary_phone},
                "currentInterviewStage": current, "source": source, "archiveReason": reason,
                "archivedAt": if status == "Archived" { json!(ts(last_entered)) } else { Value::Null },
                "job": {"id": job["id"], "title": job["title"], "locationId": job["locationId"], "departmentId": job["departmentId"]},
                "creditedToUser": if a % 4 == 0 { user_ref(&user(&d, a + 1)) } else { Value::Null },
                "hiringTeam": team, "appliedViaJobPostingId": via,
                "submitterClientIp": if sourced { Value::Null } else { json!(format!("198.51.100.{}", a % 250)) },
                "submitterUserAgent": if sourced { Value::Null } else { json!("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") },
            }));
            app_ids.push(app_id.clone());

            // schedules on (at most the last two) interview stages walked
            let interview_steps: Vec<usize> = (0..walked.len())
                .filter(|&n| stages[walked[n]]["type"] == "Active")
                .collect();
            let n_steps = interview_steps.len();
            for &n in interview_steps.iter().skip(n_steps.saturating_sub(2)) {
                let si = walked[n];
                if (a + si) % 4 == 3 {
                    continue;
                }
                let is_current = n == walked.len() - 1 && status == "Active";
                let s_status = if is_current {
                    [
                        "Scheduled",
                        "WaitingOnFeedback",
                        "NeedsScheduling",
                        "WaitingOnCandidateBooking",
                        "OnHold",
                        "WaitingOnCandidateAvailability",
                        "CandidateAvailabilitySubmitted",
                        "Scheduled",
                    ][a % 8]
                } else if (a + si) % 9 == 4 {
                    "Cancelled"
                } else {
                    "Complete"
                };
                let n_events = if s_status.starts_with("WaitingOnCandidate")
                    || matches!(
                        s_status,
                        "NeedsScheduling" | "CandidateAvailabilitySubmitted"
                    ) {
                    0
                } else {
                    1 + (a + si) % 3
                };
                let sched_id = uuid(&mut rng);
                let e0 = entered[n];
                let ivs: Vec<Value> = stages[si]["_interviewIds"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let events: Vec<Value> = (0..n_events)
                    .map(|e| {
                        let ev_id = uuid(&mut rng);
                        let interview_id = if ivs.is_empty() {
                            d.interviews[(a + e) % d.interviews.len()]["id"].clone()
                        } else {
                            ivs[e % ivs.len()].clone()
                        };
                        let n_iv = 1 + (a + e) % 3;
                        let people: Vec<Value> = (0..n_iv)
                            .map(|q| user(&d, a * 5 + e * 11 + q * 17))
                            .collect();
                        let start = e0 + DAY + e as u64 * 7200 + 9 * 3600;
                        let end = start + [3600, 2700, 5400][(a + e) % 3];
                        let in_person = (a + e) % 4 == 1;
                        json!({
                            "id": ev_id, "interviewId": interview_id, "interviewScheduleId": sched_id,
                            "interviewerUserIds": people.iter().map(|u| u["id"].clone()).collect::<Vec<_>>(),
                            "interviewers": people.iter().enumerate().map(|(q, u)| {
                                let mut x = user_ref(u);
                                x["trainingRole"] = if q == 2 { json!(["Shadow", "ReverseShadow"][a % 2]) } else { Value::Null };
                                x["interviewerPool"] = if (a + q) % 7 == 0 { json!({"id": ids.interviewer_pool, "title": "Backend interviewers", "isArchived": false}) } else { Value::Null };
                                x["isFeedbackRequired"] = json!(q != 2);
                                x
                            }).collect::<Vec<_>>(),
                            "createdAt": ts(e0 + 3600), "updatedAt": ts(e0 + 3600 + if s_status == "Complete" { 2 * DAY } else { 0 }),
                            "startTime": ts(start), "endTime": ts(end),
                            "feedbackLink": format!("https://app.ashbyhq.com/interview-feedback/{ev_id}"),
                            "location": if in_person { json!("Northwind HQ, Rua Augusta 12, Sala 3") } else { Value::Null },
                            "meetingLink": if !in_person && (a + e) % 5 != 0 { json!(format!("https://meet.example.com/nw-{}", &ev_id[..8])) } else { Value::Null },
                            "interviewerCalendarEventId": if e % 2 == 0 { json!(format!("cal-{}", &ev_id[..13])) } else { Value::Null },
                            "hasSubmittedFeedback": s_status == "Complete", "extraData": null,
                        })
                    })
                    .collect();
                d.interview_schedules.push(json!({
                    "id": sched_id, "status": s_status, "applicationId": app_id, "interviewStageId": stages[si]["id"],
                    "scheduledBy": if a % 5 == 2 { Value::Null } else { user_ref(&user(&d, a + 3)) },
                    "createdAt": ts(e0 + 3600), "updatedAt": ts(e0 + 3600 + if s_status == "Complete" { 2 * DAY } else { 600 }),
                    "interviewEvents": events,
                }));
            }

            // an offer once the offer stage was reached
            if let Some(n) = walked.iter().position(|&si| si == offer_i) {
                let offer_status = match status {
                    "Hired" => "CandidateAccepted",
                    "Active" => [
                        "WaitingOnApprovalStart",
                        "WaitingOnOfferApproval",
                        "WaitingOnApprovalDefinition",
                        "WaitingOnCandidateResponse",
                    ][a % 4],
                    _ => ["CandidateRejected", "OfferCancelled"][a % 2],
                };
                let acceptance = match offer_status {
                    "CandidateAccepted" => "Accepted",
                    "CandidateRejected" => "Declined",
                    "OfferCancelled" => "Cancelled",
                    "WaitingOnCandidateResponse" => "WaitingOnResponse",
                    "WaitingOnOfferApproval" => "Pending",
                    _ => "Created",
                };
                let approval = match offer_status {
                    "WaitingOnApprovalStart" | "WaitingOnApprovalDefinition" => Value::Null,
                    "WaitingOnOfferApproval" => json!("WaitingOnApprovals"),
                    "OfferCancelled" if a % 4 == 1 => json!("Declined"),
                    _ => json!("Approved"),
                };
                let o_created = entered[n] + 7200;
                let decided =
                    matches!(acceptance, "Accepted" | "Declined").then(|| o_created + 3 * DAY);
                let salary = if a % 10 == 9 {
                    Value::Null
                } else {
                    let (cur, base) = [
                        ("EUR", 62_000),
                        ("USD", 98_000),
                        ("GBP", 71_000),
                        ("BRL", 180_000),
                        ("JPY", 9_500_000),
                    ][a % 5];
                    json!({"currencyCode": cur, "value": base + (a as u64 % 17) * 1000})
                };
                d.offers.push(json!({
                    "id": uuid(&mut rng), "decidedAt": decided.map(ts), "applicationId": app_id,
                    "acceptanceStatus": acceptance, "offerStatus": offer_status,
                    "latestVersion": {"id": uuid(&mut rng), "startDate": ts(o_created + 45 * DAY - o_created % DAY),
                        "salary": salary, "createdAt": ts(o_created),
                        "openingId": job["_openings"][0]["id"].clone(),
                        "customFields": if a % 3 == 0 { json!([cf(&ids, "Signing bonus", json!(5000), None)]) } else { json!([]) },
                        "fileHandles": if decided.is_some() { json!([{"id": uuid(&mut rng), "name": "Offer letter.pdf", "handle": format!("fh-offer-{a}")}]) } else { json!([]) },
                        "author": user_ref(&user(&d, a + 4)), "approvalStatus": approval},
                    "_createdAt": ts(o_created), "_updatedAt": ts(decided.unwrap_or(o_created + 600)),
                }));
            }
            a += 1;
        }
        let resume = (c % 3 != 2).then(|| {
            json!({"id": uuid(&mut rng), "name": format!("CV_{}.pdf", slug(&name)), "handle": format!("fh-cv-{c}")})
        });
        let mut files: Vec<Value> = resume.iter().cloned().collect();
        if c % 8 == 1 {
            files.push(json!({"id": uuid(&mut rng), "name": "Cover letter – Anschreiben.pdf", "handle": format!("fh-cl-{c}")}));
        }
        d.candidates.push(json!({
            "id": cid, "createdAt": ts(c_created), "updatedAt": ts(c_updated), "name": name,
            "primaryEmailAddress": primary_email, "emailAddresses": emails,
            "primaryPhoneNumber": primary_phone, "phoneNumbers": phones, "socialLinks": social,
            "tags": tags_dedup,
            "position": if c % 5 == 4 { Value::Null } else { json!(POSITIONS[c % POSITIONS.len()]) },
            "company": if c % 6 == 3 { Value::Null } else { json!(COMPANIES[c % COMPANIES.len()]) },
            "school": if c % 3 == 1 { Value::Null } else { json!(SCHOOLS[c % SCHOOLS.len()]) },
            "applicationIds": app_ids, "resumeFileHandle": resume, "fileHandles": files,
            "customFields": c_custom, "profileUrl": format!("https://app.ashbyhq.com/candidates/{cid}"),
            "source": c_source,
            "creditedToUser": if c % 5 == 1 { user_ref(&user(&d, c)) } else { Value::Null },
            "timezone": if location.is_null() { Value::Null } else { json!(city.3) },
            "location": location, "fraudStatus": null,
        }));
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/// The endpoints served (the notes' §5), each `POST` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/user.list`
    UserList,
    /// `/department.list`
    DepartmentList,
    /// `/location.list`
    LocationList,
    /// `/job.list`
    JobList,
    /// `/jobInterviewPlan.info`
    JobInterviewPlanInfo,
    /// `/jobPosting.list`
    JobPostingList,
    /// `/jobPosting.info`
    JobPostingInfo,
    /// `/interviewPlan.list`
    InterviewPlanList,
    /// `/interviewStage.list`
    InterviewStageList,
    /// `/candidate.list`
    CandidateList,
    /// `/candidateTag.list`
    CandidateTagList,
    /// `/application.list`
    ApplicationList,
    /// `/application.listHistory`
    ApplicationListHistory,
    /// `/archiveReason.list`
    ArchiveReasonList,
    /// `/source.list`
    SourceList,
    /// `/interview.list`
    InterviewList,
    /// `/interviewSchedule.list`
    InterviewScheduleList,
    /// `/interviewEvent.list`
    InterviewEventList,
    /// `/offer.list`
    OfferList,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: &[Endpoint] = &[
        Endpoint::UserList,
        Endpoint::DepartmentList,
        Endpoint::LocationList,
        Endpoint::JobList,
        Endpoint::JobInterviewPlanInfo,
        Endpoint::JobPostingList,
        Endpoint::JobPostingInfo,
        Endpoint::InterviewPlanList,
        Endpoint::InterviewStageList,
        Endpoint::CandidateList,
        Endpoint::CandidateTagList,
        Endpoint::ApplicationList,
        Endpoint::ApplicationListHistory,
        Endpoint::ArchiveReasonList,
        Endpoint::SourceList,
        Endpoint::InterviewList,
        Endpoint::InterviewScheduleList,
        Endpoint::InterviewEventList,
        Endpoint::OfferList,
    ];

    /// The path, e.g. `/candidate.list`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::UserList => "/user.list",
            Endpoint::DepartmentList => "/department.list",
            Endpoint::LocationList => "/location.list",
            Endpoint::JobList => "/job.list",
            Endpoint::JobInterviewPlanInfo => "/jobInterviewPlan.info",
            Endpoint::JobPostingList => "/jobPosting.list",
            Endpoint::JobPostingInfo => "/jobPosting.info",
            Endpoint::InterviewPlanList => "/interviewPlan.list",
            Endpoint::InterviewStageList => "/interviewStage.list",
            Endpoint::CandidateList => "/candidate.list",
            Endpoint::CandidateTagList => "/candidateTag.list",
            Endpoint::ApplicationList => "/application.list",
            Endpoint::ApplicationListHistory => "/application.listHistory",
            Endpoint::ArchiveReasonList => "/archiveReason.list",
            Endpoint::SourceList => "/source.list",
            Endpoint::InterviewList => "/interview.list",
            Endpoint::InterviewScheduleList => "/interviewSchedule.list",
            Endpoint::InterviewEventList => "/interviewEvent.list",
            Endpoint::OfferList => "/offer.list",
        }
    }

    /// The endpoint at a path (exact match).
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.iter().copied().find(|e| e.path() == path)
    }

    /// Paged with `limit`/`cursor` (decision 4).
    pub fn paged(self) -> bool {
        !matches!(
            self,
            Endpoint::JobInterviewPlanInfo
                | Endpoint::JobPostingList
                | Endpoint::JobPostingInfo
                | Endpoint::InterviewStageList
                | Endpoint::ArchiveReasonList
                | Endpoint::SourceList
        )
    }

    /// Issues and accepts `syncToken` (decision 5: every paged list but `application.listHistory`).
    pub fn incremental(self) -> bool {
        self.paged() && self != Endpoint::ApplicationListHistory
    }
}

// ---------------------------------------------------------------------------------------------
// Errors, cursors, tokens

/// A failed request: the HTTP status (200 for input and logic errors) and the envelope's code.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `errorInfo.code` (and the one member of `errors`).
    pub code: String,
    /// `errorInfo.message`.
    pub message: String,
    /// `Retry-After` seconds (429 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }
    fn input(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::OK, "invalid_input", message)
    }
    fn cursor(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::OK, "invalid_cursor", message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::OK, "not_found", message)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding.
fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..chunk.len() + 1 {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Base64 in either alphabet (standard or url-safe), padding optional.
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for ch in s.bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Signs and wraps a payload into an opaque string.
fn seal(payload: &str) -> String {
    let sum = fnv(&format!("{SALT}{payload}"));
    b64_encode(format!("{payload}|{sum:016x}").as_bytes())
}

/// The payload of a string [`seal`] made, if intact.
fn unseal(s: &str) -> Option<String> {
    let raw = String::from_utf8(b64_decode(s)?).ok()?;
    let (payload, sum) = raw.rsplit_once('|')?;
    (format!("{:016x}", fnv(&format!("{SALT}{payload}"))) == sum).then(|| payload.to_owned())
}

/// Where a walk stands: which endpoint and filters it lists, its incremental lower bound, when
/// it began (the issue time of the token its last page will carry), and the last record served.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cursor {
    endpoint: String,
    filters: String,
    since: Option<i64>,
    start: i64,
    created: String,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        let since = self.since.map(|s| s.to_string()).unwrap_or("-".into());
        seal(&format!(
            "c1|{}|{}|{since}|{}|{}|{}",
            self.endpoint, self.filters, self.start, self.created, self.id
        ))
    }
    fn decode(s: &str) -> Option<Cursor> {
        let p = unseal(s)?;
        let f: Vec<&str> = p.splitn(7, '|').collect();
        if f.len() != 7 || f[0] != "c1" {
            return None;
        }
        Some(Cursor {
            endpoint: f[1].to_owned(),
            filters: f[2].to_owned(),
            since: if f[3] == "-" {
                None
            } else {
                Some(f[3].parse().ok()?)
            },
            start: f[4].parse().ok()?,
            created: f[5].to_owned(),
            id: f[6].to_owned(),
        })
    }
}

/// A sync token: the endpoint and the issue time (epoch ms).
fn token_encode(ep: Endpoint, issued: i64) -> String {
    seal(&format!("t1|{}|{issued}", ep.path()))
}

fn token_decode(s: &str) -> Option<(String, i64)> {
    let p = unseal(s)?;
    let f: Vec<&str> = p.split('|').collect();
    if f.len() != 3 || f[0] != "t1" {
        return None;
    }
    Some((f[1].to_owned(), f[2].parse().ok()?))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2025-06-03T13:00:00.000Z` (milliseconds optional) → epoch milliseconds.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let ms = if s.get(19..20) == Some(".") {
        num(20, 23)?
    } else {
        0
    };
    Some(((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms)
}

/// Epoch milliseconds (from 2023 on) → `2025-06-03T13:00:00.000Z`.
pub fn iso_ms(ms: i64) -> String {
    let rel = (ms - EPOCH_2023_MS).max(0);
    format!("{}{:03}Z", &ts((rel / 1000) as u64)[..20], rel % 1000)
}

// ---------------------------------------------------------------------------------------------
// Body members

type Body = Map<String, Value>;

fn opt_bool(b: &Body, k: &str) -> Result<Option<bool>, ApiError> {
    match b.get(k) {
        None => Ok(None),
        Some(Value::Bool(v)) => Ok(Some(*v)),
        Some(_) => Err(ApiError::input(format!("{k} must be a boolean"))),
    }
}

fn opt_str<'a>(b: &'a Body, k: &str) -> Result<Option<&'a str>, ApiError> {
    match b.get(k) {
        None => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(ApiError::input(format!("{k} must be a string"))),
    }
}

fn req_str<'a>(b: &'a Body, k: &str) -> Result<&'a str, ApiError> {
    opt_str(b, k)?.ok_or_else(|| ApiError::input(format!("{k} is required")))
}

fn opt_enum<'a>(b: &'a Body, k: &str, allowed: &[&str]) -> Result<Option<&'a str>, ApiError> {
    match opt_str(b, k)? {
        Some(v) if !allowed.contains(&v) => Err(ApiError::input(format!(
            "{k} must be one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// An array of strings, each from `allowed` when given; sorted and deduplicated.
fn opt_strs(b: &Body, k: &str, allowed: Option<&[&str]>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = b.get(k) else { return Ok(None) };
    let bad = || ApiError::input(format!("{k} must be an array of strings"));
    let mut out = Vec::new();
    for x in v.as_array().ok_or_else(bad)? {
        let s = x.as_str().ok_or_else(bad)?;
        if let Some(a) = allowed
            && !a.contains(&s)
        {
            return Err(ApiError::input(format!(
                "{k}: unknown value {s:?} (one of {})",
                a.join(", ")
            )));
        }
        out.push(s.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// Epoch milliseconds (`createdAfter`).
fn opt_ms(b: &Body, k: &str) -> Result<Option<i64>, ApiError> {
    match b.get(k) {
        None => Ok(None),
        Some(v) => {
            v.as_i64().filter(|n| *n >= 0).map(Some).ok_or_else(|| {
                ApiError::input(format!("{k} must be epoch milliseconds (an integer)"))
            })
        }
    }
}

fn expands(b: &Body, what: &str) -> Result<bool, ApiError> {
    Ok(opt_strs(b, "expand", None)?.is_some_and(|v| v.iter().any(|x| x == what)))
}

fn created_after(r: &Value, after: Option<i64>) -> bool {
    after.is_none_or(|a| parse_iso_ms(created_of(r)).is_some_and(|t| t > a))
}

const JOB_STATUSES: &[&str] = &["Draft", "Open", "Closed", "Archived"];
const APPLICATION_STATUSES: &[&str] = &["Hired", "Archived", "Active", "Lead"];
const OFFER_STATUSES: &[&str] = &[
    "WaitingOnApprovalStart",
    "WaitingOnOfferApproval",
    "WaitingOnApprovalDefinition",
    "WaitingOnCandidateResponse",
    "CandidateRejected",
    "CandidateAccepted",
    "OfferCancelled",
];
const ACCEPTANCE_STATUSES: &[&str] = &[
    "Accepted",
    "Declined",
    "Pending",
    "Created",
    "Cancelled",
    "WaitingOnResponse",
];

// ---------------------------------------------------------------------------------------------
// The simulator

/// One request as received, and how it was answered.
#[derive(Clone, Debug)]
pub struct Received {
    /// HTTP method.
    pub method: String,
    /// Path (the query string is ignored and not kept).
    pub path: String,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The error code answered, if any (also for HTTP 200 `success: false`).
    pub error: Option<String>,
}

impl Received {
    /// The body parsed as JSON (`{}` when empty, `null` when not JSON).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            json!({})
        } else {
            serde_json::from_str(&self.body).unwrap_or(Value::Null)
        }
    }
}

/// An answer before it becomes an HTTP response.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Extra headers (`Retry-After`, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Value,
}

struct Injected {
    code: String,
    after: u64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Switches, counters and data of a simulator.
pub struct Sim {
    data: RwLock<Dataset>,
    /// The accepted API key (the Basic user name).
    pub api_key: String,
    /// Whether the rate limit is enforced.
    pub limits_on: AtomicBool,
    /// Requests received (every method and path).
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    log: Mutex<Vec<Received>>,
    injected: Mutex<HashMap<String, Injected>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    started: Instant,
    /// The clock stands still (for recordings that must be byte-identical run after run).
    frozen: AtomicBool,
    offset_ms: AtomicU64,
    ulid_seq: AtomicU64,
}

impl Sim {
    /// A simulator (not yet listening; see [`start`]).
    pub fn new(size: Size, api_key: &str, limits_on: bool) -> Sim {
        Sim {
            data: RwLock::new(dataset(size)),
            api_key: api_key.to_owned(),
            limits_on: AtomicBool::new(limits_on),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            injected: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            started: Instant::now(),
            frozen: AtomicBool::new(false),
            offset_ms: AtomicU64::new(0),
            ulid_seq: AtomicU64::new(0),
        }
    }

    /// The data served, for reading.
    pub fn data(&self) -> RwLockReadGuard<'_, Dataset> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The data served, for changing between runs (set `updatedAt`, or use [`Sim::touch`], so
    /// incremental syncs see a change).
    pub fn data_mut(&self) -> RwLockWriteGuard<'_, Dataset> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulated clock, epoch milliseconds: 2025-09-27T00:00:00Z at start, then real time
    /// plus whatever [`Sim::advance`] added.
    pub fn now_ms(&self) -> i64 {
        EPOCH_2023_MS
            + START_SECS as i64 * 1000
            + if self.frozen.load(Ordering::SeqCst) {
                0
            } else {
                self.started.elapsed().as_millis() as i64
            }
            + self.offset_ms.load(Ordering::SeqCst) as i64
    }

    /// Stops the clock at its start (cursors and tokens embed the time, so a recording made
    /// with a running clock differs from the last one).
    pub fn freeze_clock(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Moves the simulated clock forward (e.g. past a sync token's 30 days).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Switches the rate limit on or off.
    pub fn set_limits(&self, on: bool) {
        self.limits_on.store(on, Ordering::SeqCst);
    }

    /// From the request after the next `after` authorised requests to `path` on, that path
    /// answers HTTP 200 `success: false` with `code`, until [`Sim::clear_failures`].
    pub fn inject_failure(&self, path: &str, code: &str, after: u64) {
        lock(&self.injected).insert(
            path.to_owned(),
            Injected {
                code: code.to_owned(),
                after,
            },
        );
    }

    /// Removes every injected failure.
    pub fn clear_failures(&self) {
        lock(&self.injected).clear();
    }

    /// Every request received so far, in order.
    pub fn log(&self) -> Vec<Received> {
        lock(&self.log).clone()
    }

    /// Forgets the log (the counters stay).
    pub fn clear_log(&self) {
        lock(&self.log).clear();
    }

    /// Requests received for a path.
    pub fn requests_to(&self, path: &str) -> usize {
        lock(&self.log).iter().filter(|r| r.path == path).count()
    }

    /// The bodies received for a path, parsed.
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        lock(&self.log)
            .iter()
            .filter(|r| r.path == path)
            .map(Received::json)
            .collect()
    }

    /// Marks a record changed now (its `updatedAt`, or `_updatedAt` when it exposes none), so
    /// the next incremental sync returns it. False when there is no such record.
    pub fn touch(&self, resource: &str, id: &str) -> bool {
        let now = iso_ms(self.now_ms());
        let mut d = self.data_mut();
        let stamp = |r: &mut Value| {
            let k = if r.get("updatedAt").is_some() {
                "updatedAt"
            } else {
                "_updatedAt"
            };
            r[k] = json!(now);
        };
        if resource == "interviewEvent" {
            for s in d.interview_schedules.iter_mut() {
                if let Some(evs) = s["interviewEvents"].as_array_mut()
                    && let Some(e) = evs.iter_mut().find(|e| e["id"] == id)
                {
                    stamp(e);
                    return true;
                }
            }
            return false;
        }
        match d
            .rows_mut(resource)
            .and_then(|rows| rows.iter_mut().find(|r| r["id"] == id))
        {
            Some(r) => {
                stamp(r);
                true
            }
            None => false,
        }
    }

    /// Deletes a record as a vendor-side deletion would: it vanishes from every listing, and
    /// so do its dependents (a candidate's applications; an application's history, schedules
    /// and offers; a job's postings and applications; a plan's stages; a schedule's events).
    /// Returns every `(resource, id)` removed.
    pub fn delete(&self, resource: &str, id: &str) -> Vec<(String, String)> {
        let mut d = self.data_mut();
        let mut gone = Vec::new();
        delete_in(&mut d, resource, id, &mut gone);
        gone
    }

    fn ulid(&self) -> String {
        const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let t = self.now_ms() as u128 & ((1 << 48) - 1);
        let n = self.ulid_seq.fetch_add(1, Ordering::SeqCst);
        let mut r = Rng::new(n ^ 0x5EED);
        let v = t << 80 | (r.next() as u128) << 16 | (n as u128 & 0xffff);
        (0..26)
            .rev()
            .map(|i| CROCKFORD[(v >> (i * 5) & 31) as usize] as char)
            .collect()
    }

    /// Answers one request (what the HTTP handler does, callable without a socket).
    pub fn answer(&self, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (ans, error) = match self.serve(method, path, headers, body) {
            Ok(v) => (
                Answer {
                    status: StatusCode::OK,
                    headers: vec![],
                    body: v,
                },
                None,
            ),
            Err(e) => {
                let mut h = vec![];
                if let Some(s) = e.retry_after {
                    h.push(("retry-after", s.to_string()));
                }
                if e.status == StatusCode::METHOD_NOT_ALLOWED {
                    h.push(("allow", "POST".to_owned()));
                }
                let body = json!({"success": false, "errors": [e.code],
                    "errorInfo": {"code": e.code, "message": e.message, "requestId": self.ulid()}});
                (
                    Answer {
                        status: e.status,
                        headers: h,
                        body,
                    },
                    Some(e.code),
                )
            }
        };
        lock(&self.log).push(Received {
            method: method.to_string(),
            path: path.to_owned(),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(body).into_owned(),
            status: ans.status.as_u16(),
            error,
        });
        ans
    }

    fn serve(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let ep = Endpoint::from_path(path).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("No endpoint at {path}"),
            )
        })?;
        if method != Method::POST {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{path} answers POST only"),
            ));
        }
        let key = self.authenticate(headers)?;
        self.throttle(&key)?;
        if let Some(inj) = lock(&self.injected).get_mut(path) {
            if inj.after > 0 {
                inj.after -= 1;
            } else {
                return Err(ApiError::new(
                    StatusCode::OK,
                    &inj.code,
                    format!("Simulated failure ({})", inj.code),
                ));
            }
        }
        let body = parse_body(headers, body)?;
        self.dispatch(ep, &body)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let Some(h) = headers.get("authorization") else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Missing Authorization header (Basic auth, API key as user name)",
            ));
        };
        let wrong = || {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "invalid_api_key",
                "The API key is invalid or deactivated",
            )
        };
        let v = h.to_str().map_err(|_| wrong())?.trim();
        let (scheme, rest) = v.split_once(' ').ok_or_else(wrong)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(wrong());
        }
        let decoded = b64_decode(rest.trim())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(wrong)?;
        let (user, _password) = decoded.split_once(':').ok_or_else(wrong)?;
        if user == self.api_key {
            Ok(user.to_owned())
        } else {
            Err(wrong())
        }
    }

    fn throttle(&self, key: &str) -> Result<(), ApiError> {
        if !self.limits_on.load(Ordering::SeqCst) {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: RATE_PER_SECOND,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * RATE_PER_SECOND)
            .min(RATE_PER_SECOND);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        let wait = ((1.0 - b.tokens) / RATE_PER_SECOND).ceil().max(1.0) as u64;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Rate limit exceeded: 10 requests per second per API key",
        );
        e.retry_after = Some(wait);
        Err(e)
    }

    /// One page of a paged list: `rows` are the records the body's filters select (any
    /// order); `filters` is their normal form, which cursors are bound to.
    fn page(
        &self,
        ep: Endpoint,
        body: &Body,
        mut rows: Vec<&Value>,
        filters: Value,
        render: &dyn Fn(&Value) -> Value,
    ) -> Result<Value, ApiError> {
        let limit = match body.get("limit") {
            None => MAX_LIMIT,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ApiError::input("limit must be an integer from 1 to 100"))?,
        } as usize;
        let fp = format!("{:016x}", fnv(&filters.to_string()));
        let (since, start, after) = match body.get("cursor") {
            Some(c) => {
                let c = c
                    .as_str()
                    .ok_or_else(|| ApiError::input("cursor must be a string"))?;
                let cur =
                    Cursor::decode(c).ok_or_else(|| ApiError::cursor("The cursor is invalid"))?;
                if cur.endpoint != ep.path() || cur.filters != fp {
                    return Err(ApiError::cursor(
                        "The cursor was issued for another endpoint or other filters",
                    ));
                }
                (cur.since, cur.start, Some((cur.created, cur.id)))
            }
            None => {
                let now = self.now_ms();
                let since = match body.get("syncToken") {
                    Some(t) if ep.incremental() => {
                        let t = t
                            .as_str()
                            .ok_or_else(|| ApiError::input("syncToken must be a string"))?;
                        let (path, issued) = token_decode(t)
                            .filter(|(p, _)| p == ep.path())
                            .ok_or_else(|| ApiError::input("The syncToken is invalid"))?;
                        debug_assert_eq!(path, ep.path());
                        if now - issued >= TOKEN_LIFETIME.as_millis() as i64 {
                            return Err(ApiError::new(
                                StatusCode::OK,
                                "sync_token_expired",
                                "The sync token has expired; start a full sync",
                            ));
                        }
                        Some(issued)
                    }
                    _ => None,
                };
                (since, now, None)
            }
        };
        if let Some(s) = since {
            rows.retain(|r| parse_iso_ms(changed_of(r)).is_none_or(|t| t > s));
        }
        let key = |r: &Value| {
            (
                created_of(r).to_owned(),
                r["id"].as_str().unwrap_or("").to_owned(),
            )
        };
        rows.sort_by_cached_key(|r| key(r));
        let from = match &after {
            Some((c, i)) => rows.partition_point(|r| {
                let (rc, ri) = key(r);
                (rc.as_str(), ri.as_str()) <= (c.as_str(), i.as_str())
            }),
            None => 0,
        };
        let rest = &rows[from..];
        let take = rest.len().min(limit);
        let more = rest.len() > limit;
        let mut out = json!({"success": true, "results": rest[..take].iter().map(|r| render(r)).collect::<Vec<_>>(),
            "moreDataAvailable": more});
        if more {
            let (created, id) = key(rest[take - 1]);
            out["nextCursor"] = json!(
                Cursor {
                    endpoint: ep.path().to_owned(),
                    filters: fp,
                    since,
                    start,
                    created,
                    id,
                }
                .encode()
            );
        } else if ep.incremental() {
            out["syncToken"] = json!(token_encode(ep, start));
        }
        Ok(out)
    }

    fn dispatch(&self, ep: Endpoint, b: &Body) -> Result<Value, ApiError> {
        let d = self.data();
        match ep {
            Endpoint::UserList => {
                let all = opt_bool(b, "includeDeactivated")?.unwrap_or(false);
                let rows = d
                    .users
                    .iter()
                    .filter(|u| all || u["isEnabled"] == true)
                    .collect();
                self.page(ep, b, rows, json!({"includeDeactivated": all}), &public)
            }
            Endpoint::DepartmentList
            | Endpoint::LocationList
            | Endpoint::InterviewPlanList
            | Endpoint::CandidateTagList
            | Endpoint::InterviewList => {
                let all = opt_bool(b, "includeArchived")?.unwrap_or(false);
                let rows = match ep {
                    Endpoint::DepartmentList => &d.departments,
                    Endpoint::LocationList => &d.locations,
                    Endpoint::InterviewPlanList => &d.interview_plans,
                    Endpoint::CandidateTagList => &d.candidate_tags,
                    _ => &d.interviews,
                };
                self.page(
                    ep,
                    b,
                    archived_filter(rows, all),
                    json!({"includeArchived": all}),
                    &public,
                )
            }
            Endpoint::ArchiveReasonList | Endpoint::SourceList => {
                let all = opt_bool(b, "includeArchived")?.unwrap_or(false);
                let rows = if ep == Endpoint::SourceList {
                    &d.sources
                } else {
                    &d.archive_reasons
                };
                let results: Vec<Value> =
                    archived_filter(rows, all).into_iter().map(public).collect();
                Ok(json!({"success": true, "results": results}))
            }
            Endpoint::JobList => {
                let statuses = opt_strs(b, "status", Some(JOB_STATUSES))?
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| vec!["Archived".into(), "Closed".into(), "Open".into()]);
                let unpublished = opt_bool(b, "includeUnpublishedJobPostingsIds")?.unwrap_or(false);
                let openings = expands(b, "openings")?;
                let mut postings: HashMap<&str, Vec<Value>> = HashMap::new();
                for p in &d.job_postings {
                    if unpublished || p["_published"] == true {
                        postings
                            .entry(p["jobId"].as_str().unwrap_or(""))
                            .or_default()
                            .push(p["id"].clone());
                    }
                }
                let rows = d
                    .jobs
                    .iter()
                    .filter(|j| statuses.iter().any(|s| j["status"] == s.as_str()))
                    .collect();
                let render = |j: &Value| {
                    let mut out = public(j);
                    out["jobPostingIds"] = json!(
                        postings
                            .get(j["id"].as_str().unwrap_or(""))
                            .cloned()
                            .unwrap_or_default()
                    );
                    if openings {
                        out["openings"] = j.get("_openings").cloned().unwrap_or(json!([]));
                    }
                    out
                };
                self.page(ep, b, rows, json!({"status": statuses}), &render)
            }
            Endpoint::JobInterviewPlanInfo => {
                let job_id = req_str(b, "jobId")?;
                let job = d
                    .jobs
                    .iter()
                    .find(|j| j["id"] == job_id)
                    .ok_or_else(|| ApiError::not_found(format!("No job {job_id}")))?;
                let plan = job["defaultInterviewPlanId"].clone();
                let stages: Vec<Value> = stages_of(&d, &plan)
                    .into_iter()
                    .map(|s| {
                        let interviews: Vec<Value> = s["_interviewIds"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|id| d.interviews.iter().find(|i| i["id"] == *id))
                            .map(public)
                            .collect();
                        let activities = if interviews.is_empty() {
                            json!([])
                        } else {
                            json!([{"id": s["_activityId"], "title": s["title"], "interviews": interviews}])
                        };
                        json!({"id": s["id"], "title": s["title"], "type": s["type"],
                            "orderInInterviewPlan": s["orderInInterviewPlan"],
                            "interviewStageGroupId": s["interviewStageGroupId"], "activities": activities})
                    })
                    .collect();
                Ok(
                    json!({"success": true, "results": {"jobId": job_id, "interviewPlanId": plan, "stages": stages}}),
                )
            }
            Endpoint::JobPostingList => {
                let listed_only = opt_bool(b, "listedOnly")?.unwrap_or(false);
                let results: Vec<Value> = d
                    .published_postings()
                    .into_iter()
                    .filter(|p| !listed_only || p["isListed"] == true)
                    .map(posting_summary)
                    .collect();
                Ok(json!({"success": true, "results": results}))
            }
            Endpoint::JobPostingInfo => {
                let id = req_str(b, "jobPostingId")?;
                d.published_postings()
                    .into_iter()
                    .find(|p| p["id"] == id)
                    .map(|p| json!({"success": true, "results": public(p)}))
                    .ok_or_else(|| ApiError::not_found(format!("No published job posting {id}")))
            }
            Endpoint::InterviewStageList => {
                let plan = json!(req_str(b, "interviewPlanId")?);
                let results: Vec<Value> = stages_of(&d, &plan).into_iter().map(public).collect();
                Ok(json!({"success": true, "results": results, "moreDataAvailable": false}))
            }
            Endpoint::CandidateList => {
                let after = opt_ms(b, "createdAfter")?;
                let rows = d
                    .candidates
                    .iter()
                    .filter(|r| created_after(r, after))
                    .collect();
                self.page(ep, b, rows, json!({"createdAfter": after}), &public)
            }
            Endpoint::ApplicationList => {
                let status = opt_enum(b, "status", APPLICATION_STATUSES)?;
                let job = opt_str(b, "jobId")?;
                let after = opt_ms(b, "createdAfter")?;
                let openings = expands(b, "openings")?;
                let rows = d
                    .applications
                    .iter()
                    .filter(|r| status.is_none_or(|s| r["status"] == s))
                    .filter(|r| job.is_none_or(|j| r["job"]["id"] == j))
                    .filter(|r| created_after(r, after))
                    .collect();
                let render = |r: &Value| {
                    let mut out = public(r);
                    if openings {
                        let job = d.jobs.iter().find(|j| j["id"] == r["job"]["id"]);
                        out["openings"] = match job.and_then(|j| j["_openings"].get(0)) {
                            Some(o) if r["status"] == "Hired" => json!([o]),
                            _ => json!([]),
                        };
                    }
                    out
                };
                self.page(
                    ep,
                    b,
                    rows,
                    json!({"status": status, "jobId": job, "createdAfter": after}),
                    &render,
                )
            }
            Endpoint::ApplicationListHistory => {
                let app = req_str(b, "applicationId")?;
                let rows = d
                    .application_history
                    .iter()
                    .filter(|h| h["_applicationId"] == app)
                    .collect();
                self.page(ep, b, rows, json!({"applicationId": app}), &public)
            }
            Endpoint::InterviewScheduleList => {
                let app = opt_str(b, "applicationId")?;
                let stage = opt_str(b, "interviewStageId")?;
                let after = opt_ms(b, "createdAfter")?;
                let rows = d
                    .interview_schedules
                    .iter()
                    .filter(|s| app.is_none_or(|a| s["applicationId"] == a))
                    .filter(|s| stage.is_none_or(|x| s["interviewStageId"] == x))
                    .filter(|s| created_after(s, after))
                    .collect();
                self.page(
                    ep,
                    b,
                    rows,
                    json!({"applicationId": app, "interviewStageId": stage, "createdAfter": after}),
                    &public,
                )
            }
            Endpoint::InterviewEventList => {
                let sched = req_str(b, "interviewScheduleId")?;
                let with_interview = expands(b, "interview")?;
                let rows = d
                    .interview_schedules
                    .iter()
                    .filter(|s| s["id"] == sched)
                    .flat_map(|s| s["interviewEvents"].as_array().into_iter().flatten())
                    .collect();
                let render = |e: &Value| {
                    let mut out = public(e);
                    if with_interview {
                        out["interview"] = d
                            .interviews
                            .iter()
                            .find(|i| i["id"] == e["interviewId"])
                            .map(public)
                            .unwrap_or(Value::Null);
                    }
                    out
                };
                self.page(ep, b, rows, json!({"interviewScheduleId": sched}), &render)
            }
            Endpoint::OfferList => {
                let offer_status = opt_strs(b, "offerStatus", Some(OFFER_STATUSES))?;
                let acceptance = opt_strs(b, "acceptanceStatus", Some(ACCEPTANCE_STATUSES))?;
                let app = opt_str(b, "applicationId")?;
                let after = opt_ms(b, "createdAfter")?;
                let any = |set: &Option<Vec<String>>, v: &Value| {
                    set.as_ref()
                        .is_none_or(|s| s.is_empty() || s.iter().any(|x| v == x.as_str()))
                };
                let rows = d
                    .offers
                    .iter()
                    .filter(|o| any(&offer_status, &o["offerStatus"]))
                    .filter(|o| any(&acceptance, &o["acceptanceStatus"]))
                    .filter(|o| app.is_none_or(|a| o["applicationId"] == a))
                    .filter(|o| created_after(o, after))
                    .collect();
                self.page(
                    ep,
                    b,
                    rows,
                    json!({"offerStatus": offer_status, "acceptanceStatus": acceptance,
                    "applicationId": app, "createdAfter": after}),
                    &public,
                )
            }
        }
    }
}

/// The rows not archived, or all of them.
fn archived_filter(rows: &[Value], all: bool) -> Vec<&Value> {
    rows.iter()
        .filter(|r| all || r["isArchived"] != true)
        .collect()
}

/// The stages of a plan, in `orderInInterviewPlan` order.
fn stages_of<'a>(d: &'a Dataset, plan: &Value) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = d
        .interview_stages
        .iter()
        .filter(|s| s["interviewPlanId"] == *plan)
        .collect();
    v.sort_by_key(|s| s["orderInInterviewPlan"].as_u64());
    v
}

/// The `jobPosting.list` shape of a posting.
fn posting_summary(p: &Value) -> Value {
    const KEYS: &[&str] = &[
        "id",
        "title",
        "jobId",
        "departmentName",
        "teamName",
        "locationName",
        "locationIds",
        "workplaceType",
        "employmentType",
        "isListed",
        "publishedDate",
        "applicationDeadline",
        "externalLink",
        "applyLink",
        "compensationTierSummary",
        "shouldDisplayCompensationOnJobBoard",
        "updatedAt",
    ];
    Value::Object(
        KEYS.iter()
            .map(|k| ((*k).to_owned(), p.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

/// The JSON object of a request: `{}` for an empty body; else it must be a JSON object sent
/// as `application/json` (decision 3).
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Body, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(ApiError::input(
            "Request bodies must be JSON objects sent with Content-Type: application/json",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::input("The request body must be a JSON object")),
        Err(e) => Err(ApiError::input(format!(
            "Request payload is malformed: {e}"
        ))),
    }
}

fn delete_in(d: &mut Dataset, resource: &str, id: &str, gone: &mut Vec<(String, String)>) {
    let mut note = |r: &str, id: &str| gone.push((r.to_owned(), id.to_owned()));
    if resource == "interviewEvent" {
        for s in d.interview_schedules.iter_mut() {
            if let Some(evs) = s["interviewEvents"].as_array_mut() {
                let before = evs.len();
                evs.retain(|e| e["id"] != id);
                if evs.len() != before {
                    note("interviewEvent", id);
                }
            }
        }
        return;
    }
    let Some(rows) = d.rows_mut(resource) else {
        return;
    };
    let Some(pos) = rows.iter().position(|r| r["id"] == id) else {
        return;
    };
    let removed = rows.remove(pos);
    note(resource, id);
    let ids_where = |rows: &[Value], f: &dyn Fn(&Value) -> bool| -> Vec<String> {
        rows.iter()
            .filter(|r| f(r))
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    };
    let children: Vec<(&str, Vec<String>)> = match resource {
        "candidate" => vec![(
            "application",
            ids_where(&d.applications, &|a| a["candidate"]["id"] == id),
        )],
        "job" => vec![
            (
                "jobPosting",
                ids_where(&d.job_postings, &|p| p["jobId"] == id),
            ),
            (
                "application",
                ids_where(&d.applications, &|a| a["job"]["id"] == id),
            ),
        ],
        "application" => {
            let cand = removed["candidate"]["id"].clone();
            if let Some(c) = d.candidates.iter_mut().find(|c| c["id"] == cand)
                && let Some(list) = c["applicationIds"].as_array_mut()
            {
                list.retain(|x| x != id);
            }
            vec![
                (
                    "applicationHistory",
                    ids_where(&d.application_history, &|h| h["_applicationId"] == id),
                ),
                (
                    "interviewSchedule",
                    ids_where(&d.interview_schedules, &|s| s["applicationId"] == id),
                ),
                ("offer", ids_where(&d.offers, &|o| o["applicationId"] == id)),
            ]
        }
        "interviewPlan" => vec![(
            "interviewStage",
            ids_where(&d.interview_stages, &|s| s["interviewPlanId"] == id),
        )],
        "interviewSchedule" => {
            for e in removed["interviewEvents"].as_array().into_iter().flatten() {
                if let Some(eid) = e["id"].as_str() {
                    note("interviewEvent", eid);
                }
            }
            vec![]
        }
        _ => vec![],
    };
    for (r, ids) in children {
        for cid in ids {
            delete_in(d, r, &cid, gone);
        }
    }
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
    limits_on: bool,
    port: u16,
) -> std::io::Result<Running> {
    let sim = Arc::new(Sim::new(size, api_key, limits_on));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// The routes: one handler for every path and method (404, 405 and the endpoints).
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let a = sim.answer(&method, uri.path(), &headers, &body);
    let mut r = (a.status, Json(a.body)).into_response();
    for (k, v) in a.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ashby-test-key";

    fn basic(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {}", b64_encode(user_pass.as_bytes()))).unwrap(),
        );
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h
    }

    fn sim(size: Size) -> Sim {
        Sim::new(size, KEY, false)
    }

    /// POST `body` to `path` with the right key; the answer must be HTTP 200.
    fn call(s: &Sim, path: &str, body: Value) -> Value {
        let a = s.answer(
            &Method::POST,
            path,
            &basic(&format!("{KEY}:")),
            body.to_string().as_bytes(),
        );
        assert_eq!(a.status, StatusCode::OK, "{path} {body} → {}", a.body);
        a.body
    }

    fn error_code(v: &Value) -> &str {
        assert_eq!(v["success"], false, "{v}");
        assert_eq!(v["errors"][0], v["errorInfo"]["code"]);
        assert_eq!(v["errorInfo"]["requestId"].as_str().unwrap().len(), 26);
        assert!(
            v["errorInfo"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        v["errorInfo"]["code"].as_str().unwrap()
    }

    /// Every page of a walk; the body of the first request is `body`, later ones add `cursor`.
    fn walk(s: &Sim, path: &str, body: Value) -> Vec<Value> {
        let mut pages = vec![];
        let mut b = body.clone();
        loop {
            let p = call(s, path, b.clone());
            assert_eq!(p["success"], true, "{p}");
            let more = p["moreDataAvailable"].as_bool().unwrap();
            assert_eq!(
                p.get("nextCursor").is_some(),
                more,
                "nextCursor iff moreDataAvailable"
            );
            let next = p.get("nextCursor").cloned();
            pages.push(p);
            match next {
                Some(c) => {
                    b = body.clone();
                    b["cursor"] = c;
                }
                None => return pages,
            }
        }
    }

    fn ids(pages: &[Value]) -> Vec<String> {
        pages
            .iter()
            .flat_map(|p| p["results"].as_array().unwrap().iter())
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn full_dataset_sizes_references_and_variety() {
        let d = dataset(Size::Full);
        assert_eq!(d.jobs.len(), 112);
        assert!(d.jobs.iter().filter(|j| j["status"] != "Draft").count() > 100);
        assert_eq!(d.candidates.len(), 600);
        assert_eq!(d.applications.len(), 1000, "ten exactly full pages");
        assert!(d.users.iter().filter(|u| u["isEnabled"] == true).count() > 100);
        assert!(d.interview_schedules.len() > 100 && d.offers.len() > 100);
        assert!(d.users.iter().any(|u| u["isEnabled"] == false));
        // references resolve
        let all_ids = |rows: &[Value]| {
            rows.iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect::<HashSet<_>>()
        };
        let (cands, jobs, apps, stages) = (
            all_ids(&d.candidates),
            all_ids(&d.jobs),
            all_ids(&d.applications),
            all_ids(&d.interview_stages),
        );
        let ivs = all_ids(&d.interviews);
        for a in &d.applications {
            assert!(cands.contains(a["candidate"]["id"].as_str().unwrap()));
            assert!(jobs.contains(a["job"]["id"].as_str().unwrap()));
            assert!(stages.contains(a["currentInterviewStage"]["id"].as_str().unwrap()));
            let ty = &a["currentInterviewStage"]["type"];
            match a["status"].as_str().unwrap() {
                "Hired" => assert_eq!(ty, "Hired"),
                "Archived" => {
                    assert_eq!(ty, "Archived");
                    assert!(a["archiveReason"]["text"].is_string() && a["archivedAt"].is_string());
                }
                "Lead" => assert_eq!(ty, "Lead"),
                _ => assert!(a["archiveReason"].is_null()),
            }
        }
        let app_ids: usize = d
            .candidates
            .iter()
            .map(|c| c["applicationIds"].as_array().unwrap().len())
            .sum();
        assert_eq!(app_ids, 1000);
        for s in &d.interview_schedules {
            assert!(apps.contains(s["applicationId"].as_str().unwrap()));
            for e in s["interviewEvents"].as_array().unwrap() {
                assert!(ivs.contains(e["interviewId"].as_str().unwrap()));
                assert!(e.get("interview").is_none());
            }
        }
        for o in &d.offers {
            assert!(apps.contains(o["applicationId"].as_str().unwrap()));
        }
        // ids unique across the whole dataset, and UUID-shaped
        let mut seen = HashSet::new();
        for r in RESOURCES
            .iter()
            .filter_map(|r| d.rows(r))
            .flatten()
            .chain(d.events())
        {
            let id = r["id"].as_str().unwrap();
            assert_eq!(id.len(), 36, "{id}");
            assert!(seen.insert(id.to_owned()), "duplicate {id}");
        }
        // variety
        let statuses: HashSet<&str> = d
            .offers
            .iter()
            .map(|o| o["offerStatus"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.len(), OFFER_STATUSES.len(), "{statuses:?}");
        assert!(
            d.events()
                .iter()
                .any(|e| e["interviewerUserIds"].as_array().unwrap().len() >= 3)
        );
        assert!(
            d.interview_schedules
                .iter()
                .any(|s| s["interviewEvents"].as_array().unwrap().is_empty())
        );
        assert!(
            d.interview_schedules
                .iter()
                .any(|s| s["status"] == "Cancelled")
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["emailAddresses"].as_array().unwrap().is_empty()
                    && c["primaryEmailAddress"].is_null())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["emailAddresses"].as_array().unwrap().len() >= 3)
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["phoneNumbers"].as_array().unwrap().len() >= 2)
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["phoneNumbers"].as_array().unwrap().is_empty())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| !c["name"].as_str().unwrap().is_ascii())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| !c["name"].as_str().unwrap().contains(' '))
        );
        assert!(d.candidates.iter().any(|c| {
            c["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["isArchived"] == true)
        }));
        assert!(
            d.candidates
                .iter()
                .any(|c| c["applicationIds"].as_array().unwrap().is_empty())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["customFields"].as_array().unwrap().len() >= 2)
        );
        assert!(d.jobs.iter().any(|j| j["confidential"] == true));
        assert!(d.jobs.iter().any(|j| j["location"].is_null()));
        let reasons: HashSet<&str> = d
            .applications
            .iter()
            .filter_map(|a| a["archiveReason"]["reasonType"].as_str())
            .collect();
        assert_eq!(reasons.len(), 3);
        let types: HashSet<&str> = d
            .job_postings
            .iter()
            .flat_map(|p| {
                p["applicationFormDefinition"]["sections"]
                    .as_array()
                    .unwrap()
                    .iter()
            })
            .flat_map(|s| s["fields"].as_array().unwrap().iter())
            .map(|f| f["field"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(types.len(), 11, "{types:?}");
        // postings: a tie on updatedAt, and an unpublished posting newer than the published ones
        assert!(d.jobs.iter().any(|j| {
            let p: Vec<&Value> = d
                .published_postings()
                .into_iter()
                .filter(|p| p["jobId"] == j["id"])
                .collect();
            p.len() == 2 && p[0]["updatedAt"] == p[1]["updatedAt"]
        }));
        assert!(d.job_postings.iter().any(|p| {
            p["_published"] == false
                && p["updatedAt"].as_str()
                    > d.posting_of_job(p["jobId"].as_str().unwrap())
                        .map(|q| q["updatedAt"].as_str().unwrap())
        }));
        // every generated time is before the simulated "now"
        let start = iso_ms(EPOCH_2023_MS + START_SECS as i64 * 1000);
        for r in RESOURCES
            .iter()
            .filter_map(|r| d.rows(r))
            .flatten()
            .chain(d.events())
        {
            assert!(
                changed_of(r) < start.as_str() && created_of(r) < start.as_str(),
                "{r}"
            );
        }
        // deterministic
        assert_eq!(
            format!("{:?}", dataset(Size::Full).applications),
            format!("{:?}", d.applications)
        );
    }

    #[test]
    fn small_dataset_has_each_kind() {
        let d = dataset(Size::Small);
        assert_eq!(
            (
                d.users.len(),
                d.jobs.len(),
                d.candidates.len(),
                d.applications.len()
            ),
            (5, 4, 6, 7)
        );
        let st: HashSet<&str> = d
            .applications
            .iter()
            .map(|a| a["status"].as_str().unwrap())
            .collect();
        assert_eq!(st.len(), 4, "{st:?}");
        assert!(!d.offers.is_empty() && !d.interview_schedules.is_empty());
        assert!(
            d.jobs.iter().any(|j| j["status"] == "Draft")
                && d.jobs.iter().any(|j| j["confidential"] == true)
        );
    }

    #[test]
    fn walks_every_page_once_in_stable_order() {
        let s = sim(Size::Full);
        let pages = walk(&s, "/candidate.list", json!({}));
        assert_eq!(pages.len(), 6);
        let got = ids(&pages);
        assert_eq!(got.len(), 600);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 600);
        let d = s.data();
        let mut want: Vec<&Value> = d.candidates.iter().collect();
        want.sort_by_key(|c| {
            (
                created_of(c).to_owned(),
                c["id"].as_str().unwrap().to_owned(),
            )
        });
        assert_eq!(
            got,
            want.iter()
                .map(|c| c["id"].as_str().unwrap())
                .collect::<Vec<_>>()
        );
        drop(d);
        // only the last page carries a sync token
        for (i, p) in pages.iter().enumerate() {
            assert_eq!(p.get("syncToken").is_some(), i == pages.len() - 1);
        }
        // 1,000 applications: ten full pages, the last one says there is no more
        let pages = walk(&s, "/application.list", json!({"limit": 100}));
        assert_eq!(pages.len(), 10);
        assert!(
            pages
                .iter()
                .all(|p| p["results"].as_array().unwrap().len() == 100)
        );
        assert_eq!(pages[9]["moreDataAvailable"], false);
        // the limit may change between pages; small pages cover the same records
        let small = walk(&s, "/application.list", json!({"limit": 7}));
        assert_eq!(ids(&small), ids(&pages));
        // a non-paged list and a per-parent stage list
        let p = call(&s, "/jobPosting.list", json!({}));
        assert!(p.get("moreDataAvailable").is_none() && p.get("syncToken").is_none());
        let plan = s.data().interview_plans[0]["id"].clone();
        let st = call(&s, "/interviewStage.list", json!({"interviewPlanId": plan}));
        assert_eq!(st["moreDataAvailable"], false);
        assert!(st.get("syncToken").is_none() && st.get("nextCursor").is_none());
        let orders: Vec<u64> = st["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["orderInInterviewPlan"].as_u64().unwrap())
            .collect();
        assert_eq!(orders, (0..orders.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn cursors_are_bound_to_their_filters_and_limits_checked() {
        let s = sim(Size::Full);
        let first = call(
            &s,
            "/user.list",
            json!({"includeDeactivated": true, "limit": 10}),
        );
        let cursor = first["nextCursor"].clone();
        // same filters (defaults spelled out or not): fine
        let ok = call(
            &s,
            "/user.list",
            json!({"includeDeactivated": true, "limit": 10, "cursor": cursor}),
        );
        assert_eq!(ok["success"], true);
        let j = call(&s, "/job.list", json!({"limit": 5}));
        let ok = call(
            &s,
            "/job.list",
            json!({"limit": 5, "status": ["Open", "Archived", "Closed"], "cursor": j["nextCursor"]}),
        );
        assert_eq!(ok["success"], true);
        // other filters, another endpoint, garbled
        let other = call(&s, "/user.list", json!({"limit": 10, "cursor": cursor}));
        assert_eq!(error_code(&other), "invalid_cursor");
        let foreign = call(&s, "/candidate.list", json!({"cursor": cursor}));
        assert_eq!(error_code(&foreign), "invalid_cursor");
        let mut bad = cursor.as_str().unwrap().to_owned();
        bad.insert(5, 'x');
        assert_eq!(
            error_code(&call(
                &s,
                "/user.list",
                json!({"includeDeactivated": true, "cursor": bad})
            )),
            "invalid_cursor"
        );
        assert_eq!(
            error_code(&call(&s, "/user.list", json!({"cursor": "not a cursor!"}))),
            "invalid_cursor"
        );
        for limit in [
            json!(0),
            json!(101),
            json!("10"),
            json!(2.5),
            json!(-1),
            Value::Null,
        ] {
            assert_eq!(
                error_code(&call(&s, "/user.list", json!({"limit": limit}))),
                "invalid_input",
                "{limit}"
            );
        }
        assert_eq!(
            error_code(&call(&s, "/user.list", json!({"cursor": null}))),
            "invalid_input"
        );
        assert_eq!(
            call(&s, "/user.list", json!({"limit": 100}))["results"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn sync_tokens_list_changes_since_the_walk_began_and_expire() {
        let s = sim(Size::Full);
        // a full walk; a record changes after its first page: the next incremental sees it
        let p1 = call(&s, "/candidate.list", json!({}));
        let changed = p1["results"][0]["id"].as_str().unwrap().to_owned();
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.touch("candidate", &changed));
        let rest = walk(&s, "/candidate.list", json!({"cursor": p1["nextCursor"]}));
        let token = rest.last().unwrap()["syncToken"].clone();
        assert!(token.is_string());
        let inc = walk(&s, "/candidate.list", json!({"syncToken": token}));
        assert_eq!(ids(&inc), vec![changed.clone()]);
        let token2 = inc.last().unwrap()["syncToken"].clone();
        assert_ne!(token2, token);
        // nothing changed since: empty, with a new token
        let none = call(&s, "/candidate.list", json!({"syncToken": token2}));
        assert_eq!(none["results"], json!([]));
        assert_eq!(none["moreDataAvailable"], false);
        assert!(none["syncToken"].is_string());
        // records without updatedAt (offers) change through _updatedAt
        let t = walk(&s, "/offer.list", json!({})).last().unwrap()["syncToken"].clone();
        std::thread::sleep(Duration::from_millis(5));
        let offers: Vec<String> = s
            .data()
            .offers
            .iter()
            .take(150)
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        for o in &offers {
            s.touch("offer", o);
        }
        // incremental walks page, and their cursors keep the filter (a cursor beats a token)
        let inc = walk(&s, "/offer.list", json!({"syncToken": t, "limit": 100}));
        assert_eq!(inc.len(), 2);
        assert_eq!(
            ids(&inc).into_iter().collect::<HashSet<_>>(),
            offers.iter().cloned().collect()
        );
        let again = call(
            &s,
            "/offer.list",
            json!({"limit": 100, "syncToken": "garbage", "cursor": inc[0]["nextCursor"]}),
        );
        assert_eq!(again["results"].as_array().unwrap().len(), 50);
        // garbled, foreign, expired
        assert_eq!(
            error_code(&call(&s, "/offer.list", json!({"syncToken": "garbage"}))),
            "invalid_input"
        );
        assert_eq!(
            error_code(&call(&s, "/application.list", json!({"syncToken": t}))),
            "invalid_input"
        );
        assert_eq!(
            error_code(&call(&s, "/offer.list", json!({"syncToken": 5}))),
            "invalid_input"
        );
        s.advance(TOKEN_LIFETIME - Duration::from_secs(60));
        assert_eq!(
            call(
                &s,
                "/candidate.list",
                json!({"syncToken": none["syncToken"]})
            )["success"],
            true
        );
        s.advance(Duration::from_secs(120));
        assert_eq!(
            error_code(&call(
                &s,
                "/candidate.list",
                json!({"syncToken": none["syncToken"]})
            )),
            "sync_token_expired"
        );
        // endpoints without tokens ignore one and never issue one
        let app = s.data().applications[0]["id"].clone();
        let h = call(
            &s,
            "/application.listHistory",
            json!({"applicationId": app, "syncToken": "whatever"}),
        );
        assert_eq!(h["success"], true);
        assert!(h.get("syncToken").is_none() && !h["results"].as_array().unwrap().is_empty());
    }

    #[test]
    fn auth_methods_paths_and_bodies() {
        let s = sim(Size::Small);
        let post = |h: &HeaderMap, body: &[u8]| s.answer(&Method::POST, "/user.list", h, body);
        let none = post(&HeaderMap::new(), b"");
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&none.body), "unauthenticated");
        for h in [basic("wrong:"), basic(KEY), {
            let mut h = HeaderMap::new();
            h.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap(),
            );
            h
        }] {
            let a = post(&h, b"{}");
            assert_eq!(a.status, StatusCode::FORBIDDEN);
            assert_eq!(error_code(&a.body), "invalid_api_key");
        }
        assert_eq!(
            post(&basic(&format!("{KEY}:any-password")), b"{}").status,
            StatusCode::OK
        );
        let get = s.answer(&Method::GET, "/user.list", &basic(&format!("{KEY}:")), b"");
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(error_code(&get.body), "method_not_allowed");
        assert!(get.headers.contains(&("allow", "POST".into())));
        let missing = s.answer(
            &Method::POST,
            "/candidate.search2",
            &basic(&format!("{KEY}:")),
            b"{}",
        );
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(error_code(&missing.body), "not_found");
        // bodies: empty is {}, else a JSON object sent as application/json
        let auth = basic(&format!("{KEY}:"));
        assert_eq!(post(&auth, b"").body["success"], true);
        for bad in [&b"{not json"[..], b"[1,2]", b"\"x\""] {
            let a = post(&auth, bad);
            assert_eq!(a.status, StatusCode::OK);
            assert_eq!(error_code(&a.body), "invalid_input");
        }
        let mut no_type = auth.clone();
        no_type.remove("content-type");
        assert_eq!(error_code(&post(&no_type, b"{}").body), "invalid_input");
        assert_eq!(post(&no_type, b"").body["success"], true);
        let mut charset = auth.clone();
        charset.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(
            post(&charset, b"{\"unknownMember\": 1}").body["success"],
            true
        );
        // the log keeps every request, and its answer
        let log = s.log();
        assert_eq!(log.len() as u64, s.requests.load(Ordering::Relaxed));
        assert_eq!(log[0].status, 401);
        assert_eq!(log.last().unwrap().json(), json!({"unknownMember": 1}));
        assert_eq!(s.requests_to("/user.list"), log.len() - 1);
    }

    #[test]
    fn defaults_parents_and_info_endpoints() {
        let s = sim(Size::Full);
        let d = s.data().clone();
        let n = |path: &str, body: Value| ids(&walk(&s, path, body)).len();
        assert_eq!(
            n("/user.list", json!({})),
            d.users.iter().filter(|u| u["isEnabled"] == true).count()
        );
        assert_eq!(
            n("/user.list", json!({"includeDeactivated": true})),
            d.users.len()
        );
        assert_eq!(
            n("/job.list", json!({})),
            d.jobs.iter().filter(|j| j["status"] != "Draft").count()
        );
        assert_eq!(
            n(
                "/job.list",
                json!({"status": ["Draft", "Open", "Closed", "Archived"]})
            ),
            d.jobs.len()
        );
        assert_eq!(n("/job.list", json!({"status": ["Draft"]})), 6);
        assert_eq!(
            error_code(&call(&s, "/job.list", json!({"status": ["Paused"]}))),
            "invalid_input"
        );
        for (path, rows) in [
            ("/department.list", &d.departments),
            ("/location.list", &d.locations),
            ("/candidateTag.list", &d.candidate_tags),
            ("/interview.list", &d.interviews),
            ("/interviewPlan.list", &d.interview_plans),
        ] {
            assert!(n(path, json!({})) < rows.len(), "{path}");
            assert_eq!(
                n(path, json!({"includeArchived": true})),
                rows.len(),
                "{path}"
            );
        }
        for (path, rows) in [
            ("/source.list", &d.sources),
            ("/archiveReason.list", &d.archive_reasons),
        ] {
            assert!(
                call(&s, path, json!({}))["results"]
                    .as_array()
                    .unwrap()
                    .len()
                    < rows.len()
            );
            assert_eq!(
                call(&s, path, json!({"includeArchived": true}))["results"]
                    .as_array()
                    .unwrap()
                    .len(),
                rows.len()
            );
        }
        // job postings: listed and unlisted published ones
        let all = call(&s, "/jobPosting.list", json!({}))["results"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(all, d.published_postings().len());
        assert!(
            call(&s, "/jobPosting.list", json!({"listedOnly": true}))["results"]
                .as_array()
                .unwrap()
                .len()
                < all
        );
        // jobPostingIds: published only, unless asked
        let job = d
            .jobs
            .iter()
            .find(|j| {
                d.job_postings
                    .iter()
                    .any(|p| p["jobId"] == j["id"] && p["_published"] == false)
                    && j["status"] == "Open"
            })
            .unwrap();
        let listed = |body: Value| ids(&walk(&s, "/job.list", body)).len();
        assert_eq!(
            listed(json!({"includeUnpublishedJobPostingsIds": true})),
            listed(json!({}))
        );
        let page = walk(
            &s,
            "/job.list",
            json!({"includeUnpublishedJobPostingsIds": true, "expand": ["openings"]}),
        );
        let served = page
            .iter()
            .flat_map(|p| p["results"].as_array().unwrap().iter())
            .find(|j| j["id"] == job["id"])
            .unwrap();
        assert_eq!(
            served["jobPostingIds"].as_array().unwrap().len(),
            d.job_postings
                .iter()
                .filter(|p| p["jobId"] == job["id"])
                .count()
        );
        assert!(served["openings"].is_array() && served.get("_openings").is_none());
        // info endpoints: required ids, unknown ids
        assert_eq!(
            error_code(&call(&s, "/jobPosting.info", json!({}))),
            "invalid_input"
        );
        assert_eq!(
            error_code(&call(&s, "/jobPosting.info", json!({"jobPostingId": 7}))),
            "invalid_input"
        );
        assert_eq!(
            error_code(&call(
                &s,
                "/jobPosting.info",
                json!({"jobPostingId": "00000000-0000-4000-8000-000000000000"})
            )),
            "not_found"
        );
        let unpublished = d
            .job_postings
            .iter()
            .find(|p| p["_published"] == false)
            .unwrap();
        assert_eq!(
            error_code(&call(
                &s,
                "/jobPosting.info",
                json!({"jobPostingId": unpublished["id"]})
            )),
            "not_found"
        );
        let posting = d.published_postings()[0].clone();
        let info = call(
            &s,
            "/jobPosting.info",
            json!({"jobPostingId": posting["id"]}),
        );
        assert!(
            info["results"]["descriptionHtml"].is_string()
                && info["results"].get("_published").is_none()
        );
        assert!(info["results"]["applicationFormDefinition"]["sections"].is_array());
        let plan = call(
            &s,
            "/jobInterviewPlan.info",
            json!({"jobId": d.jobs[0]["id"]}),
        );
        assert_eq!(
            plan["results"]["interviewPlanId"],
            d.jobs[0]["defaultInterviewPlanId"]
        );
        assert!(
            plan["results"]["stages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| !s["activities"].as_array().unwrap().is_empty())
        );
        assert_eq!(
            error_code(&call(
                &s,
                "/jobInterviewPlan.info",
                json!({"jobId": "nope"})
            )),
            "not_found"
        );
        for (path, member) in [
            ("/interviewStage.list", "interviewPlanId"),
            ("/interviewEvent.list", "interviewScheduleId"),
            ("/application.listHistory", "applicationId"),
        ] {
            assert_eq!(
                error_code(&call(&s, path, json!({}))),
                "invalid_input",
                "{path}"
            );
            let empty = call(&s, path, json!({member: "unknown"}));
            assert_eq!(
                (empty["results"].clone(), empty["moreDataAvailable"].clone()),
                (json!([]), json!(false)),
                "{path}"
            );
        }
        // events: interview object only with expand
        let sched = d
            .interview_schedules
            .iter()
            .find(|s| !s["interviewEvents"].as_array().unwrap().is_empty())
            .unwrap();
        let plain = call(
            &s,
            "/interviewEvent.list",
            json!({"interviewScheduleId": sched["id"]}),
        );
        assert!(plain["results"][0].get("interview").is_none() && plain["syncToken"].is_string());
        let exp = call(
            &s,
            "/interviewEvent.list",
            json!({"interviewScheduleId": sched["id"], "expand": ["interview"]}),
        );
        assert_eq!(
            exp["results"][0]["interview"]["id"],
            exp["results"][0]["interviewId"]
        );
        // filters
        let hired = n("/application.list", json!({"status": "Hired"}));
        assert_eq!(
            hired,
            d.applications
                .iter()
                .filter(|a| a["status"] == "Hired")
                .count()
        );
        assert_eq!(
            error_code(&call(
                &s,
                "/application.list",
                json!({"status": "Rejected"})
            )),
            "invalid_input"
        );
        let cut = parse_iso_ms(created_of(&d.candidates[300])).unwrap();
        assert_eq!(n("/candidate.list", json!({"createdAfter": cut})), 299);
        let accepted = n("/offer.list", json!({"acceptanceStatus": ["Accepted"]}));
        assert_eq!(
            accepted,
            d.offers
                .iter()
                .filter(|o| o["acceptanceStatus"] == "Accepted")
                .count()
        );
    }

    #[test]
    fn injected_failures_rate_limit_and_deletions() {
        let s = sim(Size::Full);
        s.inject_failure("/application.list", "internal_error", 2);
        let p1 = call(&s, "/application.list", json!({}));
        let p2 = call(&s, "/application.list", json!({"cursor": p1["nextCursor"]}));
        let p3 = call(&s, "/application.list", json!({"cursor": p2["nextCursor"]}));
        assert_eq!(error_code(&p3), "internal_error");
        assert_eq!(
            s.log().last().unwrap().error.as_deref(),
            Some("internal_error")
        );
        assert_eq!(call(&s, "/candidate.list", json!({}))["success"], true);
        s.clear_failures();
        assert_eq!(
            call(&s, "/application.list", json!({"cursor": p2["nextCursor"]}))["success"],
            true
        );

        // rate limit: a burst of 10, then 429 with Retry-After; off means off
        s.set_limits(true);
        let auth = basic(&format!("{KEY}:"));
        let answers: Vec<Answer> = (0..11)
            .map(|_| s.answer(&Method::POST, "/source.list", &auth, b""))
            .collect();
        assert!(answers[..10].iter().all(|a| a.status == StatusCode::OK));
        assert_eq!(answers[10].status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(error_code(&answers[10].body), "rate_limit_exceeded");
        assert!(
            answers[10]
                .headers
                .iter()
                .any(|(k, v)| *k == "retry-after" && v == "1")
        );
        assert_eq!(s.rate_limited.load(Ordering::Relaxed), 1);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(
            s.answer(&Method::POST, "/source.list", &auth, b"").status,
            StatusCode::OK
        );
        s.set_limits(false);
        assert!(
            (0..30).all(
                |_| s.answer(&Method::POST, "/source.list", &auth, b"").status == StatusCode::OK
            )
        );

        // a candidate deleted at Ashby takes its applications (and theirs) with it
        let cand = s
            .data()
            .candidates
            .iter()
            .find(|c| c["applicationIds"].as_array().unwrap().len() >= 3)
            .unwrap()
            .clone();
        let gone = s.delete("candidate", cand["id"].as_str().unwrap());
        let apps: Vec<&(String, String)> =
            gone.iter().filter(|(r, _)| r == "application").collect();
        assert_eq!(apps.len(), cand["applicationIds"].as_array().unwrap().len());
        assert!(gone.iter().any(|(r, _)| r == "applicationHistory"));
        assert_eq!(ids(&walk(&s, "/candidate.list", json!({}))).len(), 599);
        assert_eq!(
            ids(&walk(&s, "/application.list", json!({}))).len(),
            1000 - apps.len()
        );
        assert!(
            s.delete("candidate", cand["id"].as_str().unwrap())
                .is_empty()
        );
        // an application deleted alone leaves its candidate, without the id
        let app = s.data().applications[0].clone();
        s.delete("application", app["id"].as_str().unwrap());
        let d = s.data();
        let c = d
            .candidates
            .iter()
            .find(|c| c["id"] == app["candidate"]["id"])
            .unwrap();
        assert!(!c["applicationIds"].as_array().unwrap().contains(&app["id"]));
    }

    #[tokio::test]
    async fn serves_over_http() {
        let r = start(Size::Small, KEY, true, 0).await.unwrap();
        let addr = r.addr;
        let send = |req: String| async move {
            tokio::task::spawn_blocking(move || {
                use std::io::{Read, Write};
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(req.as_bytes()).unwrap();
                let mut out = String::new();
                c.read_to_string(&mut out).unwrap();
                out
            })
            .await
            .unwrap()
        };
        let auth = b64_encode(format!("{KEY}:").as_bytes());
        let body = r#"{"limit": 2}"#;
        let ok = send(format!("POST /candidate.list?ignored=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())).await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        let json: Value = serde_json::from_str(ok.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(json["results"].as_array().unwrap().len(), 2);
        assert_eq!(json["moreDataAvailable"], true);
        let empty = send(format!("POST /source.list HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")).await;
        assert!(
            empty.starts_with("HTTP/1.1 200") && empty.contains("\"success\":true"),
            "{empty}"
        );
        let get =
            send("GET /candidate.list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into())
                .await;
        assert!(
            get.starts_with("HTTP/1.1 405") && get.to_lowercase().contains("allow: post"),
            "{get}"
        );
        let log = r.sim.log();
        assert_eq!(log[0].json(), json!({"limit": 2}));
        assert_eq!(log[0].content_type.as_deref(), Some("application/json"));
        assert_eq!((log[2].method.as_str(), log[2].status), ("GET", 405));
    }

    #[test]
    fn codecs_round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "héllo|wörld"] {
            assert_eq!(b64_decode(&b64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64_decode("a2V5Og==").unwrap(), b"key:");
        assert_eq!(
            parse_iso_ms("2023-01-01T00:00:00.000Z"),
            Some(EPOCH_2023_MS)
        );
        assert_eq!(
            parse_iso_ms(&iso_ms(EPOCH_2023_MS + 123_456_789)),
            Some(EPOCH_2023_MS + 123_456_789)
        );
        let t = token_encode(Endpoint::OfferList, 42);
        assert_eq!(token_decode(&t), Some(("/offer.list".into(), 42)));
    }
}
