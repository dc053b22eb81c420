//! Freshness of `bcq serve`: the time from a change in BC to the changed
//! document INDEXED in Q, with BC's webhooks and with polling, at a steady
//! rate and in a burst; then what an idle `bcq serve` costs.
//!
//! `cargo bench -p bcq --bench freshness -- [--rate-seconds 60]
//! [--burst 5000] [--delay-ms 5000] [--poll-seconds 60] [--idle-seconds 120]
//! [--modes webhook,poll] [--q-rate 10]`
//!
//! The emulators run in this process with Q's throttling at `--q-rate`
//! BatchPutDocument calls/s (10 by default, the emulator's default) and BC's webhook delay set by `--delay-ms`
//! (BC's own is about 30 s: the freshness bound is that delay plus what
//! bcq adds, which is what this measures). bcq is the release binary, in
//! its own process, configured as a user would.

mod support;

use bcq::demo::Emulators;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, get};

struct Opts {
    rate_seconds: u64,
    burst: u64,
    delay_ms: u64,
    poll_seconds: u64,
    idle_seconds: u64,
    q_rate: u64,
    modes: Vec<String>,
}

fn parse() -> Opts {
    let mut o = Opts {
        rate_seconds: 60,
        burst: 5000,
        delay_ms: 5000,
        poll_seconds: 60,
        idle_seconds: 120,
        q_rate: 10,
        modes: vec!["webhook".into(), "poll".into()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a whole number"))
        };
        match a.as_str() {
            "--rate-seconds" => o.rate_seconds = num("--rate-seconds"),
            "--burst" => o.burst = num("--burst"),
            "--delay-ms" => o.delay_ms = num("--delay-ms"),
            "--poll-seconds" => o.poll_seconds = num("--poll-seconds"),
            "--idle-seconds" => o.idle_seconds = num("--idle-seconds"),
            "--q-rate" => o.q_rate = num("--q-rate"),
            "--modes" => {
                o.modes = args
                    .next()
                    .expect("--modes takes webhook,poll")
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

async fn send(method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, &url);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// Percentile `p` (0..=100) of sorted `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// CPU ticks (user + system) and resident KB of a process.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

struct World {
    emu: Emulators,
    company: String,
    dir: tempfile::TempDir,
}

impl World {
    fn records(&self) -> String {
        format!(
            "{}/_sim/records/production/{}/salesInvoices",
            self.emu.bc.base_url(),
            self.company
        )
    }

    /// `number` of every document Q holds INDEXED, by BC id.
    async fn indexed(&self) -> HashMap<String, String> {
        let qc = self.emu.q.config();
        let docs = get(&format!(
            "{}/_sim/documents?applicationId={}&indexId={}",
            self.emu.q.endpoint(),
            qc.application_id,
            qc.index_id
        ))
        .await;
        docs["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| matches!(d["status"].as_str(), Some("INDEXED" | "UPDATED")))
            .filter_map(|d| {
                let id = d["id"].as_str()?.rsplit('/').next()?.to_string();
                Some((id, d["title"].as_str()?.to_string()))
            })
            .collect()
    }

    /// Q sync jobs started so far.
    async fn q_jobs(&self) -> u64 {
        let c = get(&format!("{}/_sim/counts", self.emu.q.endpoint())).await;
        c["by_operation"]["StartDataSourceSyncJob"]
            .as_u64()
            .unwrap_or(0)
    }

    async fn bc_requests(&self) -> u64 {
        let c = get(&format!("{}/_sim/counts", self.emu.bc.base_url())).await;
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

    fn serve(&self, webhooks: bool, poll: u64) -> (Child, String) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut c = Command::new(env!("CARGO_BIN_EXE_bcq"));
        c.current_dir(self.dir.path());
        for (k, v) in self.emu.settings("production") {
            c.arg("--set").arg(format!("{k}={v}"));
        }
        let creds = self.emu.credentials("qbusiness");
        c.arg("--set")
            .arg(format!(
                "sync.state_path={}",
                self.dir.path().join("state.db").display()
            ))
            .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("BCQ_LISTEN", format!("127.0.0.1:{port}"))
            .env("BCQ_POLL_SECONDS", poll.to_string())
            .env("RUST_LOG", "warn")
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if webhooks {
            c.env("BCQ_PUBLIC_URL", &base);
        }
        (c.spawn().expect("bcq serve starts"), base)
    }
}

/// Changes `ids` (one `number` each, at `every` apart) and measures when
/// each new number is INDEXED in Q. Returns the latencies in seconds.
async fn measure(
    w: &World,
    ids: &[String],
    tag: &str,
    every: Duration,
    limit: Duration,
) -> Vec<f64> {
    let mut changed_at: HashMap<String, (Instant, String)> = HashMap::new();
    let mut done: Vec<f64> = Vec::new();
    let started = Instant::now();
    let mut next = Instant::now();
    let mut i = 0;
    while done.len() < ids.len() && started.elapsed() < limit {
        while i < ids.len() && Instant::now() >= next {
            let number = format!("{tag}-{i}");
            send(
                reqwest::Method::PATCH,
                format!("{}/{}", w.records(), ids[i]),
                Some(json!({"number": number})),
            )
            .await;
            changed_at.insert(ids[i].clone(), (Instant::now(), number));
            i += 1;
            next += every;
        }
        let seen = w.indexed().await;
        let now = Instant::now();
        changed_at.retain(|id, (at, number)| {
            if seen.get(id).is_some_and(|t| t.contains(number.as_str())) {
                done.push(now.duration_since(*at).as_secs_f64());
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if done.len() < ids.len() {
        println!(
            "  {} of {} changes not indexed after {:?}",
            ids.len() - done.len(),
            ids.len(),
            limit
        );
    }
    done.sort_by(f64::total_cmp);
    done
}

fn report(what: &str, v: &[f64]) {
    println!(
        "  {what}: {} changes, p50 {:.1} s, p95 {:.1} s, max {:.1} s",
        v.len(),
        pct(v, 50.0),
        pct(v, 95.0),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() {
    let o = parse();
    let bc = bc_sim::SimConfig {
        invoices_per_company: o.burst.max(100),
        companies: 1,
        webhook_delay: Duration::from_millis(o.delay_ms),
        ..bc_sim::SimConfig::default()
    };
    let mut q = q_sim::QSimConfig::default();
    q.rates.insert("BatchPutDocument".into(), o.q_rate as f64);
    q.rates
        .insert("BatchDeleteDocument".into(), o.q_rate as f64);
    let emu = Emulators::start_with(bc, q).await.expect("emulators start");
    let company = emu.bc.companies("production")[0].id.to_string();
    let w = World {
        emu,
        company,
        dir: tempfile::tempdir().unwrap(),
    };
    // Declare the attributes once, as a user does.
    let mut c = Command::new(env!("CARGO_BIN_EXE_bcq"));
    c.current_dir(w.dir.path());
    for (k, v) in w.emu.settings("production") {
        c.arg("--set").arg(format!("{k}={v}"));
    }
    let creds = w.emu.credentials("qbusiness");
    let st = c
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.expose())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["index-schema", "--apply"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let invoices = o.burst.max(100) as usize;
    println!(
        "bcq serve freshness: {} invoices, BC notification delay {} ms, Q at {} BatchPutDocument/s (10 documents each)",
        invoices, o.delay_ms, o.q_rate
    );
    for mode in &o.modes {
        let webhooks = mode == "webhook";
        let (mut child, _base) = w.serve(webhooks, o.poll_seconds);
        let pid = child.id();
        // The first run indexes everything.
        let t = Instant::now();
        while w.indexed().await.len() < invoices {
            assert!(
                t.elapsed() < Duration::from_secs(1800),
                "the first run did not finish"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!(
            "{mode}{}: first run indexed {} documents in {:.1} s",
            if webhooks {
                String::new()
            } else {
                format!(" (every {} s)", o.poll_seconds)
            },
            invoices,
            t.elapsed().as_secs_f64()
        );
        let mut ids: Vec<String> = w.indexed().await.into_keys().collect();
        ids.sort();
        // Webhook subscriptions exist before the first run starts.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let steady_ids: Vec<String> = ids.iter().take(o.rate_seconds as usize).cloned().collect();
        let limit = Duration::from_secs(o.rate_seconds + o.poll_seconds * 2 + 120);
        let jobs = w.q_jobs().await;
        let v = measure(
            &w,
            &steady_ids,
            &format!("{mode}-steady"),
            Duration::from_secs(1),
            limit,
        )
        .await;
        report("1 change/s", &v);
        println!(
            "    Q sync jobs started meanwhile: {}",
            w.q_jobs().await - jobs
        );
        let burst: Vec<String> = ids.iter().take(o.burst as usize).cloned().collect();
        let v = measure(
            &w,
            &burst,
            &format!("{mode}-burst"),
            Duration::ZERO,
            Duration::from_secs(1800),
        )
        .await;
        report(&format!("burst of {}", burst.len()), &v);

        // Idle: nothing changes.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (t0, _) = usage(pid);
        let r0 = w.bc_requests().await;
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(o.idle_seconds)).await;
        let (t1, rss) = usage(pid);
        let r1 = w.bc_requests().await;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  idle {:.0} s: cpu {:.2}% of a core, resident {:.1} MB, BC requests {} ({:.0} per hour for its one unit)",
            secs,
            (t1 - t0) as f64 / 100.0 / secs * 100.0,
            rss as f64 / 1024.0,
            r1 - r0,
            (r1 - r0) as f64 * 3600.0 / secs
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "bcq serve exits 0 on SIGTERM");
    }
    w.emu.stop().await;
}
