//! A Teamtailor simulator: JSON:API under `/v1/`, as `vendor-apis/teamtailor.md` (section 11) decides.
//!
//! `Authorization: Token token=<key>` (401, 403 for non-Admin keys on admin resources and for
//! job offers without the add-on); `X-Api-Version` ≥ `20161108` (406) echoed back;
//! `application/vnd.api+json` documents with hyphenated attributes, relationship `links`
//! always and `data` only for relationships named in `include` (side-loaded once each in
//! `included`); `page[number]`/`page[size]` (1..30, default 10, 400 outside) with `meta`
//! totals and absolute `links.first/prev/next/last` built from the request's `Host`;
//! exactly the filters of §3 (400 for any other); 50 requests per rolling 10 s per key
//! (429 with `Retry-After`; switched off, the budget headers stay at the full limit); `GET`
//! only (405). Deterministic generated data.

use crate::{FIRST, LAST, Rng, civil_from_days};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each, for snapshots: 5 jobs, 6 candidates, 9 job applications.
    Small,
    /// A realistic tenant: 41 users, 60 jobs, 525 candidates, exactly 1,050 job
    /// applications (35 full pages of 30).
    Full,
}

/// The scope of an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Career-site data only.
    Public,
    /// Public plus internal jobs.
    Internal,
    /// Everything.
    Admin,
}

/// A relationship target: `{type, id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ref {
    /// JSON:API `type`.
    pub kind: &'static str,
    /// Numeric id (served as a string).
    pub id: u64,
}

/// Relationship linkage as stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Rel {
    /// A to-one relationship (`null` when `None`).
    One(Option<Ref>),
    /// A to-many relationship.
    Many(Vec<Ref>),
}

/// One stored JSON:API resource.
#[derive(Clone, Debug)]
pub struct Res {
    /// Numeric id (served as a string).
    pub id: u64,
    /// `attributes`, in the order served.
    pub attributes: Map<String, Value>,
    /// Relationship linkage by name; names of the type's schema absent here are served empty.
    pub rels: HashMap<&'static str, Rel>,
    /// Extra `links` besides `self` (a job's career-site URLs).
    pub links: Vec<(&'static str, String)>,
    /// The owning job of a picked question (not served).
    pub parent: Option<u64>,
}

impl Res {
    fn new(id: u64, attributes: Value) -> Res {
        Res {
            id,
            attributes: match attributes {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            rels: HashMap::new(),
            links: Vec::new(),
            parent: None,
        }
    }

    fn rel(mut self, name: &'static str, rel: Rel) -> Res {
        self.rels.insert(name, rel);
        self
    }

    /// The ids a relationship points to.
    pub fn refs(&self, name: &str) -> Vec<Ref> {
        match self.rels.get(name) {
            Some(Rel::One(Some(r))) => vec![*r],
            Some(Rel::Many(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// The target of a to-one relationship.
    pub fn one(&self, name: &str) -> Option<Ref> {
        match self.rels.get(name) {
            Some(Rel::One(r)) => *r,
            _ => None,
        }
    }

    /// A string attribute.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Value::as_str)
    }
}

fn one(kind: &'static str, id: u64) -> Rel {
    Rel::One(Some(Ref { kind, id }))
}

fn one_opt(kind: &'static str, id: Option<u64>) -> Rel {
    Rel::One(id.map(|id| Ref { kind, id }))
}

fn many(kind: &'static str, ids: impl IntoIterator<Item = u64>) -> Rel {
    Rel::Many(ids.into_iter().map(|id| Ref { kind, id }).collect())
}

/// Every resource type the simulator stores.
pub const KINDS: &[&str] = &[
    "users",
    "departments",
    "locations",
    "teams",
    "jobs",
    "stages",
    "team-memberships",
    "questions",
    "picked-questions",
    "candidates",
    "job-applications",
    "reject-reasons",
    "job-offers",
];

/// Types with a top-level list `/v1/<type>` and item `/v1/<type>/<id>`.
const LISTED: &[&str] = &[
    "users",
    "departments",
    "locations",
    "jobs",
    "team-memberships",
    "stages",
    "candidates",
    "job-applications",
    "reject-reasons",
    "questions",
    "job-offers",
];

/// Types only an Admin key may read.
const ADMIN_ONLY: &[&str] = &[
    "users",
    "team-memberships",
    "stages",
    "candidates",
    "job-applications",
    "reject-reasons",
    "job-offers",
];

/// The attributes of a type, in the order served (all always present).
pub fn attributes_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "users" => &[
            "name",
            "email",
            "login-email",
            "role",
            "title",
            "username",
            "external-id",
            "phone",
            "picture",
            "description",
            "visible",
            "hide-email",
            "signature",
            "facebook-profile",
            "linkedin-profile",
            "twitter-profile",
            "instagram-profile",
            "other-profile",
            "role-addons",
        ],
        "departments" | "teams" => &["name"],
        "locations" => &[
            "name",
            "address",
            "city",
            "country",
            "zip",
            "headquarters",
            "lat",
            "long",
            "email",
            "phone",
        ],
        "jobs" => &[
            "title",
            "pitch",
            "body",
            "apply-button-text",
            "status",
            "human-status",
            "internal",
            "pinned",
            "start-date",
            "end-date",
            "tags",
            "external-application-url",
            "name-requirement",
            "resume-requirement",
            "cover-letter-requirement",
            "phone-requirement",
            "remote-status",
            "mailbox",
            "created-at",
            "updated-at",
            "language-code",
            "recruiter-email",
            "sharing-image-layout",
            "employment-type",
        ],
        "stages" => &[
            "name",
            "stage-type",
            "row-order",
            "active-job-applications-count",
            "rejected-job-applications-count",
            "created-at",
            "updated-at",
        ],
        "candidates" => &[
            "first-name",
            "last-name",
            "email",
            "phone",
            "linkedin-url",
            "linkedin-uid",
            "facebook-id",
            "picture",
            "pitch",
            "resume",
            "original-resume",
            "referring-site",
            "referring-url",
            "referred",
            "sourced",
            "connected",
            "internal",
            "unsubscribed",
            "tags",
            "created-at",
            "updated-at",
            "facebook-profile",
            "linkedin-profile",
        ],
        "job-applications" => &[
            "created-at",
            "updated-at",
            "cover-letter",
            "changed-stage-at",
            "rejected-at",
            "referring-site",
            "referring-url",
            "sourced",
        ],
        "reject-reasons" => &["reason", "rejected-by-company"],
        "questions" => &[
            "title",
            "question-type",
            "alternatives",
            "multiple",
            "single-line",
            "start-with",
            "end-with",
            "unit",
        ],
        "picked-questions" => &["mandatory"],
        "job-offers" => &[
            "status",
            "response",
            "sent-at",
            "answered-at",
            "created-at",
            "updated-at",
            "details",
        ],
        _ => &[],
    }
}

/// The relationships of a type, in the order served: `(name, to-many)`. These are also the
/// valid `include` names.
pub fn relationships_of(kind: &str) -> &'static [(&'static str, bool)] {
    match kind {
        "users" => &[
            ("activities", true),
            ("department", false),
            ("location", false),
            ("jobs", true),
            ("team-memberships", true),
            ("teams", true),
        ],
        "jobs" => &[
            ("activities", true),
            ("department", false),
            ("role", false),
            ("locations", true),
            ("user", false),
            ("questions", true),
            ("picked-questions", true),
            ("candidates", true),
            ("stages", true),
            ("team-memberships", true),
            ("colleagues", true),
            ("regions", true),
            ("requisition", false),
            ("custom-field-values", true),
        ],
        "stages" => &[
            ("job", false),
            ("job-applications", true),
            ("triggers", true),
        ],
        "candidates" => &[
            ("activities", true),
            ("department", false),
            ("role", false),
            ("job-applications", true),
            ("questions", true),
            ("answers", true),
            ("locations", true),
            ("regions", true),
            ("uploads", true),
            ("custom-field-values", true),
            ("partner-results", true),
        ],
        "job-applications" => &[
            ("candidate", false),
            ("job", false),
            ("stage", false),
            ("reject-reason", false),
        ],
        "team-memberships" => &[("user", false), ("team", false)],
        "picked-questions" => &[("question", false)],
        "job-offers" => &[("job-application", false), ("user", false)],
        _ => &[],
    }
}

/// How a filter matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FilterKind {
    /// `[from]` (inclusive) / `[to]` (exclusive) over a timestamp attribute.
    Date(&'static str),
    /// Case-insensitive equality with a string attribute.
    EqCi(&'static str),
    /// Exact equality with a string attribute.
    Eq(&'static str),
    /// `true|false` against a boolean attribute.
    Bool(&'static str),
    /// Comma-separated ids; matches when a relationship points to any of them.
    Rel(&'static str),
    /// Jobs' `filter[status]` (by `human-status`, comma-separated, or `all`).
    Status,
    /// Jobs' `filter[feed]`: `public`, `internal`, or both comma-separated.
    Feed,
    /// Applications' `filter[stage-type]`, by the current stage's `stage-type`.
    StageType,
}

fn filters_of(kind: &str) -> &'static [(&'static str, FilterKind)] {
    use FilterKind::*;
    match kind {
        "candidates" => &[
            ("created-at", Date("created-at")),
            ("updated-at", Date("updated-at")),
            ("email", EqCi("email")),
            ("department", Rel("department")),
            ("role", Rel("role")),
            ("locations", Rel("locations")),
            ("regions", Rel("regions")),
            ("connected", Bool("connected")),
        ],
        "job-applications" => &[
            ("created-at", Date("created-at")),
            ("updated-at", Date("updated-at")),
            ("changed-stage-at", Date("changed-stage-at")),
            ("stage-type", StageType),
        ],
        "jobs" => &[
            ("status", Status),
            ("feed", Feed),
            ("department", Rel("department")),
            ("role", Rel("role")),
            ("locations", Rel("locations")),
            ("regions", Rel("regions")),
        ],
        "users" => &[
            ("email", EqCi("email")),
            ("department", Rel("department")),
            ("external-id", Eq("external-id")),
        ],
        "job-offers" => &[("job-application-id", Rel("job-application"))],
        _ => &[],
    }
}

const HUMAN_STATUSES: &[&str] = &[
    "archived",
    "unlisted",
    "expired",
    "draft",
    "published",
    "scheduled",
    "unsaved",
];
const STAGE_TYPES: &[&str] = &["Inbox", "In process", "Hired"];

// ---------------------------------------------------------------------------------------
// Time

const EPOCH_2023: i64 = 1_672_531_200;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A Teamtailor timestamp `secs` after 2023-01-01T00:00:00Z: milliseconds, and the
/// company's offset (`+02:00` April to October, `+01:00` otherwise).
pub fn tt(secs: u64) -> String {
    let utc = EPOCH_2023 + secs as i64;
    let (_, month, _) = civil_from_days(utc.div_euclid(86_400));
    let off: i64 = if (4..=10).contains(&month) { 2 } else { 1 };
    let local = utc + off * 3600;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let rem = local.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+{off:02}:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        (secs * 13 + secs / 7) % 1000
    )
}

/// The date `secs` after 2023-01-01 (`YYYY-MM-DD`).
fn day_of(secs: u64) -> String {
    let (y, m, d) = civil_from_days((EPOCH_2023 + secs as i64).div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses an ISO-8601 date-time with an offset (`Z`, `±HH:MM`, `±HHMM`, `±HH`), seconds and
/// fraction optional; nanoseconds since the Unix epoch.
pub fn parse_instant(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let year = num(0, 4)?;
    if !at(4, b'-') || !at(7, b'-') || !(at(10, b'T') || at(10, b't')) || !at(13, b':') {
        return None;
    }
    let (month, day, hour, minute) = (num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?);
    let mut i = 16;
    let mut second = 0;
    if at(i, b':') {
        second = num(17, 19)?;
        i = 19;
    }
    let mut nanos: i128 = 0;
    if at(i, b'.') || at(i, b',') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(start, end)? as i128 * 10i128.pow(9 - digits as u32);
        i = end;
    }
    let tz = s.get(i..)?;
    let offset: i64 = match tz {
        "Z" | "z" => 0,
        _ => {
            let sign = match tz.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let rest = &tz[1..];
            let digits = |t: &str| t.len() == 2 && t.bytes().all(|c| c.is_ascii_digit());
            let (h, m) = match rest.len() {
                2 => (rest, "00"),
                4 => (&rest[..2], &rest[2..]),
                5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
                _ => return None,
            };
            if !digits(h) || !digits(m) {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs as i128 * 1_000_000_000 + nanos)
}

// ---------------------------------------------------------------------------------------
// Dataset

/// The data served: every resource by type, each list ordered by id.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Resources by JSON:API type (see [`KINDS`]), ordered by numeric id.
    pub kinds: BTreeMap<&'static str, Vec<Res>>,
}

impl Dataset {
    /// The resources of a type (empty for an unknown type).
    pub fn all(&self, kind: &str) -> &[Res] {
        self.kinds.get(kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// How many resources of a type there are.
    pub fn count(&self, kind: &str) -> usize {
        self.all(kind).len()
    }

    /// One resource.
    pub fn get(&self, kind: &str, id: u64) -> Option<&Res> {
        let v = self.kinds.get(kind)?;
        v.binary_search_by_key(&id, |r| r.id).ok().map(|i| &v[i])
    }

    /// One resource, to change it (call [`Dataset::derive`] after changing relationships).
    pub fn get_mut(&mut self, kind: &str, id: u64) -> Option<&mut Res> {
        let v = self.kinds.get_mut(kind)?;
        let i = v.binary_search_by_key(&id, |r| r.id).ok()?;
        Some(&mut v[i])
    }

    fn push(&mut self, kind: &'static str, r: Res) {
        self.kinds.entry(kind).or_default().push(r);
    }

    /// Removes a resource as Teamtailor does (section 11.13): a candidate takes its job
    /// applications and their offers with it; a job its stages, applications (and their
    /// offers), picked questions and team memberships; a user their team memberships; a
    /// question its picked questions. References to removed records disappear. False when
    /// there was no such record.
    pub fn remove(&mut self, kind: &str, id: u64) -> bool {
        let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
            return false;
        };
        if self.get(kind, id).is_none() {
            return false;
        }
        let mut gone: HashSet<Ref> = HashSet::new();
        gone.insert(Ref { kind, id });
        // cascade until nothing new goes
        loop {
            let before = gone.len();
            let points_to = |r: &Res, name: &str, gone: &HashSet<Ref>| {
                r.refs(name).iter().any(|t| gone.contains(t))
            };
            for (k, rows) in &self.kinds {
                for r in rows {
                    let me = Ref { kind: k, id: r.id };
                    if gone.contains(&me) {
                        continue;
                    }
                    let dies = match *k {
                        "job-applications" => {
                            points_to(r, "candidate", &gone) || points_to(r, "job", &gone)
                        }
                        "job-offers" => points_to(r, "job-application", &gone),
                        "stages" => points_to(r, "job", &gone),
                        "team-memberships" => {
                            points_to(r, "user", &gone)
                                || r.one("team")
                                    .is_some_and(|t| t.kind == "jobs" && gone.contains(&t))
                        }
                        "picked-questions" => {
                            points_to(r, "question", &gone)
                                || r.parent.is_some_and(|j| {
                                    gone.contains(&Ref {
                                        kind: "jobs",
                                        id: j,
                                    })
                                })
                        }
                        _ => false,
                    };
                    if dies {
                        gone.insert(me);
                    }
                }
            }
            if gone.len() == before {
                break;
            }
        }
        for (k, rows) in self.kinds.iter_mut() {
            rows.retain(|r| !gone.contains(&Ref { kind: k, id: r.id }));
        }
        self.derive();
        true
    }

    /// Rebuilds what is derived from the stored forward links: reverse relationships (a
    /// candidate's applications, a job's stages, candidates, picked questions, questions,
    /// team memberships and colleagues, a user's jobs, memberships and teams, a stage's
    /// applications), the stages' application counts, and drops links to removed records.
    pub fn derive(&mut self) {
        let present: HashSet<Ref> = self
            .kinds
            .iter()
            .flat_map(|(k, rows)| rows.iter().map(move |r| Ref { kind: k, id: r.id }))
            .collect();
        for rows in self.kinds.values_mut() {
            for r in rows.iter_mut() {
                for rel in r.rels.values_mut() {
                    match rel {
                        Rel::One(t) => {
                            if t.is_some_and(|t| !present.contains(&t)) {
                                *t = None;
                            }
                        }
                        Rel::Many(v) => v.retain(|t| present.contains(t)),
                    }
                }
            }
        }
        let mut rev: HashMap<Ref, HashMap<&'static str, Vec<Ref>>> = HashMap::new();
        let mut add = |owner: Ref, name: &'static str, target: Ref| {
            let v = rev.entry(owner).or_default().entry(name).or_default();
            if !v.contains(&target) {
                v.push(target);
            }
        };
        let mut counts: HashMap<u64, (u64, u64)> = HashMap::new();
        for a in self.all("job-applications") {
            let me = Ref {
                kind: "job-applications",
                id: a.id,
            };
            if let Some(c) = a.one("candidate") {
                add(c, "job-applications", me);
                if let Some(j) = a.one("job") {
                    add(j, "candidates", c);
                }
            }
            if let Some(s) = a.one("stage") {
                add(s, "job-applications", me);
                let e = counts.entry(s.id).or_default();
                if a.attributes
                    .get("rejected-at")
                    .is_some_and(|v| !v.is_null())
                {
                    e.1 += 1;
                } else {
                    e.0 += 1;
                }
            }
        }
        for s in self.all("stages") {
            if let Some(j) = s.one("job") {
                add(
                    j,
                    "stages",
                    Ref {
                        kind: "stages",
                        id: s.id,
                    },
                );
            }
        }
        for p in self.all("picked-questions") {
            if let Some(j) = p.parent {
                let job = Ref {
                    kind: "jobs",
                    id: j,
                };
                add(
                    job,
                    "picked-questions",
                    Ref {
                        kind: "picked-questions",
                        id: p.id,
                    },
                );
                if let Some(q) = p.one("question") {
                    add(job, "questions", q);
                }
            }
        }
        for m in self.all("team-memberships") {
            let me = Ref {
                kind: "team-memberships",
                id: m.id,
            };
            let user = m.one("user");
            if let Some(u) = user {
                add(u, "team-memberships", me);
            }
            match m.one("team") {
                Some(t) if t.kind == "jobs" => {
                    add(t, "team-memberships", me);
                    if let Some(u) = user {
                        add(t, "colleagues", u);
                    }
                }
                Some(t) => {
                    if let Some(u) = user {
                        add(u, "teams", t);
                    }
                }
                None => {}
            }
        }
        for j in self.all("jobs") {
            if let Some(u) = j.one("user") {
                add(
                    u,
                    "jobs",
                    Ref {
                        kind: "jobs",
                        id: j.id,
                    },
                );
            }
        }
        const REVERSE: &[(&str, &[&str])] = &[
            ("candidates", &["job-applications"]),
            (
                "jobs",
                &[
                    "stages",
                    "candidates",
                    "picked-questions",
                    "questions",
                    "team-memberships",
                    "colleagues",
                ],
            ),
            ("users", &["jobs", "team-memberships", "teams"]),
            ("stages", &["job-applications"]),
        ];
        for (kind, names) in REVERSE {
            let Some(rows) = self.kinds.get_mut(kind) else {
                continue;
            };
            for r in rows.iter_mut() {
                let me = Ref { kind, id: r.id };
                let mut mine = rev.remove(&me).unwrap_or_default();
                for name in *names {
                    let mut v = mine.remove(name).unwrap_or_default();
                    v.sort_by_key(|t| t.id);
                    r.rels.insert(*name, Rel::Many(v));
                }
                if *kind == "stages" {
                    let (active, rejected) = counts.get(&r.id).copied().unwrap_or_default();
                    r.attributes
                        .insert("active-job-applications-count".into(), json!(active));
                    r.attributes
                        .insert("rejected-job-applications-count".into(), json!(rejected));
                }
            }
        }
    }
}

fn ascii_fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        let m = match c {
            'a'..='z' | '0'..='9' => c.to_string(),
            'ä' | 'å' | 'á' | 'à' | 'â' | 'ã' | 'ą' => "a".into(),
            'ë' | 'é' | 'è' | 'ê' | 'ę' => "e".into(),
            'ï' | 'í' | 'ì' | 'î' => "i".into(),
            'ö' | 'ó' | 'ò' | 'ô' | 'õ' | 'ø' | 'ō' => "o".into(),
            'ü' | 'ú' | 'ù' | 'û' | 'ū' => "u".into(),
            'ç' | 'ć' => "c".into(),
            'ñ' | 'ń' => "n".into(),
            'ł' => "l".into(),
            'ś' => "s".into(),
            'ź' | 'ż' => "z".into(),
            'ß' => "ss".into(),
            'æ' => "ae".into(),
            _ => String::new(),
        };
        out.push_str(&m);
    }
    if out.is_empty() { "x".into() } else { out }
}

const DAY: u64 = 86_400;
const CAREERSITE: &str = "https://acme-robotics.teamtailor.com";

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Lager & Logistik",
    "People & Culture",
    "Försäljning",
    "Design",
    "Customer Success",
];

#[allow(clippy::type_complexity)]
const LOCATIONS: &[(&str, Option<(&str, &str, &str, &str)>, bool, &str, &str)] = &[
    (
        "Stockholm HQ",
        Some(("Sveavägen 44", "Stockholm", "Sweden", "111 34")),
        true,
        "59.3401",
        "18.0586",
    ),
    (
        "Göteborg Lager",
        Some(("Lindholmspiren 7", "Göteborg", "Sweden", "417 56")),
        false,
        "57.7075",
        "11.9380",
    ),
    (
        "Berlin",
        Some(("Torstraße 109", "Berlin", "Germany", "10119")),
        false,
        "52.5291",
        "13.4010",
    ),
    (
        "Kraków",
        Some(("ul. Grzegórzecka 21", "Kraków", "Poland", "31-532")),
        false,
        "50.0580",
        "19.9530",
    ),
    (
        "Lisboa",
        Some(("Rua Augusta 27", "Lisboa", "Portugal", "1100-048")),
        false,
        "38.7100",
        "-9.1370",
    ),
    ("Remote (EU)", None, false, "", ""),
    (
        "Montréal",
        Some(("1250 Rue Guy", "Montréal", "Canada", "H3H 2L3")),
        false,
        "45.4950",
        "-73.5780",
    ),
];

const TEAMS: &[&str] = &["Platform Guild", "Hiring Squad Nord", "Équipe Design"];

const ROLES: &[&str] = &[
    "admin",
    "recruiter",
    "user",
    "recruiter",
    "designer",
    "user",
    "external_recruiter",
    "no_access",
    "user",
    "recruiter",
];

const JOB_TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Lagermedarbetare, Göteborg",
    "Product Designer",
    "Talent Partner",
    "Développeur·se Full-Stack",
    "Truckförare – nattskift",
    "Data Analyst",
    "Kundtjänstmedarbetare",
    "Engineering Manager",
    "Praktikant:in Marketing",
    "Site Reliability Engineer",
    "Controller",
];

/// Per job index: its `human-status` (a 12-long cycle for the full dataset).
const HUMAN_CYCLE: &[&str] = &[
    "published",
    "published",
    "published",
    "unlisted",
    "published",
    "draft",
    "archived",
    "published",
    "expired",
    "scheduled",
    "unsaved",
    "published",
];
const HUMAN_SMALL: &[&str] = &["published", "published", "unlisted", "archived", "draft"];

const EMPLOYMENT: &[Option<&str>] = &[
    Some("fulltime"),
    Some("fulltime"),
    Some("parttime"),
    Some("temporary"),
    Some("contract"),
    None,
    Some("internship"),
    Some("seasonal"),
];
const REMOTE: &[&str] = &["none", "hybrid", "fully", "none", "temporary"];
const REQUIREMENT: &[&str] = &["optional", "required", "off"];

const STAGE_NAMES: &[&str] = &[
    "Telefonintervju",
    "Case study",
    "Intervju 1",
    "Referenser",
    "Erbjudande",
];

/// `(title, type, alternatives, multiple, single-line, range)`.
#[allow(clippy::type_complexity)]
const QUESTIONS: &[(
    &str,
    &str,
    &[&str],
    Option<bool>,
    Option<bool>,
    Option<(i64, i64, &str)>,
)] = &[
    ("Har du B-körkort?", "Boolean", &[], None, None, None),
    (
        "Which office would you prefer?",
        "Choice",
        &["Stockholm", "Göteborg", "Remote"],
        Some(false),
        None,
        None,
    ),
    (
        "LinkedIn profile or portfolio",
        "Text",
        &[],
        None,
        Some(true),
        None,
    ),
    (
        "Years of experience with Rust",
        "Range",
        &[],
        None,
        None,
        Some((0, 15, "years")),
    ),
    (
        "Tell us about yourself (video)",
        "Video",
        &[],
        None,
        None,
        None,
    ),
    (
        "Which shifts can you work?",
        "Choice",
        &["Früh", "Spät", "Nacht", "Wochenende"],
        Some(true),
        None,
        None,
    ),
    ("Pourquoi Acme ?", "Text", &[], None, Some(false), None),
    (
        "Do you need visa sponsorship?",
        "Boolean",
        &[],
        None,
        None,
        None,
    ),
    (
        "Preferred start",
        "Choice",
        &["Immediately", "1 month", "3 months"],
        Some(false),
        None,
        None,
    ),
    (
        "Expected monthly salary",
        "Range",
        &[],
        None,
        None,
        Some((20_000, 90_000, "SEK")),
    ),
    ("Earliest start date", "Text", &[], None, Some(true), None),
    (
        "Have you worked with us before?",
        "Boolean",
        &[],
        None,
        None,
        None,
    ),
];

const REASONS: &[(&str, bool)] = &[
    ("Not enough experience", true),
    ("Candidate withdrew", false),
    ("Keine Arbeitserlaubnis", true),
    ("Accepted another offer", false),
    ("Salary expectations too high", true),
    ("Position filled", true),
    ("Ne répond plus", false),
    ("Failed assessment", true),
];

const SOURCES: &[Option<&str>] = &[
    Some("LinkedIn"),
    Some("Career site"),
    None,
    Some("Indeed"),
    Some("Referral"),
    Some("Agentur Müller"),
    Some("Facebook"),
    None,
];

const TAGS: &[&str] = &[
    "rust",
    "night-shift",
    "relocation-ok",
    "Förare",
    "talent-pool",
    "senior",
];

fn name_of(i: usize, salt: usize) -> (&'static str, &'static str) {
    (
        FIRST[(i * 7 + salt) % FIRST.len()],
        LAST[(i * 5 + salt * 3) % LAST.len()],
    )
}

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let full = size == Size::Full;
    let mut rng = Rng::new(0x7EA3_7A11);
    let (n_dep, n_loc, n_users, n_teams, n_q, n_reasons, n_jobs, n_cands) = if full {
        (6, 7, 41, 3, 12, 8, 60, 525)
    } else {
        (2, 3, 4, 1, 6, 3, 5, 6)
    };
    let mut d = Dataset::default();
    for k in KINDS {
        d.kinds.insert(k, Vec::new());
    }

    let dep_id = |i: usize| 101 + i as u64 * 2;
    for (i, name) in DEPARTMENTS.iter().take(n_dep).enumerate() {
        d.push("departments", Res::new(dep_id(i), json!({"name": name})));
    }
    let loc_id = |i: usize| 201 + i as u64;
    for (i, (name, addr, hq, lat, long)) in LOCATIONS.iter().take(n_loc).enumerate() {
        let (address, city, country, zip) = match addr {
            Some((a, c, co, z)) => (json!(a), json!(c), json!(co), json!(z)),
            None => (Value::Null, Value::Null, Value::Null, Value::Null),
        };
        let contact = addr.is_some();
        d.push(
            "locations",
            Res::new(
                loc_id(i),
                json!({
                    "name": name, "address": address, "city": city, "country": country, "zip": zip,
                    "headquarters": hq,
                    "lat": if lat.is_empty() { Value::Null } else { json!(lat) },
                    "long": if long.is_empty() { Value::Null } else { json!(long) },
                    "email": if contact { json!(format!("{}@acme-robotics.test", ascii_fold(name))) } else { Value::Null },
                    "phone": if contact { json!(format!("+46 8 555 {:03} {:02}", 100 + i, i * 7)) } else { Value::Null },
                }),
            ),
        );
    }
    let team_id = |i: usize| 11 + i as u64;
    for (i, name) in TEAMS.iter().take(n_teams).enumerate() {
        d.push("teams", Res::new(team_id(i), json!({"name": name})));
    }

    // users
    let user_id = |i: usize| 4401 + i as u64 * 3;
    let mut user_emails = Vec::new();
    for i in 0..n_users {
        let (f, l) = name_of(i, 1);
        let name = match i % 10 {
            4 => f.to_owned(),
            7 => format!("{f} María {l}"),
            _ => format!("{f} {l}"),
        };
        let email = format!("{}.{}@acme-robotics.test", ascii_fold(f), ascii_fold(l));
        let email = if i % 10 == 4 {
            format!("{}{i}@acme-robotics.test", ascii_fold(f))
        } else {
            email.replace('@', &format!("{i}@"))
        };
        let login = match i % 9 {
            2 => json!(format!("{}.login@acme-robotics.test", ascii_fold(l))),
            5 => Value::Null,
            _ => json!(email),
        };
        let email_v = if i % 13 == 12 {
            Value::Null
        } else {
            json!(email)
        };
        user_emails.push(email_v.clone());
        let role = ROLES[i % ROLES.len()];
        let mut u = Res::new(
            user_id(i),
            json!({
                "name": name, "email": email_v, "login-email": if i % 13 == 12 { Value::Null } else { login },
                "role": role,
                "title": ([Some("Recruiter"), Some("Hiring Manager"), Some("Teamleiter Lager"), Some("Designer"), Some("CTO"), None][i % 6]),
                "username": format!("{}{}", ascii_fold(f), i),
                "external-id": if i % 3 == 0 { json!(format!("EMP-{:05}", 300 + i)) } else { Value::Null },
                "phone": if i % 4 == 1 { Value::Null } else { json!(format!("+46 70 {:03} {:02} {:02}", 100 + i, i % 100, (i * 7) % 100)) },
                "picture": if i % 5 == 2 { Value::Null } else { json!({"standard": format!("https://images.teamtailor-cdn.test/users/{}.jpg", user_id(i))}) },
                "description": if i % 2 == 0 { json!(format!("Arbetar med rekrytering sedan {}.", 2010 + i % 12)) } else { Value::Null },
                "visible": i % 6 != 5, "hide-email": i % 8 == 3,
                "signature": if i % 3 == 1 { json!(format!("Hälsningar, {f}")) } else { Value::Null },
                "facebook-profile": Value::Null,
                "linkedin-profile": if i % 2 == 1 { json!(format!("https://www.linkedin.com/in/user-{i}")) } else { Value::Null },
                "twitter-profile": Value::Null, "instagram-profile": Value::Null,
                "other-profile": if i % 11 == 4 { json!(format!("https://{}.dev", ascii_fold(f))) } else { Value::Null },
                "role-addons": if role == "admin" { json!(["analytics"]) } else if i % 7 == 1 { json!(["interview_kit"]) } else { json!([]) },
            }),
        );
        u = u
            .rel(
                "department",
                one_opt("departments", (i % 5 != 4).then(|| dep_id(i % n_dep))),
            )
            .rel(
                "location",
                one_opt("locations", (i % 3 != 2).then(|| loc_id(i % n_loc))),
            );
        d.push("users", u);
    }

    let q_id = |i: usize| 501 + i as u64;
    for (i, (title, typ, alts, multiple, single, range)) in QUESTIONS.iter().take(n_q).enumerate() {
        d.push(
            "questions",
            Res::new(
                q_id(i),
                json!({
                    "title": title, "question-type": typ,
                    "alternatives": if *typ == "Choice" { json!(alts) } else { Value::Null },
                    "multiple": multiple, "single-line": single,
                    "start-with": range.map(|r| r.0), "end-with": range.map(|r| r.1), "unit": range.map(|r| r.2),
                }),
            ),
        );
    }
    let reason_id = |i: usize| 301 + i as u64;
    let reasons: Vec<usize> = if full {
        (0..n_reasons).collect()
    } else {
        vec![0, 1, 2]
    };
    for &i in &reasons {
        let (reason, by_company) = REASONS[i];
        d.push(
            "reject-reasons",
            Res::new(
                reason_id(i),
                json!({"reason": reason, "rejected-by-company": by_company}),
            ),
        );
    }

    // jobs, their stages, picked questions, team memberships
    struct JobInfo {
        id: u64,
        created: u64,
        stages: Vec<(u64, &'static str)>, // in row order: (id, stage-type)
        recruiter: Option<u64>,
    }
    let mut jobs: Vec<JobInfo> = Vec::new();
    let mut appliable: Vec<usize> = Vec::new();
    let mut stage_next = 22_501u64;
    let mut picked_next = 601u64;
    let mut tm_next = 1001u64;
    for j in 0..n_jobs {
        let id = 7101 + j as u64 * 4 + (j as u64 % 3);
        let human = if full {
            HUMAN_CYCLE[j % HUMAN_CYCLE.len()]
        } else {
            HUMAN_SMALL[j % HUMAN_SMALL.len()]
        };
        let status = match human {
            "unlisted" => "unlisted",
            "draft" => "draft",
            "archived" => "archived",
            "unsaved" => "temp",
            _ => "open",
        };
        let internal = if full { j % 7 == 3 } else { j == 1 };
        let created =
            420 * DAY + j as u64 * 4 * DAY + (j as u64 * 3 * 3600) % DAY + rng.below(3600);
        let title = JOB_TITLES[j % JOB_TITLES.len()];
        let slug: String = ascii_fold(&title.replace(' ', "-"));
        let recruiter = (j % 8 != 7).then(|| user_id((j * 7) % n_users));
        let (start_date, end_date) = match human {
            "scheduled" => (json!(day_of(1300 * DAY + j as u64 * DAY)), Value::Null),
            "expired" => (json!(day_of(created)), json!(day_of(created + 45 * DAY))),
            _ if j % 6 == 1 => (json!(day_of(created)), Value::Null),
            _ => (Value::Null, Value::Null),
        };
        let tags: Vec<&str> = match j % 4 {
            0 => vec![],
            1 => vec!["tech"],
            2 => vec!["lager", "skift"],
            _ => vec!["remote-friendly"],
        };
        let mut job = Res::new(
            id,
            json!({
                "title": title,
                "pitch": if j % 5 == 3 { Value::Null } else { json!(format!("Join Acme as {title}.")) },
                "body": format!("<p>Vi söker en <strong>{title}</strong>.</p><ul><li>Kollektivavtal</li><li>Friskvård</li></ul>"),
                "apply-button-text": if j % 4 == 2 { json!("Ansök nu") } else { Value::Null },
                "status": status, "human-status": human, "internal": internal, "pinned": j % 11 == 0,
                "start-date": start_date, "end-date": end_date, "tags": tags,
                "external-application-url": if j % 13 == 9 { json!(format!("https://jobs.partner.test/{id}")) } else { Value::Null },
                "name-requirement": "required",
                "resume-requirement": REQUIREMENT[j % 3], "cover-letter-requirement": REQUIREMENT[(j + 1) % 3],
                "phone-requirement": REQUIREMENT[(j + 2) % 3],
                "remote-status": REMOTE[j % REMOTE.len()],
                "mailbox": format!("job-{id}@inbound.acme-robotics.test"),
                "created-at": tt(created), "updated-at": tt(created + (j as u64 % 9 + 1) * DAY + 977),
                "language-code": (["sv", "en", "de", "en", "fr"][j % 5]),
                "recruiter-email": match recruiter { Some(u) => user_emails[((u - 4401) / 3) as usize].clone(), None => Value::Null },
                "sharing-image-layout": (["default", "card-with-logo", "none"][j % 3]),
                "employment-type": EMPLOYMENT[j % EMPLOYMENT.len()],
            }),
        );
        job.links = vec![
            (
                "careersite-job-url",
                format!("{CAREERSITE}/jobs/{id}-{slug}"),
            ),
            (
                "careersite-job-internal-url",
                format!("{CAREERSITE}/jobs/{id}-{slug}/internal"),
            ),
            (
                "careersite-job-apply-url",
                format!("{CAREERSITE}/jobs/{id}-{slug}/applications/new"),
            ),
            (
                "careersite-job-apply-iframe-url",
                format!("{CAREERSITE}/jobs/{id}-{slug}/applications/new?iframe=true"),
            ),
        ];
        let locs: Vec<u64> = match j % 5 {
            0 => vec![],
            4 => vec![loc_id(j % n_loc), loc_id((j + 1) % n_loc)],
            _ => vec![loc_id(j % n_loc)],
        };
        job = job
            .rel(
                "department",
                one_opt("departments", (j % 9 != 8).then(|| dep_id(j % n_dep))),
            )
            .rel("locations", many("locations", locs))
            .rel("user", one_opt("users", recruiter));
        d.push("jobs", job);

        // stages: Inbox lowest row-order, Hired highest; ids not always in row order
        let n_stages = if full { 4 + j % 3 } else { 3 + j % 2 };
        let mut types: Vec<&'static str> = vec!["Inbox"];
        types.extend(std::iter::repeat_n("In process", n_stages - 2));
        types.push("Hired");
        let mut ids: Vec<u64> = (0..n_stages as u64).map(|k| stage_next + k).collect();
        stage_next += n_stages as u64 + 1;
        if j % 3 == 1 {
            ids.swap(n_stages - 1, n_stages - 2);
        }
        let mut stages: Vec<(u64, &'static str)> = Vec::new();
        let mut stage_rows = Vec::new();
        for (k, typ) in types.iter().enumerate() {
            let name = match *typ {
                "Inbox" => "Inbox".to_owned(),
                "Hired" => (if j % 2 == 0 { "Anställd" } else { "Hired" }).to_owned(),
                _ => STAGE_NAMES[(j + k) % STAGE_NAMES.len()].to_owned(),
            };
            let row_order = -4_194_303i64 + k as i64 * 1_048_576 + (j as i64 % 7);
            stage_rows.push(
                Res::new(
                    ids[k],
                    json!({
                        "name": name, "stage-type": typ, "row-order": row_order,
                        "active-job-applications-count": 0, "rejected-job-applications-count": 0,
                        "created-at": tt(created + k as u64 * 60 + 5), "updated-at": tt(created + (k as u64 + 2) * DAY + 11),
                    }),
                )
                .rel("job", one("jobs", id)),
            );
            stages.push((ids[k], typ));
        }
        stage_rows.sort_by_key(|r| r.id);
        for r in stage_rows {
            d.push("stages", r);
        }

        let n_picked = if full { [0, 1, 2, 3, 5][j % 5] } else { j % 3 };
        for m in 0..n_picked.min(n_q) {
            let mut p = Res::new(picked_next, json!({"mandatory": (j + m) % 2 == 0}))
                .rel("question", one("questions", q_id((j + m) % n_q)));
            p.parent = Some(id);
            d.push("picked-questions", p);
            picked_next += 1;
        }
        if human != "unsaved" {
            for m in 0..(1 + j % 3) {
                d.push(
                    "team-memberships",
                    Res::new(tm_next, json!({}))
                        .rel("user", one("users", user_id((j * 3 + m * 5) % n_users)))
                        .rel("team", one("jobs", id)),
                );
                tm_next += 1;
            }
        }
        if matches!(human, "published" | "unlisted" | "archived" | "expired") {
            appliable.push(j);
        }
        jobs.push(JobInfo {
            id,
            created,
            stages,
            recruiter,
        });
    }
    for t in 0..n_teams {
        for m in 0..(2 + t % 3) {
            d.push(
                "team-memberships",
                Res::new(tm_next, json!({}))
                    .rel("user", one("users", user_id((t * 5 + m * 2 + 1) % n_users)))
                    .rel("team", one("teams", team_id(t))),
            );
            tm_next += 1;
        }
    }

    // candidates, their applications and offers
    let pattern: &[usize] = if full {
        &[1, 2, 3, 2, 1, 3]
    } else {
        &[1, 2, 1, 2, 1, 2]
    };
    let mut cand_id = 99_801u64;
    let mut app_id = 900_001u64;
    let mut offer_id = 55u64;
    let mut offers: Vec<Res> = Vec::new();
    for c in 0..n_cands {
        let id = cand_id;
        cand_id += 1 + (c as u64 % 3);
        let (f, l) = name_of(c, 2);
        let created = 430 * DAY + c as u64 * 69_120 + (c as u64 * 7919) % 3600;
        let email = match c % 17 {
            5 | 12 if c % 13 != 0 => Value::Null,
            3 => json!(
                format!("{}.{}{c}@Example.ORG", f, ascii_fold(l))
                    .replace(|ch: char| !ch.is_ascii(), "")
            ),
            _ => json!(format!(
                "{}.{}{c}@example.org",
                ascii_fold(f),
                ascii_fold(l)
            )),
        };
        let source = SOURCES[c % SOURCES.len()];
        let tags: Vec<&str> = if c % 5 == 0 {
            vec![]
        } else {
            (0..(1 + c % 3))
                .map(|t| TAGS[(c + t * 2) % TAGS.len()])
                .collect()
        };
        let linkedin = c % 3 == 0;
        let mut cand = Res::new(
            id,
            json!({
                "first-name": f,
                "last-name": if c % 29 == 11 { Value::Null } else { json!(l) },
                "email": email,
                "phone": if c % 4 == 1 { Value::Null } else { json!(format!("+46 70 {:03} {:02} {:02}", c % 1000, (c * 7) % 100, (c * 13) % 100)) },
                "linkedin-url": if linkedin { json!(format!("https://www.linkedin.com/in/cand-{c}")) } else { Value::Null },
                "linkedin-uid": if linkedin { json!(format!("li-{:08x}", rng.next() >> 32)) } else { Value::Null },
                "facebook-id": if c % 23 == 4 { json!(format!("{}", 10_000_000 + c)) } else { Value::Null },
                "picture": if c % 6 == 2 { json!(format!("https://images.teamtailor-cdn.test/candidates/{id}.jpg")) } else { Value::Null },
                "pitch": match c % 7 { 0 => json!("Ich liebe Logistik und Gabelstapler."), 3 => json!("I like turtles 🐢 and Rust."), _ => Value::Null },
                "resume": if c % 4 == 0 { json!(format!("https://teamtailor-uploads.test/resumes/{id}.pdf?X-Amz-Expires=30&X-Amz-Signature=sim")) } else { Value::Null },
                "original-resume": if c % 4 == 0 { json!(format!("https://teamtailor-uploads.test/resumes/{id}-original.docx?X-Amz-Expires=30")) } else { Value::Null },
                "referring-site": source,
                "referring-url": match source { Some("LinkedIn") => json!("https://www.linkedin.com/jobs/view/1"), Some("Facebook") => json!("http://facebook.com/page"), _ => Value::Null },
                "referred": source == Some("Referral"), "sourced": c % 6 == 0, "connected": c % 5 != 0,
                "internal": c % 20 == 7, "unsubscribed": c % 31 == 4, "tags": tags,
                "created-at": tt(created), "updated-at": tt(created + (c as u64 % 40) * DAY + 3600 + c as u64 % 97),
                "facebook-profile": Value::Null,
                "linkedin-profile": if linkedin { json!(format!("https://www.linkedin.com/in/cand-{c}")) } else { Value::Null },
            }),
        );
        cand = cand
            .rel(
                "department",
                one_opt("departments", (c % 7 == 0).then(|| dep_id(c % n_dep))),
            )
            .rel(
                "locations",
                many(
                    "locations",
                    if c % 5 == 2 {
                        vec![loc_id(c % n_loc)]
                    } else {
                        vec![]
                    },
                ),
            );
        d.push("candidates", cand);

        let n_apps = pattern[c % pattern.len()].min(appliable.len());
        for k in 0..n_apps {
            let job = &jobs[appliable[(c * 7 + k * 13) % appliable.len()]];
            let outcome = (c * 3 + k) % 8; // 0 hired, 1-2 rejected, else pending
            let n = job.stages.len();
            let stage_idx = match outcome {
                0 => n - 1,
                _ => (c + k * 2) % (n - 1),
            };
            let (stage, _) = job.stages[stage_idx];
            let applied = created.max(job.created) + (k as u64 + 1) * DAY + (c as u64 * 631) % DAY;
            let changed =
                applied + stage_idx as u64 * 2 * DAY + if stage_idx > 0 { 1234 } else { 0 };
            let rejected_at = matches!(outcome, 1 | 2).then(|| changed + DAY + 17);
            let updated = rejected_at.unwrap_or(changed) + (c as u64 % 5) * 3600 + 61;
            let reason = match outcome {
                1 if c % 11 != 5 => Some(reason_id(reasons[c % reasons.len()])),
                2 => Some(reason_id(reasons[(c + 1) % reasons.len()])),
                _ => None,
            };
            let app_site = if k == 0 {
                source
            } else {
                SOURCES[(c + k) % SOURCES.len()]
            };
            let app = Res::new(
                app_id,
                json!({
                    "created-at": tt(applied), "updated-at": tt(updated),
                    "cover-letter": match (c + k) % 4 { 0 => json!("Hej! Jag söker tjänsten för att jag älskar robotar."), 2 => json!("Dear Acme, please find my application attached."), _ => Value::Null },
                    "changed-stage-at": tt(changed),
                    "rejected-at": rejected_at.map(tt),
                    "referring-site": app_site,
                    "referring-url": if app_site == Some("LinkedIn") { json!("https://www.linkedin.com/jobs/view/1") } else { Value::Null },
                    "sourced": c % 6 == 0,
                }),
            )
            .rel("candidate", one("candidates", id))
            .rel("job", one("jobs", job.id))
            .rel("stage", one("stages", stage))
            .rel("reject-reason", one_opt("reject-reasons", reason));
            d.push("job-applications", app);

            // offers: every hire (accepted), and a variety late in the process
            let late = outcome > 2 && stage_idx == n - 2 && stage_idx > 0;
            if outcome == 0 || late || (!full && outcome == 3) {
                let variant = if outcome == 0 { 6 } else { (c + k) % 6 };
                let (status, response) = match variant {
                    0 => ("draft", None),
                    1 => ("pending_approval", None),
                    2 => ("approved", None),
                    3 => ("rejected", None),
                    4 => ("sent", None),
                    5 => ("sent", Some("declined")),
                    _ => ("sent", Some("accepted")),
                };
                let o_created = changed + 3600;
                let sent = (status == "sent").then(|| o_created + DAY);
                let answered = response.and(sent.map(|s| s + 2 * DAY));
                let o_updated = answered.or(sent).unwrap_or(o_created + 600);
                offers.push(
                    Res::new(
                        offer_id,
                        json!({
                            "status": status, "response": response,
                            "sent-at": sent.map(tt), "answered-at": answered.map(tt),
                            "created-at": tt(o_created), "updated-at": tt(o_updated),
                            "details": {
                                "salary": format!("{} 000 SEK", 38 + (c % 30)),
                                "acceptance-message": if response == Some("accepted") { json!("Tack! Jag accepterar gärna.") } else { Value::Null },
                                "rejection-message": if response == Some("declined") { json!("Thank you, but I accepted another offer.") } else { Value::Null },
                            },
                        }),
                    )
                    .rel("job-application", one("job-applications", app_id))
                    .rel("user", one_opt("users", job.recruiter)),
                );
                offer_id += 1 + (c as u64 % 2);
            }
            app_id += 1;
        }
    }
    for o in offers {
        d.push("job-offers", o);
    }
    for rows in d.kinds.values_mut() {
        rows.sort_by_key(|r| r.id);
    }
    d.derive();
    d
}

// ---------------------------------------------------------------------------------------
// Serving

/// Switches and counters of a running simulator.
pub struct Sim {
    /// The data served (tests may change it between runs; see [`Sim::delete`]).
    pub data: RwLock<Dataset>,
    /// Accepted API keys and their scopes.
    pub keys: RwLock<HashMap<String, Scope>>,
    /// Whether the rate limit (50 per rolling 10 s per key) refuses requests.
    pub limits_on: AtomicBool,
    /// Whether the job offers add-on is enabled (otherwise `/v1/job-offers` answers 403).
    pub offers_addon: AtomicBool,
    /// Requests received (all of them, refused ones included).
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    /// `path?query` of every request received, in order.
    pub log: Mutex<Vec<String>>,
    /// Types (`candidates`, ...) whose lists and items answer 500.
    pub failing: Mutex<HashSet<String>>,
    /// Milliseconds each answer is delayed.
    pub delay_ms: AtomicU64,
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    default_host: String,
}

/// The requests allowed per key in [`WINDOW`].
pub const RATE_LIMIT: usize = 50;
/// The rolling window of the rate limit.
pub const WINDOW: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A response before it becomes HTTP.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON document.
    pub body: Value,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn error(status: u16, title: &str, detail: Option<&str>) -> Answer {
    let mut e = json!({"status": status.to_string(), "title": title});
    if let Some(d) = detail {
        e["detail"] = json!(d);
    }
    Answer {
        status,
        headers: Vec::new(),
        body: json!({"errors": [e]}),
    }
}

fn bad(title: &str, detail: String) -> Answer {
    error(400, title, Some(&detail))
}

/// What a path asks for.
#[derive(Debug, PartialEq)]
enum Route {
    List(&'static str),
    Item(&'static str, u64),
    Nested {
        parent: &'static str,
        id: u64,
        kind: &'static str,
    },
}

fn route(path: &str) -> Option<Route> {
    let p = path.strip_suffix('/').unwrap_or(path);
    let segs: Vec<&str> = p.split('/').collect();
    let listed = |s: &str| LISTED.iter().copied().find(|k| *k == s);
    let num = |s: &str| {
        (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match segs.as_slice() {
        ["", "v1", kind] => listed(kind).map(Route::List),
        ["", "v1", kind, id] => Some(Route::Item(listed(kind)?, num(id)?)),
        ["", "v1", "jobs", id, "stages"] => Some(Route::Nested {
            parent: "jobs",
            id: num(id)?,
            kind: "stages",
        }),
        ["", "v1", "jobs", id, "picked-questions"] => Some(Route::Nested {
            parent: "jobs",
            id: num(id)?,
            kind: "picked-questions",
        }),
        ["", "v1", "candidates", id, "job-applications"] => Some(Route::Nested {
            parent: "candidates",
            id: num(id)?,
            kind: "job-applications",
        }),
        _ => None,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query: each pair raw (for links) and decoded.
struct Query {
    pairs: Vec<(String, String, String)>,
}

impl Query {
    fn parse(raw: &str) -> Query {
        Query {
            pairs: raw
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (p.to_owned(), decode(k), decode(v))
                })
                .collect(),
        }
    }

    /// The last value of a key.
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(_, k, _)| k == key)
            .map(|(_, _, v)| v.as_str())
    }
}

/// A compiled filter.
enum Cond {
    From(&'static str, i128),
    To(&'static str, i128),
    EqCi(&'static str, String),
    Eq(&'static str, String),
    Bool(&'static str, bool),
    Rel(&'static str, HashSet<String>),
    Status(Option<HashSet<String>>),
    Feed { public: bool, internal: bool },
    StageType(String),
}

fn compile_filters(kind: &str, q: &Query, top_level_jobs: bool) -> Result<Vec<Cond>, Answer> {
    let spec = filters_of(kind);
    let mut conds = Vec::new();
    let (mut status_given, mut feed_given) = (false, false);
    for (_, key, value) in &q.pairs {
        let Some(rest) = key.strip_prefix("filter") else {
            continue;
        };
        let not_allowed = || bad("Filter not allowed", format!("{key} is not allowed"));
        let invalid = || {
            bad(
                "Invalid filter value",
                format!("{value:?} is not a valid value for {key}"),
            )
        };
        let Some(rest) = rest.strip_prefix('[') else {
            return Err(not_allowed());
        };
        let Some((name, tail)) = rest.split_once(']') else {
            return Err(not_allowed());
        };
        let Some((_, fk)) = spec.iter().find(|(n, _)| *n == name) else {
            return Err(not_allowed());
        };
        let sub = match tail {
            "" => None,
            t => match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                Some(s @ ("from" | "to")) => Some(s),
                _ => return Err(not_allowed()),
            },
        };
        let list = || -> HashSet<String> {
            value
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let cond = match (*fk, sub) {
            (FilterKind::Date(attr), Some(s)) => {
                let at = parse_instant(value).ok_or_else(invalid)?;
                if s == "from" {
                    Cond::From(attr, at)
                } else {
                    Cond::To(attr, at)
                }
            }
            (FilterKind::Date(_), None) | (_, Some(_)) => return Err(not_allowed()),
            (FilterKind::EqCi(attr), None) => Cond::EqCi(attr, value.to_lowercase()),
            (FilterKind::Eq(attr), None) => Cond::Eq(attr, value.clone()),
            (FilterKind::Bool(attr), None) => match value.as_str() {
                "true" => Cond::Bool(attr, true),
                "false" => Cond::Bool(attr, false),
                _ => return Err(invalid()),
            },
            (FilterKind::Rel(rel), None) => Cond::Rel(rel, list()),
            (FilterKind::Status, None) => {
                status_given = true;
                let vals = list();
                if vals.is_empty()
                    || vals
                        .iter()
                        .any(|v| v != "all" && !HUMAN_STATUSES.contains(&v.as_str()))
                {
                    return Err(invalid());
                }
                Cond::Status((!vals.contains("all")).then_some(vals))
            }
            (FilterKind::Feed, None) => {
                feed_given = true;
                let vals = list();
                if vals.is_empty() || vals.iter().any(|v| v != "public" && v != "internal") {
                    return Err(invalid());
                }
                Cond::Feed {
                    public: vals.contains("public"),
                    internal: vals.contains("internal"),
                }
            }
            (FilterKind::StageType, None) => {
                if !STAGE_TYPES.contains(&value.as_str()) {
                    return Err(invalid());
                }
                Cond::StageType(value.clone())
            }
        };
        conds.push(cond);
    }
    if top_level_jobs {
        if !status_given {
            conds.push(Cond::Status(Some(HashSet::from(["published".to_owned()]))));
        }
        if !feed_given {
            conds.push(Cond::Feed {
                public: true,
                internal: false,
            });
        }
    }
    Ok(conds)
}

fn passes(d: &Dataset, r: &Res, conds: &[Cond]) -> bool {
    let instant = |attr: &str| r.str(attr).and_then(parse_instant);
    conds.iter().all(|c| match c {
        Cond::From(a, t) => instant(a).is_some_and(|v| v >= *t),
        Cond::To(a, t) => instant(a).is_some_and(|v| v < *t),
        Cond::EqCi(a, v) => r.str(a).is_some_and(|s| s.to_lowercase() == *v),
        Cond::Eq(a, v) => r.str(a) == Some(v.as_str()),
        Cond::Bool(a, v) => r.attributes.get(*a).and_then(Value::as_bool) == Some(*v),
        Cond::Rel(rel, ids) => r.refs(rel).iter().any(|t| ids.contains(&t.id.to_string())),
        Cond::Status(None) => true,
        Cond::Status(Some(set)) => r.str("human-status").is_some_and(|s| set.contains(s)),
        Cond::Feed { public, internal } => {
            match r.attributes.get("internal").and_then(Value::as_bool) {
                Some(true) => *internal,
                _ => *public,
            }
        }
        Cond::StageType(t) => {
            r.one("stage")
                .and_then(|s| d.get("stages", s.id))
                .and_then(|s| s.str("stage-type"))
                == Some(t.as_str())
        }
    })
}

fn cmp_values(a: &Value, b: &Value) -> CmpOrdering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(CmpOrdering::Equal),
        (Value::String(x), Value::String(y)) => match (parse_instant(x), parse_instant(y)) {
            (Some(p), Some(q)) => p.cmp(&q),
            _ => x.cmp(y),
        },
        _ => rank(a).cmp(&rank(b)),
    }
}

/// `(field, descending)` sort keys; `id` is numeric.
fn sort_rows(rows: &mut [&Res], keys: &[(String, bool)]) {
    rows.sort_by(|a, b| {
        for (field, desc) in keys {
            let o = if field == "id" {
                a.id.cmp(&b.id)
            } else {
                let null = Value::Null;
                cmp_values(
                    a.attributes.get(field).unwrap_or(&null),
                    b.attributes.get(field).unwrap_or(&null),
                )
            };
            let o = if *desc { o.reverse() } else { o };
            if o != CmpOrdering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    });
}

fn parse_sort(kind: &str, q: &Query) -> Result<Option<Vec<(String, bool)>>, Answer> {
    let Some(s) = q.get("sort").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut keys = Vec::new();
    for part in s.split(',') {
        let (field, desc) = match part.strip_prefix('-') {
            Some(f) => (f, true),
            None => (part, false),
        };
        if field != "id" && !attributes_of(kind).contains(&field) {
            return Err(bad(
                "Invalid sort criteria",
                format!("{field} is not a valid sort criteria for {kind}"),
            ));
        }
        keys.push((field.to_owned(), desc));
    }
    Ok(Some(keys))
}

fn parse_include(kind: &str, q: &Query) -> Result<Vec<&'static str>, Answer> {
    let Some(s) = q.get("include").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for part in s.split(',') {
        match relationships_of(kind).iter().find(|(n, _)| *n == part) {
            Some((n, _)) => {
                if !names.contains(n) {
                    names.push(*n);
                }
            }
            None => {
                return Err(bad(
                    "Invalid include",
                    format!("{part} is not a valid include for {kind}"),
                ));
            }
        }
    }
    Ok(names)
}

fn page_param(q: &Query, key: &str, default: u64, max: u64) -> Result<u64, Answer> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| v.parse::<u64>().ok())
            .flatten()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad("Invalid page value", format!("{v:?} is not a valid {key}"))),
    }
}

/// Serialises one resource; `include` names the relationships that carry `data`.
fn resource(kind: &str, r: &Res, base: &str, include: &[&str]) -> Value {
    let me = format!("{base}/v1/{kind}/{}", r.id);
    let mut links = Map::new();
    links.insert("self".into(), json!(me));
    for (k, v) in &r.links {
        links.insert((*k).into(), json!(v));
    }
    let mut rels = Map::new();
    for (name, to_many) in relationships_of(kind) {
        let mut o = json!({"links": {"self": format!("{me}/relationships/{name}"), "related": format!("{me}/{name}")}});
        if include.contains(name) {
            let linkage = |t: &Ref| json!({"type": t.kind, "id": t.id.to_string()});
            o["data"] = match r.rels.get(name) {
                Some(Rel::One(Some(t))) => linkage(t),
                Some(Rel::Many(v)) => Value::Array(v.iter().map(linkage).collect()),
                _ if *to_many => json!([]),
                _ => Value::Null,
            };
        }
        rels.insert((*name).into(), o);
    }
    json!({"id": r.id.to_string(), "type": kind, "links": links, "attributes": r.attributes, "relationships": rels})
}

/// The `included` array for the primary resources: each related resource once.
fn included(d: &Dataset, primary: &[(&str, &Res)], base: &str, include: &[&str]) -> Vec<Value> {
    let mut seen: HashSet<(String, u64)> = primary
        .iter()
        .map(|(k, r)| ((*k).to_owned(), r.id))
        .collect();
    let mut out = Vec::new();
    for (_, r) in primary {
        for name in include {
            for t in r.refs(name) {
                if seen.insert((t.kind.to_owned(), t.id))
                    && let Some(x) = d.get(t.kind, t.id)
                {
                    out.push(resource(t.kind, x, base, &[]));
                }
            }
        }
    }
    out
}

impl Sim {
    /// A simulator with `api_key` as its Admin key; links fall back to `default_host` when a
    /// request has no `Host`.
    pub fn new(size: Size, api_key: &str, limits_on: bool, default_host: &str) -> Sim {
        Sim {
            data: RwLock::new(dataset(size)),
            keys: RwLock::new(HashMap::from([(api_key.to_owned(), Scope::Admin)])),
            limits_on: AtomicBool::new(limits_on),
            offers_addon: AtomicBool::new(true),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            failing: Mutex::new(HashSet::new()),
            delay_ms: AtomicU64::new(0),
            windows: Mutex::new(HashMap::new()),
            default_host: default_host.to_owned(),
        }
    }

    /// Accepts another key with a scope.
    pub fn add_key(&self, key: &str, scope: Scope) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), scope);
    }

    /// Removes a record the way Teamtailor does (see [`Dataset::remove`]).
    pub fn delete(&self, kind: &str, id: u64) -> bool {
        self.data
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(kind, id)
    }

    /// The request log so far.
    pub fn logged(&self) -> Vec<String> {
        lock(&self.log).clone()
    }

    /// Counts a request of `key` in its window: `Ok((remaining, reset))` or, over the limit
    /// (limits on), `Err(retry_after)`; refused requests are not counted. With limits off the
    /// budget reported is static (the full limit, reset in one window).
    fn admit(&self, key: &str) -> Result<(usize, u64), u64> {
        let now = Instant::now();
        let mut w = lock(&self.windows);
        let q = w.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        let until_oldest_leaves = |q: &VecDeque<Instant>| {
            q.front()
                .map(|t| {
                    let left = WINDOW.saturating_sub(now.duration_since(*t));
                    left.as_secs() + u64::from(left.subsec_nanos() > 0)
                })
                .unwrap_or(0)
                .max(1)
        };
        if self.limits_on.load(Ordering::Relaxed) && q.len() >= RATE_LIMIT {
            return Err(until_oldest_leaves(q));
        }
        q.push_back(now);
        if !self.limits_on.load(Ordering::Relaxed) {
            // limits off: nothing is refused, and the headers say so (a static budget, as
            // Teamtailor's 2021 docs describe them), so clients never wait for a window
            return Ok((RATE_LIMIT, WINDOW.as_secs()));
        }
        Ok((RATE_LIMIT.saturating_sub(q.len()), until_oldest_leaves(q)))
    }

    /// Answers one request (`query` raw, without `?`).
    pub fn handle(&self, method: &str, path: &str, query: &str, headers: &HeaderMap) -> Answer {
        self.requests.fetch_add(1, Ordering::Relaxed);
        lock(&self.log).push(if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        });
        let mut rate = (RATE_LIMIT, 0u64);
        let mut version: Option<String> = None;
        let mut a = self.answer(method, path, query, headers, &mut rate, &mut version);
        a.headers
            .push(("content-type", "application/vnd.api+json".into()));
        a.headers
            .push(("x-rate-limit-limit", RATE_LIMIT.to_string()));
        a.headers
            .push(("x-rate-limit-remaining", rate.0.to_string()));
        a.headers.push(("x-rate-limit-reset", rate.1.to_string()));
        if let Some(v) = version {
            a.headers.push(("x-api-version", v));
        }
        a
    }

    fn answer(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        rate: &mut (usize, u64),
        version: &mut Option<String>,
    ) -> Answer {
        let Some(route) = route(path) else {
            return error(404, "Not Found", Some("No such resource path"));
        };
        if method != "GET" {
            let mut a = error(405, "Method Not Allowed", Some("Only GET is supported"));
            a.headers.push(("allow", "GET".into()));
            return a;
        }
        let key = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_token);
        let scope = key.as_ref().and_then(|k| {
            self.keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(k)
                .copied()
        });
        let (Some(key), Some(scope)) = (key, scope) else {
            return error(401, "Unauthorized", Some("Invalid or missing API key"));
        };
        match self.admit(&key) {
            Ok(r) => *rate = r,
            Err(retry) => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                *rate = (0, retry);
                let mut a = error(429, "Too Many Requests", None);
                a.headers.push(("retry-after", retry.to_string()));
                return a;
            }
        }
        let v = headers
            .get("x-api-version")
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_version(v));
        let Some(v) = v else {
            return error(406, "Invalid API version", None);
        };
        *version = Some(v.to_owned());
        let kind = match &route {
            Route::List(k) | Route::Item(k, _) | Route::Nested { kind: k, .. } => *k,
        };
        if scope != Scope::Admin && ADMIN_ONLY.contains(&kind) {
            return error(
                403,
                "Forbidden",
                Some("This API key does not have access to this resource"),
            );
        }
        if kind == "job-offers" && !self.offers_addon.load(Ordering::Relaxed) {
            return error(
                403,
                "Forbidden",
                Some("The job offers add-on is not enabled for this company"),
            );
        }
        if lock(&self.failing).contains(kind) {
            return error(500, "Internal Server Error", None);
        }
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or(&self.default_host);
        let base = format!("http://{host}");
        let q = Query::parse(query);
        let d = self.data.read().unwrap_or_else(|e| e.into_inner());
        let result = match route {
            Route::Item(kind, id) => item(&d, kind, id, &q, &base),
            Route::List(kind) => list(&d, kind, None, &q, &base, path),
            Route::Nested { parent, id, kind } => {
                if d.get(parent, id).is_none() {
                    Err(error(404, "Not Found", Some("No such record")))
                } else {
                    list(&d, kind, Some((parent, id)), &q, &base, path)
                }
            }
        };
        match result {
            Ok(body) => Answer {
                status: 200,
                headers: Vec::new(),
                body,
            },
            Err(a) => a,
        }
    }
}

/// The key of `Token token=<key>` or `Token token="<key>"`.
fn parse_token(h: &str) -> Option<String> {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("token") {
        return None;
    }
    let rest = rest.trim();
    let (name, value) = rest.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("token") {
        return None;
    }
    let value = value.trim();
    let value = match value.strip_prefix('"') {
        Some(v) => v.strip_suffix('"')?,
        None => value,
    };
    (!value.is_empty()).then(|| value.to_owned())
}

/// An 8-digit calendar date ≥ 20161108.
fn valid_version(v: &str) -> bool {
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (y, m, d): (i64, i64, i64) = match (v[..4].parse(), v[4..6].parse(), v[6..].parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return false,
    };
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) && v >= "20161108"
}

fn item(d: &Dataset, kind: &'static str, id: u64, q: &Query, base: &str) -> Result<Value, Answer> {
    let include = parse_include(kind, q)?;
    let Some(r) = d.get(kind, id) else {
        return Err(error(404, "Not Found", Some("No such record")));
    };
    let mut doc = json!({"data": resource(kind, r, base, &include)});
    if !include.is_empty() {
        doc["included"] = Value::Array(included(d, &[(kind, r)], base, &include));
    }
    Ok(doc)
}

fn list(
    d: &Dataset,
    kind: &'static str,
    parent: Option<(&'static str, u64)>,
    q: &Query,
    base: &str,
    path: &str,
) -> Result<Value, Answer> {
    let number = page_param(q, "page[number]", 1, u64::MAX)?;
    let size = page_param(q, "page[size]", 10, 30)?;
    let include = parse_include(kind, q)?;
    let conds = compile_filters(kind, q, kind == "jobs" && parent.is_none())?;
    let sort = parse_sort(kind, q)?;
    let mut rows: Vec<&Res> = d
        .all(kind)
        .iter()
        .filter(|r| match parent {
            None => true,
            Some(("jobs", job)) if kind == "picked-questions" => r.parent == Some(job),
            Some(("jobs", job)) => r.one("job").is_some_and(|t| t.id == job),
            Some((_, cand)) => r.one("candidate").is_some_and(|t| t.id == cand),
        })
        .filter(|r| passes(d, r, &conds))
        .collect();
    match sort {
        Some(keys) => sort_rows(&mut rows, &keys),
        None if kind == "jobs" => sort_rows(
            &mut rows,
            &[("pinned".into(), true), ("created-at".into(), true)],
        ),
        None => {}
    }
    let total = rows.len() as u64;
    let pages = total.div_ceil(size);
    let start = (number - 1).saturating_mul(size);
    let page: Vec<(&str, &Res)> = rows
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(size as usize)
        .map(|r| (kind, *r))
        .collect();
    let others: Vec<&str> = q
        .pairs
        .iter()
        .filter(|(_, k, _)| k != "page[number]" && k != "page[size]")
        .map(|(raw, _, _)| raw.as_str())
        .collect();
    let link = |n: u64| {
        let mut s = format!("{base}{path}?");
        for o in &others {
            s.push_str(o);
            s.push('&');
        }
        s.push_str(&format!("page%5Bnumber%5D={n}&page%5Bsize%5D={size}"));
        s
    };
    let mut links = Map::new();
    links.insert("first".into(), json!(link(1)));
    if number > 1 {
        links.insert("prev".into(), json!(link(number - 1)));
    }
    if number < pages {
        links.insert("next".into(), json!(link(number + 1)));
    }
    links.insert("last".into(), json!(link(pages.max(1))));
    let mut doc = Map::new();
    doc.insert(
        "data".into(),
        Value::Array(
            page.iter()
                .map(|(k, r)| resource(k, r, base, &include))
                .collect(),
        ),
    );
    if !include.is_empty() {
        doc.insert(
            "included".into(),
            Value::Array(included(d, &page, base, &include)),
        );
    }
    doc.insert(
        "meta".into(),
        json!({"record-count": total, "page-count": pages}),
    );
    doc.insert("links".into(), Value::Object(links));
    Ok(Value::Object(doc))
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

/// Starts a simulator on `127.0.0.1:port` (0: any free port) with `api_key` as its Admin key
/// and the rate limit on or off.
pub async fn start(
    size: Size,
    api_key: &str,
    limits_on: bool,
    port: u16,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(size, api_key, limits_on, &addr.to_string()));
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// The routes: one handler for every path and method.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(serve).with_state(sim)
}

async fn serve(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let delay = sim.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let a = sim.handle(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        &headers,
    );
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&a.body).unwrap_or_default();
    let mut r = (status, body).into_response();
    for (name, value) in &a.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "tt-key";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn sim(size: Size) -> Sim {
        Sim::new(size, KEY, false, "fallback.test")
    }

    fn ok_headers() -> HeaderMap {
        headers(&[
            ("authorization", "Token token=tt-key"),
            ("x-api-version", "20240404"),
            ("host", "tt.test:8080"),
        ])
    }

    /// GET `path?query` with valid credentials.
    fn get(s: &Sim, target: &str) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        s.handle("GET", path, query, &ok_headers())
    }

    fn ids(a: &Answer) -> Vec<String> {
        a.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Follows `links.next` from `target` to the end; every record id in order.
    fn walk(s: &Sim, target: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = Some(target.to_owned());
        while let Some(t) = next {
            let a = get(s, &t);
            assert_eq!(a.status, 200, "{t}: {}", a.body);
            out.extend(ids(&a));
            next = a.body["links"]["next"]
                .as_str()
                .map(|n| n.strip_prefix("http://tt.test:8080").unwrap().to_owned());
        }
        out
    }

    #[test]
    fn timestamps_round_trip_with_the_company_offset() {
        assert_eq!(tt(0), "2023-01-01T01:00:00.000+01:00");
        let summer = 200 * DAY + 3;
        assert!(tt(summer).ends_with("+02:00"), "{}", tt(summer));
        for secs in [0, 5, summer, 400 * DAY + 12_345] {
            let ms = ((secs * 13 + secs / 7) % 1000) as i128;
            assert_eq!(
                parse_instant(&tt(secs)),
                Some((EPOCH_2023 + secs as i64) as i128 * 1_000_000_000 + ms * 1_000_000)
            );
        }
        assert_eq!(
            parse_instant("2025-02-20T10:30:43.910+01:00"),
            parse_instant("2025-02-20T09:30:43.91Z")
        );
        assert_eq!(
            parse_instant("2025-02-20T10:30+0100"),
            parse_instant("2025-02-20T09:30:00Z")
        );
        for bad in [
            "2025-02-20",
            "2025-02-20T10:30:43",
            "2025-02-30T10:30:43Z",
            "2025-02-20T10:30:43.910 01:00",
            "yesterday",
            "2025-02-20T10:30:43.Z",
            "2025-02-20T1ä:30:43Z",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn full_dataset_has_the_promised_sizes_and_variety() {
        let d = dataset(Size::Full);
        assert_eq!(d.count("jobs"), 60);
        assert_eq!(d.count("candidates"), 525);
        assert_eq!(
            d.count("job-applications"),
            1050,
            "35 exactly full pages of 30"
        );
        assert_eq!(d.count("users"), 41);
        for (kind, min) in [
            ("stages", 31),
            ("team-memberships", 31),
            ("job-offers", 31),
            ("picked-questions", 31),
            ("questions", 11),
            ("reject-reasons", 8),
        ] {
            assert!(d.count(kind) >= min, "{kind}: {}", d.count(kind));
        }
        // every attribute present, ids are digits, timestamps carry an offset
        for kind in KINDS {
            for r in d.all(kind) {
                let mut keys: Vec<&str> = r.attributes.keys().map(String::as_str).collect();
                let mut want = attributes_of(kind).to_vec();
                keys.sort_unstable();
                want.sort_unstable();
                assert_eq!(keys, want, "{kind} {}", r.id);
                for (k, v) in &r.attributes {
                    if k.ends_with("-at") && !v.is_null() {
                        let s = v.as_str().unwrap();
                        assert!(parse_instant(s).is_some() && s.len() == 29, "{s}");
                    }
                }
            }
        }
        let c = d.all("candidates");
        assert!(c.iter().any(|r| r.attributes["email"].is_null()));
        assert!(c.iter().any(|r| r.attributes["phone"].is_null()));
        assert!(
            c.iter()
                .any(|r| r.str("email").is_some_and(|e| e.contains('E')))
        );
        assert!(
            c.iter()
                .any(|r| r.str("first-name").is_some_and(|n| !n.is_ascii()))
        );
        assert!(
            c.iter()
                .any(|r| r.attributes["tags"].as_array().unwrap().len() >= 2)
        );
        assert!(c.iter().any(|r| r.attributes["tags"] == json!([])));
        assert!(c.iter().any(|r| r.attributes["referring-site"].is_null()));
        assert!(c.iter().any(|r| !r.refs("locations").is_empty()));
        assert!(c.iter().any(|r| r.refs("job-applications").len() == 3));
        // numeric order differs from text order
        assert!(c.first().unwrap().id < 100_000 && c.last().unwrap().id > 100_000);
        let apps = d.all("job-applications");
        let stage_type = |a: &Res| {
            d.get("stages", a.one("stage").unwrap().id)
                .unwrap()
                .str("stage-type")
                .unwrap()
                .to_owned()
        };
        assert!(apps.iter().any(|a| stage_type(a) == "Hired"));
        assert!(apps.iter().any(|a| stage_type(a) == "In process"));
        let rejected: Vec<&Res> = apps
            .iter()
            .filter(|a| !a.attributes["rejected-at"].is_null())
            .collect();
        assert!(rejected.len() > 100);
        assert!(rejected.iter().any(|a| a.one("reject-reason").is_none()));
        let withdrew = rejected.iter().any(|a| {
            a.one("reject-reason").is_some_and(|r| {
                d.get("reject-reasons", r.id).unwrap().attributes["rejected-by-company"] == false
            })
        });
        assert!(withdrew);
        // jobs: every human status, internal ones, several or no locations, no department
        let j = d.all("jobs");
        for h in HUMAN_STATUSES {
            assert!(j.iter().any(|r| r.str("human-status") == Some(h)), "{h}");
        }
        assert!(j.iter().any(
            |r| r.attributes["internal"] == true && r.str("human-status") == Some("published")
        ));
        assert!(j.iter().any(|r| r.refs("locations").len() == 2));
        assert!(j.iter().any(|r| r.refs("locations").is_empty()));
        assert!(j.iter().any(|r| r.one("department").is_none()));
        assert!(j.iter().any(|r| r.one("user").is_none()));
        // stages: Inbox lowest, Hired highest row-order; ids not always in row order
        let mut out_of_order = false;
        for job in j {
            let mut st: Vec<&Res> = job
                .refs("stages")
                .iter()
                .map(|s| d.get("stages", s.id).unwrap())
                .collect();
            assert!(st.len() >= 4);
            st.sort_by_key(|s| s.attributes["row-order"].as_i64());
            assert_eq!(st[0].str("stage-type"), Some("Inbox"));
            assert_eq!(st.last().unwrap().str("stage-type"), Some("Hired"));
            assert_eq!(
                st.iter()
                    .filter(|s| s.str("stage-type") == Some("Inbox"))
                    .count(),
                1
            );
            assert_eq!(
                st.iter()
                    .filter(|s| s.str("stage-type") == Some("Hired"))
                    .count(),
                1
            );
            out_of_order |= st.windows(2).any(|w| w[0].id > w[1].id);
        }
        assert!(out_of_order);
        let counted: u64 = d
            .all("stages")
            .iter()
            .map(|s| {
                s.attributes["active-job-applications-count"]
                    .as_u64()
                    .unwrap()
                    + s.attributes["rejected-job-applications-count"]
                        .as_u64()
                        .unwrap()
            })
            .sum();
        assert_eq!(counted, 1050);
        // offers: every status and response
        let offers = d.all("job-offers");
        for s in ["draft", "pending_approval", "approved", "rejected", "sent"] {
            assert!(offers.iter().any(|o| o.str("status") == Some(s)), "{s}");
        }
        for r in ["accepted", "declined"] {
            assert!(offers.iter().any(|o| o.str("response") == Some(r)), "{r}");
        }
        assert!(
            offers.iter().all(
                |o| o.attributes["response"].is_null() == o.attributes["answered-at"].is_null()
            )
        );
        // memberships: job teams and real teams; questions of every type
        let tm = d.all("team-memberships");
        assert!(tm.iter().any(|m| m.one("team").unwrap().kind == "teams"));
        assert!(tm.iter().any(|m| m.one("team").unwrap().kind == "jobs"));
        let qt: HashSet<&str> = d
            .all("questions")
            .iter()
            .filter_map(|q| q.str("question-type"))
            .collect();
        assert_eq!(qt.len(), 5);
        let users = d.all("users");
        for role in [
            "no_access",
            "user",
            "recruiter",
            "designer",
            "admin",
            "external_recruiter",
        ] {
            assert!(users.iter().any(|u| u.str("role") == Some(role)), "{role}");
        }
        assert!(users.iter().any(|u| !u.str("name").unwrap().contains(' ')));
        assert!(users.iter().any(|u| u.attributes["login-email"].is_null()));
        // the same data every time
        let again = dataset(Size::Full);
        for kind in KINDS {
            let served = |d: &Dataset| -> Vec<Value> {
                let names: Vec<&str> = relationships_of(kind).iter().map(|(n, _)| *n).collect();
                d.all(kind)
                    .iter()
                    .map(|r| resource(kind, r, "", &names))
                    .collect()
            };
            assert!(served(&d) == served(&again), "{kind} is deterministic");
        }
    }

    #[test]
    fn small_dataset_is_a_handful_with_every_outcome() {
        let d = dataset(Size::Small);
        assert_eq!(d.count("jobs"), 5);
        assert_eq!(d.count("candidates"), 6);
        assert_eq!(d.count("job-applications"), 9);
        assert!(d.count("job-offers") >= 2);
        let apps = d.all("job-applications");
        assert!(apps.iter().any(|a| !a.attributes["rejected-at"].is_null()));
        assert!(apps.iter().any(|a| {
            d.get("stages", a.one("stage").unwrap().id)
                .unwrap()
                .str("stage-type")
                == Some("Hired")
        }));
    }

    #[test]
    fn auth_scopes_and_version() {
        let s = sim(Size::Small);
        let with = |auth: Option<&str>, version: Option<&str>| {
            let mut h = vec![("host", "tt.test")];
            if let Some(a) = auth {
                h.push(("authorization", a));
            }
            if let Some(v) = version {
                h.push(("x-api-version", v));
            }
            s.handle("GET", "/v1/candidates", "", &headers(&h))
        };
        let unauthorized = json!({"errors": [{"status": "401", "title": "Unauthorized", "detail": "Invalid or missing API key"}]});
        for auth in [
            None,
            Some("Token token=nope"),
            Some("Bearer tt-key"),
            Some("tt-key"),
            Some("Token token="),
        ] {
            let a = with(auth, Some("20240404"));
            assert_eq!((a.status, &a.body), (401, &unauthorized), "{auth:?}");
            assert_eq!(a.header("content-type"), Some("application/vnd.api+json"));
            assert_eq!(a.header("x-rate-limit-limit"), Some("50"));
        }
        for auth in ["Token token=tt-key", "Token token=\"tt-key\""] {
            let a = with(Some(auth), Some("20161108"));
            assert_eq!(a.status, 200, "{auth}");
            assert_eq!(a.header("x-api-version"), Some("20161108"));
        }
        let invalid = json!({"errors": [{"status": "406", "title": "Invalid API version"}]});
        for v in [
            None,
            Some("20161107"),
            Some("2024-04-04"),
            Some("20241301"),
            Some("2024040"),
            Some(""),
        ] {
            let a = with(Some("Token token=tt-key"), v);
            assert_eq!((a.status, &a.body), (406, &invalid), "{v:?}");
            assert_eq!(a.header("x-api-version"), None);
        }
        s.add_key("public-key", Scope::Public);
        let public = headers(&[
            ("authorization", "Token token=public-key"),
            ("x-api-version", "20240404"),
        ]);
        let a = s.handle("GET", "/v1/candidates", "", &public);
        assert_eq!(a.status, 403);
        assert_eq!(a.body["errors"][0]["title"], "Forbidden");
        assert_eq!(s.handle("GET", "/v1/jobs", "", &public).status, 200);
        assert_eq!(get(&s, "/v1/job-offers").status, 200);
        s.offers_addon.store(false, Ordering::Relaxed);
        let a = get(&s, "/v1/job-offers");
        assert_eq!(
            (a.status, a.body["errors"][0]["title"].as_str()),
            (403, Some("Forbidden"))
        );
        assert_eq!(get(&s, "/v1/candidates").status, 200);
        // only GET; unknown paths and records 404
        let post = s.handle("POST", "/v1/candidates", "", &ok_headers());
        assert_eq!((post.status, post.header("allow")), (405, Some("GET")));
        assert_eq!(get(&s, "/v1/interviews").status, 404);
        assert_eq!(get(&s, "/v1/candidates/1").status, 404);
        assert_eq!(get(&s, "/v1/jobs/1/picked-questions").status, 404);
        assert!(s.requests.load(Ordering::Relaxed) >= 17);
        assert!(
            s.logged()
                .contains(&"/v1/jobs/1/picked-questions".to_owned())
        );
    }

    #[test]
    fn paging_links_meta_and_bad_page_values() {
        let s = sim(Size::Full);
        let a = get(&s, "/v1/candidates");
        assert_eq!(a.status, 200);
        assert_eq!(ids(&a).len(), 10, "default page size");
        assert_eq!(
            a.body["meta"],
            json!({"record-count": 525, "page-count": 53})
        );
        let l = &a.body["links"];
        assert_eq!(
            l["first"],
            "http://tt.test:8080/v1/candidates?page%5Bnumber%5D=1&page%5Bsize%5D=10"
        );
        assert_eq!(
            l["next"],
            "http://tt.test:8080/v1/candidates?page%5Bnumber%5D=2&page%5Bsize%5D=10"
        );
        assert_eq!(
            l["last"],
            "http://tt.test:8080/v1/candidates?page%5Bnumber%5D=53&page%5Bsize%5D=10"
        );
        assert!(l.get("prev").is_none());
        // other parameters are kept as sent, page parameters replaced
        let a = get(
            &s,
            "/v1/candidates?page%5Bsize%5D=30&filter%5Bconnected%5D=true&page[number]=2",
        );
        let l = &a.body["links"];
        assert_eq!(
            l["prev"],
            "http://tt.test:8080/v1/candidates?filter%5Bconnected%5D=true&page%5Bnumber%5D=1&page%5Bsize%5D=30"
        );
        assert_eq!(
            l["next"],
            "http://tt.test:8080/v1/candidates?filter%5Bconnected%5D=true&page%5Bnumber%5D=3&page%5Bsize%5D=30"
        );
        // walking next links visits every record once, in id order
        let all = walk(&s, "/v1/job-applications?page[size]=30");
        assert_eq!(all.len(), 1050);
        let want: Vec<String> = s
            .data
            .read()
            .unwrap()
            .all("job-applications")
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(all, want);
        // the exactly full last page has no next; one past the end is empty
        let last = get(&s, "/v1/job-applications?page[size]=30&page[number]=35");
        assert_eq!(ids(&last).len(), 30);
        assert!(last.body["links"].get("next").is_none());
        let past = get(&s, "/v1/job-applications?page[size]=30&page[number]=36");
        assert_eq!((past.status, ids(&past).len()), (200, 0));
        assert!(
            past.body["links"]["prev"]
                .as_str()
                .unwrap()
                .contains("page%5Bnumber%5D=35")
        );
        let ids_num: Vec<u64> = walk(&s, "/v1/candidates?page[size]=30")
            .iter()
            .map(|i| i.parse().unwrap())
            .collect();
        assert!(ids_num.windows(2).all(|w| w[0] < w[1]), "numeric id order");
        // an empty list
        let none = get(&s, "/v1/candidates?filter[email]=nobody@example.org");
        assert_eq!(
            none.body["meta"],
            json!({"record-count": 0, "page-count": 0})
        );
        assert_eq!(
            none.body["links"]["last"],
            "http://tt.test:8080/v1/candidates?filter[email]=nobody@example.org&page%5Bnumber%5D=1&page%5Bsize%5D=10"
        );
        assert!(none.body["links"].get("next").is_none());
        for bad in [
            "page[size]=31",
            "page[size]=0",
            "page[size]=abc",
            "page[number]=0",
            "page[number]=-1",
            "page[size]=+5",
            "page[number]=",
        ] {
            let a = get(&s, &format!("/v1/candidates?{bad}"));
            assert_eq!(
                (a.status, a.body["errors"][0]["title"].as_str()),
                (400, Some("Invalid page value")),
                "{bad}"
            );
        }
        assert_eq!(get(&s, "/v1/candidates?page[size]=30").status, 200);
        // the Host header builds the links; without it the listening address
        let a = s.handle(
            "GET",
            "/v1/users",
            "",
            &headers(&[
                ("authorization", "Token token=tt-key"),
                ("x-api-version", "20240404"),
            ]),
        );
        assert!(
            a.body["links"]["next"]
                .as_str()
                .unwrap()
                .starts_with("http://fallback.test/v1/users?")
        );
        assert!(
            a.body["data"][0]["links"]["self"]
                .as_str()
                .unwrap()
                .starts_with("http://fallback.test/v1/users/")
        );
    }

    #[test]
    fn include_side_loads_once_and_sets_linkage() {
        let s = sim(Size::Full);
        let plain = get(&s, "/v1/job-applications?page[size]=5");
        let r = &plain.body["data"][0]["relationships"];
        assert!(plain.body.get("included").is_none());
        for name in ["candidate", "job", "stage", "reject-reason"] {
            assert!(r[name].get("data").is_none(), "{name}");
            assert!(
                r[name]["links"]["related"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{name}"))
            );
        }
        let a = get(
            &s,
            "/v1/job-applications?page[size]=30&include=candidate,job,stage,reject-reason",
        );
        assert_eq!(a.status, 200);
        let inc = a.body["included"].as_array().unwrap();
        let keys: HashSet<(String, String)> = inc
            .iter()
            .map(|x| {
                (
                    x["type"].as_str().unwrap().to_owned(),
                    x["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(keys.len(), inc.len(), "each included resource once");
        let mut reasons_null = 0;
        for app in a.body["data"].as_array().unwrap() {
            for name in ["candidate", "job", "stage"] {
                let t = &app["relationships"][name]["data"];
                assert!(
                    keys.contains(&(
                        t["type"].as_str().unwrap().to_owned(),
                        t["id"].as_str().unwrap().to_owned()
                    )),
                    "{name}"
                );
            }
            match &app["relationships"]["reject-reason"]["data"] {
                Value::Null => reasons_null += 1,
                t => assert_eq!(t["type"], "reject-reasons"),
            }
        }
        assert!(reasons_null > 0);
        // included resources are full objects whose relationships carry links only
        let job = inc.iter().find(|x| x["type"] == "jobs").unwrap();
        assert!(job["attributes"]["title"].is_string());
        assert!(job["links"]["careersite-job-url"].is_string());
        assert!(job["relationships"]["stages"].get("data").is_none());
        // to-many linkage, polymorphic teams, empty relationships
        let j = get(
            &s,
            "/v1/jobs?filter[status]=all&include=locations,department,user,stages,regions",
        );
        let data = j.body["data"].as_array().unwrap();
        assert!(data.iter().any(|x| {
            x["relationships"]["locations"]["data"]
                .as_array()
                .unwrap()
                .len()
                == 2
        }));
        assert!(
            data.iter()
                .all(|x| x["relationships"]["regions"]["data"] == json!([]))
        );
        assert!(
            data.iter()
                .any(|x| x["relationships"]["department"]["data"].is_null())
        );
        let tm = walk(&s, "/v1/team-memberships?include=team,user&page[size]=30");
        assert!(!tm.is_empty());
        let pages =
            get(&s, "/v1/team-memberships?page[size]=30").body["meta"]["page-count"].clone();
        let t = get(
            &s,
            &format!("/v1/team-memberships?include=team&page[size]=30&page[number]={pages}"),
        );
        assert!(
            t.body["included"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["type"] == "teams")
        );
        // single records include too
        let one = get(
            &s,
            &format!("/v1/job-applications/{}?include=candidate", ids(&plain)[0]),
        );
        assert_eq!(one.body["included"].as_array().unwrap().len(), 1);
        for bad in [
            "include=candidates",
            "include=job-application.candidate",
            "include=candidate.job",
            "include=candidate,,job",
        ] {
            let a = get(&s, &format!("/v1/job-applications?{bad}"));
            assert_eq!(
                (a.status, a.body["errors"][0]["title"].as_str()),
                (400, Some("Invalid include")),
                "{bad}"
            );
        }
        let pq = get(
            &s,
            &format!(
                "/v1/jobs/{}/picked-questions?include=question",
                data[0]["id"].as_str().unwrap()
            ),
        );
        assert_eq!(pq.status, 200);
    }

    #[test]
    fn filters_as_decided() {
        let s = sim(Size::Full);
        let d = s.data.read().unwrap().clone();
        // updated-at: [from] inclusive, [to] exclusive, any offset
        let c = &d.all("candidates")[100];
        let at = c.str("updated-at").unwrap().to_owned();
        let instant = parse_instant(&at).unwrap();
        let want: Vec<String> = d
            .all("candidates")
            .iter()
            .filter(|r| parse_instant(r.str("updated-at").unwrap()).unwrap() >= instant)
            .map(|r| r.id.to_string())
            .collect();
        let enc = at.replace('+', "%2B");
        let got = walk(
            &s,
            &format!("/v1/candidates?filter[updated-at][from]={enc}&page[size]=30"),
        );
        assert_eq!(got, want);
        assert!(got.contains(&c.id.to_string()));
        let got = walk(
            &s,
            &format!("/v1/candidates?filter%5Bupdated-at%5D%5Bto%5D={enc}&page[size]=30"),
        );
        assert!(!got.contains(&c.id.to_string()));
        assert_eq!(got.len() + want.len(), 525);
        let utc_secs = (instant / 1_000_000_000) as i64;
        let (y, m, dd) = civil_from_days(utc_secs.div_euclid(86_400));
        let rem = utc_secs.rem_euclid(86_400);
        let z = format!(
            "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            (instant / 1_000_000 % 1000)
        );
        assert_eq!(
            walk(
                &s,
                &format!("/v1/candidates?filter[updated-at][from]={z}&page[size]=30")
            ),
            want
        );
        let apps = walk(
            &s,
            "/v1/job-applications?filter[changed-stage-at][from]=2025-01-01T00:00:00Z&filter[created-at][to]=2025-06-01T00:00:00%2B02:00&page[size]=30",
        );
        assert!(!apps.is_empty() && apps.len() < 1050);
        // errors
        let title = |t: &str| {
            let a = get(&s, t);
            assert_eq!(a.status, 400, "{t}");
            a.body["errors"][0]["title"].as_str().unwrap().to_owned()
        };
        for t in [
            "/v1/jobs?filter[updated-at][from]=2025-01-01T00:00:00Z",
            "/v1/users?filter[updated-at][from]=2025-01-01T00:00:00Z",
            "/v1/candidates?filter[updated-at]=2025-01-01T00:00:00Z",
            "/v1/candidates?filter[updated-at][after]=2025-01-01T00:00:00Z",
            "/v1/candidates?filter[name]=Ada",
            "/v1/candidates?filter[email][from]=x",
            "/v1/stages?filter[job]=1",
            "/v1/candidates?filter=1",
            "/v1/job-applications?filter[changed-stage-at]=x",
        ] {
            assert_eq!(title(t), "Filter not allowed", "{t}");
        }
        for t in [
            "/v1/candidates?filter[updated-at][from]=2025-01-01",
            "/v1/candidates?filter[updated-at][from]=2025-01-01T00:00:00+01:00",
            "/v1/jobs?filter[status]=open",
            "/v1/jobs?filter[feed]=private",
            "/v1/job-applications?filter[stage-type]=Rejected",
            "/v1/candidates?filter[connected]=yes",
        ] {
            assert_eq!(title(t), "Invalid filter value", "{t}");
        }
        // jobs: published and public by default; all of them with status=all and both feeds
        let default = walk(&s, "/v1/jobs");
        let published_public = d
            .all("jobs")
            .iter()
            .filter(|j| {
                j.str("human-status") == Some("published") && j.attributes["internal"] == false
            })
            .count();
        assert_eq!(default.len(), published_public);
        assert_eq!(
            walk(
                &s,
                "/v1/jobs?filter[status]=all&filter[feed]=public,internal"
            )
            .len(),
            60
        );
        let internal = walk(&s, "/v1/jobs?filter[status]=all&filter[feed]=internal");
        assert_eq!(
            internal.len(),
            d.all("jobs")
                .iter()
                .filter(|j| j.attributes["internal"] == true)
                .count()
        );
        let two = walk(
            &s,
            "/v1/jobs?filter[status]=draft,archived&filter[feed]=public,internal",
        );
        assert_eq!(two.len(), 10);
        // jobs: pinned first, then newest
        let a = get(
            &s,
            "/v1/jobs?filter[status]=all&filter[feed]=public,internal&page[size]=30",
        );
        let data = a.body["data"].as_array().unwrap();
        let pinned: Vec<bool> = data
            .iter()
            .map(|j| j["attributes"]["pinned"] == true)
            .collect();
        assert!(pinned[0] && pinned.windows(2).all(|w| w[0] || !w[1]));
        let unpinned: Vec<i128> = data
            .iter()
            .filter(|j| j["attributes"]["pinned"] == false)
            .map(|j| parse_instant(j["attributes"]["created-at"].as_str().unwrap()).unwrap())
            .collect();
        assert!(unpinned.windows(2).all(|w| w[0] >= w[1]));
        // sort
        let desc = get(&s, "/v1/candidates?sort=-id");
        assert_eq!(
            ids(&desc)[0],
            d.all("candidates").last().unwrap().id.to_string()
        );
        assert_eq!(title("/v1/candidates?sort=salary"), "Invalid sort criteria");
        // the other filters
        let upper = d
            .all("candidates")
            .iter()
            .find(|c| c.str("email").is_some_and(|e| e.contains('E')))
            .unwrap();
        let lower = upper.str("email").unwrap().to_lowercase();
        assert_eq!(
            ids(&get(&s, &format!("/v1/candidates?filter[email]={lower}"))),
            vec![upper.id.to_string()]
        );
        let hired = walk(
            &s,
            "/v1/job-applications?filter[stage-type]=Hired&page[size]=30",
        );
        let in_process = walk(
            &s,
            "/v1/job-applications?filter[stage-type]=In+process&page[size]=30",
        );
        let inbox = walk(
            &s,
            "/v1/job-applications?filter[stage-type]=Inbox&page[size]=30",
        );
        assert!(!hired.is_empty() && !in_process.is_empty() && !inbox.is_empty());
        assert_eq!(hired.len() + in_process.len() + inbox.len(), 1050);
        let connected = walk(&s, "/v1/candidates?filter[connected]=false&page[size]=30");
        assert_eq!(connected.len(), 105);
        assert!(walk(&s, "/v1/candidates?filter[regions]=1").is_empty());
        let loc = d.all("locations")[0].id;
        let by_loc = walk(
            &s,
            &format!(
                "/v1/jobs?filter[status]=all&filter[feed]=public,internal&filter[locations]={loc}"
            ),
        );
        assert!(!by_loc.is_empty());
        let ext = d
            .all("users")
            .iter()
            .find_map(|u| u.str("external-id"))
            .unwrap()
            .to_owned();
        assert_eq!(
            ids(&get(&s, &format!("/v1/users?filter[external-id]={ext}"))).len(),
            1
        );
        let offer = &d.all("job-offers")[3];
        let app = offer.one("job-application").unwrap().id;
        assert_eq!(
            ids(&get(
                &s,
                &format!("/v1/job-offers?filter[job-application-id]={app}")
            )),
            vec![offer.id.to_string()]
        );
        // nested lists page and filter like their resource
        let cand = d
            .all("candidates")
            .iter()
            .find(|c| c.refs("job-applications").len() == 3)
            .unwrap();
        let nested = get(
            &s,
            &format!("/v1/candidates/{}/job-applications?page[size]=2", cand.id),
        );
        assert_eq!(
            nested.body["meta"],
            json!({"record-count": 3, "page-count": 2})
        );
        let job = &d.all("jobs")[0];
        let st = get(&s, &format!("/v1/jobs/{}/stages", job.id));
        assert_eq!(ids(&st).len(), job.refs("stages").len());
    }

    #[test]
    fn deletions_cascade_and_vanish() {
        let s = sim(Size::Full);
        let (cand, apps, offers_before) = {
            let d = s.data.read().unwrap();
            let offer = &d.all("job-offers")[0];
            let app = d
                .get("job-applications", offer.one("job-application").unwrap().id)
                .unwrap();
            let cand = app.one("candidate").unwrap().id;
            (
                cand,
                d.get("candidates", cand).unwrap().refs("job-applications"),
                d.count("job-offers"),
            )
        };
        assert_eq!(get(&s, &format!("/v1/candidates/{cand}")).status, 200);
        assert!(s.delete("candidates", cand));
        assert!(!s.delete("candidates", cand));
        assert_eq!(get(&s, &format!("/v1/candidates/{cand}")).status, 404);
        for a in &apps {
            assert_eq!(
                get(&s, &format!("/v1/job-applications/{}", a.id)).status,
                404
            );
        }
        let d = s.data.read().unwrap().clone();
        assert_eq!(d.count("candidates"), 524);
        assert_eq!(d.count("job-applications"), 1050 - apps.len());
        assert!(d.count("job-offers") < offers_before);
        assert!(
            d.all("jobs")
                .iter()
                .all(|j| !j.refs("candidates").iter().any(|c| c.id == cand))
        );
        // a job takes its stages, applications, picked questions and memberships with it
        let job = d
            .all("jobs")
            .iter()
            .find(|j| !j.refs("picked-questions").is_empty() && !j.refs("candidates").is_empty())
            .unwrap();
        let stages = job.refs("stages");
        assert!(s.delete("jobs", job.id));
        let d = s.data.read().unwrap().clone();
        assert!(stages.iter().all(|st| d.get("stages", st.id).is_none()));
        assert!(
            d.all("job-applications")
                .iter()
                .all(|a| a.one("job").is_some_and(|j| j.id != job.id))
        );
        assert!(
            d.all("picked-questions")
                .iter()
                .all(|p| p.parent != Some(job.id))
        );
        assert!(d.all("team-memberships").iter().all(|m| m.one("team")
            != Some(Ref {
                kind: "jobs",
                id: job.id
            })));
        assert_eq!(get(&s, &format!("/v1/jobs/{}/stages", job.id)).status, 404);
        let total: u64 = d
            .all("stages")
            .iter()
            .map(|s| {
                s.attributes["active-job-applications-count"]
                    .as_u64()
                    .unwrap()
                    + s.attributes["rejected-job-applications-count"]
                        .as_u64()
                        .unwrap()
            })
            .sum();
        assert_eq!(total as usize, d.count("job-applications"));
        let listed = get(&s, "/v1/job-applications");
        assert_eq!(
            listed.body["meta"]["record-count"],
            d.count("job-applications")
        );
    }

    #[test]
    fn rate_limit_is_fifty_per_ten_seconds_and_switchable() {
        let s = Sim::new(Size::Small, KEY, true, "x");
        for i in 0..RATE_LIMIT {
            let a = get(&s, "/v1/departments");
            assert_eq!(a.status, 200, "request {i}");
            assert_eq!(
                a.header("x-rate-limit-remaining"),
                Some((RATE_LIMIT - 1 - i).to_string().as_str())
            );
        }
        let a = get(&s, "/v1/departments");
        assert_eq!(a.status, 429);
        assert_eq!(
            a.body,
            json!({"errors": [{"status": "429", "title": "Too Many Requests"}]})
        );
        let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry));
        assert_eq!(a.header("x-rate-limit-remaining"), Some("0"));
        assert_eq!(s.rate_limited.load(Ordering::Relaxed), 1);
        // another key has its own window
        s.add_key("other", Scope::Admin);
        let other = headers(&[
            ("authorization", "Token token=other"),
            ("x-api-version", "20240404"),
        ]);
        assert_eq!(s.handle("GET", "/v1/departments", "", &other).status, 200);
        s.limits_on.store(false, Ordering::Relaxed);
        assert_eq!(get(&s, "/v1/departments").status, 200);
    }

    #[test]
    fn through_http_with_the_host_header() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use std::io::{Read, Write};
            let running = start(Size::Small, KEY, false, 0).await.unwrap();
            let addr = running.addr;
            let buf = tokio::task::spawn_blocking(move || {
                let mut tcp = std::net::TcpStream::connect(addr).unwrap();
                let req = "GET /v1/candidates?page%5Bsize%5D=2 HTTP/1.1\r\nHost: api.example.test:9999\r\nAuthorization: Token token=\"tt-key\"\r\nX-Api-Version: 20240404\r\nConnection: close\r\n\r\n";
                tcp.write_all(req.as_bytes()).unwrap();
                let mut buf = Vec::new();
                tcp.read_to_end(&mut buf).unwrap();
                buf
            })
            .await
            .unwrap();
            let text = String::from_utf8_lossy(&buf).to_lowercase();
            assert!(text.starts_with("http/1.1 200"), "{text}");
            assert!(text.contains("content-type: application/vnd.api+json"));
            assert!(text.contains("x-api-version: 20240404"));
            assert!(text.contains("x-rate-limit-remaining: 50"), "limits off: a static budget");
            assert!(text.contains("\"next\":\"http://api.example.test:9999/v1/candidates?page%5bnumber%5d=2&page%5bsize%5d=2\""));
            assert_eq!(running.sim.logged(), vec!["/v1/candidates?page%5Bsize%5D=2".to_owned()]);
        });
    }
}
