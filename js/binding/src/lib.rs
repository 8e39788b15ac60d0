//! The wasm-bindgen exports behind the `edge-tenancy` npm package.
//!
//! JS drives the pipeline's state machine ([`edge_tenancy::pipeline`]): [`Tenancy::start`] runs
//! a request as far as it goes without I/O, and answers with the context, the error, or one I/O
//! request; JS performs it (`fetch`, `crypto.subtle.verify`, a lookup callback) and resumes the
//! run with the `resume…` call of that kind. Runs waiting for I/O are kept here, by number, so
//! JS holds nothing that could pass for a verified request.
//!
//! Strings and numbers cross the boundary, the cheapest shape across it (see the project's
//! performance notes); every answer is one JSON object.

use edge_tenancy::authenticate::KeyRef;
use edge_tenancy::config::quoted;
use edge_tenancy::lookup::TenantStatus;
use edge_tenancy::pipeline::{Io, Pipeline, Reply, Run, Step, Ticket};
use edge_tenancy::resolve::RequestParts;
use edge_tenancy::{Error, Fault, TenancyConfig, TenantId, UnixTime};
use std::cell::RefCell;
use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

/// The most runs waiting for I/O at once; past it the oldest is dropped (its reply then fails
/// closed), so requests that JS abandons cannot grow memory without bound.
const MAX_RUNS_WAITING: usize = 4096;

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

/// A configured pipeline and the runs that wait for JS to do their I/O.
#[wasm_bindgen]
pub struct Tenancy {
    pipeline: Pipeline,
    runs: RefCell<Runs>,
}

/// Runs waiting for I/O, by number.
#[derive(Default)]
struct Runs {
    waiting: BTreeMap<u32, Run>,
    next: u32,
}

#[wasm_bindgen]
impl Tenancy {
    /// Builds the pipeline from the configuration as JSON text. Every setting is checked here,
    /// once: an unknown or misspelled one at any depth throws, naming its path.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> Result<Tenancy, JsError> {
        let pipeline = TenancyConfig::pipeline_from_json(config)
            .map_err(|e| JsError::new(&e.to_string()))?
            // Public-key signatures go to WebCrypto in JS: native there, several times faster
            // than Rust in wasm.
            .with_caller_signatures();
        Ok(Tenancy {
            pipeline,
            runs: RefCell::default(),
        })
    }

    /// The header names the pipeline reads, newline-separated, so JS passes only those.
    #[wasm_bindgen(js_name = headerNames)]
    pub fn header_names(&self) -> String {
        self.pipeline.headers_read().join("\n")
    }

    /// How JS may replay answers ([`edge_tenancy::pipeline::Reuse`]) as JSON; `null` when the
    /// pipeline looks domains or tenants up.
    pub fn reuse(&self) -> String {
        serde_json::to_string(&self.pipeline.reuse()).unwrap_or_else(|_| "null".into())
    }

    /// Which lookups JS must answer: `{"domains": bool, "tenants": bool}`.
    pub fn lookups(&self) -> String {
        let resolver = self.pipeline.resolver();
        format!(
            r#"{{"domains":{},"tenants":{}}}"#,
            resolver.looks_up_domains(),
            resolver.looks_up_tenants()
        )
    }

    /// The key set's generation: it changes whenever keys from the JWKS URL change.
    pub fn generation(&self) -> u32 {
        self.pipeline.verifier().map_or(0, |v| v.generation())
    }

    /// The public JWK of key `index` of generation `generation`, as JSON for
    /// `crypto.subtle.importKey`; `undefined` for a key that is gone.
    #[wasm_bindgen(js_name = publicKey)]
    pub fn public_key(&self, generation: u32, index: usize) -> Option<String> {
        let key = KeyRef { generation, index };
        Some(self.pipeline.verifier()?.public_jwk(key)?.to_string())
    }

    /// Starts a request. `headers` is `name\nvalue\n` pairs; `now` is `Date.now()`. The answer is
    /// `{"done": context, "admin": bool, "until": ms | null}` (`admin`: the caller administers
    /// every tenant; `until`: when the same request stops getting the same answer),
    /// `{"error": {status, code, message, …}}`, or `{"run", "ticket", "io"}` with one
    /// of `{"fetch": {"url", "id"}}`, `{"check": {"generation", "index", "alg"}}` (the token's
    /// signature), `{"domain": host}`, `{"tenant": id}`. Every answer carries `gen`, the key
    /// set's generation, and `notes` for the log when there are any.
    ///
    /// `checked` is JS's verdict on the token's signature made before the call, as
    /// `"generation index valid"` (`valid` 1 or 0), for a token whose header JS has seen checked
    /// with that key: it stands if the verifier picks exactly that key for the token
    /// ([`Pipeline::start_with_verdict`]), so a first sight takes one crossing and one parse;
    /// otherwise the run asks for the check. Malformed, it is ignored.
    pub fn start(&self, url: &str, headers: &str, now: f64, checked: Option<String>) -> String {
        let now = UnixTime::from_js_millis(now);
        let request = request(url, headers);
        let (run, step) = match checked.as_deref().and_then(verdict) {
            Some((key, valid)) => self.pipeline.start_with_verdict(request, now, key, valid),
            None => self.pipeline.start(request, now),
        };
        self.answer(run, step, now)
    }

    /// Resumes run `run` with the JWKS body JS fetched (`undefined`: the fetch failed, `why`).
    #[wasm_bindgen(js_name = resumeJwks)]
    pub fn resume_jwks(
        &self,
        run: u32,
        ticket: u32,
        body: Option<String>,
        why: &str,
        now: f64,
    ) -> String {
        let reply = body.map_or_else(|| Reply::Unavailable(why.to_owned()), Reply::Jwks);
        self.resume(run, ticket, reply, now)
    }

    /// Resumes run `run` with JS's verdict on the signature (`undefined`: it could not check).
    #[wasm_bindgen(js_name = resumeVerdict)]
    pub fn resume_verdict(&self, run: u32, ticket: u32, valid: Option<bool>, now: f64) -> String {
        let reply = valid.map_or_else(
            || Reply::Unavailable("WebCrypto could not check the signature".into()),
            Reply::Signature,
        );
        self.resume(run, ticket, reply, now)
    }

    /// Resumes run `run` with the tenant that owns the domain (`null`: none), or, when `ok` is
    /// false, with the lookup's failure.
    #[wasm_bindgen(js_name = resumeDomain)]
    pub fn resume_domain(
        &self,
        run: u32,
        ticket: u32,
        tenant: Option<String>,
        ok: bool,
        now: f64,
    ) -> String {
        let reply = match (ok, tenant) {
            (false, _) => Reply::Unavailable("the domain lookup threw".into()),
            (true, None) => Reply::Domain(None),
            (true, Some(tenant)) => match TenantId::parse(&tenant) {
                Ok(tenant) => Reply::Domain(Some(tenant)),
                Err(_) => {
                    Reply::Unavailable("the domain lookup answered an invalid tenant id".into())
                }
            },
        };
        self.resume(run, ticket, reply, now)
    }

    /// Resumes run `run` with the registry's answer as JSON (`{"state": "ready"}`,
    /// `{"state": "notFound"}`, `{"state": "unavailable", "retryAfterSecs": n}`), or, when
    /// `undefined`, with the lookup's failure.
    #[wasm_bindgen(js_name = resumeTenant)]
    pub fn resume_tenant(&self, run: u32, ticket: u32, status: Option<String>, now: f64) -> String {
        let reply = match status.as_deref().map(serde_json::from_str::<TenantStatus>) {
            Some(Ok(status)) => Reply::Tenant(status),
            Some(Err(_)) => Reply::Unavailable("the tenant lookup answered no status".into()),
            None => Reply::Unavailable("the tenant lookup threw".into()),
        };
        self.resume(run, ticket, reply, now)
    }

    /// Drops run `run` (JS gave up on it).
    pub fn abandon(&self, run: u32) {
        self.runs.borrow_mut().waiting.remove(&run);
    }

    fn resume(&self, run: u32, ticket: u32, reply: Reply, now: f64) -> String {
        let now = UnixTime::from_js_millis(now);
        let Some(mut waiting) = self.runs.borrow_mut().waiting.remove(&run) else {
            // Dropped, finished, or never started: a reply to nothing fails closed.
            return self.failed(&Error::Fault(Fault::StaleReply), &[]);
        };
        let step = self
            .pipeline
            .resume(&mut waiting, Ticket::from_number(ticket), reply, now);
        self.answer(waiting, step, now)
    }

    /// The JSON answer for `step`; a run that waits for I/O is kept under a new number.
    fn answer(&self, mut run: Run, step: Step, now: UnixTime) -> String {
        let notes = run.take_notes();
        match step {
            Step::Done(context) => {
                let until = self.pipeline.replay_until(&context, now);
                format!(
                    r#"{{"done":{},"admin":{},"until":{},"gen":{}{}}}"#,
                    serde_json::to_string(&context).unwrap_or_else(|_| "null".into()),
                    self.pipeline.require_administrator(&context).is_ok(),
                    until.map_or("null".to_owned(), |t| t.millis().to_string()),
                    self.generation(),
                    notes_json(&notes),
                )
            }
            Step::Failed(error) => self.failed(&error, &notes),
            Step::Io(ticket, io) => {
                let io = match &io {
                    Io::FetchJwks(fetch) => format!(
                        r#"{{"fetch":{{"url":{},"id":{}}}}}"#,
                        quoted(&fetch.url),
                        fetch.id.0
                    ),
                    Io::CheckSignature(check) => format!(
                        r#"{{"check":{{"generation":{},"index":{},"alg":"{}"}}}}"#,
                        check.key.generation, check.key.index, check.alg
                    ),
                    Io::LookUpDomain(host) => {
                        format!(r#"{{"domain":{}}}"#, quoted(host.as_str()))
                    }
                    Io::LookUpTenant(tenant) => format!(r#"{{"tenant":"{tenant}"}}"#),
                };
                let mut runs = self.runs.borrow_mut();
                let number = runs.next;
                runs.next = runs.next.wrapping_add(1);
                if runs.waiting.len() >= MAX_RUNS_WAITING {
                    runs.waiting.pop_first();
                }
                runs.waiting.insert(number, run);
                format!(
                    r#"{{"run":{number},"ticket":{},"io":{io},"gen":{}{}}}"#,
                    ticket.get(),
                    self.generation(),
                    notes_json(&notes),
                )
            }
        }
    }

    fn failed(&self, error: &Error, notes: &[String]) -> String {
        format!(
            r#"{{"error":{},"gen":{}{}}}"#,
            error_json(error),
            self.generation(),
            notes_json(notes)
        )
    }
}

/// The request from the URL and `name\nvalue\n` header pairs JS passes.
fn request(url: &str, headers: &str) -> RequestParts {
    let mut lines = headers.split('\n');
    let pairs = std::iter::from_fn(|| Some((lines.next()?, lines.next()?.to_owned())));
    RequestParts::new(url, pairs)
}

/// JS's verdict `"generation index valid"` (`valid` 1 or 0); `None` for anything else.
fn verdict(checked: &str) -> Option<(KeyRef, bool)> {
    let mut parts = checked.split(' ').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(generation)), Some(Ok(index)), Some(Ok(valid @ (0 | 1))), None) => {
            let index = usize::try_from(index).ok()?;
            Some((KeyRef { generation, index }, valid == 1))
        }
        _ => None,
    }
}

fn notes_json(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    format!(r#","notes":{}"#, serde_json::Value::from(notes.to_vec()))
}

fn error_json(error: &Error) -> String {
    serde_json::to_string(&error.to_response()).unwrap_or_else(|_| {
        r#"{"status":503,"code":"pipeline_fault","message":"the request could not be checked; try again"}"#.into()
    })
}
