//! `QError`: every error the emulator answers, rendered in the rest-json wire
//! format (`x-amzn-ErrorType` header, body with `__type` and `message`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One field of a `ValidationException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Member path, Coral style (`documents.1.member.id`).
    pub name: String,
    /// What the constraint says.
    pub message: String,
}

/// `ValidationExceptionReason` of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Body is not JSON or a member has the wrong JSON type.
    CannotParse,
    /// A member breaks a length, range, pattern or enum constraint.
    FieldValidationFailed,
    /// No route matches.
    UnknownOperation,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::CannotParse => "CANNOT_PARSE",
            Reason::FieldValidationFailed => "FIELD_VALIDATION_FAILED",
            Reason::UnknownOperation => "UNKNOWN_OPERATION",
        }
    }
}

/// An error answer. Modeled variants map to the model's error shapes; the
/// authentication variants are the service-wide answers of AWS's front door
/// (not in any operation's `errors`, the SDK reports them as unhandled).
#[derive(Debug, Clone, thiserror::Error)]
pub enum QError {
    /// 400 `ValidationException`.
    #[error("validation failed: {message}")]
    Validation {
        /// Human readable summary.
        message: String,
        /// Reason enum.
        reason: Reason,
        /// Offending members.
        fields: Vec<FieldError>,
    },
    /// 403 `AccessDeniedException`.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// 404 `ResourceNotFoundException`.
    #[error("resource not found: {message}")]
    NotFound {
        /// Message.
        message: String,
        /// Id that was not found.
        resource_id: String,
        /// Kind of resource (`Application`, `Index`, ...).
        resource_type: String,
    },
    /// 409 `ConflictException`.
    #[error("conflict: {message}")]
    Conflict {
        /// Message.
        message: String,
        /// Id in conflict.
        resource_id: String,
        /// Kind of resource.
        resource_type: String,
    },
    /// 429 `ThrottlingException`.
    #[error("throttled: {0}")]
    Throttling(String),
    /// 402 `ServiceQuotaExceededException`.
    #[error("service quota exceeded: {message}")]
    QuotaExceeded {
        /// Message.
        message: String,
        /// Id concerned.
        resource_id: String,
        /// Kind of resource.
        resource_type: String,
    },
    /// 500 `InternalServerException`.
    #[error("internal server error: {0}")]
    Internal(String),
    /// 403 `MissingAuthenticationTokenException` (no Authorization header).
    #[error("missing authentication token")]
    MissingAuth,
    /// 403 `UnrecognizedClientException` (unknown access key id).
    #[error("unrecognized client")]
    UnrecognizedClient,
    /// 403 `InvalidSignatureException` (bad signature, scope or expired date).
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// 413 `RequestEntityTooLargeException` (body larger than `max_body_bytes`).
    #[error("request entity too large: {0}")]
    TooLarge(String),
}

/// Coral's wording for a signature mismatch, as AWS sends it.
pub const BAD_SIGNATURE_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl QError {
    /// Shortcut: one-field `FIELD_VALIDATION_FAILED`.
    pub fn field(name: impl Into<String>, message: impl Into<String>) -> QError {
        QError::from_fields(vec![FieldError {
            name: name.into(),
            message: message.into(),
        }])
    }

    /// `FIELD_VALIDATION_FAILED` with a Coral style summary.
    pub fn from_fields(fields: Vec<FieldError>) -> QError {
        let parts: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "Value at '{}' failed to satisfy constraint: {}",
                    f.name, f.message
                )
            })
            .collect();
        let n = fields.len();
        let message = format!(
            "{} validation error{} detected: {}",
            n,
            if n == 1 { "" } else { "s" },
            parts.join("; ")
        );
        QError::Validation {
            message,
            reason: Reason::FieldValidationFailed,
            fields,
        }
    }

    /// `CANNOT_PARSE` validation error.
    pub fn cannot_parse(message: impl Into<String>) -> QError {
        QError::Validation {
            message: message.into(),
            reason: Reason::CannotParse,
            fields: vec![],
        }
    }

    /// `ResourceNotFoundException` for a resource kind and id.
    pub fn not_found(resource_type: &str, id: &str) -> QError {
        QError::NotFound {
            message: format!("The {resource_type} {id} cannot be found."),
            resource_id: id.to_string(),
            resource_type: resource_type.to_string(),
        }
    }

    /// Builds the modeled error a fault injection asks for by HTTP status.
    pub fn from_status(status: u16, operation: &str) -> Option<QError> {
        let msg = format!("injected fault for {operation}");
        Some(match status {
            400 => QError::field("injected", msg),
            403 => QError::AccessDenied(msg),
            404 => QError::NotFound {
                message: msg,
                resource_id: "injected".into(),
                resource_type: "Injected".into(),
            },
            409 => QError::Conflict {
                message: msg,
                resource_id: "injected".into(),
                resource_type: "Injected".into(),
            },
            429 => QError::Throttling(msg),
            402 => QError::QuotaExceeded {
                message: msg,
                resource_id: "injected".into(),
                resource_type: "Injected".into(),
            },
            500 => QError::Internal(msg),
            _ => return None,
        })
    }

    /// Model shape name (the value of `__type` / `x-amzn-ErrorType`).
    pub fn type_name(&self) -> &'static str {
        match self {
            QError::Validation { .. } => "ValidationException",
            QError::AccessDenied(_) => "AccessDeniedException",
            QError::NotFound { .. } => "ResourceNotFoundException",
            QError::Conflict { .. } => "ConflictException",
            QError::Throttling(_) => "ThrottlingException",
            QError::QuotaExceeded { .. } => "ServiceQuotaExceededException",
            QError::Internal(_) => "InternalServerException",
            QError::MissingAuth => "MissingAuthenticationTokenException",
            QError::UnrecognizedClient => "UnrecognizedClientException",
            QError::InvalidSignature(_) => "InvalidSignatureException",
            QError::TooLarge(_) => "RequestEntityTooLargeException",
        }
    }

    /// HTTP status of the error shape (`error.httpStatusCode` in the model).
    pub fn status(&self) -> StatusCode {
        let code = match self {
            QError::Validation { .. } => 400,
            QError::AccessDenied(_)
            | QError::MissingAuth
            | QError::UnrecognizedClient
            | QError::InvalidSignature(_) => 403,
            QError::NotFound { .. } => 404,
            QError::Conflict { .. } => 409,
            QError::Throttling(_) => 429,
            QError::QuotaExceeded { .. } => 402,
            QError::Internal(_) => 500,
            QError::TooLarge(_) => 413,
        };
        StatusCode::from_u16(code).expect("static status codes are valid")
    }

    /// Response body, members named as in the model.
    pub fn body(&self) -> Value {
        let ty = self.type_name();
        match self {
            QError::Validation {
                message,
                reason,
                fields,
            } => json!({
                "__type": ty, "message": message, "reason": reason.as_str(),
                "fields": fields.iter().map(|f| json!({"name": f.name, "message": f.message})).collect::<Vec<_>>(),
            }),
            QError::NotFound {
                message,
                resource_id,
                resource_type,
            }
            | QError::Conflict {
                message,
                resource_id,
                resource_type,
            }
            | QError::QuotaExceeded {
                message,
                resource_id,
                resource_type,
            } => json!({
                "__type": ty, "message": message, "resourceId": resource_id, "resourceType": resource_type,
            }),
            QError::AccessDenied(m)
            | QError::Throttling(m)
            | QError::Internal(m)
            | QError::TooLarge(m) => {
                json!({"__type": ty, "message": m})
            }
            QError::MissingAuth => json!({"__type": ty, "message": "Missing Authentication Token"}),
            QError::UnrecognizedClient => {
                json!({"__type": ty, "message": "The security token included in the request is invalid."})
            }
            QError::InvalidSignature(m) => json!({"__type": ty, "message": m}),
        }
    }
}

impl IntoResponse for QError {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status(), body).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.type_name()),
        );
        h.insert(
            "x-amzn-requestid",
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("uuid is ascii"),
        );
        resp
    }
}
