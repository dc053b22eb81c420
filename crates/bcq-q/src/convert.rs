//! bcq documents → `aws-sdk-qbusiness` types.

use aws_sdk_qbusiness::primitives::{Blob, DateTime as SmithyDateTime};
use aws_sdk_qbusiness::types::{
    AccessConfiguration, AccessControl, ContentType as QContentType, Document as QDocument,
    DocumentAttribute, DocumentAttributeValue, DocumentContent, MemberRelation, MembershipType,
    Principal, PrincipalGroup, PrincipalUser, ReadAccessType,
};
use bcq_core::document::{
    AccessControl as Acl, AttrValue, ContentType, Document, Membership, PrincipalKind,
};

/// Q's `ContentType` of a bcq content type.
pub fn content_type(c: ContentType) -> QContentType {
    QContentType::from(c.code())
}

/// The per-run attributes AWS's custom-source page asks for, besides the
/// `dataSourceSyncId` parameter.
pub fn run_attributes(data_source_id: &str, job_id: Option<&str>) -> Vec<DocumentAttribute> {
    let mut v = vec![string_attr("_data_source_id", data_source_id)];
    if let Some(j) = job_id {
        v.push(string_attr("_data_source_sync_job_execution_id", j));
    }
    v
}

fn string_attr(name: &str, value: &str) -> DocumentAttribute {
    DocumentAttribute::builder()
        .name(name)
        .value(DocumentAttributeValue::StringValue(value.to_string()))
        .build()
        .expect("name and value are set")
}

fn value(v: &AttrValue) -> DocumentAttributeValue {
    match v {
        AttrValue::String(s) => DocumentAttributeValue::StringValue(s.clone()),
        AttrValue::StringList(l) => DocumentAttributeValue::StringListValue(l.clone()),
        AttrValue::Long(n) => DocumentAttributeValue::LongValue(*n),
        AttrValue::Date(d) => {
            DocumentAttributeValue::DateValue(SmithyDateTime::from_millis(d.timestamp_millis()))
        }
    }
}

fn membership(m: Membership) -> MembershipType {
    match m {
        Membership::Index => MembershipType::Index,
        Membership::Datasource => MembershipType::Datasource,
    }
}

fn access(acl: &Acl) -> AccessConfiguration {
    let principals: Vec<Principal> = acl
        .principals
        .iter()
        .map(|p| {
            let access = if p.allow {
                ReadAccessType::Allow
            } else {
                ReadAccessType::Deny
            };
            match p.kind {
                PrincipalKind::User => Principal::User(
                    PrincipalUser::builder()
                        .id(&p.id)
                        .access(access)
                        .membership_type(membership(p.membership))
                        .build()
                        .expect("access is set"),
                ),
                PrincipalKind::Group => Principal::Group(
                    PrincipalGroup::builder()
                        .name(&p.id)
                        .access(access)
                        .membership_type(membership(p.membership))
                        .build()
                        .expect("access is set"),
                ),
            }
        })
        .collect();
    let control = AccessControl::builder()
        .set_principals(Some(principals))
        .member_relation(if acl.member_relation_or {
            MemberRelation::Or
        } else {
            MemberRelation::And
        })
        .build()
        .expect("principals are set");
    AccessConfiguration::builder()
        .access_controls(control)
        .member_relation(MemberRelation::Or)
        .build()
        .expect("access controls are set")
}

/// A document's content, inline.
pub fn blob(d: &Document) -> DocumentContent {
    DocumentContent::Blob(Blob::new(d.content.clone()))
}

/// A document's content, staged in S3.
pub fn s3(bucket: &str, key: &str) -> DocumentContent {
    DocumentContent::S3(
        aws_sdk_qbusiness::types::S3::builder()
            .bucket(bucket)
            .key(key)
            .build()
            .expect("bucket and key are set"),
    )
}

/// Converts a document with its content (see [`blob`] and [`s3`]), adding
/// the run's attributes.
pub fn document(
    d: &Document,
    content: DocumentContent,
    run_attrs: &[DocumentAttribute],
) -> QDocument {
    // One allocation for the attributes instead of the builder's growth.
    let mut attrs = Vec::with_capacity(d.attributes.len() + run_attrs.len());
    attrs.extend(d.attributes.iter().map(|a| {
        DocumentAttribute::builder()
            .name(a.name.as_ref())
            .value(value(&a.value))
            .build()
            .expect("name and value are set")
    }));
    attrs.extend_from_slice(run_attrs);
    let mut b = QDocument::builder()
        .id(&d.id)
        .title(&d.title)
        .content_type(content_type(d.content_type))
        .content(content)
        .set_attributes(Some(attrs));
    if let Some(acl) = &d.access {
        b = b.access_configuration(access(acl));
    }
    b.build().expect("id is set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bcq_core::document::Attribute;

    #[test]
    fn converts_every_part() {
        let d = Document {
            id: "bc/x".into(),
            title: "T".into(),
            content_type: ContentType::Markdown,
            content: b"# hi".to_vec(),
            attributes: vec![
                Attribute {
                    name: "_source_uri".into(),
                    value: AttrValue::String("https://x".into()),
                },
                Attribute {
                    name: "n".into(),
                    value: AttrValue::Long(5),
                },
                Attribute {
                    name: "d".into(),
                    value: AttrValue::Date(
                        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                    ),
                },
            ],
            access: None,
        };
        let q = document(&d, blob(&d), &run_attributes("ds", Some("job")));
        assert_eq!(q.id(), "bc/x");
        assert_eq!(q.content_type(), Some(&QContentType::Md));
        let names: Vec<&str> = q.attributes().iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "_source_uri",
                "n",
                "d",
                "_data_source_id",
                "_data_source_sync_job_execution_id"
            ]
        );
        match q.attributes()[2].value() {
            Some(DocumentAttributeValue::DateValue(t)) => assert_eq!(t.secs(), 1_700_000_000),
            other => panic!("{other:?}"),
        }
        match q.content() {
            Some(DocumentContent::Blob(b)) => assert_eq!(b.as_ref(), b"# hi"),
            other => panic!("{other:?}"),
        }
    }
}
