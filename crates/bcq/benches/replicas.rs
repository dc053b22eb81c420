//! `bcq serve` replicas sharing one state in PostgreSQL: N processes, one
//! BC environment of many companies, from an empty state until Q holds
//! every invoice. Reports the wall time, each replica's BC requests and
//! runs, and what the emulators counted (BC's requests, refusals,
//! concurrency and requests that had to queue; Q's put calls), so that it
//! shows what bounds the total and that the replicas split the work.
//!
//! `cargo bench -p bcq --bench replicas -- [--companies 200] [--invoices 10]
//! [--replicas 1,2,4] [--q-rate 10] [--poll-seconds 5] [--bc-latency-ms 0]
//! [--unit-concurrency 1]`
//!
//! The emulators run in this process (Q throttling at `--q-rate`
//! BatchPutDocument calls/s, the emulator's default 10); each replica is the
//! release `bcq serve` in its own process, configured as a user would, with
//! `BCQ_STATE_URL` naming a fresh schema of the local PostgreSQL
//! (`BCQ_TEST_PG_URL`, by default `postgres://postgres@127.0.0.1:5432/test`).

mod support;

use bcq::demo::Emulators;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, get};

struct Opts {
    companies: usize,
    invoices: u64,
    replicas: Vec<usize>,
    q_rate: f64,
    poll_seconds: u64,
    bc_latency_ms: u64,
    unit_concurrency: usize,
}

fn parse() -> Opts {
    let mut o = Opts {
        companies: 200,
        invoices: 10,
        replicas: vec![1, 2, 4],
        q_rate: 10.0,
        poll_seconds: 5,
        bc_latency_ms: 0,
        unit_concurrency: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} takes a value"));
        match a.as_str() {
            "--companies" => o.companies = val().parse().expect("--companies N"),
            "--invoices" => o.invoices = val().parse().expect("--invoices N"),
            "--q-rate" => o.q_rate = val().parse().expect("--q-rate N"),
            "--poll-seconds" => o.poll_seconds = val().parse().expect("--poll-seconds N"),
            "--bc-latency-ms" => o.bc_latency_ms = val().parse().expect("--bc-latency-ms N"),
            "--unit-concurrency" => {
                o.unit_concurrency = val().parse().expect("--unit-concurrency N")
            }
            "--replicas" => {
                o.replicas = val()
                    .split(',')
                    .map(|n| n.parse().expect("--replicas 1,2,4"))
                    .collect()
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// The sum of a Prometheus counter's samples in `text` (0 when absent).
fn counter(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

/// `bcq` with the emulators' settings, all companies, and the state URL.
fn bcq(emu: &Emulators, dir: &std::path::Path, state_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bcq"));
    c.current_dir(dir);
    for (k, v) in emu.settings("production") {
        c.arg("--set").arg(format!("{k}={v}"));
    }
    let creds = emu.credentials("qbusiness");
    c.arg("--set")
        .arg("bc.companies=all")
        .env("BCQ_STATE_URL", state_url)
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "RUST_LOG",
            if std::env::var_os("BENCH_LOGS").is_some() {
                "info"
            } else {
                "warn"
            },
        );
    c
}

struct Row {
    replicas: usize,
    seconds: f64,
    per_replica: Vec<(f64, f64)>,
    bc_requests: u64,
    bc_throttled: u64,
    bc_max_in_flight: u64,
    bc_queued: u64,
    q_puts: u64,
}

async fn measure(o: &Opts, n: usize) -> Row {
    let mut q = q_sim::QSimConfig::default();
    q.rates.insert("BatchPutDocument".into(), o.q_rate);
    let bc = bc_sim::SimConfig {
        companies: o.companies,
        invoices_per_company: o.invoices,
        latency: Duration::from_millis(o.bc_latency_ms),
        ..bc_sim::SimConfig::default()
    };
    let emu = Emulators::start_with(bc, q).await.expect("emulators start");
    let dir = tempfile::tempdir().unwrap();
    let schema = bcq_state::testing::PgSchema::new();
    let applied = bcq(&emu, dir.path(), &schema.url)
        .args(["index-schema", "--apply"])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{applied:?}");
    let expected = o.companies as u64 * o.invoices;
    let started = Instant::now();
    let mut replicas: Vec<(Child, String)> = (0..n)
        .map(|_| {
            let port = free_port();
            let child = bcq(&emu, dir.path(), &schema.url)
                .env("BCQ_LISTEN", format!("127.0.0.1:{port}"))
                .env("BCQ_POLL_SECONDS", o.poll_seconds.to_string())
                .env("BCQ_UNIT_CONCURRENCY", o.unit_concurrency.to_string())
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(match std::env::var_os("BENCH_LOGS") {
                    // BENCH_LOGS=DIR keeps each replica's log there.
                    Some(d) => Stdio::from(
                        std::fs::File::create(
                            std::path::Path::new(&d).join(format!("replica-{port}.log")),
                        )
                        .unwrap(),
                    ),
                    None => Stdio::null(),
                })
                .spawn()
                .expect("bcq serve starts");
            (child, format!("http://127.0.0.1:{port}"))
        })
        .collect();
    let qc = emu.q.config();
    let docs_url = format!(
        "{}/_sim/documents?applicationId={}&indexId={}",
        emu.q.endpoint(),
        qc.application_id,
        qc.index_id
    );
    loop {
        let docs = get(&docs_url).await;
        let held = docs["documents"].as_array().map_or(0, |d| d.len() as u64);
        if held >= expected {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "Q holds {held} of {expected} after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    // A run's counters are recorded when it ends (after Q held everything,
    // the last writer still closes the sync job): wait until every
    // replica's first run ended.
    let mut per_replica;
    let waited = Instant::now();
    loop {
        per_replica = Vec::new();
        for (_, base) in &replicas {
            let text = match reqwest::get(format!("{base}/metrics")).await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            per_replica.push((
                counter(&text, "bcq_bc_requests_total"),
                counter(&text, "bcq_runs_total"),
            ));
        }
        if per_replica.iter().all(|p| p.1 >= 1.0) || waited.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (child, _) in &mut replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    let bcc = get(&format!("{}/_sim/counts", emu.bc.base_url())).await;
    let bc_requests = bcc["by_route"].as_object().map_or(0, |m| {
        m.iter()
            .filter(|(k, _)| !k.contains("token"))
            .map(|(_, v)| v.as_u64().unwrap_or(0))
            .sum()
    });
    if std::env::var_os("BENCH_ROUTES").is_some() {
        eprintln!("BC requests by route: {}", bcc["by_route"]);
    }
    let qcounts = get(&format!("{}/_sim/counts", emu.q.endpoint())).await;
    Row {
        replicas: n,
        seconds,
        per_replica,
        bc_requests,
        bc_throttled: bcc["throttled"].as_u64().unwrap_or(0),
        bc_max_in_flight: bcc["max_concurrent_seen"].as_u64().unwrap_or(0),
        bc_queued: bcc["queued"].as_u64().unwrap_or(0),
        q_puts: qcounts["by_operation"]["BatchPutDocument"]
            .as_u64()
            .unwrap_or(0),
    }
}

#[tokio::main]
async fn main() {
    let o = parse();
    println!(
        "bcq serve replicas on one PostgreSQL state: {} companies x {} invoices, Q at {} BatchPutDocument calls/s, BC {} ms per request, {} unit(s) at once per run, poll every {} s",
        o.companies, o.invoices, o.q_rate, o.bc_latency_ms, o.unit_concurrency, o.poll_seconds
    );
    println!(
        "| replicas | wall s | BC requests per replica | runs per replica | BC requests (emulator) | BC refused | BC max in flight | BC queued | Q put calls |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &n in &o.replicas {
        let r = measure(&o, n).await;
        let fmt = |f: &dyn Fn(&(f64, f64)) -> f64| {
            r.per_replica
                .iter()
                .map(|p| format!("{}", f(p)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            r.replicas,
            r.seconds,
            fmt(&|p| p.0),
            fmt(&|p| p.1),
            r.bc_requests,
            r.bc_throttled,
            r.bc_max_in_flight,
            r.bc_queued,
            r.q_puts
        );
    }
}
