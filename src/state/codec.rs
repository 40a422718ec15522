//! How stored records are compressed: LZ4 with a dictionary per model made of its first
//! records (unified JSON of one model repeats its keys and much of its values, so a
//! dictionary makes a 1 KB record about eight times smaller). Records an earlier mapper
//! wrote with zstd (`encoding = 'zstd'`, same dictionaries) are still read.
//!
//! A model's first [`SAMPLES`] records are stored without a dictionary; then they become its
//! dictionary (raw content: no training, so no memory spike), kept in the
//! `dictionaries` table (in the run's transaction, so a failed run forgets it with the records
//! that use it), and used for every later record.

use super::StateError;
use super::lz4::Lz4Dict;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Records of a model that make up its dictionary.
const SAMPLES: usize = 48;
/// Largest dictionary.
const DICT_SIZE: usize = 32 * 1024;
/// Largest record accepted back from the database.
const MAX_RECORD: usize = 64 << 20;

/// How a stored record's bytes are encoded (the `encoding` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// An LZ4 block (what this mapper writes).
    Lz4,
    /// A zstd frame (written by earlier mappers).
    Zstd,
}

impl Encoding {
    /// The column's text.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Encoding::Lz4 => "lz4",
            Encoding::Zstd => "zstd",
        }
    }

    /// The encoding named by the column, if it is one of these.
    pub(super) fn parse(text: &str) -> Option<Encoding> {
        match text {
            "lz4" => Some(Encoding::Lz4),
            "zstd" => Some(Encoding::Zstd),
            _ => None,
        }
    }
}

struct ModelCodec {
    dict: Option<i64>,
    compressor: Lz4Dict,
    samples: Vec<Vec<u8>>,
}

/// Compressors per model and decompressors per dictionary.
pub(super) struct Codecs {
    models: HashMap<String, ModelCodec>,
    lz4: HashMap<Option<i64>, Lz4Dict>,
    zstd: HashMap<Option<i64>, zstd::bulk::Decompressor<'static>>,
}

impl Codecs {
    pub(super) fn new() -> Result<Codecs, StateError> {
        Ok(Codecs {
            models: HashMap::new(),
            lz4: HashMap::new(),
            zstd: HashMap::new(),
        })
    }

    /// Forgets what a rolled-back run may have created.
    pub(super) fn reset(&mut self) {
        self.models.clear();
        self.lz4.clear();
        self.zstd.clear();
    }

    fn codec(
        &mut self,
        conn: &Connection,
        integration: &str,
        model: &str,
    ) -> Result<&mut ModelCodec, StateError> {
        if !self.models.contains_key(model) {
            let found: Option<(i64, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT id, dict FROM dictionaries WHERE integration = ?1 AND model = ?2 ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![integration, model], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let codec = match found {
                Some((id, dict)) => ModelCodec {
                    dict: Some(id),
                    compressor: Lz4Dict::new(&dict)?,
                    samples: Vec::new(),
                },
                None => ModelCodec {
                    dict: None,
                    compressor: Lz4Dict::new(&[])?,
                    samples: Vec::with_capacity(SAMPLES),
                },
            };
            self.models.insert(model.to_owned(), codec);
        }
        self.models
            .get_mut(model)
            .ok_or(StateError::Protocol("codec vanished"))
    }

    /// Compresses a record of `model` (as [`Encoding::Lz4`]); returns the dictionary used
    /// and the bytes.
    pub(super) fn compress(
        &mut self,
        conn: &Connection,
        integration: &str,
        model: &str,
        run: i64,
        content: &[u8],
    ) -> Result<(Option<i64>, Vec<u8>), StateError> {
        let codec = self.codec(conn, integration, model)?;
        let out = codec.compressor.compress(content)?;
        let dict = codec.dict;
        if dict.is_none() {
            codec.samples.push(content.to_vec());
            let size: usize = codec.samples.iter().map(Vec::len).sum();
            if codec.samples.len() >= SAMPLES || size >= DICT_SIZE {
                // the most recent content matters most to zstd: it goes last
                let mut dict: Vec<u8> = Vec::with_capacity(size.min(DICT_SIZE));
                for s in std::mem::take(&mut codec.samples) {
                    if dict.len() + s.len() > DICT_SIZE {
                        break;
                    }
                    dict.extend_from_slice(&s);
                }
                conn.prepare_cached(
                    "INSERT INTO dictionaries (integration, model, run_id, dict) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![integration, model, run, dict])?;
                codec.dict = Some(conn.last_insert_rowid());
                codec.compressor = Lz4Dict::new(&dict)?;
            }
        }
        Ok((dict, out))
    }

    /// Decompresses a stored record.
    pub(super) fn decompress(
        &mut self,
        conn: &Connection,
        seq: i64,
        encoding: Encoding,
        dict: Option<i64>,
        raw: &[u8],
    ) -> Result<Vec<u8>, StateError> {
        let corrupt = |e: String| StateError::Corrupt(seq, e);
        match encoding {
            Encoding::Lz4 => {
                let d = match self.lz4.entry(dict) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(Lz4Dict::new(&dictionary(conn, seq, dict)?)?),
                };
                d.decompress(raw, MAX_RECORD).map_err(corrupt)
            }
            Encoding::Zstd => {
                let size = zstd::zstd_safe::get_frame_content_size(raw)
                    .ok()
                    .flatten()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| *n <= MAX_RECORD)
                    .ok_or_else(|| corrupt("bad zstd frame".into()))?;
                let d = match self.zstd.entry(dict) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(match dict {
                        None => zstd::bulk::Decompressor::new()?,
                        Some(_) => zstd::bulk::Decompressor::with_dictionary(&dictionary(
                            conn, seq, dict,
                        )?)?,
                    }),
                };
                d.decompress(raw, size).map_err(|e| corrupt(e.to_string()))
            }
        }
    }
}

/// The bytes of dictionary `dict` (none: empty), for record `seq`.
fn dictionary(conn: &Connection, seq: i64, dict: Option<i64>) -> Result<Vec<u8>, StateError> {
    let Some(id) = dict else {
        return Ok(Vec::new());
    };
    conn.prepare_cached("SELECT dict FROM dictionaries WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StateError::Corrupt(seq, format!("dictionary {id} is missing")))
}
