//! The token cache: one token per client, refreshed when less than the
//! minimum remaining lifetime is left, fetched once even when many tasks ask
//! at the same moment (re-checked under the write lock).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use serde::Deserialize;
use tokio::sync::RwLock;

use super::certificate::ClientCertificate;
use super::entra::parse_token_error;
use crate::config::{AuthConfig, Credential, RetryConfig};
use crate::error::BcError;
use crate::retry::Timer;
use crate::secret::Secret;
use crate::stats::Counters;
use bcq_retry::{Attempts, Failure};

/// The proof sent with each token request.
#[derive(Debug)]
enum Proof {
    Secret(Secret),
    Certificate(Box<ClientCertificate>),
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    expires_at: Instant,
    /// Refresh once less than this is left; see [`TokenCache::fetch`].
    refresh_margin: Duration,
}

/// Fetches and caches Entra ID access tokens for one app registration.
pub(crate) struct TokenCache {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    scope: String,
    proof: Proof,
    min_lifetime: Duration,
    retry: RetryConfig,
    timer: Arc<dyn Timer>,
    rng: Arc<Mutex<StdRng>>,
    stats: Arc<Counters>,
    cached: RwLock<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds; Entra v2 sends a number, v1 and some proxies a string.
    expires_in: NumberOrString,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(u64),
    Text(String),
}

impl TokenCache {
    /// Loads the credential (a certificate file is read now, so a bad path
    /// fails at startup, not at the first request).
    pub(crate) fn new(
        cfg: &AuthConfig,
        http: reqwest::Client,
        retry: RetryConfig,
        timer: Arc<dyn Timer>,
        rng: Arc<Mutex<StdRng>>,
        stats: Arc<Counters>,
    ) -> Result<Self, BcError> {
        let proof = match &cfg.credential {
            Credential::Secret(s) => Proof::Secret(s.clone()),
            Credential::CertificatePem { path } => {
                Proof::Certificate(Box::new(ClientCertificate::from_pem_file(path)?))
            }
            Credential::CertificatePkcs12 { path, password } => Proof::Certificate(Box::new(
                ClientCertificate::from_pkcs12_file(path, password.as_ref())?,
            )),
        };
        Ok(Self {
            http,
            token_url: cfg.token_url(),
            client_id: cfg.client_id.clone(),
            scope: cfg.scope.clone(),
            proof,
            min_lifetime: cfg.min_token_lifetime,
            retry,
            timer,
            rng,
            stats,
            cached: RwLock::new(None),
        })
    }

    /// A token with at least the minimum lifetime left.
    pub(crate) async fn token(&self) -> Result<Secret, BcError> {
        if let Some(t) = self.usable(self.cached.read().await.as_ref()) {
            return Ok(t);
        }
        let mut slot = self.cached.write().await;
        // Another task may have refreshed while we waited for the lock.
        if let Some(t) = self.usable(slot.as_ref()) {
            return Ok(t);
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    /// Called after BC answered 401 to `rejected`: fetches a new token unless
    /// another task already replaced it.
    pub(crate) async fn refresh_rejected(&self, rejected: &Secret) -> Result<Secret, BcError> {
        let mut slot = self.cached.write().await;
        if let Some(t) = slot.as_ref().filter(|t| &t.token != rejected) {
            return Ok(t.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    fn usable(&self, cached: Option<&CachedToken>) -> Option<Secret> {
        let t = cached?;
        let left = t.expires_at.saturating_duration_since(self.timer.now());
        (left > t.refresh_margin).then(|| t.token.clone())
    }

    /// Requests a token, retrying transient failures (429, 5xx, network).
    async fn fetch(&self) -> Result<CachedToken, BcError> {
        let mut state = Attempts::new(&self.retry.policy(), self.timer.now());
        loop {
            state.begin();
            let err = match self.fetch_once().await {
                Ok(t) => return Ok(t),
                Err(e) => e,
            };
            // Entra's 500s are transient too (unlike BC's, which are usually
            // deterministic application errors).
            let transient = err.is_retryable() || err.status().is_some_and(|s| s >= 500);
            if !transient {
                return Err(err);
            }
            let delay = {
                let mut rng = self.rng.lock().expect("rng lock");
                state.next_delay(Failure::Transient, None, self.timer.now(), None, &mut *rng)
            };
            let delay = match delay {
                Ok(d) => d,
                Err(give_up) => {
                    return Err(BcError::GaveUp {
                        give_up,
                        last: Box::new(err),
                    });
                }
            };
            tracing::warn!(error = %err, ?delay, "token request failed, retrying");
            Counters::bump(&self.stats.retries, 1);
            self.timer.sleep(delay).await;
        }
    }

    async fn fetch_once(&self) -> Result<CachedToken, BcError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.proof {
            Proof::Secret(s) => form.push(("client_secret", s.expose().to_string())),
            Proof::Certificate(c) => {
                let jwt = c.assertion(&self.client_id, &self.token_url, self.timer.wall())?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", jwt.expose().to_string()));
            }
        }
        Counters::bump(&self.stats.token_requests, 1);
        let started = self.timer.now();
        let transport = |source| crate::error::transport(&self.token_url, source);
        let resp = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?;
        if status != 200 {
            return Err(parse_token_error(status, &body, &self.token_url));
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|source| BcError::Decode {
                url: self.token_url.clone(),
                attempts: 1,
                source,
            })?;
        let lifetime = Duration::from_secs(match parsed.expires_in {
            NumberOrString::Number(n) => n,
            NumberOrString::Text(t) => t.trim().parse().unwrap_or(0),
        });
        tracing::debug!(?lifetime, "fetched an entra id token");
        Ok(CachedToken {
            token: Secret::new(parsed.access_token),
            // Counted from when we asked: the token's clock started then.
            expires_at: started + lifetime,
            // A token shorter-lived than twice the minimum (test issuers,
            // odd proxies) would otherwise never be considered fresh.
            refresh_margin: self.min_lifetime.min(lifetime / 2),
        })
    }
}
