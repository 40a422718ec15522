//! A Lever Data API v1 simulator, as `vendor-apis/lever.md` (section 12, "Decisions for this
//! project") describes it.
//!
//! Every path of the notes' section 6 under `/v1` (a trailing slash is accepted); Basic auth
//! with the key as user name and an empty password, or a Bearer access token; `{"data": [...],
//! "hasNext", "next"}` envelopes with `limit` (1..100) and opaque percent-encoded offset tokens
//! (decoded once, or twice when sent re-encoded); opportunities newest first; epoch-millisecond
//! timestamps and filters; confidentiality; `expand=applications`; deactivated users on
//! request; application forms per posting; deleted lists fed by the deletion cascade; a
//! token-bucket rate limit (10/s, capacity 20) with `X-RateLimit-*` headers on every answer
//! (switchable). The dataset is generated deterministically.

use crate::{FIRST, LAST, Rng};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each, for snapshots: 4 users, 4 postings, 7 opportunities.
    Small,
    /// A realistic tenant: 40 users, 60 postings, 1,100 opportunities (exactly eleven full
    /// pages of 100), more than 1,000 applications, interviews and offers.
    Full,
}

/// Epoch milliseconds of 2023-01-01T00:00:00Z.
pub const BASE_MS: i64 = 1_672_531_200_000;

/// Epoch milliseconds `secs` after 2023-01-01, with a millisecond part that varies.
pub fn at(secs: u64) -> i64 {
    BASE_MS + secs as i64 * 1000 + ((secs * 7) % 1000) as i64
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The fixed stage ids Lever uses besides UUIDs (Decision 6).
pub const FIXED_STAGES: &[&str] = &[
    "lead-new",
    "lead-reached-out",
    "lead-responded",
    "applicant-new",
    "offer",
];

/// Posting states (Decision 11).
pub const POSTING_STATES: &[&str] = &[
    "published",
    "internal",
    "closed",
    "draft",
    "pending",
    "rejected",
];

/// Offer statuses (Decision 17).
pub const OFFER_STATUSES: &[&str] = &[
    "draft",
    "approval-sent",
    "approved",
    "sent",
    "sent-manually",
    "opened",
    "denied",
    "signed",
];

/// Application form field types (Decision 12).
pub const FIELD_TYPES: &[&str] = &[
    "text",
    "textarea",
    "dropdown",
    "multiple-choice",
    "multiple-select",
    "yes-no",
    "file-upload",
    "date",
    "university",
];

/// The access token accepted as `Authorization: Bearer` unless a test sets others.
pub const ACCESS_TOKEN: &str = "lever-sim-access-token";

/// The records the simulator serves.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `/v1/users`, deactivated ones included.
    pub users: Vec<Value>,
    /// `/v1/stages`, in pipeline order.
    pub stages: Vec<Value>,
    /// `/v1/archive_reasons`.
    pub archive_reasons: Vec<Value>,
    /// `/v1/postings`, confidential ones included.
    pub postings: Vec<Value>,
    /// `/v1/postings/{id}/apply` by posting id.
    pub forms: HashMap<String, Value>,
    /// `/v1/opportunities`, confidential ones included, each with its full application
    /// objects in `applications` (the list serves ids unless `expand=applications`).
    pub opportunities: Vec<Value>,
    /// `/v1/opportunities/{id}/interviews` by opportunity id.
    pub interviews: HashMap<String, Vec<Value>>,
    /// `/v1/opportunities/{id}/offers` by opportunity id.
    pub offers: HashMap<String, Vec<Value>>,
    /// `/v1/requisitions`.
    pub requisitions: Vec<Value>,
    /// `/v1/opportunities/deleted`.
    pub deleted_opportunities: Vec<Value>,
    /// `/v1/postings/deleted`.
    pub deleted_postings: Vec<Value>,
    /// `/v1/applications/deleted`.
    pub deleted_applications: Vec<Value>,
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn ms_of(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn arr_of<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

impl Dataset {
    /// Every application of every opportunity.
    pub fn applications(&self) -> impl Iterator<Item = &Value> {
        self.opportunities
            .iter()
            .flat_map(|o| arr_of(o, "applications").iter())
    }

    /// An opportunity by id.
    pub fn opportunity(&self, id: &str) -> Option<&Value> {
        self.opportunities.iter().find(|o| str_of(o, "id") == id)
    }

    /// A posting by id.
    pub fn posting(&self, id: &str) -> Option<&Value> {
        self.postings.iter().find(|p| str_of(p, "id") == id)
    }

    /// Opportunities in served order: `createdAt` descending, then `id` (Decision 5).
    pub fn opportunities_in_order(&self) -> Vec<&Value> {
        let mut v: Vec<&Value> = self.opportunities.iter().collect();
        v.sort_by(|a, b| {
            ms_of(b, "createdAt")
                .cmp(&ms_of(a, "createdAt"))
                .then_with(|| str_of(a, "id").cmp(str_of(b, "id")))
        });
        v
    }

    fn counted(&self, key: &str) -> Vec<Value> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for o in &self.opportunities {
            for t in arr_of(o, key) {
                if let Some(t) = t.as_str() {
                    *counts.entry(t).or_default() += 1;
                }
            }
        }
        counts
            .into_iter()
            .map(|(text, count)| json!({"text": text, "count": count}))
            .collect()
    }

    /// `/v1/tags`: exactly the tags in use, with the number of opportunities carrying each
    /// (whatever their confidentiality), by text (Decision 15).
    pub fn tags(&self) -> Vec<Value> {
        self.counted("tags")
    }

    /// `/v1/sources`: the sources in use, with counts, by text.
    pub fn sources(&self) -> Vec<Value> {
        self.counted("sources")
    }

    /// Deletes an opportunity at `at` (epoch ms): gone from every list, listed in
    /// `/opportunities/deleted`; its applications go to `/applications/deleted`; its
    /// interviews and offers go with it (Decision 18). False when the id is unknown.
    pub fn delete_opportunity(&mut self, id: &str, at: i64) -> bool {
        let Some(i) = self
            .opportunities
            .iter()
            .position(|o| str_of(o, "id") == id)
        else {
            return false;
        };
        let o = self.opportunities.remove(i);
        for a in arr_of(&o, "applications") {
            self.deleted_applications
                .push(json!({"id": a["id"], "deletedAt": at}));
        }
        self.deleted_opportunities
            .push(json!({"id": id, "deletedAt": at}));
        self.interviews.remove(id);
        self.offers.remove(id);
        true
    }

    /// Removes the applications of opportunity `oi` that `gone` selects (listing them in
    /// `/applications/deleted`) with the interviews naming their postings and the offers for
    /// them, and bumps the opportunity's `updatedAt`.
    fn drop_applications(&mut self, oi: usize, gone: impl Fn(&Value) -> bool, at: i64) -> bool {
        let o = &mut self.opportunities[oi];
        let oid = str_of(o, "id").to_owned();
        let Some(apps) = o.get_mut("applications").and_then(Value::as_array_mut) else {
            return false;
        };
        let (removed, kept): (Vec<Value>, Vec<Value>) = apps.drain(..).partition(|a| gone(a));
        *apps = kept;
        if removed.is_empty() {
            return false;
        }
        let left: HashSet<String> = apps
            .iter()
            .map(|a| str_of(a, "posting").to_owned())
            .collect();
        let lost: HashSet<String> = removed
            .iter()
            .map(|a| str_of(a, "posting").to_owned())
            .filter(|p| !left.contains(p))
            .collect();
        let confidential = apps.iter().any(|a| a["postingConfidential"] == true);
        o["confidentiality"] = json!(if confidential {
            "confidential"
        } else {
            "non-confidential"
        });
        o["updatedAt"] = json!(at);
        for a in &removed {
            self.deleted_applications
                .push(json!({"id": a["id"], "deletedAt": at}));
        }
        if let Some(ivs) = self.interviews.get_mut(&oid) {
            ivs.retain(|iv| {
                !arr_of(iv, "postings")
                    .iter()
                    .any(|p| p.as_str().is_some_and(|p| lost.contains(p)))
            });
        }
        if let Some(offers) = self.offers.get_mut(&oid) {
            offers.retain(|of| !lost.contains(str_of(of, "posting")));
        }
        true
    }

    /// Deletes a posting at `at`: listed in `/postings/deleted`; its applications are deleted
    /// (listed in `/applications/deleted`) with the interviews naming it and the offers for
    /// it; the opportunities stay, with fewer applications and `updatedAt` bumped
    /// (Decision 18). False when the id is unknown.
    pub fn delete_posting(&mut self, id: &str, at: i64) -> bool {
        let Some(i) = self.postings.iter().position(|p| str_of(p, "id") == id) else {
            return false;
        };
        self.postings.remove(i);
        self.forms.remove(id);
        self.deleted_postings
            .push(json!({"id": id, "deletedAt": at}));
        for oi in 0..self.opportunities.len() {
            self.drop_applications(oi, |a| str_of(a, "posting") == id, at);
        }
        true
    }

    /// Deletes one application at `at`: listed in `/applications/deleted`, gone from its
    /// opportunity (whose `updatedAt` is bumped) with the interviews and offers that only its
    /// posting justified. False when the id is unknown.
    pub fn delete_application(&mut self, id: &str, at: i64) -> bool {
        let Some(oi) = self.opportunities.iter().position(|o| {
            arr_of(o, "applications")
                .iter()
                .any(|a| str_of(a, "id") == id)
        }) else {
            return false;
        };
        self.drop_applications(oi, |a| str_of(a, "id") == id, at)
    }
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

/// Lower-case ASCII for e-mail local parts and URLs.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let t = match c {
            'a'..='z' | '0'..='9' => {
                out.push(c);
                continue;
            }
            'ä' | 'á' | 'à' | 'â' | 'ã' | 'å' => "a",
            'æ' => "ae",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' | 'ē' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ł' => "l",
            'ñ' => "n",
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
            'ś' => "s",
            'ß' => "ss",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            _ => "",
        };
        out.push_str(t);
    }
    if out.is_empty() { "x".into() } else { out }
}

const DAY: u64 = 86_400;

const STAGE_NAMES: &[(&str, &str)] = &[
    ("lead-new", "New lead"),
    ("lead-reached-out", "Reached out"),
    ("lead-responded", "Responded"),
    ("applicant-new", "New applicant"),
    ("", "Recruiter screen"),
    ("", "Phone interview"),
    ("", "On-site interview"),
    ("", "Hiring-manager review · final"),
    ("offer", "Offer"),
];
const OFFER_STAGE: usize = 8;
const FIRST_INTERVIEW_STAGE: usize = 4;

/// `(text, type, status)`; exactly one `hired` (Decision 14).
const ARCHIVE_REASONS: &[(&str, &str, &str)] = &[
    ("Underqualified", "non-hired", "active"),
    ("Withdrew", "non-hired", "active"),
    ("Timing", "non-hired", "active"),
    ("Hired", "hired", "active"),
    ("Position filled", "non-hired", "active"),
    ("Compensation expectations", "non-hired", "active"),
    ("Keine Arbeitserlaubnis", "non-hired", "active"),
    ("Unresponsive", "non-hired", "inactive"),
    ("Duplicate", "non-hired", "inactive"),
];
const HIRED: usize = 3;
const WITHDREW: usize = 1;

const ROLES: &[&str] = &[
    "super admin",
    "admin",
    "team member",
    "limited team member",
    "interviewer",
];
const JOB_TITLES: &[&str] = &[
    "Recruiter",
    "Engineering Manager",
    "Staff Engineer",
    "Head of People",
    "Designer",
    "Talent Coordinator",
];
const POSTING_TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Ingénieur·e logiciel",
    "Lagerist (m/w/d)",
    "Product Designer",
    "Data Analyst",
    "Site Reliability Engineer",
    "Account Executive — DACH",
    "Support Specialist",
    "Finance Controller",
    "Talent Partner",
];
const COMMITMENTS: &[Option<&str>] = &[
    Some("Full-time"),
    Some("Part-time"),
    Some("Contract"),
    Some("Internship"),
    Some("Seasonal"),
    Some("Full-time"),
    None,
    Some("Temporary"),
];
const DEPARTMENTS: &[Option<&str>] = &[
    Some("R&D"),
    Some("Operations"),
    Some("People"),
    Some("Finance & Légal"),
    None,
];
const TEAMS: &[Option<&str>] = &[
    Some("Platform"),
    Some("Warehouse"),
    Some("Design"),
    Some("Go-to-market"),
    None,
    Some("Data"),
];
const LEVELS: &[Option<&str>] = &[
    Some("Senior"),
    Some("Mid"),
    Some("Junior"),
    None,
    Some("Lead"),
];
/// `(categories.location, country)`.
const LOCATIONS: &[(&str, Option<&str>)] = &[
    ("Lisbon", Some("PT")),
    ("São Paulo", Some("BR")),
    ("Kraków", Some("PL")),
    ("Remote — EMEA", None),
    ("Berlin, Germany", Some("DE")),
    ("New York, NY", Some("US")),
    ("Tōkyō", Some("JP")),
];
const WORKPLACE: &[&str] = &["unspecified", "on-site", "remote", "hybrid"];
const CURRENCIES: &[&str] = &["EUR", "BRL", "PLN", "USD", "JPY"];
const POSTING_TAGS: &[&[&str]] = &[&[], &["rust"], &["hourly", "warehouse"], &["remote-ok"]];

const COMPANIES: &[Option<&str>] = &[
    Some("Ferrovia Data"),
    Some("Nordhavn ApS"),
    None,
    Some("Café Lumière"),
    Some("北京数据"),
    None,
    Some("Łódź Robotics"),
];
const SCHOOLS: &[&str] = &["U. Porto", "TU München", "USP", "Jagiellonian University"];
const CITIES: &[&str] = &[
    "Lisbon",
    "São Paulo",
    "Kraków",
    "Berlin",
    "Brooklyn, NY",
    "Ōsaka",
];
const PHONE_TYPES: &[&str] = &["mobile", "home", "work", "skype", "other"];
const DOMAINS: &[&str] = &["mailbox.pt", "example.org", "posteo.de", "gmail.test"];
const OPP_TAGS: &[&str] = &[
    "rust",
    "referral",
    "relocation-ok",
    "night-shift",
    "C++",
    "São Paulo",
    "senior",
    "bilingüe",
    "boomerang",
];
const SOURCE_SETS: &[&[&str]] = &[
    &[],
    &["LinkedIn"],
    &["Referral"],
    &["Agentur Müller", "Indeed"],
    &["Career site"],
    &["LinkedIn", "Meetup Lisboa"],
];
const ORIGINS: &[&str] = &[
    "applied",
    "sourced",
    "referred",
    "agency",
    "university",
    "internal",
];
const SUBJECTS: &[&str] = &[
    "Recruiter screen",
    "Systems design",
    "Pair programming",
    "Entrevista com a equipa",
    "Culture add",
    "Case study",
];
const TIMEZONES: &[&str] = &[
    "Europe/Lisbon",
    "America/Sao_Paulo",
    "Europe/Warsaw",
    "America/New_York",
    "Asia/Tokyo",
];
const IV_LOCATIONS: &[Option<&str>] = &[
    Some("https://meet.example/abc-defg-hij"),
    Some("Room Ørsted, Lisbon office"),
    None,
    Some("https://zoom.example/j/9912345"),
];

/// The question forms a posting may carry: `(title, [(field text, type, required)])`.
/// A question form field: `(text, type, required)`.
type Field = (&'static str, &'static str, bool);

const FORMS: &[(&str, &[Field])] = &[
    (
        "Work authorisation",
        &[
            ("Are you authorised to work in the EU?", "yes-no", true),
            ("Which visa do you hold?", "dropdown", false),
            ("Earliest start date", "date", false),
        ],
    ),
    (
        "Engineering questions",
        &[
            ("Which languages do you use daily?", "multiple-select", true),
            ("Describe a system you built", "textarea", true),
            ("GitHub or portfolio link", "text", false),
        ],
    ),
    (
        "Education",
        &[
            ("University", "university", false),
            ("Highest degree", "multiple-choice", true),
            ("Transcript", "file-upload", false),
        ],
    ),
    (
        "Logistik",
        &[
            ("Staplerschein vorhanden?", "yes-no", true),
            ("Bevorzugte Schicht", "multiple-choice", true),
            ("Anmerkungen", "textarea", false),
        ],
    ),
    (
        "Salary expectations",
        &[
            ("Expected yearly salary", "text", true),
            ("Currency", "dropdown", true),
        ],
    ),
    (
        "Diversity (optional)",
        &[("How did you hear about us?", "multiple-select", false)],
    ),
];

fn options_for(field: &str) -> &'static [&'static str] {
    match field {
        "Which visa do you hold?" => &["EU Blue Card", "Schengen work visa", "None", "Other"],
        "Which languages do you use daily?" => &["Rust", "Go", "TypeScript", "C++", "Python"],
        "Highest degree" => &["Bachelor", "Master", "PhD", "None"],
        "Bevorzugte Schicht" => &["Früh", "Spät", "Nacht"],
        "Currency" => &["EUR", "BRL", "PLN", "USD"],
        _ => &["LinkedIn", "A friend", "Meetup", "Other"],
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Active,
    Hired,
    Rejected,
    Withdrew,
}

const FATES: &[Fate] = &[
    Fate::Active,
    Fate::Hired,
    Fate::Active,
    Fate::Rejected,
    Fate::Active,
    Fate::Withdrew,
    Fate::Active,
    Fate::Active,
    Fate::Rejected,
    Fate::Active,
];

fn person(u: &Value) -> (String, String) {
    (str_of(u, "id").to_owned(), str_of(u, "name").to_owned())
}

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let mut rng = Rng::new(0x004c_4556_4552);
    // generated counts; a few are deleted again at the end (so the deleted lists have rows)
    let (n_users, n_postings, n_opps) = match size {
        Size::Small => (4, 4, 8),
        Size::Full => (40, 62, 1106),
    };
    let mut d = Dataset::default();

    // users
    for i in 0..n_users {
        let (f, l) = (FIRST[(i * 3) % FIRST.len()], LAST[(i * 5 + 1) % LAST.len()]);
        let name = match i % 13 {
            2 => "María José García".to_owned(),
            9 => "Cher".to_owned(),
            _ => format!("{f} {l}"),
        };
        let created = at(i as u64 * 3 * DAY + 3_600);
        let deactivated = i % 7 == 3;
        d.users.push(json!({
            "id": uuid(&mut rng), "name": name, "username": format!("{}{}", slug(f), i),
            "email": format!("{}.{}{}@northwind.dev", slug(f), slug(l), i),
            "accessRole": ROLES[i % ROLES.len()],
            "photo": if i % 4 == 0 { json!(format!("https://lever-photos.example/u{i}.png")) } else { Value::Null },
            "createdAt": created,
            "deactivatedAt": if deactivated { json!(created + 200 * DAY as i64 * 1000) } else { Value::Null },
            "externalDirectoryId": if i % 3 == 0 { json!(format!("EMP-{:05}", 700 + i)) } else { Value::Null },
            "linkedContactIds": if i % 5 == 1 { json!([uuid(&mut rng)]) } else { Value::Null },
            "jobTitle": if i % 6 == 5 { Value::Null } else { json!(JOB_TITLES[i % JOB_TITLES.len()]) },
            "managerId": Value::Null,
        }));
    }
    for i in 1..n_users {
        let m = d.users[(i - 1) / 4]["id"].clone();
        d.users[i]["managerId"] = m;
    }
    let active_users: Vec<(String, String, String)> = d
        .users
        .iter()
        .filter(|u| u["deactivatedAt"].is_null())
        .map(|u| {
            let (id, name) = person(u);
            (id, name, str_of(u, "email").to_owned())
        })
        .collect();
    let uid = |i: usize| active_users[i % active_users.len()].0.clone();

    // stages and archive reasons
    for (slug_id, text) in STAGE_NAMES {
        let id = if slug_id.is_empty() {
            uuid(&mut rng)
        } else {
            (*slug_id).to_owned()
        };
        d.stages.push(json!({"id": id, "text": text}));
    }
    let stage_id = |d: &Dataset, i: usize| str_of(&d.stages[i], "id").to_owned();
    for (text, kind, status) in ARCHIVE_REASONS {
        d.archive_reasons
            .push(json!({"id": uuid(&mut rng), "text": text, "status": status, "type": kind}));
    }
    let reason_id = |d: &Dataset, i: usize| str_of(&d.archive_reasons[i], "id").to_owned();

    // question forms, shared by several postings (their field ids are the same on each)
    let forms: Vec<Value> = FORMS
        .iter()
        .map(|(title, fields)| {
            let fields: Vec<Value> = fields
                .iter()
                .map(|(text, kind, required)| {
                    let mut f = json!({
                        "id": uuid(&mut rng), "text": text, "type": kind, "required": required,
                        "description": if *kind == "file-upload" { json!("PDF, at most 5 MB") } else { json!("") },
                        "prompt": Value::Null, "value": Value::Null,
                    });
                    if matches!(*kind, "dropdown" | "multiple-choice" | "multiple-select") {
                        f["options"] = options_for(text)
                            .iter()
                            .map(|o| json!({"text": o}))
                            .collect();
                    }
                    f
                })
                .collect();
            json!({"id": uuid(&mut rng), "text": title, "fields": fields, "distribution": []})
        })
        .collect();

    // postings
    let state_cycle = [0, 0, 1, 2, 0, 3, 4, 5, 1, 0, 2];
    for i in 0..n_postings {
        let id = uuid(&mut rng);
        let state = POSTING_STATES[state_cycle[i % state_cycle.len()]];
        let channels = match state {
            "published" => json!(["public", "internal"]),
            "internal" => json!(["internal"]),
            "closed" if i % 2 == 0 => json!(["public", "internal"]),
            _ => Value::Null,
        };
        let (loc, country) = LOCATIONS[i % LOCATIONS.len()];
        let mut all_locations = vec![json!(loc)];
        if i % 5 == 2 {
            all_locations.push(json!(LOCATIONS[(i + 1) % LOCATIONS.len()].0));
        }
        let created = at(10 * DAY + i as u64 * 3 * DAY + 1_234);
        let req = match i % 4 {
            0 => (
                json!(format!("REQ-{}", 100 + i)),
                json!([format!("REQ-{}", 100 + i)]),
            ),
            1 => (Value::Null, json!([format!("REQ-{}", 100 + i)])),
            _ => (Value::Null, json!([])),
        };
        let title = POSTING_TITLES[i % POSTING_TITLES.len()];
        let salary = if i % 3 == 0 {
            json!({"min": 40_000 + i * 1_000, "max": 60_000 + i * 1_500, "currency": CURRENCIES[i % CURRENCIES.len()], "interval": "per-year-salary"})
        } else {
            Value::Null
        };
        d.postings.push(json!({
            "id": id, "text": title, "state": state, "distributionChannels": channels,
            "user": uid(i), "owner": uid(i + 1),
            "hiringManager": if i % 5 == 3 { Value::Null } else { json!(uid(i + 2)) },
            "confidentiality": if i % 9 == 1 { "confidential" } else { "non-confidential" },
            "categories": {
                "commitment": COMMITMENTS[i % COMMITMENTS.len()], "department": DEPARTMENTS[i % DEPARTMENTS.len()],
                "level": LEVELS[i % LEVELS.len()], "location": loc, "team": TEAMS[i % TEAMS.len()],
                "allLocations": all_locations,
            },
            "tags": POSTING_TAGS[i % POSTING_TAGS.len()],
            "content": {
                "description": format!("{title}: join Northwind and own the work end to end."),
                "descriptionHtml": format!("<div><b>{title}</b>: join Northwind and own the work end to end.</div>"),
                "lists": if i % 6 == 5 { json!([]) } else { json!([
                    {"text": "Requirements", "content": "<li>Curiosity</li><li>Três anos de experiência</li>"},
                    {"text": "Benefits", "content": "<li>Remote budget</li>"}]) },
                "closing": if i % 2 == 0 { "We hire without regard to background." } else { "" },
                "closingHtml": if i % 2 == 0 { "<div>We hire without regard to background.</div>" } else { "" },
            },
            "country": country, "followers": [uid(i), uid(i + 3)],
            "reqCode": req.0, "requisitionCodes": req.1,
            "urls": {"list": "https://jobs.lever.co/northwind", "show": format!("https://jobs.lever.co/northwind/{id}"),
                     "apply": format!("https://jobs.lever.co/northwind/{id}/apply")},
            "createdAt": created, "updatedAt": created + ((i % 11) as i64 + 1) * DAY as i64 * 1000 + 17,
            "workplaceType": WORKPLACE[i % WORKPLACE.len()], "salaryRange": salary,
            "salaryDescription": if i % 3 == 0 { "Plus equity." } else { "" },
            "salaryDescriptionHtml": if i % 3 == 0 { "<div>Plus equity.</div>" } else { "" },
        }));
        let custom: Vec<Value> = if i % 4 == 2 {
            vec![]
        } else if i % 3 == 0 {
            vec![
                forms[i % forms.len()].clone(),
                forms[(i + 1) % forms.len()].clone(),
            ]
        } else {
            vec![forms[i % forms.len()].clone()]
        };
        d.forms.insert(
            id.clone(),
            json!({
                "id": id, "text": title, "customQuestions": custom,
                "personalInformation": [{"name": "fullName", "required": true}, {"name": "email", "required": true},
                                        {"name": "phone", "required": false}, {"name": "resume", "required": i % 2 == 0}],
                "urls": [{"name": "LinkedIn", "required": false}, {"name": "GitHub", "required": false}],
                "eeoQuestions": {},
            }),
        );
    }
    // requisitions, one per requisition code
    for (i, p) in d.postings.iter().enumerate() {
        for code in arr_of(p, "requisitionCodes") {
            d.requisitions.push(json!({
                "id": uuid(&mut rng), "requisitionCode": code, "name": p["text"], "backfill": i % 8 == 1,
                "confidentiality": p["confidentiality"], "createdAt": ms_of(p, "createdAt") - 5 * DAY as i64 * 1000,
                "creator": p["user"], "headcountHired": i % 2, "headcountTotal": 1 + i % 3,
                "hiringManager": p["hiringManager"], "owner": p["owner"],
                "status": if p["state"] == "closed" { "closed" } else { "open" },
                "postings": [p["id"]], "customFields": {}, "timeToFillStartAt": Value::Null,
            }));
        }
    }

    // opportunities with their applications, interviews and offers
    let mut prev_contact = String::new();
    let mut prev_created = 0i64;
    let mut panel = String::new();
    for k in 0..n_opps {
        let id = uuid(&mut rng);
        let contact = if k % 25 == 24 {
            prev_contact.clone()
        } else {
            uuid(&mut rng)
        };
        prev_contact = contact.clone();
        let (f, l) = (
            FIRST[(k * 7 + 3) % FIRST.len()],
            LAST[(k * 11 + 5) % LAST.len()],
        );
        let name = match (k % 53, k % 97) {
            (7, _) => format!("{f} Sofia {l}"),
            (_, 11) => f.to_owned(),
            _ => format!("{f} {l}"),
        };
        let created = if k % 50 == 49 {
            prev_created
        } else {
            at(30 * DAY + k as u64 * 21_600 + (k as u64 * 37) % 3_600)
        };
        prev_created = created;
        let n_apps = if k % 20 == 6 {
            0
        } else if k % 12 == 2 {
            2
        } else {
            1
        };
        let mut fate = FATES[k % FATES.len()];
        if n_apps == 0 && fate == Fate::Hired {
            fate = Fate::Rejected;
        }
        let stage_index = match fate {
            Fate::Hired => OFFER_STAGE,
            _ if n_apps == 0 => k % 3,
            Fate::Active => 3 + (k * 5 + 3) % 6,
            _ => 3 + (k * 3) % 5,
        };
        let day_ms = DAY as i64 * 1000;
        let updated = created + (3 + (k % 40) as i64) * day_ms + 311;
        let archived = match fate {
            Fate::Active => Value::Null,
            Fate::Hired => json!({"reason": reason_id(&d, HIRED), "archivedAt": updated - day_ms}),
            Fate::Withdrew => {
                json!({"reason": reason_id(&d, WITHDREW), "archivedAt": updated - day_ms})
            }
            Fate::Rejected => {
                let r = [0, 2, 4, 5, 6, 7, 8][k % 7];
                json!({"reason": reason_id(&d, r), "archivedAt": updated - day_ms})
            }
        };
        let phones: Vec<Value> = (0..k % 4)
            .map(|j| {
                json!({"type": PHONE_TYPES[(k + j) % PHONE_TYPES.len()],
                       "value": format!("+351 912 {:03} {:03}", k % 1000, (k * 7 + j) % 1000)})
            })
            .collect();
        let emails: Vec<Value> = (0..[1, 1, 2, 0, 1, 3][k % 6])
            .map(|j| {
                json!(format!(
                    "{}.{}{}{}@{}",
                    slug(f),
                    slug(l),
                    k,
                    if j == 0 {
                        String::new()
                    } else {
                        format!("+{j}")
                    },
                    DOMAINS[(k + j) % DOMAINS.len()]
                ))
            })
            .collect();
        let links: Vec<Value> = [
            format!("https://www.linkedin.com/in/{}-{k}", slug(l)),
            format!("https://github.com/{}{k}", slug(f)),
            format!("https://{}.dev/", slug(l)),
        ]
        .into_iter()
        .take(k % 4)
        .map(Value::from)
        .collect();
        let tags: Vec<&str> = OPP_TAGS
            .iter()
            .enumerate()
            .filter(|(t, _)| (k + t * 4) % 7 == 0 || (k % 11 == 3 && *t == 5))
            .map(|(_, t)| *t)
            .collect();
        let origin = ORIGINS[k % ORIGINS.len()];
        let company = COMPANIES[k % COMPANIES.len()];
        let headline = company.map(|c| format!("{c}, {}", SCHOOLS[k % SCHOOLS.len()]));
        let stage_changes: Vec<Value> = (if n_apps == 0 { 0 } else { 3 }..=stage_index)
            .enumerate()
            .map(|(j, s)| {
                json!({"toStageId": stage_id(&d, s), "toStageIndex": s,
                       "updatedAt": created + j as i64 * 2 * day_ms, "userId": uid(k + j)})
            })
            .collect();
        let last_advanced = stage_changes
            .last()
            .map(|c| ms_of(c, "updatedAt"))
            .unwrap_or(created);

        // applications: distinct postings
        let mut posting_ix: Vec<usize> = Vec::new();
        while posting_ix.len() < n_apps {
            let p = rng.below(n_postings as u64) as usize;
            if !posting_ix.contains(&p) {
                posting_ix.push(p);
            }
        }
        let mut apps = Vec::new();
        for (j, &pi) in posting_ix.iter().enumerate() {
            let p = &d.postings[pi];
            let kind = match origin {
                "referred" => "referral",
                "agency" => "agency",
                "sourced" => "user",
                _ => "posting",
            };
            let req = arr_of(p, "requisitionCodes").first().cloned();
            let hire = match (fate, req) {
                (Fate::Hired, Some(code)) if j == 0 => {
                    json!({"id": uuid(&mut rng), "requisitionCode": code, "hiringManagerOnHire": p["hiringManager"]})
                }
                _ => Value::Null,
            };
            apps.push(json!({
                "id": uuid(&mut rng), "type": kind, "candidateId": id, "opportunityId": id,
                "posting": p["id"], "postingHiringManager": p["hiringManager"], "postingOwner": p["owner"],
                "name": if kind == "posting" { Value::Null } else { json!(name) },
                "company": company, "phone": phones.first().cloned().unwrap_or(Value::Null),
                "email": emails.first().cloned().unwrap_or(Value::Null), "links": links,
                "comments": if kind == "referral" { json!("Worked with them at Ferrovia.") } else { Value::Null },
                "user": if kind == "posting" { Value::Null } else { json!(uid(k + 5)) },
                "customQuestions": [], "createdAt": created + j as i64 * 2 * day_ms,
                "archived": archived, "requisitionForHire": hire,
                "postingConfidential": p["confidentiality"] == "confidential",
            }));
        }
        let confidential = apps.iter().any(|a| a["postingConfidential"] == true);
        let owner = if k % 9 == 0 {
            Value::Null
        } else {
            json!(uid(k))
        };
        let opp = json!({
            "id": id, "name": name, "contact": contact, "headline": headline, "stage": stage_id(&d, stage_index),
            "confidentiality": if confidential { "confidential" } else { "non-confidential" },
            "location": if k % 8 == 3 { Value::Null } else { json!(CITIES[k % CITIES.len()]) },
            "phones": phones, "emails": emails, "links": links, "archived": archived, "tags": tags,
            "sources": SOURCE_SETS[k % SOURCE_SETS.len()], "stageChanges": stage_changes, "origin": origin,
            "owner": owner, "sourcedBy": if origin == "sourced" { json!(uid(k + 2)) } else { Value::Null },
            "followers": if owner.is_null() { json!([]) } else { json!([owner.clone()]) },
            "applications": apps,
            "createdAt": created, "updatedAt": updated, "lastInteractionAt": updated,
            "lastAdvancedAt": last_advanced, "snoozedUntil": Value::Null,
            "urls": {"list": "https://hire.lever.co/candidates", "show": format!("https://hire.lever.co/candidates/{id}")},
            "isAnonymized": false,
            "dataProtection": if k % 4 == 0 { json!({"store": {"allowed": true, "expiresAt": updated + 365 * day_ms},
                                                    "contact": {"allowed": false, "expiresAt": Value::Null}}) } else { Value::Null },
            "opportunityLocation": if k % 8 == 3 { Value::Null } else { json!(CITIES[k % CITIES.len()]) },
        });

        // interviews: from the first interview stage on
        let postings_of: Vec<Value> = posting_ix
            .iter()
            .map(|&p| d.postings[p]["id"].clone())
            .collect();
        let mut ivs = Vec::new();
        if n_apps > 0 && stage_index >= FIRST_INTERVIEW_STAGE {
            for j in 0..1 + k % 3 {
                if j % 2 == 0 {
                    panel = uuid(&mut rng);
                }
                let n_iv = 1 + (k + j) % 3;
                let interviewers: Vec<Value> = (0..n_iv)
                    .map(|x| {
                        let (uid_, name, email) = &active_users[(k * 3 + j + x * 7) % active_users.len()];
                        json!({"id": uid_, "name": name, "email": email, "feedbackTemplate": "5d1ab1e0-feed-4bac-8000-000000000001"})
                    })
                    .collect();
                let postings = if k % 40 == 17 && j == 0 {
                    json!([])
                } else if postings_of.len() == 2 && j == 1 {
                    json!(postings_of)
                } else {
                    json!([postings_of[j % postings_of.len()]])
                };
                let date = created + (3 + j as i64) * day_ms + 9 * 3_600_000 + 30 * 60_000;
                ivs.push(json!({
                    "id": uuid(&mut rng), "panel": panel, "subject": SUBJECTS[(k + j) % SUBJECTS.len()],
                    "note": if j == 0 { "Bring the take-home." } else { "" },
                    "interviewers": interviewers, "timezone": TIMEZONES[k % TIMEZONES.len()],
                    "createdAt": date - 2 * day_ms, "date": date, "duration": ([30, 45, 60, 90][(k + j) % 4]),
                    "location": IV_LOCATIONS[(k + j) % IV_LOCATIONS.len()],
                    "feedbackTemplate": "5d1ab1e0-feed-4bac-8000-000000000001", "feedbackForms": [],
                    "feedbackReminder": (["once", "daily", "frequently", "none"][(k + j) % 4]),
                    "user": uid(k + j), "stage": stage_id(&d, (FIRST_INTERVIEW_STAGE + j).min(stage_index)),
                    "canceledAt": if (k + j) % 7 == 4 { json!(date - day_ms) } else { Value::Null },
                    "postings": postings, "gcalEventUrl": if j == 0 { json!(format!("https://calendar.example/event?eid={k}")) } else { Value::Null },
                }));
            }
        }

        // offers: at the offer stage, and for hires
        let mut offers = Vec::new();
        if n_apps > 0 && stage_index == OFFER_STAGE {
            let mut statuses = Vec::new();
            if k % 5 == 4 {
                statuses.push("denied");
            }
            statuses.push(if fate == Fate::Hired {
                "signed"
            } else {
                OFFER_STATUSES[(k / 7) % 7]
            });
            for (j, status) in statuses.into_iter().enumerate() {
                let made = updated - (3 - j as i64) * day_ms;
                let sent = matches!(
                    status,
                    "sent" | "sent-manually" | "opened" | "denied" | "signed"
                );
                let approved = !matches!(status, "draft" | "approval-sent");
                let doc = |name: &str, when: i64| json!({"fileName": name, "uploadedAt": when, "downloadUrl": format!("https://api.lever.co/v1/opportunities/{id}/offers/download?doc={}", slug(name))});
                offers.push(json!({
                    "id": uuid(&mut rng), "posting": postings_of[j % postings_of.len()], "createdAt": made,
                    "status": status, "creator": uid(k + 1),
                    "fields": [
                        {"text": "Salary", "identifier": "salary_amount", "value": 50_000 + (k % 30) * 1_000},
                        {"text": "Currency", "identifier": "salary_currency", "value": CURRENCIES[k % CURRENCIES.len()]},
                        {"text": "Anticipated start date", "identifier": "anticipated_start_date", "value": made + 30 * day_ms},
                    ],
                    "signatures": {"candidate": {"role": "candidate", "name": name, "email": emails.first(),
                                                 "signed": status == "signed",
                                                 "signedAt": if status == "signed" { json!(made + day_ms) } else { Value::Null }}},
                    "approved": if approved { json!(true) } else { Value::Null },
                    "approvedAt": if approved { json!(made + 3_600_000) } else { Value::Null },
                    "sentAt": if sent { json!(made + 7_200_000) } else { Value::Null },
                    "sentDocument": if sent { doc("Offer letter.pdf", made + 7_000_000) } else { Value::Null },
                    "signedDocument": if status == "signed" { doc("Offer letter (signed).pdf", made + day_ms) } else { Value::Null },
                }));
            }
        }
        d.interviews.insert(id.clone(), ivs);
        d.offers.insert(id.clone(), offers);
        d.opportunities.push(opp);
    }

    // deletions that happened before the first sync (the deleted lists are never empty)
    let late = at(400 * DAY);
    match size {
        Size::Small => {
            let id = str_of(&d.opportunities[7], "id").to_owned();
            d.delete_opportunity(&id, late);
        }
        Size::Full => {
            for (n, k) in [13usize, 101, 257, 580, 777, 1001].into_iter().enumerate() {
                let id = str_of(&d.opportunities[k - n], "id").to_owned();
                d.delete_opportunity(&id, late + n as i64 * 61_001);
            }
            for (n, i) in [61usize, 44].into_iter().enumerate() {
                let id = str_of(&d.postings[i], "id").to_owned();
                d.delete_posting(&id, late + 500_000 + n as i64 * 1_001);
            }
            let singles: Vec<String> = d
                .opportunities
                .iter()
                .filter(|o| arr_of(o, "applications").len() == 2)
                .take(3)
                .map(|o| str_of(&o["applications"][1], "id").to_owned())
                .collect();
            for (n, a) in singles.iter().enumerate() {
                d.delete_application(a, late + 900_000 + n as i64 * 999);
            }
        }
    }
    d
}

/// A token bucket: `RATE` tokens a second, at most `CAPACITY`.
struct Bucket {
    tokens: f64,
    last: Instant,
}

const RATE: f64 = 10.0;
const CAPACITY: f64 = 20.0;

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let dt = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * RATE).min(CAPACITY);
        self.last = now;
    }
}

/// Switches and counters of a running simulator.
pub struct Sim {
    /// The data served (tests may change it between runs).
    pub data: RwLock<Dataset>,
    /// The accepted API key (Basic user name).
    pub api_key: String,
    /// Accepted Bearer access tokens.
    pub access_tokens: Mutex<Vec<String>>,
    /// Whether the token bucket refuses requests (429) when empty.
    pub limits_on: AtomicBool,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Requests answered.
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    /// `path?query` of every request, in arrival order.
    pub log: Mutex<Vec<String>>,
}

impl Sim {
    /// Deletes an opportunity now (see [`Dataset::delete_opportunity`]); its `deletedAt`.
    pub fn delete_opportunity(&self, id: &str) -> Option<i64> {
        let t = now_ms();
        self.data
            .write()
            .unwrap()
            .delete_opportunity(id, t)
            .then_some(t)
    }
    /// Deletes a posting now (see [`Dataset::delete_posting`]); its `deletedAt`.
    pub fn delete_posting(&self, id: &str) -> Option<i64> {
        let t = now_ms();
        self.data
            .write()
            .unwrap()
            .delete_posting(id, t)
            .then_some(t)
    }
    /// Deletes an application now (see [`Dataset::delete_application`]); its `deletedAt`.
    pub fn delete_application(&self, id: &str) -> Option<i64> {
        let t = now_ms();
        self.data
            .write()
            .unwrap()
            .delete_application(id, t)
            .then_some(t)
    }
    /// The logged query strings of requests whose path is `path` (e.g. `/v1/opportunities`).
    pub fn queries_of(&self, path: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let (p, q) = l.split_once('?').unwrap_or((l, ""));
                (p.trim_end_matches('/') == path).then(|| q.to_owned())
            })
            .collect()
    }

    /// Takes a token for `credential`: (allowed, remaining, reset in epoch seconds).
    fn take(&self, credential: &str) -> (bool, u64, i64) {
        let now_s = now_ms().div_euclid(1000);
        if !self.limits_on.load(Ordering::Relaxed) {
            return (true, CAPACITY as u64, now_s);
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap();
        let bucket = b.entry(credential.to_owned()).or_insert(Bucket {
            tokens: CAPACITY,
            last: now,
        });
        bucket.refill(now);
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let reset = now_s + ((CAPACITY - bucket.tokens) / RATE).ceil() as i64;
        (allowed, bucket.tokens.floor() as u64, reset)
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

/// Starts a simulator on `127.0.0.1:port` (0: any free port). `limits_on`: whether the
/// token bucket answers 429 when empty.
pub async fn start(
    size: Size,
    api_key: &str,
    limits_on: bool,
    port: u16,
) -> std::io::Result<Running> {
    let sim = Arc::new(Sim {
        data: RwLock::new(dataset(size)),
        api_key: api_key.to_owned(),
        access_tokens: Mutex::new(vec![ACCESS_TOKEN.to_owned()]),
        limits_on: AtomicBool::new(limits_on),
        buckets: Mutex::default(),
        requests: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
        log: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// Every request goes to one handler, which routes by path (so no request can meet an
/// extractor's own rejection).
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

/// An error answer: status, `code`, `message`.
#[derive(Debug, PartialEq)]
pub struct ApiError(pub StatusCode, pub &'static str, pub String);

fn bad(message: &str) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, "BadRequest", message.to_owned())
}

fn not_found(message: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "NotFound", message.to_owned())
}

/// Percent-decodes (`+` is a space); None when a `%` escape is malformed or the result is
/// not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - _ . ~`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parsed query string: every (name, value) pair, decoded once.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, Option<String>)>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (
                    percent_decode(k).unwrap_or_else(|| k.to_owned()),
                    percent_decode(v),
                )
            })
            .collect();
        Query { pairs }
    }
    /// The first value of `name`, decoded (None also when it could not be decoded).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
    fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }
    /// Every value of `name`, split at commas.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.as_deref())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// The offset token of the page starting at `offset` (Decision 4).
pub fn encode_token(offset: usize, key_ms: i64, key_id: &str) -> String {
    percent_encode(&json!([offset, key_ms, key_id]).to_string())
}

/// The position a token (as decoded once from the query string) stands for: decoded once
/// more when it still starts with `%5B` (Decision 4).
pub fn decode_token(once: &str) -> Result<usize, ApiError> {
    let invalid = || bad("Invalid offset token");
    let text = if once.len() >= 3 && once[..3].eq_ignore_ascii_case("%5B") {
        percent_decode(once).ok_or_else(invalid)?
    } else {
        once.to_owned()
    };
    let v: Value = serde_json::from_str(&text).map_err(|_| invalid())?;
    let first = v.as_array().and_then(|a| a.first()).ok_or_else(invalid)?;
    first.as_u64().map(|n| n as usize).ok_or_else(invalid)
}

/// One page of `rows` as `{"data", "hasNext", "next"}` (Decisions 3 and 4).
pub fn page(rows: Vec<Value>, q: &Query) -> Result<Value, ApiError> {
    let limit = match q.get("limit") {
        None if !q.has("limit") => 100,
        v => match v.and_then(|v| v.parse::<i64>().ok()) {
            Some(n @ 1..=100) => n as usize,
            _ => return Err(bad("Invalid limit")),
        },
    };
    let start = if q.has("offset") {
        decode_token(q.get("offset").ok_or_else(|| bad("Invalid offset token"))?)?
    } else {
        0
    };
    let end = (start + limit).min(rows.len());
    let has_next = end < rows.len();
    let mut body = json!({
        "data": rows.get(start.min(rows.len())..end).unwrap_or(&[]),
        "hasNext": has_next,
    });
    if has_next {
        let k = &rows[end];
        let key_ms = ms_of(k, "createdAt");
        let key_id = k
            .get("id")
            .or_else(|| k.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("");
        body["next"] = json!(encode_token(end, key_ms, key_id));
    }
    Ok(body)
}

/// An epoch-millisecond filter (Decision 7): None when absent; 400 when not an integer.
fn ms_param(q: &Query, name: &'static str) -> Result<Option<i64>, ApiError> {
    if !q.has(name) {
        return Ok(None);
    }
    match q.get(name).and_then(|v| v.parse::<i64>().ok()) {
        Some(n) => Ok(Some(n)),
        None => Err(bad(&format!("Invalid {name}"))),
    }
}

fn window(q: &Query, start: &'static str, end: &'static str) -> Result<(i64, i64), ApiError> {
    Ok((
        ms_param(q, start)?.unwrap_or(i64::MIN),
        ms_param(q, end)?.unwrap_or(i64::MAX),
    ))
}

fn confidentiality(q: &Query) -> Result<(bool, bool), ApiError> {
    match q.get("confidentiality").unwrap_or("non-confidential") {
        "non-confidential" => Ok((true, false)),
        "confidential" => Ok((false, true)),
        "all" => Ok((true, true)),
        _ => Err(bad("Invalid confidentiality")),
    }
}

fn confidential_ok(v: &Value, (open, secret): (bool, bool)) -> bool {
    if v["confidentiality"] == "confidential" {
        secret
    } else {
        open
    }
}

/// An application as served (without the simulator's bookkeeping).
fn served_application(a: &Value) -> Value {
    let mut a = a.clone();
    if let Some(m) = a.as_object_mut() {
        m.remove("postingConfidential");
    }
    a
}

fn served_opportunity(o: &Value, expand: bool) -> Value {
    let mut o = o.clone();
    let apps: Vec<Value> = arr_of(&o, "applications")
        .iter()
        .map(|a| {
            if expand {
                served_application(a)
            } else {
                a["id"].clone()
            }
        })
        .collect();
    o["applications"] = json!(apps);
    o
}

/// Answers `GET <path>?<query>` from the data (auth and limits already passed).
pub fn route(d: &Dataset, path: &str, q: &Query) -> Result<Value, ApiError> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let Some(rest) = trimmed.strip_prefix("/v1/") else {
        return Err(not_found("Not found"));
    };
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        ["users"] => {
            let all = q.get("includeDeactivated") == Some("true");
            let rows = d
                .users
                .iter()
                .filter(|u| all || u["deactivatedAt"].is_null())
                .cloned()
                .collect();
            page(rows, q)
        }
        ["stages"] => page(d.stages.clone(), q),
        ["archive_reasons"] => {
            let kind = q.get("type");
            let rows = d
                .archive_reasons
                .iter()
                .filter(|r| kind.is_none_or(|k| r["type"] == k))
                .cloned()
                .collect();
            page(rows, q)
        }
        ["tags"] => page(d.tags(), q),
        ["sources"] => page(d.sources(), q),
        ["requisitions"] => page(d.requisitions.clone(), q),
        ["postings"] => {
            let conf = confidentiality(q)?;
            let (from, to) = window(q, "updated_at_start", "updated_at_end")?;
            let state = q.get("state");
            let rows = d
                .postings
                .iter()
                .filter(|p| confidential_ok(p, conf))
                .filter(|p| (from..to).contains(&ms_of(p, "updatedAt")))
                .filter(|p| state.is_none_or(|s| p["state"] == s))
                .cloned()
                .collect();
            page(rows, q)
        }
        ["opportunities"] => {
            let conf = confidentiality(q)?;
            let (from, to) = window(q, "updated_at_start", "updated_at_end")?;
            let expand = q.all("expand").iter().any(|e| e == "applications");
            let rows = d
                .opportunities_in_order()
                .into_iter()
                .filter(|o| confidential_ok(o, conf))
                .filter(|o| (from..to).contains(&ms_of(o, "updatedAt")))
                .map(|o| served_opportunity(o, expand))
                .collect();
            page(rows, q)
        }
        [
            kind @ ("opportunities" | "postings" | "applications"),
            "deleted",
        ] => {
            let (from, to) = window(q, "deleted_at_start", "deleted_at_end")?;
            let list = match *kind {
                "opportunities" => &d.deleted_opportunities,
                "postings" => &d.deleted_postings,
                _ => &d.deleted_applications,
            };
            let rows = list
                .iter()
                .filter(|r| (from..to).contains(&ms_of(r, "deletedAt")))
                .cloned()
                .collect();
            page(rows, q)
        }
        ["postings", id] => d
            .posting(id)
            .map(|p| json!({"data": p}))
            .ok_or_else(|| not_found("Posting not found")),
        ["postings", id, "apply"] => d
            .forms
            .get(*id)
            .map(|f| json!({"data": f}))
            .ok_or_else(|| not_found("Posting not found")),
        ["opportunities", id] => {
            let expand = q.all("expand").iter().any(|e| e == "applications");
            d.opportunity(id)
                .map(|o| json!({"data": served_opportunity(o, expand)}))
                .ok_or_else(|| not_found("Opportunity not found"))
        }
        [
            "opportunities",
            id,
            sub @ ("applications" | "interviews" | "offers"),
        ] => {
            let o = d
                .opportunity(id)
                .ok_or_else(|| not_found("Opportunity not found"))?;
            let rows = match *sub {
                "applications" => arr_of(o, "applications")
                    .iter()
                    .map(served_application)
                    .collect(),
                "interviews" => d.interviews.get(*id).cloned().unwrap_or_default(),
                _ => d.offers.get(*id).cloned().unwrap_or_default(),
            };
            page(rows, q)
        }
        _ => Err(not_found("Not found")),
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]),
            3 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
            2 => out.push((n >> 16) as u8),
            _ => return None,
        }
    }
    Some(out)
}

/// The credential an `Authorization` header presents, and whether it is accepted
/// (Decision 2).
fn credential(sim: &Sim, headers: &HeaderMap) -> (String, bool) {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return (String::new(), false);
    };
    if let Some(b64) = h.strip_prefix("Basic ") {
        let decoded = base64_decode(b64.trim()).and_then(|b| String::from_utf8(b).ok());
        return match decoded.as_deref().and_then(|s| s.split_once(':')) {
            Some((user, "")) => (format!("key:{user}"), user == sim.api_key),
            _ => (String::new(), false),
        };
    }
    if let Some(t) = h.strip_prefix("Bearer ") {
        let ok = sim.access_tokens.lock().unwrap().iter().any(|a| a == t);
        return (format!("token:{t}"), ok);
    }
    (String::new(), false)
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn error_answer(e: &ApiError) -> Response {
    json_answer(e.0, &json!({"code": e.1, "message": e.2}))
}

async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    sim.requests.fetch_add(1, Ordering::Relaxed);
    sim.log.lock().unwrap().push(
        uri.path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let (cred, ok) = credential(&sim, &headers);
    let (allowed, remaining, reset) = sim.take(&cred);
    let mut r = if !ok {
        error_answer(&ApiError(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Invalid API key".into(),
        ))
    } else if !allowed {
        sim.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = error_answer(&ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Rate limit exceeded".into(),
        ));
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        r
    } else if method != Method::GET {
        error_answer(&ApiError(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET is simulated".into(),
        ))
    } else {
        let q = Query::parse(uri.query());
        let d = sim.data.read().unwrap();
        match route(&d, uri.path(), &q) {
            Ok(body) => json_answer(StatusCode::OK, &body),
            Err(e) => error_answer(&e),
        }
    };
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(CAPACITY as u64));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    h.insert("x-lever-region", HeaderValue::from_static("global"));
    r.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(Some(s))
    }

    #[test]
    fn dataset_has_the_promised_sizes_and_variety() {
        let d = dataset(Size::Full);
        assert_eq!(d.opportunities.len(), 1100, "exactly eleven full pages");
        assert_eq!(d.postings.len(), 60);
        assert!(d.applications().count() >= 1000);
        let per_opp: HashSet<usize> = d
            .opportunities
            .iter()
            .map(|o| arr_of(o, "applications").len())
            .collect();
        assert_eq!(per_opp, [0, 1, 2].into());
        let states: HashSet<&str> = d.postings.iter().map(|p| str_of(p, "state")).collect();
        assert_eq!(states.len(), POSTING_STATES.len());
        let channels: HashSet<String> = d
            .postings
            .iter()
            .map(|p| p["distributionChannels"].to_string())
            .collect();
        assert_eq!(channels.len(), 3, "{channels:?}");
        let offer_statuses: HashSet<&str> = d
            .offers
            .values()
            .flatten()
            .map(|o| str_of(o, "status"))
            .collect();
        assert_eq!(
            offer_statuses.len(),
            OFFER_STATUSES.len(),
            "{offer_statuses:?}"
        );
        let ivs: Vec<&Value> = d.interviews.values().flatten().collect();
        assert!(ivs.iter().any(|i| arr_of(i, "interviewers").len() >= 3));
        assert!(ivs.iter().any(|i| !i["canceledAt"].is_null()));
        for s in FIXED_STAGES {
            assert!(d.stages.iter().any(|x| x["id"] == *s));
        }
        assert_eq!(
            d.archive_reasons
                .iter()
                .filter(|r| r["type"] == "hired")
                .count(),
            1
        );
        let n_emails: HashSet<usize> = d
            .opportunities
            .iter()
            .map(|o| arr_of(o, "emails").len())
            .collect();
        assert!(n_emails.contains(&0) && n_emails.contains(&3));
        assert!(
            d.opportunities
                .iter()
                .any(|o| o["confidentiality"] == "confidential")
        );
        assert!(
            d.postings
                .iter()
                .any(|p| p["confidentiality"] == "confidential")
        );
        assert!(!d.deleted_opportunities.is_empty());
        assert!(!d.deleted_postings.is_empty());
        assert!(d.deleted_applications.len() > d.deleted_opportunities.len());
        assert!(d.users.iter().any(|u| !u["deactivatedAt"].is_null()));
        // the archived state of an application is its opportunity's
        for o in &d.opportunities {
            for a in arr_of(o, "applications") {
                assert_eq!(a["archived"], o["archived"]);
            }
        }
        // an interview's postings and an offer's posting belong to the opportunity's apps
        for o in &d.opportunities {
            let ps: HashSet<&str> = arr_of(o, "applications")
                .iter()
                .map(|a| str_of(a, "posting"))
                .collect();
            for iv in &d.interviews[str_of(o, "id")] {
                assert!(
                    arr_of(iv, "postings")
                        .iter()
                        .all(|p| ps.contains(p.as_str().unwrap()))
                );
            }
            for of in &d.offers[str_of(o, "id")] {
                assert!(ps.contains(str_of(of, "posting")));
            }
        }
        // small is small and has the same kinds of things
        let s = dataset(Size::Small);
        assert_eq!(s.opportunities.len(), 7);
        assert!(s.offers.values().flatten().count() >= 2);
        assert!(s.interviews.values().flatten().count() >= 2);
    }

    #[test]
    fn forms_shared_by_postings_keep_their_field_ids_and_options_rule() {
        let d = dataset(Size::Full);
        let mut seen: HashMap<String, Value> = HashMap::new();
        let mut shared = 0;
        let mut empty = 0;
        let mut types = HashSet::new();
        for f in d.forms.values() {
            let cq = arr_of(f, "customQuestions");
            if cq.is_empty() {
                empty += 1;
            }
            for form in cq {
                if let Some(prev) = seen.insert(str_of(form, "id").to_owned(), form.clone()) {
                    assert_eq!(&prev, form);
                    shared += 1;
                }
                for field in arr_of(form, "fields") {
                    let t = str_of(field, "type");
                    types.insert(t.to_owned());
                    let select = matches!(t, "dropdown" | "multiple-choice" | "multiple-select");
                    assert_eq!(field.get("options").is_some(), select, "{field}");
                }
            }
        }
        assert!(shared > 0 && empty > 0);
        assert_eq!(types.len(), FIELD_TYPES.len());
        assert_eq!(d.forms.len(), d.postings.len());
    }

    #[test]
    fn tokens_decode_verbatim_or_re_encoded() {
        let t = encode_token(3, 1_491_435_120_000, "5599cc20-0000");
        assert_eq!(t, "%5B3%2C1491435120000%2C%225599cc20-0000%22%5D");
        // sent verbatim: the query decoding leaves the JSON
        let once = q(&format!("offset={t}"));
        assert_eq!(decode_token(once.get("offset").unwrap()), Ok(3));
        // re-encoded by the client: decoded twice
        let twice = q(&format!("offset={}", percent_encode(&t)));
        assert_eq!(decode_token(twice.get("offset").unwrap()), Ok(3));
        for bad_token in ["abc", "%5Bnope", "%5B%22x%22%5D", "%ZZ", "%5B-1%5D"] {
            let r = page(vec![json!({})], &q(&format!("offset={bad_token}")));
            assert_eq!(r.unwrap_err().2, "Invalid offset token", "{bad_token}");
        }
    }

    #[test]
    fn limits_and_envelopes() {
        let rows: Vec<Value> = (0..250).map(|i| json!({"id": format!("r{i}")})).collect();
        for l in ["0", "101", "x", "", "-1"] {
            let e = page(rows.clone(), &q(&format!("limit={l}"))).unwrap_err();
            assert_eq!(
                (e.0, e.1, e.2.as_str()),
                (StatusCode::BAD_REQUEST, "BadRequest", "Invalid limit")
            );
        }
        let p = page(rows.clone(), &q("")).unwrap();
        assert_eq!(p["data"].as_array().unwrap().len(), 100);
        let mut next = p["next"].as_str().unwrap().to_owned();
        let mut seen = 100;
        loop {
            let p = page(rows.clone(), &q(&format!("limit=100&offset={next}"))).unwrap();
            seen += p["data"].as_array().unwrap().len();
            if p["hasNext"] == false {
                assert!(p.get("next").is_none(), "next only when hasNext");
                break;
            }
            next = p["next"].as_str().unwrap().to_owned();
        }
        assert_eq!(seen, 250);
        // a list ending exactly on a full page has no extra page
        let p = page(rows[..100].to_vec(), &q("limit=100")).unwrap();
        assert_eq!(p["hasNext"], false);
    }

    #[test]
    fn filters_order_confidentiality_and_expand() {
        let d = dataset(Size::Full);
        let all = route(&d, "/v1/opportunities", &q("confidentiality=all")).unwrap();
        let def = route(&d, "/v1/opportunities/", &q("")).unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 100);
        let count = |q_: &str| {
            let mut n = 0;
            let mut qs = q_.to_owned();
            loop {
                let p = route(&d, "/v1/opportunities", &q(&qs)).unwrap();
                n += p["data"].as_array().unwrap().len();
                match p["next"].as_str() {
                    Some(t) => qs = format!("{q_}&offset={t}"),
                    None => return n,
                }
            }
        };
        let secret = d
            .opportunities
            .iter()
            .filter(|o| o["confidentiality"] == "confidential")
            .count();
        assert_eq!(count("confidentiality=all"), 1100);
        assert_eq!(count("confidentiality=confidential"), secret);
        assert_eq!(count("limit=100"), 1100 - secret);
        assert!(
            def["data"][0]["applications"][0].is_string()
                || def["data"][0]["applications"] == json!([])
        );
        // newest first, then id
        let order = d.opportunities_in_order();
        for w in order.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(
                ms_of(a, "createdAt") > ms_of(b, "createdAt")
                    || (ms_of(a, "createdAt") == ms_of(b, "createdAt")
                        && str_of(a, "id") < str_of(b, "id"))
            );
        }
        assert!(
            order
                .windows(2)
                .any(|w| ms_of(w[0], "createdAt") == ms_of(w[1], "createdAt"))
        );
        // expand, repeated or comma-separated
        for e in [
            "expand=applications",
            "expand=owner&expand=applications",
            "expand=stage,applications",
        ] {
            let p = route(
                &d,
                "/v1/opportunities",
                &q(&format!("confidentiality=all&{e}")),
            )
            .unwrap();
            let with = p["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| !arr_of(o, "applications").is_empty())
                .unwrap();
            assert!(with["applications"][0].is_object(), "{e}");
            assert!(with["applications"][0].get("postingConfidential").is_none());
        }
        // updated_at window: inclusive start, exclusive end
        let o = order[10];
        let t = ms_of(o, "updatedAt");
        let hit = |qs: String| {
            route(&d, "/v1/opportunities", &q(&qs)).unwrap()["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == o["id"])
        };
        assert!(hit(format!(
            "confidentiality=all&updated_at_start={t}&updated_at_end={}",
            t + 1
        )));
        assert!(!hit(format!(
            "confidentiality=all&updated_at_start={t}&updated_at_end={t}"
        )));
        let e = route(
            &d,
            "/v1/opportunities",
            &q("updated_at_start=2024-01-01T00:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            (e.0, e.2.as_str()),
            (StatusCode::BAD_REQUEST, "Invalid updated_at_start")
        );
        let e = route(&d, "/v1/postings/deleted", &q("deleted_at_start=yesterday")).unwrap_err();
        assert_eq!(e.2, "Invalid deleted_at_start");
        // users: deactivated only on request
        let active = route(&d, "/v1/users", &q("")).unwrap()["data"]
            .as_array()
            .unwrap()
            .len();
        let everyone = route(&d, "/v1/users", &q("includeDeactivated=true")).unwrap()["data"]
            .as_array()
            .unwrap()
            .len();
        assert!(active < everyone && everyone == d.users.len());
        // tags: exactly those in use
        let tags = route(&d, "/v1/tags", &q("")).unwrap();
        let used: HashSet<&str> = d
            .opportunities
            .iter()
            .flat_map(|o| arr_of(o, "tags"))
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags["data"].as_array().unwrap().len(), used.len());
        assert!(
            tags["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["count"].as_u64().unwrap() >= 1)
        );
        // 404s
        assert_eq!(
            route(&d, "/v1/opportunities/nope/offers", &q(""))
                .unwrap_err()
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&d, "/v1/postings/nope/apply", &q("")).unwrap_err().0,
            StatusCode::NOT_FOUND
        );
        let p0 = str_of(&d.postings[0], "id");
        assert!(
            route(&d, &format!("/v1/postings/{p0}/apply/"), &q("")).unwrap()["data"].is_object()
        );
    }

    #[test]
    fn deletion_cascades() {
        let mut d = dataset(Size::Full);
        let t = at(500 * DAY);
        // an opportunity with interviews and offers
        let o = d
            .opportunities
            .iter()
            .find(|o| !d.offers[str_of(o, "id")].is_empty())
            .unwrap()
            .clone();
        let oid = str_of(&o, "id");
        let before = d.deleted_applications.len();
        assert!(d.delete_opportunity(oid, t));
        assert!(d.opportunity(oid).is_none() && !d.offers.contains_key(oid));
        assert_eq!(
            d.deleted_applications.len(),
            before + arr_of(&o, "applications").len()
        );
        assert_eq!(
            d.deleted_opportunities.last().unwrap(),
            &json!({"id": oid, "deletedAt": t})
        );
        assert!(!d.delete_opportunity(oid, t));
        // a posting: its applications go, the opportunities stay with updatedAt bumped
        let pid = str_of(&d.postings[3], "id").to_owned();
        let holders: Vec<String> = d
            .opportunities
            .iter()
            .filter(|o| {
                arr_of(o, "applications")
                    .iter()
                    .any(|a| a["posting"] == pid.as_str())
            })
            .map(|o| str_of(o, "id").to_owned())
            .collect();
        assert!(!holders.is_empty());
        let n = d.opportunities.len();
        assert!(d.delete_posting(&pid, t + 1));
        assert_eq!(d.opportunities.len(), n);
        assert!(!d.forms.contains_key(&pid));
        for h in &holders {
            let o = d.opportunity(h).unwrap();
            assert_eq!(ms_of(o, "updatedAt"), t + 1);
            assert!(
                arr_of(o, "applications")
                    .iter()
                    .all(|a| a["posting"] != pid.as_str())
            );
            assert!(
                d.interviews[h.as_str()]
                    .iter()
                    .all(|i| !arr_of(i, "postings").contains(&json!(pid)))
            );
            assert!(
                d.offers[h.as_str()]
                    .iter()
                    .all(|of| of["posting"] != pid.as_str())
            );
        }
        // one application
        let a = d.applications().next().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(d.delete_application(&a, t + 2));
        assert!(d.applications().all(|x| x["id"] != a.as_str()));
        assert_eq!(d.deleted_applications.last().unwrap()["id"], a.as_str());
    }

    #[test]
    fn basic_and_bearer_auth() {
        let sim = Sim {
            data: RwLock::new(Dataset::default()),
            api_key: "k1".into(),
            access_tokens: Mutex::new(vec!["tok".into()]),
            limits_on: AtomicBool::new(true),
            buckets: Mutex::default(),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::default(),
        };
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("authorization", v.parse().unwrap());
            h
        };
        assert!(credential(&sim, &h("Basic azE6")).1); // "k1:"
        assert!(!credential(&sim, &h("Basic azE6eA==")).1); // "k1:x"
        assert!(!credential(&sim, &h("Basic azI6")).1); // "k2:"
        assert!(!credential(&sim, &h("Basic !!!")).1);
        assert!(credential(&sim, &h("Bearer tok")).1);
        assert!(!credential(&sim, &h("Bearer k1")).1);
        assert!(!credential(&sim, &HeaderMap::new()).1);
        // the bucket: 20 at once, then refusals
        let granted = (0..25).filter(|_| sim.take("key:k1").0).count();
        assert_eq!(granted, 20);
        let (_, remaining, reset) = sim.take("key:k1");
        assert_eq!(remaining, 0);
        assert!(reset >= now_ms() / 1000);
        sim.limits_on.store(false, Ordering::Relaxed);
        let (ok, remaining, _) = sim.take("key:k1");
        assert!(ok && remaining == 20);
    }
}
