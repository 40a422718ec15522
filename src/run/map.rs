//! Applies compiled field mappings to a record, and keeps the lookup indexes.

use super::record::{Rec, Scope};
use crate::compile::expr::normalize_datetime;
use crate::compile::{
    Cast, EachItem, FieldValue, KeyExpr, Lookup, ModelMap, Root, ValueMap, ValueSource,
};
use crate::ids;
use crate::spec::{EpochUnit, Keep};
use minijinja::Value as MjValue;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// What mappings read besides the record: inputs, lookups, the integration and the time.
pub struct Env<'a> {
    /// `inputs` as a template value.
    pub inputs: &'a MjValue,
    /// Lookup indexes, by lookup id.
    pub lookups: &'a [&'a LookupIndex],
    /// Integration namespace of ids.
    pub integration: &'a str,
    /// `changed_at` of records (the run's start, until sync state keeps it).
    pub now: &'a str,
    /// Where enum values no map knows are counted (the model's, when mapping one).
    pub unmapped: Option<&'a Unmapped>,
}

/// Distinct unknown values kept per field (further ones are counted under `…`).
const MAX_UNMAPPED_VALUES: usize = 100;

/// Vendor values an enum map did not know, counted per field and value.
#[derive(Default)]
pub struct Unmapped(std::sync::Mutex<indexmap::IndexMap<String, indexmap::IndexMap<String, u64>>>);

impl Unmapped {
    /// Counts one value of `field` that its map does not know.
    pub fn note(&self, field: &str, value: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let per = match m.get_mut(field) {
            Some(per) => per,
            None => m.entry(field.to_owned()).or_default(),
        };
        let key = if per.len() >= MAX_UNMAPPED_VALUES && !per.contains_key(value) {
            "…"
        } else {
            value
        };
        match per.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                per.insert(key.to_owned(), 1);
            }
        }
    }

    /// The counts so far (emptied).
    pub fn take(&self) -> indexmap::IndexMap<String, indexmap::IndexMap<String, u64>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A lazily built scope: most fields are JSONPaths and need none.
struct Ctx<'a> {
    rec: &'a Rec,
    /// The element of an `each`, and its position.
    item: Option<(&'a Value, u64)>,
    scope: std::cell::OnceCell<MjValue>,
    env: &'a Env<'a>,
    /// Set when an enum map met a value it does not know.
    unmapped: std::cell::Cell<bool>,
}

impl<'a> Ctx<'a> {
    fn new(rec: &'a Rec, item: Option<(&'a Value, u64)>, env: &'a Env<'a>) -> Self {
        Ctx {
            rec,
            item,
            scope: std::cell::OnceCell::new(),
            env,
            unmapped: std::cell::Cell::new(false),
        }
    }
    fn scope(&self) -> &MjValue {
        self.scope
            .get_or_init(|| Scope::record(self.env.inputs, self.rec, self.item))
    }
    fn root(&self, root: Root) -> Option<Value> {
        Some(match root {
            Root::Record => return Some(self.rec.value.clone()),
            Root::Parent(n) => self.rec.ancestor(n)?.value.clone(),
            Root::Vars => Value::Object((*self.rec.vars).clone()),
            Root::Item => self.item?.0.clone(),
        })
    }
    fn with_root<T>(&self, root: Root, f: impl FnOnce(&Value) -> T) -> Option<T> {
        match root {
            Root::Record => Some(f(&self.rec.value)),
            Root::Parent(n) => Some(f(&self.rec.ancestor(n)?.value)),
            Root::Item => Some(f(self.item?.0)),
            Root::Vars => self.root(root).map(|v| f(&v)),
        }
    }
}

/// Text of a key value (`null` → none).
pub fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn eval_key(k: &KeyExpr, ctx: &Ctx) -> Result<Value, String> {
    match k {
        KeyExpr::Path(p) => Ok(p.first(&ctx.rec.value).cloned().unwrap_or(Value::Null)),
        KeyExpr::Template(t) => t.render_value(ctx.scope()),
    }
}

/// Evaluates a key (lookups, sorting) against a record.
pub fn eval_key_for(k: &KeyExpr, rec: &Rec, env: &Env) -> Result<Value, String> {
    eval_key(k, &Ctx::new(rec, None, env))
}

/// The value lookup `l` holds for `key` evaluated on the record (the single entry of a
/// lookup without key).
fn lookup_value<'e>(
    l: crate::compile::LookupId,
    key: Option<&KeyExpr>,
    ctx: &Ctx<'e>,
) -> Result<Option<&'e Value>, String> {
    let k = match key {
        Some(k) => match key_text(&eval_key(k, ctx)?) {
            Some(k) => k,
            None => return Ok(None),
        },
        None => String::new(),
    };
    if let Some(found) = ctx.rec.side_loaded(l, &k) {
        return Ok(found);
    }
    Ok(ctx.env.lookups.get(l.0).and_then(|idx| idx.get(&k)))
}

fn eval(vm: &ValueMap, ctx: &Ctx) -> Result<Value, String> {
    let mut v = match &vm.source {
        ValueSource::Path { root, path, all } => ctx
            .with_root(*root, |r| {
                if *all {
                    Value::Array(path.find(r).into_iter().cloned().collect())
                } else {
                    path.first(r).cloned().unwrap_or(Value::Null)
                }
            })
            .unwrap_or(Value::Null),
        ValueSource::Expr(e) => e.eval(ctx.scope())?,
        ValueSource::Template(t) => t.render_value(ctx.scope())?,
        ValueSource::Const(c) => c.clone(),
        ValueSource::Lookup {
            lookup,
            key,
            select,
        } => match lookup_value(*lookup, key.as_ref(), ctx)? {
            Some(found) => match select {
                Some(s) => s.first(found).cloned().unwrap_or(Value::Null),
                None => found.clone(),
            },
            None => Value::Null,
        },
        ValueSource::Each {
            root,
            lookup,
            path,
            where_,
            item,
        } => {
            let elems: Vec<Value> = match (path, lookup) {
                (KeyExpr::Path(p), Some((l, key))) => match lookup_value(*l, key.as_ref(), ctx)? {
                    Some(found) => p.find(found).into_iter().cloned().collect(),
                    None => Vec::new(),
                },
                (KeyExpr::Path(p), None) => ctx
                    .with_root(*root, |r| p.find(r).into_iter().cloned().collect())
                    .unwrap_or_default(),
                (KeyExpr::Template(t), _) => match t.render_value(ctx.scope())? {
                    Value::Array(a) => a,
                    Value::Null => Vec::new(),
                    other => {
                        return Err(format!("`each: {}` gave {other}, not an array", t.as_str()));
                    }
                },
            };
            let mut out = Vec::with_capacity(elems.len());
            for (i, e) in elems.iter().enumerate() {
                let ictx = Ctx::new(ctx.rec, Some((e, i as u64)), ctx.env);
                if let Some(w) = where_
                    && !w.is_true(ictx.scope())?
                {
                    continue;
                }
                let v = match item.as_ref() {
                    EachItem::Object(members) => object(members, &ictx)?,
                    EachItem::Value(vm) => eval(vm, &ictx)?,
                };
                // what an element's mapping met, the record's did
                if ictx.unmapped.get() {
                    ctx.unmapped.set(true);
                }
                out.push(v);
            }
            Value::Array(out)
        }
        ValueSource::Object(members) => object(members, ctx)?,
    };
    if let Some(t) = &vm.then {
        v = t.eval(&Scope::record_with(
            ctx.env.inputs,
            ctx.rec,
            ctx.item,
            Some(&v),
        ))?;
    }
    if let Some(em) = &vm.map {
        let lookup = |x: &Value| -> Option<Value> {
            let k = key_text(x)?;
            let found = em.values.get(&k).cloned();
            if found.is_none()
                && let Some(u) = ctx.env.unmapped
            {
                u.note(&em.field, &k);
                ctx.unmapped.set(true);
            }
            found
        };
        v = match &v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(lookup)
                    .filter(|x| !x.is_null())
                    .collect(),
            ),
            _ => lookup(&v).unwrap_or(Value::Null),
        };
    }
    if v.is_null()
        && let Some(d) = &vm.default
    {
        v = d.clone();
    }
    if let Some(c) = vm.cast {
        v = cast(v, c).map_err(|e| format!("{}: {e}", vm.loc))?;
    }
    if let Some(model) = vm.ref_model {
        v = match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(key_text)
                    .map(|k| Value::String(ids::unified_id(ctx.env.integration, model, &k)))
                    .collect(),
            ),
            other => key_text(&other)
                .map(|k| Value::String(ids::unified_id(ctx.env.integration, model, &k)))
                .unwrap_or(Value::Null),
        };
    }
    if vm.unique
        && let Value::Array(items) = &mut v
    {
        let mut seen = Vec::new();
        items.retain(|i| {
            if seen.contains(i) {
                false
            } else {
                seen.push(i.clone());
                true
            }
        });
    }
    if vm.null_if_empty {
        let empty = match &v {
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.values().all(|x| x.is_null()),
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if empty {
            v = Value::Null;
        }
    }
    Ok(v)
}

fn object(members: &[(String, ValueMap)], ctx: &Ctx) -> Result<Value, String> {
    let mut m = Vec::with_capacity(members.len());
    for (k, vm) in members {
        m.push((k.clone(), eval(vm, ctx).map_err(|e| format!("{k}: {e}"))?));
    }
    // built from all its members at once: cheaper than one insertion each
    Ok(Value::Object(m.into_iter().collect()))
}

fn cast(v: Value, c: Cast) -> Result<Value, String> {
    if v.is_null() {
        return Ok(v);
    }
    Ok(match c {
        Cast::String => match v {
            Value::String(_) => v,
            other => Value::String(key_text(&other).unwrap_or_default()),
        },
        Cast::Integer => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            Value::Number(n) => n
                .as_f64()
                .map(|f| Value::from(f.trunc() as i64))
                .unwrap_or(Value::Null),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{s}` is not an integer"))?,
            Value::Bool(b) => Value::from(*b as i64),
            _ => return Err(format!("cannot convert {v} to an integer")),
        },
        Cast::Number => match &v {
            Value::Number(_) => v,
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("`{s}` is not a number"))?,
            _ => return Err(format!("cannot convert {v} to a number")),
        },
        Cast::Boolean => match &v {
            Value::Bool(_) => v,
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" | "" => Value::Bool(false),
                _ => return Err(format!("`{s}` is not a boolean")),
            },
            Value::Number(n) => Value::Bool(n.as_f64() != Some(0.0)),
            _ => return Err(format!("cannot convert {v} to a boolean")),
        },
        Cast::DateTime(unit) => match &v {
            Value::String(s) => match normalize_datetime(s) {
                Some(d) => Value::String(d),
                None => match s.trim().parse::<serde_json::Number>() {
                    Ok(n) => epoch_datetime(&n, unit)?,
                    Err(_) => return Err(format!("`{s}` is not a date-time")),
                },
            },
            Value::Number(n) => epoch_datetime(n, unit)?,
            _ => return Err(format!("cannot convert {v} to a date-time")),
        },
    })
}

/// An epoch time in `unit` as UTC ISO-8601 with milliseconds, exact: the number's decimal
/// text is read, not its floating-point value, so `1700000000.659` s is `.659`.
fn epoch_datetime(n: &serde_json::Number, unit: EpochUnit) -> Result<Value, String> {
    let millis = epoch_millis(&n.to_string(), unit)
        .ok_or_else(|| format!("{n} is not an epoch time in {}", unit_name(unit)))?;
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000)
        .map_err(|_| format!("{n} {} is out of range", unit_name(unit)))?;
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(f).map(Value::String).map_err(|e| e.to_string())
}

fn unit_name(unit: EpochUnit) -> &'static str {
    match unit {
        EpochUnit::Seconds => "seconds",
        EpochUnit::Milliseconds => "milliseconds",
    }
}

/// Milliseconds since the epoch from a decimal number's text (`-12.5`, `1.7e9`), truncated
/// towards the past below the millisecond.
fn epoch_millis(text: &str, unit: EpochUnit) -> Option<i128> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (neg, digits) = match mantissa.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = 0.<int frac> digits scaled: shift the decimal point by exp + 3 (ms) or exp
    let shift = exp + if unit == EpochUnit::Seconds { 3 } else { 0 };
    let all: String = format!("{int}{frac}");
    let point = int.len() as i32 + shift;
    if point > 30 {
        return None;
    }
    let whole: &str = if point <= 0 {
        ""
    } else if point as usize >= all.len() {
        &all
    } else {
        &all[..point as usize]
    };
    let mut value: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    if point as usize > all.len() && point > 0 {
        value *= 10i128.checked_pow((point as usize - all.len()) as u32)?;
    }
    let rest_nonzero =
        point < all.len() as i32 && all[point.max(0) as usize..].bytes().any(|b| b != b'0');
    if neg {
        value = -value - i128::from(rest_nonzero);
    }
    Some(value)
}

/// A mapped unified record, or why it could not be built.
pub struct Mapped<'r> {
    /// Unified id (when known).
    pub id: Option<String>,
    /// Remote id (when known).
    pub remote_id: Option<String>,
    /// The record's members in the model's order, or the reason it is invalid. Its
    /// `remote_data` is an empty object standing for [`Mapped::remote_data`].
    pub record: Result<Vec<(String, Value)>, String>,
    /// JSON pointer of the field that could not be mapped (empty when it mapped).
    pub pointer: String,
    /// The payloads of `remote_data`, by API path, borrowed from the record.
    pub remote_data: Vec<(&'r str, &'r Value)>,
    /// Whether an enum map met a value it does not know (counted in the report).
    pub unmapped: bool,
}

impl Mapped<'_> {
    /// The record with its `remote_data` filled in (copies the payloads).
    pub fn into_full(self) -> Result<Value, String> {
        let mut record = Value::Object(self.record?.into_iter().collect());
        if let Some(Value::Object(rd)) = record.get_mut("remote_data") {
            for (src, v) in &self.remote_data {
                rd.insert((*src).to_owned(), (*v).clone());
            }
        }
        Ok(record)
    }
}

/// Builds the unified record of `rec`.
pub fn map_record<'r>(mm: &ModelMap, rec: &'r Rec, env: &Env) -> Mapped<'r> {
    let ctx = Ctx::new(rec, None, env);
    // members in field order: `out[i]` is `mm.fields[i]`
    let mut out: Vec<(String, Value)> = Vec::with_capacity(mm.fields.len());
    let (mut at_remote_id, mut at_id, mut at_changed) = (None, None, None);
    let mut remote_data: Vec<(&'r str, &'r Value)> = Vec::new();
    let mut error = None;
    for f in &mm.fields {
        if f.name == "remote_id" {
            at_remote_id = Some(out.len());
        }
        let v = match &f.value {
            FieldValue::Id => {
                at_id = Some(out.len());
                Value::Null // filled below
            }
            FieldValue::ChangedAt => {
                at_changed = Some(out.len());
                Value::Null
            }
            FieldValue::RemoteData => {
                // the payloads are written from the record itself when it is serialised; the
                // schema only asks for an object here
                for root in &mm.remote_data {
                    let (src, val) = match root {
                        Root::Record => (&rec.source, &rec.value),
                        Root::Parent(n) => match rec.ancestor(*n) {
                            Some(a) => (&a.source, &a.value),
                            None => continue,
                        },
                        _ => continue,
                    };
                    if !remote_data.iter().any(|(s, _)| *s == &**src) {
                        remote_data.push((&**src, val));
                    }
                }
                if mm.remote_data.is_empty() {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                }
            }
            FieldValue::Empty(v) => v.clone(),
            FieldValue::Mapped(vm) => match eval(vm, &ctx) {
                Ok(v) => v,
                Err(e) => {
                    error.get_or_insert((format!("/{}", f.name), format!("{}: {e}", f.name)));
                    Value::Null
                }
            },
        };
        out.push((f.name.clone(), v));
    }
    let remote_id = at_remote_id.and_then(|i| remote_id_text(&out[i].1));
    // remote ids are text
    if let (Some(r), Some(i)) = (&remote_id, at_remote_id)
        && out[i].1.is_number()
    {
        out[i].1 = Value::String(r.clone());
    }
    let model = mm.model.name;
    let id = if mm.model.join {
        let parts: Vec<Option<String>> = mm
            .key
            .iter()
            .map(|i| out.get(*i).and_then(|(_, v)| key_text(v)))
            .collect();
        if parts.iter().all(|p| p.is_some()) {
            let parts: Vec<String> = parts.into_iter().flatten().collect();
            Some(ids::unified_id(
                env.integration,
                model,
                &ids::join_key(&parts.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            ))
        } else {
            let first_null = mm
                .key
                .iter()
                .zip(&parts)
                .find(|(_, p)| p.is_none())
                .map(|(i, _)| mm.fields[*i].name.as_str())
                .unwrap_or_default();
            error.get_or_insert_with(|| {
                (
                    format!("/{first_null}"),
                    format!(
                        "join key ({}) has a null member",
                        mm.key
                            .iter()
                            .map(|i| mm.fields[*i].name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            });
            None
        }
    } else {
        match remote_id.as_deref().and_then(|r| own_id(env, model, r)) {
            Some(id) => Some(id),
            None => {
                error.get_or_insert_with(|| ("/remote_id".into(), "remote_id is null".into()));
                None
            }
        }
    };
    let id_value = id.clone().map(Value::String).unwrap_or(Value::Null);
    let now = Value::String(env.now.to_owned());
    for (at, v, name) in [(at_id, id_value, "id"), (at_changed, now, "changed_at")] {
        match at {
            Some(i) => out[i].1 = v,
            None => out.push((name.to_owned(), v)),
        }
    }
    Mapped {
        id,
        remote_id,
        pointer: error.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
        record: match error {
            Some((_, e)) => Err(e),
            None => Ok(out),
        },
        remote_data,
        unmapped: ctx.unmapped.get(),
    }
}

/// The unified id and remote id of a record of a model with a remote id, from its
/// `remote_id` mapping alone, as [`map_record`] derives them (none when that gives none).
pub fn quick_id(mm: &ModelMap, rec: &Rec, env: &Env) -> Option<(String, String)> {
    let field = mm.fields.get(mm.remote_id?)?;
    let FieldValue::Mapped(vm) = &field.value else {
        return None;
    };
    let remote_id = remote_id_text(&eval(vm, &Ctx::new(rec, None, env)).ok()?)?;
    let id = own_id(env, mm.model.name, &remote_id)?;
    Some((id, remote_id))
}

/// A mapped `remote_id` as text (a number is written out; anything else is none).
fn remote_id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The unified id of a record of `model` with this remote id (none when it is empty).
fn own_id(env: &Env, model: &str, remote_id: &str) -> Option<String> {
    (!remote_id.is_empty()).then(|| ids::unified_id(env.integration, model, remote_id))
}

/// What a tombstone record deletes: the unified id (none when the record names no id) and
/// the vendor's deletion time (none: the run's start).
pub fn tombstone(
    t: &crate::compile::Tombstone,
    rec: &Rec,
    env: &Env,
) -> Result<(Option<String>, Option<String>), String> {
    let ctx = Ctx::new(rec, None, env);
    let remote = eval(&t.remote_id, &ctx).map_err(|e| format!("remote_id: {e}"))?;
    let Some(remote) = key_text(&remote) else {
        return Ok((None, None));
    };
    let at = match &t.deleted_at {
        Some(vm) => match eval(vm, &ctx).map_err(|e| format!("deleted_at: {e}"))? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => return Err(format!("deleted_at: {other} is not a date-time")),
        },
        None => None,
    };
    Ok((Some(ids::unified_id(env.integration, t.model, &remote)), at))
}

/// Values of a lookup, by key.
#[derive(Default)]
pub struct LookupIndex {
    entries: HashMap<String, Vec<(Value, Value)>>,
    keep: Option<Keep>,
    finished: HashMap<String, Value>,
}

impl LookupIndex {
    /// An empty index for a lookup.
    pub fn new(l: &Lookup) -> Self {
        LookupIndex {
            keep: Some(l.keep),
            ..Default::default()
        }
    }

    /// Adds a record (if it passes `where`).
    pub fn add(&mut self, l: &Lookup, rec: &Rec, env: &Env) -> Result<(), String> {
        let ctx = Ctx::new(rec, None, env);
        if let Some(w) = &l.where_
            && !w.is_true(ctx.scope())?
        {
            return Ok(());
        }
        let key = match &l.key {
            Some(k) => match key_text(&eval_key(k, &ctx)?) {
                Some(key) => key,
                None => return Ok(()),
            },
            None => String::new(),
        };
        let order = match &l.order_by {
            Some(o) => eval_key(o, &ctx)?,
            None => Value::Null,
        };
        let value = match &l.value {
            Some(vm) => eval(vm, &ctx)?,
            None => rec.value.clone(),
        };
        let slot = self.entries.entry(key).or_default();
        match (self.keep, l.order_by.is_some()) {
            // without ordering, first/last need only one value
            (Some(Keep::First), false) if !slot.is_empty() => {}
            (Some(Keep::Last), false) => {
                slot.clear();
                slot.push((order, value));
            }
            _ => slot.push((order, value)),
        }
        Ok(())
    }

    /// The settled values by key (after [`LookupIndex::finish`]).
    pub fn into_values(self) -> HashMap<String, Value> {
        self.finished
    }

    /// Orders entries and settles what each key keeps.
    pub fn finish(&mut self) {
        for (k, mut vals) in self.entries.drain() {
            vals.sort_by(|a, b| cmp_json(&a.0, &b.0)); // stable: ties keep arrival order
            let v = match self.keep.unwrap_or(Keep::First) {
                Keep::First => vals.into_iter().next().map(|x| x.1).unwrap_or(Value::Null),
                Keep::Last => vals.pop().map(|x| x.1).unwrap_or(Value::Null),
                Keep::All => Value::Array(vals.into_iter().map(|x| x.1).collect()),
            };
            self.finished.insert(k, v);
        }
    }

    /// The value kept for a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.finished.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.finished.len().max(self.entries.len())
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Orders JSON values: nulls first, then numbers numerically, then text (ISO dates sort as text).
fn cmp_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        _ => key_text(a).cmp(&key_text(b)),
    }
}

/// Merges `b` into `a`: arrays unioned, null members filled, objects merged.
pub fn merge_into(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in y {
                match x.get_mut(&k) {
                    Some(existing) => merge_into(existing, v),
                    None => {
                        x.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for v in y {
                if !x.contains(&v) {
                    x.push(v);
                }
            }
        }
        (slot @ Value::Null, v) => *slot = v,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(v: Value, unit: EpochUnit) -> Value {
        cast(v, Cast::DateTime(unit)).unwrap()
    }

    #[test]
    fn epoch_times_are_exact_to_the_millisecond() {
        let ms = EpochUnit::Milliseconds;
        let s = EpochUnit::Seconds;
        assert_eq!(
            dt(Value::from(1_700_000_000_659i64), ms),
            "2023-11-14T22:13:20.659Z"
        );
        assert_eq!(
            dt(serde_json::json!(1_700_000_000.659), s),
            "2023-11-14T22:13:20.659Z"
        );
        assert_eq!(
            dt(serde_json::json!(1_700_000_000.001_9), s),
            "2023-11-14T22:13:20.001Z"
        );
        assert_eq!(
            dt(Value::from(1_700_000_000i64), s),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(dt(serde_json::json!(-1.5), s), "1969-12-31T23:59:58.500Z");
        assert_eq!(
            dt(serde_json::json!(-0.0004), s),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            dt(Value::from("1700000000659"), ms),
            "2023-11-14T22:13:20.659Z"
        );
        assert_eq!(
            dt(Value::from("2024-04-02T10:00:00+02:00"), ms),
            "2024-04-02T08:00:00.000Z"
        );
        assert_eq!(epoch_millis("1.7e9", s), Some(1_700_000_000_000));
        assert_eq!(epoch_millis("17e-1", s), Some(1_700));
        assert_eq!(epoch_millis("abc", s), None);
        // a millisecond value read as seconds is out of range, with a message that says so
        let e = cast(Value::from(1_700_000_000_659_000i64), Cast::DateTime(s)).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
