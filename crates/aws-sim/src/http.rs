//! The HTTP pieces every rest-json emulator shares: reading a bounded body,
//! decoding queries, matching a model's `requestUri` templates, and writing
//! answers the way AWS does (`x-amzn-RequestId`, and for errors the
//! `x-amzn-ErrorType` header beside a JSON body with `__type`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

/// Decoded query pairs, in order (`+` is a space).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Matches a raw (still percent-encoded) path against a model `requestUri`
/// template (`/a/{label}/b`); returns the decoded labels. Labels are split on
/// raw `/` before decoding, so that an id carrying `%2F` stays one label; a
/// trailing `/` is ignored on both sides (`/knowledgebases/` is the template
/// of ListKnowledgeBases).
pub fn match_template(template: &'static str, raw_path: &str) -> Option<Labels> {
    let segs: Vec<&str> = raw_path.trim_end_matches('/').split('/').collect();
    let tsegs: Vec<&'static str> = template.trim_end_matches('/').split('/').collect();
    if tsegs.len() != segs.len() {
        return None;
    }
    let mut labels = Vec::new();
    for (t, s) in tsegs.iter().zip(&segs) {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            if s.is_empty() {
                return None;
            }
            let v = percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned();
            labels.push((name, v));
        } else if t != s {
            return None;
        }
    }
    Some(labels)
}

/// One served operation of a route table, taken from its model's `http`
/// trait and `errors` list (each emulator's conformance test holds its
/// table to the model file). `S` tells which service of the emulator the
/// operation belongs to when it serves several (`()` when one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<S = ()> {
    /// Which service (model) the operation belongs to.
    pub service: S,
    /// Operation name as in the model.
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// `http.requestUri` of the model, labels in braces.
    pub uri_template: &'static str,
    /// `http.responseCode` of the model.
    pub success_code: u16,
    /// Error shapes this operation can answer (from the model's `errors`);
    /// a `status` fault may inject them. Authentication failures, oversized
    /// bodies and unknown routes are answered before any operation is known
    /// and are not listed (AWS's front door answers them).
    pub errors: &'static [&'static str],
}

/// Decoded path labels: (label name, value).
pub type Labels = Vec<(&'static str, String)>;

/// The route of a method and raw (still percent-encoded) path, with its
/// decoded labels.
pub fn find_route<S>(
    routes: &'static [Route<S>],
    method: &str,
    raw_path: &str,
) -> Option<(&'static Route<S>, Labels)> {
    routes
        .iter()
        .filter(|r| r.method == method)
        .find_map(|r| match_template(r.uri_template, raw_path).map(|labels| (r, labels)))
}

/// The body was larger than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Reads a body of at most `max` bytes; a larger `Content-Length` is refused
/// before anything is read.
pub async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, TooLarge> {
    if headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(TooLarge);
    }
    axum::body::to_bytes(body, max).await.map_err(|_| TooLarge)
}

fn request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("uuid is ascii")
}

/// A JSON answer with `content-type: application/json` (control routes).
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// A successful operation answer: status, JSON body and a request id.
pub fn aws_response(status: u16, v: &Value) -> Response {
    let mut r = json_response(StatusCode::from_u16(status).unwrap_or_default(), v);
    r.headers_mut().insert("x-amzn-requestid", request_id());
    r
}

/// A rest-json error answer: the shape name travels in `x-amzn-ErrorType`
/// (which the SDKs read first) and in the body's `__type`.
pub fn error_response(status: u16, type_name: &'static str, body: &Value) -> Response {
    let mut r = aws_response(status, body);
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(type_name));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_encoded_labels_and_trailing_slashes() {
        let l = match_template("/a/{x}/b/{y}/c", "/a/u%40x.com/b/d%2F1/c").unwrap();
        assert_eq!(
            l,
            vec![("x", "u@x.com".to_string()), ("y", "d/1".to_string())]
        );
        assert!(match_template("/knowledgebases/", "/knowledgebases/").is_some());
        assert!(match_template("/knowledgebases/", "/knowledgebases").is_some());
        assert!(match_template("/a/{x}", "/a/").is_none());
        assert!(match_template("/a/{x}", "/b/c").is_none());
        assert_eq!(
            parse_query("a=x+y&b=%2F&c"),
            vec![
                ("a".into(), "x y".into()),
                ("b".into(), "/".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn errors_carry_their_type_in_header_and_body() {
        let r = error_response(
            429,
            "ThrottlingException",
            &serde_json::json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        );
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(r.headers()["x-amzn-errortype"], "ThrottlingException");
        assert!(r.headers().contains_key("x-amzn-requestid"));
    }
}
