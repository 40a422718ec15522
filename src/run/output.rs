//! Writes unified records: one NDJSON file per model (published atomically when the model
//! completes), validation against the model's schema, and `report.json`.

use super::map::merge_into;
use super::state::Changes;
use crate::compile::schema::ModelSchema;
use crate::spec::Duplicates;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An invalid record, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct InvalidRecord {
    /// Model.
    pub model: String,
    /// Vendor id, when known.
    pub remote_id: Option<String>,
    /// JSON pointer of the offending value (empty for the whole record).
    pub pointer: String,
    /// Why.
    pub reason: String,
}

/// Samples of invalid records kept per model in the report.
const MAX_SAMPLES: usize = 50;

/// Output of one model.
pub struct ModelSink {
    schema: &'static ModelSchema,
    file: Option<BufWriter<std::fs::File>>,
    partial: PathBuf,
    target: PathBuf,
    seen: HashSet<String>,
    merged: Option<IndexMap<String, (String, Value)>>,
    duplicates: Option<Duplicates>,
    /// Records written.
    pub written: u64,
    /// Records left out as invalid.
    pub invalid: u64,
    /// Duplicates skipped or merged.
    pub duplicate_count: u64,
    /// Samples of invalid records.
    pub samples: Vec<InvalidRecord>,
    /// Streams still producing this model.
    pub pending_streams: usize,
    published: bool,
    /// Changes applied to the sync state.
    pub changes: Changes,
}

impl ModelSink {
    /// Opens `<dir>/<model>.ndjson.partial`.
    pub fn create(
        dir: &Path,
        schema: &'static ModelSchema,
        duplicates: Option<Duplicates>,
        streams: usize,
    ) -> std::io::Result<Self> {
        let target = dir.join(format!("{}.ndjson", schema.name));
        let partial = dir.join(format!("{}.ndjson.partial", schema.name));
        let file = BufWriter::with_capacity(256 * 1024, std::fs::File::create(&partial)?);
        Ok(ModelSink {
            schema,
            file: Some(file),
            partial,
            target,
            seen: HashSet::new(),
            merged: (duplicates == Some(Duplicates::Merge)).then(IndexMap::new),
            duplicates,
            written: 0,
            invalid: 0,
            duplicate_count: 0,
            samples: Vec::new(),
            pending_streams: streams,
            published: false,
            changes: Changes::default(),
        })
    }

    /// Records an invalid record.
    pub fn reject(&mut self, remote_id: Option<String>, pointer: String, reason: String) {
        self.invalid += 1;
        tracing::warn!(
            model = self.schema.name,
            remote_id = remote_id.as_deref().unwrap_or(""),
            pointer,
            "invalid record left out: {reason}"
        );
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(InvalidRecord {
                model: self.schema.name.to_owned(),
                remote_id,
                pointer,
                reason,
            });
        }
    }

    /// Validates and stages one record; `scope` is the API path it came from.
    pub fn accept(
        &mut self,
        id: String,
        remote_id: Option<String>,
        record: Value,
        scope: &str,
    ) -> std::io::Result<()> {
        if let Some(m) = &mut self.merged {
            match m.get_mut(&id) {
                Some((_, existing)) => {
                    self.duplicate_count += 1;
                    merge_into(existing, record);
                }
                None => {
                    m.insert(id, (scope.to_owned(), record));
                }
            }
            return Ok(());
        }
        if !self.validate(&remote_id, &record) {
            return Ok(());
        }
        if !self.seen.insert(id.clone()) {
            self.duplicate_count += 1;
            if self.duplicates != Some(Duplicates::Skip) {
                self.reject(remote_id, "/id".into(), format!("duplicate id {id}: another record of this run maps to the same id (set `duplicates: skip` or `merge` if that is expected)"));
            }
            return Ok(());
        }
        self.write(scope, &record)
    }

    fn validate(&mut self, remote_id: &Option<String>, record: &Value) -> bool {
        let errors: Vec<(String, String)> = self
            .schema
            .validator
            .iter_errors(record)
            .take(5)
            .map(|e| (e.instance_path().to_string(), e.to_string()))
            .collect();
        if errors.is_empty() {
            return true;
        }
        let pointer = errors[0].0.clone();
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
        self.reject(remote_id.clone(), pointer, reason);
        false
    }

    fn write(&mut self, scope: &str, record: &Value) -> std::io::Result<()> {
        let f = self.file.as_mut().expect("sink open");
        serde_json::to_writer(&mut *f, &(scope, record))?;
        f.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the staged records (`[scope, record]` per line) and returns their file, to be
    /// applied to the sync state.
    pub fn close(&mut self) -> std::io::Result<PathBuf> {
        if let Some(m) = self.merged.take() {
            for (_, (scope, rec)) in m {
                let rid = rec
                    .get("remote_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                if self.validate(&rid, &rec) {
                    self.write(&scope, &rec)?;
                }
            }
        }
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        Ok(self.partial.clone())
    }

    /// The published snapshot file.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Records that the model's changes were applied and its snapshot published.
    pub fn published(&mut self, changes: Changes) {
        self.changes = changes;
        self.published = true;
        let _ = std::fs::remove_file(&self.partial);
    }

    /// Drops the partial file, keeping an earlier complete one.
    pub fn abandon(&mut self) {
        self.file.take();
        let _ = std::fs::remove_file(&self.partial);
    }

    /// Whether the file was published.
    pub fn is_complete(&self) -> bool {
        self.published
    }
}

/// Per-model figures in the report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ModelReport {
    /// Records written.
    pub written: u64,
    /// Records left out as invalid.
    pub invalid: u64,
    /// Duplicate records skipped or merged.
    pub duplicates: u64,
    /// Requests made for this model (its streams and the streams they read from).
    pub requests: u64,
    /// Retries among them.
    pub retries: u64,
    /// Whether `<model>.ndjson` holds this run's complete output.
    pub complete: bool,
    /// New records.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records seen again unchanged.
    pub unchanged: u64,
    /// Records found deleted in this run.
    pub deleted: u64,
    /// Samples of invalid records.
    pub invalid_records: Vec<InvalidRecord>,
}

/// Per-stream figures.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StreamReport {
    /// Records produced (after `filter`).
    pub records: u64,
    /// Requests sent.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// Whether it ran to the end.
    pub complete: bool,
}

/// Outcome of a run.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every record valid.
    Success,
    /// Completed, some records invalid.
    CompletedWithInvalidRecords,
    /// Failed.
    Failed,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Connector name.
    pub connector: String,
    /// Integration namespace.
    pub integration: String,
    /// Outcome.
    pub status: Status,
    /// Why it failed.
    pub error: Option<String>,
    /// Start (UTC).
    pub started_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Requests in total.
    pub requests: u64,
    /// Retries in total.
    pub retries: u64,
    /// Whether the run replayed the sandbox cassette.
    pub sandbox: bool,
    /// `full` or `delta`.
    pub mode: String,
    /// The sync state database.
    pub state: String,
    /// Per model.
    pub models: IndexMap<String, ModelReport>,
    /// Per stream.
    pub streams: IndexMap<String, StreamReport>,
}

impl Report {
    /// Writes `report.json` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("report.json.partial");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, dir.join("report.json"))
    }
}
