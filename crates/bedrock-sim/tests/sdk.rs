//! The unchanged aws-sdk-bedrockagent and aws-sdk-bedrockagentruntime,
//! configured with only an endpoint override and static credentials, drive
//! every served operation.

mod common;

use std::collections::HashMap;

use aws_sdk_bedrockagent::error::ProvideErrorMetadata;
use aws_sdk_bedrockagent::primitives::Blob;
use aws_sdk_bedrockagent::types::{
    AccessControlAccess, AccessControlPrincipalType, ByteContentDoc, ContentDataSourceType,
    CustomContent, CustomDocumentIdentifier, CustomS3Location, CustomSourceType,
    DocumentAccessControlEntry, DocumentContent, DocumentIdentifier, DocumentMetadata,
    DocumentStatus, InlineContent, InlineContentType, KnowledgeBaseDocument, KnowledgeBaseType,
    MetadataAttribute, MetadataAttributeValue, MetadataSourceType, MetadataValueType,
    TextContentDoc,
};
use aws_sdk_bedrockagentruntime::types::{
    FilterAttribute, KnowledgeBaseQuery, KnowledgeBaseRetrievalConfiguration,
    KnowledgeBaseVectorSearchConfiguration, RetrievalFilter, UserContext,
};
use aws_smithy_types::{Document, Number};
use bedrock_sim::{BedrockSim, FaultSpec};
use common::*;

fn text(t: &str) -> InlineContent {
    InlineContent::builder()
        .r#type(InlineContentType::Text)
        .text_content(TextContentDoc::builder().data(t).build().unwrap())
        .build()
        .unwrap()
}

fn bytes(mime: &str, data: Vec<u8>) -> InlineContent {
    InlineContent::builder()
        .r#type(InlineContentType::Byte)
        .byte_content(
            ByteContentDoc::builder()
                .mime_type(mime)
                .data(Blob::new(data))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn custom(
    id: &str,
    source: CustomSourceType,
) -> aws_sdk_bedrockagent::types::builders::CustomContentBuilder {
    CustomContent::builder()
        .custom_document_identifier(CustomDocumentIdentifier::builder().id(id).build().unwrap())
        .source_type(source)
}

fn doc(
    id: &str,
    inline: InlineContent,
    metadata: Option<DocumentMetadata>,
) -> KnowledgeBaseDocument {
    content_doc(
        custom(id, CustomSourceType::InLine)
            .inline_content(inline)
            .build()
            .unwrap(),
        metadata,
    )
}

fn content_doc(c: CustomContent, metadata: Option<DocumentMetadata>) -> KnowledgeBaseDocument {
    KnowledgeBaseDocument::builder()
        .content(
            DocumentContent::builder()
                .data_source_type(ContentDataSourceType::Custom)
                .custom(c)
                .build()
                .unwrap(),
        )
        .set_metadata(metadata)
        .build()
}

fn value(
    ty: MetadataValueType,
) -> aws_sdk_bedrockagent::types::builders::MetadataAttributeValueBuilder {
    MetadataAttributeValue::builder().r#type(ty)
}

fn attr(
    key: &str,
    v: aws_sdk_bedrockagent::types::builders::MetadataAttributeValueBuilder,
) -> MetadataAttribute {
    MetadataAttribute::builder()
        .key(key)
        .value(v.build().unwrap())
        .build()
        .unwrap()
}

fn entry(name: &str, access: AccessControlAccess) -> DocumentAccessControlEntry {
    DocumentAccessControlEntry::builder()
        .name(name)
        .r#type(AccessControlPrincipalType::User)
        .access(access)
        .build()
        .unwrap()
}

fn metadata(
    attrs: Vec<MetadataAttribute>,
    acl: Vec<DocumentAccessControlEntry>,
) -> DocumentMetadata {
    DocumentMetadata::builder()
        .r#type(MetadataSourceType::InLineAttribute)
        .set_inline_attributes((!attrs.is_empty()).then_some(attrs))
        .set_access_control_list((!acl.is_empty()).then_some(acl))
        .build()
        .unwrap()
}

fn ident(id: &str) -> DocumentIdentifier {
    DocumentIdentifier::builder()
        .data_source_type(ContentDataSourceType::Custom)
        .custom(CustomDocumentIdentifier::builder().id(id).build().unwrap())
        .build()
        .unwrap()
}

async fn ingest_docs(
    sim: &BedrockSim,
    docs: Vec<KnowledgeBaseDocument>,
) -> Result<
    aws_sdk_bedrockagent::operation::ingest_knowledge_base_documents::IngestKnowledgeBaseDocumentsOutput,
    aws_sdk_bedrockagent::error::SdkError<
        aws_sdk_bedrockagent::operation::ingest_knowledge_base_documents::IngestKnowledgeBaseDocumentsError,
    >,
>{
    let c = sim.config();
    agent(sim)
        .ingest_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .set_documents(Some(docs))
        .send()
        .await
}

/// Statuses of documents, through GetKnowledgeBaseDocuments.
async fn statuses(sim: &BedrockSim, ids: &[&str]) -> Vec<(DocumentStatus, Option<String>)> {
    let c = sim.config();
    let out = agent(sim)
        .get_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .set_document_identifiers(Some(ids.iter().map(|i| ident(i)).collect()))
        .send()
        .await
        .unwrap();
    out.document_details()
        .iter()
        .map(|d| (d.status().clone(), d.status_reason().map(str::to_string)))
        .collect()
}

/// Retrieves as `user` (or without a user context): (document id, passage) of each hit.
async fn retrieve(sim: &BedrockSim, query: &str, user: Option<&str>) -> Vec<(String, String)> {
    let out = runtime(sim)
        .retrieve()
        .knowledge_base_id(&sim.config().knowledge_base_id)
        .retrieval_query(KnowledgeBaseQuery::builder().text(query).build())
        .set_user_context(user.map(|u| UserContext::builder().user_id(u).build().unwrap()))
        .send()
        .await
        .unwrap();
    out.retrieval_results()
        .iter()
        .map(|r| {
            (
                r.location()
                    .and_then(|l| l.custom_document_location())
                    .and_then(|l| l.id())
                    .unwrap_or_default()
                    .to_string(),
                r.content()
                    .map(|c| c.text())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn ids(hits: &[(String, String)]) -> Vec<&str> {
    let mut v: Vec<&str> = hits.iter().map(|(id, _)| id.as_str()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn knowledge_base_and_data_sources_read_back() {
    let sim = start(cfg()).await;
    let c = agent(&sim);
    let kb_id = sim.config().knowledge_base_id.clone();
    let kb = c
        .get_knowledge_base()
        .knowledge_base_id(&kb_id)
        .send()
        .await
        .unwrap();
    let kb = kb.knowledge_base().unwrap();
    assert_eq!(
        kb.knowledge_base_configuration().unwrap().r#type(),
        &KnowledgeBaseType::Managed
    );
    assert_eq!(kb.status().as_str(), "ACTIVE");
    assert!(
        kb.knowledge_base_arn()
            .ends_with(&format!(":knowledge-base/{kb_id}"))
    );
    let list = c.list_knowledge_bases().send().await.unwrap();
    assert_eq!(list.knowledge_base_summaries().len(), 1);
    let ds = c
        .get_data_source()
        .knowledge_base_id(&kb_id)
        .data_source_id(&sim.config().data_source_id)
        .send()
        .await
        .unwrap();
    let conf = ds
        .data_source()
        .unwrap()
        .data_source_configuration()
        .unwrap();
    assert_eq!(conf.r#type().as_str(), "MANAGED_KNOWLEDGE_BASE_CONNECTOR");
    let params = conf
        .managed_knowledge_base_connector_configuration()
        .unwrap()
        .connector_parameters()
        .unwrap();
    let Document::Object(p) = params else {
        panic!("{params:?}")
    };
    assert_eq!(p["type"], Document::String("CUSTOM".into()));
    assert_eq!(p["version"], Document::String("1".into()));
    assert_eq!(p["aclEnabled"], Document::Bool(true));
    let dss = c
        .list_data_sources()
        .knowledge_base_id(&kb_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        dss.data_source_summaries()[0].data_source_id(),
        sim.config().data_source_id
    );
    let e = c
        .get_knowledge_base()
        .knowledge_base_id("NOSUCHKB01")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{e:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn text_and_pdf_documents_are_indexed_and_retrieved_per_acl() {
    let sim = start(cfg()).await;
    sim.control().set_indexing_paused(true);
    let invoice = doc(
        "SI-103001",
        text("Sales invoice 103001 for Adatum Corporation, amount 1,250.00, due 2026-12-31"),
        Some(metadata(
            vec![
                attr(
                    "title",
                    value(MetadataValueType::String).string_value("Sales invoice 103001"),
                ),
                attr(
                    "amount",
                    value(MetadataValueType::Number).number_value(1250.0),
                ),
                attr(
                    "paid",
                    value(MetadataValueType::Boolean).boolean_value(false),
                ),
                attr(
                    "companies",
                    value(MetadataValueType::StringList)
                        .string_list_value("CRONUS")
                        .string_list_value("Adatum"),
                ),
            ],
            vec![
                entry("Alice@Example.com", AccessControlAccess::Allow),
                entry("bob@example.com", AccessControlAccess::Allow),
                entry("BOB@example.com", AccessControlAccess::Deny),
            ],
        )),
    );
    let pdf = aws_sim::pdf::make_pdf(
        &[
            "Purchase invoice 7001 from Fabrikam",
            "Adatum freight charges",
        ],
        true,
    );
    let pdf_doc = doc(
        "PI-7001.pdf",
        bytes("application/pdf", pdf),
        Some(metadata(
            vec![attr(
                "title",
                value(MetadataValueType::String).string_value("Purchase invoice 7001"),
            )],
            vec![
                entry("alice@example.com", AccessControlAccess::Allow),
                entry("bob@example.com", AccessControlAccess::Allow),
            ],
        )),
    );
    let out = ingest_docs(&sim, vec![invoice, pdf_doc]).await.unwrap();
    assert_eq!(out.document_details().len(), 2);
    assert!(
        out.document_details()
            .iter()
            .all(|d| d.status() == &DocumentStatus::Starting)
    );
    assert_eq!(
        statuses(&sim, &["SI-103001"]).await[0].0,
        DocumentStatus::Starting,
        "held while indexing is paused"
    );
    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    assert!(
        statuses(&sim, &["SI-103001", "PI-7001.pdf"])
            .await
            .iter()
            .all(|(s, _)| s == &DocumentStatus::Indexed)
    );
    let listed = agent(&sim)
        .list_knowledge_base_documents()
        .knowledge_base_id(&sim.config().knowledge_base_id)
        .data_source_id(&sim.config().data_source_id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.document_details().len(), 2);
    let dump = sim.control().document("PI-7001.pdf").unwrap();
    assert!(dump.text_length.unwrap() > 10, "{dump:?}");
    assert_eq!(dump.content_type.as_deref(), Some("application/pdf"));

    // Alice sees both (her name matched case-insensitively), Bob is denied the
    // invoice, an unknown user and a query without user context see nothing.
    let alice = retrieve(&sim, "Adatum invoice", Some("alice@EXAMPLE.com")).await;
    assert_eq!(ids(&alice), ["PI-7001.pdf", "SI-103001"]);
    assert!(alice.iter().any(|(_, t)| t.contains("103001")));
    assert!(
        alice.iter().any(|(_, t)| t.contains("Fabrikam")),
        "PDF text extracted: {alice:?}"
    );
    assert_eq!(
        ids(&retrieve(&sim, "Adatum invoice", Some("bob@example.com")).await),
        ["PI-7001.pdf"]
    );
    assert!(
        retrieve(&sim, "Adatum invoice", Some("carol@example.com"))
            .await
            .is_empty()
    );
    assert!(retrieve(&sim, "Adatum invoice", None).await.is_empty());
    assert!(
        retrieve(&sim, "nothing matches this", Some("alice@example.com"))
            .await
            .is_empty()
    );

    // Results carry typed metadata, a location, a score; numberOfResults and
    // filters apply.
    let out = runtime(&sim)
        .retrieve()
        .knowledge_base_id(&sim.config().knowledge_base_id)
        .retrieval_query(KnowledgeBaseQuery::builder().text("Adatum invoice").build())
        .user_context(
            UserContext::builder()
                .user_id("alice@example.com")
                .build()
                .unwrap(),
        )
        .retrieval_configuration(
            KnowledgeBaseRetrievalConfiguration::builder()
                .vector_search_configuration(
                    KnowledgeBaseVectorSearchConfiguration::builder()
                        .number_of_results(1)
                        .filter(RetrievalFilter::GreaterThan(
                            FilterAttribute::builder()
                                .key("amount")
                                .value(Document::Number(Number::PosInt(1000)))
                                .build()
                                .unwrap(),
                        ))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let [r] = out.retrieval_results() else {
        panic!("{out:?}")
    };
    assert_eq!(r.location().unwrap().r#type().as_str(), "CUSTOM");
    assert!(r.score().unwrap() > 0.0 && r.score().unwrap() < 1.0);
    let m: &HashMap<String, Document> = r.metadata().unwrap();
    assert_eq!(m["title"], Document::String("Sales invoice 103001".into()));
    assert_eq!(m["amount"], Document::Number(Number::Float(1250.0)));
    assert_eq!(m["paid"], Document::Bool(false));
    assert_eq!(
        m["companies"],
        Document::Array(vec![
            Document::String("CRONUS".into()),
            Document::String("Adatum".into())
        ])
    );
    assert_eq!(r.document_id(), Some("SI-103001"));
    sim.stop().await;
}

#[tokio::test]
async fn deleted_documents_disappear_and_reingested_ones_replace_the_old() {
    let sim = start(cfg()).await;
    let user = "alice@example.com";
    let d = |t: &str| {
        doc(
            "doc-1",
            text(t),
            Some(metadata(
                vec![],
                vec![entry(user, AccessControlAccess::Allow)],
            )),
        )
    };
    ingest_docs(&sim, vec![d("first version about widgets")])
        .await
        .unwrap();
    settle(&sim).await;
    assert_eq!(ids(&retrieve(&sim, "widgets", Some(user)).await), ["doc-1"]);
    // Re-ingest: a new version.
    ingest_docs(&sim, vec![d("second version about gadgets")])
        .await
        .unwrap();
    settle(&sim).await;
    assert!(retrieve(&sim, "widgets", Some(user)).await.is_empty());
    assert_eq!(ids(&retrieve(&sim, "gadgets", Some(user)).await), ["doc-1"]);
    // Delete: DELETING, then gone.
    sim.control().set_indexing_paused(true);
    let c = sim.config();
    let out = agent(&sim)
        .delete_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .document_identifiers(ident("doc-1"))
        .document_identifiers(ident("never-ingested"))
        .send()
        .await
        .unwrap();
    let st: Vec<&DocumentStatus> = out.document_details().iter().map(|d| d.status()).collect();
    assert_eq!(st, [&DocumentStatus::Deleting, &DocumentStatus::NotFound]);
    assert!(
        retrieve(&sim, "gadgets", Some(user)).await.is_empty(),
        "unsearchable once deletion is accepted"
    );
    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    assert_eq!(
        statuses(&sim, &["doc-1"]).await[0].0,
        DocumentStatus::NotFound
    );
    let listed = agent(&sim)
        .list_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .send()
        .await
        .unwrap();
    assert!(listed.document_details().is_empty());
    // Ingested again after deletion.
    ingest_docs(&sim, vec![d("third version about sprockets")])
        .await
        .unwrap();
    settle(&sim).await;
    assert_eq!(
        ids(&retrieve(&sim, "sprockets", Some(user)).await),
        ["doc-1"]
    );
    sim.stop().await;
}

#[tokio::test]
async fn list_pages_through_the_sdk_paginator() {
    let sim = start(cfg()).await;
    for batch in 0..3 {
        let docs = (0..9)
            .map(|i| doc(&format!("d{batch}{i}"), text("x"), None))
            .collect();
        ingest_docs(&sim, docs).await.unwrap();
    }
    settle(&sim).await;
    let c = sim.config();
    let pages: Vec<_> = agent(&sim)
        .list_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .max_results(10)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(pages.len(), 3);
    let all: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().document_details().to_vec())
        .map(|d| d.identifier().unwrap().custom().unwrap().id().to_string())
        .collect();
    assert_eq!(all.len(), 27);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    sim.stop().await;
}

/// Each request breaks one limit; the SDK sends it unchecked and reports the
/// emulator's ValidationException naming the member.
#[tokio::test]
async fn every_limit_is_refused_with_validation_exception() {
    let sim = start(cfg()).await;
    let ok = || doc("ok", text("x"), None);
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(&str, Vec<KnowledgeBaseDocument>)> = vec![
        (
            "documents",
            (0..11)
                .map(|i| doc(&format!("d{i}"), text("x"), None))
                .collect(),
        ),
        (
            "customDocumentIdentifier.id",
            vec![doc(&long(2049), text("x"), None)],
        ),
        (
            "textContent.data",
            vec![doc("big", text(&long(5 * 1024 * 1024 + 1)), None)],
        ),
        (
            "byteContent.data",
            vec![doc(
                "big",
                bytes("text/plain", vec![b'a'; 5 * 1024 * 1024 + 1]),
                None,
            )],
        ),
        (
            "byteContent.mimeType",
            vec![doc("m", bytes("PDF", b"x".to_vec()), None)],
        ),
        (
            "metadata.inlineAttributes",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    (0..51)
                        .map(|i| {
                            attr(
                                &format!("k{i}"),
                                value(MetadataValueType::String).string_value("v"),
                            )
                        })
                        .collect(),
                    vec![],
                )),
            )],
        ),
        (
            "member.key",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    vec![attr(
                        &long(201),
                        value(MetadataValueType::Boolean).boolean_value(true),
                    )],
                    vec![],
                )),
            )],
        ),
        (
            "value.stringValue",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    vec![attr(
                        "k",
                        value(MetadataValueType::String).string_value(long(2049)),
                    )],
                    vec![],
                )),
            )],
        ),
        (
            "value.stringListValue",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    vec![attr(
                        "k",
                        value(MetadataValueType::StringList)
                            .set_string_list_value(Some(vec!["v".into(); 11])),
                    )],
                    vec![],
                )),
            )],
        ),
        (
            "accessControlList.1.member.name",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    vec![],
                    vec![entry(&long(257), AccessControlAccess::Allow)],
                )),
            )],
        ),
        (
            "accessControlList.1.member.type",
            vec![doc(
                "a",
                text("x"),
                Some(metadata(
                    vec![],
                    vec![
                        DocumentAccessControlEntry::builder()
                            .name("group-1")
                            .r#type(AccessControlPrincipalType::from("GROUP"))
                            .access(AccessControlAccess::Allow)
                            .build()
                            .unwrap(),
                    ],
                )),
            )],
        ),
        (
            "s3Location.uri",
            vec![content_doc(
                custom("s3", CustomSourceType::S3Location)
                    .s3_location(
                        CustomS3Location::builder()
                            .uri("https://bucket/key")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
                None,
            )],
        ),
        ("documents", vec![]),
    ];
    for (field, docs) in cases {
        let e = ingest_docs(&sim, docs).await.unwrap_err();
        let se = e
            .as_service_error()
            .unwrap_or_else(|| panic!("{field}: {e:?}"));
        assert!(se.is_validation_exception(), "{field}: {se:?}");
        let msg = se.message().unwrap_or_default();
        assert!(msg.contains(field), "{field} not named in: {msg}");
    }
    let c = sim.config();
    // A clientToken shorter than the model's 33 characters.
    let e = agent(&sim)
        .ingest_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .client_token("short-token")
        .documents(ok())
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("clientToken")
    );
    // maxResults over 1000.
    let e = agent(&sim)
        .list_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    let se = e.as_service_error().unwrap();
    assert!(se.is_validation_exception() && se.message().unwrap().contains("maxResults"));
    // More than 10 identifiers.
    let e = agent(&sim)
        .get_knowledge_base_documents()
        .knowledge_base_id(&c.knowledge_base_id)
        .data_source_id(&c.data_source_id)
        .set_document_identifiers(Some((0..11).map(|i| ident(&format!("d{i}"))).collect()))
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_validation_exception());
    // An id that breaks the model's pattern.
    let e = agent(&sim)
        .get_knowledge_base()
        .knowledge_base_id("not-an-id")
        .send()
        .await
        .unwrap_err();
    let se = e.as_service_error().unwrap();
    assert!(
        se.is_validation_exception() && se.message().unwrap().contains("[0-9a-zA-Z]{10}"),
        "{se:?}"
    );
    // Retrieve: numberOfResults over 100.
    let e = runtime(&sim)
        .retrieve()
        .knowledge_base_id(&c.knowledge_base_id)
        .retrieval_query(KnowledgeBaseQuery::builder().text("x").build())
        .retrieval_configuration(
            KnowledgeBaseRetrievalConfiguration::builder()
                .vector_search_configuration(
                    KnowledgeBaseVectorSearchConfiguration::builder()
                        .number_of_results(101)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let se = e.as_service_error().unwrap();
    assert!(se.is_validation_exception(), "{se:?}");
    assert!(se.message().unwrap().contains("numberOfResults"));
    // Nothing was ingested by any refused call.
    assert!(sim.control().documents(None).is_empty());
    sim.stop().await;
}

#[tokio::test]
async fn throttling_and_injected_errors_are_the_sdk_variants() {
    let sim = start(cfg()).await;
    sim.control()
        .set_rates([("IngestKnowledgeBaseDocuments".to_string(), 0.0)].into());
    let e = ingest_docs(&sim, vec![doc("a", text("x"), None)])
        .await
        .unwrap_err();
    assert!(
        e.as_service_error().unwrap().is_throttling_exception(),
        "{e:?}"
    );
    assert_eq!(sim.control().counts().throttled, 1);
    sim.control()
        .set_rates([("IngestKnowledgeBaseDocuments".to_string(), 10_000.0)].into());
    for (status, check) in [
        (402u16, "quota"),
        (500, "internal"),
        (404, "not found"),
        (403, "denied"),
    ] {
        sim.control()
            .add_fault(FaultSpec {
                status: Some(status),
                ..FaultSpec::new("status", Some("IngestKnowledgeBaseDocuments"))
            })
            .unwrap();
        let e = ingest_docs(&sim, vec![doc("a", text("x"), None)])
            .await
            .unwrap_err();
        let se = e.as_service_error().unwrap();
        let ok = match check {
            "quota" => se.is_service_quota_exceeded_exception(),
            "internal" => se.is_internal_server_exception(),
            "not found" => se.is_resource_not_found_exception(),
            _ => se.is_access_denied_exception(),
        };
        assert!(ok, "{status}: {se:?}");
    }
    // The runtime's errors: a throttle burst, and its 400 quota error by name.
    let r = || {
        runtime(&sim)
            .retrieve()
            .knowledge_base_id(&sim.config().knowledge_base_id)
            .retrieval_query(KnowledgeBaseQuery::builder().text("x").build())
            .send()
    };
    sim.control()
        .add_fault(FaultSpec::new("throttle_burst", Some("Retrieve")))
        .unwrap();
    let e = r().await.unwrap_err();
    assert!(
        e.as_service_error().unwrap().is_throttling_exception(),
        "{e:?}"
    );
    sim.control()
        .add_fault(FaultSpec {
            error: Some("ServiceQuotaExceededException".into()),
            ..FaultSpec::new("status", Some("Retrieve"))
        })
        .unwrap();
    let e = r().await.unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_quota_exceeded_exception(),
        "{e:?}"
    );
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    assert!(r().await.is_ok());
    // A status the operation does not model is refused.
    let bad = FaultSpec {
        status: Some(409),
        ..FaultSpec::new("status", Some("IngestKnowledgeBaseDocuments"))
    };
    assert!(sim.control().add_fault(bad).is_err());
    sim.stop().await;
}

#[tokio::test]
async fn failed_and_ignored_ingestions_report_their_reason() {
    let sim = start(cfg()).await;
    let mut f = FaultSpec::new("index_failure", None);
    f.document_id_contains = Some("poison".into());
    sim.control().add_fault(f).unwrap();
    ingest_docs(
        &sim,
        vec![
            doc("poison-1", text("x"), None),
            doc("fine-1", text("x"), None),
            doc(
                "image.png",
                bytes("image/png", vec![0x89, b'P', b'N', b'G']),
                None,
            ),
            doc(
                "broken.pdf",
                bytes("application/pdf", b"%PDF-1.4 not really".to_vec()),
                None,
            ),
        ],
    )
    .await
    .unwrap();
    settle(&sim).await;
    let st = statuses(&sim, &["poison-1", "fine-1", "image.png", "broken.pdf"]).await;
    assert_eq!(st[0].0, DocumentStatus::Failed);
    assert!(
        st[0].1.as_deref().unwrap().contains("failure injected"),
        "{st:?}"
    );
    assert_eq!(st[1], (DocumentStatus::Indexed, None));
    assert_eq!(st[2].0, DocumentStatus::Ignored);
    assert!(st[2].1.as_deref().unwrap().contains("image/png"), "{st:?}");
    assert_eq!(st[3].0, DocumentStatus::Failed);
    assert!(
        st[3]
            .1
            .as_deref()
            .unwrap()
            .contains("Text extraction failed"),
        "{st:?}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn client_tokens_replay_or_refuse() {
    let sim = start(cfg()).await;
    let c = sim.config();
    let send = |id: &str| {
        agent(&sim)
            .ingest_knowledge_base_documents()
            .knowledge_base_id(&c.knowledge_base_id)
            .data_source_id(&c.data_source_id)
            .client_token("bcq-0123456789abcdef0123456789abcdef")
            .documents(doc(id, text("x"), None))
            .send()
    };
    let first = send("a").await.unwrap();
    let again = send("a").await.unwrap();
    assert_eq!(first.document_details(), again.document_details());
    assert_eq!(sim.control().counts().documents_ingested, 1);
    assert_eq!(sim.control().counts().idempotent_replays, 1);
    let e = send("b").await.unwrap_err();
    assert!(e.as_service_error().unwrap().is_validation_exception());
    // Without a token the SDK makes one per call: two calls, two ingestions.
    ingest_docs(&sim, vec![doc("a", text("x"), None)])
        .await
        .unwrap();
    ingest_docs(&sim, vec![doc("a", text("x"), None)])
        .await
        .unwrap();
    assert_eq!(sim.control().counts().documents_ingested, 3);
    sim.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_by_the_front_door() {
    let sim = start(cfg()).await;
    let conf = aws_sdk_bedrockagent::Config::builder()
        .behavior_version(aws_sdk_bedrockagent::config::BehaviorVersion::latest())
        .region(aws_sdk_bedrockagent::config::Region::new("us-east-1"))
        .endpoint_url(sim.endpoint())
        .credentials_provider(aws_sdk_bedrockagent::config::Credentials::new(
            &sim.config().access_key_id,
            "wrong-secret",
            None,
            None,
            "test",
        ))
        .build();
    let e = aws_sdk_bedrockagent::Client::from_conf(conf)
        .list_knowledge_bases()
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    sim.stop().await;
}

#[tokio::test]
async fn s3_location_content_and_metadata_are_read_from_moto() {
    let moto = Moto::start();
    let s3 = s3_client(&moto);
    s3.create_bucket().bucket("bcq-kb").send().await.unwrap();
    let pdf = aws_sim::pdf::make_pdf(&["Sales credit memo 5001 for Trey Research"], true);
    for (key, body) in [
        ("docs/CM-5001.pdf", pdf),
        ("docs/notes.txt", b"Warehouse notes about pallets".to_vec()),
        (
            "docs/notes.txt.metadata.json",
            br#"{"metadataAttributes": {"title": "Warehouse notes", "year": 2026},
                 "accessControlList": [{"name": "alice@example.com", "type": "USER", "access": "ALLOW"}]}"#
                .to_vec(),
        ),
    ] {
        s3.put_object().bucket("bcq-kb").key(key).body(body.into()).send().await.unwrap();
    }
    let sim = start(bedrock_sim::BedrockSimConfig {
        s3_endpoint: Some(moto.url.clone()),
        ..cfg()
    })
    .await;
    let s3doc = |id: &str, uri: &str, meta: Option<DocumentMetadata>| {
        content_doc(
            custom(id, CustomSourceType::S3Location)
                .s3_location(CustomS3Location::builder().uri(uri).build().unwrap())
                .build()
                .unwrap(),
            meta,
        )
    };
    let alice = metadata(
        vec![],
        vec![entry("alice@example.com", AccessControlAccess::Allow)],
    );
    let s3_meta = DocumentMetadata::builder()
        .r#type(MetadataSourceType::S3Location)
        .s3_location(
            CustomS3Location::builder()
                .uri("s3://bcq-kb/docs/notes.txt.metadata.json")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    ingest_docs(
        &sim,
        vec![
            s3doc(
                "CM-5001",
                "s3://bcq-kb/docs/CM-5001.pdf",
                Some(alice.clone()),
            ),
            s3doc("notes", "s3://bcq-kb/docs/notes.txt", Some(s3_meta)),
            s3doc("missing", "s3://bcq-kb/docs/missing.pdf", Some(alice)),
        ],
    )
    .await
    .unwrap();
    settle(&sim).await;
    let st = statuses(&sim, &["CM-5001", "notes", "missing"]).await;
    assert_eq!(st[0].0, DocumentStatus::Indexed, "{st:?}");
    assert_eq!(st[1].0, DocumentStatus::Indexed, "{st:?}");
    assert_eq!(st[2].0, DocumentStatus::Failed);
    assert!(st[2].1.as_deref().unwrap().contains("NoSuchKey"), "{st:?}");
    assert_eq!(
        ids(&retrieve(&sim, "Trey Research credit memo", Some("alice@example.com")).await),
        ["CM-5001"]
    );
    let notes = sim.control().document("notes").unwrap();
    assert_eq!(
        notes.access_control_list.unwrap()[0].name,
        "alice@example.com"
    );
    assert_eq!(
        ids(&retrieve(&sim, "pallets", Some("alice@example.com")).await),
        ["notes"]
    );
    assert!(
        retrieve(&sim, "pallets", Some("bob@example.com"))
            .await
            .is_empty()
    );
    sim.stop().await;
}
