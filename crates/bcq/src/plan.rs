//! What a run covers: the BC environments and companies of the
//! configuration, resolved against BC (and the state store's memory of
//! company names), and the units (environment, company, entity) to sync.

use crate::config::{Companies, Config};
use anyhow::{Context, anyhow};
use bcq_bc::{AuthConfig, BcClient, BcConfig, RequestBudget};
use bcq_core::catalog::EntitySpec;
use bcq_core::engine::{EngineConfig, Mode, Stop, Unit};
use bcq_core::render::RenderContext;
use bcq_state::{StateStore, UnitKey};
use std::sync::Arc;
use std::time::Duration;

/// One environment: its client (with its own request budget, which BC
/// counts per environment and all its companies share) and its companies.
#[derive(Clone)]
pub struct Target {
    /// The environment name as configured.
    pub environment: String,
    /// Its client.
    pub client: BcClient,
    /// Company id (lowercase) and name.
    pub companies: Vec<(String, String)>,
    /// The client's counters when the target was resolved: a run reports
    /// what it made, though the client outlives it.
    pub started: bcq_bc::Stats,
}

impl Target {
    /// BC requests, retries and throttles since the target was resolved.
    pub fn stats(&self) -> bcq_bc::Stats {
        self.client.stats().since(&self.started)
    }
}

/// The BC client of one environment, one per process: BC's budget (6,000
/// requests per 5 minutes per app and environment, 5 in flight) and the
/// token belong to the process, so `bcq serve`'s runs share them instead
/// of each starting with a full budget.
pub fn bc_client(cfg: &Config, environment: &str) -> anyhow::Result<BcClient> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CLIENTS: OnceLock<Mutex<HashMap<String, BcClient>>> = OnceLock::new();
    let key = format!(
        "{}|{}|{}|{}|{}|{:?}|{}|{}",
        cfg.bc.api_base,
        cfg.bc.authority,
        cfg.bc.tenant,
        environment,
        cfg.bc.client_id,
        cfg.bc.page_size,
        cfg.bc.requests_per_5min,
        cfg.bc.max_in_flight
    );
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(c) = clients.get(&key) {
        return Ok(c.clone());
    }
    let client = new_bc_client(cfg, environment)?;
    clients.insert(key, client.clone());
    Ok(client)
}

fn new_bc_client(cfg: &Config, environment: &str) -> anyhow::Result<BcClient> {
    let mut auth = AuthConfig::new(
        &cfg.bc.authority,
        &cfg.bc.client_id,
        cfg.bc.credential.clone(),
    );
    auth.scope = cfg.bc.scope.clone();
    let mut bc = BcConfig::new(auth, &cfg.bc.tenant);
    bc.api_base = cfg.bc.api_base.clone();
    bc.environment = environment.to_string();
    bc.page_size = cfg.bc.page_size;
    bc.request_timeout = cfg.bc.request_timeout;
    let window = Duration::from_secs(300);
    let budget = match &cfg.sync.state {
        // Replicas share BC's budget of the environment (crate::replicas).
        location @ bcq_state::Location::Postgres(_) => RequestBudget::new_shared(
            cfg.bc.requests_per_5min,
            window,
            cfg.bc.max_in_flight,
            Arc::new(crate::replicas::StoreBudget::open(
                location,
                environment,
                cfg.bc.requests_per_5min,
                window,
                cfg.bc.max_in_flight,
                // Renewed with the replica's other leases while a run
                // goes on; a killed replica's slots free within this.
                cfg.sync.lease,
            )?),
        ),
        bcq_state::Location::File(_) => {
            RequestBudget::new(cfg.bc.requests_per_5min, window, cfg.bc.max_in_flight)
        }
    };
    Ok(BcClient::new(bc, budget)?)
}

/// Resolves every configured environment and company. Company names come
/// from the state store when it saw them within the reconciliation cadence
/// (so that a run with nothing to do makes one BC request per company and
/// entity), otherwise from BC's company list, which is then remembered.
/// Unknown companies and environments are errors that say what to fix.
pub async fn resolve(
    cfg: &Config,
    mut store: Option<&mut StateStore>,
) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::new();
    let fresh_after = chrono::Utc::now()
        - chrono::Duration::from_std(cfg.sync.reconcile_every).unwrap_or(chrono::Duration::days(1));
    for (i, environment) in cfg.bc.environments.iter().enumerate() {
        let client = bc_client(cfg, environment)?;
        let started = client.stats();
        if i == 0 {
            // One token serves every environment of the tenant.
            client
                .token_check()
                .await
                .context("getting a Business Central token")?;
        }
        let env_key = environment.to_ascii_lowercase();
        let mut known: Vec<(String, String)> = Vec::new();
        if let (Companies::Ids(ids), Some(store)) = (&cfg.bc.companies, store.as_deref()) {
            for id in ids {
                if let Some((name, seen)) = store.company(&env_key, id)?
                    && seen > fresh_after
                {
                    known.push((id.clone(), name));
                }
            }
        }
        let companies = match &cfg.bc.companies {
            Companies::Ids(ids) if known.len() == ids.len() => known,
            wanted => {
                let listed = client.companies().await.with_context(|| {
                    format!("listing the companies of Business Central environment '{environment}'")
                })?;
                let pairs: Vec<(String, String)> = listed
                    .iter()
                    .map(|c| (c.id.to_ascii_lowercase(), c.name.clone()))
                    .collect();
                if let Some(store) = store.as_deref_mut() {
                    store.remember_companies(&env_key, &pairs)?;
                }
                match wanted {
                    Companies::All => pairs,
                    Companies::Ids(ids) => {
                        let mut out = Vec::new();
                        for id in ids {
                            match pairs.iter().find(|(p, _)| p == id) {
                                Some(p) => out.push(p.clone()),
                                None => {
                                    return Err(anyhow!(
                                        "company {id} does not exist in Business Central environment '{environment}'; set DYNAMICS_COMPANY_ID (or BC_COMPANIES) to one of: {}",
                                        pairs
                                            .iter()
                                            .map(|(id, name)| format!("{id} ({name})"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ));
                                }
                            }
                        }
                        out
                    }
                }
            }
        };
        targets.push(Target {
            environment: environment.clone(),
            started,
            client,
            companies,
        });
    }
    Ok(targets)
}

/// The API root an entity lives under: a custom API page's, or the standard one.
pub fn api_root(cfg: &Config, client: &BcClient, spec: &EntitySpec) -> String {
    match cfg
        .sync
        .custom_pages
        .iter()
        .find(|c| std::ptr::eq(c.spec, spec))
    {
        Some(c) => client.custom_api_root(&c.publisher, &c.group, &c.version),
        None => client.api_root().to_string(),
    }
}

/// The units of a run, in order: environment, company, entity. A unit is
/// reconciled when `reconcile_all` or when its last reconciliation is older
/// than the cadence.
pub fn units(
    cfg: &Config,
    targets: &[Target],
    store: &StateStore,
    reconcile_all: bool,
) -> anyhow::Result<Vec<Unit>> {
    let cadence =
        chrono::Duration::from_std(cfg.sync.reconcile_every).unwrap_or(chrono::Duration::days(1));
    let mut units = Vec::new();
    // With several companies in one index, titles say whose record it is.
    let companies: usize = targets.iter().map(|t| t.companies.len()).sum();
    for t in targets {
        for (company_id, company_name) in &t.companies {
            let title_suffix = (companies > 1).then(|| {
                if targets.len() > 1 {
                    format!("{company_name}, {}", t.environment)
                } else {
                    company_name.clone()
                }
            });
            let ctx = RenderContext {
                environment: t.environment.to_ascii_lowercase(),
                tenant: cfg.bc.tenant.clone(),
                company_id: company_id.clone(),
                company_name: company_name.clone(),
                web_base: cfg.bc.web_base.clone(),
                title_suffix,
            };
            // Attachments come after the records they are attached to.
            let attachments = cfg
                .sync
                .include_attachments
                .then_some(&bcq_core::files::ATTACHMENTS);
            for spec in cfg.sync.entities.iter().copied().chain(attachments) {
                let key = UnitKey {
                    environment: ctx.environment.clone(),
                    company_id: company_id.clone(),
                    entity: spec.entity_set.to_string(),
                };
                let last = store.unit(&key)?.last_reconciled_at;
                let due = reconcile_all || last.is_none_or(|t| chrono::Utc::now() - t > cadence);
                let api_root = api_root(cfg, &t.client, spec);
                units.push(Unit {
                    key,
                    spec,
                    ctx: ctx.clone(),
                    client: t.client.clone(),
                    api_root,
                    reconcile: due,
                });
            }
        }
    }
    Ok(units)
}

/// The engine settings of a run, for `bcq sync`, `bcq sync --dry-run` and
/// `bcq export` alike, so that a dry run says what the sync would do.
pub fn engine_config(
    cfg: &Config,
    mode: Mode,
    allow_mass_delete: bool,
    stop: Stop,
) -> EngineConfig {
    EngineConfig {
        mode,
        overlap: chrono::Duration::from_std(cfg.sync.overlap)
            .unwrap_or(chrono::Duration::minutes(5)),
        include_pdf: cfg.sync.include_pdf,
        push_concurrency: cfg.common.push_concurrency,
        // Downloads share BC's in-flight limit with the page reads.
        pdf_concurrency: cfg.bc.max_in_flight.saturating_sub(1).max(1),
        max_delete_share: cfg.sync.max_delete_share,
        allow_mass_delete,
        access: cfg.sync.access.clone(),
        attachment_parents: if cfg.sync.include_attachments {
            cfg.sync.entities.clone()
        } else {
            Vec::new()
        },
        stop,
        grace: std::time::Duration::from_secs(10),
    }
}
