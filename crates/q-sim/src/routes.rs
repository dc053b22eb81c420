//! The route table: one row per served operation, taken from the model's
//! `http` traits and `errors` lists (checked by `tests/model_conformance.rs`).

/// One served operation.
pub type RouteSpec = aws_sim::http::Route;

const E_VAL: &str = "ValidationException";
const E_404: &str = "ResourceNotFoundException";
const E_409: &str = "ConflictException";
const E_429: &str = "ThrottlingException";
const E_402: &str = "ServiceQuotaExceededException";
const E_500: &str = "InternalServerException";
const E_403: &str = "AccessDeniedException";

const READ: &[&str] = &[E_500, E_404, E_429, E_VAL, E_403];
const WRITE: &[&str] = &[E_500, E_404, E_409, E_429, E_VAL, E_403, E_402];
const WRITE_NO_QUOTA: &[&str] = &[E_500, E_404, E_409, E_429, E_VAL, E_403];

static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        service: (),
        operation: "CreateApplication",
        method: "POST",
        uri_template: "/applications",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "GetApplication",
        method: "GET",
        uri_template: "/applications/{applicationId}",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: (),
        operation: "CreateIndex",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "GetIndex",
        method: "GET",
        uri_template: "/applications/{applicationId}/indices/{indexId}",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: (),
        operation: "UpdateIndex",
        method: "PUT",
        uri_template: "/applications/{applicationId}/indices/{indexId}",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "CreateDataSource",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices/{indexId}/datasources",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "GetDataSource",
        method: "GET",
        uri_template: "/applications/{applicationId}/indices/{indexId}/datasources/{dataSourceId}",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: (),
        operation: "StartDataSourceSyncJob",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices/{indexId}/datasources/{dataSourceId}/startsync",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "StopDataSourceSyncJob",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices/{indexId}/datasources/{dataSourceId}/stopsync",
        success_code: 200,
        errors: WRITE_NO_QUOTA,
    },
    RouteSpec {
        service: (),
        operation: "ListDataSourceSyncJobs",
        method: "GET",
        uri_template: "/applications/{applicationId}/indices/{indexId}/datasources/{dataSourceId}/syncjobs",
        success_code: 200,
        errors: WRITE_NO_QUOTA,
    },
    RouteSpec {
        service: (),
        operation: "BatchPutDocument",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices/{indexId}/documents",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "BatchDeleteDocument",
        method: "POST",
        uri_template: "/applications/{applicationId}/indices/{indexId}/documents/delete",
        success_code: 200,
        errors: WRITE_NO_QUOTA,
    },
    RouteSpec {
        service: (),
        operation: "ListDocuments",
        method: "GET",
        uri_template: "/applications/{applicationId}/index/{indexId}/documents",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: (),
        operation: "CheckDocumentAccess",
        method: "GET",
        uri_template: "/applications/{applicationId}/index/{indexId}/users/{userId}/documents/{documentId}/check-document-access",
        success_code: 200,
        errors: READ,
    },
    RouteSpec {
        service: (),
        operation: "PutGroup",
        method: "PUT",
        uri_template: "/applications/{applicationId}/indices/{indexId}/groups",
        success_code: 200,
        errors: WRITE,
    },
    RouteSpec {
        service: (),
        operation: "GetGroup",
        method: "GET",
        uri_template: "/applications/{applicationId}/indices/{indexId}/groups/{groupName}",
        success_code: 200,
        errors: WRITE_NO_QUOTA,
    },
    RouteSpec {
        service: (),
        operation: "DeleteGroup",
        method: "DELETE",
        uri_template: "/applications/{applicationId}/indices/{indexId}/groups/{groupName}",
        success_code: 200,
        errors: WRITE_NO_QUOTA,
    },
];

/// The route table of every operation the emulator serves.
pub fn routes() -> &'static [RouteSpec] {
    ROUTES
}

/// Finds the route for a method and raw (still percent-encoded) path; returns
/// it with its decoded labels. Labels are split on raw `/` before decoding so
/// that a document id carrying `%2F` stays one label.
pub fn match_route(
    method: &str,
    raw_path: &str,
) -> Option<(&'static RouteSpec, aws_sim::http::Labels)> {
    aws_sim::http::find_route(ROUTES, method, raw_path)
}

/// Whether an operation may answer an error shape (used to refuse fault
/// injections the model does not allow).
pub fn allows_error(operation: &str, error_type: &str) -> bool {
    ROUTES
        .iter()
        .any(|r| r.operation == operation && r.errors.contains(&error_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_singular_index_and_encoded_labels() {
        let (r, l) = match_route(
            "GET",
            "/applications/a/index/i/users/u%40x.com/documents/d%2F1/check-document-access",
        )
        .unwrap();
        assert_eq!(r.operation, "CheckDocumentAccess");
        assert_eq!(l[2], ("userId", "u@x.com".to_string()));
        assert_eq!(l[3], ("documentId", "d/1".to_string()));
        assert_eq!(
            match_route("POST", "/applications/a/indices/i/documents/delete")
                .unwrap()
                .0
                .operation,
            "BatchDeleteDocument"
        );
        assert!(match_route("DELETE", "/applications/a").is_none());
    }
}
