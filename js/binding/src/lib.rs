//! The wasm-bindgen exports behind the `edge-tenancy` npm package.
//!
//! One crossing per call, strings in and strings out: that is the cheapest shape across the wasm
//! boundary (see the project's performance notes). Errors cross as the JSON of
//! [`edge_tenancy::ErrorResponse`], which `js/index.js` turns into an `EdgeTenancyError`.

use edge_tenancy::authenticate::{bearer_token, AuthError, Verifier};
use edge_tenancy::pipeline::Pipeline;
use edge_tenancy::resolve::RequestParts;
use edge_tenancy::{Error, TenancyConfig, TenantId};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;

/// The library's version.
#[wasm_bindgen]
pub fn version() -> String {
    edge_tenancy::VERSION.to_owned()
}

/// Returns `input` when it is a valid tenant id; throws the error JSON otherwise.
#[wasm_bindgen(js_name = parseTenantId)]
pub fn parse_tenant_id(input: &str) -> Result<String, String> {
    TenantId::parse(input)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| error_json(&Error::from(e)))
}

/// A configured pipeline: resolve, authenticate and authorize requests.
#[wasm_bindgen]
pub struct Tenancy {
    pipeline: Pipeline<Verifier>,
}

#[wasm_bindgen]
impl Tenancy {
    /// Builds the pipeline from a plain config object; a bad setting throws here, once.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsValue) -> Result<Tenancy, JsError> {
        let config: TenancyConfig = serde_wasm_bindgen::from_value(config)
            .map_err(|e| JsError::new(&format!("invalid edge-tenancy configuration: {e}")))?;
        // Public-key signatures go to WebCrypto in JS (js/index.js): native there, several
        // times faster than Rust in wasm.
        let pipeline = config
            .build()
            .map_err(|e| JsError::new(&e.to_string()))?
            .map_verifier(Verifier::with_caller_signatures);
        Ok(Tenancy { pipeline })
    }

    /// The header names the pipeline reads, newline-separated, so JS passes only those.
    #[wasm_bindgen(js_name = headerNames)]
    pub fn header_names(&self) -> String {
        self.pipeline.headers_read().join("\n")
    }

    /// Runs the pipeline. `headers` is `name\nvalue\n` pairs; `now` is seconds since the epoch.
    /// Returns `{"context": …, "until": t}` with the tenant context and the time it holds until
    /// for the same request (`null`: no limit), `{"error": …}` with the error response, or
    /// `{"check": {"key", "alg"}}` when the token's public-key signature is for JS to check (then
    /// [`Tenancy::resolve_checked`] gives the answer), or `{"fetch": url}` when the keys are due
    /// from the JWKS URL (JS fetches them for [`Tenancy::install_jwks`] and asks again).
    pub fn resolve(&self, url: &str, headers: &str, now: f64) -> String {
        self.run(&request(url, headers), now)
    }

    /// As [`Tenancy::resolve`], with JS's verdict on the signature of the token in `headers`,
    /// checked with key number `key`. A verdict reached with another key than the token's is
    /// ignored: the answer is then a `check` again.
    #[wasm_bindgen(js_name = resolveChecked)]
    pub fn resolve_checked(
        &self,
        url: &str,
        headers: &str,
        now: f64,
        key: usize,
        valid: bool,
    ) -> String {
        let request = request(url, headers);
        if let (Ok(Some(authorization)), Some(verifier)) =
            (request.header("authorization"), self.pipeline.verifier())
        {
            if let Ok(token) = bearer_token(authorization, usize::MAX) {
                verifier.provide_verdict(token, key, valid);
            }
        }
        self.run(&request, now)
    }

    /// How JS may replay answers ([`edge_tenancy::pipeline::Reuse`]), as JSON.
    pub fn reuse(&self) -> String {
        serde_json::to_string(&self.pipeline.reuse()).expect("a reuse policy serializes")
    }

    /// Installs the JWKS `body` JS fetched at `now` for a `{"fetch": url}` answer (`undefined`:
    /// the fetch failed). Returns why the keys were not changed, or `undefined` when they were
    /// (then key numbers name other keys and earlier answers may no longer hold).
    #[wasm_bindgen(js_name = installJwks)]
    pub fn install_jwks(&self, body: Option<String>, now: f64) -> Option<String> {
        let verifier = self.pipeline.verifier()?;
        verifier.install_jwks(body.as_deref(), now as i64).err()
    }

    /// Key number `key`'s public JWK as JSON, for `crypto.subtle.importKey`.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self, key: usize) -> Option<String> {
        let jwk = self.pipeline.verifier()?.public_jwk(key)?;
        Some(jwk.to_string())
    }

    fn run(&self, request: &RequestParts, now: f64) -> String {
        match now_or_never(self.pipeline.run(request, now as i64)) {
            Some(Ok(context)) => format!(
                r#"{{"context":{},"until":{}}}"#,
                serde_json::to_string(&context).expect("a context serializes"),
                self.pipeline
                    .valid_until(&context)
                    .map_or("null".to_owned(), |t| t.to_string())
            ),
            Some(Err(Error::FetchKeys)) => {
                let url = self.pipeline.verifier().and_then(Verifier::jwks_url);
                format!(
                    r#"{{"fetch":{}}}"#,
                    serde_json::to_string(&url).expect("a URL serializes")
                )
            }
            Some(Err(Error::Unauthenticated(AuthError::SignatureCheckNeeded(check)))) => {
                format!(
                    r#"{{"check":{{"key":{},"alg":"{}"}}}}"#,
                    check.key, check.alg
                )
            }
            Some(Err(error)) => format!(r#"{{"error":{}}}"#, error_json(&error)),
            None => unreachable!("the JS pipeline's verifier and domain lookup are synchronous"),
        }
    }
}

/// The request from the URL and `name\nvalue\n` header pairs JS passes.
fn request(url: &str, headers: &str) -> RequestParts {
    let mut lines = headers.split('\n');
    let pairs = std::iter::from_fn(|| Some((lines.next()?, lines.next()?.to_owned())));
    RequestParts::new(url, pairs)
}

/// Polls a future once. The pipeline in the npm package does no I/O (static custom domains, a
/// verifier with its keys in memory), so its future is ready on the first poll.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn error_json(error: &Error) -> String {
    serde_json::to_string(&error.to_response()).expect("an error response serializes")
}
