//! `bcq-sim`: the Business Central + Entra ID emulator, the Amazon Q
//! Business emulator and the Amazon Bedrock knowledge base emulator,
//! standalone, until Ctrl-C. Prints everything a client needs to talk to them.

use bc_sim::{BcSim, SimConfig};
use bedrock_sim::{BedrockSim, BedrockSimConfig};
use clap::Parser;
use q_sim::{QSim, QSimConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Runs the bcq emulators on loopback.
#[derive(Parser, Debug)]
#[command(name = "bcq-sim", version, about)]
struct Args {
    /// Address of the Business Central + Entra ID emulator.
    #[arg(long, default_value = "127.0.0.1:8480")]
    bc_addr: SocketAddr,
    /// Address of the Amazon Q Business emulator.
    #[arg(long, default_value = "127.0.0.1:8481")]
    q_addr: SocketAddr,
    /// Address of the Amazon Bedrock knowledge base emulator (bedrock-agent
    /// and bedrock-agent-runtime on one port).
    #[arg(long, default_value = "127.0.0.1:8482")]
    bedrock_addr: SocketAddr,
    /// Create the Bedrock custom data source without ACLs
    /// (connectorParameters.aclEnabled false).
    #[arg(long)]
    bedrock_no_acl: bool,
    /// Sales invoices per company.
    #[arg(long, default_value_t = 200)]
    invoices: u64,
    /// Companies per environment.
    #[arg(long, default_value_t = 2)]
    companies: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// BatchPutDocument calls per second before Q throttles.
    #[arg(long, default_value_t = 10.0)]
    q_put_rate: f64,
    /// Keep Q's documents in this directory across restarts.
    #[arg(long)]
    q_data_dir: Option<PathBuf>,
    /// Print the connection details as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bc = BcSim::start(
        args.bc_addr,
        SimConfig {
            seed: args.seed,
            invoices_per_company: args.invoices,
            companies: args.companies,
            token_lifetime: Duration::from_secs(args.token_lifetime),
            ..SimConfig::default()
        },
    )
    .await?;
    let mut qcfg = QSimConfig {
        data_dir: args.q_data_dir.clone(),
        // Documents with S3 content are read from the same S3-compatible
        // server bcq stages them in (moto, MinIO).
        s3_endpoint: std::env::var("AWS_ENDPOINT_URL_S3").ok(),
        ..QSimConfig::default()
    };
    qcfg.rates
        .insert("BatchPutDocument".into(), args.q_put_rate);
    let q = QSim::start(args.q_addr, qcfg).await?;
    // The same credentials as Q's, so that one AWS_ACCESS_KEY_ID /
    // AWS_SECRET_ACCESS_KEY pair reaches both AWS emulators.
    let bedrock = BedrockSim::start(
        args.bedrock_addr,
        BedrockSimConfig {
            access_key_id: q.config().access_key_id.clone(),
            secret_access_key: q.config().secret_access_key.clone(),
            region: q.config().region.clone(),
            acl_enabled: !args.bedrock_no_acl,
            s3_endpoint: std::env::var("AWS_ENDPOINT_URL_S3").ok(),
            ..BedrockSimConfig::default()
        },
    )
    .await?;

    let b = bc.config();
    let qc = q.config();
    let br = bedrock.config();
    let environments: Vec<serde_json::Value> = b
        .environments
        .iter()
        .map(|e| {
            serde_json::json!({
                "name": e,
                "api_root": bc.api_root(e),
                "companies": bc.companies(e).iter().map(|c| serde_json::json!({"id": c.id.to_string(), "name": c.name})).collect::<Vec<_>>(),
            })
        })
        .collect();
    if args.json {
        let info = serde_json::json!({
            "bc": {"base_url": bc.base_url(), "authority": bc.authority(), "api_base": bc.api_base(),
                   "tenant": b.tenant, "client_id": b.client_id, "client_secret": b.client_secret,
                   "environments": environments},
            "q": {"endpoint": q.endpoint(), "region": qc.region, "access_key_id": qc.access_key_id,
                  "secret_access_key": qc.secret_access_key, "application_id": qc.application_id,
                  "index_id": qc.index_id, "data_source_id": qc.data_source_id},
            "bedrock": {"endpoint": bedrock.endpoint(), "region": br.region,
                        "access_key_id": br.access_key_id, "secret_access_key": br.secret_access_key,
                        "knowledge_base_id": br.knowledge_base_id, "data_source_id": br.data_source_id,
                        "acl_enabled": br.acl_enabled},
        });
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("Business Central + Entra ID emulator on {}", bc.base_url());
        println!("  token endpoint  {}/oauth2/v2.0/token", bc.authority());
        println!("  tenant          {}", b.tenant);
        println!("  client id       {}", b.client_id);
        println!("  client secret   {}   (emulator only)", b.client_secret);
        for e in &environments {
            println!(
                "  environment     {}  {}",
                e["name"].as_str().unwrap_or(""),
                e["api_root"].as_str().unwrap_or("")
            );
            for c in e["companies"].as_array().into_iter().flatten() {
                println!(
                    "    company       {}  {}",
                    c["id"].as_str().unwrap_or(""),
                    c["name"].as_str().unwrap_or("")
                );
            }
        }
        println!("Amazon Q Business emulator on {}", q.endpoint());
        println!("  region          {}", qc.region);
        println!(
            "  access key      {} / {}   (emulator only)",
            qc.access_key_id, qc.secret_access_key
        );
        println!("  application     {}", qc.application_id);
        println!("  index           {}", qc.index_id);
        println!("  data source     {}", qc.data_source_id);
        println!(
            "Amazon Bedrock knowledge base emulator (bedrock-agent + bedrock-agent-runtime) on {}",
            bedrock.endpoint()
        );
        println!("  region          {}", br.region);
        println!(
            "  access key      {} / {}   (emulator only)",
            br.access_key_id, br.secret_access_key
        );
        println!("  knowledge base  {}  (MANAGED)", br.knowledge_base_id);
        println!(
            "  data source     {}  (custom connector, aclEnabled {})",
            br.data_source_id, br.acl_enabled
        );
        println!("\nbcq settings for these emulators:");
        println!(
            "  DYNAMICS_AUTHORITY={} DYNAMICS_CLIENT_ID={} DYNAMICS_SECRET={}",
            bc.authority(),
            b.client_id,
            b.client_secret
        );
        println!(
            "  BC_API_BASE_URL={} AWS_ENDPOINT_URL_QBUSINESS={}",
            bc.api_base(),
            q.endpoint()
        );
        println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_REGION={}",
            qc.access_key_id, qc.secret_access_key, qc.region
        );
        println!(
            "  Q_APPLICATION_ID={} Q_INDEX_ID={} Q_DATASOURCE_ID={}",
            qc.application_id, qc.index_id, qc.data_source_id
        );
        println!(
            "  AWS_ENDPOINT_URL_BEDROCK_AGENT={} AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME={}",
            bedrock.endpoint(),
            bedrock.endpoint()
        );
        println!(
            "  BEDROCK_KNOWLEDGE_BASE_ID={} BEDROCK_DATA_SOURCE_ID={}",
            br.knowledge_base_id, br.data_source_id
        );
        println!("\nCtrl-C stops them all.");
    }
    tokio::signal::ctrl_c().await?;
    bc.stop().await;
    q.stop().await;
    bedrock.stop().await;
    Ok(())
}
