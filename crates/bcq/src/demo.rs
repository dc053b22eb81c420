//! `bcq demo`: both emulators in-process with generated data, one real
//! sync through the same code as `bcq sync`, then what Q now holds.

use crate::config::Raw;
use crate::sync::{self, RunFlags};
use crate::ui::Ui;
use anyhow::Context;
use bc_sim::{BcSim, SimConfig};
use bcq_core::engine::Mode;
use q_sim::{QSim, QSimConfig};
use std::net::SocketAddr;

/// Demo options.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Invoices per company.
    pub invoices: u64,
    /// Also index BC's PDFs.
    pub pdf: bool,
    /// BC page size (small, to show paging).
    pub page_size: u32,
}

/// The emulators of a demo or test, and the configuration that points at them.
pub struct Emulators {
    /// Business Central + Entra ID.
    pub bc: BcSim,
    /// Amazon Q Business.
    pub q: QSim,
}

impl Emulators {
    /// Starts both on loopback ports chosen by the OS, with `invoices`
    /// sales invoices per company.
    pub async fn start(invoices: u64) -> anyhow::Result<Self> {
        let mut qcfg = QSimConfig::default();
        // The demo is about the pipeline, not about waiting on a 10/s throttle.
        qcfg.rates.insert("BatchPutDocument".into(), 50.0);
        Self::start_with(
            SimConfig {
                invoices_per_company: invoices,
                ..SimConfig::default()
            },
            qcfg,
        )
        .await
    }

    /// Starts both with the given configurations.
    pub async fn start_with(bc: SimConfig, q: QSimConfig) -> anyhow::Result<Self> {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
        let bc = BcSim::start(any, bc)
            .await
            .context("starting the Business Central emulator")?;
        let q = QSim::start(any, q)
            .await
            .context("starting the Amazon Q Business emulator")?;
        Ok(Emulators { bc, q })
    }

    /// The settings a sync against these emulators needs, as the sample's
    /// variables plus the emulator overrides.
    pub fn settings(&self, environment: &str) -> Vec<(&'static str, String)> {
        let bcc = self.bc.config();
        let qc = self.q.config();
        let company = self.bc.companies(environment)[0].id.to_string();
        vec![
            ("q.application_id", qc.application_id.clone()),
            ("q.index_id", qc.index_id.clone()),
            ("q.data_source_id", qc.data_source_id.clone()),
            ("q.endpoint_url", self.q.endpoint()),
            ("q.region", qc.region.clone()),
            ("bc.client_id", bcc.client_id.clone()),
            ("bc.client_secret", bcc.client_secret.clone()),
            ("bc.authority", self.bc.authority()),
            ("bc.company_id", company),
            ("bc.environment", environment.to_string()),
            ("bc.api_base_url", self.bc.api_base()),
        ]
    }

    /// Stops both.
    pub async fn stop(self) {
        self.bc.stop().await;
        self.q.stop().await;
    }
}

/// Runs the demo; returns whether the sync succeeded.
pub async fn run(opts: DemoOptions, ui: &Ui) -> anyhow::Result<bool> {
    let emu = Emulators::start(opts.invoices).await?;
    let dir = std::env::temp_dir().join(format!("bcq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut raw = Raw::default();
    for (k, v) in emu.settings("production") {
        raw.set_flag(k, v)?;
    }
    raw.set_flag(
        "sync.state_path",
        dir.join("state.db").display().to_string(),
    )?;
    raw.set_flag("bc.page_size", opts.page_size.to_string())?;
    raw.set_flag("sync.include_pdf", opts.pdf.to_string())?;
    let mut cfg = raw.build()?;
    // The emulator's static credentials, signed with real SigV4.
    let qc = emu.q.config();
    cfg.common.static_credentials = Some(bcq_core::destination::StaticCredentials {
        access_key_id: qc.access_key_id.clone(),
        secret_access_key: bcq_bc::Secret::new(qc.secret_access_key.clone()),
    });
    println!(
        "Business Central emulator: {} (tenant {})",
        emu.bc.base_url(),
        emu.bc.config().tenant
    );
    println!("Amazon Q Business emulator: {}", emu.q.endpoint());
    println!(
        "syncing {} sales invoices of {} ...\n",
        opts.invoices,
        emu.bc.companies("production")[0].name
    );
    let dest = sync::open_destination(&cfg).await?;
    // What `bcq index-schema --apply` does, once per index.
    let declared = dest
        .declare_attributes(&sync::wanted_attributes(&cfg))
        .await?;
    println!(
        "declared {} custom attributes on the index (bcq index-schema --apply)",
        declared.len()
    );
    let flags = RunFlags {
        mode: Mode::Incremental,
        allow_mass_delete: false,
    };
    let stop = bcq_core::engine::Stop::default();
    let _signals = crate::signals::watch(stop.clone());
    let summary = sync::run(&cfg, &flags, dest, ui, stop).await?;
    println!("{}", crate::redact::redact(&summary.render_text()));

    // What Q holds now, read back through the emulator's inspection API
    // once indexing (asynchronous, as in Q) has settled.
    let url = format!(
        "{}/_sim/documents?applicationId={}&indexId={}",
        emu.q.endpoint(),
        qc.application_id,
        qc.index_id
    );
    let mut docs = serde_json::Value::Null;
    for _ in 0..50 {
        docs = reqwest::get(&url).await?.json().await?;
        let pending = docs["documents"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter(|x| {
                        !matches!(
                            x["status"].as_str(),
                            Some("INDEXED" | "UPDATED" | "FAILED" | "DOCUMENT_FAILED_TO_INDEX")
                        )
                    })
                    .count()
            })
            .unwrap_or(0);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let list = docs["documents"].as_array().cloned().unwrap_or_default();
    let indexed = list
        .iter()
        .filter(|d| matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED")))
        .count();
    println!(
        "Amazon Q Business now holds {} documents ({} indexed). A few of them:",
        list.len(),
        indexed
    );
    for d in list.iter().take(3) {
        println!("  {}", d["title"].as_str().unwrap_or("?"));
        println!("    id      {}", d["id"].as_str().unwrap_or("?"));
        println!(
            "    source  {}",
            d["attributes"]["_source_uri"].as_str().unwrap_or("?")
        );
        println!("    status  {}", d["status"].as_str().unwrap_or("?"));
    }
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summary.ok())
}
