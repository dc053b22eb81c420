//! The `subscriptions` and `notifications` tables of `bcq serve`.
//!
//! A subscription is recorded when BC created it, with the random
//! `clientState` that every notification of it must carry. A notification
//! is recorded before BC's POST is answered, so that a crash after the
//! answer loses nothing, and forgotten only after the run that handled it
//! acknowledged its documents (at least once, as everything else here).

use super::StateStore;
use crate::db::vals;
use crate::error::StateError;
use crate::model::UnitKey;
use crate::time;
use chrono::{DateTime, Utc};

/// A BC webhook subscription bcq created.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscription {
    /// BC's `subscriptionId`.
    pub id: String,
    /// The unit it tells about.
    pub unit: UnitKey,
    /// The API root its `subscriptions('<id>')` lives under.
    pub api_root: String,
    /// The `resource` it was created for.
    pub resource: String,
    /// Where BC sends its notifications.
    pub notification_url: String,
    /// The secret every notification must carry (never logged).
    pub client_state: String,
    /// The `@odata.etag` for `If-Match`.
    pub etag: Option<String>,
    /// When BC deletes it unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("unit", &self.unit.to_string())
            .field("resource", &self.resource)
            .field("notification_url", &self.notification_url)
            .field("client_state", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a notification says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// A record was created.
    Created,
    /// A record was changed.
    Updated,
    /// A record was deleted.
    Deleted,
    /// Many records changed (more than BC notifies one by one).
    Collection,
}

impl Change {
    /// BC's `changeType` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
            Change::Collection => "collection",
        }
    }

    /// Parses BC's `changeType` (case-insensitive).
    pub fn parse(s: &str) -> Option<Change> {
        match s.to_ascii_lowercase().as_str() {
            "created" => Some(Change::Created),
            "updated" => Some(Change::Updated),
            "deleted" => Some(Change::Deleted),
            "collection" => Some(Change::Collection),
            _ => None,
        }
    }
}

/// A notification waiting to be handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Its row id (set by the store; 0 before it is recorded).
    pub id: i64,
    /// The unit it is about.
    pub unit: UnitKey,
    /// What happened.
    pub change: Change,
    /// The record's id (lowercase GUID); `None` for `collection`.
    pub bc_id: Option<String>,
}

impl StateStore {
    /// Records (or replaces) a subscription.
    pub fn put_subscription(&mut self, s: &Subscription) -> Result<(), StateError> {
        let now = self.now_text();
        self.conn
            .execute(
                "INSERT INTO subscriptions (subscription_id, unit, environment, company_id, entity,
                     api_root, resource, notification_url, client_state, etag, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (subscription_id) DO UPDATE SET etag = excluded.etag,
                     expires_at = excluded.expires_at, client_state = excluded.client_state,
                     notification_url = excluded.notification_url",
                vals![
                    &s.id,
                    s.unit.to_string(),
                    &s.unit.environment,
                    &s.unit.company_id,
                    &s.unit.entity,
                    &s.api_root,
                    &s.resource,
                    &s.notification_url,
                    &s.client_state,
                    &s.etag,
                    time::encode(s.expires_at),
                    now
                ],
            )
            .map(drop)
            .map_err(self.sql_err(format!("record subscription {}", s.id)))
    }

    /// Every subscription bcq created and has not deleted, by unit.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, StateError> {
        let err = self.sql_err("read the webhook subscriptions");
        let rows: Vec<[Option<String>; 10]> = self
            .conn
            .query(
                "SELECT subscription_id, environment, company_id, entity, api_root, resource,
                        notification_url, client_state, etag, expires_at
                 FROM subscriptions ORDER BY unit, subscription_id",
                &[],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        let mut cols: [Option<String>; 10] = Default::default();
                        for (i, col) in cols.iter_mut().enumerate() {
                            *col = r.opt_text(i)?;
                        }
                        Ok(cols)
                    })
                    .collect()
            })
            .map_err(err)?;
        rows.into_iter()
            .map(
                |[
                    id,
                    env,
                    company,
                    entity,
                    root,
                    resource,
                    url,
                    state,
                    etag,
                    expires,
                ]| {
                    let id = id.unwrap_or_default();
                    let expires_at = self.decode_time(expires.as_deref().unwrap_or(""), || {
                        format!("the expiry of subscription {id}")
                    })?;
                    Ok(Subscription {
                        unit: UnitKey::new(
                            env.unwrap_or_default(),
                            company.unwrap_or_default(),
                            entity.unwrap_or_default(),
                        ),
                        api_root: root.unwrap_or_default(),
                        resource: resource.unwrap_or_default(),
                        notification_url: url.unwrap_or_default(),
                        client_state: state.unwrap_or_default(),
                        etag,
                        expires_at,
                        id,
                    })
                },
            )
            .collect()
    }

    /// Forgets a subscription (deleted in BC, or by BC).
    pub fn forget_subscription(&mut self, id: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM subscriptions WHERE subscription_id = ?1",
                vals![id],
            )
            .map(drop)
            .map_err(self.sql_err(format!("forget subscription {id}")))
    }

    /// Records notifications in one transaction; after it returns they
    /// survive a crash.
    pub fn record_notifications(&mut self, items: &[Notification]) -> Result<(), StateError> {
        let err = self.sql_err(format!("record {} notifications", items.len()));
        let now = self.now_text();
        self.write(&err, |tx| {
            for n in items {
                tx.execute(
                    "INSERT INTO notifications (received_at, environment, company_id, entity, change, bc_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    vals![
                        &now,
                        &n.unit.environment,
                        &n.unit.company_id,
                        &n.unit.entity,
                        n.change.as_str(),
                        &n.bc_id
                    ],
                )
                .map_err(&err)?;
            }
            Ok(())
        })
    }

    /// The notifications not yet handled, oldest first.
    pub fn pending_notifications(&self) -> Result<Vec<Notification>, StateError> {
        let err = self.sql_err("read the pending notifications");
        let rows: Vec<(i64, String, String, String, String, Option<String>)> = self
            .conn
            .query(
                "SELECT id, environment, company_id, entity, change, bc_id
                 FROM notifications ORDER BY id",
                &[],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.int(0)?,
                            r.text(1)?,
                            r.text(2)?,
                            r.text(3)?,
                            r.text(4)?,
                            r.opt_text(5)?,
                        ))
                    })
                    .collect()
            })
            .map_err(err)?;
        rows.into_iter()
            .map(|(id, env, company, entity, change, bc_id)| {
                let change = Change::parse(&change).ok_or_else(|| StateError::Corrupt {
                    path: self.path.clone(),
                    what: format!("notification {id}"),
                    detail: format!("{change:?} is not a change type"),
                })?;
                Ok(Notification {
                    id,
                    unit: UnitKey::new(env, company, entity),
                    change,
                    bc_id,
                })
            })
            .collect()
    }

    /// When the oldest pending notification was received.
    pub fn oldest_notification(&self) -> Result<Option<DateTime<Utc>>, StateError> {
        let t = self
            .conn
            .query_opt("SELECT min(received_at) FROM notifications", &[])
            .and_then(|row| row.map(|r| r.opt_text(0)).transpose())
            .map_err(self.sql_err("read the oldest notification"))?
            .flatten();
        self.decode_opt_time(t, || "the oldest notification".into())
    }

    /// Forgets handled notifications.
    pub fn forget_notifications(&mut self, ids: &[i64]) -> Result<(), StateError> {
        let err = self.sql_err(format!("forget {} handled notifications", ids.len()));
        self.write(&err, |tx| {
            for id in ids {
                tx.execute("DELETE FROM notifications WHERE id = ?1", vals![id])
                    .map_err(&err)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(id: &str, entity: &str) -> Subscription {
        Subscription {
            id: id.into(),
            unit: UnitKey::new("production", "c1", entity),
            api_root: "http://bc/api/v2.0".into(),
            resource: format!("companies(c1)/{entity}"),
            notification_url: "https://bcq.example/webhooks/bc".into(),
            client_state: "s3cret-state".into(),
            etag: Some("W/\"1\"".into()),
            expires_at: "2026-12-06T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn subscriptions_are_recorded_renewed_and_forgotten() {
        let mut s = StateStore::open_in_memory().unwrap();
        s.put_subscription(&sub("a", "customers")).unwrap();
        s.put_subscription(&sub("b", "vendors")).unwrap();
        let mut renewed = sub("a", "customers");
        renewed.etag = Some("W/\"2\"".into());
        renewed.expires_at = "2026-12-09T10:00:00Z".parse().unwrap();
        s.put_subscription(&renewed).unwrap();
        assert_eq!(
            s.subscriptions().unwrap(),
            vec![renewed.clone(), sub("b", "vendors")]
        );
        assert_eq!(s.subscriptions().unwrap()[0], renewed);
        s.forget_subscription("a").unwrap();
        assert_eq!(s.subscriptions().unwrap(), vec![sub("b", "vendors")]);
        assert!(!format!("{:?}", sub("b", "vendors")).contains("s3cret"));
    }

    #[test]
    fn notifications_wait_until_forgotten_and_reset_clears_them() {
        let mut s = StateStore::open_in_memory().unwrap();
        let n = |change, bc_id: Option<&str>| Notification {
            id: 0,
            unit: UnitKey::new("production", "c1", "customers"),
            change,
            bc_id: bc_id.map(str::to_string),
        };
        assert_eq!(s.oldest_notification().unwrap(), None);
        s.record_notifications(&[n(Change::Updated, Some("x")), n(Change::Collection, None)])
            .unwrap();
        s.record_notifications(&[n(Change::Deleted, Some("y"))])
            .unwrap();
        let pending = s.pending_notifications().unwrap();
        assert_eq!(
            pending
                .iter()
                .map(|p| (p.change, p.bc_id.clone()))
                .collect::<Vec<_>>(),
            vec![
                (Change::Updated, Some("x".into())),
                (Change::Collection, None),
                (Change::Deleted, Some("y".into()))
            ]
        );
        assert!(s.oldest_notification().unwrap().is_some());
        s.forget_notifications(&[pending[0].id, pending[1].id])
            .unwrap();
        assert_eq!(s.pending_notifications().unwrap().len(), 1);
        s.reset().unwrap();
        assert!(s.pending_notifications().unwrap().is_empty());
    }

    #[test]
    fn change_types_parse_as_bc_writes_them() {
        for c in [
            Change::Created,
            Change::Updated,
            Change::Deleted,
            Change::Collection,
        ] {
            assert_eq!(Change::parse(c.as_str()), Some(c));
        }
        assert_eq!(Change::parse("Updated"), Some(Change::Updated));
        assert_eq!(Change::parse("renamed"), None);
    }
}
