//! Field mappings as authors write them: a shorthand string or a full mapping object.

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

/// A key or sort value: a JSONPath (`$.job_id`) or a template (`"{{ record.a }}:{{ record.b }}"`).
pub type KeySpec = String;

/// How one unified field is filled.
///
/// A string is shorthand: `$.path` is a JSONPath (first match, or null), a string with `{{`
/// is a template rendered to text. Anything else is a mapping object ([`FieldDef`]).
#[derive(Debug, Clone)]
pub enum FieldSpec {
    /// Shorthand: JSONPath or template.
    Short(String),
    /// A full mapping.
    Full(Box<FieldDef>),
}

/// A full field mapping. Exactly one source: `path`, `expr`, `template`, `const`, `lookup`,
/// `each` or `fields`; then optional `ref`, `map`, `as`, `default`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// JSONPath into the current record (or the value named by `of`); the first match, or null.
    #[serde(default)]
    pub path: Option<String>,
    /// With `path`: take every match, as an array.
    #[serde(default)]
    pub all: Option<bool>,
    /// Root of `path`: `record` (default), `parent`, `parent.parent`, ..., or `vars`.
    #[serde(default)]
    pub of: Option<String>,
    /// A minijinja expression evaluated to a typed value (numbers stay numbers), e.g.
    /// `record.priority + 1`. Sees `record`, `parent`, `parents`, `vars`, `inputs`, `item`.
    #[serde(default)]
    pub expr: Option<String>,
    /// A minijinja template rendered to a string, e.g. `"{{ record.first }} {{ record.last }}"`.
    #[serde(default)]
    pub template: Option<String>,
    /// A constant value.
    #[serde(default, rename = "const", deserialize_with = "present")]
    pub const_: Option<serde_json::Value>,
    /// Name of a lookup to query; the key is `key`, the result is narrowed by `select`.
    #[serde(default)]
    pub lookup: Option<String>,
    /// With `lookup`: the key, as a JSONPath or template (omit for a lookup without `key`).
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// With `lookup`: JSONPath into the value found.
    #[serde(default)]
    pub select: Option<String>,
    /// JSONPath of an array (or a template giving one); builds one element per match from
    /// `fields` or `value`, where `$` is the element (also `item` in expressions, and
    /// `item_index` its position from 0). With `lookup`, a JSONPath into the lookup's value.
    #[serde(default)]
    pub each: Option<String>,
    /// With `each`: expression that must be true for an element to be kept.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// Builds an object, member → mapping (per element with `each`).
    #[serde(default)]
    pub fields: Option<IndexMap<String, FieldSpec>>,
    /// With `each`: the mapping of each element when the result is an array of scalars.
    #[serde(default)]
    pub value: Option<Box<FieldSpec>>,
    /// An expression that transforms the value found, bound as `value`, e.g.
    /// `value | selectattr('status', 'equalto', 'REJECTED') | map(attribute='changedOn') | max`.
    /// Applied before `map`, `default`, `as` and `ref`.
    #[serde(default)]
    pub then: Option<String>,
    /// The value is a remote id of this unified model: it becomes that record's unified id.
    #[serde(default, rename = "ref")]
    pub ref_: Option<String>,
    /// Enum map: vendor value (as text) → unified value. Unmapped values become `default`.
    #[serde(default)]
    pub map: Option<IndexMap<String, serde_json::Value>>,
    /// Value used when the result is null (or, with `map`, unmapped).
    #[serde(default, deserialize_with = "present")]
    pub default: Option<serde_json::Value>,
    /// Conversion of the result: `string`, `integer`, `number`, `boolean`, `datetime`
    /// (normalised to UTC ISO-8601 with milliseconds).
    #[serde(default, rename = "as")]
    pub as_: Option<String>,
    /// With `as: datetime`: the unit of numeric input, `seconds` (default) or
    /// `milliseconds` since the Unix epoch; converted exactly to the millisecond.
    #[serde(default)]
    pub unit: Option<EpochUnit>,
    /// Drop duplicate elements of an array result.
    #[serde(default)]
    pub unique: Option<bool>,
    /// An object (from `fields`) whose members are all null, or an empty array, becomes null.
    #[serde(default)]
    pub null_if_empty: Option<bool>,
    /// Coverage note on this field.
    #[serde(default)]
    pub note: Option<String>,
}

/// The unit of an epoch timestamp.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EpochUnit {
    /// Seconds since 1970-01-01T00:00:00Z (fractions kept to the millisecond).
    #[default]
    Seconds,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    Milliseconds,
}

/// A key that is present is `Some`, even when its value is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSONPath (`$.a.b`), a template (`{{ ... }}`) or a mapping object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Short(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Short(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldSpec, A::Error> {
                FieldDef::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|d| FieldSpec::Full(Box::new(d)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for FieldSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldSpec".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let def = generator.subschema_for::<FieldDef>();
        json_schema!({
            "description": "How one unified field is filled: `$.path` (JSONPath), `\"{{ template }}\"`, or a mapping object.",
            "anyOf": [ { "type": "string" }, def ]
        })
    }
}
