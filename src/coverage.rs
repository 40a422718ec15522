//! Coverage docs generated from compiled plans: per connector, the models and fields it
//! really maps, with notes; a models × connectors matrix; optionally the share of non-null
//! values observed in a run's output.

use crate::compile::schema;
use crate::compile::{Auth, FieldValue, Plan};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What a connector covers.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// Connector name.
    pub name: String,
    /// Human title.
    pub title: String,
    /// Connector notes.
    pub notes: Option<String>,
    /// Connector file, as given.
    pub file: String,
    /// How it authenticates.
    pub auth: Vec<String>,
    /// Models in the unified order.
    pub models: Vec<ModelCoverage>,
}

/// One model of a connector.
#[derive(Debug, Clone)]
pub struct ModelCoverage {
    /// Unified model name.
    pub name: &'static str,
    /// Notes of the streams that emit it.
    pub note: Option<String>,
    /// Fields it fills, with notes.
    pub fields: Vec<(String, Option<String>)>,
}

/// Human name of a model (`job_postings` → `Job postings`).
pub fn title_of(model: &str) -> String {
    let s = model.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// One line per auth alternative: its kind and the variables it reads.
pub fn auth_lines(auth: &Auth, plan: &Plan) -> Vec<String> {
    let env = |names: Vec<String>| -> String {
        names
            .iter()
            .map(|n| format!("`{}`", plan.env_of(n)))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    match auth {
        Auth::AnyOf(opts) => opts.iter().flat_map(|a| auth_lines(a, plan)).collect(),
        a => vec![format!("{} from {}", a.kind(), env(a.inputs()))],
    }
}

/// The coverage of a compiled connector, taken from its plan.
pub fn of(plan: &Plan, file: &str) -> Coverage {
    let mut models = Vec::new();
    for m in &plan.models {
        let schema = schema::model(m.name).expect("unified model");
        let mut mapped: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let mut has_remote_data = false;
        let mut notes = Vec::new();
        for &sid in &m.streams {
            let s = &plan.streams[sid];
            if let Some(n) = &s.note {
                notes.push(n.trim().to_owned());
            }
            let out = s.output.as_ref().expect("an emitting stream");
            for f in &out.fields {
                match &f.value {
                    FieldValue::Mapped(_) => {
                        let e = mapped.entry(f.name.as_str()).or_insert(None);
                        if e.is_none() {
                            *e = f.note.clone();
                        }
                    }
                    FieldValue::RemoteData if !out.remote_data.is_empty() => has_remote_data = true,
                    _ => {}
                }
            }
        }
        let mut fields: Vec<(String, Option<String>)> = vec![("id".into(), None)];
        if !schema.join {
            fields.push(("remote_id".into(), mapped.remove("remote_id").flatten()));
        }
        fields.push(("changed_at".into(), None));
        fields.push((
            "remote_deleted_at".into(),
            mapped.remove("remote_deleted_at").flatten(),
        ));
        // the model's own fields in schema order, then the generic containers
        let tail = ["custom_fields", "integration_fields"];
        for f in schema
            .fields()
            .into_iter()
            .filter(|f| !tail.contains(f))
            .chain(tail)
        {
            if let Some(note) = mapped.remove(f) {
                fields.push((f.to_owned(), note));
            }
        }
        if has_remote_data {
            fields.push(("remote_data".into(), None));
        }
        models.push(ModelCoverage {
            name: m.name,
            note: (!notes.is_empty()).then(|| notes.join(" ")),
            fields,
        });
    }
    Coverage {
        name: plan.name.clone(),
        title: plan.title.clone().unwrap_or_else(|| plan.name.clone()),
        notes: plan.notes.as_ref().map(|n| n.trim().to_owned()),
        file: file.to_owned(),
        auth: plan
            .auth
            .as_ref()
            .map(|a| auth_lines(a, plan))
            .unwrap_or_else(|| vec!["none".into()]),
        models,
    }
}

/// Share of records whose field is set (not null, not empty), per model and field, read
/// from a run's output folder. The folder's `report.json` names the connector.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Connector name.
    pub connector: String,
    /// model → (records, field → records with a value).
    pub models: BTreeMap<String, (u64, BTreeMap<String, u64>)>,
}

/// Reads a run's output folder.
pub fn observe(dir: &Path) -> std::io::Result<Observed> {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json"))?)
            .map_err(std::io::Error::other)?;
    let connector = report["connector"].as_str().unwrap_or_default().to_owned();
    let mut models = BTreeMap::new();
    for name in schema::model_names() {
        let path = dir.join(format!("{name}.ndjson"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut total = 0u64;
        let mut set: BTreeMap<String, u64> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let rec: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
            total += 1;
            if let Some(obj) = rec.as_object() {
                for (k, v) in obj {
                    let has = match v {
                        serde_json::Value::Null => false,
                        serde_json::Value::Array(a) => !a.is_empty(),
                        serde_json::Value::Object(o) => !o.is_empty(),
                        serde_json::Value::String(s) => !s.is_empty(),
                        _ => true,
                    };
                    *set.entry(k.clone()).or_default() += has as u64;
                }
            }
        }
        models.insert(name.to_owned(), (total, set));
    }
    Ok(Observed { connector, models })
}

fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The Markdown page of one connector.
pub fn connector_page(c: &Coverage, observed: Option<&Observed>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} (`{}`)\n", c.title, c.name);
    let _ = writeln!(
        s,
        "<!-- Generated by `mapper coverage` from {}; do not edit. -->\n",
        c.file
    );
    if let Some(n) = &c.notes {
        let _ = writeln!(s, "{}\n", n);
    }
    let _ = writeln!(s, "- Connector: `{}`", c.file);
    for (i, a) in c.auth.iter().enumerate() {
        let _ = writeln!(s, "- {}{}", if i == 0 { "Auth: " } else { "or: " }, a);
    }
    if let Some(o) = observed {
        let _ = writeln!(
            s,
            "- Observed: share of records with a value, in a run of `{}`",
            o.connector
        );
    }
    let _ = writeln!(s, "\n## Models\n");
    for m in &c.models {
        let _ = writeln!(s, "- [{}](#{})", title_of(m.name), m.name.replace('_', "-"));
    }
    for m in &c.models {
        let _ = writeln!(
            s,
            "\n## {}\n\n<a id=\"{}\"></a>Unified model `{}`.\n",
            title_of(m.name),
            m.name.replace('_', "-"),
            m.name
        );
        if let Some(n) = &m.note {
            let _ = writeln!(s, "{}\n", n);
        }
        let obs = observed.and_then(|o| o.models.get(m.name));
        match obs {
            Some(_) => {
                let _ = writeln!(s, "| Field | Notes | Observed |\n|---|---|---|");
            }
            None => {
                let _ = writeln!(s, "| Field | Notes |\n|---|---|");
            }
        }
        for (f, note) in &m.fields {
            let note = note.as_deref().map(cell).unwrap_or_default();
            match obs {
                Some((total, set)) => {
                    let share = if *total == 0 {
                        "–".to_owned()
                    } else {
                        format!(
                            "{}%",
                            (set.get(f).copied().unwrap_or(0) * 100 + total / 2) / total
                        )
                    };
                    let _ = writeln!(s, "| {f} | {note} | {share} |");
                }
                None => {
                    let _ = writeln!(s, "| {f} | {note} |");
                }
            }
        }
    }
    s
}

/// The index page: models × connectors, then fields × connectors per model.
pub fn index_page(all: &[Coverage]) -> String {
    let mut s = String::from(
        "# Coverage\n\n<!-- Generated by `mapper coverage`; do not edit. -->\n\nWhich unified models and fields each connector fills. Each connector's page lists its fields with notes.\n\n",
    );
    let head = |s: &mut String, first: &str| {
        let _ = write!(s, "| {first} |");
        for c in all {
            let _ = write!(s, " [{}]({}.md) |", c.name, c.name);
        }
        let _ = write!(s, "\n|---|");
        for _ in all {
            let _ = write!(s, ":---:|");
        }
        s.push('\n');
    };
    head(&mut s, "Model");
    for m in schema::model_names() {
        let _ = write!(s, "| [{}](#{}) |", m, m.replace('_', "-"));
        for c in all {
            let _ = write!(
                s,
                " {} |",
                if c.models.iter().any(|x| x.name == m) {
                    "✓"
                } else {
                    ""
                }
            );
        }
        s.push('\n');
    }
    for m in schema::model_names() {
        if !all.iter().any(|c| c.models.iter().any(|x| x.name == m)) {
            continue;
        }
        let _ = writeln!(s, "\n## {m}\n\n<a id=\"{}\"></a>", m.replace('_', "-"));
        head(&mut s, "Field");
        let schema = schema::model(m).expect("unified model");
        for f in schema.fields() {
            let _ = write!(s, "| {f} |");
            for c in all {
                let has = c
                    .models
                    .iter()
                    .find(|x| x.name == m)
                    .is_some_and(|x| x.fields.iter().any(|(n, _)| n == f));
                let _ = write!(s, " {} |", if has { "✓" } else { "" });
            }
            s.push('\n');
        }
    }
    s
}

/// The HTML page (no JavaScript): per connector and model how many of the model's mappable
/// fields are filled, then per model a field view with notes and, from `observed` runs, the
/// share of records where each field has a value. Rendered from a minijinja template with
/// HTML autoescaping, so a note's quotes and brackets cannot break the page.
pub fn index_html(all: &[Coverage], observed: &[Observed]) -> String {
    let computed = schema::COMPUTED_FIELDS;
    let models: Vec<serde_json::Value> = schema::model_names()
        .filter_map(|m| {
            let sch = schema::model(m)?;
            let mappable: Vec<&str> = sch
                .fields()
                .into_iter()
                .filter(|f| !computed.contains(f))
                .collect();
            let cells: Vec<serde_json::Value> = all
                .iter()
                .map(|c| match c.models.iter().find(|x| x.name == m) {
                    Some(x) => serde_json::json!({
                        "covered": x.fields.iter().filter(|(f, _)| mappable.contains(&f.as_str())).count()
                    }),
                    None => serde_json::Value::Null,
                })
                .collect();
            let fields: Vec<serde_json::Value> = mappable
                .iter()
                .map(|f| {
                    let cells: Vec<serde_json::Value> = all
                        .iter()
                        .map(|c| {
                            let mapped = c
                                .models
                                .iter()
                                .find(|x| x.name == m)
                                .and_then(|x| x.fields.iter().find(|(n, _)| n == f));
                            let share = observed
                                .iter()
                                .find(|o| o.connector == c.name)
                                .and_then(|o| o.models.get(m))
                                .filter(|(total, _)| *total > 0)
                                .map(|(total, set)| {
                                    (set.get(*f).copied().unwrap_or(0) * 100 + total / 2) / total
                                });
                            serde_json::json!({
                                "mapped": mapped.is_some(),
                                "note": mapped.and_then(|(_, n)| n.clone()),
                                "observed": if mapped.is_some() { share } else { None },
                            })
                        })
                        .collect();
                    serde_json::json!({"name": f, "cells": cells})
                })
                .collect();
            let filled = cells.iter().any(|c| !c.is_null());
            Some(serde_json::json!({
                "name": m, "mappable": mappable.len(), "cells": cells,
                "fields": fields, "filled": filled,
            }))
        })
        .collect();
    let connectors: Vec<serde_json::Value> = all
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "title": c.title}))
        .collect();
    let mut env = minijinja::Environment::new();
    // autoescaping follows the template's name: `.html` escapes HTML
    env.set_auto_escape_callback(minijinja::default_auto_escape_callback);
    let ctx = serde_json::json!({
        "connectors": connectors, "models": models, "computed": computed,
        "observed": !observed.is_empty(),
    });
    env.add_template("index.html", INDEX_HTML)
        .and_then(|()| env.get_template("index.html"))
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(&ctx))))
        // the template is ours and fixed; a failure is a bug in it, shown on the page
        .unwrap_or_else(|e| format!("<!doctype html><p>coverage template error: {e}</p>\n"))
}

/// The template of the HTML page.
const INDEX_HTML: &str = include_str!("coverage_templates/index.html");
