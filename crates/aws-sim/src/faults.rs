//! Fault injection, configured through each emulator's control API
//! (`POST /_sim/faults`): which calls fail, slow down or are throttled, and
//! which documents fail indexing. The faults are generic; what an operation
//! may answer comes from each emulator's route table ([`FaultModel`]).

use serde::{Deserialize, Serialize};

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
    /// Error shape of a `status` fault, when the status alone does not name
    /// one (bedrock-agent-runtime answers both `ValidationException` and
    /// `ServiceQuotaExceededException` with 400); wins over `status`.
    #[serde(default)]
    pub error: Option<String>,
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
    /// Hit each matching call with this probability (0 to 1), drawn from a
    /// generator seeded with the emulator's fault seed: the same seed and
    /// the same calls give the same hits.
    #[serde(default)]
    pub probability: Option<f64>,
}

impl FaultSpec {
    /// A spec of `kind` for `operation`, every other member unset.
    pub fn new(kind: &str, operation: Option<&str>) -> FaultSpec {
        FaultSpec {
            operation: operation.map(str::to_string),
            kind: kind.to_string(),
            status: None,
            error: None,
            count: None,
            latency_ms: None,
            fail_documents: None,
            document_id_contains: None,
            every: None,
            probability: None,
        }
    }
}

/// Why a fault spec was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    /// The operation is not served (or does not take this kind).
    #[error("unknown operation {0}")]
    UnknownOperation(String),
    /// A probability outside 0..=1.
    #[error("probability {0} is not between 0 and 1")]
    Probability(f64),
    /// The model does not list that error for the operation.
    #[error("{error} is not a modeled error of {operation}")]
    NotModeled {
        /// `status 402` or the error shape asked for.
        error: String,
        /// Operation.
        operation: String,
    },
}

/// What a fault does to the call being dispatched.
#[derive(Debug, Clone)]
pub enum Effect<E> {
    /// Answer this error.
    Fail(E),
    /// Answer this throttling error (a `throttle_burst`: counted as throttled).
    Throttle(E),
    /// Sleep first.
    Delay(std::time::Duration),
    /// Fail the first N documents of the batch.
    PartialFailure(usize),
}

/// What an emulator tells the fault table about its operations.
pub trait FaultModel<E> {
    /// Whether the operation is served.
    fn serves(&self, operation: &str) -> bool;
    /// The error a `status` fault answers: the shape named by `error`, or
    /// the operation's modeled error with HTTP `status`; `None` when the
    /// operation's model does not list it.
    fn modeled_error(&self, operation: &str, status: Option<u16>, error: Option<&str>)
    -> Option<E>;
    /// The throttling error of the operation (for `throttle_burst` and
    /// the token buckets).
    fn throttling(&self, operation: &str) -> E;
    /// Whether an error is the throttling one (a `status` 429 fault counts
    /// as a throttled call).
    fn is_throttling(&self, e: &E) -> bool;
    /// Operations that take a `partial_failure` fault (batch calls whose
    /// 200 answer can carry failed items).
    fn partial_failure_operations(&self) -> &[&str];
}

/// One active fault.
#[derive(Debug)]
struct Active<E> {
    spec: FaultSpec,
    /// Hits left.
    left: u64,
    /// Matching calls seen (for `every`).
    seen: u64,
    /// What a hit does (`None` for `index_failure`, which no call triggers).
    effect: Option<Effect<E>>,
}

/// Active faults.
#[derive(Debug)]
pub struct Faults<E> {
    active: Vec<Active<E>>,
    /// State of the seeded generator of `probability` faults (splitmix64).
    rng: u64,
}

impl<E> Default for Faults<E> {
    fn default() -> Self {
        Faults::with_seed(0)
    }
}

impl<E> Faults<E> {
    /// An empty table whose `probability` faults draw from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Faults {
            active: Vec::new(),
            rng: seed,
        }
    }

    /// A uniform draw in `[0, 1)` (splitmix64: tiny, seedable, good enough
    /// to spread injected faults).
    fn draw(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl<E: Clone> Faults<E> {
    /// Validates and adds a fault.
    pub fn add(&mut self, f: FaultSpec, model: &dyn FaultModel<E>) -> Result<(), FaultError> {
        let missing = |member| FaultError::Missing {
            kind: f.kind.clone(),
            member,
        };
        let need_op = || {
            let op = f.operation.clone().ok_or(missing("operation"))?;
            if !model.serves(&op) {
                return Err(FaultError::UnknownOperation(op));
            }
            Ok(op)
        };
        let effect = match f.kind.as_str() {
            "status" => {
                let op = need_op()?;
                if f.status.is_none() && f.error.is_none() {
                    return Err(missing("status"));
                }
                let e = model
                    .modeled_error(&op, f.status, f.error.as_deref())
                    .ok_or_else(|| FaultError::NotModeled {
                        error: match (&f.error, f.status) {
                            (Some(e), _) => e.clone(),
                            (None, s) => format!("status {}", s.unwrap_or_default()),
                        },
                        operation: op.clone(),
                    })?;
                Some(Effect::Fail(e))
            }
            "latency" => {
                need_op()?;
                let ms = f.latency_ms.ok_or(missing("latency_ms"))?;
                Some(Effect::Delay(std::time::Duration::from_millis(ms)))
            }
            "throttle_burst" => Some(Effect::Throttle(model.throttling(&need_op()?))),
            "partial_failure" => {
                let op = need_op()?;
                if !model.partial_failure_operations().contains(&op.as_str()) {
                    return Err(FaultError::UnknownOperation(op));
                }
                Some(Effect::PartialFailure(
                    f.fail_documents.ok_or(missing("fail_documents"))?,
                ))
            }
            "index_failure" => {
                f.document_id_contains
                    .as_ref()
                    .ok_or(missing("document_id_contains"))?;
                None
            }
            other => return Err(FaultError::UnknownKind(other.to_string())),
        };
        if let Some(p) = f.probability.filter(|p| !(0.0..=1.0).contains(p)) {
            return Err(FaultError::Probability(p));
        }
        let left = f
            .count
            .unwrap_or(if effect.is_none() { u64::MAX } else { 1 });
        self.active.push(Active {
            spec: f,
            left,
            seen: 0,
            effect,
        });
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
            .map(|a| (a.spec.clone(), a.left))
            .collect()
    }

    /// Consumes the faults that hit this call of `op`.
    pub fn take(&mut self, op: &str) -> Vec<Effect<E>> {
        let mut out = Vec::new();
        for i in 0..self.active.len() {
            let a = &mut self.active[i];
            if a.effect.is_none() || a.spec.operation.as_deref() != Some(op) || a.left == 0 {
                continue;
            }
            a.seen += 1;
            if a.spec
                .every
                .is_some_and(|n| n > 1 && !a.seen.is_multiple_of(n))
            {
                continue;
            }
            if let Some(p) = a.spec.probability
                && self.draw() >= p
            {
                continue;
            }
            let a = &mut self.active[i];
            a.left -= 1;
            out.extend(a.effect.clone());
        }
        self.active.retain(|a| a.left > 0);
        out
    }

    /// Whether a document id must fail indexing (consumes one count).
    pub fn index_failure(&mut self, doc_id: &str) -> bool {
        for a in self.active.iter_mut() {
            if a.effect.is_none()
                && a.left > 0
                && a.spec
                    .document_id_contains
                    .as_deref()
                    .is_some_and(|s| doc_id.contains(s))
            {
                a.left -= 1;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two operations; `Put` may answer 500 and 429, `List` only 500.
    struct Model;

    impl FaultModel<String> for Model {
        fn serves(&self, op: &str) -> bool {
            op == "Put" || op == "List"
        }
        fn modeled_error(
            &self,
            op: &str,
            status: Option<u16>,
            error: Option<&str>,
        ) -> Option<String> {
            let name = match (error, status) {
                (Some(e), _) => e,
                (None, Some(500)) => "InternalServerException",
                (None, Some(429)) => "ThrottlingException",
                _ => return None,
            };
            (name == "InternalServerException" || op == "Put").then(|| name.to_string())
        }
        fn throttling(&self, _: &str) -> String {
            "ThrottlingException".into()
        }
        fn is_throttling(&self, e: &String) -> bool {
            e == "ThrottlingException"
        }
        fn partial_failure_operations(&self) -> &[&str] {
            &["Put"]
        }
    }

    #[test]
    fn every_nth_call_is_hit() {
        let mut f = Faults::default();
        f.add(
            FaultSpec {
                count: Some(100),
                status: Some(500),
                every: Some(5),
                ..FaultSpec::new("status", Some("Put"))
            },
            &Model,
        )
        .unwrap();
        let hits: Vec<bool> = (0..20).map(|_| !f.take("Put").is_empty()).collect();
        assert_eq!(hits.iter().filter(|h| **h).count(), 4);
        assert!(hits[4] && !hits[0]);
    }

    #[test]
    fn refuses_unmodeled_errors_and_unknown_operations() {
        let mut f = Faults::default();
        let mut s = FaultSpec::new("status", Some("List"));
        s.status = Some(429);
        assert_eq!(
            f.add(s.clone(), &Model),
            Err(FaultError::NotModeled {
                error: "status 429".into(),
                operation: "List".into()
            })
        );
        s.error = Some("ThrottlingException".into());
        assert!(matches!(
            f.add(s.clone(), &Model),
            Err(FaultError::NotModeled { .. })
        ));
        s.operation = Some("Nope".into());
        assert!(matches!(
            f.add(s.clone(), &Model),
            Err(FaultError::UnknownOperation(_))
        ));
        s.operation = Some("Put".into());
        f.add(s, &Model).unwrap();
        assert!(matches!(f.take("Put")[..], [Effect::Fail(ref e)] if e == "ThrottlingException"));
        assert!(f.take("Put").is_empty());
        let p = FaultSpec {
            fail_documents: Some(1),
            ..FaultSpec::new("partial_failure", Some("List"))
        };
        assert!(f.add(p, &Model).is_err());
    }

    #[test]
    fn probability_faults_follow_the_seed() {
        let hits = |seed| {
            let mut f = Faults::with_seed(seed);
            f.add(
                FaultSpec {
                    status: Some(500),
                    count: Some(u64::MAX),
                    probability: Some(0.3),
                    ..FaultSpec::new("status", Some("Put"))
                },
                &Model,
            )
            .unwrap();
            (0..200)
                .map(|_| !f.take("Put").is_empty())
                .collect::<Vec<bool>>()
        };
        let a = hits(7);
        assert_eq!(a, hits(7));
        assert_ne!(a, hits(8));
        let n = a.iter().filter(|h| **h).count();
        assert!((30..=90).contains(&n), "{n} of 200 at p=0.3");
        let mut f: Faults<String> = Faults::default();
        let bad = FaultSpec {
            status: Some(500),
            probability: Some(1.5),
            ..FaultSpec::new("status", Some("Put"))
        };
        assert_eq!(f.add(bad, &Model), Err(FaultError::Probability(1.5)));
    }

    #[test]
    fn index_failures_match_substrings_until_used_up() {
        let mut f: Faults<String> = Faults::default();
        f.add(
            FaultSpec {
                document_id_contains: Some("bad".into()),
                count: Some(1),
                ..FaultSpec::new("index_failure", None)
            },
            &Model,
        )
        .unwrap();
        assert!(!f.index_failure("good"));
        assert!(f.take("Put").is_empty());
        assert!(f.index_failure("a-bad-one"));
        assert!(!f.index_failure("a-bad-one"));
    }
}
