//! The pusher: channel → batches → destination, several calls in flight, each
//! call's accepted documents acknowledged in the state store.
//!
//! Batches are cut at the destination's document count or byte budget, whichever
//! comes first. Acknowledgements are committed in groups ([`ACK_GROUP`], or
//! whatever arrived within [`ACK_GROUP_WAIT`]), and all of them before the
//! pusher returns, whatever ended it. On a stop request the pusher sends
//! nothing new, waits for the calls in flight and acknowledges what they
//! accepted.

use super::{Engine, Pending, Unit};
use crate::destination::{DestinationError, Outcome, Rejected};
use crate::document::Document;
use bcq_state::{Ack, RunCounts};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Acknowledgements committed to the state store in one transaction: one
/// SQLite commit per Q response (10 documents) cost 10–22 µs per document,
/// groups of 250 about 4 (`cargo bench -p bcq-state`, docs/PERFORMANCE.md).
pub const ACK_GROUP: usize = 250;

/// The longest an acknowledgement waits for its group to fill, so that a
/// slow sync still records its progress every second or so.
pub const ACK_GROUP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What is kept of a document while the destination has it: enough to
/// acknowledge it, not its content.
struct Sent {
    ack: Ack,
    known: bool,
}

type Call = (Vec<Sent>, Result<Outcome, DestinationError>);

/// What the pusher did.
#[derive(Default)]
pub(super) struct PushResult {
    pub(super) counts: RunCounts,
    pub(super) rejected: Vec<Rejected>,
    pub(super) errors: Vec<String>,
    pub(super) fatal: bool,
    /// It stopped on a stop request.
    pub(super) interrupted: bool,
}

/// Acknowledgements waiting for their transaction.
#[derive(Default)]
struct AckGroup {
    acks: Vec<Ack>,
    /// When the oldest of them arrived.
    since: Option<std::time::Instant>,
}

impl AckGroup {
    fn push(&mut self, ack: Ack) {
        self.since.get_or_insert_with(std::time::Instant::now);
        self.acks.push(ack);
    }

    /// Whether the group is full or has waited long enough.
    fn due(&self) -> bool {
        self.acks.len() >= ACK_GROUP || self.since.is_some_and(|t| t.elapsed() >= ACK_GROUP_WAIT)
    }
}

/// Documents gathered into the next call, cut at `max_docs` documents or
/// `max_bytes` bytes of wire size (a lone document above the budget still
/// goes, alone).
pub(super) struct Batcher {
    max_docs: usize,
    max_bytes: usize,
    docs: Vec<Pending>,
    bytes: usize,
}

impl Batcher {
    pub(super) fn new(max_docs: usize, max_bytes: usize) -> Batcher {
        Batcher {
            max_docs: max_docs.max(1),
            max_bytes,
            docs: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a document; returns the batches it completed (at most two: the
    /// one it did not fit in, and its own when that is full at once).
    pub(super) fn add(&mut self, p: Pending) -> Vec<Vec<Pending>> {
        let mut full = Vec::new();
        let size = p.doc.wire_size();
        if !self.docs.is_empty()
            && (self.docs.len() >= self.max_docs || self.bytes + size > self.max_bytes)
        {
            full.push(self.take());
        }
        self.bytes += size;
        self.docs.push(p);
        if self.docs.len() >= self.max_docs {
            full.push(self.take());
        }
        full
    }

    /// What is gathered, emptying the batcher.
    pub(super) fn take(&mut self) -> Vec<Pending> {
        self.bytes = 0;
        std::mem::take(&mut self.docs)
    }
}

impl Engine {
    /// Sends what arrives on `rx` until it closes, a fatal error, or a
    /// stop request.
    pub(super) async fn push(
        &self,
        unit: &Unit,
        mut rx: mpsc::Receiver<Pending>,
        abort: &AtomicBool,
    ) -> PushResult {
        let mut result = PushResult::default();
        let limits = self.dest.limits();
        let mut batcher = Batcher::new(limits.docs_per_call, limits.bytes_per_call);
        let concurrency = self.cfg.push_concurrency.max(1);
        let mut inflight: JoinSet<Call> = JoinSet::new();
        let mut open = true;
        let mut acks = AckGroup::default();
        let stop = self.cfg.stop.clone();
        // After a stop request, calls in flight get this long to finish.
        let mut grace: Option<tokio::time::Instant> = None;
        loop {
            let want_more = open && inflight.len() < concurrency;
            let until = grace.unwrap_or_else(tokio::time::Instant::now);
            tokio::select! {
                biased;
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    self.settle(done, &mut acks, &mut result, abort);
                    if acks.due() {
                        self.commit_acks(unit, &mut acks, &mut result, abort);
                    }
                }
                _ = stop.wait(), if open => {
                    result.interrupted = true;
                    abort.store(true, Ordering::Relaxed);
                    grace = Some(tokio::time::Instant::now() + self.cfg.grace);
                }
                _ = tokio::time::sleep_until(until), if grace.is_some() && !inflight.is_empty() => {
                    // Past the grace period: what is still in flight is
                    // given up, unacknowledged (the next run sends it again).
                    tracing::warn!(calls = inflight.len(), "stopping: calls still in flight after the grace period are abandoned");
                    inflight.abort_all();
                    grace = None;
                }
                item = rx.recv(), if want_more => match item {
                    Some(p) => {
                        for batch in batcher.add(p) {
                            self.spawn_put(&mut inflight, batch);
                        }
                    }
                    None => {
                        open = false;
                        let rest = batcher.take();
                        if !rest.is_empty() {
                            self.spawn_put(&mut inflight, rest);
                        }
                    }
                },
                else => break,
            }
            if abort.load(Ordering::Relaxed) && open {
                // Dropping the receiver stops the reader at its next send;
                // what was gathered and not sent is not acknowledged, so the
                // next run reads it again.
                rx.close();
                open = false;
                batcher.take();
            }
        }
        self.commit_acks(unit, &mut acks, &mut result, abort);
        result
    }

    /// Commits the acknowledgements gathered so far in one transaction.
    fn commit_acks(
        &self,
        unit: &Unit,
        acks: &mut AckGroup,
        result: &mut PushResult,
        abort: &AtomicBool,
    ) {
        if acks.acks.is_empty() {
            return;
        }
        if let Err(e) = self.state().commit_acks(&unit.key, self.run_id, &acks.acks) {
            result.errors.push(format!("state store: {e}"));
            result.fatal = true;
            abort.store(true, Ordering::Relaxed);
        }
        acks.acks.clear();
        acks.since = None;
    }

    fn spawn_put(&self, inflight: &mut JoinSet<Call>, batch: Vec<Pending>) {
        let dest = self.dest.clone();
        // The documents move to the destination; only their acknowledgements stay.
        let (docs, sent): (Vec<Document>, Vec<Sent>) = batch
            .into_iter()
            .map(|p| {
                let ack = Ack {
                    doc_id: p.doc.id.clone(),
                    bc_id: p.bc_id,
                    content_hash: p.hash,
                };
                (
                    p.doc,
                    Sent {
                        ack,
                        known: p.known,
                    },
                )
            })
            .unzip();
        inflight.spawn(async move {
            let r = dest.put(docs).await;
            (sent, r)
        });
    }

    /// Counts a batch's outcome and gathers its acknowledgements.
    fn settle(
        &self,
        done: Result<Call, tokio::task::JoinError>,
        acks: &mut AckGroup,
        result: &mut PushResult,
        abort: &AtomicBool,
    ) {
        let (batch, outcome) = match done {
            Ok(x) => x,
            // Abandoned after a stop: nothing acknowledged, nothing failed.
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                result.errors.push(format!("a push task failed: {e}"));
                result.fatal = true;
                abort.store(true, Ordering::Relaxed);
                return;
            }
        };
        let rejected = match outcome {
            Ok(o) => o.rejected,
            Err(e) => {
                if e.fatal {
                    if !result.fatal {
                        result.errors.push(e.message.clone());
                    }
                    result.fatal = true;
                    abort.store(true, Ordering::Relaxed);
                }
                batch
                    .iter()
                    .map(|s| Rejected {
                        doc_id: s.ack.doc_id.clone(),
                        reason: e.message.clone(),
                    })
                    .collect()
            }
        };
        let refused: HashSet<&str> = rejected.iter().map(|r| r.doc_id.as_str()).collect();
        let before = acks.acks.len();
        for s in batch {
            if refused.contains(s.ack.doc_id.as_str()) {
                continue;
            }
            if s.known {
                result.counts.updated += 1;
            } else {
                result.counts.added += 1;
            }
            acks.push(s.ack);
        }
        self.progress
            .pushed
            .fetch_add((acks.acks.len() - before) as u64, Ordering::Relaxed);
        let mut state = self.state();
        for r in &rejected {
            result.counts.failed += 1;
            self.progress.failed.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = state.record_failure(self.run_id, &r.doc_id, &r.reason) {
                tracing::error!(error = %e, "could not record a failure in the state store");
            }
        }
        result.rejected.extend(rejected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::ContentType;

    fn pending(id: &str, bytes: usize) -> Pending {
        Pending {
            doc: Document {
                id: id.into(),
                title: "t".into(),
                content_type: ContentType::Markdown,
                content: vec![b'x'; bytes],
                attributes: Vec::new(),
                access: None,
            },
            hash: [0; 32],
            bc_id: id.into(),
            known: false,
        }
    }

    fn ids(b: &[Pending]) -> Vec<&str> {
        b.iter().map(|p| p.doc.id.as_str()).collect()
    }

    #[test]
    fn batches_are_cut_at_the_count_or_the_byte_budget() {
        let mut b = Batcher::new(3, 10_000);
        assert!(b.add(pending("a", 10)).is_empty());
        assert!(b.add(pending("b", 10)).is_empty());
        let full = b.add(pending("c", 10));
        assert_eq!(full.len(), 1);
        assert_eq!(ids(&full[0]), ["a", "b", "c"]);
        // A document that would overflow the bytes closes the batch before it.
        assert!(b.add(pending("d", 3000)).is_empty());
        let full = b.add(pending("e", 6000));
        assert_eq!(full.len(), 1);
        assert_eq!(ids(&full[0]), ["d"]);
        // A lone document larger than the budget still goes, alone.
        let full = b.add(pending("huge", 50_000));
        assert_eq!(ids(&full[0]), ["e"]);
        assert_eq!(ids(&b.take()), ["huge"]);
        assert!(b.take().is_empty());
    }
}
