//! [`Provisioner`]: provisioning and deprovisioning tenant databases, idempotent and resumable.
//!
//! The registry row is the lock (see [`super::registry`]): each step is taken only under its
//! lease, and every step records how far it got, so a crash after any step is finished by
//! calling again, by this isolate or another once the lease runs out.
//!
//! Provisioning: claim the row (`provisioning`, database name recorded first) → make the database
//! (a name already taken is adopted only when the registry says it is this tenant's: the row
//! names it and it was made after this tenant's provisioning started) → record its id → bind it
//! to the Worker and record the binding → the user's `after_provision` hook → `ready`. Any
//! failure marks the tenant `failed` with its reason, which provisioning again resumes.
//!
//! Deprovisioning: claim the row (`deprovisioning`) → the user's `before_deprovision` hook (a
//! backup) → unbind → delete the database (one already gone is fine) → and only then delete the
//! row. A failure stops there, is recorded and returned; calling again resumes.

use super::registry::{Leased, Registry, TenantRecord, TenantState};
use crate::cloudflare::ApiError;
use crate::database::{Backend, Hooks};
use crate::sql::SqlDatabase;
use crate::{Error, TenantId, UnixTime};
use std::time::Duration;

/// How long a provisioner holds a tenant's row: past it, another may take over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// A database made this long before a tenant's provisioning started is not taken for one this
/// provisioning made: clocks of the API and the Worker may disagree by that much.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What provisioning came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The tenant's record, `ready`.
    pub record: TenantRecord,
    /// Whether it was ready before this call (nothing was done).
    pub already: bool,
}

/// Provisions and deprovisions tenants' databases with a backend, recording each step in the
/// registry.
pub struct Provisioner<'a, D, B, H> {
    registry: &'a Registry<D>,
    backend: &'a B,
    hooks: &'a H,
    /// Who holds the leases this provisioner takes (unique per call in practice: a random id).
    owner: String,
    lease: Duration,
}

impl<'a, D: SqlDatabase, B: Backend, H: Hooks> Provisioner<'a, D, B, H> {
    /// A provisioner taking leases as `owner`.
    pub fn new(registry: &'a Registry<D>, backend: &'a B, hooks: &'a H, owner: String) -> Self {
        Self {
            registry,
            backend,
            hooks,
            owner,
            lease: DEFAULT_LEASE,
        }
    }

    /// The same provisioner holding rows for `lease` at a time.
    pub fn with_lease(self, lease: Duration) -> Self {
        Self { lease, ..self }
    }

    /// Provisions `tenant` at `now` (see the module docs). A ready tenant comes back as it is;
    /// one another provisioner is working on is [`Error::TenantBusy`].
    pub async fn provision(&self, tenant: &TenantId, now: UnixTime) -> Result<Provisioned, Error> {
        let name = self.backend.database_name(tenant);
        let claimed = self
            .registry
            .claim_provisioning(
                tenant,
                self.backend.name(),
                &name,
                &self.owner,
                now,
                self.lease,
            )
            .await?;
        let Some(leased) = claimed else {
            return match self.registry.leased(tenant).await? {
                Some(Leased { record, .. }) if record.state == TenantState::Ready => {
                    Ok(Provisioned {
                        record,
                        already: true,
                    })
                }
                Some(_) => Err(Error::TenantBusy {
                    retry_after_secs: self.lease.as_secs() as u32,
                }),
                // Removed between the two statements: nothing to resume.
                None => Err(Error::LeaseLost),
            };
        };
        match self.steps(tenant, leased, now).await {
            Ok(record) => Ok(Provisioned {
                record,
                already: false,
            }),
            Err(Error::LeaseLost) => Err(Error::LeaseLost),
            Err(error) => {
                let reason = error.to_string();
                self.registry
                    .finish(tenant, &self.owner, TenantState::Failed, Some(&reason), now)
                    .await?;
                Err(error)
            }
        }
    }

    async fn steps(
        &self,
        tenant: &TenantId,
        leased: Leased,
        now: UnixTime,
    ) -> Result<TenantRecord, Error> {
        let mut record = leased.record;
        let database_id = match record.database_id.clone() {
            Some(id) => id,
            None => {
                let name = record.database_name.clone().ok_or(Error::LeaseLost)?;
                let made = match self.backend.create(&name).await {
                    Ok(made) => made,
                    Err(Error::Upstream(ApiError::NameExists)) => {
                        self.adopt(&name, leased.started_at).await?
                    }
                    Err(error) => return Err(error),
                };
                record = self
                    .registry
                    .record_database(tenant, &self.owner, &made.id, now)
                    .await?;
                made.id
            }
        };
        if record.binding.is_none() {
            if let Some(bound) = self.backend.bind(tenant, &database_id).await? {
                record = self
                    .registry
                    .record_binding(
                        tenant,
                        &self.owner,
                        Some((&bound.binding, &bound.script)),
                        now,
                    )
                    .await?;
            }
        }
        self.hooks
            .after_provision(&record)
            .await
            .map_err(Error::HookFailed)?;
        self.registry
            .finish(tenant, &self.owner, TenantState::Ready, None, now)
            .await
    }

    /// The database called `name` that an earlier attempt of this provisioning made (its create
    /// answer lost, or the provisioner stopped before recording it): adopted only if it was made
    /// after this tenant's provisioning started.
    async fn adopt(
        &self,
        name: &str,
        started_at: Option<i64>,
    ) -> Result<crate::database::Made, Error> {
        let found = self
            .backend
            .find(name)
            .await?
            .ok_or(Error::ForeignDatabase)?;
        let earliest = started_at.map(|t| UnixTime::from_millis(t) - CLOCK_SKEW);
        match (found.created_at, earliest) {
            (Some(created), Some(earliest)) if created >= earliest.millis() => Ok(found),
            _ => Err(Error::ForeignDatabase),
        }
    }

    /// Deprovisions `tenant` at `now` (see the module docs).
    pub async fn deprovision(&self, tenant: &TenantId, now: UnixTime) -> Result<(), Error> {
        let claimed = self
            .registry
            .claim_deprovisioning(tenant, &self.owner, now, self.lease)
            .await?;
        let Some(Leased { record, .. }) = claimed else {
            return match self.registry.leased(tenant).await? {
                None => Err(Error::TenantNotFound),
                Some(_) => Err(Error::TenantBusy {
                    retry_after_secs: self.lease.as_secs() as u32,
                }),
            };
        };
        if let Err(error) = self.removal(&record).await {
            // Recorded for operators; the lease stays until it runs out, then a retry resumes.
            self.registry
                .record_error(tenant, &self.owner, &error.to_string(), now)
                .await?;
            return Err(error);
        }
        self.registry.remove(tenant, &self.owner).await
    }

    async fn removal(&self, record: &TenantRecord) -> Result<(), Error> {
        self.hooks
            .before_deprovision(record)
            .await
            .map_err(Error::HookFailed)?;
        if let (Some(binding), Some(script)) = (&record.binding, &record.script) {
            let bound = crate::database::Bound {
                binding: binding.clone(),
                script: script.clone(),
            };
            self.backend.unbind(&bound).await?;
        }
        if let Some(id) = &record.database_id {
            self.backend.delete(id).await?;
        }
        Ok(())
    }
}
