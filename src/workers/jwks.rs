//! [`WorkerFetch`]: the runtime's `fetch` behind the [`FetchJwks`] edge.

use super::deadline::within;
use crate::authenticate::FetchJwks;
use std::time::Duration;
use worker::{Fetch, Url};

/// Fetches JWKS documents with the Workers runtime's `fetch`, giving up after a timeout (the
/// verifier then keeps the keys it had).
#[derive(Debug, Clone, Copy)]
pub struct WorkerFetch {
    timeout: Duration,
}

impl Default for WorkerFetch {
    /// A 5 second timeout, as the npm package uses.
    fn default() -> Self {
        Self::with_timeout(Duration::from_secs(5))
    }
}

impl WorkerFetch {
    /// A fetcher that gives up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl FetchJwks for WorkerFetch {
    async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        let url = Url::parse(url).map_err(|e| e.to_string())?;
        let exchange = async {
            let mut response = Fetch::Url(url).send().await.map_err(|e| e.to_string())?;
            match response.status_code() {
                200..=299 => response.text().await.map_err(|e| e.to_string()),
                status => Err(format!("JWKS answered {status}")),
            }
        };
        within(exchange, self.timeout)
            .await
            .unwrap_or_else(|| Err(format!("no answer within {:?}", self.timeout)))
    }
}
