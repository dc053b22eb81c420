//! SIGINT (Ctrl-C), SIGTERM (containers, systemd) and SIGHUP (a closed
//! terminal) all mean "stop cleanly": stop taking work, let what is in
//! flight finish within a grace period, acknowledge what was accepted,
//! close the destination's run, then exit with 128 + the signal's number.
//! A second signal exits at once (the next run closes what is left).

use bcq_core::engine::Stop;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked to stop, once one did.
#[derive(Clone, Debug, Default)]
pub struct Received(Arc<AtomicI32>);

impl Received {
    /// The signal's number (2, 15, 1), or `None`.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// The exit code a process stopped by it returns: 128 + its number.
    pub fn exit_code(&self) -> Option<u8> {
        self.signal().map(|n| (128 + n) as u8)
    }
}

/// Watches the signals; the first requests `stop`, a second exits.
pub fn watch(stop: Stop) -> Received {
    let received = Received::default();
    let r = received.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot watch signals; Ctrl-C ends bcq without closing its run");
            return;
        };
        loop {
            let n = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
                _ = hup.recv() => 1,
            };
            if r.0.swap(n, Ordering::SeqCst) != 0 {
                tracing::warn!(
                    signal = n,
                    "second signal: exiting now; the next run closes what is left"
                );
                std::process::exit(128 + n);
            }
            tracing::warn!(
                signal = n,
                "stopping: finishing what is in flight, then closing the run (a second signal exits at once)"
            );
            stop.request();
        }
    });
    received
}
