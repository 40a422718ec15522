//! Unified ids: deterministic, stable, unique per (integration, model, remote id).

use sha2::{Digest, Sha256};

/// The unified id of a record of `model` with vendor id `remote_id` in `integration`.
///
/// Every reference field uses the same derivation, so `applications.job_id` equals the `id`
/// of that job. 128 bits of SHA-256, base32 (lower case, 26 characters).
pub fn unified_id(integration: &str, model: &str, remote_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [integration, model, remote_id] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    base32(&digest[..16])
}

/// The remote-id-like key of a join record from the unified ids it joins.
pub fn join_key(parts: &[&str]) -> String {
    parts.join(":")
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_namespaced() {
        let a = unified_id("default", "jobs", "42");
        assert_eq!(a, unified_id("default", "jobs", "42"));
        assert_eq!(a.len(), 26);
        assert_ne!(a, unified_id("other", "jobs", "42"));
        assert_ne!(a, unified_id("default", "users", "42"));
        // length-prefixing keeps ("ab","c") and ("a","bc") apart
        assert_ne!(unified_id("ab", "c", "x"), unified_id("a", "bc", "x"));
    }
}
