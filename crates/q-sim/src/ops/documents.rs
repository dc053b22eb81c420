//! BatchPutDocument, BatchDeleteDocument, ListDocuments.

use std::time::Instant;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::{APP, INDEX, Req, decode_token, page};
use crate::error::QError;
use crate::extract;
use crate::shared::{Event, Inner, Shared};
use crate::state::{AttrValue, Doc, ErrorDetail, Index, Outcome, now_secs};
use crate::validate::Validator;

/// Largest file Q accepts (50 MB).
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;

/// A validated document of a BatchPutDocument request.
struct NewDoc {
    id: String,
    title: Option<String>,
    content_type: Option<String>,
    attributes: Vec<(String, AttrValue)>,
    access: Option<Value>,
    /// Extracted text, or why indexing will fail.
    text: Result<String, ErrorDetail>,
    /// Rejected at once in `failedDocuments` (file too large).
    reject: Option<ErrorDetail>,
    /// `content.s3` (bucket, key), read before the document is stored.
    s3: Option<(String, String)>,
}

/// The text of a file, as Q extracts it; without a content type Q infers
/// it (the emulator sniffs PDF, else plain text).
fn extract_file(content_type: &Option<String>, b: &[u8]) -> Result<String, ErrorDetail> {
    let ct = content_type.clone().unwrap_or_else(|| {
        if b.starts_with(b"%PDF-") {
            "PDF".into()
        } else {
            "PLAIN_TEXT".into()
        }
    });
    extract::extract(&ct, b).map_err(|e| ErrorDetail::invalid(e.to_string()))
}

/// Reads a `content.s3` document as Q does, with the batch's role, from
/// the configured S3-compatible server, and extracts its text.
fn read_s3(
    shared: &Shared,
    role: Option<&str>,
    bucket: &str,
    key: &str,
    content_type: &Option<String>,
) -> Result<String, ErrorDetail> {
    let Some(endpoint) = &shared.cfg.s3_endpoint else {
        return Err(ErrorDetail::invalid(
            "The emulator has no S3 endpoint configured (s3_endpoint), so it cannot read S3 content",
        ));
    };
    if role.is_none() {
        return Err(ErrorDetail::invalid(
            "Amazon Q Business needs the roleArn of the BatchPutDocument request to read S3 content",
        ));
    }
    let creds = crate::s3fetch::Creds {
        access_key_id: &shared.cfg.access_key_id,
        secret: &shared.cfg.secret_access_key,
        region: &shared.cfg.region,
    };
    let b = crate::s3fetch::get(endpoint, creds, bucket, key, MAX_FILE_BYTES as u64).map_err(
        |e| {
            ErrorDetail::invalid(match e {
                crate::s3fetch::S3Error::AccessDenied(b, k) => format!(
                    "Amazon Q Business could not read s3://{b}/{k} with the roleArn of the request (AccessDenied); the role needs s3:GetObject on the bucket"
                ),
                e => e.to_string(),
            })
        },
    )?;
    extract_file(content_type, &b)
}

fn attribute_value(v: &mut Validator, p: &str, val: Option<&Value>) -> Option<AttrValue> {
    let (kind, inner) = v.union(
        p,
        val,
        &["stringValue", "stringListValue", "longValue", "dateValue"],
        true,
    )?;
    match kind.as_str() {
        "stringValue" => v
            .string(
                &format!("{p}.stringValue"),
                Some(inner),
                "DocumentAttributeValueStringValueString",
                true,
            )
            .map(AttrValue::String),
        "stringListValue" => {
            let lp = format!("{p}.stringListValue");
            let l = v.list(&lp, Some(inner), "DocumentAttributeStringListValue", true)?;
            let mut out = Vec::new();
            for (j, s) in l.iter().enumerate() {
                if let Some(s) =
                    v.string(&format!("{lp}.{}.member", j + 1), Some(s), "String", true)
                {
                    out.push(s);
                }
            }
            Some(AttrValue::StringList(out))
        }
        "longValue" => v
            .long(&format!("{p}.longValue"), Some(inner), true)
            .map(AttrValue::Long),
        _ => v
            .timestamp(&format!("{p}.dateValue"), Some(inner), true)
            .map(AttrValue::Date),
    }
}

fn access_configuration(v: &mut Validator, p: &str, val: Option<&Value>) -> Option<Value> {
    let o = v.object(p, val, false)?;
    v.enumeration(
        &format!("{p}.memberRelation"),
        o.get("memberRelation"),
        "MemberRelation",
        false,
    );
    let acp = format!("{p}.accessControls");
    if let Some(l) = v.list(&acp, o.get("accessControls"), "AccessControls", true) {
        for (i, ac) in l.iter().enumerate() {
            let ap = format!("{acp}.{}.member", i + 1);
            let Some(ac) = v.object(&ap, Some(ac), true) else {
                continue;
            };
            v.enumeration(
                &format!("{ap}.memberRelation"),
                ac.get("memberRelation"),
                "MemberRelation",
                false,
            );
            let pp = format!("{ap}.principals");
            let Some(ps) = v.list(&pp, ac.get("principals"), "Principals", true) else {
                continue;
            };
            for (j, pr) in ps.iter().enumerate() {
                let prp = format!("{pp}.{}.member", j + 1);
                let Some((kind, inner)) = v.union(&prp, Some(pr), &["user", "group"], true) else {
                    continue;
                };
                let kp = format!("{prp}.{kind}");
                let Some(m) = v.object(&kp, Some(inner), true) else {
                    continue;
                };
                if kind == "user" {
                    v.string(&format!("{kp}.id"), m.get("id"), "UserId", false);
                } else {
                    v.string(&format!("{kp}.name"), m.get("name"), "GroupName", false);
                }
                v.enumeration(
                    &format!("{kp}.access"),
                    m.get("access"),
                    "ReadAccessType",
                    true,
                );
                v.enumeration(
                    &format!("{kp}.membershipType"),
                    m.get("membershipType"),
                    "MembershipType",
                    false,
                );
            }
        }
    }
    Some(Value::Object(o.clone()))
}

fn parse_document(v: &mut Validator, p: &str, d: &Map<String, Value>) -> Option<NewDoc> {
    let id = v.string(&format!("{p}.id"), d.get("id"), "DocumentId", true);
    let title = v.string(&format!("{p}.title"), d.get("title"), "Title", false);
    let content_type = v.enumeration(
        &format!("{p}.contentType"),
        d.get("contentType"),
        "ContentType",
        false,
    );
    let mut attributes = Vec::new();
    let ap = format!("{p}.attributes");
    if let Some(l) = v.list(&ap, d.get("attributes"), "DocumentAttributes", false) {
        for (i, a) in l.iter().enumerate() {
            let mp = format!("{ap}.{}.member", i + 1);
            let Some(a) = v.object(&mp, Some(a), true) else {
                continue;
            };
            let name = v.string(
                &format!("{mp}.name"),
                a.get("name"),
                "DocumentAttributeKey",
                true,
            );
            let value = attribute_value(v, &format!("{mp}.value"), a.get("value"));
            if let (Some(n), Some(val)) = (name, value) {
                attributes.push((n, val));
            }
        }
    }
    let access = access_configuration(
        v,
        &format!("{p}.accessConfiguration"),
        d.get("accessConfiguration"),
    );
    let mut blob: Option<Vec<u8>> = None;
    let mut s3 = None;
    let cp = format!("{p}.content");
    if d.get("content").is_some_and(|c| !c.is_null())
        && let Some((kind, inner)) = v.union(&cp, d.get("content"), &["blob", "s3"], false)
    {
        if kind == "blob" {
            match inner
                .as_str()
                .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
            {
                Some(Ok(b)) => blob = Some(b),
                _ => v.parse_error(format!("Cannot parse '{cp}.blob': not a base64 string")),
            }
        } else if let Some(o) = v.object(&format!("{cp}.s3"), Some(inner), true) {
            let bucket = v.string(
                &format!("{cp}.s3.bucket"),
                o.get("bucket"),
                "S3BucketName",
                true,
            );
            let key = v.string(&format!("{cp}.s3.key"), o.get("key"), "S3ObjectKey", true);
            s3 = bucket.zip(key);
        }
    }
    let id = id?;
    let mut reject = None;
    let text = if s3.is_some() {
        // Read in `batch_put`, outside the validator.
        Ok(String::new())
    } else if let Some(b) = &blob {
        if b.len() > MAX_FILE_BYTES {
            reject = Some(ErrorDetail::invalid(format!(
                "The document is {} bytes, larger than the 50 MB limit",
                b.len()
            )));
        }
        extract_file(&content_type, b)
    } else {
        Ok(String::new())
    };
    Some(NewDoc {
        id,
        title,
        content_type,
        attributes,
        access,
        text,
        reject,
        s3,
    })
}

/// The sync job a `dataSourceSyncId` names: Ok(Some(ds id)) when it is the
/// SYNCING job of a data source of the index, Err(failure) otherwise.
fn resolve_job(
    idx: &Index,
    sync_id: Option<&str>,
) -> Result<Option<String>, (ErrorDetail, Option<String>)> {
    let Some(sync_id) = sync_id else {
        return Ok(None);
    };
    for ds in idx.data_sources.values() {
        if let Some(j) = ds.jobs.iter().find(|j| j.execution_id == sync_id) {
            if j.status == "SYNCING" {
                return Ok(Some(ds.id.clone()));
            }
            return Err((
                ErrorDetail::invalid(format!(
                    "The sync job {sync_id} is not running (status {}); start a new sync job.",
                    j.status
                )),
                Some(ds.id.clone()),
            ));
        }
    }
    Err((
        ErrorDetail::invalid(format!("The sync job {sync_id} does not exist.")),
        None,
    ))
}

fn failed(id: &str, ds: Option<&str>, e: &ErrorDetail) -> Value {
    let mut v = json!({"id": id, "error": e.to_json()});
    if let Some(ds) = ds {
        v["dataSourceId"] = json!(ds);
    }
    v
}

fn record(idx: &mut Index, ds: Option<&str>, sync_id: Option<&str>, doc_id: &str, o: Outcome) {
    if let (Some(ds), Some(sync)) = (ds, sync_id)
        && let Some(j) = idx
            .data_sources
            .get_mut(ds)
            .and_then(|d| d.jobs.iter_mut().find(|j| j.execution_id == sync))
    {
        j.record(doc_id, o);
    }
}

fn schedule_doc(
    shared: &Shared,
    inner: &mut Inner,
    app: &str,
    index: &str,
    doc: &str,
    generation: u64,
) {
    let now = Instant::now();
    let delay = shared.cfg.indexing_delay;
    for (stage, at) in [(1u8, now + delay / 2), (2u8, now + delay)] {
        inner.schedule(
            at,
            Event::Doc {
                app: app.into(),
                index: index.into(),
                doc: doc.into(),
                generation,
                stage,
            },
        );
    }
}

/// BatchPutDocument.
pub fn batch_put(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = crate::validate::parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let role = v.string("roleArn", body.get("roleArn"), "RoleArn", false);
    let sync_id = v.string(
        "dataSourceSyncId",
        body.get("dataSourceSyncId"),
        "ExecutionId",
        false,
    );
    let mut docs = Vec::new();
    if let Some(l) = v.list("documents", body.get("documents"), "Documents", true) {
        for (i, d) in l.iter().enumerate() {
            let p = format!("documents.{}.member", i + 1);
            if let Some(o) = v.object(&p, Some(d), true)
                && let Some(nd) = parse_document(&mut v, &p, o)
            {
                docs.push(nd);
            }
        }
    }
    v.finish()?;
    // S3 content is read before the state is locked (it is I/O).
    for d in &mut docs {
        if let Some((bucket, key)) = d.s3.take() {
            d.text = read_s3(shared, role.as_deref(), &bucket, &key, &d.content_type);
        }
    }
    let app = req.label("applicationId").to_string();
    let index = req.label("indexId").to_string();
    let mut inner = shared.lock();
    let idx = inner.state.index(&app, &index)?;
    let job_ds = match resolve_job(idx, sync_id.as_deref()) {
        Ok(ds) => ds,
        Err((e, ds)) => {
            let failed: Vec<Value> = docs
                .iter()
                .map(|d| failed(&d.id, ds.as_deref(), &e))
                .collect();
            return Ok(json!({"failedDocuments": failed}));
        }
    };
    let mut failures = Vec::new();
    let partial = req.partial.unwrap_or(0);
    let mut accepted = Vec::new();
    for (i, d) in docs.into_iter().enumerate() {
        let idx = inner.state.index(&app, &index)?;
        let reject = if i < partial {
            Some(ErrorDetail::internal("injected partial failure"))
        } else {
            d.reject.clone()
        };
        if let Some(e) = reject {
            failures.push(failed(&d.id, job_ds.as_deref(), &e));
            record(
                idx,
                job_ds.as_deref(),
                sync_id.as_deref(),
                &d.id,
                Outcome::Failed,
            );
            continue;
        }
        let ds_id = job_ds.clone().or_else(|| {
            d.attributes
                .iter()
                .find_map(|(n, v)| match (n.as_str(), v) {
                    ("_data_source_id", AttrValue::String(s))
                        if idx.data_sources.contains_key(s) =>
                    {
                        Some(s.clone())
                    }
                    _ => None,
                })
        });
        let now = now_secs();
        let prev = idx.documents.get(&d.id);
        let existed = prev.is_some_and(|p| p.status != "DELETING" && p.status != "DELETED");
        let was_indexed = prev.is_some_and(|p| p.was_indexed && existed);
        let generation = prev.map_or(0, |p| p.generation + 1);
        let created_at = prev.filter(|_| existed).map_or(now, |p| p.created_at);
        let (text, pending_error) = match d.text {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        };
        idx.documents.insert(
            d.id.clone(),
            Doc {
                id: d.id.clone(),
                title: d.title,
                content_type: d.content_type,
                attributes: d.attributes,
                access: d.access,
                text,
                pending_error,
                status: "RECEIVED".into(),
                error: None,
                data_source_id: ds_id,
                job_id: sync_id.clone().filter(|_| job_ds.is_some()),
                was_indexed,
                generation,
                created_at,
                updated_at: now,
            },
        );
        record(
            idx,
            job_ds.as_deref(),
            sync_id.as_deref(),
            &d.id,
            if existed {
                Outcome::Modified
            } else {
                Outcome::Added
            },
        );
        accepted.push((d.id, generation));
    }
    for (id, generation) in accepted {
        if inner.faults.index_failure(&id) {
            let idx = inner.state.index(&app, &index)?;
            if let Some(doc) = idx.documents.get_mut(&id) {
                doc.pending_error = Some(ErrorDetail::internal("injected index failure"));
            }
        }
        schedule_doc(shared, &mut inner, &app, &index, &id, generation);
        inner.counts.documents_put += 1;
    }
    inner.dirty = true;
    shared.wake.notify_one();
    Ok(json!({"failedDocuments": failures}))
}

/// BatchDeleteDocument: an unknown id is accepted (nothing to delete), as Q
/// does; a known one goes DELETING → DELETED → gone.
pub fn batch_delete(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let body = crate::validate::parse_body(req.body)?;
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let sync_id = v.string(
        "dataSourceSyncId",
        body.get("dataSourceSyncId"),
        "ExecutionId",
        false,
    );
    let mut ids = Vec::new();
    if let Some(l) = v.list("documents", body.get("documents"), "DeleteDocuments", true) {
        for (i, d) in l.iter().enumerate() {
            let p = format!("documents.{}.member", i + 1);
            if let Some(o) = v.object(&p, Some(d), true)
                && let Some(id) = v.string(
                    &format!("{p}.documentId"),
                    o.get("documentId"),
                    "DocumentId",
                    true,
                )
            {
                ids.push(id);
            }
        }
    }
    v.finish()?;
    let app = req.label("applicationId").to_string();
    let index = req.label("indexId").to_string();
    let mut inner = shared.lock();
    let idx = inner.state.index(&app, &index)?;
    let job_ds = match resolve_job(idx, sync_id.as_deref()) {
        Ok(ds) => ds,
        Err((e, ds)) => {
            let failed: Vec<Value> = ids.iter().map(|d| failed(d, ds.as_deref(), &e)).collect();
            return Ok(json!({"failedDocuments": failed}));
        }
    };
    let partial = req.partial.unwrap_or(0);
    let mut failures = Vec::new();
    let mut scheduled = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let idx = inner.state.index(&app, &index)?;
        if i < partial {
            failures.push(failed(
                id,
                job_ds.as_deref(),
                &ErrorDetail::internal("injected partial failure"),
            ));
            record(
                idx,
                job_ds.as_deref(),
                sync_id.as_deref(),
                id,
                Outcome::Failed,
            );
            continue;
        }
        if let Some(d) = idx.documents.get_mut(id)
            && d.status != "DELETING"
            && d.status != "DELETED"
        {
            d.status = "DELETING".into();
            d.generation += 1;
            d.updated_at = now_secs();
            d.error = None;
            scheduled.push((id.clone(), d.generation));
            record(
                idx,
                job_ds.as_deref(),
                sync_id.as_deref(),
                id,
                Outcome::Deleted,
            );
        }
        inner.counts.documents_deleted += 1;
    }
    for (id, generation) in scheduled {
        schedule_doc(shared, &mut inner, &app, &index, &id, generation);
    }
    inner.dirty = true;
    shared.wake.notify_one();
    Ok(json!({"failedDocuments": failures}))
}

/// ListDocuments: ordered by document id; `dataSourceIds` filters by the
/// data source a document came through.
pub fn list(shared: &Shared, req: &Req) -> Result<Value, QError> {
    let mut v = Validator::new();
    req.check_ids(&mut v, &[APP, INDEX]);
    let max = req
        .query_int(&mut v, "maxResults", "MaxResultsIntegerForListDocuments")
        .unwrap_or(100);
    let token = req.query("nextToken").map(|s| Value::String(s.to_string()));
    let token = v.string("nextToken", token.as_ref(), "NextToken", false);
    let ds_filter: Vec<String> = req
        .query_all("dataSourceIds")
        .into_iter()
        .map(String::from)
        .collect();
    if !ds_filter.is_empty() {
        let as_json = Value::Array(ds_filter.iter().map(|s| json!(s)).collect());
        if let Some(l) = v.list("dataSourceIds", Some(&as_json), "DataSourceIds", false) {
            for (i, s) in l.iter().enumerate() {
                v.string(
                    &format!("dataSourceIds.{}.member", i + 1),
                    Some(s),
                    "DataSourceId",
                    true,
                );
            }
        }
    }
    v.finish()?;
    let offset = match token {
        Some(t) => decode_token(&t)?,
        None => 0,
    };
    let mut inner = shared.lock();
    let idx = inner
        .state
        .index(req.label("applicationId"), req.label("indexId"))?;
    let all: Vec<&Doc> = idx
        .documents
        .values()
        .filter(|d| {
            ds_filter.is_empty()
                || d.data_source_id
                    .as_ref()
                    .is_some_and(|s| ds_filter.contains(s))
        })
        .collect();
    let (docs, next) = page(&all, offset, max as usize);
    let list: Vec<Value> = docs
        .iter()
        .map(|d| {
            let mut o = json!({"documentId": d.id, "status": d.status, "createdAt": d.created_at, "updatedAt": d.updated_at});
            if let Some(e) = &d.error {
                o["error"] = e.to_json();
            }
            o
        })
        .collect();
    let mut out = json!({"documentDetailList": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}
