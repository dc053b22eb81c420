//! Fault injection: a queue of faults, each applied to the next `count`
//! requests whose path contains `path_contains`.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// One fault, as posted to `POST /_sim/faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fault {
    /// Applies to requests whose path contains this ("" = all).
    #[serde(default)]
    pub path_contains: String,
    /// `status`, `latency`, `truncate`, `malformed`, `revoke_tokens`, `token_endpoint_down`.
    pub kind: String,
    /// Status for `status` faults.
    #[serde(default)]
    pub status: Option<u16>,
    /// Retry-After seconds for 429/503.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Delay for `latency` faults.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// How many matching requests it applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Applies to every Nth matching request only (default 1: each one):
    /// `{"every": 100, "count": 1000000}` fails 1% of requests, spread.
    #[serde(default = "one")]
    pub every: u32,
    /// Matching requests seen so far, for `every`.
    #[serde(skip)]
    seen: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault of `kind` for requests whose path contains `path_contains`, once.
    pub fn new(kind: &str, path_contains: &str) -> Fault {
        Fault {
            path_contains: path_contains.to_string(),
            kind: kind.to_string(),
            status: None,
            retry_after_secs: None,
            latency_ms: None,
            count: 1,
            every: 1,
            seen: 0,
        }
    }

    /// A `status` fault (429/503 carry `Retry-After: retry_after_secs`, default 1).
    pub fn status(path_contains: &str, status: u16, count: u32) -> Fault {
        Fault {
            status: Some(status),
            count,
            ..Fault::new("status", path_contains)
        }
    }

    /// Sets how many matching requests the fault applies to.
    pub fn times(self, count: u32) -> Fault {
        Fault { count, ..self }
    }
}

/// The fault queue.
#[derive(Debug, Default)]
pub struct Faults {
    q: Mutex<Vec<Fault>>,
}

impl Faults {
    /// Adds a fault.
    pub fn push(&self, f: Fault) {
        self.q.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }
    /// Removes all faults.
    pub fn clear(&self) {
        self.q.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    /// Takes one application of the first fault matching `path` whose kind
    /// is accepted by `kinds`.
    pub fn take(&self, path: &str, token_endpoint: bool) -> Option<Fault> {
        let mut q = self.q.lock().unwrap_or_else(|e| e.into_inner());
        let i = q.iter_mut().position(|f| {
            let kind_ok = if token_endpoint {
                f.kind == "token_endpoint_down" || f.kind == "status" || f.kind == "latency"
            } else {
                f.kind != "token_endpoint_down"
            };
            if !(kind_ok && f.count > 0 && path.contains(&f.path_contains)) {
                return false;
            }
            f.seen = f.seen.wrapping_add(1);
            f.every <= 1 || f.seen % f.every == 0
        })?;
        q[i].count -= 1;
        let f = q[i].clone();
        if q[i].count == 0 {
            q.remove(i);
        }
        Some(f)
    }
}

#[cfg(test)]
mod every_tests {
    use super::*;

    #[test]
    fn every_nth_matching_request_is_faulted() {
        let faults = Faults::default();
        faults.push(Fault {
            every: 4,
            ..Fault::status("salesInvoices", 503, 100)
        });
        let hits: Vec<bool> = (0..12)
            .map(|_| faults.take("/companies(x)/salesInvoices", false).is_some())
            .collect();
        assert_eq!(hits.iter().filter(|h| **h).count(), 3);
        assert!(hits[3] && hits[7] && hits[11] && !hits[0]);
        assert!(faults.take("/companies(x)/customers", false).is_none());
    }
}
