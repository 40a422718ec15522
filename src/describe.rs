//! `mapper describe`: what a compiled connector reads and emits, as text or as stable JSON
//! (`describe_version` 1, documented in the README) for other tools.

use crate::compile::{BaseUrl, Pagination, Plan, Source};
use serde::Serialize;

/// A connector, described.
#[derive(Debug, Serialize)]
pub struct Description {
    /// Version of this JSON shape; a field is only ever added within one version.
    pub describe_version: u32,
    /// Connector name.
    pub name: String,
    /// Human title.
    pub title: Option<String>,
    /// The connector file.
    pub file: String,
    /// The base URL (a template when built from inputs).
    pub base_url: String,
    /// Inputs, in the file's order.
    pub inputs: Vec<InputInfo>,
    /// Auth alternatives, tried in order (one line each).
    pub auth: Vec<String>,
    /// Streams, in run order (each after those it depends on).
    pub streams: Vec<StreamInfo>,
    /// Models, in the unified order, with the fields each maps.
    pub models: Vec<ModelInfo>,
}

/// One input.
#[derive(Debug, Serialize)]
pub struct InputInfo {
    /// Name in templates (`inputs.<name>`).
    pub name: String,
    /// Environment variable.
    pub env: String,
    /// Redacted everywhere.
    pub secret: bool,
    /// Default value (secrets' defaults are not shown).
    pub default: Option<String>,
}

/// One stream.
#[derive(Debug, Serialize)]
pub struct StreamInfo {
    /// Name.
    pub name: String,
    /// `http`, `derived` or `static`.
    pub source: &'static str,
    /// The model it emits.
    pub model: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Path template.
    pub path: Option<String>,
    /// Pagination kind (`cursor`, `next_url`, `link_header`, `page_number`, `offset`, `none`).
    pub pagination: Option<&'static str>,
    /// The stream whose records it is fetched for (`for_each`).
    pub for_each: Option<String>,
    /// The stream it is derived from (`from`).
    pub from: Option<String>,
    /// Streams that finish before it.
    pub depends_on: Vec<String>,
    /// What `--delta` sends: `time <param>` or `token <param>`.
    pub delta: Option<String>,
    /// A tombstone stream: the model whose records it deletes.
    pub deletes: Option<String>,
}

/// One model.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Streams that emit it.
    pub streams: Vec<String>,
    /// The connector's note on it.
    pub note: Option<String>,
    /// Fields it fills, with their notes.
    pub fields: Vec<FieldInfo>,
}

/// One mapped field.
#[derive(Debug, Serialize)]
pub struct FieldInfo {
    /// Field name.
    pub name: String,
    /// Coverage note.
    pub note: Option<String>,
}

fn pagination_kind(p: &Pagination) -> &'static str {
    match p {
        Pagination::None => "none",
        Pagination::Cursor { .. } => "cursor",
        Pagination::NextUrl { .. } => "next_url",
        Pagination::LinkHeader { .. } => "link_header",
        Pagination::PageNumber { .. } => "page_number",
        Pagination::Offset { .. } => "offset",
    }
}

/// Describes a compiled connector.
pub fn describe(plan: &Plan) -> Description {
    let cov = crate::coverage::of(plan, &plan.file.display().to_string());
    let name_of = |i: crate::compile::StreamId| plan.streams[i].name.clone();
    let streams = plan
        .streams
        .iter()
        .map(|s| {
            let mut info = StreamInfo {
                name: s.name.clone(),
                source: "static",
                model: s.output.as_ref().map(|o| o.model.name.to_owned()),
                method: None,
                path: None,
                pagination: None,
                for_each: None,
                from: None,
                depends_on: s.deps.iter().map(|d| name_of(*d)).collect(),
                delta: None,
                deletes: s.tombstone.as_ref().map(|t| t.model.to_owned()),
            };
            match &s.source {
                Source::Http(h) => {
                    info.source = "http";
                    info.method = Some(h.method.to_string());
                    info.path = Some(h.path.as_str().to_owned());
                    info.pagination = Some(pagination_kind(&h.pagination));
                    info.for_each = h.for_each.map(name_of);
                    info.delta = h.delta.as_ref().map(|d| {
                        let kind = match d.kind {
                            crate::spec::DeltaKind::Token => "token",
                            crate::spec::DeltaKind::Time => "time",
                        };
                        format!("{kind} {}", d.param)
                    });
                }
                Source::Derive { from, .. } => {
                    info.source = "derived";
                    info.from = Some(name_of(*from));
                }
                Source::Static(_) => {}
            }
            info
        })
        .collect();
    let models = cov
        .models
        .iter()
        .map(|m| ModelInfo {
            name: m.name.to_owned(),
            streams: plan
                .models
                .iter()
                .find(|pm| pm.name == m.name)
                .map(|pm| {
                    pm.streams
                        .iter()
                        .map(|&s| plan.streams[s].name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            note: m.note.clone(),
            fields: m
                .fields
                .iter()
                .map(|(n, note)| FieldInfo {
                    name: n.clone(),
                    note: note.clone(),
                })
                .collect(),
        })
        .collect();
    Description {
        describe_version: 1,
        name: plan.name.clone(),
        title: plan.title.clone(),
        file: plan.file.display().to_string(),
        base_url: match &plan.base_url {
            BaseUrl::Fixed(u) => u.to_string(),
            BaseUrl::Template(t) => t.as_str().to_owned(),
        },
        inputs: plan
            .inputs
            .iter()
            .map(|i| InputInfo {
                name: i.name.clone(),
                env: i.env.clone(),
                secret: i.secret,
                default: if i.secret { None } else { i.default.clone() },
            })
            .collect(),
        auth: cov.auth,
        streams,
        models,
    }
}

/// The description as text for a terminal.
pub fn text(d: &Description) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} ({}): {}",
        d.title.as_deref().unwrap_or(&d.name),
        d.file,
        d.base_url
    );
    let _ = writeln!(o, "\ninputs:");
    for i in &d.inputs {
        let _ = writeln!(
            o,
            "  {:<20} from ${}{}{}",
            i.name,
            i.env,
            if i.secret { ", secret" } else { "" },
            i.default
                .as_ref()
                .map(|v| format!(", default {v}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(o, "\nauth (first alternative whose inputs are set):");
    for a in &d.auth {
        let _ = writeln!(o, "  {a}");
    }
    let _ = writeln!(o, "\nstreams:");
    for s in &d.streams {
        let what = match s.source {
            "http" => format!(
                "{} {} [{}]{}{}",
                s.method.as_deref().unwrap_or(""),
                s.path.as_deref().unwrap_or(""),
                s.pagination.unwrap_or(""),
                s.for_each
                    .as_ref()
                    .map(|f| format!(" for each {f}"))
                    .unwrap_or_default(),
                s.delta
                    .as_ref()
                    .map(|d| format!(", delta {d}"))
                    .unwrap_or_default()
            ),
            "derived" => format!("from {}", s.from.as_deref().unwrap_or("")),
            _ => "static records".to_owned(),
        };
        let emits = match (&s.model, &s.deletes) {
            (Some(m), _) => format!(" → {m}"),
            (None, Some(m)) => format!(" → deletes {m}"),
            _ => String::new(),
        };
        let _ = writeln!(o, "  {:<28} {what}{emits}", s.name);
    }
    let _ = writeln!(o, "\nmodels:");
    for m in &d.models {
        let _ = writeln!(o, "  {} (from {})", m.name, m.streams.join(", "));
        if let Some(n) = &m.note {
            let _ = writeln!(o, "    note: {n}");
        }
        for f in &m.fields {
            match &f.note {
                Some(n) => {
                    let _ = writeln!(o, "    {:<24} {n}", f.name);
                }
                None => {
                    let _ = writeln!(o, "    {}", f.name);
                }
            }
        }
    }
    o
}
