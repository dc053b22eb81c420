//! GetKnowledgeBase, ListKnowledgeBases, GetDataSource, ListDataSources:
//! the pre-created knowledge base and its data sources, read-only.

use serde_json::{Value, json};

use super::{Req, check_ids, data_source, knowledge_base, page, paging};
use crate::error::BedrockError;
use crate::shared::Shared;
use crate::validate;

/// Default page size of the list operations (AWS documents none).
pub const DEFAULT_MAX_RESULTS: usize = 100;

pub fn get_knowledge_base(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId"]);
    v.finish()?;
    let inner = shared.lock();
    knowledge_base(&inner, req.label("knowledgeBaseId"))?;
    Ok(json!({"knowledgeBase": inner.kb.to_json()}))
}

pub fn list_knowledge_bases(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    let (max, token) = paging(&mut v, &body);
    v.finish()?;
    let mut inner = shared.lock();
    let items = vec![(inner.kb.id.clone(), inner.kb.summary())];
    let max = max.map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
    let (items, next) = page(&mut inner, items, token.as_deref(), max)?;
    let mut out = json!({"knowledgeBaseSummaries": items});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

pub fn get_data_source(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId", "dataSourceId"]);
    v.finish()?;
    let mut inner = shared.lock();
    let kb = req.label("knowledgeBaseId");
    let ds = data_source(&mut inner, kb, req.label("dataSourceId"))?;
    Ok(json!({"dataSource": ds.to_json(kb)}))
}

pub fn list_data_sources(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::agent();
    check_ids(&mut v, req, &["knowledgeBaseId"]);
    let (max, token) = paging(&mut v, &body);
    v.finish()?;
    let mut inner = shared.lock();
    let kb = req.label("knowledgeBaseId");
    knowledge_base(&inner, kb)?;
    let items = inner
        .kb
        .data_sources
        .values()
        .map(|d| (d.spec.id.clone(), d.summary(kb)))
        .collect();
    let max = max.map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
    let (items, next) = page(&mut inner, items, token.as_deref(), max)?;
    let mut out = json!({"dataSourceSummaries": items});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}
