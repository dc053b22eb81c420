//! The constraint tables of the two models (only the shapes the served
//! operations use), walked by [`aws_sim::validate::Validator`]. Patterns are
//! the models' strings, verbatim, each with the Rust function implementing
//! it (whole-value matches, as Coral applies them).
//! `tests/model_conformance.rs` checks each row against its model file.

use aws_sim::validate::{IntRule, ListRule, NONE, Pattern, Rules, StrRule, Validator};

/// Java's `\s`: the whitespace `\S` excludes.
fn java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}
/// Java's `.`: anything but a line terminator.
fn java_dot(c: char) -> bool {
    !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}
fn alnum10(s: &str) -> bool {
    s.len() == 10 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}
fn no_space(s: &str) -> bool {
    !s.chars().any(java_space)
}
/// `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}`.
fn client_token(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.iter().filter(|c| c.is_ascii_alphanumeric()).count() <= 257
}
/// `.*[a-z]{1,20}/.{1,20}.*`: a `/` after a lowercase letter and before
/// at least one character, no line terminator anywhere.
fn mime(s: &str) -> bool {
    s.chars().all(java_dot)
        && s.char_indices().any(|(i, c)| {
            c == '/' && s[..i].ends_with(|p: char| p.is_ascii_lowercase()) && i + 1 < s.len()
        })
}
/// `[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]`.
fn bucket(b: &str) -> bool {
    let x = b.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&x.len())
        && edge(x[0])
        && edge(x[x.len() - 1])
        && x.iter().all(|c| edge(*c) || *c == b'.' || *c == b'-')
}
/// `s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.{1,1024}`.
fn s3_object_uri(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("s3://") else {
        return false;
    };
    let Some((b, key)) = rest.split_once('/') else {
        return false;
    };
    bucket(b) && (1..=1024).contains(&key.chars().count()) && key.chars().all(java_dot)
}
/// `s3://.{1,128}`.
fn s3_bucket_uri(s: &str) -> bool {
    s.strip_prefix("s3://")
        .is_some_and(|r| (1..=128).contains(&r.chars().count()) && r.chars().all(java_dot))
}
fn digits12(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}
/// `^[0-9a-zA-Z]{10}$|^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}$`.
fn kb_identifier(s: &str) -> bool {
    alnum10(s) || kb_arn_id(s).is_some()
}
/// The id inside a knowledge base ARN, when `s` is one.
pub fn kb_arn_id(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("arn:aws")?;
    let (partition, rest) = rest.split_once(":bedrock:")?;
    if !(partition.is_empty() || partition.starts_with('-') && partition.len() > 1)
        || partition.contains(':')
    {
        return None;
    }
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let id = rest.strip_prefix("knowledge-base/")?;
    let region_ok = (1..=20).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (region_ok && digits12(account) && alnum10(id)).then_some(id)
}
/// `^[a-z0-9]+$`.
fn lower_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}
/// `^(([1-9][0-9]{0,7})|(DRAFT))$`.
fn guardrail_version(s: &str) -> bool {
    s == "DRAFT"
        || (1..=8).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit())
            && !s.starts_with('0')
}

const ID: Pattern = Some(("[0-9a-zA-Z]{10}", alnum10));

/// bedrock-agent string shapes.
pub static AGENT_STRINGS: &[StrRule] = &[
    StrRule {
        shape: "Id",
        min: 0,
        max: NONE,
        pattern: ID,
    },
    StrRule {
        shape: "NextToken",
        min: 1,
        max: 2048,
        pattern: Some(("\\S*", no_space)),
    },
    StrRule {
        shape: "ClientToken",
        min: 33,
        max: 256,
        pattern: Some(("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}", client_token)),
    },
    StrRule {
        shape: "CustomDocumentIdentifierIdString",
        min: 1,
        max: 2048,
        pattern: None,
    },
    StrRule {
        shape: "Data",
        min: 1,
        max: 5242880,
        pattern: None,
    },
    StrRule {
        shape: "ByteContentDocMimeTypeString",
        min: 0,
        max: NONE,
        pattern: Some((".*[a-z]{1,20}/.{1,20}.*", mime)),
    },
    StrRule {
        shape: "S3ObjectUri",
        min: 1,
        max: 1024,
        pattern: Some((
            "s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.{1,1024}",
            s3_object_uri,
        )),
    },
    StrRule {
        shape: "BucketOwnerAccountId",
        min: 12,
        max: 12,
        pattern: Some(("[0-9]{12}", digits12)),
    },
    StrRule {
        shape: "S3BucketUri",
        min: 1,
        max: 2048,
        pattern: Some(("s3://.{1,128}", s3_bucket_uri)),
    },
    StrRule {
        shape: "Key",
        min: 1,
        max: 200,
        pattern: None,
    },
    StrRule {
        shape: "StringValue",
        min: 1,
        max: 2048,
        pattern: None,
    },
    StrRule {
        shape: "DocumentAccessControlEntryNameString",
        min: 1,
        max: 256,
        pattern: None,
    },
];

/// bedrock-agent list (and blob) shapes.
pub static AGENT_LISTS: &[ListRule] = &[
    ListRule {
        shape: "KnowledgeBaseDocuments",
        min: 1,
        max: 10,
    },
    ListRule {
        shape: "DocumentIdentifiers",
        min: 1,
        max: 10,
    },
    ListRule {
        shape: "DocumentMetadataInlineAttributesList",
        min: 1,
        max: 50,
    },
    ListRule {
        shape: "MetadataAttributeValueStringListValueList",
        min: 1,
        max: 10,
    },
    ListRule {
        shape: "DocumentAccessControlList",
        min: 1,
        max: NONE,
    },
    ListRule {
        shape: "ByteContentBlob",
        min: 1,
        max: 5242880,
    },
];

/// bedrock-agent integer shapes.
pub static AGENT_INTS: &[IntRule] = &[IntRule {
    shape: "MaxResults",
    min: 1,
    max: 1000,
}];

/// bedrock-agent enum shapes (request enums are checked; response enums
/// hold every value the emulator writes).
pub static AGENT_ENUMS: &[(&str, &[&str])] = &[
    ("ContentDataSourceType", &["CUSTOM", "S3"]),
    ("CustomSourceType", &["IN_LINE", "S3_LOCATION"]),
    ("InlineContentType", &["BYTE", "TEXT"]),
    ("MetadataSourceType", &["IN_LINE_ATTRIBUTE", "S3_LOCATION"]),
    (
        "MetadataValueType",
        &["BOOLEAN", "NUMBER", "STRING", "STRING_LIST"],
    ),
    ("AccessControlAccess", &["ALLOW", "DENY"]),
    ("AccessControlPrincipalType", &["USER"]),
    (
        "DocumentStatus",
        &[
            "INDEXED",
            "PARTIALLY_INDEXED",
            "PENDING",
            "FAILED",
            "METADATA_PARTIALLY_INDEXED",
            "METADATA_UPDATE_FAILED",
            "IGNORED",
            "NOT_FOUND",
            "STARTING",
            "IN_PROGRESS",
            "DELETING",
            "DELETE_IN_PROGRESS",
        ],
    ),
    ("KnowledgeBaseType", &["VECTOR", "KENDRA", "SQL", "MANAGED"]),
    (
        "KnowledgeBaseStatus",
        &[
            "CREATING",
            "ACTIVE",
            "DELETING",
            "UPDATING",
            "FAILED",
            "DELETE_UNSUCCESSFUL",
            "UPDATE_UNSUCCESSFUL",
        ],
    ),
    (
        "DataSourceType",
        &[
            "S3",
            "WEB",
            "CONFLUENCE",
            "SALESFORCE",
            "SHAREPOINT",
            "CUSTOM",
            "REDSHIFT_METADATA",
            "MANAGED_KNOWLEDGE_BASE_CONNECTOR",
        ],
    ),
    (
        "DataSourceStatus",
        &[
            "AVAILABLE",
            "DELETING",
            "DELETE_UNSUCCESSFUL",
            "CREATING",
            "UPDATING",
            "FAILED",
        ],
    ),
    ("DataDeletionPolicy", &["RETAIN", "DELETE"]),
    ("EmbeddingModelType", &["CUSTOM", "MANAGED"]),
];

/// bedrock-agent's constraint table.
pub static AGENT: Rules = Rules {
    strings: AGENT_STRINGS,
    lists: AGENT_LISTS,
    ints: AGENT_INTS,
    enums: AGENT_ENUMS,
};

/// bedrock-agent-runtime string shapes.
pub static RUNTIME_STRINGS: &[StrRule] = &[
    StrRule {
        shape: "KnowledgeBaseIdentifier",
        min: 10,
        max: 2048,
        pattern: Some((
            "^[0-9a-zA-Z]{10}$|^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}$",
            kb_identifier,
        )),
    },
    StrRule {
        shape: "NextToken",
        min: 1,
        max: 2048,
        pattern: Some(("^\\S*$", no_space)),
    },
    StrRule {
        shape: "KnowledgeBaseQueryTextString",
        min: 0,
        max: 20000,
        pattern: None,
    },
    StrRule {
        shape: "String",
        min: 0,
        max: NONE,
        pattern: None,
    },
    StrRule {
        shape: "FilterKey",
        min: 1,
        max: 100,
        pattern: None,
    },
    StrRule {
        shape: "GuardrailConfigurationGuardrailIdString",
        min: 0,
        max: 64,
        pattern: Some(("^[a-z0-9]+$", lower_alnum)),
    },
    StrRule {
        shape: "GuardrailConfigurationGuardrailVersionString",
        min: 1,
        max: 5,
        pattern: Some(("^(([1-9][0-9]{0,7})|(DRAFT))$", guardrail_version)),
    },
];

/// bedrock-agent-runtime list shapes.
pub static RUNTIME_LISTS: &[ListRule] = &[ListRule {
    shape: "RetrievalFilterList",
    min: 2,
    max: NONE,
}];

/// bedrock-agent-runtime integer shapes.
pub static RUNTIME_INTS: &[IntRule] = &[
    IntRule {
        shape: "KnowledgeBaseVectorSearchConfigurationNumberOfResultsInteger",
        min: 1,
        max: 100,
    },
    IntRule {
        shape: "ManagedSearchConfigurationNumberOfResultsInteger",
        min: 1,
        max: 100,
    },
];

/// bedrock-agent-runtime enum shapes.
pub static RUNTIME_ENUMS: &[(&str, &[&str])] = &[
    ("KnowledgeBaseQueryType", &["TEXT", "IMAGE"]),
    ("SearchType", &["HYBRID", "SEMANTIC"]),
    ("RerankingModelType", &["CUSTOM", "MANAGED", "NONE"]),
    (
        "RetrievalResultLocationType",
        &[
            "S3",
            "WEB",
            "CONFLUENCE",
            "SALESFORCE",
            "SHAREPOINT",
            "CUSTOM",
            "KENDRA",
            "SQL",
            "ONEDRIVE",
            "GOOGLEDRIVE",
        ],
    ),
    (
        "RetrievalResultContentType",
        &["TEXT", "IMAGE", "ROW", "AUDIO", "VIDEO"],
    ),
];

/// bedrock-agent-runtime's constraint table.
pub static RUNTIME: Rules = Rules {
    strings: RUNTIME_STRINGS,
    lists: RUNTIME_LISTS,
    ints: RUNTIME_INTS,
    enums: RUNTIME_ENUMS,
};

/// A validator over bedrock-agent's table.
pub fn agent() -> Validator {
    Validator::new(&AGENT)
}

/// A validator over bedrock-agent-runtime's table.
pub fn runtime() -> Validator {
    Validator::new(&RUNTIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_model_strings() {
        assert!(alnum10("BCQSIMKB01") && !alnum10("BCQSIMKB0") && !alnum10("BCQSIMKB0-"));
        assert!(client_token("a0b1c2d3-0000-4000-8000-00000000a001"));
        assert!(!client_token("-abc") && !client_token("abc-") && !client_token("a b"));
        assert!(mime("application/pdf") && mime("text/plain; charset=utf-8"));
        assert!(!mime("application") && !mime("PDF/x") && !mime("text/") && !mime("text/\nplain"));
        assert!(s3_object_uri("s3://my-bucket/a/b c.pdf"));
        assert!(
            !s3_object_uri("s3://My-Bucket/a")
                && !s3_object_uri("s3://bucket")
                && !s3_object_uri("https://b/k")
        );
        assert!(s3_bucket_uri("s3://b") && !s3_bucket_uri("s3://"));
        assert_eq!(
            kb_arn_id("arn:aws:bedrock:us-east-1:123456789012:knowledge-base/BCQSIMKB01"),
            Some("BCQSIMKB01")
        );
        assert!(kb_identifier(
            "arn:aws-cn:bedrock:cn-north-1:123456789012:knowledge-base/BCQSIMKB01"
        ));
        assert!(!kb_identifier(
            "arn:aws:bedrock:us-east-1:1234:knowledge-base/BCQSIMKB01"
        ));
        assert!(guardrail_version("DRAFT") && guardrail_version("12") && !guardrail_version("0"));
        assert!(lower_alnum("abc1") && !lower_alnum("Abc"));
        assert!(no_space("abc") && !no_space("a b"));
    }
}
