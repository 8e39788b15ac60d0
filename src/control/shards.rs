//! Shards: tenants' databases bound across several Worker scripts, each holding at most
//! `maxBindings`, filled in order; a tenant moved between them in one call
//! ([`Provisioner::move_to`]).

use crate::cloudflare::sim::{client, Sim, SimTimers};
use crate::control::{Provisioner, Registry, TenantState};
use crate::database::d1::{BindTo, D1Backend, D1Options};
use crate::testing::SqliteDatabase;
use crate::{Error, TenantId, UnixTime};
use pollster::block_on;
use std::time::Duration;

const SHARDS: [&str; 4] = ["tenants-0", "tenants-1", "tenants-2", "tenants-3"];

fn id(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

#[test]
fn tenants_fill_the_shards_in_order_and_move_between_them_in_one_call() {
    let sim = Sim::new();
    sim.now.set(UnixTime::from_secs(1_767_225_600));
    let db = SqliteDatabase::in_memory();
    let registry = Registry::new(&db);
    block_on(registry.migrate(sim.now.get())).unwrap();
    let api = client(&sim);
    let d1 = D1Options {
        bind_to: Some(BindTo::Shards(SHARDS.map(str::to_owned).to_vec())),
        max_bindings: 50,
        ..D1Options::default()
    };
    let backend = D1Backend::new(&api, d1).unwrap();
    let timers = SimTimers(&sim);
    let p = Provisioner::new(&registry, &backend, &(), &timers, "p".into());

    // 180 tenants queued and drained: three shards full, the fourth holding the rest.
    let tenants: Vec<TenantId> = (0..180).map(|i| id(&format!("t{i:03}"))).collect();
    block_on(p.enqueue(&tenants)).unwrap();
    let drained = block_on(
        p.drain(sim.now.get() + Duration::from_secs(600), 1_000, |_| {
            Duration::ZERO
        }),
    )
    .unwrap();
    assert_eq!(drained.ready, tenants);
    let held = |script: &str| sim.bindings_of(script);
    assert_eq!(SHARDS.map(|s| held(s).len()), [50, 50, 50, 30]);
    for tenant in &tenants {
        let record = block_on(registry.get(tenant)).unwrap();
        let script = record.script.clone().unwrap();
        let binding = record.binding.clone().unwrap();
        let reaches = held(&script).iter().any(|b| {
            b["name"] == binding && b["database_id"] == record.database_id.as_deref().unwrap()
        });
        assert!(
            reaches,
            "{tenant}: its binding on {script} reaches its database"
        );
    }

    // One call moves a tenant: bound on the new shard, recorded, unbound from the old.
    let t0 = &tenants[0];
    let moved = block_on(p.move_to(t0, "tenants-3")).unwrap();
    assert_eq!(moved.state, TenantState::Ready);
    assert_eq!(moved.script.as_deref(), Some("tenants-3"));
    assert_eq!(moved.error_code, None);
    assert_eq!(SHARDS.map(|s| held(s).len()), [49, 50, 50, 31]);
    // Moved again to where it is: nothing changes.
    let calls = sim.log.borrow().len();
    assert_eq!(
        block_on(p.move_to(t0, "tenants-3")).unwrap().script,
        moved.script
    );
    assert_eq!(sim.log.borrow().len(), calls, "no API call");
    // The room it left is the next tenant's.
    let next = block_on(p.provision(&id("late"))).unwrap();
    assert_eq!(next.record.script.as_deref(), Some("tenants-0"));

    // A full shard refuses the move: the tenant stays where it was, the reason recorded.
    let t1 = &tenants[60];
    let refused = block_on(p.move_to(t1, "tenants-0")).unwrap_err();
    assert_eq!(refused, Error::BindingLimit { limit: 50 });
    let stayed = block_on(registry.get(t1)).unwrap();
    assert_eq!(
        (stayed.state, stayed.script.as_deref()),
        (TenantState::Ready, Some("tenants-1"))
    );
    assert_eq!(stayed.error_code, None, "its record untouched");
    let leased = block_on(registry.leased(t1)).unwrap().unwrap();
    assert_eq!(leased.lease_until, None, "its lease given up");
    assert_eq!(SHARDS.map(|s| held(s).len()), [50, 50, 50, 31]);
    // A script that is not a shard, or a tenant that is not there.
    assert!(matches!(
        block_on(p.move_to(t1, "elsewhere")),
        Err(Error::InvalidBody(_))
    ));
    assert_eq!(
        block_on(p.move_to(&id("nobody"), "tenants-3")),
        Err(Error::TenantNotFound)
    );
}
