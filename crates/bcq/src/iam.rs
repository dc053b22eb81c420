//! `bcq iam-policy`: the least-privilege IAM policy for the configured
//! destination and features: the exact actions bcq calls, on the
//! configured application, index and data source (or knowledge base), the
//! staging bucket's prefix and the role Q reads it with.

use crate::config::Config;
use bcq_core::destination::IamStatement;

/// The policy variable that stands for the account of whoever uses the
/// policy, when no account id is given.
pub const ANY_OWN_ACCOUNT: &str = "${aws:PrincipalAccount}";

/// The policy document, as JSON.
pub fn policy(cfg: &Config, account: Option<&str>) -> serde_json::Value {
    let account = account.unwrap_or(ANY_OWN_ACCOUNT);
    let mut statements = cfg.destination().iam_statements(account);
    if let Some(s3) = &cfg.common.s3 {
        statements.push(IamStatement::allow(
            "BcqStageLargeFilesInS3",
            "s3",
            &["PutObject"],
            vec![format!("arn:aws:s3:::{}/{}*", s3.bucket, s3.prefix)],
        ));
    }
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": statements,
    })
}

/// Whether `account` is a 12-digit AWS account id.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}
