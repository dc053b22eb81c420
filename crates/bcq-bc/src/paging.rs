//! Collections as a stream of pages, following `@odata.nextLink` until BC
//! stops sending one. The nextLink is used verbatim: BC's `$skiptoken` is
//! opaque and rebuilding the URL would lose it.

use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::BcClient;
use crate::error::BcError;
use crate::odata::Page;

#[derive(Deserialize)]
struct RawPage<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Where the stream is.
enum State {
    /// The next URL to read.
    Next(String),
    /// The last page was read, or an error ended the stream.
    Done,
}

impl BcClient {
    /// The pages of a collection starting at `url`, with
    /// `Prefer: odata.maxpagesize=N` when a page size is configured.
    ///
    /// The stream ends after the first error: a page cannot be skipped
    /// without losing the nextLink behind it.
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
        futures::stream::unfold(State::Next(url), move |state| {
            let client = client.clone();
            async move {
                let State::Next(url) = state else { return None };
                let fetched = client
                    .execute(&url, true, |body| {
                        serde_json::from_slice::<RawPage<T>>(&body)
                    })
                    .await;
                Some(match fetched {
                    Ok(raw) => {
                        let next = match raw.next_link {
                            Some(link) if link != url => State::Next(link),
                            Some(_) => {
                                // A nextLink to itself would loop forever.
                                tracing::warn!(url, "nextLink repeats the current url; stopping");
                                State::Done
                            }
                            None => State::Done,
                        };
                        (
                            Ok(Page {
                                values: raw.value,
                                url,
                            }),
                            next,
                        )
                    }
                    Err(e) => (Err(e), State::Done),
                })
            }
        })
    }
}
