//! The settings of the Amazon Q Business destination: the sample
//! connector's variables, unchanged.

use crate::destination::{QDestination, QTarget};
use bcq_core::destination::{
    BoxFuture, CommonSettings, Destination, DestinationKind, IamStatement, PreparedDestination,
    policy_region,
};
use bcq_core::settings::{Setting, SettingValues, id as shaped_id, optional_url, region};
use std::sync::Arc;

/// Every setting of the Q destination.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "q.application_id",
        "Q_APPLICATION_ID",
        "Amazon Q Business application id",
    ),
    Setting::new("q.index_id", "Q_INDEX_ID", "Amazon Q Business index id"),
    Setting::new(
        "q.data_source_id",
        "Q_DATASOURCE_ID",
        "the custom data source id",
    ),
    Setting::new(
        "q.region",
        "BCQ_AWS_REGION",
        "AWS region of Amazon Q Business (default: the AWS chain, e.g. AWS_REGION)",
    ),
    Setting::new(
        "q.endpoint_url",
        "AWS_ENDPOINT_URL_QBUSINESS",
        "Q Business endpoint override (emulator)",
    ),
    Setting::new(
        "files.s3_role_arn",
        "BCQ_S3_ROLE_ARN",
        "IAM role Q assumes to read the bucket of large files (required with files.s3_bucket)",
    ),
];

/// The Amazon Q Business kind of destination (`destination = "qbusiness"`,
/// the default).
pub static KIND: QKind = QKind;

/// See [`KIND`].
#[derive(Debug)]
pub struct QKind;

/// Validated settings, ready to open.
#[derive(Clone, Debug)]
pub struct PreparedQ {
    target: QTarget,
    region: Option<String>,
    endpoint_url: Option<String>,
    role_arn: Option<String>,
}

fn is_q_id(s: &str) -> bool {
    // The API model's pattern for application, index and data source ids.
    s.len() == 36
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `arn:aws:iam::<12-digit account>:role/<name>` (any AWS partition).
fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

impl DestinationKind for QKind {
    fn key(&self) -> &'static str {
        "qbusiness"
    }

    fn name(&self) -> &'static str {
        crate::SERVICE
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn is_configured(&self, values: &dyn SettingValues) -> bool {
        ["q.application_id", "q.index_id", "q.data_source_id"]
            .iter()
            .any(|k| values.get(k).is_some())
    }

    fn prepare(
        &self,
        values: &dyn SettingValues,
        common: &CommonSettings,
    ) -> Result<Box<dyn PreparedDestination>, Vec<String>> {
        let mut problems = Vec::new();
        let mut id = |key: &str| {
            shaped_id(
                values,
                key,
                is_q_id,
                "an Amazon Q Business id is 36 letters, digits and dashes",
                &mut problems,
            )
        };
        let target = QTarget {
            application_id: id("q.application_id"),
            index_id: id("q.index_id"),
            data_source_id: id("q.data_source_id"),
        };
        let region = region(values, "q.region", &mut problems);
        let endpoint_url = optional_url(values, "q.endpoint_url", &mut problems);
        let role_arn = values
            .get("files.s3_role_arn")
            .map(|r| r.trim().to_string());
        match (&common.s3, &role_arn) {
            (Some(_), None) => problems.push(format!(
                "{} is set but {} is not: Amazon Q Business reads staged files with that role",
                values.describe("files.s3_bucket"),
                values.missing("files.s3_role_arn")
            )),
            (_, Some(r)) if !is_role_arn(r) => problems.push(format!(
                "{} is '{r}': expected an IAM role ARN like arn:aws:iam::<12-digit account>:role/<name>",
                values.describe("files.s3_role_arn")
            )),
            _ => {}
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Box::new(PreparedQ {
            target,
            region,
            endpoint_url,
            role_arn,
        }))
    }
}

impl PreparedDestination for PreparedQ {
    fn key(&self) -> &'static str {
        KIND.key()
    }

    fn describe(&self) -> String {
        format!(
            "Amazon Q Business application {}, index {}, data source {}",
            self.target.application_id, self.target.index_id, self.target.data_source_id
        )
    }

    fn iam_statements(&self, account: &str) -> Vec<IamStatement> {
        let t = &self.target;
        let region = policy_region(self.region.as_deref());
        let app = format!(
            "arn:aws:qbusiness:{region}:{account}:application/{}",
            t.application_id
        );
        let index = format!("{app}/index/{}", t.index_id);
        let data_source = format!("{index}/data-source/{}", t.data_source_id);
        let mut v = vec![
            IamStatement::allow(
                "BcqQBusinessApplication",
                "qbusiness",
                &["GetApplication"],
                vec![app],
            ),
            IamStatement::allow(
                "BcqQBusinessIndex",
                "qbusiness",
                &[
                    "GetIndex",
                    "BatchPutDocument",
                    "BatchDeleteDocument",
                    "ListDocuments",
                    "PutGroup",
                    "DeleteGroup",
                ],
                vec![index.clone(), data_source.clone()],
            ),
            IamStatement::allow(
                "BcqQBusinessDataSource",
                "qbusiness",
                &[
                    "GetDataSource",
                    "StartDataSourceSyncJob",
                    "StopDataSourceSyncJob",
                    "ListDataSourceSyncJobs",
                ],
                vec![data_source],
            ),
            // Only `bcq index-schema --apply` (once per index): remove it after.
            IamStatement::allow(
                "BcqQBusinessDeclareAttributesOnce",
                "qbusiness",
                &["UpdateIndex"],
                vec![index],
            ),
        ];
        if let Some(role) = &self.role_arn {
            let mut pass = IamStatement::allow(
                "BcqPassRoleToQBusinessForS3",
                "iam",
                &["PassRole"],
                vec![role.clone()],
            );
            pass.condition = Some(serde_json::json!({
                "StringEquals": {"iam:PassedToService": "qbusiness.amazonaws.com"}
            }));
            v.push(pass);
        }
        v
    }

    fn open(&self, common: &CommonSettings) -> BoxFuture<'_, Result<Arc<dyn Destination>, String>> {
        let common = common.clone();
        Box::pin(async move {
            let creds = common
                .static_credentials
                .as_ref()
                .map(|c| (c.access_key_id.as_str(), c.secret_access_key.expose()));
            let sdk =
                bcq_aws::load(self.region.as_deref(), "q.region (BCQ_AWS_REGION)", creds).await?;
            let mut conf = aws_sdk_qbusiness::config::Builder::from(&sdk)
                // bcq's own retry policy sees every throttle and adapts.
                .retry_config(aws_sdk_qbusiness::config::retry::RetryConfig::disabled());
            if let Some(e) = &self.endpoint_url {
                conf = conf.endpoint_url(e);
            }
            let client = aws_sdk_qbusiness::Client::from_conf(conf.build());
            let staging = common.s3.as_ref().map(|s| {
                bcq_aws::S3Staging::from_sdk(
                    &sdk,
                    &s.bucket,
                    &s.prefix,
                    s.endpoint_url.as_deref(),
                    s.force_path_style,
                )
            });
            let dest = QDestination::new(client, self.target.clone(), &common)
                .with_staging(staging, self.role_arn.clone());
            Ok(Arc::new(dest) as Arc<dyn Destination>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_recognised() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/q-reads"));
        assert!(is_role_arn("arn:aws-us-gov:iam::123456789012:role/path/q"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/q"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/q"));
        assert!(!is_role_arn("q-reads"));
    }
}
