//! Q's model constraints on a document, checked before a document leaves
//! bcq's tests (and available to any sink that wants to refuse early).

use crate::document::{AttrValue, Document};
use crate::wire;

/// Every way `doc` breaks Q's BatchPutDocument constraints (empty: none).
pub fn violations(doc: &Document) -> Vec<String> {
    let mut v = Vec::new();
    let id_len = doc.id.chars().count();
    if id_len == 0 || id_len > wire::MAX_ID_CHARS {
        v.push(format!("id has {id_len} characters"));
    }
    if doc.id.chars().any(char::is_control) {
        v.push("id holds a control character".into());
    }
    let title_len = doc.title.chars().count();
    if title_len == 0 || title_len > wire::MAX_TITLE_CHARS {
        v.push(format!("title has {title_len} characters"));
    }
    if doc.attributes.len() > 500 {
        v.push(format!("{} attributes", doc.attributes.len()));
    }
    for a in &doc.attributes {
        let mut chars = a.name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !first_ok || !rest_ok || a.name.len() > 200 {
            v.push(format!("attribute name {:?}", a.name));
        }
        match &a.value {
            AttrValue::String(s) if s.chars().count() > wire::MAX_ATTR_STRING_CHARS => v.push(
                format!("attribute {} has {} characters", a.name, s.chars().count()),
            ),
            AttrValue::StringList(l)
                if l.iter()
                    .any(|s| s.chars().count() > wire::MAX_ATTR_STRING_CHARS) =>
            {
                v.push(format!(
                    "attribute {} holds a string over the limit",
                    a.name
                ))
            }
            _ => {}
        }
    }
    if doc.content.len() > wire::MAX_FILE_BYTES {
        v.push(format!("content of {} bytes", doc.content.len()));
    }
    v
}

/// The fields of `doc` that rendering cut to fit Q's limits (the title,
/// string attributes, the body), for reporting. Rendering cuts to exactly
/// the limit and ends with `…`, or appends its marker to the body.
pub fn truncations(doc: &Document) -> Vec<String> {
    let cut = |s: &str, max: usize| s.ends_with('…') && s.chars().count() == max;
    let mut out = Vec::new();
    if cut(&doc.title, wire::MAX_TITLE_CHARS) {
        out.push("title".to_string());
    }
    for a in &doc.attributes {
        if let AttrValue::String(s) = &a.value
            && cut(s, wire::MAX_ATTR_STRING_CHARS)
        {
            out.push(format!("attribute {}", a.name));
        }
    }
    if doc.content.ends_with(wire::TRUNCATION_MARKER.as_bytes()) {
        out.push("body (over 5 MB of text)".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    //! A property test over generated hostile records: whatever BC sends
    //! (control characters, odd Unicode, nulls, missing fields, unknown
    //! enum values, BC's blank values, numbers where strings belong, huge
    //! texts), the rendered document satisfies Q's constraints.

    use super::*;
    use crate::catalog::CATALOG;
    use crate::render::{RenderContext, render};
    use serde_json::{Map, Value, json};

    /// xorshift64*: seeded, dependency-free randomness for the generator.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn hostile_string(r: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "Müller & Söhne",
            "\u{0}",
            "\u{1b}[31m",
            "\r\n",
            "|",
            "'",
            "\"",
            "\u{202e}",
            "\u{feff}",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "東京",
            "_x0020_",
            "0001-01-01",
            "00000000-0000-0000-0000-000000000000",
            "   ",
            "\t",
            "<script>",
            "# heading",
            "é",
        ];
        let mut s = String::new();
        let n = match r.below(10) {
            0 => 3000,
            1 => 0,
            _ => r.below(12),
        };
        for _ in 0..n {
            s.push_str(PIECES[r.below(PIECES.len() as u64) as usize]);
        }
        s
    }

    fn hostile_value(r: &mut Rng) -> Value {
        match r.below(8) {
            0 => Value::Null,
            1 => json!(r.next() as i64),
            2 => json!(f64::from_bits(r.next() & 0x7fef_ffff_ffff_ffff)),
            3 => json!(r.below(2) == 0),
            4 => json!("2025-03-05T19:19:22.273Z"),
            5 => json!("not-a-date"),
            _ => json!(hostile_string(r)),
        }
    }

    fn record(r: &mut Rng, names: &[&str]) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(format!("{:016x}-id", r.next())));
        for n in names {
            if r.below(6) != 0 {
                m.insert((*n).to_string(), hostile_value(r));
            }
        }
        Value::Object(m)
    }

    #[test]
    fn truncations_name_what_was_cut() {
        let ctx = RenderContext {
            environment: "production".into(),
            tenant: "t".into(),
            company_id: "c".into(),
            company_name: "C".into(),
            web_base: "https://businesscentral.dynamics.com".into(),
            title_suffix: None,
        };
        let spec = &crate::catalog::SALES_INVOICES;
        let short = json!({"id": "1", "number": "103001", "customerName": "Adatum"});
        assert!(truncations(&render(spec, &ctx, &short).unwrap()).is_empty());
        let long = json!({"id": "1", "number": "103001", "customerName": "x".repeat(5000)});
        let cuts = truncations(&render(spec, &ctx, &long).unwrap());
        assert!(cuts.contains(&"title".to_string()), "{cuts:?}");
        assert!(
            cuts.contains(&"attribute bc_customer_name".to_string()),
            "{cuts:?}"
        );
        let huge_line = "y".repeat(1000);
        let lines: Vec<Value> = (0..6000)
            .map(|_| json!({"description": huge_line}))
            .collect();
        let big = json!({"id": "1", "number": "1", "salesInvoiceLines": lines});
        let doc = render(spec, &ctx, &big).unwrap();
        assert!(doc.content.len() <= wire::MAX_TEXT_BYTES);
        assert!(truncations(&doc).iter().any(|c| c.starts_with("body")));
    }

    #[test]
    fn every_rendered_hostile_record_satisfies_q_constraints() {
        let mut r = Rng(0x6263_7100_0000_0001);
        let ctx = RenderContext {
            environment: "production".into(),
            tenant: "t".into(),
            company_id: "c".into(),
            company_name: "Ⓒompany\u{0} | with \"odd\" name".into(),
            web_base: "https://businesscentral.dynamics.com".into(),
            title_suffix: None,
        };
        let mut rendered = 0;
        for _ in 0..400 {
            for spec in CATALOG {
                let mut names: Vec<&str> = spec
                    .fields
                    .iter()
                    .flat_map(|f| f.names.iter().copied())
                    .collect();
                names.extend(spec.attributes.iter().map(|a| a.field));
                names.extend([spec.number_field, "lastModifiedDateTime", "status"]);
                names.extend(spec.party_field);
                let mut rec = record(&mut r, &names);
                if let Some(lines) = spec.lines {
                    let cols: Vec<&str> = lines
                        .columns
                        .iter()
                        .flat_map(|c| c.names.iter().copied())
                        .collect();
                    let n = r.below(4);
                    let rows: Vec<Value> = (0..n).map(|_| record(&mut r, &cols)).collect();
                    rec[lines.nav] = if r.below(5) == 0 {
                        hostile_value(&mut r)
                    } else {
                        json!(rows)
                    };
                }
                let doc = render(spec, &ctx, &rec).expect("a record with an id renders");
                let v = violations(&doc);
                assert!(v.is_empty(), "{}: {v:?}\nrecord: {rec}", spec.entity_set);
                let body = String::from_utf8(doc.content).expect("utf-8 body");
                assert!(!body.contains('\u{0}'), "a NUL reached the body");
                rendered += 1;
            }
        }
        assert_eq!(rendered, 400 * CATALOG.len());
    }
}
