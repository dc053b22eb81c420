//! Retrieval without embeddings: passages, a lexical ranking, access
//! control and metadata filters. This is **not semantic search**: a passage
//! matches when it shares words with the query (BM25 over passages, the
//! document's string attributes counted as part of each of its passages,
//! title-like attributes twice), which is enough to test what a connector
//! controls — what is indexed, under which attributes, for whom.

use std::collections::HashMap;
use std::ops::Range;

use serde_json::Value;

use crate::state::{Access, AclEntry, Attr, AttrValue};

/// Words per passage.
pub const CHUNK_WORDS: usize = 120;
/// Words two consecutive passages share.
pub const CHUNK_OVERLAP: usize = 20;

/// Lower-cased alphanumeric runs.
pub fn tokenize(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Cuts text into passages of [`CHUNK_WORDS`] words overlapping by
/// [`CHUNK_OVERLAP`], each a byte range of the original text (its line
/// breaks and punctuation kept; ranges rather than copies, so that a
/// document's passages cost no more memory than its text).
pub fn chunk(text: &str) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let mut out = Vec::new();
    let mut first = 0;
    while first < words.len() {
        let last = (first + CHUNK_WORDS).min(words.len()) - 1;
        out.push(words[first].0..words[last].1);
        if last + 1 == words.len() {
            break;
        }
        first = last + 1 - CHUNK_OVERLAP;
    }
    out
}

/// Whether an attribute key names a title (weighted twice in ranking).
fn title_like(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("title") || k.contains("name")
}

/// The words a document's attributes add to each of its passages.
pub fn attribute_words(attrs: &[Attr]) -> String {
    let mut out = String::new();
    for a in attrs {
        let reps = if title_like(&a.key) { 2 } else { 1 };
        for _ in 0..reps {
            for w in a.value.words() {
                out.push(' ');
                out.push_str(w);
            }
        }
    }
    out
}

/// One passage a query may find.
pub struct Passage<'a> {
    /// The passage text.
    pub text: &'a str,
    /// Words of the document's attributes ([`attribute_words`]).
    pub extra: &'a str,
}

/// BM25 scores of passages for a query, squashed into `(0, 1)` as
/// `s / (s + 1)`; passages sharing no word with the query score 0.
pub fn scores(query: &str, passages: &[Passage<'_>]) -> Vec<f64> {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    let mut terms = tokenize(query);
    terms.sort();
    terms.dedup();
    let docs: Vec<Vec<String>> = passages
        .iter()
        .map(|p| {
            let mut t = tokenize(p.text);
            t.extend(tokenize(p.extra));
            t
        })
        .collect();
    let n = docs.len() as f64;
    let avg = docs.iter().map(Vec::len).sum::<usize>() as f64 / n.max(1.0);
    let mut df: HashMap<&str, f64> = HashMap::new();
    for d in &docs {
        let mut seen: Vec<&str> = d.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_default() += 1.0;
        }
    }
    docs.iter()
        .map(|d| {
            let len = d.len() as f64;
            let s: f64 = terms
                .iter()
                .map(|t| {
                    let tf = d.iter().filter(|w| *w == t).count() as f64;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let dft = df.get(t.as_str()).copied().unwrap_or(0.0);
                    let idf = ((n - dft + 0.5) / (dft + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg.max(1.0)))
                })
                .sum();
            s / (s + 1.0)
        })
        .collect()
}

/// Whether a user may see a document of a data source.
///
/// Without ACLs on the data source everything is visible. With them, a
/// query without a user sees nothing, a document without an access list is
/// never returned, a `DENY` naming the user wins over any `ALLOW`, and
/// names match the user id case-insensitively (Amazon Quick treats email
/// addresses so).
pub fn visible(acl_enabled: bool, acl: Option<&[AclEntry]>, user: Option<&str>) -> bool {
    if !acl_enabled {
        return true;
    }
    let (Some(user), Some(acl)) = (user, acl) else {
        return false;
    };
    let user = user.to_lowercase();
    let named = |a: Access| {
        acl.iter()
            .any(|e| e.access == a && e.name.to_lowercase() == user)
    };
    !named(Access::Deny) && named(Access::Allow)
}

/// A `RetrievalFilter` (validated by the Retrieve handler).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `andAll`.
    And(Vec<Filter>),
    /// `orAll`.
    Or(Vec<Filter>),
    /// A comparison of one attribute with a value.
    Compare {
        /// `equals`, `notEquals`, `greaterThan`, ...
        op: String,
        /// Attribute key.
        key: String,
        /// The filter's value.
        value: Value,
    },
}

fn as_number(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Whether a document's attributes pass a filter. A comparison on a key the
/// document lacks fails, except `notEquals` and `notIn`, which pass.
pub fn passes(f: &Filter, attrs: &[Attr]) -> bool {
    match f {
        Filter::And(fs) => fs.iter().all(|f| passes(f, attrs)),
        Filter::Or(fs) => fs.iter().any(|f| passes(f, attrs)),
        Filter::Compare { op, key, value } => {
            let attr = attrs.iter().find(|a| &a.key == key).map(|a| &a.value);
            let Some(attr) = attr else {
                return op == "notEquals" || op == "notIn";
            };
            let doc = attr.to_document();
            let num = |cmp: fn(f64, f64) -> bool| match (as_number(&doc), as_number(value)) {
                (Some(a), Some(b)) => cmp(a, b),
                _ => false,
            };
            let list = || value.as_array().cloned().unwrap_or_default();
            match op.as_str() {
                "equals" => &doc == value,
                "notEquals" => &doc != value,
                "greaterThan" => num(|a, b| a > b),
                "greaterThanOrEquals" => num(|a, b| a >= b),
                "lessThan" => num(|a, b| a < b),
                "lessThanOrEquals" => num(|a, b| a <= b),
                "in" => list().contains(&doc),
                "notIn" => !list().contains(&doc),
                "startsWith" => match (attr, value.as_str()) {
                    (AttrValue::String { value: s }, Some(p)) => s.starts_with(p),
                    _ => false,
                },
                "listContains" => match attr {
                    AttrValue::StringList { value: l } => {
                        value.as_str().is_some_and(|v| l.iter().any(|s| s == v))
                    }
                    _ => false,
                },
                "stringContains" => match (attr, value.as_str()) {
                    (AttrValue::String { value: s }, Some(p)) => s.contains(p),
                    (AttrValue::StringList { value: l }, Some(p)) => {
                        l.iter().any(|s| s.contains(p))
                    }
                    _ => false,
                },
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, access: Access) -> AclEntry {
        AclEntry {
            name: name.into(),
            principal_type: "USER".into(),
            access,
        }
    }

    #[test]
    fn acl_rules() {
        let acl = vec![
            user("Alice@Example.com", Access::Allow),
            user("bob@example.com", Access::Allow),
            user("BOB@example.com", Access::Deny),
        ];
        assert!(visible(true, Some(&acl), Some("alice@example.COM")));
        assert!(
            !visible(true, Some(&acl), Some("bob@example.com")),
            "deny wins"
        );
        assert!(!visible(true, Some(&acl), Some("carol@example.com")));
        assert!(!visible(true, Some(&acl), None), "no user context, nothing");
        assert!(
            !visible(true, None, Some("alice@example.com")),
            "no list, never"
        );
        assert!(visible(false, None, None), "no ACLs on the source");
    }

    #[test]
    fn ranking_prefers_passages_with_more_and_rarer_query_words() {
        let ps = [
            Passage {
                text: "Sales invoice 103001 for Adatum, amount 1,250.00",
                extra: "",
            },
            Passage {
                text: "Purchase order 2001 from Fabrikam",
                extra: "",
            },
            Passage {
                text: "Customer Adatum Corporation",
                extra: " Adatum",
            },
        ];
        let s = scores("invoice 103001 adatum", &ps);
        assert!(s[0] > s[2] && s[2] > 0.0, "{s:?}");
        assert_eq!(s[1], 0.0);
        assert!(s.iter().all(|x| (0.0..1.0).contains(x)));
        // Title-like attributes count twice.
        let attrs = vec![
            Attr {
                key: "title".into(),
                value: AttrValue::String {
                    value: "Adatum".into(),
                },
            },
            Attr {
                key: "amount".into(),
                value: AttrValue::Number { value: 3.0 },
            },
        ];
        assert_eq!(attribute_words(&attrs), " Adatum Adatum");
    }

    #[test]
    fn chunks_overlap_and_keep_the_text() {
        let text = (0..250)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" \n");
        let c: Vec<&str> = chunk(&text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(c.len(), 3);
        assert!(c[0].starts_with("w0 \nw1") && c[0].ends_with("w119"));
        assert!(c[1].starts_with("w100 "));
        assert!(c[2].ends_with("w249"));
        assert_eq!(chunk("  one  "), vec![2..5]);
        assert!(chunk("   ").is_empty());
    }

    #[test]
    fn filters() {
        let attrs = vec![
            Attr {
                key: "company".into(),
                value: AttrValue::String {
                    value: "CRONUS".into(),
                },
            },
            Attr {
                key: "amount".into(),
                value: AttrValue::Number { value: 1250.0 },
            },
            Attr {
                key: "tags".into(),
                value: AttrValue::StringList {
                    value: vec!["open".into(), "paid".into()],
                },
            },
        ];
        let c = |op: &str, key: &str, value: Value| Filter::Compare {
            op: op.into(),
            key: key.into(),
            value,
        };
        assert!(passes(&c("equals", "company", json!("CRONUS")), &attrs));
        assert!(!passes(&c("equals", "company", json!("cronus")), &attrs));
        assert!(passes(&c("greaterThan", "amount", json!(1000)), &attrs));
        assert!(passes(&c("in", "company", json!(["A", "CRONUS"])), &attrs));
        assert!(passes(&c("listContains", "tags", json!("paid")), &attrs));
        assert!(passes(&c("startsWith", "company", json!("CRO")), &attrs));
        assert!(passes(&c("notEquals", "missing", json!(1)), &attrs));
        assert!(!passes(&c("equals", "missing", json!(1)), &attrs));
        let and = Filter::And(vec![
            c("equals", "company", json!("CRONUS")),
            c("lessThan", "amount", json!(1000)),
        ]);
        assert!(!passes(&and, &attrs));
        let or = Filter::Or(vec![
            c("equals", "company", json!("X")),
            c("stringContains", "tags", json!("pa")),
        ]);
        assert!(passes(&or, &attrs));
    }
}
