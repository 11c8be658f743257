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
//! * [`unless_paused`] and [`on_paused`] (executor): a claim made while queues or kinds are
//!   paused is refused for their workers, whose due runs are then held or skipped.
//! * [`finish`] (executor) and [`rescue`] (sweeper): close a claim with its outcome, and choose
//!   exactly one of retry, next due time, or stop.

mod alert;
mod dispatch;
mod execute;
mod finish;
mod limit;
mod outcome;
mod pause;
mod progress;
pub mod retry;
mod sweep;
pub mod update;

pub use self::dispatch::*;
pub use self::execute::*;
pub use self::finish::*;
pub use self::limit::*;
pub use self::pause::*;
pub use self::progress::*;
pub use self::sweep::*;

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use self::outcome::{JobError, MAX_RETRY_AFTER_SECONDS, Retry};
use self::retry::RetryPolicy;
pub use self::update::{Change, Condition, Update};
use self::update::{b, n, s};
use crate::item::{
    Image, ItemError, MAX_ITEM_BYTES, MAX_USER_BYTES, OnLost, RunRecord, SYSTEM_ROOM_BYTES, Status,
    Worker, attr,
};
use crate::timestamp::{Due, format_stamp};

/// The longest `lastRunMessage` kept, in bytes; longer messages are cut.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The longest delay SQS can give a message, in seconds.
pub const MAX_QUEUE_DELAY_SECONDS: i64 = 900;

/// A worker queue of the deployment, and how many executors may take batches from it at once
/// (the event source mapping's maximum concurrency; `nextdue dev` polls it the same way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// The name a worker's `queue` attribute gives (without the deployment's prefix).
    pub name: String,
    /// How many executor batches may run at once on this queue.
    pub max_concurrency: u32,
}

/// How many executor batches may run at once on a queue when the configuration does not say.
pub const DEFAULT_QUEUE_CONCURRENCY: u32 = 20;

impl QueueSpec {
    /// A queue with the default concurrency.
    pub fn named(name: impl Into<String>) -> Self {
        QueueSpec {
            name: name.into(),
            max_concurrency: DEFAULT_QUEUE_CONCURRENCY,
        }
    }
}

/// The lifecycle's tunables: retries, how long run records are kept, when the sweeper steps
/// in, and which worker queues the deployment has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// How long run records are kept.
    pub retention: TimeDelta,
    /// How long past its due time a ready worker may wait for its message before the sweeper
    /// sends it again.
    pub sweep_grace: TimeDelta,
    /// The worker queues of the deployment (`NEXTDUE_QUEUES`); a worker naming another is
    /// invalid.
    pub queues: Vec<QueueSpec>,
    /// How many partitions the sweeper's index spreads live workers over
    /// (`NEXTDUE_SWEEP_SHARDS`; raise it, never lower it: the sweeper reads at least the
    /// default number).
    pub sweep_shards: u32,
}

impl Policy {
    /// Checks that the worker's `queue` is one of the deployment's worker queues.
    pub fn check_queue(&self, worker: &Worker) -> Result<(), ItemError> {
        let queue = worker.queue();
        if self.queues.iter().any(|q| q.name == queue) {
            return Ok(());
        }
        let known = self
            .queues
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(ItemError::new(
            attr::QUEUE,
            format!("no queue {queue:?} in this deployment (its queues: {known})"),
        ))
    }
}

/// How long run records are kept by default: 30 days.
pub const DEFAULT_RUN_RETENTION_DAYS: i64 = 30;
/// How long past its due time a ready worker waits before the sweeper re-delivers it: 2 minutes
/// (Scheduler fires within the minute before the due time, so this leaves a minute to spare).
pub const DEFAULT_SWEEP_GRACE_SECONDS: i64 = 120;
/// How many partitions the sweeper's index spreads live workers over by default, so that many
/// workers do not make one hot partition (`NEXTDUE_SWEEP_SHARDS` sets more: each takes about
/// 1,000 index writes a second, and a run makes four).
pub const DEFAULT_SWEEP_SHARDS: u32 = 16;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry: retry::DEFAULT_RETRY_POLICY,
            retention: TimeDelta::days(DEFAULT_RUN_RETENTION_DAYS),
            sweep_grace: TimeDelta::seconds(DEFAULT_SWEEP_GRACE_SECONDS),
            queues: vec![QueueSpec::named(crate::item::DEFAULT_QUEUE)],
            sweep_shards: DEFAULT_SWEEP_SHARDS,
        }
    }
}

/// The sweeper-index partition of a worker among `shards`: a stable hash of its id (FNV-1a).
pub fn sweep_shard(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % shards.max(1)
}

/// Puts the worker in the sweeper's index, to be looked at from `at` on.
fn watch(update: Update, id: &str, at: Due, policy: &Policy) -> Update {
    update
        .set(attr::SWEEP_SHARD, n(sweep_shard(id, policy.sweep_shards)))
        .set(attr::SWEEP_AT, s(at))
}

/// Takes the worker out of the sweeper's index (it is stopped or invalid: nothing to rescue).
fn unwatch(update: Update) -> Update {
    update.remove(attr::SWEEP_SHARD).remove(attr::SWEEP_AT)
}

/// Places the worker in the sweeper's index at the earlier of `at` (its state's own time) and
/// `alert` (its dead-man's switch), or takes it out when neither applies.
fn look(update: Update, id: &str, at: Option<Due>, alert: Option<Due>, policy: &Policy) -> Update {
    match at.into_iter().chain(alert).min() {
        Some(at) => watch(update, id, at, policy),
        None => unwatch(update),
    }
}

/// When the sweeper should look at a worker that is ready and due at `due`.
fn overdue_at(due: Due, policy: &Policy) -> Due {
    due.plus_seconds(policy.sweep_grace.num_seconds())
        .unwrap_or(due)
}

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

impl Message {
    /// The message as a queue or a schedule carries it: its JSON.
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("a message always serializes")
    }
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

/// `text`, cut to at most [`MAX_MESSAGE_BYTES`] bytes on a character boundary.
pub fn bounded(text: &str) -> String {
    bounded_to(text, MAX_MESSAGE_BYTES)
}

/// `text`, cut to at most `limit` bytes on a character boundary (with `…` when cut).
pub fn bounded_to(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let Some(mut end) = limit.checked_sub('…'.len_utf8()) else {
        return String::new();
    };
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The most a finish adds to an item besides its message (outcome, counters, stamps, the next
/// due time and the sweeper's index), in bytes.
const FINISH_BYTES: usize = 512;

/// How long the message that closes a run on `worker` may be: [`MAX_MESSAGE_BYTES`], or less
/// when a user grew the item during the run, so that the finish still fits DynamoDB's limit.
fn message_room(worker: &Worker) -> usize {
    if worker.stored_bytes == 0 {
        return MAX_MESSAGE_BYTES;
    }
    let replaced = worker.last_run_message.as_ref().map_or(0, String::len);
    (MAX_ITEM_BYTES + replaced)
        .saturating_sub(worker.stored_bytes + FINISH_BYTES)
        .min(MAX_MESSAGE_BYTES)
}

/// Checks that the attributes a user wrote leave nextdue its room ([`SYSTEM_ROOM_BYTES`]), and
/// that nextdue's own attributes, if someone wrote them, fit in it.
fn check_size(image: &Image) -> Result<(), ItemError> {
    if image.system_bytes > SYSTEM_ROOM_BYTES {
        return Err(ItemError::new(
            "item",
            format!(
                "nextdue's own attributes (status, lastRunMessage, …) take {} bytes, more than \
                 the {SYSTEM_ROOM_BYTES} it keeps for them: someone wrote them; leave them to \
                 nextdue (remove them, or write only the worker's definition)",
                image.system_bytes
            ),
        ));
    }
    if image.user_bytes <= MAX_USER_BYTES {
        return Ok(());
    }
    Err(ItemError::new(
        "item",
        format!(
            "your attributes take {} bytes; DynamoDB allows {MAX_ITEM_BYTES} in all and nextdue \
             keeps {SYSTEM_ROOM_BYTES} for its own (a run's checkpoint among them), so at most {MAX_USER_BYTES} may be yours: \
             make params smaller",
            image.user_bytes
        ),
    ))
}

#[cfg(all(test, feature = "testing"))]
mod corpus;
#[cfg(test)]
mod tests;
