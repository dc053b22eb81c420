//! BC's error wire formats, as one enum that renders itself.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use uuid::Uuid;

/// The body BC sends for an unknown environment (captured from a real tenant).
pub const NO_ENVIRONMENT_XML: &str = "<error xmlns=\"http://docs.oasis-open.org/odata/ns/metadata\">\n    <code>NoEnvironment</code>\n    <message>Environment does not exist.</message>\n</error>";

/// An error answered by the BC API.
#[derive(Debug, thiserror::Error)]
pub enum BcError {
    /// Unknown environment: 404 with BC's XML body.
    #[error("environment does not exist")]
    NoEnvironment,
    /// 400 `BadRequest` (bad query option, unknown property, bad literal).
    #[error("{0}")]
    BadRequest(String),
    /// 404 with a BC error code.
    #[error("{code}: {message}")]
    NotFound {
        /// BC error code, e.g. `BadRequest_ResourceNotFound`.
        code: &'static str,
        /// Message before the correlation id.
        message: String,
    },
    /// 401 with `WWW-Authenticate` naming why the token was refused.
    #[error("unauthorized: {description}")]
    Unauthorized {
        /// Tenant for the authorization_uri.
        tenant: String,
        /// error_description of the header.
        description: &'static str,
    },
    /// Any status with a BC JSON error body (throttling, faults).
    #[error("{status} {code}")]
    Status {
        /// HTTP status.
        status: StatusCode,
        /// BC error code.
        code: &'static str,
        /// Message before the correlation id.
        message: String,
        /// Retry-After seconds, if any.
        retry_after: Option<u64>,
    },
}

/// BC's error JSON: message ends with two spaces, `CorrelationId:  <guid>.`
pub fn bc_error_json(code: &str, message: &str) -> String {
    let msg = format!(
        "{}  CorrelationId:  {}.",
        message.trim_end_matches('.').to_string() + ".",
        Uuid::new_v4()
    );
    serde_json::json!({"error": {"code": code, "message": msg}}).to_string()
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal; odata.streaming=true"),
    );
    r
}

impl IntoResponse for BcError {
    fn into_response(self) -> Response {
        match self {
            BcError::NoEnvironment => {
                let mut r = (StatusCode::NOT_FOUND, NO_ENVIRONMENT_XML).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml"),
                );
                r
            }
            BcError::BadRequest(m) => {
                json_response(StatusCode::BAD_REQUEST, bc_error_json("BadRequest", &m))
            }
            BcError::NotFound { code, message } => {
                json_response(StatusCode::NOT_FOUND, bc_error_json(code, &message))
            }
            BcError::Unauthorized {
                tenant,
                description,
            } => {
                let body = serde_json::json!({"error": {"code": "Unauthorized", "message": "The credentials provided are incorrect"}}).to_string();
                let mut r = json_response(StatusCode::UNAUTHORIZED, body);
                let h = format!(
                    "Bearer authorization_uri=\"https://login.microsoftonline.com/{tenant}/oauth2/authorize\", error=\"invalid_token\", error_description=\"{description}\""
                );
                if let Ok(v) = HeaderValue::from_str(&h) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r
            }
            BcError::Status {
                status,
                code,
                message,
                retry_after,
            } => {
                let mut r = json_response(status, bc_error_json(code, &message));
                if let Some(s) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(s));
                }
                r
            }
        }
    }
}
