//! Reading a connector file: YAML → [`Spec`] plus a map from spec paths to line:column.
//!
//! This is the only place that knows the YAML library: `serde-saphyr` deserializes the typed
//! spec (reporting syntax errors, unknown keys and wrong types with their location), and its
//! event parser records where every node of the document sits, so later stages can point at
//! `streams.candidates.fields.email` by line and column.

use super::Spec;
use serde_saphyr::granit_parser::{Event, Parser};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a connector file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// Where each node of a connector file sits, by spec path (`streams.jobs.fields.name`,
/// `streams.jobs.records[0]`).
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// Display name of the file.
    pub file: String,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl SourceMap {
    /// Position of the value at `path`, else of the nearest ancestor that exists.
    pub fn pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p) {
                return *pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => {
                    return self
                        .values
                        .get("")
                        .copied()
                        .unwrap_or(Pos { line: 1, col: 1 });
                }
            }
        }
    }

    /// Position of the key of the mapping entry at `path` (falls back to [`SourceMap::pos`]).
    pub fn key_pos(&self, path: &str) -> Pos {
        self.keys
            .get(path)
            .copied()
            .unwrap_or_else(|| self.pos(path))
    }

    /// The spec path of the deepest node that starts at or before `pos`.
    pub fn path_at(&self, pos: Pos) -> String {
        let mut best: Option<(&String, Pos)> = None;
        for (path, p) in self.keys.iter().chain(self.values.iter()) {
            if *p <= pos && best.is_none_or(|(bp, b)| *p > b || (*p == b && path.len() > bp.len()))
            {
                best = Some((path, *p));
            }
        }
        best.map(|(p, _)| p.clone()).unwrap_or_default()
    }
}

/// Why a connector file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// YAML syntax, an unknown key, a missing key or a wrong type.
    #[error("{file}:{}:{}: {}{message}", pos.line, pos.col, if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Yaml {
        /// The file.
        file: String,
        /// Where.
        pos: Pos,
        /// Spec path of the node, when known.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads and deserializes a connector file.
pub fn load_file(path: &Path) -> Result<(Spec, SourceMap, PathBuf), LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: file.clone(),
        source,
    })?;
    let (spec, map) = load_str(&file, &text)?;
    Ok((spec, map, path.to_path_buf()))
}

/// Deserializes a connector from text; `file` names it in errors.
pub fn load_str(file: &str, text: &str) -> Result<(Spec, SourceMap), LoadError> {
    let map = source_map(file, text).map_err(|(pos, message)| LoadError::Yaml {
        file: file.to_owned(),
        pos,
        path: String::new(),
        message,
    })?;
    let spec: Spec = serde_saphyr::from_str(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line() as u32,
                col: l.column() as u32,
            })
            .unwrap_or(Pos { line: 1, col: 1 });
        LoadError::Yaml {
            file: file.to_owned(),
            pos,
            path: map.path_at(pos),
            message: clean_message(&e),
        }
    })?;
    Ok((spec, map))
}

/// The library's message without its own snippet and position suffix.
fn clean_message(e: &serde_saphyr::Error) -> String {
    let msg = e.without_snippet().to_string();
    let first = msg.lines().next().unwrap_or("").trim();
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

enum Frame {
    Map {
        path: String,
        key: Option<(String, Pos)>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Walks the YAML events and records the position of every node by spec path.
fn source_map(file: &str, text: &str) -> Result<SourceMap, (Pos, String)> {
    let mut map = SourceMap {
        file: file.to_owned(),
        ..Default::default()
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, ()> = HashMap::new();
    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| {
            let m = e.marker();
            (
                Pos {
                    line: m.line() as u32,
                    col: m.col() as u32 + 1,
                },
                e.info().to_owned(),
            )
        })?;
        let pos = Pos {
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        };
        // The path a new node gets, given where we are; `None` when it is a mapping key.
        let node_path = |stack: &mut Vec<Frame>| -> Option<String> {
            match stack.last_mut() {
                None => Some(String::new()),
                Some(Frame::Seq { path, index }) => {
                    let p = format!("{path}[{index}]");
                    *index += 1;
                    Some(p)
                }
                Some(Frame::Map {
                    key: Some((k, _)),
                    path,
                }) => Some(child_path(path, k)),
                Some(Frame::Map { key: None, .. }) => None,
            }
        };
        match event {
            Event::Scalar(value, _, anchor, _) => {
                if anchor != 0 {
                    anchors.insert(anchor, ());
                }
                match node_path(&mut stack) {
                    Some(p) => {
                        map.values.insert(p, pos);
                        if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                            *key = None;
                        }
                    }
                    None => {
                        if let Some(Frame::Map { key, path }) = stack.last_mut() {
                            map.keys.insert(child_path(path, &value), pos);
                            *key = Some((value.into_owned(), pos));
                        }
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(p) = node_path(&mut stack) {
                    map.values.insert(p, pos);
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = None;
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let p = node_path(&mut stack).unwrap_or_default();
                map.values.insert(p.clone(), pos);
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map { path: p, key: None }
                } else {
                    Frame::Seq { path: p, index: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = None;
                }
            }
            _ => {}
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_positions() {
        let text = "name: x\nstreams:\n  jobs:\n    fields:\n      name: $.title\n    records: [\"$.a\"]\n";
        let m = source_map("t.yaml", text).unwrap();
        assert_eq!(m.pos("streams.jobs.fields.name"), Pos { line: 5, col: 13 });
        assert_eq!(
            m.key_pos("streams.jobs.fields.name"),
            Pos { line: 5, col: 7 }
        );
        assert_eq!(m.pos("streams.jobs.records[0]"), Pos { line: 6, col: 15 });
        assert_eq!(
            m.pos("streams.jobs.fields.missing"),
            Pos { line: 5, col: 7 }
        );
        assert_eq!(
            m.path_at(Pos { line: 5, col: 20 }),
            "streams.jobs.fields.name"
        );
    }
}
