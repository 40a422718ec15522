//! The editor schema of connector files (`mapper schema`): generated from the spec types,
//! then told what the types cannot say (unified model names, casts, the name pattern, and
//! per model the field names a stream may map).

use super::Spec;
use serde_json::{Value, json};

/// The casts `as:` accepts.
pub const CASTS: &[&str] = &["string", "integer", "number", "boolean", "datetime"];

/// The JSON Schema (draft-07) of connector files, for editors (`mapper schema`).
pub fn editor_schema() -> String {
    let settings = schemars::generate::SchemaSettings::draft07();
    let generator = settings.into_generator();
    let mut schema = generator.into_root_schema_for::<Spec>();
    schema.insert(
        "$id".into(),
        json!("https://mapper.dev/schemas/connector.schema.json"),
    );
    schema.insert("title".into(), json!("mapper connector"));
    let mut value = schema.to_value();
    refine(&mut value);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Adds the enums and the per-model field names to the generated schema.
fn refine(root: &mut Value) {
    let models: Vec<&str> = crate::compile::schema::model_names().collect();
    if let Some(name) = root.pointer_mut("/properties/name") {
        name["pattern"] = json!("^[a-z0-9_]+$");
    }
    let defs = "/definitions";
    if let Some(m) = root.pointer_mut(&format!("{defs}/StreamSpec/properties/model")) {
        let mut e: Vec<Value> = models.iter().map(|m| json!(m)).collect();
        e.push(Value::Null);
        m["enum"] = Value::Array(e);
    }
    if let Some(m) = root.pointer_mut(&format!("{defs}/DeletesSpec/properties/model")) {
        m["enum"] = json!(models);
    }
    if let Some(a) = root.pointer_mut(&format!("{defs}/FieldDef/properties/as")) {
        let mut e: Vec<Value> = CASTS.iter().map(|c| json!(c)).collect();
        e.push(Value::Null);
        a["enum"] = Value::Array(e);
    }
    // per model: the fields a stream of that model may map (what editors complete)
    let computed = crate::compile::schema::COMPUTED_FIELDS;
    let per_model: Vec<Value> = models
        .iter()
        .filter_map(|m| {
            let schema = crate::compile::schema::model(m)?;
            let fields: Vec<&str> = schema
                .fields()
                .into_iter()
                .filter(|f| !computed.contains(f))
                .collect();
            let props: serde_json::Map<String, Value> = fields
                .iter()
                .map(|f| {
                    let d = format!("The unified field `{m}.{f}`.");
                    (f.to_string(), json!({"$ref": "#/definitions/FieldSpec", "description": d}))
                })
                .collect();
            Some(json!({
                "if": {"properties": {"model": {"const": m, "description": "The model."}}, "required": ["model"]},
                "then": {"properties": {"fields": {
                    "description": format!("Field mappings of `{m}`."),
                    "properties": props,
                    "propertyNames": {"enum": fields},
                }}},
            }))
        })
        .collect();
    if let Some(s) = root.pointer_mut(&format!("{defs}/StreamSpec"))
        && let Some(obj) = s.as_object_mut()
    {
        obj.insert("allOf".into(), Value::Array(per_model));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_knows_models_casts_and_fields_per_model() {
        let v: Value = serde_json::from_str(&editor_schema()).unwrap();
        let stream = &v["definitions"]["StreamSpec"];
        let models = stream["properties"]["model"]["enum"].as_array().unwrap();
        assert!(models.contains(&json!("candidates")) && models.contains(&Value::Null));
        let casts = &v["definitions"]["FieldDef"]["properties"]["as"]["enum"];
        assert!(casts.as_array().unwrap().contains(&json!("datetime")));
        assert_eq!(v["properties"]["name"]["pattern"], "^[a-z0-9_]+$");
        let jobs = stream["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["if"]["properties"]["model"]["const"] == "jobs")
            .unwrap();
        let names = jobs["then"]["properties"]["fields"]["propertyNames"]["enum"]
            .as_array()
            .unwrap();
        assert!(names.contains(&json!("post_url")) && names.contains(&json!("remote_id")));
        assert!(
            !names.contains(&json!("changed_at")),
            "computed fields are not mapped"
        );
    }
}
