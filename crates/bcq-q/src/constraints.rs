//! Amazon Q Business's model constraints on a document, and how bcq fits a
//! rendered document to them (`Destination::fit`): what can be cut is cut,
//! exactly at the limit and marked, and reported; what cannot (an id too
//! long, a file over 50 MB) is refused with the reason.
//!
//! Q's limits (from its API model and service quotas): titles ≤ 1,024
//! characters, string attribute values ≤ 2,048, document ids ≤ 1,825
//! without control characters, ≤ 500 attributes, files ≤ 50 MB, ≤ 5 MB of
//! extracted text (more is not indexed, so a longer rendering is cut there
//! and says so).

use bcq_core::document::{AttrValue, ContentType, Document};
use bcq_core::wire;

/// Q's maximum title length, in characters.
pub const MAX_TITLE_CHARS: usize = 1024;
/// Q's maximum length of a string attribute value, in characters.
pub const MAX_ATTR_STRING_CHARS: usize = 2048;
/// Q's maximum document id length, in characters.
pub const MAX_ID_CHARS: usize = 1825;
/// Q indexes at most 5 MB of extracted text per document.
pub const MAX_TEXT_BYTES: usize = 5 * 1024 * 1024;
/// Appended to a rendering cut at Q's 5 MB of indexed text.
pub const TRUNCATION_MARKER: &str = "\n\n… (truncated: the record is longer than Q indexes)\n";
/// Q accepts files up to 50 MB.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// Q takes at most this many attributes per document.
pub const MAX_ATTRIBUTES: usize = 500;

/// Whether an attribute name is one Q takes: `[a-zA-Z0-9_][a-zA-Z0-9_-]*`,
/// at most 200 characters.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 200
}

/// Fits `doc` to Q's constraints: the parts cut (title, long string
/// attributes, a rendering over 5 MB), or why it cannot be sent.
pub fn fit(doc: &mut Document) -> Result<Vec<String>, String> {
    if doc.id.is_empty()
        || wire::chars_over(&doc.id, MAX_ID_CHARS)
        || doc.id.chars().any(char::is_control)
    {
        return Err(format!(
            "the document id ({} characters) does not fit Amazon Q Business's 1 to {MAX_ID_CHARS} characters without control characters",
            doc.id.chars().count()
        ));
    }
    if doc.content.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes, more than the {MAX_FILE_BYTES} bytes Amazon Q Business indexes",
            doc.content.len()
        ));
    }
    if doc.attributes.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "{} attributes, more than Amazon Q Business's {MAX_ATTRIBUTES}",
            doc.attributes.len()
        ));
    }
    if let Some(a) = doc.attributes.iter().find(|a| !valid_name(&a.name)) {
        return Err(format!(
            "the attribute name {:?} is not one Amazon Q Business takes",
            a.name
        ));
    }
    let mut cuts = Vec::new();
    if wire::cut_chars(&mut doc.title, MAX_TITLE_CHARS) {
        cuts.push("title".to_string());
    }
    for a in &mut doc.attributes {
        let cut = match &mut a.value {
            AttrValue::String(s) => wire::cut_chars(s, MAX_ATTR_STRING_CHARS),
            // Every item is fitted (no short-circuit).
            AttrValue::StringList(l) => l.iter_mut().fold(false, |any, s| {
                wire::cut_chars(s, MAX_ATTR_STRING_CHARS) | any
            }),
            _ => false,
        };
        if cut {
            cuts.push(format!("attribute {}", a.name));
        }
    }
    if doc.truncate_text(MAX_TEXT_BYTES, TRUNCATION_MARKER) {
        cuts.push("body (over 5 MB of text)".to_string());
    }
    Ok(cuts)
}

/// Every way `doc` breaks Q's BatchPutDocument constraints (empty: none).
pub fn violations(doc: &Document) -> Vec<String> {
    let mut v = Vec::new();
    let id_len = doc.id.chars().count();
    if id_len == 0 || id_len > MAX_ID_CHARS {
        v.push(format!("id has {id_len} characters"));
    }
    if doc.id.chars().any(char::is_control) {
        v.push("id holds a control character".into());
    }
    let title_len = doc.title.chars().count();
    if title_len == 0 || title_len > MAX_TITLE_CHARS {
        v.push(format!("title has {title_len} characters"));
    }
    if doc.attributes.len() > MAX_ATTRIBUTES {
        v.push(format!("{} attributes", doc.attributes.len()));
    }
    for a in &doc.attributes {
        if !valid_name(&a.name) {
            v.push(format!("attribute name {:?}", a.name));
        }
        match &a.value {
            AttrValue::String(s) if s.chars().count() > MAX_ATTR_STRING_CHARS => v.push(format!(
                "attribute {} has {} characters",
                a.name,
                s.chars().count()
            )),
            AttrValue::StringList(l)
                if l.iter().any(|s| s.chars().count() > MAX_ATTR_STRING_CHARS) =>
            {
                v.push(format!(
                    "attribute {} holds a string over the limit",
                    a.name
                ))
            }
            _ => {}
        }
    }
    if doc.content.len() > MAX_FILE_BYTES {
        v.push(format!("content of {} bytes", doc.content.len()));
    }
    if doc.content_type == ContentType::Markdown && doc.content.len() > MAX_TEXT_BYTES {
        v.push(format!("text of {} bytes", doc.content.len()));
    }
    v
}

#[cfg(test)]
mod tests {
    //! A property test over generated hostile records: whatever BC sends
    //! (control characters, odd Unicode, nulls, missing fields, unknown
    //! enum values, BC's blank values, numbers where strings belong, huge
    //! texts), the rendered document satisfies Q's constraints.

    use super::*;
    use bcq_core::catalog::CATALOG;
    use bcq_core::render::{RenderContext, render};
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
        let spec = &bcq_core::catalog::SALES_INVOICES;
        let short = json!({"id": "1", "number": "103001", "customerName": "Adatum"});
        assert!(
            fit(&mut render(spec, &ctx, &short).unwrap())
                .unwrap()
                .is_empty()
        );
        let long = json!({"id": "1", "number": "103001", "customerName": "x".repeat(5000)});
        let mut doc = render(spec, &ctx, &long).unwrap();
        let cuts = fit(&mut doc).unwrap();
        assert_eq!(doc.title.chars().count(), MAX_TITLE_CHARS);
        assert!(doc.title.ends_with('…'));
        assert!(violations(&doc).is_empty());
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
        let mut doc = render(spec, &ctx, &big).unwrap();
        let cuts = fit(&mut doc).unwrap();
        assert!(doc.content.len() <= MAX_TEXT_BYTES);
        assert!(doc.content.ends_with(TRUNCATION_MARKER.as_bytes()));
        assert!(
            std::str::from_utf8(&doc.content).is_ok(),
            "cut at a character boundary"
        );
        assert!(cuts.iter().any(|c| c.starts_with("body")), "{cuts:?}");

        // Every long item of a string list is cut; the attribute is named once.
        let mut doc = render(spec, &ctx, &short).unwrap();
        let long = "z".repeat(MAX_ATTR_STRING_CHARS + 1);
        doc.attributes.push(bcq_core::document::Attribute {
            name: "bc_tags".into(),
            value: AttrValue::StringList(vec![long.clone(), "ok".into(), long]),
        });
        let cuts = fit(&mut doc).unwrap();
        assert_eq!(cuts, vec!["attribute bc_tags".to_string()]);
        let AttrValue::StringList(l) = &doc.attributes.last().unwrap().value else {
            panic!("a list")
        };
        assert_eq!(l[1], "ok");
        for s in [&l[0], &l[2]] {
            assert_eq!(s.chars().count(), MAX_ATTR_STRING_CHARS);
        }
    }

    #[test]
    fn every_rendered_and_fitted_hostile_record_satisfies_q_constraints() {
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
                let mut doc = render(spec, &ctx, &rec).expect("a record with an id renders");
                fit(&mut doc).expect("a rendered record fits Q");
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

#[cfg(test)]
mod refusals {
    use super::*;

    #[test]
    fn what_cannot_be_cut_is_refused_with_the_reason() {
        let mut d = Document {
            id: "x".repeat(MAX_ID_CHARS + 1),
            title: "t".into(),
            content_type: ContentType::Pdf,
            content: Vec::new(),
            attributes: Vec::new(),
            access: None,
        };
        assert!(fit(&mut d).unwrap_err().contains("document id"));
        d.id = "ok".into();
        d.content = vec![0; MAX_FILE_BYTES + 1];
        assert!(
            fit(&mut d).unwrap_err().contains("52428800"),
            "files are not cut"
        );
        d.content = vec![b'%'; 10];
        assert_eq!(fit(&mut d).unwrap(), Vec::<String>::new());
    }
}
