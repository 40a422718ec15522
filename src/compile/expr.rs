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
    if (0..=9999).contains(&dt.year()) {
        // what the format below writes, without interpreting a format description per value
        let mut out = String::with_capacity(24);
        let mut put = |n: u32, width: u32, sep: char| {
            let mut div = 10u32.pow(width - 1);
            while div > 0 {
                out.push(char::from(b'0' + (n / div % 10) as u8));
                div /= 10;
            }
            out.push(sep);
        };
        put(dt.year() as u32, 4, '-');
        put(u8::from(dt.month()).into(), 2, '-');
        put(dt.day().into(), 2, 'T');
        put(dt.hour().into(), 2, ':');
        put(dt.minute().into(), 2, ':');
        put(dt.second().into(), 2, '.');
        put(dt.nanosecond() / 1_000_000, 3, 'Z');
        return Some(out);
    }
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    dt.format(f).ok()
}

/// Filters mapper adds to minijinja's builtins (for "did you mean" hints).
const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "datetime",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "merge",
    "min",
    "nonempty",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "to_object",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];
/// Tests known to the environment (for "did you mean" hints).
const TESTS: &[&str] = &[
    "boolean",
    "containing",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Whether the shared environment has a filter (`kind` "filter") or test ("test") by this name.
fn env_has(kind: &str, name: &str) -> bool {
    static CACHE: LazyLock<std::sync::Mutex<std::collections::HashMap<(String, String), bool>>> =
        LazyLock::new(Default::default);
    let key = (kind.to_owned(), name.to_owned());
    if let Some(v) = CACHE.lock().ok().and_then(|c| c.get(&key).copied()) {
        return v;
    }
    let found = ENV
        .compile_expression(if kind == "filter" {
            "name is filter"
        } else {
            "name is test"
        })
        .and_then(|e| e.eval(minijinja::context! { name => name }))
        .map(|v| v.is_true())
        .unwrap_or(true);
    if let Ok(mut c) = CACHE.lock() {
        c.insert(key, found);
    }
    found
}

/// Every filter, test or function the expression calls that the environment does not have,
/// as messages for the author (`unknown filter `uper`, did you mean `upper`?`).
fn unknown_callables(text: &str) -> Vec<String> {
    use minijinja::machinery::ast;
    fn hint(name: &str, known: &[&str]) -> String {
        match crate::suggest::did_you_mean(name, known.iter().copied()) {
            Some(k) => format!(", did you mean `{k}`?"),
            None => String::new(),
        }
    }
    fn walk(e: &ast::Expr, out: &mut Vec<String>, globals: &[&str]) {
        let args = |a: &[ast::CallArg], out: &mut Vec<String>| {
            for arg in a {
                match arg {
                    ast::CallArg::Pos(x)
                    | ast::CallArg::Kwarg(_, x)
                    | ast::CallArg::PosSplat(x)
                    | ast::CallArg::KwargSplat(x) => walk(x, out, globals),
                }
            }
        };
        match e {
            ast::Expr::Var(_) | ast::Expr::Const(_) => {}
            ast::Expr::Slice(s) => {
                walk(&s.expr, out, globals);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    walk(x, out, globals);
                }
            }
            ast::Expr::UnaryOp(u) => walk(&u.expr, out, globals),
            ast::Expr::BinOp(b) => {
                walk(&b.left, out, globals);
                walk(&b.right, out, globals);
            }
            ast::Expr::Compare(c) => {
                walk(&c.expr, out, globals);
                for op in &c.ops {
                    walk(&op.expr, out, globals);
                }
            }
            ast::Expr::IfExpr(i) => {
                walk(&i.test_expr, out, globals);
                walk(&i.true_expr, out, globals);
                if let Some(f) = &i.false_expr {
                    walk(f, out, globals);
                }
            }
            ast::Expr::Filter(f) => {
                if !env_has("filter", f.name) {
                    out.push(format!(
                        "unknown filter `{}`{}",
                        f.name,
                        hint(f.name, FILTERS)
                    ));
                }
                if let Some(x) = &f.expr {
                    walk(x, out, globals);
                }
                args(&f.args, out);
            }
            ast::Expr::Test(t) => {
                if !env_has("test", t.name) {
                    out.push(format!("unknown test `{}`{}", t.name, hint(t.name, TESTS)));
                }
                walk(&t.expr, out, globals);
                args(&t.args, out);
            }
            ast::Expr::GetAttr(g) => walk(&g.expr, out, globals),
            ast::Expr::GetItem(g) => {
                walk(&g.expr, out, globals);
                walk(&g.subscript_expr, out, globals);
            }
            ast::Expr::Call(c) => {
                match c.identify_call() {
                    ast::CallType::Function(name) if !globals.contains(&name) => {
                        out.push(format!("unknown function `{name}`{}", hint(name, globals)));
                    }
                    ast::CallType::Method(x, _) | ast::CallType::Object(x) => walk(x, out, globals),
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
                args(&c.args, out);
            }
            ast::Expr::List(l) => l.items.iter().for_each(|x| walk(x, out, globals)),
            ast::Expr::Tuple(t) => t.items.iter().for_each(|x| walk(x, out, globals)),
            ast::Expr::Map(m) => {
                for x in m.keys.iter().chain(m.values.iter()) {
                    walk(x, out, globals);
                }
            }
        }
    }
    let Ok(ast) = minijinja::machinery::parse_expr(text) else {
        return Vec::new(); // syntax errors are reported by the compiler
    };
    let globals: Vec<&str> = ENV.globals().map(|(n, _)| n).collect();
    let mut out = Vec::new();
    walk(&ast, &mut out, &globals);
    out.dedup();
    out
}

/// What an expression's literal value (an object `{...}`, a list `[...]` or a constant) cannot
/// be for a unified property with JSON Schema `prop`: the shapes that can be known before any
/// record is read. None when it fits or cannot be known.
pub fn literal_shape_problem(text: &str, prop: &serde_json::Value) -> Option<String> {
    use minijinja::machinery::ast;
    fn types(prop: &serde_json::Value) -> Vec<&str> {
        match prop.get("type") {
            Some(serde_json::Value::String(t)) => vec![t.as_str()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|t| t.as_str()).collect(),
            _ => Vec::new(),
        }
    }
    fn check(e: &ast::Expr, prop: &serde_json::Value) -> Option<String> {
        let ts = types(prop);
        let is = |t: &str| ts.is_empty() || ts.contains(&t);
        match e {
            ast::Expr::Map(m) => {
                if !is("object") {
                    return Some(format!(
                        "the expression builds an object, but the field is {}",
                        ts.join(" or ")
                    ));
                }
                let props = prop.get("properties").and_then(|p| p.as_object());
                let closed =
                    prop.get("additionalProperties") == Some(&serde_json::Value::Bool(false));
                for (k, v) in m.keys.iter().zip(&m.values) {
                    let ast::Expr::Const(c) = k else { continue };
                    let Some(name) = c.value.as_str() else {
                        continue;
                    };
                    match props.and_then(|p| p.get(name)) {
                        Some(sub) => {
                            if let Some(problem) = check(v, sub) {
                                return Some(format!("member `{name}`: {problem}"));
                            }
                        }
                        None if closed => {
                            let known: Vec<&str> = super::schema::ordered_properties(prop)
                                .into_iter()
                                .map(|(k, _)| k)
                                .collect();
                            return Some(format!(
                                "the object it builds has a member `{name}` that the field does not have (members: {})",
                                known.join(", ")
                            ));
                        }
                        None => {}
                    }
                }
                let given: Vec<&str> = m
                    .keys
                    .iter()
                    .filter_map(|k| match k {
                        ast::Expr::Const(c) => c.value.as_str(),
                        _ => None,
                    })
                    .collect();
                if given.len() < m.keys.len() {
                    return None; // computed keys: cannot be known
                }
                let missing: Vec<&str> = prop
                    .get("required")
                    .and_then(|r| r.as_array())
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str())
                            .filter(|k| !given.contains(k))
                            .collect()
                    })
                    .unwrap_or_default();
                (!missing.is_empty()).then(|| {
                    format!(
                        "the object it builds lacks {} (the schema requires every member; map members one by one with `fields:` to have the others null)",
                        missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    )
                })
            }
            ast::Expr::List(l) => {
                if !is("array") {
                    return Some(format!(
                        "the expression builds a list, but the field is {}",
                        ts.join(" or ")
                    ));
                }
                let items = prop.get("items")?;
                l.items
                    .iter()
                    .find_map(|x| check(x, items).map(|p| format!("an element: {p}")))
            }
            ast::Expr::Const(c) => {
                let v = &c.value;
                let kind = match v.kind() {
                    minijinja::value::ValueKind::Undefined | minijinja::value::ValueKind::None => {
                        "null"
                    }
                    minijinja::value::ValueKind::Bool => "boolean",
                    minijinja::value::ValueKind::Number if v.is_integer() => "integer",
                    minijinja::value::ValueKind::Number => "number",
                    minijinja::value::ValueKind::String => "string",
                    _ => return None,
                };
                let fits = is(kind) || (kind == "integer" && is("number"));
                (!fits).then(|| {
                    format!(
                        "the expression is a constant {kind}, but the field is {}",
                        ts.join(" or ")
                    )
                })
            }
            _ => None,
        }
    }
    let ast = minijinja::machinery::parse_expr(text).ok()?;
    check(&ast, prop)
}

/// A compiled expression evaluating to a typed value.
pub struct Expr {
    text: String,
    compiled: Expression<'static, 'static>,
    /// Where the expression is written (`file:line:column`), prefixed to run-time errors.
    loc: String,
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
            .map_err(|e| format!("invalid expression `{}`: {}", short(text), mj_message(&e)))?;
        let unknown = unknown_callables(text);
        if !unknown.is_empty() {
            return Err(format!(
                "expression `{}`: {}",
                short(text),
                unknown.join("; ")
            ));
        }
        Ok(Expr {
            text: text.to_owned(),
            compiled,
            loc: String::new(),
        })
    }

    /// The same expression, its run-time errors prefixed with `loc` (`file:line:column`).
    pub fn located(mut self, loc: String) -> Expr {
        self.loc = loc;
        self
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
        self.compiled.eval(ctx.clone()).map_err(|e| {
            let at = if self.loc.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.loc)
            };
            format!("{at}expression `{}` failed: {}", self.text, mj_message(&e))
        })
    }

    /// Evaluates to a truth value (for filters).
    pub fn is_true(&self, ctx: &MjValue) -> Result<bool, String> {
        Ok(self.eval_raw(ctx)?.is_true())
    }
}

/// The start of a long text, for messages.
pub fn short(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(60).collect::<String>())
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

    /// The same template, its run-time errors prefixed with `loc` (`file:line:column`).
    pub fn located(mut self, loc: String) -> Template {
        self.parts = std::mem::take(&mut self.parts)
            .into_iter()
            .map(|p| match p {
                Part::Expr(e) => Part::Expr(e.located(loc.clone())),
                lit => lit,
            })
            .collect();
        self
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
        // the hand-written formatting agrees with the format description
        let f = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for s in [
            "0000-01-01T00:00:00Z",
            "0001-02-03T04:05:06.007Z",
            "1969-12-31T23:59:59.9999999Z",
            "2024-02-29T23:59:59.999+00:30",
            "9999-12-31T23:59:59.999+01:00",
            "2000-01-01T00:00:00.1234+14:00",
        ] {
            let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .to_offset(time::UtcOffset::UTC);
            assert_eq!(normalize_datetime(s).unwrap(), dt.format(f).unwrap(), "{s}");
        }
    }
}
