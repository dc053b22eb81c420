//! `/metrics`: what `bcq serve` did and where it stands, in the Prometheus
//! text format (OpenMetrics), from the Prometheus project's own client.

use crate::sync::RunSummary;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// A label set of one name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// The outcome.
    pub outcome: String,
}

/// Per BC environment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Environment {
    /// The environment name.
    pub environment: String,
}

/// Per destination counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationStat {
    /// `qbusiness`, `bedrock-kb`.
    pub destination: String,
    /// The counter's name (`put_calls`, `throttled`, ...).
    pub stat: String,
}

/// Per unit (`env/company/entity`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnitLabel {
    /// The unit key.
    pub unit: String,
}

/// Why a notification was not taken.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    /// `client_state`, `unknown_subscription`, `malformed`, `resource`.
    pub reason: String,
}

/// How a unit is kept fresh.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Freshness {
    /// `webhook` or `polled`.
    pub by: String,
}

type GaugeF = Gauge<f64, AtomicU64>;

/// Every metric of `bcq serve`.
pub struct Metrics {
    registry: Registry,
    /// Runs by outcome.
    pub runs: Family<Outcome, Counter>,
    /// Runs that could not start (BC, destination, state), by cause.
    pub run_errors: Counter,
    /// Documents by outcome.
    pub documents: Family<Outcome, Counter>,
    /// BC requests.
    pub bc_requests: Family<Environment, Counter>,
    /// BC retries.
    pub bc_retries: Family<Environment, Counter>,
    /// BC throttles (429/503).
    pub bc_throttled: Family<Environment, Counter>,
    /// Requests in BC's current 5-minute window.
    pub bc_budget_used: Family<Environment, Gauge>,
    /// The budget's size.
    pub bc_budget_limit: Family<Environment, Gauge>,
    /// Destination calls and throttles.
    pub destination: Family<DestinationStat, Counter>,
    /// Now minus the unit's cursor.
    pub lag: Family<UnitLabel, GaugeF>,
    /// Notifications taken.
    pub notifications_received: Counter,
    /// Notifications refused, by reason.
    pub notifications_rejected: Family<Reason, Counter>,
    /// Notifications recorded and not yet handled.
    pub notifications_pending: Gauge,
    /// Subscriptions bcq holds.
    pub subscriptions: Gauge,
    /// Seconds until each subscription expires.
    pub subscription_expiry: Family<UnitLabel, GaugeF>,
    /// Units by how they are kept fresh.
    pub units: Family<Freshness, Gauge>,
    /// Seconds the last run took.
    pub last_run_seconds: GaugeF,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bcq");
        let m = Metrics {
            registry: Registry::default(),
            runs: Family::default(),
            run_errors: Counter::default(),
            documents: Family::default(),
            bc_requests: Family::default(),
            bc_retries: Family::default(),
            bc_throttled: Family::default(),
            bc_budget_used: Family::default(),
            bc_budget_limit: Family::default(),
            destination: Family::default(),
            lag: Family::default(),
            notifications_received: Counter::default(),
            notifications_rejected: Family::default(),
            notifications_pending: Gauge::default(),
            subscriptions: Gauge::default(),
            subscription_expiry: Family::default(),
            units: Family::default(),
            last_run_seconds: GaugeF::default(),
        };
        registry.register("runs", "Sync runs by outcome", m.runs.clone());
        registry.register(
            "run_errors",
            "Runs that could not start (Business Central, the destination or the state store failed before any document)",
            m.run_errors.clone(),
        );
        registry.register(
            "documents",
            "Documents by outcome (added, updated, deleted, unchanged, failed)",
            m.documents.clone(),
        );
        registry.register(
            "bc_requests",
            "Business Central requests, every attempt",
            m.bc_requests.clone(),
        );
        registry.register(
            "bc_retries",
            "Business Central requests repeated after a failure",
            m.bc_retries.clone(),
        );
        registry.register(
            "bc_throttled",
            "Business Central answers 429 or 503",
            m.bc_throttled.clone(),
        );
        registry.register(
            "bc_budget_used",
            "Requests sent in Business Central's current 5-minute window",
            m.bc_budget_used.clone(),
        );
        registry.register(
            "bc_budget_limit",
            "Requests bcq allows itself per 5-minute window",
            m.bc_budget_limit.clone(),
        );
        registry.register(
            "destination",
            "Destination calls and throttles, by counter",
            m.destination.clone(),
        );
        registry.register(
            "unit_lag_seconds",
            "Now minus the unit's cursor (its newest change read)",
            m.lag.clone(),
        );
        registry.register(
            "notifications_received",
            "Business Central notifications recorded",
            m.notifications_received.clone(),
        );
        registry.register(
            "notifications_rejected",
            "Notifications refused (wrong clientState, unknown subscription, malformed)",
            m.notifications_rejected.clone(),
        );
        registry.register(
            "notifications_pending",
            "Notifications recorded and not yet handled",
            m.notifications_pending.clone(),
        );
        registry.register(
            "subscriptions",
            "Webhook subscriptions bcq holds in Business Central",
            m.subscriptions.clone(),
        );
        registry.register(
            "subscription_expiry_seconds",
            "Seconds until a subscription expires unless renewed",
            m.subscription_expiry.clone(),
        );
        registry.register(
            "units",
            "Units by how they are kept fresh (webhook or polled)",
            m.units.clone(),
        );
        registry.register(
            "last_run_seconds",
            "How long the last run took",
            m.last_run_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts what a run did.
    pub fn record_run(&self, s: &RunSummary, per_env: &[(String, bcq_bc::Stats)]) {
        let label = |o: &str| Outcome {
            outcome: o.to_string(),
        };
        self.runs
            .get_or_create(&label(&s.outcome.to_string()))
            .inc();
        for (o, n) in [
            ("added", s.counts.added),
            ("updated", s.counts.updated),
            ("deleted", s.counts.deleted),
            ("unchanged", s.counts.unchanged),
            ("failed", s.counts.failed),
        ] {
            self.documents.get_or_create(&label(o)).inc_by(n);
        }
        for (env, st) in per_env {
            let e = Environment {
                environment: env.clone(),
            };
            self.bc_requests.get_or_create(&e).inc_by(st.requests);
            self.bc_retries.get_or_create(&e).inc_by(st.retries);
            self.bc_throttled.get_or_create(&e).inc_by(st.throttled);
        }
        for (dest, stats) in &s.destination_stats {
            for (name, v) in stats {
                self.destination
                    .get_or_create(&DestinationStat {
                        destination: dest.clone(),
                        stat: name.to_string(),
                    })
                    .inc_by(*v);
            }
        }
        self.last_run_seconds.set(s.seconds);
    }

    /// The text a scrape returns.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
