//! Snapshot of the example connector's unified output (every model, every record).

mod common;

use mapper::compile::compile_file;
use mapper::run::{RunOptions, run};
use std::path::Path;
use std::sync::Arc;

#[tokio::test]
async fn example_output_snapshot() {
    let server = common::start(common::Config::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(dir.path().to_path_buf());
    o.base_url = Some(url::Url::parse(&server.url()).unwrap());
    o.env = [("ACME_API_KEY".to_owned(), "test-key-123".to_owned())].into();
    let plan = Arc::new(compile_file(Path::new("tests/fixtures/example.yaml")).unwrap());
    let report = run(plan.clone(), o).await.unwrap();
    assert_eq!(report.status, mapper::run::output::Status::Success);
    let mut all = serde_json::Map::new();
    for m in &plan.models {
        let text = std::fs::read_to_string(dir.path().join(format!("{}.ndjson", m.name))).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["changed_at"] = "[run start]".into();
                v
            })
            .collect();
        all.insert(m.name.to_owned(), records.into());
    }
    insta::assert_json_snapshot!("example_unified_output", all);
}
