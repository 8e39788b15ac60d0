//! The client against a simulated Cloudflare API on a simulated clock: every wait is instant, so
//! a 429 storm or a full rate-limit window replays in microseconds.

use super::d1::{CreateDatabase, ExportOptions, ReplicationMode, RestoreTarget};
use super::settings::Binding;
use super::*;
use crate::sql::{Statement, Value};
use crate::UnixTime;
use serde_json::{json, Value as Json};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "secret-api-token-never-shown";

/// A fault for the next matching call.
#[derive(Debug, Clone)]
enum Fault {
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
struct Sim {
    now: Cell<UnixTime>,
    databases: RefCell<Vec<(String, String)>>,
    faults: RefCell<VecDeque<(&'static str, Fault)>>,
    log: RefCell<Vec<(UnixTime, String)>>,
    /// (limit, window) of the server's own rate limit.
    limit: Cell<(usize, Duration)>,
    locked_until: Cell<UnixTime>,
    export_polls: Cell<u32>,
    /// The export fails (`status: "error"`) instead of completing.
    export_error: Cell<bool>,
    bindings: RefCell<Vec<Json>>,
    next_id: Cell<u32>,
}

#[derive(Clone, Copy)]
struct SimRef<'a>(&'a Sim);

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
    fn new() -> Self {
        let sim = Self::default();
        sim.limit.set((1_200, Duration::from_secs(300)));
        sim
    }

    fn fault(&self, operation: &'static str, fault: Fault) {
        self.faults.borrow_mut().push_back((operation, fault));
    }

    fn seed(&self, count: usize) {
        for i in 0..count {
            self.create(&format!("seed-{i}"));
        }
    }

    fn create(&self, name: &str) -> Json {
        let n = self.next_id.get() + 1;
        self.next_id.set(n);
        let uuid = format!("{n:08x}-0000-4000-8000-000000000000");
        self.databases
            .borrow_mut()
            .push((uuid.clone(), name.to_owned()));
        json!({"uuid": uuid, "name": name, "created_at": "2026-11-22T00:00:00Z", "version": "production", "num_tables": 0, "file_size": 0})
    }

    /// Creates a database and returns its id.
    fn database(&self, name: &str) -> DatabaseId {
        DatabaseId::parse(self.create(name)["uuid"].as_str().unwrap()).unwrap()
    }

    fn calls(&self, operation: &str) -> usize {
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
                // As the schema types them: strings only.
                let strings = entries.iter().all(|e| {
                    e["params"]
                        .as_array()
                        .is_none_or(|ps| ps.iter().all(Json::is_string))
                });
                if !strings {
                    return answer(400, failure(7400, "params is an array of strings"));
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
                    json!({"bindings": *self.bindings.borrow(), "usage_model": "standard"}),
                    None,
                ),
            ),
            "workers.settings.patch" => {
                let text = String::from_utf8(request.body.clone().unwrap()).unwrap();
                let part = super::settings::settings_part(&text).unwrap();
                let settings: Json = serde_json::from_str(part).unwrap();
                let old = self.bindings.borrow().clone();
                let new: Vec<Json> = settings["bindings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| match b["type"].as_str() {
                        Some("inherit") => {
                            old.iter().find(|o| o["name"] == b["name"]).unwrap().clone()
                        }
                        _ => b.clone(),
                    })
                    .collect();
                *self.bindings.borrow_mut() = new.clone();
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
        self.0.serve(request)
    }
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

fn client(sim: &Sim) -> Client<SimRef<'_>, SimRef<'_>> {
    Client::new(
        AccountId::parse(ACCOUNT).unwrap(),
        ApiToken::new(TOKEN),
        SimRef(sim),
        SimRef(sim),
    )
    .with_base_url("https://api.example.test/client/v4/")
}

fn create(name: &str) -> CreateDatabase {
    CreateDatabase {
        name: DatabaseName::parse(name).unwrap(),
        primary_location_hint: None,
        jurisdiction: None,
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

#[test]
fn create_costs_one_call() {
    let sim = Sim::new();
    let db = run(client(&sim).create_database(&create("tenant-a"))).unwrap();
    assert_eq!(db.name, "tenant-a");
    assert_eq!(sim.log.borrow().len(), 1);
    assert_eq!(sim.databases.borrow().len(), 1);
    // A name refused client-side never costs a call.
    assert!(DatabaseName::parse("bad name").is_err());
}

#[test]
fn a_lost_create_answer_ends_with_exactly_one_database() {
    for fault in [
        Fault::Drop,
        Fault::Timeout,
        Fault::Status(503, 0),
        Fault::Status(500, 0),
        Fault::SuccessFalse,
    ] {
        let sim = Sim::new();
        sim.fault("d1.create", fault.clone());
        let c = client(&sim);
        let db = run(c.create_database(&create("tenant-a"))).unwrap();
        assert_eq!(db.name, "tenant-a", "{fault:?}");
        assert_eq!(sim.databases.borrow().len(), 1, "{fault:?}");
        // Work done then lost: create + lookup. Not done: create + lookup + create again.
        let creates = if matches!(fault, Fault::Drop) { 1 } else { 2 };
        assert_eq!(
            (sim.calls("d1.create"), sim.calls("d1.list")),
            (creates, 1),
            "{fault:?}"
        );
        assert_eq!(c.requests_sent()["d1.create"], creates as u32);
    }
}

#[test]
fn a_taken_name_is_refused_without_retry() {
    let sim = Sim::new();
    sim.create("tenant-a");
    let err = run(client(&sim).create_database(&create("tenant-a"))).unwrap_err();
    assert_eq!(err, ApiError::NameExists);
    assert_eq!(sim.log.borrow().len(), 1);
}

#[test]
fn a_429_storm_is_waited_out_not_multiplied() {
    let sim = Sim::new();
    for _ in 0..3 {
        sim.fault("d1.create", Fault::Status(429, 20));
    }
    let c = client(&sim).with_options(ClientOptions {
        retry: RetryPolicy {
            max_elapsed_ms: 120_000,
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    });
    run(c.create_database(&create("tenant-a"))).unwrap();
    // Four sends in all, each at least retry-after after the one before.
    let times: Vec<UnixTime> = sim.log.borrow().iter().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 4);
    assert!(
        times
            .windows(2)
            .all(|w| w[1].since(w[0]) >= Duration::from_secs(20)),
        "{times:?}"
    );
    assert_eq!(sim.databases.borrow().len(), 1);
}

#[test]
fn a_long_429_fails_within_the_time_bound_and_holds_the_next_call() {
    let sim = Sim::new();
    sim.fault("d1.get", Fault::Status(429, 120));
    let c = client(&sim);
    let id = sim.database("a");
    // 120 s is past the 60 s the policy allows: fail now rather than sleep past the deadline.
    assert_eq!(
        run(c.database(&id)).unwrap_err(),
        ApiError::RateLimited {
            retry_after: Some(120)
        }
    );
    assert_eq!(sim.log.borrow().len(), 1);
    // The client remembers the lockout: the next call is refused without being sent.
    let err = run(c.database(&id)).unwrap_err();
    assert!(
        matches!(err, ApiError::BudgetExhausted { retry_after_ms } if retry_after_ms > 100_000),
        "{err:?}"
    );
    assert_eq!(sim.log.borrow().len(), 1);
    // Once it has passed, calls go again.
    sim.now.set(sim.now.get() + Duration::from_secs(121));
    run(c.database(&id)).unwrap();
}

#[test]
fn the_budget_spreads_work_instead_of_tripping_the_lockout() {
    let sim = Sim::new();
    sim.limit.set((12, Duration::from_secs(10))); // the server's own limit: 12 per 10 s
    let c = client(&sim).with_options(ClientOptions {
        budget: BudgetConfig {
            limit: 10,
            window_secs: 10,
            max_wait_ms: 10_000,
        },
        ..ClientOptions::default()
    });
    for _ in 0..35 {
        run(c.list_databases(None, 1, 10)).unwrap();
    }
    let log = sim.log.borrow();
    assert_eq!(log.len(), 35, "no call was sent twice");
    for (t, _) in log.iter() {
        let in_window = log
            .iter()
            .filter(|&&(u, _)| u <= *t && u + Duration::from_secs(10) > *t)
            .count();
        assert!(in_window <= 10, "at {t}: {in_window} in one window");
    }
    assert!(
        sim.now.get() >= UnixTime::from_secs(30),
        "35 calls at 10 per 10 s take 30 s or more"
    );
}

#[test]
fn a_spent_budget_refuses_rather_than_waits_long() {
    let sim = Sim::new();
    let c = client(&sim).with_options(ClientOptions {
        budget: BudgetConfig {
            limit: 5,
            window_secs: 300,
            max_wait_ms: 1_000,
        },
        ..ClientOptions::default()
    });
    for _ in 0..5 {
        run(c.list_databases(None, 1, 10)).unwrap();
    }
    assert_eq!(c.budget_status(), (5, 0));
    let err = run(c.list_databases(None, 1, 10)).unwrap_err();
    assert_eq!(
        err,
        ApiError::BudgetExhausted {
            retry_after_ms: 300_000
        }
    );
    assert_eq!(sim.log.borrow().len(), 5);
}

#[test]
fn pagination_returns_every_database_once() {
    let sim = Sim::new();
    sim.seed(2_500);
    let c = client(&sim);
    for (per_page, calls) in [(1_000, 3), (10_000, 1), (10, 250), (7, 250)] {
        sim.log.borrow_mut().clear();
        let all = run(c.list_all_databases(None, per_page)).unwrap();
        assert_eq!(all.len(), 2_500);
        let mut ids: Vec<_> = all.iter().map(|d| d.uuid.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2_500, "per_page {per_page}");
        assert_eq!(sim.log.borrow().len(), calls, "per_page {per_page}");
    }
    // The name filter is a search; find_database wants the exact name.
    let found = run(c.find_database(&DatabaseName::parse("seed-1").unwrap()))
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "seed-1");
    assert!(run(c.find_database(&DatabaseName::parse("seed").unwrap()))
        .unwrap()
        .is_none());
}

#[test]
fn reads_are_retried_on_faults_and_give_up_within_bounds() {
    let sim = Sim::new();
    let id = sim.database("a");
    sim.fault("d1.get", Fault::Status(502, 0));
    sim.fault("d1.get", Fault::Timeout);
    sim.fault("d1.get", Fault::SuccessFalse);
    let c = client(&sim);
    assert_eq!(run(c.database(&id)).unwrap().num_tables, Some(1));
    assert_eq!(sim.calls("d1.get"), 4);

    // Failing forever: max_attempts sends, then the last failure.
    for _ in 0..10 {
        sim.fault("d1.get", Fault::Status(503, 0));
    }
    sim.log.borrow_mut().clear();
    let err = run(c.database(&id)).unwrap_err();
    assert!(
        matches!(err, ApiError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(sim.calls("d1.get"), 5);
}

#[test]
fn writes_that_may_have_happened_are_not_repeated() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let stmt = [Statement::new(
        "INSERT INTO t VALUES (?)",
        vec![Value::Integer(1)],
    )];
    sim.fault("d1.query", Fault::Drop);
    assert!(matches!(
        run(c.query(&id, &stmt)).unwrap_err(),
        ApiError::OutcomeUnknown(_)
    ));
    sim.fault("d1.query", Fault::Status(500, 0));
    assert!(matches!(
        run(c.query(&id, &stmt)).unwrap_err(),
        ApiError::Server { status: 500, .. }
    ));
    assert_eq!(sim.calls("d1.query"), 2);
    // A 429 is sent again: nothing ran.
    sim.fault("d1.query", Fault::Status(429, 1));
    assert_eq!(run(c.query(&id, &stmt)).unwrap().len(), 1);
    assert_eq!(sim.calls("d1.query"), 4);
}

#[test]
fn a_lost_delete_answer_is_settled_by_the_404_that_follows() {
    let sim = Sim::new();
    let id = sim.database("a");
    sim.fault("d1.delete", Fault::Drop);
    let c = client(&sim);
    run(c.delete_database(&id)).unwrap();
    assert_eq!(sim.calls("d1.delete"), 2);
    assert!(sim.databases.borrow().is_empty());
    // Without an earlier lost answer, a 404 is a 404.
    assert_eq!(
        run(c.delete_database(&id)).unwrap_err(),
        ApiError::NotFound { code: Some(7404) }
    );
}

#[test]
fn export_polls_until_complete() {
    let sim = Sim::new();
    let id = sim.database("a");
    sim.export_polls.set(2);
    let c = client(&sim);
    let start = sim.now.get();
    let export = run(c.export_database(&id, &ExportOptions::default())).unwrap();
    assert_eq!(export.filename, "db-bm-1.sql");
    // Start, two polls still active, the one that completes.
    assert_eq!(sim.calls("d1.export"), 4);
    assert!(
        sim.now.get().since(start) >= Duration::from_secs(3),
        "polls are a second apart"
    );
}

#[test]
fn a_failed_export_is_an_error_with_its_reason() {
    let sim = Sim::new();
    let id = sim.database("a");
    sim.export_error.set(true);
    let c = client(&sim);
    let err = run(c.export_database(&id, &ExportOptions::default())).unwrap_err();
    assert_eq!(err, ApiError::ExportFailed("disk full".into()));
    assert_eq!(sim.calls("d1.export"), 2);
}

#[test]
fn params_go_as_strings_and_null_is_refused_before_any_call() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let sent = [Statement::new(
        "SELECT ?, ?, ?",
        vec![Value::Integer(7), Value::Real(2.5), Value::Text("x".into())],
    )];
    assert_eq!(run(c.query(&id, &sent)).unwrap().len(), 1);
    for unsendable in [Value::Null, Value::Blob(vec![0])] {
        let refused = run(c.query(&id, &[Statement::new("SELECT ?", vec![unsendable])]));
        assert!(matches!(refused, Err(ApiError::InvalidRequest(_))));
    }
    assert!(matches!(
        run(c.query(&id, &[])),
        Err(ApiError::InvalidRequest(_))
    ));
    assert_eq!(sim.calls("d1.query"), 1);
}

#[test]
fn read_replication_and_time_travel() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let db = run(c.set_read_replication(&id, ReplicationMode::Auto)).unwrap();
    assert_eq!(db.read_replication.unwrap().mode, ReplicationMode::Auto);
    assert_eq!(run(c.bookmark(&id, None)).unwrap(), "bm-1");
    let earlier = run(c.bookmark(&id, Some("2026-11-21T00:00:00Z"))).unwrap();
    assert_eq!(earlier, "bm-0");
    let restored = run(c.restore(&id, RestoreTarget::Bookmark(&earlier))).unwrap();
    assert_eq!(
        (
            restored.bookmark.as_str(),
            restored.previous_bookmark.as_str()
        ),
        ("bm-2", "bm-1")
    );
    // A restore whose answer is lost is not repeated.
    sim.fault("d1.time_travel.restore", Fault::Drop);
    assert!(matches!(
        run(c.restore(&id, RestoreTarget::Bookmark("bm-0"))),
        Err(ApiError::OutcomeUnknown(_))
    ));
    assert_eq!(sim.calls("d1.time_travel.restore"), 2);
}

#[test]
fn auth_errors_are_final() {
    let sim = Sim::new();
    let c = client(&sim);
    sim.fault("d1.list", Fault::Status(403, 0));
    let err = run(c.list_databases(None, 1, 10)).unwrap_err();
    assert_eq!(err, ApiError::Unauthorized { code: None });
    assert_eq!(sim.log.borrow().len(), 1);
}

#[test]
fn bind_d1_keeps_the_other_bindings() {
    let sim = Sim::new();
    *sim.bindings.borrow_mut() = vec![
        json!({"type": "kv_namespace", "name": "KV", "namespace_id": "abc"}),
        json!({"type": "d1", "name": "DB", "id": "old"}),
    ];
    let id = sim.database("a");
    let c = client(&sim);
    let script = ScriptName::parse("edge-tenancy-demo").unwrap();
    let settings = run(c.bind_d1(&script, "DB", &id)).unwrap();
    assert_eq!(settings.bindings.len(), 2);
    assert_eq!(
        settings.bindings[0],
        serde_json::from_value::<Binding>(
            json!({"type": "kv_namespace", "name": "KV", "namespace_id": "abc"})
        )
        .unwrap()
    );
    assert_eq!(settings.bindings[1], Binding::d1("DB", &id));
    assert_eq!(
        settings.bindings[1].fields.get("database_id"),
        Some(&json!(id))
    );
    assert_eq!(
        (
            sim.calls("workers.settings.get"),
            sim.calls("workers.settings.patch")
        ),
        (1, 1)
    );
}

#[test]
fn the_token_never_shows() {
    let sim = Sim::new();
    sim.fault("d1.list", Fault::Drop);
    sim.fault("d1.list", Fault::Drop);
    sim.fault("d1.list", Fault::Drop);
    sim.fault("d1.list", Fault::Drop);
    sim.fault("d1.list", Fault::Drop);
    let c = client(&sim);
    let err = run(c.list_databases(None, 1, 10)).unwrap_err();
    let request = HttpRequest {
        method: Method::Get,
        url: "u".into(),
        headers: vec![("authorization".into(), format!("Bearer {TOKEN}"))],
        body: None,
    };
    for shown in [
        format!("{err} {err:?}"),
        format!("{request:?}"),
        format!("{:?}", ApiToken::new(TOKEN)),
    ] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}
