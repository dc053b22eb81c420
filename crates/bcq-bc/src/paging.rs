//! Collections as a stream of pages, following `@odata.nextLink` until BC
//! stops sending one. The nextLink is used verbatim: BC's `$skiptoken` is
//! opaque and rebuilding the URL would lose it.
//!
//! Only a page without a nextLink ends a read. Anything else that stops
//! paging is an error of the stream, so that a caller can never take a
//! partial read for the whole collection (and delete what it did not see):
//! a nextLink that repeats a page already read (a cycle, however long), an
//! empty page that still has a nextLink, and a read that goes on past what
//! the collection holds. The last is checked lazily: after
//! [`PAGES_BEFORE_COUNT`] pages, BC is asked once for the collection's
//! `$count` under the same filter, and the read may then return at most
//! that many records plus [`COUNT_SLACK`] (records created while reading);
//! when BC cannot count, [`MAX_RECORDS_UNCOUNTED`] bounds it.

use std::collections::HashSet;

use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::BcClient;
use crate::error::BcError;
use crate::odata::Page;

/// Pages read before the collection's size is asked for: reads of up to
/// 100 pages (100,000 records at the default page size) cost no extra request.
pub const PAGES_BEFORE_COUNT: u64 = 100;

/// Share of the counted size a read may exceed it by (records created while
/// it runs), at least one page's worth.
pub const COUNT_SLACK: f64 = 0.10;

/// The most records one read returns when BC could not count the collection.
pub const MAX_RECORDS_UNCOUNTED: u64 = 50_000_000;

#[derive(Deserialize)]
struct RawPage<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Where the stream is.
enum State {
    /// The next URL to read, and what was read so far.
    Next(String, Read),
    /// The last page was read, or an error ended the stream.
    Done,
}

/// What a read has seen, to recognise paging that does not end.
struct Read {
    /// The first URL (the collection and its options).
    first: String,
    /// Every URL read so far: a nextLink among them is a cycle.
    urls: HashSet<String>,
    /// Pages read.
    pages: u64,
    /// Records read.
    records: u64,
    /// The most records the read may return, once known.
    cap: Option<u64>,
}

impl Read {
    fn new(first: &str) -> Read {
        Read {
            first: first.to_string(),
            urls: HashSet::new(),
            pages: 0,
            records: 0,
            cap: None,
        }
    }

    /// Counts a page read from `url`; the anomaly when there is one.
    fn check(&mut self, url: &str, len: usize, next: Option<&str>) -> Result<(), String> {
        self.pages += 1;
        self.records += len as u64;
        if let Some(cap) = self.cap.filter(|c| self.records > *c) {
            return Err(format!(
                "{} records read, more than the {cap} the collection can hold (its $count plus {:.0}%)",
                self.records,
                COUNT_SLACK * 100.0
            ));
        }
        let Some(next) = next else { return Ok(()) };
        if len == 0 {
            return Err("an empty page still has a nextLink".into());
        }
        if next == url || self.urls.contains(next) {
            return Err(format!(
                "the nextLink {next} repeats a page already read in this read (a cycle)"
            ));
        }
        Ok(())
    }
}

/// `{collection}/$count` with the first URL's `$filter`: how many records
/// the collection holds under the read's filter.
fn count_url(first: &str) -> Option<String> {
    let url = url::Url::parse(first).ok()?;
    let mut count = url.clone();
    count.set_path(&format!("{}/$count", url.path().trim_end_matches('/')));
    count.set_query(None);
    if let Some((_, f)) = url.query_pairs().find(|(k, _)| k == "$filter") {
        let encoded: String =
            percent_encoding::utf8_percent_encode(&f, crate::odata::ODATA_VALUE).to_string();
        count.set_query(Some(&format!("$filter={encoded}")));
    }
    Some(count.to_string())
}

impl BcClient {
    /// The pages of a collection starting at `url`, with
    /// `Prefer: odata.maxpagesize=N` when a page size is configured.
    ///
    /// The stream ends after the first error: a page cannot be skipped
    /// without losing the nextLink behind it. See the module doc for what
    /// counts as an error besides BC's own.
    pub fn pages(&self, url: String) -> impl Stream<Item = Result<Page, BcError>> + Send + 'static {
        self.pages_of(url)
    }

    /// [`BcClient::pages`] with the entities read as `T`.
    pub fn pages_of<T>(
        &self,
        url: String,
    ) -> impl Stream<Item = Result<Page<T>, BcError>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        let read = Read::new(&url);
        futures::stream::unfold(State::Next(url, read), move |state| {
            let client = client.clone();
            async move {
                let State::Next(url, mut read) = state else {
                    return None;
                };
                if read.pages == PAGES_BEFORE_COUNT && read.cap.is_none() {
                    read.cap = Some(client.read_cap(&read.first).await);
                }
                let fetched = client
                    .execute_dated(&url, true, |body| {
                        crate::json::from_slice_lossy::<RawPage<T>>(&body)
                    })
                    .await;
                Some(match fetched {
                    Ok((raw, date)) => {
                        match read.check(&url, raw.value.len(), raw.next_link.as_deref()) {
                            Err(reason) => (
                                Err(BcError::PagingAnomaly {
                                    url: url.clone(),
                                    reason,
                                }),
                                State::Done,
                            ),
                            Ok(()) => {
                                let next = match raw.next_link {
                                    Some(link) => {
                                        read.urls.insert(url.clone());
                                        State::Next(link, read)
                                    }
                                    None => State::Done,
                                };
                                (
                                    Ok(Page {
                                        values: raw.value,
                                        url,
                                        date,
                                    }),
                                    next,
                                )
                            }
                        }
                    }
                    Err(e) => (Err(e), State::Done),
                })
            }
        })
    }

    /// The most records a read of `first` may return: BC's `$count` of the
    /// collection under the same filter, plus [`COUNT_SLACK`]; when BC
    /// cannot count it, [`MAX_RECORDS_UNCOUNTED`].
    async fn read_cap(&self, first: &str) -> u64 {
        let counted = match count_url(first) {
            Some(u) => self
                .execute(&u, false, |body| {
                    serde_json::from_slice::<u64>(body.trim_ascii())
                })
                .await
                .map_err(|e| e.to_string()),
            None => Err("the url does not parse".into()),
        };
        match counted {
            Ok(n) => {
                n + ((n as f64 * COUNT_SLACK) as u64).max(self.page_size().unwrap_or(1000).into())
            }
            Err(e) => {
                tracing::warn!(url = first, error = %e, "business central could not count the collection; a read is capped at {MAX_RECORDS_UNCOUNTED} records");
                MAX_RECORDS_UNCOUNTED
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_found_however_long() {
        let mut r = Read::new("u1");
        assert!(r.check("u1", 2, Some("u2")).is_ok());
        r.urls.insert("u1".into());
        assert!(r.check("u2", 2, Some("u3")).is_ok());
        r.urls.insert("u2".into());
        let e = r.check("u3", 2, Some("u1")).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
        let e = Read::new("x").check("x", 2, Some("x")).unwrap_err();
        assert!(e.contains("repeats a page"), "{e}");
    }

    #[test]
    fn an_empty_page_ends_only_without_a_nextlink() {
        assert!(Read::new("u").check("u", 0, None).is_ok());
        let e = Read::new("u").check("u", 0, Some("v")).unwrap_err();
        assert!(e.contains("empty page"), "{e}");
    }

    #[test]
    fn records_past_the_cap_are_refused() {
        let mut r = Read::new("u");
        r.cap = Some(5);
        assert!(r.check("u", 5, Some("v")).is_ok());
        let e = r.check("v", 1, Some("w")).unwrap_err();
        assert!(e.contains("more than the 5"), "{e}");
    }

    #[test]
    fn the_count_url_keeps_only_the_filter() {
        let first = "https://h/v2.0/t/p/api/v2.0/companies(c)/salesInvoices?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00.000Z&$select=id,number&$expand=salesInvoiceLines";
        assert_eq!(
            count_url(first).unwrap(),
            "https://h/v2.0/t/p/api/v2.0/companies(c)/salesInvoices/$count?$filter=lastModifiedDateTime%20gt%202024-01-01T00:00:00.000Z"
        );
        assert_eq!(
            count_url("https://h/a/customers?$select=id").unwrap(),
            "https://h/a/customers/$count"
        );
    }
}
