//! A migration job driven over twenty tenant databases of real SQLite, with the registry on real
//! SQLite too: committed, rolled back after one child's run fails (every child back at its
//! bookmark, the rows written before the job intact), refused by one child's dry run (nothing
//! changed), refused by the group's schema database before any child is read, and driven by
//! several drivers in turn, each stopping at its step limit.

use super::*;
use crate::schema::job::{Job, OnError, Outcome, Settings, Stage, TaskState};
use crate::schema::{dry_run, migrate_to, status, Migrations};
use crate::sql::{Statement, Value};
use crate::testing::SqliteDatabase;
use pollster::block_on;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

const GROUP: &str = "app";
const TENANTS: usize = 20;

/// A clock whose sleeps move it.
struct Clock(Cell<UnixTime>);

impl Runtime for Clock {
    fn now(&self) -> UnixTime {
        self.0.get()
    }
    async fn sleep(&self, duration: Duration) {
        self.0.set(self.0.get() + duration);
    }
    fn random(&self) -> f64 {
        0.5
    }
}

fn migrations(extra: &str) -> Migrations {
    Migrations::new([
        (
            "0001_notes.sql",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
        ),
        ("0002_tags.sql", extra),
    ])
    .unwrap()
}

/// The group's schema database, the tenants' databases, bookmarks as snapshots, and a child
/// whose migration fails.
struct Children {
    parent: SqliteDatabase,
    dbs: BTreeMap<TenantId, SqliteDatabase>,
    snapshots: RefCell<HashMap<String, rusqlite::Connection>>,
    migrations: Migrations,
    failing: Option<TenantId>,
    calls: Cell<usize>,
}

impl JobEdges for Children {
    async fn validate(&self) -> Answer {
        match dry_run(&self.parent, &self.migrations, UnixTime::EPOCH).await {
            Ok(status) => Answer::DryRun {
                at_version: status.pending.is_empty(),
            },
            Err(e) => Answer::failed(&e),
        }
    }

    async fn commit(&self) -> Answer {
        let version = self.migrations.len();
        match migrate_to(&self.parent, &self.migrations, version, UnixTime::EPOCH).await {
            Ok(_) => Answer::Done,
            Err(e) => Answer::failed(&e),
        }
    }

    async fn dry_run(&self, tenant: &TenantId) -> Answer {
        self.calls.set(self.calls.get() + 1);
        match dry_run(&self.dbs[tenant], &self.migrations, UnixTime::EPOCH).await {
            Ok(status) => Answer::DryRun {
                at_version: status.pending.is_empty(),
            },
            Err(e) => Answer::failed(&e),
        }
    }

    async fn bookmark(&self, tenant: &TenantId) -> Answer {
        let name = format!("{tenant}@{}", self.snapshots.borrow().len());
        let snapshot = self.dbs[tenant].snapshot();
        self.snapshots.borrow_mut().insert(name.clone(), snapshot);
        Answer::Bookmark(name)
    }

    async fn migrate(&self, tenant: &TenantId) -> Answer {
        self.calls.set(self.calls.get() + 1);
        if self.failing.as_ref() == Some(tenant) {
            return Answer::Failed {
                passing: false,
                message: "disk I/O error".into(),
            };
        }
        let version = self.migrations.len();
        match migrate_to(
            &self.dbs[tenant],
            &self.migrations,
            version,
            UnixTime::EPOCH,
        )
        .await
        {
            Ok(_) => Answer::Done,
            Err(e) => Answer::failed(&e),
        }
    }

    async fn restore(&self, tenant: &TenantId, bookmark: &str) -> Answer {
        match self.snapshots.borrow().get(bookmark) {
            Some(snapshot) => {
                self.dbs[tenant].restore(snapshot);
                Answer::Done
            }
            None => Answer::Failed {
                passing: false,
                message: "no such bookmark".into(),
            },
        }
    }
}

struct World {
    registry: Registry<SqliteDatabase>,
    children: Children,
    clock: Clock,
}

/// Twenty tenants of the group at version 1, each with a note.
fn world(extra: &str) -> World {
    let registry = Registry::new(SqliteDatabase::in_memory());
    block_on(registry.migrate(UnixTime::EPOCH)).unwrap();
    let first = migrations(extra);
    let mut dbs = BTreeMap::new();
    for i in 0..TENANTS {
        let tenant: TenantId = format!("t{i:02}").parse().unwrap();
        block_on(registry.db().batch(vec![Statement::new(
            "INSERT INTO edge_tenancy_tenants (id, created_at, backend, state, database_id, schema_group, schema_version)
             VALUES (?, 0, 'd1', 'ready', ?, ?, 1)",
            vec![tenant.as_str().into(), format!("db-{i}").as_str().into(), GROUP.into()],
        )]))
        .unwrap();
        let db = SqliteDatabase::in_memory();
        block_on(migrate_to(&db, &first, 1, UnixTime::EPOCH)).unwrap();
        block_on(db.batch(vec![Statement::new(
            "INSERT INTO notes (body) VALUES (?)",
            vec![Value::from("before the job")],
        )]))
        .unwrap();
        dbs.insert(tenant, db);
    }
    let parent = SqliteDatabase::in_memory();
    block_on(migrate_to(&parent, &first, 1, UnixTime::EPOCH)).unwrap();
    World {
        registry,
        children: Children {
            parent,
            dbs,
            snapshots: RefCell::default(),
            migrations: first,
            failing: None,
            calls: Cell::new(0),
        },
        clock: Clock(Cell::new(UnixTime::from_millis(1_000_000))),
    }
}

fn settings() -> Settings {
    Settings {
        concurrency: 4,
        hold_ms: 2_000,
        stages: vec![
            Stage {
                size: Some(2),
                on_error: OnError::Fail,
            },
            Stage {
                size: None,
                on_error: OnError::Fail,
            },
        ],
        ..Settings::default()
    }
}

fn submit(w: &World) -> i64 {
    let tenants = block_on(w.registry.group_tenants(GROUP)).unwrap();
    let job = Job::new(GROUP, 2, tenants, settings());
    block_on(w.registry.submit_job(&job, w.clock.now())).unwrap()
}

fn run(w: &World, id: i64, calls: usize) -> JobRecord {
    let limits = Limits {
        calls,
        until: w.clock.now() + Duration::from_secs(600),
        lease: Duration::from_secs(30),
    };
    let driven = block_on(drive(
        &w.registry,
        &w.children,
        &w.clock,
        id,
        "driver",
        limits,
    ))
    .unwrap();
    assert!(driven.calls <= calls, "{} calls of {calls}", driven.calls);
    driven.record
}

fn versions(w: &World) -> Vec<usize> {
    w.children
        .dbs
        .values()
        .map(|db| {
            block_on(status(db, &w.children.migrations))
                .unwrap()
                .version
        })
        .collect()
}

fn notes(w: &World) -> usize {
    w.children
        .dbs
        .values()
        .map(|db| {
            let rows = block_on(db.batch(vec![Statement::new(
                "SELECT count(*) AS n FROM notes",
                vec![],
            )]))
            .unwrap();
            rows[0][0]["n"].as_u64().unwrap() as usize
        })
        .sum()
}

#[test]
fn a_good_migration_reaches_every_child_once_and_the_registry_records_it() {
    let w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    let id = submit(&w);
    assert_eq!(
        block_on(
            w.registry
                .submit_job(&Job::new(GROUP, 2, vec![], settings()), w.clock.now())
        ),
        Err(Error::JobActive)
    );
    // Several drivers in turn, each stopping after 25 calls (two rounds of at most 4 steps):
    // the job resumes where it stopped.
    let mut record = run(&w, id, 25);
    let mut drivers = 1;
    while record.job.outcome().is_none() {
        record = run(&w, id, 25);
        drivers += 1;
        assert!(drivers < 100);
    }
    assert!(drivers > 3, "{drivers}");
    assert_eq!(record.job.outcome(), Some(Outcome::Committed));
    assert!(record
        .job
        .tasks
        .iter()
        .all(|t| t.state == TaskState::Migrated));
    assert_eq!(versions(&w), vec![2; TENANTS]);
    let parent = block_on(status(&w.children.parent, &w.children.migrations)).unwrap();
    assert_eq!(
        parent.version, 2,
        "the schema database moves with the group"
    );
    assert_eq!(notes(&w), TENANTS);
    // A dry run and a migration per child: nothing applied twice.
    assert_eq!(w.children.calls.get(), 2 * TENANTS);
    let page = block_on(w.registry.list(None, 100)).unwrap();
    assert!(page
        .tenants
        .iter()
        .all(|t| t.schema_version == 2 && !t.schema_held));
    assert_eq!(
        block_on(w.registry.active_jobs()).unwrap(),
        Vec::<i64>::new()
    );
    // The next job of the group may start.
    assert!(submit(&w) > id);
}

#[test]
fn a_failure_in_the_run_restores_every_migrated_child_to_its_bookmark() {
    let mut w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    w.children.failing = Some("t13".parse().unwrap());
    let id = submit(&w);
    let record = run(&w, id, 1_000);
    assert_eq!(record.job.outcome(), Some(Outcome::RolledBack));
    let failed: Vec<&str> = record
        .job
        .tasks
        .iter()
        .filter(|t| t.failed_here)
        .map(|t| t.tenant.as_str())
        .collect();
    assert_eq!(failed, ["t13"]);
    assert!(record
        .job
        .tasks
        .iter()
        .any(|t| t.state == TaskState::Restored && !t.failed_here));
    assert_eq!(versions(&w), vec![1; TENANTS]);
    assert_eq!(
        notes(&w),
        TENANTS,
        "the rows written before the job are intact"
    );
    let page = block_on(w.registry.list(None, 100)).unwrap();
    assert!(page
        .tenants
        .iter()
        .all(|t| t.schema_version == 1 && !t.schema_held));
}

#[test]
fn a_tenant_a_continue_stage_left_behind_is_pinned_where_it_is_until_a_job_migrates_it() {
    let mut w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    w.children.failing = Some("t13".parse().unwrap());
    let tenants = block_on(w.registry.group_tenants(GROUP)).unwrap();
    let mut settings = settings();
    settings.stages[1].on_error = OnError::Continue;
    let job = Job::new(GROUP, 2, tenants, settings);
    let id = block_on(w.registry.submit_job(&job, w.clock.now())).unwrap();
    let record = run(&w, id, 1_000);
    assert_eq!(record.job.outcome(), Some(Outcome::Committed));
    let location = |t: &str| {
        block_on(w.registry.lookup(&t.parse().unwrap()))
            .unwrap()
            .location
            .unwrap()
    };
    let left = location("t13");
    assert_eq!((left.schema_version, left.group_version), (1, 0), "pinned");
    let moved = location("t12");
    assert_eq!((moved.schema_version, moved.group_version), (2, 2));
    // The next job takes it along, and unpins it.
    w.children.failing = None;
    let record = run(&w, submit(&w), 1_000);
    assert_eq!(record.job.outcome(), Some(Outcome::Committed));
    let caught = location("t13");
    assert_eq!((caught.schema_version, caught.group_version), (2, 2));
}

#[test]
fn a_dry_run_that_fails_on_one_child_changes_none() {
    let w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    // One child already has the column: the migration cannot apply there.
    block_on(
        w.children.dbs[&"t07".parse::<TenantId>().unwrap()].batch(vec![Statement::new(
            "ALTER TABLE notes ADD COLUMN tag TEXT",
            vec![],
        )]),
    )
    .unwrap();
    let id = submit(&w);
    let record = run(&w, id, 1_000);
    assert_eq!(record.job.outcome(), Some(Outcome::DryRunFailed));
    let failed = record
        .job
        .tasks
        .iter()
        .find(|t| t.state == TaskState::DryRunFailed)
        .unwrap();
    assert_eq!(failed.tenant.as_str(), "t07");
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("duplicate column name: tag"),
        "{failed:?}"
    );
    assert_eq!(versions(&w), vec![1; TENANTS]);
    assert!(
        w.children.snapshots.borrow().is_empty(),
        "no bookmark was taken"
    );
}

#[test]
fn while_the_job_runs_the_group_is_held_and_a_second_driver_waits() {
    let w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    let id = submit(&w);
    // Through the dry runs and the hold step, but not past the hold's wait.
    let limits = Limits {
        calls: 1_000,
        until: w.clock.now() + Duration::from_millis(500),
        lease: Duration::from_secs(30),
    };
    let record = block_on(drive(
        &w.registry,
        &w.children,
        &w.clock,
        id,
        "first",
        limits,
    ))
    .unwrap()
    .record;
    assert!(
        matches!(
            record.job.phase,
            crate::schema::job::Phase::Hold { since: Some(_) }
        ),
        "{:?}",
        record.job.phase
    );
    let lookup = block_on(w.registry.lookup(&"t03".parse().unwrap())).unwrap();
    assert!(lookup.location.unwrap().schema_held);
    // Another driver while the first holds the lease drives nothing.
    assert!(block_on(
        w.registry
            .claim_job(id, "first", w.clock.now(), Duration::from_secs(30))
    )
    .unwrap());
    let other = block_on(drive(
        &w.registry,
        &w.children,
        &w.clock,
        id,
        "second",
        limits,
    ))
    .unwrap()
    .record;
    assert_eq!(other.job, record.job);
}

#[test]
fn a_migration_the_schema_database_refuses_ends_the_job_before_any_child_is_read() {
    let w = world("ALTER TABLE notes ADD COLUMN tag TEXT");
    // The parent holds the canonical schema: a column made there by hand makes 0002 fail.
    block_on(w.children.parent.batch(vec![Statement::new(
        "ALTER TABLE notes ADD COLUMN tag TEXT",
        vec![],
    )]))
    .unwrap();
    let id = submit(&w);
    let record = run(&w, id, 100);
    assert_eq!(record.job.outcome(), Some(Outcome::DryRunFailed));
    assert_eq!(w.children.calls.get(), 0, "no child was read");
    let error = record.job.summary().schema_error.unwrap();
    assert!(error.contains("duplicate column name: tag"), "{error}");
    assert_eq!(versions(&w), vec![1; TENANTS]);
    assert_eq!(record.report(w.clock.now(), None)["schema_error"], error);
}
