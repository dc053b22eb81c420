//! The sync benchmark: the real `bcq` binary against in-process emulators
//! with a realistic latency profile, reporting documents per second, that
//! figure as a share of the ceiling the emulated limits set, BC and Q
//! request counts, peak resident memory and CPU time per document.
//!
//! ```sh
//! cargo bench -p bcq --bench sync                         # 100,000 invoices: full, 0.1% changed, nothing changed, into both destinations
//! cargo bench -p bcq --bench sync -- --invoices 1000000 --scenarios full --q-rate 100000 --no-latency   # memory at 1M
//! ```
//!
//! Options: `--destinations qbusiness,bedrock-kb` (default both, one after
//! the other, each against fresh emulators with the same BC data), `--invoices N`, `--q-rate
//! CALLS_PER_S` (the destination's emulated put limit: Q's
//! BatchPutDocument, Bedrock's IngestKnowledgeBaseDocuments; default 100),
//! `--q-latency-ms` (the put call's latency, default 150),
//! `--bc-page-latency-ms` (default 300), `--bc-record-latency-us` (default
//! 20), `--no-latency`, `--scenarios full,incremental,unchanged`. The
//! `BENCH_WRAP` environment variable runs bcq under a profiler (its words
//! go before bcq's path), e.g. `BENCH_WRAP="valgrind --tool=dhat"`.

use bcq::demo::Emulators;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

struct Opts {
    destinations: Vec<String>,
    invoices: u64,
    q_rate: f64,
    q_latency_ms: u64,
    bc_page_latency_ms: u64,
    bc_record_latency_us: u64,
    scenarios: Vec<String>,
    fail_every: Option<u64>,
}

fn parse() -> Opts {
    let mut o = Opts {
        destinations: vec!["qbusiness".into(), "bedrock-kb".into()],
        invoices: 100_000,
        q_rate: 100.0,
        q_latency_ms: 150,
        bc_page_latency_ms: 300,
        bc_record_latency_us: 20,
        scenarios: vec!["full".into(), "incremental".into(), "unchanged".into()],
        fail_every: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--invoices" => o.invoices = val().parse().expect("--invoices N"),
            "--destinations" => o.destinations = val().split(',').map(str::to_string).collect(),
            "--q-rate" => o.q_rate = val().parse().expect("--q-rate N"),
            "--q-latency-ms" => o.q_latency_ms = val().parse().expect("--q-latency-ms N"),
            "--bc-page-latency-ms" => {
                o.bc_page_latency_ms = val().parse().expect("--bc-page-latency-ms N")
            }
            "--bc-record-latency-us" => {
                o.bc_record_latency_us = val().parse().expect("--bc-record-latency-us N")
            }
            "--scenarios" => o.scenarios = val().split(',').map(str::to_string).collect(),
            "--fail-every" => o.fail_every = Some(val().parse().expect("--fail-every N")),
            "--no-latency" => {
                o.q_latency_ms = 0;
                o.bc_page_latency_ms = 0;
                o.bc_record_latency_us = 0;
            }
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    o
}

/// Resource use of the last child waited for, from wait4(2).
struct Usage {
    wall: Duration,
    user: Duration,
    system: Duration,
    /// Voluntary and involuntary context switches.
    switches: (i64, i64),
    code: i32,
    stdout: String,
}

fn run_child(mut cmd: Command) -> Usage {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its resource use
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("bcq starts");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4 failed");
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    Usage {
        wall,
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
        switches: (ru.ru_nvcsw, ru.ru_nivcsw),
        code: std::process::ExitStatus::from_raw(status)
            .code()
            .unwrap_or(-1),
        stdout: reader.join().unwrap_or_default(),
    }
}

async fn counts(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn bc_api_requests(c: &Value) -> u64 {
    c["by_route"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.contains("token"))
                .map(|(_, v)| v.as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

fn q_calls(c: &Value, op: &str) -> u64 {
    c["by_operation"][op].as_u64().unwrap_or(0)
}

/// The emulated destination a run writes to: its put operation, its
/// control API, and how many documents it holds.
struct Dest {
    key: String,
    base: String,
    put_op: &'static str,
    /// Its counts' field of documents accepted.
    pushed_field: &'static str,
}

async fn post(url: String, body: Value) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "refused: {}",
        r.text().await.unwrap()
    );
}

#[tokio::main]
async fn main() {
    let o = parse();
    let mut q = q_sim::QSimConfig::default();
    q.rates.insert("BatchPutDocument".into(), o.q_rate);
    q.rates.insert("BatchDeleteDocument".into(), o.q_rate);
    q.indexing_delay = Duration::from_millis(5);
    let mut kb = bedrock_sim::BedrockSimConfig::default();
    kb.rates
        .insert("IngestKnowledgeBaseDocuments".into(), o.q_rate);
    kb.rates
        .insert("DeleteKnowledgeBaseDocuments".into(), o.q_rate);
    kb.indexing_delay = Duration::from_millis(5);
    let bc = bc_sim::SimConfig {
        invoices_per_company: o.invoices,
        companies: 1,
        latency: Duration::from_millis(o.bc_page_latency_ms),
        latency_per_record: Duration::from_micros(o.bc_record_latency_us),
        ..bc_sim::SimConfig::default()
    };
    for key in &o.destinations {
        // Fresh emulators for each destination: the one run before holds
        // every document it was sent (at 1,000,000 invoices, gigabytes).
        let emu = Emulators::start_all(bc.clone(), q.clone(), kb.clone())
            .await
            .expect("emulators start");
        let bc_base = emu.bc.base_url();
        let company = emu.bc.companies("production")[0].id.to_string();
        let dest = match key.as_str() {
            "qbusiness" => Dest {
                key: key.clone(),
                base: emu.q.endpoint(),
                put_op: "BatchPutDocument",
                pushed_field: "documents_put",
            },
            "bedrock-kb" => Dest {
                key: key.clone(),
                base: emu.bedrock.endpoint(),
                put_op: "IngestKnowledgeBaseDocuments",
                pushed_field: "documents_ingested",
            },
            other => panic!("--destinations: unknown destination {other}"),
        };
        if o.q_latency_ms > 0 {
            post(
                format!("{}/_sim/faults", dest.base),
                json!({"operation": dest.put_op, "kind": "latency", "latency_ms": o.q_latency_ms, "count": 100_000_000u64}),
            )
            .await;
        }
        if let Some(n) = o.fail_every {
            // Endurance: one BC page request and one put call in every N
            // fail transiently (503 with Retry-After, and 500).
            post(
                format!("{bc_base}/_sim/faults"),
                json!({"path_contains": "salesInvoices", "kind": "status", "status": 503, "retry_after_secs": 1, "every": n, "count": u32::MAX}),
            )
            .await;
            post(
                format!("{}/_sim/faults", dest.base),
                json!({"operation": dest.put_op, "kind": "status", "status": 500, "every": n, "count": u64::MAX}),
            )
            .await;
        }
        run_destination(&o, &emu, &dest, &bc_base, &company).await;
        emu.stop().await;
    }
}

/// The settings of a run into `dest`.
fn settings(emu: &Emulators, dest: &Dest) -> Vec<(&'static str, String)> {
    let mut s = emu.settings("production");
    if dest.key == "bedrock-kb" {
        s.retain(|(k, _)| !k.starts_with("q."));
        s.extend(emu.bedrock_settings());
    }
    s
}

async fn run_destination(o: &Opts, emu: &Emulators, dest: &Dest, bc_base: &str, company: &str) {
    let dir = tempfile::tempdir().unwrap();
    // A knowledge base with access lists never returns a document without
    // one: every invoice is readable by one user, in both destinations.
    std::fs::write(
        dir.path().join("bcq.toml"),
        "[[access]]\nallow_users = [\"bench@contoso.example\"]\n",
    )
    .unwrap();
    let settings = settings(emu, dest);
    let creds = emu.credentials(&dest.key);
    let command = |args: &[&str]| {
        // BENCH_WRAP runs bcq under a profiler, e.g.
        // BENCH_WRAP="valgrind --tool=dhat --dhat-out-file=/tmp/dhat.out".
        let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut c = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(env!("CARGO_BIN_EXE_bcq"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_bcq")),
        };
        c.current_dir(dir.path());
        for (k, v) in &settings {
            c.arg("--set").arg(format!("{k}={v}"));
        }
        c.arg("--set").arg(format!(
            "sync.state_path={}",
            dir.path().join("state.db").display()
        ));
        c.env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .arg("--log-format")
            .arg("json")
            .args(args)
            .arg("--no-progress")
            .env("RUST_LOG", "warn");
        c
    };
    let schema = run_child(command(&["index-schema", "--apply"]));
    assert_eq!(schema.code, 0, "index-schema failed");

    // The ceiling: the destination accepts q_rate calls a second of 10
    // documents each; BC serves 6,000 requests per 5 minutes of up to
    // 20,000 records.
    let q_ceiling = o.q_rate * 10.0;
    let bc_ceiling = 20.0 * 20_000.0;
    let ceiling = q_ceiling.min(bc_ceiling);
    println!(
        "bcq sync benchmark into {}: {} invoices, {} {} calls/s at {} ms, BC {} ms/page + {} µs/record; ceiling {:.0} docs/s",
        dest.key,
        o.invoices,
        dest.put_op,
        o.q_rate,
        o.q_latency_ms,
        o.bc_page_latency_ms,
        o.bc_record_latency_us,
        ceiling
    );
    println!(
        "| scenario | docs pushed | wall s | docs/s | of ceiling | BC requests | put calls | peak RSS MB | CPU µs/doc read |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut full_wall = None;
    for scenario in &o.scenarios {
        if scenario == "incremental" {
            post(
                format!("{bc_base}/_sim/touch/production/{company}/salesInvoices"),
                json!({"fraction": 0.001}),
            )
            .await;
        }
        let bc_before = counts(format!("{bc_base}/_sim/counts")).await;
        let d_before = counts(format!("{}/_sim/counts", dest.base)).await;
        let args: Vec<&str> = if scenario == "full" {
            vec!["sync", "--full"]
        } else {
            vec!["sync"]
        };
        let u = run_child(command(&args));
        assert_eq!(u.code, 0, "bcq sync failed:\n{}", u.stdout);
        let bc_after = counts(format!("{bc_base}/_sim/counts")).await;
        let d_after = counts(format!("{}/_sim/counts", dest.base)).await;
        let pushed = d_after[dest.pushed_field].as_u64().unwrap_or(0)
            - d_before[dest.pushed_field].as_u64().unwrap_or(0);
        // bcq's own summary: its peak memory (VmHWM) and CPU time. wait4's
        // ru_maxrss would include the benchmark process's own high-water
        // mark, which the child inherits at fork.
        let summary: Value = u
            .stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .expect("bcq prints a JSON summary");
        let read = summary["read"].as_u64().unwrap_or(0);
        let rss_mb = summary["peak_rss_mb"].as_f64().unwrap_or(f64::NAN);
        let cpu = summary["cpu_seconds"]
            .as_f64()
            .unwrap_or((u.user + u.system).as_secs_f64());
        let secs = u.wall.as_secs_f64();
        let rate = pushed as f64 / secs;
        println!(
            "| {scenario} | {pushed} | {secs:.1} | {rate:.0} | {:.0}% | {} | {} | {:.1} | {:.1} |",
            100.0 * rate / ceiling,
            bc_api_requests(&bc_after) - bc_api_requests(&bc_before),
            q_calls(&d_after, dest.put_op) - q_calls(&d_before, dest.put_op),
            rss_mb,
            cpu * 1e6 / read.max(1) as f64,
        );
        let stat = |name: &str| summary[dest.key.as_str()][name].as_u64().unwrap_or(0);
        println!(
            "|   (bcq's own count: {} put calls, {} throttled) |||||||||",
            stat("put_calls") + stat("ingest_calls"),
            stat("throttled")
        );
        println!(
            "|   (bcq's CPU: user {:.2} s, system {:.2} s; context switches: {} voluntary, {} involuntary) |||||||||",
            u.user.as_secs_f64(),
            u.system.as_secs_f64(),
            u.switches.0,
            u.switches.1
        );
        if scenario == "full" {
            full_wall = Some(secs);
        } else if let Some(f) = full_wall {
            println!(
                "|   ({scenario} wall time = {:.2}% of the full sync's) |||||||||",
                100.0 * secs / f
            );
        }
    }
    // The destination must hold exactly one document per invoice.
    let held = held(emu, dest).await;
    println!(
        "{} holds {held} documents for {} invoices\n",
        dest.key, o.invoices
    );
    assert_eq!(
        held as u64, o.invoices,
        "the destination must hold every invoice"
    );
}

/// Documents the destination holds.
async fn held(emu: &Emulators, dest: &Dest) -> usize {
    if dest.key == "bedrock-kb" {
        let ids: Value = reqwest::get(format!("{}/_sim/documents?ids_only=true", dest.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        return ids["ids"].as_array().map_or(0, Vec::len);
    }
    let qc = emu.q.config();
    let ids: Value = reqwest::get(format!(
        "{}/_sim/documents?applicationId={}&indexId={}&ids_only=true",
        dest.base, qc.application_id, qc.index_id
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    ids["ids"].as_array().map_or(0, Vec::len)
}
