//! bcq documents → Bedrock's `KnowledgeBaseDocument`: fitting to Bedrock's
//! constraints (from the model: ids ≤ 2,048 characters, inline text and
//! bytes ≤ 5,242,880, ≤ 50 inline attributes with keys ≤ 200 and string
//! values ≤ 2,048, string lists ≤ 10 values, access list names ≤ 256), the
//! access list in users only, and the SDK types.

use aws_sdk_bedrockagent::primitives::Blob;
use aws_sdk_bedrockagent::types::{
    AccessControlAccess, AccessControlPrincipalType, ByteContentDoc, ContentDataSourceType,
    CustomContent, CustomDocumentIdentifier, CustomS3Location, CustomSourceType,
    DocumentAccessControlEntry, DocumentContent, DocumentIdentifier, DocumentMetadata,
    InlineContent, InlineContentType, KnowledgeBaseDocument, MetadataAttribute,
    MetadataAttributeValue, MetadataSourceType, MetadataValueType, TextContentDoc,
};
use bcq_core::acl::GroupSpec;
use bcq_core::document::{
    AccessControl, AttrValue, Attribute, ContentType, Document, Principal, PrincipalKind,
};
use bcq_core::wire;
use std::collections::BTreeSet;

/// Most characters of a document id.
pub const MAX_ID_CHARS: usize = 2048;
/// Most bytes of inline content (text or bytes).
pub const MAX_INLINE_BYTES: usize = 5_242_880;
/// Most bytes of a file Bedrock ingests from S3.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// Most inline attributes per document.
pub const MAX_ATTRIBUTES: usize = 50;
/// Most characters of a string attribute value.
pub const MAX_STRING_CHARS: usize = 2048;
/// Most values of a string list attribute.
pub const MAX_LIST_VALUES: usize = 10;
/// Most characters of an access list name (a user).
pub const MAX_PRINCIPAL_CHARS: usize = 256;
/// Appended to a rendering cut at Bedrock's inline text limit.
pub const TRUNCATION_MARKER: &str =
    "\n\n… (truncated: the record is longer than Bedrock takes inline)\n";
/// The attribute that carries a document's title (Bedrock has no title).
pub const TITLE_ATTRIBUTE: &str = "_title";

/// The users a group stands for, through nested groups, from the
/// configuration's `[groups]`; an error names a group it does not define.
pub fn members(groups: &[GroupSpec], group: &str) -> Result<BTreeSet<String>, String> {
    let mut users = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![group.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let g = groups.iter().find(|g| g.name == name).ok_or_else(|| {
            format!(
                "the access rule names the group {name}, which [groups] does not define: Amazon Bedrock's access lists name users only, so bcq expands groups from the configuration (define [groups.{name}] with its users)"
            )
        })?;
        users.extend(g.users.iter().cloned());
        todo.extend(g.groups.iter().cloned());
    }
    Ok(users)
}

/// The access control in users only: groups expanded, ALLOWs then DENYs.
pub fn users_only(acl: &AccessControl, groups: &[GroupSpec]) -> Result<AccessControl, String> {
    let allows = acl.principals.iter().filter(|p| p.allow).count();
    if !acl.member_relation_or && allows > 1 {
        return Err("the access rule joins principals with AND (member_relation = \"AND\"), which Amazon Bedrock's access lists cannot express".into());
    }
    let mut out: Vec<Principal> = Vec::new();
    for p in &acl.principals {
        let users = match p.kind {
            PrincipalKind::User => BTreeSet::from([p.id.clone()]),
            PrincipalKind::Group => members(groups, &p.id)?,
        };
        for u in users {
            if wire::chars_over(&u, MAX_PRINCIPAL_CHARS) {
                return Err(format!(
                    "the user {u} is longer than Amazon Bedrock's {MAX_PRINCIPAL_CHARS} characters"
                ));
            }
            if !out.iter().any(|x| x.id == u && x.allow == p.allow) {
                out.push(Principal {
                    kind: PrincipalKind::User,
                    id: u,
                    allow: p.allow,
                    membership: p.membership,
                });
            }
        }
    }
    if !out.iter().any(|p| p.allow) {
        return Err("the access rule allows no user Amazon Bedrock can name (its groups have no users): nobody could read the document".into());
    }
    Ok(AccessControl {
        member_relation_or: true,
        principals: out,
    })
}

fn cut_string(s: &mut String) -> bool {
    wire::cut_chars(s, MAX_STRING_CHARS)
}

/// Fits `doc` to Bedrock: cuts what can be cut (named in the result), and
/// refuses what cannot; `acl_enabled` says whether the data source enforces
/// access lists (a document without one is then never returned).
pub fn fit(
    doc: &mut Document,
    groups: &[GroupSpec],
    acl_enabled: bool,
) -> Result<Vec<String>, String> {
    if doc.id.is_empty() || wire::chars_over(&doc.id, MAX_ID_CHARS) {
        return Err(format!(
            "the document id has {} characters; Amazon Bedrock takes 1 to {MAX_ID_CHARS}",
            doc.id.chars().count()
        ));
    }
    if doc.content.is_empty() {
        return Err("the document has no content; Amazon Bedrock takes at least one byte".into());
    }
    if doc.content.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes, more than the {MAX_FILE_BYTES} bytes Amazon Bedrock ingests",
            doc.content.len()
        ));
    }
    match (&doc.access, acl_enabled) {
        (None, true) => {
            return Err("the document has no access list, and this ACL-enabled Amazon Bedrock data source never returns such a document: add an [[access]] rule for it".into());
        }
        (Some(_), false) => {
            return Err("this Amazon Bedrock data source has access lists disabled (aclEnabled false): the document would be readable by everyone who can query the knowledge base, against its [[access]] rule".into());
        }
        (Some(acl), true) => doc.access = Some(users_only(acl, groups)?),
        (None, false) => {}
    }
    let mut cuts = Vec::new();
    if cut_string(&mut doc.title) {
        cuts.push("title".to_string());
    }
    for a in &mut doc.attributes {
        let cut = match &mut a.value {
            AttrValue::String(s) => cut_string(s),
            AttrValue::StringList(l) => {
                let mut any = l.len() > MAX_LIST_VALUES;
                l.truncate(MAX_LIST_VALUES);
                l.retain(|s| !s.is_empty());
                for s in l.iter_mut() {
                    any |= cut_string(s);
                }
                any
            }
            _ => false,
        };
        if cut {
            cuts.push(format!("attribute {}", a.name));
        }
    }
    // Bedrock refuses empty strings and lists: an empty value says nothing.
    doc.attributes.retain(|a| match &a.value {
        AttrValue::String(s) => !s.is_empty(),
        AttrValue::StringList(l) => !l.is_empty(),
        _ => true,
    });
    // The title travels as an attribute too: room for it within the 50.
    if doc.attributes.len() + 1 > MAX_ATTRIBUTES {
        let dropped: Vec<String> = doc.attributes[MAX_ATTRIBUTES - 1..]
            .iter()
            .map(|a| a.name.to_string())
            .collect();
        doc.attributes.truncate(MAX_ATTRIBUTES - 1);
        cuts.push(format!(
            "attributes beyond {MAX_ATTRIBUTES}: {}",
            dropped.join(", ")
        ));
    }
    if doc.truncate_text(MAX_INLINE_BYTES, TRUNCATION_MARKER) {
        cuts.push("body (over 5 MB of text)".to_string());
    }
    Ok(cuts)
}

/// Every extension a staged file may have (to delete it whatever it was).
pub const EXTENSIONS: [&str; 11] = [
    ".md", ".pdf", ".txt", ".html", ".docx", ".xlsx", ".pptx", ".csv", ".json", ".xml", ".rtf",
];

/// The extension of a staged file: a knowledge base reads an S3 object's
/// type from its name.
pub fn extension(c: ContentType) -> &'static str {
    match c {
        ContentType::Markdown => ".md",
        ContentType::Pdf => ".pdf",
        ContentType::PlainText => ".txt",
        ContentType::Html => ".html",
        ContentType::MsWord => ".docx",
        ContentType::MsExcel => ".xlsx",
        ContentType::Ppt => ".pptx",
        ContentType::Csv => ".csv",
        ContentType::Json => ".json",
        ContentType::Xml => ".xml",
        ContentType::Rtf => ".rtf",
    }
}

/// The MIME type of a content type, for BYTE content.
pub fn mime_type(c: ContentType) -> &'static str {
    match c {
        ContentType::Markdown => "text/markdown",
        ContentType::Pdf => "application/pdf",
        ContentType::PlainText => "text/plain",
        ContentType::Html => "text/html",
        ContentType::MsWord => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        ContentType::MsExcel => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ContentType::Ppt => {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        }
        ContentType::Csv => "text/csv",
        ContentType::Json => "application/json",
        ContentType::Xml => "application/xml",
        ContentType::Rtf => "application/rtf",
    }
}

fn value(v: &AttrValue) -> MetadataAttributeValue {
    let b = MetadataAttributeValue::builder();
    match v {
        AttrValue::String(s) => b.r#type(MetadataValueType::String).string_value(s),
        AttrValue::StringList(l) => b
            .r#type(MetadataValueType::StringList)
            .set_string_list_value(Some(l.clone())),
        AttrValue::Long(n) => b.r#type(MetadataValueType::Number).number_value(*n as f64),
        // Dates as epoch seconds: what Bedrock's filters compare.
        AttrValue::Date(d) => b
            .r#type(MetadataValueType::Number)
            .number_value(d.timestamp() as f64),
    }
    .build()
    .expect("type is set")
}

fn attribute(name: &str, v: &AttrValue) -> MetadataAttribute {
    MetadataAttribute::builder()
        .key(name)
        .value(value(v))
        .build()
        .expect("key and value are set")
}

/// The identifier of a document of bcq's custom data source.
pub fn identifier(id: &str) -> DocumentIdentifier {
    DocumentIdentifier::builder()
        .data_source_type(ContentDataSourceType::Custom)
        .custom(
            CustomDocumentIdentifier::builder()
                .id(id)
                .build()
                .expect("id is set"),
        )
        .build()
        .expect("type is set")
}

/// Where a document's content is: inline, or a staged S3 object's URI.
pub enum Content<'a> {
    /// In the request.
    Inline,
    /// `s3://bucket/key`.
    S3(&'a str),
}

/// A fitted document as Bedrock takes it.
pub fn document(d: &Document, content: Content<'_>) -> KnowledgeBaseDocument {
    let mut custom = CustomContent::builder().custom_document_identifier(
        CustomDocumentIdentifier::builder()
            .id(&d.id)
            .build()
            .expect("id is set"),
    );
    custom = match content {
        Content::S3(uri) => custom
            .source_type(CustomSourceType::S3Location)
            .s3_location(
                CustomS3Location::builder()
                    .uri(uri)
                    .build()
                    .expect("uri is set"),
            ),
        Content::Inline if d.content_type == ContentType::Markdown => {
            custom.source_type(CustomSourceType::InLine).inline_content(
                InlineContent::builder()
                    .r#type(InlineContentType::Text)
                    .text_content(
                        TextContentDoc::builder()
                            .data(text(&d.content))
                            .build()
                            .expect("data is set"),
                    )
                    .build()
                    .expect("type is set"),
            )
        }
        Content::Inline => custom.source_type(CustomSourceType::InLine).inline_content(
            InlineContent::builder()
                .r#type(InlineContentType::Byte)
                .byte_content(
                    ByteContentDoc::builder()
                        .mime_type(mime_type(d.content_type))
                        .data(Blob::new(d.content.clone()))
                        .build()
                        .expect("mime type and data are set"),
                )
                .build()
                .expect("type is set"),
        ),
    };
    let mut attrs: Vec<MetadataAttribute> = Vec::with_capacity(d.attributes.len() + 1);
    if !d.title.is_empty() {
        attrs.push(attribute(
            TITLE_ATTRIBUTE,
            &AttrValue::String(d.title.clone()),
        ));
    }
    attrs.extend(
        d.attributes
            .iter()
            .map(|a: &Attribute| attribute(&a.name, &a.value)),
    );
    let mut meta = DocumentMetadata::builder()
        .r#type(MetadataSourceType::InLineAttribute)
        .set_inline_attributes(Some(attrs));
    if let Some(acl) = &d.access {
        for p in &acl.principals {
            meta = meta.access_control_list(
                DocumentAccessControlEntry::builder()
                    .name(&p.id)
                    .r#type(AccessControlPrincipalType::User)
                    .access(if p.allow {
                        AccessControlAccess::Allow
                    } else {
                        AccessControlAccess::Deny
                    })
                    .build()
                    .expect("name, type and access are set"),
            );
        }
    }
    KnowledgeBaseDocument::builder()
        .content(
            DocumentContent::builder()
                .data_source_type(ContentDataSourceType::Custom)
                .custom(custom.build().expect("identifier and source type are set"))
                .build()
                .expect("type is set"),
        )
        .metadata(meta.build().expect("type is set"))
        .build()
}

/// A rendered document's text. bcq renders valid UTF-8, which the standard
/// check confirms faster than the lossy conversion; anything else is made
/// valid rather than refused.
fn text(content: &[u8]) -> String {
    match std::str::from_utf8(content) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(content).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcq_core::document::Membership;

    #[test]
    fn text_keeps_valid_utf8_and_repairs_the_rest() {
        assert_eq!(text("Ünïcode | *md*".as_bytes()), "Ünïcode | *md*");
        assert_eq!(text(b"a\xffb"), "a\u{fffd}b");
    }

    fn groups() -> Vec<GroupSpec> {
        vec![
            GroupSpec {
                name: "Finance".into(),
                users: vec!["ap@x.example".into()],
                groups: vec!["Controllers".into()],
                membership: Membership::Index,
            },
            GroupSpec {
                name: "Controllers".into(),
                users: vec!["cfo@x.example".into()],
                groups: vec!["Finance".into()],
                membership: Membership::Index,
            },
        ]
    }

    fn principal(kind: PrincipalKind, id: &str, allow: bool) -> Principal {
        Principal {
            kind,
            id: id.into(),
            allow,
            membership: Membership::Index,
        }
    }

    fn doc(acl: Option<AccessControl>) -> Document {
        Document {
            id: "bc/x".into(),
            title: "T".into(),
            content_type: ContentType::Markdown,
            content: b"# T".to_vec(),
            attributes: vec![Attribute {
                name: "bc_number".into(),
                value: AttrValue::String("1".into()),
            }],
            access: acl,
        }
    }

    #[test]
    fn groups_become_their_users_nested_and_denials_stay() {
        let acl = AccessControl {
            member_relation_or: true,
            principals: vec![
                principal(PrincipalKind::Group, "Finance", true),
                principal(PrincipalKind::User, "intern@x.example", false),
            ],
        };
        let u = users_only(&acl, &groups()).unwrap();
        let names: Vec<(&str, bool)> = u
            .principals
            .iter()
            .map(|p| (p.id.as_str(), p.allow))
            .collect();
        assert_eq!(
            names,
            [
                ("ap@x.example", true),
                ("cfo@x.example", true),
                ("intern@x.example", false)
            ]
        );
        assert!(u.principals.iter().all(|p| p.kind == PrincipalKind::User));
    }

    #[test]
    fn what_cannot_be_expressed_is_refused_with_the_reason() {
        let unknown = AccessControl {
            member_relation_or: true,
            principals: vec![principal(PrincipalKind::Group, "Auditors", true)],
        };
        assert!(
            users_only(&unknown, &groups())
                .unwrap_err()
                .contains("[groups.Auditors]")
        );
        let and = AccessControl {
            member_relation_or: false,
            principals: vec![
                principal(PrincipalKind::User, "a@x", true),
                principal(PrincipalKind::User, "b@x", true),
            ],
        };
        assert!(users_only(&and, &groups()).unwrap_err().contains("AND"));
        let nobody = AccessControl {
            member_relation_or: true,
            principals: vec![principal(PrincipalKind::User, "a@x", false)],
        };
        assert!(
            users_only(&nobody, &groups())
                .unwrap_err()
                .contains("nobody")
        );
        // No access list on an ACL-enabled source: never returned, refused.
        assert!(
            fit(&mut doc(None), &groups(), true)
                .unwrap_err()
                .contains("never returns")
        );
        // An access list on a source without ACLs: would be public, refused.
        let acl = AccessControl {
            member_relation_or: true,
            principals: vec![principal(PrincipalKind::User, "a@x", true)],
        };
        assert!(
            fit(&mut doc(Some(acl.clone())), &groups(), false)
                .unwrap_err()
                .contains("aclEnabled false")
        );
        assert_eq!(
            fit(&mut doc(None), &groups(), false).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            fit(&mut doc(Some(acl)), &groups(), true).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn long_values_are_cut_and_attributes_kept_within_fifty() {
        let mut d = doc(None);
        d.title = "t".repeat(5000);
        d.attributes = (0..60)
            .map(|i| Attribute {
                name: format!("a{i}").into(),
                value: AttrValue::String("v".repeat(if i == 0 { 3000 } else { 1 })),
            })
            .collect();
        d.attributes.push(Attribute {
            name: "list".into(),
            value: AttrValue::StringList(vec!["x".into(); 12]),
        });
        let cuts = fit(&mut d, &[], false).unwrap();
        assert_eq!(d.title.chars().count(), MAX_STRING_CHARS);
        assert!(cuts.contains(&"title".to_string()), "{cuts:?}");
        assert!(cuts.contains(&"attribute a0".to_string()), "{cuts:?}");
        assert!(
            cuts.iter().any(|c| c.starts_with("attributes beyond 50")),
            "{cuts:?}"
        );
        assert_eq!(d.attributes.len() + 1, MAX_ATTRIBUTES);
        let big = "y".repeat(MAX_INLINE_BYTES + 10);
        let mut d = doc(None);
        d.content = big.into_bytes();
        let cuts = fit(&mut d, &[], false).unwrap();
        assert!(d.content.len() <= MAX_INLINE_BYTES);
        assert!(cuts.iter().any(|c| c.starts_with("body")));
    }

    #[test]
    fn dates_travel_as_epoch_seconds_and_the_title_as_an_attribute() {
        let mut d = doc(None);
        d.attributes.push(Attribute {
            name: "_last_updated_at".into(),
            value: AttrValue::Date(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
        });
        let k = document(&d, Content::Inline);
        let attrs = k.metadata().unwrap().inline_attributes();
        assert_eq!(attrs[0].key(), TITLE_ATTRIBUTE);
        let date = attrs
            .iter()
            .find(|a| a.key() == "_last_updated_at")
            .unwrap();
        assert_eq!(date.value().unwrap().r#type(), &MetadataValueType::Number);
        assert_eq!(date.value().unwrap().number_value(), Some(1_700_000_000.0));
        let c = k.content().unwrap().custom().unwrap();
        assert_eq!(c.source_type(), &CustomSourceType::InLine);
        assert_eq!(
            c.inline_content().unwrap().text_content().unwrap().data(),
            "# T"
        );
    }
}
