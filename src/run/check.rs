//! `mapper check`: one cheap request per auth alternative, to tell whether the credentials
//! (and the base URL) work before a run.

use super::http::{self, Client, Counters};
use super::record::Scope;
use super::{RunError, RunOptions, resolve_inputs, transport};
use crate::compile::{Auth, Plan, RequestParts, Source};
use minijinja::Value as MjValue;
use std::sync::Arc;

/// What one auth alternative's check request answered.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The alternative, e.g. `basic (GREENHOUSE_API_KEY)`.
    pub auth: String,
    /// `METHOD URL` of the request (redacted), empty when skipped.
    pub request: String,
    /// The result.
    pub result: CheckResult,
}

/// The result of one check.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// A 2xx answer that is not an error inside the answer.
    Ok(u16),
    /// The request failed: the status (if there was an answer) and why.
    Failed(Option<u16>, String),
    /// The alternative's inputs are not set (the environment variables named).
    Skipped(Vec<String>),
}

/// Sends the connector's check request (its `check:`, or the first page of the first stream
/// that needs no parent) once per auth alternative whose inputs are set.
pub async fn check(plan: Arc<Plan>, opts: RunOptions) -> Result<Vec<CheckOutcome>, RunError> {
    let (inputs, _, redactor) = resolve_inputs(&plan, &opts)?;
    let scope = Scope::request(&inputs, None);
    let base_url = plan.base_url.resolve(&scope).map_err(RunError::Usage)?;
    let parts = check_parts(&plan)?;
    let alternatives: Vec<Option<&Auth>> = match &plan.auth {
        None => vec![None],
        Some(Auth::AnyOf(all)) => all.iter().map(Some).collect(),
        Some(a) => vec![Some(a)],
    };
    let mut out = Vec::new();
    for auth in alternatives {
        let label = auth.map_or_else(
            || "no auth".to_owned(),
            |a| crate::coverage::auth_lines(a, &plan).join("; "),
        );
        let missing: Vec<String> = auth
            .map(|a| a.inputs())
            .unwrap_or_default()
            .iter()
            .filter(|n| inputs.get_attr(n).map_or(true, |v| v.is_undefined()))
            .map(|n| plan.env_of(n))
            .collect();
        if !missing.is_empty() {
            out.push(CheckOutcome {
                auth: label,
                request: String::new(),
                result: CheckResult::Skipped(missing),
            });
            continue;
        }
        let t = transport::Transport::http(plan.timeout, None)
            .map_err(|e| RunError::Spec(e.to_string()))?;
        let client = Client::new(
            t,
            &plan,
            &base_url,
            opts.base_url.as_ref(),
            auth,
            &scope,
            redactor.clone(),
        )?;
        let (request, result) = send(&client, &parts, &scope).await?;
        out.push(CheckOutcome {
            auth: label,
            request,
            result,
        });
    }
    Ok(out)
}

/// The declared `check:` request, else the first request of the first top-level stream.
fn check_parts(plan: &Plan) -> Result<RequestParts<'_>, RunError> {
    if let Some(c) = &plan.check {
        return Ok(c.parts());
    }
    plan.streams
        .iter()
        .find_map(|s| match &s.source {
            Source::Http(h) if h.for_each.is_none() => Some(h.parts()),
            _ => None,
        })
        .ok_or_else(|| {
            RunError::Usage(
                "the connector has no stream without a parent to check with: declare a `check:` request"
                    .into(),
            )
        })
}

async fn send(
    client: &Client,
    parts: &RequestParts<'_>,
    scope: &MjValue,
) -> Result<(String, CheckResult), RunError> {
    let super::pager::Rendered {
        path,
        query,
        headers,
        body,
    } = super::pager::render(parts, scope)
        .map_err(|e| RunError::Spec(format!("check request: {e}")))?;
    let url = client.url_for(&path, &query).map_err(RunError::Usage)?;
    let what = format!("{} {}", parts.method, client.redactor.redact(url.as_str()));
    let counters = Counters::default();
    let resp = match client
        .get_json(parts.method, url, body, &headers, &counters, None)
        .await
    {
        Ok((r, body)) => (r, body),
        Err(e) => return Ok((what, CheckResult::Failed(None, e))),
    };
    let (r, body) = resp;
    if !(200..300).contains(&r.status) {
        return Ok((
            what,
            CheckResult::Failed(Some(r.status), http::status_text(r.status)),
        ));
    }
    if let Some(ew) = parts.error_when {
        let mut m = std::collections::BTreeMap::new();
        m.insert("inputs", scope.get_attr("inputs").unwrap_or_default());
        m.insert("response", MjValue::from(minijinja::value::Serde(&body)));
        let found = super::pager::answer_error(ew, &MjValue::from(m), &body)
            .map_err(|e| RunError::Spec(format!("error_when: {e}")))?;
        if let Some(message) = found {
            let why = format!(
                "an error inside a 2xx answer: {}",
                client.redactor.redact(&message)
            );
            return Ok((what, CheckResult::Failed(Some(r.status), why)));
        }
    }
    Ok((what, CheckResult::Ok(r.status)))
}
