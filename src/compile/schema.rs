//! The unified model's JSON Schemas (`schemas/ats/*.schema.json`, embedded in the binary):
//! model names, field names, empty values, and compiled validators.

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
            let schema: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("schemas/ats/{name}.schema.json: {e}"));
            ModelSchema {
                name,
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
        self.schema["properties"]
            .as_object()
            .map(|m| m.keys().map(|k| k.as_str()).collect())
            .unwrap_or_default()
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
