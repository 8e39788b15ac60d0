//! The client against a simulated Cloudflare API on a simulated clock: every wait is instant, so
//! a 429 storm or a full rate-limit window replays in microseconds.

use super::d1::{CreateDatabase, ExportOptions, ReplicationMode, RestoreTarget, Upload};
use super::settings::Binding;
use super::sim::*;
use super::*;
use crate::sql::{Statement, Value};
use crate::UnixTime;
use serde_json::json;
use std::cell::RefCell;
use std::time::Duration;

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
        ApiError::NotFound { code: 7404 }
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
    assert_eq!(
        err,
        ApiError::TaskFailed {
            task: "export",
            reason: "disk full".into()
        }
    );
    assert_eq!(sim.calls("d1.export"), 2);
}

const MD5: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn import_uploads_the_file_then_ingests_and_polls() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let uploads = RefCell::new(Vec::new());
    let imported = run(c.import_database(&id, MD5, async |to: &Upload| {
        uploads.borrow_mut().push(to.clone());
        Ok(format!("\"{MD5}\""))
    }))
    .unwrap();
    assert_eq!(imported.num_queries, 3);
    assert_eq!(imported.final_bookmark, "bm-3");
    assert_eq!(
        uploads.into_inner(),
        vec![Upload {
            url: format!("https://upload.example/{MD5}"),
            filename: format!("{id}-{MD5}.sql"),
        }]
    );
    // init, ingest, one poll.
    assert_eq!(sim.calls("d1.import"), 3);
}

#[test]
fn an_import_is_refused_before_its_ingest_when_the_upload_is_not_the_file() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let err = run(c.import_database(&id, MD5, async |_: &Upload| {
        Ok("ffffffffffffffffffffffffffffffff".to_owned())
    }))
    .unwrap_err();
    assert!(
        matches!(err, ApiError::Decode(ref why) if why.contains(MD5)),
        "{err:?}"
    );
    assert_eq!(sim.calls("d1.import"), 1, "init only");
    // Not an MD5: nothing is sent.
    let err = run(c.import_database(&id, "not-md5", async |_: &Upload| Ok(String::new())));
    assert!(matches!(err, Err(ApiError::InvalidRequest(_))));
    assert_eq!(sim.calls("d1.import"), 1);
}

#[test]
fn a_failed_import_is_an_error_with_its_reason() {
    let sim = Sim::new();
    let id = sim.database("a");
    *sim.import_error.borrow_mut() = Some("no such table: notes".into());
    let c = client(&sim);
    let err = run(c.import_database(&id, MD5, async |_: &Upload| Ok(MD5.to_owned())));
    assert_eq!(
        err.unwrap_err(),
        ApiError::TaskFailed {
            task: "import",
            reason: "no such table: notes".into()
        }
    );
}

#[test]
fn params_go_as_json_values_and_blobs_are_refused_before_any_call() {
    let sim = Sim::new();
    let id = sim.database("a");
    let c = client(&sim);
    let sent = [Statement::new(
        "SELECT ?, ?, ?, ?",
        vec![
            Value::Integer(7),
            Value::Real(2.5),
            Value::Text("x".into()),
            Value::Null,
        ],
    )];
    assert_eq!(run(c.query(&id, &sent)).unwrap().len(), 1);
    let refused = run(c.query(
        &id,
        &[Statement::new("SELECT ?", vec![Value::Blob(vec![0])])],
    ));
    assert!(matches!(refused, Err(ApiError::InvalidRequest(_))));
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
