//! Fault injection, configured through the control API.

use serde::{Deserialize, Serialize};

use crate::error::QError;

/// A fault as posted to `POST /_sim/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Operation name the fault applies to (any operation for `index_failure`).
    #[serde(default)]
    pub operation: Option<String>,
    /// `status` | `latency` | `throttle_burst` | `partial_failure` | `index_failure`.
    pub kind: String,
    /// HTTP status of a `status` fault (a modeled error of the operation).
    #[serde(default)]
    pub status: Option<u16>,
    /// How many calls the fault hits (default 1; `index_failure` defaults to unlimited).
    #[serde(default)]
    pub count: Option<u64>,
    /// Delay of a `latency` fault.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Documents failed by a `partial_failure` fault (the first N of the batch).
    #[serde(default)]
    pub fail_documents: Option<usize>,
    /// Substring selecting documents for `index_failure`.
    #[serde(default)]
    pub document_id_contains: Option<String>,
    /// Hit only every Nth call of the operation (default: each call):
    /// `{"every": 100, "count": 1000000}` fails 1% of calls, spread.
    #[serde(default)]
    pub every: Option<u64>,
}

/// Why a fault spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// Unknown kind.
    #[error("unknown fault kind {0}")]
    UnknownKind(String),
    /// A member the kind needs is missing.
    #[error("fault kind {kind} needs {member}")]
    Missing {
        /// Kind.
        kind: String,
        /// Missing member.
        member: &'static str,
    },
    /// The operation is not served.
    #[error("unknown operation {0}")]
    UnknownOperation(String),
    /// The model does not list that error for the operation.
    #[error("status {status} is not a modeled error of {operation}")]
    NotModeled {
        /// Status.
        status: u16,
        /// Operation.
        operation: String,
    },
}

/// What a fault does to the call being dispatched.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Answer this error.
    Fail(QError),
    /// Sleep first.
    Delay(std::time::Duration),
    /// Fail the first N documents of the batch with `InternalError`.
    PartialFailure(usize),
}

/// Active faults.
#[derive(Debug, Default)]
pub struct Faults {
    /// Each fault, its remaining count and the matching calls seen (for `every`).
    active: Vec<(FaultSpec, u64, u64)>,
}

impl Faults {
    /// Validates and adds a fault.
    pub fn add(&mut self, f: FaultSpec) -> Result<(), FaultError> {
        let need_op = || {
            let op = f.operation.clone().ok_or(FaultError::Missing {
                kind: f.kind.clone(),
                member: "operation",
            })?;
            if !crate::routes::routes().iter().any(|r| r.operation == op) {
                return Err(FaultError::UnknownOperation(op));
            }
            Ok(op)
        };
        match f.kind.as_str() {
            "status" => {
                let op = need_op()?;
                let status = f.status.ok_or(FaultError::Missing {
                    kind: f.kind.clone(),
                    member: "status",
                })?;
                let ok = QError::from_status(status, &op)
                    .is_some_and(|e| crate::routes::allows_error(&op, e.type_name()));
                if !ok {
                    return Err(FaultError::NotModeled {
                        status,
                        operation: op,
                    });
                }
            }
            "latency" => {
                need_op()?;
                f.latency_ms.ok_or(FaultError::Missing {
                    kind: f.kind.clone(),
                    member: "latency_ms",
                })?;
            }
            "throttle_burst" => {
                need_op()?;
            }
            "partial_failure" => {
                let op = need_op()?;
                if op != "BatchPutDocument" && op != "BatchDeleteDocument" {
                    return Err(FaultError::UnknownOperation(op));
                }
                f.fail_documents.ok_or(FaultError::Missing {
                    kind: f.kind.clone(),
                    member: "fail_documents",
                })?;
            }
            "index_failure" => {
                f.document_id_contains.as_ref().ok_or(FaultError::Missing {
                    kind: f.kind.clone(),
                    member: "document_id_contains",
                })?;
            }
            other => return Err(FaultError::UnknownKind(other.to_string())),
        }
        let n = f.count.unwrap_or(if f.kind == "index_failure" {
            u64::MAX
        } else {
            1
        });
        self.active.push((f, n, 0));
        Ok(())
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// Active faults with their remaining counts.
    pub fn list(&self) -> Vec<(FaultSpec, u64)> {
        self.active
            .iter()
            .map(|(f, n, _)| (f.clone(), *n))
            .collect()
    }

    /// Consumes the faults that hit this call of `op`.
    pub fn take(&mut self, op: &str) -> Vec<Effect> {
        let mut out = Vec::new();
        for (f, left, seen) in self.active.iter_mut() {
            if f.kind == "index_failure" || f.operation.as_deref() != Some(op) || *left == 0 {
                continue;
            }
            *seen += 1;
            if f.every.is_some_and(|n| n > 1 && *seen % n != 0) {
                continue;
            }
            *left -= 1;
            out.push(match f.kind.as_str() {
                "status" => Effect::Fail(
                    QError::from_status(f.status.unwrap_or(500), op)
                        .unwrap_or_else(|| QError::Internal("injected fault".into())),
                ),
                "latency" => {
                    Effect::Delay(std::time::Duration::from_millis(f.latency_ms.unwrap_or(0)))
                }
                "throttle_burst" => Effect::Fail(QError::Throttling("Rate exceeded".into())),
                _ => Effect::PartialFailure(f.fail_documents.unwrap_or(0)),
            });
        }
        self.active.retain(|(_, left, _)| *left > 0);
        out
    }

    /// Whether a document id must fail indexing (consumes one count).
    pub fn index_failure(&mut self, doc_id: &str) -> bool {
        for (f, left, _) in self.active.iter_mut() {
            if f.kind == "index_failure"
                && *left > 0
                && f.document_id_contains
                    .as_deref()
                    .is_some_and(|s| doc_id.contains(s))
            {
                *left -= 1;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_call_is_hit() {
        let mut f = Faults::default();
        f.add(FaultSpec {
            count: Some(100),
            status: Some(500),
            every: Some(5),
            ..spec("status", "BatchPutDocument")
        })
        .unwrap();
        let hits: Vec<bool> = (0..20)
            .map(|_| !f.take("BatchPutDocument").is_empty())
            .collect();
        assert_eq!(hits.iter().filter(|h| **h).count(), 4);
        assert!(hits[4] && !hits[0]);
    }

    fn spec(kind: &str, op: &str) -> FaultSpec {
        FaultSpec {
            operation: Some(op.into()),
            kind: kind.into(),
            status: None,
            count: None,
            latency_ms: None,
            fail_documents: None,
            document_id_contains: None,
            every: None,
        }
    }

    #[test]
    fn refuses_unmodeled_status() {
        let mut f = Faults::default();
        let mut s = spec("status", "ListDocuments");
        s.status = Some(402);
        assert!(matches!(
            f.add(s.clone()),
            Err(FaultError::NotModeled { .. })
        ));
        s.operation = Some("BatchPutDocument".into());
        f.add(s).unwrap();
        assert_eq!(f.take("BatchPutDocument").len(), 1);
        assert!(f.take("BatchPutDocument").is_empty());
    }
}
