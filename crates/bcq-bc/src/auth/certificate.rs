//! The certificate credential: an RS256-signed JWT client assertion
//! (RFC 7523), as Entra ID expects it instead of a client secret.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::BcError;
use crate::secret::Secret;

/// How long an assertion is valid; Entra's documented example uses 10 minutes.
const ASSERTION_LIFETIME_SECS: i64 = 10 * 60;

/// A loaded certificate and its RSA private key.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// base64url SHA-1 thumbprint of the DER certificate: Entra finds the
    /// registered certificate by it.
    x5t: String,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Loads a PEM file holding a certificate (the first one is used) and an
    /// RSA private key in PKCS#8 or PKCS#1 form.
    pub fn from_pem_file(path: &Path) -> Result<Self, BcError> {
        let fail = |reason: String| BcError::Certificate {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let cert = CertificateDer::pem_slice_iter(&bytes)
            .next()
            .ok_or_else(|| fail("no 'BEGIN CERTIFICATE' block".into()))?
            .map_err(|e| fail(format!("bad certificate pem: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&bytes)
            .map_err(|e| fail(format!("no usable private key block ({e})")))?;
        let key = match key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(fail(
                    "the private key is not an rsa key (pkcs#8 or pkcs#1)".into(),
                ));
            }
        }
        .map_err(|e| fail(format!("the private key is not a usable rsa key: {e}")))?;
        Ok(Self::new(key, &cert))
    }

    /// Loads a PKCS#12 (`.pfx`/`.p12`) file; `None` is an empty password.
    pub fn from_pkcs12_file(path: &Path, password: Option<&Secret>) -> Result<Self, BcError> {
        let fail = |reason: String| BcError::Certificate {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let password = password.map(Secret::expose).unwrap_or("");
        let store = p12_keystore::KeyStore::from_pkcs12(
            &bytes,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        // The p12 error never contains the password; it says e.g. "invalid MAC".
        .map_err(|e| fail(format!("cannot decode pkcs#12 (wrong password?): {e}")))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| fail("no private key with a certificate inside".into()))?;
        let cert = chain
            .certs()
            .first()
            .ok_or_else(|| fail("the private key has no certificate".into()))?;
        let key = RsaKeyPair::from_pkcs8(chain.key().as_der())
            .map_err(|e| fail(format!("the private key is not a usable rsa key: {e}")))?;
        Ok(Self::new(key, cert.as_der()))
    }

    fn new(key: RsaKeyPair, cert_der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
        Self {
            key,
            x5t: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        }
    }

    /// The `x5t` header value (base64url SHA-1 of the DER certificate).
    pub fn thumbprint(&self) -> &str {
        &self.x5t
    }

    /// A signed client assertion for `client_id` at `token_url`, valid from
    /// `now` for 10 minutes.
    pub fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now: DateTime<Utc>,
    ) -> Result<Secret, BcError> {
        let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5t": self.x5t });
        let iat = now.timestamp();
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": iat,
            "iat": iat,
            "exp": iat + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| BcError::Auth {
                error: "signing_failed".into(),
                aadsts: None,
                hint: "could not sign the client assertion with the certificate's private key"
                    .into(),
            })?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use std::path::PathBuf;

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).join(name)
    }

    fn expected_x5t() -> String {
        let hex_text = std::fs::read_to_string(testdata("cert-sha1.hex")).unwrap();
        let bytes: Vec<u8> = (0..40)
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex_text.trim()[i..i + 2], 16).unwrap())
            .collect();
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes and verifies a JWT against the committed public key.
    fn verify(jwt: &str) -> (serde_json::Value, serde_json::Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let public = std::fs::read(testdata("public-key-pkcs1.der")).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("signature verifies with the certificate's public key");
        let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        (header, claims)
    }

    fn check_assertion(cert: &ClientCertificate) {
        let now = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cert.assertion("my-client", url, now).unwrap();
        let (header, claims) = verify(jwt.expose());
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t"], expected_x5t());
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "my-client");
        assert_eq!(claims["sub"], "my-client");
        assert_eq!(claims["nbf"], now.timestamp());
        assert_eq!(claims["iat"], now.timestamp());
        assert_eq!(claims["exp"], now.timestamp() + 600);
        let jti = claims["jti"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(jti).is_ok(), "{jti}");
        // A fresh jti every time (Entra refuses replayed assertions).
        let (_, again) = verify(cert.assertion("my-client", url, now).unwrap().expose());
        assert_ne!(again["jti"], claims["jti"]);
    }

    #[test]
    fn pem_with_pkcs8_key_signs_verifiable_assertions() {
        check_assertion(
            &ClientCertificate::from_pem_file(&testdata("cert-and-key-pkcs8.pem")).unwrap(),
        );
    }

    #[test]
    fn pem_with_pkcs1_key_signs_verifiable_assertions() {
        check_assertion(
            &ClientCertificate::from_pem_file(&testdata("cert-and-key-pkcs1.pem")).unwrap(),
        );
    }

    #[test]
    fn pkcs12_aes_and_legacy_3des_load() {
        let pw = Secret::new("test-only-password");
        for f in ["cert.p12", "cert-3des.p12"] {
            let cert = ClientCertificate::from_pkcs12_file(&testdata(f), Some(&pw)).unwrap();
            assert_eq!(cert.thumbprint(), expected_x5t(), "{f}");
            check_assertion(&cert);
        }
    }

    #[test]
    fn wrong_pkcs12_password_is_a_clear_error_without_the_password() {
        let pw = Secret::new("not-the-password");
        let err =
            ClientCertificate::from_pkcs12_file(&testdata("cert.p12"), Some(&pw)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cert.p12") && text.contains("pkcs#12"),
            "{text}"
        );
        assert!(
            !text.contains("not-the-password") && !format!("{err:?}").contains("not-the-password")
        );
    }

    #[test]
    fn pem_without_key_is_refused() {
        let err = ClientCertificate::from_pem_file(&testdata("cert.pem")).unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let err = ClientCertificate::from_pem_file(&testdata("missing.pem")).unwrap_err();
        assert!(err.to_string().contains("cannot read the file"), "{err}");
    }
}
