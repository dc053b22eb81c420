//! Emulator configuration.

use std::time::Duration;

/// A certificate registered on the app: its SHA-1 thumbprint (what Entra
/// matches the assertion's `x5t` against) and its RSA public key.
#[derive(Clone)]
pub struct RegisteredCertificate {
    /// SHA-1 of the DER certificate (the `x5t` header, base64url-decoded).
    pub thumbprint_sha1: Vec<u8>,
    /// SHA-256 of the DER certificate (the `x5t#S256` header), if known.
    pub thumbprint_sha256: Option<Vec<u8>>,
    /// RSA public key, PEM (`-----BEGIN PUBLIC KEY-----`, SPKI).
    pub public_key_pem: String,
}

impl std::fmt::Debug for RegisteredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredCertificate")
            .field("thumbprint_sha1", &hex::encode(&self.thumbprint_sha1))
            .finish_non_exhaustive()
    }
}

/// One custom API page served at
/// `/api/{publisher}/{group}/{version}/companies({id})/{entity_set}`.
#[derive(Debug, Clone)]
pub struct CustomApiConfig {
    /// API publisher segment, e.g. `contoso`.
    pub publisher: String,
    /// API group segment, e.g. `app1`.
    pub group: String,
    /// API version segment, e.g. `v1.0`.
    pub version: String,
    /// Entity set name, e.g. `loyaltyCards`.
    pub entity_set: String,
    /// Entity type name, e.g. `loyaltyCard`.
    pub entity_type: String,
    /// Fields besides `id` and `lastModifiedDateTime`: (name, Edm type) with
    /// Edm type one of `Edm.String`, `Edm.Decimal`, `Edm.Int32`, `Edm.Boolean`,
    /// `Edm.Date`, `Edm.Guid`, `Edm.DateTimeOffset`.
    pub fields: Vec<(String, String)>,
    /// Number of records per company.
    pub records_per_company: u64,
}

impl Default for CustomApiConfig {
    fn default() -> Self {
        CustomApiConfig {
            publisher: "contoso".into(),
            group: "loyalty".into(),
            version: "v1.0".into(),
            entity_set: "loyaltyCards".into(),
            entity_type: "loyaltyCard".into(),
            fields: vec![
                ("cardNumber".into(), "Edm.String".into()),
                ("holderName".into(), "Edm.String".into()),
                ("points".into(), "Edm.Int32".into()),
                ("balance".into(), "Edm.Decimal".into()),
                ("active".into(), "Edm.Boolean".into()),
                ("issuedOn".into(), "Edm.Date".into()),
            ],
            records_per_company: 50,
        }
    }
}

/// Everything the emulator needs; `Default` gives a small demo tenant.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of the deterministic data generator.
    pub seed: u64,
    /// Sales invoices per company; other entity sets scale from it.
    pub invoices_per_company: u64,
    /// Number of companies per environment.
    pub companies: usize,
    /// Tenant GUID.
    pub tenant: String,
    /// Environment names; each has the same companies with different ids.
    pub environments: Vec<String>,
    /// The app registration's client id.
    pub client_id: String,
    /// The app registration's client secret.
    pub client_secret: String,
    /// Certificates accepted for `client_assertion`.
    pub certificates: Vec<RegisteredCertificate>,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Server-driven page size, also the cap of `odata.maxpagesize`.
    pub max_page_size: usize,
    /// Requests per sliding window per (app, environment).
    pub requests_per_window: u32,
    /// Sliding window length.
    pub window: Duration,
    /// Concurrent requests per app before queueing.
    pub max_concurrent: usize,
    /// How long an excess request queues before 503.
    pub queue_timeout: Duration,
    /// Base latency added to every API request.
    pub latency: Duration,
    /// Latency added per returned entity.
    pub latency_per_record: Duration,
    /// Optional custom API page.
    pub custom_api: Option<CustomApiConfig>,
    /// Webhooks: wait after the first change of a window before BC sends
    /// (BC online: 30 s; changeable at run time through the control API).
    pub webhook_delay: Duration,
    /// Webhooks: lifetime of a subscription from creation or renewal (3 days).
    pub webhook_lifetime: Duration,
    /// Webhooks: how long the notification URL may take to answer the
    /// validation handshake (5 s).
    pub webhook_handshake_timeout: Duration,
    /// Webhooks: how long a notification POST may take before it counts as
    /// unreachable (30 s, the REST API guidelines' notification timeout).
    pub webhook_send_timeout: Duration,
    /// Webhooks: the wait before each retry of a notification answered
    /// 408/429/5xx or not answered at all; one failure more than there are
    /// entries deletes the subscription (BC: 60 s, 60 s, 10 min, 100 min,
    /// 1000 min, each followed by `webhook_delay`).
    pub webhook_retry_delays: Vec<Duration>,
    /// Webhooks: subscriptions per environment, all companies together (200).
    pub webhook_max_subscriptions: usize,
    /// Webhooks: notifications per subscription and window; one more turns
    /// the window into a single `collection` notification (1,000).
    pub webhook_max_notifications: usize,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // client_secret deliberately left out: secrets never in Debug output.
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("invoices_per_company", &self.invoices_per_company)
            .field("companies", &self.companies)
            .field("tenant", &self.tenant)
            .field("environments", &self.environments)
            .field("client_id", &self.client_id)
            .field("max_page_size", &self.max_page_size)
            .finish_non_exhaustive()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            invoices_per_company: 200,
            companies: 2,
            tenant: "5c6241d0-74cc-48a2-b667-3eb0d738af72".into(),
            environments: vec!["production".into(), "sandbox".into()],
            client_id: "0f4a7c1e-2b3d-4e5f-8a9b-1c2d3e4f5a6b".into(),
            client_secret: "bcsim~Secret.Value_0123456789abcdefXYZ".into(),
            certificates: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            max_page_size: 20_000,
            requests_per_window: 6000,
            window: Duration::from_secs(300),
            max_concurrent: 5,
            queue_timeout: Duration::from_secs(30),
            latency: Duration::ZERO,
            latency_per_record: Duration::ZERO,
            custom_api: Some(CustomApiConfig::default()),
            webhook_delay: Duration::from_secs(30),
            webhook_lifetime: Duration::from_secs(3 * 86_400),
            webhook_handshake_timeout: Duration::from_secs(5),
            webhook_send_timeout: Duration::from_secs(30),
            webhook_retry_delays: [60, 60, 600, 6_000, 60_000]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            webhook_max_subscriptions: 200,
            webhook_max_notifications: 1_000,
        }
    }
}
