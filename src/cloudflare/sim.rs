//! A simulated Cloudflare API on a simulated clock, for the client's tests and the control
//! plane's: every wait is instant, so a 429 storm or a full rate-limit window replays in
//! microseconds, and faults can be put on any call.

use super::*;
use crate::UnixTime;
use serde_json::{json, Value as Json};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub(crate) const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "secret-api-token-never-shown";

/// A fault for the next matching call.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answer with this status (and `retry-after` on 429) without doing the work; `html` bodies
    /// are what Cloudflare's edge sends on 502/503.
    Status(u16, u64),
    /// 200 with `success: false`, work not done.
    SuccessFalse,
    /// Do the work, then lose the answer.
    Drop,
    /// No answer within the timeout, work not done.
    Timeout,
}

#[derive(Default)]
pub(crate) struct Sim {
    pub(crate) now: Cell<UnixTime>,
    pub(crate) databases: RefCell<Vec<(String, String)>>,
    pub(crate) faults: RefCell<VecDeque<(&'static str, Fault)>>,
    pub(crate) log: RefCell<Vec<(UnixTime, String)>>,
    /// (limit, window) of the server's own rate limit.
    pub(crate) limit: Cell<(usize, Duration)>,
    pub(crate) locked_until: Cell<UnixTime>,
    pub(crate) export_polls: Cell<u32>,
    /// The export fails (`status: "error"`) instead of completing.
    pub(crate) export_error: Cell<bool>,
    /// The import fails (`status: "error"`) with this reason instead of completing.
    pub(crate) import_error: RefCell<Option<String>>,
    /// The bindings of the Worker the tests bind to (`edge-tenancy-demo`).
    pub(crate) bindings: RefCell<Vec<Json>>,
    /// The bindings of every other Worker, by name.
    pub(crate) other_bindings: RefCell<BTreeMap<String, Vec<Json>>>,
    /// Calls that take this long (simulated) before the API does their work: (operation, delay).
    pub(crate) slow: RefCell<VecDeque<(&'static str, Duration)>>,
    pub(crate) next_id: Cell<u32>,
    /// Every call yields once before it is served, so calls of concurrent futures interleave.
    pub(crate) yielding: Cell<bool>,
}

#[derive(Clone, Copy)]
pub(crate) struct SimRef<'a>(pub(crate) &'a Sim);

fn envelope(result: Json, info: Option<Json>) -> String {
    let mut e = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let Some(info) = info {
        e["result_info"] = info;
    }
    e.to_string()
}

fn failure(code: u32, message: &str) -> String {
    json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}).to_string()
}

fn answer(status: u16, body: String) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body,
    }
}

impl Sim {
    pub(crate) fn new() -> Self {
        let sim = Self::default();
        sim.limit.set((1_200, Duration::from_secs(300)));
        sim
    }

    pub(crate) fn fault(&self, operation: &'static str, fault: Fault) {
        self.faults.borrow_mut().push_back((operation, fault));
    }

    pub(crate) fn seed(&self, count: usize) {
        for i in 0..count {
            self.create(&format!("seed-{i}"));
        }
    }

    pub(crate) fn create(&self, name: &str) -> Json {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        let uuid = format!("{n:08x}-0000-4000-8000-000000000000");
        self.databases
            .borrow_mut()
            .push((uuid.clone(), name.to_owned()));
        let created_at = chrono::DateTime::from_timestamp_millis(self.now.get().millis())
            .unwrap_or_default()
            .to_rfc3339();
        json!({"uuid": uuid, "name": name, "created_at": created_at, "version": "production", "num_tables": 0, "file_size": 0})
    }

    /// Creates a database and returns its id.
    pub(crate) fn database(&self, name: &str) -> DatabaseId {
        DatabaseId::parse(self.create(name)["uuid"].as_str().unwrap()).unwrap()
    }

    /// The bindings of Worker `script`.
    pub(crate) fn bindings_of(&self, script: &str) -> Vec<Json> {
        if script == "edge-tenancy-demo" {
            return self.bindings.borrow().clone();
        }
        let others = self.other_bindings.borrow();
        others.get(script).cloned().unwrap_or_default()
    }

    fn set_bindings(&self, script: &str, bindings: Vec<Json>) {
        if script == "edge-tenancy-demo" {
            *self.bindings.borrow_mut() = bindings;
        } else {
            let mut others = self.other_bindings.borrow_mut();
            others.insert(script.to_owned(), bindings);
        }
    }

    /// Makes the next call of `operation` take `delay` of simulated time before its work.
    pub(crate) fn slow(&self, operation: &'static str, delay: Duration) {
        self.slow.borrow_mut().push_back((operation, delay));
    }

    pub(crate) fn calls(&self, operation: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .filter(|(_, op)| op == operation)
            .count()
    }

    fn operation(request: &HttpRequest) -> (&'static str, Vec<String>) {
        let path = request.url.split("/accounts/").nth(1).unwrap();
        let (path, _) = path.split_once('?').unwrap_or((path, ""));
        let parts: Vec<String> = path.split('/').skip(1).map(str::to_owned).collect();
        let op = match (
            request.method,
            parts
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
        ) {
            (Method::Post, ["d1", "database"]) => "d1.create",
            (Method::Get, ["d1", "database"]) => "d1.list",
            (Method::Get, ["d1", "database", _]) => "d1.get",
            (Method::Delete, ["d1", "database", _]) => "d1.delete",
            (Method::Patch, ["d1", "database", _]) => "d1.edit",
            (Method::Get, ["d1", "database", _, "time_travel", "bookmark"]) => {
                "d1.time_travel.bookmark"
            }
            (Method::Post, ["d1", "database", _, "time_travel", "restore"]) => {
                "d1.time_travel.restore"
            }
            (Method::Post, ["d1", "database", _, "query"]) => "d1.query",
            (Method::Post, ["d1", "database", _, "export"]) => "d1.export",
            (Method::Post, ["d1", "database", _, "import"]) => "d1.import",
            (Method::Get, ["workers", "scripts", _, "settings"]) => "workers.settings.get",
            (Method::Patch, ["workers", "scripts", _, "settings"]) => "workers.settings.patch",
            _ => "unknown",
        };
        (op, parts)
    }

    fn serve(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let now = self.now.get();
        let (op, parts) = Self::operation(request);
        self.log.borrow_mut().push((now, op.to_owned()));
        assert_eq!(
            request.header("authorization"),
            Some(&*format!("Bearer {TOKEN}"))
        );

        // The global rate limit, as the real API: past it, a lockout until the window passes.
        let (limit, window) = self.limit.get();
        let recent = self
            .log
            .borrow()
            .iter()
            .filter(|&&(t, _)| t + window > now)
            .count();
        if recent > limit && now >= self.locked_until.get() {
            self.locked_until.set(now + window);
        }
        if now < self.locked_until.get() {
            let secs = self
                .locked_until
                .get()
                .since(now)
                .as_millis()
                .div_ceil(1_000);
            let mut r = answer(
                429,
                failure(
                    971,
                    "Please wait and consider throttling your request speed",
                ),
            );
            r.headers.push(("retry-after".into(), secs.to_string()));
            return Ok(r);
        }

        let fault = {
            let mut faults = self.faults.borrow_mut();
            let at = faults.iter().position(|(o, _)| *o == op);
            at.and_then(|i| faults.remove(i)).map(|(_, f)| f)
        };
        match fault {
            Some(Fault::Status(429, after)) => {
                let mut r = answer(429, failure(971, "rate limited"));
                r.headers.push(("retry-after".into(), after.to_string()));
                return Ok(r);
            }
            Some(Fault::Status(status, _)) => {
                return Ok(answer(status, "<html>error</html>".into()))
            }
            Some(Fault::SuccessFalse) => return Ok(answer(200, failure(7500, "Internal error"))),
            Some(Fault::Timeout) => return Err(TransportError::Timeout),
            Some(Fault::Drop) | None => {}
        }
        let response = self.work(op, &parts, request);
        if matches!(fault, Some(Fault::Drop)) {
            return Err(TransportError::Connection(
                "reset after the work was done".into(),
            ));
        }
        let mut response = response;
        let left = limit.saturating_sub(recent);
        response.headers.push((
            "ratelimit".into(),
            format!("\"default\";r={left};t={}", window.as_secs()),
        ));
        Ok(response)
    }

    fn work(&self, op: &str, parts: &[String], request: &HttpRequest) -> HttpResponse {
        let body: Json = request
            .body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Json::Null);
        let query = |key: &str| -> Option<String> {
            let q = request.url.split_once('?')?.1;
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_owned))
        };
        let find = |id: &str| self.databases.borrow().iter().position(|(u, _)| u == id);
        match op {
            "d1.create" => {
                let name = body["name"].as_str().unwrap();
                if self.databases.borrow().iter().any(|(_, n)| n == name) {
                    return answer(
                        400,
                        failure(7502, "A database with that name already exists"),
                    );
                }
                answer(200, envelope(self.create(name), None))
            }
            "d1.list" => {
                let page: usize = query("page").unwrap().parse().unwrap();
                let per_page: usize = query("per_page").unwrap().parse().unwrap();
                let name = query("name");
                let all: Vec<Json> = self
                    .databases
                    .borrow()
                    .iter()
                    .filter(|(_, n)| name.as_ref().is_none_or(|f| n.contains(f.as_str())))
                    .map(|(u, n)| json!({"uuid": u, "name": n, "version": "production"}))
                    .collect();
                let items: Vec<Json> = all
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .cloned()
                    .collect();
                let info = json!({"page": page, "per_page": per_page, "count": items.len(), "total_count": all.len()});
                answer(200, envelope(json!(items), Some(info)))
            }
            "d1.get" => match find(&parts[2]) {
                Some(i) => {
                    let (u, n) = self.databases.borrow()[i].clone();
                    answer(
                        200,
                        envelope(
                            json!({"uuid": u, "name": n, "num_tables": 1, "file_size": 4096}),
                            None,
                        ),
                    )
                }
                None => answer(404, failure(7404, "The database could not be found")),
            },
            "d1.delete" => match find(&parts[2]) {
                Some(i) => {
                    self.databases.borrow_mut().remove(i);
                    answer(200, envelope(Json::Null, None))
                }
                None => answer(404, failure(7404, "The database could not be found")),
            },
            "d1.query" => {
                let entries = body
                    .get("batch")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_else(|| vec![body.clone()]);
                // As the real API takes them: strings, numbers and null.
                let values = entries.iter().all(|e| {
                    e["params"].as_array().is_none_or(|ps| {
                        ps.iter()
                            .all(|p| p.is_string() || p.is_number() || p.is_null())
                    })
                });
                if !values {
                    return answer(
                        400,
                        failure(7400, "params is an array of strings, numbers and null"),
                    );
                }
                let statements = entries.len();
                let results: Vec<Json> = (0..statements)
                    .map(|_| json!({"results": [{"one": 1}], "success": true, "meta": {"changes": 0}}))
                    .collect();
                answer(200, envelope(json!(results), None))
            }
            "d1.export" => {
                let polls = self.export_polls.get();
                let polling = body.get("current_bookmark").is_some();
                if !polling || polls > 0 {
                    self.export_polls.set(polls - u32::from(polling));
                    // A running export is 202 Accepted, as the schema has it.
                    return answer(
                        202,
                        envelope(
                            json!({"type": "export", "at_bookmark": "bm-1", "status": "active", "success": true}),
                            None,
                        ),
                    );
                }
                assert_eq!(body["current_bookmark"], "bm-1");
                if self.export_error.get() {
                    return answer(
                        200,
                        envelope(
                            json!({"type": "export", "at_bookmark": "bm-1", "status": "error", "success": false, "error": "disk full"}),
                            None,
                        ),
                    );
                }
                answer(
                    200,
                    envelope(
                        json!({"type": "export", "at_bookmark": "bm-1", "status": "complete",
                    "result": {"filename": "db-bm-1.sql", "signed_url": "https://example.com/dump.sql"}}),
                        None,
                    ),
                )
            }
            "d1.import" => {
                let task = |fields: Json| {
                    let mut task = json!({"type": "import", "success": true});
                    task.as_object_mut()
                        .unwrap()
                        .extend(fields.as_object().unwrap().clone());
                    answer(200, envelope(task, None))
                };
                let etag = body["etag"].as_str().unwrap_or_default();
                match body["action"].as_str() {
                    Some("init") => task(json!({
                        "filename": format!("{}-{etag}.sql", parts[2]),
                        "upload_url": format!("https://upload.example/{etag}"),
                    })),
                    // Ingest answers before the work is done; the poll finds it done.
                    Some("ingest") => {
                        assert_eq!(body["filename"], format!("{}-{etag}.sql", parts[2]));
                        task(json!({"status": "active", "at_bookmark": "bm-2"}))
                    }
                    Some("poll") => {
                        assert_eq!(body["current_bookmark"], "bm-2");
                        match self.import_error.borrow().clone() {
                            Some(why) => {
                                task(json!({"status": "error", "success": false, "error": why}))
                            }
                            None => task(json!({"status": "complete", "result": {
                                "num_queries": 3, "final_bookmark": "bm-3", "meta": {}}})),
                        }
                    }
                    _ => answer(400, failure(7400, "unknown action")),
                }
            }
            "d1.edit" => {
                assert_eq!(body, json!({"read_replication": {"mode": "auto"}}));
                answer(
                    200,
                    envelope(
                        json!({"uuid": parts[2], "name": "a", "read_replication": body["read_replication"]}),
                        None,
                    ),
                )
            }
            "d1.time_travel.bookmark" => {
                let bookmark = match query("timestamp").as_deref() {
                    Some("2026-11-21T00%3A00%3A00Z") => "bm-0",
                    None => "bm-1",
                    Some(other) => panic!("timestamp {other}"),
                };
                answer(200, envelope(json!({ "bookmark": bookmark }), None))
            }
            "d1.time_travel.restore" => {
                assert_eq!(query("bookmark").as_deref(), Some("bm-0"));
                answer(
                    200,
                    envelope(
                        json!({"bookmark": "bm-2", "previous_bookmark": "bm-1", "message": "restored"}),
                        None,
                    ),
                )
            }
            "workers.settings.get" => answer(
                200,
                envelope(
                    json!({"bindings": self.bindings_of(&parts[2]), "usage_model": "standard"}),
                    None,
                ),
            ),
            "workers.settings.patch" => {
                let text = String::from_utf8(request.body.clone().unwrap()).unwrap();
                let part = super::settings::settings_part(&text).unwrap();
                let settings: Json = serde_json::from_str(part).unwrap();
                let old = self.bindings_of(&parts[2]);
                // As the API: inheriting a binding the Worker does not have fails it all.
                let new: Option<Vec<Json>> = settings["bindings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| match b["type"].as_str() {
                        Some("inherit") => old.iter().find(|o| o["name"] == b["name"]).cloned(),
                        _ => Some(b.clone()),
                    })
                    .collect();
                let Some(new) = new else {
                    return answer(400, failure(10021, "binding failed to generate"));
                };
                self.set_bindings(&parts[2], new.clone());
                answer(
                    200,
                    envelope(json!({"bindings": new, "usage_model": "standard"}), None),
                )
            }
            _ => answer(400, failure(7003, "Could not route")),
        }
    }
}

impl Transport for SimRef<'_> {
    async fn send(
        &self,
        request: &HttpRequest,
        _timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        if self.0.yielding.get() {
            yield_once().await;
        }
        let (op, _) = Sim::operation(request);
        let delay = {
            let mut slow = self.0.slow.borrow_mut();
            let at = slow.iter().position(|(o, _)| *o == op);
            at.and_then(|i| slow.remove(i)).map(|(_, d)| d)
        };
        if let Some(delay) = delay {
            SimTimers(self.0).sleep(delay).await;
        }
        self.0.serve(request)
    }
}

/// Pending once, then ready: a suspension point where another future may run.
pub(crate) async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

impl Runtime for SimRef<'_> {
    fn now(&self) -> UnixTime {
        self.0.now.get()
    }
    async fn sleep(&self, duration: Duration) {
        self.0.now.set(self.0.now.get() + duration);
    }
    fn random(&self) -> f64 {
        0.5
    }
}

pub(crate) fn client(sim: &Sim) -> Client<SimRef<'_>, SimRef<'_>> {
    Client::new(
        AccountId::parse(ACCOUNT).unwrap(),
        ApiToken::new(TOKEN),
        SimRef(sim),
        SimRef(sim),
    )
    .with_base_url("https://api.example.test/client/v4/")
}

/// The simulated clock as a provisioner's runtime: its timers fire once the clock (moved by the
/// test, or by the client's own waits) has passed them, and never move it themselves, so a
/// heartbeat waits for simulated time instead of racing it forward.
#[derive(Clone, Copy)]
pub(crate) struct SimTimers<'a>(pub(crate) &'a Sim);

impl Runtime for SimTimers<'_> {
    fn now(&self) -> UnixTime {
        self.0.now.get()
    }

    async fn sleep(&self, duration: Duration) {
        let at = self.0.now.get() + duration;
        std::future::poll_fn(|cx| {
            if self.0.now.get() >= at {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await
    }

    fn random(&self) -> f64 {
        0.5
    }
}
