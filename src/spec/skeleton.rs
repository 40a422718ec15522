//! The commented connector skeleton `mapper new` writes (it validates as written).

/// A connector skeleton named `name`, whose modeline points at `schema`.
pub fn skeleton(name: &str, schema: &str) -> String {
    let env = format!("{}_API_KEY", name.to_ascii_uppercase());
    TEMPLATE
        .replace("@SCHEMA@", schema)
        .replace("@NAME@", name)
        .replace("@ENV@", &env)
}

const TEMPLATE: &str = r#"# yaml-language-server: $schema=@SCHEMA@
# A mapper connector: the vendor's API, and how its records become unified models.
# `mapper validate` checks it; `mapper describe` shows what it reads; `mapper check` tries
# the credentials; `mapper run --limit 5 --show-http` shows the wire.
name: @NAME@
title: @NAME@
notes: What this connector reads, and what it cannot (shown on its coverage page).
base_url: https://api.@NAME@.example.com      # credentials are only ever sent to this host

inputs:
  api_key:
    env: @ENV@                    # read from the environment (or --config)
    description: An API key with read access.
    secret: true                  # redacted in every log and error

auth:
  type: bearer                    # or api_key, basic, oauth2_client_credentials, any_of
  token: "{{ inputs.api_key }}"

rate_limit: { requests_per_second: 5, max_concurrency: 2 }
pagination: { type: cursor, cursor: $.next_cursor, param: cursor }   # stops when the cursor is missing

# check: { path: /v1/me }         # what `mapper check` requests (default: the first stream's first page)

streams:
  users:
    model: users                  # the unified model these records become
    request:
      path: /v1/users
      query: { limit: 100 }
      delta: { param: updated_since }   # what `mapper run --delta` sends
    records: $.data[*]            # where the records sit in each page
    fields:
      remote_id: $.id
      first_name: $.first_name
      last_name: $.last_name
      email: $.email
      status:
        path: $.active
        map: { "true": ACTIVE, "false": INACTIVE }
        note: Inactive users are INACTIVE.   # coverage notes explain partial fields
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_skeleton_compiles() {
        let text = super::skeleton("acme_ats", "../schemas/connector.schema.json");
        let (spec, map) = crate::spec::load_str("acme_ats.yaml", &text).unwrap();
        let plan = crate::compile::compile(&spec, &map, std::path::Path::new("acme_ats.yaml"));
        assert!(plan.is_ok(), "{:?}", plan.err());
        assert!(text.contains("env: ACME_ATS_API_KEY"));
    }
}
