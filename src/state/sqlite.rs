//! The SQLite backend of [`Store`]: one database file (or `:memory:`), schema versions in
//! `PRAGMA user_version` with forward migrations, one write transaction per run.
//!
//! Records are stored LZ4-compressed without `changed_at` and `remote_deleted_at` (which
//! are columns), keyed by `(integration, model, id)`. Which records a run saw is a bitmap
//! over their rows, kept in memory (one bit per stored record), so an unchanged record costs a
//! lookup and no write.

use super::codec::{Codecs, Encoding};
use super::{
    Applied, Change, DeletedBy, Encoded, Prior, RowId, RunEnd, RunId, RunKind, RunRow,
    SourceReader, StateError, Store, StoredHash, write_line,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use std::io::Write;
use std::path::Path;

/// Version 0: the layout before runs were numbered (created with `IF NOT EXISTS`, so a new
/// database and one written by an earlier mapper take the same path through version 1).
const V0: &str = "
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
CREATE TABLE IF NOT EXISTS syncs (
    integration TEXT NOT NULL,
    stream      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (integration, stream)
);
";

/// Version 1: numbered runs, compressed records, snapshot bookkeeping. Records of version 0
/// keep their JSON text (`encoding = 'json'`) and their SHA-256 hash until they are seen again.
const V1: &str = "
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    integration TEXT NOT NULL,
    kind        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    counts      TEXT
);
ALTER TABLE records RENAME TO records_v0;
DROP INDEX IF EXISTS records_scope;
CREATE TABLE records (
    seq               INTEGER PRIMARY KEY,
    integration       TEXT NOT NULL,
    model             TEXT NOT NULL,
    id                TEXT NOT NULL,
    remote_id         TEXT,
    hash              BLOB NOT NULL,
    changed_at        TEXT NOT NULL,
    remote_deleted_at TEXT,
    deleted_by        TEXT,
    first_run         INTEGER,
    changed_run       INTEGER,
    encoding          TEXT NOT NULL,
    dict              INTEGER,
    split             INTEGER NOT NULL,
    record            BLOB NOT NULL
);
INSERT INTO records (seq, integration, model, id, remote_id, hash, changed_at, remote_deleted_at,
                     deleted_by, encoding, split, record)
    SELECT seq, integration, model, id, remote_id, hash, changed_at, remote_deleted_at,
           CASE WHEN remote_deleted_at IS NULL THEN NULL ELSE 'absence' END, 'json', 0, record
    FROM records_v0 ORDER BY seq;
DROP TABLE records_v0;
-- ids derive from (integration, model, remote id): unique on their own, and a smaller index
CREATE UNIQUE INDEX records_id ON records (id);
CREATE INDEX records_model ON records (integration, model);
ALTER TABLE syncs ADD COLUMN run_id INTEGER;
CREATE TABLE dictionaries (
    id          INTEGER PRIMARY KEY,
    integration TEXT NOT NULL,
    model       TEXT NOT NULL,
    run_id      INTEGER NOT NULL,
    dict        BLOB NOT NULL
);
CREATE TABLE snapshots (
    integration TEXT NOT NULL,
    model       TEXT NOT NULL,
    path        TEXT NOT NULL,
    run_id      INTEGER,
    PRIMARY KEY (integration, model)
);
";

/// Forward migrations; migration `i` takes the database from `user_version` `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V0, V1, V2, V3];

/// Version 3: the token a token-delta stream's last successful sync ended with.
const V2: &str = "ALTER TABLE syncs ADD COLUMN token TEXT;";

/// Version 4: the fingerprint of what each record was mapped from (null: unknown, so the
/// record is mapped again when next seen).
const V3: &str = "ALTER TABLE records ADD COLUMN source_fp INTEGER;";

/// The schema version this mapper writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], each step in its own transaction. Hand-written
/// (a dozen lines) because rusqlite_migration pins an older rusqlite than this crate's.
fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StateError::TooNew {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The state in one SQLite database.
pub struct SqliteStore {
    conn: Connection,
    /// The database file (none: in memory).
    path: Option<std::path::PathBuf>,
    integration: String,
    run: Option<OpenRun>,
    codecs: Codecs,
}

/// The run in progress.
struct OpenRun {
    id: RunId,
    kind: RunKind,
    started_at: String,
    seen: Bitmap,
    /// Syncs the write-ahead log as the run fills it (none: in memory, or no thread).
    wal: Option<WalSync>,
}

/// Early syncs of the write-ahead log: the pages a run spills there go to disk while the run
/// goes on, so the commit's checkpoint finds little to sync.
struct WalSync {
    syncer: crate::writeback::Syncer,
    /// The log, for its length.
    log: std::fs::File,
    /// Its length when a sync was last asked for.
    synced: u64,
    /// Records stored since its length was last looked at.
    puts: u32,
}

impl WalSync {
    /// The log's length is looked at every this many stored records.
    const LOOK_EVERY: u32 = 1024;
    /// Bytes the log grows by between two syncs.
    const SYNC_EVERY: u64 = 8 * 1024 * 1024;

    /// On the log of the database at `path`, if it can be opened.
    fn open(path: &Path) -> Option<WalSync> {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let log = std::fs::File::open(wal).ok()?;
        Some(WalSync {
            syncer: crate::writeback::Syncer::start(log.try_clone().ok()?)?,
            log,
            synced: 0,
            puts: 0,
        })
    }

    /// One more record stored: a sync is asked for when the log grew enough since the last.
    fn stored(&mut self) {
        self.puts += 1;
        if self.puts < Self::LOOK_EVERY {
            return;
        }
        self.puts = 0;
        let Ok(len) = self.log.metadata().map(|m| m.len()) else {
            return;
        };
        if len < self.synced {
            // the log started over
            self.synced = len;
        } else if len - self.synced >= Self::SYNC_EVERY {
            self.synced = len;
            self.syncer.wake();
        }
    }
}

/// Rows seen by the run.
#[derive(Default)]
struct Bitmap(Vec<u64>);

impl Bitmap {
    fn set(&mut self, row: RowId) -> bool {
        let Ok(i) = usize::try_from(row.0) else {
            return false;
        };
        let (w, b) = (i / 64, i % 64);
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        let was = self.0[w] & (1 << b) != 0;
        self.0[w] |= 1 << b;
        was
    }
    fn get(&self, row: RowId) -> bool {
        usize::try_from(row.0)
            .ok()
            .and_then(|i| self.0.get(i / 64).map(|w| w & (1 << (i % 64)) != 0))
            .unwrap_or(false)
    }
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: &Path, integration: &str) -> Result<SqliteStore, StateError> {
        let memory = path == Path::new(":memory:");
        let mut conn = if memory {
            Connection::open_in_memory()?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Connection::open(path)?
        };
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // 16 KB pages for a new database (one that exists keeps its own): fewer B-tree levels
        // and splits, and fewer log frames to write and checkpoint; 9 interleaved rounds at 50k
        // records, median wall 0.477 → 0.441 s, and an unchanged 200k run 1.00 → 0.91 s.
        // 6 MB of page cache: at 1M records 8 MB measured no faster (within noise) and put
        // the peak RSS at the 50 MB budget
        conn.execute_batch(
            "PRAGMA page_size = 16384;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -6000;
             PRAGMA journal_size_limit = 67108864;",
        )?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn,
            path: (!memory).then(|| path.to_path_buf()),
            integration: integration.to_owned(),
            run: None,
            codecs: Codecs::new()?,
        })
    }

    /// Copies the database at `from` (if there is one) to `to`, consistently (`VACUUM INTO`
    /// reads one snapshot, whatever the write-ahead log holds), for runs that must leave
    /// the real state untouched.
    pub fn copy(from: &Path, to: &Path) -> Result<(), StateError> {
        if !from.exists() {
            return Ok(());
        }
        let conn = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute("VACUUM INTO ?1", [to.display().to_string()])?;
        Ok(())
    }

    fn open_run(&mut self) -> Result<&mut OpenRun, StateError> {
        self.run
            .as_mut()
            .ok_or(StateError::Protocol("no run in progress"))
    }

    fn finish_row(&mut self, id: RunId, end: &RunEnd) -> Result<(), StateError> {
        let counts = serde_json::to_string(&end.counts).unwrap_or_default();
        self.conn.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3, counts = ?4 WHERE id = ?1",
            params![id.0, end.status, end.finished_at, counts],
        )?;
        Ok(())
    }

    fn compress(
        &mut self,
        model: &str,
        content: &[u8],
    ) -> Result<(Option<i64>, Vec<u8>), StateError> {
        let run = self.open_run()?.id.0;
        let out = self
            .codecs
            .compress(&self.conn, &self.integration, model, run, content)?;
        if let Some(w) = &mut self.open_run()?.wal {
            w.stored();
        }
        Ok(out)
    }

    /// The content of a stored record (decompressed, without the state-kept members).
    fn content_of(
        &mut self,
        seq: i64,
        encoding: &str,
        dict: Option<i64>,
        split: usize,
        raw: &[u8],
    ) -> Result<(Vec<u8>, usize), StateError> {
        if let Some(enc) = Encoding::parse(encoding) {
            return Ok((
                self.codecs.decompress(&self.conn, seq, enc, dict, raw)?,
                split,
            ));
        }
        match encoding {
            // schema version 0: the record as JSON text, state members included
            "json" => {
                let v: serde_json::Value = serde_json::from_slice(raw)
                    .map_err(|e| StateError::Corrupt(seq, e.to_string()))?;
                let obj = v
                    .as_object()
                    .ok_or_else(|| StateError::Corrupt(seq, "not an object".into()))?;
                let e = Encoded::new(String::new(), None, obj);
                Ok((e.content, e.split))
            }
            other => Err(StateError::Corrupt(
                seq,
                format!("unknown encoding `{other}`"),
            )),
        }
    }

    /// Whether the stored content of `row` is the same JSON as `rec`'s, whatever the order
    /// of its members.
    fn same_as_stored(&mut self, row: RowId, rec: &Encoded) -> Result<bool, StateError> {
        let stored: Option<(String, Option<i64>, i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT encoding, dict, split, record FROM records WHERE seq = ?1")?
            .query_row(params![row.0], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, stored_bytes(r.get_ref(3)?)))
            })
            .optional()?;
        let Some((encoding, dict, split, raw)) = stored else {
            return Ok(false);
        };
        let split = usize::try_from(split).unwrap_or(0);
        let (content, _) = self.content_of(row.0, &encoding, dict, split, &raw)?;
        let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).ok();
        Ok(matches!((parse(&content), parse(&rec.content)), (Some(a), Some(b)) if a == b))
    }
}

/// A stored record's bytes: a blob, or text as version 0 stored them.
fn stored_bytes(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        _ => Vec::new(),
    }
}

fn read_hash(v: ValueRef<'_>) -> StoredHash {
    match v {
        ValueRef::Integer(i) => StoredHash::Current(i as u64),
        ValueRef::Text(t) => StoredHash::Legacy(String::from_utf8_lossy(t).into_owned()),
        _ => StoredHash::Legacy(String::new()),
    }
}

/// [`SourceReader`] on its own read-only connection: in WAL mode it reads the last
/// committed state while the run's transaction writes. Drop it before the run commits
/// (its open read transaction would keep the commit's checkpoint from finishing).
struct SqliteSources {
    conn: Connection,
    integration: String,
}

impl SourceReader for SqliteSources {
    fn source(&mut self, model: &str, id: &str) -> Result<Option<u64>, StateError> {
        // one read transaction for all lookups (one snapshot, and no lock taken per
        // record); it ends when the reader is dropped, before the run commits
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN")?;
        }
        let found: Option<Option<i64>> = self
            .conn
            .prepare_cached(
                // a record the vendor deleted takes the full path: mapping decides whether
                // it is back
                "SELECT source_fp FROM records WHERE integration = ?1 AND model = ?2 AND id = ?3
                     AND (deleted_by IS NULL OR deleted_by = 'absence')",
            )?
            .query_row(params![self.integration, model, id], |r| r.get(0))
            .optional()?;
        Ok(found.flatten().map(|s| s as u64))
    }
}

impl Store for SqliteStore {
    fn begin_run(&mut self, kind: RunKind, started_at: &str) -> Result<RunId, StateError> {
        if self.run.is_some() {
            return Err(StateError::Protocol("a run is already in progress"));
        }
        // the run's row is committed on its own, so the history shows runs that were killed
        self.conn.execute(
            "UPDATE runs SET status = 'interrupted' WHERE integration = ?1 AND status = 'running'",
            params![self.integration],
        )?;
        self.conn.execute(
            "INSERT INTO runs (integration, kind, started_at, status) VALUES (?1, ?2, ?3, 'running')",
            params![self.integration, kind.as_str(), started_at],
        )?;
        let id = RunId(self.conn.last_insert_rowid());
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.run = Some(OpenRun {
            id,
            kind,
            started_at: started_at.to_owned(),
            seen: Bitmap::default(),
            wal: self.path.as_deref().and_then(WalSync::open),
        });
        Ok(id)
    }

    fn last_sync(&mut self, stream: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT started_at FROM syncs WHERE integration = ?1 AND stream = ?2")?
            .query_row(params![self.integration, stream], |r| r.get(0))
            .optional()?)
    }

    fn has_records(&mut self, model: &str) -> Result<bool, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM records WHERE integration = ?1 AND model = ?2 LIMIT 1")?
            .query_row(params![self.integration, model], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn prior(&mut self, model: &str, id: &str) -> Result<Option<Prior>, StateError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT seq, hash, changed_at, remote_deleted_at, deleted_by, source_fp FROM records
                 WHERE integration = ?1 AND model = ?2 AND id = ?3",
            )?
            .query_row(params![self.integration, model, id], |r| {
                Ok((
                    RowId(r.get(0)?),
                    read_hash(r.get_ref(1)?),
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        let seen_map = &self.open_run()?.seen;
        Ok(
            row.map(|(row, hash, changed_at, deleted_at, by, source)| Prior {
                source: source.map(|s| s as u64),
                seen: seen_map.get(row),
                row,
                hash,
                changed_at,
                deleted_at,
                deleted_by: by.as_deref().and_then(DeletedBy::parse),
            }),
        )
    }

    fn put(
        &mut self,
        model: &str,
        rec: &Encoded,
        prior: Option<&Prior>,
    ) -> Result<Applied, StateError> {
        let (run_id, now) = {
            let r = self.open_run()?;
            (r.id, r.started_at.clone())
        };
        let deleted_by = rec
            .vendor_deleted
            .as_ref()
            .map(|_| DeletedBy::Vendor.as_str());
        let Some(p) = prior else {
            let (dict, blob) = self.compress(model, &rec.content)?;
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT INTO records (integration, model, id, remote_id, hash, changed_at,
                         remote_deleted_at, deleted_by, first_run, changed_run, encoding, dict, split, record,
                         source_fp)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?13, ?12, ?10, ?11, ?14)",
                )?
                .execute(params![
                    self.integration,
                    model,
                    rec.id,
                    rec.remote_id,
                    rec.hash as i64,
                    now,
                    rec.vendor_deleted,
                    deleted_by,
                    run_id.0,
                    rec.split as i64,
                    blob,
                    dict,
                    Encoding::Lz4.as_str(),
                    rec.source.map(|s| s as i64)
                ]);
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    return Err(StateError::Duplicate);
                }
                Err(e) => return Err(e.into()),
            }
            let row = RowId(self.conn.last_insert_rowid());
            self.open_run()?.seen.set(row);
            return Ok(Applied {
                change: Change::Created,
                changed_at: now,
                newly_deleted: rec.vendor_deleted.is_some(),
                deleted_at: rec.vendor_deleted.clone(),
                undeleted: false,
            });
        };
        self.open_run()?.seen.set(p.row);
        let hashed_same = p.hash.matches(rec);
        // other bytes may still be the same record (members written in another order by
        // an earlier mapper): then its content is rewritten, and it has not changed
        let same = hashed_same || self.same_as_stored(p.row, rec)?;
        // a legacy hash, or other bytes for the same content: the content is written anew
        let rewrite = matches!(p.hash, StoredHash::Legacy(_)) || !hashed_same;
        // the vendor's flag wins; a deletion by absence is lifted when the record is back
        let deleted_at = rec.vendor_deleted.clone();
        let newly_deleted = deleted_at.is_some() && p.deleted_at.is_none();
        let undeleted = deleted_at.is_none() && p.deleted_at.is_some();
        let changed_at = if same { p.changed_at.clone() } else { now };
        if !same || rewrite {
            let (dict, blob) = self.compress(model, &rec.content)?;
            self.conn
                .prepare_cached(
                    "UPDATE records SET remote_id = ?2, hash = ?3, changed_at = ?4, remote_deleted_at = ?5,
                         deleted_by = ?6, changed_run = CASE WHEN ?7 THEN changed_run ELSE ?8 END,
                         encoding = ?12, dict = ?11, split = ?9, record = ?10, source_fp = ?13
                     WHERE seq = ?1",
                )?
                .execute(params![
                    p.row.0,
                    rec.remote_id,
                    rec.hash as i64,
                    changed_at,
                    deleted_at,
                    deleted_by,
                    same,
                    run_id.0,
                    rec.split as i64,
                    blob,
                    dict,
                    Encoding::Lz4.as_str(),
                    rec.source.map(|s| s as i64)
                ])?;
        } else if deleted_at != p.deleted_at || rec.source != p.source {
            // same content: the deletion flag, and what it was mapped from, may still move
            self.conn
                .prepare_cached(
                    "UPDATE records SET remote_deleted_at = ?2, deleted_by = ?3, source_fp = ?4 WHERE seq = ?1",
                )?
                .execute(params![p.row.0, deleted_at, deleted_by, rec.source.map(|s| s as i64)])?;
        }
        Ok(Applied {
            change: if same {
                Change::Unchanged
            } else {
                Change::Updated
            },
            changed_at,
            deleted_at,
            newly_deleted,
            undeleted,
        })
    }

    fn touch(&mut self, prior: &Prior) -> Result<bool, StateError> {
        self.open_run()?.seen.set(prior.row);
        // seen at the vendor: a deletion by absence is lifted; the vendor's flag stays
        if prior.deleted_by == Some(DeletedBy::Absence) {
            self.conn
                .prepare_cached(
                    "UPDATE records SET remote_deleted_at = NULL, deleted_by = NULL WHERE seq = ?1",
                )?
                .execute(params![prior.row.0])?;
            return Ok(true);
        }
        Ok(false)
    }

    fn mark_deleted(&mut self, prior: &Prior, at: Option<&str>) -> Result<(), StateError> {
        let run = self
            .run
            .as_ref()
            .ok_or(StateError::Protocol("no run in progress"))?;
        let at = at.unwrap_or(&run.started_at);
        self.conn
            .prepare_cached(
                "UPDATE records SET remote_deleted_at = ?2, deleted_by = 'vendor' WHERE seq = ?1",
            )?
            .execute(params![prior.row.0, at])?;
        Ok(())
    }

    fn mark_absent(&mut self, model: &str) -> Result<u64, StateError> {
        let run = self
            .run
            .as_ref()
            .ok_or(StateError::Protocol("no run in progress"))?;
        if run.kind != RunKind::Full {
            return Err(StateError::Protocol(
                "deletions by absence need a full sync",
            ));
        }
        let mut absent = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq FROM records WHERE integration = ?1 AND model = ?2 AND remote_deleted_at IS NULL",
            )?;
            let mut rows = stmt.query(params![self.integration, model])?;
            while let Some(r) = rows.next()? {
                let row = RowId(r.get(0)?);
                if !run.seen.get(row) {
                    absent.push(row);
                }
            }
        }
        let mut upd = self.conn.prepare_cached(
            "UPDATE records SET remote_deleted_at = ?2, deleted_by = 'absence' WHERE seq = ?1",
        )?;
        for row in &absent {
            upd.execute(params![row.0, run.started_at])?;
        }
        Ok(absent.len() as u64)
    }

    fn sync_token(&mut self, stream: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT token FROM syncs WHERE integration = ?1 AND stream = ?2")?
            .query_row(params![self.integration, stream], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    fn record_syncs(
        &mut self,
        streams: &[String],
        tokens: &[(String, String)],
    ) -> Result<(), StateError> {
        let run = self
            .run
            .as_ref()
            .ok_or(StateError::Protocol("no run in progress"))?;
        let finished = super::now_utc();
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO syncs (integration, stream, kind, started_at, finished_at, run_id, token) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (integration, stream) DO UPDATE SET kind = ?3, started_at = ?4, finished_at = ?5, run_id = ?6, token = ?7",
        )?;
        for s in streams {
            let token = tokens.iter().find(|(n, _)| n == s).map(|(_, t)| t);
            stmt.execute(params![
                self.integration,
                s,
                run.kind.as_str(),
                run.started_at,
                finished,
                run.id.0,
                token
            ])?;
        }
        Ok(())
    }

    fn snapshot_stale(&mut self, model: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "UPDATE snapshots SET run_id = NULL WHERE integration = ?1 AND model = ?2",
            )?
            .execute(params![self.integration, model])?;
        Ok(())
    }

    fn commit(&mut self, end: &RunEnd) -> Result<(), StateError> {
        let run = self
            .run
            .take()
            .ok_or(StateError::Protocol("no run in progress"))?;
        if let Some(w) = run.wal {
            w.syncer.stop();
        }
        self.finish_row(run.id, end)?;
        self.conn.execute_batch("COMMIT")?;
        // keep the write-ahead log from holding a second copy of the data
        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
        Ok(())
    }

    fn abort(&mut self, end: &RunEnd) -> Result<(), StateError> {
        let run = self
            .run
            .take()
            .ok_or(StateError::Protocol("no run in progress"))?;
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        self.codecs.reset();
        self.finish_row(run.id, end)
    }

    fn snapshot_current(&mut self, model: &str, path: &str) -> Result<bool, StateError> {
        let found: Option<(String, Option<i64>)> = self
            .conn
            .prepare_cached(
                "SELECT path, run_id FROM snapshots WHERE integration = ?1 AND model = ?2",
            )?
            .query_row(params![self.integration, model], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(matches!(found, Some((p, Some(_))) if p == path) && Path::new(path).is_file())
    }

    fn snapshot_written(&mut self, model: &str, path: &str) -> Result<(), StateError> {
        let last: Option<i64> = self.conn.query_row(
            "SELECT max(id) FROM runs WHERE integration = ?1",
            params![self.integration],
            |r| r.get(0),
        )?;
        self.conn
            .prepare_cached(
                "INSERT INTO snapshots (integration, model, path, run_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (integration, model) DO UPDATE SET path = ?3, run_id = ?4",
            )?
            .execute(params![self.integration, model, path, last.unwrap_or(0)])?;
        Ok(())
    }

    fn export(&mut self, model: &str, out: &mut dyn Write) -> Result<u64, StateError> {
        let mut n = 0;
        let mut last = i64::MIN;
        // in batches, so that decompression borrows the store between queries
        loop {
            type Row = (
                i64,
                String,
                Option<String>,
                String,
                Option<i64>,
                i64,
                Vec<u8>,
            );
            let batch: Vec<Row> = self
                .conn
                .prepare_cached(
                    "SELECT seq, changed_at, remote_deleted_at, encoding, dict, split, record FROM records
                     WHERE integration = ?1 AND model = ?2 AND seq > ?3 ORDER BY seq LIMIT 2048",
                )?
                .query_map(params![self.integration, model, last], |r| {
                    let raw = stored_bytes(r.get_ref(6)?);
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, raw))
                })?
                .collect::<Result<_, _>>()?;
            let Some(end) = batch.last().map(|b| b.0) else {
                break;
            };
            last = end;
            for (seq, changed_at, deleted_at, encoding, dict, split, raw) in batch {
                let split = usize::try_from(split).unwrap_or(0);
                let (content, split) = self.content_of(seq, &encoding, dict, split, &raw)?;
                write_line(out, &content, split, &changed_at, deleted_at.as_deref())?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn sources(&self) -> Result<Option<Box<dyn SourceReader>>, StateError> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // one lookup by id per record: the index of ids (32 bytes a record) stays cached up
        // to about 250k records instead of being read again page by page
        conn.execute_batch("PRAGMA cache_size = -8000;")?;
        Ok(Some(Box::new(SqliteSources {
            conn,
            integration: self.integration.clone(),
        })))
    }

    fn runs(&mut self, limit: usize) -> Result<Vec<RunRow>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, started_at, finished_at, status FROM runs WHERE integration = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![self.integration, limit as i64], |r| {
                Ok(RunRow {
                    id: RunId(r.get(0)?),
                    kind: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    status: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn end() -> RunEnd {
        RunEnd {
            status: "success".into(),
            finished_at: "2026-01-01T00:00:01.000Z".into(),
            counts: Default::default(),
        }
    }

    /// The record `{"id": "a", "n": 1, "s": "x"}` with its members in `order`.
    fn encoded(order: &[&str]) -> Encoded {
        let rec = json!({"id": "a", "n": 1, "s": "x"});
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        Encoded::in_order("a".into(), None, rec.as_object().unwrap(), &order)
    }

    fn apply(store: &mut SqliteStore, at: &str, rec: &Encoded) -> Applied {
        store.begin_run(RunKind::Full, at).unwrap();
        let prior = store.prior("users", &rec.id).unwrap();
        let applied = store.put("users", rec, prior.as_ref()).unwrap();
        store.commit(&end()).unwrap();
        applied
    }

    fn page_size(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_database_has_16k_pages_and_an_existing_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        let mut store = SqliteStore::open(&new, "default").unwrap();
        apply(
            &mut store,
            "2026-01-01T00:00:00.000Z",
            &encoded(&["id", "n", "s"]),
        );
        drop(store);
        assert_eq!(page_size(&new), 16384);
        // a database an earlier mapper created with SQLite's default pages
        let old = dir.path().join("old.db");
        Connection::open(&old)
            .unwrap()
            .execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x); DROP TABLE t;")
            .unwrap();
        let mut store = SqliteStore::open(&old, "default").unwrap();
        let rec = encoded(&["id", "n", "s"]);
        assert_eq!(
            apply(&mut store, "2026-01-01T00:00:00.000Z", &rec).change,
            Change::Created
        );
        assert_eq!(
            apply(&mut store, "2026-01-02T00:00:00.000Z", &rec).change,
            Change::Unchanged
        );
        drop(store);
        assert_eq!(page_size(&old), 4096);
    }

    #[test]
    fn the_same_record_in_another_member_order_is_unchanged() {
        let mut store = SqliteStore::open(Path::new(":memory:"), "default").unwrap();
        let first = encoded(&["id", "n", "s"]);
        let reordered = encoded(&["s", "id", "n"]);
        assert_ne!(first.content, reordered.content);
        let t0 = "2026-01-01T00:00:00.000Z";
        assert_eq!(apply(&mut store, t0, &first).change, Change::Created);
        let again = apply(&mut store, "2026-01-02T00:00:00.000Z", &reordered);
        assert_eq!(again.change, Change::Unchanged);
        assert_eq!(again.changed_at, t0);
        // its content was rewritten: the next run compares hashes only
        store
            .begin_run(RunKind::Full, "2026-01-03T00:00:00.000Z")
            .unwrap();
        let prior = store.prior("users", "a").unwrap().unwrap();
        assert!(prior.hash.matches(&reordered));
        store.abort(&end()).unwrap();
        // and a real change is one
        let rec = json!({"id": "a", "n": 2, "s": "x"});
        let changed = Encoded::new("a".into(), None, rec.as_object().unwrap());
        let applied = apply(&mut store, "2026-01-04T00:00:00.000Z", &changed);
        assert_eq!(applied.change, Change::Updated);
        assert_eq!(applied.changed_at, "2026-01-04T00:00:00.000Z");
    }
}
