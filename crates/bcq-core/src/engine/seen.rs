//! The BC ids a read has seen: to find duplicates while reading, and the
//! complete set afterwards, for deletions.
//!
//! A million ids must stay small (issue 8's memory target) and a lookup
//! cheap. Ids are kept as 64-bit keys in a sorted `Vec` (8 bytes each,
//! binary search) plus a small hash map of the most recent ones, merged into
//! the sorted part whenever it reaches [`RECENT`]; the recent map also keeps
//! each record's number, so that a duplicate found nearby is reported with
//! both numbers.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// Ids kept in the recent map before a merge (about 2 MB with numbers).
pub const RECENT: usize = 32 * 1024;

/// The 64-bit key of a BC id. A collision can only make bcq keep a
/// document it should delete (or report a duplicate that is not one),
/// never delete one BC has.
pub fn id_key(bc_id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bc_id.hash(&mut h);
    h.finish()
}

/// What [`SeenIds::insert`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// The first time this read sees the id.
    First,
    /// The id was already read; the earlier record's number when it is
    /// still known (it was among the last [`RECENT`] records).
    Again {
        /// The number of the record read first.
        first_number: Option<String>,
    },
}

/// The set of ids of one read.
#[derive(Debug, Default)]
pub struct SeenIds {
    /// Merged keys, sorted, without duplicates.
    sorted: Vec<u64>,
    /// Keys since the last merge, with their record's number.
    recent: HashMap<u64, Box<str>>,
}

impl SeenIds {
    /// Notes the id `key` of the record numbered `number`.
    pub fn insert(&mut self, key: u64, number: &str) -> Seen {
        if let Some(n) = self.recent.get(&key) {
            return Seen::Again {
                first_number: Some(n.to_string()),
            };
        }
        if self.sorted.binary_search(&key).is_ok() {
            return Seen::Again { first_number: None };
        }
        self.recent.insert(key, number.into());
        if self.recent.len() >= RECENT {
            self.merge();
        }
        Seen::First
    }

    /// How many distinct ids were seen.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn merge(&mut self) {
        self.sorted.extend(self.recent.drain().map(|(k, _)| k));
        // Sorted runs plus one unsorted tail: unstable sort needs no buffer.
        self.sorted.sort_unstable();
    }

    /// The keys, sorted, for `contains`-style binary searches.
    pub fn into_sorted(mut self) -> Vec<u64> {
        self.merge();
        self.sorted.shrink_to_fit();
        self.sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_near_and_far() {
        let mut s = SeenIds::default();
        assert_eq!(s.insert(id_key("a"), "101"), Seen::First);
        assert_eq!(
            s.insert(id_key("a"), "102"),
            Seen::Again {
                first_number: Some("101".into())
            }
        );
        // Past a merge the id is still found, without its number.
        for i in 0..RECENT {
            assert_eq!(s.insert(id_key(&format!("x{i}")), "n"), Seen::First);
        }
        assert_eq!(
            s.insert(id_key("a"), "103"),
            Seen::Again { first_number: None }
        );
        assert_eq!(s.len(), RECENT + 1);
        let sorted = s.into_sorted();
        assert_eq!(sorted.len(), RECENT + 1);
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        assert!(sorted.binary_search(&id_key("a")).is_ok());
        assert!(sorted.binary_search(&id_key("b")).is_err());
    }
}
