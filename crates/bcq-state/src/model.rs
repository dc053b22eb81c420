//! The plain data types the store reads and writes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One unit of incremental sync: one entity set of one company in one BC
/// environment, with its own cursor.
///
/// Cursors are per environment *and* company because BC's
/// `lastModifiedDateTime` is only comparable within one company's table, and
/// the same entity set is synced independently for each company.
///
/// Displays as `env/company/entity`, the form stored in the file. BC
/// environment names and company GUIDs cannot contain `/`, so the form is
/// unambiguous even when `entity` is a custom API path such as
/// `contoso/app/v1.0/widgets`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UnitKey {
    /// BC environment name, e.g. `production`.
    pub environment: String,
    /// BC company GUID.
    pub company_id: String,
    /// Entity set name (or custom API path), e.g. `salesInvoices`.
    pub entity: String,
}

impl UnitKey {
    /// Builds a key from its three parts.
    pub fn new(
        environment: impl Into<String>,
        company_id: impl Into<String>,
        entity: impl Into<String>,
    ) -> Self {
        UnitKey {
            environment: environment.into(),
            company_id: company_id.into(),
            entity: entity.into(),
        }
    }
}

impl fmt::Display for UnitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.environment, self.company_id, self.entity
        )
    }
}

/// What the store knows about one document Q accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocState {
    /// The Q document id.
    pub doc_id: String,
    /// The BC record id (`id` GUID) the document was rendered from; kept so
    /// that reconciliation can map BC's id set back to Q documents.
    pub bc_id: String,
    /// SHA-256 of the rendered document Q accepted.
    pub content_hash: [u8; 32],
    /// When the acknowledgement was committed.
    pub pushed_at: DateTime<Utc>,
}

/// One document Q accepted (it was not in the response's `failedDocuments`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The Q document id.
    pub doc_id: String,
    /// The BC record id it came from.
    pub bc_id: String,
    /// SHA-256 of exactly what was pushed.
    pub content_hash: [u8; 32],
}

/// The progress of one unit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    /// The highest `lastModifiedDateTime` of a fully acknowledged read;
    /// `None` until the first full read completed.
    pub cursor: Option<DateTime<Utc>>,
    /// When the unit's full BC id set was last compared with the store to
    /// find deletions (BC has no delete feed besides webhooks).
    pub last_reconciled_at: Option<DateTime<Utc>>,
}

/// What one run did, by outcome per document.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// Documents Q had not had before.
    pub added: u64,
    /// Documents whose content hash changed.
    pub updated: u64,
    /// Documents deleted from Q.
    pub deleted: u64,
    /// Documents skipped because their hash matched the stored one.
    pub unchanged: u64,
    /// Documents Q rejected or that could not be rendered.
    pub failed: u64,
}

impl std::ops::AddAssign for RunCounts {
    fn add_assign(&mut self, o: RunCounts) {
        self.added += o.added;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.unchanged += o.unchanged;
        self.failed += o.failed;
    }
}

/// How a run ended (or that it is still running).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Under way (or its process died: see `mark_interrupted_runs`).
    Running,
    /// Everything synced.
    Succeeded,
    /// Something failed (listed in its failures).
    Failed,
    /// Stopped by a signal, or its process died.
    Interrupted,
}

impl RunOutcome {
    /// The text stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    /// The outcome stored as `s`.
    pub fn parse(s: &str) -> Option<RunOutcome> {
        [
            RunOutcome::Running,
            RunOutcome::Succeeded,
            RunOutcome::Failed,
            RunOutcome::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run did: labelled by what it read, not only by what it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Read what changed since each unit's cursor.
    Incremental,
    /// Read everything (a first sync, a due or asked reconciliation) and
    /// deleted what BC no longer has.
    Reconcile,
    /// Read and pushed everything.
    Full,
    /// Some units incrementally, others in full.
    Mixed,
    /// `bcq sync --dry-run`: nothing written.
    DryRun,
    /// `bcq export`: documents written to files.
    Export,
}

impl RunKind {
    /// The text stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Incremental => "incremental",
            RunKind::Reconcile => "reconcile",
            RunKind::Full => "full",
            RunKind::Mixed => "mixed",
            RunKind::DryRun => "dry-run",
            RunKind::Export => "export",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<RunKind> {
        [
            RunKind::Incremental,
            RunKind::Reconcile,
            RunKind::Full,
            RunKind::Mixed,
            RunKind::DryRun,
            RunKind::Export,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the run history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Run id, increasing, never reused (not even after `reset`).
    pub id: i64,
    /// When `begin_run` was called.
    pub started_at: DateTime<Utc>,
    /// When the run finished or was marked interrupted.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// What it did.
    pub kind: RunKind,
    /// Per-document counts as given to `finish_run` (zero while running).
    pub counts: RunCounts,
    /// The destination's run id (a Q sync job's `executionId`) the run
    /// pushed under, once started.
    pub sync_job_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_key_displays_as_env_company_entity() {
        let key = UnitKey::new(
            "production",
            "c0ffee00-0000-0000-0000-000000000001",
            "customers",
        );
        assert_eq!(
            key.to_string(),
            "production/c0ffee00-0000-0000-0000-000000000001/customers"
        );
    }
}
