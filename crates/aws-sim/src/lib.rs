//! # aws-sim — what bcq's AWS emulators share
//!
//! The Amazon Q Business emulator (`q-sim`) and the Amazon Bedrock
//! knowledge-base emulator (`bedrock-sim`) answer like two different AWS
//! services, but the machinery under their operations is the same: the
//! SigV4 check of AWS's front door, per-operation throttling, fault
//! injection, model-constraint validation, reading documents from an
//! S3-compatible server, and extracting the text of the files they index.
//! It lives here once; each emulator keeps what is its own (its route
//! table, constraint table, error shapes and wire wording) and maps the
//! generic errors of this crate onto its service's.
//!
//! # Layout
//! - [`control`] — the gate before each operation (counters, throttle,
//!   faults), the background loop, and the common `/_sim` controls.
//! - [`serve`] — serving a router until stopped.
//! - [`sigv4`] — signature verification ([`sigv4::Verifier`], [`sigv4::AuthError`])
//!   and a signer for raw-HTTP tests.
//! - [`http`] — bounded bodies, queries, `requestUri` templates, rest-json answers.
//! - [`validate`] — the rule types of a constraint table and the validator.
//! - [`faults`] — fault specs and the active-fault table.
//! - [`throttle`] — per-operation token buckets.
//! - [`schedule`] — the queue of deferred status transitions and its loop.
//! - [`s3fetch`] — reading an object from an S3-compatible server.
//! - [`extract`], [`pdf`], [`ooxml`] — text extraction per content type.
//! - [`moto`] — moto's S3 server, started for tests.

#![warn(missing_docs)]

pub mod control;
pub mod extract;
pub mod faults;
pub mod http;
pub mod moto;
pub mod ooxml;
pub mod pdf;
pub mod s3fetch;
pub mod schedule;
pub mod serve;
pub mod sigv4;
pub mod throttle;
pub mod validate;
