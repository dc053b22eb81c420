//! The versioned schema and its migrations.
//!
//! `PRAGMA user_version` holds the version of the file: 0 for a new file,
//! otherwise the `version` of the last [`Migration`] applied. Steps are
//! append-only history: a released step is never edited, a change is a new
//! step, so every older file reaches the same schema.

use std::path::Path;

use crate::db::{Conn, DbError};

use crate::error::StateError;

/// One step of schema history.
#[derive(Debug)]
pub struct Migration {
    /// The version a file has after this step.
    pub version: u32,
    /// Why the step exists.
    pub description: &'static str,
    /// The statements, run as one batch inside the migration transaction.
    pub sql: &'static str,
}

/// Every step, oldest first; `MIGRATIONS[i].version == i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "units with cursors, acknowledged documents, run history",
        sql: "
            CREATE TABLE units (
                unit               TEXT PRIMARY KEY,  -- env/company/entity
                environment        TEXT NOT NULL,
                company_id         TEXT NOT NULL,
                entity             TEXT NOT NULL,
                cursor             TEXT,              -- RFC 3339 lastModifiedDateTime
                last_reconciled_at TEXT,
                updated_at         TEXT NOT NULL
            ) WITHOUT ROWID;

            -- AUTOINCREMENT so that a run id is never reused, not even after
            -- reset: ids appear in logs and Q sync job correlation.
            CREATE TABLE runs (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                started_at TEXT NOT NULL,
                ended_at   TEXT,
                outcome    TEXT NOT NULL
                           CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
                mode       TEXT NOT NULL,
                added      INTEGER NOT NULL DEFAULT 0,
                updated    INTEGER NOT NULL DEFAULT 0,
                deleted    INTEGER NOT NULL DEFAULT 0,
                unchanged  INTEGER NOT NULL DEFAULT 0,
                failed     INTEGER NOT NULL DEFAULT 0
            );

            -- WITHOUT ROWID: the hash lookup by doc_id is the hot path and
            -- reads the row straight from the primary key b-tree.
            CREATE TABLE documents (
                doc_id       TEXT PRIMARY KEY CHECK (length(doc_id) > 0),
                unit         TEXT NOT NULL REFERENCES units (unit),
                bc_id        TEXT NOT NULL,
                content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),
                pushed_at    TEXT NOT NULL,
                run_id       INTEGER REFERENCES runs (id) ON DELETE SET NULL
            ) WITHOUT ROWID;
            CREATE INDEX documents_by_unit ON documents (unit);
        ",
    },
    Migration {
        version: 2,
        description: "per-document failures of a run, and the Q sync job id of each run \
                      (to match a run with ListDataSourceSyncJobs)",
        sql: "
            ALTER TABLE runs ADD COLUMN sync_job_id TEXT;

            CREATE TABLE failures (
                id     INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                doc_id TEXT NOT NULL,
                reason TEXT NOT NULL,
                at     TEXT NOT NULL
            );
            CREATE INDEX failures_by_run ON failures (run_id);
        ",
    },
    Migration {
        version: 3,
        description: "company names per environment, so that a run with nothing to do \
                      makes one BC request per company and entity",
        sql: "
            CREATE TABLE companies (
                environment TEXT NOT NULL,
                company_id  TEXT NOT NULL,
                name        TEXT NOT NULL,
                seen_at     TEXT NOT NULL,
                PRIMARY KEY (environment, company_id)
            ) WITHOUT ROWID;
        ",
    },
    Migration {
        version: 4,
        description: "a fingerprint of the settings that shape a unit's documents (access \
                      rules, files), so that changing them re-reads and re-pushes the unit",
        sql: "
            ALTER TABLE units ADD COLUMN settings TEXT;
        ",
    },
    Migration {
        version: 5,
        description: "the groups bcq has set in Q (PutGroup), so that a group removed from \
                      the configuration is deleted from Q too",
        sql: "
            CREATE TABLE groups (
                name           TEXT PRIMARY KEY,
                data_source_id TEXT,              -- NULL for INDEX membership
                put_at         TEXT NOT NULL
            ) WITHOUT ROWID;
        ",
    },
    Migration {
        version: 6,
        description: "BC webhook subscriptions bcq created (with their clientState secret), \
                      and the notifications BC sent, kept until the run that handles them \
                      has acknowledged their documents",
        sql: "
            CREATE TABLE subscriptions (
                subscription_id TEXT PRIMARY KEY,
                unit            TEXT NOT NULL,     -- env/company/entity
                environment     TEXT NOT NULL,
                company_id      TEXT NOT NULL,
                entity          TEXT NOT NULL,
                api_root        TEXT NOT NULL,     -- where subscriptions('<id>') lives
                resource        TEXT NOT NULL,
                notification_url TEXT NOT NULL,
                client_state    TEXT NOT NULL,
                etag            TEXT,
                expires_at      TEXT NOT NULL,
                created_at      TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX subscriptions_by_unit ON subscriptions (unit);

            CREATE TABLE notifications (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at TEXT NOT NULL,
                environment TEXT NOT NULL,
                company_id  TEXT NOT NULL,
                entity      TEXT NOT NULL,
                change      TEXT NOT NULL
                            CHECK (change IN ('created', 'updated', 'deleted', 'collection')),
                bc_id       TEXT                   -- NULL for collection
            );
        ",
    },
    Migration {
        version: 7,
        description: "replicas: leases (units, a process's liveness, BC request slots, the \
                      destination run's turn), the destination run replicas share, BC \
                      requests of the current window, and which process ran each run",
        sql: "
            CREATE TABLE leases (
                name       TEXT PRIMARY KEY,       -- unit:env/company/entity, replica:<id>, ...
                holder     TEXT NOT NULL,          -- the process (replica id)
                expires_at INTEGER NOT NULL        -- epoch milliseconds
            ) WITHOUT ROWID;
            CREATE INDEX leases_by_holder ON leases (holder);
            CREATE TABLE shared_run (
                id              INTEGER PRIMARY KEY CHECK (id = 1),
                destination_run TEXT NOT NULL,     -- the Q sync job replicas write into
                opened_at       INTEGER NOT NULL   -- epoch milliseconds
            );
            CREATE TABLE bc_requests (
                environment TEXT NOT NULL,
                at          INTEGER NOT NULL       -- epoch milliseconds
            );
            CREATE INDEX bc_requests_by_time ON bc_requests (environment, at);
            ALTER TABLE runs ADD COLUMN holder TEXT;
        ",
    },
];

/// The newest schema version this code knows.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// PostgreSQL's steps, with the same version numbers as SQLite's: a new
/// database goes straight to the version of the first step here (6, the
/// schema SQLite reached through steps 1 to 6), and every later change
/// is a step in both lists. Types are PostgreSQL's (BIGINT, BYTEA,
/// identity ids that, like SQLite's AUTOINCREMENT, are never reused);
/// keys compare byte-wise (`COLLATE "C"`), as in SQLite, so listings come
/// back in the same order from both. Columns are in SQLite's order, so a
/// table copies between the two as it is.
pub const PG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 6,
        description: "the schema of SQLite's version 6, in PostgreSQL",
        sql: r#"
        CREATE TABLE units (
            unit               TEXT COLLATE "C" PRIMARY KEY,
            environment        TEXT NOT NULL,
            company_id         TEXT NOT NULL,
            entity             TEXT NOT NULL,
            cursor             TEXT,
            last_reconciled_at TEXT,
            updated_at         TEXT NOT NULL,
            settings           TEXT
        );
        CREATE TABLE runs (
            id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            started_at  TEXT NOT NULL,
            ended_at    TEXT,
            outcome     TEXT NOT NULL
                        CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
            mode        TEXT NOT NULL,
            added       BIGINT NOT NULL DEFAULT 0,
            updated     BIGINT NOT NULL DEFAULT 0,
            deleted     BIGINT NOT NULL DEFAULT 0,
            unchanged   BIGINT NOT NULL DEFAULT 0,
            failed      BIGINT NOT NULL DEFAULT 0,
            sync_job_id TEXT
        );
        CREATE TABLE documents (
            doc_id       TEXT COLLATE "C" PRIMARY KEY CHECK (length(doc_id) > 0),
            unit         TEXT COLLATE "C" NOT NULL REFERENCES units (unit),
            bc_id        TEXT NOT NULL,
            content_hash BYTEA NOT NULL CHECK (length(content_hash) = 32),
            pushed_at    TEXT NOT NULL,
            run_id       BIGINT REFERENCES runs (id) ON DELETE SET NULL
        );
        CREATE INDEX documents_by_unit ON documents (unit, doc_id);
        CREATE TABLE failures (
            id     BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            at     TEXT NOT NULL
        );
        CREATE INDEX failures_by_run ON failures (run_id);
        CREATE TABLE companies (
            environment TEXT COLLATE "C" NOT NULL,
            company_id  TEXT COLLATE "C" NOT NULL,
            name        TEXT NOT NULL,
            seen_at     TEXT NOT NULL,
            PRIMARY KEY (environment, company_id)
        );
        CREATE TABLE groups (
            name           TEXT COLLATE "C" PRIMARY KEY,
            data_source_id TEXT,
            put_at         TEXT NOT NULL
        );
        CREATE TABLE subscriptions (
            subscription_id  TEXT COLLATE "C" PRIMARY KEY,
            unit             TEXT COLLATE "C" NOT NULL,
            environment      TEXT NOT NULL,
            company_id       TEXT NOT NULL,
            entity           TEXT NOT NULL,
            api_root         TEXT NOT NULL,
            resource         TEXT NOT NULL,
            notification_url TEXT NOT NULL,
            client_state     TEXT NOT NULL,
            etag             TEXT,
            expires_at       TEXT NOT NULL,
            created_at       TEXT NOT NULL
        );
        CREATE INDEX subscriptions_by_unit ON subscriptions (unit);
        CREATE TABLE notifications (
            id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            received_at TEXT NOT NULL,
            environment TEXT NOT NULL,
            company_id  TEXT NOT NULL,
            entity      TEXT NOT NULL,
            change      TEXT NOT NULL
                        CHECK (change IN ('created', 'updated', 'deleted', 'collection')),
            bc_id       TEXT
        );
    "#,
    },
    Migration {
        version: 7,
        description: "replicas: leases, the shared destination run, BC requests of the window, run holders",
        sql: r#"
        CREATE TABLE leases (
            name       TEXT COLLATE "C" PRIMARY KEY,
            holder     TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        );
        CREATE INDEX leases_by_holder ON leases (holder);
        CREATE TABLE shared_run (
            id              BIGINT PRIMARY KEY CHECK (id = 1),
            destination_run TEXT NOT NULL,
            opened_at       BIGINT NOT NULL
        );
        CREATE TABLE bc_requests (
            environment TEXT NOT NULL,
            at          BIGINT NOT NULL
        );
        CREATE INDEX bc_requests_by_time ON bc_requests (environment, at);
        ALTER TABLE runs ADD COLUMN holder TEXT;
    "#,
    },
];

/// The tables, parents first: the order to copy them in.
pub(crate) const TABLES: &[&str] = &[
    "units",
    "runs",
    "documents",
    "failures",
    "companies",
    "groups",
    "subscriptions",
    "notifications",
];

/// The steps of `conn`'s backend.
fn steps(conn: &Conn) -> &'static [Migration] {
    match conn {
        Conn::Sqlite(_) => MIGRATIONS,
        Conn::Postgres(_) => PG_MIGRATIONS,
    }
}

/// Reads the stored version: SQLite's `PRAGMA user_version`, PostgreSQL's
/// `bcq_schema` table (0 if the database has none yet).
pub(crate) fn version(conn: &Conn) -> Result<u32, DbError> {
    let v = match conn {
        Conn::Sqlite(_) => conn
            .query_opt("PRAGMA user_version", &[])?
            .map(|r| r.int(0))
            .transpose()?,
        Conn::Postgres(_) => {
            let exists = conn
                .query_opt("SELECT to_regclass('bcq_schema') IS NOT NULL", &[])?
                .map(|r| r.int(0))
                .transpose()?;
            if exists == Some(1) {
                conn.query_opt("SELECT max(version) FROM bcq_schema", &[])?
                    .map(|r| r.opt_int(0))
                    .transpose()?
                    .flatten()
            } else {
                None
            }
        }
    };
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX))
}

/// Refuses a store newer than this code, before anything writes to it.
pub(crate) fn check_not_newer(conn: &Conn, path: &Path) -> Result<u32, StateError> {
    let found = version(conn).map_err(|source| StateError::Open {
        path: path.to_owned(),
        source,
    })?;
    if found > CURRENT_VERSION {
        return Err(StateError::SchemaTooNew {
            path: path.to_owned(),
            found,
            known: CURRENT_VERSION,
        });
    }
    Ok(found)
}

/// Brings the store to [`CURRENT_VERSION`] in one transaction; returns the
/// version it had before.
///
/// The version is re-read inside the transaction, which excludes other
/// writers first (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction
/// advisory lock), so two processes opening the same old store cannot both
/// migrate it: the second waits for the first and then finds nothing to do.
pub(crate) fn migrate(conn: &Conn, path: &Path) -> Result<u32, StateError> {
    let open_err = |source| StateError::Open {
        path: path.to_owned(),
        source,
    };
    conn.write(open_err, |tx| {
        if let Conn::Postgres(_) = tx {
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('bcq migrate ' || current_schema(), 0))",
                &[],
            )
            .map_err(open_err)?;
        }
        let from = check_not_newer(tx, path)?;
        for step in steps(tx).iter().filter(|m| m.version > from) {
            let migrate_err = |source| StateError::Migrate {
                path: path.to_owned(),
                from,
                to: step.version,
                source,
            };
            tx.batch(step.sql).map_err(migrate_err)?;
            let record = match tx {
                Conn::Sqlite(_) => format!("PRAGMA user_version = {}", step.version),
                Conn::Postgres(_) => format!(
                    "CREATE TABLE IF NOT EXISTS bcq_schema (version BIGINT NOT NULL); \
                     DELETE FROM bcq_schema; INSERT INTO bcq_schema VALUES ({})",
                    step.version
                ),
            };
            tx.batch(&record).map_err(migrate_err)?;
            tracing::debug!(
                path = %path.display(),
                version = step.version,
                description = step.description,
                "state schema migrated"
            );
        }
        Ok(from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "step {i} has version {}",
                m.version
            );
        }
        assert_eq!(Some(CURRENT_VERSION), MIGRATIONS.last().map(|m| m.version));
        // PostgreSQL's list follows the same numbering and ends at the same version.
        for pair in PG_MIGRATIONS.windows(2) {
            assert_eq!(pair[1].version, pair[0].version + 1);
        }
        assert_eq!(
            Some(CURRENT_VERSION),
            PG_MIGRATIONS.last().map(|m| m.version)
        );
    }

    #[test]
    fn failed_step_rolls_back_every_step() {
        let conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        // A table that v1 wants to create makes step 1 fail after nothing
        // else was applied; the version must stay 0 and no table may remain.
        conn.batch("CREATE TABLE runs (x INTEGER)").unwrap();
        let err = migrate(&conn, Path::new(":memory:")).unwrap_err();
        assert!(
            matches!(err, StateError::Migrate { from: 0, to: 1, .. }),
            "{err:?}"
        );
        assert_eq!(version(&conn).unwrap(), 0);
        let tables = conn
            .query(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('units', 'documents')",
                &[],
            )
            .unwrap()[0]
            .int(0)
            .unwrap();
        assert_eq!(tables, 0);
    }
}
