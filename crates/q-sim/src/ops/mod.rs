//! Operation handlers: each parses and validates its request (path labels,
//! query, JSON body), applies it to the shared state and returns the JSON
//! response body.

mod access;
mod documents;
mod jobs;
mod resources;

use serde_json::Value;

use crate::error::QError;
use crate::shared::Shared;
use crate::validate::Validator;

/// A decoded request as the handlers see it.
pub struct Req<'a> {
    /// Path labels of the route, decoded.
    pub labels: &'a [(&'static str, String)],
    /// Query pairs, decoded, in order.
    pub query: &'a [(String, String)],
    /// Raw body.
    pub body: &'a [u8],
    /// `partial_failure` fault: fail the first N documents.
    pub partial: Option<usize>,
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

    /// First value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a (list) query parameter.
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Validates the id labels against their shapes.
    pub fn check_ids(&self, v: &mut Validator, names: &[(&str, &str)]) {
        for (label, shape) in names {
            v.check_str(label, self.label(label), shape);
        }
    }

    /// Parses an integer query parameter.
    pub fn query_int(&self, v: &mut Validator, name: &str, shape: &str) -> Option<i64> {
        let raw = self.query(name)?;
        match raw.parse::<i64>() {
            Ok(n) => v.int(name, Some(n), shape),
            Err(_) => {
                v.parse_error(format!("Cannot parse '{name}': '{raw}' is not an integer"));
                None
            }
        }
    }
}

/// Labels of the three ids most routes carry.
pub const APP: (&str, &str) = ("applicationId", "ApplicationId");
/// Index id label.
pub const INDEX: (&str, &str) = ("indexId", "IndexId");
/// Data source id label.
pub const DS: (&str, &str) = ("dataSourceId", "DataSourceId");

/// Runs an operation.
pub fn dispatch(shared: &Shared, op: &str, req: &Req) -> Result<Value, QError> {
    match op {
        "CreateApplication" => resources::create_application(shared, req),
        "GetApplication" => resources::get_application(shared, req),
        "CreateIndex" => resources::create_index(shared, req),
        "GetIndex" => resources::get_index(shared, req),
        "UpdateIndex" => resources::update_index(shared, req),
        "CreateDataSource" => resources::create_data_source(shared, req),
        "GetDataSource" => resources::get_data_source(shared, req),
        "StartDataSourceSyncJob" => jobs::start(shared, req),
        "StopDataSourceSyncJob" => jobs::stop(shared, req),
        "ListDataSourceSyncJobs" => jobs::list(shared, req),
        "BatchPutDocument" => documents::batch_put(shared, req),
        "BatchDeleteDocument" => documents::batch_delete(shared, req),
        "ListDocuments" => documents::list(shared, req),
        "CheckDocumentAccess" => access::check_document_access(shared, req),
        "PutGroup" => access::put_group(shared, req),
        "GetGroup" => access::get_group(shared, req),
        "DeleteGroup" => access::delete_group(shared, req),
        other => Err(QError::Validation {
            message: format!("operation {other} is not served"),
            reason: crate::error::Reason::UnknownOperation,
            fields: vec![],
        }),
    }
}

/// Pagination token: an opaque base64 offset (≤ 800 chars as `NextToken` requires).
pub fn encode_token(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("qsim:{offset}"))
}

/// Decodes a token made by [`encode_token`].
pub fn decode_token(t: &str) -> Result<usize, QError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("qsim:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| QError::field("nextToken", "The nextToken is invalid or expired"))
}

/// One page of `items` from `offset`; returns the page and the next token.
pub fn page<T: Clone>(items: &[T], offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let end = (offset + max).min(items.len());
    let slice = if offset < items.len() {
        items[offset..end].to_vec()
    } else {
        Vec::new()
    };
    let next = if end < items.len() {
        Some(encode_token(end))
    } else {
        None
    };
    (slice, next)
}

/// Stops a running job on behalf of the control API (the job ends ABORTED).
pub fn stop_job_for_control(
    shared: &Shared,
    inner: &mut crate::shared::Inner,
    app: &str,
    index: &str,
    ds: &str,
) -> Result<String, QError> {
    jobs::stop_job(shared, inner, app, index, ds, true)
}
