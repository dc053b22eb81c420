//! Deferred transitions: the queue of events an emulator's background task
//! applies when their deadline passes (a document moving from one status
//! to the next), and the loop that sleeps until the earliest one.

use std::collections::BTreeMap;
use std::time::Instant;

use tokio::sync::Notify;

/// Events by deadline; events due at the same instant keep scheduling order.
#[derive(Debug)]
pub struct Queue<E> {
    events: BTreeMap<(Instant, u64), E>,
    seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            events: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<E> Queue<E> {
    /// Schedules `ev` at `at`.
    pub fn schedule(&mut self, at: Instant, ev: E) {
        self.seq += 1;
        self.events.insert((at, self.seq), ev);
    }

    /// Removes and returns the earliest event due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<E> {
        let entry = self.events.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.events.keys().next().map(|(t, _)| *t)
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many events are pending.
    pub fn len(&self) -> usize {
        self.events.len()
    }
}

/// Runs until aborted: calls `step(now)`, which applies what is due and
/// returns the next deadline (`None` when nothing is pending or transitions
/// are paused), then sleeps until that deadline or until `wake` is notified
/// (an earlier event was scheduled, or transitions were resumed).
pub async fn drive(wake: &Notify, mut step: impl FnMut(Instant) -> Option<Instant>) {
    loop {
        match step(Instant::now()) {
            Some(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn due_events_come_out_in_deadline_then_scheduling_order() {
        let mut q = Queue::default();
        let t0 = Instant::now();
        q.schedule(t0 + Duration::from_secs(2), "late");
        q.schedule(t0, "first");
        q.schedule(t0, "second");
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_due(t0), Some("first"));
        assert_eq!(q.pop_due(t0), Some("second"));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(q.pop_due(t0 + Duration::from_secs(3)), Some("late"));
        assert!(q.is_empty());
    }
}
