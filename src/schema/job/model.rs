//! A model-based test of migration jobs: random histories of a job over a dozen children, with
//! writers writing all along, steps that fail (for good or for a while), answers lost after the
//! work was done, steps slower than others (their work lands late), driver crashes between
//! starting steps and keeping the job, pauses, resumes and cancels. Then the faults stop, the
//! job is driven to its end, and the invariants are checked:
//!
//! - the job ended, and the hold on writes is released;
//! - the group's schema database is at the version exactly when the job committed, and a
//!   migration it refuses ends the job `dry_run_failed` with no child touched;
//! - committed: every child that migrated is at the version, migrated once; every child a
//!   `continue` stage reported as failed is as it was; rolled back, dry-run failed or
//!   cancelled: every child is as it was;
//! - no write a writer was told succeeded is lost, whatever was restored.
//!
//! Writers learn of the hold late (a cached answer, up to `STALE_MS`), as requests do, and a
//! bookmark is a restore point a margin before its step, as D1's edge takes it (a time), with
//! each child's history kept so that a restore finds its state at that time.
//! `EDGE_TENANCY_HISTORIES` and `EDGE_TENANCY_SEED` as in the control plane's model test.

use super::*;
use crate::testing::{run_histories, Rng};
use std::collections::BTreeSet;

const CHILDREN: usize = 12;
const TARGET: i64 = 3;
/// How long a writer may act on an answer cached before the hold (milliseconds).
const STALE_MS: i64 = 5_000;
const STEP_TIMEOUT_MS: i64 = 4_000;
/// How long before its step a bookmark's restore point is.
const MARGIN_MS: i64 = 1_000;

#[derive(Clone)]
struct Child {
    version: i64,
    rows: BTreeSet<u64>,
    migrations_applied: u32,
}

struct World {
    children: Vec<Child>,
    /// Each child's states, oldest first, with when each began.
    history: Vec<Vec<(i64, Child)>>,
    held_since: Option<i64>,
    /// Writes answered as done: (child, row).
    accepted: Vec<(usize, u64)>,
    next_row: u64,
    bad_dry_run: Option<usize>,
    bad_run: Option<usize>,
    /// The group's schema database: its version, and whether it refuses the migrations.
    parent: i64,
    bad_parent: bool,
}

impl World {
    fn perform(&mut self, step: &Step, now: i64, rng: &Rng, faulty: bool) -> Answer {
        let child = |t: &TenantId| t.as_str()[1..].parse::<usize>().unwrap();
        let passing = |what: &str| Answer::Failed {
            passing: true,
            message: format!("{what}: unavailable"),
        };
        match step {
            Step::Hold(_) => {
                self.held_since = Some(now);
                Answer::Done
            }
            Step::Finish(outcome, _) => {
                if *outcome == Outcome::Committed {
                    self.parent = TARGET;
                }
                self.held_since = None;
                Answer::Done
            }
            _ if faulty && rng.chance(10) => passing("fault"),
            // Not performed: the API's budget is spent for a while.
            _ if faulty && rng.chance(5) => Answer::Throttled {
                retry_after_ms: 1 + (rng.next() % 3_000) as i64,
            },
            Step::Validate(_) if self.bad_parent => Answer::Failed {
                passing: false,
                message: "duplicate column name: x".into(),
            },
            Step::Validate(_) => Answer::DryRun {
                at_version: self.parent >= TARGET,
            },
            Step::DryRun(t, _) => {
                let c = child(t);
                if self.bad_dry_run == Some(c) {
                    return Answer::Failed {
                        passing: false,
                        message: "no such table: x".into(),
                    };
                }
                Answer::DryRun {
                    at_version: self.children[c].version >= TARGET,
                }
            }
            Step::Bookmark(..) => Answer::Bookmark((now - MARGIN_MS).to_string()),
            Step::Migrate(t, _) => {
                let c = child(t);
                if self.bad_run == Some(c) {
                    return Answer::Failed {
                        passing: false,
                        message: "constraint failed".into(),
                    };
                }
                // As the ledger does: what is applied is not applied again.
                let child = &mut self.children[c];
                if child.version < TARGET {
                    child.version = TARGET;
                    child.migrations_applied += 1;
                }
                self.changed(c, now);
                Answer::Done
            }
            Step::Restore(t, _, bookmark) => {
                let c = child(t);
                let Ok(at) = bookmark.parse::<i64>() else {
                    return Answer::Failed {
                        passing: false,
                        message: format!("no bookmark {bookmark:?}"),
                    };
                };
                let history = &self.history[c];
                let then = history
                    .iter()
                    .rev()
                    .find(|(since, _)| *since <= at)
                    .unwrap_or(&history[0]);
                self.children[c] = Child {
                    migrations_applied: self.children[c].migrations_applied,
                    ..then.1.clone()
                };
                self.changed(c, now);
                Answer::Done
            }
        }
    }

    /// Keeps child `c`'s state as of `now` in its history.
    fn changed(&mut self, c: usize, now: i64) {
        self.history[c].push((now, self.children[c].clone()));
    }

    /// A writer writes unless it sees the hold: it sees it `lag` late.
    fn write(&mut self, rng: &Rng, now: i64, events: &mut Vec<String>) {
        let lag = (rng.next() % STALE_MS as u64) as i64;
        let c = rng.below(CHILDREN);
        if self.held_since.is_some_and(|since| now >= since + lag) {
            events.push(format!("{now}: write to c{c} held"));
            return;
        }
        self.next_row += 1;
        self.children[c].rows.insert(self.next_row);
        self.changed(c, now);
        self.accepted.push((c, self.next_row));
    }
}

/// A step whose work lands later than it was started.
struct Slow {
    due: i64,
    step: Step,
    lost: bool,
}

fn history(seed: u64) -> Result<Vec<String>, String> {
    let rng = Rng::new(seed);
    let mut events = Vec::new();
    let children: Vec<Child> = (0..CHILDREN)
        .map(|c| Child {
            version: if c % 5 == 4 { TARGET } else { 1 },
            rows: BTreeSet::from([c as u64 * 1_000_000]),
            migrations_applied: 0,
        })
        .collect();
    let initial = children.clone();
    let mut world = World {
        history: children
            .iter()
            .map(|c| vec![(i64::MIN, c.clone())])
            .collect(),
        children,
        held_since: None,
        accepted: Vec::new(),
        next_row: 0,
        bad_dry_run: rng.chance(15).then(|| rng.below(CHILDREN)),
        bad_run: rng.chance(30).then(|| rng.below(CHILDREN)),
        parent: 1,
        bad_parent: rng.chance(8),
    };
    let continue_rest = rng.chance(40);
    let settings = Settings {
        concurrency: 1 + rng.below(4),
        max_attempts: 3,
        // Longer than a writer may act on an answer cached before the hold, by the margin.
        hold_ms: STALE_MS + MARGIN_MS + 1,
        step_timeout_ms: STEP_TIMEOUT_MS,
        dry_run_only: rng.chance(5),
        stages: vec![
            Stage {
                size: Some(2),
                on_error: OnError::Fail,
            },
            Stage {
                size: None,
                on_error: if continue_rest {
                    OnError::Continue
                } else {
                    OnError::Fail
                },
            },
        ],
    };
    let tenants = (0..CHILDREN)
        .map(|c| format!("c{c}").parse().unwrap())
        .collect();
    let mut job = Job::new("g", TARGET, tenants, settings);
    events.push(format!(
        "bad parent {}, bad dry run {:?}, bad run {:?}, continue {continue_rest}, concurrency {}",
        world.bad_parent, world.bad_dry_run, world.bad_run, job.settings.concurrency
    ));
    let mut now = 0;
    let mut slow: Vec<Slow> = Vec::new();
    for round in 0..600 {
        let faulty = round < 150;
        now += (rng.next() % 1_500) as i64;
        for _ in 0..rng.below(3) {
            world.write(&rng, now, &mut events);
        }
        if faulty && rng.chance(3) {
            events.push(format!("{now}: pause"));
            job.pause();
        } else if job.paused && (!faulty || rng.chance(20)) {
            events.push(format!("{now}: resume"));
            job.resume();
        }
        if faulty && rng.chance(1) {
            events.push(format!("{now}: cancel"));
            job.cancel(now);
        }
        // Slow steps whose time has come do their work now; some answers never arrive.
        let (due, waiting): (Vec<Slow>, Vec<Slow>) = slow.drain(..).partition(|s| s.due <= now);
        slow = waiting;
        for s in due {
            let answer = world.perform(&s.step, now, &rng, faulty);
            events.push(format!("{now}: slow {:?} lands -> {answer:?}", s.step));
            if !s.lost {
                job.record(&s.step, answer, now);
            }
        }
        let kept = job.clone();
        let steps = job.start(now);
        if faulty && !steps.is_empty() && rng.chance(5) {
            // The driver dies before it keeps the job: the steps were never started.
            events.push(format!("{now}: crash before keeping {} steps", steps.len()));
            job = kept;
            continue;
        }
        for step in steps {
            if faulty && rng.chance(8) {
                let delay = 1 + (rng.next() % (STEP_TIMEOUT_MS as u64 - 1)) as i64;
                events.push(format!("{now}: {step:?} slow by {delay}"));
                slow.push(Slow {
                    due: now + delay,
                    step,
                    lost: rng.chance(30),
                });
                continue;
            }
            if faulty && rng.chance(3) {
                events.push(format!("{now}: crash before performing {step:?}"));
                continue;
            }
            let answer = world.perform(&step, now, &rng, faulty);
            if faulty && rng.chance(5) {
                events.push(format!("{now}: {step:?} -> {answer:?}, answer lost"));
                continue;
            }
            events.push(format!("{now}: {step:?} -> {answer:?}"));
            job.record(&step, answer, now);
        }
        if job.outcome().is_some() && slow.is_empty() {
            break;
        }
    }
    match check(&job, &world, &initial, continue_rest) {
        Ok(outcome) => {
            events.push(format!("outcome {outcome:?}"));
            Ok(events)
        }
        Err(why) => Err(format!(
            "history {seed} (replay: EDGE_TENANCY_SEED={seed}): {why}\n{}",
            events.join("\n")
        )),
    }
}

/// The invariants (see the module docs).
fn check(
    job: &Job,
    world: &World,
    initial: &[Child],
    continue_rest: bool,
) -> Result<Outcome, String> {
    let Some(outcome) = job.outcome() else {
        return Err(format!("the job did not end: {:?}", job.phase));
    };
    if world.held_since.is_some() {
        return Err("the hold was not released".into());
    }
    if (world.parent == TARGET) != (outcome == Outcome::Committed) {
        return Err(format!(
            "{outcome:?} with the schema database at {}",
            world.parent
        ));
    }
    if world.bad_parent && !matches!(outcome, Outcome::DryRunFailed | Outcome::Cancelled) {
        return Err(format!("{outcome:?} though the schema database refused"));
    }
    if world.bad_parent && job.tasks.iter().any(|t| t.state != TaskState::Pending) {
        return Err("a child was read after the schema database refused".into());
    }
    for (c, child) in world.children.iter().enumerate() {
        let task = &job.tasks[c];
        if outcome == Outcome::Committed && task.state == TaskState::Migrated {
            if child.version != TARGET || child.migrations_applied != 1 {
                return Err(format!(
                    "c{c} migrated: version {}, applied {}",
                    child.version, child.migrations_applied
                ));
            }
        } else if child.version != initial[c].version {
            return Err(format!(
                "{outcome:?}: c{c} ({:?}) is at {}, was at {}",
                task.state, child.version, initial[c].version
            ));
        }
        let reported = continue_rest && task.stage == 1 && task.failed_here;
        if outcome == Outcome::Committed
            && !matches!(task.state, TaskState::Migrated | TaskState::Skipped)
            && !reported
        {
            return Err(format!("committed with c{c} {:?}", task.state));
        }
    }
    for (c, row) in &world.accepted {
        if !world.children[*c].rows.contains(row) {
            return Err(format!("the write of row {row} to c{c} was lost"));
        }
    }
    Ok(outcome)
}

#[test]
fn random_histories_of_a_migration_job_end_all_or_none_and_lose_no_write() {
    let kinds = [
        "bad parent true",
        "outcome Committed",
        "outcome RolledBack",
        "outcome DryRunFailed",
        "outcome DryRunPassed",
        "outcome Cancelled",
        "slow by",
        "lands",
        "answer lost",
        "crash before keeping",
        "crash before performing",
        "held",
        "pause",
        "Restore",
        "fault",
        "Throttled",
    ];
    run_histories(history, &kinds);
}
