//! Compiled JSONPath: simple paths (`$.a.b[0]`, `$.items[*]`) walk the value directly; the
//! rest runs through `jsonpath-rust`'s parsed query. Either way the text is parsed once.

use jsonpath_rust::parser::model::JpQuery;
use serde_json::Value;

/// Deepest bracket nesting accepted in a JSONPath.
const MAX_NESTING: usize = 32;

/// A parsed JSONPath.
#[derive(Debug, Clone)]
pub struct JsonPath {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Simple(Vec<Step>),
    Full(Box<JpQuery>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
    Wildcard,
}

impl JsonPath {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let t = text.trim();
        if !t.starts_with('$') {
            return Err(format!("JSONPath `{text}` must start with `$`"));
        }
        // the parser recurses on brackets: refuse nesting no path needs before it overflows
        let mut depth = 0usize;
        for c in t.chars() {
            match c {
                '(' | '[' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(format!(
                            "JSONPath `{}…` nests brackets deeper than {MAX_NESTING} levels",
                            t.chars().take(40).collect::<String>()
                        ));
                    }
                }
                ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let full = jsonpath_rust::parser::parse_json_path(t)
            .map_err(|e| format!("invalid JSONPath `{text}`: {}", one_line(&e.to_string())))?;
        let kind = match simple_steps(t) {
            Some(steps) => Kind::Simple(steps),
            None => Kind::Full(Box::new(full)),
        };
        Ok(JsonPath {
            text: t.to_owned(),
            kind,
        })
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path can only ever select one value (no wildcard, slice or filter).
    pub fn is_singular(&self) -> bool {
        matches!(&self.kind, Kind::Simple(s) if !s.contains(&Step::Wildcard))
    }

    /// Every match, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        match &self.kind {
            Kind::Simple(steps) => {
                let mut cur = vec![root];
                for step in steps {
                    let mut next = Vec::with_capacity(cur.len());
                    for v in cur {
                        match (step, v) {
                            (Step::Key(k), Value::Object(m)) => next.extend(m.get(k)),
                            (Step::Index(i), Value::Array(a)) => {
                                let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                                if idx >= 0 {
                                    next.extend(a.get(idx as usize));
                                }
                            }
                            (Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                            (Step::Wildcard, Value::Object(m)) => next.extend(m.values()),
                            _ => {}
                        }
                    }
                    cur = next;
                }
                cur
            }
            Kind::Full(q) => jsonpath_rust::query::js_path_process(q, root)
                .map(|v| v.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default(),
        }
    }

    /// The first member name of a simple path (`content` of `$.content[*]`); none for `$`
    /// and for paths with filters or recursion.
    pub fn first_key(&self) -> Option<&str> {
        match &self.kind {
            Kind::Simple(steps) => match steps.first() {
                Some(Step::Key(k)) => Some(k),
                _ => None,
            },
            Kind::Full(_) => None,
        }
    }

    /// Every match, moved out of `root` when the path is keys then at most one final `[*]`
    /// (`$`, `$.content[*]`, `$[*]`), cloned otherwise. `root` may be left changed.
    pub fn take(&self, root: &mut Value) -> Vec<Value> {
        let Kind::Simple(steps) = &self.kind else {
            return self.find(root).into_iter().cloned().collect();
        };
        let (last, keys) = match steps.split_last() {
            Some((Step::Wildcard, keys)) => (true, keys),
            _ => (false, &steps[..]),
        };
        if keys.iter().any(|s| !matches!(s, Step::Key(_))) {
            return self.find(root).into_iter().cloned().collect();
        }
        let mut cur = root;
        for step in keys {
            let Step::Key(k) = step else {
                return Vec::new();
            };
            cur = match cur {
                Value::Object(m) => match m.get_mut(k) {
                    Some(v) => v,
                    None => return Vec::new(),
                },
                _ => return Vec::new(),
            };
        }
        match (last, cur) {
            (false, v) => vec![v.take()],
            (true, Value::Array(a)) => std::mem::take(a),
            (true, Value::Object(m)) => std::mem::take(m).into_iter().map(|(_, v)| v).collect(),
            (true, _) => Vec::new(),
        }
    }

    /// The first match, if any.
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        match &self.kind {
            Kind::Simple(steps) if !steps.contains(&Step::Wildcard) => {
                let mut cur = root;
                for step in steps {
                    cur = match (step, cur) {
                        (Step::Key(k), Value::Object(m)) => m.get(k)?,
                        (Step::Index(i), Value::Array(a)) => {
                            let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                            a.get(usize::try_from(idx).ok()?)?
                        }
                        _ => return None,
                    };
                }
                Some(cur)
            }
            _ => self.find(root).into_iter().next(),
        }
    }
}

#[cfg(test)]
mod take_tests {
    use super::JsonPath;
    use serde_json::json;

    #[test]
    fn take_moves_simple_matches_and_clones_the_rest() {
        let doc = json!({"content": [{"id": 1}, {"id": 2}], "next": "x"});
        for (path, want) in [
            ("$.content[*]", json!([{"id": 1}, {"id": 2}])),
            ("$.content", json!([[{"id": 1}, {"id": 2}]])),
            ("$.content[0]", json!([{"id": 1}])),
            ("$.content[?@.id > 1]", json!([{"id": 2}])),
            ("$.missing[*]", json!([])),
        ] {
            let p = JsonPath::parse(path).unwrap();
            let mut d = doc.clone();
            assert_eq!(serde_json::Value::Array(p.take(&mut d)), want, "{path}");
            assert_eq!(
                p.find(&doc).into_iter().cloned().collect::<Vec<_>>(),
                want.as_array().unwrap().clone(),
                "{path}"
            );
        }
    }
}

/// The parser's multi-line report as one line: "at character N: expected ...".
fn one_line(msg: &str) -> String {
    let col = msg
        .find("--> ")
        .and_then(|i| msg[i + 4..].split_whitespace().next())
        .and_then(|p| p.split(':').nth(1))
        .map(|c| format!("at character {c}: "));
    let what = msg
        .lines()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or_else(|| msg.lines().next().unwrap_or(msg));
    format!("{}{}", col.unwrap_or_default(), what.trim())
}

/// Steps of a path made only of `.name`, `['name']`, `[n]` and `[*]`/`.*`; else `None`.
fn simple_steps(t: &str) -> Option<Vec<Step>> {
    let b = t.as_bytes();
    let mut i = 1;
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                if b.get(i + 1) == Some(&b'.') {
                    return None; // descendant
                }
                if b.get(i + 1) == Some(&b'*') {
                    steps.push(Step::Wildcard);
                    i += 2;
                    continue;
                }
                let start = i + 1;
                let mut j = start;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric()
                        || b[j] == b'_'
                        || b[j] == b'-'
                        || b[j] >= 0x80)
                {
                    j += 1;
                }
                if j == start {
                    return None;
                }
                steps.push(Step::Key(t[start..j].to_owned()));
                i = j;
            }
            b'[' => {
                let end = i + t[i..].find(']')?;
                let inner = t[i + 1..end].trim();
                if inner == "*" {
                    steps.push(Step::Wildcard);
                } else if let Ok(n) = inner.parse::<i64>() {
                    steps.push(Step::Index(n));
                } else if inner.len() >= 2
                    && ((inner.starts_with('\'') && inner.ends_with('\''))
                        || (inner.starts_with('"') && inner.ends_with('"')))
                {
                    let name = &inner[1..inner.len() - 1];
                    if name.contains(['\\', '\'', '"']) {
                        return None;
                    }
                    steps.push(Step::Key(name.to_owned()));
                } else {
                    return None;
                }
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simple_and_full_paths_agree() {
        let v = json!({"a": {"b": [1, 2, {"c": "x"}]}, "items": [{"id": 1}, {"id": 2}], "k-y": 3});
        let cases = [
            "$.a.b[2].c",
            "$.items[*].id",
            "$['a']['b'][0]",
            "$.a.b[-1].c",
            "$.missing.x",
            "$[\"k-y\"]",
            "$",
        ];
        for c in cases {
            let p = JsonPath::parse(c).unwrap();
            assert!(matches!(p.kind, Kind::Simple(_)), "{c} should be simple");
            let full = jsonpath_rust::parser::parse_json_path(c).unwrap();
            let expected: Vec<&Value> = jsonpath_rust::query::js_path_process(&full, &v)
                .unwrap()
                .into_iter()
                .map(|r| r.val())
                .collect();
            assert_eq!(p.find(&v), expected, "{c}");
        }
        let filtered = JsonPath::parse("$.items[?(@.id > 1)].id").unwrap();
        assert!(!filtered.is_singular());
        assert_eq!(filtered.find(&v), vec![&json!(2)]);
        assert_eq!(
            JsonPath::parse("$.items[0].id").unwrap().first(&v),
            Some(&json!(1))
        );
    }

    #[test]
    fn bad_paths_are_reported() {
        assert!(
            JsonPath::parse("items")
                .unwrap_err()
                .contains("must start with `$`")
        );
        assert!(
            JsonPath::parse("$.items[")
                .unwrap_err()
                .contains("invalid JSONPath")
        );
    }
}
