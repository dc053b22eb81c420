//! The settings of the Amazon Bedrock destination
//! (`destination = "bedrock-kb"`).

use crate::destination::{BedrockDestination, BedrockTarget};
use bcq_core::destination::{
    BoxFuture, CommonSettings, Destination, DestinationKind, IamStatement, PreparedDestination,
    policy_region,
};
use bcq_core::settings::{Setting, SettingValues, id as shaped_id, optional_url, region};
use std::sync::Arc;

/// Every setting of the Bedrock destination.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "bedrock.knowledge_base_id",
        "BEDROCK_KNOWLEDGE_BASE_ID",
        "Amazon Bedrock knowledge base id (a managed knowledge base)",
    ),
    Setting::new(
        "bedrock.data_source_id",
        "BEDROCK_DATA_SOURCE_ID",
        "its custom data source id (a managed knowledge base connector of type CUSTOM)",
    ),
    Setting::new(
        "bedrock.region",
        "BCQ_BEDROCK_REGION",
        "AWS region of the knowledge base (default: the AWS chain, e.g. AWS_REGION)",
    ),
    Setting::new(
        "bedrock.endpoint_url",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT",
        "Bedrock Agent endpoint override (emulator)",
    ),
    Setting::new(
        "bedrock.runtime_endpoint_url",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
        "Bedrock Agent Runtime endpoint override (emulator; asking as a user)",
    ),
];

/// The Amazon Bedrock kind of destination.
pub static KIND: BedrockKind = BedrockKind;

/// See [`KIND`].
#[derive(Debug)]
pub struct BedrockKind;

/// Validated settings, ready to open.
#[derive(Clone, Debug)]
pub struct PreparedBedrock {
    target: BedrockTarget,
    region: Option<String>,
    endpoint_url: Option<String>,
    runtime_endpoint_url: Option<String>,
}

/// The model's pattern for knowledge base and data source ids: `[0-9a-zA-Z]{10}`.
fn is_bedrock_id(s: &str) -> bool {
    s.len() == 10 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl DestinationKind for BedrockKind {
    fn key(&self) -> &'static str {
        "bedrock-kb"
    }

    fn name(&self) -> &'static str {
        crate::SERVICE
    }

    fn settings(&self) -> &'static [Setting] {
        SETTINGS
    }

    fn is_configured(&self, values: &dyn SettingValues) -> bool {
        ["bedrock.knowledge_base_id", "bedrock.data_source_id"]
            .iter()
            .any(|k| values.get(k).is_some())
    }

    fn prepare(
        &self,
        values: &dyn SettingValues,
        _common: &CommonSettings,
    ) -> Result<Box<dyn PreparedDestination>, Vec<String>> {
        let mut problems = Vec::new();
        let mut id = |key: &str| {
            shaped_id(
                values,
                key,
                is_bedrock_id,
                "an Amazon Bedrock knowledge base or data source id is 10 letters and digits",
                &mut problems,
            )
        };
        let target = BedrockTarget {
            knowledge_base_id: id("bedrock.knowledge_base_id"),
            data_source_id: id("bedrock.data_source_id"),
        };
        let region = region(values, "bedrock.region", &mut problems);
        let endpoint_url = optional_url(values, "bedrock.endpoint_url", &mut problems);
        let runtime_endpoint_url =
            optional_url(values, "bedrock.runtime_endpoint_url", &mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Box::new(PreparedBedrock {
            target,
            region,
            endpoint_url,
            runtime_endpoint_url,
        }))
    }
}

impl PreparedDestination for PreparedBedrock {
    fn key(&self) -> &'static str {
        KIND.key()
    }

    fn describe(&self) -> String {
        format!(
            "Amazon Bedrock knowledge base {}, data source {}",
            self.target.knowledge_base_id, self.target.data_source_id
        )
    }

    fn iam_statements(&self, account: &str) -> Vec<IamStatement> {
        let t = &self.target;
        let region = policy_region(self.region.as_deref());
        let kb = format!(
            "arn:aws:bedrock:{region}:{account}:knowledge-base/{}",
            t.knowledge_base_id
        );
        vec![IamStatement::allow(
            "BcqBedrockKnowledgeBase",
            "bedrock",
            &[
                "GetKnowledgeBase",
                "GetDataSource",
                "IngestKnowledgeBaseDocuments",
                "DeleteKnowledgeBaseDocuments",
                "GetKnowledgeBaseDocuments",
                "ListKnowledgeBaseDocuments",
            ],
            vec![kb],
        )]
    }

    fn open(&self, common: &CommonSettings) -> BoxFuture<'_, Result<Arc<dyn Destination>, String>> {
        let common = common.clone();
        Box::pin(async move {
            let creds = common
                .static_credentials
                .as_ref()
                .map(|c| (c.access_key_id.as_str(), c.secret_access_key.expose()));
            let sdk = bcq_aws::load(
                self.region.as_deref(),
                "bedrock.region (BCQ_BEDROCK_REGION)",
                creds,
            )
            .await?;
            // bcq's own retry policy sees every throttle and adapts.
            let mut agent = aws_sdk_bedrockagent::config::Builder::from(&sdk)
                .retry_config(aws_sdk_bedrockagent::config::retry::RetryConfig::disabled());
            if let Some(e) = &self.endpoint_url {
                agent = agent.endpoint_url(e);
            }
            let mut runtime = aws_sdk_bedrockagentruntime::config::Builder::from(&sdk)
                .retry_config(aws_sdk_bedrockagentruntime::config::retry::RetryConfig::disabled());
            if let Some(e) = &self.runtime_endpoint_url {
                runtime = runtime.endpoint_url(e);
            }
            let staging = common.s3.as_ref().map(|s| {
                bcq_aws::S3Staging::from_sdk(
                    &sdk,
                    &s.bucket,
                    &s.prefix,
                    s.endpoint_url.as_deref(),
                    s.force_path_style,
                )
            });
            let dest = BedrockDestination::new(
                aws_sdk_bedrockagent::Client::from_conf(agent.build()),
                aws_sdk_bedrockagentruntime::Client::from_conf(runtime.build()),
                self.target.clone(),
                &common,
            )
            .with_staging(staging);
            Ok(Arc::new(dest) as Arc<dyn Destination>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_model() {
        assert!(is_bedrock_id("BCQSIMKB01"));
        assert!(!is_bedrock_id("BCQSIMKB0"));
        assert!(!is_bedrock_id("BCQSIMKB0/"));
    }
}
