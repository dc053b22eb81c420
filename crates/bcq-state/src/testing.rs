//! Helpers for tests that need a real PostgreSQL: a schema of their own
//! on the server of `BCQ_TEST_PG_URL` (by default the local server's
//! `test` database with trust authentication, as on the development and
//! CI machines), dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

/// The server the PostgreSQL half of the conformance suite runs against:
/// `BCQ_TEST_PG_URL`, by default the local server's `test` database (trust
/// authentication, as on the development and CI machines).
pub fn pg_url() -> String {
    std::env::var("BCQ_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".to_owned())
}

/// Runs `sql` (one or more statements) on the test server with a
/// connection of its own, on a thread of its own (so it works inside a
/// test's runtime too); returns the first column of every row, as text.
pub fn pg_admin(sql: &str) -> Vec<Option<String>> {
    let (url, sql) = (pg_url(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {url} does not answer ({e}); start it or set BCQ_TEST_PG_URL"
                    )
                });
            let task = tokio::spawn(connection);
            let rows = client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                    _ => None,
                })
                .collect();
            drop(client);
            let _ = task.await;
            rows
        })
    })
    .join()
    .expect("the PostgreSQL statement failed")
}

/// A PostgreSQL schema of its own for one test (dropped with it), and the
/// URL that puts the store in it.
pub struct PgSchema {
    name: String,
    /// The URL that puts the state in this schema.
    pub url: String,
}

impl Default for PgSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl PgSchema {
    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates a fresh, uniquely named schema.
    pub fn new() -> PgSchema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "bcq_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        pg_admin(&format!("CREATE SCHEMA {name}"));
        let base = pg_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        PgSchema { name, url }
    }

    /// The store's target for this schema.
    pub fn target(&self) -> crate::PgTarget {
        crate::PgTarget::parse(&self.url).unwrap()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        pg_admin(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}
