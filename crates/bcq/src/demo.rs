//! `bcq demo`: the emulators in-process with generated data, one real
//! sync through the same code as `bcq sync` into the chosen destination,
//! what it now holds, and one question asked as three users, so that the
//! access rules are seen at work and not only counted.

use crate::config::Raw;
use crate::sync::{self, RunFlags};
use crate::ui::Ui;
use anyhow::Context;
use bc_sim::{BcSim, SimConfig};
use bcq_core::destination::{Destination, StaticCredentials};
use bcq_core::engine::Mode;
use bedrock_sim::{BedrockSim, BedrockSimConfig};
use q_sim::{QSim, QSimConfig};
use std::net::SocketAddr;
use std::sync::Arc;

/// Demo options.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Invoices per company.
    pub invoices: u64,
    /// Also index BC's PDFs.
    pub pdf: bool,
    /// BC page size (small, to show paging).
    pub page_size: u32,
    /// `qbusiness` or `bedrock-kb`.
    pub destination: String,
}

/// The emulators of a demo or test, and the configuration that points at them.
pub struct Emulators {
    /// Business Central + Entra ID.
    pub bc: BcSim,
    /// Amazon Q Business.
    pub q: QSim,
    /// Amazon Bedrock knowledge bases (agent and runtime on one port).
    pub bedrock: BedrockSim,
}

/// The demo's question, and who asks it.
const QUESTION: &str = "open sales invoice amount due";
/// Who asks: in Finance (company A's invoices), the CFO (both companies),
/// and someone no rule names.
const ASKERS: [&str; 3] = [
    "ap@contoso.example",
    "cfo@contoso.example",
    "guest@contoso.example",
];

impl Emulators {
    /// Starts them on loopback ports chosen by the OS, with `invoices`
    /// sales invoices per company.
    pub async fn start(invoices: u64) -> anyhow::Result<Self> {
        let mut qcfg = QSimConfig::default();
        // The demo is about the pipeline, not about waiting on a 10/s throttle.
        qcfg.rates.insert("BatchPutDocument".into(), 50.0);
        let mut bcfg = BedrockSimConfig::default();
        bcfg.rates
            .insert("IngestKnowledgeBaseDocuments".into(), 50.0);
        Self::start_all(
            SimConfig {
                invoices_per_company: invoices,
                ..SimConfig::default()
            },
            qcfg,
            bcfg,
        )
        .await
    }

    /// Starts them with the given BC and Q configurations (Bedrock's default).
    pub async fn start_with(bc: SimConfig, q: QSimConfig) -> anyhow::Result<Self> {
        Self::start_all(bc, q, BedrockSimConfig::default()).await
    }

    /// Starts them with the given configurations.
    pub async fn start_all(
        bc: SimConfig,
        q: QSimConfig,
        bedrock: BedrockSimConfig,
    ) -> anyhow::Result<Self> {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("valid address");
        let bc = BcSim::start(any, bc)
            .await
            .context("starting the Business Central emulator")?;
        let q = QSim::start(any, q)
            .await
            .context("starting the Amazon Q Business emulator")?;
        let bedrock = BedrockSim::start(any, bedrock)
            .await
            .context("starting the Amazon Bedrock emulator")?;
        Ok(Emulators { bc, q, bedrock })
    }

    /// The settings a sync against these emulators needs, as the sample's
    /// variables plus the emulator overrides (Q as the destination).
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

    /// The settings of the Bedrock destination against its emulator.
    pub fn bedrock_settings(&self) -> Vec<(&'static str, String)> {
        let c = self.bedrock.config();
        vec![
            ("destination", "bedrock-kb".into()),
            ("bedrock.knowledge_base_id", c.knowledge_base_id.clone()),
            ("bedrock.data_source_id", c.data_source_id.clone()),
            ("bedrock.endpoint_url", self.bedrock.endpoint()),
            ("bedrock.runtime_endpoint_url", self.bedrock.endpoint()),
            ("bedrock.region", c.region.clone()),
        ]
    }

    /// The static credentials of the emulator of `destination`.
    pub fn credentials(&self, destination: &str) -> StaticCredentials {
        let (key, secret) = if destination == "bedrock-kb" {
            let c = self.bedrock.config();
            (c.access_key_id.clone(), c.secret_access_key.clone())
        } else {
            let c = self.q.config();
            (c.access_key_id.clone(), c.secret_access_key.clone())
        };
        StaticCredentials {
            access_key_id: key,
            secret_access_key: bcq_bc::Secret::new(secret),
        }
    }

    /// Stops them.
    pub async fn stop(self) {
        self.bc.stop().await;
        self.q.stop().await;
        self.bedrock.stop().await;
    }
}

/// The demo's access rules: company A's invoices for the Finance group,
/// company B's for the CFO alone.
fn access_rules(companies: &[String]) -> String {
    format!(
        r#"[[access]]
companies = [{a:?}]
allow_groups = ["Finance"]

[[access]]
companies = [{b:?}]
allow_users = ["cfo@contoso.example"]

[groups.Finance]
users = ["ap@contoso.example", "cfo@contoso.example"]
"#,
        a = companies[0],
        b = companies.get(1).unwrap_or(&companies[0]),
    )
}

/// Runs the demo; returns whether the sync succeeded.
pub async fn run(opts: DemoOptions, ui: &Ui) -> anyhow::Result<bool> {
    let bedrock = match opts.destination.as_str() {
        "qbusiness" => false,
        "bedrock-kb" => true,
        other => anyhow::bail!("--destination {other}: the demo runs qbusiness or bedrock-kb"),
    };
    let emu = Emulators::start(opts.invoices).await?;
    let dir = std::env::temp_dir().join(format!("bcq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let companies: Vec<String> = emu
        .bc
        .companies("production")
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let rules = dir.join("bcq.toml");
    std::fs::write(&rules, access_rules(&companies))?;
    let mut raw = Raw::default().with_file(&rules)?;
    for (k, v) in emu.settings("production") {
        raw.set_flag(k, v)?;
    }
    if bedrock {
        for k in ["q.application_id", "q.index_id", "q.data_source_id"] {
            raw.set_flag(k, String::new())?;
        }
        for (k, v) in emu.bedrock_settings() {
            raw.set_flag(k, v)?;
        }
    }
    raw.set_flag("bc.companies", "all".into())?;
    raw.set_flag(
        "sync.state_path",
        dir.join("state.db").display().to_string(),
    )?;
    raw.set_flag("bc.page_size", opts.page_size.to_string())?;
    raw.set_flag("sync.include_pdf", opts.pdf.to_string())?;
    let mut cfg = raw.build()?;
    cfg.common.static_credentials = Some(emu.credentials(&opts.destination));
    println!(
        "Business Central emulator: {} (tenant {})",
        emu.bc.base_url(),
        emu.bc.config().tenant
    );
    println!(
        "{} emulator: {}",
        if bedrock {
            "Amazon Bedrock knowledge base"
        } else {
            "Amazon Q Business"
        },
        if bedrock {
            emu.bedrock.endpoint()
        } else {
            emu.q.endpoint()
        }
    );
    println!(
        "syncing {} sales invoices of each of {} ...\n",
        opts.invoices,
        companies.join(" and ")
    );
    let dest = sync::open_destination(&cfg).await?;
    // What `bcq index-schema --apply` does, once per index (nothing to do
    // for a knowledge base).
    let declared = dest
        .declare_attributes(&sync::wanted_attributes(&cfg))
        .await?;
    if !declared.is_empty() {
        println!(
            "declared {} custom attributes on the index (bcq index-schema --apply)",
            declared.len()
        );
    }
    let flags = RunFlags::new(Mode::Incremental, false);
    let stop = bcq_core::engine::Stop::default();
    let _signals = crate::signals::watch(stop.clone());
    let summary = sync::run(&cfg, &flags, dest.clone(), ui, stop).await?;
    println!("{}", crate::redact::redact(&summary.render_text()));
    println!(
        "{} now holds {} documents.\n",
        dest.name(),
        dest.document_ids().await?.len()
    );
    show_access(&emu, dest, bedrock).await?;
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summary.ok())
}

/// Asks the demo's question as each user and prints the cited records
/// each may see.
async fn show_access(
    emu: &Emulators,
    dest: Arc<dyn Destination>,
    bedrock: bool,
) -> anyhow::Result<()> {
    // Q answers a signed-in user through IAM Identity Center, which the
    // emulator cannot stand for; its candidates are matched here in the
    // indexed text, and Q's own access check decides who sees which.
    let (titles, candidates) = if bedrock {
        (Default::default(), Vec::new())
    } else {
        q_candidates(emu).await?
    };
    println!(
        "Asking \"{QUESTION}\" as three users ({}):",
        if bedrock {
            "Bedrock Retrieve with userContext"
        } else {
            "Q CheckDocumentAccess on the matching documents"
        }
    );
    for user in ASKERS {
        let sources = dest.sources_for(user, QUESTION, &candidates).await?;
        println!("  {user}: {} cited records", sources.len());
        for s in sources.iter().take(3) {
            let title = s
                .title
                .clone()
                .or_else(|| titles.get(&s.doc_id).cloned())
                .unwrap_or_else(|| s.doc_id.clone());
            println!("    {title}");
            if let Some(uri) = &s.source_uri {
                println!("      {uri}");
            }
        }
    }
    Ok(())
}

/// The Q emulator's documents that match the question's words best (at
/// most 100), and every document's title.
async fn q_candidates(
    emu: &Emulators,
) -> anyhow::Result<(std::collections::HashMap<String, String>, Vec<String>)> {
    let qc = emu.q.config();
    let url = format!(
        "{}/_sim/documents?applicationId={}&indexId={}",
        emu.q.endpoint(),
        qc.application_id,
        qc.index_id
    );
    let docs: serde_json::Value = reqwest::get(&url).await?.json().await?;
    let words: Vec<String> = QUESTION.split(' ').map(str::to_lowercase).collect();
    let mut scored: Vec<(usize, String)> = Vec::new();
    let mut titles = std::collections::HashMap::new();
    for d in docs["documents"].as_array().into_iter().flatten() {
        let id = d["id"].as_str().unwrap_or_default().to_string();
        titles.insert(
            id.clone(),
            d["title"].as_str().unwrap_or_default().to_string(),
        );
        let text = d["text"].as_str().unwrap_or_default().to_lowercase();
        let score = words.iter().filter(|w| text.contains(w.as_str())).count();
        if score > 0 {
            scored.push((score, id));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok((
        titles,
        scored.into_iter().take(100).map(|(_, id)| id).collect(),
    ))
}
