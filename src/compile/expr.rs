//! Compiled minijinja expressions and `{{ }}` templates, against one shared environment.

use minijinja::{Environment, Expression, UndefinedBehavior, Value as MjValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The environment every connector compiles against: builtins plus mapper's filters,
/// chainable undefined (a missing attribute is null, not an error).
static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // Mapping data is full of nulls: text filters pass null through instead of rendering
    // "none", and `items` of null is empty.
    fn text(v: &MjValue, f: fn(&str) -> String) -> MjValue {
        match v.as_str() {
            _ if v.is_none() || v.is_undefined() => MjValue::from(()),
            Some(s) => MjValue::from(f(s)),
            None => MjValue::from(f(&v.to_string())),
        }
    }
    env.add_filter("upper", |v: MjValue| text(&v, str::to_uppercase));
    env.add_filter("lower", |v: MjValue| text(&v, str::to_lowercase));
    env.add_filter("trim", |v: MjValue| text(&v, |s| s.trim().to_owned()));
    env.add_filter("items", |v: MjValue| -> Result<MjValue, minijinja::Error> {
        if v.is_none() || v.is_undefined() {
            return Ok(MjValue::from(Vec::<MjValue>::new()));
        }
        let mut out = Vec::new();
        for k in v.try_iter()? {
            let val = v.get_item(&k)?;
            out.push(MjValue::from(vec![k, val]));
        }
        Ok(MjValue::from(out))
    });
    env.add_filter("datetime", |v: MjValue| -> MjValue {
        match v.as_str().and_then(normalize_datetime) {
            Some(s) => MjValue::from(s),
            None => MjValue::from(()),
        }
    });
    env.add_filter(
        "merge",
        |a: MjValue, b: MjValue| -> Result<MjValue, minijinja::Error> {
            let mut out: BTreeMap<String, MjValue> = BTreeMap::new();
            for v in [a, b] {
                if v.is_none() || v.is_undefined() {
                    continue;
                }
                if v.kind() != minijinja::value::ValueKind::Map {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("merge needs objects, got {}", v.kind()),
                    ));
                }
                for k in v.try_iter()? {
                    let val = v.get_item(&k)?;
                    out.insert(
                        k.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| k.to_string()),
                        val,
                    );
                }
            }
            Ok(MjValue::from(out))
        },
    );
    env.add_filter(
        "to_object",
        |list: MjValue, key: String, value: String| -> Result<MjValue, minijinja::Error> {
            let mut out: BTreeMap<String, MjValue> = BTreeMap::new();
            if list.is_none() || list.is_undefined() {
                return Ok(MjValue::from(out));
            }
            for item in list.try_iter()? {
                let k = attr_path(&item, &key);
                if k.is_none() || k.is_undefined() {
                    continue;
                }
                let k = k
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| k.to_string());
                out.insert(k, attr_path(&item, &value));
            }
            Ok(MjValue::from(out))
        },
    );
    env.add_test("containing", |v: MjValue, x: MjValue| -> bool {
        match v.as_str() {
            Some(s) => x.as_str().is_some_and(|x| s.contains(x)),
            None => v
                .try_iter()
                .map(|mut it| it.any(|e| e == x))
                .unwrap_or(false),
        }
    });
    env.add_filter("nonempty", |v: MjValue| -> MjValue {
        let empty = v.is_none()
            || v.is_undefined()
            || v.as_str().is_some_and(|s| s.trim().is_empty())
            || v.len() == Some(0);
        if empty { MjValue::from(()) } else { v }
    });
    env
});

/// `item.a.b` for the dotted path `a.b` (undefined when missing).
fn attr_path(item: &MjValue, path: &str) -> MjValue {
    let mut cur = item.clone();
    for part in path.split('.') {
        cur = cur.get_attr(part).unwrap_or(MjValue::UNDEFINED);
    }
    cur
}

/// Normalises an ISO-8601 date-time (any offset) or a plain date to UTC with milliseconds:
/// `2024-04-02T08:30:44.000Z`.
pub fn normalize_datetime(s: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let s = s.trim();
    let dt = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(dt) => dt,
        Err(_) => {
            let d = time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
            d.midnight().assume_utc()
        }
    };
    let dt = dt.to_offset(time::UtcOffset::UTC);
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    dt.format(f).ok()
}

/// A compiled expression evaluating to a typed value.
pub struct Expr {
    text: String,
    compiled: Expression<'static, 'static>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.text)
    }
}

impl Expr {
    /// Compiles an expression such as `record.priority + 1`.
    pub fn compile(text: &str) -> Result<Expr, String> {
        let compiled = ENV
            .compile_expression_owned(text.to_owned())
            .map_err(|e| format!("invalid expression `{text}`: {}", mj_message(&e)))?;
        Ok(Expr {
            text: text.to_owned(),
            compiled,
        })
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates against a context and converts the result to JSON (undefined → null).
    pub fn eval(&self, ctx: &MjValue) -> Result<Value, String> {
        let v = self.eval_raw(ctx)?;
        to_json(&v)
    }

    /// Evaluates to a minijinja value.
    pub fn eval_raw(&self, ctx: &MjValue) -> Result<MjValue, String> {
        self.compiled
            .eval(ctx.clone())
            .map_err(|e| format!("expression `{}` failed: {}", self.text, mj_message(&e)))
    }

    /// Evaluates to a truth value (for filters).
    pub fn is_true(&self, ctx: &MjValue) -> Result<bool, String> {
        Ok(self.eval_raw(ctx)?.is_true())
    }
}

/// Converts a minijinja value to JSON.
pub fn to_json(v: &MjValue) -> Result<Value, String> {
    if v.is_undefined() || v.is_none() {
        return Ok(Value::Null);
    }
    serde_json::to_value(v).map_err(|e| format!("cannot convert {v} to JSON: {e}"))
}

fn mj_message(e: &minijinja::Error) -> String {
    let mut msg = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(r) = e.range() {
        msg.push_str(&format!(" (at offset {})", r.start));
    }
    msg
}

/// A `{{ expression }}` template rendered to text: literal text and expressions.
#[derive(Debug)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Lit(String),
    Expr(Expr),
}

impl Template {
    /// Parses a template; only `{{ }}` blocks are allowed.
    pub fn compile(text: &str) -> Result<Template, String> {
        if text.contains("{%") || text.contains("{#") {
            return Err(format!(
                "template `{text}`: only `{{{{ expression }}}}` blocks are supported (no `{{% %}}` statements or comments)"
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("template `{text}`: `{{{{` without closing `}}}}`"))?;
            let inner = after[..end].trim();
            if inner.is_empty() {
                return Err(format!("template `{text}`: empty `{{{{ }}}}`"));
            }
            parts.push(Part::Expr(Expr::compile(inner)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Renders to text; an undefined or null expression renders as the empty string.
    pub fn render(&self, ctx: &MjValue) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(e) => {
                    let v = e.eval_raw(ctx)?;
                    if !(v.is_undefined() || v.is_none()) {
                        match v.as_str() {
                            Some(s) => out.push_str(s),
                            None => out.push_str(&v.to_string()),
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders; a template that is a single expression keeps its type (null stays null).
    pub fn render_value(&self, ctx: &MjValue) -> Result<Value, String> {
        if let [Part::Expr(e)] = self.parts.as_slice() {
            return e.eval(ctx);
        }
        self.render(ctx).map(Value::String)
    }

    /// Names of the top-level variables the template reads (for compile-time checks).
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Expr(e) = p {
                out.extend(e.compiled.undeclared_variables(false));
            }
        }
        out
    }
}

impl Expr {
    /// Names of the top-level variables the expression reads.
    pub fn variables(&self) -> Vec<String> {
        self.compiled
            .undeclared_variables(false)
            .into_iter()
            .collect()
    }

    /// Dotted variable paths the expression reads (`inputs.api_key`).
    pub fn nested_variables(&self) -> Vec<String> {
        self.compiled
            .undeclared_variables(true)
            .into_iter()
            .collect()
    }
}

impl Template {
    /// Dotted variable paths the template reads (`inputs.api_key`).
    pub fn nested_variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            if let Part::Expr(e) = p {
                out.extend(e.nested_variables());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn expressions_keep_types() {
        let e = Expr::compile("record.priority + 1").unwrap();
        let ctx = context!(record => MjValue::from(minijinja::value::Serde(serde_json::json!({"priority": 2}))));
        assert_eq!(e.eval(&ctx).unwrap(), serde_json::json!(3));
        let missing = Expr::compile("record.a.b.c").unwrap();
        assert_eq!(missing.eval(&ctx).unwrap(), Value::Null);
    }

    #[test]
    fn templates_render_and_report() {
        let t = Template::compile("/jobs/{{ parent.id }}/stages").unwrap();
        let ctx = context!(parent => MjValue::from(minijinja::value::Serde(serde_json::json!({"id": "j 1"}))));
        assert_eq!(t.render(&ctx).unwrap(), "/jobs/j 1/stages");
        assert!(Template::compile("{{ a +").unwrap_err().contains("closing"));
        assert!(
            Template::compile("{{ a + }}")
                .unwrap_err()
                .contains("invalid expression")
        );
        assert!(Template::compile("{% if a %}x{% endif %}").is_err());
        assert_eq!(
            Template::compile("{{ inputs.key }}")
                .unwrap()
                .nested_variables(),
            vec!["inputs.key".to_string()]
        );
    }

    #[test]
    fn text_filters_pass_null_through() {
        let ctx = context!(record => MjValue::from(minijinja::value::Serde(serde_json::json!({"n": null, "s": " Ab ", "m": {"a": 1}}))));
        let ev = |e: &str| Expr::compile(e).unwrap().eval(&ctx).unwrap();
        assert_eq!(ev("record.n | upper"), Value::Null);
        assert_eq!(ev("record.missing | lower"), Value::Null);
        assert_eq!(ev("record.s | trim | upper"), serde_json::json!("AB"));
        assert_eq!(ev("record.n | items"), serde_json::json!([]));
        assert_eq!(ev("record.m | items"), serde_json::json!([["a", 1]]));
        assert_eq!(
            Template::compile("{{ record.n | upper }}")
                .unwrap()
                .render(&ctx)
                .unwrap(),
            ""
        );
    }

    #[test]
    fn merge_filter_joins_objects() {
        let ctx = context!(record => MjValue::from(minijinja::value::Serde(serde_json::json!({"a": {"x": 1, "y": 2}, "b": {"y": 3}, "n": null}))));
        let e = Expr::compile("record.a | merge(record.b)").unwrap();
        assert_eq!(e.eval(&ctx).unwrap(), serde_json::json!({"x": 1, "y": 3}));
        let e = Expr::compile("record.n | merge({'k': 1})").unwrap();
        assert_eq!(e.eval(&ctx).unwrap(), serde_json::json!({"k": 1}));
        assert!(
            Expr::compile("record.a | merge(3)")
                .unwrap()
                .eval(&ctx)
                .is_err()
        );
    }

    #[test]
    fn containing_test_works_on_lists_and_text() {
        let ctx = context!(record => MjValue::from(minijinja::value::Serde(serde_json::json!({"cs": [{"qs": ["a", "b"], "p": 1}, {"qs": ["c"], "p": 2}]}))));
        let e =
            Expr::compile("(record.cs | selectattr('qs', 'containing', 'c') | first).p").unwrap();
        assert_eq!(e.eval(&ctx).unwrap(), serde_json::json!(2));
        assert_eq!(
            Expr::compile("'abc' is containing('b')")
                .unwrap()
                .eval(&ctx)
                .unwrap(),
            serde_json::json!(true)
        );
    }

    #[test]
    fn to_object_keys_a_list() {
        let ctx = context!(record => MjValue::from(minijinja::value::Serde(serde_json::json!({"p": [{"label": "Brand", "value": {"label": "Acme"}}, {"label": "Size", "value": null}]}))));
        let e = Expr::compile("record.p | to_object('label', 'value.label')").unwrap();
        assert_eq!(
            e.eval(&ctx).unwrap(),
            serde_json::json!({"Brand": "Acme", "Size": null})
        );
    }

    #[test]
    fn datetimes_normalise_to_utc_millis() {
        assert_eq!(
            normalize_datetime("2024-04-02T10:30:44+02:00").unwrap(),
            "2024-04-02T08:30:44.000Z"
        );
        assert_eq!(
            normalize_datetime("2024-04-02").unwrap(),
            "2024-04-02T00:00:00.000Z"
        );
        assert_eq!(
            normalize_datetime("2024-04-02T08:30:44.5Z").unwrap(),
            "2024-04-02T08:30:44.500Z"
        );
        assert!(normalize_datetime("yesterday").is_none());
    }
}
