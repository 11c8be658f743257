//! The item: a worker as it is stored in the workers table, and one run as it is stored in the
//! runs table, with exactly the attribute names of the design (camelCase, like the seed).
//!
//! Items come from people typing in a console, so decoding never panics: every problem is an
//! [`ItemError`] naming the attribute, what was expected and what was found.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use serde_dynamo::{AttributeValue, Item};

pub mod json;
pub mod notify;

use self::notify::Notify;
use crate::schedule::{Period, Schedule};
use crate::timestamp::{Due, stamp, stamp_opt};

/// Attribute names, exactly as stored.
pub mod attr {
    /// Partition key of the workers table: the worker's name.
    pub const ID: &str = "id";
    /// Which job runs.
    pub const KIND: &str = "kind";
    /// The job's arguments.
    pub const PARAMS: &str = "params";
    /// Whether the worker should run.
    pub const ENABLED: &str = "enabled";
    /// The schedule expression.
    pub const SCHEDULE: &str = "schedule";
    /// The IANA zone for `cron()` and `at()`.
    pub const TIMEZONE: &str = "timezone";
    /// When the next attempt is due.
    pub const NEXT_DUE: &str = "nextDue";
    /// Whether the first activation runs at once.
    pub const EXECUTE_IMMEDIATELY: &str = "executeImmediately";
    /// Named queue.
    pub const QUEUE: &str = "queue";
    /// Attempts per due time.
    pub const MAX_ATTEMPTS: &str = "maxAttempts";
    /// Per-run time limit.
    pub const TIMEOUT_SECONDS: &str = "timeoutSeconds";
    /// What to do with a run whose executor vanished.
    pub const ON_LOST: &str = "onLost";
    /// A request for one extra run as soon as possible (`true`); removed when taken up.
    pub const RUN_NOW: &str = "runNow";
    /// During a requested extra run: the due time the worker returns to afterwards.
    pub const RESUME_DUE: &str = "resumeDue";
    /// While a run is under way: how far it has got, in its own words (at most 256 bytes).
    pub const PROGRESS: &str = "progress";
    /// While a run is under way: how far it has got, from 0 to 1, if it says.
    pub const PROGRESS_FRACTION: &str = "progressFraction";
    /// While a run is under way: when it last reported its progress.
    pub const PROGRESS_TIME: &str = "progressTime";
    /// What a run saved for a later attempt at the same due time to resume from (JSON text, at
    /// most 4 KB); removed when the due time is done.
    pub const CHECKPOINT: &str = "checkpoint";
    /// The due time (the occurrence) the checkpoint belongs to.
    pub const CHECKPOINT_DUE: &str = "checkpointDue";
    /// The dead-man's switch: how long after a due time the worker must have succeeded
    /// (`10 minutes`, `2 hours`) before it is reported overdue.
    pub const ALERT_AFTER: &str = "alertAfter";
    /// Which events about the worker are published: `true`, `false`, or a list of them.
    pub const NOTIFY: &str = "notify";
    /// The instant by which the worker must next succeed (with `alertAfter`).
    pub const ALERT_AT: &str = "alertAt";
    /// Since when the worker is overdue (its `alertAt` passed without a success); removed by
    /// its next success.
    pub const OVERDUE_SINCE: &str = "overdueSince";
    /// The pause holding a ready worker (`queue:default`, `kind:report`): its due run waits
    /// until the pause ends. Removed when it is released.
    pub const HELD_BY: &str = "heldBy";
    /// The start a rate limit reserved for a ready worker's due run, which was deferred to it
    /// (the run is not failed, and not an attempt). Removed by the claim.
    pub const DEFERRED_UNTIL: &str = "deferredUntil";
    /// `ready`, `running`, `stopped` or `invalid`.
    pub const STATUS: &str = "status";
    /// Fencing token, new on every enable.
    pub const TASK_ID: &str = "taskId";
    /// Whether the last run succeeded.
    pub const LAST_RUN_SUCCEEDED: &str = "lastRunSucceeded";
    /// A short, human account of the last run (or of why the item is invalid).
    pub const LAST_RUN_MESSAGE: &str = "lastRunMessage";
    /// When the last run started.
    pub const LAST_RUN_START_TIME: &str = "lastRunStartTime";
    /// When the last run finished.
    pub const LAST_RUN_FINISH_TIME: &str = "lastRunFinishTime";
    /// How many runs have finished.
    pub const RUN_COUNT: &str = "runCount";
    /// Failed attempts so far for the current due time.
    pub const ATTEMPT: &str = "attempt";
    /// When a running run is presumed lost.
    pub const LEASE_UNTIL: &str = "leaseUntil";
    /// The claim a running run holds; its finish must present it.
    pub const RUN_TOKEN: &str = "runToken";
    /// During retries: the scheduled due time being retried (the anchor for the next one).
    pub const RETRY_OF: &str = "retryOf";
    /// When the system first armed the worker.
    pub const CREATE_TIME: &str = "createTime";
    /// When the system last wrote the worker.
    pub const UPDATE_TIME: &str = "updateTime";
    /// The worker whose `spawn` job wrote this one.
    pub const PARENT_ID: &str = "parentId";
    /// The activation (task id) of the parent whose run wrote this one.
    pub const PARENT_TASK_ID: &str = "parentTaskId";
    /// How many `spawn` generations lie above this worker.
    pub const SPAWN_DEPTH: &str = "spawnDepth";
    /// The sweeper index's partition key: present only on live (ready or running) workers.
    pub const SWEEP_SHARD: &str = "sweepShard";
    /// The sweeper index's sort key: when the sweeper should look at the worker.
    pub const SWEEP_AT: &str = "sweepAt";

    /// Every attribute of a worker item nextdue reads or writes (a name close to one of these
    /// that is not one of them is a typo worth reporting).
    pub const ALL: &[&str] = &[
        ID,
        KIND,
        PARAMS,
        ENABLED,
        SCHEDULE,
        TIMEZONE,
        NEXT_DUE,
        EXECUTE_IMMEDIATELY,
        QUEUE,
        MAX_ATTEMPTS,
        TIMEOUT_SECONDS,
        ON_LOST,
        RUN_NOW,
        RESUME_DUE,
        ALERT_AFTER,
        NOTIFY,
        ALERT_AT,
        OVERDUE_SINCE,
        HELD_BY,
        DEFERRED_UNTIL,
        STATUS,
        TASK_ID,
        LAST_RUN_SUCCEEDED,
        LAST_RUN_MESSAGE,
        LAST_RUN_START_TIME,
        LAST_RUN_FINISH_TIME,
        RUN_COUNT,
        ATTEMPT,
        LEASE_UNTIL,
        RUN_TOKEN,
        RETRY_OF,
        CREATE_TIME,
        UPDATE_TIME,
        PARENT_ID,
        PARENT_TASK_ID,
        SPAWN_DEPTH,
        SWEEP_SHARD,
        SWEEP_AT,
    ];

    /// Attribute names of the runs table's keys and TTL.
    pub mod run {
        /// Partition key: the worker that ran.
        pub const WORKER_ID: &str = "workerId";
        /// Sort key: start stamp and task id.
        pub const RUN_ID: &str = "runId";
        /// The table's TTL attribute (epoch seconds).
        pub const EXPIRES_AT: &str = "expiresAt";
        /// Whether the run succeeded (absent while it runs).
        pub const SUCCEEDED: &str = "succeeded";
    }
}

/// Attempts per due time when `maxAttempts` is absent.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The largest `maxAttempts` accepted.
pub const MAX_MAX_ATTEMPTS: u32 = 100;
/// Per-run time limit when `timeoutSeconds` is absent.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 60;
/// The largest `timeoutSeconds` accepted: a Lambda invocation's limit.
pub const MAX_TIMEOUT_SECONDS: u32 = 900;
/// The last year a due time may fall in (EventBridge Scheduler's horizon).
pub const LATEST_YEAR: i32 = 2199;
/// The queue a worker uses when `queue` is absent.
pub const DEFAULT_QUEUE: &str = "default";
/// The longest queue name (SQS allows 80 characters, less the `nextdue-` prefix).
pub const MAX_QUEUE_NAME: usize = 72;

/// DynamoDB's limit on the size of an item, "400 KB", counted as 400,000 bytes: DynamoDB
/// itself allows a little more, the emulator a little more too (405,000), so nothing nextdue
/// lets through is refused by either.
pub const MAX_ITEM_BYTES: usize = 400_000;
/// The room nextdue keeps in every worker item for the attributes it writes itself (status,
/// task id, due times, the last run's outcome with its message of at most 1 KB, the claim, the
/// sweeper's index, a run's progress and its checkpoint of at most 4 KB), so that no write of
/// its own can fail for size.
pub const SYSTEM_ROOM_BYTES: usize = 9 * 1024;
/// The most a worker's own attributes (everything but nextdue's) may take.
pub const MAX_USER_BYTES: usize = MAX_ITEM_BYTES - SYSTEM_ROOM_BYTES;

/// The attributes nextdue writes (the second group of the item table).
pub const SYSTEM_ATTRIBUTES: &[&str] = &[
    attr::STATUS,
    attr::TASK_ID,
    attr::LAST_RUN_SUCCEEDED,
    attr::LAST_RUN_MESSAGE,
    attr::LAST_RUN_START_TIME,
    attr::LAST_RUN_FINISH_TIME,
    attr::RUN_COUNT,
    attr::ATTEMPT,
    attr::LEASE_UNTIL,
    attr::RUN_TOKEN,
    attr::RETRY_OF,
    attr::RESUME_DUE,
    attr::CREATE_TIME,
    attr::UPDATE_TIME,
    attr::SWEEP_SHARD,
    attr::SWEEP_AT,
    attr::PROGRESS,
    attr::PROGRESS_FRACTION,
    attr::PROGRESS_TIME,
    attr::CHECKPOINT,
    attr::CHECKPOINT_DUE,
    attr::ALERT_AT,
    attr::OVERDUE_SINCE,
    attr::HELD_BY,
    attr::DEFERRED_UNTIL,
];

/// nextdue's bookkeeping of where a worker stands (its status, activation, claim, retry and
/// place in the sweeper's index): an item written without them is a definition, which the
/// dispatcher arms afresh when it is enabled. `nextdue put` leaves them out of what it writes.
pub const STATE_ATTRIBUTES: &[&str] = &[
    attr::STATUS,
    attr::TASK_ID,
    attr::ATTEMPT,
    attr::LEASE_UNTIL,
    attr::RUN_TOKEN,
    attr::RETRY_OF,
    attr::RESUME_DUE,
    attr::SWEEP_SHARD,
    attr::SWEEP_AT,
    attr::PROGRESS,
    attr::PROGRESS_FRACTION,
    attr::PROGRESS_TIME,
    attr::CHECKPOINT,
    attr::CHECKPOINT_DUE,
    attr::ALERT_AT,
    attr::HELD_BY,
    attr::DEFERRED_UNTIL,
];

/// The size DynamoDB counts for `item`, by its published rules (names and values in UTF-8
/// bytes; numbers counted at their largest, 21 bytes; 3 bytes per list or map and 1 per
/// element), so never less than what DynamoDB or the emulator counts.
///
/// ```
/// use nextdue::item::{AttributeValue, Item, item_size};
/// let mut item = Item::default();
/// item.insert("id".into(), AttributeValue::S("abc".into()));
/// item.insert("n".into(), AttributeValue::N("1".into()));
/// assert_eq!(item_size(&item), 2 + 3 + 1 + 21);
/// ```
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    const NUMBER: usize = 21;
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(_) => NUMBER,
        AttributeValue::B(b) => b.len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.len() * NUMBER,
        AttributeValue::Bs(set) => set.iter().map(Vec::len).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// The length of a due time in its canonical form (`2027-01-01T09:00:00Z`).
const DUE_LENGTH: usize = 20;

/// The size of the attributes a user wrote: `item` without nextdue's own, with `nextDue`
/// counted as nextdue writes it whether or not the user did (arming adds it, or rewrites it
/// in the canonical form), so an item that passes this check still passes once armed.
pub fn user_size(item: &Item) -> usize {
    let next_due = match item.get(attr::NEXT_DUE) {
        Some(value) => value_size(value).max(DUE_LENGTH),
        None => DUE_LENGTH,
    };
    let others: usize = item
        .iter()
        .filter(|(name, _)| {
            !SYSTEM_ATTRIBUTES.contains(&name.as_str()) && name.as_str() != attr::NEXT_DUE
        })
        .map(|(name, value)| name.len() + value_size(value))
        .sum();
    others + attr::NEXT_DUE.len() + next_due
}

/// The size of nextdue's own attributes in `item` (those in [`SYSTEM_ATTRIBUTES`]).
pub fn system_size(item: &Item) -> usize {
    item.iter()
        .filter(|(name, _)| SYSTEM_ATTRIBUTES.contains(&name.as_str()))
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// Refuses a top-level attribute whose name is nearly one of nextdue's (`nxtDue`, `scheduel`,
/// `NextDue`): left alone, the intended attribute would silently not apply. Other names of a
/// user's own are kept as they are.
fn check_spelling(item: &Item) -> Result<(), ItemError> {
    for name in item.keys() {
        if name.len() < 4 || attr::ALL.contains(&name.as_str()) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let meant = attr::ALL.iter().find(|known| {
            let allowed = match known.len() {
                10.. => 2,
                5.. => 1,
                _ => 0,
            };
            strsim::osa_distance(&lower, &known.to_ascii_lowercase()) <= allowed
        });
        if let Some(meant) = meant {
            return Err(ItemError::new(
                name.as_str(),
                format!("is not an attribute nextdue knows; did you mean {meant}?"),
            ));
        }
    }
    Ok(())
}

/// Whether `name` can name a worker queue: 1 to [`MAX_QUEUE_NAME`] letters, digits, `-` or `_`.
pub fn is_queue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_QUEUE_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where a worker stands in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Armed and waiting for its due time.
    Ready,
    /// A run holds the claim.
    Running,
    /// Finished (no further due time) or disabled.
    Stopped,
    /// Something on the item is wrong; `lastRunMessage` says what.
    Invalid,
}

impl std::str::FromStr for Status {
    type Err = ();

    /// The status a stored text names (exactly as nextdue writes it).
    fn from_str(text: &str) -> Result<Self, ()> {
        [
            Status::Ready,
            Status::Running,
            Status::Stopped,
            Status::Invalid,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or(())
    }
}

impl Status {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ready => "ready",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Invalid => "invalid",
        }
    }
}

/// What happens to a run whose executor vanished before it finished (its lease expired).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLost {
    /// Count it as a failed attempt and retry it (the default).
    #[default]
    Retry,
    /// Give it up and move on to the next due time.
    Skip,
}

/// A job's arguments: the item's `params` map.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// A worker item: its definition (written by users) and its state (written by nextdue).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// The worker's name (partition key).
    pub id: String,
    /// Which registered job runs.
    pub kind: String,
    /// The job's arguments.
    #[serde(default)]
    pub params: Params,
    /// `params` exactly as stored (numbers as their decimal text, sets as sets), filled by
    /// [`Worker::from_item`]; see [`Worker::params_as_stored`].
    #[serde(skip)]
    pub stored_params: Option<Item>,
    /// The size of the whole item as stored ([`item_size`]), filled by [`Worker::from_item`];
    /// 0 for a worker built in code.
    #[serde(skip)]
    pub stored_bytes: usize,
    /// Newly true: (re)start with a fresh task id; false: stop at the next check.
    #[serde(default)]
    pub enabled: bool,
    /// When to run again; absent: run once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The IANA zone for `cron()` and `at()`; absent: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "zone")]
    pub timezone: Option<Tz>,
    /// When the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due: Option<Due>,
    /// Whether the first activation runs at once (default: yes, except for `cron()` and `at()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute_immediately: Option<bool>,
    /// Named queue; absent: `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Attempts per due time; absent: [`DEFAULT_MAX_ATTEMPTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Per-run time limit; absent: [`DEFAULT_TIMEOUT_SECONDS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// What to do with a lost run; absent: retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_lost: Option<OnLost>,
    /// `true`: run once as soon as possible, then return to the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_now: Option<bool>,
    /// The dead-man's switch: how long after a due time it must have succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_after: Option<Period>,
    /// Which events about it are published; absent: the deployment's (`NEXTDUE_EVENTS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// Where the worker stands; absent until nextdue first arms it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The fencing token of the current activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Whether the last run succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_succeeded: Option<bool>,
    /// A short, human account of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_message: Option<String>,
    /// When the last run started.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub last_run_start_time: Option<DateTime<Utc>>,
    /// When the last run finished.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub last_run_finish_time: Option<DateTime<Utc>>,
    /// How many runs have finished.
    #[serde(default)]
    pub run_count: u64,
    /// Failed attempts so far for the current due time.
    #[serde(default)]
    pub attempt: u32,
    /// When a running run is presumed lost.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub lease_until: Option<DateTime<Utc>>,
    /// The claim a running run holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_token: Option<String>,
    /// During retries: the scheduled due time being retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<Due>,
    /// During a requested extra run: the due time the worker returns to afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_due: Option<Due>,
    /// What a run saved for a later attempt at the same due time (JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The due time (the occurrence) the checkpoint belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_due: Option<Due>,
    /// While a run is under way: how far it said it had got (its last written report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// While a run is under way: its last written fraction, from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_fraction: Option<Fraction>,
    /// When nextdue first armed the worker.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub create_time: Option<DateTime<Utc>>,
    /// When nextdue last wrote the worker.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub update_time: Option<DateTime<Utc>>,
    /// The worker whose `spawn` job wrote this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The parent's activation (`taskId`) that wrote this worker: a parent re-enabled since
    /// (or deleted and written again) has another, and its old children stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_id: Option<String>,
    /// How many `spawn` generations lie above this worker.
    #[serde(default)]
    pub spawn_depth: u32,
    /// With `alertAfter`: the instant by which it must next succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_at: Option<Due>,
    /// Since when it is overdue (its `alertAt` passed without a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_since: Option<Due>,
    /// The pause holding it (a ready worker whose due run waits): `queue:default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The start a rate limit deferred its due run to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_until: Option<Due>,
    /// The sweeper index's partition (live workers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_shard: Option<u32>,
    /// When the sweeper should look at the worker (live workers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_at: Option<Due>,
}

impl Worker {
    /// A new, disabled worker of `kind` with no parameters: a starting point for code and tests.
    pub fn new(id: impl Into<String>, kind: impl Into<String>) -> Self {
        Worker {
            id: id.into(),
            kind: kind.into(),
            params: Params::new(),
            stored_params: None,
            stored_bytes: 0,
            enabled: false,
            schedule: None,
            timezone: None,
            next_due: None,
            execute_immediately: None,
            queue: None,
            max_attempts: None,
            timeout_seconds: None,
            on_lost: None,
            run_now: None,
            status: None,
            task_id: None,
            last_run_succeeded: None,
            last_run_message: None,
            last_run_start_time: None,
            last_run_finish_time: None,
            run_count: 0,
            attempt: 0,
            lease_until: None,
            run_token: None,
            retry_of: None,
            checkpoint: None,
            checkpoint_due: None,
            progress: None,
            progress_fraction: None,
            resume_due: None,
            create_time: None,
            update_time: None,
            parent_id: None,
            parent_task_id: None,
            held_by: None,
            deferred_until: None,
            spawn_depth: 0,
            sweep_shard: None,
            sweep_at: None,
            alert_after: None,
            notify: None,
            alert_at: None,
            overdue_since: None,
        }
    }

    /// Reads a worker from a DynamoDB item, checking every attribute's type and range.
    pub fn from_item(item: &Item) -> Result<Worker, ItemError> {
        let value = AttributeValue::M(item.inner().clone());
        let deserializer = serde_dynamo::Deserializer::from_attribute_value(value);
        let mut worker: Worker = serde_path_to_error::deserialize(deserializer)
            .map_err(|error| ItemError::from_serde(&error, item))?;
        worker.check_ranges()?;
        check_spelling(item)?;
        if let Some(AttributeValue::M(params)) = item.get(attr::PARAMS) {
            worker.stored_params = Some(Item::from(params.clone()));
        }
        worker.stored_bytes = item_size(item);
        Ok(worker)
    }

    /// The worker as a DynamoDB item.
    pub fn to_item(&self) -> Item {
        serde_dynamo::to_item(self).expect("a worker always serializes to a map")
    }

    fn check_ranges(&self) -> Result<(), ItemError> {
        if self.id.is_empty() {
            return Err(ItemError::new(attr::ID, "must not be empty"));
        }
        if self.kind.is_empty() {
            return Err(ItemError::new(attr::KIND, "must not be empty"));
        }
        if let Some(due) = self
            .next_due
            .filter(|due| due.instant().year() > LATEST_YEAR)
        {
            return Err(ItemError::new(
                attr::NEXT_DUE,
                format!(
                    "{due} is after {LATEST_YEAR}, the last year EventBridge Scheduler can name; \
                     set an earlier time, or remove nextDue to follow the schedule"
                ),
            ));
        }
        if let Some(n) = self
            .max_attempts
            .filter(|n| !(1..=MAX_MAX_ATTEMPTS).contains(n))
        {
            return Err(ItemError::new(
                attr::MAX_ATTEMPTS,
                format!("expected 1 to {MAX_MAX_ATTEMPTS}, got {n}"),
            ));
        }
        if let Some(n) = self
            .timeout_seconds
            .filter(|n| !(1..=MAX_TIMEOUT_SECONDS).contains(n))
        {
            return Err(ItemError::new(
                attr::TIMEOUT_SECONDS,
                format!("expected 1 to {MAX_TIMEOUT_SECONDS} seconds, got {n}"),
            ));
        }
        if let Some(queue) = self.queue.as_ref().filter(|q| !is_queue_name(q)) {
            return Err(ItemError::new(
                attr::QUEUE,
                format!("expected 1 to {MAX_QUEUE_NAME} letters, digits, - or _, got {queue:?}"),
            ));
        }
        Ok(())
    }

    /// `params` exactly as stored, for jobs that need its values without loss (JSON numbers
    /// are rounded past 17 digits, `0.10` reads as `0.1`, and sets as lists); for a worker built
    /// in code rather than read from an item, `params` converted.
    pub fn params_as_stored(&self) -> Item {
        self.stored_params.clone().unwrap_or_else(|| {
            serde_dynamo::to_item(&self.params).expect("a JSON map always converts")
        })
    }

    /// The zone for `cron()` and `at()`: `timezone`, or UTC.
    pub fn tz(&self) -> Tz {
        self.timezone.unwrap_or(Tz::UTC)
    }

    /// Attempts per due time.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }

    /// Per-run time limit, in seconds.
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS)
    }

    /// The queue name (without the deployment's prefix).
    pub fn queue(&self) -> &str {
        self.queue.as_deref().unwrap_or(DEFAULT_QUEUE)
    }

    /// What to do with a lost run.
    pub fn on_lost(&self) -> OnLost {
        self.on_lost.unwrap_or_default()
    }

    /// Whether the first activation runs at once: `executeImmediately`, else yes unless the
    /// schedule is a `cron()` or `at()`, whose first run is the schedule's own first time.
    pub fn runs_immediately(&self) -> bool {
        self.execute_immediately.unwrap_or_else(|| {
            self.schedule
                .as_ref()
                .is_none_or(Schedule::runs_immediately_by_default)
        })
    }
}

/// A fraction from 0 to 1, in ten-thousandths (so it compares exactly), stored as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fraction(u16);

impl Fraction {
    /// `value` (0 to 1) to four decimal places; `None` if it is outside 0 to 1, or not a number.
    pub fn new(value: f64) -> Option<Fraction> {
        (0.0..=1.0)
            .contains(&value)
            .then(|| Fraction((value * 10_000.0).round() as u16))
    }

    /// The fraction as a number from 0 to 1.
    pub fn value(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }
}

impl std::fmt::Display for Fraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl Serialize for Fraction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.value())
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Fraction::new(value).ok_or_else(|| serde::de::Error::custom("a fraction from 0 to 1"))
    }
}

/// One run of a worker, as stored in the runs table: the history the seed kept by spawning a
/// worker per job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// The worker that ran (partition key).
    pub worker_id: String,
    /// Start stamp and task id: unique, and sorted by start time (sort key).
    pub run_id: String,
    /// The activation the run belonged to.
    pub task_id: String,
    /// The due time the run was for.
    pub due: Due,
    /// 1 for the first attempt at this due time, 2 for the first retry, …
    pub attempt: u32,
    /// When the run started.
    #[serde(with = "stamp")]
    pub start_time: DateTime<Utc>,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "stamp_opt")]
    pub finish_time: Option<DateTime<Utc>>,
    /// Whether the run succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
    /// A short, human account of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the job took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// For a failed run: whether its failure allowed another attempt (a timeout, throttling),
    /// as the job said. The sweeper reads it to close a run whose executor died after writing
    /// this record but before closing the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// True when the run finished after it had been given up (its lease expired and the worker
    /// moved on): its outcome changed nothing on the worker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub superseded: bool,
    /// True when the due time was skipped, not run: its worker's queue or kind was paused with
    /// `skip` (the message says which pause).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// How far the run had got when it last said (its last progress report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The last progress report's fraction, from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_fraction: Option<Fraction>,
    /// When the runs table may forget this record (epoch seconds; the table's TTL attribute).
    pub expires_at: i64,
}

impl RunRecord {
    /// The run as a DynamoDB item.
    pub fn to_item(&self) -> Item {
        serde_dynamo::to_item(self).expect("a run record always serializes to a map")
    }

    /// Reads a run record from a DynamoDB item.
    pub fn from_item(item: &Item) -> Result<RunRecord, ItemError> {
        let value = AttributeValue::M(item.inner().clone());
        let deserializer = serde_dynamo::Deserializer::from_attribute_value(value);
        serde_path_to_error::deserialize(deserializer)
            .map_err(|error| ItemError::from_serde(&error, item))
    }
}

/// A string attribute as stored, even on an item that does not decode: its exact text (a
/// conditional write must name it as it is), read as a `T` when asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored<T> {
    /// The text as stored.
    pub text: String,
    meaning: std::marker::PhantomData<T>,
}

impl<T: std::str::FromStr> Stored<T> {
    /// The attribute stored as `text`.
    pub fn new(text: String) -> Self {
        Stored {
            text,
            meaning: std::marker::PhantomData,
        }
    }

    /// What the text means, if it is a well-formed `T`.
    pub fn value(&self) -> Option<T> {
        self.text.parse().ok()
    }
}

/// A worker item as a stream record or a failed condition shows it: decoded when possible,
/// with the raw facts that decide what to do even when it is not.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// The worker's id (empty if the item has none, which DynamoDB's key schema prevents).
    pub id: String,
    /// Whether `enabled` is the boolean true.
    pub enabled: bool,
    /// Whether `enabled` is the boolean false (not merely absent or malformed).
    pub enabled_false: bool,
    /// `runToken` as stored, if it is a string: the claim a run holds.
    pub run_token: Option<String>,
    /// Whether `runNow` is the boolean true (a request for one extra run).
    pub run_now: bool,
    /// The size of the attributes the user wrote ([`user_size`]).
    pub user_bytes: usize,
    /// The size of nextdue's own attributes ([`system_size`]).
    pub system_bytes: usize,
    /// `status` as stored, if it is a string.
    pub status: Option<Stored<Status>>,
    /// `taskId` as stored, if it is a string.
    pub task_id: Option<String>,
    /// `nextDue` as stored, if it is a string.
    pub next_due: Option<Stored<Due>>,
    /// `lastRunMessage` as stored, if it is a string.
    pub last_run_message: Option<String>,
    /// `alertAt` as stored, if it is a due time and the worker is not overdue already: when
    /// its dead-man's switch goes off.
    pub pending_alert: Option<Due>,
    /// `overdueSince` as stored, if it is a string.
    pub overdue_since: Option<String>,
    /// The decoded worker, or what is wrong with the item.
    pub worker: Result<Worker, ItemError>,
}

impl Image {
    /// The stored status, if it is one nextdue writes.
    pub fn status(&self) -> Option<Status> {
        self.status.as_ref().and_then(Stored::value)
    }

    /// Reads an item; never fails (a bad item yields an `Err` worker).
    pub fn decode(item: &Item) -> Image {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        Image {
            id: text(attr::ID).unwrap_or_default(),
            enabled: item.get(attr::ENABLED) == Some(&AttributeValue::Bool(true)),
            enabled_false: item.get(attr::ENABLED) == Some(&AttributeValue::Bool(false)),
            run_token: text(attr::RUN_TOKEN),
            run_now: item.get(attr::RUN_NOW) == Some(&AttributeValue::Bool(true)),
            user_bytes: user_size(item),
            system_bytes: system_size(item),
            status: text(attr::STATUS).map(Stored::new),
            task_id: text(attr::TASK_ID),
            next_due: text(attr::NEXT_DUE).map(Stored::new),
            last_run_message: text(attr::LAST_RUN_MESSAGE),
            pending_alert: text(attr::ALERT_AT)
                .filter(|_| !item.contains_key(attr::OVERDUE_SINCE))
                .and_then(|at| at.parse().ok()),
            overdue_since: text(attr::OVERDUE_SINCE),
            worker: Worker::from_item(item),
        }
    }
}

/// What is wrong with an item, and where: `nextDue: expected …, got "yesterday"`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {problem}")]
pub struct ItemError {
    /// The attribute, with a path into maps and lists (`params.to[1]`).
    pub attribute: String,
    /// What was expected and what was found.
    pub problem: String,
}

impl ItemError {
    /// An error about `attribute`.
    pub fn new(attribute: impl Into<String>, problem: impl Into<String>) -> Self {
        ItemError {
            attribute: attribute.into(),
            problem: problem.into(),
        }
    }

    /// Turns a serde error into a message for people, naming what was found in `item`.
    fn from_serde(error: &serde_path_to_error::Error<serde_dynamo::Error>, item: &Item) -> Self {
        let message = error.inner().to_string();
        let path = error.path().to_string();
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            let attribute = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            return ItemError::new(attribute, "is required");
        }
        // Inside `params` say only the type: its values may be secrets.
        let found = lookup(item, &path)
            .map(|value| match path.starts_with(attr::PARAMS) {
                true => describe_type(value),
                false => describe(value),
            })
            .unwrap_or_default();
        let expected = match message.as_str() {
            "Expected string" => Some("a string (S)"),
            "Expected bool" => Some("a boolean (BOOL)"),
            "Expected map" => Some("a map (M)"),
            "Expected seq" => Some("a list (L)"),
            "Expected num" => Some("a number (N)"),
            "Expected enum" => Some("a string (S)"),
            // A number that is not a whole number in range: say the range that is valid.
            _ if message.starts_with("Failed to parse") => Some(match path.as_str() {
                attr::MAX_ATTEMPTS => "a whole number from 1 to 100",
                attr::TIMEOUT_SECONDS => "a whole number from 1 to 900",
                _ => "a whole number of at least 0",
            }),
            _ => None,
        };
        let problem = match expected {
            Some(expected) => format!("expected {expected}, got {found}"),
            None => message,
        };
        ItemError::new(path, problem)
    }
}

/// The value at a dotted path such as `params.to` (list indexes are not followed).
fn lookup<'a>(item: &'a Item, path: &str) -> Option<&'a AttributeValue> {
    let mut parts = path.split('.');
    let mut value = item.get(parts.next()?)?;
    for part in parts {
        let AttributeValue::M(map) = value else {
            return None;
        };
        value = map.get(part.split('[').next()?)?;
    }
    Some(value)
}

/// A value's DynamoDB type, for messages about values that must not be shown.
fn describe_type(value: &AttributeValue) -> String {
    let described = describe(value);
    match described.find(" \"") {
        Some(at) => described[..at].to_owned(),
        None => described,
    }
}

/// A short description of a value for error messages: its DynamoDB type and a glimpse of it.
pub fn describe(value: &AttributeValue) -> String {
    const GLIMPSE: usize = 40;
    let glimpse = |text: &str| {
        if text.chars().count() > GLIMPSE {
            format!("{:?}…", text.chars().take(GLIMPSE).collect::<String>())
        } else {
            format!("{text:?}")
        }
    };
    match value {
        AttributeValue::S(s) => format!("a string (S) {}", glimpse(s)),
        AttributeValue::N(n) => format!("a number (N) {}", glimpse(n)),
        AttributeValue::Bool(b) => format!("a boolean (BOOL) {b}"),
        AttributeValue::Null(_) => "null (NULL)".into(),
        AttributeValue::M(_) => "a map (M)".into(),
        AttributeValue::L(_) => "a list (L)".into(),
        AttributeValue::B(_) => "binary (B)".into(),
        AttributeValue::Ss(_) => "a string set (SS)".into(),
        AttributeValue::Ns(_) => "a number set (NS)".into(),
        AttributeValue::Bs(_) => "a binary set (BS)".into(),
    }
}

/// Serde glue for the `timezone` attribute: an IANA zone name.
mod zone {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Tz>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(tz) => serializer.serialize_some(tz.name()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Tz>, D::Error> {
        let Some(name) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        name.parse::<Tz>().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "expected an IANA time zone such as Europe/London or America/New_York, got {name:?}"
            ))
        })
    }
}

#[cfg(test)]
mod tests;
