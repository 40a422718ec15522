//! Stage 3: executes a compiled [`Plan`]: resolves inputs, fetches streams in dependency
//! order (paginating, fanning out with bounded concurrency), maps, validates and writes.

pub mod check;
mod depth;
pub mod fingerprint;
pub mod http;
pub mod map;
pub mod output;
mod pager;
pub mod progress;
pub mod record;
pub mod transport;
pub mod writer;

use crate::compile::ModelMap;
use crate::compile::{Plan, Source, StreamId};
use crate::secret::{Redactor, Secret};
use crate::spec::DeltaFormat;
use crate::state::Store;
use futures::StreamExt;
use http::{Client, Counters, Gate};
use map::{Env, LookupIndex};
use minijinja::Value as MjValue;
use output::{ModelReport, Report, Status, StreamReport};
use record::{Rec, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use writer::{Finish, Item, ModelId, ModelOut, ModelResult, Msg, Writer};

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
    State(#[from] crate::state::StateError),
    /// Stopped by SIGINT or SIGTERM.
    #[error("interrupted")]
    Interrupted,
    /// A bug in mapper (an invariant that did not hold).
    #[error("internal error: {0}")]
    Internal(String),
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
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
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
    /// At most this many records per stream, and only the requests they need (a development
    /// run: nothing is deleted and no stream counts as synced).
    pub limit: Option<u64>,
    /// Runs on a copy of the sync state, which is discarded: nothing is marked deleted, no
    /// stream counts as synced, and the output folder gets the files as usual.
    pub dry_run: bool,
    /// Input values by input name (from `--config`); the environment wins over them.
    pub config: BTreeMap<String, String>,
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
            limit: None,
            dry_run: false,
            config: BTreeMap::new(),
        }
    }
}

/// Runs a plan. `Err` means the run could not start; a run that started returns its report
/// (status `failed` or `interrupted` with the error when it did not complete).
pub async fn run(plan: Arc<Plan>, opts: RunOptions) -> Result<Report, RunError> {
    run_until(plan, opts, shutdown_signal()).await
}

/// [`run`], stopped cleanly when `stop` completes (SIGINT or SIGTERM for the CLI): nothing is
/// committed and the report says `interrupted`.
pub async fn run_until(
    plan: Arc<Plan>,
    opts: RunOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Report, RunError> {
    let started = Instant::now();
    let now = crate::state::now_utc();
    let selected = select_models(&plan, &opts)?;
    let mut needed = vec![false; plan.streams.len()];
    for m in &selected {
        for &s in m.streams.iter().chain(m.tombstones) {
            mark(&plan, s, &mut needed);
        }
    }

    // inputs and auth
    let (inputs, auth, redactor) = resolve_inputs(&plan, &opts)?;
    let request_scope = Scope::request(&inputs, None);
    let base_url = plan
        .base_url
        .resolve(&request_scope)
        .map_err(RunError::Usage)?;
    let transport = if opts.sandbox {
        let cassette = plan.sandbox.as_ref().ok_or_else(|| {
            RunError::Usage(format!(
                "connector `{}` has no sandbox data (`sandbox.cassette`)",
                plan.name
            ))
        })?;
        transport::Transport::replay(cassette).map_err(RunError::Spec)?
    } else {
        transport::Transport::http(plan.timeout, opts.record.as_ref().map(|_| base_url.clone()))
            .map_err(|e| RunError::Spec(e.to_string()))?
    };
    let client = Client::new(
        transport,
        &plan,
        &base_url,
        opts.base_url.as_ref(),
        auth,
        &request_scope,
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
    // a dry run works on a copy of the state, which goes away with this folder
    let dry_state = if opts.dry_run {
        let dir = tempfile::Builder::new()
            .prefix("mapper-dry-run-")
            .tempdir()
            .map_err(|e| RunError::io(std::env::temp_dir(), e))?;
        let copy = dir.path().join("state.db");
        crate::state::sqlite::SqliteStore::copy(&state_path, &copy)?;
        Some((dir, copy))
    } else {
        None
    };
    let open_path = dry_state.as_ref().map_or(&state_path, |(_, p)| p);
    let mut store = crate::state::sqlite::SqliteStore::open(open_path, &opts.integration)?;
    let cursors = delta_cursors(&plan, &mut store, opts.delta)?;
    let kind = if opts.delta {
        crate::state::RunKind::Delta
    } else {
        crate::state::RunKind::Full
    };
    store.begin_run(kind, &now)?;
    let sources = store.sources()?;
    let outs = selected
        .iter()
        .map(|m| ModelOut {
            schema: m.schema,
            duplicates: m.duplicates,
            target: opts.out_dir.join(format!("{}.ndjson", m.name)),
        })
        .collect();
    let writer = Writer::start(Box::new(store), outs)?;

    let slots: Vec<ModelSlot> = selected
        .iter()
        .enumerate()
        .map(|(i, m)| ModelSlot::new(m, writer.fresh(ModelId(i))))
        .collect();
    let model_of: Vec<Option<ModelId>> = plan
        .streams
        .iter()
        .map(|s| {
            let model = s
                .output
                .as_ref()
                .map(|o| o.model.name)
                .or(s.tombstone.as_ref().map(|t| t.model))?;
            selected.iter().position(|m| m.name == model).map(ModelId)
        })
        .collect();
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
                        || h.limits.max_concurrency.is_some()
                        || h.limits.headers.is_some()) =>
            {
                Some(Gate::new(&h.limits))
            }
            _ => None,
        })
        .collect();
    let progress = progress::Progress::new(opts.progress);
    let rc = RunCtx {
        plan: &plan,
        client: &client,
        inputs: &inputs,
        integration: &opts.integration,
        now: &now,
        slots: &slots,
        model_of: &model_of,
        writer: writer.sender(),
        lookups: &lookups,
        finished_lookups: &finished_lookups,
        counters: &counters,
        records: &records,
        gates: &gates,
        spool_dir: spool_dir.path().to_path_buf(),
        progress: &progress,
        cursors: &cursors,
        tokens: Mutex::new(Vec::new()),
        limit: opts.limit,
        feeds_lookups: feeds_lookups(&plan),
        sources: Sources::new(&plan, &model_of, &opts.integration, sources),
    };

    let mut done = vec![false; plan.streams.len()];
    let mut interrupted = false;
    let error = tokio::select! {
        e = rc.run_streams(&needed, &mut done) => e,
        _ = stop => {
            interrupted = true;
            Some(RunError::Interrupted)
        }
    };
    let tokens = std::mem::take(&mut *lock(&rc.tokens));
    // with the state reader, whose read transaction must end before the commit
    drop(rc);
    progress.clear();
    let success = error.is_none();
    let finish = Finish {
        success,
        // a limited run saw part of each stream: it deletes nothing and syncs nothing; nor
        // does a dry run
        delete_absent: success && !opts.delta && opts.limit.is_none() && !opts.dry_run,
        synced_streams: plan
            .streams
            .iter()
            .enumerate()
            .filter(|(i, _)| needed[*i] && opts.limit.is_none() && !opts.dry_run)
            .map(|(_, s)| s.name.clone())
            .collect(),
        tokens,
        failed_status: if interrupted { "interrupted" } else { "failed" },
    };
    let (results, error) = match writer.finish(finish).await {
        Ok(r) => (r, error),
        Err(e) => (Vec::new(), error.or(Some(e))),
    };
    if let Some(path) = &opts.record {
        let n = client
            .transport()
            .save_recording(path)
            .map_err(|e| RunError::io(path, e))?;
        tracing::info!("recorded {n} exchanges into {}", path.display());
    }

    let models = model_reports(&plan, &selected, &slots, &results, &counters);
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
        status: match &error {
            Some(RunError::Interrupted) => Status::Interrupted,
            Some(_) => Status::Failed,
            None if invalid > 0 => Status::CompletedWithInvalidRecords,
            None => Status::Success,
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
        invalid_utf8_replaced: client.invalid_utf8.load(Ordering::Relaxed),
        sandbox: opts.sandbox,
        mode: kind.as_str().into(),
        dry_run: opts.dry_run,
        state: state_path.display().to_string(),
        models,
        streams,
    };
    report
        .write(&opts.out_dir)
        .map_err(|e| RunError::io(opts.out_dir.join("report.json"), e))?;
    Ok(report)
}

/// Per stream: whether its records feed a lookup, directly or through the streams derived
/// from or fetched for them (streams come after those they depend on).
fn feeds_lookups(plan: &Plan) -> Vec<bool> {
    let mut full: Vec<bool> = plan.streams.iter().map(|s| !s.feeds.is_empty()).collect();
    for (i, s) in plan.streams.iter().enumerate().rev() {
        if full[i] {
            for &d in &s.deps {
                full[d] = true;
            }
        }
    }
    full
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut i), Ok(mut t)) => {
                tokio::select! {
                    _ = i.recv() => {}
                    _ = t.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A model the run emits, with what the writer and the report need.
struct Selected<'p> {
    name: &'static str,
    schema: &'static crate::compile::schema::ModelSchema,
    duplicates: Option<crate::spec::Duplicates>,
    streams: &'p [StreamId],
    tombstones: &'p [StreamId],
}

/// The models to run (`--models`, or all), in the unified order.
fn select_models<'p>(plan: &'p Plan, opts: &RunOptions) -> Result<Vec<Selected<'p>>, RunError> {
    if let Some(ms) = &opts.models {
        for m in ms {
            if !plan.models.iter().any(|x| x.name == m.trim()) {
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
    let mut out = Vec::new();
    for m in &plan.models {
        if let Some(ms) = &opts.models
            && !ms.iter().any(|x| x.trim() == m.name)
        {
            continue;
        }
        let outputs = m
            .streams
            .iter()
            .filter_map(|s| plan.streams[*s].output.as_ref());
        let Some(schema) = outputs.clone().next().map(|o| o.model) else {
            continue;
        };
        out.push(Selected {
            name: m.name,
            schema,
            duplicates: outputs.clone().find_map(|o| o.duplicates),
            streams: &m.streams,
            tombstones: &m.tombstones,
        });
    }
    Ok(out)
}

/// What a delta run sends for one stream: a time or a token, and where.
#[derive(Debug, Clone)]
pub(crate) struct DeltaValue {
    /// Parameter or body member.
    pub param: String,
    /// The value (a number for epoch times in a body).
    pub value: Value,
    /// Query or body.
    pub inject: crate::spec::Inject,
}

/// Delta runs: each stream with a delta filter asks for what changed since its last
/// successful sync (less the overlap), or sends the token that sync ended with.
fn delta_cursors(
    plan: &Plan,
    store: &mut dyn crate::state::Store,
    delta: bool,
) -> Result<Vec<Option<DeltaValue>>, RunError> {
    let mut cursors = vec![None; plan.streams.len()];
    if !delta {
        return Ok(cursors);
    }
    for (i, s) in plan.streams.iter().enumerate() {
        let Source::Http(h) = &s.source else { continue };
        let Some(d) = &h.delta else { continue };
        let value = match d.kind {
            crate::spec::DeltaKind::Token => store.sync_token(&s.name)?.map(Value::String),
            crate::spec::DeltaKind::Time => store.last_sync(&s.name)?.and_then(|last| {
                let t = time::OffsetDateTime::parse(
                    &last,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?;
                Some(delta_value(t - d.overlap, d.format, &last, d.inject))
            }),
        };
        cursors[i] = value.map(|value| DeltaValue {
            param: d.param.clone(),
            value,
            inject: d.inject,
        });
    }
    Ok(cursors)
}

/// The time a delta filter sends, in its format (`fallback` if it cannot be written); epoch
/// times are numbers in a body.
fn delta_value(
    since: time::OffsetDateTime,
    format: DeltaFormat,
    fallback: &str,
    inject: crate::spec::Inject,
) -> Value {
    let n = match format {
        DeltaFormat::Iso8601 => {
            return Value::String(
                crate::compile::expr::normalize_datetime(
                    &since
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                )
                .unwrap_or_else(|| fallback.to_owned()),
            );
        }
        DeltaFormat::EpochSeconds => since.unix_timestamp() as i128,
        DeltaFormat::EpochMilliseconds => since.unix_timestamp_nanos() / 1_000_000,
    };
    match inject {
        crate::spec::Inject::Body => Value::from(n as i64),
        _ => Value::String(n.to_string()),
    }
}

/// The records `source` derives from `parent`: JSONPath matches in it, or a lookup's value.
fn exploded(
    source: &crate::compile::ExplodeSource,
    parent: &Rec,
    env: &Env,
) -> Result<Vec<Value>, String> {
    use crate::compile::ExplodeSource;
    Ok(match source {
        ExplodeSource::Path(path) => path.find(&parent.value).into_iter().cloned().collect(),
        ExplodeSource::Lookup { lookup, key, path } => {
            let k = match key {
                Some(k) => match map::key_text(&map::eval_key_for(k, parent, env)?) {
                    Some(k) => k,
                    None => return Ok(Vec::new()),
                },
                None => String::new(),
            };
            let found = match parent.side_loaded(*lookup, &k) {
                Some(f) => f,
                None => env.lookups.get(lookup.0).and_then(|i| i.get(&k)),
            };
            match (found, path) {
                (None, _) | (Some(Value::Null), None) => Vec::new(),
                (Some(v), Some(p)) => p.find(v).into_iter().cloned().collect(),
                (Some(Value::Array(items)), None) => items.clone(),
                (Some(v), None) => vec![v.clone()],
            }
        }
    })
}

/// Per-model figures of the report.
fn model_reports(
    plan: &Plan,
    selected: &[Selected],
    slots: &[ModelSlot],
    results: &[ModelResult],
    counters: &[Counters],
) -> indexmap::IndexMap<String, ModelReport> {
    let mut models = indexmap::IndexMap::new();
    for (i, m) in selected.iter().enumerate() {
        let r = results.get(i).cloned().unwrap_or_default();
        let mut involved = vec![false; plan.streams.len()];
        for &sid in m.streams {
            mark(plan, sid, &mut involved);
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
                written: r.written,
                invalid: r.changes.invalid,
                duplicates: r.duplicates + slots[i].merged_duplicates(),
                requests: req,
                retries: ret,
                complete: r.published,
                created: r.changes.created,
                updated: r.changes.updated,
                unchanged: r.changes.unchanged,
                deleted: r.changes.deleted,
                unmapped_values: slots[i].unmapped.take(),
                invalid_records: r.samples,
            },
        );
    }
    models
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
                .or_else(|| opts.config.get(&i.name).filter(|v| !v.is_empty()))
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
    let env_of = |name: &str| plan.env_of(name);
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
    slots: &'a [ModelSlot],
    model_of: &'a [Option<ModelId>],
    writer: tokio::sync::mpsc::Sender<Msg>,
    lookups: &'a [Mutex<LookupIndex>],
    finished_lookups: &'a [std::sync::OnceLock<LookupIndex>],
    counters: &'a [Counters],
    records: &'a [std::sync::atomic::AtomicU64],
    gates: &'a [Option<Gate>],
    spool_dir: PathBuf,
    progress: &'a progress::Progress,
    cursors: &'a [Option<DeltaValue>],
    /// Tokens that token-delta streams ended their walk with.
    tokens: Mutex<Vec<(String, String)>>,
    /// `--limit`: records per stream.
    limit: Option<u64>,
    /// Per stream: whether its records feed a lookup (then `--limit` does not cut it).
    feeds_lookups: Vec<bool>,
    /// Fingerprints of what records are mapped from, and the state's.
    sources: Sources,
}

/// What a run needs to skip mapping records whose source did not change.
struct Sources {
    /// Seed of the run's fingerprints (none: no stream has them).
    seed: Option<u64>,
    /// Per stream: whether its records get one (its model map is `record_only`).
    streams: Vec<bool>,
    /// The fingerprints the last committed run stored.
    reader: Option<Mutex<Box<dyn crate::state::SourceReader>>>,
}

impl Sources {
    fn new(
        plan: &Plan,
        model_of: &[Option<ModelId>],
        integration: &str,
        reader: Option<Box<dyn crate::state::SourceReader>>,
    ) -> Sources {
        let streams: Vec<bool> = plan
            .streams
            .iter()
            .zip(model_of)
            .map(|(s, m)| {
                m.is_some()
                    && s.tombstone.is_none()
                    && s.output.as_ref().is_some_and(|mm| mm.record_only)
            })
            .collect();
        let seed = if streams.contains(&true) {
            fingerprint::seed(plan, integration)
        } else {
            None
        };
        Sources {
            seed,
            streams,
            reader: reader.map(Mutex::new),
        }
    }
}

/// Writes a stream's records for the streams that read it later.
struct Spool {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

/// Mapped records of one stream waiting to be sent to the writer (one page at a time).
struct Outbox {
    model: Option<ModelId>,
    items: Vec<Item>,
}

impl<'a> RunCtx<'a> {
    fn spool_path(&self, s: StreamId) -> PathBuf {
        self.spool_dir.join(format!("{}.ndjson", s.0))
    }

    /// Runs the needed streams level by level: a stream starts when everything it depends
    /// on has finished. Returns the first error.
    async fn run_streams(&self, needed: &[bool], done: &mut [bool]) -> Option<RunError> {
        let plan = self.plan;
        let mut level = vec![0usize; plan.streams.len()];
        for (i, s) in plan.streams.iter().enumerate() {
            level[i] = s.deps.iter().map(|d| level[*d] + 1).max().unwrap_or(0);
        }
        let mut error: Option<RunError> = None;
        for lv in 0..=level.iter().copied().max().unwrap_or(0) {
            let ids: Vec<StreamId> = (0..plan.streams.len())
                .filter(|i| level[*i] == lv && needed[*i])
                .map(StreamId)
                .collect();
            let results = futures::future::join_all(ids.iter().map(|&i| self.run_stream(i))).await;
            for (i, r) in ids.iter().zip(results) {
                let r = match r {
                    Ok(()) => self.stream_done(*i).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => done[*i] = true,
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
            if error.is_some() {
                break;
            }
        }
        error
    }

    async fn stream_done(&self, sid: StreamId) -> Result<(), RunError> {
        let s = &self.plan.streams[sid];
        for &l in &s.feeds {
            let mut idx = std::mem::take(&mut *lock(&self.lookups[l]));
            idx.finish();
            let _ = self.finished_lookups[l].set(idx);
        }
        if let Some(m) = self.model_of[sid]
            && s.output.is_some()
        {
            let slot = &self.slots[m.0];
            // the model's last stream: merged records go to the writer now
            if slot.pending.fetch_sub(1, Ordering::AcqRel) == 1
                && let Some(merged) = &slot.merged
            {
                let all = std::mem::take(&mut *lock(merged));
                let items: Vec<Item> = all
                    .into_iter()
                    .map(|(id, rec)| {
                        let remote_id = rec
                            .get("remote_id")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned);
                        item_of(id, remote_id, rec, slot.order)
                    })
                    .collect();
                self.send(m, items).await?;
            }
        }
        Ok(())
    }

    async fn send(&self, m: ModelId, items: Vec<Item>) -> Result<(), RunError> {
        if items.is_empty() {
            return Ok(());
        }
        self.writer
            .send(Msg::Batch(m, items))
            .await
            .map_err(|_| RunError::Internal("the state writer stopped".into()))
    }

    async fn flush(&self, out: &mut Outbox) -> Result<(), RunError> {
        if let Some(m) = out.model {
            let items = std::mem::take(&mut out.items);
            self.send(m, items).await?;
        }
        Ok(())
    }

    /// Whether `--limit` records of this stream were taken.
    fn limit_reached(&self, sid: StreamId) -> bool {
        self.limit_of(sid)
            .is_some_and(|l| self.records[sid].load(Ordering::Relaxed) >= l)
    }

    /// The `--limit` of a stream: none for streams whose records feed a lookup (directly or
    /// through streams derived from or fetched for them), so lookups answer as in a full run
    /// and a limited run's references resolve.
    fn limit_of(&self, sid: StreamId) -> Option<u64> {
        if self.feeds_lookups[sid] {
            None
        } else {
            self.limit
        }
    }

    /// Filters, feeds lookups, maps one record into the outbox; spools it for later streams.
    fn process(
        &self,
        sid: StreamId,
        rec: Rec,
        spool: &mut Option<Spool>,
        env: &Env,
        out: &mut Outbox,
    ) -> Result<(), RunError> {
        if !self.admit(sid, &rec, env, out)? {
            return Ok(());
        }
        if let (Some(mm), Some(m)) = (&self.plan.streams[sid].output, self.model_of[sid]) {
            let slot = &self.slots[m.0];
            let source = self.source_of(sid, &rec);
            match source.and_then(|fp| self.unchanged_source(mm, slot, &rec, env, fp)) {
                Some((id, remote_id)) => out.items.push(Item::Same { id, remote_id }),
                None => map_one(mm, slot, &rec, env, source, &mut out.items),
            }
        }
        spool_rec(spool, &rec)
    }

    /// The fingerprint of what a record of `sid` is mapped from, when its stream has them
    /// and the record arrived whole.
    fn source_of(&self, sid: StreamId, rec: &Rec) -> Option<u64> {
        let seed = self.sources.seed?;
        (self.sources.streams[sid.0] && rec.defect.is_none())
            .then(|| fingerprint::of(seed, sid, rec))
    }

    /// The ids of a record whose stored version was mapped from the same source `fp` (so
    /// it need not be mapped again), if the state has such a version.
    fn unchanged_source(
        &self,
        mm: &ModelMap,
        slot: &ModelSlot,
        rec: &Rec,
        env: &Env,
        fp: u64,
    ) -> Option<(String, String)> {
        // a model new to the state has nothing stored
        if slot.check_here.is_some() {
            return None;
        }
        let reader = self.sources.reader.as_ref()?;
        let (id, remote_id) = map::quick_id(mm, rec, env)?;
        // a reader that fails only costs the shortcut: the record is mapped
        let stored = lock(reader).source(mm.model.name, &id).ok().flatten();
        (stored == Some(fp)).then_some((id, remote_id))
    }

    /// The order-sensitive part of taking a record: `--limit`, the stream's filter, its
    /// count, the lookups it feeds and its tombstone. Whether the record is kept.
    fn admit(
        &self,
        sid: StreamId,
        rec: &Rec,
        env: &Env,
        out: &mut Outbox,
    ) -> Result<bool, RunError> {
        let s = &self.plan.streams[sid];
        if self.limit_reached(sid) {
            return Ok(false);
        }
        if let Some(f) = &s.filter {
            match f.is_true(&Scope::record(self.inputs, rec, None)) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => return Err(RunError::Spec(format!("streams.{}.filter: {e}", s.name))),
            }
        }
        self.records[sid].fetch_add(1, Ordering::Relaxed);
        for &l in &s.feeds {
            lock(&self.lookups[l])
                .add(&self.plan.lookups[l], rec, env)
                .map_err(|e| {
                    RunError::Spec(format!("lookups.{}: {e}", self.plan.lookups[l].name))
                })?;
        }
        if let (Some(t), Some(_)) = (&s.tombstone, self.model_of[sid]) {
            let (id, at) = map::tombstone(t, rec, env)
                .map_err(|e| RunError::Spec(format!("streams.{}.deletes: {e}", s.name)))?;
            if let Some(id) = id {
                out.items.push(Item::Tombstone { id, deleted_at: at });
            }
        }
        Ok(true)
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
        let unmapped = self.model_of[sid].map(|m| &self.slots[m.0].unmapped);
        let env = Env {
            inputs: self.inputs,
            lookups: &all,
            integration: self.integration,
            now: self.now,
            unmapped,
        };
        let mut out = Outbox {
            model: self.model_of[sid],
            items: Vec::new(),
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
                for (i, r) in records.iter().enumerate() {
                    let rec = Rec::new(
                        r.clone(),
                        Arc::from("static"),
                        Default::default(),
                        None,
                        i as u64,
                    );
                    self.process(sid, rec, &mut spool, &env, &mut out)?;
                }
                self.flush(&mut out).await?;
            }
            Source::Derive { from, explode } => {
                for parent in self.read_spool(*from)? {
                    let parent = Arc::new(parent?);
                    let mut index = 0;
                    for (source, vars) in &explode.parts {
                        let items = exploded(source, &parent, &env).map_err(|e| {
                            RunError::Spec(format!("streams.{}.explode: {e}", s.name))
                        })?;
                        for item in items {
                            let rec = Rec::new(
                                item,
                                parent.source.clone(),
                                parent.child_vars(vars),
                                Some(parent.clone()),
                                index,
                            );
                            index += 1;
                            self.process(sid, rec, &mut spool, &env, &mut out)?;
                        }
                    }
                    if out.items.len() >= 256 {
                        self.flush(&mut out).await?;
                    }
                    tick(self.records[sid].load(Ordering::Relaxed));
                }
                self.flush(&mut out).await?;
            }
            Source::Http(h) => match h.for_each {
                None => {
                    // the next page is fetched (and parsed, off this thread) while this one
                    // is mapped
                    let mut pager = pager::Pager::new(self, sid, h, None)?;
                    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Rec>>(1);
                    let fetch = async move {
                        let mut taken = 0u64;
                        while let Some(page) = pager.next().await? {
                            let n = page.len() as u64;
                            if tx.send(page).await.is_err() {
                                break;
                            }
                            // with --limit, no page beyond the ones the limit needs
                            if let Some(l) = self.limit_of(sid) {
                                taken += n;
                                if taken >= l {
                                    pager.token = None;
                                    break;
                                }
                            }
                        }
                        if let Some(t) = pager.token.take() {
                            lock(&self.tokens).push((s.name.clone(), t));
                        }
                        Ok::<_, RunError>(())
                    };
                    let map = async {
                        while let Some(page) = rx.recv().await {
                            // let the pager send the next request before this page is
                            // mapped, so that the vendor answers while we map
                            tokio::task::yield_now().await;
                            for rec in page {
                                self.process(sid, rec, &mut spool, &env, &mut out)?;
                            }
                            self.flush(&mut out).await?;
                            tick(self.records[sid].load(Ordering::Relaxed));
                        }
                        Ok::<_, RunError>(())
                    };
                    let (fetched, mapped) = futures::join!(fetch, map);
                    mapped?;
                    fetched?;
                }
                Some(parent_stream) => {
                    let parents = self.read_spool(parent_stream)?;
                    let mut results = futures::stream::iter(parents)
                        .map(|p| async move {
                            let p = Arc::new(p?);
                            if self.limit_reached(sid) {
                                return Ok(Vec::new());
                            }
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
                            self.process(sid, rec, &mut spool, &env, &mut out)?;
                        }
                        if out.items.len() >= 256 {
                            self.flush(&mut out).await?;
                        }
                        tick(self.records[sid].load(Ordering::Relaxed));
                    }
                    self.flush(&mut out).await?;
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

/// Maps one admitted record into `items`: an item for the writer, or a failure.
/// `source` is the fingerprint of what it is mapped from, if it has one.
fn map_one(
    mm: &ModelMap,
    slot: &ModelSlot,
    rec: &Rec,
    env: &Env,
    source: Option<u64>,
    items: &mut Vec<Item>,
) {
    let mapped = map::map_record(mm, rec, env);
    if let Some((pointer, reason)) = &rec.defect {
        // seen (when its id could be read), but not mapped from a cut payload
        items.push(Item::Failed {
            id: mapped.id.clone(),
            remote_id: mapped.remote_id.clone(),
            pointer: pointer.clone(),
            reason: reason.clone(),
        });
    } else {
        // a record that met unknown enum values is mapped again next time, to count them
        let source = source.filter(|_| !mapped.unmapped);
        route(slot, mapped, source, items);
    }
}

/// Writes a record to the stream's spool, when later streams read it.
fn spool_rec(spool: &mut Option<Spool>, rec: &Rec) -> Result<(), RunError> {
    if let Some(sp) = spool {
        serde_json::to_writer(&mut sp.file, rec).map_err(|e| RunError::io(&sp.path, e.into()))?;
        sp.file
            .write_all(b"\n")
            .map_err(|e| RunError::io(&sp.path, e))?;
    }
    Ok(())
}

/// Sends a mapped record on: merged (`duplicates: merge`), or serialised into the outbox.
fn route(slot: &ModelSlot, mapped: map::Mapped<'_>, source: Option<u64>, items: &mut Vec<Item>) {
    match (&mapped.record, mapped.id.clone()) {
        (Ok(_), Some(id)) => match &slot.merged {
            Some(merged) => {
                if let Ok(full) = mapped.into_full() {
                    slot.merge(merged, id, full);
                }
            }
            None => {
                let remote_id = mapped.remote_id.clone();
                if let Ok(members) = mapped.record {
                    let mut encoded = crate::state::Encoded::of_members(
                        id,
                        remote_id,
                        &members,
                        &mapped.remote_data,
                    );
                    encoded.source = source;
                    // a map built from all its members at once (sorted, then filled in one pass)
                    let value = Value::Object(members.into_iter().collect());
                    items.push(match slot.check_here {
                        Some(schema) => Item::Checked {
                            invalid: writer::validate(schema, &value),
                            encoded,
                        },
                        None => Item::Record { value, encoded },
                    });
                }
            }
        },
        (Err(reason), id) => items.push(Item::Failed {
            id,
            remote_id: mapped.remote_id.clone(),
            pointer: mapped.pointer.clone(),
            reason: reason.clone(),
        }),
        (Ok(_), None) => items.push(Item::Failed {
            id: None,
            remote_id: mapped.remote_id.clone(),
            pointer: "/id".into(),
            reason: "no id".into(),
        }),
    }
}

/// A mapped record serialised once for the writer.
fn item_of(id: String, remote_id: Option<String>, record: Value, order: &[String]) -> Item {
    match record {
        Value::Object(map) => {
            let encoded = crate::state::Encoded::in_order(id, remote_id, &map, order);
            Item::Record {
                value: Value::Object(map),
                encoded,
            }
        }
        _ => Item::Failed {
            id: Some(id),
            remote_id,
            pointer: "/".into(),
            reason: "the mapping did not build an object".into(),
        },
    }
}

/// Locks a mutex; a panic elsewhere while it was held does not stop the run from reporting.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run-time bookkeeping of one selected model on the async side.
struct ModelSlot {
    /// Streams still producing it.
    pending: std::sync::atomic::AtomicUsize,
    /// `duplicates: merge`: records merged by id until the last stream is done.
    merged: Option<Mutex<indexmap::IndexMap<String, Value>>>,
    merged_dups: std::sync::atomic::AtomicU64,
    /// Enum values no map knew, by field.
    unmapped: map::Unmapped,
    /// A model new to the state: its records are validated where they are mapped, with
    /// this schema ([`Item::Checked`]).
    check_here: Option<&'static crate::compile::schema::ModelSchema>,
    /// The model's fields in schema order (the order of an output record's members).
    order: &'static [String],
}

impl ModelSlot {
    fn new(m: &Selected, fresh: bool) -> Self {
        ModelSlot {
            check_here: fresh.then_some(m.schema),
            order: m.schema.field_order(),
            pending: std::sync::atomic::AtomicUsize::new(m.streams.len()),
            merged: (m.duplicates == Some(crate::spec::Duplicates::Merge))
                .then(|| Mutex::new(indexmap::IndexMap::new())),
            merged_dups: Default::default(),
            unmapped: map::Unmapped::default(),
        }
    }
    fn merge(&self, merged: &Mutex<indexmap::IndexMap<String, Value>>, id: String, rec: Value) {
        let mut m = lock(merged);
        match m.get_mut(&id) {
            Some(existing) => {
                self.merged_dups.fetch_add(1, Ordering::Relaxed);
                map::merge_into(existing, rec);
            }
            None => {
                m.insert(id, rec);
            }
        }
    }
    fn merged_duplicates(&self) -> u64 {
        self.merged_dups.load(Ordering::Relaxed)
    }
}
