//! Retrieve (bedrock-agent-runtime): the passages of the indexed documents
//! that share words with the query, filtered by access control and metadata
//! filters, best first (see [`crate::search`]: lexical, not semantic).

use aws_sim::validate::Validator;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Req;
use crate::error::BedrockError;
use crate::search::{Filter, Passage, attribute_words, passes, scores, visible};
use crate::shared::Shared;
use crate::validate::{self, kb_arn_id};

/// Results when the request sets no `numberOfResults` (AWS's documented default).
pub const DEFAULT_RESULTS: usize = 5;

/// The comparison members of `RetrievalFilter`.
const COMPARISONS: &[&str] = &[
    "equals",
    "notEquals",
    "greaterThan",
    "greaterThanOrEquals",
    "lessThan",
    "lessThanOrEquals",
    "in",
    "notIn",
    "startsWith",
    "listContains",
    "stringContains",
];

fn filter(v: &mut Validator, p: &str, f: &Value) -> Option<Filter> {
    let mut members = vec!["andAll", "orAll"];
    members.extend(COMPARISONS);
    let (kind, inner) = v.union(p, Some(f), &members, true)?;
    let kp = format!("{p}.{kind}");
    match kind.as_str() {
        "andAll" | "orAll" => {
            let l = v.list(&kp, Some(inner), "RetrievalFilterList", true)?;
            let fs: Vec<Filter> = l
                .iter()
                .enumerate()
                .filter_map(|(i, f)| filter(v, &format!("{kp}.{}.member", i + 1), f))
                .collect();
            Some(if kind == "andAll" {
                Filter::And(fs)
            } else {
                Filter::Or(fs)
            })
        }
        _ => {
            let o = v.object(&kp, Some(inner), true)?;
            let key = v.string(&format!("{kp}.key"), o.get("key"), "FilterKey", true);
            let value = o.get("value").filter(|x| !x.is_null()).cloned();
            if value.is_none() {
                v.fail(&format!("{kp}.value"), "Member must not be null");
            }
            Some(Filter::Compare {
                op: kind,
                key: key?,
                value: value?,
            })
        }
    }
}

/// The search configuration: number of results and filter.
fn configuration(v: &mut Validator, body: &Value) -> (usize, Option<Filter>, Vec<&'static str>) {
    let mut unsupported = Vec::new();
    let Some(rc) = v.object(
        "retrievalConfiguration",
        body.get("retrievalConfiguration"),
        false,
    ) else {
        return (DEFAULT_RESULTS, None, unsupported);
    };
    let (member, shape) = if rc.contains_key("managedSearchConfiguration") {
        (
            "managedSearchConfiguration",
            "ManagedSearchConfigurationNumberOfResultsInteger",
        )
    } else {
        (
            "vectorSearchConfiguration",
            "KnowledgeBaseVectorSearchConfigurationNumberOfResultsInteger",
        )
    };
    if rc.contains_key("managedSearchConfiguration") && rc.contains_key("vectorSearchConfiguration")
    {
        v.fail(
            "retrievalConfiguration",
            "Member must set at most one of [managedSearchConfiguration, vectorSearchConfiguration]",
        );
    }
    let p = format!("retrievalConfiguration.{member}");
    let Some(c) = v.object(&p, rc.get(member), false) else {
        return (DEFAULT_RESULTS, None, unsupported);
    };
    let n = v.long(
        &format!("{p}.numberOfResults"),
        c.get("numberOfResults"),
        false,
    );
    let n = v.int(&format!("{p}.numberOfResults"), n, shape);
    let f = c
        .get("filter")
        .filter(|f| !f.is_null())
        .and_then(|f| filter(v, &format!("{p}.filter"), f));
    if member == "vectorSearchConfiguration" {
        v.enumeration(
            &format!("{p}.overrideSearchType"),
            c.get("overrideSearchType"),
            "SearchType",
            false,
        );
        if c.contains_key("implicitFilterConfiguration") {
            unsupported.push("implicitFilterConfiguration");
        }
    } else {
        v.enumeration(
            &format!("{p}.rerankingModelType"),
            c.get("rerankingModelType"),
            "RerankingModelType",
            false,
        );
    }
    if c.contains_key("rerankingConfiguration") {
        unsupported.push("rerankingConfiguration");
    }
    (n.map_or(DEFAULT_RESULTS, |n| n as usize), f, unsupported)
}

/// A short id of a passage (Retrieve's `x-amz-bedrock-kb-chunk-id`).
fn chunk_id(ds: &str, doc: &str, generation: u64, n: usize) -> String {
    let h = Sha256::digest(format!("{ds}\n{doc}\n{generation}\n{n}").as_bytes());
    hex::encode(&h[..16])
}

/// What a passage returns besides its text.
struct Hit<'a> {
    ds: &'a str,
    doc: &'a str,
    n: usize,
    generation: u64,
    text: &'a str,
    extra: String,
    attributes: &'a [crate::state::Attr],
}

pub fn retrieve(shared: &Shared, req: &Req) -> Result<Value, BedrockError> {
    let body = aws_sim::validate::parse_body(req.body)?;
    let mut v = validate::runtime();
    let kb_label = req.label("knowledgeBaseId");
    v.check_str("knowledgeBaseId", kb_label, "KnowledgeBaseIdentifier");
    let mut query = None;
    if let Some(q) = v.object("retrievalQuery", body.get("retrievalQuery"), true) {
        let ty = v.enumeration(
            "retrievalQuery.type",
            q.get("type"),
            "KnowledgeBaseQueryType",
            false,
        );
        query = v.string(
            "retrievalQuery.text",
            q.get("text"),
            "KnowledgeBaseQueryTextString",
            false,
        );
        if ty.as_deref() == Some("IMAGE") || q.contains_key("image") {
            v.fail(
                "retrievalQuery.image",
                "Member is not supported by the emulator: it searches text only",
            );
        } else if query.is_none() {
            v.fail("retrievalQuery.text", "Member must not be null");
        }
    }
    let user = v
        .object("userContext", body.get("userContext"), false)
        .and_then(|u| v.string("userContext.userId", u.get("userId"), "String", true));
    let (n, filter, unsupported) = configuration(&mut v, &body);
    for member in unsupported {
        v.fail(
            &format!("retrievalConfiguration.{member}"),
            "Member is not supported by the emulator (no model runs here)",
        );
    }
    let guardrail = v
        .object(
            "guardrailConfiguration",
            body.get("guardrailConfiguration"),
            false,
        )
        .map(|g| {
            let id = v.string(
                "guardrailConfiguration.guardrailId",
                g.get("guardrailId"),
                "GuardrailConfigurationGuardrailIdString",
                true,
            );
            let ver = v.string(
                "guardrailConfiguration.guardrailVersion",
                g.get("guardrailVersion"),
                "GuardrailConfigurationGuardrailVersionString",
                true,
            );
            (id.unwrap_or_default(), ver.unwrap_or_default())
        });
    let next = v.string("nextToken", body.get("nextToken"), "NextToken", false);
    v.finish()?;
    let kb_id = kb_arn_id(kb_label).unwrap_or(kb_label);
    let inner = shared.lock();
    if inner.kb.id != kb_id {
        return Err(BedrockError::NotFound(format!(
            "Knowledge base {kb_id} does not exist in this account and region"
        )));
    }
    if let Some((id, ver)) = guardrail {
        return Err(BedrockError::NotFound(format!(
            "Guardrail {id} version {ver} does not exist (the emulator has no guardrails)"
        )));
    }
    if let Some(t) = next {
        return Err(BedrockError::invalid(format!(
            "The nextToken {t} is not valid: Retrieve returned none"
        )));
    }
    let mut hits = Vec::new();
    for ds in inner.kb.data_sources.values() {
        for d in ds.documents.values() {
            let Some(ix) = &d.indexed else { continue };
            if !visible(ds.acl_enabled(), ix.acl.as_deref(), user.as_deref())
                || filter.as_ref().is_some_and(|f| !passes(f, &ix.attributes))
            {
                continue;
            }
            let extra = attribute_words(&ix.attributes);
            for (i, c) in ix.passages().enumerate() {
                hits.push(Hit {
                    ds: &ds.spec.id,
                    doc: &d.id,
                    n: i,
                    generation: ix.generation,
                    text: c,
                    extra: extra.clone(),
                    attributes: &ix.attributes,
                });
            }
        }
    }
    let passages: Vec<Passage> = hits
        .iter()
        .map(|h| Passage {
            text: h.text,
            extra: &h.extra,
        })
        .collect();
    let s = scores(query.as_deref().unwrap_or(""), &passages);
    let mut ranked: Vec<(f64, &Hit)> = s.into_iter().zip(&hits).filter(|(s, _)| *s > 0.0).collect();
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.doc.cmp(b.1.doc))
            .then(a.1.n.cmp(&b.1.n))
    });
    let results: Vec<Value> = ranked
        .into_iter()
        .take(n)
        .map(|(score, h)| {
            let mut metadata = Map::new();
            for a in h.attributes {
                // RetrievalResultMetadataKey is at most 100 characters.
                if a.key.chars().count() <= 100 {
                    metadata.insert(a.key.clone(), a.value.to_document());
                }
            }
            metadata.insert("x-amz-bedrock-kb-data-source-id".into(), json!(h.ds));
            metadata.insert(
                "x-amz-bedrock-kb-chunk-id".into(),
                json!(chunk_id(h.ds, h.doc, h.generation, h.n)),
            );
            let mut r = json!({
                "content": {"type": "TEXT", "text": h.text},
                "location": {"type": "CUSTOM", "customDocumentLocation": {"id": h.doc}},
                "metadata": metadata,
                "score": score,
            });
            // DocumentId is at most 1825 characters without control characters.
            if h.doc.chars().count() <= 1825 && aws_sim::validate::no_control(h.doc) {
                r["documentId"] = json!(h.doc);
            }
            r
        })
        .collect();
    Ok(json!({"retrievalResults": results}))
}
