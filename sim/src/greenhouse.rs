//! A Greenhouse Harvest v1 simulator: `/v1/...` exactly as `vendor-apis/greenhouse.md`
//! section 12 ("Decisions for this project") decides.
//!
//! Basic auth with the API key as user name (`401` otherwise); bare-array pages with
//! `per_page` (1..500, default 100) and `page` (`422` outside them); `Link` headers that
//! always name the production host, with `page` and `per_page` first (`next`, `prev`, and
//! `last` unless `skip_count=true`); ascending ids; the time filters with their
//! inclusivity (`422` on a malformed time); 50 requests per key in a rolling 10 s window
//! with `X-RateLimit-*` headers and `429` + `Retry-After` (switchable off); hard deletes
//! (job posts stay, with `active: false`). The dataset is generated deterministically.

use crate::{FIRST, LAST, Rng, date, ts};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The host every `Link` header names, whatever host the request was sent to (Decision 3).
pub const HOST: &str = "https://harvest.greenhouse.io";
/// Requests per key in one window (Decision 15).
pub const RATE_LIMIT: usize = 50;
/// The rolling window of the rate limit (Decision 15).
pub const WINDOW: Duration = Duration::from_secs(10);
/// The list paths under `/v1/` (section 4).
pub const RESOURCES: &[&str] = &[
    "users",
    "jobs",
    "job_posts",
    "job_stages",
    "candidates",
    "tags/candidate",
    "applications",
    "scheduled_interviews",
    "offers",
    "rejection_reasons",
];

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each, for snapshots (5 users, 5 jobs, 6 candidates, 10 applications).
    Small,
    /// A realistic tenant: 48 users, 60 jobs, 600 candidates, exactly 1,000 applications
    /// (two exactly full pages of 500).
    Full,
}

/// The records the simulator serves, per resource, each in ascending id order.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `/v1/users` (`custom_fields` and `keyed_custom_fields` only with `user_attributes=true`).
    pub users: Vec<Value>,
    /// `/v1/jobs`
    pub jobs: Vec<Value>,
    /// `/v1/job_posts`
    pub job_posts: Vec<Value>,
    /// `/v1/job_stages`
    pub job_stages: Vec<Value>,
    /// `/v1/candidates` (`application_ids` and `applications` are filled in when served,
    /// from [`Dataset::applications`]).
    pub candidates: Vec<Value>,
    /// `/v1/tags/candidate`
    pub tags: Vec<Value>,
    /// `/v1/applications`
    pub applications: Vec<Value>,
    /// `/v1/scheduled_interviews`
    pub scheduled_interviews: Vec<Value>,
    /// `/v1/offers`
    pub offers: Vec<Value>,
    /// `/v1/rejection_reasons`: the organization's custom reasons.
    pub rejection_reasons: Vec<Value>,
    /// Greenhouse's default reasons, listed too with `include_defaults=true`.
    pub default_rejection_reasons: Vec<Value>,
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_u64().unwrap_or(0)
}

impl Dataset {
    /// The stored records of a resource by its path under `/v1/` (`tags/candidate`, ...);
    /// `rejection_reasons` are the custom ones.
    pub fn resource(&self, name: &str) -> Option<&Vec<Value>> {
        Some(match name {
            "users" => &self.users,
            "jobs" => &self.jobs,
            "job_posts" => &self.job_posts,
            "job_stages" => &self.job_stages,
            "candidates" => &self.candidates,
            "tags/candidate" | "tags" => &self.tags,
            "applications" => &self.applications,
            "scheduled_interviews" => &self.scheduled_interviews,
            "offers" => &self.offers,
            "rejection_reasons" => &self.rejection_reasons,
            _ => return None,
        })
    }

    /// Mutable access, for tests that change data between runs.
    pub fn resource_mut(&mut self, name: &str) -> Option<&mut Vec<Value>> {
        Some(match name {
            "users" => &mut self.users,
            "jobs" => &mut self.jobs,
            "job_posts" => &mut self.job_posts,
            "job_stages" => &mut self.job_stages,
            "candidates" => &mut self.candidates,
            "tags/candidate" | "tags" => &mut self.tags,
            "applications" => &mut self.applications,
            "scheduled_interviews" => &mut self.scheduled_interviews,
            "offers" => &mut self.offers,
            "rejection_reasons" => &mut self.rejection_reasons,
            _ => return None,
        })
    }

    /// Deletes a record the way Greenhouse does (Decision 14): a job takes its stages, job
    /// posts, applications and their interviews and offers with it; a candidate its
    /// applications, interviews and offers; an application its interviews and offers; a job
    /// post stays with `active: false`, `live: false` and `updated_at` moved to now. Other
    /// records simply vanish. False when there is no such record.
    pub fn delete(&mut self, resource: &str, id: u64) -> bool {
        match resource {
            "jobs" => self.delete_job(id),
            "candidates" => self.delete_candidate(id),
            "applications" => self.delete_application(id),
            "job_posts" => self.delete_job_post(id),
            "rejection_reasons" => {
                remove(&mut self.rejection_reasons, id)
                    | remove(&mut self.default_rejection_reasons, id)
            }
            other => self
                .resource_mut(other)
                .is_some_and(|rows| remove(rows, id)),
        }
    }

    /// Deletes a job with its stages, job posts, applications, interviews and offers.
    pub fn delete_job(&mut self, id: u64) -> bool {
        if !remove(&mut self.jobs, id) {
            return false;
        }
        self.job_stages.retain(|s| s["job_id"].as_u64() != Some(id));
        self.job_posts.retain(|p| p["job_id"].as_u64() != Some(id));
        let apps: Vec<u64> = self
            .applications
            .iter()
            .filter(|a| {
                a["jobs"]
                    .as_array()
                    .is_some_and(|js| js.iter().any(|j| j["id"].as_u64() == Some(id)))
            })
            .map(id_of)
            .collect();
        for a in apps {
            self.delete_application(a);
        }
        self.offers.retain(|o| o["job_id"].as_u64() != Some(id));
        true
    }

    /// Deletes a candidate with its applications, interviews and offers.
    pub fn delete_candidate(&mut self, id: u64) -> bool {
        if !remove(&mut self.candidates, id) {
            return false;
        }
        let apps: Vec<u64> = self
            .applications
            .iter()
            .filter(|a| a["candidate_id"].as_u64() == Some(id))
            .map(id_of)
            .collect();
        for a in apps {
            self.delete_application(a);
        }
        self.offers
            .retain(|o| o["candidate_id"].as_u64() != Some(id));
        true
    }

    /// Deletes an application with its interviews and offers.
    pub fn delete_application(&mut self, id: u64) -> bool {
        if !remove(&mut self.applications, id) {
            return false;
        }
        self.scheduled_interviews
            .retain(|i| i["application_id"].as_u64() != Some(id));
        self.offers
            .retain(|o| o["application_id"].as_u64() != Some(id));
        true
    }

    /// Deletes a job post on its own: it stays, with `active: false`, `live: false` and its
    /// `updated_at` moved to now.
    pub fn delete_job_post(&mut self, id: u64) -> bool {
        let now = iso_millis(now_millis());
        match self.job_posts.iter_mut().find(|p| id_of(p) == id) {
            Some(p) => {
                p["active"] = json!(false);
                p["live"] = json!(false);
                p["updated_at"] = json!(now);
                true
            }
            None => false,
        }
    }
}

fn remove(rows: &mut Vec<Value>, id: u64) -> bool {
    let before = rows.len();
    rows.retain(|r| id_of(r) != id);
    rows.len() != before
}

// ---------------------------------------------------------------------------------------
// Generated data
// ---------------------------------------------------------------------------------------

const DAY: u64 = 86_400;

const OFFICES: &[(u64, &str, &str)] = &[
    (40_011, "Lisbon", "Lisbon, Portugal"),
    (40_012, "São Paulo", "São Paulo, Brazil"),
    (40_013, "München", "Munich, Germany"),
    (40_014, "New York HQ", "New York, NY, United States"),
    (40_015, "東京", "Tokyo, Japan"),
    (40_016, "Remote – EMEA", "Remote"),
];
const DEPARTMENTS: &[(u64, &str, Option<u64>)] = &[
    (50_021, "Engineering", None),
    (50_022, "Platform", Some(50_021)),
    (50_023, "Design", None),
    (50_024, "People", None),
    (50_025, "Sales", None),
    (50_026, "Customer Success", Some(50_025)),
];
const TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Product Designer",
    "Technical Recruiter",
    "Data Engineer",
    "Account Executive – DACH",
    "Site Reliability Engineer",
    "Engineering Manager",
    "Customer Support Specialist",
    "Frontend Engineer",
    "Finance Analyst",
    "Développeur·se Mobile",
    "UX Researcher",
];
const STAGES: &[&str] = &[
    "Application Review",
    "Preliminary Phone Screen",
    "Phone Interview",
    "Take Home Test",
    "Face to Face",
    "Reference Check",
];
const INTERVIEWS: &[&str] = &[
    "Recruiter Screen",
    "Technical Deep Dive",
    "System Design",
    "Pairing Session",
    "Culture Add",
    "Hiring Manager Chat",
    "Reference Call",
];
const SOURCES: &[(u64, &str)] = &[
    (1871, "Employee Referral"),
    (1872, "LinkedIn (Prospecting)"),
    (1873, "Company Website"),
    (1874, "Agência Lisboa Talent"),
    (1875, "Jobs page"),
    (1876, "Indeed"),
];
const EMPLOYMENT: &[&str] = &["Full-time", "Part-time", "Contract", "Intern", "Temporary"];
const TAGS: &[&str] = &[
    "Rust",
    "Referral",
    "Silver medalist",
    "Relocation",
    "Visa sponsorship",
    "Überqualifiziert",
    "Boomerang",
    "Remote only",
    "日本語",
];
const REASON_TYPES: &[(u64, &str)] = &[
    (1, "We rejected them"),
    (2, "They rejected us"),
    (3, "None specified"),
];
/// Custom reasons: id, name, type index.
const CUSTOM_REASONS: &[(u64, &str, usize)] = &[
    (8_001, "Lacking Rust experience", 0),
    (8_002, "Salary expectations above the band", 0),
    (8_003, "Accepted a counter-offer", 1),
    (8_004, "Position put on hold", 2),
];
/// Greenhouse's defaults: id, name, type index.
const DEFAULT_REASONS: &[(u64, &str, usize)] = &[
    (1, "Lacking skill(s)/qualification(s)", 0),
    (2, "Underqualified", 0),
    (3, "Overqualified", 0),
    (4, "Hired another candidate", 0),
    (5, "Took another job", 1),
    (6, "Compensation", 1),
    (7, "Location", 1),
    (8, "Unresponsive", 2),
    (9, "Other (add notes below)", 2),
];
/// The reasons applications use, in turn (custom and default; defaults 2, 3, 6, 7, 8 and
/// 9 are used by none).
const USED_REASONS: &[u64] = &[8_001, 1, 8_003, 5, 8_002, 4, 8_004];

/// The custom questions job posts share: number, label, type, values, description.
/// A custom question: number, label, type, values (value, label), description.
type Question = (
    u64,
    &'static str,
    &'static str,
    &'static [(u64, &'static str)],
    Option<&'static str>,
);
/// A job stage: id, name, interview definitions (id, name).
type StagePlan = (u64, String, Vec<(u64, String)>);

const QUESTIONS: &[Question] = &[
    (2_345_601, "LinkedIn Profile", "short_text", &[], None),
    (
        2_345_602,
        "Why do you want to work at Northwind?",
        "long_text",
        &[],
        Some("A few sentences are enough."),
    ),
    (
        2_345_603,
        "Are you authorized to work in the EU?",
        "boolean",
        &[(0, "No"), (1, "Yes")],
        None,
    ),
    (
        2_345_604,
        "How did you hear about us?",
        "single_select",
        &[
            (10_041, "LinkedIn"),
            (10_042, "A friend"),
            (10_043, "A conference"),
            (10_044, "Other"),
        ],
        None,
    ),
    (
        2_345_605,
        "Which languages do you speak?",
        "multi_select",
        &[
            (20_051, "English"),
            (20_052, "Português"),
            (20_053, "Deutsch"),
            (20_054, "日本語"),
        ],
        Some("Select all that apply."),
    ),
    (
        2_345_606,
        "Portfolio or work sample",
        "attachment",
        &[],
        None,
    ),
    (
        2_345_607,
        "Years of professional Rust experience",
        "single_select",
        &[
            (30_061, "None"),
            (30_062, "1–2"),
            (30_063, "3–5"),
            (30_064, "More than 5"),
        ],
        None,
    ),
    (
        2_345_608,
        "Will you need a visa?",
        "boolean",
        &[(0, "No"), (1, "Yes")],
        None,
    ),
];
const STANDARD_QUESTIONS: &[(&str, &str, &str, bool)] = &[
    ("first_name", "First Name", "short_text", true),
    ("last_name", "Last Name", "short_text", true),
    ("email", "Email", "short_text", true),
    ("phone", "Phone", "short_text", false),
    ("resume", "Resume/CV", "attachment", true),
    ("cover_letter", "Cover Letter", "attachment", false),
];

fn office(i: usize) -> Value {
    let (id, name, loc) = OFFICES[i % OFFICES.len()];
    json!({"id": id, "name": name, "location": {"name": loc}, "primary_contact_user_id": null,
           "parent_id": null, "parent_office_external_id": null, "child_ids": [],
           "child_office_external_ids": [], "external_id": format!("OFF-{}", id % 100)})
}

fn department(i: usize) -> Value {
    let (id, name, parent) = DEPARTMENTS[i % DEPARTMENTS.len()];
    let children: Vec<u64> = DEPARTMENTS
        .iter()
        .filter(|d| d.2 == Some(id))
        .map(|d| d.0)
        .collect();
    json!({"id": id, "name": name, "parent_id": parent, "parent_department_external_id": null,
           "child_ids": children, "child_department_external_ids": [],
           "external_id": format!("DEP-{}", id % 100)})
}

fn user_lite(u: &Value) -> Value {
    json!({"id": u["id"], "first_name": u["first_name"], "last_name": u["last_name"],
           "name": u["name"], "employee_id": u["employee_id"]})
}

fn distinct(rng: &mut Rng, n: usize, of: usize) -> Vec<usize> {
    let mut out = Vec::new();
    while out.len() < n.min(of) {
        let x = rng.below(of as u64) as usize;
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn reason(id: u64) -> Value {
    let (id, name, t) = CUSTOM_REASONS
        .iter()
        .chain(DEFAULT_REASONS)
        .find(|r| r.0 == id)
        .copied()
        .unwrap_or(DEFAULT_REASONS[0]);
    let (tid, tname) = REASON_TYPES[t];
    json!({"id": id, "name": name, "type": {"id": tid, "name": tname}})
}

fn question(q: usize, required: bool) -> Value {
    let (n, label, kind, values, description) = QUESTIONS[q];
    let name = if kind == "multi_select" {
        format!("question_{n}[]")
    } else {
        format!("question_{n}")
    };
    let values: Vec<Value> = values
        .iter()
        .map(|(v, l)| json!({"value": v, "label": l}))
        .collect();
    json!({"required": required, "private": q == 6, "label": label, "name": name, "type": kind,
           "values": values, "description": description})
}

fn questions_for(post: usize) -> Vec<Value> {
    let mut out: Vec<Value> = STANDARD_QUESTIONS
        .iter()
        .map(|(name, label, kind, req)| {
            json!({"required": req, "private": false, "label": label, "name": name,
                   "type": kind, "values": [], "description": null})
        })
        .collect();
    for q in 0..QUESTIONS.len() {
        if (q + post) % 3 != 2 {
            out.push(question(q, (q + post) % 2 == 0));
        }
    }
    out
}

/// What one candidate's application is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Regular,
    Prospect,
    /// A converted prospect, always followed by a regular application to the same job.
    Converted,
}

fn plan(c: usize) -> Vec<Kind> {
    use Kind::*;
    match c % 12 {
        2 => vec![Prospect],
        4 => vec![Converted, Regular],
        n => vec![Regular; [1, 2, 0, 3, 0, 1, 2, 1, 2, 1, 2, 2][n]],
    }
}

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let mut rng = Rng::new(0x6772_6565_6e68);
    let (n_users, n_jobs, n_cands, n_apps, n_prospect_posts) = match size {
        Size::Small => (5usize, 5usize, 6usize, 10usize, 1usize),
        Size::Full => (48, 60, 600, 1000, 3),
    };
    let mut d = Dataset::default();

    // users
    for i in 0..n_users {
        let (f, l) = (
            FIRST[(i * 5 + 2) % FIRST.len()],
            LAST[(i * 7 + 3) % LAST.len()],
        );
        let email = format!("user{i}@northwind.example");
        let mut emails = vec![json!(email)];
        if i % 4 == 1 {
            emails.push(json!(format!("user{i}.alt@northwind.example")));
        }
        let level = ["Junior", "Senior", "Lead"][i % 3];
        d.users.push(json!({
            "id": 4_080_001 + 3 * i as u64, "name": format!("{f} {l}"), "first_name": f, "last_name": l,
            "primary_email_address": email,
            "updated_at": ts(i as u64 * DAY + 30 * DAY + i as u64 * 61), "created_at": ts(i as u64 * DAY),
            "disabled": i % 11 == 4, "site_admin": i == 0, "emails": emails,
            "employee_id": if i % 3 == 0 { Value::Null } else { json!(format!("E-{}", 1000 + i)) },
            "linked_candidate_ids": [],
            "offices": if i % 5 == 3 { json!([]) } else { json!([office(i)]) },
            "departments": [department(i)],
            "custom_fields": {"level": level, "pronouns": if i % 2 == 0 { json!("she/her") } else { Value::Null }},
            "keyed_custom_fields": {
                "level": {"name": "Level", "type": "single_select", "value": level},
                "pronouns": {"name": "Pronouns", "type": "short_text", "value": if i % 2 == 0 { json!("she/her") } else { Value::Null }}
            },
        }));
    }
    let users = d.users.clone();

    // jobs, their stages and posts
    let statuses = [
        "open", "closed", "draft", "open", "open", "open", "closed", "open",
    ];
    let mut stage_id = 7_220_001u64;
    let mut iv_def_id = 9_100_001u64;
    let mut post_id = 1_230_001u64;
    let mut post_n = 0usize;
    let mut opening_id = 3_300_001u64;
    let mut templates: Vec<u64> = Vec::new();
    // per job: (stage id, name, interview definitions (id, name))
    let mut job_stages: Vec<Vec<StagePlan>> = Vec::new();
    let mut live_post: Vec<Option<u64>> = Vec::new();
    for j in 0..n_jobs {
        let id = 640_001 + 7 * j as u64;
        let created = (20 + j as u64) * DAY + j as u64 * 97;
        let status = statuses[j % statuses.len()];
        let template = j % 8 == 3;
        let name = TITLES[j % TITLES.len()];
        let depts: Vec<Value> = match j % 6 {
            5 => vec![],
            n if j % 4 == 0 => vec![department(n), department(n + 2)],
            n => vec![department(n)],
        };
        let offices: Vec<Value> = match j % 7 {
            6 => vec![],
            n if j % 3 == 0 => vec![office(n), office(n + 1)],
            n => vec![office(n)],
        };
        let mut team = serde_json::Map::new();
        let shared = rng.below(n_users as u64) as usize;
        for (k, role) in ["hiring_managers", "recruiters", "coordinators", "sourcers"]
            .iter()
            .enumerate()
        {
            let count = rng.below(3) as usize;
            let mut members: Vec<usize> = distinct(&mut rng, count, n_users);
            if j % 4 == 0 && k < 2 && !members.contains(&shared) {
                members.push(shared);
            }
            let list: Vec<Value> = members
                .iter()
                .enumerate()
                .map(|(n, &u)| {
                    let mut m = user_lite(&users[u]);
                    if k == 1 || k == 2 {
                        m["responsible"] = json!(n == 0);
                    }
                    m
                })
                .collect();
            team.insert(role.to_string(), Value::Array(list));
        }
        let mut custom = serde_json::Map::new();
        let mut keyed = serde_json::Map::new();
        if j % 6 != 5 {
            let e = EMPLOYMENT[j % EMPLOYMENT.len()];
            custom.insert("employment_type".into(), json!(e));
            keyed.insert(
                "employment_type".into(),
                json!({"name": "Employment Type", "type": "single_select", "value": e}),
            );
        }
        let cc = format!("CC-{}", 10 + j % 5);
        custom.insert("cost_center".into(), json!(cc));
        keyed.insert(
            "cost_center".into(),
            json!({"name": "Cost Center", "type": "short_text", "value": cc}),
        );
        if j % 3 == 1 {
            let range = json!({"min_value": 50_000 + 1000 * j, "max_value": 70_000 + 1000 * j, "unit": "EUR"});
            custom.insert("salary_range".into(), range.clone());
            keyed.insert(
                "salary_range".into(),
                json!({"name": "Salary Range", "type": "currency_range", "value": range}),
            );
        }
        let opened = (status != "draft").then(|| ts(created + 2 * DAY));
        let closed = (status == "closed").then(|| ts(created + 80 * DAY));
        let n_openings = 1 + j % 2;
        let openings: Vec<Value> = (0..n_openings)
            .map(|k| {
                let oid = opening_id;
                opening_id += 1;
                let closed_opening = status == "closed" || (k == 1 && j % 4 == 1);
                json!({"id": oid, "opening_id": format!("OPN-{}-{}", j + 1, k + 1),
                       "status": if closed_opening { "closed" } else { "open" },
                       "opened_at": opened, "closed_at": if closed_opening { json!(ts(created + 80 * DAY)) } else { Value::Null },
                       "application_id": null,
                       "close_reason": if closed_opening { json!({"id": 901, "name": "Hire - New Headcount"}) } else { Value::Null }})
            })
            .collect();
        d.jobs.push(json!({
            "id": id, "name": name,
            "requisition_id": if j % 10 == 9 { Value::Null } else { json!(format!("REQ-{}", 1000 + j)) },
            "notes": if j % 3 == 0 { json!("<p>Budget approved for 2024.</p>") } else { Value::Null },
            "confidential": j % 9 == 4, "status": status,
            "created_at": ts(created), "opened_at": opened, "closed_at": closed,
            "updated_at": ts(created + 20 * DAY + j as u64 * 13),
            "is_template": template,
            "copied_from_id": if !template && j % 5 == 4 { templates.first().map(|t| json!(t)).unwrap_or(Value::Null) } else { Value::Null },
            "departments": depts, "offices": offices,
            "custom_fields": custom, "keyed_custom_fields": keyed,
            "hiring_team": team, "openings": openings,
        }));
        if template {
            templates.push(id);
        }

        // stages: n - 1 of STAGES, then Offer
        let n_stages = 5 + j % 3;
        let mut stages = Vec::new();
        for k in 0..n_stages {
            let sname = if k + 1 == n_stages {
                "Offer"
            } else {
                STAGES[k]
            };
            let n_defs = [0usize, 1, 1, 2, 2, 1, 0][k % 7];
            let defs: Vec<(u64, String)> = (0..n_defs)
                .map(|n| {
                    let dn = INTERVIEWS[(k + n + j) % INTERVIEWS.len()].to_owned();
                    iv_def_id += 1;
                    (iv_def_id, dn)
                })
                .collect();
            let interviews: Vec<Value> = defs
                .iter()
                .enumerate()
                .map(|(n, (did, dn))| {
                    let dflt: Vec<Value> = distinct(&mut rng, 1 + n, n_users)
                        .into_iter()
                        .map(|u| user_lite(&users[u]))
                        .collect();
                    json!({"id": did, "name": dn, "schedulable": true, "estimated_minutes": 30 + 15 * ((k + n) % 3),
                           "default_interviewer_users": dflt,
                           "interview_kit": {"id": did + 500_000, "content": "<p>Ask about trade-offs; take notes.</p>",
                                             "questions": [{"id": did + 800_000, "question": "What would you change in our stack?"}]}})
                })
                .collect();
            d.job_stages.push(json!({
                "id": stage_id, "name": sname, "created_at": ts(created + k as u64 * 60),
                "updated_at": ts(created + k as u64 * 60 + 3 * DAY), "active": true,
                "job_id": id, "priority": k, "interviews": interviews,
            }));
            stages.push((stage_id, sname.to_owned(), defs));
            stage_id += 1;
        }
        job_stages.push(stages);

        // posts
        let kinds: Vec<(bool, bool, bool, bool, bool)> = // (live, active, published, internal, external)
            if template {
                vec![]
            } else {
                match status {
                    "draft" => vec![(false, true, false, false, true)],
                    "closed" => vec![(false, true, true, false, true), (false, false, true, false, true)],
                    _ => [
                        (true, true, true, false, true),
                        (true, true, true, true, false),
                        (false, false, true, false, true),
                        (true, true, true, false, true),
                    ][..1 + (j + 2) % 4]
                        .to_vec(),
                }
            };
        let mut live = None;
        for (n, (is_live, active, published, internal, external)) in kinds.into_iter().enumerate() {
            let created_p = created + DAY + n as u64 * 4 * DAY;
            let loc = OFFICES[(j + n) % OFFICES.len()];
            if is_live && active && external && live.is_none() {
                live = Some(post_id);
            }
            d.job_posts.push(json!({
                "id": post_id,
                "title": if n == 3 { format!("{name} ({})", loc.1) } else { name.to_owned() },
                "location": {"id": 60_000 + post_id % 1000, "name": loc.2, "office_id": loc.0,
                             "job_post_custom_location_id": null,
                             "job_post_location_type": {"id": 1, "name": "Free Text"}},
                "internal": internal, "external": external, "active": active, "live": is_live,
                "first_published_at": if published { json!(ts(created_p + 3600)) } else { Value::Null },
                "job_id": id,
                "content": format!("<p>Join Northwind as <strong>{name}</strong>. Équipe internationale, café inclus.</p>"),
                "internal_content": if internal { json!("<p>Internal transfer: talk to your manager first.</p>") } else { Value::Null },
                "updated_at": ts(created_p + 2 * DAY + n as u64),
                "created_at": ts(created_p),
                "demographic_question_set_id": if n == 0 && j % 2 == 0 { json!(41_001) } else { Value::Null },
                "questions": questions_for(post_n),
            }));
            post_id += 1;
            post_n += 1;
        }
        live_post.push(live);
    }
    // prospect posts (no job); in the full dataset the last one is deleted
    for p in 0..n_prospect_posts {
        let deleted = n_prospect_posts > 1 && p + 1 == n_prospect_posts;
        let created_p = (90 + p as u64) * DAY;
        let (oid, oname, loc) = OFFICES[p % OFFICES.len()];
        d.job_posts.push(json!({
            "id": post_id, "title": format!("General Application – {}", oname),
            "location": {"id": 61_000 + p, "name": loc, "office_id": oid, "job_post_custom_location_id": null,
                         "job_post_location_type": {"id": 1, "name": "Free Text"}},
            "internal": false, "external": true, "active": !deleted, "live": !deleted,
            "first_published_at": ts(created_p + 3600), "job_id": null,
            "content": "<p>No open role that fits? Tell us about yourself.</p>", "internal_content": null,
            "updated_at": ts(created_p + 5 * DAY), "created_at": ts(created_p),
            "demographic_question_set_id": null, "questions": questions_for(post_n),
        }));
        post_id += 1;
        post_n += 1;
    }

    // tags
    for (t, name) in TAGS.iter().enumerate() {
        d.tags
            .push(json!({"id": 1_590_001 + 4 * t as u64, "name": name}));
    }
    // rejection reasons
    d.default_rejection_reasons = DEFAULT_REASONS.iter().map(|r| reason(r.0)).collect();
    d.rejection_reasons = CUSTOM_REASONS.iter().map(|r| reason(r.0)).collect();

    // the application plan: exactly n_apps
    let mut plans: Vec<Vec<Kind>> = (0..n_cands).map(plan).collect();
    let mut total: usize = plans.iter().map(Vec::len).sum();
    let mut c = 0;
    while total < n_apps {
        if plans[c].len() < 3 && !plans[c].contains(&Kind::Prospect) {
            plans[c].push(Kind::Regular);
            total += 1;
        }
        c = (c + 1) % n_cands;
    }
    let mut c = n_cands;
    while total > n_apps && c > 0 {
        c -= 1;
        if plans[c].len() >= 2
            && plans[c].last() == Some(&Kind::Regular)
            && !plans[c].contains(&Kind::Converted)
        {
            plans[c].pop();
            total -= 1;
        }
    }
    let appliable: Vec<usize> = (0..n_jobs)
        .filter(|&j| {
            let s = d.jobs[j]["status"].as_str().unwrap_or("");
            (s == "open" || s == "closed") && d.jobs[j]["is_template"] == false
        })
        .collect();

    // candidates, applications, interviews, offers
    let mut app_id = 985_000_001u64;
    let mut si_id = 33_100_001u64;
    let mut offer_id = 1_142_001u64;
    let mut scorecard = 5_500_001u64;
    for (c, kinds) in plans.iter().enumerate() {
        let cid = 97_800_001 + 2 * c as u64;
        let created = 100 * DAY + c as u64 * 5_400;
        let (f, l) = (
            FIRST[(c * 5 + 1) % FIRST.len()],
            LAST[(c * 11 + 2) % LAST.len()],
        );
        let mut used_jobs: Vec<usize> = Vec::new();
        let mut prev_job: Option<usize> = None;
        let mut prev_source: Option<(u64, &str)> = None;
        let mut last_activity = created;
        for (k, kind) in kinds.iter().enumerate() {
            let applied = created + k as u64 * 4 * DAY + (c as u64 % 7) * 60;
            // the job: a converted prospect's regular application keeps its job and source
            let j = match (kind, prev_job) {
                (Kind::Regular, Some(pj)) if k > 0 && kinds[k - 1] == Kind::Converted => pj,
                _ => {
                    let mut pick = (c * 7 + k * 13) % appliable.len();
                    for _ in 0..appliable.len() {
                        if !used_jobs.contains(&appliable[pick]) {
                            break;
                        }
                        pick = (pick + 1) % appliable.len();
                    }
                    appliable[pick]
                }
            };
            used_jobs.push(j);
            prev_job = Some(j);
            let source = match (kind, prev_source) {
                (Kind::Regular, Some(s)) if k > 0 && kinds[k - 1] == Kind::Converted => s,
                _ => SOURCES[(c + k * 3) % SOURCES.len()],
            };
            prev_source = Some(source);
            let job = &d.jobs[j];
            let stages = &job_stages[j];
            let h = (c * 3 + k * 7) % 10;
            let status = match kind {
                Kind::Prospect => "active",
                Kind::Converted => "converted",
                Kind::Regular => match h {
                    0..=4 => "active",
                    5..=7 => "rejected",
                    _ => "hired",
                },
            };
            let prospect = *kind != Kind::Regular;
            let stage_ix: Option<usize> = match (kind, status) {
                (Kind::Regular, "hired") => Some(stages.len() - 1),
                (Kind::Regular, "active") if (c + k) % 5 == 2 => Some(stages.len() - 1),
                (Kind::Regular, "active") => Some((c + k) % (stages.len() - 1)),
                (Kind::Regular, _) => Some((c + 2 * k) % (stages.len() - 1)),
                _ => None,
            };
            let jobs_field = if *kind == Kind::Prospect && c % 24 == 2 {
                json!([])
            } else {
                json!([{"id": job["id"], "name": job["name"]}])
            };
            let rejected = status == "rejected";
            let rr = USED_REASONS[(c + k) % USED_REASONS.len()];
            let credited = if (c + k) % 3 == 2 {
                Value::Null
            } else {
                user_lite(&users[(c + k) % n_users])
            };
            let activity = applied + (10 + (c % 9) as u64) * DAY;
            last_activity = last_activity.max(activity);
            let post = if prospect { None } else { live_post[j] };
            let answers = match post {
                Some(_) if c % 2 == 0 => json!([
                    {"question": "How did you hear about us?", "answer": "A friend"},
                    {"question": "Are you authorized to work in the EU?", "answer": "Yes"}]),
                _ => json!([]),
            };
            let app_custom = if c % 3 == 0 {
                json!({"referral_bonus_eligible": c % 2 == 0})
            } else {
                json!({})
            };
            let app_keyed = if c % 3 == 0 {
                json!({"referral_bonus_eligible": {"name": "Referral bonus eligible", "type": "boolean", "value": c % 2 == 0}})
            } else {
                json!({})
            };
            let aid = app_id;
            app_id += 1;
            d.applications.push(json!({
                "id": aid, "candidate_id": cid, "prospect": prospect,
                "applied_at": ts(applied),
                "rejected_at": if rejected { json!(ts(applied + 9 * DAY)) } else { Value::Null },
                "last_activity_at": ts(activity),
                "location": if c % 4 == 1 { json!({"address": "Lisboa, Portugal"}) } else { Value::Null },
                "source": {"id": source.0, "public_name": source.1},
                "credited_to": credited,
                "recruiter": if c % 4 == 0 { user_lite(&users[c % n_users]) } else { Value::Null },
                "coordinator": if c % 6 == 0 { user_lite(&users[(c + 1) % n_users]) } else { Value::Null },
                "rejection_reason": if rejected { reason(rr) } else { Value::Null },
                "rejection_details": if rejected {
                    json!({"custom_fields": {"notes": "Discussed with the hiring manager."},
                           "keyed_custom_fields": {"notes": {"name": "Notes", "type": "long_text", "value": "Discussed with the hiring manager."}}})
                } else { Value::Null },
                "jobs": jobs_field,
                "job_post_id": post,
                "status": status,
                "current_stage": stage_ix.map(|s| json!({"id": stages[s].0, "name": stages[s].1})).unwrap_or(Value::Null),
                "answers": answers,
                "prospective_office": if prospect { office(c) } else { Value::Null },
                "prospective_department": if prospect { department(c) } else { Value::Null },
                "prospect_detail": if prospect {
                    json!({"prospect_pool": {"id": 2_201, "name": "Engineering talent"},
                           "prospect_stage": {"id": 2_301, "name": "Contacted"},
                           "prospect_owner": user_lite(&users[c % n_users])})
                } else {
                    json!({"prospect_pool": null, "prospect_stage": null, "prospect_owner": null})
                },
                "custom_fields": app_custom, "keyed_custom_fields": app_keyed,
                "attachments": [],
            }));

            // interviews: the plans of the stages up to the current one (at most three)
            if let Some(s) = stage_ix {
                let mut slots: Vec<(usize, u64, String)> = Vec::new();
                for (i, st) in stages.iter().enumerate().take(s + 1) {
                    for (did, dn) in st.2.iter().take(1 + c % 2) {
                        slots.push((i, *did, dn.clone()));
                    }
                }
                let skip = slots.len().saturating_sub(3);
                for (i, did, dn) in slots.into_iter().skip(skip) {
                    let start = applied + (2 + 2 * i as u64) * DAY + 9 * 3600 + (si_id % 4) * 3600;
                    let all_day = si_id % 23 == 5;
                    let ivstatus = if i < s || status != "active" {
                        "complete"
                    } else if si_id % 2 == 0 {
                        "scheduled"
                    } else {
                        "awaiting_feedback"
                    };
                    let interviewers: Vec<Value> = distinct(&mut rng, 1 + (si_id % 3) as usize, n_users)
                        .into_iter()
                        .map(|u| {
                            let user = &users[u];
                            let sc = if ivstatus == "complete" {
                                scorecard += 1;
                                json!(scorecard)
                            } else {
                                Value::Null
                            };
                            json!({"id": user["id"], "employee_id": user["employee_id"], "name": user["name"],
                                   "email": user["primary_email_address"],
                                   "response_status": (["accepted", "needs_action", "tentative", "declined"][(u + i) % 4]),
                                   "scorecard_id": sc})
                        })
                        .collect();
                    let video = si_id % 3 == 0;
                    d.scheduled_interviews.push(json!({
                        "id": si_id, "application_id": aid,
                        "external_event_id": format!("evt_{:08x}", si_id * 2_654_435_761 % 0xffff_ffff),
                        "start": if all_day { json!({"date": date(start)}) } else { json!({"date_time": ts(start)}) },
                        "end": if all_day { json!({"date": date(start + DAY)}) } else { json!({"date_time": ts(start + 3600)}) },
                        "location": match si_id % 3 { 1 => json!("Sala 4.2 – Lisboa"), 2 => json!("Zoom"), _ => Value::Null },
                        "video_conferencing_url": if video { json!(format!("https://meet.example/{si_id}")) } else { Value::Null },
                        "status": ivstatus,
                        "created_at": ts(applied + (1 + 2 * i as u64) * DAY),
                        "updated_at": ts(start + if ivstatus == "complete" { DAY } else { 0 }),
                        "interview": {"id": did, "name": dn},
                        "organizer": user_lite(&users[(si_id as usize * 3) % n_users]),
                        "interviewers": interviewers,
                    }));
                    si_id += 1;
                }
            }

            // offers
            let versions: Vec<&str> = match status {
                "hired" if (c + k) % 4 == 1 => vec!["deprecated", "accepted"],
                "hired" => vec!["accepted"],
                "active" if stage_ix == Some(stages.len() - 1) => vec!["unresolved"],
                "rejected" if (c + k) % 4 == 0 => vec!["deprecated", "rejected"],
                "rejected" if (c + k) % 4 == 2 => vec!["rejected"],
                _ => vec![],
            };
            for (v, ostatus) in versions.iter().enumerate() {
                let made = applied + (20 + 2 * v as u64) * DAY;
                let sent = match *ostatus {
                    "unresolved" => (c + k) % 2 == 0,
                    _ => true,
                };
                let resolved = matches!(*ostatus, "accepted" | "rejected");
                let salary = format!("{} EUR", 60_000 + 500 * (c % 40) + 1000 * v);
                d.offers.push(json!({
                    "id": offer_id, "version": v + 1, "application_id": aid, "job_id": job["id"], "candidate_id": cid,
                    "opening": job["openings"].get(0).cloned().unwrap_or(Value::Null),
                    "created_at": ts(made), "updated_at": ts(made + DAY + v as u64),
                    "sent_at": if sent { json!(date(made + 3600)) } else { Value::Null },
                    "resolved_at": if resolved { json!(ts(made + DAY)) } else { Value::Null },
                    "starts_at": date(made + 30 * DAY),
                    "status": ostatus,
                    "custom_fields": {"salary": salary, "employment_type": job["custom_fields"]["employment_type"]},
                    "keyed_custom_fields": {
                        "salary": {"name": "Salary", "type": "short_text", "value": salary},
                        "employment_type": {"name": "Employment Type", "type": "single_select", "value": job["custom_fields"]["employment_type"]}
                    },
                }));
                offer_id += 1;
            }
        }

        // the candidate
        let phones: Vec<Value> = (0..(c % 4))
            .map(|p| {
                let t = ["mobile", "home", "work", "skype", "other"][(c + p) % 5];
                let v = if t == "skype" {
                    format!("live:cand.{c}")
                } else {
                    format!("+351 91{} {:03} {:03}", p, c % 1000, (c * 7 + p) % 1000)
                };
                json!({"value": v, "type": t})
            })
            .collect();
        let emails: Vec<Value> = (0..((c + 1) % 4))
            .map(|e| json!({"value": format!("cand{c}.{e}@mail{e}.example"), "type": (["personal", "work", "other"][(c + e) % 3])}))
            .collect();
        let addresses: Vec<Value> = (0..(c % 3))
            .map(|a| {
                json!({"value": (["Rua Augusta 12, 1100-053 Lisboa, Portugal", "Karlstraße 5, 80333 München", "東京都千代田区1-1"][(c + a) % 3]),
                       "type": (["home", "work", "other"][a % 3])})
            })
            .collect();
        let websites: Vec<Value> = (0..((c / 3) % 3))
            .map(|w| json!({"value": format!("https://cand{c}-{w}.example.dev"), "type": (["personal", "company", "portfolio", "blog", "other"][(c + w) % 5])}))
            .collect();
        let social: Vec<Value> = (0..((c / 2) % 3))
            .map(|s| {
                let v = match (c + s) % 4 {
                    0 => format!("https://www.linkedin.com/in/cand-{c}"),
                    1 => format!("@cand{c}"),
                    2 => format!("https://twitter.com/cand{c}"),
                    _ => format!("github.com/cand{c}"),
                };
                json!({"value": v})
            })
            .collect();
        let tags: Vec<Value> = TAGS
            .iter()
            .enumerate()
            .filter(|(t, _)| (c + t * 2) % 7 == 0)
            .map(|(_, t)| json!(t))
            .collect();
        let (cf, kcf) = if c % 2 == 0 {
            let salary = format!("{} EUR", 50_000 + c * 100);
            (
                json!({"desired_salary": salary, "notice_period": "60 days", "willing_to_relocate": c % 4 == 0}),
                json!({"desired_salary": {"name": "Desired salary", "type": "short_text", "value": salary},
                       "notice_period": {"name": "Notice period", "type": "single_select", "value": "60 days"},
                       "willing_to_relocate": {"name": "Willing to relocate", "type": "boolean", "value": c % 4 == 0}}),
            )
        } else {
            (json!({}), json!({}))
        };
        let company = [
            "Ferrovia Dados",
            "Nordhavn ApS",
            "Café Lumière",
            "北京数据科技",
        ];
        d.candidates.push(json!({
            "id": cid, "first_name": f, "last_name": l,
            "company": if c % 5 < 3 { json!(company[c % 4]) } else { Value::Null },
            "title": if c % 5 < 3 { json!(["Staff Engineer", "Designer", "Analyst"][c % 3]) } else { Value::Null },
            "created_at": ts(created), "updated_at": ts(last_activity + DAY), "last_activity": ts(last_activity),
            "is_private": c % 13 == 7,
            "photo_url": if c % 9 == 0 { json!(format!("https://photos.example/{cid}.jpg")) } else { Value::Null },
            "attachments": if c % 3 == 0 {
                json!([{"filename": format!("cv-{cid}.pdf"), "url": format!("https://files.example/{cid}/cv.pdf"), "type": "resume", "created_at": ts(created)}])
            } else { json!([]) },
            "application_ids": [],
            "phone_numbers": phones, "addresses": addresses, "email_addresses": emails,
            "website_addresses": websites, "social_media_addresses": social,
            "recruiter": if c % 4 == 0 { user_lite(&users[c % n_users]) } else { Value::Null },
            "coordinator": if c % 6 == 0 { user_lite(&users[(c + 1) % n_users]) } else { Value::Null },
            "can_email": c % 10 != 3, "tags": tags, "applications": [],
            "educations": if c % 5 == 1 {
                json!([{"id": 7_700_000 + c, "school_name": "Universidade de Lisboa", "degree": "Master's Degree", "discipline": "Computer Science", "start_date": "2012-09-01T00:00:00.000Z", "end_date": "2014-07-31T00:00:00.000Z"}])
            } else { json!([]) },
            "employments": if c % 5 == 2 {
                json!([{"id": 7_800_000 + c, "company_name": company[c % 4], "title": "Engineer", "start_date": "2018-01-01T00:00:00.000Z", "end_date": null}])
            } else { json!([]) },
            "linked_user_ids": [],
            "custom_fields": cf, "keyed_custom_fields": kcf,
        }));
    }
    // one employee who is also a candidate
    if let (Some(u), Some(c)) = (d.users.get(2).cloned(), d.candidates.get_mut(1)) {
        c["linked_user_ids"] = json!([u["id"]]);
        let cid = c["id"].clone();
        d.users[2]["linked_candidate_ids"] = json!([cid]);
    }
    d
}

// ---------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------

/// One answer of the simulator: status, headers and JSON body.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `content-type`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    fn new(status: u16, body: Value) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body,
        }
    }
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, axum::Json(self.body)).into_response();
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                r.headers_mut().append(k, v);
            }
        }
        r
    }
}

fn message(status: u16, text: &str) -> Answer {
    Answer::new(status, json!({"message": text}))
}

fn validation(field: &str) -> Answer {
    Answer::new(
        422,
        json!({"message": "Validation error", "errors": [{"message": "Must be between 1 and 500", "field": field}]}),
    )
}

/// Rolling-window counters per key.
#[derive(Default)]
struct Limiter {
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// Counts a request of `key`: `Ok(remaining)`, or `Err((retry_after_secs, reset_epoch_secs))`
    /// when it is over the limit (and then it is not counted).
    fn admit(&self, key: &str) -> Result<usize, (u64, u64)> {
        let now = Instant::now();
        let mut seen = lock(&self.seen);
        let q = seen.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= RATE_LIMIT {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + WINDOW).saturating_duration_since(now);
            let retry = (wait.as_secs_f64().ceil() as u64).clamp(1, 10);
            let at = SystemTime::now() + wait;
            let reset = at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
                .unwrap_or(0);
            return Err((retry, reset));
        }
        q.push_back(now);
        Ok(RATE_LIMIT - q.len())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Switches and counters of a running simulator.
pub struct Sim {
    /// The data served (tests may change it between runs, e.g. with [`Dataset::delete`]).
    pub data: RwLock<Dataset>,
    /// The accepted API key (the Basic auth user name).
    pub api_key: String,
    /// Whether the rate limit of Decision 15 is enforced (and its headers sent).
    pub limits: AtomicBool,
    limiter: Limiter,
    /// Requests received (any answer).
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    /// `path?query` of every request, as received.
    pub log: Mutex<Vec<String>>,
    /// Resources (`offers`, `tags/candidate`, ...) the key may not read: `403`.
    pub forbidden: Mutex<HashSet<String>>,
}

impl Sim {
    /// A simulator of `size` accepting `api_key`, with the rate limit on or off.
    pub fn new(size: Size, api_key: &str, limits: bool) -> Self {
        Sim {
            data: RwLock::new(dataset(size)),
            api_key: api_key.to_owned(),
            limits: AtomicBool::new(limits),
            limiter: Limiter::default(),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            forbidden: Mutex::new(HashSet::new()),
        }
    }

    /// The requests received so far (`path?query`).
    pub fn requests_seen(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// Answers one GET request.
    pub fn answer(&self, path: &str, query: Option<&str>, headers: &HeaderMap) -> Answer {
        self.requests.fetch_add(1, Ordering::Relaxed);
        lock(&self.log).push(match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        });
        if basic_user(headers).as_deref() != Some(self.api_key.as_str()) {
            return message(401, "Invalid Basic Auth credentials");
        }
        let remaining = if self.limits.load(Ordering::Relaxed) {
            match self.limiter.admit(&self.api_key) {
                Ok(r) => Some(r),
                Err((retry, reset)) => {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let mut a = message(429, "Too Many Requests");
                    a.headers.push(("Retry-After".into(), retry.to_string()));
                    a.headers
                        .push(("X-RateLimit-Reset".into(), reset.to_string()));
                    return a;
                }
            }
        } else {
            None
        };
        let mut a = self.list(path, query);
        if let Some(r) = remaining
            && (200..300).contains(&a.status)
        {
            a.headers
                .push(("X-RateLimit-Limit".into(), RATE_LIMIT.to_string()));
            a.headers
                .push(("X-RateLimit-Remaining".into(), r.to_string()));
        }
        a
    }

    fn list(&self, path: &str, query: Option<&str>) -> Answer {
        let Some(rest) = path.strip_prefix("/v1/") else {
            return message(404, "Not Found");
        };
        let resource = rest.strip_suffix('/').unwrap_or(rest);
        if !RESOURCES.contains(&resource) {
            return message(404, "Not Found");
        }
        if lock(&self.forbidden).contains(resource) {
            return message(
                403,
                "This API Key does not have permission for this endpoint",
            );
        }
        let params = Params::parse(query.unwrap_or(""));
        let per_page = match params.get("per_page") {
            None => 100,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=500).contains(&n) => n as usize,
                _ => return validation("per_page"),
            },
        };
        let page = match params.get("page") {
            None => 1,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => n as u64,
                _ => return validation("page"),
            },
        };
        // (param, record field, inclusive lower bound?)
        let updated: &[(&str, &str, bool)] = &[
            ("created_after", "created_at", true),
            ("created_before", "created_at", false),
            ("updated_after", "updated_at", true),
            ("updated_before", "updated_at", false),
        ];
        let times: &[(&str, &str, bool)] = match resource {
            "users"
            | "jobs"
            | "job_posts"
            | "job_stages"
            | "candidates"
            | "scheduled_interviews"
            | "offers" => updated,
            "applications" => &[
                ("created_after", "applied_at", true),
                ("created_before", "applied_at", false),
                ("last_activity_after", "last_activity_at", true),
            ],
            _ => &[],
        };
        let mut bounds: Vec<(&str, bool, i64)> = Vec::new();
        for (param, field, after) in times {
            if let Some(v) = params.get(param) {
                match parse_time(v) {
                    Some(t) => bounds.push((field, *after, t)),
                    None => return validation(param),
                }
            }
        }

        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<&Value> = match resource {
            "rejection_reasons" => {
                let mut all: Vec<&Value> = data.rejection_reasons.iter().collect();
                if params.get("include_defaults") == Some("true") {
                    all.extend(data.default_rejection_reasons.iter());
                }
                all.sort_by_key(|r| id_of(r));
                all
            }
            other => data
                .resource(other)
                .map(|r| r.iter().collect())
                .unwrap_or_default(),
        };
        rows.retain(|r| {
            bounds.iter().all(
                |(field, after, t)| match r[*field].as_str().and_then(parse_time) {
                    Some(v) if *after => v >= *t,
                    Some(v) => v < *t,
                    None => false,
                },
            )
        });
        let flag = |name: &str| match params.get(name) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        match resource {
            "applications" => {
                if let Some(s) = params.get("status") {
                    rows.retain(|a| a["status"] == s);
                }
                if let Some(j) = params.get("job_id") {
                    rows.retain(|a| {
                        a["jobs"]
                            .as_array()
                            .is_some_and(|js| js.iter().any(|x| x["id"].as_u64() == j.parse().ok()))
                    });
                }
            }
            "jobs" => {
                if let Some(s) = params.get("status") {
                    rows.retain(|j| j["status"] == s);
                }
            }
            "job_posts" => {
                if let Some(a) = flag("active") {
                    rows.retain(|p| p["active"] == a);
                }
                if let Some(l) = flag("live") {
                    rows.retain(|p| p["live"] == l);
                }
            }
            "candidates" => {
                if let Some(ids) = params.get("candidate_ids") {
                    let ids: HashSet<u64> = ids
                        .split(',')
                        .filter_map(|i| i.trim().parse().ok())
                        .collect();
                    rows.retain(|c| ids.contains(&id_of(c)));
                }
            }
            _ => {}
        }

        let total = rows.len();
        let skip = (page - 1).saturating_mul(per_page as u64);
        let page_rows: Vec<&Value> = rows
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(per_page)
            .collect();
        let body: Vec<Value> = match resource {
            "candidates" => {
                let mut by_cand: HashMap<u64, Vec<&Value>> = HashMap::new();
                for a in &data.applications {
                    by_cand
                        .entry(a["candidate_id"].as_u64().unwrap_or(0))
                        .or_default()
                        .push(a);
                }
                page_rows
                    .iter()
                    .map(|c| {
                        let mut c = (*c).clone();
                        let apps = by_cand.get(&id_of(&c)).cloned().unwrap_or_default();
                        c["application_ids"] = apps.iter().map(|a| a["id"].clone()).collect();
                        c["applications"] = apps.into_iter().cloned().collect();
                        c
                    })
                    .collect()
            }
            "users" if params.get("user_attributes") != Some("true") => page_rows
                .iter()
                .map(|u| {
                    let mut u = (*u).clone();
                    if let Some(m) = u.as_object_mut() {
                        m.remove("custom_fields");
                        m.remove("keyed_custom_fields");
                    }
                    u
                })
                .collect(),
            _ => page_rows.into_iter().cloned().collect(),
        };
        let mut a = Answer::new(200, Value::Array(body));
        let skip_count = params.get("skip_count") == Some("true");
        if let Some(link) = link_header(path, &params, page, per_page, total, skip_count) {
            a.headers.push(("Link".into(), link));
        }
        a
    }
}

/// The query parameters of a request, in their original order.
struct Params {
    /// (raw text of the pair, decoded name, decoded value)
    pairs: Vec<(String, String, String)>,
}

impl Params {
    fn parse(query: &str) -> Self {
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (p.to_owned(), percent_decode(k), percent_decode(v))
            })
            .collect();
        Params { pairs }
    }
    /// The last value of a parameter.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(_, k, _)| k == name)
            .map(|(_, _, v)| v.as_str())
    }
}

/// The `Link` header of a page (Decision 3), or None for a single page or a page past the end.
fn link_header(
    path: &str,
    params: &Params,
    page: u64,
    per_page: usize,
    total: usize,
    skip_count: bool,
) -> Option<String> {
    let last = (total as u64).div_ceil(per_page as u64).max(1);
    if last == 1 || page > last {
        return None;
    }
    let others: String = params
        .pairs
        .iter()
        .filter(|(_, k, _)| k != "page" && k != "per_page")
        .map(|(raw, _, _)| format!("&{raw}"))
        .collect();
    let url = |n: u64| format!("<{HOST}{path}?page={n}&per_page={per_page}{others}>");
    let mut parts = Vec::new();
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last && !skip_count {
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    Some(parts.join(", "))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The user name of a Basic `Authorization` header (scheme case-insensitive; the password
/// is ignored).
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(|c: char| c.is_ascii_whitespace())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(rest.trim())?).ok()?;
    Some(match decoded.split_once(':') {
        Some((user, _)) => user.to_owned(),
        None => decoded,
    })
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
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

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Milliseconds since the epoch of an ISO-8601 time: a date, or a date-time with optional
/// seconds and fraction and `Z`, `±HH:MM`, `±HHMM`, `±HH` or no zone (UTC). None when
/// malformed.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let p = b.get(from..to)?;
        if !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(p).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    if b.len() == 10 {
        return Some(ms);
    }
    if !matches!(b[10], b'T' | b't') || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, mi) = (num(11, 13)?, num(14, 16)?);
    let mut i = 16;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = num(17, 19)?;
        i = 19;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    ms += (h * 3600 + mi * 60 + sec) * 1000;
    if b.get(i) == Some(&b'.') && i == 19 {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..(start + 3).min(i)];
        let scale = [100, 10, 1][frac.len() - 1];
        ms += frac.parse::<i64>().ok()? * scale;
    }
    match b.get(i) {
        None => Some(ms),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(ms),
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &s[i + 1..];
            let (oh, om) = match rest.len() {
                2 => (num(i + 1, i + 3)?, 0),
                4 => (num(i + 1, i + 3)?, num(i + 3, i + 5)?),
                5 if rest.as_bytes()[2] == b':' => (num(i + 1, i + 3)?, num(i + 4, i + 6)?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = (oh * 3600 + om * 60) * 1000;
            Some(if sign == b'+' { ms - off } else { ms + off })
        }
        _ => None,
    }
}

/// ISO-8601 UTC with milliseconds of epoch milliseconds.
pub fn iso_millis(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

/// Starts a simulator on `127.0.0.1:port` (0: any free port), with the rate limit of
/// Decision 15 on or off.
pub async fn start(size: Size, api_key: &str, limits: bool, port: u16) -> std::io::Result<Running> {
    let sim = Arc::new(Sim::new(size, api_key, limits));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// Every path is answered by [`Sim::answer`] (GET only).
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(serve).with_state(sim)
}

async fn serve(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return message(405, "Method Not Allowed").into_response();
    }
    sim.answer(uri.path(), uri.query(), &headers)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, c)| n | (u32::from(*c) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(value).unwrap());
        h
    }

    fn key() -> HeaderMap {
        auth(&format!("Basic {}", b64("k:")))
    }

    fn get(sim: &Sim, path: &str, query: &str) -> Answer {
        sim.answer(path, (!query.is_empty()).then_some(query), &key())
    }

    fn ids(a: &Answer) -> Vec<u64> {
        a.body.as_array().unwrap().iter().map(id_of).collect()
    }

    #[test]
    fn basic_auth_takes_the_key_as_user_name() {
        let sim = Sim::new(Size::Small, "k", false);
        let unauthorized = json!({"message": "Invalid Basic Auth credentials"});
        let no_header = sim.answer("/v1/users", None, &HeaderMap::new());
        assert_eq!((no_header.status, &no_header.body), (401, &unauthorized));
        for bad in [
            format!("Basic {}", b64("other:")),
            format!("Bearer {}", b64("k:")),
            "Basic !!!".to_owned(),
            "Basic".to_owned(),
        ] {
            let a = sim.answer("/v1/users", None, &auth(&bad));
            assert_eq!((a.status, &a.body), (401, &unauthorized), "{bad}");
        }
        for good in [
            format!("Basic {}", b64("k:")),
            format!("basic {}", b64("k:")),
            format!("BASIC  {}", b64("k:ignored-password")),
            format!("Basic {}", b64("k")),
        ] {
            assert_eq!(
                sim.answer("/v1/users", None, &auth(&good)).status,
                200,
                "{good}"
            );
        }
        // On-Behalf-Of is ignored on reads; every path of section 4, with or without a slash
        let mut h = key();
        h.insert("on-behalf-of", HeaderValue::from_static("4080001"));
        for r in RESOURCES {
            assert_eq!(sim.answer(&format!("/v1/{r}"), None, &h).status, 200, "{r}");
            assert_eq!(
                sim.answer(&format!("/v1/{r}/"), None, &h).status,
                200,
                "{r}/"
            );
        }
        assert_eq!(get(&sim, "/v1/nothing", "").status, 404);
        sim.forbidden.lock().unwrap().insert("offers".into());
        let a = get(&sim, "/v1/offers", "");
        assert_eq!(
            (a.status, a.body),
            (
                403,
                json!({"message": "This API Key does not have permission for this endpoint"})
            )
        );
    }

    #[test]
    fn paging_parameters_are_validated_with_422() {
        let sim = Sim::new(Size::Small, "k", false);
        let body = |field: &str| json!({"message": "Validation error", "errors": [{"message": "Must be between 1 and 500", "field": field}]});
        for (q, field) in [
            ("per_page=0", "per_page"),
            ("per_page=501", "per_page"),
            ("per_page=abc", "per_page"),
            ("per_page=2.5", "per_page"),
            ("per_page=", "per_page"),
            ("page=0", "page"),
            ("page=-1", "page"),
            ("page=two", "page"),
            ("updated_after=yesterday", "updated_after"),
            ("updated_before=2024-13-01T00:00:00Z", "updated_before"),
            ("created_after=2024-02-30", "created_after"),
            ("created_before=2024-01-01T25:00:00Z", "created_before"),
        ] {
            let a = get(&sim, "/v1/candidates", q);
            assert_eq!((a.status, a.body), (422, body(field)), "{q}");
        }
        let a = get(&sim, "/v1/applications", "last_activity_after=soon");
        assert_eq!((a.status, a.body), (422, body("last_activity_after")));
        // applications ignore updated_after, even a malformed one; unknown parameters too
        assert_eq!(
            get(&sim, "/v1/applications", "updated_after=soon&foo=bar").status,
            200
        );
        assert_eq!(
            get(&sim, "/v1/candidates", "per_page=500&page=1").status,
            200
        );
        assert_eq!(
            get(&sim, "/v1/candidates", "per_page=1&page=99").body,
            json!([])
        );
        // a default of 100 per page
        let sim = Sim::new(Size::Full, "k", false);
        assert_eq!(ids(&get(&sim, "/v1/candidates", "")).len(), 100);
    }

    #[test]
    fn link_headers_name_the_production_host_with_page_and_per_page_first() {
        let sim = Sim::new(Size::Full, "k", false);
        let total = sim.data.read().unwrap().candidates.len(); // 600
        assert_eq!(total, 600);
        let q = "updated_after=2023-01-01T00%3A00%3A00Z&per_page=250&foo=a+b";
        let first = get(&sim, "/v1/candidates", q);
        let base = "https://harvest.greenhouse.io/v1/candidates";
        let rest = "&updated_after=2023-01-01T00%3A00%3A00Z&foo=a+b";
        assert_eq!(
            first.header("link").unwrap(),
            format!(
                "<{base}?page=2&per_page=250{rest}>; rel=\"next\", <{base}?page=3&per_page=250{rest}>; rel=\"last\""
            )
        );
        let middle = get(&sim, "/v1/candidates", &format!("page=2&{q}"));
        assert_eq!(
            middle.header("link").unwrap(),
            format!(
                "<{base}?page=3&per_page=250{rest}>; rel=\"next\", <{base}?page=1&per_page=250{rest}>; rel=\"prev\", <{base}?page=3&per_page=250{rest}>; rel=\"last\""
            )
        );
        let last = get(&sim, "/v1/candidates", &format!("{q}&page=3"));
        assert_eq!(
            last.header("link").unwrap(),
            format!("<{base}?page=2&per_page=250{rest}>; rel=\"prev\"")
        );
        assert_eq!(ids(&last).len(), 100);
        // skip_count drops `last` only
        let skip = get(
            &sim,
            "/v1/candidates",
            "per_page=250&page=2&skip_count=true",
        );
        assert_eq!(
            skip.header("link").unwrap(),
            format!(
                "<{base}?page=3&per_page=250&skip_count=true>; rel=\"next\", <{base}?page=1&per_page=250&skip_count=true>; rel=\"prev\""
            )
        );
        // the default per_page is named; a trailing slash stays in the path
        let dflt = get(&sim, "/v1/candidates/", "");
        assert!(dflt.header("link").unwrap().starts_with(&format!(
            "<{base}/?page=2&per_page=100>; rel=\"next\", <{base}/?page=6&per_page=100>; rel=\"last\""
        )));
        // a single page and a page past the end carry none
        assert!(
            get(&sim, "/v1/candidates", "per_page=500&page=2")
                .header("link")
                .is_some()
        );
        assert!(get(&sim, "/v1/tags/candidate", "").header("link").is_none());
        let past = get(&sim, "/v1/candidates", "per_page=500&page=3");
        assert_eq!((past.body.clone(), past.header("link")), (json!([]), None));
        // 1000 applications end exactly on a full page of 500: page 2 has prev only
        let apps = get(&sim, "/v1/applications", "per_page=500&page=2");
        assert_eq!(ids(&apps).len(), 500);
        assert_eq!(
            apps.header("link").unwrap(),
            "<https://harvest.greenhouse.io/v1/applications?page=1&per_page=500>; rel=\"prev\""
        );
        // ascending ids, stable across pages
        let mut all = Vec::new();
        for p in 1..=3 {
            all.extend(ids(&get(
                &sim,
                "/v1/candidates",
                &format!("per_page=250&page={p}"),
            )));
        }
        assert!(all.windows(2).all(|w| w[0] < w[1]) && all.len() == 600);
    }

    #[test]
    fn time_filters_have_their_inclusivity() {
        let sim = Sim::new(Size::Full, "k", false);
        let d = sim.data.read().unwrap().clone();
        let t = d.candidates[10]["updated_at"].as_str().unwrap().to_owned();
        let at = parse_time(&t).unwrap();
        let count = |path: &str, q: &str| ids(&get(&sim, path, &format!("per_page=500&{q}"))).len();
        let n_after = d
            .candidates
            .iter()
            .filter(|c| parse_time(c["updated_at"].as_str().unwrap()).unwrap() >= at)
            .count();
        assert_eq!(
            count("/v1/candidates", &format!("updated_after={t}")),
            n_after.min(500)
        );
        let before = count("/v1/candidates", &format!("updated_before={t}"));
        assert_eq!(
            before + n_after,
            d.candidates.len(),
            "after inclusive, before exclusive"
        );
        // without milliseconds, and with an offset
        let secs = &t[..19];
        let n = d
            .candidates
            .iter()
            .filter(|c| parse_time(c["updated_at"].as_str().unwrap()).unwrap() >= at - at % 1000)
            .count();
        assert_eq!(
            count("/v1/candidates", &format!("updated_after={secs}Z")),
            n.min(500)
        );
        assert_eq!(
            parse_time("2024-01-01T01:00:00+01:00"),
            parse_time("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("2024-01-01T00:00:00.5Z"),
            Some(parse_time("2024-01-01").unwrap() + 500)
        );
        assert_eq!(
            iso_millis(parse_time("2024-02-29T23:59:59.999Z").unwrap()),
            "2024-02-29T23:59:59.999Z"
        );
        // applications: created_* on applied_at, last_activity_after inclusive
        let a = &d.applications[700];
        let la = a["last_activity_at"].as_str().unwrap();
        let n = d
            .applications
            .iter()
            .filter(|x| x["last_activity_at"].as_str().unwrap() >= la)
            .count();
        assert_eq!(
            count("/v1/applications", &format!("last_activity_after={la}")),
            n.min(500)
        );
        let ap = a["applied_at"].as_str().unwrap();
        let n = d
            .applications
            .iter()
            .filter(|x| x["applied_at"].as_str().unwrap() < ap)
            .count();
        assert_eq!(
            count(
                "/v1/applications",
                &format!("created_before={ap}&per_page=500&page=2")
            ) + 500.min(n),
            n
        );
        // statuses; an unknown one is []
        for s in ["active", "converted", "hired", "rejected"] {
            let n = d.applications.iter().filter(|x| x["status"] == s).count();
            assert!(n > 0, "{s}");
            assert_eq!(
                count("/v1/applications", &format!("status={s}")),
                n.min(500),
                "{s}"
            );
        }
        assert_eq!(count("/v1/applications", "status=withdrawn"), 0);
        // job posts: active=false lists only the deleted ones
        let deleted = d.job_posts.iter().filter(|p| p["active"] == false).count();
        assert!(deleted > 0);
        assert_eq!(count("/v1/job_posts", "active=false"), deleted);
        assert_eq!(
            count("/v1/job_posts", "active=true"),
            d.job_posts.len() - deleted
        );
        // rejection reasons: custom ones, and the defaults on request
        assert_eq!(count("/v1/rejection_reasons", ""), CUSTOM_REASONS.len());
        let all = get(&sim, "/v1/rejection_reasons", "include_defaults=true");
        assert_eq!(
            ids(&all).len(),
            CUSTOM_REASONS.len() + DEFAULT_REASONS.len()
        );
        assert!(ids(&all).windows(2).all(|w| w[0] < w[1]));
        // users' custom fields only with user_attributes=true
        assert!(
            get(&sim, "/v1/users", "").body[0]
                .get("custom_fields")
                .is_none()
        );
        assert!(
            get(&sim, "/v1/users", "user_attributes=true").body[0]["custom_fields"].is_object()
        );
    }

    #[test]
    fn rate_limit_headers_and_429() {
        let sim = Sim::new(Size::Small, "k", true);
        for n in 1..=RATE_LIMIT {
            let a = get(&sim, "/v1/jobs", "");
            assert_eq!(a.status, 200);
            assert_eq!(a.header("x-ratelimit-limit"), Some("50"));
            assert_eq!(
                a.header("x-ratelimit-remaining"),
                Some((RATE_LIMIT - n).to_string().as_str())
            );
        }
        for _ in 0..3 {
            let a = get(&sim, "/v1/jobs", "");
            assert_eq!(
                (a.status, &a.body),
                (429, &json!({"message": "Too Many Requests"}))
            );
            let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=10).contains(&retry), "{retry}");
            let reset: u64 = a.header("x-ratelimit-reset").unwrap().parse().unwrap();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            assert!(reset >= now && reset <= now + 11, "{reset} vs {now}");
            assert!(
                a.header("x-ratelimit-limit").is_none()
                    && a.header("x-ratelimit-remaining").is_none()
            );
        }
        assert_eq!(sim.rate_limited.load(Ordering::Relaxed), 3);
        // 429s are not counted: the window holds exactly the 50 requests
        assert_eq!(lock(&sim.limiter.seen)["k"].len(), RATE_LIMIT);
        // unauthenticated requests are not counted either, and get their 401
        assert_eq!(sim.answer("/v1/jobs", None, &HeaderMap::new()).status, 401);
        // switched off: no limit and no headers
        sim.limits.store(false, Ordering::Relaxed);
        let a = get(&sim, "/v1/jobs", "");
        assert_eq!(a.status, 200);
        assert!(a.header("x-ratelimit-remaining").is_none());
        assert_eq!(sim.requests.load(Ordering::Relaxed), 55);
        assert_eq!(sim.requests_seen().len(), 55);
    }

    #[test]
    fn deletions_cascade_as_decided() {
        let mut d = dataset(Size::Full);
        let with_interview = &d.scheduled_interviews[0]["application_id"];
        let app = d
            .applications
            .iter()
            .find(|a| &a["id"] == with_interview)
            .unwrap();
        let job = app["jobs"][0]["id"].as_u64().unwrap();
        let apps: Vec<u64> = d
            .applications
            .iter()
            .filter(|a| a["jobs"][0]["id"] == job)
            .map(id_of)
            .collect();
        assert!(d.job_posts.iter().any(|p| p["job_id"] == job));
        assert!(
            d.scheduled_interviews
                .iter()
                .any(|i| apps.contains(&i["application_id"].as_u64().unwrap()))
        );
        assert!(d.delete("jobs", job));
        assert!(!d.delete("jobs", job));
        assert!(d.job_stages.iter().all(|s| s["job_id"] != job));
        assert!(d.job_posts.iter().all(|p| p["job_id"] != job));
        assert!(d.applications.iter().all(|a| !apps.contains(&id_of(a))));
        assert!(
            d.scheduled_interviews
                .iter()
                .all(|i| !apps.contains(&i["application_id"].as_u64().unwrap()))
        );
        assert!(d.offers.iter().all(|o| o["job_id"] != job));

        let cand = d.offers[0]["candidate_id"].as_u64().unwrap();
        assert!(d.delete("candidates", cand));
        assert!(d.applications.iter().all(|a| a["candidate_id"] != cand));
        assert!(d.offers.iter().all(|o| o["candidate_id"] != cand));

        let post = d
            .job_posts
            .iter()
            .find(|p| p["live"] == true)
            .map(id_of)
            .unwrap();
        let n = d.job_posts.len();
        assert!(d.delete("job_posts", post));
        let p = d.job_posts.iter().find(|p| id_of(p) == post).unwrap();
        assert_eq!(
            (d.job_posts.len(), &p["active"], &p["live"]),
            (n, &json!(false), &json!(false))
        );
        assert!(p["updated_at"].as_str().unwrap() > "2025");
    }

    #[test]
    fn candidates_embed_their_current_applications() {
        let sim = Sim::new(Size::Small, "k", false);
        let page = get(&sim, "/v1/candidates", "");
        let c = &page.body[1];
        let apps = c["applications"].as_array().unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(c["application_ids"], json!([apps[0]["id"], apps[1]["id"]]));
        let gone = id_of(&apps[0]);
        sim.data.write().unwrap().delete("applications", gone);
        let c = &get(&sim, "/v1/candidates", "").body[1];
        assert_eq!(c["application_ids"].as_array().unwrap().len(), 1);
    }

    fn variety(d: &Dataset) {
        for (name, rows) in [
            ("users", &d.users),
            ("jobs", &d.jobs),
            ("job_posts", &d.job_posts),
            ("job_stages", &d.job_stages),
            ("candidates", &d.candidates),
            ("tags", &d.tags),
            ("applications", &d.applications),
            ("scheduled_interviews", &d.scheduled_interviews),
            ("offers", &d.offers),
            ("rejection_reasons", &d.rejection_reasons),
        ] {
            let ids: Vec<u64> = rows.iter().map(id_of).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{name} ascending");
            assert!(!ids.is_empty() && ids[0] > 0, "{name}");
        }
        let statuses: HashSet<&str> = d
            .jobs
            .iter()
            .map(|j| j["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["open", "closed", "draft"].into());
        assert!(d.jobs.iter().any(|j| j["is_template"] == true));
        for j in &d.jobs {
            for r in ["hiring_managers", "recruiters", "coordinators", "sourcers"] {
                assert!(j["hiring_team"][r].is_array());
            }
        }
        assert!(
            d.jobs
                .iter()
                .any(|j| j["custom_fields"].get("employment_type").is_some())
        );
        assert!(d.job_posts.iter().any(|p| p["active"] == false));
        assert!(
            d.job_posts
                .iter()
                .any(|p| p["active"] == true && p["live"] == false)
        );
        assert!(d.job_posts.iter().any(|p| p["job_id"].is_null()));
        let types: HashSet<&str> = d
            .job_posts
            .iter()
            .flat_map(|p| p["questions"].as_array().unwrap().iter())
            .filter(|q| q["name"].as_str().unwrap().starts_with("question_"))
            .map(|q| q["type"].as_str().unwrap())
            .collect();
        assert_eq!(types.len(), 6, "{types:?}");
        for p in &d.job_posts {
            let names: Vec<&str> = p["questions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                names[..6],
                [
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "resume",
                    "cover_letter"
                ]
            );
        }
        let tags: HashSet<&str> = d.tags.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert!(
            d.candidates
                .iter()
                .any(|c| !c["tags"].as_array().unwrap().is_empty())
        );
        for c in &d.candidates {
            for t in c["tags"].as_array().unwrap() {
                assert!(tags.contains(t.as_str().unwrap()));
            }
        }
        assert!(
            d.candidates
                .iter()
                .any(|c| c["email_addresses"].as_array().unwrap().len() >= 2)
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["email_addresses"].as_array().unwrap().is_empty())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["phone_numbers"].as_array().unwrap().len() >= 2)
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| c["phone_numbers"].as_array().unwrap().is_empty())
        );
        assert!(
            d.candidates
                .iter()
                .any(|c| !c["first_name"].as_str().unwrap().is_ascii())
        );
        for s in ["active", "converted", "hired", "rejected"] {
            assert!(d.applications.iter().any(|a| a["status"] == s), "{s}");
        }
        for a in &d.applications {
            assert!(a["source"].is_object());
            if a["prospect"] == true {
                assert!(a["current_stage"].is_null() && a["jobs"].as_array().unwrap().len() <= 1);
            }
            if a["status"] == "rejected" {
                assert!(a["rejection_reason"].is_object() && a["rejected_at"].is_string());
            }
        }
        // a converted prospect is followed by the regular application, with its source
        for (i, a) in d.applications.iter().enumerate() {
            if a["status"] == "converted" {
                let next = &d.applications[i + 1];
                assert_eq!(
                    (&next["prospect"], &next["candidate_id"], &next["source"]),
                    (&json!(false), &a["candidate_id"], &a["source"])
                );
            }
        }
        let used: HashSet<u64> = d
            .applications
            .iter()
            .filter_map(|a| a["rejection_reason"]["id"].as_u64())
            .collect();
        assert!(used.iter().any(|id| *id < 1000) && used.iter().any(|id| *id > 1000));
        let offer_statuses: HashSet<&str> = d
            .offers
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            offer_statuses,
            ["unresolved", "accepted", "rejected", "deprecated"].into()
        );
        for (i, o) in d.offers.iter().enumerate() {
            if o["status"] == "deprecated" {
                let newer = &d.offers[i + 1];
                assert_eq!(newer["application_id"], o["application_id"]);
                assert!(newer["version"].as_u64() > o["version"].as_u64());
            }
        }
        let user_ids: HashSet<u64> = d.users.iter().map(id_of).collect();
        let stage_of_job: HashMap<u64, Vec<&Value>> =
            d.job_stages.iter().fold(HashMap::new(), |mut m, s| {
                m.entry(s["job_id"].as_u64().unwrap()).or_default().push(s);
                m
            });
        for iv in &d.scheduled_interviews {
            let app = d
                .applications
                .iter()
                .find(|a| a["id"] == iv["application_id"])
                .unwrap();
            let job = app["jobs"][0]["id"].as_u64().unwrap();
            assert!(stage_of_job[&job].iter().any(|s| {
                s["interviews"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["id"] == iv["interview"]["id"])
            }));
            for u in iv["interviewers"].as_array().unwrap() {
                assert!(user_ids.contains(&u["id"].as_u64().unwrap()));
            }
        }
        assert!(
            d.scheduled_interviews
                .iter()
                .any(|i| i["interviewers"].as_array().unwrap().len() >= 2)
        );
    }

    #[test]
    fn full_dataset_has_the_promised_variety() {
        let d = dataset(Size::Full);
        assert_eq!(
            (d.jobs.len(), d.candidates.len(), d.applications.len()),
            (60, 600, 1000)
        );
        variety(&d);
        assert!(
            d.scheduled_interviews
                .iter()
                .any(|i| i["start"].get("date").is_some())
        );
        assert!(
            d.candidates
                .iter()
                .flat_map(|c| c["social_media_addresses"].as_array().unwrap())
                .any(|s| !s["value"].as_str().unwrap().contains('/'))
        );
        let unused = DEFAULT_REASONS
            .iter()
            .filter(|r| !USED_REASONS.contains(&r.0))
            .count();
        assert!(unused > 0);
        let emp: HashSet<&str> = d
            .jobs
            .iter()
            .filter_map(|j| j["custom_fields"]["employment_type"].as_str())
            .collect();
        assert_eq!(emp.len(), 5);
        assert_eq!(
            dataset(Size::Full).candidates,
            d.candidates,
            "deterministic"
        );
    }

    #[test]
    fn small_dataset_is_small_and_varied() {
        let d = dataset(Size::Small);
        assert_eq!(
            (d.jobs.len(), d.candidates.len(), d.applications.len()),
            (5, 6, 10)
        );
        variety(&d);
    }
}
