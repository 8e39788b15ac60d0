//! [`Provisioner`]: provisioning and deprovisioning tenant databases, idempotent, resumable and
//! fenced.
//!
//! The registry row is the lock (see [`super::registry`]). Every external step (make the
//! database, bind it, the user's hooks, unbind, delete) runs under the row's [`Lease`]: the lease
//! is renewed before the step starts and every third of its length while it runs, and a step
//! whose renewal finds the lease taken over is dropped on the spot; what the step found is
//! recorded under the same lease, a write the registry refuses once the generation moved on. So a
//! holder that stalled past its lease does nothing after the takeover but, at most, finish the one
//! call it had in flight, and that call is one the next holder's steps are safe against:
//!
//! - databases are named by the registry's identity and the tenant
//!   ([`Backend::database_name`]): a database of that name is this registry's by construction,
//!   so a create answered "name taken" adopts it, and a removal that finds no recorded id finds
//!   it by name; two registries on one account never touch each other's;
//! - unbind names the database the binding must still reach, delete names the database id:
//!   nothing is removed by name alone;
//! - binding changes (a read-modify-write of the Worker's whole list) take a second lease, on
//!   the Worker's name, so two provisions never lose each other's binding. The list a change
//!   answers is kept in the registry under that lease's name, and the next change within the
//!   backend's freshness ([`Backend::binding_list_fresh`]) writes from it instead of reading the
//!   list again; a failed change forgets it. Past the backend's binding limit a tenant is made
//!   ready unbound, the reason recorded as its error code (`binding_limit`): its queries use the
//!   REST API.
//!
//! Many tenants at once ([`Provisioner::provision_many`], what a queue drain does): each is
//! claimed and its database made, then all are bound in one change of the list, then each is
//! brought to its schema and made ready. A tenant's failure in its own steps is its own; the
//! binding change is shared: it fails for all when the API fails it or when any one's lease is
//! lost meanwhile (the others are recorded failed, and tried again), and a binding the API
//! refuses makes the change fall back to one tenant at a time.
//!
//! Provisioning: claim the row (`provisioning`, database name recorded first) → make (or adopt)
//! the database → record its id → when restoring, fill it from the backup (the `restore` hook)
//! → bind it and record the binding → bring it to its schema group's migrations and record the
//! version (`Hooks::migrate`) → the user's `after_provision` hook → `ready`. A failure
//! marks the tenant `failed` with a code and a short message, which provisioning again resumes
//! (a restore included: the row keeps the backup it is restored from).
//!
//! Deprovisioning: claim the row (`deprovisioning`) → find a database a stopped provisioning made
//! but did not record → the user's `before_deprovision` hook (a backup), its answer recorded →
//! unbind → delete the database (gone only when the backend says so in its own words) and record
//! that it is gone → only then delete the row. A failure records its reason and gives the lease
//! up, so a retry resumes at once; each recorded step is skipped by the retry. Deprovisioning a
//! tenant the registry does not hold removes a database of its name that a stalled provisioning
//! made after an earlier removal, under a row of its own while it does.

use super::backend::{Backend, Bound, Created, Hooks, Listed};
use super::registry::{Lease, Leased, Registry, TenantRecord, TenantState};
use crate::cloudflare::Runtime;
use crate::sql::SqlDatabase;
use crate::{Error, TenantId, UnixTime};
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// How long a provisioner holds a tenant's row between renewals: past it, another may take over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// The most a caller is told to wait for a busy tenant: a provisioning takes seconds; a holder
/// that died is replaced once its lease runs out, and the caller asks again meanwhile.
const BUSY_RETRY_SECS: u32 = 5;

/// What provisioning came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The tenant's record, `ready`.
    pub record: TenantRecord,
    /// Whether it was ready before this call (nothing was done).
    pub already: bool,
}

/// A tenant this provisioner holds the row of, and what it has learnt on the way.
struct Claimed {
    tenant: TenantId,
    lease: Lease,
    /// The row as last recorded.
    record: TenantRecord,
    /// Its database's name.
    name: String,
    /// Why it is made ready unbound ([`Error::BindingLimit`]), recorded as its code.
    note: Option<Error>,
}

/// What deprovisioning came to.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Deprovisioned {
    /// Where the backup taken before the database was deleted is (an R2 key for
    /// [`Provisioner::restore`]), if one was taken.
    pub backup: Option<String>,
}

/// What a removal found.
struct Removed {
    /// Whether the row named a database.
    database: bool,
    /// The backup taken before it was deleted.
    backup: Option<String>,
}

/// Provisions and deprovisions tenants' databases with a backend, recording each step in the
/// registry.
pub struct Provisioner<'a, D, B, H, R> {
    pub(super) registry: &'a Registry<D>,
    pub(super) backend: &'a B,
    hooks: &'a H,
    runtime: &'a R,
    /// Who holds the leases this provisioner takes (unique per call in practice: a random id).
    owner: String,
    lease: Duration,
}

impl<'a, D: SqlDatabase, B: Backend, H: Hooks, R: Runtime> Provisioner<'a, D, B, H, R> {
    /// A provisioner taking leases as `owner`, its clock and timers from `runtime`.
    pub fn new(
        registry: &'a Registry<D>,
        backend: &'a B,
        hooks: &'a H,
        runtime: &'a R,
        owner: String,
    ) -> Self {
        Self {
            registry,
            backend,
            hooks,
            runtime,
            owner,
            lease: DEFAULT_LEASE,
        }
    }

    /// The same provisioner holding rows for `lease` at a time.
    pub fn with_lease(self, lease: Duration) -> Self {
        Self { lease, ..self }
    }

    pub(super) fn now(&self) -> UnixTime {
        self.runtime.now()
    }

    /// The name of `tenant`'s database: the backend's, with this registry's identity.
    pub(super) async fn database_name(&self, tenant: &TenantId) -> Result<String, Error> {
        let identity = self.registry.identity().await?;
        self.backend.database_name(tenant, &identity)
    }

    /// Provisions `tenant` (see the module docs). A ready tenant comes back as it is; one another
    /// provisioner is working on is [`Error::TenantBusy`]. A tenant id too long for the backend's
    /// names is refused before anything is written.
    pub async fn provision(&self, tenant: &TenantId) -> Result<Provisioned, Error> {
        self.make(&[(tenant.clone(), None)]).await.remove(0)
    }

    /// Provisions `tenants` as [`Provisioner::provision`] does each, with one change of the
    /// backend's binding list for all of them: each one's outcome, in order.
    pub async fn provision_many(&self, tenants: &[TenantId]) -> Vec<Result<Provisioned, Error>> {
        let asked: Vec<_> = tenants.iter().map(|t| (t.clone(), None)).collect();
        self.make(&asked).await
    }

    /// Provisions `tenant` with a new database filled from `backup` (an R2 key its
    /// `before_deprovision` hook answered) by [`Hooks::restore`], before it is bound and before
    /// `after_provision` (whose migrations bring an older backup up to date). Only a tenant the
    /// registry does not hold can be restored, or one being restored from the same backup,
    /// which this resumes; any other is [`Error::TenantExists`]. A restore that failed is
    /// resumed by provisioning the tenant again: its row remembers the backup.
    pub async fn restore(&self, tenant: &TenantId, backup: &str) -> Result<Provisioned, Error> {
        self.make(&[(tenant.clone(), Some(backup.to_owned()))])
            .await
            .remove(0)
    }

    /// Provisions each of `asked` (a tenant, and the backup to restore it from): claims each,
    /// makes each one's database, binds them all in one change, then brings each to its schema
    /// and runs its hooks. Each one's outcome, in order.
    async fn make(&self, asked: &[(TenantId, Option<String>)]) -> Vec<Result<Provisioned, Error>> {
        let mut outcomes: Vec<Option<Result<Provisioned, Error>>> = vec![None; asked.len()];
        let mut working = Vec::new();
        for (at, (tenant, backup)) in asked.iter().enumerate() {
            match self.claim(tenant, backup.as_deref()).await {
                Ok(Ok(claimed)) => working.push((at, claimed)),
                Ok(Err(done)) => outcomes[at] = Some(Ok(done)),
                Err(error) => outcomes[at] = Some(Err(error)),
            }
        }
        let mut made = Vec::new();
        for (at, mut claimed) in working {
            match self.make_database(&mut claimed).await {
                Ok(()) => made.push((at, claimed)),
                Err(error) => outcomes[at] = Some(Err(self.fail(&claimed, error).await)),
            }
        }
        let unbound: Vec<usize> = (0..made.len())
            .filter(|&i| made[i].1.record.binding.is_none())
            .collect();
        let bound = self.bind_all(unbound.iter().map(|&i| &made[i].1)).await;
        let mut failed = vec![None; made.len()];
        for (i, outcome) in unbound.into_iter().zip(bound) {
            let claimed = &mut made[i].1;
            let recorded = match outcome {
                Ok(Some(bound)) => self
                    .registry
                    .record_binding(
                        &claimed.tenant,
                        &claimed.lease,
                        Some((&bound.binding, &bound.script)),
                        self.now(),
                    )
                    .await
                    .map(|record| claimed.record = record),
                Ok(None) => Ok(()),
                // Past the Worker's binding limit the tenant is served over the REST API: an
                // explicit rule, recorded on the tenant (its error code while ready), not a
                // silent fallback.
                Err(limit @ Error::BindingLimit { .. }) => {
                    claimed.note = Some(limit);
                    Ok(())
                }
                Err(error) => Err(error),
            };
            failed[i] = recorded.err();
        }
        for ((at, claimed), failed) in made.into_iter().zip(failed) {
            let finished = match failed {
                Some(error) => Err(error),
                None => self.finish_steps(&claimed).await,
            };
            outcomes[at] = Some(match finished {
                Ok(record) => Ok(Provisioned {
                    record,
                    already: false,
                }),
                Err(error) => Err(self.fail(&claimed, error).await),
            });
        }
        outcomes.into_iter().flatten().collect()
    }

    /// Takes `tenant`'s row to provision it (from `backup`): `Err` with what a tenant that needs
    /// nothing came to (it is ready).
    async fn claim(
        &self,
        tenant: &TenantId,
        backup: Option<&str>,
    ) -> Result<Result<Claimed, Provisioned>, Error> {
        let name = self.database_name(tenant).await?;
        let now = self.now();
        let claimed = self
            .registry
            .claim_provisioning(
                tenant,
                self.backend.name(),
                &name,
                backup,
                &self.owner,
                now,
                self.lease,
            )
            .await?;
        let Some((leased, lease)) = claimed else {
            return match self.registry.leased(tenant).await? {
                Some(Leased { record, .. })
                    if backup.is_some() && record.restored_from.as_deref() != backup =>
                {
                    Err(Error::TenantExists)
                }
                Some(Leased { record, .. }) if record.state == TenantState::Ready => {
                    Ok(Err(Provisioned {
                        record,
                        already: true,
                    }))
                }
                Some(leased) => Err(busy(&leased, now)),
                // Removed between the two statements: nothing to resume.
                None => Err(Error::LeaseLost),
            };
        };
        Ok(Ok(Claimed {
            tenant: tenant.clone(),
            lease,
            record: leased.record,
            name,
            note: None,
        }))
    }

    /// What a provisioning that failed with `error` answers, after recording it on the row. A
    /// lease lost is recorded too: a batch's change stops when any one of its tenants' leases
    /// is lost, and the others', still held, are failed (and tried again) rather than left
    /// leased; the registry refuses the record where the lease is truly gone.
    async fn fail(&self, claimed: &Claimed, error: Error) -> Error {
        let failed = self
            .registry
            .finish(
                &claimed.tenant,
                &claimed.lease,
                TenantState::Failed,
                Some(&error),
                self.now(),
            )
            .await;
        match failed {
            Ok(_) | Err(Error::LeaseLost) => error,
            Err(storage) => storage,
        }
    }

    /// Makes (or adopts) `claimed`'s database and records it; when restoring, fills it from the
    /// backup, before it is bound so that no request writes to it first.
    async fn make_database(&self, claimed: &mut Claimed) -> Result<(), Error> {
        let (tenant, lease) = (&claimed.tenant, &claimed.lease);
        if claimed.record.database_id.is_none() {
            // A row from before names carried the registry (or changed under us): its name does
            // not prove the database is ours, so it is never adopted.
            let adoptable = claimed.record.database_name.as_deref() == Some(&claimed.name);
            let made = self
                .fenced(&[(tenant, lease)], None, async {
                    match self.backend.create(&claimed.name).await? {
                        Created::Made(made) => Ok(made),
                        // Made by an earlier attempt whose answer was lost or never recorded:
                        // the name is this registry's and this tenant's.
                        Created::NameTaken if adoptable => self
                            .backend
                            .find(&claimed.name)
                            .await?
                            .ok_or(Error::ForeignDatabase),
                        Created::NameTaken => Err(Error::ForeignDatabase),
                    }
                })
                .await?;
            claimed.record = self
                .registry
                .record_database(tenant, lease, &made.id, self.now())
                .await?;
        }
        if let Some(backup) = &claimed.record.restored_from {
            let record = &claimed.record;
            self.fenced(&[(tenant, lease)], None, async {
                self.hooks
                    .restore(record, backup)
                    .await
                    .map_err(Error::HookFailed)
            })
            .await?;
        }
        Ok(())
    }

    /// Binds the databases of `claimed` (made, not bound yet) in one change of the backend's
    /// first list; those past its limit in one change of the next, and so on: each one's
    /// outcome, in order. A tenant whose lease was lost before the change is left out
    /// ([`Error::LeaseLost`]); a failure of a change (a lease lost during it included) is every
    /// tenant's it was for.
    async fn bind_all<'c>(
        &self,
        claimed: impl Iterator<Item = &'c Claimed>,
    ) -> Vec<Result<Option<Bound>, Error>> {
        let mut outcomes = Vec::new();
        let mut pending = Vec::new();
        for (at, c) in claimed.enumerate() {
            match self.renew_all(&[(&c.tenant, &c.lease)], None).await {
                Ok(()) => {
                    outcomes.push(Ok(None));
                    pending.push((at, c));
                }
                Err(error) => outcomes.push(Err(error)),
            }
        }
        for target in self.backend.binding_targets() {
            if pending.is_empty() {
                break;
            }
            let leases: Vec<_> = pending.iter().map(|(_, c)| (&c.tenant, &c.lease)).collect();
            let databases: Vec<_> = pending
                .iter()
                .map(|(_, c)| {
                    let id = c.record.database_id.clone().unwrap_or_default();
                    (c.tenant.clone(), id)
                })
                .collect();
            let target = &target;
            let changed = self
                .binding_change(target, &leases, |list| async move {
                    self.backend.bind(target, &databases, list.as_deref()).await
                })
                .await;
            let each = match changed {
                Ok(each) => each,
                Err(error) => pending.iter().map(|_| Err(error.clone())).collect(),
            };
            let mut full = Vec::new();
            for ((at, c), outcome) in pending.into_iter().zip(each) {
                if matches!(outcome, Err(Error::BindingLimit { .. })) {
                    full.push((at, c));
                }
                outcomes[at] = outcome;
            }
            pending = full;
        }
        outcomes
    }

    /// Moves ready `tenant`'s binding to Worker `script` (one of the backend's): bound there,
    /// recorded, then unbound from where it was. It stays `ready` all along; an isolate that
    /// still has the old place cached (for up to its cache's lifetime) reaches the database
    /// over the REST API once the old binding is gone. A move refused (that Worker full) or
    /// failed before the new binding is recorded leaves the tenant as it was, its record
    /// untouched; one that stops after it leaves the old binding in place (a slot of the old
    /// Worker's, reaching the same database), which moving the tenant back removes.
    pub async fn move_to(&self, tenant: &TenantId, script: &str) -> Result<TenantRecord, Error> {
        if !self.backend.binding_targets().iter().any(|t| t == script) {
            return Err(Error::InvalidBody(
                "the script is not one of those the factory binds to (bindTo)",
            ));
        }
        let now = self.now();
        let Some((leased, lease)) = self
            .registry
            .claim_ready(tenant, &self.owner, now, self.lease)
            .await?
        else {
            return match self.registry.leased(tenant).await? {
                Some(leased) => Err(busy(&leased, now)),
                None => Err(Error::TenantNotFound),
            };
        };
        let moved = self.move_steps(tenant, &lease, leased.record, script).await;
        if moved.is_err() {
            // Best effort: with the registry down, the lease runs out instead.
            let _ = self.registry.let_go(tenant, &lease, self.now()).await;
        }
        moved
    }

    async fn move_steps(
        &self,
        tenant: &TenantId,
        lease: &Lease,
        record: TenantRecord,
        script: &str,
    ) -> Result<TenantRecord, Error> {
        let id = record.database_id.clone().ok_or(Error::NotConfigured(
            "a ready tenant without a database cannot be moved",
        ))?;
        let from = match (record.binding.clone(), record.script.clone()) {
            (Some(binding), Some(from)) if from != script => Some(Bound {
                binding,
                script: from,
            }),
            (Some(_), Some(_)) => {
                return self
                    .registry
                    .finish(tenant, lease, TenantState::Ready, None, self.now())
                    .await
            }
            _ => None,
        };
        let databases = [(tenant.clone(), id.clone())];
        let bound = self
            .binding_change(script, &[(tenant, lease)], |list| async move {
                self.backend.bind(script, &databases, list.as_deref()).await
            })
            .await?
            .pop()
            .unwrap_or(Ok(None))?
            .ok_or(Error::NotConfigured("the backend bound nothing"))?;
        self.registry
            .record_binding(
                tenant,
                lease,
                Some((&bound.binding, &bound.script)),
                self.now(),
            )
            .await?;
        if let Some(from) = from {
            let (script, id) = (from.script.clone(), &id);
            self.binding_change(&script, &[(tenant, lease)], |list| async move {
                self.backend.unbind(&from, id, list.as_deref()).await
            })
            .await?;
        }
        self.registry
            .finish(tenant, lease, TenantState::Ready, None, self.now())
            .await
    }

    /// Brings `claimed`'s database to its schema, runs the user's `after_provision` and makes
    /// the tenant ready.
    async fn finish_steps(&self, claimed: &Claimed) -> Result<TenantRecord, Error> {
        let (tenant, lease) = (&claimed.tenant, &claimed.lease);
        let mut record = claimed.record.clone();
        let schema = self
            .fenced(&[(tenant, lease)], None, self.hooks.migrate(&record))
            .await?;
        if let Some(schema) = schema {
            record = self
                .registry
                .record_schema(tenant, lease, &schema, self.now())
                .await?;
        }
        self.fenced(&[(tenant, lease)], None, async {
            self.hooks
                .after_provision(&record)
                .await
                .map_err(Error::HookFailed)
        })
        .await?;
        self.registry
            .finish(
                tenant,
                lease,
                TenantState::Ready,
                claimed.note.as_ref(),
                self.now(),
            )
            .await
    }

    /// Deprovisions `tenant` (see the module docs). A tenant the registry does not hold is
    /// [`Error::TenantNotFound`], after a database of its name left by a stalled provisioning
    /// is removed.
    pub async fn deprovision(&self, tenant: &TenantId) -> Result<Deprovisioned, Error> {
        let now = self.now();
        let claimed = self
            .registry
            .claim_deprovisioning(tenant, &self.owner, now, self.lease)
            .await?;
        match claimed {
            Some((leased, lease)) => {
                let removed = self.remove(tenant, leased, &lease).await?;
                Ok(Deprovisioned {
                    backup: removed.backup,
                })
            }
            None => match self.registry.leased(tenant).await? {
                Some(leased) => Err(busy(&leased, now)),
                None => self.sweep(tenant).await,
            },
        }
    }

    /// Removes what the row names under `lease`, then the row. A failure is recorded and the
    /// lease given up, so that a retry resumes at once.
    async fn remove(
        &self,
        tenant: &TenantId,
        leased: Leased,
        lease: &Lease,
    ) -> Result<Removed, Error> {
        let outcome = match self.removal(tenant, leased, lease).await {
            Ok(named) => self.registry.remove(tenant, lease).await.map(|()| named),
            failed => failed,
        };
        if let Err(error) = &outcome {
            if *error != Error::LeaseLost {
                // Best effort: with the registry down, the lease runs out instead.
                let _ = self
                    .registry
                    .release(tenant, lease, error, self.now())
                    .await;
            }
        }
        outcome
    }

    /// Removes what a row names, each step recorded: the backup, the binding, the database.
    async fn removal(
        &self,
        tenant: &TenantId,
        leased: Leased,
        lease: &Lease,
    ) -> Result<Removed, Error> {
        if leased.database_gone {
            return Ok(Removed {
                database: true,
                backup: leased.record.backup,
            });
        }
        let mut record = leased.record;
        if let (None, Some(name)) = (&record.database_id, record.database_name.clone()) {
            // A provisioning that stopped between making its database and recording it. Only a
            // name that carries this registry's identity is looked for: a row's from before
            // names did may be anyone's database.
            let ours = self.database_name(tenant).await.ok() == Some(name.clone());
            let found = match ours {
                true => {
                    self.fenced(&[(tenant, lease)], None, self.backend.find(&name))
                        .await?
                }
                false => None,
            };
            if let Some(found) = found {
                record = self
                    .registry
                    .record_database(tenant, lease, &found.id, self.now())
                    .await?;
            }
        }
        if !leased.backed_up {
            let backup = self
                .fenced(&[(tenant, lease)], None, async {
                    self.hooks
                        .before_deprovision(&record)
                        .await
                        .map_err(Error::HookFailed)
                })
                .await?;
            record = self
                .registry
                .record_backup(tenant, lease, backup.as_deref(), self.now())
                .await?;
        }
        let Some(id) = record.database_id.clone() else {
            return Ok(Removed {
                database: false,
                backup: record.backup,
            });
        };
        if let (Some(binding), Some(script)) = (record.binding.clone(), record.script.clone()) {
            let (bound, id) = (Bound { binding, script }, &id);
            let target = bound.script.clone();
            self.binding_change(&target, &[(tenant, lease)], |list| async move {
                self.backend.unbind(&bound, id, list.as_deref()).await
            })
            .await?;
        }
        self.fenced(&[(tenant, lease)], None, self.backend.delete(&id))
            .await?;
        self.registry.record_gone(tenant, lease, self.now()).await?;
        Ok(Removed {
            database: true,
            backup: record.backup,
        })
    }

    /// Deprovisioning a tenant the registry does not hold: a database of its name is what a
    /// provisioning that stalled past an earlier removal made. It is removed under a row of its
    /// own (a tombstone, so no provisioning of the tenant can start meanwhile); nothing found is
    /// [`Error::TenantNotFound`].
    async fn sweep(&self, tenant: &TenantId) -> Result<Deprovisioned, Error> {
        let name = self.database_name(tenant).await?;
        let now = self.now();
        let Some((leased, lease)) = self
            .registry
            .claim_tombstone(
                tenant,
                self.backend.name(),
                &name,
                &self.owner,
                now,
                self.lease,
            )
            .await?
        else {
            // Registered meanwhile: the caller asks again and meets it.
            return Err(Error::TenantBusy {
                retry_after_secs: 1,
            });
        };
        match self.remove(tenant, leased, &lease).await? {
            Removed { database: true, .. } => Ok(Deprovisioned { backup: None }),
            Removed {
                database: false, ..
            } => Err(Error::TenantNotFound),
        }
    }

    /// Runs a change of binding list `target` (`step`, given the list the last change answered
    /// while it is fresh) under the lease on the list's name as well as `leases`: one
    /// writer at a time per list, waiting for the other for up to a lease. The list the change
    /// answers is kept for the next; a failed change forgets it (its outcome is unknown).
    async fn binding_change<T, F: Future<Output = Result<Listed<T>, Error>>>(
        &self,
        target: &str,
        leases: &[(&TenantId, &Lease)],
        step: impl FnOnce(Option<String>) -> F,
    ) -> Result<T, Error> {
        let lock = format!("bindings:{target}");
        let give_up = self.now() + self.lease;
        let mut renewed = self.now();
        while !self
            .registry
            .lock(&lock, &self.owner, self.now(), self.lease)
            .await?
        {
            if self.now() >= give_up {
                return Err(Error::TenantBusy {
                    retry_after_secs: BUSY_RETRY_SECS,
                });
            }
            // The tenants' leases are kept while their change waits its turn.
            if self.now().since(renewed) >= self.lease / 3 {
                self.renew_all(leases, None).await?;
                renewed = self.now();
            }
            // Spread out, so waiters do not poll the registry in step.
            let wait = 50.0 + 200.0 * self.runtime.random();
            self.runtime.sleep(Duration::from_millis(wait as u64)).await;
        }
        // Taken, not just read: only a change that succeeds puts a list back, so a failure
        // anywhere (the change's, or keeping its list) leaves none, and the next change reads.
        let fresh = self.backend.binding_list_fresh();
        let kept = match fresh.is_zero() {
            true => None,
            false => self.registry.take_list(&lock, &self.owner).await?,
        }
        .filter(|(_, at)| self.now().since(*at) < fresh);
        let given = kept.as_ref().map(|(list, _)| list.clone());
        let outcome = self.fenced(leases, Some(&lock), step(given)).await;
        // A list the change read or wrote, as of now; the one it was given and left as it was,
        // as of when that was read.
        let keep = match &outcome {
            Ok(Listed {
                list: Some(list), ..
            }) => Some((list.as_str(), self.now())),
            Ok(Listed { list: None, .. }) => kept.as_ref().map(|(list, at)| (list.as_str(), *at)),
            Err(_) => None,
        };
        if let (Some((list, at)), false) = (keep, fresh.is_zero()) {
            // Best effort: a list not kept is read by the next change.
            let _ = self.registry.keep_list(&lock, &self.owner, list, at).await;
        }
        self.registry.unlock(&lock, &self.owner).await?;
        outcome.map(|listed| listed.outcome)
    }

    /// Runs `step` under `leases` (and the lock named `lock`): renewed before it starts and
    /// every third of a lease while it runs; the step is dropped, and the answer is
    /// [`Error::LeaseLost`], as soon as a renewal finds one taken over.
    async fn fenced<T>(
        &self,
        leases: &[(&TenantId, &Lease)],
        lock: Option<&str>,
        step: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.renew_all(leases, lock).await?;
        let heartbeat = async {
            loop {
                self.runtime.sleep(self.lease / 3).await;
                self.renew_all(leases, lock).await?;
            }
        };
        first(step, heartbeat).await
    }

    async fn renew_all(
        &self,
        leases: &[(&TenantId, &Lease)],
        lock: Option<&str>,
    ) -> Result<(), Error> {
        let until = self.now() + self.lease;
        for (tenant, lease) in leases {
            self.registry.renew(tenant, lease, until).await?;
        }
        if let Some(lock) = lock {
            if !self
                .registry
                .lock(lock, &self.owner, self.now(), self.lease)
                .await?
            {
                return Err(Error::LeaseLost);
            }
        }
        Ok(())
    }
}

/// What a caller is told when another holds the tenant's lease: try again in a few seconds, or
/// when the lease runs out if that is sooner.
fn busy(leased: &Leased, now: UnixTime) -> Error {
    let left = leased
        .lease_until
        .map_or(0, |until| (until - now.millis()).max(0) as u64)
        .div_ceil(1000);
    Error::TenantBusy {
        retry_after_secs: (left as u32).clamp(1, BUSY_RETRY_SECS),
    }
}

/// The output of whichever of `a` and `b` finishes first; the other is dropped.
async fn first<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    let mut a = pin!(a);
    let mut b = pin!(b);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        b.as_mut().poll(cx)
    })
    .await
}
