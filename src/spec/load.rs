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

    /// The spec path of the mapping key that starts exactly at `pos`, if any.
    pub fn key_at(&self, pos: Pos) -> Option<String> {
        self.keys
            .iter()
            .filter(|(_, p)| **p == pos)
            .map(|(k, _)| k.clone())
            .min_by_key(|k| k.len())
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
    #[error("{file}: cannot read: {}", io_reason(source))]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{file}: is a directory, not a connector file")]
    Directory {
        /// The path.
        file: String,
    },
    /// The file is larger than any connector.
    #[error(
        "{file}: the file is {size} bytes; a connector file may be at most {MAX_FILE_BYTES} bytes"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: u64,
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

/// Largest connector file read (far beyond any real connector).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// An I/O error in words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        }
    }
}

/// Reads and deserializes a connector file.
pub fn load_file(path: &Path) -> Result<(Spec, SourceMap, PathBuf), LoadError> {
    let file = path.display().to_string();
    let io = |source| LoadError::Io {
        file: file.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(LoadError::Directory { file });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            file,
            size: meta.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let (spec, map) = load_bytes(&file, bytes)?;
    Ok((spec, map, path.to_path_buf()))
}

/// Deserializes a connector from the bytes of a file (which must be UTF-8); `file` names it.
pub fn load_bytes(file: &str, bytes: Vec<u8>) -> Result<(Spec, SourceMap), LoadError> {
    let text = utf8(file, bytes)?;
    load_str(file, &text)
}

/// The text of a file, or where its first byte that is not UTF-8 sits.
fn utf8(file: &str, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        LoadError::Yaml {
            file: file.to_owned(),
            pos: Pos {
                line: before.iter().filter(|b| **b == b'\n').count() as u32 + 1,
                col: col as u32,
            },
            path: String::new(),
            message: format!(
                "the file is not UTF-8: byte 0x{:02X} at byte offset {at} is not valid UTF-8 (save the file as UTF-8)",
                bytes[at]
            ),
        }
    })
}

/// Deserializes a connector from text; `file` names it in errors.
pub fn load_str(file: &str, text: &str) -> Result<(Spec, SourceMap), LoadError> {
    let blank = text.lines().all(|l| {
        let l = l.trim_start_matches('\u{feff}').trim();
        l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
    });
    if blank {
        return Err(LoadError::Yaml {
            file: file.to_owned(),
            pos: Pos { line: 1, col: 1 },
            path: String::new(),
            message:
                "the file is empty: a connector needs at least `name`, `base_url` and `streams`"
                    .into(),
        });
    }
    let map = source_map(file, text).map_err(|(pos, message)| LoadError::Yaml {
        file: file.to_owned(),
        pos: Pos {
            line: pos.line.max(1),
            col: pos.col.max(1),
        },
        path: String::new(),
        message: author_message(&message),
    })?;
    let spec: Spec = serde_saphyr::from_str(text).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line() as u32,
                col: l.column() as u32,
            })
            .filter(|p| p.line > 0 && p.col > 0)
            .unwrap_or(Pos { line: 1, col: 1 });
        let mut message = clean_message(&e);
        let mut path = map.path_at(pos);
        let mut pos = pos;
        if let Some(rest) = message.strip_prefix("missing field ") {
            // reported at the last key read; the key is missing from that key's mapping
            message = format!("missing key {rest}");
            let parent = match map.key_at(pos) {
                Some(k) => k.rfind('.').map(|i| k[..i].to_owned()).unwrap_or_default(),
                None => path.clone(),
            };
            pos = if parent.is_empty() {
                map.pos("")
            } else {
                map.key_pos(&parent)
            };
            path = parent;
        }
        if [
            "invalid u",
            "invalid i",
            "invalid floating point",
            "invalid type",
        ]
        .iter()
        .any(|p| message.starts_with(p))
        {
            message = number_message(&message, scalar_at(text, pos));
        }
        if message.starts_with("the file holds more than one YAML document") {
            path.clear(); // about the file, not the key where the second document starts
        }
        LoadError::Yaml {
            file: file.to_owned(),
            pos,
            path,
            message,
        }
    })?;
    Ok((spec, map))
}

/// The library's message without its own snippet and position suffix, in the author's
/// terms: no parser options, budget names or serde type names.
fn clean_message(e: &serde_saphyr::Error) -> String {
    let mut inner = e;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    if let serde_saphyr::Error::Budget { breach, .. } = inner {
        return budget_message(breach);
    }
    let msg = e.without_snippet().to_string();
    let first = msg.lines().next().unwrap_or("").trim();
    let first = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    author_message(first)
}

/// The plain scalar written at `pos` (for "got ..." in messages), if short.
fn scalar_at(text: &str, pos: Pos) -> Option<String> {
    let line = text.lines().nth(pos.line.checked_sub(1)? as usize)?;
    let rest: String = line
        .chars()
        .skip(pos.col.checked_sub(1)? as usize)
        .collect();
    let token: String = rest
        .chars()
        .take_while(|c| !matches!(c, ',' | '}' | ']' | '#') && !c.is_whitespace())
        .collect();
    (!token.is_empty() && token.chars().count() <= 40).then_some(token)
}

/// Wrong numbers in words: the kind expected and the value written.
fn number_message(msg: &str, got: Option<String>) -> String {
    let expected = if msg.starts_with("invalid u") {
        "a whole number (0 or more)"
    } else if msg.starts_with("invalid i") {
        "a whole number"
    } else if msg.starts_with("invalid floating point") {
        "a number"
    } else {
        return msg.to_owned();
    };
    match got {
        Some(g) => format!("expected {expected} here, not `{g}`"),
        None => format!("expected {expected} here"),
    }
}

/// A YAML limit in words.
fn budget_message(b: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    match b {
        B::Depth { .. } => {
            "the document nests deeper than 64 levels; no connector needs that many".into()
        }
        B::Aliases { .. } | B::Anchors { .. } => {
            "the document has too many anchors or aliases (`&name`, `*name`)".into()
        }
        B::Nodes { .. } | B::Events { .. } => {
            "the document is too large once its aliases are expanded (does an alias repeat another alias many times over?)".into()
        }
        B::ScalarBytes { .. } => "the document's text values are too large".into(),
        B::Documents { .. } => "the file holds too many YAML documents".into(),
        _ => "the document is too large or too deeply nested".into(),
    }
}

/// Rewrites serde and parser wording into what an author can act on.
fn author_message(msg: &str) -> String {
    const UNTAGGED: &str = "data did not match any variant of untagged enum ";
    if let Some(name) = msg.strip_prefix(UNTAGGED) {
        let name = name.trim_end_matches('.').trim();
        return match name {
            "QueryValue" => {
                "a query parameter is text, a number, a boolean, or a list of them".into()
            }
            "ScalarString" => "expected text, a number or a boolean".into(),
            "Selector" => "expected a JSONPath (`$.data[*]`) or a list of `{ path, vars }`".into(),
            _ => "this value has the wrong shape here".into(),
        };
    }
    if msg.starts_with("duplicate mapping key") {
        let key = msg
            .strip_prefix("duplicate mapping key: ")
            .and_then(|r| r.split(',').next())
            .map(|k| format!(" `{}`", k.trim()))
            .unwrap_or_default();
        return format!("duplicate key{key}: a key may appear only once in a mapping");
    }
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "type")] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((name, expected)) = rest.split_once('`')
        {
            let known: Vec<String> = expected
                .trim_start_matches([',', ' '])
                .trim_start_matches("expected")
                .trim_start()
                .trim_start_matches("one of")
                .split([',', ' '])
                .map(|k| k.trim().trim_matches('`').to_owned())
                .filter(|k| !k.is_empty() && k != "or")
                .collect();
            let hint = crate::suggest::did_you_mean(name, known.iter().map(String::as_str))
                .map(|k| format!(", did you mean `{k}`?"))
                .unwrap_or_default();
            let list = if known.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}: {})",
                    if what == "key" { "keys here" } else { "one of" },
                    known.join(", ")
                )
            };
            return format!("unknown {what} `{name}`{hint}{list}");
        }
    }
    let rewrites: &[(&str, &str)] = &[
        (
            "unexpected end of input",
            "the file ends before this value is complete",
        ),
        (
            "recursion limit exceeded",
            "the document nests deeper than any connector needs",
        ),
        (
            "expected mapping start",
            "expected a mapping (`key: value` entries) here",
        ),
        (
            "multiple YAML documents detected",
            "the file holds more than one YAML document (`---`); a connector is one document",
        ),
        (
            "tabs disallowed",
            "a tab character in indentation: YAML indents with spaces",
        ),
        (
            "cannot deserialize null",
            "this value cannot be null (`~` or empty)",
        ),
    ];
    for (from, to) in rewrites {
        if msg.starts_with(from) {
            return (*to).to_owned();
        }
    }
    msg.to_owned()
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
