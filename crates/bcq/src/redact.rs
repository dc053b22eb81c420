//! Secrets never leave bcq: every message that does (the log, errors, the
//! summary) passes through [`redact`], which replaces the configured
//! secrets, as they are and as a form or URL would encode them, with
//! `***`. A remote error that echoes a request (some proxies answer a
//! failed token request with the form they were sent) prints nothing
//! secret either.

use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds secrets to redact from now on. Very short values are ignored: a
/// one-character "secret" would mangle every message.
pub fn register<I: IntoIterator<Item = String>>(secrets: I) {
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for s in secrets {
        if s.trim().chars().count() >= 4 {
            all.push(s.trim().to_string());
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
}

/// The value of two hex digits.
fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let d = |c: u8| (c as char).to_digit(16);
    Some((d(hi)? * 16 + d(lo)?) as u8)
}

/// The length of `secret` at the start of `text`, each of its characters
/// as it is or as any encoder may have written it: percent-encoded (either
/// hex case: form bodies and URLs, whichever characters the encoder
/// leaves alone), a space as `+`, and, when `json`, JSON-escaped (`\"`,
/// `\\`, `\/`).
fn match_at(text: &[u8], secret: &str, json: bool) -> Option<usize> {
    let mut i = 0;
    for c in secret.chars() {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let rest = &text[i..];
        // In JSON mode the escape comes first: for '\\' the escaped form
        // also starts with the character itself.
        if json
            && matches!(c, '"' | '\\' | '/')
            && rest.first() == Some(&b'\\')
            && rest.get(1) == Some(&(c as u8))
        {
            i += 2;
        } else if rest.starts_with(bytes) {
            i += bytes.len();
        } else if c == ' ' && rest.first() == Some(&b'+') {
            i += 1;
        } else {
            for b in bytes {
                match text.get(i..i + 3) {
                    Some([b'%', hi, lo]) if hex_pair(*hi, *lo) == Some(*b) => i += 3,
                    _ => return None,
                }
            }
        }
    }
    Some(i)
}

/// `text` with every registered secret, in any of the forms
/// `match_at` knows, replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        // A match starts with a whole character, '%', '+' or '\' (never
        // inside a UTF-8 sequence) and ends after one: slicing is safe.
        match secrets.iter().find_map(|s| {
            match_at(&bytes[i..], s, false).or_else(|| match_at(&bytes[i..], s, true))
        }) {
            Some(len) => {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&text[copied..i]);
                o.push_str("***");
                i += len;
                copied = i;
            }
            None => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// A writer that redacts each line before it reaches `inner` (the log).
pub struct RedactingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    /// Redacts what is written to `inner`.
    pub fn new(inner: W) -> Self {
        RedactingWriter {
            inner,
            buf: Vec::new(),
        }
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&self.buf);
            self.inner.write_all(redact(&text).as_bytes())?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_as_they_are_and_encoded() {
        register(["s3cr3t/+value x".to_string(), "ab".to_string()]);
        let msg = "http 400: client_secret=s3cr3t%2F%2Bvalue+x&scope=... (raw s3cr3t/+value x)";
        let r = redact(msg);
        assert!(!r.contains("s3cr3t"), "{r}");
        assert_eq!(r, "http 400: client_secret=***&scope=... (raw ***)");
        assert_eq!(
            redact("ab is too short to redact"),
            "ab is too short to redact"
        );
        let mut out = Vec::new();
        {
            let mut w = RedactingWriter::new(&mut out);
            write!(w, "token endpoint said s3cr3t/+value x").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "token endpoint said ***");
    }

    #[test]
    fn every_encoders_form_is_redacted() {
        register(["bcsim~Secret.Value_\"q\\é 1".to_string()]);
        for form in [
            // WHATWG forms (reqwest, serde_urlencoded): '~' encoded, '.' and '_' not.
            "bcsim%7ESecret.Value_%22q%5C%C3%A9+1",
            // RFC 3986 unreserved left alone, lower-case hex.
            "bcsim~Secret.Value_%22q%5c%c3%a9%201",
            // Everything but letters and digits.
            "bcsim%7ESecret%2EValue%5F%22q%5C%C3%A9%201",
            // JSON-escaped.
            "bcsim~Secret.Value_\\\"q\\\\é 1",
            "bcsim~Secret.Value_\"q\\é 1",
        ] {
            let msg = format!("said: client_secret={form}&x=é");
            assert_eq!(redact(&msg), "said: client_secret=***&x=é", "{form}");
        }
        assert_eq!(
            redact("bcsim~Secret.Value_ partly"),
            "bcsim~Secret.Value_ partly"
        );
        // Two backslashes as they are, and JSON-escaped.
        register([r"x\\y-2".to_string()]);
        assert_eq!(redact(r"raw x\\y-2, json x\\\\y-2"), "raw ***, json ***");
    }
}
