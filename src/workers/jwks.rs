//! [`WorkerFetch`]: the runtime's `fetch` for the pipeline's JWKS requests.

use super::deadline::within;
use crate::authenticate::MAX_JWKS_BYTES;
use futures_util::StreamExt;
use std::time::Duration;
use worker::{Fetch, Url};

/// Fetches JWKS documents with the Workers runtime's `fetch`, giving up after a timeout and past
/// [`MAX_JWKS_BYTES`] (the pipeline then keeps the keys it had).
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

    /// The body of `url`, read up to [`MAX_JWKS_BYTES`], or why there is none.
    pub async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        let url = Url::parse(url).map_err(|e| e.to_string())?;
        let exchange = async {
            let mut response = Fetch::Url(url).send().await.map_err(|e| e.to_string())?;
            let status = response.status_code();
            if !(200..=299).contains(&status) {
                return Err(format!("the JWKS URL answered {status}"));
            }
            // Read in chunks, so a huge or endless body stops at the cap rather than in memory.
            let mut stream = response.stream().map_err(|e| e.to_string())?;
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                body.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
                if body.len() > MAX_JWKS_BYTES {
                    return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
                }
            }
            String::from_utf8(body).map_err(|_| "the JWKS is not UTF-8".to_owned())
        };
        within(exchange, self.timeout)
            .await
            .unwrap_or_else(|| Err(format!("no answer within {:?}", self.timeout)))
    }
}
