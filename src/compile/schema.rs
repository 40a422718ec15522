//! The unified model's JSON Schemas (`schemas/ats/*.schema.json`, embedded in the binary):
//! model names, field names, empty values, and compiled validators.
//!
//! JSON objects in mapper sort their keys (serde_json without `preserve_order`: parsing
//! vendor pages is cheaper so), so the order of each `properties` object in a schema file
//! is kept beside it, as the annotation [`ORDER`], which validators ignore.

use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, LazyLock, OnceLock};

macro_rules! models {
    ($($name:literal),* $(,)?) => {
        /// Every unified model, in the unified order, with its schema text.
        pub const MODELS: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../schemas/ats/", $name, ".schema.json")))),*
        ];
    };
}

models!(
    "users",
    "jobs",
    "job_postings",
    "candidates",
    "application_stages",
    "applications",
    "screening_questions",
    "tags",
    "interviews",
    "offers",
    "rejection_reasons",
    "candidate_tags",
    "job_screening_questions",
    "job_application_stages",
    "job_hiring_team_members",
    "interviewing_team_members",
);

/// Join models: no remote id of their own; their id derives from their `key` fields.
pub const JOIN_MODELS: &[&str] = &[
    "candidate_tags",
    "job_screening_questions",
    "job_application_stages",
    "job_hiring_team_members",
    "interviewing_team_members",
];

/// Fields mapper fills itself; a connector never maps them.
pub const COMPUTED_FIELDS: &[&str] = &["id", "changed_at", "remote_data"];

/// One unified model's schema, parsed and compiled.
#[derive(Clone)]
pub struct ModelSchema {
    /// Model name.
    pub name: &'static str,
    /// The schema document.
    pub schema: Arc<Value>,
    /// Compiled validator (draft 2020-12, formats enforced), built when first used: a run
    /// validates a few models, and compiling all of them costs memory for the whole run.
    validator: Arc<OnceLock<jsonschema::Validator>>,
    /// Whether it is a join model.
    pub join: bool,
    /// Field names in schema order.
    order: Arc<[String]>,
}

/// The annotation beside a schema's `properties` that lists them in the schema file's order.
pub const ORDER: &str = "x-order";

/// A JSON document's objects with their members in document order (and nothing else).
#[derive(Deserialize)]
#[serde(untagged)]
enum Ordered {
    Object(indexmap::IndexMap<String, Ordered>),
    Array(Vec<Ordered>),
    Other(serde::de::IgnoredAny),
}

/// Adds [`ORDER`] beside every `properties` object of `v`, from `o` (the same document).
fn annotate(v: &mut Value, o: &Ordered) {
    match (v, o) {
        (Value::Object(m), Ordered::Object(om)) => {
            for (k, child) in om {
                if let Some(cv) = m.get_mut(k) {
                    annotate(cv, child);
                }
            }
            if let Some(Ordered::Object(props)) = om.get("properties") {
                let names = props.keys().map(|k| Value::String(k.clone())).collect();
                m.insert(ORDER.into(), Value::Array(names));
            }
        }
        (Value::Array(a), Ordered::Array(oa)) => {
            for (x, y) in a.iter_mut().zip(oa) {
                annotate(x, y);
            }
        }
        _ => {}
    }
}

/// Parses a schema text, keeping the order of its properties ([`ORDER`]).
fn parse_ordered(text: &str) -> Result<Value, serde_json::Error> {
    let mut v: Value = serde_json::from_str(text)?;
    let o: Ordered = serde_json::from_str(text)?;
    annotate(&mut v, &o);
    Ok(v)
}

/// The properties of an object's schema (or of an array's items) in schema order.
pub fn ordered_properties(prop: &Value) -> Vec<(&str, &Value)> {
    let (holder, props) = match prop.get("properties") {
        Some(Value::Object(p)) => (prop, p),
        _ => match prop.get("items") {
            Some(items @ Value::Object(i)) => match i.get("properties") {
                Some(Value::Object(p)) => (items, p),
                _ => return Vec::new(),
            },
            _ => return Vec::new(),
        },
    };
    match holder.get(ORDER).and_then(Value::as_array) {
        Some(names) if names.len() == props.len() => names
            .iter()
            .filter_map(|n| props.get_key_value(n.as_str()?))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        _ => props.iter().map(|(k, v)| (k.as_str(), v)).collect(),
    }
}

impl std::fmt::Debug for ModelSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelSchema({})", self.name)
    }
}

static SCHEMAS: LazyLock<Vec<ModelSchema>> = LazyLock::new(|| {
    MODELS
        .iter()
        .map(|(name, text)| {
            // the schemas are embedded and every one is compiled by this module's tests
            let schema = parse_ordered(text)
                .unwrap_or_else(|e| panic!("schemas/ats/{name}.schema.json: {e}"));
            let order = ordered_properties(&schema)
                .into_iter()
                .map(|(k, _)| k.to_owned())
                .collect();
            ModelSchema {
                name,
                order,
                schema: Arc::new(schema),
                validator: Arc::new(OnceLock::new()),
                join: JOIN_MODELS.contains(name),
            }
        })
        .collect()
});

/// The schema of a model, if it is a unified model.
pub fn model(name: &str) -> Option<&'static ModelSchema> {
    SCHEMAS.iter().find(|m| m.name == name)
}

/// Names of all unified models.
pub fn model_names() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|(n, _)| *n)
}

impl ModelSchema {
    /// The compiled validator.
    pub fn validator(&self) -> &jsonschema::Validator {
        self.validator.get_or_init(|| {
            // embedded schemas, each compiled by this module's tests
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&self.schema)
                .unwrap_or_else(|e| {
                    panic!(
                        "schemas/ats/{}.schema.json does not compile: {e}",
                        self.name
                    )
                })
        })
    }

    /// The schema of a property (`location`, or nested `location.city`).
    pub fn property(&self, dotted: &str) -> Option<&Value> {
        let mut cur: &Value = &self.schema;
        for part in dotted.split('.') {
            let props = cur
                .get("properties")
                .or_else(|| cur.get("items").and_then(|i| i.get("properties")))?;
            cur = props.get(part)?;
        }
        Some(cur)
    }

    /// Field names in schema order.
    pub fn fields(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    /// Field names in schema order, as stored.
    pub fn field_order(&self) -> &[String] {
        &self.order
    }

    /// Value of a field the connector does not map: `[]` or `{}` where the schema does not
    /// allow null, else null.
    pub fn empty_value(&self, field: &str) -> Value {
        empty_value_of(self.property(field).unwrap_or(&Value::Null))
    }
}

/// The empty value a property schema accepts: null if allowed, else `[]`/`{}`.
pub fn empty_value_of(prop: &Value) -> Value {
    let types: Vec<&str> = match prop.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(|t| t.as_str()).collect(),
        _ => vec![],
    };
    if types.is_empty() || types.contains(&"null") {
        Value::Null
    } else if types.contains(&"array") {
        Value::Array(vec![])
    } else if types.contains(&"object") {
        Value::Object(Default::default())
    } else {
        Value::Null
    }
}

/// Whether a property (schema) describes an object with properties, or an array of them.
pub fn has_members(prop: &Value) -> bool {
    prop.get("properties").is_some()
        || prop
            .get("items")
            .and_then(|i| i.get("properties"))
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_keep_the_order_of_the_schema_file() {
        let jobs = model("jobs").unwrap();
        assert_eq!(
            jobs.fields()[..4],
            ["id", "remote_id", "changed_at", "remote_deleted_at"]
        );
        let location = jobs.property("location").unwrap();
        let names: Vec<&str> = ordered_properties(location).iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "city", "country", "state", "zip_code", "street_1", "street_2", "raw"
            ]
        );
        // an array's items, and a schema without the annotation (its own order)
        let v = serde_json::json!({"items": {"properties": {"b": {}, "a": {}}}});
        let names: Vec<&str> = ordered_properties(&v).iter().map(|p| p.0).collect();
        assert_eq!(names, ["a", "b"]);
        let v = parse_ordered(r#"{"items": {"properties": {"b": {}, "a": {}}}}"#).unwrap();
        let names: Vec<&str> = ordered_properties(&v).iter().map(|p| p.0).collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn every_schema_compiles_and_rejects_bad_records() {
        for name in model_names() {
            let m = model(name).unwrap();
            let mut rec = serde_json::Map::new();
            for f in m.fields() {
                rec.insert(f.to_owned(), m.empty_value(f));
            }
            rec.insert("id".into(), json!("abc"));
            rec.insert("changed_at".into(), json!("2024-01-01T00:00:00.000Z"));
            let ok = Value::Object(rec.clone());
            assert!(
                m.validator().is_valid(&ok),
                "{name}: {:?}",
                m.validator()
                    .iter_errors(&ok)
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
            );
            let mut extra = rec.clone();
            extra.insert("not_a_field".into(), json!(1));
            assert!(
                !m.validator().is_valid(&Value::Object(extra)),
                "{name} accepts an extra field"
            );
            let mut bad_date = rec.clone();
            bad_date.insert("changed_at".into(), json!("yesterday"));
            assert!(
                !m.validator().is_valid(&Value::Object(bad_date)),
                "{name} accepts a bad date-time"
            );
            // a wrong enum value, on the first enum field the model has
            if let Some(f) = m
                .fields()
                .into_iter()
                .find(|f| m.property(f).is_some_and(|p| p.get("enum").is_some()))
            {
                let mut bad = rec.clone();
                bad.insert(f.to_owned(), json!("NOT_A_VALUE"));
                assert!(
                    !m.validator().is_valid(&Value::Object(bad)),
                    "{name}.{f} accepts a wrong enum value"
                );
            }
        }
        let c = model("candidates").unwrap();
        assert_eq!(c.empty_value("email_addresses"), json!([]));
        assert_eq!(c.empty_value("custom_fields"), json!({}));
        assert!(c.property("location.city").is_some());
        assert!(c.property("email_addresses.email_address").is_some());
        let mut rec = serde_json::Map::new();
        for f in c.fields() {
            rec.insert(f.to_owned(), c.empty_value(f));
        }
        rec.insert("id".into(), json!("x"));
        rec.insert("changed_at".into(), json!("2024-01-01T00:00:00.000Z"));
        rec.insert(
            "email_addresses".into(),
            json!([{"email_address": "not an email", "type": null}]),
        );
        assert!(
            !c.validator().is_valid(&Value::Object(rec)),
            "email format is enforced"
        );
    }
}
