//! Records → documents: a generic renderer driven by [`EntitySpec`].
//!
//! A document reads as Markdown a language model and a person both follow:
//! a heading with the title, one sentence saying what the record is and
//! where it lives, the fields as a labelled list, the lines as a table, and
//! the link back to BC. Blank BC values (`_x0020_`, empty GUIDs, `0001-01-01`)
//! are left out rather than shown.

use crate::catalog::{AttrKind, EntitySpec, FieldKind, PageRule};
use crate::document::{AttrValue, Attribute, ContentType, Document};
use crate::wire::{self, Fields};
use chrono::{DateTime, NaiveTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt::Write;

/// Where a record comes from: the parts of its id and of its citation.
#[derive(Clone, Debug)]
pub struct RenderContext {
    /// BC environment name (`production`).
    pub environment: String,
    /// Entra tenant id, part of the web client link.
    pub tenant: String,
    /// BC company id.
    pub company_id: String,
    /// BC company name, shown in titles and used in the web client link.
    pub company_name: String,
    /// Web client base URL (`https://businesscentral.dynamics.com`).
    pub web_base: String,
    /// Added to titles when one index holds several companies (the company
    /// name, and the environment when there are several), so that Q's
    /// answers say whose invoice it is.
    pub title_suffix: Option<String>,
}

/// Why a record could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The record has no `id` (BC always sends one; a custom page may not).
    #[error("{entity} record has no id")]
    MissingId {
        /// The entity set.
        entity: String,
    },
}

/// Characters kept as-is in a query-string value of a web client link.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The Q document id of a record: namespaced by environment, company,
/// entity and BC `id` (the GUID, not the number, which changes when a draft
/// is posted).
pub fn doc_id(environment: &str, company_id: &str, entity_set: &str, bc_id: &str) -> String {
    // Built in place (one allocation; no formatting machinery, no
    // lower-cased copies): one of these per record.
    let mut id = String::with_capacity(
        7 + environment.len() + company_id.len() + entity_set.len() + bc_id.len(),
    );
    let push_lower = |id: &mut String, s: &str| {
        let at = id.len();
        id.push_str(s);
        id[at..].make_ascii_lowercase();
    };
    id.push_str("bc/");
    push_lower(&mut id, environment);
    id.push('/');
    push_lower(&mut id, company_id);
    id.push('/');
    id.push_str(entity_set);
    id.push('/');
    push_lower(&mut id, bc_id);
    id
}

/// The Q document id of BC's PDF of a record.
pub fn pdf_doc_id(record_doc_id: &str) -> String {
    format!("{record_doc_id}/pdf")
}

/// The web client deep link that opens a record: the citation a user clicks.
pub fn deep_link(
    ctx: &RenderContext,
    page: u32,
    caption: Option<&str>,
    number: Option<&str>,
) -> String {
    // Built in place, without the formatting machinery: one per record.
    let mut url = String::with_capacity(160);
    url.push_str(ctx.web_base.trim_end_matches('/'));
    url.push('/');
    url.push_str(&ctx.tenant);
    url.push('/');
    url.push_str(&ctx.environment);
    url.push_str("/?company=");
    url.extend(utf8_percent_encode(&ctx.company_name, QUERY_VALUE));
    url.push_str("&page=");
    wire::push_uint(&mut url, u64::from(page));
    if let (Some(c), Some(n)) = (caption, number) {
        let mut quoted = String::with_capacity(c.len() + n.len() + 10);
        quoted.push('\'');
        quoted.push_str(c);
        quoted.push_str("' IS '");
        quoted.push_str(&n.replace('\'', "''"));
        quoted.push('\'');
        url.push_str("&filter=");
        url.extend(utf8_percent_encode(&quoted, QUERY_VALUE));
    }
    url
}

/// The web client deep link of a record (see [`deep_link`]), given its
/// [`number`].
fn record_link<R: Fields + ?Sized>(
    spec: &EntitySpec,
    ctx: &RenderContext,
    record: &R,
    number: Option<&str>,
) -> String {
    deep_link(ctx, page_of(spec, record), spec.number_caption, number)
}

/// The page a record opens in.
pub fn page_of<R: Fields + ?Sized>(spec: &EntitySpec, record: &R) -> u32 {
    match spec.page {
        PageRule::Fixed(p) => p,
        PageRule::ByStatus {
            field,
            draft_values,
            draft_page,
            posted_page,
        } => {
            let status = record.str_of(field).unwrap_or("");
            if status.is_empty() || draft_values.contains(&status) {
                draft_page
            } else {
                posted_page
            }
        }
    }
}

/// The record's BC id, lowercased.
pub fn bc_id<R: Fields + ?Sized>(record: &R) -> Option<String> {
    wire::text(record, "id").map(str::to_ascii_lowercase)
}

/// Whether the record is a draft (its page is the draft page).
fn is_draft<R: Fields + ?Sized>(spec: &EntitySpec, record: &R) -> bool {
    matches!(spec.page, PageRule::ByStatus { draft_page, .. } if page_of(spec, record) == draft_page)
}

/// A name as it reads inside a sentence: words lowercased, acronyms
/// (`G/L`) kept.
fn in_sentence(name: &str) -> String {
    name.split(' ')
        .map(|w| {
            if w.chars().filter(|c| c.is_uppercase()).count() > 1 {
                w.to_string()
            } else {
                w.to_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The record's number as text (ledger entries number with integers).
pub fn number<R: Fields + ?Sized>(spec: &EntitySpec, record: &R) -> Option<String> {
    match record.number_of(spec.number_field) {
        Some(n) => Some(n.to_string()),
        None => wire::text(record, spec.number_field).map(str::to_string),
    }
}

/// The title a person recognises: "Sales Invoice 103001 · Adatum Corporation",
/// followed by the company when the index holds several; `number` is the
/// record's [`number`].
pub fn title<R: Fields + ?Sized>(
    spec: &EntitySpec,
    ctx: &RenderContext,
    record: &R,
    number: Option<&str>,
) -> String {
    let mut t = String::new();
    if is_draft(spec, record) {
        t.push_str("Draft ");
    }
    t.push_str(spec.singular);
    if let Some(n) = number {
        t.push(' ');
        t.push_str(n);
    }
    if let Some(p) = spec.party_field.and_then(|p| wire::text(record, p)) {
        t.push_str(" · ");
        t.push_str(p);
    }
    if let Some(suffix) = &ctx.title_suffix {
        t.push_str(" (");
        t.push_str(suffix);
        t.push(')');
    }
    wire::one_line(&t, usize::MAX)
}

/// Appends the values of `names` (joined by ", ") to `out` as Markdown
/// cell text; false, with nothing appended, when none has a value.
fn push_value<R: Fields + ?Sized>(
    out: &mut String,
    record: &R,
    names: &[&str],
    kind: FieldKind,
    currency: Option<&str>,
) -> bool {
    let start = out.len();
    for n in names {
        let before = out.len();
        if before > start {
            out.push_str(", ");
        }
        let shown = match kind {
            FieldKind::Text => wire::text(record, n).map(|s| wire::push_md_cell(out, s)),
            FieldKind::Enum => wire::enum_str(record, n).map(|s| wire::push_md_cell(out, &s)),
            FieldKind::Date => wire::date(record, n).map(|d| wire::push_date(out, d)),
            FieldKind::DateTime => wire::datetime(record, n).map(|t| wire::push_datetime(out, t)),
            FieldKind::Amount => wire::number(record, n).map(|v| {
                wire::push_amount(out, v);
                if let Some(c) = currency {
                    out.push(' ');
                    wire::push_md_cell(out, c);
                }
            }),
            FieldKind::Number => wire::number(record, n).map(|v| wire::push_quantity(out, v)),
            FieldKind::Bool => {
                wire::boolean(record, n).map(|b| out.push_str(if b { "yes" } else { "no" }))
            }
        };
        if shown.is_none() {
            out.truncate(before);
        }
    }
    out.len() > start
}

fn attr_value<R: Fields + ?Sized>(record: &R, field: &str, kind: AttrKind) -> Option<AttrValue> {
    match kind {
        AttrKind::String => {
            let s = wire::enum_str(record, field)?;
            Some(AttrValue::String(wire::one_line(&s, usize::MAX)))
        }
        AttrKind::Number => wire::number(record, field)
            .filter(|v| v.is_finite())
            .map(|v| AttrValue::Long(v.round() as i64)),
        AttrKind::Date => wire::datetime(record, field)
            .or_else(|| wire::date(record, field).map(|d| d.and_time(NaiveTime::MIN).and_utc()))
            .map(AttrValue::Date),
    }
}

fn string_attr(name: &'static str, v: &str) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::String(wire::one_line(v, usize::MAX)),
    }
}

fn date_attr(name: &'static str, v: DateTime<Utc>) -> Attribute {
    Attribute {
        name: name.into(),
        value: AttrValue::Date(v),
    }
}

/// The attributes shared by a record and its files: source, category,
/// dates, where it lives, and the entity's typed attributes.
fn record_attributes<R: Fields + ?Sized>(
    spec: &EntitySpec,
    ctx: &RenderContext,
    record: &R,
    id: &str,
    kind: &str,
    link: &str,
) -> Vec<Attribute> {
    let mut attrs = Vec::with_capacity(12 + spec.attributes.len());
    attrs.push(string_attr("_source_uri", link));
    attrs.push(string_attr("_category", spec.category));
    let updated = wire::datetime(record, "lastModifiedDateTime");
    let created = spec
        .created_field
        .and_then(|f| match attr_value(record, f, AttrKind::Date) {
            Some(AttrValue::Date(d)) => Some(d),
            _ => None,
        })
        .or(updated);
    if let Some(c) = created {
        attrs.push(date_attr("_created_at", c));
    }
    if let Some(u) = updated {
        attrs.push(date_attr("_last_updated_at", u));
    }
    attrs.push(string_attr("bc_environment", &ctx.environment));
    attrs.push(string_attr("bc_company", &ctx.company_name));
    attrs.push(string_attr("bc_company_id", &ctx.company_id));
    attrs.push(string_attr("bc_entity", spec.entity_set));
    attrs.push(string_attr("bc_id", id));
    attrs.push(string_attr("bc_kind", kind));
    for at in spec.attributes {
        if let Some(v) = attr_value(record, at.field, at.kind) {
            attrs.push(Attribute {
                name: at.name.into(),
                value: v,
            });
        }
    }
    attrs
}

/// Renders one record (with its expanded lines) into its document.
pub fn render<R: Fields + ?Sized>(
    spec: &EntitySpec,
    ctx: &RenderContext,
    record: &R,
) -> Result<Document, RenderError> {
    let id = bc_id(record).ok_or_else(|| RenderError::MissingId {
        entity: spec.entity_set.into(),
    })?;
    let number = number(spec, record);
    let title = title(spec, ctx, record, number.as_deref());
    let currency = spec.currency_field.and_then(|c| wire::text(record, c));
    let link = record_link(spec, ctx, record, number.as_deref());

    // An invoice with five lines is about 3 KB: one allocation, no regrowth.
    let mut md = String::with_capacity(4096);
    md.push_str("# ");
    wire::push_md_text(&mut md, &title);
    md.push_str("\n\n");
    let name = in_sentence(spec.singular);
    if is_draft(spec, record) {
        let _ = write!(md, "A draft {name}");
    } else if matches!(spec.page, PageRule::ByStatus { .. }) {
        let _ = write!(md, "A posted {name}");
    } else {
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "An"
        } else {
            "A"
        };
        let _ = write!(md, "{article} {name} record");
    }
    md.push_str(" in the Business Central company **");
    wire::push_md_text(&mut md, &ctx.company_name);
    md.push_str("** (environment ");
    wire::push_md_text(&mut md, &ctx.environment);
    md.push_str(").\n\n");
    for field in spec.fields {
        let mark = md.len();
        md.push_str("- **");
        md.push_str(field.label);
        md.push_str(":** ");
        if push_value(&mut md, record, field.names, field.kind, currency) {
            md.push('\n');
        } else {
            md.truncate(mark);
        }
    }
    if let Some(lines) = spec.lines {
        let rows = record.rows_of(lines.nav);
        let n = rows.as_ref().map_or(0, Vec::len);
        let _ = writeln!(md, "\n## Lines ({n})\n");
        if let Some(rows) = rows.filter(|r| !r.is_empty()) {
            md.push_str("| # |");
            for c in lines.columns {
                md.push(' ');
                md.push_str(c.label);
                md.push_str(" |");
            }
            md.push_str("\n|---|");
            for _ in lines.columns {
                md.push_str("---|");
            }
            md.push('\n');
            for (i, row) in rows.into_iter().enumerate() {
                md.push_str("| ");
                wire::push_uint(&mut md, i as u64 + 1);
                md.push_str(" |");
                for c in lines.columns {
                    md.push(' ');
                    push_value(&mut md, row, c.names, c.kind, None);
                    md.push_str(" |");
                }
                md.push('\n');
            }
        } else {
            md.push_str("No lines.\n");
        }
    }
    let _ = writeln!(md, "\n[Open in Business Central]({link})");
    Ok(Document {
        id: doc_id(&ctx.environment, &ctx.company_id, spec.entity_set, &id),
        title,
        content_type: ContentType::Markdown,
        content: md.into_bytes(),
        attributes: record_attributes(spec, ctx, record, &id, "record", &link),
        access: None,
    })
}

/// BC's own PDF of a record, as a document of its own tied to the record by
/// id (`<record id>/pdf`) and by the same attributes.
pub fn pdf_document<R: Fields + ?Sized>(
    spec: &EntitySpec,
    ctx: &RenderContext,
    record: &R,
    record_doc: &Document,
    pdf: Vec<u8>,
) -> Document {
    let id = bc_id(record).unwrap_or_default();
    Document {
        id: pdf_doc_id(&record_doc.id),
        title: format!("{} (PDF)", record_doc.title),
        content_type: ContentType::Pdf,
        content: pdf,
        attributes: record_attributes(
            spec,
            ctx,
            record,
            &id,
            "pdf",
            &record_link(spec, ctx, record, number(spec, record).as_deref()),
        ),
        access: record_doc.access.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SALES_INVOICES;
    use serde_json::Value;
    use serde_json::json;

    fn ctx() -> RenderContext {
        RenderContext {
            environment: "production".into(),
            tenant: "t-1".into(),
            company_id: "C1".into(),
            company_name: "CRONUS USA, Inc.".into(),
            web_base: "https://businesscentral.dynamics.com".into(),
            title_suffix: None,
        }
    }

    /// Markdown injection (issue 17, item 7): hostile names and line
    /// descriptions render as the text they are, in the heading, the list
    /// and the table, and the only link is bcq's citation.
    #[test]
    fn hostile_values_make_no_link_html_or_structure() {
        let mut ctx = ctx();
        ctx.company_name = "Evil **Co**\n# Injected".into();
        let mut inv = invoice("Open");
        inv["customerName"] = json!("[click](javascript:alert(1))");
        inv["salesInvoiceLines"][0]["description"] =
            json!("<script>alert(1)</script> <img src=x onerror=alert(1)>");
        inv["salesInvoiceLines"][0]["lineObjectNumber"] = json!("a|b\n## row");
        let doc = render(&SALES_INVOICES, &ctx, &inv).unwrap();
        let md = String::from_utf8(doc.content).unwrap();
        // No unescaped link opener, HTML tag opener or injected heading.
        let bare = |needle: &str| {
            md.match_indices(needle)
                .filter(|(i, _)| !md[..*i].ends_with('\\'))
                .count()
        };
        assert_eq!(bare("["), 1, "only the citation opens a link:\n{md}");
        assert!(md.contains("[Open in Business Central](https://"), "{md}");
        assert_eq!(bare("<script"), 0, "{md}");
        assert_eq!(bare("<img"), 0, "{md}");
        assert!(
            md.lines().filter(|l| l.starts_with('#')).count() == 2,
            "{md}"
        );
        assert!(md.contains("\\[click\\](javascript:alert(1))"), "{md}");
        assert!(md.contains("**Evil \\*\\*Co\\*\\* # Injected**"), "{md}");
        assert!(md.contains("a\\|b<br>## row"), "{md}");
        // The title is plain text for the destination, not Markdown.
        assert!(
            doc.title.contains("[click](javascript:alert(1))"),
            "{}",
            doc.title
        );
    }

    fn invoice(status: &str) -> Value {
        json!({
            "id": "ABC-1", "number": "103001", "customerName": "Adatum Corporation", "customerNumber": "10000",
            "status": status, "invoiceDate": "2025-03-01", "dueDate": "2025-03-31", "postingDate": "0001-01-01",
            "currencyCode": "USD", "totalAmountExcludingTax": 1000.0, "totalTaxAmount": 60.0,
            "totalAmountIncludingTax": 1060.0, "remainingAmount": 1060.0, "disputeStatus": "",
            "orderId": "00000000-0000-0000-0000-000000000000", "lastModifiedDateTime": "2025-03-05T19:19:22.273Z",
            "salesInvoiceLines": [
                {"lineType": "Item", "lineObjectNumber": "1896-S", "description": "ATHENS Desk | oak", "quantity": 2,
                 "unitOfMeasureCode": "PCS", "unitPrice": 500.0, "amountExcludingTax": 1000.0, "amountIncludingTax": 1060.0, "taxPercent": 6}
            ]
        })
    }

    #[test]
    fn a_record_renders_as_its_json_value_does() {
        for status in ["Draft", "Open", "Paid"] {
            let mut v = invoice(status);
            v["@odata.etag"] = "W/\"JzQ0\"".into();
            v["customerName"] = "Line | one\r\nline two".into();
            let r: bcq_bc::Record = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(
                render(&SALES_INVOICES, &ctx(), &r).unwrap(),
                render(&SALES_INVOICES, &ctx(), &v).unwrap(),
                "{status}"
            );
        }
    }

    #[test]
    fn posted_invoice_reads_well_and_links_to_page_132() {
        let d = render(&SALES_INVOICES, &ctx(), &invoice("Open")).unwrap();
        assert_eq!(d.id, "bc/production/c1/salesInvoices/abc-1");
        assert_eq!(d.title, "Sales Invoice 103001 · Adatum Corporation");
        let body = String::from_utf8(d.content.clone()).unwrap();
        assert!(body.contains(
            "A posted sales invoice in the Business Central company **CRONUS USA, Inc.**"
        ));
        assert!(body.contains("- **Total including tax:** 1,060.00 USD"));
        assert!(body.contains("| 1 | Item | 1896-S | ATHENS Desk \\| oak | 2 | PCS | 500.00 |"));
        assert!(
            !body.contains("Posting date"),
            "empty date must be left out"
        );
        assert!(!body.contains("Dispute"), "blank value must be left out");
        assert_eq!(
            d.attribute("_source_uri"),
            Some(&AttrValue::String(
                "https://businesscentral.dynamics.com/t-1/production/?company=CRONUS%20USA%2C%20Inc.&page=132&filter=%27No.%27%20IS%20%27103001%27".into()
            ))
        );
        assert_eq!(
            d.attribute("_category"),
            Some(&AttrValue::String("Sales Invoices".into()))
        );
        assert_eq!(
            d.attribute("bc_amount_incl_tax"),
            Some(&AttrValue::Long(1060))
        );
        assert!(matches!(
            d.attribute("_last_updated_at"),
            Some(AttrValue::Date(_))
        ));
        assert!(matches!(
            d.attribute("bc_due_date"),
            Some(AttrValue::Date(_))
        ));
    }

    #[test]
    fn draft_invoice_links_to_page_43() {
        let d = render(&SALES_INVOICES, &ctx(), &invoice("Draft")).unwrap();
        assert!(d.title.starts_with("Draft Sales Invoice"));
        match d.attribute("_source_uri") {
            Some(AttrValue::String(s)) => assert!(s.contains("&page=43&")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_id_is_an_error() {
        let mut r = invoice("Open");
        r.as_object_mut().unwrap().remove("id");
        assert!(render(&SALES_INVOICES, &ctx(), &r).is_err());
    }

    #[test]
    fn hostile_text_makes_one_line_titles_and_attributes() {
        let mut r = invoice("Open");
        r["customerName"] = json!(format!("A\u{0}B\n{}", "x".repeat(5000)));
        let d = render(&SALES_INVOICES, &ctx(), &r).unwrap();
        // Destinations cut to their own limits (see Destination::fit).
        assert!(d.title.contains(&"x".repeat(5000)));
        assert!(!d.title.chars().any(char::is_control));
        for a in &d.attributes {
            if let AttrValue::String(s) = &a.value {
                assert!(!s.chars().any(char::is_control), "{}", a.name);
            }
        }
    }
}
