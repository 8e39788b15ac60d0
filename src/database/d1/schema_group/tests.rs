//! A tenant behind its group caught up through its binding, once per isolate and version, and
//! recorded; one whose ledger drifted served as it is and logged; job submissions parsed.

use super::*;
use crate::cloudflare::sim::{client, yield_once, Sim, SimRef, SimTimers, ACCOUNT};
use crate::cloudflare::{AccountId, ApiToken};
use crate::control::TenantState;
use crate::schema::job::{OnError, Stage};
use crate::testing::SqliteDatabase;
use pollster::block_on;
use std::cell::Cell;
use std::future::Future;

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

fn at(ms: i64) -> UnixTime {
    UnixTime::from_millis(ms)
}

/// The tenants' databases by binding name, each query counted.
struct Bound<'a> {
    dbs: Vec<(&'a str, &'a SqliteDatabase)>,
    queries: &'a Cell<usize>,
}

struct Counted<'a>(&'a SqliteDatabase, &'a Cell<usize>);

impl SqlDatabase for Counted<'_> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        self.1.set(self.1.get() + 1);
        // A query takes a while: another request may run meanwhile.
        yield_once().await;
        self.0.batch(statements).await
    }
}

impl<'a> Bindings for Bound<'a> {
    type Db = Counted<'a>;
    fn bound(&self, binding: &str, _id: &str) -> Option<Counted<'a>> {
        let (_, db) = self.dbs.iter().find(|(name, _)| *name == binding)?;
        Some(Counted(db, self.queries))
    }
}

#[derive(Default)]
struct Logged(RefCell<Vec<(Level, String)>>);

impl Log for Logged {
    fn log(&self, level: Level, message: &str) {
        self.0.borrow_mut().push((level, message.to_owned()));
    }
}

fn group() -> SchemaGroup {
    let migrations = Migrations::new([
        (
            "0001_notes.sql",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        ),
        (
            "0002_done.sql",
            "ALTER TABLE notes ADD COLUMN done INTEGER NOT NULL DEFAULT 0",
        ),
        (
            "0003_tags.sql",
            "CREATE TABLE tags (note INTEGER, tag TEXT)",
        ),
    ])
    .unwrap();
    SchemaGroup::new("app", migrations).unwrap()
}

/// `tenant`, ready at `version` of group `app` with its database bound as `binding`.
fn ready(registry: &Registry<&SqliteDatabase>, tenant: &TenantId, binding: &str, version: i64) {
    let lease = Duration::from_secs(60);
    let (_, lease) = block_on(registry.claim_provisioning(
        tenant,
        "d1",
        tenant.as_str(),
        None,
        "o",
        at(1),
        lease,
    ))
    .unwrap()
    .unwrap();
    block_on(registry.record_database(tenant, &lease, &format!("uuid-{tenant}"), at(2))).unwrap();
    block_on(registry.record_binding(tenant, &lease, Some((binding, "w")), at(2))).unwrap();
    let schema = SchemaVersion {
        group: "app".into(),
        version,
    };
    block_on(registry.record_schema(tenant, &lease, &schema, at(3))).unwrap();
    block_on(registry.finish(tenant, &lease, TenantState::Ready, None, at(4))).unwrap();
}

#[test]
fn a_tenant_behind_its_group_catches_up_once_through_its_binding_and_a_drifted_one_is_served_as_is()
{
    let (registry_db, acme_db, globex_db) = (
        SqliteDatabase::in_memory(),
        SqliteDatabase::in_memory(),
        SqliteDatabase::in_memory(),
    );
    let registry = Registry::new(&registry_db);
    block_on(registry.migrate(at(0))).unwrap();
    let (acme, globex) = (id("acme"), id("globex"));
    let group = group();
    ready(&registry, &acme, "TENANT_ACME", 1);
    ready(&registry, &globex, "TENANT_GLOBEX", 1);
    block_on(group.bring_up_to(&acme_db, 0, 1, at(0))).unwrap();
    block_on(group.bring_up_to(&globex_db, 0, 1, at(0))).unwrap();
    // globex's ledger says its first migration was another one than the group's.
    block_on(globex_db.batch(vec![Statement::new(
        "UPDATE edge_tenancy_migrations SET hash = 'edited'",
        vec![],
    )]))
    .unwrap();
    // A job moved the group to version 2 while both were away.
    assert_eq!(block_on(registry.group_version("app", 3)).unwrap(), 1);
    block_on(registry_db.batch(vec![Statement::new(
        "UPDATE edge_tenancy_schema_groups SET version = 2",
        vec![],
    )]))
    .unwrap();

    let sim = Sim::new();
    let client = Rc::new(client(&sim));
    let queries = Cell::new(0);
    let bindings = Bound {
        dbs: vec![("TENANT_ACME", &acme_db), ("TENANT_GLOBEX", &globex_db)],
        queries: &queries,
    };
    let logged = Logged::default();
    let cache = TenantCache::new(Default::default());
    let options = D1Options::default();
    let d1 = D1Group {
        group: &group,
        registry: &registry,
        client: &client,
        options: &options,
        bindings: &bindings,
        cache: &cache,
        log: &logged,
    };
    let caught_up = CaughtUp::default();
    let catch_up = |tenant: &TenantId| {
        let location = block_on(registry.lookup(tenant)).unwrap().location.unwrap();
        let db = d1
            .database(&location.database_id, location.binding.as_deref())
            .unwrap();
        block_on(d1.catch_up(tenant, &db, &location, &caught_up)).unwrap()
    };

    // To the group's version, not the code's latest; through the binding, no API call.
    assert_eq!(catch_up(&acme), 2);
    assert_eq!(queries.get(), 2, "the ledger read, then one batch");
    assert_eq!(
        block_on(status(&acme_db, group.migrations()))
            .unwrap()
            .version,
        2
    );
    assert_eq!(block_on(registry.get(&acme)).unwrap().schema_version, 2);
    assert_eq!(logged.0.borrow().last().unwrap().0, Level::Info);
    // Once per isolate and version: the next request reads nothing.
    assert_eq!(catch_up(&acme), 2);
    assert_eq!(queries.get(), 2);

    // Drifted: nothing applied, served at the version its ledger shows, and logged.
    assert_eq!(catch_up(&globex), 1);
    assert_eq!(block_on(registry.get(&globex)).unwrap().schema_version, 1);
    let (level, message) = logged.0.borrow().last().cloned().unwrap();
    assert_eq!(level, Level::Error);
    assert!(
        message.contains("globex's database has drifted"),
        "{message}"
    );
    assert_eq!(sim.calls("d1.query"), 0);
}

#[test]
fn a_job_request_takes_defaults_canaries_first_and_refuses_what_it_does_not_know() {
    let (settings, canary) = job_request("").unwrap();
    assert_eq!((settings, canary), (Settings::default(), vec![]));
    let (settings, canary) = job_request(
        r#"{"canary": ["b", "a"], "canary_on_error": "continue", "hold_secs": 99999, "concurrency": 3}"#,
    )
    .unwrap();
    assert_eq!(canary, vec![id("b"), id("a")]);
    assert_eq!(settings.concurrency, 3);
    assert_eq!(settings.hold_ms, 3_600_000, "an hour at most");
    assert_eq!(
        settings.stages,
        vec![
            Stage {
                size: Some(2),
                on_error: OnError::Continue
            },
            Stage {
                size: None,
                on_error: OnError::Fail
            }
        ]
    );
    for (body, why) in [
        (r#"{"concurrency": 0}"#, "concurrency is 1 to 50"),
        (r#"{"holdSecs": 5}"#, "expected {\"dry_run_only\""),
        ("[]", "expected"),
        (r#"{"canary": ["Not An Id"]}"#, ""),
    ] {
        let error = job_request(body).unwrap_err();
        assert!(error.to_string().contains(why), "{body}: {error}");
        assert_eq!(error.to_response().status, 400, "{body}");
    }
    assert_eq!(drive_limits(None, None), (400, Duration::from_secs(20)));
    assert_eq!(
        drive_limits(Some(5_000), Some(0)),
        (900, Duration::from_secs(1))
    );
}

#[test]
fn concurrent_first_requests_catch_a_tenant_up_once() {
    let (registry_db, acme_db) = (SqliteDatabase::in_memory(), SqliteDatabase::in_memory());
    let registry = Registry::new(&registry_db);
    block_on(registry.migrate(at(0))).unwrap();
    let acme = id("acme");
    let group = group();
    ready(&registry, &acme, "TENANT_ACME", 1);
    block_on(group.bring_up_to(&acme_db, 0, 1, at(0))).unwrap();
    assert_eq!(block_on(registry.group_version("app", 3)).unwrap(), 1);
    block_on(registry_db.batch(vec![Statement::new(
        "UPDATE edge_tenancy_schema_groups SET version = 3",
        vec![],
    )]))
    .unwrap();
    let location = block_on(registry.lookup(&acme)).unwrap().location.unwrap();

    let sim = Sim::new();
    // Timers that wait for the clock, which the loop below moves.
    let client = Rc::new(Client::new(
        AccountId::parse(ACCOUNT).unwrap(),
        ApiToken::new("t"),
        SimRef(&sim),
        SimTimers(&sim),
    ));
    let queries = Cell::new(0);
    let bindings = Bound {
        dbs: vec![("TENANT_ACME", &acme_db)],
        queries: &queries,
    };
    let (logged, cache, options) = (
        Logged::default(),
        TenantCache::new(Default::default()),
        D1Options::default(),
    );
    let d1 = D1Group {
        group: &group,
        registry: &registry,
        client: &client,
        options: &options,
        bindings: &bindings,
        cache: &cache,
        log: &logged,
    };
    let caught_up = CaughtUp::default();
    let db = d1
        .database(&location.database_id, Some("TENANT_ACME"))
        .unwrap();
    let mut requests: Vec<_> = (0..5)
        .map(|_| Box::pin(d1.catch_up(&acme, &db, &location, &caught_up)))
        .collect();
    let mut answers = vec![None; requests.len()];
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    while answers.iter().any(Option::is_none) {
        sim.now.set(sim.now.get() + Duration::from_millis(10));
        for (request, answer) in requests.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                if let std::task::Poll::Ready(version) = request.as_mut().poll(&mut cx) {
                    *answer = Some(version.unwrap());
                }
            }
        }
    }
    assert_eq!(answers, vec![Some(3); 5]);
    assert_eq!(
        queries.get(),
        2,
        "one ledger read and one batch for all five requests"
    );
    assert_eq!(
        block_on(status(&acme_db, group.migrations()))
            .unwrap()
            .version,
        3
    );
    let caught_up_lines = logged
        .0
        .borrow()
        .iter()
        .filter(|(l, _)| *l == Level::Info)
        .count();
    assert_eq!(caught_up_lines, 1);
}
