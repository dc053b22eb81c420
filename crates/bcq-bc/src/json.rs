//! Decoding BC's JSON so that one bad field costs at most its own value.
//!
//! JSON may carry a UTF-16 surrogate escape without its partner
//! (`"\ud800"`): not a character, so `serde_json` refuses the whole page,
//! and with it every record of the company, every run. Such an escape is
//! read as U+FFFD (the replacement character) instead; everything else of
//! the page decodes as sent.

use serde::de::DeserializeOwned;

/// `serde_json::from_slice`, reading a lone surrogate escape as U+FFFD.
/// The fast path is untouched: the body is rewritten only when the first
/// decode failed on an escape.
pub fn from_slice_lossy<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    match decode(body) {
        // serde_json names these "lone leading surrogate in hex escape" or
        // "unexpected end of hex escape" (a high surrogate without its pair).
        Err(e) if e.to_string().contains("escape") => {
            tracing::warn!(
                "a value from business central holds a lone utf-16 surrogate escape; it is read as U+FFFD"
            );
            decode(&replace_lone_surrogates(body)).map_err(|_| e)
        }
        other => other,
    }
}

/// `serde_json::from_slice`'s result, faster: a body that is UTF-8 as a
/// whole (as BC's are) is checked once and decoded as a `str`, whose
/// strings `serde_json` then takes without checking each again; any other
/// body goes through `from_slice`, which says where it is not UTF-8.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// The four hex digits at `at`, as a number.
fn hex4(json: &[u8], at: usize) -> Option<u32> {
    let digits = json.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

/// `json` with every `\uXXXX` escape of a surrogate that has no partner
/// replaced by `\ufffd`. Escapes are recognised inside strings only, and an
/// escaped backslash (`\\ud800`) is left as the text it is.
pub fn replace_lone_surrogates(json: &[u8]) -> Vec<u8> {
    const HIGH: std::ops::Range<u32> = 0xD800..0xDC00;
    const LOW: std::ops::Range<u32> = 0xDC00..0xE000;
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    let mut in_string = false;
    while i < json.len() {
        let b = json[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' if json.get(i + 1) == Some(&b'u') => match hex4(json, i + 2) {
                Some(u) if HIGH.contains(&u) => {
                    let paired = json.get(i + 6..i + 8) == Some(b"\\u")
                        && hex4(json, i + 8).is_some_and(|l| LOW.contains(&l));
                    if paired {
                        out.extend_from_slice(&json[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(b"\\ufffd");
                        i += 6;
                    }
                }
                Some(u) if LOW.contains(&u) => {
                    out.extend_from_slice(b"\\ufffd");
                    i += 6;
                }
                _ => {
                    // An ordinary escape (or a malformed one, left for the
                    // parser to name).
                    let end = (i + 6).min(json.len());
                    out.extend_from_slice(&json[i..end]);
                    i = end;
                }
            },
            b'\\' => {
                // Any other escape, `\\` and `\"` included: two bytes as they are.
                let end = (i + 2).min(json.len());
                out.extend_from_slice(&json[i..end]);
                i = end;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_lone_surrogate_costs_only_its_character() {
        let body =
            br#"{"value":[{"id":"1","name":"a\ud800b"},{"id":"2","name":"ok \ud83d\ude00"}]}"#;
        assert!(
            serde_json::from_slice::<Value>(body).is_err(),
            "serde_json refuses it"
        );
        let v: Value = from_slice_lossy(body).unwrap();
        assert_eq!(v["value"][0]["name"], "a\u{fffd}b");
        assert_eq!(v["value"][1]["name"], "ok 😀", "a real pair is kept");
    }

    #[test]
    fn low_surrogates_alone_and_at_the_end_are_replaced() {
        for (raw, want) in [
            (r#"{"a":"\udc00"}"#, "\u{fffd}"),
            (r#"{"a":"x\ud800"}"#, "x\u{fffd}"),
            (r#"{"a":"\ud800\u0041"}"#, "\u{fffd}A"),
            (r#"{"a":"\ud800\ud800\udc00"}"#, "\u{fffd}𐀀"),
        ] {
            let v: Value = from_slice_lossy(raw.as_bytes()).unwrap();
            assert_eq!(v["a"], want, "{raw}");
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_as_from_slice_refuses_it() {
        let body = b"{\"a\":\"caf\xe9\"}";
        let ours = from_slice_lossy::<Value>(body).unwrap_err();
        let theirs = serde_json::from_slice::<Value>(body).unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string());
        // UTF-8 as a whole: decoded as a str, the same value.
        let body = "{\"a\":\"café \\u00e9\",\"b\":[1,2.5,null]}".as_bytes();
        let v: Value = from_slice_lossy(body).unwrap();
        assert_eq!(v, serde_json::from_slice::<Value>(body).unwrap());
        assert_eq!(v["a"], "café é");
    }

    #[test]
    fn escaped_backslashes_and_keys_are_not_escapes() {
        // `\\ud800` is a backslash followed by the text "ud800".
        let raw = r#"{"a":"\\ud800","\ud800k":"v"}"#;
        let v: Value = from_slice_lossy(raw.as_bytes()).unwrap();
        assert_eq!(v, json!({"a": "\\ud800", "\u{fffd}k": "v"}));
    }

    #[test]
    fn other_errors_are_reported_as_they_are() {
        let e = from_slice_lossy::<Value>(br#"{"value":["#).unwrap_err();
        assert!(e.is_eof(), "{e}");
        assert_eq!(
            replace_lone_surrogates(b"{\"a\":\"plain\"}"),
            b"{\"a\":\"plain\"}"
        );
    }
}
