//! Where documents go. The engine only knows this trait, so that the same
//! pipeline can feed Q Business today and another retrieval service later
//! (Q Business stopped taking new customers on 2026-07-31).

use crate::document::Document;
use std::future::Future;

/// A document the sink did not accept, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The document id.
    pub doc_id: String,
    /// The sink's reason, for the run summary and `bcq status`.
    pub reason: String,
}

/// The outcome of one call: every document not listed in `rejected` was
/// accepted. Retryable rejections were already retried by the sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Documents refused for good.
    pub rejected: Vec<Rejected>,
}

/// A call that failed as a whole, after the sink's own retries.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What went wrong, with what to do about it.
    pub message: String,
    /// True when no later call can succeed either (access denied, the sync
    /// job was stopped, the index does not exist): the run stops early.
    pub fatal: bool,
}

/// A destination for documents, called with at most [`Sink::max_batch`]
/// documents at a time, possibly concurrently.
pub trait Sink: Send + Sync + 'static {
    /// At most this many documents per call (10 for Q Business).
    fn max_batch(&self) -> usize;
    /// At most this many bytes of documents per call.
    fn max_batch_bytes(&self) -> usize;
    /// The largest document content this sink takes: what fits a call
    /// inline, or Q's 50 MB when large files can go another way (S3).
    /// The engine skips and reports files above it instead of sending them.
    fn max_document_bytes(&self) -> usize {
        crate::wire::MAX_FILE_BYTES.min(self.max_batch_bytes())
    }
    /// Adds or replaces documents.
    fn put(&self, docs: Vec<Document>) -> impl Future<Output = Result<Outcome, SinkError>> + Send;
    /// Deletes documents by id.
    fn delete(&self, ids: Vec<String>) -> impl Future<Output = Result<Outcome, SinkError>> + Send;
}
