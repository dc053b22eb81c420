//! bcq: keeps an Amazon Q Business index in step with Microsoft Dynamics 365
//! Business Central online.
//!
//! The binary is thin (`main.rs`); this library holds the commands so that
//! tests and the demo share them.
//!
//! # Layout
//!
//! - [`config`]: raw settings (env, `.env`, TOML file, flags) → a validated [`config::Config`]
//! - [`custom`]: custom API pages declared in the config file
//! - [`destinations`]: the destinations bcq can write to (the one list of them)
//! - [`redact`]: secrets removed from every message that leaves bcq
//! - [`signals`]: SIGINT, SIGTERM, SIGHUP: stop cleanly
//! - [`plan`]: the environments, companies and units a run covers
//! - [`sync`]: one sync run, start to summary
//! - [`check`]: the ✔/✖ checklist of `bcq check`
//! - [`export`]: runs without Q: `bcq export` and `bcq sync --dry-run`
//! - [`demo`]: both emulators in-process and a sync against them
//! - [`status`]: `bcq status` and `bcq reset`
//! - [`ui`]: logging, progress, the run summary's display

pub mod access;
pub mod bc_access;
pub mod check;
pub mod config;
pub mod custom;
pub mod demo;
pub mod destinations;
pub mod export;
pub mod iam;
pub mod migrate;
pub mod plan;
pub mod redact;
pub mod replicas;
pub mod serve;
pub mod signals;
pub mod status;
pub mod sync;
pub mod ui;
