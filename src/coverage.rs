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

fn auth_lines(auth: &Auth, plan: &Plan) -> Vec<String> {
    let env = |names: Vec<String>| -> String {
        names
            .iter()
            .map(|n| {
                plan.inputs
                    .iter()
                    .find(|i| &i.name == n)
                    .map(|i| format!("`{}`", i.env))
                    .unwrap_or_else(|| n.clone())
            })
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

/// A static HTML rendering of the model matrix (no JavaScript).
pub fn index_html(all: &[Coverage]) -> String {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut s = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mapper coverage</title>\n<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem}td.y{text-align:center;color:#060}th{background:#f4f4f4}</style></head><body>\n<h1>Coverage</h1>\n<!-- Generated by `mapper coverage`; do not edit. -->\n<table><thead><tr><th>Model</th>",
    );
    for c in all {
        let _ = write!(s, "<th><a href=\"{0}.md\">{0}</a></th>", esc(&c.name));
    }
    s.push_str("</tr></thead><tbody>\n");
    for m in schema::model_names() {
        let _ = write!(s, "<tr><th>{}</th>", esc(m));
        for c in all {
            match c.models.iter().find(|x| x.name == m) {
                Some(x) => {
                    let _ = write!(
                        s,
                        "<td class=\"y\" title=\"{} fields\">✓ {}</td>",
                        x.fields.len(),
                        x.fields.len()
                    );
                }
                None => s.push_str("<td></td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n<p>✓ n: the connector fills the model, with n fields.</p>\n</body></html>\n");
    s
}
