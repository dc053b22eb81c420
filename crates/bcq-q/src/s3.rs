//! Large files through S3: a document too large to travel inline in a
//! BatchPutDocument is written to the configured bucket and sent as
//! `content.s3`, with the batch's `roleArn` (the role Q assumes to read it).
//!
//! Objects are keyed by a hash of the document id (`{prefix}{sha256 hex}`),
//! so a new version overwrites the old one and the bucket never holds more
//! than one object per large document; when a document is deleted from Q,
//! its object is deleted too.

use crate::retry::describe_for;
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};

/// Where and how large files are staged.
#[derive(Clone, Debug)]
pub struct S3Staging {
    client: aws_sdk_s3::Client,
    /// The bucket.
    pub bucket: String,
    /// Key prefix (`bcq/`).
    pub prefix: String,
    /// The IAM role Q assumes to read the bucket.
    pub role_arn: String,
}

impl S3Staging {
    /// Stages into `bucket` under `prefix` through `client`; Q reads with `role_arn`.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        S3Staging {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
            role_arn: role_arn.into(),
        }
    }

    /// The object key of a document.
    pub fn key_for(&self, doc_id: &str) -> String {
        format!(
            "{}{}",
            self.prefix,
            hex::encode(Sha256::digest(doc_id.as_bytes()))
        )
    }

    /// Writes a document's content; returns its key, or why it could not
    /// be written (with what to check).
    pub async fn stage(&self, doc_id: &str, content: Vec<u8>) -> Result<String, String> {
        let key = self.key_for(doc_id);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(content))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "staging the file in s3://{}/{key} failed ({}); check files.s3_bucket (BCQ_S3_BUCKET), the AWS credentials' s3:PutObject permission and the region",
                    self.bucket,
                    describe_for("s3", &e)
                )
            })?;
        Ok(key)
    }

    /// Deletes the objects of documents deleted from Q. Documents that
    /// were never staged have no object; S3 answers those as deleted too.
    pub async fn unstage(&self, doc_ids: &[String]) -> Result<(), String> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        // DeleteObjects takes at most 1,000 keys.
        for chunk in doc_ids.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|id| {
                    ObjectIdentifier::builder()
                        .key(self.key_for(id))
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
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "deleting staged files from s3://{} failed ({}); check the AWS credentials' s3:DeleteObject permission",
                        self.bucket,
                        describe_for("s3", &e)
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
