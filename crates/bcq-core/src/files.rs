//! The files behind records: BC's document attachments, as documents of
//! their own tied to their record.
//!
//! An attachment (`documentAttachments`, one entity set per company with its
//! own `lastModifiedDateTime`) becomes a document with the attachment's
//! file as content, the content type its extension says, the title and
//! citation of the record it is attached to, the record's attributes (so a
//! filter on a customer or a date finds the file too), and the record's
//! access control. Files Q cannot read (images, archives) are skipped and
//! reported, never sent.

use crate::catalog::{AttrKind, EntitySpec, Field, FieldKind, PageRule};
use crate::document::{AttrValue, Attribute, ContentType, Document};
use crate::render::{self, RenderContext};
use crate::wire;
use serde_json::Value;

/// The attachments of a company, read like an entity (paged, with a
/// `lastModifiedDateTime` cursor) but turned into file documents by
/// [`attachment_document`] rather than the record renderer.
pub static ATTACHMENTS: EntitySpec = EntitySpec {
    entity_set: "documentAttachments",
    singular: "Attachment",
    category: "Attachments",
    number_field: "fileName",
    number_caption: None,
    party_field: None,
    page: PageRule::Fixed(1173),
    lines: None,
    has_last_modified: true,
    created_field: None,
    currency_field: None,
    fields: &[Field {
        label: "File name",
        names: &["fileName"],
        kind: FieldKind::Text,
    }],
    attributes: &[],
    pdf: false,
};

/// Whether a spec is the attachments pseudo-entity.
pub fn is_attachments(spec: &EntitySpec) -> bool {
    std::ptr::eq(spec, &ATTACHMENTS)
}

/// The entity set of an attachment's parent (`parentType`, wire form), for
/// the parent types that are catalog entities.
pub fn parent_entity_set(parent_type: &str) -> Option<&'static str> {
    Some(match parent_type {
        "Sales_x0020_Invoice" => "salesInvoices",
        "Sales_x0020_Order" => "salesOrders",
        "Sales_x0020_Quote" => "salesQuotes",
        "Sales_x0020_Credit_x0020_Memo" => "salesCreditMemos",
        "Purchase_x0020_Invoice" => "purchaseInvoices",
        "Purchase_x0020_Order" => "purchaseOrders",
        "Purchase_x0020_Credit_x0020_Memo" => "purchaseCreditMemos",
        "Customer" => "customers",
        "Vendor" => "vendors",
        "Item" => "items",
        "Employee" => "employees",
        "Job" => "projects",
        _ => return None,
    })
}

/// Q's content type for a file name, or why Q cannot index it.
pub fn content_type_of(file_name: &str) -> Result<ContentType, String> {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "pdf" => ContentType::Pdf,
        "doc" | "docx" => ContentType::MsWord,
        "xls" | "xlsx" => ContentType::MsExcel,
        "ppt" | "pptx" => ContentType::Ppt,
        "txt" | "log" => ContentType::PlainText,
        "htm" | "html" => ContentType::Html,
        "csv" => ContentType::Csv,
        "json" => ContentType::Json,
        "xml" => ContentType::Xml,
        "rtf" => ContentType::Rtf,
        "md" => ContentType::Markdown,
        "" => return Err("the file has no extension, so its type is unknown".into()),
        other => {
            return Err(format!(
                "Q Business does not extract text from .{other} files (it takes PDF, Word, Excel, PowerPoint, text, HTML, CSV, JSON, XML, RTF and Markdown)"
            ));
        }
    })
}

/// The document id of an attachment: under its company, by BC id.
pub fn attachment_doc_id(ctx: &RenderContext, bc_id: &str) -> String {
    render::doc_id(
        &ctx.environment,
        &ctx.company_id,
        ATTACHMENTS.entity_set,
        bc_id,
    )
}

/// An attachment as a document: `parent_doc` is the rendered record it is
/// attached to (its title, citation and attributes carry over), `meta` the
/// attachment's BC record, `content` the file.
pub fn attachment_document(
    ctx: &RenderContext,
    meta: &Value,
    parent_doc: &Document,
    content_type: ContentType,
    content: Vec<u8>,
) -> Document {
    let bc_id = render::bc_id(meta).unwrap_or_default();
    let file_name = wire::text(meta, "fileName").unwrap_or("attachment");
    let mut attributes: Vec<Attribute> = parent_doc
        .attributes
        .iter()
        .filter(|a| !matches!(a.name.as_ref(), "bc_kind" | "bc_id" | "_last_updated_at"))
        .cloned()
        .collect();
    attributes.push(Attribute {
        name: "bc_id".into(),
        value: AttrValue::String(bc_id),
    });
    attributes.push(Attribute {
        name: "bc_kind".into(),
        value: AttrValue::String("attachment".into()),
    });
    attributes.push(Attribute {
        name: "bc_parent".into(),
        value: AttrValue::String(parent_doc.id.clone()),
    });
    attributes.push(Attribute {
        name: "bc_file_name".into(),
        value: AttrValue::String(wire::one_line(file_name, usize::MAX)),
    });
    if let Some(t) = wire::datetime(meta, "lastModifiedDateTime") {
        attributes.push(Attribute {
            name: "_last_updated_at".into(),
            value: AttrValue::Date(t),
        });
    }
    Document {
        id: attachment_doc_id(ctx, &render::bc_id(meta).unwrap_or_default()),
        title: wire::one_line(
            &format!("{file_name} (attached to {})", parent_doc.title),
            usize::MAX,
        ),
        content_type,
        content,
        attributes,
        access: parent_doc.access.clone(),
    }
}

/// The custom attributes attachments add to their record's, for `index-schema`.
pub const ATTACHMENT_ATTRIBUTES: &[(&str, AttrKind)] = &[
    ("bc_parent", AttrKind::String),
    ("bc_file_name", AttrKind::String),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SALES_INVOICES;
    use serde_json::json;

    fn ctx() -> RenderContext {
        RenderContext {
            environment: "production".into(),
            tenant: "t".into(),
            company_id: "c1".into(),
            company_name: "CRONUS USA, Inc.".into(),
            web_base: "https://businesscentral.dynamics.com".into(),
            title_suffix: None,
        }
    }

    #[test]
    fn content_types_follow_extensions_and_images_are_refused() {
        assert_eq!(content_type_of("a.PDF").unwrap(), ContentType::Pdf);
        assert_eq!(content_type_of("b.docx").unwrap(), ContentType::MsWord);
        assert_eq!(content_type_of("c.xlsx").unwrap(), ContentType::MsExcel);
        assert_eq!(content_type_of("d.pptx").unwrap(), ContentType::Ppt);
        assert_eq!(content_type_of("e.csv").unwrap(), ContentType::Csv);
        assert_eq!(content_type_of("f.htm").unwrap(), ContentType::Html);
        assert_eq!(content_type_of("g.txt").unwrap(), ContentType::PlainText);
        assert!(content_type_of("photo.png").unwrap_err().contains(".png"));
        assert!(
            content_type_of("README")
                .unwrap_err()
                .contains("no extension")
        );
    }

    #[test]
    fn an_attachment_carries_its_records_title_link_attributes_and_access() {
        let inv = json!({"id": "AB", "number": "103001", "customerName": "Adatum",
            "status": "Open", "lastModifiedDateTime": "2025-01-02T03:04:05Z"});
        let mut parent = render::render(&SALES_INVOICES, &ctx(), &inv).unwrap();
        parent.access = Some(crate::document::AccessControl::default());
        let meta = json!({"id": "FF", "fileName": "note.txt", "parentType": "Sales_x0020_Invoice",
            "parentId": "ab", "lastModifiedDateTime": "2025-02-01T00:00:00Z"});
        let d = attachment_document(
            &ctx(),
            &meta,
            &parent,
            ContentType::PlainText,
            b"hi".to_vec(),
        );
        assert_eq!(d.id, "bc/production/c1/documentAttachments/ff");
        assert!(d.title.starts_with("note.txt (attached to "), "{}", d.title);
        assert!(d.title.contains("103001"));
        assert_eq!(d.attribute("_source_uri"), parent.attribute("_source_uri"));
        assert_eq!(
            d.attribute("bc_kind"),
            Some(&AttrValue::String("attachment".into()))
        );
        assert_eq!(
            d.attribute("bc_parent"),
            Some(&AttrValue::String(parent.id.clone()))
        );
        assert_eq!(d.access, parent.access);
        assert_eq!(d.attributes.iter().filter(|a| a.name == "bc_id").count(), 1);
        assert_eq!(
            parent_entity_set("Sales_x0020_Invoice"),
            Some("salesInvoices")
        );
        assert_eq!(parent_entity_set("Journal"), None);
    }
}
