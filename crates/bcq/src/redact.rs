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

/// The forms a secret may take in a message: as is, percent-encoded
/// (form bodies and URLs), and with `+` for spaces.
fn forms(secret: &str) -> Vec<String> {
    let encoded: String =
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let mut v = vec![
        secret.to_string(),
        encoded.clone(),
        encoded.replace("%20", "+"),
    ];
    v.sort();
    v.dedup();
    v
}

/// Adds secrets to redact from now on. Very short values are ignored: a
/// one-character "secret" would mangle every message.
pub fn register<I: IntoIterator<Item = String>>(secrets: I) {
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for s in secrets {
        if s.trim().chars().count() >= 4 {
            all.extend(forms(s.trim()));
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in secrets.iter() {
        out = out.replace(s.as_str(), "***");
    }
    Cow::Owned(out)
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
}
