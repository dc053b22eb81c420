//! `bcq iam-policy` holds exactly what bcq calls: every operation a sync
//! (and `bcq index-schema --apply`) made against the emulators is allowed,
//! nothing else is, every action exists in the service's API model, and
//! every resource is one of the configured ones.

mod common;

use common::{World, bc, q_fast};
use serde_json::Value;
use std::collections::BTreeSet;

fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn model_operations(path: &str) -> BTreeSet<String> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let m: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    m["operations"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_q_policy_allows_exactly_what_bcq_calls() {
    let w = World::start(bc(30), q_fast()).await;
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let counts = w.q_counts().await;
    let called: BTreeSet<String> = counts["by_operation"]
        .as_object()
        .unwrap()
        .keys()
        .map(|op| format!("qbusiness:{op}"))
        .collect();
    let r = w
        .bcq(&["iam-policy", "--account", "123456789012"], &[])
        .await;
    r.assert_ok();
    let policy: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    let allowed = actions(&policy);
    let missing: Vec<&String> = called.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "called but not allowed: {missing:?}\n{}",
        r.stdout
    );
    let model = model_operations("reference/qbusiness/service-2.json");
    for a in &allowed {
        let op = a
            .strip_prefix("qbusiness:")
            .expect("only Q actions without S3");
        assert!(
            model.contains(op),
            "{a} is not an operation of the Q API model"
        );
        assert!(!a.contains('*'), "no wildcard actions: {a}");
    }
    // Everything allowed is called by bcq somewhere: a sync here, or the
    // group, deletion and schema calls other tests exercise.
    let extra: Vec<&String> = allowed.difference(&called).collect();
    for e in &extra {
        assert!(
            [
                "qbusiness:PutGroup",
                "qbusiness:DeleteGroup",
                "qbusiness:BatchDeleteDocument",
                "qbusiness:ListDocuments",
                "qbusiness:StopDataSourceSyncJob"
            ]
            .contains(&e.as_str())
                || e.as_str() == "qbusiness:UpdateIndex",
            "allowed but never called: {e}"
        );
    }
    let qc = w.emu.q.config();
    for s in policy["Statement"].as_array().unwrap() {
        for res in s["Resource"].as_array().unwrap() {
            let res = res.as_str().unwrap();
            assert!(
                res.starts_with("arn:aws:qbusiness:")
                    && res.contains(":123456789012:")
                    && res.contains(&qc.application_id),
                "{res} is not scoped to the configured application"
            );
            assert!(!res.ends_with('*'), "{res}");
        }
    }
    // Without --account, the policy variable stands for the account.
    let r = w.bcq(&["iam-policy"], &[]).await;
    r.assert_ok();
    assert!(r.stdout.contains("${aws:PrincipalAccount}"), "{}", r.stdout);
    let bad = w.bcq(&["iam-policy", "--account", "12345"], &[]).await;
    assert_eq!(bad.code, 2, "{}", bad.both());
    assert!(bad.stderr.contains("12-digit"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bedrock_policy_allows_exactly_what_bcq_calls() {
    let w = World::start(bc(30), q_fast()).await;
    let vars = w.bedrock_env();
    let env = common::pairs(&vars);
    w.write_config("[[access]]\nallow_users = [\"a@x.example\"]\n");
    w.bcq(&["sync", "--no-progress"], &env).await.assert_ok();
    let counts: Value = reqwest::get(format!("{}/_sim/counts", w.emu.bedrock.endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let called: BTreeSet<String> = counts["by_operation"]
        .as_object()
        .unwrap()
        .keys()
        .map(|op| format!("bedrock:{op}"))
        .collect();
    assert!(!called.is_empty(), "{counts}");
    let r = w
        .bcq(&["iam-policy", "--account", "123456789012"], &env)
        .await;
    r.assert_ok();
    let policy: Value = serde_json::from_str(&r.stdout).unwrap();
    let allowed = actions(&policy);
    let missing: Vec<&String> = called.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "called but not allowed: {missing:?}\n{}",
        r.stdout
    );
    let mut model = model_operations("reference/bedrock/bedrock-agent-service-2.json");
    model.extend(model_operations(
        "reference/bedrock/bedrock-agent-runtime-service-2.json",
    ));
    for a in &allowed {
        let op = a.strip_prefix("bedrock:").unwrap();
        assert!(
            model.contains(op),
            "{a} is not an operation of the Bedrock API models"
        );
    }
    for s in policy["Statement"].as_array().unwrap() {
        for res in s["Resource"].as_array().unwrap() {
            let res = res.as_str().unwrap();
            assert!(
                res.starts_with("arn:aws:bedrock:") && res.contains(":knowledge-base/"),
                "{res}"
            );
        }
    }
}
