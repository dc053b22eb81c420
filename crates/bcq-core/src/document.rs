//! The document bcq sends to a destination, reduced to what a BC record
//! needs, and independent of any destination or SDK.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The content types bcq emits: what BC records and BC files are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// Markdown: the rendering of a record.
    Markdown,
    /// BC's own PDF of a document (invoice, quote, credit memo).
    Pdf,
    /// Plain text.
    PlainText,
    /// HTML.
    Html,
    /// Microsoft Word.
    MsWord,
    /// Microsoft Excel.
    MsExcel,
    /// Microsoft PowerPoint.
    Ppt,
    /// CSV.
    Csv,
    /// JSON.
    Json,
    /// XML.
    Xml,
    /// RTF.
    Rtf,
}

impl ContentType {
    /// bcq's stable code of the type (`PDF`, `MD`, ...), part of the
    /// content hash. The codes happen to be Amazon Q Business's names, which
    /// the Q destination relies on; they never change, or every document
    /// would hash anew.
    pub fn code(self) -> &'static str {
        match self {
            ContentType::Markdown => "MD",
            ContentType::Pdf => "PDF",
            ContentType::PlainText => "PLAIN_TEXT",
            ContentType::Html => "HTML",
            ContentType::MsWord => "MS_WORD",
            ContentType::MsExcel => "MS_EXCEL",
            ContentType::Ppt => "PPT",
            ContentType::Csv => "CSV",
            ContentType::Json => "JSON",
            ContentType::Xml => "XML",
            ContentType::Rtf => "RTF",
        }
    }
}

/// A typed attribute value, as Q's `DocumentAttributeValue` union.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A string.
    String(String),
    /// A list of strings.
    StringList(Vec<String>),
    /// A signed 64-bit number.
    Long(i64),
    /// A point in time.
    Date(DateTime<Utc>),
}

/// One named attribute of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// `[a-zA-Z0-9_][a-zA-Z0-9_-]*`; reserved names start with `_`.
    /// Borrowed when it comes from the catalog, as nearly all do.
    pub name: std::borrow::Cow<'static, str>,
    /// The typed value.
    pub value: AttrValue,
}

/// Who may read a document: one list of principals joined by a relation
/// (each destination translates it into its own access list).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AccessControl {
    /// `AND` or `OR` between principals (Q's `memberRelation`).
    pub member_relation_or: bool,
    /// The principals, in order.
    pub principals: Vec<Principal>,
}

/// A user or group with an ALLOW or DENY access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// User (by email or id) or group (by name).
    pub kind: PrincipalKind,
    /// The user id / email or the group name.
    pub id: String,
    /// True for ALLOW, false for DENY.
    pub allow: bool,
    /// Where Q looks up the group membership of this principal.
    pub membership: Membership,
}

/// Which user-group mapping a group principal is resolved in (Amazon Q
/// Business's `membershipType`; destinations without groups ignore it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Membership {
    /// The application's index-wide mapping (PutGroup without a data source).
    #[default]
    Index,
    /// This data source's own mapping (PutGroup with `dataSourceId`).
    Datasource,
}

impl Membership {
    /// bcq's stable code (`INDEX`, `DATASOURCE`), part of the content hash.
    pub fn code(self) -> &'static str {
        match self {
            Membership::Index => "INDEX",
            Membership::Datasource => "DATASOURCE",
        }
    }
}

/// The kind of a [`Principal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user.
    User,
    /// A group.
    Group,
}

/// A document ready for a destination. Per-run attributes (a Q sync job
/// id) are added by the destination, so that the content hash does not
/// change between runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Stable id, namespaced by environment, company, entity and BC id.
    pub id: String,
    /// What a person recognises (one line).
    pub title: String,
    /// What [`Document::content`] is.
    pub content_type: ContentType,
    /// The bytes: UTF-8 Markdown for records, the file for files.
    pub content: Vec<u8>,
    /// Reserved and custom attributes.
    pub attributes: Vec<Attribute>,
    /// Access control, when configured.
    pub access: Option<AccessControl>,
}

impl Document {
    /// Cuts a Markdown body longer than `max` bytes at a character
    /// boundary, ending it with `marker` (which says so in the text
    /// itself) so that the whole is at most `max` bytes. Whether it cut.
    pub fn truncate_text(&mut self, max: usize, marker: &str) -> bool {
        if self.content_type != ContentType::Markdown || self.content.len() <= max {
            return false;
        }
        let mut cut = max.saturating_sub(marker.len());
        while cut > 0 && (self.content[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        self.content.truncate(cut);
        self.content.extend_from_slice(marker.as_bytes());
        true
    }

    /// SHA-256 over everything that reaches Q, in a length-prefixed
    /// encoding so that no two different documents share a pre-image.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(self.id.as_bytes());
        field(self.title.as_bytes());
        field(self.content_type.code().as_bytes());
        field(&self.content);
        for a in &self.attributes {
            field(a.name.as_bytes());
            match &a.value {
                AttrValue::String(s) => {
                    field(b"s");
                    field(s.as_bytes());
                }
                AttrValue::StringList(l) => {
                    field(b"l");
                    for s in l {
                        field(s.as_bytes());
                    }
                }
                AttrValue::Long(n) => {
                    field(b"n");
                    field(&n.to_le_bytes());
                }
                AttrValue::Date(d) => {
                    field(b"d");
                    field(&d.timestamp_millis().to_le_bytes());
                }
            }
        }
        if let Some(acl) = &self.access {
            field(if acl.member_relation_or {
                b"or"
            } else {
                b"and"
            });
            for p in &acl.principals {
                field(match (p.kind, p.allow) {
                    (PrincipalKind::User, true) => b"u+",
                    (PrincipalKind::User, false) => b"u-",
                    (PrincipalKind::Group, true) => b"g+",
                    (PrincipalKind::Group, false) => b"g-",
                });
                field(p.id.as_bytes());
                field(p.membership.code().as_bytes());
            }
        }
        h.finalize().into()
    }

    /// The value of an attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }

    /// Bytes this document adds to a request body (content travels base64).
    pub fn wire_size(&self) -> usize {
        let attrs: usize = self
            .attributes
            .iter()
            .map(|a| {
                a.name.len()
                    + 32
                    + match &a.value {
                        AttrValue::String(s) => s.len(),
                        AttrValue::StringList(l) => l.iter().map(|s| s.len() + 4).sum(),
                        AttrValue::Long(_) | AttrValue::Date(_) => 24,
                    }
            })
            .sum();
        self.id.len() + self.title.len() + self.content.len().div_ceil(3) * 4 + attrs + 128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Document {
        Document {
            id: "a".into(),
            title: "t".into(),
            content_type: ContentType::Markdown,
            content: b"body".to_vec(),
            attributes: vec![Attribute {
                name: "x".into(),
                value: AttrValue::Long(1),
            }],
            access: None,
        }
    }

    #[test]
    fn hash_changes_with_every_part() {
        let base = doc().content_hash();
        let mut d = doc();
        d.title = "u".into();
        assert_ne!(d.content_hash(), base);
        let mut d = doc();
        d.content = b"body2".to_vec();
        assert_ne!(d.content_hash(), base);
        let mut d = doc();
        d.attributes[0].value = AttrValue::Long(2);
        assert_ne!(d.content_hash(), base);
        let mut d = doc();
        d.access = Some(AccessControl::default());
        assert_ne!(d.content_hash(), base);
        assert_eq!(doc().content_hash(), base);
    }

    #[test]
    fn length_prefix_prevents_ambiguity() {
        let mut a = doc();
        a.id = "ab".into();
        a.title = "c".into();
        let mut b = doc();
        b.id = "a".into();
        b.title = "bc".into();
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
