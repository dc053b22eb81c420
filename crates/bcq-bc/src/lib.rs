//! bcq-bc: the Business Central online API client of bcq.
//!
//! It gets Entra ID tokens (client secret or certificate assertion), keeps
//! them cached, and issues GETs against BC's API v2.0 that stay inside BC's
//! per-environment budget, retry what is transient, and turn what is not
//! into errors that say what to fix.
//!
//! What a caller can rely on:
//!
//! - every request carries a token with at least
//!   [`AuthConfig::min_token_lifetime`] left; a 401 leads to exactly one
//!   re-authentication, then [`BcError::Unauthorized`];
//! - all clients sharing one [`RequestBudget`] stay under its window and
//!   in-flight limits together (token requests excluded);
//! - transient failures (429, 502, 503, 504, 408, 409, 400 "try again
//!   later", network errors, truncated JSON) are retried within
//!   [`RetryConfig`]'s bounds; everything else fails at once;
//! - [`BcClient::pages`] yields every page until `@odata.nextLink` is absent,
//!   or ends with the error that stopped it;
//! - the bearer token is only sent to the configured API origin, over https
//!   unless the host is loopback; no secret appears in `Debug`, `Display` or
//!   logs.
//!
//! # Dependencies
//!
//! Certificates use `ring` (RS256 signing, SHA-1 thumbprint) and
//! `rustls-pki-types` (PEM), both already compiled for reqwest's rustls, so
//! they add nothing to the build; `p12-keystore` reads PKCS#12, the one
//! format neither covers.
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
//! - [`json`]: decoding that reads a lone UTF-16 surrogate as U+FFFD.
//! - [`odata`]: [`collection_url`], [`Query`], [`odata_datetime`], [`Company`], [`Page`].
//! - [`stats`]: [`Stats`], request counters.

#![warn(missing_docs)]

pub mod auth;
pub mod budget;
pub mod client;
pub mod config;
pub mod error;
pub mod json;
pub mod odata;
pub mod paging;
pub mod record;
pub mod retry;
pub mod secret;
pub mod stats;
pub mod webhooks;

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
pub use record::{Field, Record};
pub use retry::{Timer, TokioTimer};
pub use secret::Secret;
pub use stats::Stats;
pub use webhooks::BcSubscription;
