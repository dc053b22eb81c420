//! The `documents` table: what Q acknowledged, by Q document id.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params, params_from_iter};

use super::{StateStore, is_foreign_key_violation, units};
use crate::error::StateError;
use crate::model::{Ack, DocState, UnitKey};

/// Ids per `IN (...)` query in [`StateStore::hashes`]: far below SQLite's
/// bound-parameter limit, large enough that 10,000 ids cost 20 queries.
const LOOKUP_CHUNK: usize = 500;

impl StateStore {
    /// The content hash Q last acknowledged for `doc_id`, if any.
    pub fn hash_of(&self, doc_id: &str) -> Result<Option<[u8; 32]>, StateError> {
        self.conn
            .prepare_cached("SELECT content_hash FROM documents WHERE doc_id = ?1")
            .and_then(|mut stmt| stmt.query_row([doc_id], |row| row.get(0)).optional())
            .map_err(self.sql_err(format!("look up the hash of document {doc_id:?}")))
    }

    /// The acknowledged hashes of those `doc_ids` the store knows; ids it
    /// does not know are absent from the map. One query per
    /// 500 ids, so a page of 20,000 BC records (BC's maximum
    /// page size) costs 40 queries, not 20,000.
    pub fn hashes(&self, doc_ids: &[&str]) -> Result<HashMap<String, [u8; 32]>, StateError> {
        let err = self.sql_err(format!("look up the hashes of {} documents", doc_ids.len()));
        let mut found = HashMap::with_capacity(doc_ids.len());
        for chunk in doc_ids.chunks(LOOKUP_CHUNK) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT doc_id, content_hash FROM documents WHERE doc_id IN ({placeholders})"
            );
            let mut stmt = self.conn.prepare_cached(&sql).map_err(&err)?;
            let rows = stmt
                .query_map(params_from_iter(chunk), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, [u8; 32]>(1)?))
                })
                .map_err(&err)?;
            for row in rows {
                let (doc_id, hash) = row.map_err(&err)?;
                found.insert(doc_id, hash);
            }
        }
        Ok(found)
    }

    /// Everything the store knows about one document.
    pub fn document(&self, doc_id: &str) -> Result<Option<DocState>, StateError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT bc_id, content_hash, pushed_at FROM documents WHERE doc_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([doc_id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, [u8; 32]>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .optional()
            })
            .map_err(self.sql_err(format!("read document {doc_id:?}")))?;
        row.map(|(bc_id, content_hash, pushed_at)| {
            Ok(DocState {
                doc_id: doc_id.to_owned(),
                bc_id,
                content_hash,
                pushed_at: self
                    .decode_time(&pushed_at, || format!("pushed_at of document {doc_id:?}"))?,
            })
        })
        .transpose()
    }

    /// `(doc_id, bc_id)` of every document of `unit`, ordered by doc id.
    ///
    /// Reconciliation compares this with the full BC id set of the unit:
    /// a document whose `bc_id` BC no longer lists was deleted in BC, and Q
    /// never deletes on its own, so bcq must.
    pub fn doc_ids_of_unit(&self, unit: &UnitKey) -> Result<Vec<(String, String)>, StateError> {
        let err = self.sql_err(format!("list the documents of unit {unit}"));
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, bc_id FROM documents WHERE unit = ?1 ORDER BY doc_id")
            .map_err(&err)?;
        let rows = stmt
            .query_map([unit.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Calls `f(doc_id, bc_id)` for every document of `unit`, in `doc_id`
    /// order, without collecting them: a unit can hold millions.
    pub fn for_each_document_of_unit(
        &self,
        unit: &UnitKey,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), StateError> {
        let err = self.sql_err(format!("list the documents of unit {unit}"));
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, bc_id FROM documents WHERE unit = ?1 ORDER BY doc_id")
            .map_err(&err)?;
        let mut rows = stmt.query([unit.to_string()]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            let doc_id = row
                .get_ref(0)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(&err)?;
            let bc_id = row
                .get_ref(1)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(&err)?;
            f(doc_id, bc_id);
        }
        Ok(())
    }

    /// How many documents the store knows, in `unit` or in total.
    pub fn count_documents(&self, unit: Option<&UnitKey>) -> Result<u64, StateError> {
        let result = match unit {
            Some(unit) => self.conn.query_row(
                "SELECT count(*) FROM documents WHERE unit = ?1",
                [unit.to_string()],
                |row| row.get(0),
            ),
            None => self
                .conn
                .query_row("SELECT count(*) FROM documents", [], |row| row.get(0)),
        };
        let op = match unit {
            Some(unit) => format!("count the documents of unit {unit}"),
            None => "count documents".to_owned(),
        };
        result.map_err(self.sql_err(op))
    }

    /// Records that Q accepted `acks` (pushed for `unit` in run `run_id`),
    /// in one transaction: either every hash is stored or none is.
    ///
    /// Call it with the documents of a BatchPutDocument response that were
    /// *not* in `failedDocuments`, after the response arrived. A document
    /// already known is overwritten (new hash, unit, run, time).
    pub fn commit_acks(
        &mut self,
        unit: &UnitKey,
        run_id: i64,
        acks: &[Ack],
    ) -> Result<(), StateError> {
        if acks.is_empty() {
            return Ok(());
        }
        let err = self.sql_err(format!("commit {} acks for unit {unit}", acks.len()));
        let now = self.now_text();
        let unit_text = unit.to_string();
        let path = self.path.clone();
        let tx = self.write_tx().map_err(&err)?;
        units::ensure(&tx, unit, &now).map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO documents (doc_id, unit, bc_id, content_hash, pushed_at, run_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (doc_id) DO UPDATE SET
                         unit = excluded.unit,
                         bc_id = excluded.bc_id,
                         content_hash = excluded.content_hash,
                         pushed_at = excluded.pushed_at,
                         run_id = excluded.run_id",
                )
                .map_err(&err)?;
            for ack in acks {
                stmt.execute(params![
                    ack.doc_id,
                    unit_text,
                    ack.bc_id,
                    ack.content_hash,
                    now,
                    run_id
                ])
                .map_err(|e| {
                    // The unit row exists (ensured above), so the only
                    // foreign key that can fail is the run.
                    if is_foreign_key_violation(&e) {
                        StateError::RunNotFound {
                            path: path.clone(),
                            run_id,
                        }
                    } else {
                        err(e)
                    }
                })?;
            }
        }
        // Dropping `tx` on any `?` above rolls the whole batch back.
        tx.commit().map_err(&err)
    }

    /// Forgets documents that were deleted from Q, in one transaction.
    /// Call it after BatchDeleteDocument accepted them; ids the store does
    /// not know are ignored (a delete is idempotent in Q too).
    pub fn commit_deletes(&mut self, doc_ids: &[String]) -> Result<(), StateError> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        let err = self.sql_err(format!("commit {} deletes", doc_ids.len()));
        let tx = self.write_tx().map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached("DELETE FROM documents WHERE doc_id = ?1")
                .map_err(&err)?;
            for doc_id in doc_ids {
                stmt.execute([doc_id]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// Forgets documents the destination accepted and then failed to index,
    /// and makes their units reconcile at the next run (clears their last
    /// reconciliation), so that the next run reads their records in full and
    /// pushes them again even if BC did not change them; in one transaction.
    pub fn forget_for_repush(&mut self, doc_ids: &[String]) -> Result<(), StateError> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        let err = self.sql_err(format!("forget {} documents to push again", doc_ids.len()));
        let tx = self.write_tx().map_err(&err)?;
        {
            let mut unit = tx
                .prepare_cached(
                    "UPDATE units SET last_reconciled_at = NULL
                     WHERE unit = (SELECT unit FROM documents WHERE doc_id = ?1)",
                )
                .map_err(&err)?;
            let mut forget = tx
                .prepare_cached("DELETE FROM documents WHERE doc_id = ?1")
                .map_err(&err)?;
            for doc_id in doc_ids {
                unit.execute([doc_id]).map_err(&err)?;
                forget.execute([doc_id]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }
}
