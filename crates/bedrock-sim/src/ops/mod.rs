//! Operation handlers: each validates its request (path labels, JSON body)
//! against its model's constraint table, applies it to the shared state and
//! returns the JSON response body.

mod documents;
mod resources;
mod retrieve;

use std::sync::Arc;

use aws_sim::validate::Validator;
use serde_json::Value;

use crate::error::BedrockError;
use crate::shared::{Inner, Shared};
use crate::state::DataSource;

/// A decoded request as the handlers see it.
pub struct Req<'a> {
    /// Path labels of the route, decoded.
    pub labels: &'a [(&'static str, String)],
    /// Raw body.
    pub body: &'a [u8],
}

impl Req<'_> {
    /// A path label (always present: the route matched).
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Runs an operation.
pub fn dispatch(shared: &Arc<Shared>, op: &str, req: &Req) -> Result<Value, BedrockError> {
    match op {
        "GetKnowledgeBase" => resources::get_knowledge_base(shared, req),
        "ListKnowledgeBases" => resources::list_knowledge_bases(shared, req),
        "GetDataSource" => resources::get_data_source(shared, req),
        "ListDataSources" => resources::list_data_sources(shared, req),
        "IngestKnowledgeBaseDocuments" => documents::ingest(shared, req),
        "DeleteKnowledgeBaseDocuments" => documents::delete(shared, req),
        "GetKnowledgeBaseDocuments" => documents::get(shared, req),
        "ListKnowledgeBaseDocuments" => documents::list(shared, req),
        "Retrieve" => retrieve::retrieve(shared, req),
        other => Err(BedrockError::UnknownOperation(format!(
            "operation {other} is not served"
        ))),
    }
}

/// Validates the `knowledgeBaseId` (and `dataSourceId`) labels against the
/// model's `Id` shape.
fn check_ids(v: &mut Validator, req: &Req, names: &[&str]) {
    for name in names {
        v.check_str(name, req.label(name), "Id");
    }
}

/// `ResourceNotFoundException` unless the knowledge base exists.
fn knowledge_base(inner: &Inner, id: &str) -> Result<(), BedrockError> {
    if inner.kb.id == id {
        Ok(())
    } else {
        Err(BedrockError::NotFound(format!(
            "Knowledge base {id} does not exist in this account and region"
        )))
    }
}

/// The data source `ds` of knowledge base `kb`, or `ResourceNotFoundException`.
fn data_source<'i>(
    inner: &'i mut Inner,
    kb: &str,
    ds: &str,
) -> Result<&'i mut DataSource, BedrockError> {
    knowledge_base(inner, kb)?;
    inner.kb.data_sources.get_mut(ds).ok_or_else(|| {
        BedrockError::NotFound(format!(
            "Data source {ds} does not exist in knowledge base {kb}"
        ))
    })
}

/// Validates `maxResults` and `nextToken` of a list request (bedrock-agent's
/// `MaxResults` and `NextToken`).
fn paging(v: &mut Validator, body: &Value) -> (Option<i64>, Option<String>) {
    let max = v.long("maxResults", body.get("maxResults"), false);
    let max = v.int("maxResults", max, "MaxResults");
    let token = v.string("nextToken", body.get("nextToken"), "NextToken", false);
    (max, token)
}

/// One page of `items` (sorted by key) after the cursor `token`; returns the
/// page and, when more remain, a token resuming after it. A token the
/// emulator did not issue is a `ValidationException`.
fn page(
    inner: &mut Inner,
    items: Vec<(String, Value)>,
    token: Option<&str>,
    max: usize,
) -> Result<(Vec<Value>, Option<String>), BedrockError> {
    let after = match token {
        None => None,
        Some(t) => Some(inner.cursors.get(t).cloned().ok_or_else(|| {
            BedrockError::invalid(format!(
                "The nextToken {t} is not valid: it was not returned by a previous call, or it expired"
            ))
        })?),
    };
    let rest: Vec<(String, Value)> = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let more = rest.len() > max;
    let page: Vec<(String, Value)> = rest.into_iter().take(max).collect();
    let next = match (more, page.last()) {
        (true, Some((k, _))) => Some(inner.cursor(k)),
        _ => None,
    };
    Ok((page.into_iter().map(|(_, v)| v).collect(), next))
}
