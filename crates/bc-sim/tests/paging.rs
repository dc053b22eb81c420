//! Paging through a large invoice set over real HTTP, following nextLinks.
//! (For 100,000+: start `bcq-sim` with a larger scale and follow nextLinks with curl.)

mod common;
use bc_sim::SimConfig;
use bc_sim::datagen::Ctx;
use common::*;

#[tokio::test]
async fn pages_through_30000_invoices_with_lines_exactly() {
    let n = 30_000u64;
    let sim = start(SimConfig {
        invoices_per_company: n,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let mut url = format!(
        "{}/salesInvoices?$expand=salesInvoiceLines",
        company_url(&sim, "production", 0)
    );
    let (mut invoices, mut lines, mut pages) = (0u64, 0u64, 0);
    let mut last_id = String::new();
    loop {
        let r = client()
            .get(&url)
            .bearer_auth(&tok)
            .header("Prefer", "odata.maxpagesize=7000")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["preference-applied"], "odata.maxpagesize=7000");
        let v: serde_json::Value = r.json().await.unwrap();
        pages += 1;
        for inv in v["value"].as_array().unwrap() {
            let id = inv["id"].as_str().unwrap().to_string();
            assert!(id > last_id, "ids ascend across pages");
            last_id = id;
            invoices += 1;
            lines += inv["salesInvoiceLines"].as_array().unwrap().len() as u64;
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("$expand=salesInvoiceLines&aid=FIN&$skiptoken="),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    let ctx = Ctx {
        seed: 42,
        env: 0,
        company: 0,
        scale: n,
        custom_count: 0,
    };
    let expected_lines: u64 = (0..n).map(|p| ctx.line_count("salesInvoices", p)).sum();
    assert_eq!(invoices, n);
    assert_eq!(lines, expected_lines);
    assert_eq!(pages, 5, "30000/7000 → 5 pages (last one short)");
    sim.stop().await;
}

#[tokio::test]
async fn full_last_page_is_followed_by_an_empty_page_like_bc() {
    let sim = start(SimConfig {
        invoices_per_company: 10,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let url = format!("{}/customers", company_url(&sim, "production", 0));
    // 10 customers, page size 5: page 1 and 2 full (nextLink), page 3 empty without nextLink.
    let mut next = Some(url);
    let mut sizes = Vec::new();
    while let Some(u) = next {
        let v: serde_json::Value = client()
            .get(&u)
            .bearer_auth(&tok)
            .header("Prefer", "odata.maxpagesize=5")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sizes.push(v["value"].as_array().unwrap().len());
        next = v["@odata.nextLink"].as_str().map(str::to_string);
        if let Some(n) = &next {
            assert!(
                n.ends_with(&format!(
                    "/customers?aid=FIN&$skiptoken={}",
                    v["value"][4]["id"].as_str().unwrap()
                )),
                "{n}"
            );
        }
    }
    assert_eq!(sizes, vec![5, 5, 0]);
    sim.stop().await;
}
