//! A Gem ATS simulator: `/ats/v0/...` as `vendor-apis/gem.md` (section 12) describes it.
//!
//! 401 without a valid `X-API-Key`; bare-array pages with `page`/`per_page` (clamped to
//! 1..500, default 100) and `Link: rel="next"` on every page that has a successor;
//! soft-deleted rows only with `include_deleted=true`; `updated_after` (and
//! `last_activity_after` on applications); 429 with `Retry-After` above the rate limit;
//! absent values as `null`. The dataset is generated deterministically.

use crate::{FIRST, LAST, Rng, Window, date, ts};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// How much data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A handful of each, for snapshots.
    Small,
    /// A realistic tenant: 40 users, 60 jobs, 600 candidates, exactly 1000 applications.
    Full,
}

/// The records the simulator serves, per resource.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `/ats/v0/users`
    pub users: Vec<Value>,
    /// `/ats/v0/jobs/`
    pub jobs: Vec<Value>,
    /// `/ats/v0/job_posts/`
    pub job_posts: Vec<Value>,
    /// `/ats/v0/job_stages/`
    pub job_stages: Vec<Value>,
    /// `/ats/v0/candidates/`
    pub candidates: Vec<Value>,
    /// `/ats/v0/applications/`
    pub applications: Vec<Value>,
    /// `/ats/v0/scheduled_interviews/`
    pub scheduled_interviews: Vec<Value>,
}

impl Dataset {
    /// The records of a resource by its path segment.
    pub fn resource(&self, name: &str) -> Option<&Vec<Value>> {
        Some(match name {
            "users" => &self.users,
            "jobs" => &self.jobs,
            "job_posts" => &self.job_posts,
            "job_stages" => &self.job_stages,
            "candidates" => &self.candidates,
            "applications" => &self.applications,
            "scheduled_interviews" => &self.scheduled_interviews,
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
            "applications" => &mut self.applications,
            "scheduled_interviews" => &mut self.scheduled_interviews,
            _ => return None,
        })
    }
}

const OFFICES: &[(&str, &str)] = &[
    ("Lisbon", "Lisbon, Portugal"),
    ("São Paulo", "São Paulo, Brazil"),
    ("München", "Munich, Germany"),
    ("New York HQ", "New York, NY, United States"),
    ("Tōkyō", "Tokyo, Japan"),
    ("Remote – EMEA", "Remote"),
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Platform",
    "Design",
    "People",
    "Sales",
    "Customer Success",
];
const TITLES: &[&str] = &[
    "Senior Backend Engineer (Rust)",
    "Product Designer",
    "Recruiter",
    "Data Engineer",
    "Account Executive",
    "Site Reliability Engineer",
    "Engineering Manager",
    "Support Specialist",
    "Frontend Engineer",
    "Finance Analyst",
];
const STAGES: &[&str] = &[
    "Application Review",
    "Recruiter Screen",
    "Technical Interview",
    "Onsite",
    "Reference Check",
    "Offer",
];
const SOURCES: &[(&str, &str)] = &[
    ("src_li", "LinkedIn"),
    ("src_ref", "Employee Referral"),
    ("src_web", "Company Website"),
    ("src_agency", "Agency – Nordhavn"),
    ("src_event", "Meetup"),
];
const REASONS: &[(&str, &str, &str, &str)] = &[
    (
        "rr_07",
        "Insufficient Rust experience",
        "rrt_1",
        "We rejected them",
    ),
    (
        "rr_11",
        "Accepted another offer",
        "rrt_2",
        "They rejected us",
    ),
    ("rr_15", "Role put on hold", "rrt_3", "None specified"),
];
const EMPLOYMENT: &[&str] = &["Full-time", "Part-time", "Contract", "Internship"];

fn user_lite(u: &Value) -> Value {
    json!({"id": u["id"], "name": u["name"], "first_name": u["first_name"], "last_name": u["last_name"], "employee_id": u["employee_id"]})
}

fn office(i: usize) -> Value {
    let (name, loc) = OFFICES[i];
    json!({"id": format!("of_{i}"), "name": name, "location": {"name": loc}, "parent_id": null, "child_ids": [],
           "parent_office_external_id": null, "child_office_external_ids": [], "deleted_at": null})
}

fn department(i: usize) -> Value {
    json!({"id": format!("dp_{i}"), "name": DEPARTMENTS[i], "parent_id": null, "child_ids": [],
           "parent_department_external_id": null, "child_department_external_ids": [], "deleted_at": null})
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

/// Generates the dataset (deterministic for a size).
pub fn dataset(size: Size) -> Dataset {
    let mut rng = Rng::new(0x6e6d_2024);
    let (n_users, n_jobs, n_cands, n_apps) = match size {
        Size::Small => (5, 4, 6, 9),
        Size::Full => (40, 60, 600, 1000),
    };
    let day = 86_400u64;
    let mut d = Dataset::default();

    for i in 0..n_users {
        let (f, l) = (FIRST[i % FIRST.len()], LAST[(i * 7 + 3) % LAST.len()]);
        let deleted = i % 17 == 16;
        d.users.push(json!({
            "id": format!("u_{i}"), "name": format!("{f} {l}"), "first_name": f, "last_name": l,
            "employee_id": if i % 3 == 0 { Value::Null } else { json!(format!("EMP-{:04}", 1000 + i)) },
            "primary_email_address": format!("user{i}@northwind.test"),
            "emails": [format!("user{i}@northwind.test")],
            "disabled": i % 9 == 4, "site_admin": i == 0, "linked_candidate_ids": [],
            "offices": [office(i % OFFICES.len())], "departments": [department(i % DEPARTMENTS.len())],
            "created_at": ts(i as u64 * day), "updated_at": ts(i as u64 * day + 3600),
            "deleted_at": if deleted { json!(ts(300 * day + i as u64)) } else { Value::Null },
        }));
    }
    let users = d.users.clone();

    let statuses = [
        "open",
        "open",
        "closed",
        "draft",
        "pending_approval",
        "approved",
        "open",
    ];
    for j in 0..n_jobs {
        let created = 10 * day + j as u64 * day;
        let status = statuses[j % statuses.len()];
        let offices: Vec<Value> = distinct(&mut rng, 1 + (j % 3), OFFICES.len())
            .into_iter()
            .map(office)
            .collect();
        let depts: Vec<Value> = distinct(&mut rng, 1 + (j % 2), DEPARTMENTS.len())
            .into_iter()
            .map(department)
            .collect();
        let mut team = serde_json::Map::new();
        let shared = rng.below(n_users as u64) as usize;
        for (k, role) in ["hiring_managers", "recruiters", "coordinators", "sourcers"]
            .iter()
            .enumerate()
        {
            let count = rng.below(3) as usize;
            let mut members: Vec<Value> = distinct(&mut rng, count, n_users)
                .into_iter()
                .map(|u| user_lite(&users[u]))
                .collect();
            // the same person in two roles, on some jobs
            if j % 4 == 0 && k < 2 && !members.iter().any(|m| m["id"] == users[shared]["id"]) {
                members.push(user_lite(&users[shared]));
            }
            team.insert(role.to_string(), Value::Array(members));
        }
        d.jobs.push(json!({
            "id": format!("jb_{j}"), "name": TITLES[j % TITLES.len()],
            "requisition_id": if j % 10 == 9 { Value::Null } else { json!(format!("REQ-{:04}", 400 + j)) },
            "confidential": j % 7 == 3, "status": status, "is_template": j % 20 == 19,
            "created_at": ts(created),
            "opened_at": if status == "draft" || status == "pending_approval" { Value::Null } else { json!(ts(created + 2 * day)) },
            "closed_at": if status == "closed" { json!(ts(created + 90 * day)) } else { Value::Null },
            "updated_at": ts(created + 20 * day + j as u64),
            "deleted_at": if j % 23 == 22 { json!(ts(created + 100 * day)) } else { Value::Null },
            "departments": depts, "offices": offices, "hiring_team": team,
            "custom_fields": {"employment_type": EMPLOYMENT[j % EMPLOYMENT.len()], "cost_center": format!("CC-{}", 10 + j % 5)},
            "openings": [],
        }));
        // stages with interview plans
        let n_stages = 4 + j % 3;
        for k in 0..n_stages {
            let name = STAGES[k.min(STAGES.len() - 1)];
            let interviews: Vec<Value> = (0..(k % 3))
                .map(|n| {
                    let dflt: Vec<Value> = distinct(&mut rng, 1, n_users).into_iter().map(|u| user_lite(&users[u])).collect();
                    json!({"id": format!("iv_{j}_{k}_{n}"), "name": format!("{name} – part {}", n + 1), "schedulable": true,
                           "estimated_minutes": 30 + 15 * n, "default_interviewer_users": dflt,
                           "interview_kit": {"id": format!("kit_{j}_{k}_{n}"), "content": "<p>Ask about trade-offs.</p>", "questions": [{"id": format!("q_{j}_{k}_{n}"), "name": "What would you change?"}]},
                           "deleted_at": null, "job_stage_interview_item_id": format!("jsii_{j}_{k}_{n}")})
                })
                .collect();
            d.job_stages.push(json!({
                "id": format!("st_{j}_{k}"), "name": name, "job_id": format!("jb_{j}"), "priority": k, "active": true,
                "created_at": ts(created + k as u64), "updated_at": ts(created + k as u64 + 60),
                "deleted_at": if j % 29 == 28 && k == n_stages - 1 { json!(ts(created + 50 * day)) } else { Value::Null },
                "interviews": interviews,
            }));
        }
        // posts: live and active, drafts, newer live ones, deleted ones
        for n in 0..(j % 5) {
            let (live, active) = match n {
                0 => (true, true),
                1 => (false, true),
                2 => (true, true),
                _ => (false, false),
            };
            let id = format!("jp_{j}_{n}");
            let created_p = created + day + n as u64 * 5 * day;
            d.job_posts.push(json!({
                "id": id, "title": format!("{} ({})", TITLES[j % TITLES.len()], ["EN", "PT", "DE", "JA"][n % 4]), "job_id": format!("jb_{j}"),
                "active": active, "live": live, "internal": n == 1 && j % 2 == 0, "external": true,
                "first_published_at": if live || !active { json!(ts(created_p + 3600)) } else { Value::Null },
                "content": format!("<p>Post {n} for job {j}: join us.</p>"), "internal_content": null,
                "location": {"id": format!("loc_{j}"), "name": OFFICES[j % OFFICES.len()].1},
                "absolute_url": if live { json!(format!("https://jobs.gem.com/northwind/{id}")) } else { Value::Null },
                "created_at": ts(created_p), "updated_at": ts(created_p + 7200),
                "deleted_at": if active { Value::Null } else { json!(ts(created_p + 30 * day)) },
            }));
        }
    }

    // candidates and their applications
    let mut app_n = 0usize;
    let mut apps_by_cand: Vec<Vec<Value>> = vec![Vec::new(); n_cands];
    for c in 0..n_cands {
        let want = [0usize, 1, 1, 2, 2, 3][c % 6];
        for _ in 0..want {
            if app_n >= n_apps {
                break;
            }
            apps_by_cand[c].push(Value::Null);
            app_n += 1;
        }
    }
    // top up to exactly n_apps (a last page that is exactly full)
    let mut c = 0;
    while app_n < n_apps {
        if apps_by_cand[c].len() < 3 {
            apps_by_cand[c].push(Value::Null);
            app_n += 1;
        }
        c = (c + 1) % n_cands;
    }
    let mut a_id = 0usize;
    let mut si_id = 0usize;
    for c in 0..n_cands {
        let created = 30 * day + c as u64 * 3600;
        let (f, l) = (
            FIRST[(c * 5 + 1) % FIRST.len()],
            LAST[(c * 11 + 2) % LAST.len()],
        );
        let mut apps = Vec::new();
        for (k, _) in apps_by_cand[c].clone().iter().enumerate() {
            let j = (c * 7 + k * 13) % n_jobs;
            let job = &d.jobs[j];
            let applied = created + k as u64 * 5 * day + (c as u64 % 7) * 60;
            let status = match (c + k) % 20 {
                0..=11 => "active",
                12..=16 => "rejected",
                _ => "hired",
            };
            let prospect = (c + k) % 23 == 5;
            let stages: Vec<&Value> = d
                .job_stages
                .iter()
                .filter(|s| s["job_id"] == job["id"])
                .collect();
            let stage = if prospect {
                None
            } else {
                Some(stages[(c + k) % stages.len()])
            };
            let (src_id, src_name) = SOURCES[(c + k * 3) % SOURCES.len()];
            let credited = match (c + k) % 10 {
                0..=4 => json!(users[(c + k) % n_users]["id"]),
                5..=7 => user_lite(&users[(c + k) % n_users]),
                _ => Value::Null,
            };
            let rejected = status == "rejected";
            let reason = REASONS[(c + k) % REASONS.len()];
            let id = format!("ap_{a_id}");
            a_id += 1;
            let app = json!({
                "id": id, "candidate_id": format!("cd_{c}"), "prospect": prospect,
                "applied_at": ts(applied), "rejected_at": if rejected { json!(ts(applied + 9 * day)) } else { Value::Null },
                "last_activity_at": ts(applied + 12 * day),
                "status": status, "source": {"id": src_id, "public_name": src_name}, "credited_to": credited,
                "rejection_reason": if rejected { json!({"id": reason.0, "name": reason.1, "type": {"id": reason.2, "name": reason.3}}) } else { Value::Null },
                "jobs": if prospect && c % 2 == 0 { json!([]) } else { json!([{"id": job["id"], "name": job["name"]}]) },
                "job_post_id": d.job_posts.iter().find(|p| p["job_id"] == job["id"]).map(|p| p["id"].clone()).unwrap_or(Value::Null),
                "current_stage": stage.map(|s| json!({"id": s["id"], "name": s["name"]})).unwrap_or(Value::Null),
                // a soft-deleted candidate's applications are soft-deleted with it
                "deleted_at": if c % 101 == 100 { json!(ts(created + 60 * day)) } else if (c + k) % 97 == 50 { json!(ts(applied + 40 * day)) } else { Value::Null },
            });
            // scheduled interviews for the stage's interview plan
            if let Some(s) = stage
                && status != "rejected"
                && let Some(plan) = s["interviews"].as_array()
            {
                for (n, iv) in plan.iter().enumerate().take(1 + (c % 2)) {
                    let start = applied + (3 + n as u64) * day + 9 * 3600;
                    let all_day = si_id % 37 == 36;
                    let interviewers: Vec<Value> = distinct(&mut rng, 1 + (si_id % 3), n_users)
                        .into_iter()
                        .map(|u| {
                            let user = &users[u];
                            json!({"id": user["id"], "name": user["name"], "email": user["primary_email_address"], "employee_id": user["employee_id"],
                                   "response_status": (["needs_action", "declined", "tentative", "accepted"][(u + n) % 4]), "scorecard_id": Value::Null})
                        })
                        .collect();
                    d.scheduled_interviews.push(json!({
                        "id": format!("si_{si_id}"), "application_id": app["id"], "external_event_id": format!("gcal_{si_id:06x}"),
                        "created_at": ts(applied + day), "updated_at": ts(applied + 2 * day),
                        "start": if all_day { json!({"date": date(start)}) } else { json!({"date_time": ts(start)}) },
                        "end": if all_day { json!({"date": date(start)}) } else { json!({"date_time": ts(start + 3600)}) },
                        "location": (match si_id % 3 { 0 => json!("Zoom"), 1 => json!("Room 4.2"), _ => Value::Null }),
                        "video_conferencing_url": if si_id % 3 == 0 { json!(format!("https://zoom.example/j/{si_id}")) } else { Value::Null },
                        "status": (["scheduled", "awaiting_feedback", "complete"][si_id % 3]),
                        "interview": {"id": iv["id"], "name": iv["name"]}, "job_stage_interview_item_id": iv["job_stage_interview_item_id"],
                        "organizer": user_lite(&users[(si_id * 3) % n_users]), "interviewers": interviewers,
                        "deleted_at": if si_id % 41 == 40 { json!(ts(start + day)) } else { Value::Null },
                    }));
                    si_id += 1;
                }
            }
            apps.push(app);
        }
        let emails: Vec<Value> = (0..(c % 4))
            .map(|e| json!({"type": (["personal", "work", "other"][e % 3]), "value": format!("cand{c}.{e}@mail{}.test", e), "is_primary": e == 0}))
            .collect();
        let phones: Vec<Value> = (0..(c % 3)).map(|p| json!({"type": (["mobile", "home", "work"][p % 3]), "value": format!("+351 91{} {:03} {:03}", p, c % 1000, (c * 7) % 1000)})).collect();
        let social: Vec<Value> = (0..((c / 2) % 3))
            .map(|s| json!({"value": if s == 0 { format!("https://www.linkedin.com/in/cand-{c}") } else { format!("https://twitter.com/cand{c}") }}))
            .collect();
        let tags: Vec<Value> = ["rust", "referral", "silver-medalist", "relocation"]
            .iter()
            .enumerate()
            .filter(|(t, _)| (c + t) % 5 == 0)
            .map(|(_, t)| json!(t))
            .collect();
        let name_first = if c % 50 == 49 { "" } else { f };
        d.candidates.push(json!({
            "id": format!("cd_{c}"), "first_name": name_first, "last_name": l,
            "company": if c % 5 < 3 { json!(["Ferrovia Data", "Nordhavn ApS", "Café Lumière", "北京数据"][c % 4]) } else { Value::Null },
            "title": if c % 5 < 3 { json!(["Staff Engineer", "Designer", "Analyst"][c % 3]) } else { Value::Null },
            "is_private": c % 13 == 7,
            "created_at": ts(created), "updated_at": ts(created + 40 * day), "last_activity": ts(created + 40 * day),
            "deleted_at": if c % 101 == 100 { json!(ts(created + 60 * day)) } else { Value::Null },
            "attachments": [], "phone_numbers": phones, "email_addresses": emails, "social_media_addresses": social,
            "website_addresses": [], "tags": tags, "educations": [], "employments": [], "linked_user_ids": [],
            "custom_fields": if c % 2 == 0 { json!({"desired_salary": format!("{} EUR", 50_000 + c * 100), "notice_period": "60 days"}) } else { json!({}) },
            "application_ids": apps.iter().map(|a| a["id"].clone()).collect::<Vec<_>>(),
            "applications": apps.clone(),
        }));
        d.applications.extend(apps);
    }
    d
}

/// Switches and counters of a running simulator.
pub struct Sim {
    /// The data served (tests may change it between runs).
    pub data: RwLock<Dataset>,
    /// The accepted API key.
    pub api_key: String,
    /// Requests per second before 429 (None: no limit).
    pub rate_limit: Option<Window>,
    /// Requests answered.
    pub requests: AtomicU64,
    /// 429s answered.
    pub rate_limited: AtomicU64,
    /// Log of `path?query` requested.
    pub log: std::sync::Mutex<Vec<String>>,
    /// Resources (`applications`, ...) that answer 500.
    pub failing: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Milliseconds each list answer is delayed.
    pub delay_ms: AtomicU64,
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
    rate_limit: Option<usize>,
    port: u16,
) -> std::io::Result<Running> {
    let sim = Arc::new(Sim {
        data: RwLock::new(dataset(size)),
        api_key: api_key.to_owned(),
        rate_limit: rate_limit.map(Window::new),
        requests: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
        log: Default::default(),
        failing: Default::default(),
        delay_ms: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, sim })
}

/// The routes (each with and without a trailing slash).
pub fn router(sim: Arc<Sim>) -> Router {
    let mut r = Router::new();
    for res in [
        "users",
        "jobs",
        "job_posts",
        "job_stages",
        "candidates",
        "applications",
        "scheduled_interviews",
    ] {
        r = r
            .route(&format!("/ats/v0/{res}"), get(list))
            .route(&format!("/ats/v0/{res}/"), get(list));
    }
    r.route("/ats/v0/jobs/{id}/stages", get(job_stages_of))
        .route("/ats/v0/candidates/{id}", get(candidate))
        .with_state(sim)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

/// Auth, rate limit and logging common to every route.
fn gate(sim: &Sim, uri: &Uri, headers: &HeaderMap) -> Result<(), Response> {
    sim.requests.fetch_add(1, Ordering::Relaxed);
    sim.log.lock().unwrap().push(
        uri.path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(sim.api_key.as_str()) {
        return Err(error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    if let Some(w) = &sim.rate_limit
        && !w.allow()
    {
        sim.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        return Err(r);
    }
    Ok(())
}

fn filtered<'a>(
    rows: &'a [Value],
    q: &HashMap<String, String>,
    activity_field: &str,
) -> Vec<&'a Value> {
    let include_deleted = q.get("include_deleted").is_some_and(|v| v == "true");
    let after = q.get(if activity_field == "last_activity_at" {
        "last_activity_after"
    } else {
        "updated_after"
    });
    rows.iter()
        .filter(|r| include_deleted || r.get("deleted_at").is_none_or(|d| d.is_null()))
        .filter(|r| match after {
            Some(a) => r
                .get(activity_field)
                .and_then(|v| v.as_str())
                .is_some_and(|v| v >= a.as_str()),
            None => true,
        })
        .collect()
}

async fn list(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&sim, &uri, &headers) {
        return r;
    }
    let name = uri
        .path()
        .trim_start_matches("/ats/v0/")
        .trim_end_matches('/')
        .to_owned();
    let delay = sim.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if sim.failing.lock().unwrap().contains(&name) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let data = sim.data.read().unwrap();
    let Some(rows) = data.resource(&name) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let field = if name == "applications" {
        "last_activity_at"
    } else {
        "updated_at"
    };
    let rows = filtered(rows, &q, field);
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 500) as usize;
    let page = q
        .get("page")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1) as usize;
    let items: Vec<&Value> = rows
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .copied()
        .collect();
    let mut resp = Json(items).into_response();
    if page * per_page < rows.len() {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| *k != "page" && *k != "per_page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        let mut query: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        query.push_str(&format!("page={}&per_page={per_page}", page + 1));
        let link = format!("<http://{host}{}?{query}>; rel=\"next\"", uri.path());
        resp.headers_mut().insert("link", link.parse().unwrap());
    }
    resp
}

async fn job_stages_of(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&sim, &uri, &headers) {
        return r;
    }
    let data = sim.data.read().unwrap();
    let rows: Vec<&Value> = filtered(&data.job_stages, &q, "updated_at")
        .into_iter()
        .filter(|s| s["job_id"] == id.as_str())
        .collect();
    Json(rows).into_response()
}

async fn candidate(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = gate(&sim, &uri, &headers) {
        return r;
    }
    let data = sim.data.read().unwrap();
    match data.candidates.iter().find(|c| c["id"] == id.as_str()) {
        Some(c) => Json(c.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_dataset_has_the_promised_variety() {
        let d = dataset(Size::Full);
        assert_eq!(d.jobs.len(), 60);
        assert_eq!(d.candidates.len(), 600);
        assert_eq!(d.applications.len(), 1000, "two exactly full pages of 500");
        assert!(d.users.len() >= 40);
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
        assert!(d.candidates.iter().any(|c| c["is_private"] == true));
        assert!(d.applications.iter().any(|a| a["current_stage"].is_null()));
        assert!(
            d.applications
                .iter()
                .any(|a| a["rejection_reason"].is_object())
        );
        assert!(d.applications.iter().any(|a| a["status"] == "hired"));
        assert!(
            d.scheduled_interviews
                .iter()
                .any(|i| i["interviewers"].as_array().unwrap().len() >= 2)
        );
        assert!(
            d.scheduled_interviews
                .iter()
                .any(|i| i["start"].get("date").is_some())
        );
        for res in [
            "users",
            "jobs",
            "job_posts",
            "job_stages",
            "candidates",
            "applications",
            "scheduled_interviews",
        ] {
            assert!(
                d.resource(res)
                    .unwrap()
                    .iter()
                    .any(|r| !r["deleted_at"].is_null()),
                "{res} has soft-deleted rows"
            );
        }
        assert!(
            d.job_posts
                .iter()
                .any(|p| p["live"] == false && p["active"] == true)
        );
        assert!(
            d.jobs
                .iter()
                .any(|j| j["offices"].as_array().unwrap().len() >= 2
                    && j["departments"].as_array().unwrap().len() >= 2)
        );
        let ids: std::collections::HashSet<&str> = d
            .applications
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1000);
    }
}
