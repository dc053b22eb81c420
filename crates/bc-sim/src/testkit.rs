//! Test helpers: a fixed, committed RSA key pair and certificate (so tests
//! need no key generation) and an RS256 client-assertion signer.

use crate::config::RegisteredCertificate;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

const KEY_PEM: &str = include_str!("../testdata/test_key.pem");
const PUB_PEM: &str = include_str!("../testdata/test_pub.pem");
const SHA1_HEX: &str = include_str!("../testdata/test_cert.sha1");

/// The committed test certificate and its PKCS#8 private key PEM.
pub fn test_certificate() -> (RegisteredCertificate, String) {
    let cert = RegisteredCertificate {
        thumbprint_sha1: hex::decode(SHA1_HEX.trim()).unwrap_or_default(),
        thumbprint_sha256: None,
        public_key_pem: PUB_PEM.to_string(),
    };
    (cert, KEY_PEM.to_string())
}

/// Signs a client assertion (RS256, `x5t` header) the way MSAL does.
pub fn sign_client_assertion(
    private_key_pem: &str,
    thumbprint_sha1: &[u8],
    client_id: &str,
    token_url: &str,
    lifetime_secs: i64,
) -> Result<String, String> {
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .map_err(|e| format!("bad private key: {e}"))?;
    let now = chrono::Utc::now().timestamp();
    let header =
        serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": B64.encode(thumbprint_sha1)});
    let claims = serde_json::json!({
        "aud": token_url, "iss": client_id, "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + lifetime_secs,
    });
    let data = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = SigningKey::<sha2::Sha256>::new(key).sign(data.as_bytes());
    Ok(format!("{data}.{}", B64.encode(sig.to_bytes())))
}
