//! [`WorkerFetch`]: the runtime's `fetch` behind the [`FetchJwks`] edge.

use crate::authenticate::FetchJwks;
use worker::{Fetch, Url};

/// Fetches JWKS documents with the Workers runtime's `fetch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerFetch;

impl FetchJwks for WorkerFetch {
    async fn fetch_jwks(&self, url: &str) -> Result<String, String> {
        let url = Url::parse(url).map_err(|e| e.to_string())?;
        let mut response = Fetch::Url(url).send().await.map_err(|e| e.to_string())?;
        match response.status_code() {
            200..=299 => response.text().await.map_err(|e| e.to_string()),
            status => Err(format!("JWKS answered {status}")),
        }
    }
}
