//! The webhook routes of the BC API: `{api root}/subscriptions[('<id>')]`
//! (API v2.0 and the custom API's root) and
//! `api/microsoft/runtime/beta/companies(<id>)/webhookSupportedResources[('<resource>')]`.
//! They pass the same faults, authentication and limits as every API route.

use super::window::Window;
use super::{State, Subscription, Webhooks};
use crate::datagen;
use crate::error::BcError;
use crate::server::Shared;
use crate::value::dt_string;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// A BC API request, split for the webhook (and permission) routes.
#[derive(Debug, Clone, Copy)]
pub struct HookRequest<'a> {
    /// Environment index.
    pub env: usize,
    /// Segments between `api` and the entity path: `["v2.0"]` or
    /// `[publisher, group, version]`.
    pub api: &'a [String],
    /// Absolute URL of the API root as requested.
    pub root: &'a str,
    /// Segments after the API root.
    pub rest: &'a [String],
    /// Raw query string.
    pub raw_query: &'a str,
    /// `If-Match`, if sent.
    pub if_match: Option<&'a str>,
    /// Request body.
    pub body: &'a [u8],
    /// The calling app (`appid` claim).
    pub app_id: &'a str,
}

/// Which API root a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    V2,
    Custom,
    Runtime,
}

fn root_of(sh: &Shared, api: &[String]) -> Option<Root> {
    let api: Vec<&str> = api.iter().map(String::as_str).collect();
    match api.as_slice() {
        ["v2.0"] => Some(Root::V2),
        ["microsoft", "runtime", "beta"] => Some(Root::Runtime),
        [p, g, v] => sh
            .cfg
            .custom_api
            .as_ref()
            .filter(|c| c.publisher == *p && c.group == *g && c.version == *v)
            .map(|_| Root::Custom),
        _ => None,
    }
}

/// Serves the webhook routes; `None` when the request is for another route.
pub async fn handle(sh: &Shared, method: &Method, r: HookRequest<'_>) -> Option<Response> {
    let rest: Vec<&str> = r
        .rest
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let root = root_of(sh, r.api)?;
    let answer = match (root, rest.as_slice()) {
        (Root::V2 | Root::Custom, [one]) if *one == "subscriptions" => {
            subscriptions(sh, method, &r, root, None).await
        }
        (Root::V2 | Root::Custom, [one]) if one.starts_with("subscriptions(") => {
            let key = subscription_key(one);
            match key {
                Ok(k) => subscriptions(sh, method, &r, root, Some(&k)).await,
                Err(e) => Err(e),
            }
        }
        (Root::Runtime, [company, tail @ ..])
            if company.starts_with("companies(")
                && tail
                    .first()
                    .is_some_and(|t| t.starts_with("webhookSupportedResources")) =>
        {
            supported_route(sh, method, &r, company, &tail.join("/"))
        }
        _ => return None,
    };
    Some(answer.unwrap_or_else(IntoResponse::into_response))
}

fn bad(message: impl Into<String>) -> BcError {
    BcError::BadRequest(message.into())
}

fn status_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> BcError {
    BcError::Status {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

fn method_not_allowed() -> BcError {
    status_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "BadRequest_MethodNotAllowed",
        "The requested operation is not supported on this resource.",
    )
}

/// `subscriptions('<id>')` → `<id>`; the quotes are required.
fn subscription_key(seg: &str) -> Result<String, BcError> {
    seg.strip_prefix("subscriptions(")
        .and_then(|s| s.strip_suffix(')'))
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'"))
        .ok_or_else(|| {
            bad(format!(
                "Bad Request - Error in query syntax at segment '{seg}'."
            ))
        })
}

/// The subscriptions entity, in `$metadata` order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entity<'a> {
    #[serde(rename = "@odata.context", skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(rename = "@odata.etag")]
    etag: String,
    subscription_id: &'a str,
    notification_url: &'a str,
    resource: &'a str,
    timestamp: u64,
    user_id: Uuid,
    last_modified_date_time: String,
    client_state: &'a str,
    expiration_date_time: String,
    system_created_at: String,
    system_created_by: Uuid,
    system_modified_at: String,
    system_modified_by: Uuid,
}

/// A collection answer: `@odata.context` first, as BC writes it.
#[derive(Debug, Serialize)]
struct List<T> {
    #[serde(rename = "@odata.context")]
    context: String,
    value: Vec<T>,
}

/// One `webhookSupportedResources` entity.
#[derive(Debug, Serialize)]
struct Supported<'a> {
    #[serde(rename = "@odata.context", skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    resource: &'a str,
}

fn entity(s: &Subscription, context: Option<String>) -> Entity<'_> {
    Entity {
        context,
        etag: s.etag(),
        subscription_id: &s.id,
        notification_url: &s.notification_url,
        resource: &s.resource,
        timestamp: s.version,
        user_id: s.user_id,
        last_modified_date_time: dt_string(s.modified_ms),
        client_state: &s.client_state,
        expiration_date_time: dt_string(s.expires_ms),
        system_created_at: dt_string(s.created_ms),
        system_created_by: s.user_id,
        system_modified_at: dt_string(s.modified_ms),
        system_modified_by: s.user_id,
    }
}

fn respond(status: StatusCode, body: &impl Serialize) -> Response {
    let mut resp = crate::api::json(serde_json::to_vec(body).unwrap_or_default(), None);
    *resp.status_mut() = status;
    resp
}

fn entity_response(status: StatusCode, root: &str, s: &Subscription) -> Response {
    let mut resp = respond(
        status,
        &entity(s, Some(format!("{root}/$metadata#subscriptions/$entity"))),
    );
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("{root}/subscriptions('{}')", s.id))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn not_found(id: &str) -> BcError {
    BcError::NotFound {
        code: "Internal_RecordNotFound",
        message: format!(
            "The API Webhook Subscription does not exist. Identification fields and values: Subscription Id='{id}'"
        ),
    }
}

fn too_many(max: usize) -> BcError {
    bad(format!(
        "The maximum number of subscriptions ({max}) has been reached."
    ))
}

/// BC's OData concurrency rules: a token is required, `*` matches any.
fn check_if_match(if_match: Option<&str>, etag: &str) -> Result<(), BcError> {
    let invalid = || {
        status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest_InvalidToken",
            "Could not validate the client concurrency token required by the service. Please provide a valid token in the client request.",
        )
    };
    let h = if_match
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(invalid)?;
    if h == "*" {
        return Ok(());
    }
    let tokens: Vec<&str> = h.split(',').map(str::trim).collect();
    if tokens
        .iter()
        .any(|t| !(t.starts_with("W/\"") || t.starts_with('"')) || !t.ends_with('"'))
    {
        return Err(invalid());
    }
    if tokens.contains(&etag) {
        Ok(())
    } else {
        Err(status_error(
            StatusCode::CONFLICT,
            "Request_EntityChanged",
            "Another user has already changed the record.",
        ))
    }
}

/// Writable properties of a request body.
#[derive(Debug, Default)]
struct Fields {
    notification_url: Option<String>,
    resource: Option<String>,
    client_state: Option<String>,
}

const READ_ONLY: &[&str] = &[
    "subscriptionId",
    "timestamp",
    "userId",
    "lastModifiedDateTime",
    "expirationDateTime",
    "systemCreatedAt",
    "systemCreatedBy",
    "systemModifiedAt",
    "systemModifiedBy",
];

const CLIENT_STATE_MAX: usize = 2048;

fn fields(body: &[u8]) -> Result<Fields, BcError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("The request body is not valid JSON: {e}.")))?;
    let serde_json::Value::Object(m) = v else {
        return Err(bad("The request body must be a JSON object."));
    };
    let mut f = Fields::default();
    for (k, v) in m {
        if k.starts_with('@') || READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        let slot = match k.as_str() {
            "notificationUrl" => &mut f.notification_url,
            "resource" => &mut f.resource,
            "clientState" => &mut f.client_state,
            _ => {
                return Err(bad(format!(
                    "Could not find a property named '{k}' on type 'Microsoft.NAV.subscriptions'."
                )));
            }
        };
        *slot = match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Null if k == "clientState" => Some(String::new()),
            _ => return Err(bad(format!("Invalid value for property '{k}'."))),
        };
    }
    if let Some(cs) = &f.client_state {
        let n = cs.chars().count();
        if n > CLIENT_STATE_MAX {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "Application_StringExceededLength",
                format!(
                    "The length of the string is {n}, but it must be less than or equal to {CLIENT_STATE_MAX} characters. Value: {cs}"
                ),
            ));
        }
    }
    if let Some(u) = &f.notification_url {
        let ok = url::Url::parse(u)
            .is_ok_and(|p| (p.scheme() == "http" || p.scheme() == "https") && p.has_host());
        if !ok {
            return Err(bad(format!(
                "The notification URL '{u}' is not a valid absolute http or https URL."
            )));
        }
    }
    Ok(f)
}

fn required(v: Option<String>, name: &str) -> Result<String, BcError> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("The property '{name}' is required.")))
}

/// Entity sets of API v2.0 that take subscriptions: every top-level set the
/// emulator serves, as their BC pages sit on persistent, single-key,
/// non-system tables — except `documentAttachments`, whose v2.0 page is
/// over the temporary "Attachment Entity Buffer" (page 5460's rule).
pub fn v2_supported(set: &str) -> bool {
    datagen::is_top_level(set) && set != "documentAttachments"
}

/// What `webhookSupportedResources` lists, sorted: `v2.0/<set>` and the
/// custom page as `<publisher>/<group>/<version>/<set>`.
pub fn supported_resources(sh: &Shared) -> Vec<String> {
    let mut v: Vec<String> = datagen::SETS
        .iter()
        .filter(|s| v2_supported(s))
        .map(|s| format!("v2.0/{s}"))
        .chain(
            sh.cfg
                .custom_api
                .as_ref()
                .map(|c| format!("{}/{}/{}/{}", c.publisher, c.group, c.version, c.entity_set)),
        )
        .collect();
    v.sort();
    v
}

/// What a subscription's resource points at.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    company: u8,
    /// Store set (`customApi` for the custom page).
    set: &'static str,
    /// Entity set as served.
    set_name: String,
}

/// Resolves `resource` against the request's environment and API root.
fn target(
    sh: &Shared,
    env: usize,
    api: &[String],
    root: Root,
    resource: &str,
) -> Result<Target, BcError> {
    let unknown = || {
        status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest_ResourceNotFound",
            format!("The resource '{resource}' does not exist or does not support webhooks."),
        )
    };
    if resource.contains(['?', '#']) {
        return Err(unknown());
    }
    let path = if resource.starts_with("http://") || resource.starts_with("https://") {
        let u = url::Url::parse(resource).map_err(|_| unknown())?;
        percent_encoding::percent_decode_str(u.path())
            .decode_utf8_lossy()
            .into_owned()
    } else {
        resource.to_string()
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let tail: &[&str] = match segs.iter().position(|s| *s == "api") {
        Some(i) => {
            // An absolute URL names its environment right before `api`.
            if i > 0 && !segs[i - 1].eq_ignore_ascii_case(&sh.envs[env].name) {
                return Err(unknown());
            }
            let after = &segs[i + 1..];
            if after.len() < api.len() || after.iter().zip(api).any(|(a, b)| a != b) {
                return Err(unknown());
            }
            &after[api.len()..]
        }
        // Relative to the API root: only for API v2.0 (a custom page's
        // resource must name its publisher, group and version).
        None if root == Root::V2 => &segs,
        None => return Err(unknown()),
    };
    let [company, set] = tail else {
        return Err(unknown());
    };
    let cid = company
        .strip_prefix("companies(")
        .and_then(|c| c.strip_suffix(')'))
        .and_then(|c| Uuid::parse_str(c.trim_matches('\'')).ok())
        .ok_or_else(unknown)?;
    let company = sh.envs[env]
        .companies
        .iter()
        .position(|c| *c == cid)
        .ok_or_else(unknown)?;
    let store_set = match root {
        Root::Custom => sh
            .cfg
            .custom_api
            .as_ref()
            .filter(|c| c.entity_set == *set)
            .map(|_| "customApi"),
        _ => datagen::SETS
            .iter()
            .copied()
            .find(|s| s == set && v2_supported(s)),
    }
    .ok_or_else(unknown)?;
    Ok(Target {
        company: company as u8,
        set: store_set,
        set_name: (*set).to_string(),
    })
}

async fn subscriptions(
    sh: &Shared,
    method: &Method,
    r: &HookRequest<'_>,
    root: Root,
    key: Option<&str>,
) -> Result<Response, BcError> {
    let wh = &sh.webhooks;
    match (method.as_str(), key) {
        ("GET", None) => {
            let mut st = wh.lock();
            wh.purge_expired(&mut st);
            let value: Vec<Entity<'_>> = st
                .subs
                .values()
                .filter(|s| s.env as usize == r.env)
                .map(|s| entity(s, None))
                .collect();
            Ok(respond(
                StatusCode::OK,
                &List {
                    context: format!("{}/$metadata#subscriptions", r.root),
                    value,
                },
            ))
        }
        ("GET", Some(id)) => {
            let mut st = wh.lock();
            let s = find(wh, &mut st, r.env, id)?;
            Ok(entity_response(StatusCode::OK, r.root, s))
        }
        ("POST", None) => create(sh, r, root).await,
        ("PATCH", Some(id)) => renew(sh, r, root, id).await,
        ("DELETE", Some(id)) => {
            let mut st = wh.lock();
            let s = find(wh, &mut st, r.env, id)?;
            check_if_match(r.if_match, &s.etag())?;
            st.subs.remove(id);
            wh.live.store(st.subs.len(), Ordering::SeqCst);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(method_not_allowed()),
    }
}

/// The environment's subscription `id`, once expired ones are gone; or 404.
fn find<'s>(
    wh: &Webhooks,
    st: &'s mut State,
    env: usize,
    id: &str,
) -> Result<&'s mut Subscription, BcError> {
    wh.purge_expired(st);
    st.subs
        .get_mut(id)
        .filter(|s| s.env as usize == env)
        .ok_or_else(|| not_found(id))
}

fn user_of(app_id: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("bc-sim/user/{app_id}").as_bytes(),
    )
}

impl Webhooks {
    fn in_env(&self, env: usize) -> usize {
        let mut st = self.lock();
        self.purge_expired(&mut st);
        st.subs.values().filter(|s| s.env as usize == env).count()
    }
}

async fn create(sh: &Shared, r: &HookRequest<'_>, root: Root) -> Result<Response, BcError> {
    let wh = &sh.webhooks;
    let f = fields(r.body)?;
    let url = required(f.notification_url, "notificationUrl")?;
    let resource = required(f.resource, "resource")?;
    let client_state = f.client_state.unwrap_or_default();
    let t = target(sh, r.env, r.api, root, &resource)?;
    if wh.in_env(r.env) >= wh.max_subscriptions {
        return Err(too_many(wh.max_subscriptions));
    }
    wh.handshake(&url, &client_state)
        .await
        .map_err(|why| bad(format!("The subscription could not be validated: {why}.")))?;
    let now = wh.clock.now_ms();
    let user = user_of(r.app_id);
    let mut st = wh.lock();
    wh.purge_expired(&mut st);
    if st.subs.values().filter(|s| s.env as usize == r.env).count() >= wh.max_subscriptions {
        return Err(too_many(wh.max_subscriptions));
    }
    st.next_version += 1;
    let s = Subscription {
        id: Uuid::new_v4().simple().to_string(),
        env: r.env as u8,
        company: t.company,
        set: t.set,
        set_name: t.set_name,
        notification_url: url,
        resource,
        client_state,
        user_id: user,
        created_ms: now,
        modified_ms: now,
        expires_ms: now + wh.lifetime_ms,
        version: st.next_version,
        window: Window::default(),
        in_flight: None,
        failed_attempts: 0,
        retry_due_ms: None,
    };
    let resp = entity_response(StatusCode::CREATED, r.root, &s);
    st.subs.insert(s.id.clone(), s);
    wh.live.store(st.subs.len(), Ordering::SeqCst);
    drop(st);
    wh.count(|c| c.subscriptions_created += 1);
    Ok(resp)
}

async fn renew(
    sh: &Shared,
    r: &HookRequest<'_>,
    root: Root,
    id: &str,
) -> Result<Response, BcError> {
    let wh = &sh.webhooks;
    let (etag, url, resource, client_state) = {
        let mut st = wh.lock();
        let s = find(wh, &mut st, r.env, id)?;
        check_if_match(r.if_match, &s.etag())?;
        (
            s.etag(),
            s.notification_url.clone(),
            s.resource.clone(),
            s.client_state.clone(),
        )
    };
    let f = fields(r.body)?;
    let url = f.notification_url.unwrap_or(url);
    let resource = f.resource.unwrap_or(resource);
    let client_state = f.client_state.unwrap_or(client_state);
    let t = target(sh, r.env, r.api, root, &resource)?;
    wh.handshake(&url, &client_state)
        .await
        .map_err(|why| bad(format!("The subscription could not be validated: {why}.")))?;
    let now = wh.clock.now_ms();
    let mut st = wh.lock();
    st.next_version += 1;
    let version = st.next_version;
    let s = find(wh, &mut st, r.env, id)?;
    // Someone else changed it during the handshake.
    check_if_match(Some(&etag), &s.etag())?;
    if s.resource != resource {
        // Waiting changes were for the old resource.
        s.window = Window::default();
    }
    s.company = t.company;
    s.set = t.set;
    s.set_name = t.set_name;
    s.notification_url = url;
    s.resource = resource;
    s.client_state = client_state;
    s.modified_ms = now;
    s.expires_ms = now + wh.lifetime_ms;
    s.version = version;
    let resp = entity_response(StatusCode::OK, r.root, s);
    drop(st);
    wh.count(|c| c.subscriptions_renewed += 1);
    Ok(resp)
}

/// `$filter=resource eq '<pattern>'`, where `*` matches anything (BC turns
/// OData filters into AL filters, hence the docs' `'v2.0*'`).
fn resource_filter(raw_query: &str) -> Result<Option<String>, BcError> {
    let opts = crate::query::parse(raw_query).map_err(bad)?;
    let Some(f) = opts.filter else {
        return Ok(None);
    };
    let pattern = f
        .trim()
        .strip_prefix("resource")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix("eq"))
        .map(str::trim)
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.strip_suffix('\''))
        .ok_or_else(|| {
            bad(format!(
                "The filter '{f}' is not supported on webhookSupportedResources."
            ))
        })?;
    Ok(Some(pattern.replace("''", "'")))
}

/// AL-filter wildcard match: `*` is any run of characters.
fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || !s[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn supported_route(
    sh: &Shared,
    method: &Method,
    r: &HookRequest<'_>,
    company: &str,
    tail: &str,
) -> Result<Response, BcError> {
    let cid = company
        .strip_prefix("companies(")
        .and_then(|c| c.strip_suffix(')'))
        .and_then(|c| Uuid::parse_str(c.trim_matches('\'')).ok())
        .filter(|c| sh.envs[r.env].companies.contains(c))
        .ok_or_else(crate::api::company_not_found)?;
    let key = match tail.strip_prefix("webhookSupportedResources") {
        Some("") => None,
        Some(k) => Some(
            k.strip_prefix("('")
                .and_then(|k| k.strip_suffix("')"))
                .map(|k| k.replace("''", "'"))
                .ok_or_else(|| crate::api::not_found_segment(tail))?,
        ),
        None => return Err(crate::api::not_found_segment(tail)),
    };
    match method.as_str() {
        "GET" => {}
        "DELETE" => {
            return Err(bad("Deleting webhookSupportedResources is not supported."));
        }
        _ => return Err(method_not_allowed()),
    }
    let base = format!(
        "{}/$metadata#companies({cid})/webhookSupportedResources",
        r.root
    );
    let all = supported_resources(sh);
    match key {
        Some(k) => {
            let found = all
                .iter()
                .find(|x| **x == k)
                .ok_or_else(|| BcError::NotFound {
                    code: "BadRequest_ResourceNotFound",
                    message: format!(
                        "Resource not found for the segment 'webhookSupportedResources('{k}')'"
                    ),
                })?;
            Ok(respond(
                StatusCode::OK,
                &Supported {
                    context: Some(format!("{base}/$entity")),
                    resource: found,
                },
            ))
        }
        None => {
            let pattern = resource_filter(r.raw_query)?;
            let value: Vec<Supported<'_>> = all
                .iter()
                .filter(|x| pattern.as_deref().is_none_or(|p| wildcard(p, x)))
                .map(|x| Supported {
                    context: None,
                    resource: x,
                })
                .collect();
            Ok(respond(
                StatusCode::OK,
                &List {
                    context: base,
                    value,
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;

    fn shared() -> Shared {
        Shared::new(SimConfig::default(), "http://127.0.0.1:1".into())
    }

    fn v2() -> Vec<String> {
        vec!["v2.0".to_string()]
    }

    #[test]
    fn resources_resolve_in_every_documented_form() {
        let sh = shared();
        let c = sh.envs[0].companies[1];
        let want = Target {
            company: 1,
            set: "customers",
            set_name: "customers".into(),
        };
        for r in [
            format!("companies({c})/customers"),
            format!("api/v2.0/companies({c})/customers"),
            format!("/api/v2.0/companies({c})/customers"),
            format!(
                "https://api.businesscentral.dynamics.com/v2.0/tenant/Production/api/v2.0/companies({c})/customers"
            ),
        ] {
            assert_eq!(target(&sh, 0, &v2(), Root::V2, &r).unwrap(), want, "{r}");
        }
        for r in [
            format!("companies({c})/salesInvoiceLines"),
            format!("companies({c})/documentAttachments"),
            format!("companies({c})/customers(00000000-0000-0000-0000-000000000001)"),
            format!("companies({c})/customers?$filter=x"),
            format!("companies({})/customers", Uuid::nil()),
            format!("https://h/v2.0/tenant/sandbox/api/v2.0/companies({c})/customers"),
            format!("api/contoso/loyalty/v1.0/companies({c})/loyaltyCards"),
            "v2.0/customers".to_string(),
        ] {
            assert!(target(&sh, 0, &v2(), Root::V2, &r).is_err(), "{r}");
        }
        let custom: Vec<String> = ["contoso", "loyalty", "v1.0"].map(String::from).to_vec();
        let t = target(
            &sh,
            0,
            &custom,
            Root::Custom,
            &format!("/api/contoso/loyalty/v1.0/companies({c})/loyaltyCards"),
        )
        .unwrap();
        assert_eq!((t.set, t.set_name.as_str()), ("customApi", "loyaltyCards"));
        assert!(
            target(
                &sh,
                0,
                &custom,
                Root::Custom,
                &format!("companies({c})/loyaltyCards")
            )
            .is_err()
        );
    }

    #[test]
    fn if_match_follows_bc_concurrency_rules() {
        let etag = crate::value::etag(&Uuid::nil(), 3);
        assert!(check_if_match(Some(&etag), &etag).is_ok());
        assert!(check_if_match(Some("*"), &etag).is_ok());
        let code = |r: Result<(), BcError>| match r {
            Err(BcError::Status { status, code, .. }) => (status.as_u16(), code),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(check_if_match(None, &etag)),
            (400, "BadRequest_InvalidToken")
        );
        assert_eq!(
            code(check_if_match(Some("nonsense"), &etag)),
            (400, "BadRequest_InvalidToken")
        );
        let stale = crate::value::etag(&Uuid::nil(), 2);
        assert_eq!(
            code(check_if_match(Some(&stale), &etag)),
            (409, "Request_EntityChanged")
        );
    }

    #[test]
    fn wildcard_matches_like_al_filters() {
        assert!(wildcard("v2.0*", "v2.0/items"));
        assert!(!wildcard("v2.0*", "contoso/loyalty/v1.0/loyaltyCards"));
        assert!(wildcard(
            "*/loyaltyCards",
            "contoso/loyalty/v1.0/loyaltyCards"
        ));
        assert!(wildcard("v2.0/items", "v2.0/items"));
        assert!(!wildcard("v2.0/item", "v2.0/items"));
        assert!(wildcard("v*/*s", "v2.0/items"));
    }

    #[test]
    fn body_fields_are_checked_like_bc() {
        assert!(fields(br#"{"notificationUrl":"ftp://x","resource":"r"}"#).is_err());
        assert!(fields(br#"{"notificationUrl":"http://x/y","bogus":1}"#).is_err());
        let long = format!(r#"{{"clientState":"{}"}}"#, "a".repeat(2049));
        assert!(matches!(
            fields(long.as_bytes()),
            Err(BcError::Status {
                code: "Application_StringExceededLength",
                ..
            })
        ));
        let f = fields(br#"{"@odata.etag":"x","subscriptionId":"ignored","notificationUrl":"http://x/y","resource":"r","clientState":null}"#).unwrap();
        assert_eq!(f.client_state.as_deref(), Some(""));
        assert_eq!(f.resource.as_deref(), Some("r"));
        assert!(fields(b"not json").is_err());
    }
}
