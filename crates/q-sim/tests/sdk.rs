//! The unchanged aws-sdk-qbusiness drives every served operation.

mod common;

use aws_sdk_qbusiness::primitives::{Blob, DateTime};
use aws_sdk_qbusiness::types::{
    AccessConfiguration, AccessControl, AttributeType, ContentType, DeleteDocument, Document,
    DocumentAttribute, DocumentAttributeConfiguration, DocumentAttributeValue, DocumentContent,
    DocumentStatus, GroupMembers, MemberUser, MembershipType, Principal, PrincipalUser,
    ReadAccessType, Status,
};
use common::*;

fn sdk_doc(id: &str, ct: ContentType, bytes: &[u8], attrs: Vec<DocumentAttribute>) -> Document {
    Document::builder()
        .id(id)
        .title(format!("title {id}"))
        .content_type(ct)
        .content(DocumentContent::Blob(Blob::new(bytes)))
        .set_attributes(if attrs.is_empty() { None } else { Some(attrs) })
        .build()
        .unwrap()
}

fn attr(name: &str, v: DocumentAttributeValue) -> DocumentAttribute {
    DocumentAttribute::builder()
        .name(name)
        .value(v)
        .build()
        .unwrap()
}

#[tokio::test]
async fn full_flow_through_the_sdk() {
    let sim = start(cfg()).await;
    let c = sdk(&sim);

    // Resources: create and read back.
    let app = c
        .create_application()
        .display_name("bcq-test")
        .send()
        .await
        .unwrap();
    let app_id = app.application_id().unwrap().to_string();
    assert_eq!(app_id.len(), 36);
    let got = c
        .get_application()
        .application_id(&app_id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.display_name(), Some("bcq-test"));
    assert_eq!(got.status().unwrap().as_str(), "ACTIVE");
    let idx = c
        .create_index()
        .application_id(&app_id)
        .display_name("idx")
        .send()
        .await
        .unwrap();
    let index_id = idx.index_id().unwrap().to_string();
    c.update_index()
        .application_id(&app_id)
        .index_id(&index_id)
        .document_attribute_configurations(
            DocumentAttributeConfiguration::builder()
                .name("bc_entity")
                .r#type(AttributeType::String)
                .search(Status::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let gi = c
        .get_index()
        .application_id(&app_id)
        .index_id(&index_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gi.document_attribute_configurations()[0].name(),
        Some("bc_entity")
    );
    // The configuration document of the pre-created CUSTOM source, read back
    // through GetDataSource, is reused to create a new one.
    let pre = sim.config().clone();
    let custom_config = c
        .get_data_source()
        .application_id(&pre.application_id)
        .index_id(&pre.index_id)
        .data_source_id(&pre.data_source_id)
        .send()
        .await
        .unwrap()
        .configuration()
        .cloned()
        .expect("configuration document");
    let ds = c
        .create_data_source()
        .application_id(&app_id)
        .index_id(&index_id)
        .display_name("bc")
        .configuration(custom_config)
        .send()
        .await
        .unwrap();
    let ds_id = ds.data_source_id().unwrap().to_string();
    let gd = c
        .get_data_source()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_id(&ds_id)
        .send()
        .await
        .unwrap();
    assert_eq!(gd.r#type(), Some("CUSTOM"));

    // A sync job with documents.
    let exec = c
        .start_data_source_sync_job()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_id(&ds_id)
        .send()
        .await
        .unwrap();
    let exec_id = exec.execution_id().unwrap().to_string();
    let conflict = c
        .start_data_source_sync_job()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_id(&ds_id)
        .send()
        .await
        .unwrap_err();
    assert!(conflict.as_service_error().unwrap().is_conflict_exception());

    let pdf = q_sim::pdf::make_pdf(&["Sales Invoice 103001", "Amount 1,250.00"], true);
    let acl = AccessConfiguration::builder()
        .access_controls(
            AccessControl::builder()
                .principals(Principal::User(
                    PrincipalUser::builder()
                        .id("alice@example.com")
                        .access(ReadAccessType::Allow)
                        .build()
                        .unwrap(),
                ))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut d1 = sdk_doc(
        "103001.pdf",
        ContentType::Pdf,
        &pdf,
        vec![
            attr(
                "_source_uri",
                DocumentAttributeValue::StringValue(
                    "https://businesscentral.dynamics.com/x".into(),
                ),
            ),
            attr(
                "_last_updated_at",
                DocumentAttributeValue::DateValue(DateTime::from_secs(1_700_000_000)),
            ),
            attr(
                "bc_entity",
                DocumentAttributeValue::StringValue("salesInvoice".into()),
            ),
        ],
    );
    d1.access_configuration = Some(acl);
    let d2 = sdk_doc(
        "customers/10000",
        ContentType::Html,
        b"<h1>Adatum &amp; Co</h1>",
        vec![],
    );
    sim.control().set_indexing_paused(true);
    let put = c
        .batch_put_document()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_sync_id(&exec_id)
        .documents(d1)
        .documents(d2)
        .send()
        .await
        .unwrap();
    assert!(
        put.failed_documents().is_empty(),
        "{:?}",
        put.failed_documents()
    );

    let list = c
        .list_documents()
        .application_id(&app_id)
        .index_id(&index_id)
        .send()
        .await
        .unwrap();
    assert_eq!(list.document_detail_list().len(), 2);
    assert!(
        list.document_detail_list()
            .iter()
            .all(|d| d.status() == Some(&DocumentStatus::Received))
    );
    sim.control().set_indexing_paused(false);
    settle(&sim).await;
    let list = c
        .list_documents()
        .application_id(&app_id)
        .index_id(&index_id)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(list.document_detail_list().len(), 1);
    assert!(list.next_token().is_some());
    let docs: Vec<_> = c
        .list_documents()
        .application_id(&app_id)
        .index_id(&index_id)
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    assert!(
        docs.iter()
            .all(|d| d.status() == Some(&DocumentStatus::Indexed)),
        "{docs:?}"
    );
    let dump = sim.control().documents(&app_id, &index_id);
    assert_eq!(
        dump[0].text.as_deref(),
        Some("Sales Invoice 103001\nAmount 1,250.00")
    );
    assert_eq!(
        dump[0].attributes["_last_updated_at"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(dump[1].text.as_deref(), Some("Adatum & Co"));

    // Access checks and groups.
    c.put_group()
        .application_id(&app_id)
        .index_id(&index_id)
        .group_name("finance")
        .r#type(MembershipType::Index)
        .group_members(
            GroupMembers::builder()
                .member_users(
                    MemberUser::builder()
                        .user_id("bob@example.com")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let g = c
        .get_group()
        .application_id(&app_id)
        .index_id(&index_id)
        .group_name("finance")
        .send()
        .await
        .unwrap();
    assert_eq!(g.status().unwrap().status().unwrap().as_str(), "SUCCEEDED");
    let allow = c
        .check_document_access()
        .application_id(&app_id)
        .index_id(&index_id)
        .user_id("alice@example.com")
        .document_id("103001.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(allow.has_access(), Some(true));
    let deny = c
        .check_document_access()
        .application_id(&app_id)
        .index_id(&index_id)
        .user_id("bob@example.com")
        .document_id("103001.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(deny.has_access(), Some(false));
    assert_eq!(deny.user_groups()[0].name(), Some("finance"));
    let public = c
        .check_document_access()
        .application_id(&app_id)
        .index_id(&index_id)
        .user_id("bob@example.com")
        .document_id("customers/10000")
        .send()
        .await
        .unwrap();
    assert_eq!(public.has_access(), Some(true));

    // Delete, stop, metrics.
    let del = c
        .batch_delete_document()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_sync_id(&exec_id)
        .documents(
            DeleteDocument::builder()
                .document_id("customers/10000")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(del.failed_documents().is_empty());
    c.stop_data_source_sync_job()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_id(&ds_id)
        .send()
        .await
        .unwrap();
    let after = c
        .batch_put_document()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_sync_id(&exec_id)
        .documents(sdk_doc("late", ContentType::PlainText, b"late", vec![]))
        .send()
        .await
        .unwrap();
    let f = &after.failed_documents()[0];
    assert_eq!(f.id(), Some("late"));
    assert_eq!(
        f.error().unwrap().error_code().unwrap().as_str(),
        "InvalidRequest"
    );
    settle(&sim).await;
    let jobs = c
        .list_data_source_sync_jobs()
        .application_id(&app_id)
        .index_id(&index_id)
        .data_source_id(&ds_id)
        .start_time(DateTime::from_secs(1_600_000_000))
        .end_time(DateTime::from_secs(4_000_000_000))
        .status_filter(aws_sdk_qbusiness::types::DataSourceSyncJobStatus::Succeeded)
        .max_results(10)
        .send()
        .await
        .unwrap();
    let j = &jobs.history()[0];
    assert_eq!(j.execution_id(), Some(exec_id.as_str()));
    assert_eq!(j.status().unwrap().as_str(), "SUCCEEDED");
    let m = j.metrics().unwrap();
    assert_eq!(
        (
            m.documents_added(),
            m.documents_deleted(),
            m.documents_scanned()
        ),
        (Some("1"), Some("1"), Some("2"))
    );
    // customers/10000 was added then deleted in the same job: counted once, as deleted.
    let list = c
        .list_documents()
        .application_id(&app_id)
        .index_id(&index_id)
        .send()
        .await
        .unwrap();
    assert_eq!(list.document_detail_list().len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn modeled_errors_map_to_sdk_variants() {
    let sim = start(cfg()).await;
    let c = sdk(&sim);
    let cfgc = sim.config().clone();
    // 404 with resourceId/resourceType.
    let e = c
        .get_index()
        .application_id(&cfgc.application_id)
        .index_id("b0b1c2d3-0000-4000-8000-00000000ffff")
        .send()
        .await
        .unwrap_err();
    let se = e.into_service_error();
    assert!(se.is_resource_not_found_exception());
    if let aws_sdk_qbusiness::operation::get_index::GetIndexError::ResourceNotFoundException(r) = se
    {
        assert_eq!(r.resource_type(), "Index");
    }
    // 400 with reason and fields.
    let e = c
        .batch_put_document()
        .application_id(&cfgc.application_id)
        .index_id(&cfgc.index_id)
        .documents(Document::builder().id("").build().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        aws_sdk_qbusiness::operation::batch_put_document::BatchPutDocumentError::ValidationException(v) => {
            assert_eq!(v.reason().as_str(), "FIELD_VALIDATION_FAILED");
            assert_eq!(v.fields()[0].name(), "documents.1.member.id");
        }
        other => panic!("expected validation, got {other:?}"),
    }
    // Injected 402, 500 and 429.
    for (status, check) in [(402u16, "quota"), (500, "internal"), (429, "throttling")] {
        sim.control()
            .add_fault(q_sim::FaultSpec {
                operation: Some("BatchPutDocument".into()),
                kind: "status".into(),
                status: Some(status),
                error: None,
                count: Some(1),
                latency_ms: None,
                fail_documents: None,
                document_id_contains: None,
                every: None,
                probability: None,
            })
            .unwrap();
        let e = c
            .batch_put_document()
            .application_id(&cfgc.application_id)
            .index_id(&cfgc.index_id)
            .documents(sdk_doc("x", ContentType::PlainText, b"x", vec![]))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().unwrap().status().as_u16(), status);
        let se = e.into_service_error();
        let ok = match check {
            "quota" => se.is_service_quota_exceeded_exception(),
            "internal" => se.is_internal_server_exception(),
            _ => se.is_throttling_exception(),
        };
        assert!(ok, "{status}: {se:?}");
    }
    sim.stop().await;
}
