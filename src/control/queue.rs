//! Provisioning as a queue: tenants taken at once ([`Provisioner::enqueue`], one registry
//! statement for many) and provisioned in the background ([`Provisioner::drain`]), oldest first,
//! within the Cloudflare API's request budget, with what failed for a passing reason (the API or
//! the database unavailable, the budget spent) tried again after a while and what failed for a
//! lasting one (a hook, a migration, a name taken) left `failed` with its reason.
//!
//! A queued tenant is a `provisioning` row with no lease (`error_code` `queued`): its requests
//! are answered 503 with `Retry-After` until it is ready, and `provision` of it (the synchronous
//! path) takes it at once, as it takes any row whose lease has run out. So the queue needs no
//! state of its own, a crash loses nothing, and a drain resumes a provisioning a crash stopped.

use super::backend::{Backend, Hooks};
use super::provision::Provisioner;
use super::registry::Registry;
use crate::cloudflare::Runtime;
use crate::sql::{SqlDatabase, Statement, Value};
use crate::{Error, TenantId, UnixTime};
use std::time::Duration;

/// The error codes of failures that may pass: a drain tries such a tenant again.
pub const PASSING: &[&str] = &[
    "upstream_unavailable",
    "upstream_rate_limited",
    "upstream_timeout",
    "upstream_outcome_unknown",
    "request_budget_exhausted",
    "storage_unavailable",
    "lookup_unavailable",
    "tenant_busy",
    "lease_lost",
];

/// How long a tenant that failed for a passing reason waits before a drain tries it again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The most tenants a drain provisions together, their databases bound in one change of the
/// Worker's binding list.
pub const BATCH: usize = 20;

/// The Cloudflare API calls one tenant's provisioning may make besides the binding change (its
/// database, its migrations over the REST API): a drain starts a batch only with room for them.
pub const CALLS_PER_TENANT: u32 = 2;

/// The calls a batch's binding change makes: the Worker's settings read and written.
pub const CALLS_PER_BATCH: u32 = 2;

/// The calls a batch of `tenants` may make.
fn batch_calls(tenants: usize) -> u32 {
    tenants as u32 * CALLS_PER_TENANT + CALLS_PER_BATCH
}

/// Where the queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueStatus {
    /// Tenants waiting, or waiting to be tried again.
    pub length: u64,
    /// Of them, those that failed for a passing reason and wait to be tried again.
    pub retrying: u64,
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drained {
    /// Tenants made ready.
    pub ready: Vec<TenantId>,
    /// Tenants that failed, with the error's code: tried again later when it may pass.
    pub failed: Vec<Failure>,
    /// Why it stopped: `empty`, `budget` (milliseconds until the budget has room), `limit`.
    pub stopped: String,
    /// How long until the budget has room for a whole batch again, when that is what stopped it
    /// (milliseconds).
    pub wait_ms: u64,
}

/// What an administrator reads of the queue: its length, the API client's budget (`used` and
/// `left` in its window) and `drain_secs`, how long the queue takes at the budget's pace
/// ([`CALLS_PER_TENANT`] a tenant and [`CALLS_PER_BATCH`] a [`BATCH`], `limit` calls a window).
pub fn queue_report(
    status: QueueStatus,
    used: u32,
    left: u32,
    options: &crate::cloudflare::ClientOptions,
) -> serde_json::Value {
    let budget = &options.budget;
    // Tenants the budget's `calls` provision, in full batches.
    let tenants = |calls: u32| u64::from(calls) * BATCH as u64 / u64::from(batch_calls(BATCH));
    let windows = status
        .length
        .saturating_sub(tenants(left))
        .div_ceil(tenants(budget.limit).max(1));
    serde_json::json!({
        "length": status.length,
        "retrying": status.retrying,
        "budget": { "used": used, "left": left, "limit": budget.limit, "window_secs": budget.window_secs },
        "drain_secs": windows * budget.window_secs,
    })
}

impl Drained {
    /// The tenants it changed (made ready or failed): what a cache of their lookups forgets.
    pub fn changed(&self) -> impl Iterator<Item = &TenantId> {
        self.ready
            .iter()
            .chain(self.failed.iter().map(|f| &f.tenant))
    }
}

/// A drain's limits as a route takes them (`?secs=&tenants=`): 20 s (25 at most, within a
/// request's time) and 40 tenants (60 at most: each provisioning makes about a dozen database
/// calls and subrequests, within an invocation's 1,000).
pub fn drain_limits(secs: Option<u64>, tenants: Option<u64>) -> (Duration, usize) {
    let secs = secs.unwrap_or(20).clamp(1, 25);
    (
        Duration::from_secs(secs),
        tenants.unwrap_or(40).clamp(1, 60) as usize,
    )
}

/// A tenant a drain could not provision, and why (the error's code).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The tenant.
    pub tenant: TenantId,
    /// The error's code (`upstream_unavailable`, `hook_failed`, …).
    pub code: String,
}

/// The tenants waiting for a drain (`?1` now, `?2` [`PASSING`] as JSON): queued or interrupted
/// rows (no live lease), and those that failed for a passing reason.
const WAITING: &str = "state IN ('provisioning', 'failed') \
    AND (lease_until IS NULL OR lease_until <= ?1) \
    AND (state = 'provisioning' OR error_code IN (SELECT value FROM json_each(?2)))";

/// Of those, the ones due now: a passing failure waits [`RETRY_AFTER`] (`?3`, the time before
/// which it failed).
const DUE: &str = "(state = 'provisioning' OR updated_at <= ?3)";

impl<D: SqlDatabase> Registry<D> {
    /// Queues `tenants` (each with its database's name): rows `provisioning` with no lease, in
    /// one statement. Answers those queued now; a tenant the registry holds is left as it is.
    pub async fn enqueue(
        &self,
        tenants: &[(TenantId, String)],
        backend: &str,
        now: UnixTime,
    ) -> Result<Vec<TenantId>, Error> {
        let rows: Vec<_> = tenants
            .iter()
            .map(|(id, name)| serde_json::json!([id.as_str(), name]))
            .collect();
        let insert = Statement::new(
            "INSERT INTO edge_tenancy_tenants \
                (id, created_at, backend, state, database_name, error_code, generation, updated_at) \
             SELECT value ->> 0, ?2, ?3, 'provisioning', value ->> 1, 'queued', 0, ?2 \
             FROM json_each(?1) WHERE true \
             ON CONFLICT DO NOTHING RETURNING id",
            vec![
                Value::Text(serde_json::Value::from(rows).to_string()),
                Value::Integer(now.millis()),
                backend.into(),
            ],
        );
        let rows = self.rows(insert).await?;
        let mut queued: Vec<TenantId> = rows
            .iter()
            .filter_map(|row| row.get("id")?.as_str()?.parse().ok())
            .collect();
        queued.sort();
        Ok(queued)
    }

    /// Up to `limit` tenants due for provisioning at `now`, oldest first.
    pub async fn due(&self, now: UnixTime, limit: u32) -> Result<Vec<TenantId>, Error> {
        let select = Statement::new(
            format!(
                "SELECT id FROM edge_tenancy_tenants WHERE {WAITING} AND {DUE} \
                 ORDER BY created_at, id LIMIT ?4"
            ),
            vec![
                Value::Integer(now.millis()),
                Value::Text(serde_json::json!(PASSING).to_string()),
                Value::Integer((now.millis() - RETRY_AFTER.as_millis() as i64).max(0)),
                Value::Integer(i64::from(limit)),
            ],
        );
        Ok(self
            .rows(select)
            .await?
            .iter()
            .filter_map(|row| row.get("id")?.as_str()?.parse().ok())
            .collect())
    }

    /// Where the queue stands at `now`.
    pub async fn queue_status(&self, now: UnixTime) -> Result<QueueStatus, Error> {
        let select = Statement::new(
            format!(
                "SELECT count(*) AS length, coalesce(sum(state = 'failed'), 0) AS retrying \
                 FROM edge_tenancy_tenants WHERE {WAITING}"
            ),
            vec![
                Value::Integer(now.millis()),
                Value::Text(serde_json::json!(PASSING).to_string()),
            ],
        );
        let row = self.rows(select).await?.into_iter().next();
        let number = |name: &str| {
            row.as_ref()
                .and_then(|row| row.get(name)?.as_u64())
                .unwrap_or(0)
        };
        Ok(QueueStatus {
            length: number("length"),
            retrying: number("retrying"),
        })
    }
}

impl<D: SqlDatabase, B: Backend, H: Hooks, R: Runtime> Provisioner<'_, D, B, H, R> {
    /// Queues `tenants` for [`Provisioner::drain`]: every id is checked against the backend's
    /// names first, and none is queued when one does not fit. Answers those queued now (a tenant
    /// the registry holds already is left as it is).
    pub async fn enqueue(&self, tenants: &[TenantId]) -> Result<Vec<TenantId>, Error> {
        let mut named = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            named.push((tenant.clone(), self.database_name(tenant).await?));
        }
        let mut queued = Vec::new();
        // A statement's JSON parameter stays well under D1's 100 KB statement size.
        for chunk in named.chunks(500) {
            queued.extend(
                self.registry
                    .enqueue(chunk, self.backend.name(), self.now())
                    .await?,
            );
        }
        Ok(queued)
    }

    /// Provisions the queue's due tenants, oldest first, in batches of up to [`BATCH`] (their
    /// bindings in one change), until it is empty, `until` passes, `tenants` have been tried,
    /// or the API's request budget (`room_for(calls)`: how long until it has room for that
    /// many) has no room for a batch of one.
    pub async fn drain(
        &self,
        until: UnixTime,
        tenants: usize,
        room_for: impl Fn(u32) -> Duration,
    ) -> Result<Drained, Error> {
        let mut drained = Drained::default();
        let mut tried = 0;
        drained.stopped = loop {
            if self.now() >= until || tried >= tenants {
                break "limit".into();
            }
            let most = BATCH.min(tenants - tried);
            let Some(fit) = (1..=most)
                .rev()
                .find(|&n| room_for(batch_calls(n)).is_zero())
            else {
                // Until a whole batch fits: a drain started sooner binds fewer at a time.
                drained.wait_ms = room_for(batch_calls(most)).as_millis() as u64;
                break "budget".into();
            };
            let due = self.registry.due(self.now(), fit as u32).await?;
            if due.is_empty() {
                break "empty".into();
            }
            tried += due.len();
            let outcomes = self.provision_many(&due).await;
            for (tenant, outcome) in due.into_iter().zip(outcomes) {
                match outcome {
                    Ok(_) => drained.ready.push(tenant),
                    Err(error) => {
                        let code = error.to_response().code;
                        drained.failed.push(Failure {
                            tenant,
                            code: code.to_owned(),
                        });
                    }
                }
            }
        };
        Ok(drained)
    }
}

#[cfg(test)]
mod tests;
