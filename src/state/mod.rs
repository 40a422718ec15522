//! What a run remembers between runs: every unified record with its content hash,
//! `changed_at` and `remote_deleted_at`, the numbered history of runs, and the delta cursors,
//! behind the [`Store`] trait ([`sqlite`] is the first backend).
//!
//! A run is one transaction: [`Store::begin_run`] opens it, records are applied as they
//! arrive, deletions by absence are marked at the end of a successful full sync, and
//! [`Store::commit`] publishes all of it at once. A failed or killed run leaves the state as it
//! was before the run. The output files are the run's job, not the state's: the state only
//! streams a model's snapshot on request ([`Store::export`]).

mod codec;
mod lz4;
pub mod sqlite;

use std::io::Write;

/// The current time as the state writes it: UTC with milliseconds, `2024-04-02T08:30:44.000Z`.
pub fn now_utc() -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// A run's number in the `runs` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

/// A record's row in the state (its insertion order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId(pub i64);

/// Full or incremental sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Everything is asked for; what is absent from complete models is deleted.
    Full,
    /// Only what changed since the last sync; nothing is deleted by absence.
    Delta,
}

impl RunKind {
    /// `full` or `delta`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Delta => "delta",
        }
    }
}

/// Why a record is marked deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletedBy {
    /// The vendor's own deletion flag, mapped to `remote_deleted_at`.
    Vendor,
    /// Absent from a complete, successful full sync.
    Absence,
}

impl DeletedBy {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletedBy::Vendor => "vendor",
            DeletedBy::Absence => "absence",
        }
    }
    fn parse(s: &str) -> Option<DeletedBy> {
        match s {
            "vendor" => Some(DeletedBy::Vendor),
            "absence" => Some(DeletedBy::Absence),
            _ => None,
        }
    }
}

/// A unified record serialised once, ready for the state and the output.
///
/// `content` is the record's JSON without `changed_at` and `remote_deleted_at` (which the
/// state keeps itself); `split` is the byte offset where those two members belong.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Unified id.
    pub id: String,
    /// Vendor id.
    pub remote_id: Option<String>,
    /// The vendor's own deletion time, when the connector maps one.
    pub vendor_deleted: Option<String>,
    /// The record's JSON without the two state-kept members.
    pub content: Vec<u8>,
    /// Where `changed_at` and `remote_deleted_at` go back in.
    pub split: usize,
    /// Content hash of `content`.
    pub hash: u64,
    /// Fingerprint of everything the record was mapped from (see
    /// [`crate::run::fingerprint`]); none when its mapping depends on more than that.
    pub source: Option<u64>,
}

impl Encoded {
    /// Serialises a unified record once, its members in the order of its map.
    pub fn new(
        id: String,
        remote_id: Option<String>,
        record: &serde_json::Map<String, serde_json::Value>,
    ) -> Encoded {
        Encoded::encode(
            id,
            remote_id,
            record.iter().map(|(k, v)| (k.as_str(), v)),
            None,
        )
    }

    /// Serialises a unified record once: the members named in `order` first, in that order
    /// (the model's fields in schema order), then any others.
    pub fn in_order(
        id: String,
        remote_id: Option<String>,
        record: &serde_json::Map<String, serde_json::Value>,
        order: &[String],
    ) -> Encoded {
        let listed: Vec<(&str, &serde_json::Value)> = order
            .iter()
            .filter_map(|k| record.get_key_value(k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        // members the order does not name (none, when it is the model's): after the others
        let rest = (listed.len() < record.len()).then(|| {
            record
                .iter()
                .filter(|(k, _)| !order.iter().any(|o| o == *k))
                .map(|(k, v)| (k.as_str(), v))
        });
        let members = listed.into_iter().chain(rest.into_iter().flatten());
        Encoded::encode(id, remote_id, members, None)
    }

    /// Serialises a unified record given as its members in order once, with the members of
    /// `remote_data` given apart (payloads borrowed from the vendor's record instead of
    /// copied into the unified one).
    pub fn of_members(
        id: String,
        remote_id: Option<String>,
        members: &[(String, serde_json::Value)],
        remote_data: &[(&str, &serde_json::Value)],
    ) -> Encoded {
        let members = members.iter().map(|(k, v)| (k.as_str(), v));
        Encoded::encode(id, remote_id, members, Some(remote_data))
    }

    fn encode<'v>(
        id: String,
        remote_id: Option<String>,
        members: impl Iterator<Item = (&'v str, &'v serde_json::Value)>,
        remote_data: Option<&[(&str, &serde_json::Value)]>,
    ) -> Encoded {
        let mut content = Vec::with_capacity(1024);
        content.push(b'{');
        let mut split = None;
        let mut vendor_deleted = None;
        let mut first = true;
        for (k, v) in members {
            match k {
                "changed_at" => {
                    split.get_or_insert(content.len());
                    continue;
                }
                "remote_deleted_at" => {
                    split.get_or_insert(content.len());
                    vendor_deleted = v.as_str().map(str::to_owned);
                    continue;
                }
                _ => {}
            }
            if !first {
                content.push(b',');
            }
            first = false;
            // serialising a string key and a serde_json value into a Vec cannot fail
            let _ = serde_json::to_writer(&mut content, k);
            content.push(b':');
            match (k, remote_data, v) {
                ("remote_data", Some(parts), serde_json::Value::Object(_)) => {
                    content.push(b'{');
                    for (i, (src, payload)) in parts.iter().enumerate() {
                        if i > 0 {
                            content.push(b',');
                        }
                        let _ = serde_json::to_writer(&mut content, src);
                        content.push(b':');
                        let _ = serde_json::to_writer(&mut content, payload);
                    }
                    content.push(b'}');
                }
                _ => {
                    let _ = serde_json::to_writer(&mut content, v);
                }
            }
        }
        content.push(b'}');
        let split = split.unwrap_or(content.len() - 1);
        let hash = xxhash_rust::xxh3::xxh3_64(&content);
        Encoded {
            id,
            remote_id,
            vendor_deleted,
            content,
            split,
            hash,
            source: None,
        }
    }
}

/// Writes a record's output line: its content with `changed_at` and `remote_deleted_at`
/// spliced back in at `split`.
pub fn write_line(
    out: &mut dyn Write,
    content: &[u8],
    split: usize,
    changed_at: &str,
    remote_deleted_at: Option<&str>,
) -> std::io::Result<()> {
    let split = split.min(content.len().saturating_sub(1)).max(1);
    let (head, tail) = content.split_at(split);
    out.write_all(head)?;
    // members before the split need a comma before ours; otherwise ours need one after
    let lead = head.len() > 1;
    if lead {
        out.write_all(b",")?;
    }
    out.write_all(b"\"changed_at\":")?;
    serde_json::to_writer(&mut *out, changed_at)?;
    out.write_all(b",\"remote_deleted_at\":")?;
    match remote_deleted_at {
        Some(d) => serde_json::to_writer(&mut *out, d)?,
        None => out.write_all(b"null")?,
    }
    if !lead && tail.first() != Some(&b'}') {
        out.write_all(b",")?;
    }
    out.write_all(tail)?;
    out.write_all(b"\n")
}

/// A content hash as stored: this version's, or one written by an earlier version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredHash {
    /// xxh3 of the content.
    Current(u64),
    /// Hex SHA-256 prefix of the content (schema version 0).
    Legacy(String),
}

impl StoredHash {
    /// Whether `rec` has the content this hash was taken of.
    pub fn matches(&self, rec: &Encoded) -> bool {
        match self {
            StoredHash::Current(h) => *h == rec.hash,
            StoredHash::Legacy(hex) => *hex == legacy_hash(&rec.content),
        }
    }
}

/// The content hash of schema version 0 (16 bytes of SHA-256, hex), kept to compare records
/// of a migrated database without moving their `changed_at`.
pub fn legacy_hash(content: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(content)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the state holds of a record before it is applied again.
#[derive(Debug, Clone)]
pub struct Prior {
    /// Its row.
    pub row: RowId,
    /// Its content hash.
    pub hash: StoredHash,
    /// When its content last changed.
    pub changed_at: String,
    /// Whether and when it is deleted.
    pub deleted_at: Option<String>,
    /// Why it is deleted.
    pub deleted_by: Option<DeletedBy>,
    /// Whether this run already saw it (a second sighting is a duplicate).
    pub seen: bool,
    /// The fingerprint of what its stored version was mapped from, if known.
    pub source: Option<u64>,
}

/// What applying a record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new record.
    Created,
    /// Its content changed.
    Updated,
    /// Same content.
    Unchanged,
}

/// The outcome of applying one record.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Created, updated or unchanged.
    pub change: Change,
    /// Its `changed_at` after the run.
    pub changed_at: String,
    /// Its `remote_deleted_at` after the run.
    pub deleted_at: Option<String>,
    /// The vendor flagged it deleted in this run.
    pub newly_deleted: bool,
    /// It was deleted and is back.
    pub undeleted: bool,
}

/// Counts of one model in a run, as kept in the `runs` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Changes {
    /// New records.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records seen again unchanged.
    pub unchanged: u64,
    /// Records found deleted (absent from a full sync, or flagged by the vendor).
    pub deleted: u64,
    /// Deleted records that came back.
    pub undeleted: u64,
    /// Records left out as invalid.
    pub invalid: u64,
}

impl Changes {
    /// Whether the model's snapshot differs from the one before the run.
    pub fn any(&self) -> bool {
        self.created + self.updated + self.deleted + self.undeleted > 0
    }
}

/// How a run ended, as kept in the `runs` table.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// `success`, `completed_with_invalid_records`, `failed` or `interrupted`.
    pub status: String,
    /// When it ended.
    pub finished_at: String,
    /// Per model.
    pub counts: indexmap::IndexMap<String, Changes>,
}

/// A row of the `runs` table.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// Its number.
    pub id: RunId,
    /// Full or delta.
    pub kind: String,
    /// Start.
    pub started_at: String,
    /// End (none while it runs, or when it was killed).
    pub finished_at: Option<String>,
    /// How it ended (`running` while it runs or when it was killed).
    pub status: String,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database.
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A database written by a newer mapper: never misread.
    #[error(
        "state database: schema version {found} was written by a newer mapper (this one knows up to {known})"
    )]
    TooNew {
        /// `user_version` found.
        found: i64,
        /// The newest this mapper knows.
        known: i64,
    },
    /// Files.
    #[error("state: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record that cannot be decoded.
    #[error("state: stored record {0} cannot be read: {1}")]
    Corrupt(i64, String),
    /// A record with this id is already stored (a duplicate within the run).
    #[error("state: duplicate record id")]
    Duplicate,
    /// Calls out of order (a bug in the caller).
    #[error("state: {0}")]
    Protocol(&'static str),
}

/// What a run needs from the sync state. Calls between [`Store::begin_run`] and
/// [`Store::commit`] / [`Store::abort`] belong to one transaction.
pub trait Store: Send {
    /// Starts run number N (kept in the history even if the run is killed) and opens its
    /// transaction.
    fn begin_run(&mut self, kind: RunKind, started_at: &str) -> Result<RunId, StateError>;
    /// When a stream last completed a successful sync (the start of that run).
    fn last_sync(&mut self, stream: &str) -> Result<Option<String>, StateError>;
    /// Whether the model has any record in the state.
    fn has_records(&mut self, model: &str) -> Result<bool, StateError>;
    /// The stored record with this id, if any.
    fn prior(&mut self, model: &str, id: &str) -> Result<Option<Prior>, StateError>;
    /// Applies a valid record (new, changed or unchanged) and marks it seen.
    fn put(
        &mut self,
        model: &str,
        rec: &Encoded,
        prior: Option<&Prior>,
    ) -> Result<Applied, StateError>;
    /// Marks a stored record seen without changing its content (this run's version was
    /// invalid: it keeps its last valid version and is not deleted by absence). Returns
    /// whether it was deleted and is now back.
    fn touch(&mut self, prior: &Prior) -> Result<bool, StateError>;
    /// Marks a stored record deleted by the vendor (a tombstone), at `at` or the run's start.
    fn mark_deleted(&mut self, prior: &Prior, at: Option<&str>) -> Result<(), StateError>;
    /// Marks deleted every live record of `model` this run did not see. Only for a complete
    /// model of a successful full sync.
    fn mark_absent(&mut self, model: &str) -> Result<u64, StateError>;
    /// Records that these streams completed a successful sync in this run, with the token
    /// each token-delta stream ended with (a stream without one forgets its old token).
    fn record_syncs(
        &mut self,
        streams: &[String],
        tokens: &[(String, String)],
    ) -> Result<(), StateError>;
    /// The token a stream's last successful sync ended with.
    fn sync_token(&mut self, stream: &str) -> Result<Option<String>, StateError>;
    /// Marks the model's snapshot file stale (it is about to be rewritten).
    fn snapshot_stale(&mut self, model: &str) -> Result<(), StateError>;
    /// Publishes everything the run applied, and its row in the history.
    fn commit(&mut self, end: &RunEnd) -> Result<(), StateError>;
    /// Drops everything the run applied; keeps its row in the history.
    fn abort(&mut self, end: &RunEnd) -> Result<(), StateError>;
    /// Whether `path` holds the model's current snapshot (written after the last change).
    fn snapshot_current(&mut self, model: &str, path: &str) -> Result<bool, StateError>;
    /// Records that `path` now holds the model's current snapshot.
    fn snapshot_written(&mut self, model: &str, path: &str) -> Result<(), StateError>;
    /// Streams the model's snapshot (every record, deleted ones included, in insertion
    /// order) as NDJSON. Returns the number of records.
    fn export(&mut self, model: &str, out: &mut dyn Write) -> Result<u64, StateError>;
    /// The history of runs, newest first.
    fn runs(&mut self, limit: usize) -> Result<Vec<RunRow>, StateError>;
    /// A reader of the stored records' source fingerprints as the last committed run left
    /// them, usable on another thread while this run writes (none: this backend has none).
    fn sources(&self) -> Result<Option<Box<dyn SourceReader>>, StateError>;
}

/// Reads what a stored record was mapped from, so that a record mapped from the same
/// source need not be mapped again (it sees the state before the run in progress).
pub trait SourceReader: Send {
    /// The source fingerprint of the stored record `id` of `model`, if it has one and is
    /// live or deleted by absence only.
    fn source(&mut self, model: &str, id: &str) -> Result<Option<u64>, StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoding_leaves_out_state_members_and_splices_them_back() {
        let rec = json!({"id": "a", "remote_id": "1", "changed_at": "x", "remote_deleted_at": "2024-01-01T00:00:00.000Z", "name": "Ä\""});
        let order: Vec<String> = ["id", "remote_id", "changed_at", "remote_deleted_at", "name"]
            .map(String::from)
            .into();
        let e = Encoded::in_order(
            "a".into(),
            Some("1".into()),
            rec.as_object().unwrap(),
            &order,
        );
        assert_eq!(
            std::str::from_utf8(&e.content).unwrap(),
            r#"{"id":"a","remote_id":"1","name":"Ä\""}"#
        );
        assert_eq!(
            e.vendor_deleted.as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
        let mut line = Vec::new();
        write_line(&mut line, &e.content, e.split, "C", None).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            back,
            json!({"id": "a", "remote_id": "1", "changed_at": "C", "remote_deleted_at": null, "name": "Ä\""})
        );
        // members in the order given, the state's two where they were
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"id\":\"a\",\"remote_id\":\"1\",\"changed_at\":\"C\",\"remote_deleted_at\":null,\"name\":\"Ä\\\"\"}\n"
        );
        // the hash ignores the state-kept members, and the legacy hash is the old derivation
        let other = json!({"id": "a", "remote_id": "1", "changed_at": "y", "remote_deleted_at": null, "name": "Ä\""});
        let e2 = Encoded::in_order(
            "a".into(),
            Some("1".into()),
            other.as_object().unwrap(),
            &order,
        );
        assert_eq!(e.hash, e2.hash);
        assert!(StoredHash::Legacy(legacy_hash(&e.content)).matches(&e2));
    }

    #[test]
    fn splice_at_the_start_and_the_end() {
        let rec = json!({"changed_at": "x", "remote_deleted_at": null, "id": "a"});
        let e = Encoded::new("a".into(), None, rec.as_object().unwrap());
        let mut line = Vec::new();
        write_line(&mut line, &e.content, e.split, "C", Some("D")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v,
            json!({"changed_at": "C", "remote_deleted_at": "D", "id": "a"})
        );
        let rec = json!({"id": "a", "changed_at": "x", "remote_deleted_at": null});
        let e = Encoded::new("a".into(), None, rec.as_object().unwrap());
        let mut line = Vec::new();
        write_line(&mut line, &e.content, e.split, "C", None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v,
            json!({"id": "a", "changed_at": "C", "remote_deleted_at": null})
        );
    }
}
