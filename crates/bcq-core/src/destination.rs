//! The one door to an index: everything bcq knows of where documents go.
//!
//! The engine and the command line know only this interface. A destination
//! (Amazon Q Business, an Amazon Bedrock knowledge base, a directory for
//! `bcq export`) lives in its own crate and owns:
//!
//! - its **limits** ([`Limits`]) and how a document is **fitted** to them
//!   ([`Destination::fit`]: cut with the parts named, or refused with the
//!   reason);
//! - its **settings** and how it is opened ([`DestinationKind`]);
//! - its **run lifecycle** ([`Destination::open_run`], always closed by
//!   [`Destination::close_run`], on errors and signals too), which also
//!   follows what was accepted to its final state and reports documents
//!   that failed after acceptance;
//! - its **preflight** checks, used by `bcq check` and before a sync;
//! - **access control** translation (users and groups as it knows them),
//!   and the groups it keeps ([`Destination::sync_groups`]);
//! - **large-file staging** and its own calls' **statistics**
//!   ([`Destination::stats`]), which the summary reports under its name.

use crate::acl::GroupSpec;
use crate::catalog::AttrKind;
use crate::document::Document;
use crate::settings::{Setting, SettingValues};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, so that destinations can be chosen at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A document the destination did not accept, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// The document id.
    #[serde(rename = "id")]
    pub doc_id: String,
    /// The destination's reason, for the run summary and `bcq status`.
    pub reason: String,
}

/// The outcome of one call: every document not listed in `rejected` was
/// accepted. Retryable rejections were already retried by the destination.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Documents refused for good.
    pub rejected: Vec<Rejected>,
}

/// A call that failed as a whole, after the destination's own retries.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DestinationError {
    /// What went wrong, with what to do about it.
    pub message: String,
    /// True when no later call can succeed either (access denied, the run
    /// was closed from outside, the index does not exist): the run stops.
    pub fatal: bool,
}

impl DestinationError {
    /// A fatal error with `message`.
    pub fn fatal(message: impl Into<String>) -> Self {
        DestinationError {
            message: message.into(),
            fatal: true,
        }
    }
}

/// What a destination takes per call and per document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Documents per put or delete call.
    pub docs_per_call: usize,
    /// Bytes of documents per call (their wire size).
    pub bytes_per_call: usize,
    /// The largest file it takes as configured (inline, or staged when
    /// staging is set up): larger ones are skipped and reported, never sent.
    pub max_document_bytes: usize,
    /// The largest file it takes at all, whatever the configuration.
    pub max_file_bytes: usize,
    /// What to do about a file over `max_document_bytes` but within
    /// `max_file_bytes` (how to enable staging), when anything can be done.
    pub too_large_hint: Option<String>,
}

/// One line of a checklist (`bcq check`, a sync's preflight).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// It passed (a warning passes).
    pub ok: bool,
    /// It passed, but a person should look.
    pub warning: bool,
    /// Why it failed (and what to fix), or a detail.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn pass(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            what: what.into(),
            ok: true,
            warning: false,
            detail: detail.into(),
        }
    }

    /// A failed check.
    pub fn fail(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            ok: false,
            ..Check::pass(what, detail)
        }
    }

    /// A passed check with a warning.
    pub fn warn(what: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            warning: true,
            ..Check::pass(what, detail)
        }
    }
}

/// How the destination stands against the custom attributes bcq sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeCheck {
    /// Wanted and usable.
    pub declared: Vec<String>,
    /// Wanted and not declared.
    pub missing: Vec<String>,
    /// Declared with another type: (name, declared type, wanted type).
    pub wrong_type: Vec<(String, String, String)>,
    /// The destination's type name of each wanted attribute.
    pub types: Vec<(String, String)>,
    /// Nothing needs declaring in this destination (say why).
    pub not_needed: Option<String>,
}

impl AttributeCheck {
    /// Whether every wanted attribute is usable.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.wrong_type.is_empty()
    }
}

/// What bcq remembers of earlier runs, for a destination to recognise its
/// own leftovers (a run a killed bcq left open is bcq's to close).
#[derive(Clone, Debug, Default)]
pub struct RunStart {
    /// The destination run ids (Q sync jobs) of bcq's recent runs.
    pub own_runs: Vec<String>,
    /// When the last interrupted run started (epoch seconds): a run opened
    /// after it and not recorded is that run's.
    pub interrupted_since: Option<i64>,
}

/// What closing a run found.
#[derive(Clone, Debug, Default)]
pub struct RunEnd {
    /// Documents the destination accepted during the run and then failed
    /// to index, with its reason.
    pub failed_after_accept: Vec<Rejected>,
    /// The destination was still indexing when the follow-up time ran out
    /// (the outcome is checked again by a later run).
    pub still_indexing: bool,
    /// Errors closing the run (it may still be open).
    pub errors: Vec<String>,
    /// The run closed, when it was opened at the first write
    /// ([`CommonSettings::lazy_runs`]); `None` when none was opened.
    pub run: Option<String>,
}

/// The groups a destination keeps, after [`Destination::sync_groups`].
#[derive(Clone, Debug, Default)]
pub struct GroupSync {
    /// Groups put, each with the scope it was put for (a data source id, or
    /// `None`), as bcq must remember them to delete them later.
    pub put: Vec<(String, Option<String>)>,
    /// Groups deleted (no longer configured).
    pub deleted: Vec<String>,
}

/// A named counter of the destination's calls, for the run summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `snake_case` name (JSON key).
    pub name: &'static str,
    /// Its value.
    pub value: u64,
}

/// How a destination applies access lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessModel {
    /// A document without an access list is readable by everyone who can
    /// query (Amazon Q Business): units no rule covers are a warning.
    OpenByDefault,
    /// A document without an access list is never returned (an ACL-enabled
    /// Bedrock data source): every unit needs a restricting rule.
    ClosedByDefault,
    /// Access lists cannot be set: everything is readable by everyone who
    /// can query (a Bedrock data source without ACLs): restricting rules
    /// cannot be honoured.
    NoAccessLists,
}

/// A document a user gets as a source of an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The document id.
    pub doc_id: String,
    /// Its title, when the destination returns it.
    pub title: Option<String>,
    /// Its citation link, when the destination returns it.
    pub source_uri: Option<String>,
    /// The destination's relevance score, when it gives one.
    pub score: Option<f64>,
}

/// A place bcq writes documents to, open for one process.
pub trait Destination: Send + Sync + 'static {
    /// Its name for people: "Amazon Q Business".
    fn name(&self) -> &'static str;
    /// Its key in configuration and in JSON summaries: `qbusiness`.
    fn key(&self) -> &'static str;
    /// Its limits.
    fn limits(&self) -> Limits;
    /// Fits a rendered document to the destination's constraints: `Ok`
    /// with the parts that were cut (empty when it fits as it is), or
    /// `Err` with why it cannot be sent at all.
    fn fit(&self, doc: &mut Document) -> Result<Vec<String>, String>;
    /// Checks that it can be written to (resources exist, permissions,
    /// attributes): the lines of `bcq check`; a sync stops on a failure.
    fn check<'a>(&'a self, attributes: &'a [(&'static str, AttrKind)])
    -> BoxFuture<'a, Vec<Check>>;
    /// How it stands against the custom attributes bcq sends.
    fn attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<AttributeCheck, DestinationError>>;
    /// Declares the missing attributes; returns the names added. By
    /// default nothing: a destination that takes attributes undeclared.
    fn declare_attributes<'a>(
        &'a self,
        wanted: &'a [(&'static str, AttrKind)],
    ) -> BoxFuture<'a, Result<Vec<String>, DestinationError>> {
        let _ = wanted;
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Sets the configured groups in the destination and deletes those bcq
    /// put before (`put_before`) that are no longer configured, before any
    /// document goes out. Destinations without groups expand them into
    /// their users instead and keep nothing (the default).
    fn sync_groups<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        put_before: Vec<(String, Option<String>)>,
    ) -> BoxFuture<'a, Result<GroupSync, DestinationError>> {
        let _ = (groups, put_before);
        Box::pin(async { Ok(GroupSync::default()) })
    }
    /// Opens a run (a Q sync job, or nothing): closes or waits for what an
    /// earlier bcq left, waits for a run someone else holds when configured
    /// to. Returns the run's id, when it has one.
    fn open_run<'a>(
        &'a self,
        start: &'a RunStart,
    ) -> BoxFuture<'a, Result<Option<String>, DestinationError>>;
    /// Closes the run (safe to call twice, and when none is open), then
    /// follows what was accepted for up to `follow` and reports what failed.
    fn close_run(&self, follow: Duration) -> BoxFuture<'_, RunEnd>;
    /// Writes into a run another process opened (replicas share one Q
    /// sync job), opened at `opened_at`, instead of opening one. By default
    /// nothing: a destination without runs.
    fn adopt_run(&self, run: &str, opened_at: chrono::DateTime<chrono::Utc>) {
        let _ = (run, opened_at);
    }
    /// Stops writing into the run without closing it (another process
    /// still writes into it and closes it). By default nothing.
    fn forget_run(&self) {}
    /// Adds or replaces documents (at most [`Limits::docs_per_call`]).
    fn put(&self, docs: Vec<Document>) -> BoxFuture<'_, Result<Outcome, DestinationError>>;
    /// Deletes documents by id (at most [`Limits::docs_per_call`]).
    fn delete(&self, ids: Vec<String>) -> BoxFuture<'_, Result<Outcome, DestinationError>>;
    /// Documents that failed after acceptance at any time and are still
    /// failed (a reconciliation pushes them again).
    fn failed_documents(&self) -> BoxFuture<'_, Result<Vec<Rejected>, DestinationError>>;
    /// The ids of every document of bcq's data source (for the sample
    /// connector's cleanup).
    fn document_ids(&self) -> BoxFuture<'_, Result<Vec<String>, DestinationError>>;
    /// Its call counters so far.
    fn stats(&self) -> Vec<Stat>;
    /// What a person must know about how it applies access control, for
    /// `bcq check` and the summary (e.g. that documents without an access
    /// list are never returned).
    fn access_notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// How it applies access lists.
    fn access_model(&self) -> AccessModel {
        AccessModel::OpenByDefault
    }
    /// Whether access lists may name groups (resolved by the destination's
    /// identity source); when not, a group must be expanded into its users
    /// before it reaches the destination.
    fn takes_group_principals(&self) -> bool {
        true
    }
    /// The documents `user` (as the identity source names them: an email)
    /// gets as sources for `question`: the destination's own retrieval with
    /// the user's identity where it has one (Bedrock's `Retrieve` with
    /// `userContext`), otherwise its own access check (Q's
    /// `CheckDocumentAccess`) on `candidates` the caller matched.
    fn sources_for<'a>(
        &'a self,
        user: &'a str,
        question: &'a str,
        candidates: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Source>, DestinationError>> {
        let _ = (user, question, candidates);
        Box::pin(async move {
            Err(DestinationError::fatal(format!(
                "{} cannot answer as a user",
                self.name()
            )))
        })
    }
}

/// The settings every destination may use, parsed by the configuration
/// layer.
#[derive(Clone, Debug, Default)]
pub struct CommonSettings {
    /// Most put calls in flight (adaptive below it).
    pub push_concurrency: usize,
    /// Large files through S3, when a bucket is configured.
    pub s3: Option<S3Settings>,
    /// Groups from the configuration, as access rules name them.
    pub groups: Vec<GroupSpec>,
    /// Wait this long for a run someone else holds, instead of failing.
    pub wait_for_run: Option<Duration>,
    /// Static AWS credentials instead of the AWS chain: only for the bundled
    /// emulators (`bcq demo`, tests in one process).
    pub static_credentials: Option<StaticCredentials>,
    /// Open the destination's run (a Q sync job) at the first write instead
    /// of at the start, so that a run with nothing to write leaves no empty
    /// run behind (`bcq serve`'s polls).
    pub lazy_runs: bool,
}

/// An access key and its secret (never printed).
#[derive(Clone, Debug)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: bcq_bc::Secret,
}

/// Where large files are staged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// Key prefix of staged objects.
    pub prefix: String,
    /// Endpoint override (an S3-compatible server).
    pub endpoint_url: Option<String>,
    /// Address the bucket path-style.
    pub force_path_style: bool,
}

/// A destination's settings, validated when the configuration is built
/// and opened when a command needs it.
pub trait PreparedDestination: Send + Sync + std::fmt::Debug {
    /// Its key (`qbusiness`).
    fn key(&self) -> &'static str;
    /// What it writes to, for people: "application …, index …".
    fn describe(&self) -> String;
    /// Opens it: AWS clients, staging, options.
    fn open(&self, common: &CommonSettings) -> BoxFuture<'_, Result<Arc<dyn Destination>, String>>;
    /// The IAM statements bcq needs to write here: the exact actions it
    /// calls, on the configured resources only (`account`: the AWS account
    /// id, or a policy variable standing for it).
    fn iam_statements(&self, account: &str) -> Vec<IamStatement>;
}

/// One statement of an IAM policy (`bcq iam-policy`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IamStatement {
    /// What the statement is for.
    #[serde(rename = "Sid")]
    pub sid: &'static str,
    /// Always `Allow`.
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    /// `service:Operation`, as bcq calls them.
    #[serde(rename = "Action")]
    pub actions: Vec<String>,
    /// ARNs of the configured resources.
    #[serde(rename = "Resource")]
    pub resources: Vec<String>,
    /// A condition, when one narrows it (`iam:PassedToService`).
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

impl IamStatement {
    /// An `Allow` of `actions` (prefixed with `service:`) on `resources`.
    pub fn allow(
        sid: &'static str,
        service: &str,
        actions: &[&str],
        resources: Vec<String>,
    ) -> Self {
        IamStatement {
            sid,
            effect: "Allow",
            actions: actions.iter().map(|a| format!("{service}:{a}")).collect(),
            resources,
            condition: None,
        }
    }
}

/// The region a policy names: the configured one, else the AWS chain's
/// variables, else `*`.
pub fn policy_region(configured: Option<&str>) -> String {
    configured
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "*".into())
}

/// A kind of destination: its name, settings, and how they are validated.
pub trait DestinationKind: Sync {
    /// Its key, the value of `destination` (`qbusiness`, `bedrock-kb`).
    fn key(&self) -> &'static str;
    /// Its name for people.
    fn name(&self) -> &'static str;
    /// The settings it reads.
    fn settings(&self) -> &'static [Setting];
    /// Whether `values` say where to write (its resource ids are set), so
    /// that commands which can work without a destination use it.
    fn is_configured(&self, values: &dyn SettingValues) -> bool;
    /// Validates its settings (and those common ones it depends on); every
    /// problem names its setting.
    fn prepare(
        &self,
        values: &dyn SettingValues,
        common: &CommonSettings,
    ) -> Result<Box<dyn PreparedDestination>, Vec<String>>;
}
