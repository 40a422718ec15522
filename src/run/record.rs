//! A record in flight: its JSON, the API path it came from, its constants and its parent
//! chain, plus the minijinja scope built from them (once, shared by every expression).

use minijinja::Value as MjValue;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// One record of a stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rec {
    /// The record.
    #[serde(rename = "v")]
    pub value: Value,
    /// API path of the response it came from (`static` for inline records).
    #[serde(rename = "s")]
    pub source: Arc<str>,
    /// Constants of the selector that produced it, inherited from ancestors.
    #[serde(rename = "c", default)]
    pub vars: Arc<Map<String, Value>>,
    /// The record it was fetched for or exploded from.
    #[serde(rename = "p", default)]
    pub parent: Option<Arc<Rec>>,
    /// Position among the records of the same response(s) or source record, from 0.
    #[serde(rename = "i", default)]
    pub index: u64,
    #[serde(skip)]
    mj: OnceLock<MjValue>,
    /// Why the record cannot be mapped in full (parts nested too deep were cut), if so.
    #[serde(skip)]
    pub defect: Option<(String, String)>,
    /// Side-loaded lookups of the response page it arrived on.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Arc<SideLoads>>,
}

/// The side-loaded lookups of one response page: per lookup id, its values by key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SideLoads(
    pub std::collections::HashMap<usize, std::collections::HashMap<String, Value>>,
);

impl Rec {
    /// A new record.
    pub fn new(
        value: Value,
        source: Arc<str>,
        vars: Arc<Map<String, Value>>,
        parent: Option<Arc<Rec>>,
        index: u64,
    ) -> Rec {
        Rec {
            value,
            source,
            vars,
            parent,
            index,
            mj: OnceLock::new(),
            defect: None,
            side: None,
        }
    }

    /// The record as a template value (converted once).
    pub fn mj(&self) -> &MjValue {
        self.mj.get_or_init(|| MjValue::from(Serde(&self.value)))
    }

    /// The ancestor `n` levels up (1 = parent).
    pub fn ancestor(&self, n: usize) -> Option<&Rec> {
        let mut cur = self;
        for _ in 0..n {
            cur = cur.parent.as_deref()?;
        }
        Some(cur)
    }

    /// The value side-loaded lookup `l` holds for `key`, on this record's page or the
    /// nearest ancestor's that has the lookup. `None` when no page here side-loads it.
    pub fn side_loaded(&self, l: crate::compile::LookupId, key: &str) -> Option<Option<&Value>> {
        let mut cur = Some(self);
        while let Some(r) = cur {
            if let Some(idx) = r.side.as_ref().and_then(|s| s.0.get(&l.0)) {
                return Some(idx.get(key));
            }
            cur = r.parent.as_deref();
        }
        None
    }

    /// Vars merged with new constants (new ones win).
    pub fn child_vars(&self, extra: &Arc<Map<String, Value>>) -> Arc<Map<String, Value>> {
        if extra.is_empty() {
            return self.vars.clone();
        }
        if self.vars.is_empty() {
            return extra.clone();
        }
        let mut m = (*self.vars).clone();
        m.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        Arc::new(m)
    }
}

/// Builds template scopes.
pub struct Scope;

impl Scope {
    /// Scope of a request issued for `parent` (fan-out) or for nothing (top level).
    pub fn request(inputs: &MjValue, parent: Option<&Rec>) -> MjValue {
        let mut m: BTreeMap<&str, MjValue> = BTreeMap::new();
        m.insert("inputs", inputs.clone());
        if let Some(p) = parent {
            m.insert("parent", p.mj().clone());
            m.insert("parents", parents(Some(p)));
            m.insert("vars", MjValue::from(Serde(&*p.vars)));
        } else {
            m.insert("parents", MjValue::from(Vec::<MjValue>::new()));
        }
        MjValue::from(m)
    }

    /// Scope of a record's mappings; `item` is the element of an `each` and its position.
    pub fn record(inputs: &MjValue, rec: &Rec, item: Option<(&Value, u64)>) -> MjValue {
        Self::record_with(inputs, rec, item, None)
    }

    /// [`Scope::record`] plus `value`, the value a `then` expression transforms.
    pub fn record_with(
        inputs: &MjValue,
        rec: &Rec,
        item: Option<(&Value, u64)>,
        value: Option<&Value>,
    ) -> MjValue {
        let mut m: BTreeMap<&str, MjValue> = BTreeMap::new();
        m.insert("inputs", inputs.clone());
        m.insert("record", rec.mj().clone());
        if let Some(p) = rec.parent.as_deref() {
            m.insert("parent", p.mj().clone());
        }
        m.insert("parents", parents(rec.parent.as_deref()));
        m.insert("vars", MjValue::from(Serde(&*rec.vars)));
        if let Some((i, n)) = item {
            m.insert("item", MjValue::from(Serde(i)));
            m.insert("item_index", MjValue::from(n));
        }
        if let Some(v) = value {
            m.insert("value", MjValue::from(Serde(v)));
        }
        m.insert("index", MjValue::from(rec.index));
        MjValue::from(m)
    }
}

fn parents(first: Option<&Rec>) -> MjValue {
    let mut out = Vec::new();
    let mut cur = first;
    while let Some(r) = cur {
        out.push(r.mj().clone());
        cur = r.parent.as_deref();
    }
    MjValue::from(out)
}
