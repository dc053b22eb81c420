//! The route table, the error shapes, the constraint tables and the answers
//! agree with the two AWS model files (the repository's facts-only copies).

mod common;

use bedrock_sim::{BedrockError, Service};
use common::*;
use serde_json::{Value, json};

fn read(name: &str) -> Value {
    let path = format!(
        "{}/../../reference/bedrock/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).expect("model file present"))
        .expect("model parses")
}

fn agent() -> Value {
    read("bedrock-agent-service-2.json")
}

fn runtime() -> Value {
    read("bedrock-agent-runtime-service-2.json")
}

fn model(service: Service) -> Value {
    match service {
        Service::Agent => agent(),
        Service::Runtime => runtime(),
    }
}

#[test]
fn both_services_sign_as_bedrock_over_rest_json() {
    for (m, version, prefix) in [
        (agent(), "2023-06-05", "bedrock-agent"),
        (runtime(), "2023-07-26", "bedrock-agent-runtime"),
    ] {
        assert_eq!(m["metadata"]["signingName"], "bedrock");
        assert_eq!(
            m["metadata"]["signingName"],
            bedrock_sim::server::SIGNING_NAME
        );
        assert_eq!(m["metadata"]["protocol"], "rest-json");
        assert_eq!(m["metadata"]["apiVersion"], version);
        assert_eq!(m["metadata"]["endpointPrefix"], prefix);
    }
    assert_eq!(Service::Agent.endpoint_prefix(), "bedrock-agent");
    assert_eq!(Service::Runtime.endpoint_prefix(), "bedrock-agent-runtime");
}

#[test]
fn routes_match_model_http_errors_and_labels() {
    let served: Vec<&str> = bedrock_sim::routes().iter().map(|r| r.operation).collect();
    assert_eq!(
        served,
        [
            "GetKnowledgeBase",
            "ListKnowledgeBases",
            "GetDataSource",
            "ListDataSources",
            "IngestKnowledgeBaseDocuments",
            "DeleteKnowledgeBaseDocuments",
            "GetKnowledgeBaseDocuments",
            "ListKnowledgeBaseDocuments",
            "Retrieve",
        ]
    );
    for r in bedrock_sim::routes() {
        let m = model(r.service);
        let op = &m["operations"][r.operation];
        assert!(op.is_object(), "{} not in its model", r.operation);
        assert_eq!(op["http"]["method"], r.method, "{}", r.operation);
        assert_eq!(op["http"]["requestUri"], r.uri_template, "{}", r.operation);
        assert_eq!(
            op["http"]["responseCode"].as_u64().unwrap_or(200),
            u64::from(r.success_code),
            "{}",
            r.operation
        );
        // The route answers exactly the operation's modeled errors.
        let mut modeled: Vec<&str> = op["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["shape"].as_str().unwrap())
            .collect();
        let mut ours = r.errors.to_vec();
        modeled.sort();
        ours.sort();
        assert_eq!(ours, modeled, "{}", r.operation);
        // Every label is a `uri` member of the input, and every `uri` member a label.
        let input = m["shapes"][op["input"]["shape"].as_str().unwrap()]["members"]
            .as_object()
            .unwrap()
            .clone();
        let labels: Vec<&str> = r
            .uri_template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let uri_members: Vec<&str> = input
            .values()
            .filter(|mem| mem["location"] == "uri")
            .map(|mem| mem["locationName"].as_str().unwrap())
            .collect();
        assert_eq!(labels.len(), uri_members.len(), "{}", r.operation);
        for l in labels {
            assert!(uri_members.contains(&l), "{}: label {l}", r.operation);
        }
        // No served input member travels in a header or the query string:
        // the handlers read labels and the JSON body only.
        assert!(
            input
                .values()
                .all(|mem| mem.get("location").is_none_or(|l| l == "uri")),
            "{}",
            r.operation
        );
    }
}

#[test]
fn error_shapes_match_each_model() {
    for service in [Service::Agent, Service::Runtime] {
        let m = model(service);
        for r in bedrock_sim::routes()
            .iter()
            .filter(|r| r.service == service)
        {
            for name in r.errors {
                let e = BedrockError::modeled(name, "m").unwrap();
                assert_eq!(e.type_name(), *name);
                let s = &m["shapes"][*name];
                assert_eq!(
                    u64::from(e.status(service)),
                    s["error"]["httpStatusCode"].as_u64().unwrap(),
                    "{name} in {service:?}"
                );
                // The body's members are the shape's (plus `__type`).
                let body = e.body(service);
                for k in body.as_object().unwrap().keys().filter(|k| *k != "__type") {
                    assert!(s["members"].get(k).is_some(), "{name} has no member {k}");
                }
                for req in s["required"].as_array().into_iter().flatten() {
                    assert!(
                        body.get(req.as_str().unwrap()).is_some(),
                        "{name} lacks {req}"
                    );
                }
            }
        }
    }
    // bedrock-agent's validation errors carry a fieldList of name/message.
    let m = agent();
    let field = &m["shapes"]["ValidationExceptionField"];
    assert_eq!(field["required"], serde_json::json!(["name", "message"]));
    let e = BedrockError::field(
        "documents",
        "Member must have length less than or equal to 10",
    );
    assert_eq!(
        m["shapes"]["ValidationException"]["members"]["fieldList"]["shape"],
        "ValidationExceptionFieldList"
    );
    assert_eq!(e.body(Service::Agent)["fieldList"][0]["name"], "documents");
    assert!(
        runtime()["shapes"]["ValidationException"]["members"]
            .get("fieldList")
            .is_none()
    );
    assert!(e.body(Service::Runtime).get("fieldList").is_none());
}

#[test]
fn constraint_tables_match_model_shapes() {
    let (a, r) = (
        &bedrock_sim::validate::AGENT,
        &bedrock_sim::validate::RUNTIME,
    );
    assert_eq!(a.mismatches(&agent()), Vec::<String>::new());
    assert_eq!(r.mismatches(&runtime()), Vec::<String>::new());
    assert!(a.strings.len() >= 12 && a.lists.len() >= 6 && a.enums.len() >= 14);
    assert!(r.strings.len() >= 7 && r.ints.len() == 2);
}

/// The shapes the validators walk: each is where the request says it is.
#[test]
fn validated_members_use_the_shapes_of_the_table() {
    let m = agent();
    let s = &m["shapes"];
    let member = |shape: &str, name: &str| {
        s[shape]["members"][name]["shape"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let cases = [
        (
            "IngestKnowledgeBaseDocumentsRequest",
            "documents",
            "KnowledgeBaseDocuments",
        ),
        (
            "IngestKnowledgeBaseDocumentsRequest",
            "clientToken",
            "ClientToken",
        ),
        (
            "IngestKnowledgeBaseDocumentsRequest",
            "knowledgeBaseId",
            "Id",
        ),
        (
            "DeleteKnowledgeBaseDocumentsRequest",
            "documentIdentifiers",
            "DocumentIdentifiers",
        ),
        (
            "GetKnowledgeBaseDocumentsRequest",
            "documentIdentifiers",
            "DocumentIdentifiers",
        ),
        (
            "ListKnowledgeBaseDocumentsRequest",
            "maxResults",
            "MaxResults",
        ),
        (
            "ListKnowledgeBaseDocumentsRequest",
            "nextToken",
            "NextToken",
        ),
        (
            "CustomDocumentIdentifier",
            "id",
            "CustomDocumentIdentifierIdString",
        ),
        ("CustomContent", "sourceType", "CustomSourceType"),
        ("InlineContent", "type", "InlineContentType"),
        ("TextContentDoc", "data", "Data"),
        ("ByteContentDoc", "data", "ByteContentBlob"),
        ("ByteContentDoc", "mimeType", "ByteContentDocMimeTypeString"),
        ("CustomS3Location", "uri", "S3ObjectUri"),
        (
            "CustomS3Location",
            "bucketOwnerAccountId",
            "BucketOwnerAccountId",
        ),
        (
            "DocumentMetadata",
            "inlineAttributes",
            "DocumentMetadataInlineAttributesList",
        ),
        (
            "DocumentMetadata",
            "accessControlList",
            "DocumentAccessControlList",
        ),
        ("DocumentMetadata", "type", "MetadataSourceType"),
        ("MetadataAttribute", "key", "Key"),
        ("MetadataAttributeValue", "stringValue", "StringValue"),
        (
            "MetadataAttributeValue",
            "stringListValue",
            "MetadataAttributeValueStringListValueList",
        ),
        ("MetadataAttributeValue", "type", "MetadataValueType"),
        (
            "DocumentAccessControlEntry",
            "name",
            "DocumentAccessControlEntryNameString",
        ),
        (
            "DocumentAccessControlEntry",
            "type",
            "AccessControlPrincipalType",
        ),
        (
            "DocumentAccessControlEntry",
            "access",
            "AccessControlAccess",
        ),
        (
            "DocumentIdentifier",
            "dataSourceType",
            "ContentDataSourceType",
        ),
        ("S3Location", "uri", "S3BucketUri"),
        ("KnowledgeBaseDocumentDetail", "status", "DocumentStatus"),
    ];
    for (shape, name, want) in cases {
        assert_eq!(member(shape, name), want, "{shape}.{name}");
    }
    // Required members the handlers insist on.
    let required = |shape: &str| s[shape]["required"].clone();
    assert_eq!(
        required("KnowledgeBaseDocument"),
        serde_json::json!(["content"])
    );
    assert_eq!(
        required("CustomContent"),
        serde_json::json!(["customDocumentIdentifier", "sourceType"])
    );
    assert_eq!(
        required("ByteContentDoc"),
        serde_json::json!(["mimeType", "data"])
    );
    assert_eq!(
        required("MetadataAttributeValue"),
        serde_json::json!(["type"])
    );
    assert_eq!(
        required("DocumentAccessControlEntry"),
        serde_json::json!(["name", "type", "access"])
    );
    let r = runtime();
    let rs = &r["shapes"];
    assert_eq!(rs["UserContext"]["required"], serde_json::json!(["userId"]));
    assert_eq!(rs["UserContext"]["members"]["userId"]["shape"], "String");
    assert_eq!(
        rs["RetrieveRequest"]["required"],
        serde_json::json!(["knowledgeBaseId", "retrievalQuery"])
    );
    assert_eq!(
        rs["KnowledgeBaseVectorSearchConfiguration"]["members"]["numberOfResults"]["shape"],
        "KnowledgeBaseVectorSearchConfigurationNumberOfResultsInteger"
    );
    assert_eq!(
        rs["RetrievalResultLocation"]["members"]["customDocumentLocation"]["shape"],
        "RetrievalResultCustomDocumentLocation"
    );
    assert_eq!(rs["RetrievalResultMetadataKey"]["max"], 100);
    assert_eq!(rs["DocumentId"]["max"], 1825);
}

#[test]
fn paginated_operations_use_model_tokens() {
    let p = read("bedrock-agent-paginators-1.json");
    for (op, result) in [
        ("ListKnowledgeBases", "knowledgeBaseSummaries"),
        ("ListDataSources", "dataSourceSummaries"),
        ("ListKnowledgeBaseDocuments", "documentDetails"),
    ] {
        let e = &p["pagination"][op];
        assert_eq!(e["input_token"], "nextToken", "{op}");
        assert_eq!(e["output_token"], "nextToken", "{op}");
        assert_eq!(e["limit_key"], "maxResults", "{op}");
        assert_eq!(e["result_key"], result, "{op}");
    }
}

/// Checks a JSON value against a shape, recursively: every member written is
/// a member of the shape, every required member is written, enum values and
/// lengths are the model's.
fn conforms(m: &Value, shape: &str, v: &Value, path: &str) {
    let s = &m["shapes"][shape];
    match s["type"].as_str().unwrap() {
        "structure" if s["document"] == true => {}
        "structure" => {
            let o = v
                .as_object()
                .unwrap_or_else(|| panic!("{path} is not an object"));
            for req in s["required"].as_array().into_iter().flatten() {
                assert!(o.contains_key(req.as_str().unwrap()), "{path} lacks {req}");
            }
            for (k, x) in o {
                let mem = &s["members"][k];
                assert!(mem.is_object(), "{path}.{k} is not a member of {shape}");
                conforms(m, mem["shape"].as_str().unwrap(), x, &format!("{path}.{k}"));
            }
        }
        "list" => {
            for (i, x) in v.as_array().unwrap().iter().enumerate() {
                conforms(
                    m,
                    s["member"]["shape"].as_str().unwrap(),
                    x,
                    &format!("{path}[{i}]"),
                );
            }
        }
        "map" => {
            for (k, x) in v.as_object().unwrap() {
                conforms(
                    m,
                    s["key"]["shape"].as_str().unwrap(),
                    &json!(k),
                    &format!("{path} key"),
                );
                conforms(
                    m,
                    s["value"]["shape"].as_str().unwrap(),
                    x,
                    &format!("{path}.{k}"),
                );
            }
        }
        "string" => {
            let t = v
                .as_str()
                .unwrap_or_else(|| panic!("{path} is not a string"));
            if let Some(e) = s["enum"].as_array() {
                assert!(e.contains(v), "{path} = {t} is not in {shape}");
            }
            let n = t.chars().count() as u64;
            assert!(n >= s["min"].as_u64().unwrap_or(0), "{path} too short");
            assert!(
                n <= s["max"].as_u64().unwrap_or(u64::MAX),
                "{path} too long"
            );
        }
        "timestamp" => {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
        "double" => assert!(v.is_number(), "{path}"),
        "integer" | "long" => assert!(v.is_i64(), "{path}"),
        "boolean" => assert!(v.is_boolean(), "{path}"),
        other => panic!("{path}: unexpected shape type {other}"),
    }
}

fn output(m: &Value, op: &str) -> String {
    m["operations"][op]["output"]["shape"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every operation's answer (and an error's) follows its output shape.
#[tokio::test]
async fn answers_follow_the_output_shapes() {
    let (agent, runtime) = (agent(), runtime());
    let sim = start(cfg()).await;
    let kb = format!("/knowledgebases/{}", sim.config().knowledge_base_id);
    let ds = ds_path(&sim);
    let ingested = ingest(
        &sim,
        vec![text_doc("doc-1", "Sales invoice 103001", "a@x.com")],
    )
    .await;
    assert_eq!(ingested.status, 202);
    conforms(
        &agent,
        &output(&agent, "IngestKnowledgeBaseDocuments"),
        &ingested.body,
        "Ingest",
    );
    settle(&sim).await;
    let answers = [
        ("GetKnowledgeBase", call(&sim, "GET", &kb, None).await),
        (
            "ListKnowledgeBases",
            call(&sim, "POST", "/knowledgebases/", Some(&json!({}))).await,
        ),
        ("GetDataSource", call(&sim, "GET", &ds, None).await),
        (
            "ListDataSources",
            call(
                &sim,
                "POST",
                &format!("{kb}/datasources/"),
                Some(&json!({})),
            )
            .await,
        ),
        (
            "GetKnowledgeBaseDocuments",
            call(
                &sim,
                "POST",
                &format!("{ds}/documents/getDocuments"),
                Some(&json!({"documentIdentifiers": [
                {"dataSourceType": "CUSTOM", "custom": {"id": "doc-1"}},
                {"dataSourceType": "CUSTOM", "custom": {"id": "nope"}}]})),
            )
            .await,
        ),
        (
            "ListKnowledgeBaseDocuments",
            call(
                &sim,
                "POST",
                &format!("{ds}/documents"),
                Some(&json!({"maxResults": 1})),
            )
            .await,
        ),
        (
            "DeleteKnowledgeBaseDocuments",
            call(
                &sim,
                "POST",
                &format!("{ds}/documents/deleteDocuments"),
                Some(&json!({"documentIdentifiers": [
                {"dataSourceType": "CUSTOM", "custom": {"id": "doc-1"}}]})),
            )
            .await,
        ),
    ];
    for (op, a) in answers {
        let code = agent["operations"][op]["http"]["responseCode"]
            .as_u64()
            .unwrap_or(200);
        assert_eq!(u64::from(a.status), code, "{op}: {}", a.body);
        conforms(&agent, &output(&agent, op), &a.body, op);
    }
    // Retrieve: a hit with metadata, once a second document is indexed.
    settle(&sim).await;
    ingest(
        &sim,
        vec![text_doc("doc-2", "Sales invoice 103002", "a@x.com")],
    )
    .await;
    settle(&sim).await;
    let r = call(
        &sim,
        "POST",
        &format!("{kb}/retrieve"),
        Some(&json!({"retrievalQuery": {"text": "invoice 103002"}, "userContext": {"userId": "a@x.com"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["retrievalResults"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    conforms(&runtime, &output(&runtime, "Retrieve"), &r.body, "Retrieve");
    // Errors are written with the members of their shapes too.
    let e = call(&sim, "GET", "/knowledgebases/NOSUCHKB01", None).await;
    assert_eq!(e.status, 404);
    assert_eq!(e.headers["x-amzn-errortype"], "ResourceNotFoundException");
    sim.stop().await;
}
