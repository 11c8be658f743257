//! The seams in memory: a store that applies the lifecycle's [`Update`]s with their conditions
//! (the very values DynamoDB is sent), queues that hold messages until their time, and a mailer
//! that keeps what it sends.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::conformance::Inbox;
use crate::config::Names;
use crate::controls::{Controls, Limit, reserve};
use crate::events::Event;
use crate::item::{AttributeValue, Item, MAX_ITEM_BYTES, RunRecord, attr, item_size};
use crate::job::{Created, JobError, Mail, Mailer, WorkerWriter};
use crate::jobs::email::check_sender;
use crate::lifecycle::{Message, Route, Update};
use crate::seams::{Applied, Page, RunWrite, StoreError, WorkerStore};
use crate::seams::{Clock, ControlStore, Counter, Publish, PublishError, next_version};
use crate::seams::{Deliver, DeliveryError, QueueRef, Sent, schedule_name};
use crate::timestamp::Due;

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has failed already; its state is still
    // worth reading.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One committed change of a worker item, as its stream would carry it.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamChange {
    /// The item before (`None`: it was created).
    pub old: Option<Item>,
    /// The item after (`None`: it was deleted).
    pub new: Option<Item>,
}

#[derive(Default)]
struct Tables {
    workers: BTreeMap<String, Item>,
    runs: BTreeMap<(String, String), RunRecord>,
    changes: Vec<StreamChange>,
    reports: Vec<ReportWrite>,
}

/// A progress write a run made on its worker (the test kit keeps each one, in order).
#[derive(Clone, Debug, PartialEq)]
pub struct ReportWrite {
    /// The worker.
    pub worker_id: String,
    /// The write as it was asked for (its condition, and the attributes it sets).
    pub update: Update,
    /// Whether it was written (`false`: refused, its run no longer holding the claim).
    pub written: bool,
}

/// The workers and runs tables in memory. Every write to a worker is also kept as a
/// [`StreamChange`], as the table's stream would.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn write(tables: &mut Tables, id: &str, new: Option<Item>) {
        let old = match &new {
            Some(item) => tables.workers.insert(id.to_owned(), item.clone()),
            None => tables.workers.remove(id),
        };
        tables.changes.push(StreamChange { old, new });
    }

    fn refuse_oversized(item: &Item, operation: &'static str) -> Result<(), StoreError> {
        let size = item_size(item);
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::Refused {
                operation,
                table: "workers".into(),
                message: format!(
                    "ValidationException: Item size has exceeded the maximum allowed size \
                     ({size} bytes)"
                ),
            });
        }
        Ok(())
    }

    /// Writes a whole worker item, as a console or the SDK would (no condition).
    pub fn put_worker(&self, item: Item) -> Result<(), StoreError> {
        Self::refuse_oversized(&item, "PutItem")?;
        let id = text(&item, attr::ID)
            .ok_or_else(|| StoreError::Refused {
                operation: "PutItem",
                table: "workers".into(),
                message: "ValidationException: the item has no string id".into(),
            })?
            .to_owned();
        Self::write(&mut lock(&self.tables), &id, Some(item));
        Ok(())
    }

    /// Deletes a worker item.
    pub fn delete_worker(&self, id: &str) {
        let mut tables = lock(&self.tables);
        if tables.workers.contains_key(id) {
            Self::write(&mut tables, id, None);
        }
    }

    /// The worker item `id`, as stored.
    pub fn worker(&self, id: &str) -> Option<Item> {
        lock(&self.tables).workers.get(id).cloned()
    }

    /// The ids of every worker item.
    pub fn worker_ids(&self) -> Vec<String> {
        lock(&self.tables).workers.keys().cloned().collect()
    }

    /// The progress writes runs of worker `worker_id` made, in order (refused ones included).
    pub fn reports_of(&self, worker_id: &str) -> Vec<ReportWrite> {
        lock(&self.tables)
            .reports
            .iter()
            .filter(|write| write.worker_id == worker_id)
            .cloned()
            .collect()
    }

    /// A worker's run records, oldest first (the runs table's sort order).
    pub fn runs_of(&self, worker_id: &str) -> Vec<RunRecord> {
        lock(&self.tables)
            .runs
            .range((worker_id.to_owned(), String::new())..)
            .take_while(|((worker, _), _)| worker == worker_id)
            .map(|(_, record)| record.clone())
            .collect()
    }

    /// The earliest `sweepAt` in the sweep index, if any worker is in it.
    pub fn earliest_sweep_at(&self) -> Option<DateTime<Utc>> {
        lock(&self.tables)
            .workers
            .values()
            .filter(|item| item.contains_key(attr::SWEEP_SHARD))
            .filter_map(|item| text(item, attr::SWEEP_AT))
            .filter_map(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc))
            .min()
    }

    /// The changes committed since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<StreamChange> {
        std::mem::take(&mut lock(&self.tables).changes)
    }
}

/// The control table in memory.
#[derive(Default)]
pub struct MemoryControl {
    counters: Mutex<BTreeMap<String, Counter>>,
    controls: Mutex<(Controls, u64)>,
}

impl MemoryControl {
    /// An empty control table.
    pub fn new() -> Self {
        MemoryControl::default()
    }

    /// Every counter's value, by key.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let counters = lock(&self.counters);
        counters.iter().map(|(k, c)| (k.clone(), c.value)).collect()
    }
}

#[async_trait]
impl ControlStore for MemoryControl {
    async fn counter(&self, key: &str) -> Result<Option<Counter>, StoreError> {
        Ok(lock(&self.counters).get(key).copied())
    }

    async fn set_counter(
        &self,
        key: &str,
        from: Option<Counter>,
        to: u64,
    ) -> Result<bool, StoreError> {
        let mut counters = lock(&self.counters);
        if counters.get(key).map(|c| c.version) != from.map(|c| c.version) {
            return Ok(false);
        }
        let version = next_version(from);
        counters.insert(key.to_owned(), Counter { value: to, version });
        Ok(true)
    }

    async fn take_start(
        &self,
        key: &str,
        limit: &Limit,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let mut counters = lock(&self.counters);
        let read = counters.get(key).copied();
        let (start, next) = reserve(read.map(|c| c.value), now, limit);
        let version = next_version(read);
        counters.insert(
            key.to_owned(),
            Counter {
                value: next,
                version,
            },
        );
        Ok(start)
    }

    async fn controls(&self) -> Result<(Controls, u64), StoreError> {
        Ok(lock(&self.controls).clone())
    }

    async fn set_controls(&self, controls: &Controls, version: u64) -> Result<bool, StoreError> {
        let mut stored = lock(&self.controls);
        if stored.1 != version {
            return Ok(false);
        }
        *stored = (controls.clone(), version + 1);
        Ok(true)
    }
}

#[async_trait]
impl WorkerStore for MemoryStore {
    async fn apply(&self, update: &Update) -> Result<Applied, StoreError> {
        let mut tables = lock(&self.tables);
        let stored = tables.workers.get(&update.id).cloned();
        let applied = match update.apply(stored.as_ref()) {
            None => Applied::Refused(stored),
            Some(next) => {
                Self::refuse_oversized(&next, "UpdateItem")?;
                Self::write(&mut tables, &update.id, Some(next.clone()));
                Applied::Written(next)
            }
        };
        if update.value(attr::PROGRESS_TIME).is_some() && update.value(attr::STATUS).is_none() {
            tables.reports.push(ReportWrite {
                worker_id: update.id.clone(),
                update: update.clone(),
                written: matches!(applied, Applied::Written(_)),
            });
        }
        Ok(applied)
    }

    async fn put_run(&self, record: &RunRecord) -> Result<(), StoreError> {
        let key = (record.worker_id.clone(), record.run_id.clone());
        lock(&self.tables).runs.insert(key, record.clone());
        Ok(())
    }

    async fn put_run_if_absent(&self, record: &RunRecord) -> Result<RunWrite, StoreError> {
        let key = (record.worker_id.clone(), record.run_id.clone());
        let mut tables = lock(&self.tables);
        if let Some(existing) = tables.runs.get(&key) {
            return Ok(RunWrite::Exists(existing.clone()));
        }
        tables.runs.insert(key, record.clone());
        Ok(RunWrite::Written)
    }

    async fn get_worker(&self, id: &str) -> Result<Option<Item>, StoreError> {
        Ok(self.worker(id))
    }

    async fn overdue(
        &self,
        shard: u32,
        now: Due,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, StoreError> {
        let shard = AttributeValue::N(shard.to_string());
        let now = now.to_string();
        let after = start.as_ref().map(|key| {
            (
                text(key, attr::SWEEP_AT).unwrap_or_default().to_owned(),
                text(key, attr::ID).unwrap_or_default().to_owned(),
            )
        });
        let tables = lock(&self.tables);
        // The sparse index: only items with both keys, in `sweepAt` order.
        let mut entries: Vec<(String, String, &Item)> = tables
            .workers
            .iter()
            .filter(|(_, item)| item.get(attr::SWEEP_SHARD) == Some(&shard))
            .filter_map(|(id, item)| {
                let at = text(item, attr::SWEEP_AT)?;
                (at < now.as_str()).then(|| (at.to_owned(), id.clone(), item))
            })
            .filter(|(at, id, _)| after.as_ref().is_none_or(|a| (at, id) > (&a.0, &a.1)))
            .collect();
        entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = entries.len() > limit;
        let page: Vec<Item> = entries
            .into_iter()
            .take(limit)
            .map(|(_, _, item)| item.clone())
            .collect();
        let next = more.then(|| page.last().cloned()).flatten();
        Ok((page, next))
    }
}

#[async_trait]
impl WorkerWriter for MemoryStore {
    async fn create(&self, item: &Item) -> Result<Created, JobError> {
        let id = text(item, attr::ID)
            .ok_or_else(|| JobError::permanent("the new worker has no string id"))?
            .to_owned();
        if let Some(existing) = self.worker(&id) {
            return Ok(Created::Exists(existing));
        }
        self.put_worker(item.clone())
            .map_err(|e| JobError::permanent(format!("refused the new worker: {e}")))?;
        Ok(Created::Written)
    }
}

/// A message waiting in a queue (or in a one-time schedule that targets it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// When the queue hands it out.
    pub at: DateTime<Utc>,
    /// Its queue.
    pub queue: QueueRef,
    /// The message body.
    pub body: String,
    /// How many times it has been handed out before.
    pub receives: u32,
    /// Its id (unique in this delivery).
    pub id: u64,
    /// The one-time schedule that holds it until `at`, if it came that way.
    pub schedule: Option<String>,
}

#[derive(Default)]
struct Queues {
    waiting: Vec<Waiting>,
    schedules: BTreeSet<String>,
    next_id: u64,
    /// What sits in the queues nothing takes from (dead letters, set-aside records), by name.
    held: BTreeMap<String, u64>,
}

/// The deployment's queues and one-time schedules in memory: a message waits until its delay
/// or schedule time, then [`MemoryDelivery::take_due`] hands it out.
pub struct MemoryDelivery {
    names: Names,
    queues: Vec<String>,
    clock: Arc<dyn Clock>,
    state: Mutex<Queues>,
}

impl MemoryDelivery {
    /// The worker queues `queues` (names without the prefix) of a deployment named by `names`.
    pub fn new(names: Names, queues: Vec<String>, clock: Arc<dyn Clock>) -> Self {
        MemoryDelivery {
            names,
            queues,
            clock,
            state: Mutex::default(),
        }
    }

    fn queue(&self, short: &str) -> Result<QueueRef, DeliveryError> {
        let name = self.names.queue_name(short);
        if !self.queues.iter().any(|q| q == short) {
            return Err(DeliveryError::NoSuchQueue { queue: name });
        }
        Ok(QueueRef {
            url: format!("memory://{name}"),
            arn: format!("arn:aws:sqs:memory:000000000000:{name}"),
            name,
        })
    }

    /// Puts a body in a queue, to be handed out at `at` (a new message, or one coming back
    /// after `receives` receives).
    pub fn enqueue(&self, queue: QueueRef, body: String, at: DateTime<Utc>, receives: u32) {
        self.push(queue, body, at, receives, None);
    }

    fn push(
        &self,
        queue: QueueRef,
        body: String,
        at: DateTime<Utc>,
        receives: u32,
        schedule: Option<String>,
    ) {
        let mut state = lock(&self.state);
        state.next_id += 1;
        let id = state.next_id;
        state.waiting.push(Waiting {
            at,
            queue,
            body,
            receives,
            id,
            schedule,
        });
    }

    /// When the next message is handed out, if any waits.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        lock(&self.state).waiting.iter().map(|w| w.at).min()
    }

    /// Takes up to `max` messages of one queue that are due at `now`, earliest first.
    pub fn take_due(&self, now: DateTime<Utc>, max: usize) -> Vec<Waiting> {
        let mut state = lock(&self.state);
        let Some(first) = state
            .waiting
            .iter()
            .filter(|w| w.at <= now)
            .min_by_key(|w| (w.at, w.id))
            .cloned()
        else {
            return Vec::new();
        };
        let mut due: Vec<Waiting> = state
            .waiting
            .iter()
            .filter(|w| w.at <= now && w.queue == first.queue)
            .cloned()
            .collect();
        due.sort_by_key(|w| (w.at, w.id));
        due.truncate(max);
        state
            .waiting
            .retain(|w| !due.iter().any(|taken| taken.id == w.id));
        // A fired schedule deletes itself (`ActionAfterCompletion::Delete`).
        for fired in due.iter().filter_map(|w| w.schedule.as_ref()) {
            state.schedules.remove(fired);
        }
        due
    }

    /// Every message still waiting.
    pub fn waiting(&self) -> Vec<Waiting> {
        lock(&self.state).waiting.clone()
    }

    /// Moves a message that failed too often to its queue's dead-letter queue.
    pub fn dead_letter(&self, waiting: &Waiting) {
        let short = waiting
            .queue
            .name
            .strip_prefix(&self.names.queue_prefix)
            .unwrap_or(&waiting.queue.name);
        self.hold(&self.names.dead_letter_queue_name(short));
    }

    /// Sets a stream record aside, in the stream-failure queue.
    pub fn set_aside(&self) {
        self.hold(&self.names.stream_failure_queue_name());
    }

    fn hold(&self, name: &str) {
        *lock(&self.state).held.entry(name.to_owned()).or_default() += 1;
    }

    /// What the queues nothing takes from hold (dead letters, set-aside records), by name.
    pub fn held(&self) -> BTreeMap<String, u64> {
        lock(&self.state).held.clone()
    }

    /// Empties the queue `name` of what it holds (an operator's purge or redrive).
    pub fn empty(&self, name: &str) {
        lock(&self.state).held.remove(name);
    }
}

#[async_trait]
impl Inbox for MemoryDelivery {
    /// Takes what would be handed out by `within` from now (the clock does not move).
    async fn take(&self, queue: &QueueRef, within: Duration) -> Vec<String> {
        let by = self.clock.now() + TimeDelta::from_std(within).expect("a short wait");
        let mut state = lock(&self.state);
        let (taken, kept) = std::mem::take(&mut state.waiting)
            .into_iter()
            .partition(|w| w.queue == *queue && w.at <= by);
        state.waiting = kept;
        let mut taken: Vec<Waiting> = taken;
        taken.sort_by_key(|w| (w.at, w.id));
        taken.into_iter().map(|w| w.body).collect()
    }
}

#[async_trait]
impl Deliver for MemoryDelivery {
    async fn worker_queue(&self, queue: &str) -> Result<QueueRef, DeliveryError> {
        self.queue(queue)
    }

    async fn queue_from_arn(&self, arn: &str) -> Result<QueueRef, DeliveryError> {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let short = name.strip_prefix(&self.names.queue_prefix).unwrap_or(name);
        self.queue(short)
    }

    async fn send(
        &self,
        message: &Message,
        queue: &QueueRef,
        route: Route,
    ) -> Result<Sent, DeliveryError> {
        let body = message.body();
        match route {
            Route::Queue { delay_seconds } => {
                let at = self.clock.now() + TimeDelta::seconds(delay_seconds.into());
                self.enqueue(queue.clone(), body, at, 0);
                Ok(Sent::Queued { delay_seconds })
            }
            Route::Schedule { at } => {
                let name = schedule_name(message);
                // Like Scheduler: a second schedule of the same name is a conflict.
                if !lock(&self.state).schedules.insert(name.clone()) {
                    return Ok(Sent::Scheduled {
                        name,
                        existed: true,
                    });
                }
                self.push(queue.clone(), body, at, 0, Some(name.clone()));
                Ok(Sent::Scheduled {
                    name,
                    existed: false,
                })
            }
        }
    }

    async fn holding(&self, name: &str) -> Result<u64, DeliveryError> {
        // As SQS counts: messages visible or in flight, not those still delayed.
        let now = self.clock.now();
        let state = lock(&self.state);
        let waiting = (state.waiting.iter()).filter(|w| w.queue.name == name && w.at <= now);
        Ok(state.held.get(name).copied().unwrap_or(0) + waiting.count() as u64)
    }
}

/// A mailer that keeps what it is asked to send (after the same sender check as SES's), and
/// fails the sends a test tells it to.
pub struct MemoryMailer {
    allowed_senders: Vec<String>,
    sent: Mutex<Vec<Mail>>,
    failures: Mutex<Vec<Failure>>,
}

/// A send a test asked to fail: the next one, or the next one to an address.
struct Failure {
    to: Option<String>,
    error: JobError,
}

impl MemoryMailer {
    /// A mailer that may send from `allowed_senders` (empty: any sender).
    pub fn new(allowed_senders: Vec<String>) -> Self {
        MemoryMailer {
            allowed_senders,
            sent: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// Every message sent so far, in order.
    pub fn sent(&self) -> Vec<Mail> {
        lock(&self.sent).clone()
    }

    /// Makes the next send fail with `error` (and nothing sent); called again, the sends
    /// after it, in order: `fail_next(JobError::retryable("Throttling: slow down"))`.
    pub fn fail_next(&self, error: JobError) -> &Self {
        lock(&self.failures).push(Failure { to: None, error });
        self
    }

    /// Makes the next send with `address` among its recipients (`to`, `cc` or `bcc`) fail with
    /// `error`, and the sends to others go through: a failure in the middle of a run.
    pub fn fail_next_to(&self, address: &str, error: JobError) -> &Self {
        let to = Some(address.to_owned());
        lock(&self.failures).push(Failure { to, error });
        self
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &Mail) -> Result<String, JobError> {
        check_sender(&mail.from, &self.allowed_senders)?;
        let mut failures = lock(&self.failures);
        let applies = |failure: &Failure| match &failure.to {
            None => true,
            Some(address) => [&mail.to, &mail.cc, &mail.bcc]
                .iter()
                .any(|list| list.contains(address)),
        };
        if let Some(at) = failures.iter().position(applies) {
            return Err(failures.remove(at).error);
        }
        drop(failures);
        let mut sent = lock(&self.sent);
        sent.push(mail.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}

/// An event bus that keeps what is published to it, and refuses the publishes a test tells it
/// to (as a throttled or unreachable EventBridge would).
#[derive(Default)]
pub struct MemoryBus {
    published: Mutex<Vec<Event>>,
    refusals: Mutex<usize>,
}

impl MemoryBus {
    /// A bus that accepts everything.
    pub fn new() -> Self {
        MemoryBus::default()
    }

    /// Everything published, in order.
    pub fn published(&self) -> Vec<Event> {
        lock(&self.published).clone()
    }

    /// Refuses the next `times` publishes (each refuses all its events).
    pub fn refuse_next(&self, times: usize) {
        *lock(&self.refusals) += times;
    }
}

#[async_trait]
impl Publish for MemoryBus {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(PublishError {
                    bus: "memory".into(),
                    message: "ThrottlingException: refused as the test asked".into(),
                });
            }
        }
        lock(&self.published).extend_from_slice(events);
        Ok(())
    }
}
