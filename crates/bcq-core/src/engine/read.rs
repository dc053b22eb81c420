//! What a read saw, and where its cursor may go.

use super::seen::SeenIds;
use crate::wire;
use chrono::{DateTime, Utc};

/// Most warnings about records dated in the future kept per read (the
/// count of the rest is reported).
const FUTURE_WARNINGS: usize = 5;

/// What a reader saw of one read.
#[derive(Debug)]
pub struct ReadOutcome {
    /// A read error that ended the unit early.
    pub error: Option<String>,
    /// The read ran until BC's last page (no nextLink): it saw everything.
    pub ended: bool,
    /// A stop was requested during the read.
    pub interrupted: bool,
    /// The newest `lastModifiedDateTime` read, up to the clock ceiling.
    pub max_seen: Option<DateTime<Utc>>,
    /// BC's clock when the read began (the first page's `Date` header), or
    /// bcq's clock minus the overlap when BC sent none: the cursor never
    /// passes it.
    pub ceiling: DateTime<Utc>,
    /// Whether `ceiling` came from BC.
    pub ceiling_from_bc: bool,
    /// The ids read.
    pub seen: SeenIds,
    /// Records read.
    pub records: u64,
    /// Records that did not need a push.
    pub unchanged: u64,
    /// Documents that failed before reaching the destination (render,
    /// fit, download).
    pub failed: u64,
    /// The first of them, with their reasons.
    pub rejected: Vec<crate::destination::Rejected>,
    /// What was worked around, for the summary.
    pub warnings: Vec<String>,
    /// Records dated after the ceiling.
    future: usize,
}

impl ReadOutcome {
    /// An outcome whose ceiling is `fallback` until BC tells its time.
    pub fn new(fallback: DateTime<Utc>) -> ReadOutcome {
        ReadOutcome {
            error: None,
            ended: false,
            interrupted: false,
            max_seen: None,
            ceiling: fallback,
            ceiling_from_bc: false,
            seen: SeenIds::default(),
            records: 0,
            unchanged: 0,
            failed: 0,
            rejected: Vec::new(),
            warnings: Vec::new(),
            future: 0,
        }
    }

    /// Notes a page: its records, and BC's clock from the first one.
    pub fn page<T>(&mut self, page: &bcq_bc::Page<T>) {
        self.records += page.values.len() as u64;
        if !self.ceiling_from_bc
            && let Some(d) = page.date
        {
            self.ceiling = d;
            self.ceiling_from_bc = true;
        }
    }

    /// Notes a record's `lastModifiedDateTime` for the cursor; a date past
    /// BC's clock is reported (`what` names the record) and not taken.
    pub fn saw<R: wire::Fields + ?Sized>(&mut self, record: &R, what: impl FnOnce() -> String) {
        let Some(t) = wire::datetime(record, "lastModifiedDateTime") else {
            return;
        };
        if self.ceiling_from_bc && t > self.ceiling + chrono::Duration::minutes(1) {
            self.future += 1;
            if self.future <= FUTURE_WARNINGS {
                self.warnings.push(format!(
                    "{} has lastModifiedDateTime {t}, after business central's clock ({}); the cursor does not follow it",
                    what(),
                    self.ceiling
                ));
            } else if self.future == FUTURE_WARNINGS + 1 {
                self.warnings
                    .push("more records are dated in the future (not listed)".into());
            }
            return;
        }
        self.max_seen = Some(self.max_seen.map_or(t, |m| m.max(t)));
    }

    /// Where the cursor goes after a successful read from `prior`: the
    /// newest date read, never past the ceiling, never backwards (unless
    /// `rewind`: the prior cursor is known to be wrong). `None`: it stays.
    pub fn next_cursor(&self, prior: Option<DateTime<Utc>>, rewind: bool) -> Option<DateTime<Utc>> {
        let target = match self.max_seen {
            Some(m) => m.min(self.ceiling),
            None if rewind => self.ceiling,
            None => return None,
        };
        match prior {
            Some(p) if !rewind && target <= p => None,
            _ => Some(target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn with_bc_clock(now: &str) -> ReadOutcome {
        let mut r = ReadOutcome::new(t("2000-01-01T00:00:00Z"));
        r.page(&bcq_bc::Page::<()> {
            values: vec![],
            url: "u".into(),
            date: Some(t(now)),
        });
        r
    }

    #[test]
    fn a_record_from_the_future_does_not_move_the_cursor_past_bc_s_clock() {
        let mut r = with_bc_clock("2026-12-02T10:00:00Z");
        r.saw(
            &json!({"lastModifiedDateTime": "2026-12-02T09:00:00Z"}),
            || "a".into(),
        );
        r.saw(
            &json!({"lastModifiedDateTime": "2099-01-01T00:00:00Z"}),
            || "invoice 7".into(),
        );
        assert_eq!(r.max_seen, Some(t("2026-12-02T09:00:00Z")));
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("invoice 7"), "{:?}", r.warnings);
        assert_eq!(r.next_cursor(None, false), Some(t("2026-12-02T09:00:00Z")));
        // Never backwards, never to the same instant.
        assert_eq!(r.next_cursor(Some(t("2026-12-02T09:00:00Z")), false), None);
    }

    #[test]
    fn without_bc_s_clock_the_fallback_caps_the_cursor() {
        let mut r = ReadOutcome::new(t("2026-12-02T10:00:00Z"));
        r.saw(
            &json!({"lastModifiedDateTime": "2026-12-02T11:00:00Z"}),
            || "a".into(),
        );
        // Not reported (bcq's own clock may be off), but capped.
        assert!(r.warnings.is_empty());
        assert_eq!(r.next_cursor(None, false), Some(t("2026-12-02T10:00:00Z")));
    }

    #[test]
    fn a_future_cursor_is_set_back() {
        let r = with_bc_clock("2026-12-02T10:00:00Z");
        assert_eq!(
            r.next_cursor(Some(t("2099-01-01T00:00:00Z")), true),
            Some(t("2026-12-02T10:00:00Z"))
        );
        let mut r = with_bc_clock("2026-12-02T10:00:00Z");
        for _ in 0..(FUTURE_WARNINGS + 3) {
            r.saw(
                &json!({"lastModifiedDateTime": "2099-01-01T00:00:00Z"}),
                || "x".into(),
            );
        }
        assert_eq!(r.warnings.len(), FUTURE_WARNINGS + 1);
    }
}
