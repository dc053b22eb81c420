//! Entra ID: the client-credentials token endpoint, OpenID configuration,
//! and validation of the emulator's own access tokens on BC requests.
//!
//! Tokens are JWT-shaped (`header.payload.signature`) and signed with
//! HMAC-SHA256 under a per-process key: a token from another emulator or
//! tampered with fails the signature ("foreign"), and a sequence number in the
//! payload lets `revoke_tokens` invalidate everything issued so far.
//! Certificate assertions are verified with the `rsa` crate (pure Rust,
//! PKCS#1 v1.5 + SHA-256 = RS256).

use crate::config::SimConfig;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The scope BC accepts.
pub const BC_SCOPE: &str = "https://api.businesscentral.dynamics.com/.default";

/// Token issuer/validator state.
#[derive(Debug)]
pub struct Tokens {
    key: [u8; 32],
    seq: AtomicU64,
    revoked_below: AtomicU64,
}

/// Why a bearer token was refused (the WWW-Authenticate error_description).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TokenProblem {
    /// No Authorization header.
    Missing,
    /// Not a JWT of ours.
    Malformed,
    /// Signature does not verify (another issuer / tampered).
    Foreign,
    /// Past `exp`.
    Expired,
    /// Issued before a revocation.
    Revoked,
}

impl TokenProblem {
    /// The description BC puts in `WWW-Authenticate`.
    pub fn description(self) -> &'static str {
        match self {
            TokenProblem::Missing => {
                "The authentication failed because no access token was provided"
            }
            TokenProblem::Malformed => "The access token is malformed",
            TokenProblem::Foreign => "The access token signature is invalid",
            TokenProblem::Expired => "The access token is expired",
            TokenProblem::Revoked => "The access token has been revoked",
        }
    }
}

/// The app a valid token was issued to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `appid` claim.
    pub app_id: String,
}

impl Tokens {
    /// A fresh issuer with a random key.
    pub fn new() -> Tokens {
        let mut key = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut key);
        Tokens {
            key,
            seq: AtomicU64::new(1),
            revoked_below: AtomicU64::new(0),
        }
    }

    fn sign(&self, data: &str) -> String {
        let mut m = <Hmac<Sha256>>::new_from_slice(&self.key).expect("hmac key");
        m.update(data.as_bytes());
        B64.encode(m.finalize().into_bytes())
    }

    /// Issues a token for `cfg.client_id`.
    pub fn issue(&self, cfg: &SimConfig) -> String {
        let now = chrono::Utc::now().timestamp_millis();
        let exp_ms = now + cfg.token_lifetime.as_millis() as i64;
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let header = B64.encode(r#"{"typ":"JWT","alg":"HS256","kid":"bc-sim"}"#);
        let payload = B64.encode(
            serde_json::json!({
                "aud": "https://api.businesscentral.dynamics.com",
                "iss": format!("https://sts.windows.net/{}/", cfg.tenant),
                "tid": cfg.tenant, "appid": cfg.client_id, "roles": ["API.ReadWrite.All"],
                "iat": now / 1000, "exp": exp_ms / 1000, "exp_ms": exp_ms, "n": n,
            })
            .to_string(),
        );
        let data = format!("{header}.{payload}");
        let sig = self.sign(&data);
        format!("{data}.{sig}")
    }

    /// Makes every token issued so far invalid.
    pub fn revoke_all(&self) {
        self.revoked_below
            .store(self.seq.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Validates an `Authorization` header value.
    pub fn validate(&self, auth: Option<&str>) -> Result<Caller, TokenProblem> {
        let auth = auth.ok_or(TokenProblem::Missing)?;
        let tok = auth
            .strip_prefix("Bearer ")
            .ok_or(TokenProblem::Malformed)?
            .trim();
        let mut parts = tok.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Malformed);
        };
        let payload: serde_json::Value = B64
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenProblem::Malformed)?;
        if self.sign(&format!("{h}.{p}")) != s {
            return Err(TokenProblem::Foreign);
        }
        let exp = payload["exp_ms"].as_i64().unwrap_or(0);
        if exp <= chrono::Utc::now().timestamp_millis() {
            return Err(TokenProblem::Expired);
        }
        if payload["n"].as_u64().unwrap_or(0) < self.revoked_below.load(Ordering::SeqCst) {
            return Err(TokenProblem::Revoked);
        }
        Ok(Caller {
            app_id: payload["appid"].as_str().unwrap_or_default().to_string(),
        })
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens::new()
    }
}

/// An Entra error (`AADSTSnnnnn`) in Entra's exact JSON shape.
#[derive(Debug)]
pub struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, description: String) -> EntraError {
        EntraError {
            status,
            error,
            code,
            description,
        }
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let trace = uuid::Uuid::new_v4();
        let corr = uuid::Uuid::new_v4();
        let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let tsz = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let body = serde_json::json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": tsz,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    }
}

/// Handles `POST /{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(
    cfg: &SimConfig,
    tokens: &Tokens,
    base_url: &str,
    tenant: &str,
    body: &[u8],
) -> Response {
    match token_inner(cfg, tokens, base_url, tenant, body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn token_inner(
    cfg: &SimConfig,
    tokens: &Tokens,
    base_url: &str,
    tenant: &str,
    body: &[u8],
) -> Result<Response, EntraError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if !tenant.eq_ignore_ascii_case(&cfg.tenant) {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    if grant != "client_credentials" {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let client = form.get("client_id").map(String::as_str).unwrap_or("");
    if client != cfg.client_id {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    let own_scope = format!("{base_url}/.default");
    if scope != BC_SCOPE
        && scope != own_scope
        && scope != "https://api.businesscentral.dynamics.com//.default"
    {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        ));
    }
    if let Some(assertion) = form.get("client_assertion") {
        let token_url = format!("{base_url}/{tenant}/oauth2/v2.0/token");
        let typ_ok = form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        if !typ_ok {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                "The client_assertion_type is not supported.".into(),
            ));
        }
        verify_assertion(cfg, assertion, &token_url, tenant).map_err(|why| {
            EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                format!("Client assertion failed signature validation. {why}"),
            )
        })?;
    } else {
        let secret = form.get("client_secret").map(String::as_str).unwrap_or("");
        if secret != cfg.client_secret {
            return Err(EntraError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    cfg.client_id
                ),
            ));
        }
    }
    let expires = cfg.token_lifetime.as_secs().saturating_sub(1);
    let body = serde_json::json!({
        "token_type": "Bearer", "expires_in": expires, "ext_expires_in": expires,
        "access_token": tokens.issue(cfg),
    });
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(r)
}

/// Verifies an RS256 client assertion against the registered certificates.
fn verify_assertion(
    cfg: &SimConfig,
    jwt: &str,
    token_url: &str,
    tenant: &str,
) -> Result<(), String> {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the assertion is not a JWT".into());
    };
    let header: serde_json::Value = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad header")?;
    if header["alg"] != "RS256" {
        return Err("alg must be RS256".into());
    }
    let cert = if let Some(x5t) = header["x5t"].as_str() {
        let tp = B64.decode(x5t).map_err(|_| "bad x5t")?;
        cfg.certificates.iter().find(|c| c.thumbprint_sha1 == tp)
    } else if let Some(x5t) = header["x5t#S256"].as_str() {
        let tp = B64.decode(x5t).map_err(|_| "bad x5t#S256")?;
        cfg.certificates
            .iter()
            .find(|c| c.thumbprint_sha256.as_deref() == Some(&tp[..]))
    } else {
        None
    }
    .ok_or("Key was not found")?;
    let key = rsa::RsaPublicKey::from_public_key_pem(&cert.public_key_pem)
        .map_err(|_| "bad registered key")?;
    let sig = Signature::try_from(
        B64.decode(s)
            .map_err(|_| "bad signature encoding")?
            .as_slice(),
    )
    .map_err(|_| "bad signature")?;
    VerifyingKey::<Sha256>::new(key)
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| "Signature is invalid")?;
    let claims: serde_json::Value = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("bad claims")?;
    let aud = claims["aud"].as_str().unwrap_or("");
    let ms_aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    if aud != token_url && aud != ms_aud {
        return Err(format!("Invalid audience '{aud}'"));
    }
    if claims["iss"] != cfg.client_id.as_str() || claims["sub"] != cfg.client_id.as_str() {
        return Err("iss and sub must be the client id".into());
    }
    if claims["exp"].as_i64().unwrap_or(0) <= chrono::Utc::now().timestamp() {
        return Err("The assertion is expired".into());
    }
    Ok(())
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub fn openid_configuration(base_url: &str, tenant: &str) -> serde_json::Value {
    serde_json::json!({
        "token_endpoint": format!("{base_url}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base_url}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base_url}/{tenant}/v2.0"),
        "authorization_endpoint": format!("{base_url}/{tenant}/oauth2/v2.0/authorize"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    })
}

/// SHA-256 helper (thumbprints).
pub fn sha256(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}
