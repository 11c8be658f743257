//! Closing a run: its outcome on the worker and in a run record, and exactly one next state.

use super::*;

/// A claimed run: the worker as the claim returned it, with the claim's facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    /// The worker as stored right after the claim.
    pub worker: Worker,
    /// The activation.
    pub task_id: String,
    /// The due time this run is for.
    pub due: Due,
    /// The claim's token.
    pub run_token: String,
    /// When the claim was made.
    pub started: DateTime<Utc>,
}

impl Claimed {
    /// Reads the claim's facts off a running worker; `None` if it is not a claimed worker.
    pub fn from_worker(worker: Worker) -> Option<Claimed> {
        if worker.status != Some(Status::Running) {
            return None;
        }
        Some(Claimed {
            task_id: worker.task_id.clone()?,
            due: worker.next_due?,
            run_token: worker.run_token.clone()?,
            started: worker.last_run_start_time?,
            worker,
        })
    }

    /// 1 for the first attempt at this due time, 2 for the first retry, …
    pub fn attempt(&self) -> u32 {
        self.worker.attempt + 1
    }

    /// The scheduled due time this run belongs to (during retries, the one being retried).
    pub fn anchor(&self) -> Due {
        self.worker.retry_of.unwrap_or(self.due)
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The job's summary, or its failure.
    pub result: Result<String, JobError>,
    /// When the job finished.
    pub finished: DateTime<Utc>,
    /// The job's last report of its progress, and its latest checkpoint, written or not.
    pub report: Report,
}

/// Where a worker goes after a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextState {
    /// Try this due time again (failure, attempts left), at `due`.
    Retry {
        /// When the retry is due.
        due: Due,
    },
    /// Run again at the schedule's next due time.
    Next {
        /// The next due time.
        due: Due,
    },
    /// No further run.
    Stopped,
}

/// The writes that close a run: the worker's update and the run's record.
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    /// The worker's update, conditional on the run still holding its claim.
    pub update: Update,
    /// The run item.
    pub record: RunRecord,
    /// Where the worker goes next.
    pub next: NextState,
}

/// What decides where a finished run leads: the jobs' due times, the policy, and the jitter in
/// `[0, 1)` that spreads retries.
struct Rules<'a> {
    jitter: f64,
    planner: &'a dyn Planner,
    policy: &'a Policy,
}

/// Closes a claimed run with its outcome. `jitter` in `[0, 1)` spreads retries.
pub fn finish(
    claimed: &Claimed,
    outcome: &Outcome,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
) -> Finish {
    let rules = Rules {
        jitter,
        planner,
        policy,
    };
    settle(claimed, outcome, claim_held(claimed), &rules)
}

/// The condition of every write that closes a claim: the run still holds it.
fn claim_held(claimed: &Claimed) -> Condition {
    Condition::All(vec![
        Condition::Equals(attr::STATUS, s(Status::Running.as_str())),
        Condition::Equals(attr::RUN_TOKEN, s(&claimed.run_token)),
    ])
}

/// Gives up a run whose lease expired (its executor died or timed out), as the worker's
/// `onLost` says: `retry` counts it as a failed attempt, `skip` moves on to the next due time.
/// `None` if the worker is not a running worker whose lease has expired at `now`.
pub fn rescue(
    worker: &Worker,
    now: DateTime<Utc>,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
) -> Option<Finish> {
    let lease = worker.lease_until?;
    if lease >= now {
        return None;
    }
    let what = format!(
        "lost: the run did not finish before its lease expired at {}",
        format_stamp(lease)
    );
    give_up(worker, lease, what, now, jitter, planner, policy)
}

/// Gives up a run an operator presumes lost (`nextdue release`), before its lease expires:
/// as [`rescue`] does, through the same fenced write, so a run that was alive after all finds
/// its claim gone and is recorded as superseded. `None` if the worker is not running.
pub fn release(
    worker: &Worker,
    now: DateTime<Utc>,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
) -> Option<Finish> {
    let lease = worker.lease_until?;
    let what = format!(
        "lost: released by an operator while it ran (its lease ran until {})",
        format_stamp(lease)
    );
    give_up(worker, lease, what, now, jitter, planner, policy)
}

/// The condition of a write that gives up a run from outside it (the sweeper, an operator):
/// the claim and its lease are still as read.
fn still_leased(claimed: &Claimed, lease: DateTime<Utc>) -> Condition {
    Condition::All(vec![
        claim_held(claimed),
        Condition::Equals(attr::LEASE_UNTIL, s(format_stamp(lease))),
    ])
}

/// Closes the claim of a run given up as lost, as the worker's `onLost` says.
fn give_up(
    worker: &Worker,
    lease: DateTime<Utc>,
    what: String,
    now: DateTime<Utc>,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
) -> Option<Finish> {
    let claimed = Claimed::from_worker(worker.clone())?;
    let error = match worker.on_lost() {
        OnLost::Retry => JobError::retryable(what),
        OnLost::Skip => JobError::permanent(format!("{what}; skipped (onLost = skip)")),
    };
    // The run's record keeps what it last wrote of its progress (its later reports died with it).
    let outcome = Outcome {
        result: Err(error),
        finished: now,
        report: Report {
            text: worker.progress.clone(),
            fraction: worker.progress_fraction,
            checkpoint: None,
        },
    };
    let rules = Rules {
        jitter,
        planner,
        policy,
    };
    Some(settle(
        &claimed,
        &outcome,
        still_leased(&claimed, lease),
        &rules,
    ))
}

/// Closes a run whose executor died *after* it wrote the run's record but before it closed the
/// worker: the record's outcome is the run's, so the worker moves on as that finish would have
/// moved it (no second start of a run that succeeded). `None` when `record` is not this claim's
/// finished record (then the run is lost: [`rescue`]).
pub fn rescue_recorded(
    worker: &Worker,
    record: &RunRecord,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
) -> Option<Finish> {
    let lease = worker.lease_until?;
    let claimed = Claimed::from_worker(worker.clone())?;
    let finished = record.finish_time?;
    let ours = record.task_id == claimed.task_id
        && record.start_time == claimed.started
        && record.due == claimed.due
        && !record.superseded;
    if !ours {
        return None;
    }
    let message = record.message.clone().unwrap_or_default();
    let result = match record.succeeded {
        Some(true) => Ok(message),
        _ if record.retryable == Some(false) => Err(JobError::permanent(message)),
        _ => Err(JobError::retryable(message)),
    };
    let outcome = Outcome {
        result,
        finished,
        report: Report::default(),
    };
    let rules = Rules {
        jitter,
        planner,
        policy,
    };
    let closing = settle(&claimed, &outcome, still_leased(&claimed, lease), &rules);
    Some(Finish {
        record: record.clone(),
        ..closing
    })
}

/// How a claimed run ends with `outcome`, written under `condition`: its record, and the
/// worker's move to a retry, its next due time, or a stop.
fn settle(claimed: &Claimed, outcome: &Outcome, condition: Condition, rules: &Rules) -> Finish {
    let Rules {
        jitter,
        planner,
        policy,
    } = *rules;
    let worker = &claimed.worker;
    let now = outcome.finished;
    let attempt = claimed.attempt();
    let room = message_room(worker);
    let (succeeded, message) = match &outcome.result {
        Ok(summary) => (true, bounded_to(summary, room)),
        Err(error) => (false, bounded_to(&error.message, room)),
    };
    let retry = match &outcome.result {
        Err(error) if attempt < worker.max_attempts() => error.retry,
        _ => Retry::Never,
    };
    let next = if retry != Retry::Never {
        let delay = match retry {
            Retry::After(seconds) => i64::from(seconds),
            _ => policy.retry.delay_seconds(attempt, jitter),
        };
        // Counted from now, or from the due time if the run started early: later either way.
        match Due::floor(now).max(claimed.due).plus_seconds(delay) {
            Some(due) => NextState::Retry { due },
            None => NextState::Stopped,
        }
    } else if let Some(due) = worker.resume_due {
        // The run was an extra one a user asked for: back to the due time it interrupted.
        NextState::Next { due }
    } else {
        match next_after_catch_up(worker, claimed.anchor(), Due::floor(now), planner) {
            Some(due) => NextState::Next { due },
            None => NextState::Stopped,
        }
    };
    let mut update = Update::new(&worker.id, condition)
        .set(attr::LAST_RUN_SUCCEEDED, b(succeeded))
        .set(attr::LAST_RUN_MESSAGE, s(&message))
        .set(attr::LAST_RUN_FINISH_TIME, s(format_stamp(now)))
        .set(attr::RUN_COUNT, n(worker.run_count + 1))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL)
        .remove(attr::PROGRESS)
        .remove(attr::PROGRESS_FRACTION)
        .remove(attr::PROGRESS_TIME);
    // A retry of the same due time resumes from the checkpoint (the latest, if the run saved one
    // since its last write); any other next state starts afresh.
    update = match (&next, &outcome.report.checkpoint) {
        (NextState::Retry { .. }, Some(checkpoint)) => update
            .set(attr::CHECKPOINT, s(checkpoint))
            .set(attr::CHECKPOINT_DUE, s(claimed.anchor())),
        (NextState::Retry { .. }, None) => update,
        _ => update.remove(attr::CHECKPOINT).remove(attr::CHECKPOINT_DUE),
    };
    let (update, alert) = alert::after_run(update, worker, claimed.anchor(), succeeded, &next, now);
    let state_look = match next {
        NextState::Retry { due } | NextState::Next { due } => Some(overdue_at(due, policy)),
        NextState::Stopped => None,
    };
    let update = look(update, &worker.id, state_look, alert, policy);
    let update = match next {
        NextState::Retry { due } => update
            .set(attr::STATUS, s(Status::Ready.as_str()))
            .set(attr::NEXT_DUE, s(due))
            .set(attr::ATTEMPT, n(attempt))
            .set(attr::RETRY_OF, s(claimed.anchor())),
        NextState::Next { due } => update
            .set(attr::STATUS, s(Status::Ready.as_str()))
            .set(attr::NEXT_DUE, s(due))
            .set(attr::ATTEMPT, n(0))
            .remove(attr::RETRY_OF)
            .remove(attr::RESUME_DUE),
        NextState::Stopped => update
            .set(attr::STATUS, s(Status::Stopped.as_str()))
            .set(attr::ATTEMPT, n(0))
            .remove(attr::NEXT_DUE)
            .remove(attr::RETRY_OF)
            .remove(attr::RESUME_DUE),
    };
    let record = RunRecord {
        worker_id: worker.id.clone(),
        run_id: format!("{}#{}", format_stamp(claimed.started), claimed.task_id),
        task_id: claimed.task_id.clone(),
        due: claimed.due,
        attempt,
        start_time: claimed.started,
        finish_time: Some(now),
        succeeded: Some(succeeded),
        message: Some(message),
        duration_ms: Some((now - claimed.started).num_milliseconds().max(0) as u64),
        retryable: outcome.result.as_ref().err().map(JobError::is_retryable),
        superseded: false,
        skipped: false,
        progress: outcome.report.text.clone(),
        progress_fraction: outcome.report.fraction,
        expires_at: (now + policy.retention).timestamp(),
    };
    Finish {
        update,
        record,
        next,
    }
}

/// Why a spawned worker's parent no longer stands behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orphaned {
    /// The parent is disabled, or its item is gone.
    DisabledOrGone,
    /// The parent was re-enabled (or deleted and written again) since it wrote this worker:
    /// its `taskId` is not the child's `parentTaskId`.
    Restarted,
}

/// Closes a claimed run of a spawned worker without running its job, because its parent is
/// disabled, gone or restarted: the worker is disabled and stopped, so its own children, when
/// they next run, stop in turn. Disabling the root of a tree stops the whole tree.
pub fn orphaned(
    claimed: &Claimed,
    parent: &str,
    why: Orphaned,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Finish {
    let what = match why {
        Orphaned::DisabledOrGone => "is disabled or gone",
        Orphaned::Restarted => "was restarted (a new taskId) since it wrote this worker",
    };
    let outcome = Outcome {
        result: Err(JobError::permanent(format!(
            "not run: its parent {parent} {what}, so this spawned worker stops with it (set \
             enabled to true to run it on its own)"
        ))),
        finished: now,
        report: Report::default(),
    };
    let rules = Rules {
        jitter: 0.0,
        planner: &NoSchedule,
        policy,
    };
    let closing = settle(claimed, &outcome, claim_held(claimed), &rules);
    Finish {
        update: unwatch(closing.update)
            .remove(attr::ALERT_AT)
            .set(attr::ENABLED, b(false))
            .set(attr::STATUS, s(Status::Stopped.as_str()))
            .remove(attr::NEXT_DUE)
            .remove(attr::RETRY_OF)
            .remove(attr::RESUME_DUE),
        next: NextState::Stopped,
        ..closing
    }
}

/// A planner with no next due time: what an orphaned run closes with.
struct NoSchedule;

impl Planner for NoSchedule {
    fn check(&self, _worker: &Worker) -> Result<(), ItemError> {
        Ok(())
    }

    fn next_due(&self, _worker: &Worker, _previous: Option<Due>, _now: Due) -> Option<Due> {
        None
    }
}

/// The due time after a run for `anchor` that finished at `now`. If the schedule's next time
/// has passed already (the run was late: downtime, a long run, a `nextDue` in the past), the
/// run that just ended stood in for the missed times, and the worker resumes at the first time
/// on its grid after `now`: one catch-up run, never a burst.
pub(super) fn next_after_catch_up(
    worker: &Worker,
    anchor: Due,
    now: Due,
    planner: &dyn Planner,
) -> Option<Due> {
    let next = planner.next_due(worker, Some(anchor), now)?;
    if next > now {
        return Some(next);
    }
    planner.next_due(worker, Some(next), now)
}

/// The update that closes a claim on an item that no longer decodes (someone broke it while
/// it was queued): the worker becomes invalid, saying why.
pub fn invalid_after_claim(
    id: &str,
    run_token: &str,
    error: &ItemError,
    now: DateTime<Utc>,
) -> Update {
    let condition = Condition::Equals(attr::RUN_TOKEN, s(run_token));
    unwatch(Update::new(id, condition))
        .set(attr::STATUS, s(Status::Invalid.as_str()))
        .set(
            attr::LAST_RUN_MESSAGE,
            s(bounded(&format!("invalid: {error}"))),
        )
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL)
}
