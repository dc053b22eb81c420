//! Text extraction per content type (Q Business's `ContentType` names:
//! `PDF`, `HTML`, `MS_WORD`, `PLAIN_TEXT`, ...), as the services do before
//! indexing. A document whose text cannot be extracted, or whose text
//! exceeds 5 MB (the documented Q Business limit, and the largest inline
//! content Bedrock takes), fails indexing; each emulator words that failure
//! in its own service's terms.

use crate::pdf;

/// Largest extracted text indexed (5 MB).
pub const MAX_TEXT_BYTES: usize = 5 * 1024 * 1024;

/// Why extraction failed (becomes the document's `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// Bytes are not valid UTF-8 for a text type.
    #[error("content is not valid utf-8 text for content type {0}")]
    NotUtf8(String),
    /// Malformed structured content.
    #[error("content could not be parsed as {kind}: {detail}")]
    Malformed {
        /// Content type.
        kind: String,
        /// What failed.
        detail: String,
    },
    /// No text found (scanned PDF, empty file).
    #[error("no text could be extracted from the {0} content")]
    NoText(String),
    /// More than 5 MB of text.
    #[error("extracted text is {0} bytes, more than the 5 MB limit")]
    TooLarge(usize),
    /// A content type the emulator does not parse.
    #[error("text extraction for content type {0} is not supported by the emulator")]
    Unsupported(String),
}

/// Extracts the text of a blob for a content type.
pub fn extract(content_type: &str, bytes: &[u8]) -> Result<String, ExtractError> {
    let text = match content_type {
        "PDF" => pdf::extract_text(bytes).map_err(|e| ExtractError::Malformed {
            kind: "PDF".into(),
            detail: e.to_string(),
        })?,
        "HTML" => strip_markup(utf8(content_type, bytes)?, true),
        "XML" | "XSLT" => strip_markup(utf8(content_type, bytes)?, false),
        "JSON" => {
            let s = utf8(content_type, bytes)?;
            serde_json::from_str::<serde_json::Value>(s).map_err(|e| ExtractError::Malformed {
                kind: "JSON".into(),
                detail: e.to_string(),
            })?;
            s.to_string()
        }
        "PLAIN_TEXT" | "MD" | "CSV" => utf8(content_type, bytes)?.to_string(),
        "RTF" => strip_rtf(utf8(content_type, bytes)?),
        "MS_WORD" | "MS_EXCEL" | "PPT" => {
            crate::ooxml::extract(content_type, bytes).map_err(|e| ExtractError::Malformed {
                kind: content_type.to_string(),
                detail: e.to_string(),
            })?
        }
        other => return Err(ExtractError::Unsupported(other.to_string())),
    };
    if text.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLarge(text.len()));
    }
    if text.trim().is_empty() && !bytes.is_empty() {
        return Err(ExtractError::NoText(content_type.to_string()));
    }
    Ok(text)
}

fn utf8<'a>(ct: &str, b: &'a [u8]) -> Result<&'a str, ExtractError> {
    std::str::from_utf8(b).map_err(|_| ExtractError::NotUtf8(ct.to_string()))
}

/// Removes tags (and, for HTML, `script`/`style` bodies), decodes entities and
/// collapses whitespace.
pub fn strip_markup(s: &str, html: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let lower = s.to_ascii_lowercase();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] == b'<' {
            if html {
                let mut skipped = false;
                for tag in ["script", "style"] {
                    if lower[i + 1..].starts_with(tag) {
                        let close = format!("</{tag}");
                        if let Some(end) = lower[i..].find(&close) {
                            i += end + close.len();
                            skipped = true;
                        }
                    }
                }
                if skipped {
                    if let Some(gt) = s[i..].find('>') {
                        i += gt + 1;
                    }
                    out.push(' ');
                    continue;
                }
            }
            if s[i..].starts_with("<![CDATA[")
                && let Some(end) = s[i..].find("]]>")
            {
                out.push_str(&s[i + 9..i + end]);
                i += end + 3;
                continue;
            }
            if s[i..].starts_with("<!--")
                && let Some(end) = s[i..].find("-->")
            {
                i += end + 3;
                continue;
            }
            match s[i..].find('>') {
                Some(gt) => {
                    out.push(' ');
                    i += gt + 1;
                }
                None => break,
            }
        } else {
            let next = s[i..].find('<').map(|n| i + n).unwrap_or(b.len());
            out.push_str(&decode_entities(&s[i..next]));
            i = next;
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Named references beyond the XML five that business documents use.
const NAMED: &[(&str, char)] = &[
    ("eacute", 'é'),
    ("egrave", 'è'),
    ("ecirc", 'ê'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("auml", 'ä'),
    ("ouml", 'ö'),
    ("uuml", 'ü'),
    ("Auml", 'Ä'),
    ("Ouml", 'Ö'),
    ("Uuml", 'Ü'),
    ("Eacute", 'É'),
    ("szlig", 'ß'),
    ("ccedil", 'ç'),
    ("aring", 'å'),
    ("Aring", 'Å'),
    ("oslash", 'ø'),
    ("Oslash", 'Ø'),
    ("aelig", 'æ'),
    ("AElig", 'Æ'),
    ("ntilde", 'ñ'),
    ("iacute", 'í'),
    ("oacute", 'ó'),
    ("uacute", 'ú'),
    ("mdash", '—'),
    ("ndash", '–'),
    ("hellip", '…'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bull", '•'),
    ("middot", '·'),
    ("trade", '™'),
    ("reg", '®'),
    ("deg", '°'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("sect", '§'),
    ("times", '×'),
];

/// Decodes named (common) and numeric character references.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..semi];
        let decoded = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "euro" => Some('€'),
            "copy" => Some('©'),
            _ if NAMED.iter().any(|(n, _)| *n == ent) => {
                NAMED.iter().find(|(n, _)| *n == ent).map(|(_, c)| *c)
            }
            _ => {
                if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok().and_then(char::from_u32)
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse::<u32>().ok().and_then(char::from_u32)
                } else {
                    None
                }
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Drops RTF control words and groups markers, keeps the text.
fn strip_rtf(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '\\' => {
                let mut word = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphabetic() {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if word.is_empty() {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                    continue;
                }
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() || n == '-' {
                        chars.next();
                    } else {
                        break;
                    }
                }
                if chars.peek() == Some(&' ') {
                    chars.next();
                }
                if word == "par" || word == "line" {
                    out.push('\n');
                }
            }
            _ => out.push(c),
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_strips_tags_scripts_and_entities() {
        let t = extract("HTML", b"<html><head><style>p{}</style><script>var x=1;</script></head><body><p>Caf&eacute; &amp; Tea &#8364;5 &lt;b&gt;</p></body></html>").unwrap();
        assert_eq!(t, "Café & Tea €5 <b>");
    }

    #[test]
    fn text_types_and_failures() {
        assert_eq!(extract("MD", b"# Title\nbody").unwrap(), "# Title\nbody");
        assert_eq!(extract("CSV", b"a,b\n1,2").unwrap(), "a,b\n1,2");
        assert!(matches!(
            extract("PLAIN_TEXT", &[0xff, 0xfe, 0x00]),
            Err(ExtractError::NotUtf8(_))
        ));
        assert!(matches!(
            extract("JSON", b"{not json"),
            Err(ExtractError::Malformed { .. })
        ));
        assert_eq!(
            extract("XML", b"<a><b>x</b><![CDATA[y<z]]></a>").unwrap(),
            "x y<z"
        );
        assert_eq!(
            extract("RTF", br"{\rtf1\ansi {\b Hello} world\par}").unwrap(),
            "Hello world"
        );
        assert!(matches!(
            extract("PPT", b"x"),
            Err(ExtractError::Malformed { .. })
        ));
        assert!(matches!(
            extract("XSLX", b"x"),
            Err(ExtractError::Unsupported(_))
        ));
        assert!(matches!(
            extract("HTML", b"<p> </p>"),
            Err(ExtractError::NoText(_))
        ));
        let big = vec![b'a'; MAX_TEXT_BYTES + 1];
        assert!(matches!(
            extract("PLAIN_TEXT", &big),
            Err(ExtractError::TooLarge(_))
        ));
    }
}
