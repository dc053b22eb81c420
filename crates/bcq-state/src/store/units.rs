//! The `units` table: one cursor per environment/company/entity.

use chrono::{DateTime, Utc};

use super::StateStore;
use crate::db::{Conn, DbError, vals};
use crate::error::StateError;
use crate::model::{UnitKey, UnitState};
use crate::time;

/// Inserts the unit's row if it is missing (no cursor yet).
pub(super) fn ensure(conn: &Conn, unit: &UnitKey, now: &str) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO units (unit, environment, company_id, entity, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (unit) DO NOTHING",
        vals![
            unit.to_string(),
            &unit.environment,
            &unit.company_id,
            &unit.entity,
            now
        ],
    )
    .map(drop)
}

impl StateStore {
    /// The progress of `unit`; a unit never seen has no cursor and was
    /// never reconciled (the engine then does a full read).
    pub fn unit(&self, unit: &UnitKey) -> Result<UnitState, StateError> {
        let err = self.sql_err(format!("read unit {unit}"));
        let Some(row) = self
            .conn
            .query_opt(
                "SELECT cursor, last_reconciled_at FROM units WHERE unit = ?1",
                vals![unit.to_string()],
            )
            .map_err(&err)?
        else {
            return Ok(UnitState::default());
        };
        self.unit_state(
            unit,
            row.opt_text(0).map_err(&err)?,
            row.opt_text(1).map_err(&err)?,
        )
    }

    /// The fingerprint of the settings the unit's documents were last
    /// completely rendered with (`None` before the first complete read).
    pub fn unit_settings(&self, unit: &UnitKey) -> Result<Option<String>, StateError> {
        let err = self.sql_err(format!("read the settings of unit {unit}"));
        self.conn
            .query_opt(
                "SELECT settings FROM units WHERE unit = ?1",
                vals![unit.to_string()],
            )
            .and_then(|row| row.map(|r| r.opt_text(0)).transpose())
            .map(Option::flatten)
            .map_err(err)
    }

    /// Records the settings fingerprint after a complete, successful read.
    pub fn set_unit_settings(&mut self, unit: &UnitKey, settings: &str) -> Result<(), StateError> {
        let err = self.sql_err(format!("set the settings of unit {unit}"));
        self.update_unit(unit, &err, "settings = ?2", settings.to_owned())
    }

    /// Every unit the store knows, ordered by its `env/company/entity` form.
    pub fn units(&self) -> Result<Vec<(UnitKey, UnitState)>, StateError> {
        let err = self.sql_err("list units");
        let rows = self
            .conn
            .query(
                "SELECT environment, company_id, entity, cursor, last_reconciled_at
                 FROM units ORDER BY unit",
                &[],
            )
            .map_err(&err)?;
        let mut units = Vec::with_capacity(rows.len());
        for row in rows {
            let key = UnitKey::new(
                row.text(0).map_err(&err)?,
                row.text(1).map_err(&err)?,
                row.text(2).map_err(&err)?,
            );
            let state = self.unit_state(
                &key,
                row.opt_text(3).map_err(&err)?,
                row.opt_text(4).map_err(&err)?,
            )?;
            units.push((key, state));
        }
        Ok(units)
    }

    /// Moves `unit`'s cursor to `cursor`, in one transaction.
    ///
    /// Call it only after every document of the read that reached `cursor`
    /// was acknowledged ([`StateStore::commit_acks`]) or recorded as failed.
    /// Moving to the same instant is a no-op; moving backwards is refused
    /// with [`StateError::CursorBackwards`] and changes nothing.
    pub fn advance_cursor(
        &mut self,
        unit: &UnitKey,
        cursor: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let err = self.sql_err(format!("advance the cursor of unit {unit}"));
        let now = self.now_text();
        let path = self.path.clone();
        self.write(&err, |tx| {
            ensure(tx, unit, &now).map_err(&err)?;
            // FOR UPDATE in PostgreSQL: another replica's move of the same
            // cursor waits for this one. SQLite's BEGIN IMMEDIATE already
            // excludes every other writer.
            let sql = match tx {
                Conn::Sqlite(_) => "SELECT cursor FROM units WHERE unit = ?1",
                Conn::Postgres(_) => "SELECT cursor FROM units WHERE unit = ?1 FOR UPDATE",
            };
            let old = tx
                .query_opt(sql, vals![unit.to_string()])
                .and_then(|row| row.map(|r| r.opt_text(0)).transpose())
                .map_err(&err)?
                .flatten();
            if let Some(old) = old {
                let old = time::decode(&old).map_err(|detail| StateError::Corrupt {
                    path: path.clone(),
                    what: format!("cursor of unit {unit}"),
                    detail,
                })?;
                if cursor < old {
                    return Err(StateError::CursorBackwards {
                        path: path.clone(),
                        unit: unit.clone(),
                        old,
                        new: cursor,
                    });
                }
            }
            tx.execute(
                "UPDATE units SET cursor = ?2, updated_at = ?3 WHERE unit = ?1",
                vals![unit.to_string(), time::encode(cursor), &now],
            )
            .map_err(&err)?;
            Ok(())
        })
    }

    /// Sets `unit`'s cursor back to `cursor`: the one exception to "never
    /// backwards", for a cursor that lies in the future (an earlier bcq
    /// moved it to a record dated in the future, so every incremental read
    /// would find nothing). Call it only after a complete read whose every
    /// document was acknowledged.
    pub fn rewind_cursor(
        &mut self,
        unit: &UnitKey,
        cursor: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let err = self.sql_err(format!("set back the cursor of unit {unit}"));
        self.update_unit(unit, &err, "cursor = ?2", time::encode(cursor))
    }

    /// Records that `unit`'s full BC id set was compared with the store at
    /// `at` (and the deletions found were committed).
    pub fn mark_reconciled(&mut self, unit: &UnitKey, at: DateTime<Utc>) -> Result<(), StateError> {
        let err = self.sql_err(format!("mark unit {unit} reconciled"));
        self.update_unit(unit, &err, "last_reconciled_at = ?2", time::encode(at))
    }

    /// Sets one column of `unit` (`assignment` uses `?2` for `value`),
    /// creating the unit if needed, in one transaction.
    fn update_unit(
        &mut self,
        unit: &UnitKey,
        err: &impl Fn(DbError) -> StateError,
        assignment: &str,
        value: String,
    ) -> Result<(), StateError> {
        let now = self.now_text();
        let sql = format!("UPDATE units SET {assignment}, updated_at = ?3 WHERE unit = ?1");
        self.write(err, |tx| {
            ensure(tx, unit, &now).map_err(err)?;
            tx.execute(&sql, vals![unit.to_string(), value, &now])
                .map_err(err)?;
            Ok(())
        })
    }

    fn unit_state(
        &self,
        unit: &UnitKey,
        cursor: Option<String>,
        reconciled: Option<String>,
    ) -> Result<UnitState, StateError> {
        Ok(UnitState {
            cursor: self.decode_opt_time(cursor, || format!("cursor of unit {unit}"))?,
            last_reconciled_at: self
                .decode_opt_time(reconciled, || format!("last_reconciled_at of unit {unit}"))?,
        })
    }
}
