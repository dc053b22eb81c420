//! The two backends behind one small SQL interface: SQLite (embedded, the
//! default) and PostgreSQL (`BCQ_STATE_URL`).
//!
//! The store's code is written once against [`Conn`]: statements in the
//! subset of SQL both engines share (`ON CONFLICT ... DO UPDATE`,
//! `RETURNING`, `?N` placeholders, which the PostgreSQL side rewrites to
//! `$N`), parameters and rows as [`Value`]s. So both backends keep exactly the
//! same guarantees, and one conformance suite (`tests/api.rs`) runs against
//! both.

mod pg;
mod sqlite;

pub use pg::PgTarget;

use crate::error::StateError;
pub(crate) use pg::{PgConn, PgLock};

/// A parameter or a column value: the four types the schema uses.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT).
    Int(i64),
    /// Text (SQLite TEXT, PostgreSQL TEXT).
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&i64> for Value {
    fn from(v: &i64) -> Self {
        Value::Int(*v)
    }
}
impl From<u64> for Value {
    /// Counts beyond `i64::MAX` cannot occur; they are stored saturated.
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&[u8; 32]> for Value {
    fn from(v: &[u8; 32]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}

/// `vals![a, b, c]`: a parameter slice of [`Value`]s.
macro_rules! vals {
    ($($v:expr),* $(,)?) => {
        &[$($crate::db::Value::from($v)),*][..]
    };
}
pub(crate) use vals;

/// One result row.
#[derive(Debug)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DbError> {
        self.0.get(i).ok_or(DbError::Type {
            index: i,
            expected: "a column",
            found: "none".into(),
        })
    }

    fn mismatch(&self, i: usize, expected: &'static str) -> DbError {
        DbError::Type {
            index: i,
            expected,
            found: format!("{:?}", self.0.get(i)),
        }
    }

    /// Column `i` as non-null text.
    pub(crate) fn text(&self, i: usize) -> Result<String, DbError> {
        match self.at(i)? {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    /// Column `i` as nullable text.
    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            _ => Err(self.mismatch(i, "text or null")),
        }
    }

    /// Column `i` as a non-null integer.
    pub(crate) fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    /// Column `i` as a nullable integer.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(self.mismatch(i, "an integer or null")),
        }
    }

    /// Column `i` as a non-negative count.
    pub(crate) fn count(&self, i: usize) -> Result<u64, DbError> {
        u64::try_from(self.int(i)?).map_err(|_| self.mismatch(i, "a non-negative integer"))
    }

    /// Column `i` as a 32-byte hash.
    pub(crate) fn hash(&self, i: usize) -> Result<[u8; 32], DbError> {
        match self.at(i)? {
            Value::Blob(b) => {
                <[u8; 32]>::try_from(b.as_slice()).map_err(|_| self.mismatch(i, "32 bytes"))
            }
            _ => Err(self.mismatch(i, "32 bytes")),
        }
    }
}

/// A failure of the database under the store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused a statement or the file.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused a statement, or the connection failed.
    #[error("{}", pg::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool (PostgreSQL unreachable,
    /// refused the login, or every connection is busy for too long).
    #[error("{0}")]
    Pool(String),
    /// A column did not have the type the code reads (a bug or a table
    /// changed by hand).
    #[error("column {index}: expected {expected}, found {found}")]
    Type {
        /// The column's position.
        index: usize,
        /// What the code expected.
        expected: &'static str,
        /// What was there.
        found: String,
    },
}

impl DbError {
    /// True for a foreign key violation (a run or unit that does not exist).
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
            }
            DbError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
            }
            _ => false,
        }
    }
}

/// One connection to either backend.
pub(crate) enum Conn {
    /// The embedded SQLite file (or an in-memory database).
    Sqlite(rusqlite::Connection),
    /// A pooled PostgreSQL connection.
    Postgres(PgConn),
}

impl Conn {
    /// Runs a query and returns every row.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(c) => sqlite::query(c, sql, params),
            Conn::Postgres(c) => c.query(sql, params),
        }
    }

    /// Runs a query and returns its first row, if any.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a statement and returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(c) => sqlite::execute(c, sql, params),
            Conn::Postgres(c) => c.execute(sql, params),
        }
    }

    /// Runs several parameterless statements.
    pub(crate) fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(Into::into),
            Conn::Postgres(c) => c.batch(sql),
        }
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled
    /// back otherwise (and if it panics). SQLite takes the write lock up
    /// front (`BEGIN IMMEDIATE`), so a concurrent writer waits at `BEGIN`
    /// instead of failing half-way. `err` names the operation when BEGIN
    /// or COMMIT fails.
    pub(crate) fn write<T>(
        &self,
        err: impl Fn(DbError) -> StateError,
        f: impl FnOnce(&Conn) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        self.transaction(|tx| f(tx).map_err(TxError::State))
            .map_err(|e| match e {
                TxError::Db(e) => err(e),
                TxError::State(e) => e,
            })
    }

    fn transaction<T>(&self, f: impl FnOnce(&Conn) -> Result<T, TxError>) -> Result<T, TxError> {
        let begin = match self {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Postgres(_) => "BEGIN",
        };
        self.batch(begin)?;
        let mut guard = RollbackGuard {
            conn: self,
            open: true,
        };
        let value = f(self)?;
        // A failed COMMIT leaves a SQLite transaction open: the guard
        // rolls it back.
        self.batch("COMMIT")?;
        guard.open = false;
        Ok(value)
    }
}

/// A transaction's failure: the database's, or the caller's own.
enum TxError {
    Db(DbError),
    State(StateError),
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

/// Rolls back an open transaction when dropped.
struct RollbackGuard<'a> {
    conn: &'a Conn,
    open: bool,
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
