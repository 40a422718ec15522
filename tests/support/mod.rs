//! Helpers shared by the connector tests: reading a run's output and checking it.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The records of `<out>/<model>.ndjson`.
pub fn read(out: &Path, model: &str) -> Vec<Value> {
    std::fs::read_to_string(out.join(format!("{model}.ndjson")))
        .unwrap_or_else(|e| panic!("{model}.ndjson: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Records by remote id.
pub fn by_remote(records: &[Value]) -> HashMap<String, Value> {
    records
        .iter()
        .map(|r| (r["remote_id"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// Every record of each model is valid against its schema, and ids are unique.
pub fn assert_valid_and_unique(out: &Path, models: &[&str]) {
    for model in models {
        let schema = mapper::compile::schema::model(model).unwrap();
        let recs = read(out, model);
        assert!(!recs.is_empty(), "{model} has records");
        let ids: HashSet<&str> = recs.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), recs.len(), "{model} ids are unique");
        for r in &recs {
            assert!(schema.validator().is_valid(r), "{model}: {r}");
        }
    }
}

/// Each `(model, field, target)`: every non-null value is the id of a `target` record, and
/// the field is set at least once.
pub fn assert_references_resolve(out: &Path, refs: &[(&str, &str, &str)]) {
    for (model, field, target) in refs {
        let targets: HashSet<String> = read(out, target)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let mut set = 0;
        for r in read(out, model) {
            if let Some(id) = r[field].as_str() {
                set += 1;
                assert!(
                    targets.contains(id),
                    "{model}.{field} = {id} does not resolve to {target}"
                );
            }
        }
        assert!(set > 0, "{model}.{field} is never set");
    }
}

/// The unified output of `models` for a snapshot: `changed_at` fixed, `remote_data` dropped
/// (the raw payloads are the simulator's; the snapshot is about mapping).
pub fn snapshot_of(out: &Path, models: &[&str]) -> serde_json::Map<String, Value> {
    let mut all = serde_json::Map::new();
    for model in models {
        let recs: Vec<Value> = read(out, model)
            .into_iter()
            .map(|mut v| {
                v["changed_at"] = "[run start]".into();
                if let Some(m) = v.as_object_mut() {
                    m.remove("remote_data");
                }
                v
            })
            .collect();
        all.insert(model.to_string(), recs.into());
    }
    all
}

/// Records a run of `spec` against `url` into a cassette and checks it equals the committed
/// `committed` cassette (rewritten first when `UPDATE_CASSETTE` is set); no credential in it.
pub async fn assert_cassette_fresh(
    spec: &Path,
    url: &str,
    credential: (&str, &str),
    committed: &str,
) {
    let tmp = tempfile::tempdir().unwrap();
    let cassette = tmp.path().join("recorded.cassette.ndjson");
    let (spec, url, c2, out) = (
        spec.to_path_buf(),
        url.to_owned(),
        cassette.clone(),
        tmp.path().join("out"),
    );
    let (var, value) = (credential.0.to_owned(), credential.1.to_owned());
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
            .arg("run")
            .arg(&spec)
            .args(["--base-url", &url, "--record"])
            .arg(&c2)
            .arg("--out")
            .arg(&out)
            .env(var, value)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recorded = std::fs::read_to_string(&cassette).unwrap();
    if std::env::var_os("UPDATE_CASSETTE").is_some() {
        std::fs::write(committed, &recorded).unwrap();
    }
    assert!(
        recorded == std::fs::read_to_string(committed).unwrap(),
        "{committed} is stale: rerun with UPDATE_CASSETTE=1"
    );
    assert!(
        !recorded.contains(credential.1),
        "credentials are never recorded"
    );
}

/// Two runs' outputs hold the same ids, in the same order, for each model.
pub fn assert_same_ids(a: &Path, b: &Path, models: &[&str]) {
    for model in models {
        let ids = |p: &Path| {
            read(p, model)
                .iter()
                .map(|r| r["id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(a), ids(b), "{model}");
    }
}

/// `mapper run SPEC --base-url URL` with `var` set to a key the server refuses: the exit
/// code and stderr (the binary runs off the async runtime, so the server keeps serving).
pub async fn run_with_wrong_key(spec: &str, url: &str, var: &str) -> (Option<i32>, String) {
    let (spec, url, var) = (spec.to_owned(), url.to_owned(), var.to_owned());
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
            .args(["run", &spec, "--base-url", &url, "--out"])
            .arg(&dir)
            .env(&var, "not-the-key")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !stderr.contains("not-the-key"),
        "the key is never shown: {stderr}"
    );
    (o.status.code(), stderr)
}

/// `mapper run SPEC --sandbox` with the credential `var` unset: its report.json, after
/// checking the run succeeded.
pub fn sandbox_report(spec: &str, var: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapper"))
        .args(["run", spec, "--sandbox", "--out"])
        .arg(dir.path())
        .env_remove(var)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap()
}
