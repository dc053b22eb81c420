//! BC's webhooks for `bcq serve`: keeping one subscription per (company,
//! entity) that BC supports, and taking the notifications BC posts.
//!
//! # Subscriptions
//! Each maintenance pass (at start, then with every poll) lists the
//! environment's subscriptions (one request) and:
//! - forgets those BC deleted (expired, or BC gave up delivering) and
//!   creates them again;
//! - deletes those at bcq's notification URL that bcq does not know (a
//!   create whose answer was lost) and those of units no longer configured
//!   (or all of them when `BCQ_PUBLIC_URL` is unset);
//! - creates the missing ones, each with its own random `clientState`,
//!   while the environment has room (BC allows 200 subscriptions per
//!   environment, all apps together): units past that, and entities BC
//!   does not list in `webhookSupportedResources`, are polled;
//! - renews (PATCH with `If-Match`) those expiring within a day (BC's
//!   lifetime is three days), re-creating one BC no longer has.
//!
//! # Notifications
//! Every entry is checked against the subscription it names: its
//! `clientState` must be the one bcq created it with (compared in constant
//! time) and its resource must be under the subscription's. What passes is
//! recorded in the state store **before** BC gets its answer, so a crash
//! after answering loses nothing. The answer is 202 even for entries that
//! fail the check: BC deletes every subscription of a URL that answers a
//! non-retryable error, so a 4xx would let one odd entry (or a state store
//! that was reset) cost every unit its webhooks. A forged or stale entry
//! changes nothing, is logged and counted in
//! `bcq_notifications_rejected_total`. Only a failure to record answers
//! 503, which BC retries.

use super::Shared;
use crate::plan;
use bcq_bc::{BcClient, BcSubscription};
use bcq_core::engine::Unit;
use bcq_state::{Change, Notification, Subscription};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap, HashSet};

/// BC's limit of subscriptions per environment.
pub const MAX_PER_ENVIRONMENT: usize = 200;

/// Renew a subscription when it expires sooner than this.
pub const RENEW_WITHIN: chrono::Duration = chrono::Duration::days(1);

/// The path BC posts to, under `BCQ_PUBLIC_URL`.
pub const PATH: &str = "/webhooks/bc";

/// What a maintenance pass found and did.
#[derive(Debug, Default)]
pub struct Maintenance {
    /// Units with a live subscription.
    pub subscribed: Vec<String>,
    /// Units polled only, with why.
    pub polled: Vec<(String, String)>,
    /// Created, renewed, re-created, deleted.
    pub created: usize,
    /// Renewed.
    pub renewed: usize,
    /// Deleted (orphans and units no longer configured).
    pub deleted: usize,
    /// What failed (the units go on being polled).
    pub errors: Vec<String>,
    /// Another replica was keeping the subscriptions: this pass left
    /// them to it.
    pub elsewhere: bool,
}

/// The notification URL for `public`.
pub fn notification_url(public: &url::Url) -> String {
    format!("{}{PATH}", public.as_str().trim_end_matches('/'))
}

/// A fresh `clientState`: 32 random bytes, hex.
fn new_client_state() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The resource as `webhookSupportedResources` names it: `v2.0/customers`
/// or `<publisher>/<group>/<version>/<set>`.
fn supported_name(unit: &Unit) -> String {
    let rel = unit
        .api_root
        .rsplit_once("/api/")
        .map(|(_, r)| r)
        .unwrap_or("v2.0");
    format!("{rel}/{}", unit.spec.entity_set)
}

/// The subscription resource of a unit, relative to its API root.
fn resource_of(unit: &Unit) -> String {
    format!(
        "companies({})/{}",
        unit.key.company_id, unit.spec.entity_set
    )
}

impl Shared {
    fn lock_store(&self) -> std::sync::MutexGuard<'_, bcq_state::StateStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One maintenance pass over every environment (see the module doc).
    pub async fn maintain_subscriptions(&self) -> anyhow::Result<Maintenance> {
        let mut out = Maintenance::default();
        // Replicas (state in PostgreSQL) keep the subscriptions one at a
        // time: two passes at once could both create a unit's subscription.
        let mut store = bcq_state::StateStore::open_at(&self.cfg.sync.state)?;
        const LEASE: &str = "webhook-subscriptions";
        let replica = crate::replicas::replica_id();
        // Held at most 5 minutes by a replica that died in the middle.
        let hold = self.cfg.sync.lease.max(std::time::Duration::from_secs(300));
        if store.is_postgres() && !store.try_lease(LEASE, replica, hold)? {
            out.elsewhere = true;
            return Ok(out);
        }
        let r = self.maintain_all(&mut store, out).await;
        if store.is_postgres() {
            let _ = store.release_lease(LEASE, replica);
        }
        r
    }

    async fn maintain_all(
        &self,
        store: &mut bcq_state::StateStore,
        mut out: Maintenance,
    ) -> anyhow::Result<Maintenance> {
        let targets = {
            // plan::resolve may list companies (and remember them).
            let targets = plan::resolve(&self.cfg, Some(&mut *store)).await?;
            let units = plan::units(&self.cfg, &targets, store, false)?;
            (targets, units)
        };
        let (targets, units) = targets;
        let url = self.cfg.serve.public_url.as_ref().map(notification_url);
        for t in &targets {
            let env = t.environment.to_ascii_lowercase();
            let env_units: Vec<&Unit> = units.iter().filter(|u| u.key.environment == env).collect();
            if let Err(e) = self
                .maintain_environment(&t.client, &env, &env_units, url.as_deref(), &mut out)
                .await
            {
                out.errors.push(format!(
                    "webhooks of environment '{}': {e:#}",
                    t.environment
                ));
                for u in &env_units {
                    if !out.subscribed.contains(&u.key.to_string()) {
                        out.polled.push((
                            u.key.to_string(),
                            "the subscriptions could not be kept".into(),
                        ));
                    }
                }
            }
        }
        let subs = self.lock_store().subscriptions()?;
        self.metrics.subscriptions.set(subs.len() as i64);
        self.metrics.subscription_expiry.clear();
        for s in &subs {
            self.metrics
                .subscription_expiry
                .get_or_create(&super::metrics::UnitLabel {
                    unit: s.unit.to_string(),
                })
                .set((s.expires_at - Utc::now()).num_milliseconds() as f64 / 1000.0);
        }
        for (by, n) in [
            ("webhook", out.subscribed.len()),
            ("polled", out.polled.len()),
        ] {
            self.metrics
                .units
                .get_or_create(&super::metrics::Freshness { by: by.into() })
                .set(n as i64);
        }
        Ok(out)
    }

    async fn maintain_environment(
        &self,
        client: &BcClient,
        env: &str,
        units: &[&Unit],
        url: Option<&str>,
        out: &mut Maintenance,
    ) -> anyhow::Result<()> {
        let (listed, bc_now) = client.subscriptions(client.api_root()).await?;
        let ours: Vec<Subscription> = self
            .lock_store()
            .subscriptions()?
            .into_iter()
            .filter(|s| s.unit.environment == env)
            .collect();
        let listed_ids: HashSet<&str> = listed.iter().map(|s| s.subscription_id.as_str()).collect();
        let our_ids: HashSet<String> = ours.iter().map(|s| s.id.clone()).collect();
        // Gone from BC: forgotten here, created again below.
        let mut live: BTreeMap<String, Subscription> = BTreeMap::new();
        for s in ours {
            if listed_ids.contains(s.id.as_str()) {
                live.insert(s.unit.to_string(), s);
            } else {
                tracing::warn!(unit = %s.unit, subscription = %s.id, "business central no longer has this subscription (expired, or it gave up delivering); creating it again");
                self.lock_store().forget_subscription(&s.id)?;
            }
        }
        // Ours in BC that the store does not know: a create whose answer
        // was lost, or a state store that was replaced.
        let mut others = 0usize;
        for b in &listed {
            if our_ids.contains(&b.subscription_id) {
                continue;
            }
            if url.is_some_and(|u| b.notification_url == u) {
                self.delete(client, client.api_root(), b).await?;
                out.deleted += 1;
            } else {
                others += 1;
            }
        }
        // Which units get a subscription: supported ones, in unit order,
        // while the environment has room.
        let mut supported: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut wanted: Vec<&Unit> = Vec::new();
        if url.is_some() {
            let room = MAX_PER_ENVIRONMENT.saturating_sub(others);
            for u in units {
                let company = u.key.company_id.clone();
                if !supported.contains_key(&company) {
                    let list = self.supported(client, &company).await?;
                    supported.insert(company.clone(), list);
                }
                let name = supported_name(u);
                if !supported[&company]
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&name))
                {
                    out.polled.push((
                        u.key.to_string(),
                        format!("business central takes no webhook subscription for {name}"),
                    ));
                } else if wanted.len() >= room {
                    out.polled.push((
                        u.key.to_string(),
                        format!(
                            "the environment's {MAX_PER_ENVIRONMENT} subscriptions are taken ({others} by other apps)"
                        ),
                    ));
                } else {
                    wanted.push(u);
                }
            }
        } else {
            for u in units {
                out.polled
                    .push((u.key.to_string(), "BCQ_PUBLIC_URL is not set".into()));
            }
        }
        let wanted_keys: HashSet<String> = wanted.iter().map(|u| u.key.to_string()).collect();
        // Units no longer configured (or no room any more): deleted.
        for (key, s) in std::mem::take(&mut live) {
            if wanted_keys.contains(&key) && url.is_some_and(|u| s.notification_url == u) {
                live.insert(key, s);
                continue;
            }
            let b = listed.iter().find(|b| b.subscription_id == s.id);
            if let Some(b) = b {
                self.delete(client, &s.api_root, b).await?;
            }
            self.lock_store().forget_subscription(&s.id)?;
            out.deleted += 1;
        }
        let Some(url) = url else {
            return Ok(());
        };
        // Expiry is on BC's clock.
        let now = bc_now.unwrap_or_else(Utc::now);
        for u in wanted {
            let key = u.key.to_string();
            match live.get(&key) {
                Some(s) if s.expires_at - now > RENEW_WITHIN => {}
                Some(s) => match self
                    .renew(client, s, listed.iter().find(|b| b.subscription_id == s.id))
                    .await
                {
                    Ok(()) => out.renewed += 1,
                    Err(e) if e.status() == Some(404) => {
                        self.lock_store().forget_subscription(&s.id)?;
                        self.create(client, u, url).await?;
                        out.created += 1;
                    }
                    Err(e) => {
                        out.errors
                            .push(format!("renewing the subscription of {key}: {e}"));
                    }
                },
                None => match self.create(client, u, url).await {
                    Ok(()) => out.created += 1,
                    Err(e) => {
                        out.errors.push(format!("subscribing to {key}: {e:#}"));
                        out.polled.push((key, format!("subscribing failed: {e}")));
                        continue;
                    }
                },
            }
            out.subscribed.push(u.key.to_string());
        }
        Ok(())
    }

    async fn supported(&self, client: &BcClient, company: &str) -> anyhow::Result<Vec<String>> {
        if let Some(v) = self
            .supported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(company)
        {
            return Ok(v.clone());
        }
        let v = client.webhook_supported_resources(company).await?;
        self.supported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(company.to_string(), v.clone());
        Ok(v)
    }

    async fn create(&self, client: &BcClient, u: &Unit, url: &str) -> anyhow::Result<()> {
        let client_state = new_client_state();
        let resource = resource_of(u);
        let b = client
            .create_subscription(&u.api_root, url, &resource, &client_state)
            .await?;
        tracing::info!(unit = %u.key, subscription = %b.subscription_id, expires = %b.expiration_date_time, "subscribed to business central's webhooks");
        self.lock_store().put_subscription(&Subscription {
            id: b.subscription_id,
            unit: u.key.clone(),
            api_root: u.api_root.clone(),
            resource,
            notification_url: url.to_string(),
            client_state,
            etag: b.etag,
            expires_at: b.expiration_date_time,
        })?;
        Ok(())
    }

    async fn renew(
        &self,
        client: &BcClient,
        s: &Subscription,
        listed: Option<&BcSubscription>,
    ) -> Result<(), bcq_bc::BcError> {
        // The listed tag is the current one (a renewal elsewhere changes it).
        let etag = listed
            .and_then(|b| b.etag.clone())
            .or_else(|| s.etag.clone())
            .unwrap_or_else(|| "*".into());
        let b = client
            .renew_subscription(
                &s.api_root,
                &s.id,
                &etag,
                &s.notification_url,
                &s.resource,
                &s.client_state,
            )
            .await?;
        tracing::info!(unit = %s.unit, subscription = %s.id, expires = %b.expiration_date_time, "renewed the webhook subscription");
        let mut renewed = s.clone();
        renewed.etag = b.etag;
        renewed.expires_at = b.expiration_date_time;
        self.lock_store()
            .put_subscription(&renewed)
            .map_err(|e| bcq_bc::BcError::InvalidConfig {
                setting: "state store",
                reason: e.to_string(),
            })
    }

    async fn delete(
        &self,
        client: &BcClient,
        root: &str,
        b: &BcSubscription,
    ) -> anyhow::Result<()> {
        match client
            .delete_subscription(root, &b.subscription_id, b.etag.as_deref())
            .await
        {
            Ok(()) => {
                tracing::info!(subscription = %b.subscription_id, resource = %b.resource, "deleted a webhook subscription bcq no longer needs");
                Ok(())
            }
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes one POST of notifications: checks each entry, records those
    /// that pass, and says how many were taken and refused. `Err` only when
    /// recording failed (BC is then asked to retry).
    pub fn take_notifications(&self, body: &[u8]) -> Result<(usize, usize), bcq_state::StateError> {
        let reject = |reason: &str| {
            self.metrics
                .notifications_rejected
                .get_or_create(&super::metrics::Reason {
                    reason: reason.into(),
                })
                .inc();
        };
        let entries = match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(mut o)) => match o.remove("value") {
                Some(serde_json::Value::Array(a)) => a,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        if entries.is_empty() {
            tracing::warn!(
                bytes = body.len(),
                "a notification POST without entries (not business central's format); ignored"
            );
            reject("malformed");
            return Ok((0, 1));
        }
        // One read of the subscriptions per POST, not one per entry (BC
        // sends up to 1,000 entries in a POST).
        let subs: HashMap<String, Subscription> = self
            .lock_store()
            .subscriptions()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut taken = Vec::new();
        let mut refused = 0;
        for e in &entries {
            match check_entry(&subs, e) {
                Ok(n) => taken.push(n),
                Err((reason, why)) => {
                    refused += 1;
                    reject(reason);
                    tracing::warn!(reason, why, "notification refused; nothing changed");
                }
            }
        }
        if !taken.is_empty() {
            self.lock_store().record_notifications(&taken)?;
            self.metrics
                .notifications_received
                .inc_by(taken.len() as u64);
            self.wake.notify_one();
        }
        Ok((taken.len(), refused))
    }
}

/// Checks one entry of a POST against the subscriptions bcq holds.
fn check_entry(
    subs: &HashMap<String, Subscription>,
    e: &serde_json::Value,
) -> Result<Notification, (&'static str, String)> {
    let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let id = field("subscriptionId");
    let sub = subs.get(id).cloned().ok_or_else(|| {
        (
            "unknown_subscription",
            format!("subscription {id:?} is not one bcq holds"),
        )
    })?;
    if !same_secret(field("clientState"), &sub.client_state) {
        return Err((
            "client_state",
            format!("the clientState of subscription {id} does not match"),
        ));
    }
    let change = Change::parse(field("changeType")).ok_or_else(|| {
        (
            "malformed",
            format!("changeType {:?} is not one BC sends", field("changeType")),
        )
    })?;
    let resource = field("resource");
    if !resource_under(resource, &sub.resource) {
        return Err((
            "resource",
            format!(
                "resource {resource:?} is not under the subscription's {:?}",
                sub.resource
            ),
        ));
    }
    let bc_id = match change {
        Change::Collection => None,
        _ => Some(
            record_id(resource)
                .ok_or_else(|| ("resource", format!("resource {resource:?} names no record")))?,
        ),
    };
    Ok(Notification {
        id: 0,
        unit: sub.unit,
        change,
        bc_id,
    })
}

/// Whether a notification's resource is the subscription's (plus a key or
/// a query), whether BC wrote it relative or absolute.
fn resource_under(resource: &str, sub: &str) -> bool {
    let norm = |s: &str| s.trim_start_matches('/').to_ascii_lowercase();
    let (r, s) = (norm(resource), norm(sub));
    match r.find(&s) {
        Some(i) => {
            let rest = &r[i + s.len()..];
            rest.is_empty() || rest.starts_with('(') || rest.starts_with('?')
        }
        None => false,
    }
}

/// The record id at the end of `.../customers(<id>)`, lowercase.
fn record_id(resource: &str) -> Option<String> {
    let inner = resource.strip_suffix(')')?;
    let id = &inner[inner.rfind('(')? + 1..];
    let id = id.trim_matches('\'');
    (!id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| id.to_ascii_lowercase())
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The units a set of notifications touches, and the records deleted.
pub fn plan_of(
    pending: &[Notification],
) -> (
    std::collections::BTreeSet<String>,
    BTreeMap<String, Vec<String>>,
) {
    let mut units = std::collections::BTreeSet::new();
    let mut deleted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in pending {
        let key = n.unit.to_string();
        if n.change == Change::Deleted
            && let Some(id) = &n.bc_id
        {
            deleted.entry(key.clone()).or_default().push(id.clone());
        }
        units.insert(key);
    }
    (units, deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_come_from_the_resource_key() {
        assert_eq!(
            record_id("companies(c1)/customers(5D115C9C-44E3-EA11-BB43-000D3A2FEEF7)").as_deref(),
            Some("5d115c9c-44e3-ea11-bb43-000d3a2feef7")
        );
        assert_eq!(record_id("companies(c1)/customers"), None);
        assert_eq!(record_id("companies(c1)/customers(x; drop)"), None);
    }

    #[test]
    fn a_resource_must_be_under_the_subscription() {
        let sub = "companies(c1)/customers";
        assert!(resource_under("companies(c1)/customers(abc)", sub));
        assert!(resource_under(
            "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies(c1)/customers(abc)",
            sub
        ));
        assert!(resource_under("companies(c1)/customers?$filter=x", sub));
        assert!(!resource_under("companies(c1)/customersX(abc)", sub));
        assert!(!resource_under("companies(c2)/customers(abc)", sub));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", "a"));
    }

    #[test]
    fn client_states_are_random_and_long() {
        let (a, b) = (new_client_state(), new_client_state());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
