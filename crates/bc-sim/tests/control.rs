//! The change overlay through the /_sim control API: creates, updates,
//! deletes, line-only edits and incremental reads by lastModifiedDateTime.

mod common;
use bc_sim::SimConfig;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn overlay_changes_are_served_and_incremental_reads_see_only_them() {
    // A million invoices: incremental reads must only look at the overlay.
    let sim = start(SimConfig {
        invoices_per_company: 1_000_000,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let c = sim.companies("production")[0].id;
    let base = company_url(&sim, "production", 0);
    let sim_url = |p: &str| format!("{}/_sim/{p}", sim.base_url());
    let info: Value = client()
        .get(sim_url("info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["environments"][0]["companies"][0]["id"], c.to_string());
    assert_eq!(
        info["token_url"],
        format!("{}/oauth2/v2.0/token", sim.authority())
    );
    let cutoff = info["base_max_last_modified"].as_str().unwrap().to_string();

    let first = get_json(&format!("{base}/salesInvoices?$top=3"), &tok).await;
    let id0 = first["value"][0]["id"].as_str().unwrap().to_string();
    let id1 = first["value"][1]["id"].as_str().unwrap().to_string();
    let id2 = first["value"][2]["id"].as_str().unwrap().to_string();

    // Update: lastModifiedDateTime moves and the etag changes.
    let r = client()
        .patch(sim_url(&format!(
            "records/production/{c}/salesInvoices/{id0}"
        )))
        .json(&json!({"externalDocumentNumber":"PO-CHANGED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let upd: Value = r.json().await.unwrap();
    assert_eq!(upd["externalDocumentNumber"], "PO-CHANGED");
    assert_ne!(upd["@odata.etag"], first["value"][0]["@odata.etag"]);
    assert!(
        chrono::DateTime::parse_from_rfc3339(upd["lastModifiedDateTime"].as_str().unwrap())
            .unwrap()
            > chrono::DateTime::parse_from_rfc3339(&cutoff).unwrap()
    );

    // Create: the server fills id and lastModifiedDateTime; ids keep ascending.
    let r = client()
        .post(sim_url(&format!("records/production/{c}/salesInvoices")))
        .json(&json!({"customerName":"Neukunde Ärger GmbH"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let new_id = created["id"].as_str().unwrap().to_string();
    assert!(new_id > id2);
    assert_eq!(created["customerName"], "Neukunde Ärger GmbH");

    // Delete.
    let r = client()
        .delete(sim_url(&format!(
            "records/production/{c}/salesInvoices/{id1}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        get(&format!("{base}/salesInvoices({id1})"), &tok)
            .await
            .status(),
        404
    );

    // Incremental read: exactly the updated and the created invoice, in key order,
    // and lastModifiedDateTime strictly increases with each change.
    let inc = get_json(
        &format!("{base}/salesInvoices?$filter=lastModifiedDateTime gt {cutoff}"),
        &tok,
    )
    .await;
    let ids: Vec<&str> = inc["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id0.as_str(), new_id.as_str()]);
    let t0 = inc["value"][0]["lastModifiedDateTime"].as_str().unwrap();
    let t1 = inc["value"][1]["lastModifiedDateTime"].as_str().unwrap();
    // Compare as instants: BC trims trailing zeros ("22.37Z"), so strings do not sort.
    let p = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    assert!(p(t1) > p(t0), "{t0} < {t1}");

    // Line-only edit: the header's lastModifiedDateTime does not move (real BC behaviour).
    let before = get_json(
        &format!("{base}/salesInvoices({id2})?$expand=salesInvoiceLines"),
        &tok,
    )
    .await;
    let r = client()
        .patch(sim_url(&format!(
            "records/production/{c}/salesInvoices/{id2}/lines/10000"
        )))
        .json(&json!({"description":"Geänderte Zeile","quantity":3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = get_json(
        &format!("{base}/salesInvoices({id2})?$expand=salesInvoiceLines"),
        &tok,
    )
    .await;
    assert_eq!(
        after["lastModifiedDateTime"],
        before["lastModifiedDateTime"]
    );
    assert_eq!(
        after["salesInvoiceLines"][0]["description"],
        "Geänderte Zeile"
    );
    assert_eq!(after["salesInvoiceLines"][0]["quantity"], 3);
    assert_ne!(
        after["salesInvoiceLines"][0]["@odata.etag"],
        before["salesInvoiceLines"][0]["@odata.etag"]
    );
    let sum: f64 = after["salesInvoiceLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amountExcludingTax"].as_f64().unwrap())
        .sum();
    assert!((sum - after["totalAmountExcludingTax"].as_f64().unwrap()).abs() < 0.005);
    let inc = get_json(
        &format!("{base}/salesInvoices?$filter=lastModifiedDateTime gt {cutoff}"),
        &tok,
    )
    .await;
    assert_eq!(
        inc["value"].as_array().unwrap().len(),
        2,
        "line edit is invisible to the header cursor"
    );

    // Touch: N deterministic records, visible incrementally.
    let r: Value = client()
        .post(sim_url(&format!("touch/production/{c}/customers")))
        .json(&json!({"count":4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ids"].as_array().unwrap().len(), 4);
    let inc = get_json(
        &format!("{base}/customers?$filter=lastModifiedDateTime gt {cutoff}"),
        &tok,
    )
    .await;
    assert_eq!(inc["value"].as_array().unwrap().len(), 4);

    // Bad input answers in the control API's JSON error shape.
    let r = client()
        .patch(sim_url(&format!(
            "records/production/{c}/salesInvoices/{id0}"
        )))
        .json(&json!({"noSuchField":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client()
        .delete(sim_url(&format!(
            "records/production/{c}/salesInvoices/{id1}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    sim.stop().await;
}
