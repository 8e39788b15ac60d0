//! A model-based fault test of the control plane: random histories of concurrent provisioners,
//! queue drains (several tenants provisioned together, bound in one change) and deprovisioners, for a few tenants of two registries (staging and production) sharing one
//! simulated Cloudflare account and one database prefix, each registry a real SQLite database.
//!
//! A history starts actors at random times and runs them interleaved on a simulated clock (every
//! API call is a point where another actor runs), while it injects faults: API failures (5xx,
//! `success: false`, 429), answers lost after the work was done, timeouts, a proxy's bare 404,
//! calls slower than the lease (their work lands late, after a takeover), clock jumps past the
//! lease, failing hooks, and crashes (an actor's future dropped between any two steps). Then
//! everything is retried quietly, and the invariants are checked:
//!
//! - every database the account holds (but the unrelated ones it started with) belongs to
//!   exactly one ready row of the registry its name names: no orphan, no database of one
//!   registry recorded by the other;
//! - every row is `ready` and names a database that exists: nothing stuck, nothing lost;
//! - every ready tenant's binding is on its registry's Worker and reaches its database;
//! - every tenant made by a restore (some actors restore) had its database filled.
//!
//! And all along the history, every 10 rounds: a database a row once recorded is never left
//! without a row recording it (no data is ever orphaned, even before a retry could repair it).
//!
//! `EDGE_TENANCY_HISTORIES` sets how many histories run (default 1,000); `EDGE_TENANCY_SEED`
//! replays one. A failing history prints its seed and its events.

use super::*;
use crate::cloudflare::sim::{client, Fault, Sim, SimTimers};
use crate::database::d1::{D1Backend, D1Options};
use crate::database::Hooks;
use crate::testing::{run_histories, Rng, SqliteDatabase};
use crate::{Error, TenantId};
use pollster::block_on;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const TENANTS: [&str; 3] = ["acme", "beta", "gamma"];
const SCRIPTS: [&str; 2] = ["worker-production", "worker-staging"];
/// Databases of the account that are no registry's: never touched.
const UNRELATED: usize = 2;

/// Hooks that fail when the history says so, back up to a key named by the tenant, and
/// remember which databases a restore filled.
struct Hooks2<'r> {
    rng: &'r Rng,
    failing: Cell<bool>,
    filled: RefCell<std::collections::BTreeSet<String>>,
}

impl Hooks for Hooks2<'_> {
    async fn after_provision(&self, record: &TenantRecord) -> Result<(), String> {
        assert!(record.database_id.is_some(), "hooks run on a made database");
        if self.failing.get() && self.rng.chance(30) {
            return Err("migration failed\n  at a stack frame that must not be stored".into());
        }
        Ok(())
    }

    async fn before_deprovision(&self, record: &TenantRecord) -> Result<Option<String>, String> {
        if self.failing.get() && self.rng.chance(30) {
            return Err("backup failed".into());
        }
        Ok(record
            .database_id
            .as_ref()
            .map(|id| format!("backups/{}/{id}.sql", record.id)))
    }

    async fn restore(&self, record: &TenantRecord, _backup: &str) -> Result<(), String> {
        if self.failing.get() && self.rng.chance(30) {
            return Err("import failed".into());
        }
        let id = record
            .database_id
            .clone()
            .expect("restored into a made database");
        self.filled.borrow_mut().insert(id);
        Ok(())
    }
}

/// One registry: its database and its Worker.
struct Side {
    db: SqliteDatabase,
    script: &'static str,
}

impl Side {
    fn options(&self) -> D1Options {
        D1Options {
            bind_to: Some(self.script.into()),
            ..D1Options::default()
        }
    }

    fn identity(&self) -> String {
        block_on(Registry::new(&self.db).identity()).unwrap()
    }

    fn rows(&self) -> Vec<TenantRecord> {
        block_on(Registry::new(&self.db).list(None, 1000))
            .unwrap()
            .tenants
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Provision,
    Restore,
    Deprovision,
    /// Queue every tenant, then drain the queue: the due tenants provisioned together, their
    /// bindings in one change.
    Queue,
}

type Actor<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

/// Runs one history from `seed`: its events, or what broke.
fn history(seed: u64) -> Result<Vec<String>, String> {
    let rng = Rng::new(seed);
    let sim = Sim::new();
    sim.now.set(crate::UnixTime::from_secs(1_767_225_600));
    sim.yielding.set(true);
    sim.seed(UNRELATED);
    let sides: Vec<Side> = SCRIPTS
        .iter()
        .map(|script| Side {
            db: SqliteDatabase::in_memory(),
            script,
        })
        .collect();
    for side in &sides {
        block_on(Registry::new(&side.db).migrate(sim.now.get())).unwrap();
    }
    let events = RefCell::new(Vec::<String>::new());
    let log = |e: String| events.borrow_mut().push(e);
    let client = client(&sim);
    let timers = SimTimers(&sim);
    let hooks = Hooks2 {
        rng: &rng,
        failing: Cell::new(true),
        filled: Default::default(),
    };
    let registries: Vec<Registry<&SqliteDatabase>> =
        sides.iter().map(|s| Registry::new(&s.db)).collect();
    let backends: Vec<D1Backend<'_, _, _>> = sides
        .iter()
        .map(|s| D1Backend::new(&client, s.options()).unwrap())
        .collect();
    let tenants: Vec<TenantId> = TENANTS.iter().map(|t| t.parse().unwrap()).collect();
    // Provisioners live as long as the history; each actor borrows one.
    let provisioners: Vec<_> = (0..12)
        .map(|i| {
            let side = i % sides.len();
            Provisioner::new(
                &registries[side],
                &backends[side],
                &hooks,
                &timers,
                format!("actor-{i}"),
            )
        })
        .collect();

    let mut actors: Vec<Option<(String, Actor<'_>)>> = Vec::new();
    let mut recorded = std::collections::BTreeSet::new();
    let mut next = 0;
    let mut cx = Context::from_waker(Waker::noop());
    let rounds = 400 + rng.below(400);
    for round in 0..rounds {
        // Start an actor now and then, on a random registry, tenant and operation.
        if next < provisioners.len() && rng.chance(4) {
            let p = &provisioners[next];
            let side = next % sides.len();
            let tenant = &tenants[rng.below(tenants.len())];
            let op = match rng.below(100) {
                0..35 => Op::Provision,
                35..50 => Op::Queue,
                50..65 => Op::Restore,
                _ => Op::Deprovision,
            };
            let name = format!("actor-{next} {op:?} {tenant} on {}", SCRIPTS[side]);
            log(format!("{round}: start {name}"));
            let future: Actor<'_> = match op {
                Op::Provision => Box::pin(async move { p.provision(tenant).await.map(|_| ()) }),
                Op::Restore => Box::pin(async move {
                    let backup = format!("backups/{tenant}/1.sql");
                    p.restore(tenant, &backup).await.map(|_| ())
                }),
                Op::Deprovision => Box::pin(async { p.deprovision(tenant).await.map(|_| ()) }),
                Op::Queue => Box::pin(async {
                    p.enqueue(&tenants).await?;
                    let until = p.now() + DEFAULT_LEASE;
                    p.drain(until, TENANTS.len(), |_| Duration::ZERO)
                        .await
                        .map(|_| ())
                }),
            };
            actors.push(Some((name, future)));
            next += 1;
        }
        // Faults on the calls to come.
        if rng.chance(3) {
            let ops = [
                "d1.create",
                "d1.list",
                "d1.delete",
                "d1.get",
                "workers.settings.get",
                "workers.settings.patch",
            ];
            let op = ops[rng.below(ops.len())];
            let fault = match rng.below(7) {
                0 => Some(Fault::Status(500, 0)),
                1 => Some(Fault::Status(404, 0)),
                2 => Some(Fault::Status(429, 1)),
                3 => Some(Fault::SuccessFalse),
                4 => Some(Fault::Drop),
                5 => Some(Fault::Timeout),
                _ => None,
            };
            match fault {
                Some(fault) => {
                    log(format!("{round}: fault {op} {fault:?}"));
                    sim.fault(op, fault);
                }
                None => {
                    let delay = Duration::from_secs(60 + rng.below(240) as u64);
                    log(format!("{round}: {op} slow by {delay:?}"));
                    sim.slow(op, delay);
                }
            }
        }
        if rng.chance(1) {
            let jump = DEFAULT_LEASE + Duration::from_secs(1 + rng.below(60) as u64);
            log(format!("{round}: clock jumps {jump:?}"));
            sim.now.set(sim.now.get() + jump);
        }
        // A crash: an actor's future dropped wherever it is.
        if rng.chance(2) && !actors.is_empty() {
            let i = rng.below(actors.len());
            if let Some((name, _)) = actors[i].take() {
                log(format!("{round}: crash {name}"));
            }
        }
        if round % 10 == 0 {
            kept_recorded(&sim, &sides, &mut recorded)
                .map_err(|broken| report(seed, &events, format!("round {round}: {broken}")))?;
        }
        sim.now.set(sim.now.get() + Duration::from_millis(500));
        // Every live actor one step, in a random order.
        let mut order: Vec<usize> = (0..actors.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for i in order {
            let Some((name, future)) = &mut actors[i] else {
                continue;
            };
            if let Poll::Ready(outcome) = future.as_mut().poll(&mut cx) {
                log(format!("{round}: {name} -> {outcome:?}"));
                actors[i] = None;
            }
        }
    }
    // Those still running are cut off where they are.
    for (name, _) in actors.iter_mut().filter_map(Option::take) {
        log(format!("end: cut off {name}"));
    }

    // Quiet: no faults, every lease run out, then every tenant of every registry retried to the
    // state its row asks for (none: a deprovision, which also removes what a stalled provisioning
    // left).
    sim.faults.borrow_mut().clear();
    sim.slow.borrow_mut().clear();
    hooks.failing.set(false);
    sim.now.set(sim.now.get() + DEFAULT_LEASE * 2);
    for (side, registry) in registries.iter().enumerate() {
        for tenant in &tenants {
            let p = Provisioner::new(
                registry,
                &backends[side],
                &hooks,
                &timers,
                format!("quiet-{side}"),
            );
            let state = block_on(registry.get(tenant)).map(|r| r.state);
            let outcome = match state {
                Ok(TenantState::Deprovisioning) | Err(Error::TenantNotFound) => {
                    match block_on(p.deprovision(tenant)) {
                        Err(Error::TenantNotFound) => Ok(()),
                        other => other.map(|_| ()),
                    }
                }
                Ok(_) => block_on(p.provision(tenant)).map(|_| ()),
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                return Err(report(
                    seed,
                    &events,
                    format!("quiet retry of {tenant} on {}: {error:?}", SCRIPTS[side]),
                ));
            }
        }
    }
    check(&sim, &sides, &hooks.filled.borrow()).map_err(|broken| report(seed, &events, broken))?;
    Ok(events.into_inner())
}

/// A database some row recorded, and that still exists, is recorded by a row now: removal
/// deletes a database before its row, never the row alone. `recorded` grows with every call.
fn kept_recorded(
    sim: &Sim,
    sides: &[Side],
    recorded: &mut std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let now: std::collections::BTreeSet<String> = sides
        .iter()
        .flat_map(Side::rows)
        .filter_map(|r| r.database_id)
        .collect();
    for (uuid, name) in sim.databases.borrow().iter() {
        if recorded.contains(uuid) && !now.contains(uuid) {
            return Err(format!(
                "database {name} ({uuid}) outlived every row recording it"
            ));
        }
    }
    recorded.extend(now);
    Ok(())
}

fn report(seed: u64, events: &RefCell<Vec<String>>, broken: String) -> String {
    format!(
        "history {seed} (replay: EDGE_TENANCY_SEED={seed}): {broken}\n{}",
        events.borrow().join("\n")
    )
}

/// The invariants after a quiet retry (see the module docs).
fn check(
    sim: &Sim,
    sides: &[Side],
    filled: &std::collections::BTreeSet<String>,
) -> Result<(), String> {
    let databases = sim.databases.borrow().clone();
    let identities: Vec<String> = sides.iter().map(Side::identity).collect();
    let rows: Vec<Vec<TenantRecord>> = sides.iter().map(Side::rows).collect();
    let unrelated = databases
        .iter()
        .filter(|(_, name)| name.starts_with("seed-"))
        .count();
    if unrelated != UNRELATED {
        return Err("an unrelated database was deleted".into());
    }
    for (uuid, name) in databases.iter().filter(|(_, n)| !n.starts_with("seed-")) {
        let owner = identities
            .iter()
            .position(|id| name.ends_with(&format!("-{id}")))
            .ok_or(format!("database {name} is no registry's"))?;
        let holders: Vec<_> = rows[owner]
            .iter()
            .filter(|r| r.database_id.as_deref() == Some(uuid))
            .collect();
        if holders.len() != 1 {
            return Err(format!(
                "database {name} ({uuid}) is recorded by {} rows: an orphan or a double",
                holders.len()
            ));
        }
        let other = 1 - owner;
        if rows[other]
            .iter()
            .any(|r| r.database_id.as_deref() == Some(uuid))
        {
            return Err(format!("database {name} is recorded by the other registry"));
        }
    }
    for (side, rows) in rows.iter().enumerate() {
        let bindings = sim.bindings_of(sides[side].script);
        for row in rows {
            if row.state != TenantState::Ready {
                return Err(format!("{} stuck {:?}: {:?}", row.id, row.state, row.error));
            }
            let id = row
                .database_id
                .as_deref()
                .ok_or(format!("{} ready without a database", row.id))?;
            if !databases.iter().any(|(uuid, _)| uuid == id) {
                return Err(format!("{} names a database that does not exist", row.id));
            }
            if row.restored_from.is_some() && !filled.contains(id) {
                return Err(format!(
                    "{} is ready restored, its database never filled",
                    row.id
                ));
            }
            let binding = row
                .binding
                .as_deref()
                .ok_or(format!("{} ready without a binding", row.id))?;
            let there = bindings
                .iter()
                .any(|b| b["name"] == binding && b["database_id"] == id);
            if !there {
                return Err(format!(
                    "{}'s binding {binding} is not on {}: {bindings:?}",
                    row.id, sides[side].script
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn random_histories_with_faults_and_crashes_keep_every_database_and_binding() {
    // What the histories did, so that a change that makes them vacuous shows.
    let kinds = [
        "start",
        "-> Ok",
        "LeaseLost",
        "TenantBusy",
        "TenantExists",
        "Restore",
        "Queue",
        "HookFailed",
        "Upstream",
        "crash",
        "cut off",
        "slow by",
        "clock jumps",
        "fault",
    ];
    run_histories(history, &kinds);
}
