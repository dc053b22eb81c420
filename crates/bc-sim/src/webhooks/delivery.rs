//! Calling subscribers: the validation handshake, and the jobs that send
//! each company's waiting notifications (one POST per notification URL) and
//! apply BC's answer rules: 2xx delivered; 408, 429, 5xx or no answer
//! retried on the back-off schedule; anything else deletes the URL's
//! subscriptions.

use super::window::Window;
use super::{FlushReport, Subscription, Unreachable, Webhooks};
use crate::store::ChangeKind;
use crate::value::dt_string;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use serde::Serialize;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// How a subscriber answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// An HTTP status.
    Status(u16),
    /// No answer: connection refused or reset, or too slow.
    Nothing,
}

/// What BC makes of an answer to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retry,
    Reject,
}

fn outcome(a: Answer) -> Outcome {
    match a {
        Answer::Status(s) if (200..300).contains(&s) => Outcome::Delivered,
        Answer::Status(s) if s == 408 || s == 429 || (500..600).contains(&s) => Outcome::Retry,
        Answer::Status(_) => Outcome::Reject,
        Answer::Nothing => Outcome::Retry,
    }
}

/// One `value` item of a notification, in BC's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    subscription_id: String,
    client_state: String,
    expiration_date_time: String,
    resource: String,
    change_type: &'static str,
    last_modified_date_time: String,
}

#[derive(Debug, Serialize)]
struct Payload {
    value: Vec<Entry>,
}

/// The POST of one notification URL in one company's job.
#[derive(Debug)]
struct Batch {
    key: (u8, u8),
    url: String,
    subs: Vec<String>,
    body: Vec<u8>,
    entries: u64,
}

fn change_type(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Created => "created",
        ChangeKind::Updated => "updated",
        ChangeKind::Deleted => "deleted",
    }
}

/// The notification items of one subscription's window.
fn entries(s: &Subscription, w: &Window) -> Vec<Entry> {
    let item = |resource: String, change_type: &'static str, at_ms: i64| Entry {
        subscription_id: s.id.clone(),
        client_state: s.client_state.clone(),
        expiration_date_time: dt_string(s.expires_ms),
        resource,
        change_type,
        last_modified_date_time: dt_string(at_ms),
    };
    match w.collection() {
        Some((c, filtered)) => {
            // BC reaches 50 ms back, as SQL rounds differently from AL.
            let resource = if filtered {
                format!(
                    "{}?$filter=lastModifiedDateTime%20gt%20{}",
                    s.resource,
                    dt_string(c.first_ms - 50)
                )
            } else {
                s.resource.clone()
            };
            vec![item(resource, "collection", c.last_ms)]
        }
        None => w
            .entries()
            .iter()
            .map(|e| {
                item(
                    format!("{}({})", s.resource, e.id),
                    change_type(e.kind),
                    e.at_ms,
                )
            })
            .collect(),
    }
}

impl Webhooks {
    fn blocked(&self, url: &str) -> Option<Answer> {
        let rules = self.unreachable.lock().unwrap_or_else(|e| e.into_inner());
        rules
            .iter()
            .find(|u: &&Unreachable| url.starts_with(&u.url_prefix))
            .map(|u| u.status.map_or(Answer::Nothing, Answer::Status))
    }

    /// The validation handshake; `Err` says why it failed.
    pub(super) async fn handshake(&self, url: &str, client_state: &str) -> Result<(), String> {
        self.count(|c| c.handshakes += 1);
        let r = self.try_handshake(url, client_state).await;
        if r.is_err() {
            self.count(|c| c.handshakes_failed += 1);
        }
        r
    }

    async fn try_handshake(&self, url: &str, client_state: &str) -> Result<(), String> {
        let token = Uuid::new_v4().to_string();
        let secs = self.handshake_timeout.as_secs_f64();
        let (status, body) = match self.blocked(url) {
            Some(Answer::Status(s)) => (s, String::new()),
            Some(Answer::Nothing) => return Err("the notification URL could not be reached".into()),
            None => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let mut req = self
                    .http
                    .post(format!("{url}{sep}validationToken={token}"))
                    .header(CONTENT_LENGTH, 0)
                    .body(Vec::new())
                    .timeout(self.handshake_timeout);
                if !client_state.is_empty()
                    && let Ok(v) = http::HeaderValue::from_str(client_state)
                {
                    req = req.header("ClientState", v);
                }
                let resp = req.send().await.map_err(|e| {
                    if e.is_timeout() {
                        format!("the notification URL did not answer within {secs} seconds")
                    } else {
                        "the notification URL could not be reached".to_string()
                    }
                })?;
                let status = resp.status().as_u16();
                let body = resp.text().await.map_err(|_| {
                    format!("the notification URL did not answer within {secs} seconds")
                })?;
                (status, body)
            }
        };
        if status != 200 {
            return Err(format!(
                "the notification URL answered {status} instead of 200 with the validation token"
            ));
        }
        if body.trim() != token {
            return Err("the notification URL did not return the validation token".into());
        }
        Ok(())
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Answer {
        if let Some(a) = self.blocked(url) {
            return a;
        }
        let id = Uuid::new_v4().to_string();
        let sent = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header("clientRequestId", &id)
            .header("x-ms-correlation-id", &id)
            .body(body)
            .timeout(self.send_timeout)
            .send()
            .await;
        match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(_) => Answer::Status(status),
                    Err(_) => Answer::Nothing,
                }
            }
            Err(_) => Answer::Nothing,
        }
    }

    /// Runs the jobs that are due (all of them with `force`) and applies
    /// the answers.
    pub(super) async fn run_jobs(&self, force: bool) -> FlushReport {
        let _one_at_a_time = self.job_lock.lock().await;
        let now = self.clock.now_ms();
        let mut report = FlushReport::default();
        for b in self.take_batches(now, force) {
            let answer = self.post(&b.url, b.body.clone()).await;
            report.posts += 1;
            self.settle(&b, outcome(answer), now, force, &mut report);
        }
        self.wake.notify_one();
        report
    }

    /// Moves the windows of the companies whose job is due into flight and
    /// builds one POST per (company, notification URL).
    fn take_batches(&self, now: i64, force: bool) -> Vec<Batch> {
        let mut st = self.lock();
        self.purge_expired(&mut st);
        let keys: Vec<(u8, u8)> = if force {
            let mut k: Vec<(u8, u8)> = st
                .subs
                .values()
                .filter(|s| !s.window.is_empty())
                .map(|s| (s.env, s.company))
                .chain(st.jobs.keys().copied())
                .collect();
            k.sort_unstable();
            k.dedup();
            k
        } else {
            st.jobs
                .iter()
                .filter(|(_, due)| due.first().is_some_and(|t| *t <= now))
                .map(|(k, _)| *k)
                .collect()
        };
        for k in &keys {
            if let Some(due) = st.jobs.get_mut(k) {
                due.retain(|t| !force && *t > now);
                if due.is_empty() {
                    st.jobs.remove(k);
                }
            }
        }
        // Per company, the notification URLs in subscription order, each with
        // ALL its subscriptions: a rejection deletes them all, as in BC.
        let mut groups: Vec<((u8, u8), String, Vec<String>)> = Vec::new();
        for s in st.subs.values() {
            let key = (s.env, s.company);
            if s.in_flight.is_some() || !keys.contains(&key) {
                continue;
            }
            match groups
                .iter_mut()
                .find(|(k, u, _)| *k == key && *u == s.notification_url)
            {
                Some(g) => g.2.push(s.id.clone()),
                None => groups.push((key, s.notification_url.clone(), vec![s.id.clone()])),
            }
        }
        let mut batches = Vec::with_capacity(groups.len());
        for (key, url, subs) in groups {
            if subs.iter().all(|id| st.subs[id].window.is_empty()) {
                continue;
            }
            let mut value = Vec::new();
            for id in &subs {
                if let Some(s) = st.subs.get_mut(id) {
                    let w = std::mem::take(&mut s.window);
                    value.extend(entries(s, &w));
                    s.in_flight = Some(w);
                }
            }
            let entries = value.len() as u64;
            let body = serde_json::to_vec(&Payload { value }).unwrap_or_default();
            batches.push(Batch {
                key,
                url,
                subs,
                body,
                entries,
            });
        }
        batches
    }

    /// Applies the answer to a batch's subscriptions.
    fn settle(&self, b: &Batch, o: Outcome, now: i64, force: bool, report: &mut FlushReport) {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        let mut st = self.lock();
        let mut gone: Vec<String> = Vec::new();
        let mut kept = false;
        for id in &b.subs {
            let Some(s) = st.subs.get_mut(id) else {
                continue;
            };
            let sent = s.in_flight.take().unwrap_or_default();
            if o == Outcome::Delivered {
                s.failed_attempts = 0;
                s.retry_due_ms = None;
                continue;
            }
            if o == Outcome::Reject {
                gone.push(id.clone());
                continue;
            }
            if sent.is_empty() {
                // Had nothing in this POST: nothing to retry.
                continue;
            }
            // Retry: what failed goes back in front of what came meanwhile.
            let mut w = sent;
            w.absorb(std::mem::take(&mut s.window), self.max_notifications);
            s.window = w;
            // A job run early by a newer change does not use up an attempt.
            if !(force || s.retry_due_ms.is_none_or(|d| d <= now)) {
                kept = true;
                continue;
            }
            s.failed_attempts += 1;
            match self
                .retry_delays_ms
                .get(s.failed_attempts as usize - 1)
                .copied()
            {
                Some(d) => {
                    s.retry_due_ms = Some(now + d);
                    kept = true;
                }
                None => gone.push(id.clone()),
            }
        }
        let retries: Vec<i64> = b
            .subs
            .iter()
            .filter(|id| !gone.contains(id))
            .filter_map(|id| st.subs.get(id).and_then(|s| s.retry_due_ms))
            .collect();
        for due in retries {
            st.schedule(b.key, due, delay);
        }
        for id in &gone {
            st.subs.remove(id);
        }
        self.live.store(st.subs.len(), Ordering::SeqCst);
        drop(st);
        let deleted = gone.len() as u64;
        match o {
            Outcome::Delivered => {
                report.delivered += 1;
                self.count(|c| {
                    c.notifications_sent += 1;
                    c.notification_entries_sent += b.entries;
                });
            }
            _ if kept => {
                report.retried += 1;
                self.count(|c| {
                    c.notifications_retried += 1;
                    c.subscriptions_deleted += deleted;
                });
            }
            _ => {
                report.failed += 1;
                self.count(|c| {
                    c.notifications_failed += 1;
                    c.subscriptions_deleted += deleted;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_bc_outcomes() {
        for (a, o) in [
            (Answer::Status(200), Outcome::Delivered),
            (Answer::Status(202), Outcome::Delivered),
            (Answer::Status(408), Outcome::Retry),
            (Answer::Status(429), Outcome::Retry),
            (Answer::Status(500), Outcome::Retry),
            (Answer::Status(503), Outcome::Retry),
            (Answer::Nothing, Outcome::Retry),
            (Answer::Status(400), Outcome::Reject),
            (Answer::Status(401), Outcome::Reject),
            (Answer::Status(404), Outcome::Reject),
            (Answer::Status(301), Outcome::Reject),
        ] {
            assert_eq!(outcome(a), o, "{a:?}");
        }
    }
}
