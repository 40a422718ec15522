//! What a run reports: `report.json` with per-model and per-stream figures, invalid
//! records and enum values no map knew.

use indexmap::IndexMap;
use serde::Serialize;
use std::path::Path;

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
    /// Vendor values that an enum map does not know: field → value → records.
    pub unmapped_values: IndexMap<String, IndexMap<String, u64>>,
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
    /// Failed: nothing of the run was applied.
    Failed,
    /// Stopped by SIGINT or SIGTERM: nothing of the run was applied.
    Interrupted,
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
    /// Invalid UTF-8 sequences in response bodies, replaced with U+FFFD.
    pub invalid_utf8_replaced: u64,
    /// Whether the run replayed the sandbox cassette.
    pub sandbox: bool,
    /// `full` or `delta`.
    pub mode: String,
    /// A dry run: the state was not changed.
    #[serde(default)]
    pub dry_run: bool,
    /// The sync state database.
    pub state: String,
    /// Per model.
    pub models: IndexMap<String, ModelReport>,
    /// Per stream.
    pub streams: IndexMap<String, StreamReport>,
}

impl Report {
    /// Writes `report.json` into `dir` atomically (written, synced, renamed).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join("report.json")).map_err(|e| e.error)?;
        Ok(())
    }
}
