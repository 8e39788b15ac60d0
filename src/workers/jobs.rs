//! Migration jobs for Rust workers: the D1 factory's schema group as a [`D1Group`] (its jobs,
//! its drift report), reaching each child through this Worker's binding when it has one that
//! reaches it. Drive jobs from a Cron Trigger (`[triggers] crons = ["* * * * *"]` and
//! [`D1Factory::drive_jobs`] in the `scheduled` handler); the module [`D1Group`] is in says why.

use super::cloudflare::{ApiTransport, WorkerRuntime};
use super::tenant_db::TenantDb;
use super::D1Factory;
use super::D1;
use crate::control::jobs::{JobControl, JobRecord};
use crate::database::d1::{Bindings, D1Group, Level, Log, Submitted};
use crate::database::Hooks;
use crate::schema::job::Settings;
use crate::{Error, TenantId};
use std::time::Duration;

impl<H> Bindings for D1Factory<'_, H> {
    type Db = TenantDb;

    /// With no lock: the job is what changes its schema.
    fn bound(&self, binding: &str, id: &str) -> Option<TenantDb> {
        let db = self
            .env
            .d1(binding)
            .ok()
            .filter(|db| self.reaches(db, id))?;
        TenantDb::binding(db, None).ok()
    }
}

/// Operators' messages on the Worker's console.
pub(super) struct Console;

impl Log for Console {
    fn log(&self, level: Level, message: &str) {
        match level {
            Level::Info => worker::console_log!("{message}"),
            Level::Error => worker::console_error!("{message}"),
        }
    }
}

impl<H: Hooks> D1Factory<'_, H> {
    /// The schema group's databases, or [`Error::NotConfigured`] without a group.
    pub(super) fn group(
        &self,
    ) -> Result<D1Group<'_, D1, ApiTransport, WorkerRuntime, Self>, Error> {
        let group = self.schema.as_deref().ok_or(Error::NotConfigured(
            "no schema group is configured (Tenancy::with_schema)",
        ))?;
        Ok(D1Group {
            group,
            registry: &self.registry,
            client: &self.client,
            options: &self.options,
            bindings: self,
            cache: &self.cache,
            log: &Console,
        })
    }

    /// Submits a job over the schema group ([`D1Group::submit_job`]).
    pub async fn submit_job(
        &self,
        settings: Settings,
        first: &[TenantId],
    ) -> Result<Submitted, Error> {
        self.group()?.submit_job(settings, first).await
    }

    /// Job `id` as it stands.
    pub async fn job(&self, id: i64) -> Result<JobRecord, Error> {
        self.group()?.job(id).await
    }

    /// Pauses, resumes or cancels job `id`.
    pub async fn control_job(&self, id: i64, control: JobControl) -> Result<JobRecord, Error> {
        self.group()?.control_job(id, control).await
    }

    /// Drives job `id` within `calls` and `time` ([`D1Group::drive_job`]).
    pub async fn drive_job(
        &self,
        id: i64,
        calls: usize,
        time: Duration,
    ) -> Result<JobRecord, Error> {
        self.group()?.drive_job(id, calls, time).await
    }

    /// Drives every job not over, oldest first, within `calls` and `time` in all: what a
    /// scheduled handler calls.
    pub async fn drive_jobs(&self, calls: usize, time: Duration) -> Result<Vec<JobRecord>, Error> {
        self.group()?.drive_jobs(calls, time).await
    }

    /// The schema group's drift report, a page at a time ([`D1Group::drift`]).
    pub async fn drift(
        &self,
        after: Option<&TenantId>,
        limit: usize,
    ) -> Result<serde_json::Value, Error> {
        self.group()?.drift(after, limit).await
    }
}
