//! Coverage docs: the committed ones are fresh, the generated pages of Gem and
//! SmartRecruiters have the models and fields of the seed pages (with notes where those
//! annotate), and observed coverage reports real shares.

use mapper::compile::compile_file;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn mapper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mapper"))
}

#[test]
fn committed_docs_are_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let out = mapper()
        .args(["coverage", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // one page per connector in connectors/, plus the matrix in two formats
    let mut expected: Vec<String> = std::fs::read_dir("connectors")
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".yaml").map(|s| format!("{s}.md"))
        })
        .chain(["README.md".to_owned(), "index.html".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for n in names {
        let fresh = std::fs::read_to_string(dir.path().join(&n)).unwrap();
        let committed =
            std::fs::read_to_string(Path::new("docs/coverage").join(&n)).unwrap_or_default();
        assert!(
            fresh == committed,
            "docs/coverage/{n} is stale: run `cargo run -- coverage` and commit it"
        );
    }
}

/// model → (annotated, fields with their annotated flag), from tests/fixtures/coverage/*.txt.
fn seed(name: &str) -> BTreeMap<String, (bool, Vec<(String, bool)>)> {
    let text = std::fs::read_to_string(format!("tests/fixtures/coverage/{name}.txt")).unwrap();
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (model, fields) = line.split_once(':').unwrap();
        let fields: Vec<(String, bool)> = fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| (f.trim_end_matches('*').to_owned(), f.ends_with('*')))
            .collect();
        out.insert(
            model.trim_end_matches('*').to_owned(),
            (model.ends_with('*'), fields),
        );
    }
    out
}

#[test]
fn generated_pages_match_the_seed_pages() {
    for name in ["gem", "smartrecruiters"] {
        let plan = compile_file(Path::new(&format!("connectors/{name}.yaml"))).unwrap();
        let cov = mapper::coverage::of(&plan, name);
        let seed = seed(name);
        let ours: BTreeSet<&str> = cov.models.iter().map(|m| m.name).collect();
        let theirs: BTreeSet<&str> = seed.keys().map(|s| s.as_str()).collect();
        assert_eq!(ours, theirs, "{name}: models");
        for m in &cov.models {
            let (annotated, fields) = &seed[m.name];
            if *annotated {
                assert!(
                    m.note.is_some(),
                    "{name}.{}: the reference annotates the model; ours has no note",
                    m.name
                );
            }
            if fields.is_empty() {
                continue; // the reference has no field table for this model
            }
            let ours: BTreeSet<&str> = m.fields.iter().map(|(f, _)| f.as_str()).collect();
            let theirs: BTreeSet<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(ours, theirs, "{name}.{}: fields", m.name);
            for (f, annotated) in fields {
                if *annotated {
                    let note = &m.fields.iter().find(|(x, _)| x == f).unwrap().1;
                    assert!(
                        note.is_some(),
                        "{name}.{}.{f}: the reference annotates the field; ours has no note",
                        m.name
                    );
                }
            }
        }
    }
}

#[test]
fn observed_coverage_reports_shares_of_a_real_run() {
    let run = tempfile::tempdir().unwrap();
    let o = mapper()
        .args(["run", "connectors/gem.yaml", "--sandbox", "--out"])
        .arg(run.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let docs = tempfile::tempdir().unwrap();
    let o = mapper()
        .args(["coverage", "connectors/gem.yaml", "--out"])
        .arg(docs.path())
        .arg("--observed")
        .arg(run.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(docs.path().join("gem.md")).unwrap();
    // the share of candidates with an email address, computed here from the output
    let cands: Vec<serde_json::Value> =
        std::fs::read_to_string(run.path().join("candidates.ndjson"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let with = cands
        .iter()
        .filter(|c| !c["email_addresses"].as_array().unwrap().is_empty())
        .count();
    let share = (with * 100 + cands.len() / 2) / cands.len();
    assert!(share > 0 && share < 100);
    assert!(
        page.contains(&format!("| email_addresses |  | {share}% |")),
        "{page}"
    );
    assert!(page.contains("| Field | Notes | Observed |"));
    assert!(page.contains("| id |  | 100% |"));
}

/// A Chromium (or Chrome) binary: `MAPPER_CHROMIUM`, else the usual names on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MAPPER_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

#[test]
fn the_html_matrix_renders_in_a_headless_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_html_matrix_renders_in_a_headless_browser: no Chromium on this machine (apt-get install chromium; .ci/run installs it)"
        );
        return;
    };
    let run = tempfile::tempdir().unwrap();
    let o = mapper()
        .args(["run", "connectors/greenhouse.yaml", "--sandbox", "--out"])
        .arg(run.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let docs = tempfile::tempdir().unwrap();
    let o = mapper()
        .args(["coverage", "--out"])
        .arg(docs.path())
        .arg("--observed")
        .arg(run.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = docs.path().join("index.html");
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8_lossy(&o.stdout);
    // the browser built the matrix: one header per connector, one cell per connector and
    // model, covered counts out of the mappable fields, and the observed shares
    let connectors = std::fs::read_dir("connectors")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    let matrix = dom
        .split("<table id=\"matrix\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no matrix in the rendered page: {dom}"));
    let rows = matrix.matches("<tr>").count() - 1;
    assert_eq!(rows, 16, "one row per unified model");
    assert_eq!(
        matrix.matches("<td").count(),
        rows * connectors,
        "one cell per model and connector"
    );
    assert!(matrix.contains("data-covered=\"") && matrix.contains("greenhouse"));
    let gh_jobs = dom.split("id=\"jobs\"").nth(1).unwrap();
    assert!(gh_jobs.contains('%'), "observed shares are shown");
}
