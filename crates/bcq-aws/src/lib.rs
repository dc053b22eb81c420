//! What bcq's AWS destinations (Amazon Q Business, Amazon Bedrock) share.
//!
//! # Layout
//!
//! - [`load`]: one walk of the standard AWS chain (environment, profile,
//!   SSO, container and instance roles), with a region or a clear error.
//! - [`error`]: every SDK error classified once ([`classify`]: throttled,
//!   transient, or final) and described in one readable line
//!   ([`describe`]).
//! - [`caller`]: [`Caller`], every SDK call of a destination under bcq's
//!   one retry policy (`bcq_retry`), adaptive concurrency and counters.
//! - [`s3`]: [`S3Staging`], files too large to travel inline, staged in S3.

#![warn(missing_docs)]

pub mod caller;
pub mod error;
pub mod s3;

pub use caller::{CallError, Caller};
pub use error::{classify, code, describe};
pub use s3::S3Staging;

/// The AWS configuration from the standard chain, with `region` when given
/// (else the chain's), and `credentials` instead of the chain's when given
/// (emulators); an error saying what to set when no region is found.
pub async fn load(
    region: Option<&str>,
    setting: &str,
    credentials: Option<(&str, &str)>,
) -> Result<aws_config::SdkConfig, String> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some((key, secret)) = credentials {
        loader = loader.credentials_provider(aws_credential_types::Credentials::from_keys(
            key, secret, None,
        ));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(format!(
            "no AWS region is configured: set AWS_REGION (or a profile's region), or {setting}"
        ));
    }
    Ok(sdk)
}
