//! End-to-end: several companies and environments, export, check and the
//! operator commands, through the real binary.

mod common;

use common::{World, bc, q_fast};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_environments_and_all_their_companies_sync_into_one_index() {
    let w = World::start(bc(40), q_fast()).await;
    let run = w
        .bcq(
            &["sync", "--no-progress"],
            &[
                ("BC_ENVIRONMENTS", "production,sandbox"),
                ("BC_COMPANIES", "all"),
            ],
        )
        .await;
    run.assert_ok();
    let docs = w.q_documents().await;
    let mut expected = HashSet::new();
    for env in ["production", "sandbox"] {
        let companies = w.emu.bc.companies(env);
        assert!(companies.len() >= 2);
        for c in companies {
            expected.insert((env.to_string(), c.id.to_string().to_ascii_lowercase()));
        }
    }
    assert_eq!(docs.len(), 40 * expected.len(), "{}", run.stdout);
    let ids: HashSet<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        docs.len(),
        "document ids collide across companies or environments"
    );
    let mut seen = HashSet::new();
    for d in &docs {
        let a = &d["attributes"];
        seen.insert((
            a["bc_environment"].as_str().unwrap().to_string(),
            a["bc_company_id"].as_str().unwrap().to_string(),
        ));
        assert!(!a["bc_company"].as_str().unwrap().is_empty());
        assert_eq!(d["status"], "INDEXED", "{:?}", d["error"]);
        // With several companies in one index, titles say whose record it is.
        let title = d["title"].as_str().unwrap();
        let whose = format!(
            "({}, {})",
            a["bc_company"].as_str().unwrap(),
            a["bc_environment"].as_str().unwrap()
        );
        assert!(title.ends_with(&whose), "{title} should end with {whose}");
    }
    assert_eq!(seen, expected);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_companies_of_an_environment_share_one_request_budget() {
    let w = World::start(bc(10), q_fast()).await;
    let mut raw = bcq::config::Raw::default();
    for (k, v) in w.emu.settings("production") {
        raw.set_flag(k, v).unwrap();
    }
    raw.set_flag("bc.environments", "production,sandbox".into())
        .unwrap();
    raw.set_flag("bc.companies", "all".into()).unwrap();
    raw.set_flag("sync.entities", "salesInvoices,customers".into())
        .unwrap();
    let cfg = raw.build().unwrap();
    let targets = bcq::plan::resolve(&cfg, None).await.unwrap();
    let store = bcq_state::StateStore::open_in_memory().unwrap();
    let units = bcq::plan::units(&cfg, &targets, &store, false).unwrap();
    let companies: HashSet<(&str, &str)> = units
        .iter()
        .map(|u| (u.key.environment.as_str(), u.key.company_id.as_str()))
        .collect();
    assert!(companies.len() >= 4, "two environments of two companies");
    for a in &units {
        for b in &units {
            assert_eq!(
                std::sync::Arc::ptr_eq(a.client.budget(), b.client.budget()),
                a.key.environment == b.key.environment,
                "{} and {}",
                a.key,
                b.key
            );
        }
    }
    // And the shared budget counts every company's requests.
    for t in &targets {
        let before = t.client.stats().requests;
        for u in units.iter().filter(|u| u.key.environment == t.environment) {
            let url = bcq_bc::collection_url(
                &u.api_root,
                &u.key.company_id,
                u.spec.entity_set,
                &bcq_bc::Query {
                    top: Some(1),
                    ..Default::default()
                },
            );
            u.client.get_json(&url).await.unwrap();
        }
        let per_env = units
            .iter()
            .filter(|u| u.key.environment == t.environment)
            .count() as u64;
        assert_eq!(t.client.stats().requests - before, per_env);
    }
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_dry_run_need_no_q() {
    let w = World::start(bc(12), q_fast()).await;
    let out = w.dir.path().join("export");
    let out_s = out.display().to_string();
    // No Q settings at all.
    let no_q = [
        ("Q_APPLICATION_ID", ""),
        ("Q_INDEX_ID", ""),
        ("Q_DATASOURCE_ID", ""),
    ];
    let r = w.bcq(&["export", "--out", &out_s], &no_q).await;
    r.assert_ok();
    assert!(r.stdout.contains("exported 12 documents"), "{}", r.stdout);
    let company = w.company_id().to_ascii_lowercase();
    let dir = out.join("production").join(&company).join("salesInvoices");
    let mds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(mds.len(), 12);
    let md = std::fs::read_to_string(mds[0].path()).unwrap();
    assert!(md.starts_with("# "), "{md}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(mds[0].path().with_extension("md.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["attributes"]["_category"], "Sales Invoices");

    // A dry run before any sync would add everything and changes no state.
    let r = w.bcq(&["sync", "--dry-run"], &no_q).await;
    r.assert_ok();
    assert!(
        r.stdout.contains("would add 12, update 0, delete 0"),
        "{}",
        r.stdout
    );
    assert!(!w.state_path().exists(), "a dry run must not create state");
    // After a sync and one change, it says exactly that.
    w.bcq(&["sync", "--no-progress"], &[]).await.assert_ok();
    let inv = w.bc_invoices().await[3].clone();
    w.bc_update(
        "salesInvoices",
        inv["id"].as_str().unwrap(),
        serde_json::json!({"externalDocumentNumber": "DRY"}),
    )
    .await;
    let r = w.bcq(&["sync", "--dry-run"], &[]).await;
    r.assert_ok();
    assert!(
        r.stdout.contains("would add 0, update 1, delete 0"),
        "{}",
        r.stdout
    );
    let r = w.bcq(&["sync", "--no-progress"], &[]).await;
    assert!(
        r.stdout.contains("updated             1"),
        "the dry run must not have consumed the change: {}",
        r.stdout
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_shows_each_broken_dependency_with_its_reason() {
    let w = World::start(bc(5), q_fast()).await;
    let r = w.bcq(&["check"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.both());
    assert!(r.stdout.contains("✔ read salesInvoices of"), "{}", r.stdout);
    assert!(
        r.stdout.contains("✔ custom attributes on the index"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("without access control"), "{}", r.stdout);

    let r = w.bcq(&["check"], &[("DYNAMICS_SECRET", "nope")]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("✖ business central access"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("DYNAMICS_SECRET"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("setup step missing: README 'Before the first sync', step 1:"),
        "{}",
        r.stdout
    );

    // Attributes of an entity the index was never told about: the step
    // that declares them is named.
    let r = w
        .bcq(&["check"], &[("BCQ_ENTITIES", "salesInvoices,vendors")])
        .await;
    assert_eq!(r.code, 1, "{}", r.both());
    assert!(
        r.stdout
            .contains("setup step missing: README 'Before the first sync', step 3.3:"),
        "{}",
        r.stdout
    );

    let r = w
        .bcq(
            &["check"],
            &[("Q_DATASOURCE_ID", "a0b1c2d3-0000-4000-8000-00000000ffff")],
        )
        .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("✖ q data source a0b1c2d3-0000-4000-8000-00000000ffff"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ResourceNotFoundException"),
        "{}",
        r.stdout
    );

    let r = w.bcq(&["companies"], &[]).await;
    r.assert_ok();
    assert!(
        r.stdout.contains(&w.company_id().to_ascii_lowercase()),
        "{}",
        r.stdout
    );

    let r = w.bcq(&["entities"], &[]).await;
    r.assert_ok();
    assert!(r.stdout.contains("salesInvoices"), "{}", r.stdout);
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_attribute_is_a_check_failure_and_stops_sync_before_a_job() {
    let w = World::start(bc(5), q_fast()).await;
    // A fresh index of its own, without bcq's attributes.
    let qc = w.emu.q.config().clone();
    let client = w.q_sdk().await;
    let index = client
        .create_index()
        .application_id(&qc.application_id)
        .display_name("bare")
        .send()
        .await
        .unwrap();
    let index_id = index.index_id().unwrap().to_string();
    let ds = client
        .create_data_source()
        .application_id(&qc.application_id)
        .index_id(&index_id)
        .display_name("bcq")
        .configuration(aws_smithy_types::Document::Object(
            [
                (
                    "type".to_string(),
                    aws_smithy_types::Document::String("CUSTOM".into()),
                ),
                (
                    "version".to_string(),
                    aws_smithy_types::Document::String("1.0.0".into()),
                ),
            ]
            .into(),
        ))
        .send()
        .await
        .unwrap();
    let ds_id = ds.data_source_id().unwrap().to_string();
    let env = [
        ("Q_INDEX_ID", index_id.as_str()),
        ("Q_DATASOURCE_ID", ds_id.as_str()),
    ];
    let r = w.bcq(&["check"], &env).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("✖ custom attributes on the index: not declared: bc_environment"),
        "{}",
        r.stdout
    );
    let r = w.bcq(&["sync", "--no-progress"], &env).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("bcq index-schema --apply"),
        "{}",
        r.both()
    );
    let jobs = w.q_jobs().await;
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["dataSourceId"] != ds_id.as_str()),
        "{jobs}"
    );
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_api_page_declared_in_the_config_file_syncs() {
    let w = World::start(bc(3), q_fast()).await;
    let cfg = w.dir.path().join("bcq.toml");
    std::fs::write(
        &cfg,
        r#"[custom.loyaltyCards]
publisher = "contoso"
group = "loyalty"
version = "v1.0"
entity_set = "loyaltyCards"
singular = "Loyalty Card"
number_field = "cardNumber"
party_field = "holderName"
page = 50100
fields = ["cardNumber", "holderName", "points:number", "balance:amount", "active:bool", "issuedOn:date"]

[custom.loyaltyCards.attributes]
bc_points = "points:number"
"#,
    )
    .unwrap();
    // bcq.toml in the working directory is read without --config.
    w.bcq(&["index-schema", "--apply"], &[]).await.assert_ok();
    let r = w.bcq(&["sync", "--no-progress"], &[]).await;
    r.assert_ok();
    let cards: Vec<serde_json::Value> = w
        .q_documents()
        .await
        .into_iter()
        .filter(|d| d["attributes"]["bc_entity"] == "loyaltyCards")
        .collect();
    let per_company = w
        .emu
        .bc
        .config()
        .custom_api
        .as_ref()
        .unwrap()
        .records_per_company as usize;
    assert_eq!(cards.len(), per_company, "{}", r.stdout);
    for d in &cards {
        assert!(
            d["title"].as_str().unwrap().starts_with("Loyalty Card "),
            "{}",
            d["title"]
        );
        assert!(
            d["attributes"]["_source_uri"]
                .as_str()
                .unwrap()
                .contains("&page=50100&")
        );
        assert!(
            d["attributes"]["bc_points"].is_number(),
            "{}",
            d["attributes"]
        );
        assert!(
            d["text"].as_str().unwrap().contains("- **Points:**"),
            "{}",
            d["text"]
        );
        assert_eq!(d["status"], "INDEXED", "{:?}", d["error"]);
    }
    w.emu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_entity_syncs_and_indexes_without_failure() {
    let w = World::start(bc(5), q_fast()).await;
    let all = [("BCQ_ENTITIES", "all")];
    w.bcq(&["index-schema", "--apply"], &all).await.assert_ok();
    let r = w.bcq(&["sync", "--no-progress"], &all).await;
    r.assert_ok();
    let docs = w.q_documents().await;
    for spec in bcq_core::catalog::CATALOG {
        let of: Vec<&serde_json::Value> = docs
            .iter()
            .filter(|d| d["attributes"]["bc_entity"] == spec.entity_set)
            .collect();
        assert!(
            !of.is_empty(),
            "no {} document in Q:\n{}",
            spec.entity_set,
            r.stdout
        );
        for d in of {
            assert_eq!(d["status"], "INDEXED", "{}: {:?}", d["id"], d["error"]);
            assert_eq!(d["attributes"]["_category"], spec.category);
            assert!(
                d["attributes"]["_source_uri"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://businesscentral.dynamics.com/")
            );
        }
    }
    w.emu.stop().await;
}
