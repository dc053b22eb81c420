//! The `bcq` command line. Parsing and exit codes only; the work is in the
//! `bcq` library.

use bcq::config::Raw;
use bcq::redact::redact;
use bcq::signals::Received;
use bcq::sync::RunFlags;
use bcq::ui::{LogFormat, Ui, init_logging};
use bcq_core::engine::{Mode, Stop};
use bcq_state::{Location, RunOutcome};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Keeps an Amazon Q Business index (or an Amazon Bedrock knowledge base) in
/// step with Dynamics 365 Business Central.
///
/// Configuration comes from the environment (and a .env file), then an
/// optional TOML file, then flags; later wins. The Python sample's variables
/// (Q_APPLICATION_ID, DYNAMICS_CLIENT_ID, ...) work unchanged.
#[derive(Parser, Debug)]
#[command(name = "bcq", version, about, long_about = None)]
struct Cli {
    /// TOML config file (default: bcq.toml in the current directory, if present).
    #[arg(long, global = true, env = "BCQ_CONFIG")]
    config: Option<PathBuf>,
    /// Override any setting: --set bc.environment=sandbox (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// More log detail (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No live progress line.
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sync Business Central into the destination (Amazon Q Business by default).
    Sync {
        /// Push every document again and delete what BC no longer has.
        #[arg(long, conflicts_with = "reconcile")]
        full: bool,
        /// Read everything, push what changed, delete what BC no longer has.
        #[arg(long)]
        reconcile: bool,
        /// Allow a run to delete more than sync.max_delete_share of the known documents.
        #[arg(long)]
        allow_mass_delete: bool,
        /// Wait up to this many seconds for a sync job already running.
        #[arg(long, value_name = "SECONDS")]
        wait_for_job: Option<u64>,
        /// Also index BC's PDF of each invoice.
        #[arg(long)]
        include_pdf: bool,
        /// BC environment (overrides BC_ENVIRONMENT).
        #[arg(long)]
        environment: Option<String>,
        /// BC company id (overrides DYNAMICS_COMPANY_ID).
        #[arg(long)]
        company_id: Option<String>,
        /// State file (overrides BCQ_STATE_PATH).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Say what would be pushed and deleted, without Q and without
        /// changing the state.
        #[arg(long)]
        dry_run: bool,
    },
    /// Keep BC and the destination in step continuously: poll on a
    /// schedule, take BC's webhooks (with BCQ_PUBLIC_URL), serve /healthz,
    /// /readyz and /metrics. SIGTERM or SIGINT stops it cleanly (exit 0).
    Serve {
        /// Listen address of the webhook and operations endpoints (overrides BCQ_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// The URL at which BC reaches this listener (overrides BCQ_PUBLIC_URL).
        #[arg(long)]
        public_url: Option<String>,
        /// Seconds between incremental reads of every unit (overrides BCQ_POLL_SECONDS).
        #[arg(long, value_name = "SECONDS")]
        poll_seconds: Option<u64>,
        /// State file (overrides BCQ_STATE_PATH).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Render documents to local files (Markdown or the file, plus JSON attributes); no Q needed.
    Export {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// List the companies of each configured environment.
    Companies,
    /// List the entity catalog and what is enabled.
    Entities,
    /// Check every dependency of a sync: ✔/✖ with reasons.
    Check,
    /// Start both emulators in-process, sync generated data, show what Q holds.
    Demo {
        /// Sales invoices per company.
        #[arg(long, default_value_t = 200)]
        invoices: u64,
        /// Also index BC's PDFs.
        #[arg(long)]
        pdf: bool,
        /// Records per BC page (small, to show paging).
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        /// Where documents go: qbusiness or bedrock-kb.
        #[arg(long, default_value = "qbusiness")]
        destination: String,
    },
    /// Print the custom attributes bcq sends and whether the destination declares them.
    IndexSchema {
        /// Declare the missing ones through UpdateIndex.
        #[arg(long)]
        apply: bool,
    },
    /// Print the least-privilege IAM policy for the configured destination
    /// and features (JSON): exact actions, resources scoped to the
    /// configured ones.
    IamPolicy {
        /// The AWS account id (default: the policy variable
        /// ${aws:PrincipalAccount}, the account of whoever uses it).
        #[arg(long)]
        account: Option<String>,
    },
    /// Show the last runs, cursors and failures from the state (the file,
    /// or PostgreSQL with BCQ_STATE_URL).
    Status {
        /// How many runs.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// State file.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Forget all sync state (the next sync reads and pushes everything).
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// State file.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Check a running `bcq serve`: GET its /healthz (or another URL) and
    /// exit 0 on a 2xx answer, 1 otherwise. For container health checks,
    /// where no curl exists; needs no other setting.
    Health {
        /// The URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Who may read what, from Business Central's permissions
    /// (BCQ_ACCESS_SOURCE=bc).
    Access {
        #[command(subcommand)]
        what: AccessCommand,
    },
    /// Copy a state file into the configured state (PostgreSQL with
    /// BCQ_STATE_URL), which must be empty: moving to containers or
    /// replicas keeps what was synced, so nothing is pushed again.
    CopyState {
        /// The SQLite state file to copy from (e.g. .bcq/state.db).
        #[arg(long)]
        from: PathBuf,
    },
}

/// `bcq access ...`.
#[derive(Subcommand, Debug)]
enum AccessCommand {
    /// Can USER read the documents of each company and entity, and why:
    /// ✔ or ✖ per company and entity, with the permission sets (and the
    /// security group) that decide it.
    Explain {
        /// A Business Central user name, or the email bcq names them by.
        user: String,
        /// Only this entity set (e.g. salesInvoices).
        #[arg(long)]
        entity: Option<String>,
        /// Only this company (name or id).
        #[arg(long)]
        company: Option<String>,
    },
}

/// mimalloc instead of glibc's allocator: bcq allocates many small,
/// short-lived values per document (decoded fields, attributes, the SDK's
/// request shapes) on one thread and frees them on another
/// (docs/PERFORMANCE.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 all good, 1 the run failed or could not start, 2 the
/// configuration or the command line is wrong, 128 + the signal's number
/// when a signal stopped it (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    let json = cli.log_format == LogFormat::Json;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report_error(
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
                json,
                1,
            );
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let config_error = e.downcast_ref::<bcq::config::ConfigError>().is_some();
            report_error(&e, json, if config_error { 2 } else { 1 })
        }
    }
}

/// Prints an error that stopped bcq, redacted: plain text on stderr, or,
/// with `--log-format json`, one JSON object on stdout (and a JSON log
/// line on stderr), so that a machine reading either gets JSON whatever
/// the outcome.
fn report_error(e: &anyhow::Error, json: bool, code: u8) -> ExitCode {
    let message = redact(&e.to_string()).into_owned();
    let causes: Vec<String> = e
        .chain()
        .skip(1)
        .map(|c| redact(&c.to_string()).into_owned())
        .collect();
    if json {
        tracing::error!(error = %message, exit_code = code, "bcq stopped");
        println!(
            "{}",
            serde_json::json!({
                "outcome": "error",
                "error": message,
                "causes": causes,
                "exit_code": code,
            })
        );
    } else {
        eprintln!("error: {message}");
        for cause in causes {
            eprintln!("  caused by: {cause}");
        }
    }
    ExitCode::from(code)
}

/// Prints a run's summary: text, or JSON with `--log-format json`.
fn print_summary(cli: &Cli, summary: &bcq::sync::RunSummary) -> anyhow::Result<()> {
    let out = if cli.log_format == LogFormat::Json {
        serde_json::to_string(summary)? + "\n"
    } else {
        summary.render_text()
    };
    print!("{}", redact(&out));
    Ok(())
}

fn raw_config(cli: &Cli) -> anyhow::Result<Raw> {
    // A .env file fills variables the environment does not set (as the sample).
    let dotenv = bcq::config::read_dotenv(Path::new(".env"))?;
    let mut raw = Raw::from_env(|k| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| dotenv.get(k).cloned())
    });
    let file = cli.config.clone().or_else(|| {
        let p = PathBuf::from("bcq.toml");
        p.exists().then_some(p)
    });
    if let Some(f) = file {
        raw = raw.with_file(&f)?;
    }
    for kv in &cli.set {
        raw.set_arg(kv)?;
    }
    bcq::redact::register(raw.secrets());
    Ok(raw)
}

/// Where `status` and `reset` find the state: `--state`, else the
/// configuration's, else `BCQ_STATE_URL` or `BCQ_STATE_PATH` alone (status
/// needs no BC or destination settings).
fn state_location(cli: &Cli, flag: &Option<PathBuf>) -> anyhow::Result<Location> {
    if let Some(p) = flag {
        return Ok(Location::File(p.clone()));
    }
    if let Some(cfg) = raw_config(cli).ok().and_then(|r| r.build_for(false).ok()) {
        return Ok(cfg.sync.state);
    }
    if let Some(url) = std::env::var("BCQ_STATE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return bcq_state::PgTarget::parse(url.trim())
            .map(|t| Location::Postgres(Box::new(t)))
            .map_err(|e| anyhow::anyhow!("BCQ_STATE_URL is not a usable PostgreSQL URL: {e}"));
    }
    Ok(Location::File(
        std::env::var("BCQ_STATE_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(".bcq/state.db")),
    ))
}

/// The exit code of a run that ended with `outcome`.
fn exit_code(outcome: RunOutcome, received: &Received) -> ExitCode {
    match outcome {
        RunOutcome::Succeeded => ExitCode::SUCCESS,
        RunOutcome::Interrupted => ExitCode::from(received.exit_code().unwrap_or(130)),
        RunOutcome::Failed | RunOutcome::Running => ExitCode::from(1),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(cli.log_format, cli.no_progress);
    match &cli.command {
        Command::Sync {
            full,
            reconcile,
            allow_mass_delete,
            wait_for_job,
            include_pdf,
            environment,
            company_id,
            state,
            dry_run,
        } => {
            let mut raw = raw_config(&cli)?;
            if let Some(e) = environment {
                raw.set_flag("bc.environment", e.clone())?;
            }
            if let Some(c) = company_id {
                raw.set_flag("bc.company_id", c.clone())?;
            }
            if let Some(s) = state {
                raw.set_flag("sync.state_path", s.display().to_string())?;
            }
            if let Some(w) = wait_for_job {
                raw.set_flag("sync.wait_for_job_seconds", w.to_string())?;
            }
            if *include_pdf {
                raw.set_flag("sync.include_pdf", "true".into())?;
            }
            let mode = if *full {
                Mode::Full
            } else if *reconcile {
                Mode::Reconcile
            } else {
                Mode::Incremental
            };
            if *dry_run {
                let cfg = raw.build_for(false)?;
                let (summary, deletes) =
                    bcq::export::run_local(&cfg, None, true, mode, *allow_mass_delete).await?;
                println!(
                    "dry run: {} records read; would add {}, update {}, delete {}; {} unchanged",
                    summary.read,
                    summary.counts.added,
                    summary.counts.updated,
                    deletes.len(),
                    summary.counts.unchanged
                );
                for id in deletes.iter().take(50) {
                    println!("  would delete {id}");
                }
                for e in &summary.errors {
                    println!("  error {}", redact(e));
                }
                return Ok(if summary.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            let cfg = raw.build()?;
            let stop = Stop::default();
            let received = bcq::signals::watch(stop.clone());
            let dest = bcq::sync::open_destination(&cfg).await?;
            let flags = RunFlags::new(mode, *allow_mass_delete);
            let summary = bcq::sync::run(&cfg, &flags, dest, &ui, stop).await?;
            print_summary(&cli, &summary)?;
            Ok(exit_code(summary.outcome, &received))
        }
        Command::Serve {
            listen,
            public_url,
            poll_seconds,
            state,
        } => {
            let mut raw = raw_config(&cli)?;
            for (key, v) in [
                ("serve.listen", listen.clone()),
                ("serve.public_url", public_url.clone()),
                ("serve.poll_seconds", poll_seconds.map(|p| p.to_string())),
                (
                    "sync.state_path",
                    state.as_ref().map(|s| s.display().to_string()),
                ),
            ] {
                if let Some(v) = v {
                    raw.set_flag(key, v)?;
                }
            }
            let cfg = raw.build()?;
            let stop = Stop::default();
            let received = bcq::signals::watch(stop.clone());
            let ui = Ui::new(cli.log_format, true);
            let report = bcq::serve::run(cfg, &ui, stop).await?;
            let line = format!(
                "bcq serve stopped{}: {} runs, {} failed{}",
                received
                    .signal()
                    .map(|n| format!(" by signal {n}"))
                    .unwrap_or_default(),
                report.runs,
                report.failed_runs,
                if report.cut_short {
                    "; the grace period ran out with a run in flight (the next start closes it)"
                } else {
                    ""
                }
            );
            if cli.log_format == LogFormat::Json {
                println!(
                    "{}",
                    serde_json::json!({"outcome": "stopped", "runs": report.runs, "failed_runs": report.failed_runs, "cut_short": report.cut_short})
                );
            } else {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            invoices,
            pdf,
            page_size,
            destination,
        } => {
            let ok = bcq::demo::run(
                bcq::demo::DemoOptions {
                    invoices: *invoices,
                    pdf: *pdf,
                    page_size: *page_size,
                    destination: destination.clone(),
                },
                &ui,
            )
            .await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Export { out } => {
            let cfg = raw_config(&cli)?.build_for(false)?;
            let (summary, _) =
                bcq::export::run_local(&cfg, Some(out.clone()), false, Mode::Full, false).await?;
            println!(
                "exported {} documents of {} records to {}",
                summary.counts.added,
                summary.read,
                out.display()
            );
            for e in &summary.errors {
                println!("  error {}", redact(e));
            }
            Ok(if summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Companies => {
            let mut raw = raw_config(&cli)?;
            raw.set_flag("bc.companies", "all".into())?;
            let cfg = raw.build_for(false)?;
            for t in bcq::plan::resolve(&cfg, None).await? {
                println!("environment {}", t.environment);
                for (id, name) in &t.companies {
                    println!("  {id}  {name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Entities => {
            let enabled: Vec<&str> = raw_config(&cli)?
                .build_for(false)
                .map(|c| c.sync.entities.iter().map(|e| e.entity_set).collect())
                .unwrap_or_else(|_| vec!["salesInvoices"]);
            print!("{}", bcq::check::entities(&enabled));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let cfg = raw_config(&cli)?.build_for(false)?;
            let items = bcq::check::run(&cfg).await;
            print!("{}", redact(&bcq::check::render(&items)));
            Ok(if items.iter().all(|i| i.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::IndexSchema { apply } => {
            let cfg = raw_config(&cli)?.build()?;
            let dest = bcq::sync::open_destination(&cfg).await?;
            let wanted = bcq::sync::wanted_attributes(&cfg);
            if *apply {
                let added = dest.declare_attributes(&wanted).await?;
                println!(
                    "declared {} attributes ({})",
                    added.len(),
                    cfg.destination().describe()
                );
                for a in added {
                    println!("  + {a}");
                }
            }
            let check = dest.attributes(&wanted).await?;
            if let Some(why) = &check.not_needed {
                println!("{}: {why}", dest.name());
                return Ok(ExitCode::SUCCESS);
            }
            for (name, kind) in &check.types {
                let state = if check.declared.contains(name) {
                    "✔ declared"
                } else if check.missing.contains(name) {
                    "✖ missing"
                } else {
                    "✖ wrong type"
                };
                println!("{state:<13} {name:<30} {kind}");
            }
            if check.complete() {
                Ok(ExitCode::SUCCESS)
            } else {
                println!("run `bcq index-schema --apply` to declare the missing attributes");
                Ok(ExitCode::from(1))
            }
        }
        Command::IamPolicy { account } => {
            if let Some(a) = account
                && !bcq::iam::is_account_id(a)
            {
                return Err(bcq::config::ConfigError {
                    problems: vec![format!(
                        "--account is '{a}': expected a 12-digit AWS account id"
                    )],
                }
                .into());
            }
            let cfg = raw_config(&cli)?.build()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&bcq::iam::policy(&cfg, account.as_deref()))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { runs, state } => {
            print!(
                "{}",
                bcq::status::render(&state_location(&cli, state)?, *runs)?
            );
            // With access from BC, who may read each unit and why: the
            // state does not hold it, BC is asked (five requests).
            if let Some(cfg) = raw_config(&cli).ok().and_then(|r| r.build_for(false).ok())
                && let Some(how) = &cfg.sync.bc_access
            {
                println!("\nwho may read (asked Business Central now):");
                let derived = match bcq::plan::resolve(&cfg, None).await {
                    Ok(targets) => bcq::bc_access::derive(&cfg, how, &targets, true).await,
                    Err(e) => Err(e),
                };
                match derived {
                    Ok(d) => {
                        for (what, who) in &d.who {
                            println!("  {what}: {who}");
                        }
                        for p in &d.problems {
                            println!("  ! {p}");
                        }
                    }
                    Err(e) => println!(
                        "  could not ask Business Central: {}",
                        bcq::redact::redact(&format!("{e:#}"))
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Health { url, timeout } => {
            let answer = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(*timeout))
                .build()?
                .get(url)
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    println!("{url}: {}", r.status());
                    Ok(ExitCode::SUCCESS)
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    eprintln!("{url}: {status} {}", body.trim());
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("{url}: no answer ({e})");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Access {
            what:
                AccessCommand::Explain {
                    user,
                    entity,
                    company,
                },
        } => {
            let cfg = raw_config(&cli)?.build()?;
            let dest = bcq::sync::open_destination(&cfg).await?;
            let lines = bcq::bc_access::explain(
                &cfg,
                user,
                entity.as_deref(),
                company.as_deref(),
                dest.takes_group_principals(),
            )
            .await?;
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CopyState { from } => {
            let cfg = raw_config(&cli)?.build_for(false)?;
            let copied = bcq::status::copy_state(from, &cfg.sync.state)?;
            println!(
                "copied {copied} rows from {} into {}: the next sync continues where the file left off",
                from.display(),
                cfg.sync.state
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reset { yes, state } => {
            let location = state_location(&cli, state)?;
            let path = PathBuf::from(location.to_string());
            if matches!(location, Location::File(_)) && !path.exists() {
                println!("no state file at {}: nothing to reset", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    anyhow::bail!(
                        "bcq reset forgets all sync state in {}; confirm with --yes",
                        path.display()
                    );
                }
                print!(
                    "forget all sync state in {}? the next sync will push every document again [type yes] ",
                    path.display()
                );
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if answer.trim() != "yes" {
                    println!("nothing changed");
                    return Ok(ExitCode::from(1));
                }
            }
            let removed = bcq::status::reset(&location)?;
            if removed.is_empty() {
                println!("state in {} forgotten", path.display());
            } else {
                println!(
                    "the state file could not be opened (corrupt, or written by a newer bcq); removed {}",
                    removed
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded random command lines from bcq's own vocabulary and junk:
    /// parsing returns a command or clap's error, never panics.
    #[test]
    fn arbitrary_command_lines_never_panic() {
        const WORDS: &[&str] = &[
            "sync",
            "demo",
            "status",
            "reset",
            "check",
            "export",
            "companies",
            "entities",
            "index-schema",
            "serve",
            "iam-policy",
            "--account",
            "--listen",
            "--public-url",
            "--poll-seconds",
            "--full",
            "--reconcile",
            "--dry-run",
            "--allow-mass-delete",
            "--wait-for-job",
            "60",
            "-1",
            "x",
            "--include-pdf",
            "--environment",
            "--company-id",
            "--state",
            "/tmp/s",
            "--out",
            "--set",
            "bc.environment=sandbox",
            "=",
            "--log-format",
            "json",
            "yaml",
            "-vvv",
            "--config",
            "--invoices",
            "99999999999999999999999",
            "--apply",
            "--yes",
            "--runs",
            "--",
            "",
            "\u{0}",
            "Ω",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut parsed = 0;
        for _ in 0..5000 {
            let mut args = vec!["bcq".to_string()];
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for i in 0..(x % 6) {
                args.push(WORDS[((x >> (i * 8)) % WORDS.len() as u64) as usize].to_string());
            }
            if Cli::try_parse_from(&args).is_ok() {
                parsed += 1;
            }
        }
        assert!(parsed > 0, "some generated command lines are valid");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
