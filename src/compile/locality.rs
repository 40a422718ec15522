//! Which model maps read nothing but the record and its parent chain (so that what a
//! record is mapped from can be fingerprinted, see [`crate::run::fingerprint`]).

use super::plan::{EachItem, Field, FieldValue, KeyExpr, ValueMap, ValueSource};
use crate::spec::Duplicates;

/// Whether a model map with these fields depends on nothing but the record and its parents.
pub(super) fn record_only(fields: &[Field], join: bool, duplicates: Option<Duplicates>) -> bool {
    !join
        && duplicates != Some(Duplicates::Merge)
        && fields.iter().all(|f| match &f.value {
            FieldValue::Mapped(vm) => local(vm),
            _ => true,
        })
}

/// Whether a value reads only the record, its parents, its constants and its position.
fn local(vm: &ValueMap) -> bool {
    let no_inputs = |text: &str| !text.contains("inputs");
    let source = match &vm.source {
        ValueSource::Path { .. } | ValueSource::Const(_) => true,
        ValueSource::Expr(e) => no_inputs(e.as_str()),
        ValueSource::Template(t) => no_inputs(t.as_str()),
        ValueSource::Lookup { .. } => false,
        ValueSource::Each {
            lookup,
            path,
            where_,
            item,
            ..
        } => {
            lookup.is_none()
                && match path {
                    KeyExpr::Path(_) => true,
                    KeyExpr::Template(t) => no_inputs(t.as_str()),
                }
                && where_.as_ref().is_none_or(|w| no_inputs(w.as_str()))
                && match item.as_ref() {
                    EachItem::Object(members) => members.iter().all(|(_, m)| local(m)),
                    EachItem::Value(m) => local(m),
                }
        }
        ValueSource::Object(members) => members.iter().all(|(_, m)| local(m)),
    };
    source && vm.then.as_ref().is_none_or(|t| no_inputs(t.as_str()))
}

#[cfg(test)]
mod tests {
    const SPEC: &str = r#"
name: t
base_url: http://127.0.0.1:1
inputs:
  api_key: { env: T_KEY, default: x }
streams:
  candidates:
    model: candidates
    request: { path: /candidates }
    records: $.content[*]
    fields:
      remote_id: $.id
      first_name: $.firstName
      title: TITLE
"#;

    fn record_only(title: &str) -> bool {
        let text = SPEC.replace("TITLE", title);
        let (spec, map) = crate::spec::load_str("t.yaml", &text).unwrap();
        let plan = super::super::compile(&spec, &map, std::path::Path::new("t.yaml")).unwrap();
        plan.streams[0].output.as_ref().unwrap().record_only
    }

    #[test]
    fn a_map_that_reads_inputs_is_not_record_only() {
        assert!(record_only("$.title"));
        assert!(record_only(r#""{{ record.firstName }} {{ parent }}""#));
        assert!(!record_only(r#""{{ inputs.api_key }}""#));
        assert!(!record_only(
            r#"{ path: $.title, then: "value ~ inputs.api_key" }"#
        ));
    }
}
