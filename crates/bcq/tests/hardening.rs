//! The hardening matrix (issue "Hardening: what a hostile BC, a slow Q and a
//! first hour of use broke"): each of its 22 items rerun as it was found —
//! by a hostile proxy in front of the BC emulator that rewrites BC's
//! answers, by faults injected into the emulators, by signals, or by the
//! configuration a new user types — and judged: the result must be the one
//! the issue asks for and, where data was involved, Q must equal BC after
//! the following clean run. Every item is a row of
//! `target/fault-matrix-hardening.md` (printed by `scripts/test` beside the
//! fault matrix); the test fails when any row is not as expected.
//!
//! `HARDENING_ONLY=<n,n>` runs those items; `HARDENING_DEBUG=1` prints
//! every run's output.

mod common;

use common::proxy::{Answer, Foreign, Proxy, Request};
use common::{Run, World, bc, pairs, q_fast};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Invoices of the company: 6 pages of 50.
const INVOICES: u64 = 300;
/// Every run reads in pages of 50 with a short request timeout.
const BASE: &[(&str, &str)] = &[("BC_PAGE_SIZE", "50"), ("BC_REQUEST_TIMEOUT_SECONDS", "5")];

/// What an item's check found: how it went, or what was wrong.
type Outcome = Result<String, String>;
type Check = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Fails the check with `msg` unless `cond`.
fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

/// The environment of a run: the base, plus `extra` (owned values).
fn env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> =
        BASE.iter().map(|(k, v)| (*k, v.to_string())).collect();
    v.extend(extra.iter().cloned());
    v
}

/// Runs bcq with `args` and the environment `e`.
async fn bcq(w: &World, args: &[&str], e: &[(&'static str, String)]) -> Run {
    let r = w.bcq(args, &pairs(e)).await;
    if std::env::var("HARDENING_DEBUG").is_ok() {
        eprintln!("$ bcq {}\nexit {}\n{}", args.join(" "), r.code, r.both());
    }
    r
}

/// The last JSON object bcq printed on stdout (`--log-format json`).
fn summary(r: &Run) -> Value {
    r.stdout
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .unwrap_or(Value::Null)
}

/// A world with the company's invoices, synced once, cleanly.
async fn synced(q: q_sim::QSimConfig) -> Result<World, String> {
    let w = World::start(bc(INVOICES), q).await;
    let r = bcq(&w, &["sync", "--no-progress"], &env(&[])).await;
    ensure(r.code == 0, || {
        format!("the first clean sync failed: {}", r.both())
    })?;
    Ok(w)
}

/// Q = BC through the shared helper, its panic turned into an error.
async fn q_equals_bc(w: &Arc<World>) -> Result<(), String> {
    let w = w.clone();
    tokio::spawn(async move { w.assert_q_equals_bc().await })
        .await
        .map_err(|e| format!("Q ≠ BC: {}", panic_text(e)))
}

fn panic_text(e: tokio::task::JoinError) -> String {
    e.try_into_panic()
        .ok()
        .and_then(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        })
        .unwrap_or_else(|| "panicked".into())
}

/// A clean run (no proxy rule, no fault) after the hostile one, then Q = BC.
async fn clean_follow_up(w: &Arc<World>, args: &[&str], e: &[(&'static str, String)]) -> Outcome {
    let r = bcq(w, args, e).await;
    ensure(r.code == 0, || {
        format!("the clean follow-up run failed: {}", r.both())
    })?;
    q_equals_bc(w).await?;
    Ok(String::new())
}

/// Whether a request is for a page of sales invoices (not `$count`).
fn invoice_page(req: &Request, a: &Answer) -> Option<Value> {
    if req.url.contains("/salesInvoices") && !req.url.contains("$count") {
        a.page()
    } else {
        None
    }
}

/// Documents Q holds.
async fn q_doc_count(w: &World) -> usize {
    w.q_documents().await.len()
}

/// A reconciliation through the proxy whose rule must make bcq refuse the
/// read: exit 1 naming `named`, nothing deleted from Q; then, the rule
/// cleared, a clean reconciliation converges. Answers the hostile run's
/// output and the URLs the proxy was asked during it.
async fn refused_reconcile(
    w: &Arc<World>,
    p: &Proxy,
    via: &[(&'static str, String)],
    named: &str,
) -> Result<(Run, Vec<String>), String> {
    let args = ["sync", "--reconcile", "--no-progress"];
    let r = bcq(w, &args, via).await;
    let asked = p.requests();
    ensure(r.code == 1, || {
        format!("exit {} (want 1): {}", r.code, r.both())
    })?;
    ensure(r.both().contains(named), || {
        format!("{named:?} is not said: {}", r.both())
    })?;
    let held = q_doc_count(w).await;
    ensure(held == INVOICES as usize, || {
        format!("Q holds {held} of {INVOICES}: the refused read deleted documents")
    })?;
    p.clear();
    clean_follow_up(w, &args, via).await?;
    Ok((r, asked))
}

// ---- Data loss and runaway reads -------------------------------------------

/// 1. A nextLink equal to its own page during a reconciliation.
async fn repeated_next_link() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    p.set(|req, a| {
        if let Some(mut v) = invoice_page(req, a).filter(|_| req.is_next_page()) {
            v["@odata.nextLink"] = json!(req.url);
            a.set_json(&v);
        }
    });
    refused_reconcile(&w, &p, &via, "not trustworthy").await?;
    Ok(format!(
        "exit 1 naming the anomaly; Q still holds all {INVOICES}; clean reconcile converged"
    ))
}

/// 2. A nextLink cycle (page 2 → page 1).
async fn next_link_cycle() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let f = first.clone();
    p.set(move |req, a| {
        let Some(mut v) = invoice_page(req, a) else {
            return;
        };
        if !req.is_next_page() {
            f.lock().unwrap().get_or_insert(req.url.clone());
        } else if let Some(first) = f.lock().unwrap().clone() {
            v["@odata.nextLink"] = json!(first);
            a.set_json(&v);
        }
    });
    let (_, asked) = refused_reconcile(&w, &p, &via, "not trustworthy").await?;
    let pages = asked
        .iter()
        .filter(|u| u.contains("/salesInvoices") && !u.contains("$count"))
        .count();
    ensure(pages <= 5, || {
        format!("{pages} invoice pages requested in the cycle")
    })?;
    Ok(format!(
        "exit 1 after {pages} page requests naming the cycle; nothing deleted; clean reconcile converged"
    ))
}

/// 3. A record dated 2099 does not carry the cursor away.
async fn future_date() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let invoices = w.bc_invoices().await;
    let a = invoices[7]["id"].as_str().unwrap().to_string();
    let b = invoices[8]["id"].as_str().unwrap().to_string();
    w.bc_update(
        "salesInvoices",
        &a,
        json!({"externalDocumentNumber": "FUTURE"}),
    )
    .await;
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    let target = a.clone();
    p.set(move |req, ans| {
        let Some(mut v) = invoice_page(req, ans) else {
            return;
        };
        for rec in v["value"].as_array_mut().unwrap() {
            if rec["id"] == json!(target) {
                rec["lastModifiedDateTime"] = json!("2099-01-01T00:00:00Z");
            }
        }
        ans.set_json(&v);
    });
    let mut json_env = via.clone();
    json_env.push(("BCQ_RECONCILE_EVERY_HOURS", "1000".into()));
    let r = bcq(
        &w,
        &["sync", "--no-progress", "--log-format", "json"],
        &json_env,
    )
    .await;
    let s = summary(&r);
    ensure(r.code == 0, || format!("exit {}: {}", r.code, r.both()))?;
    ensure(
        s["warnings"]
            .to_string()
            .contains("after business central's clock"),
        || format!("no warning about the date: {}", s["warnings"]),
    )?;
    ensure(!s["units"].to_string().contains("2099"), || {
        format!("the cursor followed the record: {}", s["units"])
    })?;
    // A later change is still read incrementally.
    p.clear();
    w.bc_update(
        "salesInvoices",
        &b,
        json!({"externalDocumentNumber": "LATER"}),
    )
    .await;
    let r = bcq(
        &w,
        &["sync", "--no-progress", "--log-format", "json"],
        &json_env,
    )
    .await;
    let s = summary(&r);
    ensure(r.code == 0 && s["kind"] == "incremental", || {
        format!("the next run: exit {}, kind {}", r.code, s["kind"])
    })?;
    ensure(s["updated"].as_u64().unwrap_or(0) >= 1, || {
        format!("the next incremental run missed the later change: {s}")
    })?;
    clean_follow_up(&w, &["sync", "--reconcile", "--no-progress"], &json_env).await?;
    Ok("warned, cursor stayed at BC's clock; the next incremental run read a later change; reconcile converged".into())
}

/// 4. The same id twice in one read.
async fn duplicate_ids() -> Outcome {
    let w = Arc::new(World::start(bc(INVOICES), q_fast()).await);
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    let dup_number: Arc<Mutex<String>> = Arc::default();
    let d = dup_number.clone();
    p.set(move |req, a| {
        let Some(mut v) = invoice_page(req, a).filter(|_| req.is_next_page()) else {
            return;
        };
        let values = v["value"].as_array_mut().unwrap();
        let Some(first) = values.first().cloned() else {
            return;
        };
        let mut copy = first.clone();
        let number = first["number"].as_str().unwrap_or_default().to_string();
        copy["number"] = json!(format!("DUP-{number}"));
        values.push(copy);
        let mut last = d.lock().unwrap();
        if last.is_empty() {
            *last = number;
        }
        a.set_json(&v);
    });
    let args = [
        "sync",
        "--reconcile",
        "--no-progress",
        "--log-format",
        "json",
    ];
    let r = bcq(&w, &args, &via).await;
    let s = summary(&r);
    let warnings = s["warnings"].to_string();
    let number = dup_number.lock().unwrap().clone();
    ensure(r.code == 0, || format!("exit {}: {}", r.code, r.both()))?;
    ensure(
        warnings.contains("read twice") && warnings.contains(&format!("DUP-{number}")),
        || format!("the duplicate is not reported with both numbers: {warnings}"),
    )?;
    let again = bcq(&w, &args, &via).await;
    let s2 = summary(&again);
    ensure(again.code == 0 && s2["updated"] == 0, || {
        format!("the same duplicate changed a document again: {s2}")
    })?;
    q_equals_bc(&w).await?;
    p.clear();
    clean_follow_up(&w, &["sync", "--reconcile", "--no-progress"], &via).await?;
    Ok(format!(
        "reported with both numbers ({number} first, then DUP-{number}); the first kept; a second reconcile updated 0; Q = BC"
    ))
}

/// 5. A lone UTF-16 surrogate in one field.
async fn lone_surrogate() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let invoices = w.bc_invoices().await;
    let a = invoices[3]["id"].as_str().unwrap().to_string();
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    let target = a.clone();
    p.set(move |req, ans| {
        let Some(mut v) = invoice_page(req, ans) else {
            return;
        };
        let mut hit = false;
        for rec in v["value"].as_array_mut().unwrap() {
            if rec["id"] == json!(target) {
                rec["customerName"] = json!("Bad SURROGATE name");
                hit = true;
            }
        }
        if hit {
            ans.set_json(&v);
            let text = String::from_utf8(ans.body.clone()).unwrap();
            ans.body = text.replace("SURROGATE", "\\ud800").into_bytes();
        }
    });
    let r = bcq(&w, &["sync", "--reconcile", "--no-progress"], &via).await;
    ensure(r.code == 0, || format!("exit {}: {}", r.code, r.both()))?;
    let doc_id = w.invoice_doc_id(&a);
    let docs = w.q_documents().await;
    let doc = docs.iter().find(|d| d["id"] == json!(doc_id));
    let text = doc.and_then(|d| d["text"].as_str()).unwrap_or_default();
    ensure(text.contains("Bad \u{FFFD} name"), || {
        format!(
            "the field did not arrive as U+FFFD: {}",
            &text[..text.len().min(300)]
        )
    })?;
    ensure(docs.len() == INVOICES as usize, || {
        format!("Q holds {}", docs.len())
    })?;
    p.clear();
    clean_follow_up(&w, &["sync", "--reconcile", "--no-progress"], &via).await?;
    Ok(
        "the company synced; the field became U+FFFD in its one document; reconcile restored it"
            .into(),
    )
}

/// 6. A 302 to another origin.
async fn foreign_redirect() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    let foreign = Foreign::start().await;
    let via = env(&[("BC_API_BASE_URL", p.api_base())]);
    let there = foreign.url.clone();
    let me = p.url.clone();
    p.set(move |req, a| {
        if invoice_page(req, a).is_some() && req.is_next_page() {
            a.status = 302;
            a.body.clear();
            a.set_header("location", &req.url.replace(&me, &there));
        }
    });
    refused_reconcile(&w, &p, &via, "another origin").await?;
    ensure(foreign.hits().is_empty(), || {
        format!("the foreign origin was asked: {:?}", foreign.hits())
    })?;
    Ok("refused (exit 1), the other origin never asked, nothing deleted; clean reconcile converged".into())
}

// ---- Content that reaches people ------------------------------------------

/// 7. Markdown and HTML in BC values.
async fn markdown_injection() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    let invoices = w.bc_invoices().await;
    let inv = &invoices[5];
    let a = inv["id"].as_str().unwrap().to_string();
    let seq = inv["salesInvoiceLines"][0]["sequence"]
        .as_i64()
        .unwrap_or(10000);
    w.bc_update(
        "salesInvoices",
        &a,
        json!({"customerName": "[click](javascript:alert(1)) <script>alert(1)</script>"}),
    )
    .await;
    w.bc_update_line(
        &a,
        seq,
        json!({"description": "<img src=x onerror=alert(2)> | *x* # y"}),
    )
    .await;
    let r = bcq(&w, &["sync", "--no-progress"], &env(&[])).await;
    ensure(r.code == 0, || format!("exit {}: {}", r.code, r.both()))?;
    let doc_id = w.invoice_doc_id(&a);
    let docs = w.q_documents().await;
    let text = docs
        .iter()
        .find(|d| d["id"] == json!(doc_id))
        .and_then(|d| d["text"].as_str())
        .unwrap_or_default()
        .to_string();
    ensure(text.contains("click") && text.contains("onerror"), || {
        format!("the values are missing: {text}")
    })?;
    // Each of these may appear only escaped (a backslash before it), so
    // that it renders as the text it is.
    for raw in ["](javascript:", "<script>", "</script>", "<img"] {
        let all = text.matches(raw).count();
        let escaped = text.matches(&format!("\\{raw}")).count();
        ensure(all == escaped, || {
            format!("{raw:?} reached Q unescaped:\n{text}")
        })?;
    }
    q_equals_bc(&w).await?;
    Ok("link, <script> and <img> arrive escaped as text (in the title line, the fields and the lines table)".into())
}

// ---- A slow or busy destination -------------------------------------------

/// 8. Q sustained at 1.5 BatchPutDocument calls/s.
async fn slow_q() -> Outcome {
    let mut q = q_fast();
    q.rates.insert("BatchPutDocument".into(), 1.5);
    let w = Arc::new(World::start(bc(INVOICES), q).await);
    let started = std::time::Instant::now();
    let r = bcq(
        &w,
        &["sync", "--no-progress", "--log-format", "json"],
        &env(&[]),
    )
    .await;
    let s = summary(&r);
    ensure(r.code == 0, || format!("exit {}: {}", r.code, r.both()))?;
    q_equals_bc(&w).await?;
    Ok(format!(
        "{} BatchPutDocument calls in {:.0} s at 1.5 calls/s, {} throttled, none given up; Q = BC",
        s["qbusiness"]["put_calls"],
        started.elapsed().as_secs_f64(),
        s["qbusiness"]["throttled"]
    ))
}

/// 9. bcq's own previous job still indexing.
async fn own_job_still_indexing() -> Outcome {
    let mut q = q_fast();
    q.indexing_delay = Duration::from_secs(4);
    let w = Arc::new(World::start(bc(INVOICES), q).await);
    let leave = env(&[("BCQ_FOLLOW_INDEXING_SECONDS", "0".into())]);
    let r = bcq(&w, &["sync", "--no-progress"], &leave).await;
    ensure(r.code == 0, || {
        format!("first run: exit {}: {}", r.code, r.both())
    })?;
    let invoices = w.bc_invoices().await;
    w.bc_update(
        "salesInvoices",
        invoices[1]["id"].as_str().unwrap(),
        json!({"externalDocumentNumber": "NEXT"}),
    )
    .await;
    let r = bcq(&w, &["sync", "--no-progress"], &env(&[])).await;
    ensure(r.code == 0, || {
        format!("second run: exit {}: {}", r.code, r.both())
    })?;
    ensure(r.stderr.contains("bcq's previous"), || {
        format!("no word of waiting for bcq's own job: {}", r.both())
    })?;
    q_equals_bc(&w).await?;
    Ok("the next run waited for bcq's own job to finish indexing (with a progress line), then synced; Q = BC".into())
}

/// 10. A document Q accepted and then failed to index.
async fn index_failure() -> Outcome {
    let w = Arc::new(World::start(bc(INVOICES), q_fast()).await);
    let invoices = w.bc_invoices().await;
    let target = w.invoice_doc_id(invoices[0]["id"].as_str().unwrap());
    w.fault(
        &w.emu.q.endpoint(),
        json!({"kind": "index_failure", "document_id_contains": target}),
    )
    .await;
    let r = bcq(&w, &["sync", "--no-progress"], &env(&[])).await;
    ensure(r.code == 1, || {
        format!("exit {} (want 1): {}", r.code, r.both())
    })?;
    ensure(
        r.stdout.contains(&format!(
            "not indexed {target} (accepted, then failed to index"
        )),
        || format!("the failure is not named in the run: {}", r.both()),
    )?;
    let status = bcq(&w, &["status"], &env(&[])).await;
    ensure(status.stdout.contains("failed to index"), || {
        format!("bcq status does not list it: {}", status.stdout)
    })?;
    w.clear_faults(&w.emu.q.endpoint()).await;
    clean_follow_up(&w, &["sync", "--no-progress"], &env(&[])).await?;
    Ok("named with Q's reason by the run that sent it (exit 1) and in bcq status; the next run pushed it again".into())
}

// ---- Signals, summaries and state -----------------------------------------

/// Starts `bcq sync` as a child, waits until `ready` says so, sends `sig`,
/// and returns the run.
/// Whether a run is far enough along to be signalled.
type Ready = fn(Arc<World>) -> Pin<Box<dyn Future<Output = bool> + Send>>;

async fn signalled(
    w: &Arc<World>,
    args: &[&str],
    e: &[(&'static str, String)],
    sig: i32,
    ready: Ready,
) -> Result<Run, String> {
    let mut c = w.command(args);
    for (k, v) in e {
        c.env(k, v);
    }
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().map_err(|e| e.to_string())?;
    let pid = child.id() as i32;
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    let mut sent = false;
    for _ in 0..600 {
        if waiter.is_finished() {
            break;
        }
        if ready(w.clone()).await {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(pid, sig) };
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = waiter
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let r = Run::from(out);
    ensure(sent, || {
        format!("the run ended before it could be signalled: {}", r.both())
    })?;
    Ok(r)
}

/// Sync jobs still SYNCING on Q.
async fn syncing_jobs(w: &World) -> usize {
    w.q_jobs().await["jobs"]
        .as_array()
        .map_or(0, |j| j.iter().filter(|j| j["status"] == "SYNCING").count())
}

/// 11. SIGTERM and SIGHUP stop the run as Ctrl-C does.
async fn term_and_hup() -> Outcome {
    let mut said = Vec::new();
    for (sig, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let mut q = q_fast();
        q.rates.insert("BatchPutDocument".into(), 3.0);
        let w = Arc::new(World::start(bc(INVOICES), q).await);
        let r = signalled(&w, &["sync", "--no-progress"], &env(&[]), sig, |w| {
            Box::pin(async move { syncing_jobs(&w).await > 0 && !w.q_documents().await.is_empty() })
        })
        .await?;
        ensure(r.code == code, || {
            format!("{name}: exit {} (want {code}): {}", r.code, r.both())
        })?;
        let left = syncing_jobs(&w).await;
        ensure(left == 0, || {
            format!("{name}: {left} sync job(s) left SYNCING")
        })?;
        clean_follow_up(&w, &["sync", "--no-progress"], &env(&[])).await?;
        said.push(format!("{name} → exit {code}, job stopped"));
    }
    Ok(format!("{}; the next runs converged", said.join(", ")))
}

/// 12. After Ctrl-C the summary counts what Q accepted.
async fn interrupted_summary() -> Outcome {
    let mut q = q_fast();
    q.rates.insert("BatchPutDocument".into(), 4.0);
    let w = Arc::new(World::start(bc(INVOICES), q).await);
    let r = signalled(
        &w,
        &["sync", "--no-progress", "--log-format", "json"],
        &env(&[]),
        libc::SIGINT,
        |w| Box::pin(async move { w.q_documents().await.len() >= 40 }),
    )
    .await?;
    let s = summary(&r);
    ensure(r.code == 130, || {
        format!("exit {} (want 130): {}", r.code, r.both())
    })?;
    let held = q_doc_count(&w).await as u64;
    let counted = s["added"].as_u64().unwrap_or(0) + s["updated"].as_u64().unwrap_or(0);
    ensure(counted == held && held > 0, || {
        format!("the summary counts {counted} pushed, Q holds {held}: {s}")
    })?;
    ensure(s["read"].as_u64().unwrap_or(0) >= held, || {
        format!("the summary says read {} but {held} were pushed", s["read"])
    })?;
    clean_follow_up(&w, &["sync", "--no-progress"], &env(&[])).await?;
    Ok(format!(
        "exit 130; summary: read {}, added {counted} = the {held} Q holds; the next run converged",
        s["read"]
    ))
}

/// 13. `bcq reset --yes` on a corrupt state file.
async fn reset_corrupt() -> Outcome {
    let w = Arc::new(synced(q_fast()).await?);
    std::fs::write(w.state_path(), b"this is not a database ".repeat(500)).unwrap();
    let r = bcq(&w, &["reset", "--yes"], &env(&[])).await;
    ensure(r.code == 0, || {
        format!("reset: exit {}: {}", r.code, r.both())
    })?;
    ensure(r.stdout.contains("removed"), || {
        format!("reset says nothing of what it removed: {}", r.both())
    })?;
    clean_follow_up(&w, &["sync", "--no-progress"], &env(&[])).await?;
    Ok(
        "removed the file it could not open, saying so; the next sync started afresh and converged"
            .into(),
    )
}

/// 14. The first run is labelled by what it did.
async fn first_run_label() -> Outcome {
    let w = World::start(bc(INVOICES), q_fast()).await;
    let j = ["sync", "--no-progress", "--log-format", "json"];
    let first = summary(&bcq(&w, &j, &env(&[])).await);
    let second = summary(&bcq(&w, &j, &env(&[])).await);
    let status = bcq(&w, &["status"], &env(&[])).await;
    ensure(first["kind"] == "reconcile", || {
        format!("first run labelled {}", first["kind"])
    })?;
    ensure(second["kind"] == "incremental", || {
        format!("second run labelled {}", second["kind"])
    })?;
    ensure(
        status.stdout.contains("reconcile") && status.stdout.contains("incremental"),
        || format!("bcq status does not show both labels: {}", status.stdout),
    )?;
    Ok(
        "first run: reconcile (a full read), second: incremental, in the summary and in bcq status"
            .into(),
    )
}

// ---- Configuration and output ---------------------------------------------

/// Asserts a configuration mistake exits 2, names `names` and never shows `hidden`.
fn config_error(r: &Run, names: &[&str], hidden: &[&str]) -> Result<(), String> {
    let text = r.both();
    ensure(r.code == 2, || format!("exit {} (want 2): {text}", r.code))?;
    for n in names {
        ensure(text.contains(n), || format!("{n:?} is not named: {text}"))?;
    }
    for h in hidden {
        ensure(!text.contains(h), || {
            format!("{h:?} appears in the output: {text}")
        })?;
    }
    Ok(())
}

/// 15. Fractional numbers for integer settings.
async fn fractional_numbers() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    let r = bcq(&w, &["sync"], &env(&[("BC_PAGE_SIZE", "10.9".into())])).await;
    config_error(&r, &["BC_PAGE_SIZE", "10.9"], &[])?;
    let r = bcq(&w, &["sync", "--set", "bc.max_in_flight=3.7"], &env(&[])).await;
    config_error(&r, &["bc.max_in_flight"], &[])?;
    Ok("BC_PAGE_SIZE=10.9 and bc.max_in_flight=3.7 refused, exit 2, naming the setting".into())
}

/// 16. A malformed `--set` does not echo its value.
async fn malformed_set() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    let r = bcq(
        &w,
        &["sync", "--set", "bc.client_secret:s3cr3t-value"],
        &env(&[]),
    )
    .await;
    config_error(&r, &["bc.client_secret", "KEY=VALUE"], &["s3cr3t-value"])?;
    Ok("exit 2 naming bc.client_secret and the KEY=VALUE form, without the value".into())
}

/// 17. Empty secrets, by flag or by environment.
async fn empty_secret() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    let by_flag = bcq(&w, &["sync", "--set", "bc.client_secret="], &env(&[])).await;
    config_error(&by_flag, &["DYNAMICS_SECRET"], &[])?;
    let by_env = bcq(&w, &["sync"], &env(&[("DYNAMICS_SECRET", "".into())])).await;
    config_error(&by_env, &["DYNAMICS_SECRET"], &[])?;
    let first = |r: &Run| r.stderr.lines().next().unwrap_or_default().to_string();
    ensure(first(&by_flag) == first(&by_env), || {
        format!(
            "refused differently:\n{}\n{}",
            by_flag.stderr, by_env.stderr
        )
    })?;
    Ok("both refused before Entra is asked, exit 2, with the same message".into())
}

/// 18. A `.env` line that does not parse.
async fn bad_dotenv() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    std::fs::write(
        w.dir.path().join(".env"),
        "BC_PAGE_SIZE=50\n# a comment\nthis line is s3cr3t and wrong\nBCQ_ENTITIES=salesInvoices\n",
    )
    .unwrap();
    let r = bcq(&w, &["sync"], &env(&[])).await;
    config_error(&r, &[".env", "line 3"], &["s3cr3t"])?;
    Ok("exit 2 naming .env and line 3, without the line's content".into())
}

/// 19. Mistakes found up front, not mid-run.
async fn late_config_errors() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    // A directory with a name of its own: the test's paths are all under
    // /tmp, so "/tmp" would be found in the output whatever the error.
    let state_dir = w.dir.path().join("state-is-a-directory");
    std::fs::create_dir(&state_dir).unwrap();
    let state_dir = state_dir.to_str().unwrap();
    // (environment, flags, what the error must name)
    type Case<'a> = (Vec<(&'static str, String)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("BC_TENANT_ID", "contoso/evil".into())],
            vec![],
            "BC_TENANT_ID",
        ),
        (
            vec![("AWS_REGION", "us-east-1/x".into())],
            vec![],
            "AWS_REGION",
        ),
        (
            vec![
                ("DYNAMICS_SECRET", "".into()),
                ("DYNAMICS_CERTIFICATE_PATH", "/nonexistent/bcq.pfx".into()),
            ],
            vec![],
            "/nonexistent/bcq.pfx",
        ),
        (vec![], vec!["--state", state_dir], state_dir),
    ];
    let mut said = Vec::new();
    for (extra, flags, name) in cases {
        let mut args = vec!["sync", "--no-progress"];
        args.extend(flags);
        let r = bcq(&w, &args, &env(&extra)).await;
        config_error(&r, &[name], &[])?;
        ensure(
            w.q_jobs().await["jobs"]
                .as_array()
                .is_none_or(Vec::is_empty),
            || format!("{name}: a sync job was started before the mistake was found"),
        )?;
        said.push(name);
    }
    Ok(format!(
        "exit 2 before any request, naming {} (and --state's directory)",
        said[..3].join(", ")
    ))
}

/// 20. `--log-format json` gives JSON for every outcome.
async fn json_errors() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    let r = bcq(
        &w,
        &["sync", "--log-format", "json"],
        &env(&[("BC_PAGE_SIZE", "10.9".into())]),
    )
    .await;
    ensure(r.code == 2, || format!("exit {}: {}", r.code, r.both()))?;
    let out: Value = serde_json::from_str(r.stdout.trim())
        .map_err(|e| format!("stdout is not one JSON object ({e}): {}", r.stdout))?;
    ensure(out["outcome"] == "error" && out["exit_code"] == 2, || {
        format!("stdout: {out}")
    })?;
    for line in r.stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line)
            .map_err(|e| format!("a stderr line is not JSON ({e}): {line}"))?;
    }
    Ok("stdout: one JSON error object with exit_code 2; every stderr line JSON".into())
}

/// 21. A token endpoint that echoes the form does not leak the secret.
async fn echoed_secret() -> Outcome {
    let w = World::start(bc(1), q_fast()).await;
    let p = Proxy::start(&w.emu.bc.base_url()).await;
    p.set(|req, a| {
        if req.url.contains("/oauth2/") {
            let form = String::from_utf8_lossy(&req.body).to_string();
            a.status = 400;
            a.set_header("content-type", "application/json");
            a.body = json!({
                "error": "invalid_request",
                "error_description": format!("AADSTS900144: echo of the request: {form}"),
            })
            .to_string()
            .into_bytes();
        }
    });
    let authority = w.emu.bc.authority().replace(&w.emu.bc.base_url(), &p.url);
    let secret = w.emu.bc.config().client_secret.clone();
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let r = bcq(
        &w,
        &["sync", "--no-progress"],
        &env(&[("DYNAMICS_AUTHORITY", authority)]),
    )
    .await;
    ensure(r.code != 0, || format!("exit 0: {}", r.both()))?;
    ensure(r.both().contains("AADSTS900144"), || {
        format!("the endpoint's answer is not shown at all: {}", r.both())
    })?;
    ensure(
        !r.both().contains(&secret) && !r.both().contains(&encoded),
        || format!("the secret leaked: {}", r.both()),
    )?;
    Ok(format!(
        "exit {}; Entra's answer shown with the echoed secret redacted",
        r.code
    ))
}

/// 22. Colour only on a terminal, and never with NO_COLOR.
async fn colour() -> Outcome {
    let w = World::start(bc(20), q_fast()).await;
    let piped = bcq(&w, &["sync", "--no-progress", "-v"], &env(&[])).await;
    ensure(piped.code == 0, || piped.both())?;
    ensure(!piped.both().contains('\u{1b}'), || {
        "colour codes in a pipe".into()
    })?;
    // On a terminal (script(1) gives the run a pseudo-terminal).
    let on_tty = |no_color: bool| {
        let base = w.command(&[]);
        let mut s = std::process::Command::new("script");
        s.env_clear();
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                s.env(k, v);
            }
        }
        for (k, v) in BASE {
            s.env(k, v);
        }
        s.env("TERM", "xterm");
        if no_color {
            s.env("NO_COLOR", "1");
        }
        s.current_dir(w.dir.path());
        let cmd = format!("{} sync --no-progress -v", env!("CARGO_BIN_EXE_bcq"));
        s.args(["-qec", &cmd, "/dev/null"]);
        tokio::task::spawn_blocking(move || s.output())
    };
    let tty = Run::from(
        on_tty(false)
            .await
            .unwrap()
            .map_err(|e| format!("script: {e}"))?,
    );
    ensure(tty.code == 0 && tty.stdout.contains('\u{1b}'), || {
        format!(
            "no colour on a terminal (exit {}): {}",
            tty.code,
            tty.both()
        )
    })?;
    let plain = Run::from(
        on_tty(true)
            .await
            .unwrap()
            .map_err(|e| format!("script: {e}"))?,
    );
    ensure(plain.code == 0 && !plain.stdout.contains('\u{1b}'), || {
        format!("colour on a terminal with NO_COLOR (exit {})", plain.code)
    })?;
    Ok("none in a pipe, colour on a terminal, none on a terminal with NO_COLOR".into())
}

/// One row of the matrix.
struct Item {
    n: u32,
    what: &'static str,
    how: &'static str,
    check: fn() -> Check,
}

fn items() -> Vec<Item> {
    macro_rules! item {
        ($n:expr, $what:expr, $how:expr, $f:ident) => {
            Item {
                n: $n,
                what: $what,
                how: $how,
                check: || Box::pin($f()),
            }
        };
    }
    vec![
        item!(
            1,
            "nextLink equal to its own page, in a reconciliation",
            "proxy",
            repeated_next_link
        ),
        item!(
            2,
            "nextLink cycle (page 2 → page 1)",
            "proxy",
            next_link_cycle
        ),
        item!(3, "record dated 2099", "proxy", future_date),
        item!(4, "the same id twice in one read", "proxy", duplicate_ids),
        item!(
            5,
            "lone UTF-16 surrogate (\\ud800) in one field",
            "proxy",
            lone_surrogate
        ),
        item!(6, "302 to another origin", "proxy", foreign_redirect),
        item!(
            7,
            "Markdown/HTML injection in names and lines",
            "BC data",
            markdown_injection
        ),
        item!(
            8,
            "Q sustained at 1.5 BatchPutDocument calls/s",
            "Q rate",
            slow_q
        ),
        item!(
            9,
            "bcq's own previous job still indexing",
            "Q timing",
            own_job_still_indexing
        ),
        item!(
            10,
            "accepted, then failed to index",
            "Q fault",
            index_failure
        ),
        item!(11, "SIGTERM and SIGHUP mid-run", "signal", term_and_hup),
        item!(12, "summary after Ctrl-C", "signal", interrupted_summary),
        item!(
            13,
            "reset --yes on a corrupt state file",
            "state file",
            reset_corrupt
        ),
        item!(
            14,
            "first run labelled by what it did",
            "runs",
            first_run_label
        ),
        item!(
            15,
            "fractional numbers for integer settings",
            "config",
            fractional_numbers
        ),
        item!(16, "--set KEY:VALUE", "flags", malformed_set),
        item!(
            17,
            "empty secret by flag or environment",
            "config",
            empty_secret
        ),
        item!(18, ".env line that does not parse", "config", bad_dotenv),
        item!(
            19,
            "tenant/region with '/', missing certificate, --state a directory",
            "config",
            late_config_errors
        ),
        item!(
            20,
            "--log-format json on an error before the run",
            "output",
            json_errors
        ),
        item!(
            21,
            "token endpoint echoing the form",
            "proxy (Entra)",
            echoed_secret
        ),
        item!(22, "colour on terminals only, NO_COLOR", "output", colour),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hardening_item_holds() {
    let started = std::time::Instant::now();
    let only: Vec<u32> = std::env::var("HARDENING_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(3));
    let mut set = tokio::task::JoinSet::new();
    for it in items()
        .into_iter()
        .filter(|i| only.is_empty() || only.contains(&i.n))
    {
        let permits = permits.clone();
        set.spawn(async move {
            let _p = permits.acquire().await.unwrap();
            let t = std::time::Instant::now();
            let outcome = match tokio::spawn((it.check)()).await {
                Ok(o) => o,
                Err(e) => Err(format!("panicked: {}", panic_text(e))),
            };
            (it.n, it.what, it.how, outcome, t.elapsed().as_secs_f64())
        });
    }
    let mut rows = Vec::new();
    while let Some(r) = set.join_next().await {
        rows.push(r.expect("row task"));
    }
    rows.sort_by_key(|r| r.0);
    let mut md = String::from(
        "# bcq hardening matrix\n\n| item | what | injected by | outcome | s |\n|---|---|---|---|---|\n",
    );
    for (n, what, how, outcome, secs) in &rows {
        let cell = match outcome {
            Ok(s) => s.clone(),
            Err(e) => format!("**NOT AS EXPECTED** {e}"),
        };
        md += &format!(
            "| {n} | {} | {how} | {} | {secs:.1} |\n",
            what.replace('|', "\\|"),
            cell.replace('|', "\\|").replace('\n', " ")
        );
    }
    md += &format!(
        "\n{} items, wall time {:.0} s (debug build)\n",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fault-matrix-hardening.md");
    std::fs::create_dir_all(path.parent().expect("a parent")).unwrap();
    std::fs::write(&path, &md).unwrap();
    println!("{md}");
    let bad: Vec<String> = rows
        .iter()
        .filter_map(|(n, what, _, o, _)| o.as_ref().err().map(|e| format!("{n} {what}: {e}")))
        .collect();
    assert!(bad.is_empty(), "items not as expected:\n{}", bad.join("\n"));
}
