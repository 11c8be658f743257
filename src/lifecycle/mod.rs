//! The worker lifecycle: pure decisions, no I/O.
//!
//! Given the item as stored, the event (a stream change, a delivery message, a finished run)
//! and the time, these functions say what happens. Every write comes back as an [`Update`]
//! carrying its exact condition, so the shell only applies decisions:
//!
//! * [`on_change`] (dispatcher): arm a newly enabled worker with a fresh task id, hand each
//!   committed "enabled, ready, due at T" state to delivery, stop a disabled worker, or mark a
//!   bad item invalid.
//! * [`on_message`] and [`claim`] (executor): a message that is not due yet goes back to
//!   delivery; one that is due tries one conditional claim, which succeeds only for the
//!   message's task id and due time (at most one start per due time; stale tasks never run).
//!   [`refusal`] explains a failed claim from the item the failed write returns.
//! * [`finish`] (executor) and [`rescue`] (sweeper): close a claim with its outcome, and choose
//!   exactly one of retry, next due time, or stop.

pub mod retry;
pub mod update;

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use self::retry::RetryPolicy;
pub use self::update::{Change, Condition, Update};
use self::update::{b, n, s};
use crate::item::{Image, ItemError, OnLost, RunRecord, Status, Worker, attr};
use crate::job::JobError;
use crate::timestamp::{Due, format_stamp};

/// The longest `lastRunMessage` kept, in bytes; longer messages are cut.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The longest delay SQS can give a message, in seconds.
pub const MAX_QUEUE_DELAY_SECONDS: i64 = 900;

/// What the lifecycle needs to know about jobs: whether a worker's job accepts it, and the
/// job's next due time. The job [`Registry`](crate::job::Registry) is the real one.
pub trait Planner {
    /// Checks the worker's kind and parameters.
    fn check(&self, worker: &Worker) -> Result<(), ItemError>;
    /// The due time after `previous` (`None`: first activation) at `now`; `None` stops.
    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due>;
}

/// The message delivery carries to the executor: which worker, which activation, which due
/// time. Serialized as `{"id": …, "taskId": …, "due": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Message {
    /// The worker's id.
    pub id: String,
    /// The activation the message belongs to.
    pub task_id: String,
    /// The due time it is for.
    pub due: Due,
}

/// How a message reaches the executor at its due time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Send it to the queue now, with this delay (at most 900 s).
    Queue {
        /// Seconds before the queue delivers it.
        delay_seconds: u32,
    },
    /// Create a one-time EventBridge Scheduler schedule that sends it to the queue at this
    /// minute. Scheduler fires within the minute it names, so this is the minute before the
    /// due time; the executor delays the message the rest of the way through SQS.
    Schedule {
        /// The whole minute at which the schedule fires.
        at: DateTime<Utc>,
    },
}

/// The route that gets a message due at `due` to the executor when it is due, or just before
/// (the executor waits out the last fraction of a second itself, see [`on_message`]).
pub fn route(due: Due, now: DateTime<Utc>) -> Route {
    let wait = due.instant() - now;
    if wait <= TimeDelta::seconds(MAX_QUEUE_DELAY_SECONDS) {
        Route::Queue {
            delay_seconds: wait.num_seconds().max(0) as u32,
        }
    } else {
        let seconds = due.instant().timestamp() - 60;
        let minute =
            DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).expect("a valid minute");
        Route::Schedule { at: minute }
    }
}

/// Why the dispatcher leaves a change alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The item was deleted.
    Removed,
    /// The worker is disabled and has nothing to stop.
    Disabled,
    /// The worker's ready state did not change, so its delivery is already on its way.
    Unchanged,
    /// A run holds the claim; its finish decides what comes next.
    Running,
    /// The worker has finished; set `enabled` to false and back to true to run it again.
    Stopped,
    /// The item is already marked invalid with this very message.
    AlreadyInvalid,
    /// The worker is marked invalid; editing the item re-arms it.
    Invalid,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Removed => "removed",
            Ignored::Disabled => "disabled",
            Ignored::Unchanged => "unchanged",
            Ignored::Running => "running",
            Ignored::Stopped => "stopped",
            Ignored::AlreadyInvalid => "already marked invalid",
            Ignored::Invalid => "invalid until edited",
        })
    }
}

/// What the dispatcher does with one committed change of a worker item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    /// Nothing.
    Ignore(Ignored),
    /// Start a new activation: a fresh task id, `status = ready`, the first due time.
    Arm(Update),
    /// Hand the ready state to delivery.
    Deliver {
        /// What the executor will receive.
        message: Message,
        /// The worker's queue name.
        queue: String,
    },
    /// Mark the worker stopped (disabled while ready, or nothing to run).
    Stop(Update),
    /// Mark the worker invalid, saying why.
    MarkInvalid(Update),
}

/// Decides what a committed change of a worker item means. `old` and `new` are the stream
/// record's images; `task_id` is the fresh id to use if the change arms the worker (derived
/// from the stream record, so a replayed record arms with the same id).
pub fn on_change(
    old: Option<&Image>,
    new: Option<&Image>,
    task_id: &str,
    now: DateTime<Utc>,
    planner: &dyn Planner,
) -> ChangeAction {
    let Some(new) = new else {
        return ChangeAction::Ignore(Ignored::Removed);
    };
    let seen_task = Condition::equals_or_missing(attr::TASK_ID, new.task_id.clone().map(s));
    let worker = match new
        .worker
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|w| planner.check(w).map(|()| w))
    {
        Ok(worker) => worker,
        Err(error) => return invalid(new, &error, seen_task, now),
    };
    let newly_enabled = old.is_none_or(|old| !old.enabled);
    // An invalid worker that someone edited (it was invalid before this change too, and now
    // passes its checks) starts again; the change that marked it invalid does not count.
    let invalid_edited = worker.status == Some(Status::Invalid)
        && old.is_some_and(|old| old.status.as_deref() == Some(Status::Invalid.as_str()));
    if worker.enabled && (newly_enabled || invalid_edited || !is_armed(worker)) {
        return arm(worker, task_id, seen_task, now, planner);
    }
    match worker.status {
        Some(Status::Ready) if worker.enabled => {
            let unchanged = old
                .and_then(|old| old.worker.as_ref().ok())
                .is_some_and(|old| old.enabled && same_ready_state(old, worker));
            if unchanged {
                return ChangeAction::Ignore(Ignored::Unchanged);
            }
            let (Some(task_id), Some(due)) = (&worker.task_id, worker.next_due) else {
                unreachable!("an armed ready worker has a task id and a due time")
            };
            ChangeAction::Deliver {
                message: Message {
                    id: worker.id.clone(),
                    task_id: task_id.clone(),
                    due,
                },
                queue: worker.queue().to_owned(),
            }
        }
        Some(Status::Ready) => {
            let condition = Condition::All(vec![
                Condition::Equals(attr::ENABLED, b(false)),
                Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
                seen_task,
            ]);
            ChangeAction::Stop(stopped(&worker.id, condition, now))
        }
        Some(Status::Running) => ChangeAction::Ignore(Ignored::Running),
        Some(Status::Stopped) => ChangeAction::Ignore(Ignored::Stopped),
        Some(Status::Invalid) if worker.enabled => ChangeAction::Ignore(Ignored::Invalid),
        _ => ChangeAction::Ignore(Ignored::Disabled),
    }
}

/// Whether nextdue has armed this worker and it is still in a state it can move on from.
fn is_armed(worker: &Worker) -> bool {
    match worker.status {
        None => false,
        Some(Status::Invalid) => true,
        Some(Status::Ready) => worker.task_id.is_some() && worker.next_due.is_some(),
        Some(Status::Running) => worker.task_id.is_some() && worker.run_token.is_some(),
        Some(Status::Stopped) => true,
    }
}

fn same_ready_state(old: &Worker, new: &Worker) -> bool {
    old.status == Some(Status::Ready) && old.task_id == new.task_id && old.next_due == new.next_due
}

/// Marks an enabled worker invalid because of `error` (once: an item already marked with this
/// very message is left alone, so the mark's own stream record starts no loop).
pub fn mark_invalid(new: &Image, error: &ItemError, now: DateTime<Utc>) -> ChangeAction {
    let seen_task = Condition::equals_or_missing(attr::TASK_ID, new.task_id.clone().map(s));
    invalid(new, error, seen_task, now)
}

fn invalid(
    new: &Image,
    error: &ItemError,
    seen_task: Condition,
    now: DateTime<Utc>,
) -> ChangeAction {
    if !new.enabled {
        return ChangeAction::Ignore(Ignored::Disabled);
    }
    let message = bounded(&format!("invalid: {error}"));
    if new.status.as_deref() == Some(Status::Invalid.as_str())
        && new.last_run_message.as_ref() == Some(&message)
    {
        return ChangeAction::Ignore(Ignored::AlreadyInvalid);
    }
    let condition = Condition::All(vec![Condition::Equals(attr::ENABLED, b(true)), seen_task]);
    ChangeAction::MarkInvalid(
        Update::new(&new.id, condition)
            .set(attr::STATUS, s(Status::Invalid.as_str()))
            .set(attr::LAST_RUN_MESSAGE, s(message))
            .set(attr::UPDATE_TIME, s(format_stamp(now)))
            .remove(attr::RUN_TOKEN)
            .remove(attr::LEASE_UNTIL),
    )
}

fn arm(
    worker: &Worker,
    task_id: &str,
    seen_task: Condition,
    now: DateTime<Utc>,
    planner: &dyn Planner,
) -> ChangeAction {
    let condition = Condition::All(vec![Condition::Equals(attr::ENABLED, b(true)), seen_task]);
    let first_due = match worker.next_due {
        Some(due) => Some(due),
        None if worker.runs_immediately() => Some(Due::floor(now)),
        None => planner.next_due(worker, None, Due::floor(now)),
    };
    let Some(due) = first_due else {
        let update = stopped(&worker.id, condition, now).set(
            attr::LAST_RUN_MESSAGE,
            s("nothing to run: executeImmediately is false and the schedule names no future time"),
        );
        return ChangeAction::Stop(update);
    };
    let mut update = Update::new(&worker.id, condition)
        .set(attr::TASK_ID, s(task_id))
        .set(attr::STATUS, s(Status::Ready.as_str()))
        .set(attr::NEXT_DUE, s(due))
        .set(attr::ATTEMPT, n(0))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .set_if_missing(attr::CREATE_TIME, s(format_stamp(now)))
        .remove(attr::RETRY_OF)
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL);
    if worker.status == Some(Status::Invalid) {
        update = update.remove(attr::LAST_RUN_MESSAGE);
    }
    ChangeAction::Arm(update)
}

fn stopped(id: &str, condition: Condition, now: DateTime<Utc>) -> Update {
    Update::new(id, condition)
        .set(attr::STATUS, s(Status::Stopped.as_str()))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::NEXT_DUE)
        .remove(attr::RETRY_OF)
}

/// The longest the executor waits in-process for a message that arrived just early.
pub const MAX_EARLY_WAIT: TimeDelta = TimeDelta::seconds(1);

/// What the executor does with a message before touching the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageAction {
    /// Not due for a while (delivery is early by design): send it on again.
    Redeliver(Route),
    /// Due within [`MAX_EARLY_WAIT`]: wait this long, then claim.
    WaitThenClaim(TimeDelta),
    /// Due: try to claim the run.
    Claim,
}

/// Decides what to do with a message at `now`. Queue delays count whole seconds and Scheduler
/// whole minutes, so messages arrive up to a second (or a minute) early, never late; the last
/// second is waited out in-process so a run starts at its due time, not up to a second after.
pub fn on_message(message: &Message, now: DateTime<Utc>) -> MessageAction {
    let wait = message.due.instant() - now;
    if wait <= TimeDelta::zero() {
        MessageAction::Claim
    } else if wait <= MAX_EARLY_WAIT {
        MessageAction::WaitThenClaim(wait)
    } else {
        MessageAction::Redeliver(route(message.due, now))
    }
}

/// The condition under which a message may start a run: the worker is enabled, ready, in the
/// message's activation (task id) and due at the message's due time.
pub fn claim_condition(message: &Message) -> Condition {
    Condition::All(vec![
        Condition::Equals(attr::ENABLED, b(true)),
        Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
        Condition::Equals(attr::TASK_ID, s(&message.task_id)),
        Condition::Equals(attr::NEXT_DUE, s(message.due)),
    ])
}

/// The claim: one conditional write that moves `ready → running` for exactly this message,
/// holding `run_token` until `lease_until`.
pub fn claim(
    message: &Message,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    run_token: &str,
) -> Update {
    Update::new(&message.id, claim_condition(message))
        .set(attr::STATUS, s(Status::Running.as_str()))
        .set(attr::RUN_TOKEN, s(run_token))
        .set(attr::LEASE_UNTIL, s(format_stamp(lease_until)))
        .set(attr::LAST_RUN_START_TIME, s(format_stamp(now)))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
}

/// Why a message does not start a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The worker item no longer exists.
    Gone,
    /// The message belongs to another activation (the worker was disabled and re-enabled).
    StaleTask {
        /// The item's task id.
        current: Option<String>,
    },
    /// The worker is disabled.
    Disabled,
    /// The worker is not ready (running, stopped or invalid).
    NotReady {
        /// The item's status.
        status: Option<String>,
    },
    /// The worker is due at another time; that time has its own message.
    OtherDue {
        /// The item's due time.
        current: Option<String>,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        match self {
            SkipReason::Gone => f.write_str("worker gone"),
            SkipReason::StaleTask { current } => {
                write!(f, "stale task (current task {})", or_none(current))
            }
            SkipReason::Disabled => f.write_str("disabled"),
            SkipReason::NotReady { status } => write!(f, "not ready (status {})", or_none(status)),
            SkipReason::OtherDue { current } => {
                write!(f, "not this due time (due {})", or_none(current))
            }
        }
    }
}

/// Explains a refused claim from the item the failed write returned (`None`: no item).
/// Returns `None` when the claim condition holds on that item, so nothing explains a refusal.
pub fn refusal(message: &Message, stored: Option<&Image>) -> Option<SkipReason> {
    let Some(item) = stored else {
        return Some(SkipReason::Gone);
    };
    if item.task_id.as_deref() != Some(message.task_id.as_str()) {
        Some(SkipReason::StaleTask {
            current: item.task_id.clone(),
        })
    } else if !item.enabled {
        Some(SkipReason::Disabled)
    } else if item.status.as_deref() != Some(Status::Ready.as_str()) {
        Some(SkipReason::NotReady {
            status: item.status.clone(),
        })
    } else if item.next_due.as_deref() != Some(message.due.to_string().as_str()) {
        Some(SkipReason::OtherDue {
            current: item.next_due.clone(),
        })
    } else {
        None
    }
}

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

/// Settings for closing runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinishPolicy {
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// How long run records are kept.
    pub retention: TimeDelta,
}

/// How long run records are kept by default: 30 days.
pub const DEFAULT_RUN_RETENTION_DAYS: i64 = 30;

impl Default for FinishPolicy {
    fn default() -> Self {
        FinishPolicy {
            retry: retry::DEFAULT_RETRY_POLICY,
            retention: TimeDelta::days(DEFAULT_RUN_RETENTION_DAYS),
        }
    }
}

/// Closes a claimed run with its outcome. `jitter` in `[0, 1)` spreads retries.
pub fn finish(
    claimed: &Claimed,
    outcome: &Outcome,
    jitter: f64,
    planner: &dyn Planner,
    policy: &FinishPolicy,
) -> Finish {
    let condition = Condition::All(vec![
        Condition::Equals(attr::STATUS, s(Status::Running.as_str())),
        Condition::Equals(attr::RUN_TOKEN, s(&claimed.run_token)),
    ]);
    settle(claimed, outcome, condition, true, jitter, planner, policy)
}

/// Gives up a run whose lease expired (its executor died or timed out), as the worker's
/// `onLost` says: `retry` counts it as a failed attempt, `skip` moves on to the next due time.
/// `None` if the worker is not a running worker whose lease has expired at `now`.
pub fn rescue(
    worker: &Worker,
    now: DateTime<Utc>,
    jitter: f64,
    planner: &dyn Planner,
    policy: &FinishPolicy,
) -> Option<Finish> {
    let lease = worker.lease_until?;
    if lease >= now {
        return None;
    }
    let claimed = Claimed::from_worker(worker.clone())?;
    let retry = worker.on_lost() == OnLost::Retry;
    let what = format!(
        "lost: the run did not finish before its lease expired at {}",
        format_stamp(lease)
    );
    let outcome = Outcome {
        result: Err(JobError {
            message: if retry {
                what
            } else {
                format!("{what}; skipped (onLost = skip)")
            },
            retryable: retry,
        }),
        finished: now,
    };
    let condition = Condition::All(vec![
        Condition::Equals(attr::STATUS, s(Status::Running.as_str())),
        Condition::Equals(attr::RUN_TOKEN, s(&claimed.run_token)),
        Condition::Equals(attr::LEASE_UNTIL, s(format_stamp(lease))),
    ]);
    Some(settle(
        &claimed, &outcome, condition, retry, jitter, planner, policy,
    ))
}

fn settle(
    claimed: &Claimed,
    outcome: &Outcome,
    condition: Condition,
    may_retry: bool,
    jitter: f64,
    planner: &dyn Planner,
    policy: &FinishPolicy,
) -> Finish {
    let worker = &claimed.worker;
    let now = outcome.finished;
    let attempt = claimed.attempt();
    let (succeeded, message) = match &outcome.result {
        Ok(summary) => (true, bounded(summary)),
        Err(error) => (false, bounded(&error.message)),
    };
    let retryable = matches!(&outcome.result, Err(e) if e.retryable) && may_retry;
    let next = if retryable && attempt < worker.max_attempts() {
        let delay = policy.retry.delay_seconds(attempt, jitter);
        let due = Due::floor(now)
            .plus_seconds(delay)
            .filter(|d| *d > claimed.due);
        match due {
            Some(due) => NextState::Retry { due },
            None => NextState::Stopped,
        }
    } else {
        match planner.next_due(worker, Some(claimed.anchor()), Due::floor(now)) {
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
        .remove(attr::LEASE_UNTIL);
    update = match next {
        NextState::Retry { due } => update
            .set(attr::STATUS, s(Status::Ready.as_str()))
            .set(attr::NEXT_DUE, s(due))
            .set(attr::ATTEMPT, n(attempt))
            .set(attr::RETRY_OF, s(claimed.anchor())),
        NextState::Next { due } => update
            .set(attr::STATUS, s(Status::Ready.as_str()))
            .set(attr::NEXT_DUE, s(due))
            .set(attr::ATTEMPT, n(0))
            .remove(attr::RETRY_OF),
        NextState::Stopped => update
            .set(attr::STATUS, s(Status::Stopped.as_str()))
            .set(attr::ATTEMPT, n(0))
            .remove(attr::NEXT_DUE)
            .remove(attr::RETRY_OF),
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
        superseded: false,
        expires_at: (now + policy.retention).timestamp(),
    };
    Finish {
        update,
        record,
        next,
    }
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
    Update::new(id, condition)
        .set(attr::STATUS, s(Status::Invalid.as_str()))
        .set(
            attr::LAST_RUN_MESSAGE,
            s(bounded(&format!("invalid: {error}"))),
        )
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL)
}

/// `text`, cut to at most [`MAX_MESSAGE_BYTES`] bytes on a character boundary.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests;
