//! [`Conn::Postgres`](super::Conn): the store's statements on a pooled
//! PostgreSQL connection (tokio-postgres, deadpool, rustls).
//!
//! The store's interface is synchronous (the engine holds it behind a
//! mutex, like the SQLite file), while tokio-postgres is asynchronous. The
//! connections therefore live on a small runtime of their own (one worker
//! thread, `bcq-state-pg`), and each call waits for its answer on a plain
//! channel. That works from any thread, inside or outside the caller's own
//! tokio runtime, and costs a thread hop per statement (tens of
//! microseconds; the network round trip dominates).
//!
//! Pools are shared by URL within the process, so `bcq serve`'s stores
//! (the engine's, the webhook receiver's) draw from one pool.

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Config, NoTls, config::SslMode};

use super::{DbError, Row, Value};

/// Connections per pool: a serve replica holds up to about eight at a time
/// (the engine's store, the webhook receiver's, the sync lock, the lease
/// heartbeat, the shared destination run's, one per environment for BC's
/// shared budget, the subscription maintenance pass's).
const POOL_SIZE: usize = 16;

/// How long opening a connection may take when the URL sets no
/// `connect_timeout`: an unreachable server fails the run with a clear
/// error instead of hanging it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one statement may run unless the URL says otherwise.
const STATEMENT_TIMEOUT_MS: u64 = 60_000;

/// Where the state lives in PostgreSQL: a parsed `postgres://` URL.
///
/// `sslmode` is `disable`, `prefer` (the default, as with libpq) or
/// `require`; `verify-ca` and `verify-full` are accepted and mean
/// `require`, because rustls always verifies the server's certificate and
/// name. Roots are Mozilla's (built in, so a container needs no CA bundle)
/// plus the PEM file named by `sslrootcert` (e.g. Amazon RDS's bundle).
/// `Debug` and `Display` show the URL without its password.
#[derive(Clone)]
pub struct PgTarget {
    config: Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    display: String,
    /// The whole URL: the key of the process-wide pool map.
    key: String,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgTarget").field(&self.display).finish()
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl PgTarget {
    /// Parses a `postgres://user:password@host:port/database?sslmode=...`
    /// URL. The error says what is wrong without repeating the URL (it may
    /// hold a password).
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "the scheme is {:?}; expected postgres://user:password@host:5432/database",
                parsed.scheme()
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(
                "it names no host; expected postgres://user:password@host:5432/database".into(),
            );
        }
        let mut sslmode = String::from("prefer");
        let mut rootcert = None;
        let mut kept = Vec::new();
        for (k, v) in parsed.query_pairs() {
            match &*k {
                "sslmode" => sslmode = v.into_owned(),
                "sslrootcert" => rootcert = Some(v.into_owned()),
                _ => kept.push((k.into_owned(), v.into_owned())),
            }
        }
        // Percent-encoded, not form-encoded: tokio-postgres reads `+` as a
        // plus sign, so `options=-c a -c b` must travel with `%20`.
        let encode = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut rebuilt = parsed.clone();
        let query: Vec<String> = kept
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        rebuilt.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());
        let mut config = Config::from_str(rebuilt.as_str()).map_err(|e| e.to_string())?;
        let mode = match sslmode.as_str() {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" | "verify-ca" | "verify-full" => SslMode::Require,
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        };
        config.ssl_mode(mode);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A server that stops answering mid-statement fails the operation
        // after a minute instead of holding the store (and the run) forever;
        // a URL's own statement_timeout wins.
        let options = config.get_options().unwrap_or_default().to_owned();
        if !options.contains("statement_timeout") {
            config.options(format!("{options} -c statement_timeout={STATEMENT_TIMEOUT_MS}").trim());
        }
        if config.get_application_name().is_none() {
            config.application_name("bcq");
        }
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(Arc::new(tls_config(rootcert.as_deref())?)),
        };
        let user = match parsed.username() {
            "" => String::new(),
            u => format!("{u}@"),
        };
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        let display = format!(
            "postgres://{user}{}{port}{}",
            parsed.host_str().unwrap_or_default(),
            parsed.path()
        );
        Ok(PgTarget {
            config,
            tls,
            display,
            key: url.to_owned(),
        })
    }
}

/// rustls with Mozilla's roots and those of `rootcert`, if given.
fn tls_config(rootcert: Option<&str>) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = rootcert {
        let certs =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("sslrootcert={path}: {e}"))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("sslrootcert={path}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("sslrootcert={path}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("sslrootcert={path} holds no PEM certificate"));
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// The runtime the connections live on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bcq-state-pg")
            .enable_all()
            .build()
            .expect("cannot start the PostgreSQL client's runtime thread")
    })
}

/// Runs `fut` on the connections' runtime and waits for it, from any
/// thread (a std channel, so it never needs the caller's runtime).
fn block<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .expect("the PostgreSQL client's task ended without an answer")
}

/// The pool for `target`, created on first use.
fn pool(target: &PgTarget) -> Result<Pool, DbError> {
    static POOLS: OnceLock<Mutex<HashMap<String, Pool>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.get(&target.key) {
        return Ok(pool.clone());
    }
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match &target.tls {
        None => Manager::from_config(target.config.clone(), NoTls, manager_config),
        Some(tls) => Manager::from_config(
            target.config.clone(),
            tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone()),
            manager_config,
        ),
    };
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))?;
    pools.insert(target.key.clone(), pool.clone());
    Ok(pool)
}

/// A connection from the pool for `target`.
async fn checkout(pool: Pool, display: String) -> Result<deadpool_postgres::Object, DbError> {
    pool.get().await.map_err(|e| {
        let mut text = format!("cannot connect to PostgreSQL at {display}: {e}");
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        DbError::Pool(text)
    })
}

/// One pooled connection, held by one store for its lifetime.
pub(crate) struct PgConn {
    client: Arc<deadpool_postgres::Object>,
    pool: Pool,
    display: String,
}

impl PgConn {
    /// Takes a connection from the pool of `target`.
    pub(crate) fn connect(target: &PgTarget) -> Result<PgConn, DbError> {
        let pool = pool(target)?;
        let display = target.display.clone();
        let client = block(checkout(pool.clone(), display.clone()))?;
        Ok(PgConn {
            client: Arc::new(client),
            pool,
            display,
        })
    }

    pub(super) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let (client, sql, params) = (self.client.clone(), placeholders(sql), params.to_vec());
        block(async move {
            let stmt = client.prepare_cached(&sql).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let rows = client.query(&stmt, &refs).await?;
            rows.iter().map(row_values).collect()
        })
    }

    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let (client, sql, params) = (self.client.clone(), placeholders(sql), params.to_vec());
        block(async move {
            let stmt = client.prepare_cached(&sql).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            Ok(client.execute(&stmt, &refs).await?)
        })
    }

    pub(super) fn batch(&self, sql: &str) -> Result<(), DbError> {
        let (client, sql) = (self.client.clone(), sql.to_owned());
        block(async move { Ok(client.batch_execute(&sql).await?) })
    }

    /// Takes the session advisory lock named `name` (scoped to the current
    /// schema, so deployments in different schemas of one database do not
    /// collide) on a connection of its own, without waiting: `None` if
    /// another session holds it. The lock lives as long as the returned
    /// [`PgLock`], and PostgreSQL releases it when that connection ends,
    /// including when the process is killed.
    /// `shared`: a shared lock, which other shared holders may hold at
    /// the same time (replicas) but not an exclusive one (a reset).
    pub(crate) fn try_lock(&self, name: &str, shared: bool) -> Result<Option<PgLock>, DbError> {
        let (pool, display, name) = (self.pool.clone(), self.display.clone(), name.to_owned());
        let sql = if shared {
            "SELECT pg_try_advisory_lock_shared(hashtextextended($1 || current_schema(), 0))"
        } else {
            "SELECT pg_try_advisory_lock(hashtextextended($1 || current_schema(), 0))"
        };
        block(async move {
            let client = checkout(pool, display).await?;
            let row = client.query_one(sql, &[&name]).await?;
            Ok(row.get::<_, bool>(0).then_some(PgLock {
                client: Some(client),
            }))
        })
    }
}

/// A session advisory lock held on its own connection; dropping it closes
/// that connection (never returns it to the pool), which releases the lock.
pub(crate) struct PgLock {
    client: Option<deadpool_postgres::Object>,
}

impl fmt::Debug for PgLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgLock")
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        if let Some(object) = self.client.take() {
            drop(deadpool_postgres::Object::take(object));
        }
    }
}

/// `?N` placeholders (the form both engines understand in the store's
/// code) as PostgreSQL's `$N`.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A PostgreSQL row as [`Value`]s.
fn row_values(row: &tokio_postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            ref other => {
                return Err(DbError::Type {
                    index: i,
                    expected: "integer, boolean, text or bytea",
                    found: other.to_string(),
                });
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Text(s) if <&str as ToSql>::accepts(ty) => s.as_str().to_sql(ty, out),
            Value::Blob(b) if <&[u8] as ToSql>::accepts(ty) => b.as_slice().to_sql(ty, out),
            Value::Text(_) | Value::Blob(_) => {
                Err(format!("{self:?} cannot be sent as {ty}").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A PostgreSQL error in one line: the server's message with its code,
/// detail and hint, or the client's error with its causes.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2,?10)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2,$10)"
        );
    }

    #[test]
    fn a_url_is_shown_without_its_password_and_checked() {
        let t =
            PgTarget::parse("postgres://bcq:s3cret@db.example:6543/state?sslmode=require").unwrap();
        assert_eq!(t.to_string(), "postgres://bcq@db.example:6543/state");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(t.tls.is_some());
        let plain = PgTarget::parse("postgresql://127.0.0.1/test?sslmode=disable").unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(
            plain.config.get_options(),
            Some("-c statement_timeout=60000")
        );
        let own = PgTarget::parse(
            "postgres://h/db?options=-csearch_path%3Dx%20-c%20statement_timeout%3D5s",
        )
        .unwrap();
        assert_eq!(
            own.config.get_options(),
            Some("-csearch_path=x -c statement_timeout=5s")
        );
        for (bad, says) in [
            ("mysql://x@h/db", "scheme"),
            ("postgres:///db", "no host"),
            ("postgres://u:p@h/db?sslmode=sometimes", "sslmode=sometimes"),
            (
                "postgres://u:p@h/db?sslrootcert=/nonexistent.pem",
                "sslrootcert",
            ),
        ] {
            let err = PgTarget::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains(":p@"), "{err}");
        }
    }
}
