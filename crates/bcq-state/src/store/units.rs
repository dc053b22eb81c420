//! The `units` table: one cursor per environment/company/entity.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::StateStore;
use crate::error::StateError;
use crate::model::{UnitKey, UnitState};
use crate::time;

/// Inserts the unit's row if it is missing (no cursor yet).
pub(super) fn ensure(conn: &Connection, unit: &UnitKey, now: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO units (unit, environment, company_id, entity, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (unit) DO NOTHING",
    )?
    .execute(params![
        unit.to_string(),
        unit.environment,
        unit.company_id,
        unit.entity,
        now
    ])?;
    Ok(())
}

impl StateStore {
    /// The progress of `unit`; a unit never seen has no cursor and was
    /// never reconciled (the engine then does a full read).
    pub fn unit(&self, unit: &UnitKey) -> Result<UnitState, StateError> {
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .prepare_cached("SELECT cursor, last_reconciled_at FROM units WHERE unit = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([unit.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(self.sql_err(format!("read unit {unit}")))?;
        let Some((cursor, reconciled)) = row else {
            return Ok(UnitState::default());
        };
        self.unit_state(unit, cursor, reconciled)
    }

    /// The fingerprint of the settings the unit's documents were last
    /// completely rendered with (`None` before the first complete read).
    pub fn unit_settings(&self, unit: &UnitKey) -> Result<Option<String>, StateError> {
        self.conn
            .prepare_cached("SELECT settings FROM units WHERE unit = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([unit.to_string()], |row| row.get::<_, Option<String>>(0))
                    .optional()
            })
            .map(Option::flatten)
            .map_err(self.sql_err(format!("read the settings of unit {unit}")))
    }

    /// Records the settings fingerprint after a complete, successful read.
    pub fn set_unit_settings(&mut self, unit: &UnitKey, settings: &str) -> Result<(), StateError> {
        let err = self.sql_err(format!("set the settings of unit {unit}"));
        let now = self.now_text();
        let tx = self.write_tx().map_err(&err)?;
        ensure(&tx, unit, &now).map_err(&err)?;
        tx.execute(
            "UPDATE units SET settings = ?2, updated_at = ?3 WHERE unit = ?1",
            params![unit.to_string(), settings, now],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Every unit the store knows, ordered by its `env/company/entity` form.
    pub fn units(&self) -> Result<Vec<(UnitKey, UnitState)>, StateError> {
        let err = self.sql_err("list units");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT environment, company_id, entity, cursor, last_reconciled_at
                 FROM units ORDER BY unit",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    UnitKey::new(
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ),
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(&err)?;
        let mut units = Vec::new();
        for row in rows {
            let (key, cursor, reconciled) = row.map_err(&err)?;
            let state = self.unit_state(&key, cursor, reconciled)?;
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
        let tx = self.write_tx().map_err(&err)?;
        ensure(&tx, unit, &now).map_err(&err)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT cursor FROM units WHERE unit = ?1",
                [unit.to_string()],
                |row| row.get(0),
            )
            .map_err(&err)?;
        if let Some(old) = old {
            let old = time::decode(&old).map_err(|detail| StateError::Corrupt {
                path: path.clone(),
                what: format!("cursor of unit {unit}"),
                detail,
            })?;
            if cursor < old {
                return Err(StateError::CursorBackwards {
                    path,
                    unit: unit.clone(),
                    old,
                    new: cursor,
                });
            }
        }
        tx.execute(
            "UPDATE units SET cursor = ?2, updated_at = ?3 WHERE unit = ?1",
            params![unit.to_string(), time::encode(cursor), now],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
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
        let now = self.now_text();
        let tx = self.write_tx().map_err(&err)?;
        ensure(&tx, unit, &now).map_err(&err)?;
        tx.execute(
            "UPDATE units SET cursor = ?2, updated_at = ?3 WHERE unit = ?1",
            params![unit.to_string(), time::encode(cursor), now],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Records that `unit`'s full BC id set was compared with the store at
    /// `at` (and the deletions found were committed).
    pub fn mark_reconciled(&mut self, unit: &UnitKey, at: DateTime<Utc>) -> Result<(), StateError> {
        let err = self.sql_err(format!("mark unit {unit} reconciled"));
        let now = self.now_text();
        let tx = self.write_tx().map_err(&err)?;
        ensure(&tx, unit, &now).map_err(&err)?;
        tx.execute(
            "UPDATE units SET last_reconciled_at = ?2, updated_at = ?3 WHERE unit = ?1",
            params![unit.to_string(), time::encode(at), now],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
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
