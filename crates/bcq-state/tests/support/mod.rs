//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use bcq_state::{Ack, UnitKey, content_hash};
use chrono::{DateTime, TimeZone, Utc};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bcq-state-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A unit in the shape the engine uses.
pub fn unit(entity: &str) -> UnitKey {
    UnitKey::new("production", "5d115c9c-44e3-ea11-bb43-000d3a2feca1", entity)
}

/// An ack whose hash is derived from `doc_id` and `version`, so a test can
/// recompute what must be stored.
pub fn ack(doc_id: &str, version: u32) -> Ack {
    Ack {
        doc_id: doc_id.to_owned(),
        bc_id: format!("bc-{doc_id}"),
        content_hash: hash(doc_id, version),
    }
}

pub fn hash(doc_id: &str, version: u32) -> [u8; 32] {
    content_hash(format!("{doc_id}@{version}").as_bytes())
}

/// `2024-05-01T00:00:00Z` plus `secs` seconds and `millis` milliseconds.
pub fn at(secs: i64, millis: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()
        + chrono::Duration::seconds(secs)
        + chrono::Duration::milliseconds(millis.into())
}

#[allow(unused_imports)] // each test binary uses a different subset
pub use bcq_state::testing::{PgSchema, pg_admin};

/// A backend for the conformance suite.
pub enum Backend {
    /// A fresh in-memory SQLite store per open.
    Sqlite,
    /// A PostgreSQL schema: every open reaches the same data.
    Postgres(PgSchema),
}

impl Backend {
    pub fn postgres() -> Backend {
        Backend::Postgres(PgSchema::new())
    }

    /// Two stores on the same data, as two processes have them: a SQLite
    /// file in `dir`, or the PostgreSQL schema.
    pub fn open_pair(&self, dir: &TempDir) -> (bcq_state::StateStore, bcq_state::StateStore) {
        match self {
            Backend::Sqlite => {
                let path = dir.join("state.db");
                (
                    bcq_state::StateStore::open(&path).unwrap(),
                    bcq_state::StateStore::open(&path).unwrap(),
                )
            }
            Backend::Postgres(_) => (self.open(), self.open()),
        }
    }

    pub fn open(&self) -> bcq_state::StateStore {
        match self {
            Backend::Sqlite => bcq_state::StateStore::open_in_memory().unwrap(),
            Backend::Postgres(schema) => {
                bcq_state::StateStore::open_postgres(&schema.target()).unwrap()
            }
        }
    }
}
