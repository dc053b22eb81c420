//! OData v4 URL building for BC's API, and the small wire types.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

/// Bytes percent-encoded inside a query option value. BC accepts spaces only
/// as `%20` (never `+`), and the OData punctuation stays readable in logs:
/// `$ ( ) , = ' : / @ * ;` and the unreserved `- . _ ~`. `&`, `#`, `+`, `%`,
/// quotes, spaces and non-ASCII are encoded.
pub(crate) const ODATA_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b',')
    .remove(b'=')
    .remove(b'\'')
    .remove(b':')
    .remove(b'/')
    .remove(b'@')
    .remove(b'*')
    .remove(b';');

/// OData system query options of a collection request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `$filter`, e.g. `lastModifiedDateTime gt 2024-01-01T00:00:00.000Z`.
    pub filter: Option<String>,
    /// `$select` fields, joined with commas.
    pub select: Vec<String>,
    /// `$expand`, e.g. `salesInvoiceLines` or with nested options.
    pub expand: Option<String>,
    /// `$orderby`, e.g. `lastModifiedDateTime asc`.
    pub orderby: Option<String>,
    /// `$top`; note that BC sends no `@odata.nextLink` when it is set.
    pub top: Option<u64>,
}

/// `{root}/companies({company_id})/{entity_set}?$filter=..&$select=..&$expand=..&$orderby=..&$top=..`
/// with the option values percent-encoded the way BC accepts them.
pub fn collection_url(root: &str, company_id: &str, entity_set: &str, query: &Query) -> String {
    let mut url = format!(
        "{}/companies({company_id})/{entity_set}",
        root.trim_end_matches('/')
    );
    let mut options: Vec<(&str, String)> = Vec::new();
    if let Some(f) = &query.filter {
        options.push(("$filter", f.clone()));
    }
    if !query.select.is_empty() {
        options.push(("$select", query.select.join(",")));
    }
    if let Some(e) = &query.expand {
        options.push(("$expand", e.clone()));
    }
    if let Some(o) = &query.orderby {
        options.push(("$orderby", o.clone()));
    }
    if let Some(t) = query.top {
        options.push(("$top", t.to_string()));
    }
    for (i, (name, value)) in options.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(value, ODATA_VALUE));
    }
    url
}

/// A `$filter` datetime literal: `2024-01-01T00:00:00.123Z`, unquoted.
///
/// Millisecond precision, which is what BC stores; sub-millisecond digits
/// are truncated, so a `gt` filter may re-read a record at the boundary
/// rather than miss one.
pub fn odata_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A quoted OData string literal, with `'` doubled as OData requires.
pub fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A BC company, from `GET {root}/companies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    /// The company GUID used in `companies({id})`.
    pub id: String,
    /// The company name (what the web client's `?company=` takes).
    pub name: String,
    /// The display name.
    #[serde(default)]
    pub display_name: String,
}

/// One page of a collection, its entities read as `T` (`serde_json::Value`
/// unless asked otherwise, [`crate::Record`] on the sync's hot path).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T = serde_json::Value> {
    /// The entities of the page (`value`).
    pub values: Vec<T>,
    /// The URL this page was read from (the first URL or a nextLink).
    pub url: String,
    /// BC's clock when it sent the page (its `Date` header), when given.
    pub date: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0";

    #[test]
    fn collection_url_encodes_values_readably() {
        let q = Query {
            filter: Some(
                "lastModifiedDateTime gt 2024-01-01T00:00:00.000Z and number eq 'A&B #1+2'".into(),
            ),
            select: vec!["id".into(), "number".into()],
            expand: Some("salesInvoiceLines($select=id,lineType)".into()),
            orderby: Some("lastModifiedDateTime asc".into()),
            top: Some(5),
        };
        assert_eq!(
            collection_url(
                ROOT,
                "70c0c603-f4f9-ef11-9344-6045bdc8c234",
                "salesInvoices",
                &q
            ),
            format!(
                "{ROOT}/companies(70c0c603-f4f9-ef11-9344-6045bdc8c234)/salesInvoices\
                 ?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00.000Z%20and%20number%20eq%20'A%26B%20%231%2B2'\
                 &$select=id,number&$expand=salesInvoiceLines($select=id,lineType)\
                 &$orderby=lastModifiedDateTime%20asc&$top=5"
            )
        );
    }

    #[test]
    fn collection_url_without_options_and_with_unicode() {
        assert_eq!(
            collection_url(&format!("{ROOT}/"), "c", "customers", &Query::default()),
            format!("{ROOT}/companies(c)/customers")
        );
        let q = Query {
            filter: Some("displayName eq 'Müller'".into()),
            ..Query::default()
        };
        assert!(
            collection_url(ROOT, "c", "customers", &q)
                .ends_with("?$filter=displayName%20eq%20'M%C3%BCller'")
        );
        // The result is a valid URL that decodes back to the same filter.
        let url = url::Url::parse(&collection_url(ROOT, "c", "customers", &q)).unwrap();
        let (k, v) = url.query_pairs().next().unwrap();
        assert_eq!(
            (k.as_ref(), v.as_ref()),
            ("$filter", "displayName eq 'Müller'")
        );
    }

    #[test]
    fn datetime_literal_has_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2024-01-01T00:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(odata_datetime(t), "2024-01-01T00:00:00.123Z");
        let t = DateTime::parse_from_rfc3339("2025-03-05T19:19:22+02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(odata_datetime(t), "2025-03-05T17:19:22.000Z");
    }

    #[test]
    fn string_literal_doubles_quotes() {
        assert_eq!(odata_string("O'Brien"), "'O''Brien'");
    }
}
