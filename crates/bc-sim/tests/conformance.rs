//! Conformance against the real BC `$metadata`: every served entity's
//! property names (in order), JSON types, MaxLength and enum values; and the
//! served `$metadata` agrees with the real one for the served types.

mod common;
use bc_sim::SimConfig;
use common::*;
use serde_json::Value;
use std::collections::HashMap;

const META: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../reference/bc/metadata.xml"
);

#[derive(Debug, Clone, PartialEq)]
struct P {
    name: String,
    ty: String,
    max: Option<usize>,
    nullable: bool,
}

struct Meta {
    types: HashMap<String, Vec<P>>,
    enums: HashMap<String, Vec<String>>,
}

fn load(xml: &str) -> Meta {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut types = HashMap::new();
    let mut enums = HashMap::new();
    for n in doc.descendants() {
        if n.has_tag_name("EntityType") {
            let props = n
                .children()
                .filter(|c| c.has_tag_name("Property"))
                .map(|c| P {
                    name: c.attribute("Name").unwrap().into(),
                    ty: c.attribute("Type").unwrap().into(),
                    max: c.attribute("MaxLength").and_then(|m| m.parse().ok()),
                    nullable: c.attribute("Nullable") != Some("false"),
                })
                .collect();
            types.insert(n.attribute("Name").unwrap().to_string(), props);
        }
        if n.has_tag_name("EnumType") {
            let m = n
                .children()
                .filter(|c| c.has_tag_name("Member"))
                .map(|c| c.attribute("Name").unwrap().to_string())
                .collect();
            enums.insert(n.attribute("Name").unwrap().to_string(), m);
        }
    }
    Meta { types, enums }
}

/// Key order of JSON objects (serde_json's Map sorts keys without `preserve_order`).
struct Keys(Vec<String>);
impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut k = Vec::new();
                while let Some((key, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                    k.push(key);
                }
                Ok(Keys(k))
            }
        }
        d.deserialize_map(V)
    }
}

fn check_entity(meta: &Meta, ty: &str, e: &Value, checked: &mut usize) {
    let props = &meta.types[ty];
    let obj = e.as_object().unwrap();
    let order = e.get("__order").and_then(Value::as_array).map(|a| {
        a.iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    });
    let keys: Vec<String> = order.unwrap_or_else(|| obj.keys().cloned().collect());
    let data: Vec<&String> = keys.iter().filter(|k| !k.contains('@')).collect();
    let expected: Vec<&String> = props
        .iter()
        .filter(|p| p.ty != "Edm.Stream")
        .map(|p| &p.name)
        .collect();
    let data_no_nav: Vec<&String> = data
        .iter()
        .copied()
        .filter(|k| {
            *k != "__order"
                && (!obj[k.as_str()].is_array() && !obj[k.as_str()].is_object()
                    || expected.contains(k))
        })
        .collect();
    assert_eq!(data_no_nav, expected, "property names/order of {ty}");
    for p in props {
        if p.ty == "Edm.Stream" {
            assert!(
                obj[&format!("{}@odata.mediaReadLink", p.name)].is_string(),
                "{ty}.{} media link",
                p.name
            );
            continue;
        }
        let v = &obj[&p.name];
        let ok = match p.ty.as_str() {
            "Edm.String" => v
                .as_str()
                .is_some_and(|s| p.max.is_none_or(|m| s.chars().count() <= m)),
            "Edm.Guid" => v.as_str().is_some_and(|s| {
                uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 && s == s.to_lowercase()
            }),
            "Edm.Date" => v.as_str().is_some_and(|s| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
            }),
            "Edm.DateTimeOffset" => v.as_str().is_some_and(|s| {
                s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
            }),
            "Edm.Decimal" => v.is_number(),
            "Edm.Int32" | "Edm.Int64" => v.is_i64(),
            "Edm.Boolean" => v.is_boolean(),
            t if t.starts_with("Microsoft.NAV.") => v.as_str().is_some_and(|s| {
                meta.enums[&t["Microsoft.NAV.".len()..]]
                    .iter()
                    .any(|m| m == s)
            }),
            t => panic!("unexpected type {t}"),
        };
        assert!(
            ok,
            "{ty}.{} = {v} does not fit {} (MaxLength {:?})",
            p.name, p.ty, p.max
        );
        *checked += 1;
    }
    assert!(
        obj.get("@odata.etag")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("W/\""))
            || ty == "pdfDocument",
        "{ty} etag"
    );
}

/// Fetches a collection and records each entity's key order under `__order`
/// (and of expanded line arrays' entities).
async fn get_ordered(url: &str, tok: &str) -> Value {
    let text = get(url, tok).await.text().await.unwrap();
    #[derive(serde::Deserialize)]
    struct Page {
        value: Vec<Box<serde_json::value::RawValue>>,
    }
    let page: Page = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for raw in page.value {
        let mut v: Value = serde_json::from_str(raw.get()).unwrap();
        let keys: Keys = serde_json::from_str(raw.get()).unwrap();
        #[derive(serde::Deserialize)]
        struct Any(std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>);
        let parts: Any = serde_json::from_str(raw.get()).unwrap();
        for (k, rv) in parts.0 {
            if rv.get().starts_with('[') {
                let items: Vec<Box<serde_json::value::RawValue>> =
                    serde_json::from_str(rv.get()).unwrap();
                let arr: Vec<Value> = items
                    .iter()
                    .map(|i| {
                        let mut x: Value = serde_json::from_str(i.get()).unwrap();
                        let ks: Keys = serde_json::from_str(i.get()).unwrap();
                        x["__order"] = Value::from(ks.0);
                        x
                    })
                    .collect();
                v[&k] = Value::from(arr);
            }
        }
        v["__order"] = Value::from(keys.0);
        out.push(v);
    }
    serde_json::json!({"value": out})
}

#[tokio::test]
async fn served_entities_match_real_metadata() {
    let meta = load(&std::fs::read_to_string(META).expect("metadata.xml"));
    let sim = start(SimConfig {
        invoices_per_company: 400,
        ..SimConfig::default()
    })
    .await;
    let tok = token(&sim).await;
    let mut checked = 0;
    let companies = get_ordered(&format!("{}/companies", sim.api_root("production")), &tok).await;
    for c in companies["value"].as_array().unwrap() {
        check_entity(&meta, "company", c, &mut checked);
    }
    let sets = [
        (
            "salesInvoices",
            "salesInvoice",
            Some(("salesInvoiceLines", "salesInvoiceLine")),
        ),
        (
            "salesOrders",
            "salesOrder",
            Some(("salesOrderLines", "salesOrderLine")),
        ),
        (
            "salesQuotes",
            "salesQuote",
            Some(("salesQuoteLines", "salesQuoteLine")),
        ),
        (
            "salesCreditMemos",
            "salesCreditMemo",
            Some(("salesCreditMemoLines", "salesCreditMemoLine")),
        ),
        (
            "purchaseInvoices",
            "purchaseInvoice",
            Some(("purchaseInvoiceLines", "purchaseInvoiceLine")),
        ),
        (
            "purchaseOrders",
            "purchaseOrder",
            Some(("purchaseOrderLines", "purchaseOrderLine")),
        ),
        ("customers", "customer", None),
        ("vendors", "vendor", None),
        ("items", "item", None),
        ("contacts", "contact", None),
        ("employees", "employee", None),
        ("generalLedgerEntries", "generalLedgerEntry", None),
        ("projects", "project", None),
        ("companyInformation", "companyInformation", None),
        ("documentAttachments", "documentAttachment", None),
    ];
    for ci in 0..2 {
        let base = company_url(&sim, "production", ci);
        for (set, ty, lines) in sets {
            let url = match lines {
                Some((nav, _)) => format!("{base}/{set}?$expand={nav}"),
                None => format!("{base}/{set}"),
            };
            let v = get_ordered(&url, &tok).await;
            let arr = v["value"].as_array().unwrap();
            assert!(!arr.is_empty(), "{set} has data");
            for e in arr {
                check_entity(&meta, ty, e, &mut checked);
                if let Some((nav, lty)) = lines {
                    for l in e[nav].as_array().unwrap() {
                        check_entity(&meta, lty, l, &mut checked);
                    }
                }
            }
        }
        let v = get_json(
            &format!("{base}/salesInvoices?$top=3&$expand=pdfDocument"),
            &tok,
        )
        .await;
        for e in v["value"].as_array().unwrap() {
            check_entity(&meta, "pdfDocument", &e["pdfDocument"], &mut checked);
        }
    }
    assert!(checked > 100_000, "checked {checked} values");

    // The served $metadata agrees with the real document for the served types.
    let served = client()
        .get(format!("{}/$metadata", sim.api_root("production")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "application/xml");
    let served = load(&served.text().await.unwrap());
    assert!(served.types.len() >= 20);
    for (name, props) in &served.types {
        assert_eq!(props, &meta.types[name], "served $metadata for {name}");
    }
    for (name, members) in &served.enums {
        assert_eq!(members, &meta.enums[name], "enum {name}");
    }
    sim.stop().await;
}
