//! Custom API pages declared in the config file, turned into catalog
//! entries synced like standard ones.
//!
//! ```toml
//! [custom.loyaltyCards]
//! publisher = "contoso"
//! group = "loyalty"
//! version = "v1.0"
//! entity_set = "loyaltyCards"
//! singular = "Loyalty Card"            # title: "<singular> <number_field> · <party_field>"
//! category = "Loyalty Cards"           # _category
//! number_field = "cardNumber"
//! party_field = "holderName"           # optional
//! page = 50100                         # web client page the citation opens
//! fields = ["cardNumber", "holderName", "points", "balance:amount", "issuedOn:date", "active:bool"]
//! has_last_modified = true             # default true: incremental reads by lastModifiedDateTime
//! [custom.loyaltyCards.attributes]
//! bc_points = "points:number"          # declared on the index by `bcq index-schema --apply`
//! ```

use bcq_core::catalog::{AttrKind, AttrSpec, EntitySpec, Field, FieldKind, PageRule};

/// A custom API page: where it lives and its catalog entry.
#[derive(Clone, Debug)]
pub struct CustomPage {
    /// API publisher.
    pub publisher: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// The catalog entry (leaked: built once per process from the config).
    pub spec: &'static EntitySpec,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// "cardNumber" → "Card number".
fn label(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn field_kind(s: &str) -> Option<FieldKind> {
    Some(match s {
        "text" | "string" => FieldKind::Text,
        "enum" => FieldKind::Enum,
        "date" => FieldKind::Date,
        "datetime" => FieldKind::DateTime,
        "amount" => FieldKind::Amount,
        "number" => FieldKind::Number,
        "bool" => FieldKind::Bool,
        _ => return None,
    })
}

/// Parses one `[custom.<name>]` table; every problem names its key.
pub fn parse(name: &str, t: &toml::Table, problems: &mut Vec<String>) -> Option<CustomPage> {
    let at = |k: &str| format!("custom.{name}.{k}");
    let mut text = |k: &str, required: bool| -> Option<String> {
        match t.get(k) {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                problems.push(format!("{} must be a non-empty string", at(k)));
                None
            }
            None if required => {
                problems.push(format!("{} is missing", at(k)));
                None
            }
            None => None,
        }
    };
    let publisher = text("publisher", true);
    let group = text("group", true);
    let version = text("version", true);
    let entity_set = text("entity_set", true);
    let singular = text("singular", true);
    let category = text("category", false);
    let number_field = text("number_field", true);
    let party_field = text("party_field", false);
    for k in t.keys() {
        if ![
            "publisher",
            "group",
            "version",
            "entity_set",
            "singular",
            "category",
            "number_field",
            "party_field",
            "page",
            "fields",
            "has_last_modified",
            "attributes",
        ]
        .contains(&k.as_str())
        {
            problems.push(format!("unknown setting {}", at(k)));
        }
    }
    let page = match t.get("page") {
        Some(toml::Value::Integer(p)) if *p > 0 => Some(*p as u32),
        Some(_) => {
            problems.push(format!("{} must be a positive page id", at("page")));
            None
        }
        None => {
            problems.push(format!(
                "{} is missing: the web client page id the citation opens (the page's object id in your extension)",
                at("page")
            ));
            None
        }
    };
    let has_last_modified = match t.get("has_last_modified") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(_) => {
            problems.push(format!("{} must be true or false", at("has_last_modified")));
            true
        }
    };
    let mut fields = Vec::new();
    match t.get("fields") {
        Some(toml::Value::Array(items)) => {
            for item in items {
                let Some(spec) = item.as_str() else {
                    problems.push(format!("{} holds a non-string entry", at("fields")));
                    continue;
                };
                let (field, kind) = spec.split_once(':').unwrap_or((spec, "text"));
                match field_kind(kind) {
                    Some(kind) => fields.push(Field {
                        label: leak(label(field)),
                        names: Box::leak(vec![leak(field.to_string())].into_boxed_slice()),
                        kind,
                    }),
                    None => problems.push(format!(
                        "{} has '{spec}': the type after ':' is one of text, enum, date, datetime, amount, number, bool",
                        at("fields")
                    )),
                }
            }
        }
        None => problems.push(format!(
            "{} is missing: the fields of the body, in reading order",
            at("fields")
        )),
        Some(_) => problems.push(format!("{} must be a list of field names", at("fields"))),
    }
    let mut attributes = Vec::new();
    if let Some(v) = t.get("attributes") {
        match v.as_table() {
            Some(table) => {
                for (attr, spec) in table {
                    let ok_name = attr.len() <= 30
                        && !attr.starts_with('_')
                        && attr
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if !ok_name {
                        problems.push(format!(
                            "{}.{attr}: attribute names are at most 30 letters, digits, _ or -, not starting with _",
                            at("attributes")
                        ));
                        continue;
                    }
                    let Some((field, kind)) = spec.as_str().and_then(|s| s.split_once(':')) else {
                        problems.push(format!(
                            "{}.{attr} must be \"<field>:<string|number|date>\"",
                            at("attributes")
                        ));
                        continue;
                    };
                    let kind = match kind {
                        "string" => AttrKind::String,
                        "number" => AttrKind::Number,
                        "date" => AttrKind::Date,
                        other => {
                            problems.push(format!(
                                "{}.{attr} has type '{other}': one of string, number, date",
                                at("attributes")
                            ));
                            continue;
                        }
                    };
                    attributes.push(AttrSpec {
                        name: leak(attr.clone()),
                        field: leak(field.to_string()),
                        kind,
                    });
                }
            }
            None => problems.push(format!("{} must be a table", at("attributes"))),
        }
    }
    let (publisher, group, version, entity_set, singular, number_field, page) = (
        publisher?,
        group?,
        version?,
        entity_set?,
        singular?,
        number_field?,
        page?,
    );
    let category = category.unwrap_or_else(|| format!("{singular}s"));
    let spec = Box::leak(Box::new(EntitySpec {
        entity_set: leak(entity_set),
        singular: leak(singular),
        category: leak(category),
        number_field: leak(number_field),
        number_caption: Some("No."),
        party_field: party_field.map(leak),
        page: PageRule::Fixed(page),
        lines: None,
        has_last_modified,
        created_field: None,
        currency_field: None,
        fields: Box::leak(fields.into_boxed_slice()),
        attributes: Box::leak(attributes.into_boxed_slice()),
        pdf: false,
    }));
    Some(CustomPage {
        publisher,
        group,
        version,
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn a_complete_page_parses() {
        let t = table(
            r#"publisher = "contoso"
group = "loyalty"
version = "v1.0"
entity_set = "loyaltyCards"
singular = "Loyalty Card"
number_field = "cardNumber"
party_field = "holderName"
page = 50100
fields = ["cardNumber", "points:number", "issuedOn:date"]
[attributes]
bc_points = "points:number"
"#,
        );
        let mut problems = Vec::new();
        let p = parse("loyaltyCards", &t, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.spec.category, "Loyalty Cards");
        assert_eq!(p.spec.fields[0].label, "Card number");
        assert_eq!(p.spec.fields[1].kind, FieldKind::Number);
        assert_eq!(p.spec.attributes[0].name, "bc_points");
    }

    #[test]
    fn every_problem_names_its_key() {
        let t = table(
            "publisher = 3\nfields = [\"a:weird\"]\nbogus = 1\n[attributes]\n_x = \"a:string\"\n",
        );
        let mut problems = Vec::new();
        assert!(parse("p", &t, &mut problems).is_none());
        let all = problems.join("\n");
        for k in [
            "custom.p.publisher",
            "custom.p.group",
            "custom.p.page",
            "custom.p.fields",
            "custom.p.bogus",
            "custom.p.attributes._x",
        ] {
            assert!(all.contains(k), "{k} not named in:\n{all}");
        }
    }
}
