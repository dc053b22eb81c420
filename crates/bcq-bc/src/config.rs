//! What a [`crate::BcClient`] needs to know, with BC's defaults, and the URL
//! checks done once when a client is built.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::error::BcError;
use crate::secret::Secret;

/// Default API base of Business Central online.
pub const DEFAULT_API_BASE: &str = "https://api.businesscentral.dynamics.com/v2.0";
/// Default environment name.
pub const DEFAULT_ENVIRONMENT: &str = "production";
/// Default token scope for BC's API.
pub const DEFAULT_SCOPE: &str = "https://api.businesscentral.dynamics.com/.default";

/// How the app registration proves who it is to Entra ID.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret (`DYNAMICS_SECRET`).
    Secret(Secret),
    /// A PEM file holding the certificate and its private key (PKCS#8
    /// `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`).
    CertificatePem {
        /// The PEM file.
        path: PathBuf,
    },
    /// A PKCS#12 (`.pfx`/`.p12`) file with its password.
    CertificatePkcs12 {
        /// The PKCS#12 file.
        path: PathBuf,
        /// The file's password; `None` for an empty one.
        password: Option<Secret>,
    },
}

/// Entra ID client-credentials settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// e.g. `https://login.microsoftonline.com/{tenant}` (`DYNAMICS_AUTHORITY`);
    /// the token endpoint is `{authority}/oauth2/v2.0/token`.
    pub authority: String,
    /// The application (client) id (`DYNAMICS_CLIENT_ID`).
    pub client_id: String,
    /// Secret or certificate.
    pub credential: Credential,
    /// e.g. `https://api.businesscentral.dynamics.com/.default` (`DYNAMICS_SCOPE`).
    pub scope: String,
    /// A cached token with less than this left is refreshed before use, so
    /// a long page download never starts with a token about to expire.
    pub min_token_lifetime: Duration,
}

impl AuthConfig {
    /// Settings with BC's scope and a 5-minute minimum token lifetime.
    pub fn new(
        authority: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Self {
        Self {
            authority: authority.into(),
            client_id: client_id.into(),
            credential,
            scope: DEFAULT_SCOPE.to_string(),
            min_token_lifetime: Duration::from_secs(5 * 60),
        }
    }

    /// `{authority}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.authority.trim_end_matches('/'))
    }
}

/// Bounds and pacing of retries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Most attempts of one request, the first included (default 12: a 429
    /// storm with `Retry-After` is BC saying when to come back, and the
    /// total is still bounded by `max_elapsed`).
    pub max_attempts: u32,
    /// No new attempt starts after this much time since the first (default 10 min).
    pub max_elapsed: Duration,
    /// Smallest backoff delay, also the first one's lower bound (default 500 ms).
    pub base_delay: Duration,
    /// Largest computed backoff delay; a server `Retry-After` may exceed it (default 60 s).
    pub max_delay: Duration,
    /// Most fetches of a body that does not decode (truncated page), default 3.
    pub max_decode_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            max_elapsed: Duration::from_secs(10 * 60),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_decode_attempts: 3,
        }
    }
}

/// Everything a [`crate::BcClient`] needs.
#[derive(Debug, Clone)]
pub struct BcConfig {
    /// Entra ID settings.
    pub auth: AuthConfig,
    /// Default `https://api.businesscentral.dynamics.com/v2.0`.
    pub api_base: String,
    /// The Entra tenant id (or domain) in the API URL.
    pub tenant: String,
    /// The BC environment name (`BC_ENVIRONMENT`), default `production`.
    pub environment: String,
    /// Sent as `Prefer: odata.maxpagesize=N` when set (BC's own cap is 20,000).
    pub page_size: Option<u32>,
    /// Total time of one request, body included.
    pub request_timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Retry bounds.
    pub retry: RetryConfig,
}

impl BcConfig {
    /// A config with BC online defaults: production environment, no page
    /// size preference, 120 s request / 10 s connect timeouts.
    ///
    /// 120 s because a 20,000-entity page with `$expand` can take well over
    /// a minute; BC itself gives up at 10 minutes with a 504.
    pub fn new(auth: AuthConfig, tenant: impl Into<String>) -> Self {
        Self {
            auth,
            api_base: DEFAULT_API_BASE.to_string(),
            tenant: tenant.into(),
            environment: DEFAULT_ENVIRONMENT.to_string(),
            page_size: None,
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
        }
    }

    /// `{api_base}/{tenant}/{environment}/api/v2.0`.
    pub fn api_root(&self) -> String {
        format!(
            "{}/{}/{}/api/v2.0",
            self.api_base.trim_end_matches('/'),
            self.tenant,
            self.environment
        )
    }
}

/// Parses a URL and refuses plain http to anything but loopback.
pub(crate) fn check_url(setting: &'static str, raw: &str) -> Result<Url, BcError> {
    let url = Url::parse(raw).map_err(|e| BcError::InvalidConfig {
        setting,
        reason: format!("'{raw}' is not a url: {e}"),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(BcError::InsecureUrl {
            setting,
            url: raw.to_string(),
        }),
        other => Err(BcError::InvalidConfig {
            setting,
            reason: format!("'{raw}' has scheme '{other}', expected https"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://login.microsoftonline.com/t",
            "http://127.0.0.1:8080/x",
            "http://127.4.5.6/x",
            "http://[::1]:9/x",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(check_url("DYNAMICS_AUTHORITY", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn plain_http_elsewhere_is_refused_naming_the_setting() {
        for bad in [
            "http://login.microsoftonline.com/t",
            "http://10.0.0.1/x",
            "http://localhost.evil.com/",
            "http://128.0.0.1/",
        ] {
            let err = check_url("DYNAMICS_AUTHORITY", bad).unwrap_err();
            assert!(matches!(err, BcError::InsecureUrl { .. }), "{bad}: {err:?}");
            assert!(
                err.to_string()
                    .starts_with("DYNAMICS_AUTHORITY uses plain http"),
                "{err}"
            );
        }
        let err = check_url("BC_API_BASE_URL", "ftp://x").unwrap_err();
        assert!(err.to_string().contains("BC_API_BASE_URL"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_config_debug() {
        let auth = AuthConfig::new(
            "https://login.microsoftonline.com/t",
            "client",
            Credential::Secret(Secret::new("s3cr3t-value")),
        );
        let mut cfg = BcConfig::new(auth, "t");
        let text = format!("{cfg:?}");
        assert!(
            !text.contains("s3cr3t-value") && text.contains("***"),
            "{text}"
        );
        cfg.auth.credential = Credential::CertificatePkcs12 {
            path: "x.p12".into(),
            password: Some(Secret::new("pfx-password")),
        };
        let text = format!("{cfg:?}");
        assert!(!text.contains("pfx-password"), "{text}");
        assert_eq!(
            cfg.api_root(),
            "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0"
        );
    }
}
