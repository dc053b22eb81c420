//! Configuration in two stages: raw layers (environment and `.env`, a TOML
//! file, flags; later layers win) → one validated [`Config`], or one error
//! naming every setting that is missing or wrong.
//!
//! The Python sample's variables are accepted unchanged, so that bcq is a
//! drop-in replacement: `Q_APPLICATION_ID`, `Q_INDEX_ID`, `Q_DATASOURCE_ID`,
//! `DYNAMICS_CLIENT_ID`, `DYNAMICS_SECRET`, `DYNAMICS_AUTHORITY`,
//! `DYNAMICS_SCOPE`, `DYNAMICS_COMPANY_ID`.

use bcq_bc::{Credential, Secret};
use bcq_core::catalog::{self, EntitySpec};
use bcq_core::destination::{CommonSettings, DestinationKind, PreparedDestination, S3Settings};
pub use bcq_core::settings::Setting;
use bcq_core::settings::{SettingValues, check_url, number as number_of, whole};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const fn s(key: &'static str, env: &'static str, help: &'static str) -> Setting {
    Setting::new(key, env, help)
}

/// The settings of bcq itself, in documentation order (each destination
/// lists its own: [`crate::destinations`]).
pub const SETTINGS: &[Setting] = &[
    s(
        "destination",
        "BCQ_DESTINATION",
        "where documents go: qbusiness (default) or bedrock-kb",
    ),
    s(
        "bc.client_id",
        "DYNAMICS_CLIENT_ID",
        "Entra ID app registration (client) id",
    ),
    Setting::secret(
        "bc.client_secret",
        "DYNAMICS_SECRET",
        "client secret of the app registration",
    ),
    s(
        "bc.certificate_path",
        "DYNAMICS_CERTIFICATE_PATH",
        "certificate instead of a secret: PEM (cert + key) or PKCS#12 (.pfx/.p12)",
    ),
    Setting::secret(
        "bc.certificate_password",
        "DYNAMICS_CERTIFICATE_PASSWORD",
        "password of a PKCS#12 certificate",
    ),
    s(
        "bc.authority",
        "DYNAMICS_AUTHORITY",
        "https://login.microsoftonline.com/{tenantId}",
    ),
    s(
        "bc.scope",
        "DYNAMICS_SCOPE",
        "token scope (default https://api.businesscentral.dynamics.com/.default)",
    ),
    s("bc.company_id", "DYNAMICS_COMPANY_ID", "BC company GUID"),
    s(
        "bc.companies",
        "BC_COMPANIES",
        "several companies: comma-separated GUIDs, or 'all' (instead of DYNAMICS_COMPANY_ID)",
    ),
    s(
        "bc.environments",
        "BC_ENVIRONMENTS",
        "several environments of the tenant, comma-separated (instead of BC_ENVIRONMENT)",
    ),
    s(
        "bc.environment",
        "BC_ENVIRONMENT",
        "BC environment name (default production)",
    ),
    s(
        "bc.tenant_id",
        "BC_TENANT_ID",
        "Entra tenant id (default: taken from the authority)",
    ),
    s(
        "bc.api_base_url",
        "BC_API_BASE_URL",
        "BC API base (default https://api.businesscentral.dynamics.com/v2.0)",
    ),
    s(
        "bc.web_base_url",
        "BC_WEB_BASE_URL",
        "web client base for citations (default https://businesscentral.dynamics.com)",
    ),
    s(
        "bc.page_size",
        "BC_PAGE_SIZE",
        "records per page asked with Prefer: odata.maxpagesize (default 1000, at most 20000)",
    ),
    s(
        "bc.requests_per_5min",
        "BC_REQUESTS_PER_5MIN",
        "client-side request budget per environment (default 5400, BC allows 6000)",
    ),
    s(
        "bc.max_in_flight",
        "BC_MAX_IN_FLIGHT",
        "BC requests in flight (default 5, BC's limit)",
    ),
    s(
        "bc.request_timeout_seconds",
        "BC_REQUEST_TIMEOUT_SECONDS",
        "timeout of one BC request (default 120; BC itself gives up after 10 minutes)",
    ),
    s(
        "sync.entities",
        "BCQ_ENTITIES",
        "entity sets to sync, comma-separated, or all (default salesInvoices)",
    ),
    s(
        "sync.include_pdf",
        "BCQ_INCLUDE_PDF",
        "also index BC's PDF of each invoice (true/false, default false)",
    ),
    s(
        "sync.include_attachments",
        "BCQ_INCLUDE_ATTACHMENTS",
        "also index the files attached to records of enabled entities (documentAttachments; true/false, default false)",
    ),
    s(
        "sync.require_access",
        "BCQ_REQUIRE_ACCESS",
        "refuse to sync documents no [[access]] rule covers (true/false, default false)",
    ),
    s(
        "sync.delete_sample_documents",
        "BCQ_DELETE_SAMPLE_DOCUMENTS",
        "delete the sample connector's `<invoice number>.pdf` documents once bcq indexed their invoices (true/false, default false)",
    ),
    s(
        "files.s3_bucket",
        "BCQ_S3_BUCKET",
        "S3 bucket for files too large to send inline (up to Q's 50 MB); without it they are skipped and reported",
    ),
    s(
        "files.s3_prefix",
        "BCQ_S3_PREFIX",
        "key prefix of staged files (default bcq/)",
    ),
    s(
        "files.s3_endpoint_url",
        "AWS_ENDPOINT_URL_S3",
        "S3 endpoint override (an S3-compatible server such as MinIO or moto)",
    ),
    s(
        "files.s3_force_path_style",
        "BCQ_S3_FORCE_PATH_STYLE",
        "address the bucket path-style (endpoint/bucket/key) instead of bucket.endpoint (true/false; default true with files.s3_endpoint_url, else false)",
    ),
    s(
        "sync.state_path",
        "BCQ_STATE_PATH",
        "state file (default .bcq/state.db)",
    ),
    s(
        "sync.access_source",
        "BCQ_ACCESS_SOURCE",
        "who may read a document: rules (the [[access]] rules, default) or bc (Business Central's own permissions, with the rules for what BC cannot decide)",
    ),
    s(
        "sync.bc_user_email",
        "BCQ_BC_USER_EMAIL",
        "with BCQ_ACCESS_SOURCE=bc, how a BC user becomes a user principal: contact (the user's contact email in BC, default) or a template such as {user}@contoso.com ({user} is the lower-case BC user name)",
    ),
    s(
        "sync.bc_group_name",
        "BCQ_BC_GROUP_NAME",
        "with BCQ_ACCESS_SOURCE=bc, how a BC security group becomes a group principal: name (the Entra group's display name, default) or id (its object id)",
    ),
    Setting::secret(
        "sync.state_url",
        "BCQ_STATE_URL",
        "state in PostgreSQL instead of the file: postgres://user:password@host:5432/database?sslmode=require (for containers and replicas)",
    ),
    s(
        "sync.reconcile_every_hours",
        "BCQ_RECONCILE_EVERY_HOURS",
        "full reconciliation cadence in hours (default 24)",
    ),
    s(
        "sync.max_delete_share",
        "BCQ_MAX_DELETE_SHARE",
        "deletion guard: largest share of known documents a run may delete (default 0.10)",
    ),
    s(
        "sync.push_concurrency",
        "BCQ_PUSH_CONCURRENCY",
        "most BatchPutDocument calls in flight (default 16)",
    ),
    s(
        "sync.unit_concurrency",
        "BCQ_UNIT_CONCURRENCY",
        "units (company and entity) one run syncs at once; BC's limits per environment (requests per 5 minutes, 5 in flight) still hold over all of them (default 1, at most 16)",
    ),
    s(
        "sync.overlap_seconds",
        "BCQ_OVERLAP_SECONDS",
        "re-read window before the cursor (default 300)",
    ),
    s(
        "sync.wait_for_job_seconds",
        "BCQ_WAIT_FOR_JOB_SECONDS",
        "wait this long for a destination run (Q sync job) someone else holds instead of failing (default 0; bcq's own previous job is always waited for)",
    ),
    s(
        "sync.follow_indexing_seconds",
        "BCQ_FOLLOW_INDEXING_SECONDS",
        "after a run, follow what was sent until the destination indexed it (failures are reported by the run), up to this long (default 300; 0 skips)",
    ),
    s(
        "sync.lease_seconds",
        "BCQ_LEASE_SECONDS",
        "with the state in PostgreSQL (several replicas): how long a unit or the destination run stays a replica's after it stopped renewing its leases; a dead replica's work is taken over after this (default 30)",
    ),
    s(
        "serve.poll_seconds",
        "BCQ_POLL_SECONDS",
        "bcq serve: read every unit's changes this often (default 300)",
    ),
    s(
        "serve.public_url",
        "BCQ_PUBLIC_URL",
        "bcq serve: the https URL at which Business Central reaches bcq's listen address; set, bcq subscribes to BC's webhooks (notifications go to <url>/webhooks/bc)",
    ),
    s(
        "serve.listen",
        "BCQ_LISTEN",
        "bcq serve: address of the webhook and operations endpoints (/healthz, /readyz, /metrics; default 127.0.0.1:8080)",
    ),
    s(
        "serve.window_ms",
        "BCQ_WINDOW_MS",
        "bcq serve: after a notification, wait this long for more before syncing them together (default 1000)",
    ),
    s(
        "serve.tls_cert",
        "BCQ_TLS_CERT",
        "bcq serve: PEM certificate chain (server first) to serve HTTPS itself; with serve.tls_key",
    ),
    s(
        "serve.tls_key",
        "BCQ_TLS_KEY",
        "bcq serve: PEM private key of serve.tls_cert",
    ),
    s(
        "serve.grace_seconds",
        "BCQ_GRACE_SECONDS",
        "bcq serve: on SIGTERM or SIGINT, how long the run in flight may take to finish before it is cut (default 20)",
    ),
];

/// `bcq serve`'s settings.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// How often every unit is read incrementally.
    pub poll: Duration,
    /// Where BC reaches bcq (webhooks on when set).
    pub public_url: Option<url::Url>,
    /// The listen address.
    pub listen: std::net::SocketAddr,
    /// The micro-batch window after a notification.
    pub window: Duration,
    /// The shutdown grace period.
    pub grace: Duration,
    /// Certificate and key files when bcq terminates TLS itself.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Every setting: bcq's own, then each destination's.
pub fn all_settings() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(
        crate::destinations::KINDS
            .iter()
            .flat_map(|k| k.settings().iter()),
    )
}

/// Where a raw value came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable (or `.env`).
    Env,
    /// The config file.
    File(PathBuf),
    /// A command-line flag.
    Flag,
}

/// The raw layers merged: setting key → value and origin.
#[derive(Clone, Default)]
pub struct Raw {
    values: BTreeMap<&'static str, (String, Origin)>,
    /// `[custom.<name>]` tables of the config file: custom API pages.
    custom: Vec<(String, toml::Table)>,
    /// `[[access]]` tables of the config file, in order.
    access: Vec<toml::Table>,
    /// `[groups.<name>]` tables of the config file.
    groups: Vec<(String, toml::Table)>,
    /// `[bc_users]`: BC user name → email, for `sync.access_source = "bc"`.
    bc_users: Vec<(String, toml::Value)>,
}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, (v, o)) in &self.values {
            let secret = setting(k).is_some_and(|s| s.secret);
            m.entry(k, &(if secret { "***" } else { v.as_str() }, o));
        }
        m.finish()
    }
}

fn setting(key: &str) -> Option<&'static Setting> {
    all_settings().find(|s| s.key == key)
}

/// The known keys, for messages.
fn known_keys() -> String {
    all_settings().map(|s| s.key).collect::<Vec<_>>().join(", ")
}

/// A configuration error: every problem found, each naming its setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration is not valid:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(p: String) -> Self {
        ConfigError { problems: vec![p] }
    }
}

impl Raw {
    /// Reads the environment variables of every setting.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut raw = Raw::default();
        for s in all_settings() {
            if let Some(v) = get(s.env).filter(|v| !v.trim().is_empty()) {
                raw.values.insert(s.key, (v, Origin::Env));
            }
        }
        raw
    }

    /// Layers a TOML config file over these values.
    pub fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::one(format!("cannot read config file {}: {e}", path.display()))
        })?;
        let table: toml::Table = text.parse().map_err(|e| {
            ConfigError::one(format!(
                "config file {} is not valid TOML: {e}",
                path.display()
            ))
        })?;
        let mut problems = Vec::new();
        for (section, body) in &table {
            if section == "destination" {
                match body.as_str() {
                    Some(d) => {
                        self.values.insert(
                            "destination",
                            (d.to_string(), Origin::File(path.to_path_buf())),
                        );
                    }
                    None => problems.push(format!(
                        "{}: destination is a string (qbusiness or bedrock-kb)",
                        path.display()
                    )),
                }
                continue;
            }
            if section == "access" {
                match body.as_array() {
                    Some(rules) if rules.iter().all(toml::Value::is_table) => self
                        .access
                        .extend(rules.iter().filter_map(|r| r.as_table().cloned())),
                    _ => problems.push(format!(
                        "{}: access rules are written as [[access]] tables",
                        path.display()
                    )),
                }
                continue;
            }
            let Some(body) = body.as_table() else {
                problems.push(format!(
                    "{}: '{section}' must be a [section]",
                    path.display()
                ));
                continue;
            };
            if section == "bc_users" {
                self.bc_users
                    .extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
                continue;
            }
            if section == "groups" {
                for (name, group) in body {
                    match group.as_table() {
                        Some(t) => self.groups.push((name.clone(), t.clone())),
                        None => problems.push(format!(
                            "{}: groups.{name} must be a [groups.{name}] table",
                            path.display()
                        )),
                    }
                }
                continue;
            }
            if section == "custom" {
                for (name, page) in body {
                    match page.as_table() {
                        Some(t) => self.custom.push((name.clone(), t.clone())),
                        None => problems.push(format!(
                            "{}: custom.{name} must be a [custom.{name}] table",
                            path.display()
                        )),
                    }
                }
                continue;
            }
            for (k, v) in body {
                let key = format!("{section}.{k}");
                let Some(s) = setting(&key) else {
                    problems.push(format!(
                        "{}: unknown setting '{key}' (known: {})",
                        path.display(),
                        known_keys()
                    ));
                    continue;
                };
                let value = match v {
                    toml::Value::String(x) => x.clone(),
                    toml::Value::Integer(x) => x.to_string(),
                    toml::Value::Float(x) => x.to_string(),
                    toml::Value::Boolean(x) => x.to_string(),
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => {
                        problems.push(format!(
                            "{}: '{key}' has an unsupported value {other}",
                            path.display()
                        ));
                        continue;
                    }
                };
                self.values
                    .insert(s.key, (value, Origin::File(path.to_path_buf())));
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Sets a value from a flag (`--set key=value` or a dedicated flag). An
    /// empty value unsets the setting, as an empty environment variable
    /// does: a required one is then reported missing, never sent empty.
    pub fn set_flag(&mut self, key: &str, value: String) -> Result<(), ConfigError> {
        let s = setting(key).ok_or_else(|| {
            ConfigError::one(format!(
                "--set: unknown setting '{key}' (known: {})",
                known_keys()
            ))
        })?;
        if value.trim().is_empty() {
            self.values.remove(s.key);
        } else {
            self.values.insert(s.key, (value, Origin::Flag));
        }
        Ok(())
    }

    /// Applies one `--set` argument, `KEY=VALUE`. A malformed one is named
    /// by its key when it starts with one, never echoed (it may hold a
    /// secret).
    pub fn set_arg(&mut self, arg: &str) -> Result<(), ConfigError> {
        match arg.split_once('=') {
            Some((k, v)) => self.set_flag(k.trim(), v.to_string()),
            None => {
                let named = all_settings()
                    .map(|s| s.key)
                    .find(|k| arg.trim_start().starts_with(k));
                Err(ConfigError::one(match named {
                    Some(k) => format!(
                        "--set {k}...: expected KEY=VALUE (an '=' between the key and its value)"
                    ),
                    None => format!(
                        "--set expects KEY=VALUE, and an argument of {} characters has no '=' (e.g. --set bc.environment=sandbox)",
                        arg.chars().count()
                    ),
                }))
            }
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// Where a setting's value came from, for messages.
    fn describe(&self, key: &str) -> String {
        let s = setting(key).expect("known key");
        match self.values.get(key).map(|(_, o)| o) {
            Some(Origin::Env) | None => s.env.to_string(),
            Some(Origin::File(p)) => format!("{key} in {}", p.display()),
            Some(Origin::Flag) => format!("--set {key}"),
        }
    }

    /// Every secret value set, for redaction from messages (for a URL,
    /// its password too, which may appear on its own).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .values
            .iter()
            .filter(|(k, _)| setting(k).is_some_and(|s| s.secret))
            .map(|(_, (v, _))| v.clone())
            .collect();
        let passwords: Vec<String> = secrets
            .iter()
            .filter_map(|v| url::Url::parse(v).ok())
            .filter_map(|u| u.password().map(str::to_owned))
            .flat_map(|p| {
                let decoded = percent_encoding::percent_decode_str(&p)
                    .decode_utf8_lossy()
                    .into_owned();
                [p, decoded]
            })
            .collect();
        secrets.extend(passwords);
        secrets
    }
}

impl SettingValues for Raw {
    fn get(&self, key: &str) -> Option<&str> {
        Raw::get(self, key)
    }

    fn describe(&self, key: &str) -> String {
        Raw::describe(self, key)
    }

    fn missing(&self, key: &str) -> String {
        let s = setting(key).expect("known key");
        format!(
            "{} is not set ({}): set it in the environment or .env, or '{}' in the config file",
            s.env, s.help, s.key
        )
    }
}

/// The variables of a `.env` file (the sample's habit), or nothing when
/// there is none. A line that does not parse is an error naming the file
/// and the line number, never the line (it may hold a secret).
pub fn read_dotenv(path: &Path) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let mut out = std::collections::HashMap::new();
    if !path.exists() {
        return Ok(out);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one(format!("cannot read {}: {e}", path.display())))?;
    let iter = dotenvy::from_read_iter(text.as_bytes());
    for item in iter {
        match item {
            Ok((k, v)) => {
                out.entry(k).or_insert(v);
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                let first = line.lines().next().unwrap_or("").trim();
                let n = text
                    .lines()
                    .position(|l| l.trim() == first)
                    .map(|i| (i + 1).to_string())
                    .unwrap_or_else(|| "?".into());
                return Err(ConfigError::one(format!(
                    "{} line {n} does not parse: expected KEY=VALUE (quote values with spaces or '#')",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(ConfigError::one(format!(
                    "{} cannot be read: {}",
                    path.display(),
                    e.to_string().chars().take(80).collect::<String>()
                )));
            }
        }
    }
    Ok(out)
}

/// Which companies of each environment to sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Companies {
    /// Every company of the environment.
    All,
    /// These company ids (lowercase GUIDs).
    Ids(Vec<String>),
}

/// Business Central settings.
#[derive(Clone, Debug)]
pub struct BcSettings {
    /// App registration id.
    pub client_id: String,
    /// Secret or certificate.
    pub credential: Credential,
    /// Entra authority URL.
    pub authority: String,
    /// Token scope.
    pub scope: String,
    /// Entra tenant id.
    pub tenant: String,
    /// BC environments, each with its own request budget.
    pub environments: Vec<String>,
    /// Companies to sync in each environment.
    pub companies: Companies,
    /// API base URL.
    pub api_base: String,
    /// Web client base URL.
    pub web_base: String,
    /// `odata.maxpagesize`.
    pub page_size: Option<u32>,
    /// Request budget per 5 minutes.
    pub requests_per_5min: u32,
    /// Requests in flight.
    pub max_in_flight: usize,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

/// Sync settings.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// Entities to sync.
    pub entities: Vec<&'static EntitySpec>,
    /// Also push PDFs.
    pub include_pdf: bool,
    /// State file (used when `state` is a file).
    pub state_path: PathBuf,
    /// Where the state lives: the file, or PostgreSQL (`sync.state_url`).
    pub state: bcq_state::Location,
    /// Access from Business Central's permissions (`sync.access_source =
    /// "bc"`), and how its principals are named; `None` for the rules alone.
    pub bc_access: Option<BcAccess>,
    /// Reconciliation cadence.
    pub reconcile_every: Duration,
    /// Deletion guard share.
    pub max_delete_share: f64,
    /// Cursor overlap.
    pub overlap: Duration,
    /// How long a run follows what it sent until the destination indexed it.
    pub follow_indexing: Duration,
    /// With the state in PostgreSQL: how long a replica's leases last
    /// without renewal.
    pub lease: Duration,
    /// Units one run syncs at once.
    pub unit_concurrency: usize,
    /// Custom API pages (their specs are also in `entities`).
    pub custom_pages: Vec<crate::custom::CustomPage>,
    /// Index the files attached to records of enabled entities.
    pub include_attachments: bool,
    /// `[[access]]` rules: who may read the documents of which entity.
    pub access: std::sync::Arc<bcq_core::acl::AccessPolicy>,
    /// Refuse to sync units no access rule covers.
    pub require_access: bool,
    /// Delete the sample's `<number>.pdf` documents once replaced.
    pub delete_sample_documents: bool,
}

/// How `sync.access_source = "bc"` names BC's principals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BcAccess {
    /// `[bc_users]`: emails by BC user name (upper case), before anything
    /// else.
    pub user_emails: std::collections::BTreeMap<String, String>,
    /// `None`: the user's contact email; `Some(t)`: the template `t` with
    /// `{user}` replaced by the lower-case user name.
    pub user_email_template: Option<String>,
    /// Name groups by their Entra object id instead of their display name.
    pub group_by_id: bool,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Business Central.
    pub bc: BcSettings,
    /// The sync itself.
    pub sync: SyncSettings,
    /// What every destination may use: concurrency, large files, groups.
    pub common: CommonSettings,
    /// `bcq serve`.
    pub serve: ServeSettings,
    /// Where documents go (absent for commands that write nowhere, such as
    /// `bcq companies` and `bcq export`, when none is configured).
    pub destination: Option<Arc<dyn PreparedDestination>>,
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Config {
    /// The destination; commands that write somewhere are only built with one.
    pub fn destination(&self) -> &dyn PreparedDestination {
        self.destination
            .as_deref()
            .expect("built with a destination")
    }
}

/// The kind of destination `key` names, or the problem.
fn destination_kind(raw: &Raw, problems: &mut Vec<String>) -> &'static dyn DestinationKind {
    let key = raw.get("destination").map(str::trim).unwrap_or("qbusiness");
    match crate::destinations::kind(key) {
        Some(k) => k,
        None => {
            problems.push(format!(
                "{} is '{key}': bcq writes to {}",
                raw.describe("destination"),
                crate::destinations::KINDS
                    .iter()
                    .map(|k| k.key())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
            crate::destinations::KINDS[0]
        }
    }
}

impl Raw {
    /// Validates and builds the configuration, the destination included.
    pub fn build(&self) -> Result<Config, ConfigError> {
        self.build_for(true)
    }

    /// Validates and builds the configuration; without `needs_destination`,
    /// the destination is optional (commands that only read BC) and built
    /// only when its settings are given.
    pub fn build_for(&self, needs_destination: bool) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let kind = destination_kind(self, &mut problems);
        let destination_given = self.get("destination").is_some() || kind.is_configured(self);
        let want_destination = needs_destination || destination_given;
        let multi_company = self.get("bc.companies").is_some();
        let mut required = |key: &str| -> String {
            let optional = key == "bc.company_id" && multi_company;
            match self.get(key) {
                Some(v) => v.trim().to_string(),
                None if optional => String::new(),
                None => {
                    problems.push(SettingValues::missing(self, key));
                    String::new()
                }
            }
        };
        let client_id = required("bc.client_id");
        let authority = required("bc.authority");
        let company_id = required("bc.company_id");

        if !company_id.is_empty() && !is_guid(&company_id) {
            problems.push(format!(
                "{} is '{company_id}': expected a company GUID like 70c0c603-f4f9-ef11-9344-6045bdc8c234 (bcq companies lists them)",
                self.describe("bc.company_id")
            ));
        }
        if !client_id.is_empty() && !is_guid(&client_id) {
            problems.push(format!(
                "{} is '{client_id}': expected the application (client) id GUID of the app registration",
                self.describe("bc.client_id")
            ));
        }
        if !authority.is_empty() {
            check_url(self, "bc.authority", &authority, &mut problems);
        }
        let tenant = match self.get("bc.tenant_id") {
            Some(t) => t.trim().to_string(),
            None => url::Url::parse(&authority)
                .ok()
                .and_then(|u| u.path_segments().and_then(|mut s| s.next().map(str::to_string)))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| {
                    if !authority.is_empty() {
                        problems.push(format!(
                            "{} is '{authority}', which names no tenant: use https://login.microsoftonline.com/<tenant id>, or set BC_TENANT_ID",
                            self.describe("bc.authority")
                        ));
                    }
                    String::new()
                }),
        };
        if tenant.contains(['/', '?', '#']) || tenant.contains(char::is_whitespace) {
            problems.push(format!(
                "{} gives the tenant '{tenant}': a tenant id is a GUID or a domain, without '/', '?', '#' or spaces",
                if self.get("bc.tenant_id").is_some() {
                    self.describe("bc.tenant_id")
                } else {
                    self.describe("bc.authority")
                }
            ));
        }
        let secret = self
            .get("bc.client_secret")
            .map(|v| Secret::new(v.to_string()));
        let cert = self.get("bc.certificate_path").map(PathBuf::from);
        let credential = match (secret, cert) {
            (Some(_), Some(_)) => {
                problems.push("both DYNAMICS_SECRET and DYNAMICS_CERTIFICATE_PATH are set: choose one credential".into());
                None
            }
            (Some(s), None) => Some(Credential::Secret(s)),
            (None, Some(p)) => {
                if let Err(e) = std::fs::File::open(&p).and_then(|f| {
                    if f.metadata()?.is_dir() {
                        Err(std::io::Error::other("it is a directory"))
                    } else {
                        Ok(())
                    }
                }) {
                    problems.push(format!(
                        "{} is '{}', which cannot be read ({e})",
                        self.describe("bc.certificate_path"),
                        p.display()
                    ));
                }
                let ext = p
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if ext == "pfx" || ext == "p12" {
                    Some(Credential::CertificatePkcs12 {
                        path: p,
                        password: self
                            .get("bc.certificate_password")
                            .map(|v| Secret::new(v.to_string())),
                    })
                } else {
                    Some(Credential::CertificatePem { path: p })
                }
            }
            (None, None) => {
                problems.push(
                    "DYNAMICS_SECRET is not set (client secret of the app registration): set it, or DYNAMICS_CERTIFICATE_PATH for a certificate".into(),
                );
                None
            }
        };

        let scope = self
            .get("bc.scope")
            .unwrap_or("https://api.businesscentral.dynamics.com/.default")
            .to_string();
        let (env_key, env_list) = match self.get("bc.environments") {
            Some(list) => ("bc.environments", list.to_string()),
            None => (
                "bc.environment",
                self.get("bc.environment")
                    .unwrap_or("production")
                    .to_string(),
            ),
        };
        let mut environments: Vec<String> = Vec::new();
        for e in env_list.split(',').map(str::trim) {
            if e.is_empty() || e.contains('/') || e.contains(char::is_whitespace) {
                problems.push(format!(
                    "{} is '{env_list}': '{e}' is not an environment name",
                    self.describe(env_key)
                ));
            } else if !environments.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                environments.push(e.to_string());
            }
        }
        let companies = match self.get("bc.companies").map(str::trim) {
            Some(all) if all.eq_ignore_ascii_case("all") => Companies::All,
            Some(list) => {
                let ids: Vec<String> = list
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect();
                for id in &ids {
                    if !is_guid(id) {
                        problems.push(format!(
                            "{} names '{id}': expected company GUIDs like 70c0c603-f4f9-ef11-9344-6045bdc8c234, or 'all'",
                            self.describe("bc.companies")
                        ));
                    }
                }
                if ids.is_empty() {
                    problems.push(format!(
                        "{} is empty: list company GUIDs or say 'all'",
                        self.describe("bc.companies")
                    ));
                }
                Companies::Ids(ids)
            }
            None => Companies::Ids(vec![company_id.to_ascii_lowercase()]),
        };
        let api_base = self
            .get("bc.api_base_url")
            .unwrap_or("https://api.businesscentral.dynamics.com/v2.0")
            .trim_end_matches('/')
            .to_string();
        check_url(self, "bc.api_base_url", &api_base, &mut problems);
        let web_base = self
            .get("bc.web_base_url")
            .unwrap_or("https://businesscentral.dynamics.com")
            .trim_end_matches('/')
            .to_string();
        check_url(self, "bc.web_base_url", &web_base, &mut problems);
        let mut s3 = match self.get("files.s3_bucket") {
            None => None,
            Some(bucket) => {
                let bucket = bucket.trim().to_string();
                let ok_bucket = (3..=63).contains(&bucket.len())
                    && bucket.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    });
                if !ok_bucket {
                    problems.push(format!(
                        "{} is '{bucket}': an S3 bucket name is 3-63 lowercase letters, digits, dots and hyphens",
                        self.describe("files.s3_bucket")
                    ));
                }
                let endpoint = self.get("files.s3_endpoint_url").map(str::to_string);
                if let Some(e) = &endpoint {
                    check_url(self, "files.s3_endpoint_url", e, &mut problems);
                }
                Some(S3Settings {
                    bucket,
                    prefix: self.get("files.s3_prefix").unwrap_or("bcq/").to_string(),
                    force_path_style: endpoint.is_some(),
                    endpoint_url: endpoint,
                })
            }
        };

        // 1,000 records a page, not BC's 20,000: a page of invoices with
        // their lines is about 5 KB a record, and a page is held whole while
        // it is decoded, so 20,000 would cost ~750 MB of memory (measured).
        // BC's request budget is no constraint at this size (100 requests
        // per 100,000 records). Counts are whole numbers: a fraction is
        // refused, not truncated.
        let p = &mut problems;
        let page_size = Some(whole(self, "bc.page_size", 1000, 1, 20000, p) as u32);
        let requests_per_5min = whole(self, "bc.requests_per_5min", 5400, 1, 6000, p) as u32;
        let max_in_flight = whole(self, "bc.max_in_flight", 5, 1, 5, p) as usize;
        let request_timeout = whole(self, "bc.request_timeout_seconds", 120, 1, 900, p);
        let reconcile_hours = number_of(
            self,
            "sync.reconcile_every_hours",
            24.0,
            0.0,
            24.0 * 365.0,
            p,
        );
        let max_delete_share = number_of(self, "sync.max_delete_share", 0.10, 0.0, 1.0, p);
        let push_concurrency = whole(self, "sync.push_concurrency", 16, 1, 256, p) as usize;
        let overlap = whole(self, "sync.overlap_seconds", 300, 0, 86400, p);
        let wait = whole(self, "sync.wait_for_job_seconds", 0, 0, 86400, p);
        let follow = whole(self, "sync.follow_indexing_seconds", 300, 0, 86400, p);
        let lease = whole(self, "sync.lease_seconds", 30, 2, 3600, p);
        let unit_concurrency = whole(self, "sync.unit_concurrency", 4, 1, 16, p) as usize;
        let poll = whole(self, "serve.poll_seconds", 300, 5, 86400, p);
        let window = whole(self, "serve.window_ms", 1000, 0, 600_000, p);
        let grace = whole(self, "serve.grace_seconds", 20, 0, 3600, p);
        let listen = match self.get("serve.listen").map(str::trim) {
            None => std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().unwrap_or_else(|_| {
                p.push(format!(
                    "{} is '{v}': expected an address and port such as 0.0.0.0:8080 or [::]:8080",
                    self.describe("serve.listen")
                ));
                std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
        };
        let public_url = self.get("serve.public_url").map(str::trim).and_then(|v| {
            match url::Url::parse(v) {
                Ok(u)
                    if matches!(u.scheme(), "https" | "http")
                        && u.host().is_some()
                        && u.query().is_none()
                        && u.fragment().is_none() =>
                {
                    Some(u)
                }
                _ => {
                    p.push(format!(
                        "{} is '{v}': expected the https URL at which Business Central reaches bcq, without query or fragment, such as https://bcq.example.com",
                        self.describe("serve.public_url")
                    ));
                    None
                }
            }
        });
        let tls = match (self.get("serve.tls_cert"), self.get("serve.tls_key")) {
            (None, None) => None,
            (Some(c), Some(k)) => {
                for (key, path) in [("serve.tls_cert", c), ("serve.tls_key", k)] {
                    if !Path::new(path.trim()).is_file() {
                        p.push(format!(
                            "{} is '{}', which is not a readable file",
                            self.describe(key),
                            path.trim()
                        ));
                    }
                }
                Some((PathBuf::from(c.trim()), PathBuf::from(k.trim())))
            }
            (Some(_), None) | (None, Some(_)) => {
                p.push(format!(
                    "{} and {} go together: set both to serve HTTPS, or neither",
                    self.describe("serve.tls_cert"),
                    self.describe("serve.tls_key")
                ));
                None
            }
        };
        let mut flag = |key: &str| bcq_core::settings::flag(self, key, false, &mut problems);
        let include_pdf = flag("sync.include_pdf");
        let include_attachments = flag("sync.include_attachments");
        let require_access = flag("sync.require_access");
        let delete_sample_documents = flag("sync.delete_sample_documents");
        let force_path_style = flag("files.s3_force_path_style");
        if let Some(s3) = &mut s3
            && self.get("files.s3_force_path_style").is_some()
        {
            s3.force_path_style = force_path_style;
        }
        let mut entities = Vec::new();
        let names = match self.get("sync.entities").map(str::trim) {
            Some(all) if all.eq_ignore_ascii_case("all") => catalog::CATALOG
                .iter()
                .map(|e| e.entity_set)
                .collect::<Vec<_>>()
                .join(","),
            Some(list) => list.to_string(),
            None => "salesInvoices".into(),
        };
        for name in names.split(',') {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            match catalog::lookup(name) {
                Some(e) => entities.push(e),
                None => problems.push(format!(
                    "{} names '{name}', which bcq does not know (known: {})",
                    self.describe("sync.entities"),
                    catalog::CATALOG
                        .iter()
                        .map(|e| e.entity_set)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        let mut custom_pages = Vec::new();
        for (name, table) in &self.custom {
            if let Some(page) = crate::custom::parse(name, table, &mut problems) {
                if entities
                    .iter()
                    .any(|e| e.entity_set == page.spec.entity_set)
                {
                    problems.push(format!(
                        "custom.{name}.entity_set '{}' is also a standard entity set; give the custom page's own name",
                        page.spec.entity_set
                    ));
                    continue;
                }
                entities.push(page.spec);
                custom_pages.push(page);
            }
        }
        let state_path = PathBuf::from(self.get("sync.state_path").unwrap_or(".bcq/state.db"));
        if state_path.is_dir() {
            problems.push(format!(
                "{} is '{}', which is a directory: name the state file in it (e.g. {}/state.db)",
                self.describe("sync.state_path"),
                state_path.display(),
                state_path.display()
            ));
        }
        let state = match self.get("sync.state_url").map(str::trim) {
            None | Some("") => bcq_state::Location::File(state_path.clone()),
            Some(url) => match bcq_state::PgTarget::parse(url) {
                Ok(target) => bcq_state::Location::Postgres(Box::new(target)),
                Err(e) => {
                    problems.push(format!(
                        "{} is not a usable PostgreSQL URL: {e}",
                        self.describe("sync.state_url")
                    ));
                    bcq_state::Location::File(state_path.clone())
                }
            },
        };
        let bc_access = match self.get("sync.access_source").map(str::trim) {
            None | Some("") | Some("rules") => None,
            Some("bc") => {
                let user_email_template = match self.get("sync.bc_user_email").map(str::trim) {
                    None | Some("") | Some("contact") => None,
                    Some(t) if t.contains("{user}") && t.contains('@') => Some(t.to_owned()),
                    Some(t) => {
                        problems.push(format!(
                            "{} is '{t}': expected contact, or a template with {{user}} and a domain such as {{user}}@contoso.com",
                            self.describe("sync.bc_user_email")
                        ));
                        None
                    }
                };
                let group_by_id = match self.get("sync.bc_group_name").map(str::trim) {
                    None | Some("") | Some("name") => false,
                    Some("id") => true,
                    Some(other) => {
                        problems.push(format!(
                            "{} is '{other}': expected name or id",
                            self.describe("sync.bc_group_name")
                        ));
                        false
                    }
                };
                let mut user_emails = std::collections::BTreeMap::new();
                for (user, email) in &self.bc_users {
                    match email.as_str() {
                        Some(e) if e.contains('@') => {
                            user_emails.insert(user.to_uppercase(), e.trim().to_owned());
                        }
                        _ => problems.push(format!(
                            "bc_users.{user} is {email}: expected the email Q knows the user by, as a string"
                        )),
                    }
                }
                Some(BcAccess {
                    user_emails,
                    user_email_template,
                    group_by_id,
                })
            }
            Some(other) => {
                problems.push(format!(
                    "{} is '{other}': expected rules or bc",
                    self.describe("sync.access_source")
                ));
                None
            }
        };
        let known: Vec<&str> = catalog::CATALOG
            .iter()
            .map(|e| e.entity_set)
            .chain(custom_pages.iter().map(|c| c.spec.entity_set))
            .collect();
        let access =
            crate::access::parse_rules(&self.access, &known, bc_access.is_some(), &mut problems);
        let groups = crate::access::parse_groups(&self.groups, &mut problems);

        let common = CommonSettings {
            push_concurrency,
            s3,
            groups,
            wait_for_run: (wait > 0).then(|| Duration::from_secs(wait)),
            static_credentials: None,
            lazy_runs: false,
        };
        let destination = if want_destination {
            match kind.prepare(self, &common) {
                Ok(d) => Some(Arc::from(d)),
                Err(p) => {
                    problems.extend(p);
                    None
                }
            }
        } else {
            None
        };
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            bc: BcSettings {
                client_id,
                credential: credential.expect("checked above"),
                authority: authority.trim_end_matches('/').to_string(),
                scope,
                tenant,
                environments,
                companies,
                api_base,
                web_base,
                page_size,
                requests_per_5min,
                max_in_flight,
                request_timeout: Duration::from_secs(request_timeout),
            },
            sync: SyncSettings {
                entities,
                include_pdf,
                state_path,
                state,
                bc_access,
                reconcile_every: Duration::from_secs_f64(reconcile_hours * 3600.0),
                max_delete_share,
                overlap: Duration::from_secs(overlap),
                follow_indexing: Duration::from_secs(follow),
                lease: Duration::from_secs(lease),
                unit_concurrency,
                custom_pages,
                include_attachments,
                access: std::sync::Arc::new(access),
                require_access,
                delete_sample_documents,
            },
            serve: ServeSettings {
                poll: Duration::from_secs(poll),
                public_url,
                listen,
                window: Duration::from_millis(window),
                grace: Duration::from_secs(grace),
                tls,
            },
            common,
            destination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sample_env() -> HashMap<&'static str, String> {
        HashMap::from([
            (
                "Q_APPLICATION_ID",
                "a1b2c3d4-0000-0000-0000-000000000001".to_string(),
            ),
            (
                "Q_INDEX_ID",
                "a1b2c3d4-0000-0000-0000-000000000002".to_string(),
            ),
            (
                "Q_DATASOURCE_ID",
                "a1b2c3d4-0000-0000-0000-000000000003".to_string(),
            ),
            (
                "DYNAMICS_CLIENT_ID",
                "11111111-2222-3333-4444-555555555555".to_string(),
            ),
            ("DYNAMICS_SECRET", "s3cr3t-value".to_string()),
            (
                "DYNAMICS_AUTHORITY",
                "https://login.microsoftonline.com/5c6241d0-74cc-48a2-b667-3eb0d738af72"
                    .to_string(),
            ),
            (
                "DYNAMICS_SCOPE",
                "https://api.businesscentral.dynamics.com/.default".to_string(),
            ),
            (
                "DYNAMICS_COMPANY_ID",
                "70c0c603-f4f9-ef11-9344-6045bdc8c234".to_string(),
            ),
        ])
    }

    fn raw(env: &HashMap<&'static str, String>) -> Raw {
        Raw::from_env(|k| env.get(k).cloned())
    }

    #[test]
    fn the_samples_variables_are_enough() {
        let c = raw(&sample_env()).build().unwrap();
        assert_eq!(c.bc.tenant, "5c6241d0-74cc-48a2-b667-3eb0d738af72");
        assert_eq!(c.bc.environments, ["production"]);
        assert_eq!(
            c.bc.companies,
            Companies::Ids(vec!["70c0c603-f4f9-ef11-9344-6045bdc8c234".into()])
        );
        assert_eq!(c.sync.entities[0].entity_set, "salesInvoices");
        assert!(matches!(c.bc.credential, Credential::Secret(_)));
        let dbg = format!("{c:?} {:?}", raw(&sample_env()));
        assert!(
            !dbg.contains("s3cr3t-value"),
            "secret leaked into Debug: {dbg}"
        );
    }

    #[test]
    fn s3_staging_needs_a_role_arn_and_picks_its_addressing() {
        let mut env = sample_env();
        env.insert("BCQ_S3_BUCKET", "bcq-files".into());
        let text = raw(&env).build().unwrap_err().to_string();
        assert!(text.contains("BCQ_S3_ROLE_ARN"), "{text}");
        env.insert("BCQ_S3_ROLE_ARN", "arn:aws:iam::1234:role/q".into());
        let text = raw(&env).build().unwrap_err().to_string();
        assert!(text.contains("12-digit account"), "{text}");
        env.insert(
            "BCQ_S3_ROLE_ARN",
            "arn:aws:iam::123456789012:role/q-reads".into(),
        );
        let s3 = raw(&env).build().unwrap().common.s3.unwrap();
        assert_eq!((s3.prefix.as_str(), s3.force_path_style), ("bcq/", false));
        env.insert("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000".into());
        let s3 = raw(&env).build().unwrap().common.s3.unwrap();
        assert!(s3.force_path_style);
        env.insert("BCQ_S3_FORCE_PATH_STYLE", "false".into());
        let s3 = raw(&env).build().unwrap().common.s3.unwrap();
        assert!(!s3.force_path_style);
        env.insert("BCQ_S3_FORCE_PATH_STYLE", "maybe".into());
        let text = raw(&env).build().unwrap_err().to_string();
        assert!(text.contains("BCQ_S3_FORCE_PATH_STYLE"), "{text}");
    }

    #[test]
    fn every_missing_variable_is_named() {
        let err = raw(&HashMap::new()).build().unwrap_err();
        let text = err.to_string();
        for v in [
            "Q_APPLICATION_ID",
            "Q_INDEX_ID",
            "Q_DATASOURCE_ID",
            "DYNAMICS_CLIENT_ID",
            "DYNAMICS_SECRET",
            "DYNAMICS_AUTHORITY",
            "DYNAMICS_COMPANY_ID",
        ] {
            assert!(text.contains(v), "{v} missing from: {text}");
        }
    }

    #[test]
    fn wrong_values_are_named_with_what_is_expected() {
        let mut env = sample_env();
        env.insert("DYNAMICS_COMPANY_ID", "CRONUS".into());
        env.insert("DYNAMICS_AUTHORITY", "http://login.example.com/t".into());
        env.insert("BC_PAGE_SIZE", "50000".into());
        env.insert("BCQ_ENTITIES", "salesInvoices,nonsense".into());
        let text = raw(&env).build().unwrap_err().to_string();
        assert!(text.contains("DYNAMICS_COMPANY_ID is 'CRONUS'"), "{text}");
        assert!(
            text.contains("plain http is only allowed for loopback"),
            "{text}"
        );
        assert!(text.contains("BC_PAGE_SIZE is '50000'"), "{text}");
        assert!(text.contains("'nonsense'"), "{text}");
    }

    #[test]
    fn flags_override_file_override_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bcq.toml");
        std::fs::write(&path, "[bc]\nenvironment = \"sandbox\"\npage_size = 500\n[sync]\nentities = [\"salesInvoices\"]\n").unwrap();
        let mut env = sample_env();
        env.insert("BC_ENVIRONMENT", "production".into());
        let mut r = raw(&env).with_file(&path).unwrap();
        assert_eq!(r.build().unwrap().bc.environments, ["sandbox"]);
        assert_eq!(r.build().unwrap().bc.page_size, Some(500));
        r.set_flag("bc.environment", "test".into()).unwrap();
        assert_eq!(r.build().unwrap().bc.environments, ["test"]);
    }

    #[test]
    fn several_environments_and_companies() {
        let mut env = sample_env();
        env.remove("DYNAMICS_COMPANY_ID");
        env.insert("BC_ENVIRONMENTS", "production, sandbox,production".into());
        env.insert("BC_COMPANIES", "all".into());
        let c = raw(&env).build().unwrap();
        assert_eq!(c.bc.environments, ["production", "sandbox"]);
        assert_eq!(c.bc.companies, Companies::All);
        env.insert(
            "BC_COMPANIES",
            "70C0C603-F4F9-EF11-9344-6045BDC8C234,nope".into(),
        );
        let err = raw(&env).build().unwrap_err().to_string();
        assert!(err.contains("BC_COMPANIES names 'nope'"), "{err}");
    }

    #[test]
    fn q_settings_are_optional_for_bc_only_commands() {
        let mut env = sample_env();
        for k in ["Q_APPLICATION_ID", "Q_INDEX_ID", "Q_DATASOURCE_ID"] {
            env.remove(k);
        }
        assert!(raw(&env).build().is_err());
        let c = raw(&env).build_for(false).unwrap();
        assert!(c.destination.is_none());
    }

    /// Seeded random values for every setting, and random TOML files: the
    /// build returns a config or an error naming a setting, never panics.
    #[test]
    fn arbitrary_settings_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        const VALUES: &[&str] = &[
            "",
            " ",
            "0",
            "-1",
            "1e309",
            "NaN",
            "all",
            "true",
            "maybe",
            "http://10.0.0.1/x",
            "https://",
            "::",
            "a,b,,c",
            "\u{0}",
            "production,",
            "70c0c603-f4f9-ef11-9344-6045bdc8c234",
            "Ω",
            "99999999999999999999",
            "https://login.microsoftonline.com/",
            "http://[::1]:80/t",
            "x=y",
            "/etc/passwd",
        ];
        for round in 0..3000 {
            let mut env = sample_env();
            for s in all_settings() {
                if next() % 3 == 0 {
                    let v = VALUES[(next() % VALUES.len() as u64) as usize];
                    env.insert(s.env, v.to_string());
                }
            }
            let r = raw(&env);
            match r.build_for(round % 2 == 0) {
                Ok(c) => assert!(!c.bc.environments.is_empty()),
                Err(e) => {
                    assert!(!e.problems.is_empty() && e.problems.iter().all(|p| !p.is_empty()))
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bcq.toml");
        for text in [
            "[bc]\npage_size = [1, {a = 2}]\n",
            "[custom.x]\nfields = 3\n[custom.x.attributes]\na = 1\n",
            "[custom]\nx = 1\n",
            "bc = 1\n",
            "[bc\n",
            "[q]\napplication_id = 1970-01-01T00:00:00Z\n",
        ] {
            std::fs::write(&path, text).unwrap();
            if let Ok(r) = raw(&sample_env()).with_file(&path) {
                let _ = r.build();
            }
        }
    }

    /// Issue 17, items 15-19: fractions for counts, malformed or empty
    /// `--set`, and what used to be found only once a run had started.
    #[test]
    fn bad_values_are_refused_up_front_and_named() {
        let mut env = sample_env();
        env.insert("BC_PAGE_SIZE", "10.9".into());
        env.insert("BC_MAX_IN_FLIGHT", "3.7".into());
        env.insert("BCQ_AWS_REGION", "us-east-1/evil".into());
        env.insert("BC_TENANT_ID", "t/../x".into());
        let dir = tempfile::tempdir().unwrap();
        env.insert("BCQ_STATE_PATH", dir.path().display().to_string());
        let text = raw(&env).build().unwrap_err().to_string();
        for want in [
            "BC_PAGE_SIZE is '10.9': expected a whole number",
            "BC_MAX_IN_FLIGHT is '3.7': expected a whole number",
            "BCQ_AWS_REGION is 'us-east-1/evil'",
            "BC_TENANT_ID gives the tenant 't/../x'",
            "which is a directory",
        ] {
            assert!(text.contains(want), "{want} missing from: {text}");
        }
        // An unreadable certificate file.
        let mut env = sample_env();
        env.remove("DYNAMICS_SECRET");
        env.insert(
            "DYNAMICS_CERTIFICATE_PATH",
            dir.path().display().to_string(),
        );
        let text = raw(&env).build().unwrap_err().to_string();
        assert!(
            text.contains("DYNAMICS_CERTIFICATE_PATH is") && text.contains("cannot be read"),
            "{text}"
        );
    }

    #[test]
    fn set_arguments_never_echo_their_value_and_empty_means_unset() {
        let mut r = raw(&sample_env());
        let e = r
            .set_arg("bc.client_secret:hunter2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--set bc.client_secret"), "{e}");
        assert!(!e.contains("hunter2"), "the value leaked: {e}");
        let e = r.set_arg("hunter2").unwrap_err().to_string();
        assert!(!e.contains("hunter2") && e.contains("KEY=VALUE"), "{e}");
        // An empty value is refused as an empty environment variable is.
        r.set_arg("bc.client_secret=").unwrap();
        let e = r.build().unwrap_err().to_string();
        assert!(e.contains("DYNAMICS_SECRET is not set"), "{e}");
        let mut env = sample_env();
        env.insert("DYNAMICS_SECRET", "".into());
        let e = raw(&env).build().unwrap_err().to_string();
        assert!(e.contains("DYNAMICS_SECRET is not set"), "{e}");
    }

    #[test]
    fn an_unknown_destination_is_named_with_the_known_ones() {
        let mut env = sample_env();
        env.insert("BCQ_DESTINATION", "elastic".into());
        let e = raw(&env).build().unwrap_err().to_string();
        assert!(
            e.contains("BCQ_DESTINATION is 'elastic': bcq writes to qbusiness"),
            "{e}"
        );
    }

    #[test]
    fn a_dotenv_line_that_does_not_parse_is_named_by_number_not_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "Q_INDEX_ID=abc\n# comment\nDYNAMICS_SECRET=\"unterminated s3cr3t\nX=1\n",
        )
        .unwrap();
        let e = read_dotenv(&path).unwrap_err().to_string();
        assert!(e.contains(".env line 3 does not parse"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::write(&path, "Q_INDEX_ID=abc\nDYNAMICS_SECRET='a b'\n").unwrap();
        let v = read_dotenv(&path).unwrap();
        assert_eq!(v["DYNAMICS_SECRET"], "a b");
        assert!(read_dotenv(&dir.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bcq.toml");
        std::fs::write(&path, "[bc]\nenviroment = \"sandbox\"\n").unwrap();
        let err = raw(&sample_env()).with_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown setting 'bc.enviroment'"), "{err}");
    }

    #[test]
    fn http_is_allowed_for_loopback_emulators() {
        let mut env = sample_env();
        env.insert(
            "DYNAMICS_AUTHORITY",
            "http://127.0.0.1:8080/5c6241d0-74cc-48a2-b667-3eb0d738af72".into(),
        );
        env.insert("BC_API_BASE_URL", "http://localhost:8080/v2.0".into());
        let c = raw(&env).build().unwrap();
        assert_eq!(c.bc.tenant, "5c6241d0-74cc-48a2-b667-3eb0d738af72");
    }
}
