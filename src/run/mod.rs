//! Stage 3: executes a compiled [`Plan`]: resolves inputs, fetches streams in dependency
//! order (paginating, fanning out with bounded concurrency), maps, validates and writes.

pub mod http;
pub mod map;
pub mod output;
mod pager;
pub mod record;
pub mod state;
pub mod transport;

use crate::compile::{Plan, Source, StreamId};
use crate::secret::{Redactor, Secret};
use futures::StreamExt;
use http::{Client, Counters, Gate};
use map::{Env, LookupIndex};
use minijinja::Value as MjValue;
use output::{ModelReport, ModelSink, Report, Status, StreamReport};
use record::{Rec, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why a run could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A credential or other required input is not set.
    #[error("missing credential: {0}")]
    MissingInput(String),
    /// Bad command-line use.
    #[error("{0}")]
    Usage(String),
    /// The spec cannot be run as asked.
    #[error("{0}")]
    Spec(String),
    /// A request failed for good.
    #[error("stream `{stream}`: {message}")]
    Http {
        /// Stream.
        stream: String,
        /// What happened.
        message: String,
    },
    /// The sync state database.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// Reading or writing files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl RunError {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RunError::Io {
            path: path.into().display().to_string(),
            source,
        }
    }
}

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Replaces scheme, host and port of every request.
    pub base_url: Option<url::Url>,
    /// Output folder.
    pub out_dir: PathBuf,
    /// Only these models (and what they need).
    pub models: Option<Vec<String>>,
    /// Replay the connector's cassette: no network, no credentials.
    pub sandbox: bool,
    /// Namespace of ids.
    pub integration: String,
    /// Environment to read inputs from.
    pub env: HashMap<String, String>,
    /// Progress bars on stderr.
    pub progress: bool,
    /// Record exchanges into this cassette.
    pub record: Option<PathBuf>,
    /// The sync state database (default `<out>/state.db`).
    pub state: Option<PathBuf>,
    /// Ask only for what changed since the last successful sync; never delete.
    pub delta: bool,
}

impl RunOptions {
    /// Options with the process environment.
    pub fn new(out_dir: PathBuf) -> Self {
        RunOptions {
            base_url: None,
            out_dir,
            models: None,
            sandbox: false,
            integration: "default".into(),
            env: std::env::vars().collect(),
            progress: false,
            record: None,
            state: None,
            delta: false,
        }
    }
}

/// Runs a plan. `Err` means the run could not start; a run that started returns its report
/// (status `failed` with the error when a stream failed).
pub async fn run(plan: Arc<Plan>, opts: RunOptions) -> Result<Report, RunError> {
    let started = Instant::now();
    let now = crate::compile::expr::normalize_datetime(
        &time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    )
    .unwrap_or_default();

    // which streams run
    let selected: Vec<&'static str> = match &opts.models {
        Some(ms) => {
            let mut out = Vec::new();
            for m in ms {
                match plan.models.iter().find(|x| x.name == m) {
                    Some(x) => out.push(x.name),
                    None => {
                        return Err(RunError::Usage(format!(
                            "--models: `{m}` is not emitted by connector `{}` (it emits: {})",
                            plan.name,
                            plan.models
                                .iter()
                                .map(|x| x.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
            out
        }
        None => plan.models.iter().map(|m| m.name).collect(),
    };
    let mut needed = vec![false; plan.streams.len()];
    for m in plan.models.iter().filter(|m| selected.contains(&m.name)) {
        for &s in &m.streams {
            mark(&plan, s, &mut needed);
        }
    }

    // inputs and auth
    let (inputs, auth, redactor) = resolve_inputs(&plan, &opts)?;
    let transport = if opts.sandbox {
        let cassette = plan.sandbox.as_ref().ok_or_else(|| {
            RunError::Usage(format!(
                "connector `{}` has no sandbox data (`sandbox.cassette`)",
                plan.name
            ))
        })?;
        transport::Transport::replay(cassette).map_err(RunError::Spec)?
    } else {
        transport::Transport::http(
            plan.timeout,
            opts.record.as_ref().map(|_| plan.base_url.clone()),
        )
        .map_err(|e| RunError::Spec(e.to_string()))?
    };
    let client = Client::new(
        transport,
        &plan,
        opts.base_url.as_ref(),
        auth,
        &Scope::request(&inputs, None),
        redactor,
    )?;

    std::fs::create_dir_all(&opts.out_dir).map_err(|e| RunError::io(&opts.out_dir, e))?;
    let spool_dir = tempfile::Builder::new()
        .prefix("mapper-spool-")
        .tempdir()
        .map_err(|e| RunError::io(std::env::temp_dir(), e))?;

    let state_path = opts
        .state
        .clone()
        .unwrap_or_else(|| opts.out_dir.join("state.db"));
    let state = state::State::open(&state_path, &opts.integration)?;
    // delta: ask each filtered stream for what changed since its last successful sync
    let mut cursors: Vec<Option<(String, String)>> = vec![None; plan.streams.len()];
    if opts.delta {
        for (i, s) in plan.streams.iter().enumerate() {
            if let Source::Http(h) = &s.source
                && let Some((param, overlap)) = &h.delta
                && let Some(last) = state.last_sync(&s.name)?
                && let Ok(t) = time::OffsetDateTime::parse(
                    &last,
                    &time::format_description::well_known::Rfc3339,
                )
            {
                let since = t - *overlap;
                let text = crate::compile::expr::normalize_datetime(
                    &since
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                )
                .unwrap_or(last);
                cursors[i] = Some((param.clone(), text));
            }
        }
    }
    let state = Mutex::new(state);
    let fetched: Mutex<std::collections::HashSet<String>> =
        Mutex::new(std::collections::HashSet::new());

    let mut sinks: HashMap<&'static str, Mutex<ModelSink>> = HashMap::new();
    for m in plan.models.iter().filter(|m| selected.contains(&m.name)) {
        let dup = m
            .streams
            .iter()
            .find_map(|s| plan.streams[*s].output.as_ref().and_then(|o| o.duplicates));
        let schema = plan.streams[m.streams[0]].output.as_ref().unwrap().model;
        let sink = ModelSink::create(&opts.out_dir, schema, dup, m.streams.len())
            .map_err(|e| RunError::io(&opts.out_dir, e))?;
        sinks.insert(m.name, Mutex::new(sink));
    }
    let lookups: Vec<Mutex<LookupIndex>> = plan
        .lookups
        .iter()
        .map(|l| Mutex::new(LookupIndex::new(l)))
        .collect();
    let finished_lookups: Vec<std::sync::OnceLock<LookupIndex>> = plan
        .lookups
        .iter()
        .map(|_| std::sync::OnceLock::new())
        .collect();
    let counters: Vec<Counters> = plan.streams.iter().map(|_| Counters::default()).collect();
    let records: Vec<std::sync::atomic::AtomicU64> =
        plan.streams.iter().map(|_| Default::default()).collect();
    let gates: Vec<Option<Gate>> = plan
        .streams
        .iter()
        .map(|s| match &s.source {
            Source::Http(h)
                if !opts.sandbox
                    && (h.limits.requests_per_second.is_some()
                        || h.limits.max_concurrency.is_some()) =>
            {
                Some(Gate::new(&h.limits))
            }
            _ => None,
        })
        .collect();
    let progress = Progress::new(opts.progress);
    let rc = RunCtx {
        plan: &plan,
        client: &client,
        inputs: &inputs,
        integration: &opts.integration,
        now: &now,
        sinks: &sinks,
        lookups: &lookups,
        finished_lookups: &finished_lookups,
        counters: &counters,
        records: &records,
        gates: &gates,
        spool_dir: spool_dir.path().to_path_buf(),
        progress: &progress,
        state: &state,
        fetched: &fetched,
        cursors: &cursors,
    };

    // run level by level: a stream starts when everything it depends on has finished
    let mut level = vec![0usize; plan.streams.len()];
    for (i, s) in plan.streams.iter().enumerate() {
        level[i] = s.deps.iter().map(|d| level[*d] + 1).max().unwrap_or(0);
    }
    let mut done = vec![false; plan.streams.len()];
    let mut error: Option<RunError> = None;
    for lv in 0..=level.iter().copied().max().unwrap_or(0) {
        let ids: Vec<StreamId> = (0..plan.streams.len())
            .filter(|i| level[*i] == lv && needed[*i])
            .collect();
        let results = futures::future::join_all(ids.iter().map(|&i| rc.run_stream(i))).await;
        for (i, r) in ids.iter().zip(results) {
            match r {
                Ok(()) => {
                    done[*i] = true;
                    if let Err(e) = rc.stream_done(*i) {
                        error.get_or_insert(e);
                    }
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        if error.is_some() {
            break;
        }
    }
    progress.clear();
    // a complete, successful full sync: what it no longer returned is deleted
    if error.is_none() {
        let finished = crate::compile::expr::normalize_datetime(
            &time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        let mut st = state.lock().unwrap();
        if !opts.delta {
            let fetched = fetched.lock().unwrap();
            for (name, sink) in &sinks {
                let mut sink = sink.lock().unwrap();
                if !sink.is_complete() {
                    continue;
                }
                let n = st.mark_absent(name, &now, &fetched)?;
                if n > 0 {
                    sink.changes.deleted += n;
                    st.export(name, sink.target())?;
                }
            }
        }
        let names: Vec<String> = plan
            .streams
            .iter()
            .enumerate()
            .filter(|(i, _)| needed[*i])
            .map(|(_, s)| s.name.clone())
            .collect();
        st.record_syncs(
            &names,
            if opts.delta { "delta" } else { "full" },
            &now,
            &finished,
        )?;
    }
    for s in sinks.values() {
        let mut s = s.lock().unwrap();
        if !s.is_complete() {
            s.abandon();
        }
    }
    if let Some(path) = &opts.record {
        let n = client
            .transport()
            .save_recording(path)
            .map_err(|e| RunError::io(path, e))?;
        tracing::info!("recorded {n} exchanges into {}", path.display());
    }

    // report
    let mut models = indexmap::IndexMap::new();
    for m in plan.models.iter().filter(|m| selected.contains(&m.name)) {
        let s = sinks[m.name].lock().unwrap();
        let mut involved = vec![false; plan.streams.len()];
        for &sid in &m.streams {
            mark(&plan, sid, &mut involved);
        }
        let (req, ret) =
            involved
                .iter()
                .enumerate()
                .filter(|(_, x)| **x)
                .fold((0, 0), |(a, b), (i, _)| {
                    (
                        a + counters[i].requests.load(Ordering::Relaxed),
                        b + counters[i].retries.load(Ordering::Relaxed),
                    )
                });
        models.insert(
            m.name.to_owned(),
            ModelReport {
                written: s.written,
                invalid: s.invalid,
                duplicates: s.duplicate_count,
                requests: req,
                retries: ret,
                complete: s.is_complete(),
                created: s.changes.created,
                updated: s.changes.updated,
                unchanged: s.changes.unchanged,
                deleted: s.changes.deleted,
                invalid_records: s.samples.clone(),
            },
        );
    }
    let mut streams = indexmap::IndexMap::new();
    for (i, s) in plan.streams.iter().enumerate().filter(|(i, _)| needed[*i]) {
        streams.insert(
            s.name.clone(),
            StreamReport {
                records: records[i].load(Ordering::Relaxed),
                requests: counters[i].requests.load(Ordering::Relaxed),
                retries: counters[i].retries.load(Ordering::Relaxed),
                complete: done[i],
            },
        );
    }
    let invalid: u64 = models.values().map(|m| m.invalid).sum();
    let report = Report {
        connector: plan.name.clone(),
        integration: opts.integration.clone(),
        status: if error.is_some() {
            Status::Failed
        } else if invalid > 0 {
            Status::CompletedWithInvalidRecords
        } else {
            Status::Success
        },
        error: error
            .as_ref()
            .map(|e| client.redactor.redact(&e.to_string())),
        started_at: now.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        requests: counters
            .iter()
            .map(|c| c.requests.load(Ordering::Relaxed))
            .sum(),
        retries: counters
            .iter()
            .map(|c| c.retries.load(Ordering::Relaxed))
            .sum(),
        sandbox: opts.sandbox,
        mode: if opts.delta {
            "delta".into()
        } else {
            "full".into()
        },
        state: state_path.display().to_string(),
        models,
        streams,
    };
    report
        .write(&opts.out_dir)
        .map_err(|e| RunError::io(opts.out_dir.join("report.json"), e))?;
    Ok(report)
}

fn mark(plan: &Plan, s: StreamId, needed: &mut [bool]) {
    if needed[s] {
        return;
    }
    needed[s] = true;
    for &d in &plan.streams[s].deps {
        mark(plan, d, needed);
    }
}

/// Reads inputs from the environment; picks the auth alternative whose inputs are set.
fn resolve_inputs<'p>(
    plan: &'p Plan,
    opts: &RunOptions,
) -> Result<(MjValue, Option<&'p crate::compile::Auth>, Redactor), RunError> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut redactor = Redactor::default();
    for i in &plan.inputs {
        let v = if opts.sandbox {
            i.sandbox
                .clone()
                .or_else(|| i.default.clone())
                .or_else(|| Some("sandbox".into()))
        } else {
            opts.env
                .get(&i.env)
                .filter(|v| !v.is_empty())
                .cloned()
                .or_else(|| i.default.clone())
        };
        if let Some(v) = v {
            if i.secret && !opts.sandbox {
                redactor.add(&Secret::new(v.clone()));
            }
            values.insert(i.name.clone(), v);
        }
    }
    let env_of = |name: &str| {
        plan.inputs
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.env.clone())
            .unwrap_or_else(|| name.to_owned())
    };
    let auth_inputs: Vec<String> = plan.auth.as_ref().map(|a| a.inputs()).unwrap_or_default();
    // inputs outside auth are required
    let missing: Vec<String> = plan
        .inputs
        .iter()
        .filter(|i| !auth_inputs.contains(&i.name) && !values.contains_key(&i.name))
        .map(|i| i.env.clone())
        .collect();
    if !missing.is_empty() {
        return Err(RunError::MissingInput(format!(
            "set the environment variable{} {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    let auth = match &plan.auth {
        None => None,
        Some(crate::compile::Auth::AnyOf(opts_)) => {
            let chosen = opts_
                .iter()
                .find(|a| a.inputs().iter().all(|n| values.contains_key(n)));
            match chosen {
                Some(a) => Some(a),
                None => {
                    let alts: Vec<String> = opts_
                        .iter()
                        .map(|a| {
                            a.inputs()
                                .iter()
                                .map(|n| env_of(n))
                                .collect::<Vec<_>>()
                                .join(" and ")
                        })
                        .collect();
                    return Err(RunError::MissingInput(format!(
                        "set {}",
                        alts.join(", or ")
                    )));
                }
            }
        }
        Some(a) => {
            let missing: Vec<String> = a
                .inputs()
                .iter()
                .filter(|n| !values.contains_key(*n))
                .map(|n| env_of(n))
                .collect();
            if !missing.is_empty() {
                return Err(RunError::MissingInput(format!(
                    "set the environment variable{} {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", ")
                )));
            }
            Some(a)
        }
    };
    let auth = if opts.sandbox { None } else { auth };
    let mj: BTreeMap<String, MjValue> = values
        .into_iter()
        .map(|(k, v)| (k, MjValue::from(v)))
        .collect();
    Ok((MjValue::from(mj), auth, redactor))
}

struct RunCtx<'a> {
    plan: &'a Plan,
    client: &'a Client,
    inputs: &'a MjValue,
    integration: &'a str,
    now: &'a str,
    sinks: &'a HashMap<&'static str, Mutex<ModelSink>>,
    lookups: &'a [Mutex<LookupIndex>],
    finished_lookups: &'a [std::sync::OnceLock<LookupIndex>],
    counters: &'a [Counters],
    records: &'a [std::sync::atomic::AtomicU64],
    gates: &'a [Option<Gate>],
    spool_dir: PathBuf,
    progress: &'a Progress,
    state: &'a Mutex<state::State>,
    fetched: &'a Mutex<std::collections::HashSet<String>>,
    cursors: &'a [Option<(String, String)>],
}

/// Writes a stream's records for the streams that read it later.
struct Spool {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl<'a> RunCtx<'a> {
    fn spool_path(&self, s: StreamId) -> PathBuf {
        self.spool_dir.join(format!("{s}.ndjson"))
    }

    fn stream_done(&self, sid: StreamId) -> Result<(), RunError> {
        let s = &self.plan.streams[sid];
        for &l in &s.feeds {
            let mut idx = std::mem::take(&mut *self.lookups[l].lock().unwrap());
            idx.finish();
            let _ = self.finished_lookups[l].set(idx);
        }
        if let Some(o) = &s.output
            && let Some(sink) = self.sinks.get(o.model.name)
        {
            let mut sink = sink.lock().unwrap();
            sink.pending_streams -= 1;
            if sink.pending_streams == 0 {
                // apply the model to the state in one transaction, then publish its snapshot
                let staged = sink.close().map_err(|e| RunError::io(sink.target(), e))?;
                let mut st = self.state.lock().unwrap();
                let changes = st.apply(o.model.name, &staged, self.now)?;
                st.export(o.model.name, sink.target())?;
                sink.published(changes);
            }
        }
        Ok(())
    }

    /// Filters, feeds lookups, maps and writes one record; spools it for later streams.
    fn process(
        &self,
        sid: StreamId,
        rec: Rec,
        spool: &mut Option<Spool>,
        env: &Env,
    ) -> Result<(), RunError> {
        let s = &self.plan.streams[sid];
        if let Some(f) = &s.filter {
            match f.is_true(&Scope::record(self.inputs, &rec, None)) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => return Err(RunError::Spec(format!("streams.{}.filter: {e}", s.name))),
            }
        }
        self.records[sid].fetch_add(1, Ordering::Relaxed);
        for &l in &s.feeds {
            self.lookups[l]
                .lock()
                .unwrap()
                .add(&self.plan.lookups[l], &rec, env)
                .map_err(|e| {
                    RunError::Spec(format!("lookups.{}: {e}", self.plan.lookups[l].name))
                })?;
        }
        if let Some(mm) = &s.output
            && let Some(sink) = self.sinks.get(mm.model.name)
        {
            let mapped = map::map_record(mm, &rec, env);
            let mut sink = sink.lock().unwrap();
            match (mapped.record, mapped.id) {
                (Ok(r), Some(id)) => sink
                    .accept(id, mapped.remote_id, r, &rec.source)
                    .map_err(|e| RunError::io("output", e))?,
                (Err(reason), _) => sink.reject(mapped.remote_id, String::new(), reason),
                (Ok(_), None) => sink.reject(mapped.remote_id, "/id".into(), "no id".into()),
            }
        }
        if let Some(sp) = spool {
            serde_json::to_writer(&mut sp.file, &rec)
                .map_err(|e| RunError::io(&sp.path, e.into()))?;
            sp.file
                .write_all(b"\n")
                .map_err(|e| RunError::io(&sp.path, e))?;
        }
        Ok(())
    }

    fn read_spool(
        &self,
        s: StreamId,
    ) -> Result<impl Iterator<Item = Result<Rec, RunError>> + use<>, RunError> {
        let path = self.spool_path(s);
        let f = std::fs::File::open(&path).map_err(|e| RunError::io(&path, e))?;
        Ok(std::io::BufReader::with_capacity(256 * 1024, f)
            .lines()
            .map(move |l| {
                let l = l.map_err(|e| RunError::io(&path, e))?;
                serde_json::from_str::<Rec>(&l).map_err(|e| RunError::io(&path, e.into()))
            }))
    }

    async fn run_stream(&self, sid: StreamId) -> Result<(), RunError> {
        let s = &self.plan.streams[sid];
        let bar = self.progress.bar(&s.name);
        let mut spool = if s.spooled {
            let path = self.spool_path(sid);
            let f = std::fs::File::create(&path).map_err(|e| RunError::io(&path, e))?;
            Some(Spool {
                file: std::io::BufWriter::with_capacity(256 * 1024, f),
                path,
            })
        } else {
            None
        };
        // lookups are indexed by id; those not finished yet (not needed here) stay empty
        let empty = LookupIndex::default();
        let all: Vec<&LookupIndex> = (0..self.plan.lookups.len())
            .map(|i| self.finished_lookups[i].get().unwrap_or(&empty))
            .collect();
        let env = Env {
            inputs: self.inputs,
            lookups: &all,
            integration: self.integration,
            now: self.now,
        };
        let tick = |n: u64| {
            if let Some(b) = &bar {
                b.set_message(format!(
                    "{n} records, {} requests",
                    self.counters[sid].requests.load(Ordering::Relaxed)
                ));
            }
        };
        match &s.source {
            Source::Static(records) => {
                self.fetched.lock().unwrap().insert("static".to_owned());
                for (i, r) in records.iter().enumerate() {
                    self.process(
                        sid,
                        Rec::new(
                            r.clone(),
                            Arc::from("static"),
                            Default::default(),
                            None,
                            i as u64,
                        ),
                        &mut spool,
                        &env,
                    )?;
                }
            }
            Source::Derive { from, explode } => {
                for parent in self.read_spool(*from)? {
                    let parent = Arc::new(parent?);
                    let mut index = 0;
                    for (path, vars) in &explode.parts {
                        let items: Vec<Value> =
                            path.find(&parent.value).into_iter().cloned().collect();
                        for item in items {
                            let rec = Rec::new(
                                item,
                                parent.source.clone(),
                                parent.child_vars(vars),
                                Some(parent.clone()),
                                index,
                            );
                            index += 1;
                            self.process(sid, rec, &mut spool, &env)?;
                        }
                    }
                    tick(self.records[sid].load(Ordering::Relaxed));
                }
            }
            Source::Http(h) => match h.for_each {
                None => {
                    let mut pager = pager::Pager::new(self, sid, h, None)?;
                    while let Some(page) = pager.next().await? {
                        for rec in page {
                            self.process(sid, rec, &mut spool, &env)?;
                        }
                        tick(self.records[sid].load(Ordering::Relaxed));
                    }
                }
                Some(parent_stream) => {
                    let parents = self.read_spool(parent_stream)?;
                    let mut results = futures::stream::iter(parents)
                        .map(|p| async move {
                            let p = Arc::new(p?);
                            let mut pager = pager::Pager::new(self, sid, h, Some(p))?;
                            let mut all = Vec::new();
                            while let Some(page) = pager.next().await? {
                                all.extend(page);
                            }
                            Ok::<_, RunError>(all)
                        })
                        .buffered(h.concurrency);
                    while let Some(recs) = results.next().await {
                        for rec in recs? {
                            self.process(sid, rec, &mut spool, &env)?;
                        }
                        tick(self.records[sid].load(Ordering::Relaxed));
                    }
                }
            },
        }
        if let Some(mut sp) = spool {
            sp.file.flush().map_err(|e| RunError::io(&sp.path, e))?;
        }
        if let Some(b) = bar {
            b.finish_with_message(format!(
                "{} records, {} requests",
                self.records[sid].load(Ordering::Relaxed),
                self.counters[sid].requests.load(Ordering::Relaxed)
            ));
        }
        Ok(())
    }
}

/// Progress bars on a terminal, nothing otherwise.
struct Progress {
    multi: Option<indicatif::MultiProgress>,
}

impl Progress {
    fn new(on: bool) -> Self {
        Progress {
            multi: on.then(indicatif::MultiProgress::new),
        }
    }
    fn bar(&self, name: &str) -> Option<indicatif::ProgressBar> {
        let m = self.multi.as_ref()?;
        let b = m.add(indicatif::ProgressBar::new_spinner());
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix:>28} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.set_prefix(name.to_owned());
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(b)
    }
    fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}
