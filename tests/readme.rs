//! Every YAML example of the README's authoring guide compiles: each block is placed into a
//! small base connector (where, says the `<!-- example: ... -->` line above it; top level by
//! default), alternatives (a key written twice) one at a time, and compiled.

use serde_json::{Map, Value, json};
use std::path::Path;

/// Where a block goes.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// Top-level keys of the connector.
    Connector,
    /// Members of the `jobs` stream's `request`.
    Request,
    /// Members of the `jobs` stream.
    Stream,
    /// Entries of `streams`.
    Streams,
    /// A `fields:` mapping: each field goes to a stream of a model that has it.
    Fields,
}

fn base() -> Value {
    json!({
        "name": "readme",
        "base_url": "https://api.example.com",
        "inputs": {
            "api_key": {"env": "X_API_KEY"}, "token": {"env": "X_TOKEN"},
            "user": {"env": "X_USER"}, "pass": {"env": "X_PASS"},
            "client_id": {"env": "X_CLIENT_ID"}, "client_secret": {"env": "X_CLIENT_SECRET"},
            "region": {"env": "X_REGION", "secret": false, "default": "eu"},
            "region_host": {"env": "X_REGION_HOST", "secret": false, "default": "api.example.com"}
        },
        "auth": {"type": "api_key", "headers": {"X-Api-Key": "{{ inputs.api_key }}"}},
        "lookups": {
            "live_post_by_job": {"stream": "job_posts", "key": "$.job_id"},
            "pipeline": {"stream": "stages"}
        },
        "streams": {
            "jobs": {"model": "jobs", "request": {"path": "/v1/jobs"}, "fields": {"remote_id": "$.id"}},
            "job_posts": {"request": {"path": "/v1/job_posts"}},
            "stages": {"request": {"path": "/v1/stages"}},
            "users": {"model": "users", "request": {"path": "/v1/users"}, "fields": {"remote_id": "$.id"}},
            "candidates": {"model": "candidates", "request": {"path": "/v1/candidates"}, "fields": {"remote_id": "$.id"}},
            "applications": {"model": "applications", "request": {"path": "/v1/applications"}, "fields": {"remote_id": "$.id"}},
            "application_stages": {"model": "application_stages", "request": {"path": "/v1/job_stages"}, "fields": {"remote_id": "$.id"}},
            "interview_list": {"request": {"path": "/v1/interviews"}}
        }
    })
}

/// The YAML blocks of the authoring guide, each with its place and first line number.
fn blocks(readme: &str) -> Vec<(Place, usize, String)> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("## Authoring connectors"))
        .expect("the authoring guide");
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |e| start + 1 + e);
    let mut out = Vec::new();
    let mut i = start;
    while i < end {
        if lines[i].trim_start() == "```yaml" {
            let place = lines[i.saturating_sub(3)..i]
                .iter()
                .rev()
                .find_map(|l| {
                    let p = l
                        .trim()
                        .strip_prefix("<!-- example: ")?
                        .strip_suffix(" -->")?;
                    Some(match p {
                        "request" => Place::Request,
                        "stream" => Place::Stream,
                        "streams" => Place::Streams,
                        "fields" => Place::Fields,
                        "connector" => Place::Connector,
                        other => panic!("README line {}: unknown example place `{other}`", i),
                    })
                })
                .unwrap_or(Place::Connector);
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim_start() != "```")
                .copied()
                .collect();
            out.push((place, i + 2, dedent(&body)));
            i += body.len() + 1;
        }
        i += 1;
    }
    out
}

fn dedent(lines: &[&str]) -> String {
    let n = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| if l.len() >= n { &l[n..] } else { l.trim() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a block into alternatives: a top-level key written again starts the next one.
fn alternatives(text: &str) -> Vec<String> {
    let mut groups: Vec<(Vec<String>, Vec<&str>)> = vec![(Vec::new(), Vec::new())];
    for line in text.lines() {
        let top = !line.starts_with([' ', '#']) && !line.trim().is_empty();
        if top {
            let key = line.split(':').next().unwrap_or("").trim().to_owned();
            if groups.last().unwrap().0.contains(&key) {
                groups.push((Vec::new(), Vec::new()));
            }
            groups.last_mut().unwrap().0.push(key);
        }
        groups.last_mut().unwrap().1.push(line);
    }
    groups.into_iter().map(|(_, l)| l.join("\n")).collect()
}

fn model_for(field: &str) -> &'static str {
    const ORDER: &[&str] = &[
        "jobs",
        "candidates",
        "applications",
        "job_postings",
        "application_stages",
        "users",
        "interviews",
        "offers",
        "job_hiring_team_members",
    ];
    ORDER
        .iter()
        .find(|m| mapper::compile::schema::model(m).is_some_and(|s| s.fields().contains(&field)))
        .copied()
        .unwrap_or_else(|| panic!("no unified model has a field `{field}`"))
}

/// Merges a stream of an example into the base's stream of that name (members replaced).
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                a.insert(k, v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn place(doc: &mut Value, place: &Place, frag: Value) {
    let Value::Object(frag) = frag else {
        panic!("an example block is a mapping")
    };
    match place {
        Place::Connector => {
            for (k, v) in frag {
                match (k.as_str(), v) {
                    ("streams", Value::Object(m)) => {
                        for (name, x) in m {
                            merge(&mut doc["streams"][name], x);
                        }
                    }
                    ("lookups" | "inputs", Value::Object(m)) => {
                        for (name, x) in m {
                            doc[&k][name] = x;
                        }
                    }
                    (_, v) => doc[&k] = v,
                }
            }
        }
        Place::Request => {
            for (k, v) in frag {
                doc["streams"]["jobs"]["request"][k] = v;
            }
        }
        Place::Stream => {
            for (k, v) in frag {
                doc["streams"]["jobs"][k] = v;
            }
        }
        Place::Streams => {
            for (k, v) in frag {
                merge(&mut doc["streams"][k], v);
            }
        }
        Place::Fields => {
            let fields = frag
                .get("fields")
                .and_then(Value::as_object)
                .expect("fields:");
            let mut per_model: Map<String, Value> = Map::new();
            for (f, v) in fields {
                let m = model_for(f);
                let entry = per_model.entry(m).or_insert_with(|| {
                    let join = m == "job_hiring_team_members";
                    let mut s = json!({
                        "model": m, "from": "jobs",
                        "explode": [{"path": "$.items[*]", "vars": {"role": "RECRUITER"}}],
                        "fields": {}
                    });
                    if join {
                        s["key"] = json!(["job_id", "user_id"]);
                        s["fields"]["job_id"] =
                            json!({"path": "$.id", "of": "parent", "ref": "jobs"});
                        s["fields"]["user_id"] = json!("$.user");
                    } else {
                        s["fields"]["remote_id"] = json!("$.id");
                    }
                    s
                });
                entry["fields"][f] = v.clone();
            }
            for (m, s) in per_model {
                doc["streams"][format!("example_{m}")] = s;
            }
        }
    }
}

#[test]
fn every_yaml_example_of_the_authoring_guide_compiles() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let all = blocks(&readme);
    assert!(all.len() >= 12, "found {} blocks", all.len());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut compiled = 0;
    for (place_, line, text) in &all {
        for alt in alternatives(text) {
            let frag: Value = match serde_saphyr::from_str(&alt) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("README.md:{line}: not YAML: {e}\n{alt}"));
                    continue;
                }
            };
            let mut doc = base();
            place(&mut doc, place_, frag);
            if let Some(c) = doc["sandbox"]["cassette"].as_str() {
                std::fs::write(dir.path().join(c), "").unwrap();
            }
            let file = dir.path().join("readme.yaml");
            let text = serde_json::to_string_pretty(&doc).unwrap();
            std::fs::write(&file, &text).unwrap();
            match mapper::compile::compile_file(Path::new(&file)) {
                Ok(_) => compiled += 1,
                Err(e) => failures.push(format!(
                    "README.md:{line}: {}\n{alt}",
                    e.diagnostics()
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compiled >= 20, "{compiled} examples compiled");
}
