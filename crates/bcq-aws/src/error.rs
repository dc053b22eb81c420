//! SDK errors, classified once and described in one line.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bcq_retry::Failure;

/// The modeled error code of an SDK error (`ThrottlingException`), if any.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Whether an SDK error is worth another attempt: a throttle, a transient
/// failure (5xx, timeouts, connection errors), or `None` (final).
pub fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Option<Failure> {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Some(Failure::Transient)
        }
        SdkError::ServiceError(e) => match e.err().code() {
            Some("ThrottlingException" | "TooManyRequestsException" | "SlowDown") => {
                Some(Failure::Throttled)
            }
            Some("InternalServerException" | "ServiceUnavailableException" | "InternalError") => {
                Some(Failure::Transient)
            }
            _ if e.raw().status().as_u16() == 429 => Some(Failure::Throttled),
            _ if e.raw().status().is_server_error() => Some(Failure::Transient),
            _ => None,
        },
        _ => None,
    }
}

/// A readable one-line description of an SDK error of `service` (named
/// when it could not be reached), with the service's code and message.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    service: &str,
    err: &SdkError<E, R>,
) -> String {
    match err {
        SdkError::ServiceError(e) => format!(
            "{}: {}",
            e.err().code().unwrap_or("UnknownError"),
            e.err().message().unwrap_or("no message")
        ),
        SdkError::TimeoutError(_) => format!("the request to {service} timed out"),
        SdkError::DispatchFailure(e) => format!("could not reach {service}: {e:?}")
            .chars()
            .take(300)
            .collect(),
        other => format!("{}", DisplayErrorContext(other)),
    }
}
