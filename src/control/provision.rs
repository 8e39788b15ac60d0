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
//!   the Worker's name, so two provisions never lose each other's binding. Past the backend's
//!   binding limit a tenant is made ready unbound, the reason recorded as its error code
//!   (`binding_limit`): its queries use the REST API.
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

use super::registry::{Lease, Leased, Registry, TenantRecord, TenantState};
use crate::cloudflare::{ApiError, Runtime};
use crate::database::{Backend, Bound, Hooks};
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
        self.make(tenant, None).await
    }

    /// Provisions `tenant` with a new database filled from `backup` (an R2 key its
    /// `before_deprovision` hook answered) by [`Hooks::restore`], before it is bound and before
    /// `after_provision` (whose migrations bring an older backup up to date). Only a tenant the
    /// registry does not hold can be restored, or one being restored from the same backup,
    /// which this resumes; any other is [`Error::TenantExists`]. A restore that failed is
    /// resumed by provisioning the tenant again: its row remembers the backup.
    pub async fn restore(&self, tenant: &TenantId, backup: &str) -> Result<Provisioned, Error> {
        self.make(tenant, Some(backup)).await
    }

    async fn make(&self, tenant: &TenantId, backup: Option<&str>) -> Result<Provisioned, Error> {
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
                    Ok(Provisioned {
                        record,
                        already: true,
                    })
                }
                Some(leased) => Err(busy(&leased, now)),
                // Removed between the two statements: nothing to resume.
                None => Err(Error::LeaseLost),
            };
        };
        match self.provision_steps(tenant, leased, &lease, &name).await {
            Ok(record) => Ok(Provisioned {
                record,
                already: false,
            }),
            Err(Error::LeaseLost) => Err(Error::LeaseLost),
            Err(error) => {
                // Lost meanwhile: the new holder records its own outcome.
                let failed = self
                    .registry
                    .finish(
                        tenant,
                        &lease,
                        TenantState::Failed,
                        Some(&error),
                        self.now(),
                    )
                    .await;
                match failed {
                    Ok(_) | Err(Error::LeaseLost) => Err(error),
                    Err(storage) => Err(storage),
                }
            }
        }
    }

    async fn provision_steps(
        &self,
        tenant: &TenantId,
        leased: Leased,
        lease: &Lease,
        name: &str,
    ) -> Result<TenantRecord, Error> {
        let mut record = leased.record;
        let database_id = match record.database_id.clone() {
            Some(id) => id,
            None => {
                // A row from before names carried the registry (or changed under us): its name
                // does not prove the database is ours, so it is never adopted.
                let adoptable = record.database_name.as_deref() == Some(name);
                let made = self
                    .fenced(tenant, lease, None, async {
                        match self.backend.create(name).await {
                            Err(Error::Upstream(ApiError::NameExists)) if adoptable => {
                                // Made by an earlier attempt whose answer was lost or never
                                // recorded: the name is this registry's and this tenant's.
                                self.backend.find(name).await?.ok_or(Error::ForeignDatabase)
                            }
                            Err(Error::Upstream(ApiError::NameExists)) => {
                                Err(Error::ForeignDatabase)
                            }
                            made => made,
                        }
                    })
                    .await?;
                record = self
                    .registry
                    .record_database(tenant, lease, &made.id, self.now())
                    .await?;
                made.id
            }
        };
        // Before the tenant is ready, so no request writes to it first.
        if let Some(backup) = &record.restored_from {
            self.fenced(tenant, lease, None, async {
                self.hooks
                    .restore(&record, backup)
                    .await
                    .map_err(Error::HookFailed)
            })
            .await?;
        }
        // Past the Worker's binding limit the tenant is served over the REST API: an explicit
        // rule, recorded on the tenant (its error code while ready), not a silent fallback.
        let mut note = None;
        if record.binding.is_none() {
            let bound = match self
                .binding_change(tenant, lease, self.backend.bind(tenant, &database_id))
                .await
            {
                Err(limit @ Error::BindingLimit { .. }) => {
                    note = Some(limit);
                    None
                }
                bound => bound?,
            };
            if let Some(bound) = bound {
                record = self
                    .registry
                    .record_binding(
                        tenant,
                        lease,
                        Some((&bound.binding, &bound.script)),
                        self.now(),
                    )
                    .await?;
            }
        }
        let schema = self
            .fenced(tenant, lease, None, self.hooks.migrate(&record))
            .await?;
        if let Some(schema) = schema {
            record = self
                .registry
                .record_schema(tenant, lease, &schema, self.now())
                .await?;
        }
        self.fenced(tenant, lease, None, async {
            self.hooks
                .after_provision(&record)
                .await
                .map_err(Error::HookFailed)
        })
        .await?;
        self.registry
            .finish(tenant, lease, TenantState::Ready, note.as_ref(), self.now())
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
                    self.fenced(tenant, lease, None, self.backend.find(&name))
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
                .fenced(tenant, lease, None, async {
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
            let bound = Bound { binding, script };
            self.binding_change(tenant, lease, self.backend.unbind(&bound, &id))
                .await?;
        }
        self.fenced(tenant, lease, None, self.backend.delete(&id))
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

    /// Runs a change of the backend's binding list (`step`) under the lease on the list's name as
    /// well as `lease`: one writer at a time per list, waiting for the other for up to a lease.
    async fn binding_change<T>(
        &self,
        tenant: &TenantId,
        lease: &Lease,
        step: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(target) = self.backend.binding_target() else {
            return step.await;
        };
        let lock = format!("bindings:{target}");
        let give_up = self.now() + self.lease;
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
            // Spread out, so waiters do not poll the registry in step.
            let wait = 50.0 + 200.0 * self.runtime.random();
            self.runtime.sleep(Duration::from_millis(wait as u64)).await;
        }
        let outcome = self.fenced(tenant, lease, Some(&lock), step).await;
        self.registry.unlock(&lock, &self.owner).await?;
        outcome
    }

    /// Runs `step` under `lease` (and the lock named `lock`): renewed before it starts and every
    /// third of the lease while it runs; the step is dropped, and the answer is
    /// [`Error::LeaseLost`], as soon as a renewal finds either taken over.
    async fn fenced<T>(
        &self,
        tenant: &TenantId,
        lease: &Lease,
        lock: Option<&str>,
        step: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.renew(tenant, lease, lock).await?;
        let heartbeat = async {
            loop {
                self.runtime.sleep(self.lease / 3).await;
                self.renew(tenant, lease, lock).await?;
            }
        };
        first(step, heartbeat).await
    }

    async fn renew(
        &self,
        tenant: &TenantId,
        lease: &Lease,
        lock: Option<&str>,
    ) -> Result<(), Error> {
        let now = self.now();
        self.registry.renew(tenant, lease, now + self.lease).await?;
        if let Some(lock) = lock {
            if !self
                .registry
                .lock(lock, &self.owner, now, self.lease)
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
