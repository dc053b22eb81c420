//! The changes one subscription collects between two jobs, aggregated as
//! codeunit 6154 does: repeated updates of a record merge, anything else
//! stays separate in time order, and past the limit everything becomes one
//! `collection`.

use crate::store::ChangeKind;
use std::collections::HashMap;
use uuid::Uuid;

/// One aggregated change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pending {
    pub id: Uuid,
    pub kind: ChangeKind,
    pub at_ms: i64,
}

/// A window turned `collection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Collection {
    /// Time of the window's first change.
    pub first_ms: i64,
    /// Time of its last change.
    pub last_ms: i64,
}

/// The changes of one subscription since its last delivery.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    entries: Vec<Pending>,
    /// Index of each record's last entry.
    last_of: HashMap<Uuid, usize>,
    collection: Option<Collection>,
    /// A deletion in the window drops the collection's filter.
    any_deleted: bool,
}

impl Window {
    /// Adds a change; `max` entries at most before the window becomes a
    /// `collection`.
    pub fn add(&mut self, id: Uuid, kind: ChangeKind, at_ms: i64, max: usize) {
        self.any_deleted |= kind == ChangeKind::Deleted;
        if let Some(c) = &mut self.collection {
            c.last_ms = c.last_ms.max(at_ms);
            return;
        }
        if kind == ChangeKind::Updated
            && let Some(&i) = self.last_of.get(&id)
            && self.entries[i].kind == ChangeKind::Updated
        {
            self.entries[i].at_ms = self.entries[i].at_ms.max(at_ms);
            return;
        }
        if self.entries.len() >= max {
            let first_ms = self.entries.iter().map(|e| e.at_ms).min().unwrap_or(at_ms);
            self.collection = Some(Collection {
                first_ms,
                last_ms: at_ms,
            });
            self.entries.clear();
            self.last_of.clear();
            return;
        }
        self.last_of.insert(id, self.entries.len());
        self.entries.push(Pending { id, kind, at_ms });
    }

    /// Puts `later` (changes that came while this window was being sent)
    /// after this one, as BC merges new notifications into failed ones.
    pub fn absorb(&mut self, later: Window, max: usize) {
        self.any_deleted |= later.any_deleted;
        match later.collection {
            Some(c) => {
                let first_ms = self
                    .entries
                    .iter()
                    .map(|e| e.at_ms)
                    .chain(self.collection.map(|x| x.first_ms))
                    .fold(c.first_ms, i64::min);
                let last_ms = self
                    .collection
                    .map_or(c.last_ms, |x| x.last_ms.max(c.last_ms));
                self.collection = Some(Collection { first_ms, last_ms });
                self.entries.clear();
                self.last_of.clear();
            }
            None => {
                for e in later.entries {
                    self.add(e.id, e.kind, e.at_ms, max);
                }
            }
        }
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.collection.is_none()
    }

    /// Waiting notifications (a collection is one).
    pub fn len(&self) -> usize {
        if self.collection.is_some() {
            1
        } else {
            self.entries.len()
        }
    }

    /// Whether the window has become a collection.
    pub fn is_collection(&self) -> bool {
        self.collection.is_some()
    }

    /// The single entries (empty for a collection).
    pub fn entries(&self) -> &[Pending] {
        &self.entries
    }

    /// The collection and whether its resource keeps the
    /// `lastModifiedDateTime` filter (not when the window holds a deletion).
    pub fn collection(&self) -> Option<(Collection, bool)> {
        self.collection.map(|c| (c, !self.any_deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn updates_merge_created_and_deleted_stay_separate() {
        let mut w = Window::default();
        w.add(id(1), ChangeKind::Created, 10, 1000);
        w.add(id(1), ChangeKind::Updated, 20, 1000);
        w.add(id(1), ChangeKind::Updated, 30, 1000);
        w.add(id(2), ChangeKind::Updated, 40, 1000);
        w.add(id(2), ChangeKind::Deleted, 50, 1000);
        let kinds: Vec<(u128, ChangeKind, i64)> = w
            .entries()
            .iter()
            .map(|e| (e.id.as_u128(), e.kind, e.at_ms))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, ChangeKind::Created, 10),
                (1, ChangeKind::Updated, 30),
                (2, ChangeKind::Updated, 40),
                (2, ChangeKind::Deleted, 50),
            ]
        );
    }

    #[test]
    fn more_than_max_becomes_one_collection() {
        let mut w = Window::default();
        for i in 0..3 {
            w.add(id(i), ChangeKind::Updated, 100 + i as i64, 3);
        }
        assert!(!w.is_collection());
        // Updates of a record already waiting still merge at the limit.
        w.add(id(0), ChangeKind::Updated, 150, 3);
        assert!(!w.is_collection());
        w.add(id(9), ChangeKind::Created, 200, 3);
        w.add(id(10), ChangeKind::Updated, 300, 3);
        assert_eq!(w.len(), 1);
        let (c, filtered) = w.collection().unwrap();
        // The earliest waiting change: record 0's merged update is at 150.
        assert_eq!((c.first_ms, c.last_ms, filtered), (101, 300, true));
        w.add(id(11), ChangeKind::Deleted, 400, 3);
        assert_eq!(
            w.collection().unwrap(),
            (
                Collection {
                    first_ms: 101,
                    last_ms: 400
                },
                false
            )
        );
    }

    #[test]
    fn absorb_merges_later_changes_after_failed_ones() {
        let mut failed = Window::default();
        failed.add(id(1), ChangeKind::Updated, 10, 1000);
        let mut later = Window::default();
        later.add(id(1), ChangeKind::Updated, 20, 1000);
        later.add(id(2), ChangeKind::Created, 30, 1000);
        failed.absorb(later, 1000);
        assert_eq!(failed.len(), 2);
        assert_eq!(failed.entries()[0].at_ms, 20);
        // Past the limit, the collection starts at the earliest waiting
        // change (merged updates carry their latest time, as in BC).

        let mut big = Window::default();
        for i in 0..5 {
            big.add(id(100 + i), ChangeKind::Created, 50 + i as i64, 2);
        }
        failed.absorb(big, 2);
        assert_eq!(
            failed.collection().unwrap().0,
            Collection {
                first_ms: 20,
                last_ms: 54
            }
        );
    }
}
