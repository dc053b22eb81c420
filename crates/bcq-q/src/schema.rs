//! The custom attributes declared on the Q index. Q ignores (or, for a
//! wrong type, fails) document attributes the index does not declare, so
//! bcq checks them before a sync and declares them on request.

use crate::retry::describe;
use crate::sink::{JobError, QSink};
use aws_sdk_qbusiness::types::{AttributeType, DocumentAttributeConfiguration, Status};
use bcq_core::catalog::AttrKind;

/// The Q type of a bcq attribute kind.
pub fn q_type(kind: AttrKind) -> AttributeType {
    match kind {
        AttrKind::String => AttributeType::String,
        AttrKind::Number => AttributeType::Number,
        AttrKind::Date => AttributeType::Date,
    }
}

/// How the index stands against what bcq sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaCheck {
    /// Wanted and declared with the right type.
    pub declared: Vec<String>,
    /// Wanted and not declared.
    pub missing: Vec<String>,
    /// Declared with another type: (name, declared type, wanted type).
    pub wrong_type: Vec<(String, String, String)>,
}

impl SchemaCheck {
    /// Whether every wanted attribute is declared with its type.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.wrong_type.is_empty()
    }
}

impl QSink {
    async fn index_attributes(&self) -> Result<Vec<DocumentAttributeConfiguration>, JobError> {
        let t = self.target();
        let out = self
            .client()
            .get_index()
            .application_id(&t.application_id)
            .index_id(&t.index_id)
            .send()
            .await
            .map_err(|e| JobError::Call {
                action: "GetIndex",
                hint: "; check Q_APPLICATION_ID and Q_INDEX_ID and the AWS region",
                detail: describe(&e),
            })?;
        Ok(out.document_attribute_configurations().to_vec())
    }

    /// Compares the index's declared attributes with `wanted`.
    pub async fn check_schema(&self, wanted: &[(&str, AttrKind)]) -> Result<SchemaCheck, JobError> {
        let have = self.index_attributes().await?;
        let mut check = SchemaCheck::default();
        for (name, kind) in wanted {
            match have.iter().find(|c| c.name() == Some(name)) {
                None => check.missing.push(name.to_string()),
                Some(c) if c.r#type() != Some(&q_type(*kind)) => check.wrong_type.push((
                    name.to_string(),
                    c.r#type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    q_type(*kind).as_str().to_string(),
                )),
                Some(_) => check.declared.push(name.to_string()),
            }
        }
        Ok(check)
    }

    /// Declares the missing attributes through UpdateIndex, keeping the
    /// ones the index already has. Returns the names added.
    pub async fn declare_schema(
        &self,
        wanted: &[(&str, AttrKind)],
    ) -> Result<Vec<String>, JobError> {
        let have = self.index_attributes().await?;
        let mut all = have.clone();
        let mut added = Vec::new();
        for (name, kind) in wanted {
            if !have.iter().any(|c| c.name() == Some(name)) {
                all.push(
                    DocumentAttributeConfiguration::builder()
                        .name(*name)
                        .r#type(q_type(*kind))
                        .search(Status::Enabled)
                        .build(),
                );
                added.push(name.to_string());
            }
        }
        if added.is_empty() {
            return Ok(added);
        }
        let t = self.target();
        self.client()
            .update_index()
            .application_id(&t.application_id)
            .index_id(&t.index_id)
            .set_document_attribute_configurations(Some(all))
            .send()
            .await
            .map_err(|e| JobError::Call {
                action: "UpdateIndex",
                hint: "; the AWS credentials need qbusiness:UpdateIndex",
                detail: describe(&e),
            })?;
        Ok(added)
    }
}
