//! Preparing an accepted version for the index, off the request path: read
//! S3 content and S3 metadata from the configured S3-compatible server, find
//! the file type, extract the text (with [`aws_sim::extract`]) and cut it
//! into passages. What cannot be read ends FAILED with a reason; a file
//! type knowledge bases do not read ends IGNORED.

use aws_sim::extract;
use aws_sim::s3fetch::{self, Creds};
use serde_json::Value;

use crate::search::chunk;
use crate::state::{AclEntry, Attr, AttrValue, Indexed, Prepared, Rejected, Source, Version};

/// Largest S3 object a knowledge base reads (the documented 50 MB file quota).
pub const MAX_S3_BYTES: u64 = 50 * 1024 * 1024;
/// Largest S3 metadata file read (Bedrock's 10 KB metadata file quota).
pub const MAX_METADATA_BYTES: u64 = 10 * 1024;

/// The extractor content type of a MIME type, for the formats Bedrock
/// knowledge bases read (text, Markdown, HTML, CSV, PDF, Word, Excel).
pub fn content_type_of_mime(mime: &str) -> Option<&'static str> {
    let m = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match m.as_str() {
        "text/plain" => "PLAIN_TEXT",
        "text/markdown" | "text/x-markdown" => "MD",
        "text/html" => "HTML",
        "text/csv" => "CSV",
        "application/pdf" => "PDF",
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "MS_WORD",
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "MS_EXCEL",
        _ => return None,
    })
}

/// The extractor content type of an S3 key, by its extension.
pub fn content_type_of_key(key: &str) -> Option<&'static str> {
    let ext = key.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" => "PLAIN_TEXT",
        "md" => "MD",
        "html" | "htm" => "HTML",
        "csv" => "CSV",
        "pdf" => "PDF",
        "doc" | "docx" => "MS_WORD",
        "xls" | "xlsx" => "MS_EXCEL",
        _ => return None,
    })
}

/// `s3://bucket/key` → (bucket, key).
pub fn split_s3_uri(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("s3://")?.split_once('/')
}

/// Where S3 objects are read from.
#[derive(Debug, Clone)]
pub struct S3Reader {
    /// `http://127.0.0.1:port` of the S3-compatible server.
    pub endpoint: Option<String>,
    /// Access key id (the emulator's, standing in for the role).
    pub access_key_id: String,
    /// Secret.
    pub secret: String,
    /// Region of the signatures.
    pub region: String,
}

impl S3Reader {
    fn get(&self, uri: &str, max: u64) -> Result<Vec<u8>, Rejected> {
        let Some(endpoint) = &self.endpoint else {
            return Err(Rejected::failed(format!(
                "The emulator has no S3 endpoint configured (s3_endpoint), so it cannot read {uri}"
            )));
        };
        let (bucket, key) =
            split_s3_uri(uri).ok_or_else(|| Rejected::failed(format!("{uri} is not an S3 URI")))?;
        let creds = Creds {
            access_key_id: &self.access_key_id,
            secret: &self.secret,
            region: &self.region,
        };
        s3fetch::get(endpoint, creds, bucket, key, max).map_err(|e| {
            Rejected::failed(match e {
                s3fetch::S3Error::AccessDenied(b, k) => format!(
                    "The knowledge base's role could not read s3://{b}/{k} (AccessDenied); it needs s3:GetObject on the bucket"
                ),
                e => e.to_string(),
            })
        })
    }
}

/// Reads, extracts and cuts one version; `generation` tags its passages.
pub fn prepare(v: &Version, generation: u64, s3: &S3Reader) -> Prepared {
    let (attributes, acl) = match &v.metadata_s3 {
        Some(uri) => {
            let file = s3.get(uri, MAX_METADATA_BYTES)?;
            parse_metadata_file(&file)
                .map_err(|e| Rejected::failed(format!("The metadata file {uri} is invalid: {e}")))?
        }
        None => (v.attributes.clone(), v.acl.clone()),
    };
    let text = match &v.source {
        Source::Text(t) => t.clone(),
        Source::Bytes { mime, data } => {
            let Some(ct) = content_type_of_mime(mime) else {
                return Err(ignored(mime));
            };
            extract_text(ct, data)?
        }
        Source::S3 { uri } => {
            let Some(ct) = split_s3_uri(uri).and_then(|(_, k)| content_type_of_key(k)) else {
                return Err(ignored(uri));
            };
            let data = s3.get(uri, MAX_S3_BYTES)?;
            extract_text(ct, &data)?
        }
    };
    Ok(Indexed {
        chunks: chunk(&text),
        text,
        attributes,
        acl,
        content_type: v.source.content_type(),
        generation,
    })
}

fn ignored(what: &str) -> Rejected {
    Rejected {
        status: "IGNORED",
        reason: format!(
            "Unsupported file type: {what}. Knowledge bases read text, Markdown, HTML, CSV, PDF, Word and Excel files"
        ),
    }
}

fn extract_text(ct: &str, data: &[u8]) -> Result<String, Rejected> {
    extract::extract(ct, data).map_err(|e| Rejected::failed(format!("Text extraction failed: {e}")))
}

/// Reads an S3 metadata file: `{"metadataAttributes": {key: value}}` where a
/// value is a JSON string, number, boolean or list of strings, or the typed
/// form `{"value": {"type": "STRING", "stringValue": "..."}}`; an optional
/// `accessControlList` has the shape of the API's.
pub fn parse_metadata_file(bytes: &[u8]) -> Result<(Vec<Attr>, Option<Vec<AclEntry>>), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let mut attrs = Vec::new();
    if let Some(m) = v.get("metadataAttributes") {
        let m = m.as_object().ok_or("metadataAttributes is not an object")?;
        for (key, val) in m {
            let val = val.get("value").unwrap_or(val);
            let value = match val {
                Value::String(s) => AttrValue::String { value: s.clone() },
                Value::Number(n) => AttrValue::Number {
                    value: n.as_f64().unwrap_or_default(),
                },
                Value::Bool(b) => AttrValue::Boolean { value: *b },
                Value::Array(a) => AttrValue::StringList {
                    value: a
                        .iter()
                        .map(|s| s.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(format!("{key} is not a list of strings"))?,
                },
                Value::Object(_) => serde_json::from_value(val.clone())
                    .map_err(|e| format!("{key} is not a metadata attribute value: {e}"))?,
                Value::Null => return Err(format!("{key} has no value")),
            };
            attrs.push(Attr {
                key: key.clone(),
                value,
            });
        }
    }
    let acl = match v.get("accessControlList") {
        None => None,
        Some(l) => Some(
            serde_json::from_value::<Vec<AclEntry>>(l.clone())
                .map_err(|e| format!("accessControlList: {e}"))?,
        ),
    };
    if let Some(acl) = &acl
        && acl.iter().any(|e| e.principal_type != "USER")
    {
        return Err("accessControlList entries must be of type USER".into());
    }
    Ok((attrs, acl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Access;

    fn reader() -> S3Reader {
        S3Reader {
            endpoint: None,
            access_key_id: "AK".into(),
            secret: "SK".into(),
            region: "us-east-1".into(),
        }
    }

    fn version(source: Source) -> Version {
        Version {
            source,
            attributes: vec![],
            acl: None,
            metadata_s3: None,
        }
    }

    #[test]
    fn inline_text_bytes_and_unsupported_types() {
        let t = prepare(
            &version(Source::Text("Invoice 1 for Adatum".into())),
            1,
            &reader(),
        )
        .unwrap();
        assert_eq!(
            t.passages().collect::<Vec<_>>(),
            vec!["Invoice 1 for Adatum"]
        );
        let pdf = aws_sim::pdf::make_pdf(&["Sales Invoice 103001"], true);
        let p = prepare(
            &version(Source::Bytes {
                mime: "application/pdf".into(),
                data: pdf,
            }),
            1,
            &reader(),
        )
        .unwrap();
        assert!(p.text.contains("103001"), "{}", p.text);
        let img = prepare(
            &version(Source::Bytes {
                mime: "image/png".into(),
                data: vec![1, 2],
            }),
            1,
            &reader(),
        )
        .unwrap_err();
        assert_eq!(img.status, "IGNORED");
        let bad = prepare(
            &version(Source::Bytes {
                mime: "application/pdf".into(),
                data: b"not a pdf".to_vec(),
            }),
            1,
            &reader(),
        )
        .unwrap_err();
        assert_eq!(bad.status, "FAILED");
        assert!(
            bad.reason.starts_with("Text extraction failed"),
            "{}",
            bad.reason
        );
        let s3 = prepare(
            &version(Source::S3 {
                uri: "s3://b/k.pdf".into(),
            }),
            1,
            &reader(),
        )
        .unwrap_err();
        assert!(s3.reason.contains("no S3 endpoint"), "{}", s3.reason);
    }

    #[test]
    fn metadata_files() {
        let (a, acl) = parse_metadata_file(
            br#"{"metadataAttributes": {"company": "CRONUS", "amount": 12.5, "paid": true,
                 "tags": ["a", "b"], "typed": {"value": {"type": "STRING", "stringValue": "x"}}},
                 "accessControlList": [{"name": "a@x.com", "type": "USER", "access": "ALLOW"}]}"#,
        )
        .unwrap();
        assert_eq!(a.len(), 5);
        assert!(
            a.iter()
                .any(|x| x.key == "typed" && x.value == AttrValue::String { value: "x".into() })
        );
        assert_eq!(acl.unwrap()[0].access, Access::Allow);
        assert!(parse_metadata_file(b"{").is_err());
        assert!(parse_metadata_file(br#"{"metadataAttributes": {"k": [1]}}"#).is_err());
        assert_eq!(
            content_type_of_mime("Text/Plain; charset=utf-8"),
            Some("PLAIN_TEXT")
        );
        assert_eq!(content_type_of_key("a/b.DOCX"), Some("MS_WORD"));
        assert_eq!(content_type_of_key("a/b"), None);
    }
}
