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
    text(&mut h, &exe.to_string_lossy());
    text(&mut h, env!("CARGO_PKG_VERSION"));
    h.update(&meta.len().to_le_bytes());
    h.update(&modified.as_nanos().to_le_bytes());
    h.update(&plan.fingerprint.to_le_bytes());
    text(&mut h, integration);
    Some(h.digest())
}

/// The fingerprint of a record of stream `stream`.
pub fn of(seed: u64, stream: StreamId, rec: &Rec) -> u64 {
    let mut h = Xxh3::with_seed(seed);
    h.update(&(stream.0 as u64).to_le_bytes());
    let mut cur = Some(rec);
    while let Some(r) = cur {
        text(&mut h, &r.source);
        h.update(&r.index.to_le_bytes());
        h.update(&(r.vars.len() as u64).to_le_bytes());
        for (k, v) in r.vars.iter() {
            text(&mut h, k);
            value(&mut h, v);
        }
        value(&mut h, &r.value);
        cur = r.parent.as_deref();
    }
    h.digest()
}

fn text(h: &mut Xxh3, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// Hashes a value with its structure (a tag per node, lengths before contents).
fn value(h: &mut Xxh3, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            if let Some(i) = n.as_i64() {
                h.update(b"i");
                h.update(&i.to_le_bytes());
            } else if let Some(u) = n.as_u64() {
                h.update(b"u");
                h.update(&u.to_le_bytes());
            } else {
                h.update(b"d");
                h.update(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes());
            }
        }
        Value::String(s) => {
            h.update(b"s");
            text(h, s);
        }
        Value::Array(a) => {
            h.update(b"[");
            h.update(&(a.len() as u64).to_le_bytes());
            for x in a {
                value(h, x);
            }
        }
        Value::Object(m) => {
            h.update(b"{");
            h.update(&(m.len() as u64).to_le_bytes());
            for (k, x) in m {
                text(h, k);
                value(h, x);
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
            of(1, StreamId(0), &rec(json!({"b": ["x"], "a": 1}), None)),
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
