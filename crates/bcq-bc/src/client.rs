//! [`BcClient`]: authenticated, budgeted, retried GETs against one BC
//! environment.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, IF_MATCH, RETRY_AFTER};
use url::Url;

use crate::auth::token::TokenCache;
use crate::budget::RequestBudget;
use crate::config::{BcConfig, RetryConfig, check_url};
use crate::error::{BcError, parse_bc_error};
use crate::odata::{Company, Page};
use crate::retry::{Timer, TokioTimer};
use crate::secret::Secret;
use crate::stats::{Counters, Stats};
use bcq_retry::{Attempts, Failure};

/// Test seams: the clock/sleep and the jitter's random seed.
#[derive(Clone)]
pub struct Seams {
    /// Clock and sleep for retry delays and token expiry.
    pub timer: Arc<dyn Timer>,
    /// Seed of the backoff jitter; `None` seeds from the OS.
    pub rng_seed: Option<u64>,
}

impl Default for Seams {
    fn default() -> Self {
        Self {
            timer: Arc::new(TokioTimer),
            rng_seed: None,
        }
    }
}

/// A Business Central API client for one environment. Cheap to clone: clones
/// share the token cache, the counters and the request budget.
#[derive(Clone)]
pub struct BcClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_root: String,
    /// Only URLs of this origin get the bearer token (nextLinks included).
    api_origin: url::Origin,
    api_base: String,
    tenant: String,
    environment: String,
    page_size: Option<u32>,
    retry: RetryConfig,
    budget: Arc<RequestBudget>,
    tokens: TokenCache,
    timer: Arc<dyn Timer>,
    rng: Arc<Mutex<StdRng>>,
    stats: Arc<Counters>,
}

impl fmt::Debug for BcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BcClient")
            .field("api_root", &self.inner.api_root)
            .finish_non_exhaustive()
    }
}

/// One request's shape: a GET of a page or a resource, or a write.
struct Req {
    method: reqwest::Method,
    /// A page read: `Accept: application/json` and the page-size preference.
    is_page: bool,
    /// A JSON body.
    body: Option<Vec<u8>>,
    /// `If-Match`.
    if_match: Option<String>,
}

/// How one attempt ended, when it did not return a body.
enum AttemptError {
    /// 401: the token may have been revoked or rotated; re-authenticate once.
    Unauthorized,
    Failed {
        err: BcError,
        retry_after: Option<Duration>,
    },
}

impl From<BcError> for AttemptError {
    fn from(err: BcError) -> Self {
        AttemptError::Failed {
            err,
            retry_after: None,
        }
    }
}

/// Follows a redirect only within the origin of the request (at most 5):
/// an answer from elsewhere is never taken for BC's, whatever it says.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if first.as_ref() != Some(&attempt.url().origin()) {
            let target = attempt.url().to_string();
            attempt.error(crate::error::RedirectRefused(target))
        } else if attempt.previous().len() > 5 {
            attempt.error("more than 5 redirects")
        } else {
            attempt.follow()
        }
    })
}

impl BcClient {
    /// Builds a client; checks the URLs and loads a certificate credential.
    pub fn new(cfg: BcConfig, budget: Arc<RequestBudget>) -> Result<Self, BcError> {
        Self::with_seams(cfg, budget, Seams::default())
    }

    /// Like [`BcClient::new`] with an injected timer and jitter seed.
    pub fn with_seams(
        cfg: BcConfig,
        budget: Arc<RequestBudget>,
        seams: Seams,
    ) -> Result<Self, BcError> {
        check_url("DYNAMICS_AUTHORITY", &cfg.auth.authority)?;
        let base = check_url("BC_API_BASE_URL", &cfg.api_base)?;
        for (setting, value) in [
            ("DYNAMICS_CLIENT_ID", &cfg.auth.client_id),
            ("BC_TENANT_ID", &cfg.tenant),
            ("BC_ENVIRONMENT", &cfg.environment),
        ] {
            if value.trim().is_empty() || value.contains(['/', '?', '#']) {
                return Err(BcError::InvalidConfig {
                    setting,
                    reason: format!("'{value}' is empty or contains '/', '?' or '#'"),
                });
            }
        }
        let http = reqwest::Client::builder()
            .redirect(same_origin_redirects())
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.connect_timeout)
            .user_agent(concat!("bcq/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BcError::InvalidConfig {
                setting: "http client",
                reason: e.to_string(),
            })?;
        let rng = Arc::new(Mutex::new(match seams.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        }));
        let stats = Arc::new(Counters::default());
        let tokens = TokenCache::new(
            &cfg.auth,
            http.clone(),
            cfg.retry.clone(),
            seams.timer.clone(),
            rng.clone(),
            stats.clone(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                api_root: cfg.api_root(),
                api_origin: base.origin(),
                api_base: cfg.api_base.clone(),
                tenant: cfg.tenant.clone(),
                environment: cfg.environment.clone(),
                page_size: cfg.page_size,
                retry: cfg.retry.clone(),
                budget,
                tokens,
                timer: seams.timer,
                rng,
                stats,
            }),
        })
    }

    /// `{api_base}/{tenant}/{environment}/api/v2.0`.
    pub fn api_root(&self) -> &str {
        &self.inner.api_root
    }

    /// The root of a custom API page:
    /// `{api_base}/{tenant}/{environment}/api/{publisher}/{group}/{version}`;
    /// pass it to [`crate::collection_url`] like [`BcClient::api_root`].
    pub fn custom_api_root(&self, publisher: &str, group: &str, version: &str) -> String {
        format!(
            "{}/{}/{}/api/{publisher}/{group}/{version}",
            self.inner.api_base.trim_end_matches('/'),
            self.inner.tenant,
            self.inner.environment
        )
    }

    /// The tenant in the API URL (also the one of web client deep links).
    pub fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// Records per page asked of BC (`Prefer: odata.maxpagesize`), when set.
    pub fn page_size(&self) -> Option<u32> {
        self.inner.page_size
    }

    /// The environment name.
    pub fn environment(&self) -> &str {
        &self.inner.environment
    }

    /// Fetches a token (for `bcq check`): proves the credential works.
    pub async fn token_check(&self) -> Result<(), BcError> {
        self.inner.tokens.token().await.map(|_| ())
    }

    /// All companies of the environment (`GET {root}/companies`, every page).
    pub async fn companies(&self) -> Result<Vec<Company>, BcError> {
        use futures::TryStreamExt;
        let url = format!("{}/companies", self.inner.api_root);
        let pages: Vec<Page> = self.pages(url).try_collect().await?;
        let mut companies = Vec::new();
        for page in pages {
            for value in page.values {
                let company = serde_json::from_value(value).map_err(|source| BcError::Decode {
                    url: page.url.clone(),
                    attempts: 1,
                    source,
                })?;
                companies.push(company);
            }
        }
        Ok(companies)
    }

    /// GETs one JSON document (an entity, a `$metadata`-less resource).
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, BcError> {
        self.execute(url, false, |body| crate::json::from_slice_lossy(&body))
            .await
    }

    /// GETs raw bytes: media such as `pdfDocumentContent` (PDFs).
    pub async fn get_bytes(&self, url: &str) -> Result<Bytes, BcError> {
        self.execute(url, false, Ok).await
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// The shared request budget.
    pub fn budget(&self) -> &Arc<RequestBudget> {
        &self.inner.budget
    }

    /// One logical GET: token, budget, retries, one re-authentication on
    /// 401, bounded re-fetches of an undecodable body.
    pub(crate) async fn execute<T>(
        &self,
        url: &str,
        is_page: bool,
        decode: impl Fn(Bytes) -> Result<T, serde_json::Error>,
    ) -> Result<T, BcError> {
        self.execute_dated(url, is_page, decode)
            .await
            .map(|(value, _)| value)
    }

    /// [`BcClient::execute`], also returning the server's clock when the
    /// answer was sent (its `Date` header), so that a cursor is never moved
    /// past what BC itself calls now.
    pub(crate) async fn execute_dated<T>(
        &self,
        url: &str,
        is_page: bool,
        decode: impl Fn(Bytes) -> Result<T, serde_json::Error>,
    ) -> Result<(T, Option<DateTime<Utc>>), BcError> {
        let req = Req {
            method: reqwest::Method::GET,
            is_page,
            body: None,
            if_match: None,
        };
        self.execute_req(url, &req, decode).await
    }

    /// Sends a write (`POST`, `PATCH`, `DELETE`) with an optional JSON body
    /// and `If-Match`, under the same token, budget and retries as a read;
    /// returns the answer's JSON (`null` for an empty body, as `204`).
    /// Only throttling (429, 503) and transport failures are retried, as
    /// for reads; a `POST` retried after a lost answer may have been done
    /// twice, which is why callers that create things list them afterwards.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<&str>,
    ) -> Result<serde_json::Value, BcError> {
        let req = Req {
            method,
            is_page: false,
            body: body.map(|b| b.to_string().into_bytes()),
            if_match: if_match.map(str::to_string),
        };
        self.execute_req(url, &req, |body| {
            if body.iter().all(u8::is_ascii_whitespace) {
                Ok(serde_json::Value::Null)
            } else {
                crate::json::from_slice_lossy(&body)
            }
        })
        .await
        .map(|(v, _)| v)
    }

    async fn execute_req<T>(
        &self,
        url: &str,
        req: &Req,
        decode: impl Fn(Bytes) -> Result<T, serde_json::Error>,
    ) -> Result<(T, Option<DateTime<Utc>>), BcError> {
        let inner = &self.inner;
        self.check_request_url(url)?;
        let mut state = Attempts::new(&inner.retry.policy(), inner.timer.now());
        let mut reauthenticated = false;
        let mut decode_failures = 0;
        loop {
            state.begin();
            let token = inner.tokens.token().await?;
            let (err, retry_after) = match self.attempt(url, req, &token).await {
                Ok((body, date)) => match decode(body) {
                    Ok(value) => return Ok((value, date)),
                    Err(source) => {
                        decode_failures += 1;
                        let err = BcError::Decode {
                            url: url.to_string(),
                            attempts: decode_failures,
                            source,
                        };
                        if decode_failures >= inner.retry.max_decode_attempts {
                            return Err(err);
                        }
                        (err, None)
                    }
                },
                Err(AttemptError::Unauthorized) => {
                    if reauthenticated {
                        return Err(BcError::Unauthorized {
                            url: url.to_string(),
                        });
                    }
                    // A 401 after the cache said the token was fresh: it was
                    // revoked or the app's secret rotated. Re-authenticate
                    // once, right away; this is not a backoff attempt.
                    reauthenticated = true;
                    state.forgive();
                    Counters::bump(&inner.stats.retries, 1);
                    tracing::info!(url, "business central answered 401, re-authenticating once");
                    inner.tokens.refresh_rejected(&token).await?;
                    continue;
                }
                Err(AttemptError::Failed { err, retry_after }) => (err, retry_after),
            };
            if !err.is_retryable() {
                return Err(err);
            }
            let failure = if matches!(err.status(), Some(429 | 503)) {
                Failure::Throttled
            } else {
                Failure::Transient
            };
            let delay = {
                let mut rng = inner.rng.lock().expect("rng lock");
                state.next_delay(failure, retry_after, inner.timer.now(), None, &mut *rng)
            };
            let delay = match delay {
                Ok(d) => d,
                Err(give_up) => {
                    tracing::warn!(url, attempts = give_up.attempts, error = %err, "giving up");
                    return Err(BcError::GaveUp {
                        give_up,
                        last: Box::new(err),
                    });
                }
            };
            tracing::warn!(url, attempt = state.made(), ?delay, error = %err, "retrying");
            Counters::bump(&inner.stats.retries, 1);
            inner.timer.sleep(delay).await;
        }
    }

    /// One HTTP exchange under the budget; the in-flight slot is held until
    /// the body is read, since BC counts the request as running until then.
    async fn attempt(
        &self,
        url: &str,
        r: &Req,
        token: &Secret,
    ) -> Result<(Bytes, Option<DateTime<Utc>>), AttemptError> {
        let inner = &self.inner;
        let _permit = inner.budget.acquire().await;
        Counters::bump(&inner.stats.requests, 1);
        let mut req = inner
            .http
            .request(r.method.clone(), url)
            .bearer_auth(token.expose());
        if r.is_page {
            req = req.header(ACCEPT, "application/json");
            if let Some(n) = inner.page_size {
                req = req.header("Prefer", format!("odata.maxpagesize={n}"));
            }
        }
        if let Some(body) = &r.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(tag) = &r.if_match {
            req = req.header(IF_MATCH, tag.as_str());
        }
        let transport = |source| crate::error::transport(url, source);
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::parse_retry_after(v, inner.timer.wall()));
        let date = resp
            .headers()
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        let body = resp.bytes().await.map_err(transport)?;
        Counters::bump(&inner.stats.bytes, body.len() as u64);
        if (200..300).contains(&status) {
            return Ok((body, date));
        }
        if status == 429 || status == 503 {
            Counters::bump(&inner.stats.throttled, 1);
        }
        if status == 401 {
            return Err(AttemptError::Unauthorized);
        }
        Err(AttemptError::Failed {
            err: parse_bc_error(status, &body, url, &inner.environment),
            retry_after,
        })
    }

    /// Refuses URLs outside the API base: a nextLink or media link pointing
    /// elsewhere must not receive the bearer token.
    fn check_request_url(&self, url: &str) -> Result<(), BcError> {
        let foreign = || BcError::ForeignUrl {
            url: url.to_string(),
            api_base: self.inner.api_base.clone(),
        };
        let parsed = Url::parse(url).map_err(|_| foreign())?;
        if parsed.origin() != self.inner.api_origin {
            return Err(foreign());
        }
        Ok(())
    }
}
