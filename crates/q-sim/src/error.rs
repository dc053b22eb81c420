//! `QError`: every error the emulator answers, rendered in the rest-json wire
//! format (`x-amzn-ErrorType` header, body with `__type` and `message`).

use aws_sim::sigv4::{AuthError, MISSING_TOKEN_MESSAGE, UNRECOGNIZED_CLIENT_MESSAGE};
use aws_sim::validate::Invalid;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use aws_sim::sigv4::BAD_SIGNATURE_MESSAGE;
pub use aws_sim::validate::FieldError;

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
        QError::Validation {
            message: aws_sim::validate::summary(&fields),
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
            QError::MissingAuth => json!({"__type": ty, "message": MISSING_TOKEN_MESSAGE}),
            QError::UnrecognizedClient => {
                json!({"__type": ty, "message": UNRECOGNIZED_CLIENT_MESSAGE})
            }
            QError::InvalidSignature(m) => json!({"__type": ty, "message": m}),
        }
    }
}

impl From<AuthError> for QError {
    fn from(e: AuthError) -> QError {
        match e {
            AuthError::MissingToken => QError::MissingAuth,
            AuthError::UnrecognizedClient => QError::UnrecognizedClient,
            AuthError::InvalidSignature(m) => QError::InvalidSignature(m),
        }
    }
}

impl From<Invalid> for QError {
    fn from(e: Invalid) -> QError {
        match e {
            Invalid::CannotParse(m) => QError::cannot_parse(m),
            Invalid::Fields(f) => QError::from_fields(f),
        }
    }
}

impl IntoResponse for QError {
    fn into_response(self) -> Response {
        aws_sim::http::error_response(self.status().as_u16(), self.type_name(), &self.body())
    }
}
