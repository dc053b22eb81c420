//! The record reader: pages of an entity → documents → the changed ones
//! (and their PDFs) into the pusher's channel.

use super::read::ReadOutcome;
use super::seen::{Seen, id_key};
use super::{Engine, Mode, Pending, Unit};
use crate::render;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// What to do with a rendered document, given the hash the state store
/// holds for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it: new (`known` false) or changed.
    Push {
        /// The state store knew the document (an update, not an add).
        known: bool,
    },
    /// The sink already has exactly this.
    Unchanged,
}

/// Push when forced (`full`), when the store does not know the document,
/// or when it knows another hash.
pub fn decide(prior: Option<&[u8; 32]>, hash: &[u8; 32], full: bool) -> Decision {
    match prior {
        Some(p) if !full && p == hash => Decision::Unchanged,
        p => Decision::Push { known: p.is_some() },
    }
}

impl Engine {
    /// Reads a record entity into `tx`, recording what it saw in `out`.
    /// Returns early when the pusher stops or a stop is requested.
    pub(super) async fn read_records(
        &self,
        unit: &Unit,
        url: String,
        tx: mpsc::Sender<Pending>,
        abort: &AtomicBool,
        out: &mut ReadOutcome,
    ) {
        let spec = unit.spec;
        let full = self.cfg.mode == Mode::Full;
        let with_pdf = self.cfg.include_pdf && spec.pdf;
        let acl = self.access_for(unit, spec.entity_set);
        // Records, not serde_json::Values: a fraction of the allocations
        // per record (see bcq_bc::record).
        let mut pages = std::pin::pin!(unit.client.pages_of::<bcq_bc::Record>(url));
        while let Some(page) = pages.next().await {
            let Some(page) = self.accept_page(page, unit, abort, out) else {
                return;
            };
            let mut rendered = Vec::with_capacity(page.values.len());
            let mut again = 0;
            for record in &page.values {
                let number = render::number(spec, record);
                let name = || {
                    format!(
                        "{} {} in {}",
                        spec.singular,
                        number.as_deref().unwrap_or("(no number)"),
                        unit.ctx.company_name
                    )
                };
                out.saw(record, name);
                match render::render(spec, &unit.ctx, record) {
                    Ok(mut doc) => {
                        let bc_id = render::bc_id(record).unwrap_or_default();
                        let n = number.as_deref().unwrap_or("(no number)");
                        if let Seen::Again { first_number } = out.seen.insert(id_key(&bc_id), n) {
                            again += 1;
                            out.warnings.push(format!(
                                "{} id {bc_id} was read twice in one read of {} ({}): number {} first, then number {n}; the first is kept",
                                spec.singular,
                                spec.entity_set,
                                unit.ctx.company_name,
                                first_number.as_deref().unwrap_or("(read earlier)")
                            ));
                            continue;
                        }
                        doc.access = acl.clone();
                        if !self.fit(&mut doc, out) {
                            continue;
                        }
                        let hash = doc.content_hash();
                        rendered.push((doc, hash, bc_id, record));
                    }
                    Err(e) => {
                        self.reject_now(out, &format!("{}/?", spec.entity_set), &e.to_string());
                    }
                }
            }
            if again > 0 && again == page.values.len() {
                out.error = Some(super::cycle(
                    &format!("{} of {}", spec.entity_set, unit.ctx.company_name),
                    &page.url,
                    again,
                ));
                return;
            }
            let mut ids: Vec<String> = rendered.iter().map(|(d, ..)| d.id.clone()).collect();
            if with_pdf {
                ids.extend(rendered.iter().map(|(d, ..)| render::pdf_doc_id(&d.id)));
            }
            let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let known = match self.state().hashes(&id_refs) {
                Ok(k) => k,
                Err(e) => {
                    out.error = Some(format!("state store: {e}"));
                    return;
                }
            };
            let mut pdf_wanted = Vec::new();
            for (doc, hash, bc_id, record) in rendered {
                if with_pdf
                    && let Decision::Push { known } =
                        decide(known.get(&render::pdf_doc_id(&doc.id)), &hash, full)
                {
                    pdf_wanted.push((doc.clone(), hash, bc_id.clone(), record, known));
                }
                match decide(known.get(&doc.id), &hash, full) {
                    Decision::Push { known } => {
                        let p = Pending {
                            doc,
                            hash,
                            bc_id,
                            known,
                        };
                        if !self.queue(&tx, p).await {
                            return;
                        }
                    }
                    Decision::Unchanged => {
                        out.unchanged += 1;
                        self.progress.unchanged.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if !pdf_wanted.is_empty() && !self.queue_pdfs(unit, pdf_wanted, &tx, out).await {
                return;
            }
        }
        out.ended = true;
    }

    /// Downloads the PDFs of changed records and queues them; false when
    /// the pusher stopped.
    async fn queue_pdfs(
        &self,
        unit: &Unit,
        wanted: Vec<(
            crate::document::Document,
            [u8; 32],
            String,
            &bcq_bc::Record,
            bool,
        )>,
        tx: &mpsc::Sender<Pending>,
        out: &mut ReadOutcome,
    ) -> bool {
        let spec = unit.spec;
        let root = unit.api_root.clone();
        let fetched = self
            .fetch_all(wanted, |(doc, hash, bc_id, record, known)| {
                let url = format!(
                    "{root}/companies({})/{}({bc_id})/pdfDocument/pdfDocumentContent",
                    unit.key.company_id, spec.entity_set
                );
                async move {
                    let bytes = unit.client.get_bytes(&url).await;
                    (doc, hash, bc_id, record, known, bytes)
                }
            })
            .await;
        for (doc, hash, bc_id, record, known, bytes) in fetched {
            let pdf_id = render::pdf_doc_id(&doc.id);
            match bytes {
                Ok(b) if !self.file_fits(&pdf_id, "the pdf", b.len()) => {}
                Ok(b) => {
                    let mut pdf = render::pdf_document(spec, &unit.ctx, record, &doc, b.to_vec());
                    if !self.fit(&mut pdf, out) {
                        continue;
                    }
                    let p = Pending {
                        doc: pdf,
                        hash,
                        bc_id,
                        known,
                    };
                    if !self.queue(tx, p).await {
                        return false;
                    }
                }
                Err(e) => {
                    self.reject_now(out, &pdf_id, &format!("downloading the pdf: {e}"));
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_changed_or_forced_documents_are_pushed() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(decide(None, &a, false), Decision::Push { known: false });
        assert_eq!(decide(Some(&a), &a, false), Decision::Unchanged);
        assert_eq!(decide(Some(&b), &a, false), Decision::Push { known: true });
        assert_eq!(decide(Some(&a), &a, true), Decision::Push { known: true });
        assert_eq!(decide(None, &a, true), Decision::Push { known: false });
    }
}
