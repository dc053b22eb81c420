//! Large files through S3: a document too large to travel inline is
//! written to the configured bucket, and the destination sends its location
//! instead (Q: `content.s3` with the role it assumes; Bedrock: an
//! `S3_LOCATION` its knowledge base reads).
//!
//! Objects are keyed by a hash of the document id (`{prefix}{sha256 hex}`),
//! so a new version overwrites the old one and the bucket never holds more
//! than one object per large document; when a document is deleted from the
//! destination, its object is deleted too.

use crate::caller::Caller;
use crate::error::describe;
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Where and how large files are staged.
#[derive(Clone, Debug)]
pub struct S3Staging {
    client: aws_sdk_s3::Client,
    /// Every S3 call under bcq's retry policy (the SDK's own retries are
    /// off in clients built by [`S3Staging::from_sdk`]).
    caller: Arc<Caller>,
    /// S3 calls made.
    calls: Arc<AtomicU64>,
    /// The bucket.
    pub bucket: String,
    /// Key prefix (`bcq/`).
    pub prefix: String,
}

impl S3Staging {
    /// S3 calls made so far (with retries), for the destination's statistics.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stages into `bucket` under `prefix` through `client`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        S3Staging {
            client,
            // Like the destinations' callers: 4 calls in flight, adapting
            // up to 16; its own jitter seed ("bcs").
            caller: Arc::new(Caller::new(
                bcq_retry::RetryPolicy::default(),
                4,
                16,
                0x0062_6373,
            )),
            calls: Arc::new(AtomicU64::new(0)),
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The staging of an AWS configuration: its S3 client with `endpoint_url`
    /// and `force_path_style` when given.
    pub fn from_sdk(
        sdk: &aws_config::SdkConfig,
        bucket: &str,
        prefix: &str,
        endpoint_url: Option<&str>,
        force_path_style: bool,
    ) -> Self {
        let mut conf = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        if let Some(e) = endpoint_url {
            conf = conf.endpoint_url(e);
        }
        conf = conf.force_path_style(force_path_style);
        S3Staging::new(aws_sdk_s3::Client::from_conf(conf.build()), bucket, prefix)
    }

    /// `s3://bucket/key` of a staged object.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The object key of a document: the prefix, the SHA-256 of its id,
    /// and `suffix` (a destination that reads the file's type from its
    /// name, as Bedrock does, passes the extension: `.pdf`).
    pub fn key_for(&self, doc_id: &str, suffix: &str) -> String {
        format!(
            "{}{}{suffix}",
            self.prefix,
            hex::encode(Sha256::digest(doc_id.as_bytes()))
        )
    }

    /// Writes a document's content; returns its key, or why it could not
    /// be written (with what to check).
    pub async fn stage(
        &self,
        doc_id: &str,
        content: Vec<u8>,
        suffix: &str,
    ) -> Result<String, String> {
        let key = self.key_for(doc_id, suffix);
        let content = bytes::Bytes::from(content);
        self.caller
            .call(&self.calls, || {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .body(ByteStream::from(content.clone()))
                    .send()
            })
            .await
            .map_err(|e| {
                format!(
                    "staging the file in s3://{}/{key} failed ({}{}); check files.s3_bucket (BCQ_S3_BUCKET), the AWS credentials' s3:PutObject permission and the region",
                    self.bucket,
                    describe("s3", &e.error),
                    e.retried()
                )
            })?;
        Ok(key)
    }

    /// Deletes the objects of documents deleted from the destination, under
    /// each of `suffixes` they may have been staged with. Documents that
    /// were never staged have no object; S3 answers those as deleted too.
    pub async fn unstage(&self, doc_ids: &[String], suffixes: &[&str]) -> Result<(), String> {
        let keys: Vec<String> = doc_ids
            .iter()
            .flat_map(|id| suffixes.iter().map(move |s| self.key_for(id, s)))
            .collect();
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        // DeleteObjects takes at most 1,000 keys.
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .build()
                        .expect("key is set")
                })
                .collect();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .expect("objects are set");
            let out = self
                .caller
                .call(&self.calls, || {
                    self.client
                        .delete_objects()
                        .bucket(&self.bucket)
                        .delete(delete.clone())
                        .send()
                })
                .await
                .map_err(|e| {
                    format!(
                        "deleting staged files from s3://{} failed ({}{}); check the AWS credentials' s3:DeleteObject permission",
                        self.bucket,
                        describe("s3", &e.error),
                        e.retried()
                    )
                })?;
            if let Some(e) = out.errors().first() {
                return Err(format!(
                    "deleting s3://{}/{} failed ({}: {}); check the AWS credentials' s3:DeleteObject permission",
                    self.bucket,
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or("no error code"),
                    e.message().unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}
