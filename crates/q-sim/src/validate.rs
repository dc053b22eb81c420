//! Constraint table extracted from the model (only the shapes the served
//! operations use), walked by [`aws_sim::validate`]'s validator.
//!
//! The SDK checks no constraint client-side (smithy-rs generates no length or
//! pattern checks), so every rule lives here. `tests/model_conformance.rs`
//! checks each row against `service-2.json`.

use std::ops::{Deref, DerefMut};

use serde_json::Value;

pub use aws_sim::validate::{IntRule, ListRule, NONE, Pattern, Rules, StrRule, any, no_control};

use crate::error::QError;

fn id36(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}
fn name_pat(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}
fn key_pat(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}
fn arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && !parts[5].starts_with('/')
        && !parts[5].is_empty()
}
fn bucket(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
}
fn segment_id(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

const ID36: Pattern = Some(("[a-zA-Z0-9][a-zA-Z0-9-]{35}", id36));
const NAME: Pattern = Some(("[a-zA-Z0-9][a-zA-Z0-9_-]*", name_pat));
const KEY: Pattern = Some(("[a-zA-Z0-9_][a-zA-Z0-9_-]*", key_pat));
const NOC: Pattern = Some(("\\P{C}*", no_control));
const ANY: Pattern = Some(("[\\s\\S]*", any));
const ARN: Pattern = Some((
    "arn:[a-z0-9-\\.]{1,63}:[a-z0-9-\\.]{0,63}:[a-z0-9-\\.]{0,63}:[a-z0-9-\\.]{0,63}:[^/].{0,1023}",
    arn,
));

/// String shapes used by the served operations.
pub static STRINGS: &[StrRule] = &[
    StrRule {
        shape: "ApplicationId",
        min: 36,
        max: 36,
        pattern: ID36,
    },
    StrRule {
        shape: "IndexId",
        min: 36,
        max: 36,
        pattern: ID36,
    },
    StrRule {
        shape: "DataSourceId",
        min: 36,
        max: 36,
        pattern: ID36,
    },
    StrRule {
        shape: "ExecutionId",
        min: 36,
        max: 36,
        pattern: ID36,
    },
    StrRule {
        shape: "ApplicationName",
        min: 1,
        max: 1000,
        pattern: NAME,
    },
    StrRule {
        shape: "IndexName",
        min: 1,
        max: 1000,
        pattern: NAME,
    },
    StrRule {
        shape: "DataSourceName",
        min: 1,
        max: 1000,
        pattern: NAME,
    },
    StrRule {
        shape: "Description",
        min: 0,
        max: 1000,
        pattern: ANY,
    },
    StrRule {
        shape: "SyncSchedule",
        min: 0,
        max: 998,
        pattern: ANY,
    },
    StrRule {
        shape: "RoleArn",
        min: 0,
        max: 1284,
        pattern: ARN,
    },
    StrRule {
        shape: "ClientToken",
        min: 1,
        max: 100,
        pattern: None,
    },
    StrRule {
        shape: "TagKey",
        min: 1,
        max: 128,
        pattern: None,
    },
    StrRule {
        shape: "TagValue",
        min: 0,
        max: 256,
        pattern: None,
    },
    StrRule {
        shape: "DocumentId",
        min: 1,
        max: 1825,
        pattern: NOC,
    },
    StrRule {
        shape: "Title",
        min: 1,
        max: 1024,
        pattern: None,
    },
    StrRule {
        shape: "DocumentAttributeKey",
        min: 1,
        max: 200,
        pattern: KEY,
    },
    StrRule {
        shape: "DocumentAttributeValueStringValueString",
        min: 0,
        max: 2048,
        pattern: None,
    },
    StrRule {
        shape: "String",
        min: 1,
        max: 2048,
        pattern: None,
    },
    StrRule {
        shape: "DocumentMetadataConfigurationName",
        min: 1,
        max: 30,
        pattern: KEY,
    },
    StrRule {
        shape: "UserId",
        min: 1,
        max: 1024,
        pattern: NOC,
    },
    StrRule {
        shape: "GroupName",
        min: 1,
        max: 1024,
        pattern: NOC,
    },
    StrRule {
        shape: "DataSourceUserId",
        min: 1,
        max: 1024,
        pattern: NOC,
    },
    StrRule {
        shape: "S3BucketName",
        min: 1,
        max: 63,
        pattern: Some(("[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9]", bucket)),
    },
    StrRule {
        shape: "S3ObjectKey",
        min: 1,
        max: 1024,
        pattern: None,
    },
    StrRule {
        shape: "NextToken",
        min: 1,
        max: 800,
        pattern: None,
    },
    StrRule {
        shape: "SubnetId",
        min: 1,
        max: 200,
        pattern: Some(("[-0-9a-zA-Z]+", segment_id)),
    },
    StrRule {
        shape: "SecurityGroupId",
        min: 1,
        max: 200,
        pattern: Some(("[-0-9a-zA-Z]+", segment_id)),
    },
];

/// List shapes used by the served operations.
pub static LISTS: &[ListRule] = &[
    ListRule {
        shape: "Documents",
        min: 1,
        max: 10,
    },
    ListRule {
        shape: "DeleteDocuments",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "DocumentAttributes",
        min: 1,
        max: 500,
    },
    ListRule {
        shape: "DocumentAttributeStringListValue",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "DocumentAttributeConfigurations",
        min: 1,
        max: 500,
    },
    ListRule {
        shape: "AccessControls",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "Principals",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "Tags",
        min: 0,
        max: 200,
    },
    ListRule {
        shape: "DataSourceIds",
        min: 1,
        max: 1,
    },
    ListRule {
        shape: "MemberGroups",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "MemberUsers",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "SubnetIds",
        min: 0,
        max: NONE,
    },
    ListRule {
        shape: "SecurityGroupIds",
        min: 1,
        max: 10,
    },
];

/// Integer shapes used by the served operations.
pub static INTS: &[IntRule] = &[
    IntRule {
        shape: "MaxResultsIntegerForListDocuments",
        min: 1,
        max: 100,
    },
    IntRule {
        shape: "MaxResultsIntegerForListDataSourcesSyncJobs",
        min: 1,
        max: 10,
    },
    IntRule {
        shape: "IndexCapacityInteger",
        min: 1,
        max: i64::MAX,
    },
];

/// Enum shapes used by the served operations.
pub static ENUMS: &[(&str, &[&str])] = &[
    (
        "ContentType",
        &[
            "PDF",
            "HTML",
            "MS_WORD",
            "PLAIN_TEXT",
            "PPT",
            "RTF",
            "XML",
            "XSLT",
            "MS_EXCEL",
            "CSV",
            "JSON",
            "MD",
        ],
    ),
    ("ReadAccessType", &["ALLOW", "DENY"]),
    ("MembershipType", &["INDEX", "DATASOURCE"]),
    ("MemberRelation", &["AND", "OR"]),
    (
        "AttributeType",
        &["STRING", "STRING_LIST", "NUMBER", "DATE"],
    ),
    ("Status", &["ENABLED", "DISABLED"]),
    ("IndexType", &["ENTERPRISE", "STARTER"]),
    (
        "IdentityType",
        &[
            "AWS_IAM_IDP_SAML",
            "AWS_IAM_IDP_OIDC",
            "AWS_IAM_IDC",
            "AWS_QUICKSIGHT_IDP",
            "ANONYMOUS",
        ],
    ),
    (
        "DataSourceSyncJobStatus",
        &[
            "FAILED",
            "SUCCEEDED",
            "SYNCING",
            "INCOMPLETE",
            "STOPPING",
            "ABORTED",
            "SYNCING_INDEXING",
        ],
    ),
];

/// Q's constraint table.
pub static RULES: Rules = Rules {
    strings: STRINGS,
    lists: LISTS,
    ints: INTS,
    enums: ENUMS,
};

/// [`aws_sim::validate::Validator`] over Q's table, finishing with a [`QError`].
pub struct Validator(aws_sim::validate::Validator);

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Validator {
    /// New empty validator.
    pub fn new() -> Self {
        Validator(aws_sim::validate::Validator::new(&RULES))
    }

    /// Ends validation: `CANNOT_PARSE` first, then `FIELD_VALIDATION_FAILED`.
    pub fn finish(self) -> Result<(), QError> {
        self.0.finish().map_err(QError::from)
    }
}

impl Deref for Validator {
    type Target = aws_sim::validate::Validator;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Validator {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Parses a request body as a JSON object (`{}` when empty).
pub fn parse_body(body: &[u8]) -> Result<Value, QError> {
    aws_sim::validate::parse_body(body).map_err(QError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(id36("a0b1c2d3-0000-4000-8000-00000000a001"));
        assert!(!id36("-0b1c2d3-0000-4000-8000-00000000a001"));
        assert!(!id36("short"));
        assert!(key_pat("_source_uri") && key_pat("a-b") && !key_pat("-a") && !key_pat("a b"));
        assert!(name_pat("bcq") && !name_pat("_bcq"));
        assert!(
            no_control("SI-1001.pdf é 日本") && !no_control("a\u{7}b") && !no_control("a\u{200B}")
        );
        assert!(bucket("my.bucket-1") && !bucket("My"));
    }

    #[test]
    fn collects_every_field_error() {
        let mut v = Validator::new();
        v.string("a", Some(&Value::String(String::new())), "DocumentId", true);
        v.string("b", None, "Title", true);
        let e = v.finish().unwrap_err();
        match e {
            QError::Validation { fields, .. } => assert_eq!(fields.len(), 2),
            _ => panic!("wrong error"),
        }
    }
}
