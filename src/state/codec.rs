//! How stored records are compressed: zstd with a dictionary per model made of its first
//! records (unified JSON of one model repeats its keys and much of its values, so a
//! dictionary makes a 1 KB record about three times smaller).
//!
//! A model's first [`SAMPLES`] records are stored without a dictionary; then they become its
//! dictionary (zstd's raw-content dictionaries: no training, so no memory spike), kept in the
//! `dictionaries` table (in the run's transaction, so a failed run forgets it with the records
//! that use it), and used for every later record.

use super::StateError;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// Records of a model that make up its dictionary.
const SAMPLES: usize = 48;
/// Largest dictionary.
const DICT_SIZE: usize = 32 * 1024;
/// zstd level: fast.
const LEVEL: i32 = -1;
/// Largest record accepted back from the database.
const MAX_RECORD: usize = 64 << 20;

struct ModelCodec {
    dict: Option<i64>,
    compressor: zstd::bulk::Compressor<'static>,
    samples: Vec<Vec<u8>>,
}

/// Compressors per model and decompressors per dictionary.
pub(super) struct Codecs {
    models: HashMap<String, ModelCodec>,
    decoders: HashMap<i64, zstd::bulk::Decompressor<'static>>,
    plain: zstd::bulk::Decompressor<'static>,
}

impl Codecs {
    pub(super) fn new() -> Result<Codecs, StateError> {
        Ok(Codecs {
            models: HashMap::new(),
            decoders: HashMap::new(),
            plain: zstd::bulk::Decompressor::new()?,
        })
    }

    /// Forgets what a rolled-back run may have created.
    pub(super) fn reset(&mut self) {
        self.models.clear();
        self.decoders.clear();
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
                    compressor: zstd::bulk::Compressor::with_dictionary(LEVEL, &dict)?,
                    samples: Vec::new(),
                },
                None => ModelCodec {
                    dict: None,
                    compressor: zstd::bulk::Compressor::new(LEVEL)?,
                    samples: Vec::with_capacity(SAMPLES),
                },
            };
            self.models.insert(model.to_owned(), codec);
        }
        self.models
            .get_mut(model)
            .ok_or(StateError::Protocol("codec vanished"))
    }

    /// Compresses a record of `model`; returns the dictionary used and the bytes.
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
                codec.compressor = zstd::bulk::Compressor::with_dictionary(LEVEL, &dict)?;
            }
        }
        Ok((dict, out))
    }

    /// Decompresses a stored record.
    pub(super) fn decompress(
        &mut self,
        conn: &Connection,
        seq: i64,
        dict: Option<i64>,
        raw: &[u8],
    ) -> Result<Vec<u8>, StateError> {
        let corrupt = |e: String| StateError::Corrupt(seq, e);
        let size = zstd::zstd_safe::get_frame_content_size(raw)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= MAX_RECORD)
            .ok_or_else(|| corrupt("bad zstd frame".into()))?;
        let d = match dict {
            None => &mut self.plain,
            Some(id) => match self.decoders.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let bytes: Vec<u8> = conn
                        .prepare_cached("SELECT dict FROM dictionaries WHERE id = ?1")?
                        .query_row(params![id], |r| r.get(0))
                        .optional()?
                        .ok_or_else(|| corrupt(format!("dictionary {id} is missing")))?;
                    e.insert(zstd::bulk::Decompressor::with_dictionary(&bytes)?)
                }
            },
        };
        d.decompress(raw, size).map_err(|e| corrupt(e.to_string()))
    }
}
