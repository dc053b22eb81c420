//! The attachments reader: attachment records → (when new or changed) their
//! record and file → file documents into the pusher's channel.
//!
//! Change detection is on the attachment's metadata and access control
//! ([`fingerprint`]), so an unchanged attachment costs no download, and a
//! file whose record cannot be found is not downloaded either.

use super::read::ReadOutcome;
use super::records::{Decision, decide};
use super::seen::{Seen, id_key};
use super::{Engine, Mode, Pending, Unit};
use crate::catalog::EntitySpec;
use crate::document::{AccessControl, ContentType, Document};
use crate::files;
use crate::render;
use crate::wire;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// The attachment fields whose change means the file changed.
const FINGERPRINT_FIELDS: [&str; 5] = [
    "fileName",
    "byteSize",
    "parentType",
    "parentId",
    "lastModifiedDateTime",
];

/// The hash that decides whether an attachment changed: its id, the
/// metadata that changes with its file, and the access control it takes
/// from its record. The file itself is not read for it.
pub fn fingerprint(doc_id: &str, meta: &serde_json::Value, acl: Option<AccessControl>) -> [u8; 32] {
    Document {
        id: doc_id.to_string(),
        title: String::new(),
        content_type: ContentType::PlainText,
        content: FINGERPRINT_FIELDS
            .iter()
            .map(|f| meta.get(*f).map(|v| v.to_string()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\u{1f}")
            .into_bytes(),
        attributes: Vec::new(),
        access: acl,
    }
    .content_hash()
}

/// An attachment on its way from BC's metadata to a file document.
struct FileJob<'a> {
    /// The attachment's BC record.
    meta: &'a serde_json::Value,
    /// Its [`fingerprint`].
    hash: [u8; 32],
    doc_id: String,
    bc_id: String,
    /// `entity/id` of the record it is attached to.
    parent: String,
    parent_spec: &'static EntitySpec,
    parent_id: String,
    /// The record's access control, which the file takes.
    acl: Option<AccessControl>,
    content_type: ContentType,
    /// Whether the state store knew the document.
    known: bool,
}

impl<'a> FileJob<'a> {
    fn file_name(&self) -> &'a str {
        wire::text(self.meta, "fileName").unwrap_or_default()
    }
}

impl Engine {
    /// Reads the attachments pseudo-entity into `tx`.
    pub(super) async fn read_attachments(
        &self,
        unit: &Unit,
        url: String,
        tx: mpsc::Sender<Pending>,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) {
        let full = self.cfg.mode == Mode::Full;
        let root = &unit.api_root;
        let company = &unit.key.company_id;
        // Records files are attached to, by `entity/id`, without their content.
        let mut parents: HashMap<String, Option<Document>> = HashMap::new();
        // The access control of each parent entity, resolved once.
        let mut acls: HashMap<&'static str, Option<AccessControl>> = HashMap::new();
        let mut pages = std::pin::pin!(unit.client.pages(url));
        while let Some(page) = pages.next().await {
            let Some(page) = self.accept_page(page, unit, abort, out) else {
                return;
            };
            let mut jobs = Vec::with_capacity(page.values.len());
            let mut again = 0;
            for meta in &page.values {
                let file_name = wire::text(meta, "fileName").unwrap_or("(no file name)");
                out.saw(meta, || {
                    format!("attachment {file_name} in {}", unit.ctx.company_name)
                });
                let Some(bc_id) = render::bc_id(meta) else {
                    self.reject_now(out, "documentAttachments/?", "attachment record has no id");
                    continue;
                };
                if let Seen::Again { first_number } = out.seen.insert(id_key(&bc_id), file_name) {
                    again += 1;
                    out.warnings.push(format!(
                        "attachment id {bc_id} was read twice in one read ({}): {} first, then {file_name}; the first is kept",
                        unit.ctx.company_name,
                        first_number.as_deref().unwrap_or("(read earlier)")
                    ));
                    continue;
                }
                let parent_set = wire::text(meta, "parentType").and_then(files::parent_entity_set);
                let Some(parent_spec) = parent_set.and_then(|set| {
                    self.cfg
                        .attachment_parents
                        .iter()
                        .copied()
                        .find(|s| s.entity_set == set)
                }) else {
                    // Its record is not synced (entity not enabled, or a
                    // journal or statement attachment): nothing to attach to.
                    self.progress.unattached.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let acl = acls
                    .entry(parent_spec.entity_set)
                    .or_insert_with(|| self.access_for(unit, parent_spec.entity_set))
                    .clone();
                let doc_id = files::attachment_doc_id(&unit.ctx, &bc_id);
                let parent_id = wire::text(meta, "parentId")
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                jobs.push(FileJob {
                    meta,
                    hash: fingerprint(&doc_id, meta, acl.clone()),
                    doc_id,
                    bc_id,
                    parent: format!("{}/{parent_id}", parent_spec.entity_set),
                    parent_spec,
                    parent_id,
                    acl,
                    content_type: ContentType::PlainText,
                    known: false,
                });
            }
            if again > 0 && again == page.values.len() {
                out.error = Some(super::cycle(
                    &format!("documentAttachments of {}", unit.ctx.company_name),
                    &page.url,
                    again,
                ));
                return;
            }
            let ids: Vec<&str> = jobs.iter().map(|j| j.doc_id.as_str()).collect();
            let known = match self.state().hashes(&ids) {
                Ok(k) => k,
                Err(e) => {
                    out.error = Some(format!("state store: {e}"));
                    return;
                }
            };
            let mut wanted = Vec::new();
            for mut job in jobs {
                let Decision::Push { known } = decide(known.get(&job.doc_id), &job.hash, full)
                else {
                    out.unchanged += 1;
                    self.progress.unchanged.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let file_name = job.file_name();
                job.content_type = match files::content_type_of(file_name) {
                    Ok(c) => c,
                    Err(why) => {
                        self.skip(&job.doc_id, &format!("{file_name}: {why}"));
                        continue;
                    }
                };
                let size = job.meta.get("byteSize").and_then(serde_json::Value::as_u64);
                if let Some(n) = size
                    && !self.file_fits(&job.doc_id, file_name, n as usize)
                {
                    continue;
                }
                job.known = known;
                wanted.push(job);
            }
            // The records the files are attached to, once per run each.
            let mut asked = HashSet::new();
            let missing: Vec<&FileJob> = wanted
                .iter()
                .filter(|j| !parents.contains_key(&j.parent) && asked.insert(j.parent.as_str()))
                .collect();
            let looked_up = self
                .fetch_all(missing, |j| async move {
                    let purl = format!(
                        "{root}/companies({company})/{}({})",
                        j.parent_spec.entity_set, j.parent_id
                    );
                    (j, unit.client.get_json(&purl).await)
                })
                .await;
            for (j, got) in looked_up {
                let parent = match got {
                    Ok(record) => {
                        render::render(j.parent_spec, &unit.ctx, &record)
                            .ok()
                            .map(|mut d| {
                                d.access = j.acl.clone();
                                d.content = Vec::new();
                                d
                            })
                    }
                    Err(e) if e.status() == Some(404) => None,
                    Err(e) => {
                        out.error = Some(format!(
                            "reading the record {} of an attachment in {}: {e}",
                            j.parent, unit.ctx.company_name
                        ));
                        return;
                    }
                };
                parents.insert(j.parent.clone(), parent);
            }
            // A file whose record is gone is not downloaded.
            wanted.retain(|j| {
                let found = matches!(parents.get(&j.parent), Some(Some(_)));
                if !found {
                    self.skip(
                        &j.doc_id,
                        "the record it is attached to was not found in business central",
                    );
                }
                found
            });
            let fetched = self
                .fetch_all(wanted, |j| async move {
                    let url = format!(
                        "{root}/companies({company})/documentAttachments({})/attachmentContent",
                        j.bc_id
                    );
                    let bytes = unit.client.get_bytes(&url).await;
                    (j, bytes)
                })
                .await;
            for (j, bytes) in fetched {
                let Some(Some(parent)) = parents.get(&j.parent) else {
                    continue;
                };
                let b = match bytes {
                    Ok(b) => b,
                    Err(e) => {
                        self.reject_now(
                            out,
                            &j.doc_id,
                            &format!("downloading {}: {e}", j.file_name()),
                        );
                        continue;
                    }
                };
                if !self.file_fits(&j.doc_id, j.file_name(), b.len()) {
                    continue;
                }
                let mut doc = files::attachment_document(
                    &unit.ctx,
                    j.meta,
                    parent,
                    j.content_type,
                    b.to_vec(),
                );
                if !self.fit(&mut doc, out) {
                    continue;
                }
                let p = Pending {
                    doc,
                    hash: j.hash,
                    bc_id: j.bc_id,
                    known: j.known,
                };
                if !self.queue(&tx, p).await {
                    return;
                }
            }
        }
        out.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fingerprint_follows_the_file_and_its_access_not_other_fields() {
        let meta = json!({"id": "a", "fileName": "x.pdf", "byteSize": 10, "parentType": "Customer",
                          "parentId": "p", "lastModifiedDateTime": "2025-01-01T00:00:00Z", "other": 1});
        let base = fingerprint("d", &meta, None);
        let mut m = meta.clone();
        m["other"] = json!(2);
        assert_eq!(
            fingerprint("d", &m, None),
            base,
            "fields outside the fingerprint"
        );
        for f in FINGERPRINT_FIELDS {
            let mut m = meta.clone();
            m[f] = json!("changed");
            assert_ne!(fingerprint("d", &m, None), base, "{f}");
        }
        assert_ne!(
            fingerprint("d", &meta, Some(AccessControl::default())),
            base,
            "access control"
        );
        assert_ne!(fingerprint("e", &meta, None), base, "document id");
    }
}
