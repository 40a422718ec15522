//! The run's writer: one thread that owns the sync state and the output files. Stream tasks
//! send it batches of mapped records; it validates what is new or changed, applies records to
//! the state's open run transaction, and at the end marks absent records deleted, commits,
//! and publishes each model's snapshot (`<model>.ndjson`).
//!
//! State work never blocks the async runtime, and an unchanged record costs one lookup: it is
//! not validated again (its content is that of a stored, valid record) nor rewritten.

use super::RunError;
use super::output::InvalidRecord;
use crate::compile::schema::ModelSchema;
use crate::spec::Duplicates;
use crate::state::{Change, Changes, Encoded, RunEnd, Store};
use crate::writeback::SyncingFile;
use serde_json::Value;
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};

/// Index of a model in the run's list of selected models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId(pub usize);

/// One mapped record on its way to the state.
pub enum Item {
    /// A record that mapped; validated by the writer when new or changed.
    Record {
        /// The record (for validation).
        value: Value,
        /// The record serialised once.
        encoded: Encoded,
    },
    /// A record of a model new to the state, validated where it was mapped: every record
    /// of such a model is new, so it is validated anyway, and its value need not travel
    /// to the writer (nor be freed there).
    Checked {
        /// The record serialised once.
        encoded: Encoded,
        /// The first schema violations (pointer, reasons), as [`validate`] reports them.
        invalid: Option<(String, String)>,
    },
    /// A record that could not be mapped. When its id is known it still counts as seen.
    Failed {
        /// Unified id, when known.
        id: Option<String>,
        /// Vendor id, when known.
        remote_id: Option<String>,
        /// JSON pointer of the offending value.
        pointer: String,
        /// Why.
        reason: String,
    },
    /// A record mapped from the same source as its stored version (see
    /// [`crate::run::fingerprint`]): not mapped again, only seen.
    Same {
        /// Unified id.
        id: String,
        /// Vendor id.
        remote_id: String,
    },
    /// A tombstone: the vendor deleted the record with this id.
    Tombstone {
        /// Unified id.
        id: String,
        /// When (none: the run's start).
        deleted_at: Option<String>,
    },
}

/// Messages to the writer.
pub enum Msg {
    /// Records of one model.
    Batch(ModelId, Vec<Item>),
    /// The run is over: commit (and publish) or abort.
    Finish(Finish, oneshot::Sender<Result<Vec<ModelResult>, RunError>>),
}

/// How the run ended, as far as the streams know.
pub struct Finish {
    /// Every stream succeeded.
    pub success: bool,
    /// Whether to mark absent records deleted (a successful full sync).
    pub delete_absent: bool,
    /// Streams that completed a successful sync.
    pub synced_streams: Vec<String>,
    /// Tokens that token-delta streams ended their walk with (stream, token).
    pub tokens: Vec<(String, String)>,
    /// Status to record when the run failed (`failed`, `interrupted`).
    pub failed_status: &'static str,
}

/// One model's outcome.
#[derive(Debug, Clone, Default)]
pub struct ModelResult {
    /// Records written to the state in this run (valid, not duplicates).
    pub written: u64,
    /// Duplicates skipped or reported.
    pub duplicates: u64,
    /// Changes applied.
    pub changes: Changes,
    /// Samples of invalid records.
    pub samples: Vec<InvalidRecord>,
    /// Whether the snapshot file is this run's.
    pub published: bool,
}

/// What the writer needs to know of a model.
pub struct ModelOut {
    /// The model's schema.
    pub schema: &'static ModelSchema,
    /// Duplicate handling.
    pub duplicates: Option<Duplicates>,
    /// `<out>/<model>.ndjson`.
    pub target: PathBuf,
}

/// Samples of invalid records kept per model in the report.
const MAX_SAMPLES: usize = 50;

struct ModelState {
    out: ModelOut,
    /// The state had no record of this model before the run: the output is written as
    /// records arrive (their arrival order is their insertion order).
    fresh: Option<SyncingFile>,
    /// The output was written during the run (and flushed before the commit).
    fresh_done: bool,
    partial: PathBuf,
    result: ModelResult,
    /// Ids the vendor listed as deleted, applied at the commit (after every record was seen).
    tombstones: Vec<(String, Option<String>)>,
}

/// The writer thread's handle.
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Per model: whether the state had no record of it before the run.
    fresh: Vec<bool>,
}

impl Writer {
    /// Starts the writer on its own thread. The state's run must already be begun.
    pub fn start(mut store: Box<dyn Store>, models: Vec<ModelOut>) -> Result<Writer, RunError> {
        let mut states = Vec::with_capacity(models.len());
        for m in models {
            let partial = m.target.with_extension("ndjson.partial");
            let fresh = if store.has_records(m.schema.name)? {
                None
            } else {
                Some(SyncingFile::create(&partial).map_err(|e| RunError::io(&partial, e))?)
            };
            states.push(ModelState {
                out: m,
                fresh,
                fresh_done: false,
                partial,
                result: ModelResult::default(),
                tombstones: Vec::new(),
            });
        }
        let fresh = states.iter().map(|m| m.fresh.is_some()).collect();
        // a snapshot left stale by a run killed after its commit is rewritten first
        for m in &mut states {
            let target = m.out.target.display().to_string();
            if m.fresh.is_none() && !store.snapshot_current(m.out.schema.name, &target)? {
                publish(&mut *store, m)?;
            }
        }
        // a few pages in flight: enough to keep both threads busy, little memory
        let (tx, mut rx) = mpsc::channel::<Msg>(4);
        let thread = std::thread::Builder::new()
            .name("mapper-state".into())
            .spawn(move || {
                let mut w = Worker {
                    store: &mut *store,
                    models: states,
                    error: None,
                };
                while let Some(msg) = rx.blocking_recv() {
                    match msg {
                        Msg::Batch(m, items) => w.batch(m, items),
                        Msg::Finish(f, reply) => {
                            let _ = reply.send(w.finish(f));
                            return;
                        }
                    }
                }
                // the run went away without finishing: nothing is committed
                w.discard();
            })
            .map_err(|e| RunError::io("state thread", e))?;
        Ok(Writer {
            tx,
            thread: Some(thread),
            fresh,
        })
    }

    /// Whether the state had no record of model `m` before the run: then every record of
    /// it is new and validated, and may be validated where it is mapped ([`Item::Checked`]).
    pub fn fresh(&self, m: ModelId) -> bool {
        self.fresh.get(m.0).copied().unwrap_or(false)
    }

    /// A sender for stream tasks.
    pub fn sender(&self) -> mpsc::Sender<Msg> {
        self.tx.clone()
    }

    /// Ends the run: commits and publishes (or aborts) and returns each model's outcome.
    pub async fn finish(mut self, f: Finish) -> Result<Vec<ModelResult>, RunError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Finish(f, reply))
            .await
            .map_err(|_| RunError::Internal("the state writer stopped".into()))?;
        let out = rx
            .await
            .map_err(|_| RunError::Internal("the state writer stopped".into()))?;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        out
    }
}

struct Worker<'s> {
    store: &'s mut dyn Store,
    models: Vec<ModelState>,
    /// The first state or output error; the run fails with it.
    error: Option<RunError>,
}

impl Worker<'_> {
    fn batch(&mut self, m: ModelId, items: Vec<Item>) {
        if self.error.is_some() {
            return;
        }
        for item in items {
            if let Err(e) = self.apply(m, item) {
                self.error = Some(e);
                return;
            }
        }
    }

    fn apply(&mut self, m: ModelId, item: Item) -> Result<(), RunError> {
        let store = &mut *self.store;
        let ms = self
            .models
            .get_mut(m.0)
            .ok_or_else(|| RunError::Internal(format!("unknown model {}", m.0)))?;
        let name = ms.out.schema.name;
        match item {
            Item::Tombstone { id, deleted_at } => ms.tombstones.push((id, deleted_at)),
            Item::Failed {
                id,
                remote_id,
                pointer,
                reason,
            } => {
                if let Some(id) = id
                    && let Some(prior) = store.prior(name, &id)?
                    && !prior.seen
                    && store.touch(&prior)?
                {
                    ms.result.changes.undeleted += 1;
                }
                reject(ms, remote_id, pointer, reason);
            }
            Item::Record { value, encoded } => record(store, ms, encoded, Verdict::Pending(value))?,
            Item::Same { id, remote_id } => same(store, ms, &id, remote_id)?,
            Item::Checked { encoded, invalid } => {
                record(store, ms, encoded, Verdict::Done(invalid))?
            }
        }
        Ok(())
    }

    fn counts(&self) -> indexmap::IndexMap<String, Changes> {
        self.models
            .iter()
            .map(|m| (m.out.schema.name.to_owned(), m.result.changes))
            .collect()
    }

    fn finish(&mut self, f: Finish) -> Result<Vec<ModelResult>, RunError> {
        if !f.success {
            // the run failed or was stopped: nothing of it is applied
            self.abort(f.failed_status);
            return match self.error.take() {
                Some(e) => Err(e),
                None => Ok(self.models.iter().map(|m| m.result.clone()).collect()),
            };
        }
        if self.error.is_none()
            && let Err(e) = self.commit(&f)
        {
            self.error = Some(e);
        }
        match self.error.take() {
            None => Ok(self.models.iter().map(|m| m.result.clone()).collect()),
            Some(e) => {
                self.abort("failed");
                Err(e)
            }
        }
    }

    fn commit(&mut self, f: &Finish) -> Result<(), RunError> {
        let started = std::time::Instant::now();
        // tombstones first, so their records keep the vendor's deletion time; a record this
        // run saw is live whatever a deleted list says
        for m in &mut self.models {
            for (id, at) in std::mem::take(&mut m.tombstones) {
                if let Some(prior) = self.store.prior(m.out.schema.name, &id)?
                    && !prior.seen
                    && prior.deleted_at.is_none()
                {
                    self.store.mark_deleted(&prior, at.as_deref())?;
                    m.result.changes.deleted += 1;
                }
            }
        }
        if f.delete_absent {
            for m in &mut self.models {
                let n = self.store.mark_absent(m.out.schema.name)?;
                m.result.changes.deleted += n;
            }
        }
        self.store.record_syncs(&f.synced_streams, &f.tokens)?;
        // which snapshots are rewritten: fresh ones, changed ones, and ones not known current
        let mut rewrite = Vec::with_capacity(self.models.len());
        for m in &self.models {
            let target = m.out.target.display().to_string();
            let current = self.store.snapshot_current(m.out.schema.name, &target)?;
            let again = m.fresh.is_some() || m.result.changes.any() || !current;
            if again {
                self.store.snapshot_stale(m.out.schema.name)?;
            }
            rewrite.push(again);
        }
        let invalid: u64 = self.models.iter().map(|m| m.result.changes.invalid).sum();
        let end = RunEnd {
            status: if invalid > 0 {
                "completed_with_invalid_records".into()
            } else {
                "success".into()
            },
            finished_at: crate::state::now_utc(),
            counts: self.counts(),
        };
        // flush the fresh files before the commit, so a published state has its snapshot
        for m in &mut self.models {
            if let Some(fw) = m.fresh.take() {
                fw.finish().map_err(|e| RunError::io(&m.partial, e))?;
                m.fresh_done = true;
            }
        }
        let flushed = started.elapsed();
        self.store.commit(&end)?;
        let committed = started.elapsed();
        for (m, again) in self.models.iter_mut().zip(rewrite) {
            if again {
                publish(&mut *self.store, m)?;
            }
            m.result.published = true;
        }
        tracing::debug!(
            "state: deletions and output files ready in {} ms, committed in {} ms, snapshots published in {} ms",
            flushed.as_millis(),
            (committed - flushed).as_millis(),
            (started.elapsed() - committed).as_millis()
        );
        Ok(())
    }

    fn abort(&mut self, status: &str) {
        let end = RunEnd {
            status: status.into(),
            finished_at: crate::state::now_utc(),
            counts: self.counts(),
        };
        if let Err(e) = self.store.abort(&end) {
            tracing::error!("rolling back the run: {e}");
        }
        self.discard();
    }

    fn discard(&mut self) {
        for m in &mut self.models {
            m.fresh.take();
            let _ = std::fs::remove_file(&m.partial);
        }
    }
}

/// Whether a record is valid: to be seen (its value), or seen where it was mapped.
enum Verdict {
    Pending(Value),
    Done(Option<(String, String)>),
}

impl Verdict {
    fn check(&mut self, schema: &ModelSchema) -> Option<(String, String)> {
        match self {
            Verdict::Pending(v) => validate(schema, v),
            Verdict::Done(invalid) => invalid.take(),
        }
    }
}

/// Applies a mapped record: a duplicate, invalid, or put into the state (and the fresh file).
fn record(
    store: &mut dyn Store,
    ms: &mut ModelState,
    encoded: Encoded,
    mut verdict: Verdict,
) -> Result<(), RunError> {
    let name = ms.out.schema.name;
    // a model new to the state has no prior records: a second record with the
    // same id is caught by the state's unique key instead of a lookup
    let prior = match ms.fresh {
        Some(_) => None,
        None => store.prior(name, &encoded.id)?,
    };
    if prior.as_ref().is_some_and(|p| p.seen) {
        duplicate(ms, &encoded);
        return Ok(());
    }
    let unchanged = prior.as_ref().is_some_and(|p| p.hash.matches(&encoded));
    if !unchanged && let Some((pointer, reason)) = verdict.check(ms.out.schema) {
        if let Some(p) = &prior
            && store.touch(p)?
        {
            ms.result.changes.undeleted += 1;
        }
        reject(ms, encoded.remote_id.clone(), pointer, reason);
        return Ok(());
    }
    drop(verdict);
    let applied = match store.put(name, &encoded, prior.as_ref()) {
        Err(crate::state::StateError::Duplicate) => {
            duplicate(ms, &encoded);
            return Ok(());
        }
        other => other?,
    };
    let c = &mut ms.result.changes;
    match applied.change {
        Change::Created => c.created += 1,
        Change::Updated => c.updated += 1,
        Change::Unchanged => c.unchanged += 1,
    }
    c.deleted += applied.newly_deleted as u64;
    c.undeleted += applied.undeleted as u64;
    ms.result.written += 1;
    if let Some(f) = &mut ms.fresh {
        crate::state::write_line(
            f,
            &encoded.content,
            encoded.split,
            &applied.changed_at,
            applied.deleted_at.as_deref(),
        )
        .map_err(|e| RunError::io(&ms.partial, e))?;
    }
    Ok(())
}

/// Writes a model's snapshot: the file written during the run (a fresh model), or a stream
/// of the state; then renames it into place and tells the state.
fn publish(store: &mut dyn Store, m: &mut ModelState) -> Result<(), RunError> {
    let name = m.out.schema.name;
    if !m.fresh_done {
        let mut w = SyncingFile::create(&m.partial).map_err(|e| RunError::io(&m.partial, e))?;
        store.export(name, &mut w)?;
        w.finish().map_err(|e| RunError::io(&m.partial, e))?;
    }
    std::fs::rename(&m.partial, &m.out.target).map_err(|e| RunError::io(&m.out.target, e))?;
    store.snapshot_written(name, &m.out.target.display().to_string())?;
    Ok(())
}

fn duplicate(ms: &mut ModelState, encoded: &Encoded) {
    duplicate_of(ms, &encoded.id, encoded.remote_id.clone());
}

fn duplicate_of(ms: &mut ModelState, id: &str, remote_id: Option<String>) {
    ms.result.duplicates += 1;
    if ms.out.duplicates != Some(Duplicates::Skip) {
        let reason = format!(
            "duplicate id {id}: another record of this run maps to the same id (set `duplicates: skip` or `merge` if that is expected)"
        );
        reject(ms, remote_id, "/id".into(), reason);
    }
}

/// Applies a record whose source did not change since its stored version: seen, and
/// back if it had been deleted by absence.
fn same(
    store: &mut dyn Store,
    ms: &mut ModelState,
    id: &str,
    remote_id: String,
) -> Result<(), RunError> {
    let prior = store.prior(ms.out.schema.name, id)?.ok_or_else(|| {
        // the reader found it in the committed state, which this run has not changed
        RunError::Internal(format!(
            "record {id} vanished from the state during the run"
        ))
    })?;
    if prior.seen {
        duplicate_of(ms, id, Some(remote_id));
        return Ok(());
    }
    let c = &mut ms.result.changes;
    if store.touch(&prior)? {
        c.undeleted += 1;
    }
    c.unchanged += 1;
    ms.result.written += 1;
    Ok(())
}

fn reject(ms: &mut ModelState, remote_id: Option<String>, pointer: String, reason: String) {
    ms.result.changes.invalid += 1;
    tracing::debug!(
        model = ms.out.schema.name,
        remote_id = remote_id.as_deref().unwrap_or(""),
        pointer,
        "invalid record left out: {reason}"
    );
    if ms.result.samples.len() < MAX_SAMPLES {
        ms.result.samples.push(InvalidRecord {
            model: ms.out.schema.name.to_owned(),
            remote_id,
            pointer,
            reason,
        });
    }
}

/// The first schema violations of a record: the pointer of the first and every reason.
pub(crate) fn validate(schema: &ModelSchema, record: &Value) -> Option<(String, String)> {
    if schema.validator().is_valid(record) {
        return None;
    }
    let errors: Vec<(String, String)> = schema
        .validator()
        .iter_errors(record)
        .take(5)
        .map(|e| (e.instance_path().to_string(), e.to_string()))
        .collect();
    let pointer = errors.first()?.0.clone();
    let reason = errors
        .iter()
        .map(|(p, m)| {
            if p.is_empty() {
                m.clone()
            } else {
                format!("{p}: {m}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some((pointer, reason))
}
