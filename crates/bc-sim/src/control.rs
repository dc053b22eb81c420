//! The control API (`/_sim/...`, JSON) and its in-process mirror [`Control`]:
//! record changes, line edits, bulk touches, faults, counters, and the
//! webhook machinery (subscriptions, the clock, the delay, unreachable
//! subscribers, flushing).
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /_sim/info` | | tenant, client id/secret, environments with api_root and companies, authority, token_url, scope |
//! | `POST /_sim/records/{env}/{companyId}/{entitySet}` | fields | 201 + entity |
//! | `PATCH /_sim/records/{env}/{companyId}/{entitySet}/{id}` | fields | 200 + entity (lastModifiedDateTime moved) |
//! | `DELETE /_sim/records/{env}/{companyId}/{entitySet}/{id}` | | 204 |
//! | `PATCH /_sim/records/{env}/{companyId}/{docSet}/{id}/lines/{sequence}` | line fields | 200 + line (header untouched) |
//! | `PUT /_sim/records/{env}/{companyId}/documentAttachments/{id}/content` | file bytes | 200 + attachment (byteSize, lastModifiedDateTime moved) |
//! | `POST /_sim/touch/{env}/{companyId}/{entitySet}` | `{"count":N}` or `{"fraction":f}` | `{"ids":[...]}` |
//! | `POST /_sim/faults` | [`Fault`] | 204 |
//! | `DELETE /_sim/faults` | | 204 |
//! | `GET /_sim/counts` / `DELETE /_sim/counts` | | [`Counts`] (with `webhooks`: [`WebhookCounts`](crate::WebhookCounts)) / 204 |
//! | `GET /_sim/permissions/{env}` | | the environment's users, security groups and permission-set assignments |
//! | `POST` / `DELETE /_sim/permissions/{env}/grants` | [`GrantChange`](crate::permissions::GrantChange) `{"principal":"ALICE","role_id":"D365 SALES DOC, EDIT","company":"CRONUS USA, Inc."}` (a user's name or a group's code; no company: every company) | 204; 400 naming what does not exist |
//! | `POST` / `DELETE /_sim/permissions/{env}/members` | [`MemberChange`](crate::permissions::MemberChange) `{"group":"SALES","user":"GUEST"}` | 204 |
//! | `GET /_sim/webhooks/subscriptions` | | `[`[`SubscriptionInfo`]`]`: live subscriptions with their waiting changes and retry state |
//! | `POST /_sim/webhooks/clock` | `{"advance_secs":N}` (or `"advance_ms"`) | `{"now":"<dateTime>","offset_ms":N}`; expired subscriptions go, due jobs run |
//! | `PUT /_sim/webhooks/delay` | `{"ms":N}` | 204; wait after the first change of a window |
//! | `POST /_sim/webhooks/unreachable` | [`Unreachable`] `{"url_prefix":"http://...","status":503}` (no status: connection refused) | 204 |
//! | `DELETE /_sim/webhooks/unreachable` | | 204; every URL reachable again |
//! | `POST /_sim/webhooks/flush` | | [`FlushReport`] `{"posts","delivered","retried","failed"}`: every pending job run now, retries as if due |
//!
//! Errors: `{"error":"<message>"}` with 404 (unknown env/company/set/record) or 400.

use crate::datagen::{self, Ctx};
use crate::faults::Fault;
use crate::server::{Counts, Shared};
use crate::store::{Store, StoreError, position_of};
use crate::value::{Record, Val};
use crate::webhooks::{FlushReport, SubscriptionInfo, Unreachable};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Errors of control operations.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Unknown environment name.
    #[error("unknown environment '{0}'")]
    Environment(String),
    /// Unknown company id in that environment.
    #[error("unknown company '{0}'")]
    Company(String),
    /// Entity set not served or not writable.
    #[error("unknown entity set '{0}'")]
    EntitySet(String),
    /// Store error (missing record, bad field).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Request body not understood.
    #[error("bad request: {0}")]
    Body(String),
}

/// `POST /_sim/touch` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Touch {
    /// Fraction of the set's records to update.
    pub fraction: Option<f64>,
    /// Number of records to update.
    pub count: Option<u64>,
}

/// In-process control of a running emulator.
#[derive(Debug, Clone)]
pub struct Control {
    sh: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(sh: Arc<Shared>) -> Control {
        Control { sh }
    }

    fn resolve(
        &self,
        env: &str,
        company: &str,
        set: &str,
    ) -> Result<(Ctx, &'static str), ControlError> {
        let e = self
            .sh
            .env_index(env)
            .ok_or_else(|| ControlError::Environment(env.into()))?;
        let cid: Uuid = company
            .parse()
            .map_err(|_| ControlError::Company(company.into()))?;
        let c = self.sh.envs[e]
            .companies
            .iter()
            .position(|x| *x == cid)
            .ok_or_else(|| ControlError::Company(company.into()))?;
        let set = self
            .sh
            .cfg
            .custom_api
            .as_ref()
            .filter(|c| c.entity_set == set)
            .map(|_| "customApi")
            .or_else(|| {
                datagen::SETS
                    .iter()
                    .copied()
                    .find(|s| *s == set && datagen::is_top_level(s))
            });
        let set = set.ok_or_else(|| ControlError::EntitySet(set.unwrap_or_default().into()))?;
        Ok((self.sh.ctx(e, c), set))
    }

    fn entity(&self, ctx: &Ctx, set: &'static str, pos: u64) -> Result<Value, ControlError> {
        let t = self
            .sh
            .store
            .ty(set)
            .ok_or_else(|| ControlError::EntitySet(set.into()))?;
        let r = self
            .sh
            .store
            .get(ctx, set, pos)
            .ok_or(StoreError::NotFound(ctx.id(
                datagen::set_code(set).unwrap_or(0),
                pos,
                0,
            )))?;
        Ok(record_json(t, &r))
    }

    fn fields(
        set: &'static str,
        store: &Store,
        fields: &Value,
    ) -> Result<Vec<(usize, Val)>, ControlError> {
        let t = store
            .ty(set)
            .ok_or_else(|| ControlError::EntitySet(set.into()))?;
        let empty = serde_json::Map::new();
        let m = match fields {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => {
                return Err(ControlError::Body(
                    "expected a JSON object of fields".into(),
                ));
            }
        };
        Ok(Store::patch_from_json(t, m)?)
    }

    /// `GET /_sim/permissions/{env}`: the environment's users, security
    /// groups and permission-set assignments.
    pub fn permissions(&self, env: &str) -> Result<crate::permissions::EnvDirectory, ControlError> {
        let e = self
            .sh
            .env_index(env)
            .ok_or_else(|| ControlError::Environment(env.into()))?;
        Ok(self.sh.permissions.snapshot(e))
    }

    /// `POST` (`grant`) or `DELETE /_sim/permissions/{env}/grants`:
    /// assigns or removes a permission set of a user or security group.
    pub fn change_grant(
        &self,
        env: &str,
        g: &crate::permissions::GrantChange,
        grant: bool,
    ) -> Result<(), ControlError> {
        let e = self
            .sh
            .env_index(env)
            .ok_or_else(|| ControlError::Environment(env.into()))?;
        let result = if grant {
            self.sh.permissions.grant(e, env, g)
        } else {
            self.sh.permissions.revoke(e, g).and_then(|removed| {
                if removed {
                    Ok(())
                } else {
                    Err(format!(
                        "{} holds no {} in {:?}",
                        g.principal, g.role_id, g.company
                    ))
                }
            })
        };
        result.map_err(ControlError::Body)
    }

    /// `POST` (`add`) or `DELETE /_sim/permissions/{env}/members`.
    pub fn change_member(
        &self,
        env: &str,
        m: &crate::permissions::MemberChange,
        add: bool,
    ) -> Result<(), ControlError> {
        let e = self
            .sh
            .env_index(env)
            .ok_or_else(|| ControlError::Environment(env.into()))?;
        self.sh
            .permissions
            .membership(e, m, add)
            .map_err(ControlError::Body)
    }

    /// `GET /_sim/info`.
    pub fn info(&self) -> Value {
        let sh = &self.sh;
        let envs: Vec<Value> = sh
            .envs
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "api_root": format!("{}/v2.0/{}/{}/api/v2.0", sh.base_url, sh.cfg.tenant, e.name),
                    "companies": e.companies.iter().enumerate().map(|(i, id)| json!({"id": id, "name": datagen::company_name(i)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "tenant": sh.cfg.tenant,
            "client_id": sh.cfg.client_id,
            "client_secret": sh.cfg.client_secret,
            "environments": envs,
            "authority": format!("{}/{}", sh.base_url, sh.cfg.tenant),
            "token_url": format!("{}/{}/oauth2/v2.0/token", sh.base_url, sh.cfg.tenant),
            "scope": crate::auth::BC_SCOPE,
            "base_max_last_modified": crate::value::dt_string(datagen::BASE_MAX_LAST_MODIFIED),
        })
    }

    /// Creates a record; the server fills id, number (if not given), lastModifiedDateTime, etag.
    pub fn create(
        &self,
        env: &str,
        company: &str,
        set: &str,
        fields: &Value,
    ) -> Result<Value, ControlError> {
        let (ctx, set) = self.resolve(env, company, set)?;
        let patch = Self::fields(set, &self.sh.store, fields)?;
        let pos = self.sh.store.create(&ctx, set, patch);
        self.entity(&ctx, set, pos)
    }

    /// Updates a record (moves lastModifiedDateTime, changes the etag).
    pub fn update(
        &self,
        env: &str,
        company: &str,
        set: &str,
        id: &str,
        fields: &Value,
    ) -> Result<Value, ControlError> {
        let (ctx, set) = self.resolve(env, company, set)?;
        let id: Uuid = id
            .parse()
            .map_err(|_| ControlError::Body(format!("bad id '{id}'")))?;
        let pos = position_of(&ctx, set, &id).ok_or(StoreError::NotFound(id))?;
        let patch = Self::fields(set, &self.sh.store, fields)?;
        if !self.sh.store.update(&ctx, set, pos, patch) {
            return Err(StoreError::NotFound(id).into());
        }
        self.entity(&ctx, set, pos)
    }

    /// Deletes a record.
    pub fn delete(
        &self,
        env: &str,
        company: &str,
        set: &str,
        id: &str,
    ) -> Result<(), ControlError> {
        let (ctx, set) = self.resolve(env, company, set)?;
        let id: Uuid = id
            .parse()
            .map_err(|_| ControlError::Body(format!("bad id '{id}'")))?;
        let pos = position_of(&ctx, set, &id).ok_or(StoreError::NotFound(id))?;
        if !self.sh.store.delete(&ctx, set, pos) {
            return Err(StoreError::NotFound(id).into());
        }
        // BC deletes a record's attachments with it.
        if set != "documentAttachments" {
            let end = self.sh.store.end(&ctx, "documentAttachments");
            let at = self.sh.store.ty("documentAttachments");
            let parent = at.and_then(|t| t.idx("parentId"));
            for p in 0..end {
                let child = self.sh.store.get(&ctx, "documentAttachments", p);
                if let (Some(rec), Some(i)) = (child, parent)
                    && matches!(rec.vals[i], Val::Guid(g) if g == id)
                {
                    self.sh.store.delete(&ctx, "documentAttachments", p);
                }
            }
        }
        Ok(())
    }

    /// Replaces the content of an attachment (`byteSize` and
    /// `lastModifiedDateTime` follow), as uploading a new version in BC.
    pub fn set_attachment_content(
        &self,
        env: &str,
        company: &str,
        id: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, ControlError> {
        let (ctx, set) = self.resolve(env, company, "documentAttachments")?;
        let id: Uuid = id
            .parse()
            .map_err(|_| ControlError::Body(format!("bad id '{id}'")))?;
        let pos = position_of(&ctx, set, &id).ok_or(StoreError::NotFound(id))?;
        if !self.sh.store.set_file(&ctx, pos, bytes) {
            return Err(StoreError::NotFound(id).into());
        }
        self.entity(&ctx, set, pos)
    }

    /// Edits one line (`sequence` = 10000, 20000, ...) of a document without
    /// moving the header's lastModifiedDateTime; returns the line.
    pub fn edit_line(
        &self,
        env: &str,
        company: &str,
        set: &str,
        id: &str,
        sequence: u64,
        fields: &Value,
    ) -> Result<Value, ControlError> {
        let (ctx, set) = self.resolve(env, company, set)?;
        let lset = datagen::line_set(set).ok_or_else(|| ControlError::EntitySet(set.into()))?;
        let id: Uuid = id
            .parse()
            .map_err(|_| ControlError::Body(format!("bad id '{id}'")))?;
        let pos = position_of(&ctx, set, &id).ok_or(StoreError::NotFound(id))?;
        let idx = (sequence / 10_000)
            .checked_sub(1)
            .ok_or_else(|| ControlError::Body("sequence must be 10000, 20000, ...".into()))?;
        let patch = Self::fields(lset, &self.sh.store, fields)?;
        if !self.sh.store.edit_line(&ctx, set, pos, idx, patch) {
            return Err(StoreError::NotFound(id).into());
        }
        let lt = self
            .sh
            .store
            .ty(lset)
            .ok_or_else(|| ControlError::EntitySet(lset.into()))?;
        let line = self
            .sh
            .store
            .lines(&ctx, set, pos)
            .into_iter()
            .nth(idx as usize)
            .ok_or(StoreError::NotFound(id))?;
        Ok(record_json(lt, &line))
    }

    /// Updates `count` (or `fraction` of) records spread evenly over the set; returns their ids.
    pub fn touch(
        &self,
        env: &str,
        company: &str,
        set: &str,
        t: &Touch,
    ) -> Result<Vec<Uuid>, ControlError> {
        let (ctx, set) = self.resolve(env, company, set)?;
        let end = self.sh.store.end(&ctx, set);
        let n = t
            .count
            .unwrap_or_else(|| (t.fraction.unwrap_or(0.0) * end as f64).round() as u64)
            .min(end);
        let mut ids = Vec::with_capacity(n as usize);
        if n == 0 {
            return Ok(ids);
        }
        let step = (end / n).max(1);
        let code = datagen::set_code(set).unwrap_or(0);
        let mut p = 0;
        while (ids.len() as u64) < n && p < end {
            if self.sh.store.update(&ctx, set, p, Vec::new()) {
                ids.push(ctx.id(code, p, 0));
            }
            p += step;
        }
        Ok(ids)
    }

    /// Adds a fault; `revoke_tokens` takes effect at once.
    pub fn add_fault(&self, f: Fault) {
        if f.kind == "revoke_tokens" {
            self.sh.tokens.revoke_all();
            return;
        }
        self.sh.faults.push(f);
    }

    /// Clears all faults.
    pub fn clear_faults(&self) {
        self.sh.faults.clear();
    }

    /// Makes every token issued so far invalid.
    pub fn revoke_tokens(&self) {
        self.sh.tokens.revoke_all();
    }

    /// Request and webhook counters.
    pub fn counts(&self) -> Counts {
        let mut c = self
            .sh
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        c.webhooks = self.sh.webhooks.counts();
        c
    }

    /// Resets the counters.
    pub fn reset_counts(&self) {
        *self.sh.counts.lock().unwrap_or_else(|e| e.into_inner()) = Counts::default();
        self.sh.webhooks.reset_counts();
    }

    /// Live webhook subscriptions with their delivery state.
    pub fn webhook_subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.sh.webhooks.list(&self.sh.envs)
    }

    /// Moves the emulator's clock forward: subscriptions expire, retries and
    /// delayed notifications fall due.
    pub fn advance_clock(&self, by: Duration) {
        self.sh.webhooks.advance_clock(by);
    }

    /// Sets the wait between the first change of a window and its
    /// notification (BC: 30 s).
    pub fn set_webhook_delay(&self, d: Duration) {
        self.sh.webhooks.set_delay(d);
    }

    /// Makes notification URLs starting with `u.url_prefix` unreachable.
    pub fn set_unreachable(&self, u: Unreachable) {
        self.sh.webhooks.set_unreachable(u);
    }

    /// Makes every notification URL reachable again.
    pub fn clear_unreachable(&self) {
        self.sh.webhooks.clear_unreachable();
    }

    /// Sends every pending notification now (retries as if due) and waits
    /// for the answers.
    pub async fn flush_webhooks(&self) -> FlushReport {
        self.sh.webhooks.flush().await
    }
}

/// `POST /_sim/webhooks/clock` body.
#[derive(Debug, Default, Deserialize)]
struct Advance {
    advance_secs: Option<f64>,
    advance_ms: Option<u64>,
}

/// `PUT /_sim/webhooks/delay` body.
#[derive(Debug, Deserialize)]
struct Delay {
    ms: u64,
}

/// JSON of a record as the API serves it (with etag).
pub fn record_json(t: &crate::schema::EntityType, r: &Record) -> Value {
    let mut out = Vec::new();
    out.push(b'{');
    out.extend_from_slice(b"\"@odata.etag\":");
    let id = match r.vals[0] {
        Val::Guid(g) => g,
        _ => Uuid::nil(),
    };
    crate::value::write_str(&mut out, &crate::value::etag(&id, r.version));
    for (i, p) in t.props.iter().enumerate() {
        if p.kind == crate::schema::Kind::Stream {
            continue;
        }
        out.extend_from_slice(format!(",\"{}\":", p.name).as_bytes());
        crate::value::write_val(&mut out, &r.vals[i]);
    }
    out.push(b'}');
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

fn err(e: ControlError) -> Response {
    let status = match &e {
        ControlError::Store(StoreError::NotFound(_))
        | ControlError::Environment(_)
        | ControlError::Company(_)
        | ControlError::EntitySet(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, axum::Json(json!({"error": e.to_string()}))).into_response()
}

fn ok(v: Result<Value, ControlError>, status: StatusCode) -> Response {
    match v {
        Ok(v) => (status, axum::Json(v)).into_response(),
        Err(e) => err(e),
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ControlError> {
    serde_json::from_value(v).map_err(|e| ControlError::Body(e.to_string()))
}

/// Serves `/_sim/...`.
pub async fn http(sh: &Arc<Shared>, method: &Method, path: &str, body: &[u8]) -> Response {
    let c = Control::new(sh.clone());
    let segs: Vec<&str> = path
        .trim_start_matches("/_sim")
        .trim_matches('/')
        .split('/')
        .collect();
    let body_json = || -> Result<Value, ControlError> {
        if body.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_slice(body).map_err(|e| ControlError::Body(e.to_string()))
        }
    };
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["info"]) => axum::Json(c.info()).into_response(),
        ("POST", ["records", env, co, set]) => ok(
            body_json().and_then(|b| c.create(env, co, set, &b)),
            StatusCode::CREATED,
        ),
        ("PATCH", ["records", env, co, set, id]) => ok(
            body_json().and_then(|b| c.update(env, co, set, id, &b)),
            StatusCode::OK,
        ),
        ("DELETE", ["records", env, co, set, id]) => match c.delete(env, co, set, id) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => err(e),
        },
        ("PUT", ["records", env, co, "documentAttachments", id, "content"]) => ok(
            c.set_attachment_content(env, co, id, body.to_vec()),
            StatusCode::OK,
        ),
        ("PATCH", ["records", env, co, set, id, "lines", seq]) => {
            let seq = seq
                .parse::<u64>()
                .map_err(|_| ControlError::Body(format!("bad sequence '{seq}'")));
            ok(
                seq.and_then(|s| body_json().and_then(|b| c.edit_line(env, co, set, id, s, &b))),
                StatusCode::OK,
            )
        }
        ("POST", ["touch", env, co, set]) => {
            let t = body_json().and_then(parse::<Touch>);
            ok(
                t.and_then(|t| c.touch(env, co, set, &t))
                    .map(|ids| json!({"ids": ids})),
                StatusCode::OK,
            )
        }
        ("POST", ["faults"]) => match body_json().and_then(parse::<Fault>) {
            Ok(f) => {
                c.add_fault(f);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => err(e),
        },
        ("DELETE", ["faults"]) => {
            c.clear_faults();
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ["counts"]) => axum::Json(c.counts()).into_response(),
        ("GET", ["permissions", env]) => match c.permissions(env) {
            Ok(d) => axum::Json(d).into_response(),
            Err(e) => err(e),
        },
        (m @ ("POST" | "DELETE"), ["permissions", env, "grants"]) => {
            let change = body_json().and_then(parse::<crate::permissions::GrantChange>);
            match change.and_then(|g| c.change_grant(env, &g, m == "POST")) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => err(e),
            }
        }
        (m @ ("POST" | "DELETE"), ["permissions", env, "members"]) => {
            let change = body_json().and_then(parse::<crate::permissions::MemberChange>);
            match change.and_then(|g| c.change_member(env, &g, m == "POST")) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => err(e),
            }
        }
        ("GET", ["webhooks", "subscriptions"]) => {
            axum::Json(c.webhook_subscriptions()).into_response()
        }
        ("POST", ["webhooks", "clock"]) => match body_json().and_then(parse::<Advance>) {
            Ok(a) => {
                let by = a.advance_ms.map_or_else(
                    || Duration::from_secs_f64(a.advance_secs.unwrap_or(0.0).max(0.0)),
                    Duration::from_millis,
                );
                c.advance_clock(by);
                axum::Json(json!({
                    "now": crate::value::dt_string(sh.clock.now_ms()),
                    "offset_ms": sh.clock.offset_ms(),
                }))
                .into_response()
            }
            Err(e) => err(e),
        },
        ("PUT", ["webhooks", "delay"]) => match body_json().and_then(parse::<Delay>) {
            Ok(d) => {
                c.set_webhook_delay(Duration::from_millis(d.ms));
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => err(e),
        },
        ("POST", ["webhooks", "unreachable"]) => match body_json().and_then(parse::<Unreachable>) {
            Ok(u) => {
                c.set_unreachable(u);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => err(e),
        },
        ("DELETE", ["webhooks", "unreachable"]) => {
            c.clear_unreachable();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["webhooks", "flush"]) => axum::Json(c.flush_webhooks().await).into_response(),
        ("DELETE", ["counts"]) => {
            c.reset_counts();
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": format!("no control route {method} {path}")})),
        )
            .into_response(),
    }
}
