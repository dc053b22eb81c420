//! The `documents` table: what the destination acknowledged, by document id.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{StateStore, units};
use crate::db::{Value, vals};
use crate::error::StateError;
use crate::model::{Ack, DocState, UnitKey};

/// Ids per `IN (...)` query in [`StateStore::hashes`]: far below SQLite's
/// bound-parameter limit, large enough that 10,000 ids cost 20 queries.
const LOOKUP_CHUNK: usize = 500;

/// Documents per INSERT statement in [`StateStore::commit_acks`].
const INSERT_CHUNK: usize = 100;

/// Documents per page when [`StateStore::for_each_document_of_unit`] walks
/// a unit, so that a unit of millions never sits in memory at once.
const WALK_PAGE: i64 = 10_000;

impl StateStore {
    /// The content hash Q last acknowledged for `doc_id`, if any.
    pub fn hash_of(&self, doc_id: &str) -> Result<Option<[u8; 32]>, StateError> {
        let err = self.sql_err(format!("look up the hash of document {doc_id:?}"));
        self.conn
            .query_opt(
                "SELECT content_hash FROM documents WHERE doc_id = ?1",
                vals![doc_id],
            )
            .and_then(|row| row.map(|r| r.hash(0)).transpose())
            .map_err(err)
    }

    /// The acknowledged hashes of those `doc_ids` the store knows; ids it
    /// does not know are absent from the map. One query per
    /// 500 ids, so a page of 20,000 BC records (BC's maximum
    /// page size) costs 40 queries, not 20,000.
    pub fn hashes(&self, doc_ids: &[&str]) -> Result<HashMap<String, [u8; 32]>, StateError> {
        let err = self.sql_err(format!("look up the hashes of {} documents", doc_ids.len()));
        let mut found = HashMap::with_capacity(doc_ids.len());
        for chunk in doc_ids.chunks(LOOKUP_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "SELECT doc_id, content_hash FROM documents WHERE doc_id IN ({})",
                placeholders.join(",")
            );
            let params: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
            for row in self.conn.query(&sql, &params).map_err(&err)? {
                found.insert(row.text(0).map_err(&err)?, row.hash(1).map_err(&err)?);
            }
        }
        Ok(found)
    }

    /// Everything the store knows about one document.
    pub fn document(&self, doc_id: &str) -> Result<Option<DocState>, StateError> {
        let err = self.sql_err(format!("read document {doc_id:?}"));
        let Some(row) = self
            .conn
            .query_opt(
                "SELECT bc_id, content_hash, pushed_at FROM documents WHERE doc_id = ?1",
                vals![doc_id],
            )
            .map_err(&err)?
        else {
            return Ok(None);
        };
        let pushed_at = row.text(2).map_err(&err)?;
        Ok(Some(DocState {
            doc_id: doc_id.to_owned(),
            bc_id: row.text(0).map_err(&err)?,
            content_hash: row.hash(1).map_err(&err)?,
            pushed_at: self
                .decode_time(&pushed_at, || format!("pushed_at of document {doc_id:?}"))?,
        }))
    }

    /// `(doc_id, bc_id)` of every document of `unit`, ordered by doc id.
    ///
    /// Reconciliation compares this with the full BC id set of the unit:
    /// a document whose `bc_id` BC no longer lists was deleted in BC, and Q
    /// never deletes on its own, so bcq must.
    pub fn doc_ids_of_unit(&self, unit: &UnitKey) -> Result<Vec<(String, String)>, StateError> {
        let mut ids = Vec::new();
        self.for_each_document_of_unit(unit, |doc_id, bc_id| {
            ids.push((doc_id.to_owned(), bc_id.to_owned()));
        })?;
        Ok(ids)
    }

    /// Calls `f(doc_id, bc_id)` for every document of `unit`, in `doc_id`
    /// order, a page of 10,000 at a time: a unit can hold millions.
    pub fn for_each_document_of_unit(
        &self,
        unit: &UnitKey,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), StateError> {
        let err = self.sql_err(format!("list the documents of unit {unit}"));
        let unit_text = unit.to_string();
        let mut after = String::new();
        loop {
            let rows = self
                .conn
                .query(
                    "SELECT doc_id, bc_id FROM documents WHERE unit = ?1 AND doc_id > ?2
                     ORDER BY doc_id LIMIT ?3",
                    vals![&unit_text, &after, WALK_PAGE],
                )
                .map_err(&err)?;
            let full = rows.len() as i64 == WALK_PAGE;
            for row in &rows {
                let (doc_id, bc_id) = (row.text(0).map_err(&err)?, row.text(1).map_err(&err)?);
                f(&doc_id, &bc_id);
                after = doc_id;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// How many documents the store knows, in `unit` or in total.
    pub fn count_documents(&self, unit: Option<&UnitKey>) -> Result<u64, StateError> {
        let (op, rows) = match unit {
            Some(unit) => (
                format!("count the documents of unit {unit}"),
                self.conn.query(
                    "SELECT count(*) FROM documents WHERE unit = ?1",
                    vals![unit.to_string()],
                ),
            ),
            None => (
                "count documents".to_owned(),
                self.conn.query("SELECT count(*) FROM documents", &[]),
            ),
        };
        let err = self.sql_err(op);
        let rows = rows.map_err(&err)?;
        rows.first().map_or(Ok(0), |r| r.count(0)).map_err(err)
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
        // The last acknowledgement of a document wins (one statement may
        // not touch a row twice in PostgreSQL).
        let mut last = HashMap::with_capacity(acks.len());
        for (i, ack) in acks.iter().enumerate() {
            last.insert(ack.doc_id.as_str(), i);
        }
        let unique: Vec<&Ack> = acks
            .iter()
            .enumerate()
            .filter(|(i, a)| last.get(a.doc_id.as_str()) == Some(i))
            .map(|(_, a)| a)
            .collect();
        self.write(&err, |tx| {
            units::ensure(tx, unit, &now).map_err(&err)?;
            // Rows per statement: one round trip for up to 100 documents
            // (a network round trip each in PostgreSQL).
            for chunk in unique.chunks(INSERT_CHUNK) {
                let sql = upsert_sql(chunk.len());
                let mut params = Vec::with_capacity(chunk.len() * 6);
                for ack in chunk {
                    params.extend([
                        Value::from(&ack.doc_id),
                        Value::from(&unit_text),
                        Value::from(&ack.bc_id),
                        Value::from(&ack.content_hash),
                        Value::from(&now),
                        Value::from(run_id),
                    ]);
                }
                tx.execute(sql, &params).map_err(|e| {
                    // The unit row exists (ensured above), so the only
                    // foreign key that can fail is the run.
                    if e.is_foreign_key_violation() {
                        StateError::RunNotFound {
                            path: path.clone(),
                            run_id,
                        }
                    } else {
                        err(e)
                    }
                })?;
            }
            Ok(())
        })
    }

    /// Forgets documents that were deleted from Q, in one transaction.
    /// Call it after BatchDeleteDocument accepted them; ids the store does
    /// not know are ignored (a delete is idempotent in Q too).
    pub fn commit_deletes(&mut self, doc_ids: &[String]) -> Result<(), StateError> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        let err = self.sql_err(format!("commit {} deletes", doc_ids.len()));
        self.write(&err, |tx| {
            for doc_id in doc_ids {
                tx.execute("DELETE FROM documents WHERE doc_id = ?1", vals![doc_id])
                    .map_err(&err)?;
            }
            Ok(())
        })
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
        self.write(&err, |tx| {
            for doc_id in doc_ids {
                tx.execute(
                    "UPDATE units SET last_reconciled_at = NULL
                     WHERE unit = (SELECT unit FROM documents WHERE doc_id = ?1)",
                    vals![doc_id],
                )
                .map_err(&err)?;
                tx.execute("DELETE FROM documents WHERE doc_id = ?1", vals![doc_id])
                    .map_err(&err)?;
            }
            Ok(())
        })
    }
}

/// The statement that stores `rows` acknowledgements (see
/// [`StateStore::commit_acks`]), made once per process for each number of
/// rows. `rows` is a chunk's length, 1 to [`INSERT_CHUNK`]; any other panics
/// here rather than caching a statement under another count.
fn upsert_sql(rows: usize) -> &'static str {
    static MADE: [OnceLock<String>; INSERT_CHUNK] = [const { OnceLock::new() }; INSERT_CHUNK];
    assert!(
        (1..=INSERT_CHUNK).contains(&rows),
        "{rows} rows in one statement"
    );
    MADE[rows - 1].get_or_init(|| {
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let b = r * 6;
                format!(
                    "(?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect();
        format!(
            "INSERT INTO documents (doc_id, unit, bc_id, content_hash, pushed_at, run_id)
             VALUES {}
             ON CONFLICT (doc_id) DO UPDATE SET
                 unit = excluded.unit,
                 bc_id = excluded.bc_id,
                 content_hash = excluded.content_hash,
                 pushed_at = excluded.pushed_at,
                 run_id = excluded.run_id",
            values.join(", ")
        )
    })
}
