//! Constraint table extracted from the model (only the shapes the served
//! operations use) and a small validator that walks request JSON with it.
//!
//! The SDK checks no constraint client-side (smithy-rs generates no length or
//! pattern checks), so every rule lives here. `tests/model_conformance.rs`
//! checks each row against `service-2.json`.

use serde_json::{Map, Value};

use crate::error::{FieldError, QError};

/// A model pattern, verbatim, with the Rust function implementing it.
pub type Pattern = Option<(&'static str, fn(&str) -> bool)>;

/// A string shape: length bounds and the model's pattern with a Rust check.
pub struct StrRule {
    /// Shape name in the model.
    pub shape: &'static str,
    /// `min` of the model (0 when absent).
    pub min: usize,
    /// `max` of the model (`usize::MAX` when absent).
    pub max: usize,
    /// The model's `pattern`, verbatim, with the function that implements it.
    pub pattern: Pattern,
}

/// A list shape's length bounds.
pub struct ListRule {
    /// Shape name.
    pub shape: &'static str,
    /// `min` (0 when absent).
    pub min: usize,
    /// `max` (`usize::MAX` when absent).
    pub max: usize,
}

/// An integer shape's range.
pub struct IntRule {
    /// Shape name.
    pub shape: &'static str,
    /// `min`.
    pub min: i64,
    /// `max` (`i64::MAX` when absent).
    pub max: i64,
}

const NONE: usize = usize::MAX;

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
/// `\P{C}*`: no character of Unicode category C (Cc control, Cf format,
/// Cs surrogate — impossible in a Rust `str` —, Co private use, Cn unassigned;
/// Cn is approximated by the noncharacters).
pub fn no_control(s: &str) -> bool {
    !s.chars().any(|c| {
        let u = c as u32;
        c.is_control()
            || matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
            || matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
            || (u & 0xFFFE) == 0xFFFE
            || matches!(u, 0xFDD0..=0xFDEF)
    })
}
fn any(_: &str) -> bool {
    true
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

fn str_rule(shape: &str) -> &'static StrRule {
    STRINGS
        .iter()
        .find(|r| r.shape == shape)
        .unwrap_or_else(|| panic!("no string rule for {shape}"))
}
fn list_rule(shape: &str) -> &'static ListRule {
    LISTS
        .iter()
        .find(|r| r.shape == shape)
        .unwrap_or_else(|| panic!("no list rule for {shape}"))
}

/// Walks request JSON, collecting field errors (all of them, as Coral does)
/// and the first type error (which makes the request `CANNOT_PARSE`).
#[derive(Default)]
pub struct Validator {
    /// Constraint violations found so far.
    pub fields: Vec<FieldError>,
    parse: Option<String>,
}

impl Validator {
    /// New empty validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a constraint violation.
    pub fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.fields.push(FieldError {
            name: path.to_string(),
            message: message.into(),
        });
    }

    fn type_error(&mut self, path: &str, expected: &str) {
        if self.parse.is_none() {
            self.parse = Some(format!("Cannot parse '{path}': expected {expected}"));
        }
    }

    fn present<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        required: bool,
    ) -> Option<&'v Value> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.fail(path, "Member must not be null");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// Checks a string against a shape's rule.
    pub fn check_str(&mut self, path: &str, s: &str, shape: &str) {
        let r = str_rule(shape);
        let n = s.chars().count();
        if n < r.min {
            self.fail(
                path,
                format!("Member must have length greater than or equal to {}", r.min),
            );
        }
        if r.max != NONE && n > r.max {
            self.fail(
                path,
                format!("Member must have length less than or equal to {}", r.max),
            );
        }
        if let Some((p, f)) = r.pattern
            && !f(s)
        {
            self.fail(
                path,
                format!("Member must satisfy regular expression pattern: {p}"),
            );
        }
    }

    /// A string member of a shape.
    pub fn string(
        &mut self,
        path: &str,
        v: Option<&Value>,
        shape: &str,
        required: bool,
    ) -> Option<String> {
        let v = self.present(path, v, required)?;
        let Some(s) = v.as_str() else {
            self.type_error(path, "a string");
            return None;
        };
        self.check_str(path, s, shape);
        Some(s.to_string())
    }

    /// An enum member.
    pub fn enumeration(
        &mut self,
        path: &str,
        v: Option<&Value>,
        shape: &str,
        required: bool,
    ) -> Option<String> {
        let v = self.present(path, v, required)?;
        let Some(s) = v.as_str() else {
            self.type_error(path, "a string");
            return None;
        };
        let values = ENUMS
            .iter()
            .find(|(n, _)| *n == shape)
            .unwrap_or_else(|| panic!("no enum {shape}"))
            .1;
        if !values.contains(&s) {
            self.fail(
                path,
                format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            );
            return None;
        }
        Some(s.to_string())
    }

    /// A list member with the shape's length bounds.
    pub fn list<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        shape: &str,
        required: bool,
    ) -> Option<&'v Vec<Value>> {
        let v = self.present(path, v, required)?;
        let Some(l) = v.as_array() else {
            self.type_error(path, "a list");
            return None;
        };
        let r = list_rule(shape);
        if l.len() < r.min {
            self.fail(
                path,
                format!("Member must have length greater than or equal to {}", r.min),
            );
        }
        if r.max != NONE && l.len() > r.max {
            self.fail(
                path,
                format!("Member must have length less than or equal to {}", r.max),
            );
        }
        Some(l)
    }

    /// A structure member.
    pub fn object<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        required: bool,
    ) -> Option<&'v Map<String, Value>> {
        let v = self.present(path, v, required)?;
        let Some(m) = v.as_object() else {
            self.type_error(path, "a structure");
            return None;
        };
        Some(m)
    }

    /// A union member: exactly one of its members may be set.
    pub fn union<'v>(
        &mut self,
        path: &str,
        v: Option<&'v Value>,
        members: &[&str],
        required: bool,
    ) -> Option<(String, &'v Value)> {
        let m = self.object(path, v, required)?;
        let set: Vec<(&String, &Value)> = m
            .iter()
            .filter(|(k, v)| members.contains(&k.as_str()) && !v.is_null())
            .collect();
        if set.len() != 1 {
            self.fail(
                path,
                format!(
                    "Member must have exactly one of [{}] set",
                    members.join(", ")
                ),
            );
            return None;
        }
        Some((set[0].0.clone(), set[0].1))
    }

    /// A long member (JSON integer).
    pub fn long(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<i64> {
        let v = self.present(path, v, required)?;
        match v.as_i64() {
            Some(n) => Some(n),
            None => {
                self.type_error(path, "a long");
                None
            }
        }
    }

    /// An integer member checked against an int rule.
    pub fn int(&mut self, path: &str, v: Option<i64>, shape: &str) -> Option<i64> {
        let n = v?;
        let r = INTS
            .iter()
            .find(|r| r.shape == shape)
            .unwrap_or_else(|| panic!("no int rule {shape}"));
        if n < r.min {
            self.fail(
                path,
                format!("Member must have value greater than or equal to {}", r.min),
            );
        }
        if n > r.max {
            self.fail(
                path,
                format!("Member must have value less than or equal to {}", r.max),
            );
        }
        Some(n)
    }

    /// A timestamp member in a JSON body: epoch seconds, may be fractional.
    pub fn timestamp(&mut self, path: &str, v: Option<&Value>, required: bool) -> Option<f64> {
        let v = self.present(path, v, required)?;
        match v.as_f64() {
            Some(n) => Some(n),
            None => {
                self.type_error(path, "a timestamp (epoch seconds)");
                None
            }
        }
    }

    /// A boolean member.
    pub fn boolean(&mut self, path: &str, v: Option<&Value>) -> Option<bool> {
        let v = self.present(path, v, false)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(path, "a boolean");
                None
            }
        }
    }

    /// Records a parse problem found by the caller (bad base64, bad number).
    pub fn parse_error(&mut self, message: impl Into<String>) {
        if self.parse.is_none() {
            self.parse = Some(message.into());
        }
    }

    /// Ends validation: `CANNOT_PARSE` first, then `FIELD_VALIDATION_FAILED`.
    pub fn finish(self) -> Result<(), QError> {
        if let Some(p) = self.parse {
            return Err(QError::cannot_parse(p));
        }
        if !self.fields.is_empty() {
            return Err(QError::from_fields(self.fields));
        }
        Ok(())
    }
}

/// Parses a request body as a JSON object (`{}` when empty).
pub fn parse_body(body: &[u8]) -> Result<Value, QError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        QError::cannot_parse(format!("Could not parse request body into json: {e}"))
    })?;
    if !v.is_object() {
        return Err(QError::cannot_parse("request body must be a JSON object"));
    }
    Ok(v)
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
