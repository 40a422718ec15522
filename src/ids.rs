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

/// RFC 4648 base32 without padding, lower case (what ids have always been).
fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD
        .encode(bytes)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_never_change_between_versions() {
        // the id of Greenhouse job 640001 in the default integration, as every earlier
        // version wrote it (a changed derivation would orphan every synced record)
        assert_eq!(
            super::unified_id("default", "jobs", "640001"),
            "pjxtz6tviyo4qcugsu35yskgz4"
        );
        assert_eq!(super::base32(&[0xff]), "74");
    }
}
