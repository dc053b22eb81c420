//! After a complete read: deleting from the destination the documents of records
//! BC no longer has, unless that would delete more than the guard allows.

use super::seen::id_key;
use super::{Engine, Unit, UnitReport};
use chrono::Utc;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// Deletions BC named one by one that the guard lets through in any case.
pub const NAMED_DELETES_ALWAYS_ALLOWED: usize = 10;

/// Whether deleting `gone` of `known` documents is allowed: at most
/// `max_share` of them unless `allow_mass` (a wrong company id or a BC
/// outage that answers empty pages must not empty the index).
pub fn guard_allows(gone: usize, known: usize, max_share: f64, allow_mass: bool) -> bool {
    allow_mass || gone == 0 || (gone as f64 / known.max(1) as f64) <= max_share
}

impl Engine {
    /// Deletes what the state store knows of `unit` and `seen` (the sorted
    /// id keys of a complete read) does not hold.
    pub(super) async fn delete_missing(&self, unit: &Unit, seen: &[u64], report: &mut UnitReport) {
        let (known, gone) =
            match self.documents_where(unit, |bc_id| seen.binary_search(&id_key(bc_id)).is_err()) {
                Ok(x) => x,
                Err(e) => {
                    report.errors.push(e);
                    return;
                }
            };
        if gone.is_empty() {
            let _ = self.state().mark_reconciled(&unit.key, Utc::now());
            return;
        }
        if !guard_allows(
            gone.len(),
            known,
            self.cfg.max_delete_share,
            self.cfg.allow_mass_delete,
        ) {
            report.errors.push(format!(
                "deletion guard: {} of {} known documents of {} in {} ({:.1}%) are gone from business central, more than the allowed {:.1}%; nothing was deleted. check the company and environment, then run again with --allow-mass-delete if this is intended",
                gone.len(),
                known,
                unit.spec.entity_set,
                unit.ctx.company_name,
                gone.len() as f64 * 100.0 / known.max(1) as f64,
                self.cfg.max_delete_share * 100.0
            ));
            return;
        }
        self.delete_docs(&gone, report).await;
        if report.counts.failed == 0 && !report.interrupted && report.errors.is_empty() {
            let _ = self.state().mark_reconciled(&unit.key, Utc::now());
        }
    }

    /// Deletes the documents of records BC said were deleted (webhooks):
    /// every document of the unit whose BC id is one of `bc_ids`. The
    /// guard counts them against the unit's documents like a reconciling
    /// run, but lets [`NAMED_DELETES_ALWAYS_ALLOWED`] through whatever the
    /// share: BC named each record, which an empty page never does, and a
    /// small company must be able to lose a customer. A refused batch
    /// deletes nothing and says so; the next reconciliation meets the same
    /// guard.
    pub async fn delete_records(&self, unit: &Unit, bc_ids: &[String]) -> UnitReport {
        let mut report = UnitReport::default();
        let wanted: HashSet<String> = bc_ids.iter().map(|i| i.to_ascii_lowercase()).collect();
        let (known, gone) = match self
            .documents_where(unit, |bc_id| wanted.contains(&bc_id.to_ascii_lowercase()))
        {
            Ok(x) => x,
            Err(e) => {
                report.errors.push(e);
                return report;
            }
        };
        if gone.len() > NAMED_DELETES_ALWAYS_ALLOWED
            && !guard_allows(
                gone.len(),
                known,
                self.cfg.max_delete_share,
                self.cfg.allow_mass_delete,
            )
        {
            report.errors.push(format!(
                "deletion guard: business central notified the deletion of {} records of {} in {}, {} of its {} documents, more than the allowed {:.1}%; nothing was deleted. check the company, then run bcq sync --reconcile --allow-mass-delete if this is intended",
                bc_ids.len(),
                unit.spec.entity_set,
                unit.ctx.company_name,
                gone.len(),
                known,
                self.cfg.max_delete_share * 100.0
            ));
            return report;
        }
        self.delete_docs(&gone, &mut report).await;
        report
    }

    /// How many documents the store knows of `unit`, and the ids of those
    /// whose BC id `pick` chooses. Streamed from the store: collecting a
    /// million (doc id, BC id) pairs would cost more memory than the whole
    /// rest of the run.
    fn documents_where(
        &self,
        unit: &Unit,
        mut pick: impl FnMut(&str) -> bool,
    ) -> Result<(usize, Vec<String>), String> {
        let mut known = 0usize;
        let mut picked = Vec::new();
        self.state()
            .for_each_document_of_unit(&unit.key, |doc_id, bc_id| {
                known += 1;
                if pick(bc_id) {
                    picked.push(doc_id.to_string());
                }
            })
            .map_err(|e| format!("state store: {e}"))?;
        Ok((known, picked))
    }

    /// Deletes `gone` from the destination, in calls of its size, and
    /// forgets what it deleted.
    async fn delete_docs(&self, gone: &[String], report: &mut UnitReport) {
        for chunk in gone.chunks(self.dest.limits().docs_per_call.max(1)) {
            if self.cfg.stop.requested() {
                report.interrupted = true;
                return;
            }
            match self.dest.delete(chunk.to_vec()).await {
                Ok(o) => {
                    let refused: HashSet<&str> =
                        o.rejected.iter().map(|r| r.doc_id.as_str()).collect();
                    let done: Vec<String> = chunk
                        .iter()
                        .filter(|id| !refused.contains(id.as_str()))
                        .cloned()
                        .collect();
                    if let Err(e) = self.state().commit_deletes(&done) {
                        report.errors.push(format!("state store: {e}"));
                        return;
                    }
                    report.counts.deleted += done.len() as u64;
                    self.progress
                        .deleted
                        .fetch_add(done.len() as u64, Ordering::Relaxed);
                    for r in o.rejected {
                        report.counts.failed += 1;
                        let _ = self.state().record_failure(
                            self.run_id,
                            &r.doc_id,
                            &format!("delete: {}", r.reason),
                        );
                        report.rejected.push(r);
                    }
                }
                Err(e) => {
                    report.errors.push(format!("deleting documents: {e}"));
                    report.fatal |= e.fatal;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::guard_allows;

    #[test]
    fn the_guard_holds_above_its_share_unless_overridden() {
        assert!(guard_allows(0, 0, 0.10, false));
        assert!(guard_allows(10, 100, 0.10, false));
        assert!(!guard_allows(11, 100, 0.10, false));
        assert!(guard_allows(11, 100, 0.10, true));
        // Everything gone of a unit with documents: refused.
        assert!(!guard_allows(5, 5, 0.10, false));
        // Deleting from a store that knows nothing cannot happen, but the
        // share is still computed without dividing by zero.
        assert!(!guard_allows(1, 0, 0.10, false));
    }
}
