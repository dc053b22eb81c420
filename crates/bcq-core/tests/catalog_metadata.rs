//! Every property name the catalog references exists in BC's real
//! `$metadata` for that entity type: a typo would render a blank field
//! silently, so it fails here instead.

use bcq_core::catalog::{CATALOG, EntitySpec};

const METADATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../reference/bc/metadata.xml"
);

/// The body of `<EntityType Name="name">`.
fn entity_type<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<EntityType Name=\"{name}\"");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no entity type {name}"));
    let end = xml[start..].find("</EntityType>").expect("unterminated") + start;
    &xml[start..end]
}

/// The value of `attr="..."` following `from` in `s`.
fn attr_after<'a>(s: &'a str, from: usize, attr: &str) -> Option<&'a str> {
    let key = format!("{attr}=\"");
    let i = s[from..].find(&key)? + from + key.len();
    let j = s[i..].find('"')? + i;
    Some(&s[i..j])
}

/// Property and navigation property names of an entity type, with types.
fn members(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in ["<Property ", "<NavigationProperty "] {
        let mut at = 0;
        while let Some(i) = body[at..].find(tag) {
            let i = i + at;
            let name = attr_after(body, i, "Name").unwrap().to_string();
            let ty = attr_after(body, i, "Type").unwrap().to_string();
            out.push((name, ty));
            at = i + tag.len();
        }
    }
    out
}

fn type_of_set(xml: &str, set: &str) -> String {
    let open = format!("<EntitySet Name=\"{set}\"");
    let i = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no entity set {set}"));
    let t = attr_after(xml, i, "EntityType").unwrap();
    t.rsplit('.').next().unwrap().to_string()
}

fn check(xml: &str, e: &EntitySpec) -> Vec<String> {
    let ty = type_of_set(xml, e.entity_set);
    let props = members(entity_type(xml, &ty));
    let has = |n: &str| props.iter().any(|(p, _)| p == n);
    let mut bad = Vec::new();
    let mut need = |what: &str, n: &str, ok: bool| {
        if !ok {
            bad.push(format!("{}: {what} {n}", e.entity_set));
        }
    };
    need("number", e.number_field, has(e.number_field));
    for n in e
        .party_field
        .iter()
        .chain(&e.created_field)
        .chain(&e.currency_field)
    {
        need("field", n, has(n));
    }
    for fl in e.fields {
        for n in fl.names {
            need("field", n, has(n));
        }
    }
    for at in e.attributes {
        need("attribute field", at.field, has(at.field));
    }
    if let bcq_core::catalog::PageRule::ByStatus { field, .. } = &e.page {
        need("status", field, has(field));
    }
    need(
        "lastModifiedDateTime",
        "lastModifiedDateTime",
        has("lastModifiedDateTime") == e.has_last_modified,
    );
    if let Some(l) = &e.lines {
        match props.iter().find(|(p, _)| p == l.nav) {
            None => need("lines", l.nav, false),
            Some((_, t)) => {
                let line_ty = t
                    .trim_start_matches("Collection(")
                    .trim_end_matches(')')
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_string();
                let lp = members(entity_type(xml, &line_ty));
                for c in l.columns {
                    for n in c.names {
                        need("line column", n, lp.iter().any(|(p, _)| p == n));
                    }
                }
            }
        }
    }
    if e.pdf {
        need("pdfDocument", "pdfDocument", has("pdfDocument"));
    }
    bad
}

#[test]
fn every_catalog_name_exists_in_bc_metadata() {
    let xml = std::fs::read_to_string(METADATA).expect("reference metadata.xml");
    let bad: Vec<String> = CATALOG.iter().flat_map(|e| check(&xml, e)).collect();
    assert!(bad.is_empty(), "unknown names: {bad:#?}");
}

#[test]
fn a_misspelt_field_is_caught() {
    let xml = std::fs::read_to_string(METADATA).expect("reference metadata.xml");
    let mut e = CATALOG[0];
    e.number_field = "numbr";
    assert_eq!(check(&xml, &e).len(), 1);
}
