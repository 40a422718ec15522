//! Sync state kept between runs in SQLite: every unified record with its content hash,
//! `changed_at`, `remote_deleted_at`, first and last seen; and when each stream last synced.
//!
//! A model's records are applied in one transaction when the model completes; deletions (a
//! record absent from a complete full sync of a scope that was fetched) in one transaction at
//! the end of a successful run. A run killed at any moment leaves the previous state.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::Path;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS records (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    integration       TEXT NOT NULL,
    model             TEXT NOT NULL,
    id                TEXT NOT NULL,
    remote_id         TEXT,
    record            TEXT NOT NULL,
    hash              TEXT NOT NULL,
    changed_at        TEXT NOT NULL,
    remote_deleted_at TEXT,
    first_seen        TEXT NOT NULL,
    last_seen         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    UNIQUE (integration, model, id)
);
CREATE INDEX IF NOT EXISTS records_scope ON records (integration, model, scope);
CREATE TABLE IF NOT EXISTS syncs (
    integration TEXT NOT NULL,
    stream      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (integration, stream)
);
";

/// Counts of one model's changes in a run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Changes {
    /// New records.
    pub created: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records seen again unchanged.
    pub unchanged: u64,
    /// Records found deleted (absent from a full sync, or flagged by the vendor).
    pub deleted: u64,
}

/// The state database.
pub struct State {
    conn: Connection,
    integration: String,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite.
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Files.
    #[error("state: {0}")]
    Io(#[from] std::io::Error),
    /// A staged record that is not JSON.
    #[error("state: {0}")]
    Json(#[from] serde_json::Error),
}

/// The content hash of a record: everything but the times mapper keeps itself.
pub fn content_hash(record: &Value) -> String {
    let mut r = record.clone();
    if let Some(m) = r.as_object_mut() {
        m.remove("changed_at");
        m.remove("remote_deleted_at");
    }
    let digest = Sha256::digest(serde_json::to_vec(&r).unwrap_or_default());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl State {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path, integration: &str) -> Result<State, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        Ok(State {
            conn,
            integration: integration.to_owned(),
        })
    }

    /// Applies a model's staged records (one JSON record per line, with `scope` beside
    /// each: `[scope, record]`) in one transaction.
    pub fn apply(&mut self, model: &str, staged: &Path, now: &str) -> Result<Changes, StateError> {
        let mut ch = Changes::default();
        let tx = self.conn.transaction()?;
        {
            let mut get = tx.prepare_cached("SELECT hash, changed_at, remote_deleted_at FROM records WHERE integration = ?1 AND model = ?2 AND id = ?3")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (integration, model, id, remote_id, record, hash, changed_at, remote_deleted_at, first_seen, last_seen, scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7, ?7, ?9)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE records SET remote_id = ?4, record = ?5, hash = ?6, changed_at = ?7, remote_deleted_at = ?8, last_seen = ?9, scope = ?10
                 WHERE integration = ?1 AND model = ?2 AND id = ?3",
            )?;
            let file = std::fs::File::open(staged)?;
            for line in std::io::BufReader::new(file).lines() {
                let line = line?;
                if line.is_empty() {
                    continue;
                }
                let (scope, record): (String, Value) = serde_json::from_str(&line)?;
                let id = record["id"].as_str().unwrap_or_default().to_owned();
                let remote_id = record["remote_id"].as_str().map(str::to_owned);
                let vendor_deleted = record["remote_deleted_at"].as_str().map(str::to_owned);
                let hash = content_hash(&record);
                let text = serde_json::to_string(&record)?;
                let existing: Option<(String, String, Option<String>)> = get
                    .query_row(params![self.integration, model, id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                match existing {
                    None => {
                        insert.execute(params![
                            self.integration,
                            model,
                            id,
                            remote_id,
                            text,
                            hash,
                            now,
                            vendor_deleted,
                            scope
                        ])?;
                        ch.created += 1;
                    }
                    Some((old_hash, changed_at, was_deleted)) => {
                        let changed = old_hash != hash;
                        let when = if changed { now.to_owned() } else { changed_at };
                        if changed {
                            ch.updated += 1;
                        } else {
                            ch.unchanged += 1;
                        }
                        if vendor_deleted.is_some() && was_deleted.is_none() {
                            ch.deleted += 1;
                        }
                        // seen again: a deletion found by absence is lifted; the vendor's own flag stays
                        update.execute(params![
                            self.integration,
                            model,
                            id,
                            remote_id,
                            text,
                            hash,
                            when,
                            vendor_deleted,
                            now,
                            scope
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(ch)
    }

    /// Marks deleted the records of `model` not seen since `run_start` whose scope was
    /// fetched in this run. Returns how many were marked.
    pub fn mark_absent(
        &mut self,
        model: &str,
        run_start: &str,
        fetched: &HashSet<String>,
    ) -> Result<u64, StateError> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut sel = tx.prepare("SELECT id, scope FROM records WHERE integration = ?1 AND model = ?2 AND last_seen < ?3 AND remote_deleted_at IS NULL")?;
            let rows: Vec<(String, String)> = sel
                .query_map(params![self.integration, model, run_start], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut upd = tx.prepare("UPDATE records SET remote_deleted_at = ?4 WHERE integration = ?1 AND model = ?2 AND id = ?3")?;
            for (id, scope) in rows {
                if fetched.contains(&scope) {
                    upd.execute(params![self.integration, model, id, run_start])?;
                    n += 1;
                }
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Writes the model's full current snapshot (deleted records included) to `target`,
    /// atomically.
    pub fn export(&self, model: &str, target: &Path) -> Result<u64, StateError> {
        let tmp = target.with_extension("ndjson.export");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut stmt = self.conn.prepare("SELECT record, changed_at, remote_deleted_at FROM records WHERE integration = ?1 AND model = ?2 ORDER BY seq")?;
        let mut rows = stmt.query(params![self.integration, model])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let text: String = r.get(0)?;
            let mut rec: Value = serde_json::from_str(&text)?;
            rec["changed_at"] = Value::String(r.get(1)?);
            rec["remote_deleted_at"] = r
                .get::<_, Option<String>>(2)?
                .map(Value::String)
                .unwrap_or(Value::Null);
            serde_json::to_writer(&mut out, &rec)?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        out.get_ref().sync_all()?;
        drop(out);
        std::fs::rename(tmp, target)?;
        Ok(n)
    }

    /// When a stream last completed a successful sync (the start of that run).
    pub fn last_sync(&self, stream: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT started_at FROM syncs WHERE integration = ?1 AND stream = ?2",
                params![self.integration, stream],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records successful syncs of streams.
    pub fn record_syncs(
        &mut self,
        streams: &[String],
        kind: &str,
        started: &str,
        finished: &str,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        for s in streams {
            tx.execute(
                "INSERT INTO syncs (integration, stream, kind, started_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (integration, stream) DO UPDATE SET kind = ?3, started_at = ?4, finished_at = ?5",
                params![self.integration, s, kind, started, finished],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stage(dir: &Path, recs: &[(&str, Value)]) -> std::path::PathBuf {
        let p = dir.join("staged");
        let text: String = recs
            .iter()
            .map(|(s, r)| serde_json::to_string(&(s, r)).unwrap() + "\n")
            .collect();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn changed_at_moves_only_with_content_and_absence_deletes_within_fetched_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = State::open(&dir.path().join("s.db"), "default").unwrap();
        let a = json!({"id": "a", "remote_id": "1", "changed_at": "x", "remote_deleted_at": null, "name": "A"});
        let b = json!({"id": "b", "remote_id": "2", "changed_at": "x", "remote_deleted_at": null, "name": "B"});
        let c = json!({"id": "c", "remote_id": "3", "changed_at": "x", "remote_deleted_at": null, "name": "C"});
        let p = stage(
            dir.path(),
            &[("/l", a.clone()), ("/l", b.clone()), ("/p/9", c.clone())],
        );
        let ch = st.apply("m", &p, "2024-01-01T00:00:00.000Z").unwrap();
        assert_eq!((ch.created, ch.updated, ch.unchanged), (3, 0, 0));
        let mut a2 = a.clone();
        a2["name"] = json!("A2");
        let p = stage(dir.path(), &[("/l", a2)]);
        let ch = st.apply("m", &p, "2024-01-02T00:00:00.000Z").unwrap();
        assert_eq!(ch.updated, 1);
        // b (scope /l fetched) is gone; c's scope /p/9 was not fetched: not guessed deleted
        let n = st
            .mark_absent(
                "m",
                "2024-01-02T00:00:00.000Z",
                &HashSet::from(["/l".to_owned()]),
            )
            .unwrap();
        assert_eq!(n, 1);
        let out = dir.path().join("m.ndjson");
        st.export("m", &out).unwrap();
        let recs: Vec<Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs[0]["changed_at"], "2024-01-02T00:00:00.000Z");
        assert_eq!(recs[1]["remote_deleted_at"], "2024-01-02T00:00:00.000Z");
        assert_eq!(
            recs[1]["changed_at"], "2024-01-01T00:00:00.000Z",
            "a deletion keeps everything else"
        );
        assert!(recs[2]["remote_deleted_at"].is_null());
        // b comes back unchanged: undeleted, changed_at kept
        let p = stage(dir.path(), &[("/l", b)]);
        let ch = st.apply("m", &p, "2024-01-03T00:00:00.000Z").unwrap();
        assert_eq!(ch.unchanged, 1);
        st.export("m", &out).unwrap();
        let recs: Vec<Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(recs[1]["remote_deleted_at"].is_null());
        assert_eq!(recs[1]["changed_at"], "2024-01-01T00:00:00.000Z");
    }
}
