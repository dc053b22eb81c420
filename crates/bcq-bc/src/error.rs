//! The one error type of the crate, and the classification of which errors
//! are worth retrying (the *whether*; [`crate::retry`] decides the *how*).

use std::path::PathBuf;

use serde::Deserialize;

/// Everything that can go wrong talking to Entra ID or Business Central.
///
/// No variant ever carries a secret or a token: URLs and server messages
/// only (BC puts neither in its error bodies).
#[derive(Debug, thiserror::Error)]
pub enum BcError {
    /// A configuration value is unusable; `setting` names the variable.
    #[error("invalid {setting}: {reason}")]
    InvalidConfig {
        /// The setting (environment variable) to fix.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A plain `http://` URL for a non-loopback host: the token would travel
    /// in clear text.
    #[error(
        "{setting} uses plain http ({url}); only https is allowed, except for loopback hosts (127.0.0.0/8, ::1, localhost)"
    )]
    InsecureUrl {
        /// The setting (environment variable) that holds the URL.
        setting: &'static str,
        /// The refused URL.
        url: String,
    },

    /// A request URL (for instance an `@odata.nextLink`) points outside the
    /// configured API base; the bearer token is not sent there.
    #[error("refusing to send the business central token to {url}: it is not under {api_base}")]
    ForeignUrl {
        /// The refused URL.
        url: String,
        /// The configured API base.
        api_base: String,
    },

    /// The certificate credential could not be loaded.
    #[error("cannot load the certificate credential from {path}: {reason}")]
    Certificate {
        /// The PEM or PKCS#12 file.
        path: PathBuf,
        /// What went wrong (never the password).
        reason: String,
    },

    /// Entra ID refused to issue a token; `hint` says what to fix.
    #[error("authentication failed: {hint}")]
    Auth {
        /// The OAuth2 `error` field, e.g. `invalid_client`.
        error: String,
        /// The first `AADSTS` code, e.g. 7000215.
        aadsts: Option<u32>,
        /// Human advice naming the setting to check.
        hint: String,
    },

    /// Business Central still answered 401 after one forced re-authentication.
    #[error(
        "business central rejected the access token for {url} (401 after re-authenticating); grant the Entra app the 'Dynamics 365 Business Central' API permission (API.ReadWrite.All, admin consent) and add it in BC on the 'Microsoft Entra Applications' page with permission sets (README, 'Before the first sync', steps 1 and 2)"
    )]
    Unauthorized {
        /// The request URL.
        url: String,
    },

    /// The environment named in the URL does not exist (BC answers 404 with
    /// an XML body whose code is `NoEnvironment`).
    #[error(
        "business central environment '{environment}' does not exist for this tenant ({url}); check BC_ENVIRONMENT"
    )]
    EnvironmentNotFound {
        /// The configured environment name.
        environment: String,
        /// The request URL.
        url: String,
    },

    /// Business Central answered with its JSON error shape
    /// `{"error":{"code":..,"message":".. CorrelationId:  <guid>."}}`.
    #[error("business central returned {status} {code} for {url}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// BC error code, e.g. `BadRequest_ResourceNotFound`.
        code: String,
        /// BC message, without the trailing correlation id.
        message: String,
        /// The `CorrelationId` BC appends to messages (quote it to Microsoft support).
        correlation_id: Option<String>,
        /// The request URL.
        url: String,
    },

    /// A non-success status whose body is not BC's error shape (a gateway
    /// page, an empty 503, a token endpoint outage).
    #[error("http {status} from {url}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// The start of the body, for diagnosis.
        body: String,
    },

    /// The request did not complete: connection refused/reset, timeout, or
    /// the body stream broke off.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The request URL.
        url: String,
        /// What happened, from the innermost cause (reqwest's own message
        /// only says "error sending request").
        reason: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },

    /// Paging went wrong in a way that is not the end of the data: a
    /// nextLink that repeats a page already read (a cycle), an empty page
    /// that still has a nextLink, a page of records already read, more
    /// records than the collection holds. The read is incomplete: nothing
    /// may be deleted because of it and no cursor may move past it.
    #[error(
        "business central's paging of {url} is not trustworthy: {reason}; the read is incomplete, so nothing was deleted and the cursor stays (run again; if it repeats, check proxies between bcq and BC)"
    )]
    PagingAnomaly {
        /// The URL of the page where it was found.
        url: String,
        /// What was wrong.
        reason: String,
    },

    /// A response redirected to another origin. The bearer token is never
    /// sent there and its answer is never taken for BC's.
    #[error(
        "business central redirected {url} to {location}, another origin; bcq does not follow it (a proxy in the way, or a wrong BC_API_BASE_URL?)"
    )]
    ForeignRedirect {
        /// The request URL.
        url: String,
        /// Where the redirect pointed.
        location: String,
    },

    /// A retryable failure that went on past the retry policy's bounds.
    #[error("{last} ({give_up})")]
    GaveUp {
        /// How many attempts over how long.
        give_up: bcq_retry::GiveUp,
        /// The last attempt's error (shown in the message, not repeated as
        /// a cause).
        last: Box<BcError>,
    },

    /// The body was not the JSON we expected. BC and proxies do truncate
    /// large pages, so this is retried a bounded number of times.
    #[error("malformed json from {url} after {attempts} attempt(s): {source}")]
    Decode {
        /// The request URL.
        url: String,
        /// How many times the body was fetched.
        attempts: u32,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },
}

impl BcError {
    /// Whether trying the same request again may succeed.
    ///
    /// This is the classification only; the retry loop adds bounds and
    /// delays. Statuses follow BC's documented limits (429 throttling, 503
    /// queue full, 504 request timeout, 408 operation timeout, 502 gateway)
    /// and what is seen in practice (409 deadlock, 400 "try again later").
    pub fn is_retryable(&self) -> bool {
        match self {
            BcError::Api {
                status, message, ..
            } => is_retryable_status(*status, message),
            BcError::Status { status, body, .. } => is_retryable_status(*status, body),
            BcError::Transport { .. } | BcError::Decode { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status behind this error, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            BcError::Api { status, .. } | BcError::Status { status, .. } => Some(*status),
            BcError::Unauthorized { .. } => Some(401),
            BcError::EnvironmentNotFound { .. } => Some(404),
            BcError::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            BcError::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }
}

/// A redirect to another origin, refused by the redirect policy; its
/// target is read back by [`transport`].
#[derive(Debug)]
pub(crate) struct RedirectRefused(pub(crate) String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to another origin: {}", self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// Wraps a reqwest error, naming its root cause.
pub(crate) fn transport(url: &str, source: reqwest::Error) -> BcError {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&source);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<RedirectRefused>() {
            return BcError::ForeignRedirect {
                url: url.to_string(),
                location: refused.0.clone(),
            };
        }
        cause = c.source();
    }
    let mut reason = if source.is_timeout() {
        "timed out".to_string()
    } else if source.is_connect() {
        "could not connect".to_string()
    } else {
        source.to_string()
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&source);
    let mut innermost = None;
    while let Some(c) = cause {
        innermost = Some(c.to_string());
        cause = c.source();
    }
    if let Some(inner) = innermost {
        reason = format!("{reason} ({inner})");
    }
    BcError::Transport {
        url: url.to_string(),
        reason,
        source,
    }
}

/// Whether a response status (with its error message) is transient.
pub(crate) fn is_retryable_status(status: u16, message: &str) -> bool {
    match status {
        408 | 409 | 429 | 502 | 503 | 504 => true,
        // BC answers some transient conditions (locks, service busy) with a
        // 400 "... Please try again later." rather than a 5xx.
        400 => message.to_ascii_lowercase().contains("try again later"),
        _ => false,
    }
}

#[derive(Deserialize)]
struct BcErrorBody {
    error: BcErrorInner,
}

#[derive(Deserialize)]
struct BcErrorInner {
    code: String,
    #[serde(default)]
    message: String,
}

/// Most bytes of a non-JSON body kept in [`BcError::Status`].
const BODY_EXCERPT: usize = 300;

/// Turns a non-success BC response into the matching error.
pub(crate) fn parse_bc_error(status: u16, body: &[u8], url: &str, environment: &str) -> BcError {
    if let Ok(parsed) = serde_json::from_slice::<BcErrorBody>(body) {
        let (message, correlation_id) = split_correlation_id(&parsed.error.message);
        return BcError::Api {
            status,
            code: parsed.error.code,
            message,
            correlation_id,
            url: url.to_string(),
        };
    }
    let text = String::from_utf8_lossy(body);
    // A wrong environment name is answered by the front door, in OData XML:
    // <error><code>NoEnvironment</code><message>Environment does not exist.</message></error>
    if status == 404 && text.contains("<code>NoEnvironment</code>") {
        return BcError::EnvironmentNotFound {
            environment: environment.to_string(),
            url: url.to_string(),
        };
    }
    BcError::Status {
        status,
        url: url.to_string(),
        body: excerpt(&text),
    }
}

pub(crate) fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}...", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// Splits `"... CorrelationId:  233b73c2-....."` into the message and the id.
fn split_correlation_id(message: &str) -> (String, Option<String>) {
    const MARKER: &str = "CorrelationId:";
    match message.rfind(MARKER) {
        Some(at) => {
            let id = message[at + MARKER.len()..]
                .trim()
                .trim_end_matches('.')
                .trim()
                .to_string();
            let text = message[..at].trim_end().to_string();
            (text, (!id.is_empty()).then_some(id))
        }
        None => (message.trim().to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../reference/bc/captured");

    #[test]
    fn parses_real_bc_json_error_with_correlation_id() {
        let body = std::fs::read(format!("{REF}/error-no-lastmodified.json")).unwrap();
        let err = parse_bc_error(400, &body, "https://x/balanceSheet", "production");
        match &err {
            BcError::Api {
                status,
                code,
                message,
                correlation_id,
                url,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(code, "BadRequest");
                assert_eq!(
                    message,
                    "Could not find a property named 'lastModifiedDateTime' on type 'Microsoft.NAV.balanceSheet'."
                );
                assert_eq!(
                    correlation_id.as_deref(),
                    Some("233b73c2-6ffd-4d0e-8c65-0ae5f29de9a0")
                );
                assert_eq!(url, "https://x/balanceSheet");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!err.is_retryable());
    }

    #[test]
    fn parses_real_no_environment_xml() {
        let body = std::fs::read(format!("{REF}/error-no-environment.xml")).unwrap();
        let err = parse_bc_error(404, &body, "https://x/prod/api/v2.0/companies", "prod");
        assert!(
            matches!(err, BcError::EnvironmentNotFound { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("business central environment 'prod' does not exist for this tenant"),
            "{text}"
        );
        assert!(text.contains("check BC_ENVIRONMENT"), "{text}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn classification_of_statuses() {
        for s in [408, 409, 429, 502, 503, 504] {
            assert!(is_retryable_status(s, ""), "{s}");
        }
        for s in [400, 401, 403, 404, 500, 501] {
            assert!(!is_retryable_status(s, "nope"), "{s}");
        }
        assert!(is_retryable_status(
            400,
            "The operation could not complete. Please Try Again Later."
        ));
    }

    #[test]
    fn non_json_body_is_kept_as_an_excerpt() {
        let body = "<html>".to_string() + &"x".repeat(1000);
        let err = parse_bc_error(502, body.as_bytes(), "https://x/y", "production");
        match &err {
            BcError::Status { status, body, .. } => {
                assert_eq!(*status, 502);
                assert!(body.len() < 320 && body.ends_with("..."));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.is_retryable());
    }
}
