//! BC's webhook subscriptions API (`{root}/subscriptions`) and the list of
//! resources that take subscriptions
//! (`api/microsoft/runtime/beta/companies({id})/webhookSupportedResources`).
//!
//! BC handshakes with the notification URL on create and on renewal (PATCH
//! with `If-Match`), so the receiver must be listening first; a subscription
//! lives three days. See `bcq serve` for how bcq keeps them.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::BcClient;
use crate::error::BcError;
use crate::odata::odata_string;

/// A subscription as BC returns it.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BcSubscription {
    /// BC's id (addressed `subscriptions('<id>')`).
    pub subscription_id: String,
    /// Where BC posts notifications.
    #[serde(default)]
    pub notification_url: String,
    /// The resource as given on create.
    #[serde(default)]
    pub resource: String,
    /// The secret echoed in every notification.
    #[serde(default)]
    pub client_state: Option<String>,
    /// When BC deletes it unless renewed.
    pub expiration_date_time: DateTime<Utc>,
    /// The version tag for `If-Match`.
    #[serde(rename = "@odata.etag", default)]
    pub etag: Option<String>,
}

impl std::fmt::Debug for BcSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcSubscription")
            .field("subscription_id", &self.subscription_id)
            .field("notification_url", &self.notification_url)
            .field("resource", &self.resource)
            .field("expiration_date_time", &self.expiration_date_time)
            .finish_non_exhaustive()
    }
}

fn decode<T: for<'de> Deserialize<'de>>(url: &str, v: serde_json::Value) -> Result<T, BcError> {
    serde_json::from_value(v).map_err(|source| BcError::Decode {
        url: url.to_string(),
        attempts: 1,
        source,
    })
}

#[derive(Deserialize)]
struct List<T> {
    value: Vec<T>,
}

#[derive(Deserialize)]
struct Supported {
    resource: String,
}

impl BcClient {
    /// `{api_base}/{tenant}/{environment}/api/microsoft/runtime/beta`.
    pub fn runtime_root(&self) -> String {
        self.custom_api_root("microsoft", "runtime", "beta")
    }

    /// The resources of a company that take subscriptions, as BC writes
    /// them: `v2.0/customers`, or `<publisher>/<group>/<version>/<set>`.
    pub async fn webhook_supported_resources(
        &self,
        company_id: &str,
    ) -> Result<Vec<String>, BcError> {
        let url = format!(
            "{}/companies({company_id})/webhookSupportedResources",
            self.runtime_root()
        );
        let v = self.get_json(&url).await?;
        let list: List<Supported> = decode(&url, v)?;
        Ok(list.value.into_iter().map(|s| s.resource).collect())
    }

    /// Every subscription of the environment under `root` (BC lists the
    /// environment's subscriptions whatever app created them), and BC's
    /// clock when it answered (its `Date` header; expiry is on that clock).
    pub async fn subscriptions(
        &self,
        root: &str,
    ) -> Result<(Vec<BcSubscription>, Option<DateTime<Utc>>), BcError> {
        let url = format!("{root}/subscriptions");
        let (v, date) = self
            .execute_dated(&url, false, |body| crate::json::from_slice_lossy(&body))
            .await?;
        let list: List<BcSubscription> = decode(&url, v)?;
        Ok((list.value, date))
    }

    /// Creates a subscription (BC handshakes with `notification_url` first).
    pub async fn create_subscription(
        &self,
        root: &str,
        notification_url: &str,
        resource: &str,
        client_state: &str,
    ) -> Result<BcSubscription, BcError> {
        let url = format!("{root}/subscriptions");
        let body = json!({
            "notificationUrl": notification_url,
            "resource": resource,
            "clientState": client_state,
        });
        let v = self
            .send_json(Method::POST, &url, Some(&body), None)
            .await?;
        decode(&url, v)
    }

    /// Renews a subscription for three more days (BC handshakes again).
    pub async fn renew_subscription(
        &self,
        root: &str,
        id: &str,
        etag: &str,
        notification_url: &str,
        resource: &str,
        client_state: &str,
    ) -> Result<BcSubscription, BcError> {
        let url = subscription_url(root, id);
        let body = json!({
            "notificationUrl": notification_url,
            "resource": resource,
            "clientState": client_state,
        });
        let v = self
            .send_json(Method::PATCH, &url, Some(&body), Some(etag))
            .await?;
        decode(&url, v)
    }

    /// Deletes a subscription (`If-Match: *` when the tag is unknown).
    pub async fn delete_subscription(
        &self,
        root: &str,
        id: &str,
        etag: Option<&str>,
    ) -> Result<(), BcError> {
        let url = subscription_url(root, id);
        self.send_json(Method::DELETE, &url, None, Some(etag.unwrap_or("*")))
            .await
            .map(drop)
    }
}

/// `{root}/subscriptions('<id>')`, the id quoted as an OData string.
fn subscription_url(root: &str, id: &str) -> String {
    format!("{root}/subscriptions({})", odata_string(id))
}
