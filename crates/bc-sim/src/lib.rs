//! `bc-sim`: an emulator of Business Central online (API v2.0, OData v4) and
//! of the Entra ID token endpoint, for testing and benchmarking the bcq
//! connector without a tenant.
//!
//! Data is generated deterministically from `(seed, scale)` on demand (a
//! million invoices cost no memory), changes live in an overlay, and the wire
//! format follows the real `$metadata` and captured BC responses. Faults and
//! limits (429, 503, 401, truncated bodies, latency) are injectable through the
//! `/_sim` control API or [`Control`]. Webhook subscriptions, their handshake
//! and BC's notifications (grouped, retried, `collection` past 1,000) follow
//! BC's own code; see [`webhooks`].
//!
//! # Layout
//! - [`config`]: [`SimConfig`], [`CustomApiConfig`], [`RegisteredCertificate`]
//! - [`schema`]: the served entity types (generated from `metadata.xml`) and `$metadata`
//! - [`value`]: values, records, BC's JSON shapes (dates, decimals, etags)
//! - [`words`], [`datagen`]: the deterministic data generator; ids encode positions
//! - [`store`]: generated base + overlay of created/updated/deleted records and line edits;
//!   every write is reported as a [`store::Change`]
//! - [`clock`]: the emulator's clock, which tests can move forward
//! - [`webhooks`]: `subscriptions`, `webhookSupportedResources`, notifications
//! - [`filter`], [`query`]: OData `$filter` and the other query options
//! - [`api`]: entity sets, navigation, media, paging
//! - [`auth`]: token endpoint, Entra errors, token validation, certificate assertions
//! - [`limits`], [`faults`]: BC's rate/concurrency limits and fault injection
//! - [`pdf`]: the PDF 1.4 writer behind `pdfDocumentContent`
//! - [`error`]: BC's error wire formats
//! - [`server`], [`control`]: HTTP dispatch, the `/_sim` control API and [`Control`]
//! - [`testkit`]: a fixed test certificate and an assertion signer

#![warn(missing_docs)]

pub mod api;
pub mod attachments;
pub mod auth;
pub mod clock;
pub mod config;
pub mod control;
pub mod datagen;
pub mod error;
pub mod faults;
pub mod filter;
pub mod limits;
pub mod pdf;
pub mod permissions;
pub mod query;
pub mod schema;
pub mod server;
pub mod store;
pub mod testkit;
pub mod value;
pub mod webhooks;
pub mod words;

pub use config::{CustomApiConfig, RegisteredCertificate, SimConfig};
pub use control::{Control, ControlError, Touch};
pub use datagen::BASE_MAX_LAST_MODIFIED;
pub use faults::Fault;
pub use server::Counts;
pub use testkit::{sign_client_assertion, test_certificate};
pub use webhooks::{FlushReport, SubscriptionInfo, Unreachable, WebhookCounts};

use std::net::SocketAddr;
use std::sync::Arc;
use uuid::Uuid;

/// A company as served in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCompany {
    /// Company id (differs per environment).
    pub id: Uuid,
    /// Company name.
    pub name: String,
}

/// A running emulator.
#[derive(Debug)]
pub struct BcSim {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    control: Control,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// Sends webhook notifications as their jobs fall due.
    webhook_task: tokio::task::JoinHandle<()>,
}

impl BcSim {
    /// Binds `addr` (port 0 allowed) and serves until [`BcSim::stop`].
    pub async fn start(addr: SocketAddr, cfg: SimConfig) -> std::io::Result<BcSim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared::new(cfg, format!("http://{addr}")));
        let app = server::app(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        let webhook_task = tokio::spawn(shared.webhooks.clone().run());
        Ok(BcSim {
            addr,
            control: Control::new(shared.clone()),
            shared,
            shutdown: tx,
            task,
            webhook_task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `{base_url}/{tenant}`; the token endpoint is `authority + "/oauth2/v2.0/token"`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.shared.base_url, self.shared.cfg.tenant)
    }

    /// `{base_url}/v2.0`; the API root is `{api_base}/{tenant}/{env}/api/v2.0`.
    pub fn api_base(&self) -> String {
        format!("{}/v2.0", self.shared.base_url)
    }

    /// `{api_base}/{tenant}/{env}/api/v2.0`.
    pub fn api_root(&self, env: &str) -> String {
        format!(
            "{}/{}/{}/api/v2.0",
            self.api_base(),
            self.shared.cfg.tenant,
            env
        )
    }

    /// Companies of an environment (empty if unknown).
    pub fn companies(&self, env: &str) -> Vec<SimCompany> {
        self.shared
            .env_index(env)
            .map(|e| {
                self.shared.envs[e]
                    .companies
                    .iter()
                    .enumerate()
                    .map(|(i, id)| SimCompany {
                        id: *id,
                        name: datagen::company_name(i),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.shared.cfg
    }

    /// In-process control (same operations as `/_sim`).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops accepting, lets in-flight requests finish, returns when closed;
    /// no notification is sent after.
    pub async fn stop(self) {
        self.webhook_task.abort();
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        let _ = self.webhook_task.await;
    }
}
