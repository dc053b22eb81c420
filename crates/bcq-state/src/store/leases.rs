//! What replicas sharing one store coordinate through: leases (a unit being
//! synced, a process being alive, a BC request in flight, the turn to open
//! or close the destination run), the destination run they share, and the
//! BC requests of the current window.
//!
//! A lease is a row `(name, holder, expires_at)`: taken when absent,
//! expired or already the holder's, in one statement (an upsert whose
//! update applies only then), so two processes never both get it. A live
//! holder renews its leases ([`StateStore::renew_leases`]); a dead one's
//! expire and are taken over. Times are the database's clock on
//! PostgreSQL (replicas on different hosts agree on it) and the system
//! clock on SQLite (one host).

use std::time::Duration;

use super::StateStore;
use crate::db::{Conn, vals};
use crate::error::StateError;

/// A live lease, for `bcq status` and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// What is leased (`unit:env/company/entity`, `replica:<id>`, ...).
    pub name: String,
    /// The process holding it.
    pub holder: String,
    /// Milliseconds until it expires, unless renewed.
    pub expires_in_ms: i64,
}

/// The destination run replicas write into, once one of them opened it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedRun {
    /// Its id (a Q sync job's execution id).
    pub destination_run: String,
    /// When it was opened, epoch milliseconds.
    pub opened_at_ms: i64,
}

/// The answer to a request for a BC request slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BcSlot {
    /// Granted: the in-flight slot's lease name, to give back when the
    /// request ended ([`StateStore::give_back_bc_slot`]).
    Granted(String),
    /// Not now: the window's requests or the in-flight slots are used up;
    /// try again after this long.
    Wait(Duration),
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl StateStore {
    /// "Now" in epoch milliseconds: PostgreSQL's clock, or this host's.
    pub fn db_now_ms(&self) -> Result<i64, StateError> {
        Self::now_ms_on(&self.conn).map_err(self.sql_err("read the clock"))
    }

    fn now_ms_on(conn: &Conn) -> Result<i64, crate::db::DbError> {
        match conn {
            Conn::Postgres(_) => conn
                .query_opt(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                    &[],
                )?
                .map_or(Ok(0), |r| r.int(0)),
            Conn::Sqlite(_) => Ok(chrono::Utc::now().timestamp_millis()),
        }
    }

    /// Takes (or renews) the lease `name` for `holder` for `ttl`: `true`
    /// if it is now `holder`'s, `false` if another live holder has it.
    pub fn try_lease(
        &mut self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let err = self.sql_err(format!("lease {name}"));
        let now = self.db_now_ms()?;
        let changed = self
            .conn
            .execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
                vals![name, holder, now.saturating_add(ms(ttl)), now],
            )
            .map_err(err)?;
        Ok(changed > 0)
    }

    /// Sets the lease `name` to `holder` for `ttl` from now, whoever held
    /// it: for time stamps that any process may move (a unit "synced
    /// moments ago"), not for what one process must hold alone.
    pub fn set_lease(&mut self, name: &str, holder: &str, ttl: Duration) -> Result<(), StateError> {
        let err = self.sql_err(format!("set {name}"));
        let now = self.db_now_ms()?;
        self.conn
            .execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                vals![name, holder, now.saturating_add(ms(ttl))],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Extends every lease `holder` has by `ttl` from now; returns how
    /// many it still has (a lease that expired and was taken over is not
    /// its own any more).
    pub fn renew_leases(&mut self, holder: &str, ttl: Duration) -> Result<u64, StateError> {
        let now = self.db_now_ms()?;
        self.conn
            .execute(
                "UPDATE leases SET expires_at = ?2 WHERE holder = ?1",
                vals![holder, now.saturating_add(ms(ttl))],
            )
            .map_err(self.sql_err("renew leases"))
    }

    /// Gives the lease `name` back, if `holder` has it.
    pub fn release_lease(&mut self, name: &str, holder: &str) -> Result<bool, StateError> {
        self.conn
            .execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                vals![name, holder],
            )
            .map(|n| n > 0)
            .map_err(self.sql_err(format!("release the lease {name}")))
    }

    /// Gives back every lease `holder` has (a process that ends).
    pub fn release_leases_of(&mut self, holder: &str) -> Result<u64, StateError> {
        self.conn
            .execute("DELETE FROM leases WHERE holder = ?1", vals![holder])
            .map_err(self.sql_err("release leases"))
    }

    /// The live leases whose name starts with `prefix`, by name.
    pub fn live_leases(&self, prefix: &str) -> Result<Vec<Lease>, StateError> {
        let err = self.sql_err("list leases");
        let now = self.db_now_ms()?;
        let rows = self
            .conn
            .query(
                "SELECT name, holder, expires_at FROM leases \
                 WHERE substr(name, 1, length(?1)) = ?1 AND expires_at > ?2 ORDER BY name",
                vals![prefix, now],
            )
            .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(Lease {
                    name: r.text(0)?,
                    holder: r.text(1)?,
                    expires_in_ms: r.int(2)? - now,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(err)
    }

    /// The destination run replicas share, if one is recorded.
    pub fn shared_run(&self) -> Result<Option<SharedRun>, StateError> {
        let err = self.sql_err("read the shared destination run");
        let row = self
            .conn
            .query_opt(
                "SELECT destination_run, opened_at FROM shared_run WHERE id = 1",
                &[],
            )
            .map_err(&err)?;
        row.map(|r| {
            Ok(SharedRun {
                destination_run: r.text(0)?,
                opened_at_ms: r.int(1)?,
            })
        })
        .transpose()
        .map_err(err)
    }

    /// Records the destination run replicas share (opened now).
    pub fn set_shared_run(&mut self, destination_run: &str) -> Result<SharedRun, StateError> {
        let now = self.db_now_ms()?;
        self.conn
            .execute(
                "INSERT INTO shared_run (id, destination_run, opened_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET destination_run = excluded.destination_run, \
                 opened_at = excluded.opened_at",
                vals![destination_run, now],
            )
            .map_err(self.sql_err("record the shared destination run"))?;
        Ok(SharedRun {
            destination_run: destination_run.to_string(),
            opened_at_ms: now,
        })
    }

    /// Forgets the shared destination run, if it is still `destination_run`
    /// (it was closed).
    pub fn clear_shared_run(&mut self, destination_run: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM shared_run WHERE id = 1 AND destination_run = ?1",
                vals![destination_run],
            )
            .map(drop)
            .map_err(self.sql_err("forget the shared destination run"))
    }

    /// Takes one BC request of `environment`'s shared budget: at most
    /// `limit` requests in any `window` and `max_in_flight` at once, counted
    /// over every process of this store. Granted: an in-flight slot leased
    /// to `holder` for `slot_ttl` (a dead process's slots expire), to give
    /// back when the request ends.
    pub fn take_bc_slot(
        &mut self,
        environment: &str,
        holder: &str,
        limit: u32,
        window: Duration,
        max_in_flight: usize,
        slot_ttl: Duration,
    ) -> Result<BcSlot, StateError> {
        let err = self.sql_err(format!("take a BC request of {environment}'s budget"));
        static SLOTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SLOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot_name = format!("bc:{environment}:{holder}:{n}");
        let prefix = format!("bc:{environment}:");
        self.conn.write(&err, |tx| {
            if let Conn::Postgres(_) = tx {
                // One taker per environment at a time, across processes.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(?1 || current_schema(), 0))",
                    vals![format!("bcq budget {environment}")],
                )
                .map_err(&err)?;
            }
            let now = Self::now_ms_on(tx).map_err(&err)?;
            let since = now - ms(window);
            tx.execute(
                "DELETE FROM bc_requests WHERE environment = ?1 AND at <= ?2",
                vals![environment, since],
            )
            .map_err(&err)?;
            let used = tx
                .query_opt(
                    "SELECT count(*), min(at) FROM bc_requests WHERE environment = ?1",
                    vals![environment],
                )
                .map_err(&err)?;
            if let Some(r) = used {
                let (n, oldest) = (r.count(0).map_err(&err)?, r.opt_int(1).map_err(&err)?);
                if n >= u64::from(limit) {
                    let wait = oldest.map_or(1_000, |o| (o - since).max(1));
                    return Ok(BcSlot::Wait(Duration::from_millis(wait as u64)));
                }
            }
            let in_flight = tx
                .query_opt(
                    "SELECT count(*) FROM leases WHERE substr(name, 1, length(?1)) = ?1 AND expires_at > ?2",
                    vals![prefix, now],
                )
                .map_err(&err)?
                .map_or(Ok(0), |r| r.count(0))
                .map_err(&err)?;
            if in_flight >= max_in_flight as u64 {
                return Ok(BcSlot::Wait(Duration::from_millis(20)));
            }
            tx.execute(
                "INSERT INTO bc_requests (environment, at) VALUES (?1, ?2)",
                vals![environment, now],
            )
            .map_err(&err)?;
            tx.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)",
                vals![slot_name.as_str(), holder, now.saturating_add(ms(slot_ttl))],
            )
            .map_err(&err)?;
            Ok(BcSlot::Granted(slot_name.clone()))
        })
    }

    /// Gives an in-flight BC slot back (the request ended).
    pub fn give_back_bc_slot(&mut self, slot: &str) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM leases WHERE name = ?1", vals![slot])
            .map(drop)
            .map_err(self.sql_err("give back a BC request slot"))
    }

    /// BC requests of `environment` in the last `window`, over every
    /// process of this store.
    pub fn bc_requests_in_window(
        &self,
        environment: &str,
        window: Duration,
    ) -> Result<u64, StateError> {
        let err = self.sql_err("count BC requests");
        let now = self.db_now_ms()?;
        self.conn
            .query_opt(
                "SELECT count(*) FROM bc_requests WHERE environment = ?1 AND at > ?2",
                vals![environment, now - ms(window)],
            )
            .map_err(&err)?
            .map_or(Ok(0), |r| r.count(0))
            .map_err(err)
    }
}
