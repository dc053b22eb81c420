//! `BedrockError`: every error the emulator answers, rendered in the
//! rest-json wire format (`x-amzn-ErrorType` header, JSON body with
//! `__type` and the shape's members) of the service that answers it.
//!
//! The two services model the same names differently: bedrock-agent's
//! `ValidationException` carries a `fieldList`, bedrock-agent-runtime's only
//! a `message`; bedrock-agent's `ServiceQuotaExceededException` is 402,
//! bedrock-agent-runtime's is 400. Rendering therefore takes the [`Service`].

use aws_sim::sigv4::AuthError;
use aws_sim::validate::{FieldError, Invalid};
use axum::response::Response;
use serde_json::{Value, json};

/// Which of the two services answers (they share one endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `bedrock-agent` (2023-06-05): knowledge bases, data sources, documents.
    Agent,
    /// `bedrock-agent-runtime` (2023-07-26): Retrieve.
    Runtime,
}

impl Service {
    /// The model's `metadata.endpointPrefix`.
    pub fn endpoint_prefix(self) -> &'static str {
        match self {
            Service::Agent => "bedrock-agent",
            Service::Runtime => "bedrock-agent-runtime",
        }
    }
}

/// An error answer. Modeled variants map to the models' error shapes; the
/// authentication, size and routing variants are the service-wide answers
/// of AWS's front door (in no operation's `errors`; SDKs report them as
/// unhandled errors carrying the code).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BedrockError {
    /// 400 `ValidationException`.
    #[error("validation failed: {message}")]
    Validation {
        /// Coral-style summary.
        message: String,
        /// Offending members (bedrock-agent's `fieldList`).
        fields: Vec<FieldError>,
    },
    /// 403 `AccessDeniedException`.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// 404 `ResourceNotFoundException`.
    #[error("resource not found: {0}")]
    NotFound(String),
    /// 409 `ConflictException`.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429 `ThrottlingException`.
    #[error("throttled: {0}")]
    Throttling(String),
    /// `ServiceQuotaExceededException` (402 in bedrock-agent, 400 in bedrock-agent-runtime).
    #[error("service quota exceeded: {0}")]
    QuotaExceeded(String),
    /// 500 `InternalServerException`.
    #[error("internal server error: {0}")]
    Internal(String),
    /// 424 `DependencyFailedException` (bedrock-agent-runtime).
    #[error("dependency failed: {0}")]
    DependencyFailed(String),
    /// 502 `BadGatewayException` (bedrock-agent-runtime).
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// 403 front-door signature errors.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 413 `RequestEntityTooLargeException` (body larger than `max_body_bytes`).
    #[error("request entity too large: {0}")]
    TooLarge(String),
    /// 404 `UnknownOperationException`: no route matches the method and path.
    #[error("unknown operation: {0}")]
    UnknownOperation(String),
}

/// The modeled error shapes, in the order a status picks among them.
pub const MODELED: &[&str] = &[
    "ValidationException",
    "AccessDeniedException",
    "ResourceNotFoundException",
    "ConflictException",
    "ThrottlingException",
    "ServiceQuotaExceededException",
    "InternalServerException",
    "DependencyFailedException",
    "BadGatewayException",
];

impl BedrockError {
    /// One-field validation error.
    pub fn field(name: impl Into<String>, message: impl Into<String>) -> BedrockError {
        BedrockError::from_fields(vec![FieldError {
            name: name.into(),
            message: message.into(),
        }])
    }

    /// Validation error with a Coral style summary of its fields.
    pub fn from_fields(fields: Vec<FieldError>) -> BedrockError {
        BedrockError::Validation {
            message: aws_sim::validate::summary(&fields),
            fields,
        }
    }

    /// Validation error with a message and no field.
    pub fn invalid(message: impl Into<String>) -> BedrockError {
        BedrockError::Validation {
            message: message.into(),
            fields: vec![],
        }
    }

    /// The modeled error shape `name` with a message.
    pub fn modeled(name: &str, message: impl Into<String>) -> Option<BedrockError> {
        let m = message.into();
        Some(match name {
            "ValidationException" => BedrockError::invalid(m),
            "AccessDeniedException" => BedrockError::AccessDenied(m),
            "ResourceNotFoundException" => BedrockError::NotFound(m),
            "ConflictException" => BedrockError::Conflict(m),
            "ThrottlingException" => BedrockError::Throttling(m),
            "ServiceQuotaExceededException" => BedrockError::QuotaExceeded(m),
            "InternalServerException" => BedrockError::Internal(m),
            "DependencyFailedException" => BedrockError::DependencyFailed(m),
            "BadGatewayException" => BedrockError::BadGateway(m),
            _ => return None,
        })
    }

    /// Shape name (the value of `__type` / `x-amzn-ErrorType`).
    pub fn type_name(&self) -> &'static str {
        match self {
            BedrockError::Validation { .. } => "ValidationException",
            BedrockError::AccessDenied(_) => "AccessDeniedException",
            BedrockError::NotFound(_) => "ResourceNotFoundException",
            BedrockError::Conflict(_) => "ConflictException",
            BedrockError::Throttling(_) => "ThrottlingException",
            BedrockError::QuotaExceeded(_) => "ServiceQuotaExceededException",
            BedrockError::Internal(_) => "InternalServerException",
            BedrockError::DependencyFailed(_) => "DependencyFailedException",
            BedrockError::BadGateway(_) => "BadGatewayException",
            BedrockError::Auth(a) => a.type_name(),
            BedrockError::TooLarge(_) => "RequestEntityTooLargeException",
            BedrockError::UnknownOperation(_) => "UnknownOperationException",
        }
    }

    /// HTTP status of the error shape in `service`'s model.
    pub fn status(&self, service: Service) -> u16 {
        match self {
            BedrockError::Validation { .. } => 400,
            BedrockError::AccessDenied(_) => 403,
            BedrockError::NotFound(_) | BedrockError::UnknownOperation(_) => 404,
            BedrockError::Conflict(_) => 409,
            BedrockError::Throttling(_) => 429,
            BedrockError::QuotaExceeded(_) => match service {
                Service::Agent => 402,
                Service::Runtime => 400,
            },
            BedrockError::Internal(_) => 500,
            BedrockError::DependencyFailed(_) => 424,
            BedrockError::BadGateway(_) => 502,
            BedrockError::Auth(a) => a.status(),
            BedrockError::TooLarge(_) => 413,
        }
    }

    /// The message member.
    pub fn message(&self) -> &str {
        match self {
            BedrockError::Validation { message, .. } => message,
            BedrockError::AccessDenied(m)
            | BedrockError::NotFound(m)
            | BedrockError::Conflict(m)
            | BedrockError::Throttling(m)
            | BedrockError::QuotaExceeded(m)
            | BedrockError::Internal(m)
            | BedrockError::DependencyFailed(m)
            | BedrockError::BadGateway(m)
            | BedrockError::TooLarge(m)
            | BedrockError::UnknownOperation(m) => m,
            BedrockError::Auth(a) => a.message(),
        }
    }

    /// Response body in `service`'s model: `__type`, `message`, and
    /// bedrock-agent's `fieldList` on validation errors.
    pub fn body(&self, service: Service) -> Value {
        let mut b = json!({"__type": self.type_name(), "message": self.message()});
        if let (BedrockError::Validation { fields, .. }, Service::Agent) = (self, service)
            && !fields.is_empty()
        {
            b["fieldList"] = fields
                .iter()
                .map(|f| json!({"name": f.name, "message": f.message}))
                .collect();
        }
        b
    }

    /// The HTTP answer of `service`.
    pub fn render(&self, service: Service) -> Response {
        aws_sim::http::error_response(self.status(service), self.type_name(), &self.body(service))
    }
}

impl From<Invalid> for BedrockError {
    fn from(e: Invalid) -> BedrockError {
        match e {
            Invalid::CannotParse(m) => BedrockError::invalid(m),
            Invalid::Fields(f) => BedrockError::from_fields(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_renders_its_own_shapes() {
        let v = BedrockError::field(
            "documents",
            "Member must have length less than or equal to 10",
        );
        assert_eq!(v.body(Service::Agent)["fieldList"][0]["name"], "documents");
        assert!(v.body(Service::Runtime).get("fieldList").is_none());
        let q = BedrockError::QuotaExceeded("x".into());
        assert_eq!(q.status(Service::Agent), 402);
        assert_eq!(q.status(Service::Runtime), 400);
        let r = BedrockError::Auth(AuthError::MissingToken).render(Service::Agent);
        assert_eq!(r.status().as_u16(), 403);
        assert_eq!(
            r.headers()["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        for name in MODELED {
            assert_eq!(BedrockError::modeled(name, "m").unwrap().type_name(), *name);
        }
    }
}
