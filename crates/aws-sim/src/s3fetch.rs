//! Reading S3 objects (documents given by S3 location) from an
//! S3-compatible server (moto, MinIO) on loopback, as an AWS service reads
//! them from S3 with the role it was given.
//!
//! A path-style GET (`{endpoint}/{bucket}/{key}`) signed with SigV4 for
//! service `s3` with the emulator's own credentials (standing in for the
//! role the service assumes); HTTP/1.0 keeps the answer un-chunked and the
//! connection single-use.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    /// The endpoint is not an `http://host:port` URL.
    #[error("the emulator's S3 endpoint {0} is not an http://host:port URL")]
    Endpoint(String),
    /// No answer.
    #[error("could not reach S3 at {0}: {1}")]
    Connect(String, String),
    /// The object does not exist.
    #[error("The S3 object s3://{0}/{1} does not exist (NoSuchKey)")]
    NoSuchKey(String, String),
    /// The bucket does not exist.
    #[error("The S3 bucket {0} does not exist (NoSuchBucket)")]
    NoSuchBucket(String),
    /// The emulator's credentials (standing in for the role) may not read it.
    #[error(
        "could not read s3://{0}/{1} (AccessDenied); the role the service reads S3 with needs s3:GetObject on the bucket"
    )]
    AccessDenied(String, String),
    /// Another status.
    #[error("S3 answered {0} for s3://{1}/{2}")]
    Status(u16, String, String),
    /// Larger than the service reads (its `Content-Length`, or what was
    /// read), with the limit.
    #[error("The document is {0} bytes, larger than the {mb} MB limit", mb = .1 >> 20)]
    TooLarge(u64, u64),
}

fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Credentials the emulator reads S3 with.
#[derive(Clone, Copy, Debug)]
pub struct Creds<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret: &'a str,
    /// Region of the signature scope.
    pub region: &'a str,
}

/// SigV4 headers of an S3 GET with an empty body (S3 signs the path as
/// sent, encoded once, and wants `x-amz-content-sha256`).
fn sign_get(c: Creds<'_>, host: &str, path: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    use sha2::{Digest, Sha256};
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let empty = hex::encode(Sha256::digest(b""));
    let canonical = format!(
        "GET\n{path}\n\nhost:{host}\nx-amz-content-sha256:{empty}\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{empty}"
    );
    let (scope, sig) =
        crate::sigv4::signature(c.secret, &amz_date, date, c.region, "s3", &canonical);
    format!(
        "x-amz-date: {amz_date}\r\nx-amz-content-sha256: {empty}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}\r\n",
        c.access_key_id
    )
}

/// GETs `s3://bucket/key` from `endpoint` (`http://127.0.0.1:port`); an
/// object over `max_bytes` is refused from its `Content-Length`, before its
/// body is read.
pub fn get(
    endpoint: &str,
    creds: Creds<'_>,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, S3Error> {
    let host = endpoint
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
        .filter(|h| !h.is_empty() && !h.contains('/'))
        .ok_or_else(|| S3Error::Endpoint(endpoint.to_string()))?;
    let connect = |e: std::io::Error| S3Error::Connect(endpoint.to_string(), e.to_string());
    let mut stream = TcpStream::connect(host).map_err(connect)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(connect)?;
    let path = format!("/{bucket}/{}", encode_key(key));
    let auth = sign_get(creds, host, &path, chrono::Utc::now());
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n{auth}\r\n").map_err(connect)?;
    let mut reader = std::io::BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).map_err(connect)?;
        if n == 0 {
            return Err(S3Error::Connect(
                endpoint.to_string(),
                "no HTTP header".into(),
            ));
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<u64> = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    });
    if status == 200
        && let Some(n) = length.filter(|n| *n > max_bytes)
    {
        return Err(S3Error::TooLarge(n, max_bytes));
    }
    let mut body = Vec::new();
    reader
        .take(max_bytes + 1)
        .read_to_end(&mut body)
        .map_err(connect)?;
    match status {
        200 if body.len() as u64 > max_bytes => {
            Err(S3Error::TooLarge(body.len() as u64, max_bytes))
        }
        200 => Ok(body),
        404 if String::from_utf8_lossy(&body).contains("NoSuchBucket") => {
            Err(S3Error::NoSuchBucket(bucket.to_string()))
        }
        404 => Err(S3Error::NoSuchKey(bucket.to_string(), key.to_string())),
        403 => Err(S3Error::AccessDenied(bucket.to_string(), key.to_string())),
        s => Err(S3Error::Status(s, bucket.to_string(), key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_per_segment_and_bad_endpoints_named() {
        assert_eq!(encode_key("bcq/ab c+d"), "bcq/ab%20c%2Bd");
        let c = Creds {
            access_key_id: "AK",
            secret: "SK",
            region: "us-east-1",
        };
        assert!(matches!(
            get("https://s3.amazonaws.com", c, "b", "k", 10),
            Err(S3Error::Endpoint(_))
        ));
        let h = sign_get(c, "127.0.0.1:9000", "/b/k", chrono::Utc::now());
        assert!(h.contains("/us-east-1/s3/aws4_request"), "{h}");
        assert!(h.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date"));
    }

    /// A server answering one request with `head` then `body`.
    fn serve_once(head: &'static str, body: &'static [u8]) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // The whole request, so that closing does not reset it.
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        });
        format!("http://{addr}")
    }

    #[test]
    fn objects_over_the_limit_are_refused_from_their_length() {
        let c = Creds {
            access_key_id: "AK",
            secret: "SK",
            region: "us-east-1",
        };
        // The header announces 60 MB and no body follows: refused without
        // waiting for it.
        let url = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 62914560\r\n\r\n", b"");
        assert_eq!(
            get(&url, c, "b", "k", 50 << 20),
            Err(S3Error::TooLarge(62914560, 50 << 20))
        );
        assert!(
            S3Error::TooLarge(62914560, 50 << 20)
                .to_string()
                .ends_with("larger than the 50 MB limit")
        );
        // No length: counted as read, one byte past the limit is enough.
        let url = serve_once("HTTP/1.0 200 OK\r\n\r\n", b"0123456789A");
        assert_eq!(get(&url, c, "b", "k", 10), Err(S3Error::TooLarge(11, 10)));
        let url = serve_once("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", b"abc");
        assert_eq!(get(&url, c, "b", "k", 10), Ok(b"abc".to_vec()));
    }
}
