//! The route table: one row per served operation of either service, taken
//! from the models' `http` traits and `errors` lists (checked by
//! `tests/model_conformance.rs`). The two services' routes do not overlap,
//! so one server answers both endpoints.

use crate::error::{BedrockError, Service};

/// One served operation, and the service it belongs to.
pub type RouteSpec = aws_sim::http::Route<Service>;

const E_VAL: &str = "ValidationException";
const E_404: &str = "ResourceNotFoundException";
const E_409: &str = "ConflictException";
const E_429: &str = "ThrottlingException";
const E_QUOTA: &str = "ServiceQuotaExceededException";
const E_500: &str = "InternalServerException";
const E_403: &str = "AccessDeniedException";
const E_424: &str = "DependencyFailedException";
const E_502: &str = "BadGatewayException";

const LIST_KB: &[&str] = &[E_429, E_403, E_VAL, E_500];
const READ: &[&str] = &[E_429, E_403, E_VAL, E_500, E_404];
const DOCS: &[&str] = &[E_429, E_403, E_VAL, E_500, E_404, E_QUOTA];
const RETRIEVE: &[&str] = &[
    E_404, E_409, E_VAL, E_500, E_424, E_502, E_429, E_403, E_QUOTA,
];

/// Path of a data source's documents.
const DOCUMENTS: &str = "/knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents";

static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        service: Service::Agent,
        operation: "GetKnowledgeBase",
        method: "GET",
        uri_template: "/knowledgebases/{knowledgeBaseId}",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "ListKnowledgeBases",
        method: "POST",
        uri_template: "/knowledgebases/",
        success_code: 200,
        errors: LIST_KB,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "GetDataSource",
        method: "GET",
        uri_template: "/knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "ListDataSources",
        method: "POST",
        uri_template: "/knowledgebases/{knowledgeBaseId}/datasources/",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "IngestKnowledgeBaseDocuments",
        method: "PUT",
        uri_template: DOCUMENTS,
        success_code: 202,
        errors: DOCS,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "DeleteKnowledgeBaseDocuments",
        method: "POST",
        uri_template: "/knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents/deleteDocuments",
        success_code: 202,
        errors: DOCS,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "GetKnowledgeBaseDocuments",
        method: "POST",
        uri_template: "/knowledgebases/{knowledgeBaseId}/datasources/{dataSourceId}/documents/getDocuments",
        success_code: 200,
        errors: DOCS,
    },
    RouteSpec {
        service: Service::Agent,
        operation: "ListKnowledgeBaseDocuments",
        method: "POST",
        uri_template: DOCUMENTS,
        success_code: 200,
        errors: DOCS,
    },
    RouteSpec {
        service: Service::Runtime,
        operation: "Retrieve",
        method: "POST",
        uri_template: "/knowledgebases/{knowledgeBaseId}/retrieve",
        success_code: 200,
        errors: RETRIEVE,
    },
];

/// The route table of every operation the emulator serves.
pub fn routes() -> &'static [RouteSpec] {
    ROUTES
}

/// The route of an operation.
pub fn route(operation: &str) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|r| r.operation == operation)
}

/// Finds the route for a method and raw (still percent-encoded) path; returns
/// it with its decoded labels.
pub fn match_route(
    method: &str,
    raw_path: &str,
) -> Option<(&'static RouteSpec, aws_sim::http::Labels)> {
    aws_sim::http::find_route(ROUTES, method, raw_path)
}

/// The error a `status` fault of `operation` answers: the shape named by
/// `error`, else the operation's first modeled error with HTTP `status` in
/// its service (bedrock-agent-runtime's 400 is `ValidationException`; its
/// 400 `ServiceQuotaExceededException` is asked for by name).
pub fn modeled_error(
    operation: &str,
    status: Option<u16>,
    error: Option<&str>,
) -> Option<BedrockError> {
    let r = route(operation)?;
    let message = format!("injected fault for {operation}");
    let candidates = crate::error::MODELED
        .iter()
        .filter(|name| r.errors.contains(name))
        .filter_map(|name| BedrockError::modeled(name, message.clone()));
    match error {
        Some(name) => candidates
            .filter(|e| e.type_name() == name)
            .find(|e| status.is_none_or(|s| e.status(r.service) == s)),
        None => candidates
            .into_iter()
            .find(|e| Some(e.status(r.service)) == status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_services_route_without_overlap() {
        let (r, l) = match_route(
            "POST",
            "/knowledgebases/KB12345678/datasources/DS12345678/documents/getDocuments",
        )
        .unwrap();
        assert_eq!(r.operation, "GetKnowledgeBaseDocuments");
        assert_eq!(l[1], ("dataSourceId", "DS12345678".to_string()));
        assert_eq!(
            match_route("PUT", "/knowledgebases/K/datasources/D/documents")
                .unwrap()
                .0
                .operation,
            "IngestKnowledgeBaseDocuments"
        );
        assert_eq!(
            match_route("POST", "/knowledgebases/K/datasources/D/documents")
                .unwrap()
                .0
                .operation,
            "ListKnowledgeBaseDocuments"
        );
        assert_eq!(
            match_route("POST", "/knowledgebases/").unwrap().0.operation,
            "ListKnowledgeBases"
        );
        let (r, _) = match_route("POST", "/knowledgebases/K/retrieve").unwrap();
        assert_eq!(r.service, Service::Runtime);
        assert!(match_route("DELETE", "/knowledgebases/K").is_none());
    }

    #[test]
    fn statuses_pick_modeled_errors() {
        let e = modeled_error("IngestKnowledgeBaseDocuments", Some(402), None).unwrap();
        assert_eq!(e.type_name(), "ServiceQuotaExceededException");
        assert_eq!(
            modeled_error("Retrieve", Some(400), None)
                .unwrap()
                .type_name(),
            "ValidationException"
        );
        let q = modeled_error("Retrieve", None, Some("ServiceQuotaExceededException")).unwrap();
        assert_eq!(q.status(Service::Runtime), 400);
        assert!(modeled_error("ListKnowledgeBases", Some(404), None).is_none());
        assert!(modeled_error("Retrieve", Some(402), None).is_none());
        assert!(modeled_error("GetKnowledgeBase", None, Some("ConflictException")).is_none());
    }
}
