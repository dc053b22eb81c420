//! bcq-bc: the Business Central online API client of bcq.
//!
//! It gets Entra ID tokens (client secret or certificate assertion), keeps
//! them cached, and issues GETs against BC's API v2.0 that stay inside BC's
//! per-environment budget, retry what is transient, and turn what is not
//! into errors that say what to fix.
//!
//! # Layout
//!
//! - [`secret`]: [`Secret`], a string that never prints.
//! - [`config`]: [`BcConfig`], [`AuthConfig`], [`Credential`], [`RetryConfig`]
//!   and the https-or-loopback URL check.
//! - [`auth`]: the certificate assertion, Entra error advice, the token cache.
//! - [`client`]: [`BcClient`], one budgeted, retried, authenticated GET.
//! - [`paging`]: [`BcClient::pages`], a `Stream` following `@odata.nextLink`.
//! - [`retry`]: backoff with decorrelated jitter, `Retry-After`, the [`Timer`] seam.
//! - [`budget`]: [`RequestBudget`], sliding window plus in-flight semaphore.
//! - [`error`]: [`BcError`] and which errors are retryable.
//! - [`odata`]: [`collection_url`], [`Query`], [`odata_datetime`], [`Company`], [`Page`].
//! - [`stats`]: [`Stats`], request counters.

#![warn(missing_docs)]

pub mod auth;
pub mod budget;
pub mod client;
pub mod config;
pub mod error;
pub mod odata;
pub mod paging;
pub mod retry;
pub mod secret;
pub mod stats;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod test_support;

pub use auth::ClientCertificate;
pub use budget::RequestBudget;
pub use client::{BcClient, Seams};
pub use config::{AuthConfig, BcConfig, Credential, RetryConfig};
pub use error::BcError;
pub use odata::{Company, Page, Query, collection_url, odata_datetime, odata_string};
pub use retry::{Timer, TokioTimer};
pub use secret::Secret;
pub use stats::Stats;
