//! A migration job over a schema group's tenant databases, as a state machine that does no I/O:
//! all or none, in stages, resumable, with each child restored to its bookmark when the job
//! rolls back.
//!
//! The phases, in order:
//!
//! 0. **Validate** on the group's schema database, the parent that holds the canonical schema at
//!    the group's version and no tenant's data: the migrations are dry-run there first, so a
//!    migration that cannot apply to the schema itself ends the job `dry_run_failed` before any
//!    child is read. The parent is migrated for real when the job commits.
//! 1. **Dry run** on every child: its pending migrations run and are rolled back
//!    ([`dry_run_from`](super::dry_run_from)). One that fails ends the job `dry_run_failed`: nothing was
//!    changed anywhere. A child already at the version is skipped from here on.
//! 2. **Hold**: the group's writes are held (the tenants' handles answer 503
//!    `schema_migrating`), and the job waits `hold_ms` — longer than a request may still act on
//!    an answer cached before the hold — so no write lands on a child after its bookmark.
//! 3. **Run**, stage by stage, at most `concurrency` children at once: each child's bookmark is
//!    recorded (a restore point the backend reads back: D1's edge takes a time a second before
//!    the step, so `hold_ms` must outlast the cache by more than that), then its migrations
//!    applied. A child that fails (after `max_attempts` tries of a
//!    step that failed for a passing reason) fails its stage: with [`OnError::Fail`] every child
//!    that has a bookmark is restored to it and the job ends `rolled_back`; with
//!    [`OnError::Continue`] that child alone is restored and reported, and the job goes on.
//! 4. **Finish**: the group's schema database is migrated (its failure holds nothing up), writes
//!    are released and the registry records the versions; `committed`.
//!
//! Each step is started ([`Job::start`]) before it is performed, and the driver keeps the job
//! (and so the step's start) before it performs it; a step's result is recorded
//! ([`Job::record`]) only if it answers the step's latest start. A step started and never
//! answered (a crash, a lost answer) is started again once `step_timeout_ms` has passed, which
//! bounds how long any step may take: no step of a child is ever started while another may
//! still land, so a restore never races a late migration. Steps are idempotent where it
//! matters: a migration applied twice is applied once (the ledger), a restore to one bookmark
//! twice is one restore.
//!
//! Pause stops new steps (a paused run keeps the writes held); cancel ends a job that has not
//! run yet as `cancelled`, and rolls back one that has.

use crate::TenantId;
use serde::{Deserialize, Serialize};

/// What a stage does when one of its children fails to migrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Roll every child back: all or none.
    Fail,
    /// Restore that child alone, report it, and go on.
    Continue,
}

/// A stage: how many children (the rest, when `None`) and what a failure in it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// How many children it takes, in the job's order; `None`: all that are left.
    pub size: Option<usize>,
    /// What a failure in it does.
    pub on_error: OnError,
}

/// How a job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Children migrated at once (default 10).
    pub concurrency: usize,
    /// Tries of a step that failed for a passing reason, before it counts as failed (default 3).
    pub max_attempts: u32,
    /// How long writes are held before the first bookmark is taken, in milliseconds.
    pub hold_ms: i64,
    /// How long a started step may take; past it, it is started again (milliseconds).
    pub step_timeout_ms: i64,
    /// The stages, in order (default: one stage of every child, failing as a whole).
    pub stages: Vec<Stage>,
    /// Only dry-run: the job ends `dry_run_passed` (or `dry_run_failed`) and changes nothing.
    pub dry_run_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 10,
            max_attempts: 3,
            hold_ms: 65_000,
            step_timeout_ms: 60_000,
            stages: vec![Stage {
                size: None,
                on_error: OnError::Fail,
            }],
            dry_run_only: false,
        }
    }
}

/// Where a child stands in its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    /// Waiting for its dry run.
    Pending,
    /// Its dry run passed.
    DryRunPassed,
    /// Already at the job's version: nothing to do.
    Skipped,
    /// Its dry run failed: the job will not run.
    DryRunFailed,
    /// Its bookmark is recorded: its migration may start.
    Bookmarked,
    /// Migrated.
    Migrated,
    /// Its migration failed; it is to be restored to its bookmark (if it has one).
    Failed,
    /// Restored to its bookmark after a failure (its own, or another child's).
    Restored,
    /// Left as it was: the job ended before its bookmark.
    Untouched,
}

impl TaskState {
    /// Its name, as the job's JSON writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::DryRunPassed => "dry_run_passed",
            Self::Skipped => "skipped",
            Self::DryRunFailed => "dry_run_failed",
            Self::Bookmarked => "bookmarked",
            Self::Migrated => "migrated",
            Self::Failed => "failed",
            Self::Restored => "restored",
            Self::Untouched => "untouched",
        }
    }

    /// Whether a child in this state may still get a step: a dry run, its bookmark, its
    /// migration, or a restore.
    pub fn may_step(&self) -> bool {
        matches!(
            self,
            Self::Pending | Self::DryRunPassed | Self::Bookmarked | Self::Migrated | Self::Failed
        )
    }
}

/// One child of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The tenant.
    pub tenant: TenantId,
    /// Its stage's place in the job's stages.
    pub stage: usize,
    /// Where it stands.
    #[serde(flatten)]
    pub state: TaskState,
    /// Its bookmark, once recorded: the point it is restored to.
    pub bookmark: Option<String>,
    /// Tries of its current step that failed for a passing reason.
    pub attempts: u32,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Whether its failure was its own migration's (rather than a rollback's).
    pub failed_here: bool,
    /// The latest start of a step: its number, and when (milliseconds).
    pub started: Option<(u64, i64)>,
    /// Not started again before this time (milliseconds): the API asked it to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The dry run on the group's schema database.
    Validate,
    /// Dry runs.
    DryRun,
    /// Holding writes; `since`, once the hold is in place.
    Hold {
        /// When the hold was put in place (milliseconds).
        since: Option<i64>,
    },
    /// Migrating, stage by stage.
    Run,
    /// Restoring every child with a bookmark.
    RollBack,
    /// Releasing the hold and recording the outcome.
    Finish(Outcome),
    /// Over.
    Done(Outcome),
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every child is at the version (but those a `continue` stage reported as failed).
    Committed,
    /// Every child is as it was before the job.
    RolledBack,
    /// A dry run failed; nothing was changed.
    DryRunFailed,
    /// Every dry run passed, and the job was to go no further.
    DryRunPassed,
    /// Cancelled before it ran; nothing was changed.
    Cancelled,
}

/// A step for the driver to perform. Tasks' steps carry the start they answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Dry-run the migrations on the group's schema database.
    Validate(u64),
    /// Dry-run the child's pending migrations.
    DryRun(TenantId, u64),
    /// Take and answer the child's bookmark: a restore point of its database as it is now (no
    /// write lands on it meanwhile).
    Bookmark(TenantId, u64),
    /// Apply the child's pending migrations.
    Migrate(TenantId, u64),
    /// Restore the child to `bookmark`.
    Restore(TenantId, u64, String),
    /// Put the hold on the group's writes.
    Hold(u64),
    /// Release the hold and, when committed, migrate the group's schema database and record the
    /// migrated children's version.
    Finish(Outcome, u64),
}

/// A step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A dry run passed; `at_version` when the child had nothing pending.
    DryRun {
        /// Whether the child was at the version already.
        at_version: bool,
    },
    /// The bookmark taken.
    Bookmark(String),
    /// Done (a migration, a restore, the hold, the finish).
    Done,
    /// Not performed: the API's request budget is spent for now. Started again after the wait,
    /// and not counted as a try: a job over many databases waits for the budget rather than
    /// failing on it.
    Throttled {
        /// How long to wait, in milliseconds.
        retry_after_ms: i64,
    },
    /// It failed; `passing` when another try may succeed (unavailable, rate limited).
    Failed {
        /// Whether to try again.
        passing: bool,
        /// Why (for administrators; may name tables).
        message: String,
    },
}

impl Answer {
    /// A dry run's or a migration's failure: a database that could not be reached may come
    /// back; a migration the database refused, or drift, will not.
    pub fn failed(error: &super::MigrateError) -> Self {
        Self::Failed {
            passing: matches!(error, super::MigrateError::Database(_)),
            message: error.to_string(),
        }
    }
}

/// What an administrator reads of a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Its children by state.
    pub counts: std::collections::BTreeMap<String, usize>,
    /// The children that failed, with why.
    pub failing: Vec<Failing>,
    /// How far it is, from 0 to 1.
    pub done: f64,
    /// Why the group's schema database refused the migrations, when it did.
    pub schema_error: Option<String>,
}

/// A child that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failing {
    /// The tenant.
    pub tenant: TenantId,
    /// Why.
    pub error: String,
}

/// A migration job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The schema group.
    pub group: String,
    /// The version it brings the children to.
    pub version: i64,
    /// How it runs.
    pub settings: Settings,
    /// Where it stands.
    pub phase: Phase,
    /// Paused: no step starts. Set by an administrator (kept apart from the job, so it is set
    /// while a driver holds the job).
    #[serde(skip)]
    pub paused: bool,
    /// Cancel asked for (kept as `paused` is).
    #[serde(skip)]
    pub cancelled: bool,
    /// Its children, in the order they run (kept as rows of their own, not with the job).
    #[serde(skip)]
    pub tasks: Vec<Task>,
    /// Starts so far: each step's number.
    pub starts: u64,
    /// The latest start of a step of the job's own (the validation, the hold, the finish): its
    /// number, and when.
    pub started: Option<(u64, i64)>,
    /// Why the group's schema database refused the migrations, when it did.
    #[serde(default)]
    pub schema_error: Option<String>,
    /// Tries of the validation that failed for a passing reason (it fails the job at
    /// `max_attempts`, as a child's step does).
    #[serde(default)]
    pub attempts: u32,
    /// A step of the job's own that was throttled starts again no sooner (milliseconds).
    #[serde(default)]
    pub not_before: Option<i64>,
}

impl Job {
    /// A job bringing `tenants` (run in this order) of `group` to `version`.
    pub fn new(group: &str, version: i64, tenants: Vec<TenantId>, settings: Settings) -> Self {
        let mut tasks = Vec::with_capacity(tenants.len());
        let mut stage = 0;
        let mut in_stage = 0;
        for tenant in tenants {
            while let Some(size) = settings.stages.get(stage).and_then(|s| s.size) {
                if in_stage < size {
                    break;
                }
                stage += 1;
                in_stage = 0;
            }
            in_stage += 1;
            tasks.push(Task {
                tenant,
                stage: stage.min(settings.stages.len().saturating_sub(1)),
                state: TaskState::Pending,
                bookmark: None,
                attempts: 0,
                error: None,
                failed_here: false,
                started: None,
                not_before: None,
            });
        }
        Self {
            group: group.to_owned(),
            version,
            settings,
            phase: Phase::Validate,
            paused: false,
            cancelled: false,
            tasks,
            starts: 0,
            started: None,
            schema_error: None,
            attempts: 0,
            not_before: None,
        }
    }

    /// The steps to perform now, each started (keep the job before performing them).
    pub fn start(&mut self, now: i64) -> Vec<Step> {
        self.advance(now);
        if self.paused {
            return Vec::new();
        }
        // A step of the job's own starts only once the last one is answered or past its time,
        // so a late hold never lands after the finish that released it.
        let busy = self
            .started
            .is_some_and(|(_, at)| now < at + self.settings.step_timeout_ms)
            || self.not_before.is_some_and(|at| now < at);
        let step = match self.phase {
            Phase::Validate if !busy => Step::Validate(self.starts + 1),
            Phase::Hold { since: None } if !busy => Step::Hold(self.starts + 1),
            Phase::Finish(outcome) if !busy => Step::Finish(outcome, self.starts + 1),
            Phase::DryRun | Phase::Run | Phase::RollBack => return self.start_tasks(now),
            _ => return Vec::new(),
        };
        self.starts += 1;
        self.started = Some((self.starts, now));
        vec![step]
    }

    fn start_tasks(&mut self, now: i64) -> Vec<Step> {
        let timeout = self.settings.step_timeout_ms;
        let busy = |t: &Task| t.started.is_some_and(|(_, at)| now < at + timeout);
        let waiting = |t: &Task| t.not_before.is_some_and(|at| now < at);
        let mut in_flight = self.tasks.iter().filter(|t| busy(t)).count();
        let stage = self.running_stage();
        let mut steps = Vec::new();
        for at in 0..self.tasks.len() {
            if in_flight >= self.settings.concurrency {
                break;
            }
            let task = &self.tasks[at];
            if busy(task) || waiting(task) {
                continue;
            }
            let kind = match (self.phase, &task.state) {
                (Phase::DryRun, TaskState::Pending) => 0,
                (Phase::Run, TaskState::DryRunPassed) if Some(task.stage) == stage => 1,
                (Phase::Run, TaskState::Bookmarked) => 2,
                // A failure in a `continue` stage restores that child while the job goes on.
                (Phase::Run, _) if Self::to_restore(task, false) => 3,
                (Phase::RollBack, _) if Self::to_restore(task, true) => 3,
                _ => continue,
            };
            self.starts += 1;
            let number = self.starts;
            let task = &mut self.tasks[at];
            task.started = Some((number, now));
            task.not_before = None;
            let tenant = task.tenant.clone();
            steps.push(match kind {
                0 => Step::DryRun(tenant, number),
                1 => Step::Bookmark(tenant, number),
                2 => Step::Migrate(tenant, number),
                _ => Step::Restore(tenant, number, task.bookmark.clone().unwrap_or_default()),
            });
            in_flight += 1;
        }
        steps
    }

    /// The first stage with a child still to bookmark, migrate or restore.
    fn running_stage(&self) -> Option<usize> {
        self.tasks
            .iter()
            .filter(|t| {
                matches!(t.state, TaskState::DryRunPassed | TaskState::Bookmarked)
                    || Self::to_restore(t, false)
            })
            .map(|t| t.stage)
            .min()
    }

    /// Records `answer` to `step`; an answer to anything but a task's latest start (a late
    /// one) is dropped.
    pub fn record(&mut self, step: &Step, answer: Answer, now: i64) {
        match step {
            Step::Validate(n) | Step::Hold(n) | Step::Finish(_, n) => {
                if self.started.is_none_or(|(number, _)| number != *n) {
                    return;
                }
                self.started = None;
                self.not_before = None;
                match (step, self.phase, answer) {
                    (_, _, Answer::Throttled { retry_after_ms }) => {
                        self.not_before = Some(now + retry_after_ms.max(1));
                    }
                    (Step::Validate(_), Phase::Validate, Answer::DryRun { .. }) => {
                        self.phase = Phase::DryRun;
                    }
                    // A refusal that will not pass ends the job, as does one that may after
                    // `max_attempts` tries.
                    (Step::Validate(_), Phase::Validate, Answer::Failed { passing, message }) => {
                        self.attempts += 1;
                        if !passing || self.attempts >= self.settings.max_attempts {
                            self.schema_error = Some(message);
                            self.phase = Phase::Finish(Outcome::DryRunFailed);
                        }
                    }
                    (Step::Hold(_), Phase::Hold { since: None }, Answer::Done) => {
                        self.phase = Phase::Hold { since: Some(now) };
                    }
                    (Step::Finish(outcome, _), Phase::Finish(current), Answer::Done)
                        if *outcome == current =>
                    {
                        self.phase = Phase::Done(current);
                    }
                    _ => {}
                }
            }
            Step::DryRun(tenant, n)
            | Step::Bookmark(tenant, n)
            | Step::Migrate(tenant, n)
            | Step::Restore(tenant, n, _) => {
                let latest = self.tasks.iter().position(|t| {
                    &t.tenant == tenant && t.started.is_some_and(|(number, _)| number == *n)
                });
                if let Some(at) = latest {
                    self.record_task(at, step, answer, now);
                }
            }
        }
        self.advance(now);
    }

    fn record_task(&mut self, at: usize, step: &Step, answer: Answer, now: i64) {
        let max_attempts = self.settings.max_attempts;
        let task = &mut self.tasks[at];
        task.started = None;
        if let Answer::Throttled { retry_after_ms } = answer {
            task.not_before = Some(now + retry_after_ms.max(1));
            return;
        }
        if let Answer::Failed { passing, message } = &answer {
            // A restore is tried until it succeeds: giving up would leave a child migrated in a
            // job that rolled back. Other steps, while their failure may pass, a few times.
            let restoring = matches!(step, Step::Restore(..));
            if restoring || (*passing && task.attempts + 1 < max_attempts) {
                task.attempts += 1;
                task.error = Some(message.clone());
                return;
            }
        }
        task.attempts = 0;
        match (step, answer) {
            (Step::DryRun(..), Answer::DryRun { at_version }) => {
                task.state = if at_version {
                    TaskState::Skipped
                } else {
                    TaskState::DryRunPassed
                };
            }
            (Step::DryRun(..), Answer::Failed { message, .. }) => {
                task.state = TaskState::DryRunFailed;
                task.error = Some(message);
            }
            (Step::Bookmark(..), Answer::Bookmark(bookmark)) => {
                task.bookmark = Some(bookmark);
                task.state = TaskState::Bookmarked;
            }
            (Step::Migrate(..), Answer::Done) => {
                task.state = TaskState::Migrated;
                task.error = None;
            }
            (Step::Bookmark(..) | Step::Migrate(..), Answer::Failed { message, .. }) => {
                task.state = TaskState::Failed;
                task.failed_here = true;
                task.error = Some(message);
            }
            (Step::Restore(..), Answer::Done) => task.state = TaskState::Restored,
            // An answer of another kind than the step's: the step is started again.
            _ => {}
        }
    }

    /// Whether `task` still has a bookmark to be restored to.
    fn to_restore(task: &Task, rolling_back: bool) -> bool {
        match task.state {
            TaskState::Failed => task.bookmark.is_some(),
            TaskState::Bookmarked | TaskState::Migrated => rolling_back,
            _ => false,
        }
    }

    /// Moves the phase on when the tasks say so.
    fn advance(&mut self, now: i64) {
        let stage_fails = |job: &Self, task: &Task| {
            job.settings.stages.get(task.stage).map(|s| s.on_error) != Some(OnError::Continue)
        };
        self.phase = match self.phase {
            Phase::Validate | Phase::DryRun | Phase::Hold { .. } if self.cancelled => {
                Phase::Finish(Outcome::Cancelled)
            }
            Phase::DryRun if self.tasks.iter().any(|t| t.state == TaskState::Pending) => return,
            Phase::DryRun
                if self
                    .tasks
                    .iter()
                    .any(|t| t.state == TaskState::DryRunFailed) =>
            {
                Phase::Finish(Outcome::DryRunFailed)
            }
            Phase::DryRun if self.settings.dry_run_only => Phase::Finish(Outcome::DryRunPassed),
            // Every child at the version already: nothing to hold writes for.
            Phase::DryRun
                if !self
                    .tasks
                    .iter()
                    .any(|t| t.state == TaskState::DryRunPassed) =>
            {
                Phase::Finish(Outcome::Committed)
            }
            Phase::DryRun => Phase::Hold { since: None },
            Phase::Hold { since: Some(since) } if now >= since + self.settings.hold_ms => {
                Phase::Run
            }
            Phase::Run
                if self.cancelled
                    || self.tasks.iter().any(|t| {
                        t.state == TaskState::Failed && t.failed_here && stage_fails(self, t)
                    }) =>
            {
                Phase::RollBack
            }
            Phase::Run => {
                let left = self.tasks.iter().any(|t| {
                    matches!(t.state, TaskState::DryRunPassed | TaskState::Bookmarked)
                        || Self::to_restore(t, false)
                });
                if left {
                    return;
                }
                Phase::Finish(Outcome::Committed)
            }
            Phase::RollBack => {
                if self.tasks.iter().any(|t| Self::to_restore(t, true)) {
                    return;
                }
                for task in &mut self.tasks {
                    if task.state == TaskState::DryRunPassed {
                        task.state = TaskState::Untouched;
                    }
                }
                Phase::Finish(Outcome::RolledBack)
            }
            phase => phase,
        };
    }

    /// Stops new steps until [`Job::resume`].
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Lets steps start again.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// Ends the job: as `cancelled` before it runs, by rolling back once it has.
    pub fn cancel(&mut self, now: i64) {
        self.cancelled = true;
        self.advance(now);
    }

    /// When a step may next be started, if the job waits for a time (the hold's end, a step's
    /// timeout) rather than for an answer or a person.
    pub fn wake_at(&self) -> Option<i64> {
        let timeout = self.settings.step_timeout_ms;
        let hold = match self.phase {
            Phase::Hold { since: Some(since) } => Some(since + self.settings.hold_ms),
            _ => None,
        };
        let steps = self
            .tasks
            .iter()
            .filter_map(|t| t.started)
            .chain(self.started)
            .map(|(_, at)| at + timeout);
        let throttled = self
            .tasks
            .iter()
            .filter_map(|t| t.not_before)
            .chain(self.not_before);
        hold.into_iter().chain(steps).chain(throttled).min()
    }

    /// Counts of its children by state, each failing child with its error, and its progress.
    pub fn summary(&self) -> Summary {
        let mut counts = std::collections::BTreeMap::new();
        for task in &self.tasks {
            *counts.entry(task.state.name().to_owned()).or_insert(0) += 1;
        }
        let failing = self
            .tasks
            .iter()
            .filter(|t| t.failed_here || t.state == TaskState::DryRunFailed)
            .map(|t| Failing {
                tenant: t.tenant.clone(),
                error: t.error.clone().unwrap_or_default(),
            })
            .collect();
        // Two steps per child that runs (a dry run, then its bookmark and migration count as
        // one), so the fraction moves through both phases.
        let done = self
            .tasks
            .iter()
            .map(|t| match t.state {
                TaskState::Pending => 0,
                TaskState::DryRunPassed | TaskState::Bookmarked => 1,
                _ => 2,
            })
            .sum::<usize>();
        Summary {
            counts,
            failing,
            done: done as f64 / (2 * self.tasks.len().max(1)) as f64,
            schema_error: self.schema_error.clone(),
        }
    }

    /// Whether it is over, and how.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            Phase::Done(outcome) => Some(outcome),
            _ => None,
        }
    }
}

#[cfg(test)]
mod model;

#[cfg(test)]
#[test]
fn a_task_states_name_is_the_one_its_json_carries() {
    use TaskState::*;
    let states = [
        Pending,
        DryRunPassed,
        Skipped,
        DryRunFailed,
        Bookmarked,
        Migrated,
        Failed,
        Restored,
        Untouched,
    ];
    for state in states {
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["state"], state.name());
    }
}
