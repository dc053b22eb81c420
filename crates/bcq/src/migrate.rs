//! Moving from the sample connector: its documents (`<invoice number>.pdf`,
//! one per sales invoice of one company) are deleted once bcq has indexed
//! the invoice that replaces each of them (`sync.delete_sample_documents`).

use bcq_bc::Query;
use bcq_core::destination::Destination;
use bcq_core::engine::Unit;
use bcq_state::StateStore;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// What the cleanup did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SampleCleanup {
    /// Sample documents found in the data source.
    pub found: u64,
    /// Deleted because bcq indexed their invoice.
    pub deleted: u64,
    /// Left in place: no indexed invoice with that number (yet).
    pub kept: u64,
}

/// Whether a document id is one the sample created: `<number>.pdf`, which
/// no bcq id looks like (bcq's start with `bc/`).
pub fn is_sample_id(id: &str) -> bool {
    !id.contains('/') && id.len() > 4 && id.ends_with(".pdf")
}

/// Finds the sample's documents, matches them by number to the sales
/// invoices of the run's companies, and deletes those whose invoice bcq
/// has in Q. Invoice numbers are looked up twenty per BC request.
pub async fn delete_sample_documents(
    dest: &dyn Destination,
    units: &[Unit],
    state: &Mutex<StateStore>,
) -> anyhow::Result<SampleCleanup> {
    // The invoice numbers of the sample's documents (`<number>.pdf`).
    let numbers: BTreeSet<String> = dest
        .document_ids()
        .await?
        .into_iter()
        .filter(|id| is_sample_id(id))
        .map(|id| id.trim_end_matches(".pdf").to_string())
        .collect();
    let mut out = SampleCleanup {
        found: numbers.len() as u64,
        ..SampleCleanup::default()
    };
    if numbers.is_empty() {
        return Ok(out);
    }
    // Numbers whose invoice bcq has indexed (looked up in each company
    // until found, never twice).
    let mut replaced: BTreeSet<String> = BTreeSet::new();
    for unit in units
        .iter()
        .filter(|u| u.spec.entity_set == "salesInvoices")
    {
        let wanted: Vec<String> = numbers.difference(&replaced).cloned().collect();
        for chunk in wanted.chunks(20) {
            let filter = chunk
                .iter()
                .map(|n| format!("number eq {}", bcq_bc::odata_string(n)))
                .collect::<Vec<_>>()
                .join(" or ");
            let query = Query {
                filter: Some(filter),
                select: vec!["id".into(), "number".into()],
                ..Query::default()
            };
            let url = bcq_bc::collection_url(
                &unit.api_root,
                &unit.key.company_id,
                "salesInvoices",
                &query,
            );
            let page = unit.client.get_json(&url).await?;
            let found: Vec<(String, String)> = page["value"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    let id = bcq_core::render::bc_id(r)?;
                    let number = r["number"].as_str()?.to_string();
                    Some((
                        bcq_core::render::doc_id(
                            &unit.ctx.environment,
                            &unit.ctx.company_id,
                            "salesInvoices",
                            &id,
                        ),
                        number,
                    ))
                })
                .collect();
            let ids: Vec<&str> = found.iter().map(|(d, _)| d.as_str()).collect();
            let known = state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .hashes(&ids)?;
            for (doc_id, number) in found {
                if known.contains_key(&doc_id) && numbers.contains(&number) {
                    replaced.insert(number);
                }
            }
        }
    }
    let ids: Vec<String> = replaced.iter().map(|n| format!("{n}.pdf")).collect();
    for chunk in ids.chunks(dest.limits().docs_per_call.max(1)) {
        let o = dest.delete(chunk.to_vec()).await?;
        out.deleted += (chunk.len() - o.rejected.len()) as u64;
        for r in o.rejected {
            tracing::warn!(doc_id = %r.doc_id, reason = %r.reason, "could not delete a sample document");
        }
    }
    out.kept = out.found - out.deleted;
    tracing::info!(
        found = out.found,
        deleted = out.deleted,
        kept = out.kept,
        "sample connector documents cleaned up"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_samples_ids_match() {
        assert!(is_sample_id("103001.pdf"));
        assert!(is_sample_id("PS-INV103001.pdf"));
        assert!(!is_sample_id("bc/production/c/salesInvoices/x/pdf"));
        assert!(!is_sample_id("bc/production/c/documentAttachments/x"));
        assert!(!is_sample_id(".pdf"));
        assert!(!is_sample_id("103001.txt"));
    }
}
