//! OData semantics: $filter, $select, $expand (nested), $orderby, $top, $skip,
//! single entities, errors in BC's shapes, PDFs, custom API.

mod common;
use bc_sim::SimConfig;
use common::*;
use serde_json::Value;

fn err_msg(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn query_options_behave_like_bc() {
    let sim = start(SimConfig {
        invoices_per_company: 300,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let base = company_url(&sim, "production", 0);
    let all = get_json(&format!("{base}/salesInvoices"), &tok).await;
    let all = all["value"].as_array().unwrap().clone();
    assert_eq!(all.len(), 300);

    // $filter on an enum and a decimal, with and/or/parentheses.
    let v = get_json(&format!("{base}/salesInvoices?$filter=(status eq 'Paid' or status eq 'Open') and totalAmountIncludingTax gt 1000"), &tok).await;
    let expect = all
        .iter()
        .filter(|e| {
            (e["status"] == "Paid" || e["status"] == "Open")
                && e["totalAmountIncludingTax"].as_f64().unwrap() > 1000.0
        })
        .count();
    assert!(expect > 0);
    assert_eq!(v["value"].as_array().unwrap().len(), expect);

    // The count segment: plain text, under the same filter.
    let count = |q: &str| {
        let url = format!("{base}/salesInvoices/$count{q}");
        let tok = tok.clone();
        async move {
            let r = get(&url, &tok).await;
            assert_eq!(r.status(), 200, "{url}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain")
            );
            r.text().await.unwrap()
        }
    };
    assert_eq!(count("").await, "300");
    assert_eq!(
        count(
            "?$filter=(status eq 'Paid' or status eq 'Open') and totalAmountIncludingTax gt 1000"
        )
        .await,
        expect.to_string()
    );

    // startswith and unquoted GUID literal.
    let cust = all[0]["customerId"].as_str().unwrap();
    let v = get_json(
        &format!("{base}/salesInvoices?$filter=customerId eq {cust}"),
        &tok,
    )
    .await;
    let expect = all.iter().filter(|e| e["customerId"] == cust).count();
    assert_eq!(v["value"].as_array().unwrap().len(), expect);
    let v = get_json(
        &format!("{base}/salesInvoices?$filter=startswith(number,'S-INV')"),
        &tok,
    )
    .await;
    assert!(
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "Draft" || e["status"] == "In_x0020_Review")
    );

    // $select keeps only the named properties (plus the etag).
    let v = get_json(
        &format!("{base}/salesInvoices?$select=number,totalAmountIncludingTax&$top=2"),
        &tok,
    )
    .await;
    let e = v["value"][0].as_object().unwrap();
    let mut keys: Vec<&String> = e.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["@odata.etag", "number", "totalAmountIncludingTax"]
    );
    assert!(
        v.get("@odata.nextLink").is_none(),
        "$top suppresses nextLink"
    );
    assert_eq!(v["value"].as_array().unwrap().len(), 2);

    // $count is the total number of matches, not the page size.
    let v = get_json(
        &format!("{base}/salesInvoices?$filter=status eq 'Paid'&$count=true&$top=1"),
        &tok,
    )
    .await;
    let paid = all.iter().filter(|e| e["status"] == "Paid").count();
    assert_eq!(v["@odata.count"].as_u64().unwrap() as usize, paid);
    assert_eq!(v["value"].as_array().unwrap().len(), 1);

    // $orderby desc + $skip + $top.
    let v = get_json(
        &format!("{base}/salesInvoices?$orderby=totalAmountIncludingTax desc&$skip=1&$top=3"),
        &tok,
    )
    .await;
    let mut amounts: Vec<f64> = all
        .iter()
        .map(|e| e["totalAmountIncludingTax"].as_f64().unwrap())
        .collect();
    amounts.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let got: Vec<f64> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["totalAmountIncludingTax"].as_f64().unwrap())
        .collect();
    assert_eq!(got, amounts[1..4].to_vec());

    // Nested expand options; header totals equal the sum of the lines.
    let v = get_json(&format!("{base}/salesInvoices?$top=20&$expand=salesInvoiceLines($select=description,amountExcludingTax;$filter=quantity ge 1),customer"), &tok).await;
    for inv in v["value"].as_array().unwrap() {
        let lines = inv["salesInvoiceLines"].as_array().unwrap();
        assert!(!lines.is_empty());
        let sum: f64 = lines
            .iter()
            .map(|l| l["amountExcludingTax"].as_f64().unwrap())
            .sum();
        assert!((sum - inv["totalAmountExcludingTax"].as_f64().unwrap()).abs() < 0.005);
        assert_eq!(lines[0].as_object().unwrap().len(), 3, "etag + 2 selected");
        assert_eq!(inv["customer"]["id"], inv["customerId"]);
        assert_eq!(inv["customer"]["displayName"], inv["customerName"]);
    }

    // Single entity, nested lines, context URLs.
    let id = all[5]["id"].as_str().unwrap();
    let one = get_json(&format!("{base}/salesInvoices({id})"), &tok).await;
    assert_eq!(one["number"], all[5]["number"]);
    assert!(
        one["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/salesInvoices/$entity")
    );
    let lines = get_json(
        &format!("{base}/salesInvoices({id})/salesInvoiceLines"),
        &tok,
    )
    .await;
    assert!(lines["value"][0]["sequence"] == 10000);
    assert_eq!(lines["value"][0]["documentId"], id);

    // Unknown property on lines: BC's exact 400.
    let r = get(&format!("{base}/salesInvoices({id})/salesInvoiceLines?$filter=lastModifiedDateTime gt 2024-01-01T00:00:00Z"), &tok).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "BadRequest");
    let m = err_msg(&v);
    assert!(m.starts_with("Could not find a property named 'lastModifiedDateTime' on type 'Microsoft.NAV.salesInvoiceLine'.  CorrelationId:  "), "{m}");
    let r = get(&format!("{base}/salesInvoices?$filter=number eq"), &tok).await;
    assert_eq!(r.status(), 400);
    assert!(err_msg(&r.json().await.unwrap()).contains("Syntax error"));

    // Errors: unknown environment (XML), company, entity set, record.
    let r = get(&format!("{}/companies", sim.api_root("nope")), &tok).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/xml");
    let expected = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../reference/bc/captured/error-no-environment.xml"
    ))
    .unwrap();
    assert_eq!(r.text().await.unwrap().trim(), expected.trim());
    let r = get(
        &format!(
            "{}/companies(00000000-0000-0000-0000-000000000001)/customers",
            sim.api_root("production")
        ),
        &tok,
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "BadRequest_ResourceNotFound"
    );
    let r = get(&format!("{base}/nonsense"), &tok).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "BadRequest_NotFound"
    );
    // Environment names compare case-insensitively and the tenant segment is optional.
    let c = sim.companies("production")[0].id;
    let v = get_json(
        &format!(
            "{}/Production/api/v2.0/companies({c})/customers?$top=1",
            sim.api_base()
        ),
        &tok,
    )
    .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    // Environments have different company ids.
    assert_ne!(
        sim.companies("production")[0].id,
        sim.companies("sandbox")[0].id
    );
    sim.stop().await;
}

#[tokio::test]
async fn pdf_document_and_media_stream() {
    let sim = start(SimConfig {
        invoices_per_company: 20,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let base = company_url(&sim, "production", 1);
    let v = get_json(
        &format!("{base}/salesInvoices?$top=1&$expand=pdfDocument"),
        &tok,
    )
    .await;
    let inv = &v["value"][0];
    let pdf = &inv["pdfDocument"];
    assert_eq!(pdf["parentId"], inv["id"]);
    assert_eq!(pdf["parentType"], "Sales_x0020_Invoice");
    let link = pdf["pdfDocumentContent@odata.mediaReadLink"]
        .as_str()
        .unwrap();
    assert_eq!(
        link,
        format!(
            "{base}/salesInvoices({})/pdfDocument/pdfDocumentContent",
            inv["id"].as_str().unwrap()
        )
    );
    let r = get(link, &tok).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-1.4"));
    assert!(bytes.ends_with(b"%%EOF\n"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(inv["number"].as_str().unwrap()));
    // If poppler's pdftotext is installed, the text must be extractable:
    // invoice number, customer and every line description.
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_ok()
    {
        let path = std::env::temp_dir().join(format!("bcsim-{}.pdf", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg("-enc")
            .arg("UTF-8")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let txt = String::from_utf8_lossy(&out.stdout);
        assert!(txt.contains(inv["number"].as_str().unwrap()), "{txt}");
        assert!(txt.contains(inv["customerName"].as_str().unwrap()), "{txt}");
        let lines = get_json(
            &format!(
                "{base}/salesInvoices({})/salesInvoiceLines",
                inv["id"].as_str().unwrap()
            ),
            &tok,
        )
        .await;
        for l in lines["value"].as_array().unwrap() {
            assert!(txt.contains(l["description"].as_str().unwrap()), "{txt}");
        }
    }
    let single = get_json(
        &format!(
            "{base}/salesInvoices({})/pdfDocument",
            inv["id"].as_str().unwrap()
        ),
        &tok,
    )
    .await;
    assert_eq!(single["id"], inv["id"]);
    // Document attachments stream their content.
    let a = get_json(&format!("{base}/documentAttachments?$top=1"), &tok).await;
    let link = a["value"][0]["attachmentContent@odata.mediaReadLink"]
        .as_str()
        .unwrap();
    let body = get(link, &tok).await.bytes().await.unwrap();
    assert_eq!(
        body.len() as i64,
        a["value"][0]["byteSize"].as_i64().unwrap()
    );
    sim.stop().await;
}

#[tokio::test]
async fn custom_api_page_is_served() {
    let sim = start(SimConfig::default()).await;
    let tok = token(&sim).await;
    let c = sim.companies("sandbox")[0].id;
    let url = format!(
        "{}/{}/sandbox/api/contoso/loyalty/v1.0/companies({c})/loyaltyCards",
        sim.api_base(),
        sim.config().tenant
    );
    let v = get_json(&url, &tok).await;
    let arr = v["value"].as_array().unwrap();
    assert_eq!(arr.len(), 50);
    assert!(
        arr[0]["cardNumber"].is_string()
            && arr[0]["points"].is_i64()
            && arr[0]["lastModifiedDateTime"].is_string()
    );
    let r = get(
        &format!(
            "{}/{}/sandbox/api/contoso/loyalty/v1.0/companies({c})/salesInvoices",
            sim.api_base(),
            sim.config().tenant
        ),
        &tok,
    )
    .await;
    assert_eq!(r.status(), 404);
    sim.stop().await;
}
