//! The HTTP front: one fallback handler that routes Entra, BC API and
//! control requests (BC paths like `companies(id)/salesInvoices(id)/pdfDocument`
//! do not fit a path router), applying faults, auth, limits and latency in the
//! order BC's front door does.

use crate::api::{self, ApiRequest};
use crate::auth::{self, Tokens};
use crate::clock::Clock;
use crate::config::SimConfig;
use crate::datagen::{self, Ctx};
use crate::error::BcError;
use crate::faults::{Fault, Faults};
use crate::limits::Limits;
use crate::schema::{EntityType, Schema};
use crate::store::Store;
use crate::value::{Record, Val};
use crate::webhooks::{WebhookCounts, Webhooks};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// One environment: name and company ids (different per environment).
#[derive(Debug, Clone)]
pub struct Env {
    /// Environment name as configured.
    pub name: String,
    /// Company ids, index = company index.
    pub companies: Vec<Uuid>,
}

/// Request counters served by `GET /_sim/counts`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Counts {
    /// All counted requests (token + API).
    pub total: u64,
    /// Per normalised route, e.g. `GET companies/salesInvoices`, `POST token`.
    pub by_route: BTreeMap<String, u64>,
    /// Requests answered 429/503 by the limits or a throttling fault.
    pub throttled: u64,
    /// Highest number of API requests in flight at once.
    pub max_concurrent_seen: usize,
    /// API requests that arrived while the most BC serves at once were in
    /// flight, and so queued (BC serves them late, or answers 503 when the
    /// queue is too long): a client within BC's limits causes none.
    pub queued: u64,
    /// Webhook handshakes, notifications and subscription removals.
    pub webhooks: WebhookCounts,
}

/// State shared by the handlers and [`crate::Control`].
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub cfg: SimConfig,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Environments.
    pub envs: Vec<Env>,
    /// Data.
    pub store: Store,
    /// Token issuer.
    pub tokens: Tokens,
    /// Fault queue.
    pub faults: Faults,
    /// Limits.
    pub limits: Limits,
    /// Counters.
    pub counts: Mutex<Counts>,
    /// The emulator's clock (record times, webhook expiry and schedule).
    pub clock: Arc<Clock>,
    /// Webhook subscriptions and notifications.
    pub webhooks: Arc<Webhooks>,
    /// Users, security groups and permission sets, per environment.
    pub permissions: crate::permissions::Directory,
    in_flight: AtomicUsize,
    /// API requests arrived and not yet answered (in flight or queued).
    arrived: AtomicUsize,
}

impl Shared {
    /// Builds the shared state.
    pub fn new(cfg: SimConfig, base_url: String) -> Shared {
        let envs: Vec<Env> = cfg
            .environments
            .iter()
            .enumerate()
            .map(|(e, name)| Env {
                name: name.clone(),
                companies: (0..cfg.companies)
                    .map(|c| {
                        Uuid::new_v5(
                            &Uuid::NAMESPACE_OID,
                            format!("bc-sim/{}/{e}/{c}", cfg.seed).as_bytes(),
                        )
                    })
                    .collect(),
            })
            .collect();
        let custom = cfg
            .custom_api
            .as_ref()
            .map(|c| EntityType::leak_custom(&c.entity_type, &c.entity_set, &c.fields));
        let permissions = crate::permissions::Directory::generate(
            &envs
                .iter()
                .map(|e: &Env| {
                    (
                        e.name.clone(),
                        (0..e.companies.len()).map(datagen::company_name).collect(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        let clock = Arc::new(Clock::default());
        let store = Store::new(custom, clock.clone());
        let webhooks = Arc::new(Webhooks::new(&cfg, clock.clone()));
        let listener = webhooks.clone();
        store.set_listener(Box::new(move |c| listener.record(c)));
        Shared {
            envs,
            permissions,
            store,
            clock,
            webhooks,
            tokens: Tokens::new(),
            faults: Faults::default(),
            limits: Limits::default(),
            counts: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            cfg,
            base_url,
        }
    }

    /// Generator context of a company.
    pub fn ctx(&self, env: usize, company: usize) -> Ctx {
        Ctx {
            seed: self.cfg.seed,
            env: env as u8,
            company: company as u8,
            scale: self.cfg.invoices_per_company,
            custom_count: self
                .cfg
                .custom_api
                .as_ref()
                .map_or(0, |c| c.records_per_company),
        }
    }

    /// Index of an environment (case-insensitive, as BC: "Production" = "production").
    pub fn env_index(&self, name: &str) -> Option<usize> {
        self.envs
            .iter()
            .position(|e| e.name.eq_ignore_ascii_case(name))
    }

    /// The `companies` entity of a company.
    pub fn company_record(&self, env: usize, i: usize, id: Uuid) -> Record {
        let t = Schema::get().ty("company");
        let mut r = Record::blank(t);
        let name = datagen::company_name(i);
        r.set(t, "id", Val::Guid(id));
        r.set(t, "systemVersion", Val::S("26.0.30643.32481"));
        r.set(t, "timestamp", Val::Int(30_000 + (env * 100 + i) as i64));
        r.set(t, "name", Val::Str(name.chars().take(30).collect()));
        r.set(t, "displayName", Val::Str(name));
        r.set(
            t,
            "systemCreatedAt",
            Val::Dt(datagen::BASE_MIN_LAST_MODIFIED),
        );
        r.set(
            t,
            "systemModifiedAt",
            Val::Dt(datagen::BASE_MIN_LAST_MODIFIED + 86_400_000),
        );
        r
    }

    fn count(&self, route: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total += 1;
        *c.by_route.entry(route.to_string()).or_default() += 1;
    }

    fn throttled(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .throttled += 1;
    }
}

/// The router: every path goes to one dispatcher.
pub fn app(sh: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(sh)
}

fn decode_path(p: &str) -> String {
    percent_encoding::percent_decode_str(p)
        .decode_utf8_lossy()
        .into_owned()
}

/// Every answer carries a `Date` header, as BC's do, from the emulator's
/// clock (so that a clock moved forward is seen by clients as time passed).
async fn dispatch(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let mut resp = answer(&sh, req).await;
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(sh.clock.now_ms())
        .unwrap_or_default();
    if let Ok(v) =
        header::HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

async fn answer(sh: &Arc<Shared>, req: Request) -> Response {
    let sh = sh.clone();
    let path = decode_path(req.uri().path());
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    if path.starts_with("/_sim/") || path == "/_sim" {
        // Attachment uploads go through here: up to 128 MB, and a body
        // over it is refused, never cut.
        let body = match axum::body::to_bytes(req.into_body(), 128 << 20).await {
            Ok(b) => b,
            Err(e) => {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    axum::Json(
                        serde_json::json!({"error": format!("control request body not read: {e}")}),
                    ),
                )
                    .into_response();
            }
        };
        return crate::control::http(&sh, &method, &path, &body).await;
    }
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    if segs.len() == 4
        && segs[1] == "oauth2"
        && segs[2] == "v2.0"
        && segs[3] == "token"
        && method == Method::POST
    {
        sh.count("POST token");
        if let Some(f) = sh.faults.take(&path, true) {
            match f.kind.as_str() {
                "token_endpoint_down" => {
                    let body = serde_json::json!({"error": "temporarily_unavailable", "error_description": "AADSTS50196: The server is temporarily unavailable.", "error_codes": [50196]});
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                        body.to_string(),
                    )
                        .into_response();
                }
                "latency" => {
                    tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms.unwrap_or(0)))
                        .await
                }
                _ => return status_fault(&sh, &f),
            }
        }
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        return auth::token_endpoint(&sh.cfg, &sh.tokens, &sh.base_url, &segs[0], &body);
    }
    if method == Method::GET
        && segs.len() == 4
        && segs[1] == "v2.0"
        && segs[2] == ".well-known"
        && segs[3] == "openid-configuration"
    {
        return axum::Json(auth::openid_configuration(&sh.base_url, &segs[0])).into_response();
    }
    if segs.first().map(String::as_str) == Some("v2.0") {
        let head = {
            let header = |name: header::HeaderName| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            Head {
                auth: header(header::AUTHORIZATION),
                prefer: header(header::HeaderName::from_static("prefer")),
                if_match: header(header::IF_MATCH),
            }
        };
        // Subscription bodies are small; anything over 1 MB is refused.
        let Ok(body) = axum::body::to_bytes(req.into_body(), 1 << 20).await else {
            return BcError::Status {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "BadRequest",
                message: "The request body is too large.".into(),
                retry_after: None,
            }
            .into_response();
        };
        return bc(sh, method, segs, raw_query, head, body).await;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The request headers the BC API reads.
struct Head {
    auth: Option<String>,
    prefer: Option<String>,
    if_match: Option<String>,
}

fn status_fault(sh: &Shared, f: &Fault) -> Response {
    let status =
        StatusCode::from_u16(f.status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = match status.as_u16() {
        429 => (
            "Application_TooManyRequests",
            "Too many requests reached.".to_string(),
        ),
        503 => (
            "Application_ServiceUnavailable",
            "The service is temporarily unavailable. Please try again later.".into(),
        ),
        504 => (
            "Application_GatewayTimeout",
            "The request timed out.".into(),
        ),
        408 => (
            "Application_OperationTimeout",
            "The operation has timed out.".into(),
        ),
        409 => (
            "Internal_ServerError",
            "The transaction was deadlocked. Please try again later.".into(),
        ),
        500 => (
            "Internal_ServerError",
            "An internal server error occurred.".into(),
        ),
        _ => ("BadRequest", format!("Injected fault {}.", status.as_u16())),
    };
    if matches!(status.as_u16(), 429 | 503) {
        sh.throttled();
    }
    let retry = if matches!(status.as_u16(), 429 | 503) {
        Some(f.retry_after_secs.unwrap_or(1))
    } else {
        f.retry_after_secs
    };
    BcError::Status {
        status,
        code,
        message,
        retry_after: retry,
    }
    .into_response()
}

/// Serves a GET of the read-only API on a blocking thread (pages are CPU
/// work); returns the response and the number of entities in it.
async fn read(
    sh: &Arc<Shared>,
    env: usize,
    root: String,
    rest: Vec<String>,
    raw_query: String,
    prefer: Option<String>,
    custom: bool,
) -> (Response, usize) {
    let max_page = max_page(prefer.as_deref());
    let sh2 = sh.clone();
    let result = tokio::task::spawn_blocking(move || {
        let segments: Vec<&str> = rest.iter().map(String::as_str).collect();
        api::handle(
            &sh2,
            ApiRequest {
                env,
                root,
                segments,
                raw_query: &raw_query,
                max_page,
                custom,
            },
        )
    })
    .await;
    match result {
        Ok(Ok(r)) => (r.response, r.records),
        Ok(Err(e)) => (e.into_response(), 0),
        Err(_) => (
            BcError::Status {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "Internal_ServerError",
                message: "internal error".into(),
                retry_after: None,
            }
            .into_response(),
            0,
        ),
    }
}

/// `Prefer: odata.maxpagesize=N`.
fn max_page(prefer: Option<&str>) -> Option<usize> {
    prefer.and_then(|p| {
        p.split(',').find_map(|x| {
            x.trim()
                .strip_prefix("odata.maxpagesize=")
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
    })
}

struct InFlight<'a>(&'a Shared);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An API request between its arrival and its answer (queued or served).
struct Arrived<'a>(&'a Shared);
impl Drop for Arrived<'_> {
    fn drop(&mut self) {
        self.0.arrived.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn bc(
    sh: Arc<Shared>,
    method: Method,
    segs: Vec<String>,
    raw_query: String,
    head: Head,
    body: bytes::Bytes,
) -> Response {
    // /v2.0/{tenant?}/{env}/api/{v2.0 | publisher/group/version}/...
    let mut i = 1;
    if segs
        .get(1)
        .is_some_and(|s| s.eq_ignore_ascii_case(&sh.cfg.tenant))
    {
        i = 2;
    }
    let env_name = segs.get(i).cloned().unwrap_or_default();
    let Some(api_at) = segs.iter().position(|s| s == "api") else {
        return BcError::NoEnvironment.into_response();
    };
    let (custom, rest_at) = match segs.get(api_at + 1).map(String::as_str) {
        Some("v2.0") => (false, api_at + 2),
        Some(_) if segs.len() >= api_at + 4 => (true, api_at + 4),
        _ => (false, api_at + 2),
    };
    let rest: Vec<String> = segs
        .get(rest_at..)
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    let route = {
        let r: Vec<String> = rest
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.split('(').next().unwrap_or("").to_string())
            .collect();
        format!(
            "{method} {}",
            if r.is_empty() {
                "/".to_string()
            } else {
                r.join("/")
            }
        )
    };
    sh.count(&route);
    let path = format!("/{}", segs.join("/"));
    let fault = sh.faults.take(&path, false);
    if let Some(f) = &fault {
        match f.kind.as_str() {
            "status" => return status_fault(&sh, f),
            "latency" => {
                tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms.unwrap_or(0)))
                    .await
            }
            "revoke_tokens" => sh.tokens.revoke_all(),
            _ => {}
        }
    }
    let caller = match sh.tokens.validate(head.auth.as_deref()) {
        Ok(c) => c,
        Err(p) => {
            return BcError::Unauthorized {
                tenant: sh.cfg.tenant.clone(),
                description: p.description(),
            }
            .into_response();
        }
    };
    let Some(env) = sh.env_index(&env_name) else {
        return BcError::NoEnvironment.into_response();
    };
    if let Err((actual, retry)) = sh.limits.admit(
        &caller.app_id,
        &sh.envs[env].name,
        sh.cfg.requests_per_window,
        sh.cfg.window,
    ) {
        sh.throttled();
        return BcError::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "Application_TooManyRequests",
            message: format!(
                "Too many requests reached. Actual ({actual}). Maximum ({}).",
                sh.cfg.requests_per_window
            ),
            retry_after: Some(retry),
        }
        .into_response();
    }
    let arrived = sh.arrived.fetch_add(1, Ordering::SeqCst) + 1;
    let _arrived = Arrived(&sh);
    if arrived > sh.cfg.max_concurrent {
        sh.counts.lock().unwrap_or_else(|e| e.into_inner()).queued += 1;
    }
    let Some(_permit) = sh
        .limits
        .acquire(&caller.app_id, sh.cfg.max_concurrent, sh.cfg.queue_timeout)
        .await
    else {
        sh.throttled();
        // BC answers an over-long concurrency queue with 503; code chosen to match its Application_* family.
        return BcError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "Application_TooManyConcurrentRequests",
            message: format!(
                "Too many concurrent requests. Maximum ({}).",
                sh.cfg.max_concurrent
            ),
            retry_after: Some(1),
        }
        .into_response();
    };
    let now = sh.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&sh);
    {
        let mut c = sh.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.max_concurrent_seen = c.max_concurrent_seen.max(now);
    }
    let root = format!(
        "{}{}",
        sh.base_url,
        segs.get(..rest_at)
            .unwrap_or(&segs)
            .iter()
            .fold(String::new(), |a, s| a + "/" + s)
    );
    let hook = crate::webhooks::api::HookRequest {
        env,
        api: segs.get(api_at + 1..rest_at).unwrap_or_default(),
        root: &root,
        rest: &rest,
        raw_query: &raw_query,
        if_match: head.if_match.as_deref(),
        body: &body,
        app_id: &caller.app_id,
    };
    if let Some(r) =
        crate::permissions::api::handle(&sh, &method, &hook, max_page(head.prefer.as_deref()))
    {
        return r;
    }
    let hooked = crate::webhooks::api::handle(&sh, &method, hook).await;
    let (mut resp, n) = match hooked {
        Some(r) => (r, 0),
        None if method != Method::GET => {
            return BcError::Status {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: "BadRequest_MethodNotAllowed",
                message: "The emulator's API is read-only; change data through /_sim.".into(),
                retry_after: None,
            }
            .into_response();
        }
        None => read(&sh, env, root, rest, raw_query, head.prefer, custom).await,
    };
    let delay = sh.cfg.latency + sh.cfg.latency_per_record * n as u32;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(f) = fault
        && (f.kind == "truncate" || f.kind == "malformed")
    {
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let new = if f.kind == "truncate" {
            bytes.slice(..bytes.len() / 2)
        } else {
            bytes::Bytes::from_static(b"{\"@odata.context\":\"x\",\"value\":[{\"id\":,,}")
        };
        let mut r = Response::from_parts(parts, Body::from(new));
        r.headers_mut().remove(header::CONTENT_LENGTH);
        resp = r;
    }
    resp.headers_mut().insert(
        "request-id",
        HeaderValue::from_str(&Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("0")),
    );
    resp
}
