//! The route table and the constraint table agree with the AWS model file.

use serde_json::Value;

fn model() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../reference/qbusiness/service-2.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("model file present")).expect("model parses")
}

#[test]
fn routes_match_model_http_and_errors() {
    let m = model();
    assert_eq!(m["metadata"]["signingName"], "qbusiness");
    assert_eq!(m["metadata"]["protocol"], "rest-json");
    assert_eq!(q_sim::routes().len(), 17);
    for r in q_sim::routes() {
        let op = &m["operations"][r.operation];
        assert!(op.is_object(), "{} not in model", r.operation);
        assert_eq!(op["http"]["method"], r.method, "{}", r.operation);
        assert_eq!(op["http"]["requestUri"], r.uri_template, "{}", r.operation);
        assert_eq!(
            op["http"]["responseCode"].as_u64().unwrap_or(200),
            u64::from(r.success_code),
            "{}",
            r.operation
        );
        let modeled: Vec<&str> = op["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["shape"].as_str().unwrap())
            .collect();
        for e in r.errors {
            assert!(
                modeled.contains(e),
                "{} may answer {e}, which the model does not list",
                r.operation
            );
        }
        // Every path label of the template is a `uri` member of the input.
        let input = &m["shapes"][op["input"]["shape"].as_str().unwrap()]["members"];
        for label in r
            .uri_template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        {
            let found = input
                .as_object()
                .unwrap()
                .values()
                .any(|mem| mem["location"] == "uri" && mem["locationName"] == label);
            assert!(found, "{}: label {label} not in model input", r.operation);
        }
    }
}

#[test]
fn error_statuses_match_model() {
    let m = model();
    let cases = [
        (q_sim::QError::field("x", "y"), "ValidationException"),
        (
            q_sim::QError::AccessDenied("x".into()),
            "AccessDeniedException",
        ),
        (
            q_sim::QError::not_found("Index", "x"),
            "ResourceNotFoundException",
        ),
        (
            q_sim::QError::Conflict {
                message: "x".into(),
                resource_id: "x".into(),
                resource_type: "x".into(),
            },
            "ConflictException",
        ),
        (q_sim::QError::Throttling("x".into()), "ThrottlingException"),
        (
            q_sim::QError::QuotaExceeded {
                message: "x".into(),
                resource_id: "x".into(),
                resource_type: "x".into(),
            },
            "ServiceQuotaExceededException",
        ),
        (
            q_sim::QError::Internal("x".into()),
            "InternalServerException",
        ),
    ];
    for (e, shape) in cases {
        assert_eq!(e.type_name(), shape);
        let s = &m["shapes"][shape];
        assert_eq!(
            u64::from(e.status().as_u16()),
            s["error"]["httpStatusCode"].as_u64().unwrap(),
            "{shape}"
        );
        let body = e.body();
        for req in s["required"].as_array().unwrap() {
            assert!(
                body.get(req.as_str().unwrap()).is_some(),
                "{shape} body lacks required {req}"
            );
        }
    }
    let reasons: Vec<&str> = m["shapes"]["ValidationExceptionReason"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(
            &q_sim::QError::field("a", "b").body()["reason"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn constraint_table_matches_model_shapes() {
    assert_eq!(
        q_sim::validate::RULES.mismatches(&model()),
        Vec::<String>::new()
    );
    assert!(q_sim::validate::STRINGS.len() > 20 && !q_sim::validate::ENUMS.is_empty());
}

#[test]
fn paginated_operations_use_model_tokens() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../reference/qbusiness/paginators-1.json"
    );
    let p: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for (op, result) in [
        ("ListDocuments", "documentDetailList"),
        ("ListDataSourceSyncJobs", "history"),
    ] {
        let e = &p["pagination"][op];
        assert_eq!(e["input_token"], "nextToken");
        assert_eq!(e["limit_key"], "maxResults");
        assert_eq!(e["result_key"], result);
    }
}
