//! SigV4 for Q Business (signing name `qbusiness`): the verification and
//! signing of [`aws_sim::sigv4`] with Q's service name, answering in
//! [`QError`](crate::QError)'s wire format.

pub use aws_sim::sigv4::{MAX_SKEW_SECONDS, canonical_query, uri_encode};

/// Q Business's signing name (`metadata.signingName` of the model).
pub const SERVICE: &str = "qbusiness";

/// The verifier of Q's signatures for the configured credentials.
pub fn verifier<'a>(
    access_key_id: &'a str,
    secret_access_key: &'a str,
    region: &'a str,
) -> aws_sim::sigv4::Verifier<'a> {
    aws_sim::sigv4::Verifier {
        access_key_id,
        secret_access_key,
        region,
        service: SERVICE,
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
        aws_sim::sigv4::Signer {
            access_key_id: self.access_key_id,
            secret: self.secret,
            region: self.region,
            service: SERVICE,
        }
        .sign(method, host, raw_path, raw_query, body, now)
    }
}

/// Shortcut for [`Signer::sign`].
pub fn sign(
    signer: &Signer<'_>,
    method: &str,
    host: &str,
    raw_path: &str,
    raw_query: &str,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, String)> {
    signer.sign(method, host, raw_path, raw_query, body, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::QError;
    use http::HeaderMap;

    #[test]
    fn q_signatures_verify_and_other_services_are_refused_in_q_words() {
        let now = chrono::Utc::now();
        let signer = Signer {
            access_key_id: "AK",
            secret: "SK",
            region: "us-east-1",
        };
        let mut headers = HeaderMap::new();
        headers.insert("host", "h:1".parse().unwrap());
        for (k, v) in signer.sign("GET", "h:1", "/x/y", "q=1", b"", now) {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let v = verifier("AK", "SK", "us-east-1");
        v.verify("GET", "/x/y", "q=1", &headers, b"", now).unwrap();
        let e = QError::from(
            v.verify("GET", "/x/z", "q=1", &headers, b"", now)
                .unwrap_err(),
        );
        assert_eq!(e.type_name(), "InvalidSignatureException");
        assert_eq!(e.body()["message"], aws_sim::sigv4::BAD_SIGNATURE_MESSAGE);
    }
}
