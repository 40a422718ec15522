//! Fingerprints of what a record is mapped from, so that a full sync need not map, serialise
//! and compare a record the vendor did not change.
//!
//! A record's fingerprint hashes everything its unified record can depend on when its
//! model map reads only the record itself: the record, its parent chain (values, API paths,
//! constants and positions), the stream, the connector as compiled, the integration and
//! this mapper binary. Model maps that read more (lookups, inputs, merged duplicates, join
//! keys: [`crate::compile::ModelMap::record_only`]) get no fingerprint and are always
//! mapped. A record whose mapping met an enum value
//! its map does not know stores none either, so that the value is counted again in every
//! run's report.

use super::record::Rec;
use crate::compile::{Plan, StreamId};
use serde_json::Value;
use xxhash_rust::xxh3::Xxh3;

/// What every fingerprint of a run starts from: this mapper binary (its path, size and
/// modification time: a rebuilt or replaced binary maps everything again once), the
/// connector and the integration. None when the binary cannot be located (then nothing
/// is fingerprinted).
pub fn seed(plan: &Plan, integration: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let mut h = Xxh3::new();
    hash_text(&mut h, &exe.to_string_lossy());
    hash_text(&mut h, env!("CARGO_PKG_VERSION"));
    h.update(&meta.len().to_le_bytes());
    h.update(&modified.as_nanos().to_le_bytes());
    h.update(&plan.fingerprint.to_le_bytes());
    hash_text(&mut h, integration);
    Some(h.digest())
}

fn hash_text(h: &mut Xxh3, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// The fingerprint of a record of stream `stream`.
///
/// The source is written into one buffer (a tag per node, lengths before contents) and
/// hashed once: a hasher fed token by token costs more than the copy.
pub fn of(seed: u64, stream: StreamId, rec: &Rec) -> u64 {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|b| {
        // a re-entrant call (there is none) would find the buffer borrowed: it hashes alone
        let mut own = Vec::new();
        let mut guard = b.try_borrow_mut();
        let buf = match guard.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut own,
        };
        buf.clear();
        write_source(buf, stream, rec);
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(buf, seed);
        // a huge record does not keep its buffer for the rest of the run
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        h
    })
}

fn write_source(buf: &mut Vec<u8>, stream: StreamId, rec: &Rec) {
    buf.extend_from_slice(&(stream.0 as u64).to_le_bytes());
    let mut cur = Some(rec);
    while let Some(r) = cur {
        text(buf, &r.source);
        buf.extend_from_slice(&r.index.to_le_bytes());
        buf.extend_from_slice(&(r.vars.len() as u64).to_le_bytes());
        for (k, v) in r.vars.iter() {
            text(buf, k);
            value(buf, v);
        }
        value(buf, &r.value);
        cur = r.parent.as_deref();
    }
}

fn text(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Writes a value with its structure (a tag per node, lengths before contents).
fn value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => buf.push(b'n'),
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                buf.push(b'i');
                buf.extend_from_slice(&i.to_le_bytes());
            } else if let Some(u) = n.as_u64() {
                buf.push(b'u');
                buf.extend_from_slice(&u.to_le_bytes());
            } else {
                buf.push(b'd');
                buf.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            buf.push(b's');
            text(buf, s);
        }
        Value::Array(a) => {
            buf.push(b'[');
            buf.extend_from_slice(&(a.len() as u64).to_le_bytes());
            for x in a {
                value(buf, x);
            }
        }
        Value::Object(m) => {
            buf.push(b'{');
            buf.extend_from_slice(&(m.len() as u64).to_le_bytes());
            for (k, x) in m {
                text(buf, k);
                value(buf, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn rec(v: Value, parent: Option<Rec>) -> Rec {
        Rec::new(
            v,
            "/x".into(),
            Arc::new(Default::default()),
            parent.map(Arc::new),
            0,
        )
    }

    #[test]
    fn every_part_of_the_source_counts() {
        let base = of(1, StreamId(0), &rec(json!({"a": 1, "b": ["x"]}), None));
        assert_eq!(
            base,
            of(1, StreamId(0), &rec(json!({"a": 1, "b": ["x"]}), None))
        );
        for other in [
            of(2, StreamId(0), &rec(json!({"a": 1, "b": ["x"]}), None)),
            of(1, StreamId(1), &rec(json!({"a": 1, "b": ["x"]}), None)),
            of(1, StreamId(0), &rec(json!({"a": 2, "b": ["x"]}), None)),
            of(1, StreamId(0), &rec(json!({"a": 1, "b": ["y"]}), None)),
            of(1, StreamId(0), &rec(json!({"a": 1, "b": "x"}), None)),
            of(1, StreamId(0), &rec(json!({"a": 1.0, "b": ["x"]}), None)),
            of(
                1,
                StreamId(0),
                &rec(json!({"a": 1, "b": ["x"]}), Some(rec(json!({}), None))),
            ),
        ] {
            assert_ne!(base, other);
        }
        // a parent's content is part of its children's source
        let child = |p: Value| of(1, StreamId(0), &rec(json!({"a": 1}), Some(rec(p, None))));
        assert_ne!(child(json!({"id": 1})), child(json!({"id": 2})));
        // strings are delimited: ("ab", "c") is not ("a", "bc")
        assert_ne!(
            of(1, StreamId(0), &rec(json!(["ab", "c"]), None)),
            of(1, StreamId(0), &rec(json!(["a", "bc"]), None))
        );
    }
}
