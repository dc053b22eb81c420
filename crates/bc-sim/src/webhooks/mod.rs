//! BC's webhooks: subscriptions (`{api root}/subscriptions`), the list of
//! resources that take them (`api/microsoft/runtime/beta/companies({id})/webhookSupportedResources`),
//! and the notifications BC POSTs to subscribers after records change.
//!
//! # What BC does, and where it is written
//! Sources: Microsoft Learn, "Working with webhooks in Dynamics 365 Business
//! Central" (`dev-itpro/api-reference/v2.0/dynamics-subscriptions.md`) and the
//! create/get/update/delete pages beside it; the REST API guidelines it points
//! to (§ "Push notifications via webhooks"); BC's own AL code, codeunits 6153
//! "API Webhook Notification Mgt." and 6154 "API Webhook Notification Send" and
//! page 5460 "Webhook Supported Resources"; the real `$metadata`.
//!
//! - Handshake: on create and on every renewal BC POSTs to
//!   `notificationUrl?validationToken=<token>` (`&` when the URL has a query),
//!   with an empty body and, when given, a `ClientState` header; the
//!   subscriber must answer 200 with the token as the body within 5 s, or
//!   nothing is created/renewed (guidelines; docs; docs issue #264 confirms POST).
//! - The subscription entity has the `$metadata` fields in that order:
//!   `subscriptionId` (string, ≤ 150; 32 hex digits as in the docs' sample),
//!   `notificationUrl`, `resource` (as given: relative or absolute),
//!   `timestamp`, `userId`, `lastModifiedDateTime`, `clientState` (≤ 2048),
//!   `expirationDateTime`, `systemCreatedAt/By`, `systemModifiedAt/By`, plus
//!   `@odata.etag`. It is addressed `subscriptions('<id>')`: the quotes are
//!   required (docs issue #1927). Create answers 201, PATCH 200, DELETE 204.
//! - PATCH and DELETE need `If-Match` (docs; issue #2195: "if you don't use
//!   this, you can't delete your subscription"); BC's OData layer answers a
//!   missing token 400 `BadRequest_InvalidToken` and a stale one 409
//!   `Request_EntityChanged`, and accepts `*` (BC error-code list; platform
//!   analysis of `PageDataProvider`).
//! - A subscription lives 3 days; PATCH renews it (handshake again, expiry =
//!   now + 3 days). BC deletes expired subscriptions and sends them nothing.
//! - At most 200 subscriptions per environment (brief; the on-premises
//!   setting `ApiSubscriptionMaxNumberOfSubscriptions`).
//! - Custom API pages are subscribed at their own root
//!   (`api/<publisher>/<group>/<version>/subscriptions`) with a resource under
//!   that same root (docs; issue #2915: anything else "does not exist").
//! - Supported resources (page 5460): API pages whose source table is not
//!   temporary, not a system table, not Job Queue Entry, with a single key;
//!   listed as `{"resource":"v2.0/customers"}` or
//!   `"<publisher>/<group>/<version>/<set>"`, key = the resource; POST and
//!   PATCH there are 405, DELETE 400 (BC's test codeunit 135546).
//! - Notifications (codeunits 6153/6154): each insert/modify/delete of a
//!   subscribed table registers a notification stamped with the current time;
//!   the first one of a window schedules a job `webhook_delay` (30 s) later;
//!   the job sends, per notification URL, ONE `POST` with
//!   `{"value":[{subscriptionId, clientState, expirationDateTime, resource,
//!   changeType, lastModifiedDateTime}, ...]}` (`Content-Type` and `Accept`
//!   `application/json`, `clientRequestId` and `x-ms-correlation-id` headers,
//!   no BOM). `resource` is the subscription's resource + `(<id>)`. Repeated
//!   updates of one record merge into one `updated` (latest time); created,
//!   updated and deleted otherwise stay separate, in time order. More than
//!   1,000 in a window turn into one `collection` notification whose resource
//!   is the subscription's resource + `?$filter=lastModifiedDateTime%20gt%20<first change − 50 ms>`,
//!   or the bare resource when the window holds a deletion.
//! - A change to a document line notifies its header (`updated`).
//! - Answers: 2xx delivered; 408, 429, 5xx or no answer (connection failure,
//!   timeout) → retried: attempts 1–5 wait 60 s, 60 s, 600 s, 6,000 s,
//!   60,000 s (each followed by the job delay), and a 6th failure deletes the
//!   subscription; any other status deletes every subscription of that URL
//!   at once, without retry. (The docs say "several retries over 36 hours";
//!   the code's schedule is followed.) A job sends what is pending, so a new
//!   change during a back-off brings the retry forward, as in BC.
//!
//! # Choices where BC documents nothing
//! - Errors (400 unless said): handshake failed → `BadRequest` "The
//!   subscription could not be validated: ..." naming why; resource not
//!   supported, unknown, or under another API root → `BadRequest_ResourceNotFound`
//!   "The resource '…' does not exist or does not support webhooks.";
//!   201st subscription → `BadRequest` "The maximum number of subscriptions
//!   (200) has been reached."; unknown id → 404 `Internal_RecordNotFound`;
//!   `clientState` too long → `Application_StringExceededLength`; missing
//!   field or malformed body → `BadRequest`; unknown property →
//!   `BadRequest` "Could not find a property named ...". The limit is checked
//!   before the handshake, so a refused create sends nothing.
//! - Read-only properties in a body (`subscriptionId`, `userId`, dates) are
//!   ignored; the server sets them. A resource may be relative
//!   (`companies(<id>)/customers`, `api/v2.0/...`, `/api/v2.0/...`) or an
//!   absolute URL of the same environment; it must end at the entity set
//!   (no key, no query). `http` notification URLs are accepted (loopback).
//! - Which served sets take subscriptions: page 5460's rule applied to the
//!   source tables of the APIV2 pages (microsoft/ALAppExtensions,
//!   `Apps/W1/APIV2/app/src/pages/`): every top-level set the emulator serves
//!   except `documentAttachments` (temporary "Attachment Entity Buffer"); so
//!   also sets the docs' short list leaves out (`purchaseOrders`, `contacts`,
//!   `projects`, `salesShipments`, ...). The custom page counts as a page on
//!   a normal table. Lines, `pdfDocument` and `companies` (a system table) do not.
//! - Changes come from the store ([`crate::store::Change`]): every control-API
//!   create, update, delete, line edit, bulk touch and attachment upload.
//! - Every subscriptions root of an environment lists all its subscriptions.
//!   Query options on `subscriptions` are ignored.
//! - `userId`/`systemCreatedBy`/`systemModifiedBy`: a GUID derived from the
//!   calling app's id. `timestamp`: a row version that grows on every write.
//! - The handshake answer must be exactly the token (surrounding whitespace
//!   ignored); its content type is not checked. The token is a random GUID.
//! - Jobs run per company, so one company's changes never share a POST with
//!   another's. Only subscriptions created after a change hear of it.
//! - The emulator's clock ([`crate::clock::Clock`]) drives record times,
//!   expiry and the schedule; `POST /_sim/webhooks/clock` moves it forward,
//!   which makes due jobs run and expired subscriptions disappear.
//!   `POST /_sim/webhooks/flush` runs every job at once (retries as if due).
//!
//! # Configuration ([`crate::SimConfig`], BC's values by default)
//! `webhook_delay` 30 s (also `PUT /_sim/webhooks/delay`), `webhook_lifetime`
//! 3 days, `webhook_handshake_timeout` 5 s, `webhook_send_timeout` 30 s,
//! `webhook_retry_delays` 60 s, 60 s, 600 s, 6,000 s, 60,000 s,
//! `webhook_max_subscriptions` 200, `webhook_max_notifications` 1,000.

pub mod api;
mod delivery;
mod window;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::server::Env;
use crate::store::Change;
use crate::value::dt_string;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;
use window::Window;

/// Webhook counters, part of `GET /_sim/counts`.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct WebhookCounts {
    /// Validation handshakes sent (create and renewal).
    pub handshakes: u64,
    /// Handshakes not answered with the token in time.
    pub handshakes_failed: u64,
    /// Subscriptions created.
    pub subscriptions_created: u64,
    /// Subscriptions renewed (PATCH).
    pub subscriptions_renewed: u64,
    /// Notification POSTs answered 2xx.
    pub notifications_sent: u64,
    /// Entries (`value` items) in the POSTs answered 2xx.
    pub notification_entries_sent: u64,
    /// Notification POSTs that failed and will be retried.
    pub notifications_retried: u64,
    /// Notification POSTs that failed for good (rejected, or retries used up).
    pub notifications_failed: u64,
    /// Subscriptions BC deleted because their URL rejected a notification or
    /// never took it.
    pub subscriptions_deleted: u64,
    /// Subscriptions removed because they expired.
    pub subscriptions_expired: u64,
}

/// A notification URL made unreachable by the control API: every request
/// to a URL starting with `url_prefix` fails, with `status` or, without one,
/// as a refused connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unreachable {
    /// Applies to notification URLs starting with this.
    pub url_prefix: String,
    /// The status answered instead of the subscriber (none: connection refused).
    #[serde(default)]
    pub status: Option<u16>,
}

/// What one run of the pending jobs did (`POST /_sim/webhooks/flush`).
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct FlushReport {
    /// Notification POSTs attempted.
    pub posts: u64,
    /// Of them, answered 2xx.
    pub delivered: u64,
    /// Of them, failed and to be retried.
    pub retried: u64,
    /// Of them, failed for good (their subscriptions are deleted).
    pub failed: u64,
}

/// A subscription as the control API lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubscriptionInfo {
    /// `subscriptionId`.
    pub subscription_id: String,
    /// Environment name.
    pub environment: String,
    /// Company id.
    pub company_id: Uuid,
    /// Entity set (the custom page's own name for the custom API).
    pub entity_set: String,
    /// `resource` as given.
    pub resource: String,
    /// `notificationUrl`.
    pub notification_url: String,
    /// `clientState`.
    pub client_state: String,
    /// `expirationDateTime`.
    pub expiration_date_time: String,
    /// Changes waiting for the next job (a `collection` counts as one).
    pub pending: usize,
    /// Whether the waiting changes have become one `collection`.
    pub collection: bool,
    /// Failed deliveries in a row.
    pub failed_attempts: u32,
    /// When the next retry is due, if one is.
    pub next_retry: Option<String>,
}

/// One subscription and its delivery state.
#[derive(Debug, Clone)]
struct Subscription {
    id: String,
    env: u8,
    company: u8,
    /// Store set name (`customApi` for the custom page).
    set: &'static str,
    /// Entity set name as served.
    set_name: String,
    notification_url: String,
    resource: String,
    client_state: String,
    user_id: Uuid,
    created_ms: i64,
    modified_ms: i64,
    expires_ms: i64,
    version: u64,
    /// Changes of the current window.
    window: Window,
    /// Changes being sent right now.
    in_flight: Option<Window>,
    failed_attempts: u32,
    retry_due_ms: Option<i64>,
}

impl Subscription {
    fn etag(&self) -> String {
        crate::value::etag(&self.uuid(), self.version)
    }

    fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.id).unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    /// By subscriptionId (BC sends in that order).
    subs: BTreeMap<String, Subscription>,
    /// Due times of the jobs of each (environment, company), emulator ms.
    jobs: BTreeMap<(u8, u8), BTreeSet<i64>>,
    /// Row versions (`timestamp`).
    next_version: u64,
}

impl State {
    /// BC's ScheduleJob: a job due within `[earliest, earliest + delay]`
    /// takes the change; otherwise a new one is due at `earliest + delay`.
    fn schedule(&mut self, key: (u8, u8), earliest: i64, delay: i64) {
        let jobs = self.jobs.entry(key).or_default();
        if jobs.range(earliest..=earliest + delay).next().is_none() {
            jobs.insert(earliest + delay);
        }
    }
}

/// Webhook state of one emulator: subscriptions, pending notifications,
/// jobs, the HTTP client that calls subscribers, and counters.
#[derive(Debug)]
pub struct Webhooks {
    clock: Arc<Clock>,
    delay_ms: AtomicI64,
    lifetime_ms: i64,
    handshake_timeout: Duration,
    send_timeout: Duration,
    retry_delays_ms: Vec<i64>,
    max_subscriptions: usize,
    max_notifications: usize,
    state: Mutex<State>,
    /// Number of subscriptions: record changes skip all work while it is 0.
    live: AtomicUsize,
    wake: tokio::sync::Notify,
    /// One job run at a time (the dispatcher and flushes).
    job_lock: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    counts: Mutex<WebhookCounts>,
    unreachable: Mutex<Vec<Unreachable>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Webhooks {
    /// Webhook state for `cfg`, on `clock`.
    pub fn new(cfg: &SimConfig, clock: Arc<Clock>) -> Webhooks {
        Webhooks {
            clock,
            delay_ms: AtomicI64::new(ms(cfg.webhook_delay)),
            lifetime_ms: ms(cfg.webhook_lifetime),
            handshake_timeout: cfg.webhook_handshake_timeout,
            send_timeout: cfg.webhook_send_timeout,
            retry_delays_ms: cfg.webhook_retry_delays.iter().copied().map(ms).collect(),
            max_subscriptions: cfg.webhook_max_subscriptions,
            max_notifications: cfg.webhook_max_notifications.max(1),
            state: Mutex::default(),
            live: AtomicUsize::new(0),
            wake: tokio::sync::Notify::new(),
            job_lock: tokio::sync::Mutex::new(()),
            // Subscribers listen on loopback: a proxy from the environment
            // must not stand between.
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
            counts: Mutex::default(),
            unreachable: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut WebhookCounts)) {
        f(&mut self.counts.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The store's listener: queues `c` for every live subscription whose
    /// resource covers it and schedules the company's job.
    pub fn record(&self, c: &Change) {
        if self.live.load(Ordering::SeqCst) == 0 {
            return;
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        let mut st = self.lock();
        let mut hit = false;
        for s in st.subs.values_mut() {
            if s.env == c.env && s.company == c.company && s.set == c.set && s.expires_ms > c.at_ms
            {
                s.window.add(c.id, c.kind, c.at_ms, self.max_notifications);
                hit = true;
            }
        }
        if hit {
            st.schedule((c.env, c.company), c.at_ms, delay);
            drop(st);
            self.wake.notify_one();
        }
    }

    /// Removes expired subscriptions (BC deletes them; they send nothing).
    fn purge_expired(&self, st: &mut State) {
        let now = self.clock.now_ms();
        let before = st.subs.len();
        st.subs.retain(|_, s| s.expires_ms > now);
        let gone = (before - st.subs.len()) as u64;
        if gone > 0 {
            self.live.store(st.subs.len(), Ordering::SeqCst);
            self.count(|c| c.subscriptions_expired += gone);
        }
    }

    /// Live subscriptions, for the control API.
    pub fn list(&self, envs: &[Env]) -> Vec<SubscriptionInfo> {
        let mut st = self.lock();
        self.purge_expired(&mut st);
        st.subs
            .values()
            .map(|s| {
                let env = envs.get(s.env as usize);
                SubscriptionInfo {
                    subscription_id: s.id.clone(),
                    environment: env.map(|e| e.name.clone()).unwrap_or_default(),
                    company_id: env
                        .and_then(|e| e.companies.get(s.company as usize).copied())
                        .unwrap_or_default(),
                    entity_set: s.set_name.clone(),
                    resource: s.resource.clone(),
                    notification_url: s.notification_url.clone(),
                    client_state: s.client_state.clone(),
                    expiration_date_time: dt_string(s.expires_ms),
                    pending: s.window.len(),
                    collection: s.window.is_collection(),
                    failed_attempts: s.failed_attempts,
                    next_retry: s.retry_due_ms.map(dt_string),
                }
            })
            .collect()
    }

    /// Moves the emulator's clock forward: expired subscriptions go, due
    /// jobs run.
    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(ms(by));
        let mut st = self.lock();
        self.purge_expired(&mut st);
        drop(st);
        self.wake.notify_one();
    }

    /// Sets the wait between the first change of a window and its job.
    pub fn set_delay(&self, d: Duration) {
        self.delay_ms.store(ms(d), Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Makes notification URLs starting with `u.url_prefix` unreachable
    /// (replacing an earlier rule for the same prefix).
    pub fn set_unreachable(&self, u: Unreachable) {
        let mut v = self.unreachable.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|x| x.url_prefix != u.url_prefix);
        v.push(u);
    }

    /// Makes every notification URL reachable again.
    pub fn clear_unreachable(&self) {
        self.unreachable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The counters.
    pub fn counts(&self) -> WebhookCounts {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resets the counters.
    pub fn reset_counts(&self) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = WebhookCounts::default();
    }

    /// Runs every pending job now, due or not (retries count as due), and
    /// waits for the POSTs.
    pub async fn flush(&self) -> FlushReport {
        self.run_jobs(true).await
    }

    /// Runs due jobs as they fall due, forever: the emulator's background
    /// task (aborted by [`crate::BcSim::stop`]).
    pub async fn run(self: Arc<Self>) {
        loop {
            let woken = self.wake.notified();
            let wait = self.next_due().map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis((t - self.clock.now_ms()).max(0) as u64)
            });
            if wait.is_zero() {
                self.run_jobs(false).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => { self.run_jobs(false).await; }
                _ = woken => {}
            }
        }
    }

    fn next_due(&self) -> Option<i64> {
        self.lock()
            .jobs
            .values()
            .filter_map(|j| j.first().copied())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChangeKind;

    fn wh() -> Webhooks {
        Webhooks::new(&SimConfig::default(), Arc::new(Clock::default()))
    }

    fn sub(w: &Webhooks, id: &str, set: &'static str, url: &str) {
        let now = w.clock.now_ms();
        let mut st = w.lock();
        st.subs.insert(
            id.into(),
            Subscription {
                id: id.into(),
                env: 0,
                company: 0,
                set,
                set_name: set.into(),
                notification_url: url.into(),
                resource: format!("companies(x)/{set}"),
                client_state: String::new(),
                user_id: Uuid::nil(),
                created_ms: now,
                modified_ms: now,
                expires_ms: now + w.lifetime_ms,
                version: 1,
                window: Window::default(),
                in_flight: None,
                failed_attempts: 0,
                retry_due_ms: None,
            },
        );
        w.live.store(st.subs.len(), Ordering::SeqCst);
    }

    fn change(set: &'static str, n: u128, at_ms: i64) -> Change {
        Change {
            env: 0,
            company: 0,
            set,
            id: Uuid::from_u128(n),
            kind: ChangeKind::Updated,
            at_ms,
        }
    }

    #[test]
    fn changes_reach_only_matching_subscriptions_and_one_job_per_window() {
        let w = wh();
        sub(&w, "a", "customers", "http://x/a");
        sub(&w, "b", "vendors", "http://x/b");
        let t = w.clock.now_ms();
        w.record(&change("customers", 1, t));
        w.record(&change("customers", 2, t + 10));
        w.record(&change("items", 3, t + 20));
        let st = w.lock();
        assert_eq!(st.subs["a"].window.len(), 2);
        assert_eq!(st.subs["b"].window.len(), 0);
        // One job, due 30 s after the first change of the window.
        assert_eq!(
            st.jobs[&(0, 0)].iter().copied().collect::<Vec<_>>(),
            vec![t + 30_000]
        );
    }

    #[test]
    fn a_change_after_the_window_schedules_a_new_job() {
        let w = wh();
        sub(&w, "a", "customers", "http://x/a");
        let t = w.clock.now_ms();
        w.record(&change("customers", 1, t));
        w.record(&change("customers", 1, t + 40_000));
        let st = w.lock();
        assert_eq!(st.jobs[&(0, 0)].len(), 2);
    }

    #[test]
    fn expired_subscriptions_are_purged_and_counted() {
        let w = wh();
        sub(&w, "a", "customers", "http://x/a");
        w.advance_clock(Duration::from_secs(3 * 86_400 + 1));
        assert!(w.list(&[]).is_empty());
        assert_eq!(w.counts().subscriptions_expired, 1);
        // Changes to an expired subscription's set cost nothing and queue nothing.
        w.record(&change("customers", 1, w.clock.now_ms()));
        assert!(w.lock().jobs.is_empty());
    }
}
