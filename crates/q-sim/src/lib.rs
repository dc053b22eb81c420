//! # q-sim — an Amazon Q Business emulator
//!
//! Serves the Q Business rest-json API (model `qbusiness/service-2.json`,
//! version 2023-11-27) on a local port so that the connector, driven through
//! the unchanged `aws-sdk-qbusiness`, can be tested without AWS. Requests must
//! be SigV4-signed (service `qbusiness`) with the configured credentials;
//! every model constraint of the served operations is checked server-side
//! (the SDK checks none); documents are indexed asynchronously with real text
//! extraction; sync jobs follow Q's state machine; throttling and faults are
//! configurable; state can persist across restarts.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = q_sim::QSim::start("127.0.0.1:0".parse().unwrap(), q_sim::QSimConfig::default()).await?;
//! println!("AWS_ENDPOINT_URL_QBUSINESS={}", sim.endpoint());
//! sim.stop().await;
//! # Ok(()) }
//! ```
//!
//! With the AWS CLI: `AWS_ACCESS_KEY_ID=AKIDBCQSIMEXAMPLE AWS_SECRET_ACCESS_KEY=bcq-sim-secret-key
//! aws qbusiness list-documents --endpoint-url http://127.0.0.1:PORT --region us-east-1
//! --application-id <id> --index-id <id>` (boto3: `endpoint_url=`).
//!
//! ## Choices where AWS documents nothing
//! - Oversized bodies (> `max_body_bytes`): 413 `RequestEntityTooLargeException`,
//!   answered before authentication like AWS's front door.
//! - `failedDocuments[].error.errorCode` uses the model's `ErrorCode` enum
//!   (`InvalidRequest`, `InternalError`), which the SDK parses into variants.
//! - Deleted documents show DELETING, then DELETED, then disappear from ListDocuments.
//! - A job is running (Start → 409) while SYNCING or SYNCING_INDEXING.
//! - Stop with no running job → 409 ConflictException; a job stopped through
//!   the control API (`stop-running`) ends ABORTED.
//! - Job metrics count each document once, with its latest outcome (a document
//!   rejected then re-put successfully is not failed; added then deleted in the
//!   same job counts as deleted). A job ends SUCCEEDED, INCOMPLETE (some
//!   failed) or FAILED (all failed).
//! - Throttling: per-operation token buckets; AWS publishes no TPS quota, the
//!   defaults (10/s for the batch calls) are assumptions.
//! - Custom attributes are checked against the index's declarations when the
//!   document is indexed (not at acceptance); failures surface in ListDocuments.
//! - Without `contentType`, a blob starting with `%PDF-` is a PDF, anything else
//!   plain text; `s3` content cannot be fetched and fails indexing.
//! - Legacy binary Office files and PDFs whose fonts lack a ToUnicode map are
//!   read as far as the simple extractors go.
//!
//! # Layout
//! - [`config`] — [`QSimConfig`].
//! - [`routes`](mod@routes) — the route table ([`routes()`], [`RouteSpec`]) and path matching.
//! - [`server`] — the HTTP front (body limit, SigV4, throttle, faults, dispatch).
//! - [`sigv4`] — signature verification (and a signer for raw-HTTP tests).
//! - [`validate`] — the constraint table taken from the model and the validator.
//! - [`ops`] — one handler per operation (resources, jobs, documents, access).
//! - [`state`] — applications, indices, data sources, documents, groups, jobs.
//! - [`indexer`] — the background task moving documents and jobs through their statuses.
//! - [`extract`], [`pdf`], [`ooxml`] — text extraction per content type
//!   (from [`aws_sim`], shared with the Bedrock emulator).
//! - [`throttle`], [`faults`] — token buckets and fault injection (the
//!   machinery in [`aws_sim`], Q's operations in [`faults::QModel`]).
//! - [`s3fetch`] — reading `content.s3` objects (from [`aws_sim`]).
//! - [`shared`] — state shared by handlers, indexer and control (counters, queue).
//! - [`control`] — the `/_sim` control API and its in-process mirror [`Control`].
//! - [`persist`] — atomic JSON persistence.
//! - [`error`] — [`QError`], rendered in the rest-json error format.

#![warn(missing_docs)]

pub mod config;
pub mod control;
pub mod error;
pub mod faults;
pub mod indexer;
pub mod ops;
pub mod persist;
pub mod routes;
pub mod server;
pub mod shared;
pub mod sigv4;
pub mod state;
pub mod validate;

pub use aws_sim::{extract, ooxml, pdf, s3fetch, throttle};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use config::QSimConfig;
pub use control::{Control, DocumentDump, JobDump};
pub use error::QError;
pub use faults::FaultSpec;
pub use routes::{RouteSpec, routes};
pub use shared::Counts;

use shared::{Event, Inner, Shared};

/// How often dirty state is written when `data_dir` is set.
const PERSIST_EVERY: Duration = Duration::from_millis(100);

/// A running emulator. Dropping it without [`QSim::stop`] aborts its tasks.
pub struct QSim {
    serving: aws_sim::serve::Serving,
    shared: Arc<Shared>,
    control: Control,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn reschedule(inner: &mut Inner, delay: Duration) {
    let now = Instant::now();
    let mut events = Vec::new();
    for a in inner.state.apps.values() {
        for i in a.indices.values() {
            for d in i.documents.values() {
                if matches!(
                    d.status.as_str(),
                    "RECEIVED" | "PROCESSING" | "DELETING" | "DELETED"
                ) {
                    for stage in [1u8, 2] {
                        events.push(Event::Doc {
                            app: a.id.clone(),
                            index: i.id.clone(),
                            doc: d.id.clone(),
                            generation: d.generation,
                            stage,
                        });
                    }
                }
            }
            for ds in i.data_sources.values() {
                for j in ds.jobs.iter().filter(|j| j.status == "SYNCING_INDEXING") {
                    events.push(Event::Job {
                        app: a.id.clone(),
                        index: i.id.clone(),
                        ds: ds.id.clone(),
                        exec: j.execution_id.clone(),
                    });
                }
            }
        }
    }
    for ev in events {
        inner.schedule(now + delay, ev);
    }
}

impl QSim {
    /// Starts the emulator on `addr` (port 0 picks a free port), creating the
    /// configured application, index and data source (or reloading state
    /// from `data_dir`).
    pub async fn start(addr: SocketAddr, cfg: QSimConfig) -> std::io::Result<QSim> {
        let mut state = match &cfg.data_dir {
            Some(d) => persist::load(d)?,
            None => state::State::default(),
        };
        state.ensure_precreated(&cfg.application_id, &cfg.index_id, &cfg.data_source_id);
        let mut inner = Inner {
            state,
            queue: Default::default(),
            counts: Counts::default(),
            faults: Default::default(),
            throttle: aws_sim::throttle::Throttle::new(cfg.rates.clone()),
            dirty: true,
            paused: false,
        };
        reschedule(&mut inner, cfg.indexing_delay);
        let shared = Arc::new(Shared {
            cfg,
            inner: Mutex::new(inner),
            wake: tokio::sync::Notify::new(),
        });
        let serving =
            aws_sim::serve::Serving::bind(addr, server::app(shared.clone()), "q-sim").await?;
        let mut tasks = vec![tokio::spawn(indexer::run(shared.clone()))];
        if let Some(dir) = shared.cfg.data_dir.clone() {
            let s = shared.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PERSIST_EVERY).await;
                    if let Err(e) = flush(&s, &dir) {
                        tracing::warn!(error = %e, "q-sim could not persist state");
                    }
                }
            }));
        }
        Ok(QSim {
            serving,
            control: Control::new(shared.clone()),
            shared,
            tasks,
        })
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL_QBUSINESS`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Configuration in use.
    pub fn config(&self) -> &QSimConfig {
        &self.shared.cfg
    }

    /// In-process control API.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops serving (in-flight requests finish), stops the tasks and writes
    /// the state one last time when `data_dir` is set.
    pub async fn stop(mut self) {
        self.serving.stop().await;
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        if let Some(dir) = self.shared.cfg.data_dir.clone() {
            self.shared.lock().dirty = true;
            if let Err(e) = flush(&self.shared, &dir) {
                tracing::warn!(error = %e, "q-sim could not persist state on stop");
            }
        }
    }
}

impl Drop for QSim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Writes the state when it changed (serialised under the lock, written outside it).
fn flush(shared: &Shared, dir: &std::path::Path) -> std::io::Result<()> {
    let snapshot = {
        let mut inner = shared.lock();
        if !inner.dirty {
            return Ok(());
        }
        inner.dirty = false;
        inner.state.clone()
    };
    persist::save(dir, &snapshot)
}
