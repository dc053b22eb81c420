//! The index: its declared custom attributes (Q ignores, or for a wrong
//! type fails, attributes the index does not declare, so bcq checks them
//! before a sync and declares them on request), and the preflight checks.

use crate::destination::{QDestination, failed};
use aws_sdk_qbusiness::types::{AttributeType, DocumentAttributeConfiguration, Status};
use bcq_core::catalog::AttrKind;
use bcq_core::destination::{AttributeCheck, Check, DestinationError};

/// The Q type of a bcq attribute kind.
pub fn q_type(kind: AttrKind) -> AttributeType {
    match kind {
        AttrKind::String => AttributeType::String,
        AttrKind::Number => AttributeType::Number,
        AttrKind::Date => AttributeType::Date,
    }
}

impl QDestination {
    async fn index_attributes(
        &self,
    ) -> Result<Vec<DocumentAttributeConfiguration>, DestinationError> {
        let t = &self.target;
        let out = self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .get_index()
                    .application_id(&t.application_id)
                    .index_id(&t.index_id)
                    .send()
            })
            .await
            .map_err(|e| DestinationError::fatal(failed("GetIndex", &e)))?;
        Ok(out.document_attribute_configurations().to_vec())
    }

    /// Compares the index's declared attributes with `wanted`.
    pub async fn check_schema(
        &self,
        wanted: &[(&'static str, AttrKind)],
    ) -> Result<AttributeCheck, DestinationError> {
        let have = self.index_attributes().await?;
        let mut check = AttributeCheck::default();
        for (name, kind) in wanted {
            check
                .types
                .push((name.to_string(), q_type(*kind).as_str().to_string()));
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
        wanted: &[(&'static str, AttrKind)],
    ) -> Result<Vec<String>, DestinationError> {
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
        let t = &self.target;
        self.caller
            .call(&self.other_calls, || {
                self.client
                    .update_index()
                    .application_id(&t.application_id)
                    .index_id(&t.index_id)
                    .set_document_attribute_configurations(Some(all.clone()))
                    .send()
            })
            .await
            .map_err(|e| {
                DestinationError::fatal(format!(
                    "{}; the AWS credentials need qbusiness:UpdateIndex",
                    failed("UpdateIndex", &e)
                ))
            })?;
        Ok(added)
    }

    /// The lines of `bcq check` for Q: the application, the index, the
    /// data source, and the attributes bcq sends.
    pub(crate) async fn preflight(&self, wanted: &[(&'static str, AttrKind)]) -> Vec<Check> {
        let t = &self.target;
        let mut out = Vec::new();
        let active = |what: String, status: Option<&str>| {
            let st = status.unwrap_or("unknown").to_string();
            if st == "ACTIVE" {
                Check::pass(what, st)
            } else {
                Check::fail(what, format!("{st}: it must be ACTIVE"))
            }
        };
        let what = format!("q application {}", t.application_id);
        match self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .get_application()
                    .application_id(&t.application_id)
                    .send()
            })
            .await
        {
            Ok(a) => out.push(active(what, a.status().map(|s| s.as_str()))),
            Err(e) => {
                out.push(Check::fail(what, failed("GetApplication", &e)));
                return out;
            }
        }
        let what = format!("q index {}", t.index_id);
        match self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .get_index()
                    .application_id(&t.application_id)
                    .index_id(&t.index_id)
                    .send()
            })
            .await
        {
            Ok(i) => out.push(active(what, i.status().map(|s| s.as_str()))),
            Err(e) => {
                out.push(Check::fail(what, failed("GetIndex", &e)));
                return out;
            }
        }
        let what = format!("q data source {}", t.data_source_id);
        match self
            .caller
            .call(&self.other_calls, || {
                self.client
                    .get_data_source()
                    .application_id(&t.application_id)
                    .index_id(&t.index_id)
                    .data_source_id(&t.data_source_id)
                    .send()
            })
            .await
        {
            Ok(d) => out.push(active(what, d.status().map(|s| s.as_str()))),
            Err(e) => out.push(Check::fail(what, failed("GetDataSource", &e))),
        }
        let what = "custom attributes on the index";
        match self.check_schema(wanted).await {
            Ok(c) if c.complete() => {
                out.push(Check::pass(what, format!("{} declared", c.declared.len())))
            }
            Ok(c) => {
                let mut why = Vec::new();
                if !c.missing.is_empty() {
                    why.push(format!("not declared: {}", c.missing.join(", ")));
                }
                for (n, have, want) in &c.wrong_type {
                    why.push(format!("{n} is declared {have}, bcq sends {want}"));
                }
                out.push(Check::fail(
                    what,
                    format!(
                        "{}; documents of index {} would fail to index: run `bcq index-schema --apply` once to declare them",
                        why.join("; "),
                        t.index_id
                    ),
                ));
            }
            Err(e) => out.push(Check::fail(what, e.message)),
        }
        out
    }
}
