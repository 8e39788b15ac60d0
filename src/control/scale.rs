//! The registry at scale: every statement it sends, over a tenant's whole life and a migration
//! job, is planned by SQLite without a full scan of the tenants, jobs or tasks tables; and
//! (ignored, run by `bash bench/run.sh registry`) what a lookup, a page of the list, a read of
//! 500 rows and a page of a group cost at 1,000, 10,000 and 100,000 tenants, printed with the
//! ratio of the largest to the smallest.

use super::fanout::{drive, JobEdges, Limits};
use super::{Provisioner, Registry};
use crate::cloudflare::sim::{client, Sim, SimTimers};
use crate::database::d1::{D1Backend, D1Options};
use crate::schema::job::{Answer, Job, Settings};
use crate::sql::{Row, SqlDatabase, SqlError, Statement};
use crate::testing::{Rng, SqliteDatabase};
use crate::{Error, TenantId, UnixTime};
use pollster::block_on;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

/// A database that keeps the text of every statement it runs.
struct Recording<'a> {
    db: &'a SqliteDatabase,
    seen: RefCell<BTreeMap<String, Statement>>,
}

impl SqlDatabase for Recording<'_> {
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, SqlError> {
        for statement in &statements {
            (self.seen.borrow_mut())
                .entry(statement.sql.to_string())
                .or_insert_with(|| statement.clone());
        }
        self.db.batch(statements).await
    }
}

/// A job's edges where every step passes at once.
struct Passing;

impl JobEdges for Passing {
    async fn validate(&self) -> Answer {
        Answer::DryRun { at_version: false }
    }
    async fn commit(&self) -> Answer {
        Answer::Done
    }
    async fn dry_run(&self, _: &TenantId) -> Answer {
        Answer::DryRun { at_version: false }
    }
    async fn bookmark(&self, _: &TenantId) -> Answer {
        Answer::Bookmark("2026-01-01T00:00:00.000Z".into())
    }
    async fn migrate(&self, _: &TenantId) -> Answer {
        Answer::Done
    }
    async fn restore(&self, _: &TenantId, _: &str) -> Answer {
        Answer::Done
    }
}

/// The registry's partial indexes: reading one whole reads only the rows it holds.
const PARTIAL: &[&str] = &[
    "edge_tenancy_schema_jobs_live",
    "edge_tenancy_tenants_queue",
];

/// The rows of `EXPLAIN QUERY PLAN` for `statement` that read a whole big table, through an
/// index or not.
fn full_scans(db: &SqliteDatabase, statement: &Statement) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {}", statement.sql);
    let plan = block_on(db.batch(vec![Statement::new(explain, statement.params.clone())]))
        .unwrap_or_else(|e| panic!("{}: {e}", statement.sql));
    plan.into_iter()
        .flatten()
        .filter_map(|row| {
            row.get("detail")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        })
        .filter(|detail| {
            [
                "edge_tenancy_tenants",
                "edge_tenancy_schema_jobs",
                "edge_tenancy_schema_tasks",
            ]
            .iter()
            .any(|table| detail == &format!("SCAN {table}") || detail.starts_with(&format!("SCAN {table} ")))
                // A partial index holds only what is live (jobs not over, tenants not ready).
                && !PARTIAL.iter().any(|index| detail.ends_with(&format!("INDEX {index}")))
        })
        .collect()
}

#[test]
fn no_statement_the_registry_sends_scans_a_whole_table() {
    let sqlite = SqliteDatabase::in_memory();
    let db = Recording {
        db: &sqlite,
        seen: RefCell::default(),
    };
    let sim = Sim::new();
    sim.now.set(UnixTime::from_secs(1_767_225_600));
    let now = || sim.now.get();
    let registry = Registry::new(&db);
    block_on(registry.migrate(now())).unwrap();
    let api = client(&sim);
    let options = D1Options {
        bind_to: Some("demo".into()),
        ..D1Options::default()
    };
    let backend = D1Backend::new(&api, options).unwrap();
    let timers = SimTimers(&sim);
    let provisioner = Provisioner::new(&registry, &backend, &(), &timers, "owner".into());
    let tenants = [id("acme"), id("globex"), id("initech")];
    // Through the queue, as a bulk onboarding would.
    block_on(provisioner.enqueue(&tenants)).unwrap();
    block_on(registry.queue_status(now())).unwrap();
    let room = |_| Duration::ZERO;
    let drained = block_on(provisioner.drain(now() + Duration::from_secs(60), 10, room)).unwrap();
    assert_eq!(drained.ready.len(), 3, "{drained:?}");
    // The request path and the control-plane routes.
    for tenant in &tenants {
        block_on(registry.lookup(tenant)).unwrap();
        block_on(registry.get(tenant)).unwrap();
    }
    block_on(registry.list(None, 100)).unwrap();
    block_on(registry.list(Some(&tenants[0]), 2)).unwrap();
    block_on(registry.records(&tenants)).unwrap();
    block_on(registry.identity()).unwrap();
    // A schema group and a job over it, driven to its end.
    for tenant in &tenants {
        block_on(registry.record_caught_up(tenant, "app", 1, now())).unwrap();
    }
    block_on(registry.group_version("app", 1)).unwrap();
    block_on(registry.group_page("app", Some(&tenants[0]), Some(10))).unwrap();
    block_on(registry.record_group_database("app", "uuid-parent")).unwrap();
    block_on(registry.group_database("app")).unwrap();
    let group = block_on(registry.group_tenants("app")).unwrap();
    let job = Job::new(
        "app",
        2,
        group,
        Settings {
            hold_ms: 0,
            ..Settings::default()
        },
    );
    let job_id = block_on(registry.submit_job(&job, now())).unwrap();
    let limits = Limits {
        calls: 1_000,
        until: now() + Duration::from_secs(60),
        lease: Duration::from_secs(60),
    };
    let driven = block_on(drive(
        &registry, &Passing, &timers, job_id, "driver", limits,
    ))
    .unwrap();
    assert!(
        driven.record.job.outcome().is_some(),
        "{:?}",
        driven.record.job.phase
    );
    block_on(registry.active_jobs()).unwrap();
    block_on(registry.control_job(job_id, super::jobs::JobControl::Pause, now())).ok();
    // A failure after ready, then the tenants' removal.
    block_on(registry.fail_ready(&tenants[2], &Error::HookFailed("x".into()), now())).unwrap();
    for tenant in &tenants {
        block_on(provisioner.deprovision(tenant)).unwrap();
    }

    let seen = db.seen.into_inner();
    assert!(seen.len() > 30, "{} statements seen", seen.len());
    let scans: Vec<String> = seen
        .iter()
        .filter(|(sql, _)| {
            let sql = sql.trim_start().to_ascii_uppercase();
            !sql.starts_with("CREATE") && !sql.starts_with("ALTER")
        })
        .flat_map(|(sql, statement)| {
            let scans = full_scans(&sqlite, statement);
            scans.into_iter().map(move |scan| format!("{scan}: {sql}"))
        })
        .collect();
    assert!(scans.is_empty(), "full scans:\n{}", scans.join("\n"));
}

/// A registry of `count` ready tenants (`t000001`, …) of group `app`, made in one statement.
fn registry_of(count: usize) -> (SqliteDatabase, Vec<TenantId>) {
    let db = SqliteDatabase::in_memory();
    block_on(Registry::new(&db).migrate(UnixTime::EPOCH)).unwrap();
    let fill = Statement::new(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO edge_tenancy_tenants (id, created_at, backend, state, database_id, \
         database_name, binding, script, schema_group, schema_version, updated_at) \
         SELECT printf('t%06d', i), 0, 'd1', 'ready', printf('uuid-%06d', i), \
         printf('tenant_t%06d', i), printf('TENANT_T%06d', i), 'demo', 'app', 1, 0 FROM n",
        vec![crate::sql::Value::Integer(count as i64)],
    );
    block_on(db.batch(vec![fill])).unwrap();
    let ids = (1..=count).map(|i| id(&format!("t{i:06}"))).collect();
    (db, ids)
}

/// Each call's microseconds, `f` called `rounds` times, each given a random tenant.
fn timings(rounds: usize, ids: &[TenantId], rng: &Rng, mut f: impl FnMut(&TenantId)) -> Vec<f64> {
    (0..rounds)
        .map(|_| {
            let tenant = &ids[rng.below(ids.len())];
            let start = Instant::now();
            f(tenant);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn mean(figures: &[f64]) -> f64 {
    figures.iter().sum::<f64>() / figures.len() as f64
}

/// The `q`-quantile of `figures`.
fn quantile(figures: &[f64], q: f64) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[test]
#[ignore = "a benchmark: bash bench/run.sh registry"]
fn registry_at_scale() {
    let sizes = [1_000, 10_000, 100_000];
    let mut table: Vec<(&str, Vec<f64>)> = [
        "lookup by id",
        "list, a page of 100",
        "records, 500 rows",
        "group page of 100",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    let mut percentiles = Vec::new();
    for count in sizes {
        let (db, ids) = registry_of(count);
        let registry = Registry::new(&db);
        let rng = Rng::new(7);
        // Each answer checked: the tenant asked for, the page after the id given.
        let lookups = timings(20_000, &ids, &rng, |t| {
            let lookup = block_on(registry.lookup(t)).unwrap();
            assert!(lookup.location.is_some());
        });
        percentiles.push((quantile(&lookups, 0.5), quantile(&lookups, 0.99)));
        table[0].1.push(mean(&lookups));
        table[1].1.push(mean(&timings(2_000, &ids, &rng, |t| {
            let page = block_on(registry.list(Some(t), 100)).unwrap();
            assert!(page.tenants.first().is_none_or(|first| &first.id > t));
        })));
        table[2].1.push(mean(&timings(200, &ids, &rng, |_| {
            // 500 tenants, none twice.
            let mut some = std::collections::BTreeSet::new();
            while some.len() < 500 {
                some.insert(ids[rng.below(ids.len())].clone());
            }
            let some: Vec<TenantId> = some.into_iter().collect();
            let rows = block_on(registry.records(&some)).unwrap();
            assert_eq!(rows.len(), 500);
        })));
        table[3].1.push(mean(&timings(2_000, &ids, &rng, |t| {
            let page = block_on(registry.group_page("app", Some(t), Some(100))).unwrap();
            assert!(page.first().is_none_or(|first| first > t));
        })));
    }
    println!("\nregistry on SQLite, microseconds per call, mean (one read each; random tenants)");
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>14}",
        "", "1,000", "10,000", "100,000", "100k / 1k"
    );
    for (name, figures) in &table {
        println!(
            "{name:<22} {:>10.1} {:>10.1} {:>10.1} {:>13.2}x",
            figures[0],
            figures[1],
            figures[2],
            figures[2] / figures[0]
        );
    }
    for (size, (p50, p99)) in sizes.iter().zip(&percentiles) {
        println!("lookup by id at {size:>7} tenants: p50 {p50:.1} us, p99 {p99:.1} us");
    }
}
