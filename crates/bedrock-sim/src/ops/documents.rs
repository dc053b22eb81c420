//! IngestKnowledgeBaseDocuments, DeleteKnowledgeBaseDocuments,
//! GetKnowledgeBaseDocuments and ListKnowledgeBaseDocuments on a custom
//! connector data source.
//!
//! A request is checked in AWS's order: every model constraint first (all
//! violations in one `ValidationException`, Coral style), then the
//! resources (`ResourceNotFoundException`), then what the data source can
//! take (a `ValidationException` naming each offending member), then the
//! `clientToken` (same token and same request: the first answer again;
//! same token, other request: `ValidationException`). The emulator
//! remembers the latest [`TOKEN_RECORDS`](crate::shared::TOKEN_RECORDS)
//! tokens; an older one counts as new.

use std::sync::Arc;

use aws_sim::validate::{FieldError, Validator};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{Req, check_ids, data_source, page, paging};
use crate::error::BedrockError;
use crate::indexer::{start_deletion, start_ingestion};
use crate::shared::{Inner, Shared, TokenRecord};
use crate::state::{Access, AclEntry, Attr, AttrValue, DataSource, Doc, Source, Version, detail};
use crate::validate;

/// Default page size of ListKnowledgeBaseDocuments (AWS documents none).
pub const DEFAULT_MAX_RESULTS: usize = 100;

/// A document of an ingest request, after model validation.
struct NewDoc {
    /// Member path (`documents.1.member`).
    path: String,
    id: String,
    data_source_type: String,
    version: Version,
    /// Problems only the data source can judge, as (member path, problem).
    problems: Vec<(String, String)>,
}

fn obj<'v>(
    v: &mut Validator,
    path: &str,
    parent: &'v Map<String, Value>,
    member: &str,
    required: bool,
) -> Option<&'v Map<String, Value>> {
    v.object(&format!("{path}.{member}"), parent.get(member), required)
}

fn attribute(
    v: &mut Validator,
    p: &str,
    a: &Value,
    problems: &mut Vec<(String, String)>,
) -> Option<Attr> {
    let o = v.object(p, Some(a), true)?;
    let key = v.string(&format!("{p}.key"), o.get("key"), "Key", true);
    let vp = format!("{p}.value");
    let val = v.object(&vp, o.get("value"), true)?;
    let ty = v.enumeration(
        &format!("{vp}.type"),
        val.get("type"),
        "MetadataValueType",
        true,
    );
    let s = v.string(
        &format!("{vp}.stringValue"),
        val.get("stringValue"),
        "StringValue",
        false,
    );
    let n = v.double(&format!("{vp}.numberValue"), val.get("numberValue"), false);
    let b = v.boolean(&format!("{vp}.booleanValue"), val.get("booleanValue"));
    let lp = format!("{vp}.stringListValue");
    let l = v
        .list(
            &lp,
            val.get("stringListValue"),
            "MetadataAttributeValueStringListValueList",
            false,
        )
        .map(|l| {
            l.iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    v.string(
                        &format!("{lp}.{}.member", i + 1),
                        Some(s),
                        "StringValue",
                        true,
                    )
                })
                .collect::<Vec<String>>()
        });
    let ty = ty?;
    let set: Vec<&str> = [
        ("stringValue", s.is_some()),
        ("numberValue", n.is_some()),
        ("booleanValue", b.is_some()),
        ("stringListValue", l.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(m, _)| *m)
    .collect();
    let (wanted, value) = match ty.as_str() {
        "STRING" => ("stringValue", s.map(|value| AttrValue::String { value })),
        "NUMBER" => ("numberValue", n.map(|value| AttrValue::Number { value })),
        "BOOLEAN" => ("booleanValue", b.map(|value| AttrValue::Boolean { value })),
        _ => (
            "stringListValue",
            l.map(|value| AttrValue::StringList { value }),
        ),
    };
    if set != [wanted] {
        problems.push((
            vp,
            format!(
                "a value of type {ty} must set {wanted} and no other value member (set: [{}])",
                set.join(", ")
            ),
        ));
    }
    Some(Attr {
        key: key?,
        value: value?,
    })
}

fn acl_entry(v: &mut Validator, p: &str, e: &Value) -> Option<AclEntry> {
    let o = v.object(p, Some(e), true)?;
    let name = v.string(
        &format!("{p}.name"),
        o.get("name"),
        "DocumentAccessControlEntryNameString",
        true,
    );
    let ty = v.enumeration(
        &format!("{p}.type"),
        o.get("type"),
        "AccessControlPrincipalType",
        true,
    );
    let access = v.enumeration(
        &format!("{p}.access"),
        o.get("access"),
        "AccessControlAccess",
        true,
    );
    Some(AclEntry {
        name: name?,
        principal_type: ty?,
        access: if access? == "DENY" {
            Access::Deny
        } else {
            Access::Allow
        },
    })
}

fn s3_location(v: &mut Validator, p: &str, o: &Map<String, Value>) -> Option<String> {
    v.string(
        &format!("{p}.bucketOwnerAccountId"),
        o.get("bucketOwnerAccountId"),
        "BucketOwnerAccountId",
        false,
    );
    v.string(&format!("{p}.uri"), o.get("uri"), "S3ObjectUri", true)
}

/// Checks one `KnowledgeBaseDocument` against the model and notes what only
/// the data source can judge.
fn document(v: &mut Validator, p: &str, d: &Value) -> Option<NewDoc> {
    let mut problems = Vec::new();
    let o = v.object(p, Some(d), true)?;
    let cp = format!("{p}.content");
    let content = obj(v, p, o, "content", true);
    let metadata = obj(v, p, o, "metadata", false);
    let (mut attributes, mut acl, mut metadata_s3) = (Vec::new(), None, None);
    if let Some(m) = metadata {
        let mp = format!("{p}.metadata");
        let ty = v.enumeration(
            &format!("{mp}.type"),
            m.get("type"),
            "MetadataSourceType",
            true,
        );
        let ap = format!("{mp}.inlineAttributes");
        if let Some(l) = v.list(
            &ap,
            m.get("inlineAttributes"),
            "DocumentMetadataInlineAttributesList",
            false,
        ) {
            let mut keys = std::collections::HashSet::new();
            for (i, a) in l.iter().enumerate() {
                let p = format!("{ap}.{}.member", i + 1);
                if let Some(k) = a.get("key").and_then(Value::as_str)
                    && !keys.insert(k)
                {
                    problems.push((format!("{p}.key"), format!("the key {k} is given twice")));
                }
                attributes.extend(attribute(v, &p, a, &mut problems));
            }
        }
        let lp = format!("{mp}.accessControlList");
        if let Some(l) = v.list(
            &lp,
            m.get("accessControlList"),
            "DocumentAccessControlList",
            false,
        ) {
            acl = Some(
                l.iter()
                    .enumerate()
                    .filter_map(|(i, e)| acl_entry(v, &format!("{lp}.{}.member", i + 1), e))
                    .collect::<Vec<_>>(),
            );
        }
        let s3 = obj(v, &mp, m, "s3Location", false)
            .and_then(|s| s3_location(v, &format!("{mp}.s3Location"), s));
        match ty.as_deref() {
            Some("S3_LOCATION") => {
                if s3.is_none() && !m.contains_key("s3Location") {
                    problems.push((
                        format!("{mp}.s3Location"),
                        "metadata of type S3_LOCATION needs s3Location".into(),
                    ));
                }
                for member in ["inlineAttributes", "accessControlList"] {
                    if m.contains_key(member) {
                        problems.push((
                            format!("{mp}.{member}"),
                            format!("metadata of type S3_LOCATION reads {member} from its S3 file: it cannot be given inline"),
                        ));
                    }
                }
                metadata_s3 = s3;
            }
            Some(_) if m.contains_key("s3Location") => problems.push((
                format!("{mp}.s3Location"),
                "metadata of type IN_LINE_ATTRIBUTE takes no s3Location".into(),
            )),
            _ => {}
        }
    }
    let content = content?;
    let dst = v.enumeration(
        &format!("{cp}.dataSourceType"),
        content.get("dataSourceType"),
        "ContentDataSourceType",
        true,
    );
    if let Some(s3) = obj(v, &cp, content, "s3", false) {
        let sp = format!("{cp}.s3.s3Location");
        if let Some(l) = v.object(&sp, s3.get("s3Location"), true) {
            v.string(&format!("{sp}.uri"), l.get("uri"), "S3BucketUri", true);
        }
        problems.push((
            format!("{cp}.s3"),
            "S3 content is for data sources of type S3".into(),
        ));
    }
    let Some(custom) = obj(v, &cp, content, "custom", false) else {
        if dst.as_deref() == Some("CUSTOM") {
            problems.push((
                format!("{cp}.custom"),
                "dataSourceType CUSTOM needs content.custom".into(),
            ));
        }
        return Some(NewDoc {
            path: p.to_string(),
            id: String::new(),
            data_source_type: dst.unwrap_or_default(),
            version: Version {
                source: Source::Text(String::new()),
                attributes,
                acl,
                metadata_s3,
            },
            problems,
        });
    };
    let xp = format!("{cp}.custom");
    let id = obj(v, &xp, custom, "customDocumentIdentifier", true).and_then(|i| {
        v.string(
            &format!("{xp}.customDocumentIdentifier.id"),
            i.get("id"),
            "CustomDocumentIdentifierIdString",
            true,
        )
    });
    let source_type = v.enumeration(
        &format!("{xp}.sourceType"),
        custom.get("sourceType"),
        "CustomSourceType",
        true,
    );
    let inline = obj(v, &xp, custom, "inlineContent", false);
    let s3 = obj(v, &xp, custom, "s3Location", false)
        .and_then(|s| s3_location(v, &format!("{xp}.s3Location"), s));
    let mut source = None;
    if let Some(i) = inline {
        let ip = format!("{xp}.inlineContent");
        let ty = v.enumeration(
            &format!("{ip}.type"),
            i.get("type"),
            "InlineContentType",
            true,
        );
        let text = obj(v, &ip, i, "textContent", false).and_then(|t| {
            v.string(
                &format!("{ip}.textContent.data"),
                t.get("data"),
                "Data",
                true,
            )
        });
        let bytes = obj(v, &ip, i, "byteContent", false).and_then(|b| {
            let bp = format!("{ip}.byteContent");
            let mime = v.string(
                &format!("{bp}.mimeType"),
                b.get("mimeType"),
                "ByteContentDocMimeTypeString",
                true,
            );
            let data = v.blob(
                &format!("{bp}.data"),
                b.get("data"),
                "ByteContentBlob",
                true,
            );
            Some(Source::Bytes {
                mime: mime?,
                data: data?,
            })
        });
        let (wanted, other) = match ty.as_deref() {
            Some("TEXT") => ("textContent", "byteContent"),
            _ => ("byteContent", "textContent"),
        };
        if ty.is_some() {
            if !i.contains_key(wanted) {
                problems.push((
                    format!("{ip}.{wanted}"),
                    format!(
                        "inline content of type {} needs {wanted}",
                        ty.as_deref().unwrap_or("")
                    ),
                ));
            }
            if i.contains_key(other) {
                problems.push((
                    format!("{ip}.{other}"),
                    format!(
                        "inline content of type {} takes no {other}",
                        ty.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
        source = match ty.as_deref() {
            Some("TEXT") => text.map(Source::Text),
            _ => bytes,
        };
    }
    match source_type.as_deref() {
        Some("IN_LINE") => {
            if inline.is_none() {
                problems.push((
                    format!("{xp}.inlineContent"),
                    "sourceType IN_LINE needs inlineContent".into(),
                ));
            }
            if custom.contains_key("s3Location") {
                problems.push((
                    format!("{xp}.s3Location"),
                    "sourceType IN_LINE takes no s3Location".into(),
                ));
            }
        }
        Some(_) => {
            if !custom.contains_key("s3Location") {
                problems.push((
                    format!("{xp}.s3Location"),
                    "sourceType S3_LOCATION needs s3Location".into(),
                ));
            }
            if inline.is_some() {
                problems.push((
                    format!("{xp}.inlineContent"),
                    "sourceType S3_LOCATION takes no inlineContent".into(),
                ));
            }
            source = s3.map(|uri| Source::S3 { uri });
        }
        None => {}
    }
    Some(NewDoc {
        path: p.to_string(),
        id: id?,
        data_source_type: dst?,
        version: Version {
            source: source.unwrap_or(Source::Text(String::new())),
            attributes,
            acl,
            metadata_s3,
        },
        problems,
    })
}

/// Refuses what the data source cannot take: its connector must be CUSTOM,
/// each document's `dataSourceType` must match it, and access control lists
/// need `aclEnabled`.
fn judge(ds: &DataSource, docs: &mut [NewDoc]) -> Result<(), BedrockError> {
    if ds.connector_type() != "CUSTOM" {
        return Err(BedrockError::invalid(format!(
            "Data source {} is a {} connector: only a CUSTOM connector takes documents through the KnowledgeBaseDocuments operations",
            ds.spec.id,
            ds.connector_type()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for d in docs.iter_mut() {
        if d.data_source_type != "CUSTOM" {
            d.problems.push((
                format!("{}.content.dataSourceType", d.path),
                format!(
                    "{} does not match the type of data source {} (CUSTOM)",
                    d.data_source_type, ds.spec.id
                ),
            ));
        }
        if d.version.acl.is_some() && !ds.acl_enabled() {
            d.problems.push((
                format!("{}.metadata.accessControlList", d.path),
                format!(
                    "data source {} does not have ACLs enabled (connectorParameters.aclEnabled is false)",
                    ds.spec.id
                ),
            ));
        }
        if !d.id.is_empty() && !seen.insert(d.id.clone()) {
            d.problems.push((
                format!("{}.content.custom.customDocumentIdentifier.id", d.path),
                format!(
                    "the document id {} appears more than once in the request",
                    d.id
                ),
            ));
        }
    }
    problems_error(
        docs.iter()
            .flat_map(|d| d.problems.iter().cloned())
            .collect(),
    )
}

fn problems_error(problems: Vec<(String, String)>) -> Result<(), BedrockError> {
    if problems.is_empty() {
        return Ok(());
    }
    let message = problems
        .iter()
        .map(|(p, m)| format!("{p}: {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(BedrockError::Validation {
        message,
        fields: problems
            .into_iter()
            .map(|(name, message)| FieldError { name, message })
            .collect(),
    })
}

/// A request's `clientToken` and the digest of what it asks
/// ([`fingerprint`]): made only when the request names a token.
struct Idempotency {
    token: String,
    request: [u8; 32],
}

impl Idempotency {
    fn of(req: &Req, body: &Value, token: Option<String>) -> Option<Idempotency> {
        token.map(|token| Idempotency {
            token,
            request: fingerprint(req, body),
        })
    }
}

/// The answer recorded for `clientToken`, if this request repeats it.
fn replay(
    inner: &mut Inner,
    op: &str,
    ds: &str,
    idem: Option<&Idempotency>,
) -> Result<Option<Value>, BedrockError> {
    let Some(Idempotency { token: t, request }) = idem else {
        return Ok(None);
    };
    match inner
        .tokens
        .get(&(op.to_string(), ds.to_string(), t.to_string()))
    {
        None => Ok(None),
        Some(r) if &r.request == request => {
            let response = serde_json::from_str(&r.response).expect("recorded from a Value");
            inner.counts.idempotent_replays += 1;
            Ok(Some(response))
        }
        Some(_) => Err(BedrockError::invalid(format!(
            "The clientToken {t} was already used for a different {op} request; use a new clientToken for a new request"
        ))),
    }
}

fn record(inner: &mut Inner, op: &str, ds: &str, idem: Option<Idempotency>, response: &Value) {
    if let Some(Idempotency { token, request }) = idem {
        inner.tokens.insert(
            (op.to_string(), ds.to_string(), token),
            TokenRecord {
                request,
                response: response.to_string(),
            },
        );
    }
}

/// The request as idempotency compares it: a digest of its labels and
/// body without the token, written straight into the hash (a body holds
/// up to 10 documents; it is not copied). serde_json's objects are sorted
/// maps (its `preserve_order` feature is off), so the same request with
/// its keys in another order has the same digest; JSON values delimit
/// themselves, so the values written one after another cannot run into
/// each other.
fn fingerprint(req: &Req, body: &Value) -> [u8; 32] {
    use sha2::Digest;
    fn put<T: serde::Serialize + ?Sized>(h: &mut sha2::Sha256, v: &T) {
        serde_json::to_writer(h, v).expect("a hash takes every byte");
    }
    let mut h = sha2::Sha256::new();
    put(
        &mut h,
        &[req.label("knowledgeBaseId"), req.label("dataSourceId")],
    );
    match body.as_object() {
        Some(o) => {
            for (k, v) in o.iter().filter(|(k, _)| *k != "clientToken") {
                put(&mut h, k);
                put(&mut h, v);
            }
        }
        None => put(&mut h, body),
    }
    h.finalize().into()
}

pub fn ingest(shared: &Arc<Shared>, req: &Req) -> Result<Value, BedrockError> {
    const OP: &str = "IngestKnowledgeBaseDocuments";
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId", "dataSourceId"]);
    let token = v.string("clientToken", body.get("clientToken"), "ClientToken", false);
    let mut docs = Vec::new();
    if let Some(l) = v.list(
        "documents",
        body.get("documents"),
        "KnowledgeBaseDocuments",
        true,
    ) {
        for (i, d) in l.iter().enumerate() {
            if let Some(d) = document(&mut v, &format!("documents.{}.member", i + 1), d) {
                docs.push(d);
            }
        }
    }
    v.finish()?;
    let (kb, ds_id) = (req.label("knowledgeBaseId"), req.label("dataSourceId"));
    // Hashed before the emulator's lock is taken: a body holds 10 documents.
    let idem = Idempotency::of(req, &body, token);
    let mut inner = shared.lock();
    judge(data_source(&mut inner, kb, ds_id)?, &mut docs)?;
    if let Some(r) = replay(&mut inner, OP, ds_id, idem.as_ref())? {
        return Ok(r);
    }
    let mut details = Vec::new();
    for d in docs {
        inner.generation += 1;
        let generation = inner.generation;
        let ds = inner.kb.data_sources.get_mut(ds_id).expect("judged above");
        let doc = ds
            .documents
            .entry(d.id.clone())
            .or_insert_with(|| Doc::new(&d.id, generation));
        doc.status = "STARTING";
        doc.status_reason = None;
        doc.updated_at = Utc::now();
        doc.generation = generation;
        doc.pending = Some(d.version.clone());
        doc.prepared = None;
        details.push(doc.detail(kb, ds_id));
        inner.counts.documents_ingested += 1;
        start_ingestion(shared, &mut inner, ds_id, &d.id, generation, d.version);
    }
    let response = json!({"documentDetails": details});
    record(&mut inner, OP, ds_id, idem, &response);
    Ok(response)
}

/// Validates a `DocumentIdentifiers` list; returns the custom ids.
fn identifiers(v: &mut Validator, body: &Value) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let Some(l) = v.list(
        "documentIdentifiers",
        body.get("documentIdentifiers"),
        "DocumentIdentifiers",
        true,
    ) else {
        return out;
    };
    for (i, d) in l.iter().enumerate() {
        let p = format!("documentIdentifiers.{}.member", i + 1);
        let Some(o) = v.object(&p, Some(d), true) else {
            continue;
        };
        let dst = v.enumeration(
            &format!("{p}.dataSourceType"),
            o.get("dataSourceType"),
            "ContentDataSourceType",
            true,
        );
        let id = obj(v, &p, o, "custom", false).and_then(|c| {
            v.string(
                &format!("{p}.custom.id"),
                c.get("id"),
                "CustomDocumentIdentifierIdString",
                true,
            )
        });
        if let Some(s3) = obj(v, &p, o, "s3", false) {
            v.string(&format!("{p}.s3.uri"), s3.get("uri"), "S3BucketUri", true);
        }
        out.push((p, dst.filter(|t| t == "CUSTOM").and(id)));
    }
    out
}

/// The custom ids of validated identifiers, or what is wrong with them.
fn custom_ids(
    ds: &DataSource,
    ids: Vec<(String, Option<String>)>,
) -> Result<Vec<String>, BedrockError> {
    if ds.connector_type() != "CUSTOM" {
        return Err(BedrockError::invalid(format!(
            "Data source {} is a {} connector: only a CUSTOM connector takes documents through the KnowledgeBaseDocuments operations",
            ds.spec.id,
            ds.connector_type()
        )));
    }
    let problems = ids
        .iter()
        .filter(|(_, id)| id.is_none())
        .map(|(p, _)| {
            (
                p.clone(),
                format!(
                    "data source {} is CUSTOM: identify documents with dataSourceType CUSTOM and custom.id",
                    ds.spec.id
                ),
            )
        })
        .collect();
    problems_error(problems)?;
    Ok(ids.into_iter().filter_map(|(_, id)| id).collect())
}

pub fn delete(shared: &Arc<Shared>, req: &Req) -> Result<Value, BedrockError> {
    const OP: &str = "DeleteKnowledgeBaseDocuments";
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId", "dataSourceId"]);
    let token = v.string("clientToken", body.get("clientToken"), "ClientToken", false);
    let ids = identifiers(&mut v, &body);
    v.finish()?;
    let (kb, ds_id) = (req.label("knowledgeBaseId"), req.label("dataSourceId"));
    let idem = Idempotency::of(req, &body, token);
    let mut inner = shared.lock();
    let ids = custom_ids(data_source(&mut inner, kb, ds_id)?, ids)?;
    if let Some(r) = replay(&mut inner, OP, ds_id, idem.as_ref())? {
        return Ok(r);
    }
    let mut details = Vec::new();
    for id in ids {
        inner.generation += 1;
        let generation = inner.generation;
        let ds = inner
            .kb
            .data_sources
            .get_mut(ds_id)
            .expect("looked up above");
        let Some(doc) = ds.documents.get_mut(&id) else {
            details.push(detail(kb, ds_id, &id, "NOT_FOUND"));
            continue;
        };
        doc.status = "DELETING";
        doc.status_reason = None;
        doc.updated_at = Utc::now();
        doc.generation = generation;
        doc.pending = None;
        doc.prepared = None;
        doc.indexed = None;
        details.push(doc.detail(kb, ds_id));
        inner.counts.documents_deleted += 1;
        start_deletion(shared, &mut inner, ds_id, &id, generation);
    }
    let response = json!({"documentDetails": details});
    record(&mut inner, OP, ds_id, idem, &response);
    Ok(response)
}

pub fn get(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId", "dataSourceId"]);
    let ids = identifiers(&mut v, &body);
    v.finish()?;
    let (kb, ds_id) = (req.label("knowledgeBaseId"), req.label("dataSourceId"));
    let mut inner = shared.lock();
    let ds = data_source(&mut inner, kb, ds_id)?;
    let ids = custom_ids(ds, ids)?;
    let details: Vec<Value> = ids
        .iter()
        .map(|id| match ds.documents.get(id) {
            Some(d) => d.detail(kb, ds_id),
            None => detail(kb, ds_id, id, "NOT_FOUND"),
        })
        .collect();
    Ok(json!({"documentDetails": details}))
}

pub fn list(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId", "dataSourceId"]);
    let (max, token) = paging(&mut v, &body);
    v.finish()?;
    let (kb, ds_id) = (req.label("knowledgeBaseId"), req.label("dataSourceId"));
    let mut inner = shared.lock();
    let ds = data_source(&mut inner, kb, ds_id)?;
    let items: Vec<(String, Value)> = ds
        .documents
        .values()
        .map(|d| (d.id.clone(), d.detail(kb, ds_id)))
        .collect();
    let max = max.map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
    let (items, next) = page(&mut inner, items, token.as_deref(), max)?;
    let mut out = json!({"documentDetails": items});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BedrockSimConfig;

    fn body(token: &str, text: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "clientToken": token,
            "documents": [{"content": {"dataSourceType": "CUSTOM", "custom": {
                "customDocumentIdentifier": {"id": "d1"}, "sourceType": "IN_LINE",
                "inlineContent": {"type": "TEXT", "textContent": {"data": text}}}}}]
        }))
        .unwrap()
    }

    fn labels() -> Vec<(&'static str, String)> {
        vec![
            ("knowledgeBaseId", "BCQSIMKB01".to_string()),
            ("dataSourceId", "BCQSIMDS01".to_string()),
        ]
    }

    #[tokio::test]
    async fn a_client_token_replays_its_answer_and_refuses_another_request() {
        let shared = Shared::new(BedrockSimConfig::default());
        shared.lock().paused = true;
        let token = "a0b1c2d3-0000-4000-8000-00000000a001";
        let (l, b1) = (labels(), body(token, "first"));
        let req = Req {
            labels: &l,
            body: &b1,
        };
        let first = ingest(&shared, &req).unwrap();
        assert_eq!(first["documentDetails"][0]["status"], "STARTING");
        let generation = shared.lock().generation;
        // Same token, same request: the same answer, nothing ingested again.
        assert_eq!(ingest(&shared, &req).unwrap(), first);
        {
            let inner = shared.lock();
            assert_eq!(inner.generation, generation);
            assert_eq!(inner.counts.documents_ingested, 1);
            assert_eq!(inner.counts.idempotent_replays, 1);
        }
        // Same token, another request: refused.
        let b2 = body(token, "second");
        let e = ingest(
            &shared,
            &Req {
                labels: &l,
                body: &b2,
            },
        )
        .unwrap_err();
        assert_eq!(e.type_name(), "ValidationException");
        assert!(e.message().contains("already used"), "{e}");
        // Another token: a new version.
        let b3 = body("b0b1c2d3-0000-4000-8000-00000000a002", "second");
        ingest(
            &shared,
            &Req {
                labels: &l,
                body: &b3,
            },
        )
        .unwrap();
        assert_eq!(shared.lock().counts.documents_ingested, 2);
        // The token of an ingest does not answer a delete.
        let del = serde_json::to_vec(&json!({"clientToken": token,
            "documentIdentifiers": [{"dataSourceType": "CUSTOM", "custom": {"id": "d1"}}]}))
        .unwrap();
        let d = delete(
            &shared,
            &Req {
                labels: &l,
                body: &del,
            },
        )
        .unwrap();
        assert_eq!(d["documentDetails"][0]["status"], "DELETING");
    }

    #[test]
    fn the_same_request_with_its_keys_in_another_order_has_the_same_digest() {
        let l = labels();
        let req = Req {
            labels: &l,
            body: b"",
        };
        let a = json!({"clientToken": "t1", "documents": [{"content": {"dataSourceType": "CUSTOM"}, "metadata": {"type": "IN_LINE_ATTRIBUTE"}}]});
        let b: Value = serde_json::from_str(
            r#"{"documents": [{"metadata": {"type": "IN_LINE_ATTRIBUTE"}, "content": {"dataSourceType": "CUSTOM"}}], "clientToken": "t2"}"#,
        )
        .unwrap();
        assert_eq!(fingerprint(&req, &a), fingerprint(&req, &b));
        let c = json!({"clientToken": "t1", "documents": [{"content": {"dataSourceType": "S3"}}]});
        assert_ne!(fingerprint(&req, &a), fingerprint(&req, &c));
    }

    #[tokio::test]
    async fn client_token_records_are_bounded_and_the_oldest_go_first() {
        use crate::shared::TOKEN_RECORDS;
        let shared = Shared::new(BedrockSimConfig::default());
        shared.lock().paused = true;
        let l = labels();
        let send = |i: usize| {
            let b = body(&format!("c0b1c2d3-0000-4000-8000-{i:012}"), "d1");
            ingest(
                &shared,
                &Req {
                    labels: &l,
                    body: &b,
                },
            )
            .unwrap();
        };
        for i in 0..=TOKEN_RECORDS {
            send(i);
        }
        assert_eq!(shared.lock().tokens.len(), TOKEN_RECORDS);
        // The newest token still replays; the oldest was forgotten, so its
        // request is taken as a new one.
        for i in [TOKEN_RECORDS, 0] {
            send(i);
            assert_eq!(shared.lock().counts.idempotent_replays, 1, "token {i}");
        }
        assert_eq!(
            shared.lock().counts.documents_ingested,
            TOKEN_RECORDS as u64 + 2
        );
    }
}
