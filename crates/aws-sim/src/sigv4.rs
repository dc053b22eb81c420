//! SigV4 verification: recompute the signature of a request from the
//! configured secret and compare, answering as AWS's front door does when
//! it differs ([`AuthError`], which each emulator renders in its wire format).
//!
//! Canonical URI: non-S3 services sign the path as sent, URI-encoded once more
//! per segment (the SDK's "double encoding"), so `%2F` in a label is signed as
//! `%252F`.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Allowed clock skew of `X-Amz-Date` (AWS: 5 minutes).
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Coral's wording for a signature mismatch, as AWS sends it.
pub const BAD_SIGNATURE_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// AWS's message of `MissingAuthenticationTokenException`.
pub const MISSING_TOKEN_MESSAGE: &str = "Missing Authentication Token";

/// AWS's message of `UnrecognizedClientException`.
pub const UNRECOGNIZED_CLIENT_MESSAGE: &str =
    "The security token included in the request is invalid.";

/// Why a request's signature was refused: the service-wide answers of AWS's
/// front door, all 403, in no operation's `errors` (SDKs report them as
/// unhandled errors carrying the code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `MissingAuthenticationTokenException`: no `Authorization` header.
    #[error("missing authentication token")]
    MissingToken,
    /// `UnrecognizedClientException`: unknown access key id.
    #[error("unrecognized client")]
    UnrecognizedClient,
    /// `InvalidSignatureException`: bad signature, scope or date.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
}

impl AuthError {
    /// The error shape name (`x-amzn-ErrorType`).
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "MissingAuthenticationTokenException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::InvalidSignature(_) => "InvalidSignatureException",
        }
    }

    /// The message AWS sends with it.
    pub fn message(&self) -> &str {
        match self {
            AuthError::MissingToken => MISSING_TOKEN_MESSAGE,
            AuthError::UnrecognizedClient => UNRECOGNIZED_CLIENT_MESSAGE,
            AuthError::InvalidSignature(m) => m,
        }
    }

    /// HTTP status (403 for all of them).
    pub fn status(&self) -> u16 {
        403
    }
}

/// Credentials and scope a signature must match.
pub struct Verifier<'a> {
    /// Expected access key id.
    pub access_key_id: &'a str,
    /// Secret key.
    pub secret_access_key: &'a str,
    /// Expected region.
    pub region: &'a str,
    /// Expected signing name (`qbusiness`, `bedrock`: the model's
    /// `metadata.signingName`).
    pub service: &'a str,
}

struct AuthHeader<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_auth(v: &str) -> Option<AuthHeader<'_>> {
    let rest = v.strip_prefix("AWS4-HMAC-SHA256")?.trim_start();
    let (mut cred, mut sh, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("Credential=") {
            cred = Some(c);
        } else if let Some(s) = part.strip_prefix("SignedHeaders=") {
            sh = Some(s);
        } else if let Some(s) = part.strip_prefix("Signature=") {
            sig = Some(s);
        }
    }
    let mut c = cred?.split('/');
    let access_key = c.next()?;
    let date = c.next()?;
    let region = c.next()?;
    let service = c.next()?;
    if c.next()? != "aws4_request" {
        return None;
    }
    Some(AuthHeader {
        access_key,
        date,
        region,
        service,
        signed_headers: sh?.split(';').collect(),
        signature: sig?,
    })
}

/// SigV4 URI encoding: everything but unreserved characters becomes `%XX`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Canonical query string: decode each pair, re-encode strictly, sort.
pub fn canonical_query(q: &str) -> String {
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', "%20"))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (uri_encode(&dec(k), false), uri_encode(&dec(v), false))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The credential scope (`20261128/us-east-1/s3/aws4_request`) and the
/// hex signature of a canonical request: SigV4's string to sign and key
/// derivation, shared by verifying, signing Q calls and signing S3 reads.
pub fn signature(
    secret: &str,
    amz_date: &str,
    date: &str,
    region: &str,
    service: &str,
    canonical_request: &str,
) -> (String, String) {
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    let k = hmac(&k, b"aws4_request");
    (scope, hex::encode(hmac(&k, sts.as_bytes())))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("hmac takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn parse_amz_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|n| n.and_utc())
}

impl Verifier<'_> {
    /// Verifies one request; `now` is injected so tests can check expiry.
    pub fn verify(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AuthError> {
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(AuthError::MissingToken);
        };
        let Some(a) = parse_auth(auth) else {
            return Err(AuthError::InvalidSignature(format!(
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization={}",
                auth.split_whitespace().next().unwrap_or("")
            )));
        };
        if a.access_key != self.access_key_id {
            return Err(AuthError::UnrecognizedClient);
        }
        if a.service != self.service {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{}'. not '{}'",
                self.service, a.service
            )));
        }
        if a.region != self.region {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                a.region
            )));
        }
        let Some(amz_date_str) = headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
            return Err(AuthError::InvalidSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into()));
        };
        let Some(amz_date) = parse_amz_date(amz_date_str) else {
            return Err(AuthError::InvalidSignature(format!(
                "Invalid X-Amz-Date: {amz_date_str}"
            )));
        };
        if !amz_date_str.starts_with(a.date) {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to a valid date, not '{}'.",
                a.date
            )));
        }
        let fmt = |d: chrono::DateTime<chrono::Utc>| d.format("%Y%m%dT%H%M%SZ").to_string();
        let skew = chrono::Duration::seconds(MAX_SKEW_SECONDS);
        if amz_date < now - skew {
            return Err(AuthError::InvalidSignature(format!(
                "Signature expired: {} is now earlier than {} ({} - 5 min.)",
                amz_date_str,
                fmt(now - skew),
                fmt(now)
            )));
        }
        if amz_date > now + skew {
            return Err(AuthError::InvalidSignature(format!(
                "Signature not yet current: {} is still later than {} ({} + 5 min.)",
                amz_date_str,
                fmt(now + skew),
                fmt(now)
            )));
        }
        if !a.signed_headers.contains(&"host") {
            return Err(AuthError::InvalidSignature(BAD_SIGNATURE_MESSAGE.into()));
        }
        let mut canon_headers = String::new();
        for name in &a.signed_headers {
            let vals: Vec<String> = headers
                .get_all(*name)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            canon_headers.push_str(&format!("{}:{}\n", name, vals.join(",")));
        }
        let payload_hash = match headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
        {
            Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
            _ => hex::encode(Sha256::digest(body)),
        };
        let path = if raw_path.is_empty() { "/" } else { raw_path };
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            method,
            uri_encode(path, true),
            canonical_query(raw_query),
            canon_headers,
            a.signed_headers.join(";"),
            payload_hash
        );
        let (_, expected) = signature(
            self.secret_access_key,
            amz_date_str,
            a.date,
            a.region,
            a.service,
            &canonical,
        );
        // Constant-time compare is not needed in a test emulator, but cheap.
        let ok = expected.len() == a.signature.len()
            && expected
                .bytes()
                .zip(a.signature.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        if ok {
            Ok(())
        } else {
            Err(AuthError::InvalidSignature(BAD_SIGNATURE_MESSAGE.into()))
        }
    }
}

/// Credentials that sign requests the way the SDK does (used by tests and
/// by tools that drive the emulator with raw HTTP).
pub struct Signer<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret key.
    pub secret: &'a str,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Signing name of the service.
    pub service: &'a str,
}

impl Signer<'_> {
    /// Returns the `x-amz-date` and `authorization` headers for a request
    /// signing `host` and `x-amz-date`; `raw_path` as sent (percent-encoded).
    pub fn sign(
        &self,
        method: &str,
        host: &str,
        raw_path: &str,
        raw_query: &str,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(String, String)> {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = &amz_date[..8];
        let payload_hash = hex::encode(Sha256::digest(body));
        let canonical = format!(
            "{}\n{}\n{}\nhost:{}\nx-amz-date:{}\n\nhost;x-amz-date\n{}",
            method,
            uri_encode(raw_path, true),
            canonical_query(raw_query),
            host,
            amz_date,
            payload_hash
        );
        let (scope, sig) = signature(
            self.secret,
            &amz_date,
            date,
            self.region,
            self.service,
            &canonical,
        );
        vec![
            ("x-amz-date".into(), amz_date),
            (
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}",
                    self.access_key_id
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(uri_encode("/a/b%2Fc", true), "/a/b%252Fc");
    }

    #[test]
    fn sign_then_verify_roundtrip_and_tamper() {
        let now = chrono::Utc::now();
        let signer = Signer {
            access_key_id: "AK",
            secret: "SK",
            region: "us-east-1",
            service: "bedrock",
        };
        let hs = signer.sign("GET", "h:1", "/x/y", "q=1", b"", now);
        let mut headers = HeaderMap::new();
        headers.insert("host", "h:1".parse().unwrap());
        for (k, v) in &hs {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let v = Verifier {
            access_key_id: "AK",
            secret_access_key: "SK",
            region: "us-east-1",
            service: "bedrock",
        };
        v.verify("GET", "/x/y", "q=1", &headers, b"", now).unwrap();
        let e = v
            .verify("GET", "/x/z", "q=1", &headers, b"", now)
            .unwrap_err();
        assert_eq!(e.type_name(), "InvalidSignatureException");
        let e = v
            .verify(
                "GET",
                "/x/y",
                "q=1",
                &headers,
                b"",
                now + chrono::Duration::minutes(6),
            )
            .unwrap_err();
        assert!(e.message().starts_with("Signature expired"), "{e}");
        let other = Verifier {
            service: "qbusiness",
            ..v
        };
        let e = other
            .verify("GET", "/x/y", "q=1", &headers, b"", now)
            .unwrap_err();
        assert!(e.message().contains("'qbusiness'. not 'bedrock'"), "{e}");
        headers.remove("authorization");
        assert_eq!(
            v.verify("GET", "/x/y", "q=1", &headers, b"", now),
            Err(AuthError::MissingToken)
        );
    }
}
