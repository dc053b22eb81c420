//! Secrets never leave bcq: the BC client secret, the AWS secret key and
//! the access tokens bcq gets are searched for in everything a run writes
//! (stdout, stderr with text and JSON logs at debug level, error messages
//! of failed runs, the state file and its WAL).

mod common;

use common::World;
use std::time::Duration;

const BC_SECRET: &str = "bcq-canary-BC-secret-5f2d9a";
const WRONG_SECRET: &str = "bcq-canary-wrong-secret-77e1";
const AWS_SECRET: &str = "bcq-canary-AWS-secret-key-1c4b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_any_output_or_the_state_file() {
    let mut q = q_sim::QSimConfig {
        secret_access_key: AWS_SECRET.into(),
        ..q_sim::QSimConfig::default()
    };
    q.rates.insert("BatchPutDocument".into(), 5000.0);
    q.indexing_delay = Duration::from_millis(5);
    let w = World::start(
        bc_sim::SimConfig {
            invoices_per_company: 30,
            client_secret: BC_SECRET.into(),
            ..bc_sim::SimConfig::default()
        },
        q,
    )
    .await;
    let mut outputs = Vec::new();
    for (args, extra) in [
        (vec!["-vv", "sync", "--no-progress"], vec![]),
        (
            vec![
                "--log-format",
                "json",
                "-vv",
                "sync",
                "--no-progress",
                "--reconcile",
            ],
            vec![],
        ),
        (
            vec!["-vv", "sync", "--no-progress"],
            vec![("DYNAMICS_SECRET", WRONG_SECRET)],
        ),
        (
            vec!["--log-format", "json", "-vv", "check"],
            vec![("DYNAMICS_SECRET", WRONG_SECRET)],
        ),
        (vec!["-vv", "check"], vec![]),
        (vec!["status"], vec![]),
        (
            vec!["sync", "--no-progress"],
            vec![("DYNAMICS_COMPANY_ID", "not-a-guid")],
        ),
    ] {
        let r = w.bcq(&args, &extra).await;
        outputs.push((format!("bcq {}", args.join(" ")), r.both()));
    }
    // The runs did real work (so the search means something).
    assert!(
        outputs[0].1.contains("added              30"),
        "{}",
        outputs[0].1
    );
    assert!(outputs[2].1.contains("AADSTS7000215"), "{}", outputs[2].1);
    for name in ["state.db", "state.db-wal"] {
        if let Ok(bytes) = std::fs::read(w.dir.path().join(name)) {
            outputs.push((name.into(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    for (what, text) in &outputs {
        for secret in [BC_SECRET, WRONG_SECRET, AWS_SECRET] {
            assert!(!text.contains(secret), "{what} leaks a secret:\n{text}");
        }
        // Entra and bc-sim access tokens are JWTs: base64url of '{"' opens them.
        assert!(
            !text.contains("eyJ"),
            "{what} leaks an access token:\n{text}"
        );
        assert!(
            !text.contains("Bearer "),
            "{what} leaks an Authorization header:\n{text}"
        );
    }
    w.emu.stop().await;
}
