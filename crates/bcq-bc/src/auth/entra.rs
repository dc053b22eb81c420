//! Entra ID token errors turned into advice that names the setting to fix.
//!
//! Entra answers `{"error":"invalid_client","error_description":"AADSTS7000215: ...",
//! "error_codes":[7000215],...}`; the AADSTS code is what tells a wrong
//! secret from a wrong tenant.

use serde::Deserialize;

use crate::error::{BcError, excerpt};

#[derive(Deserialize)]
struct EntraErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
}

/// Maps a failed token response to an error. Transient statuses (429, 5xx)
/// and bodies that are not Entra's shape become [`BcError::Status`] so that
/// the retry loop can classify them.
pub(crate) fn parse_token_error(status: u16, body: &[u8], url: &str) -> BcError {
    let parsed = serde_json::from_slice::<EntraErrorBody>(body).ok();
    match parsed {
        Some(p) if status < 500 && status != 429 => {
            let code = p
                .error_codes
                .first()
                .copied()
                .or_else(|| aadsts_in(&p.error_description));
            BcError::Auth {
                hint: hint(code, &p.error, &p.error_description),
                error: p.error,
                aadsts: code,
            }
        }
        _ => BcError::Status {
            status,
            url: url.to_string(),
            body: excerpt(&String::from_utf8_lossy(body)),
        },
    }
}

/// Finds `AADSTS<digits>` in a description.
fn aadsts_in(description: &str) -> Option<u32> {
    let at = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn hint(code: Option<u32>, error: &str, description: &str) -> String {
    let Some(code) = code else {
        return format!("entra id returned '{error}': {}", first_line(description));
    };
    let advice = match code {
        7000215 => "the client secret was rejected",
        7000222 => "the client secret has expired; create a new one and update DYNAMICS_SECRET",
        700016 => "the application (client id) was not found in the tenant",
        90002 => "the tenant was not found",
        900023 | 900384 => "the tenant id is not valid",
        70011 => "the requested scope is not valid",
        500011 => "the resource of the scope was not found in the tenant",
        700027 | 700023 => {
            "the certificate client assertion was rejected; upload the certificate to the app registration"
        }
        7000112 => "the application is disabled",
        _ => {
            return format!(
                "entra id returned '{error}' (AADSTS{code}): {}",
                first_line(description)
            );
        }
    };
    let check = match code {
        7000215 => "; check DYNAMICS_SECRET",
        700016 | 7000112 => "; check DYNAMICS_CLIENT_ID",
        90002 | 900023 | 900384 => "; check DYNAMICS_AUTHORITY",
        70011 | 500011 => {
            "; check DYNAMICS_SCOPE (https://api.businesscentral.dynamics.com/.default)"
        }
        _ => "",
    };
    format!("{advice} (AADSTS{code}){check}")
}

/// Entra descriptions continue with "\r\nTrace ID: ...": keep the first line.
fn first_line(description: &str) -> &str {
    description.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(error: &str, code: u32, text: &str) -> Vec<u8> {
        serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: 0000 Correlation ID: 1111 Timestamp: 2025-01-01 00:00:00Z"),
            "error_codes": [code],
            "timestamp": "2025-01-01 00:00:00Z",
            "trace_id": "0000",
            "correlation_id": "1111",
        })
        .to_string()
        .into_bytes()
    }

    fn display(status: u16, error: &str, code: u32, text: &str) -> String {
        let err = parse_token_error(
            status,
            &body(error, code, text),
            "https://login/t/oauth2/v2.0/token",
        );
        assert!(
            matches!(err, BcError::Auth { aadsts: Some(c), .. } if c == code),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        err.to_string()
    }

    #[test]
    fn each_known_aadsts_code_names_the_setting() {
        assert_eq!(
            display(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided."
            ),
            "authentication failed: the client secret was rejected (AADSTS7000215); check DYNAMICS_SECRET"
        );
        assert!(
            display(
                400,
                "unauthorized_client",
                700016,
                "Application with identifier 'x' was not found"
            )
            .ends_with("(AADSTS700016); check DYNAMICS_CLIENT_ID")
        );
        assert!(
            display(400, "invalid_request", 90002, "Tenant 'x' not found.")
                .ends_with("(AADSTS90002); check DYNAMICS_AUTHORITY")
        );
        assert!(
            display(
                400,
                "invalid_scope",
                70011,
                "The provided value for scope is not valid."
            )
            .contains("(AADSTS70011); check DYNAMICS_SCOPE")
        );
        assert!(
            display(
                401,
                "invalid_client",
                7000222,
                "The provided client secret keys are expired."
            )
            .contains("update DYNAMICS_SECRET")
        );
    }

    #[test]
    fn unknown_codes_keep_the_first_line_of_the_description() {
        let text = display(400, "invalid_grant", 50126, "Something odd.");
        assert_eq!(
            text,
            "authentication failed: entra id returned 'invalid_grant' (AADSTS50126): AADSTS50126: Something odd."
        );
        assert!(!text.contains("Trace ID"));
    }

    #[test]
    fn code_is_found_in_the_description_without_error_codes() {
        let b = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        let err = parse_token_error(401, b, "u");
        assert!(err.to_string().contains("check DYNAMICS_SECRET"), "{err}");
    }

    #[test]
    fn outages_are_transient_status_errors() {
        let err = parse_token_error(503, b"<html>busy</html>", "u");
        assert!(matches!(err, BcError::Status { status: 503, .. }));
        assert!(err.is_retryable());
        let err = parse_token_error(
            429,
            &body("temporarily_unavailable", 50196, "slow down"),
            "u",
        );
        assert!(err.is_retryable());
    }
}
