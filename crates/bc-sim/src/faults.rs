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
        let i = q.iter().position(|f| {
            let kind_ok = if token_endpoint {
                f.kind == "token_endpoint_down" || f.kind == "status" || f.kind == "latency"
            } else {
                f.kind != "token_endpoint_down"
            };
            kind_ok && f.count > 0 && path.contains(&f.path_contains)
        })?;
        q[i].count -= 1;
        let f = q[i].clone();
        if q[i].count == 0 {
            q.remove(i);
        }
        Some(f)
    }
}
