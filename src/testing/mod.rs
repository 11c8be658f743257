//! The test kit (feature `testing`): your jobs and the real handlers, on a clock you move,
//! without AWS or the emulator.
//!
//! A [`Harness`] wires the dispatcher, executor and sweeper (the very handlers Lambda runs) to
//! seams in memory: a store that applies the lifecycle's conditional updates exactly as
//! DynamoDB is asked to, queues that hold each message until its delay or schedule time, and a
//! mailer that keeps what it sends. Write an item, advance time, and every run that falls due
//! happens in order: arming, delivery, claim, job, finish, retries with their backoff, time
//! limits, the sweeper's rescues, spawned children. Then assert on the worker, its run records
//! and the mail. HTTP servers and Lambda functions answer as the test scripts them
//! ([`Harness::http`], [`Harness::functions`]); the kit makes no network call.
//!
//! Time is tokio's paused clock: [`Harness::new`] pauses it, so use it in a plain
//! `#[tokio::test]` (a current-thread runtime, not `start_paused`). A job that sleeps or
//! runs past its time limit takes virtual time, not real time.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use nextdue::testing::Harness;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let start = Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap();
//! let mut harness = Harness::new(nextdue::jobs::builtin(), start);
//! harness.put_json(serde_json::json!({
//!     "id": "hello", "kind": "email", "enabled": true,
//!     "schedule": "cron(0 9 ? * MON-FRI *)",
//!     "params": {"from": "me@example.com", "to": ["you@example.com"],
//!                "subject": "Good morning", "text": "Hello"}
//! })).await.unwrap();
//! harness.advance(TimeDelta::days(1)).await;
//! assert_eq!(harness.runs("hello").len(), 1);
//! assert_eq!(harness.mail()[0].subject, "Good morning");
//! assert_eq!(harness.worker("hello").last_run_succeeded, Some(true));
//! # }
//! ```

pub mod conformance;
pub mod corpus;
mod memory;
mod scripted;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_lambda_events::dynamodb::{Event, EventRecord};
use chrono::{DateTime, TimeDelta, Utc};

pub use self::memory::{
    MemoryBus, MemoryControl, MemoryDelivery, MemoryMailer, MemoryStore, ReportWrite, StreamChange,
    Waiting,
};
pub use self::scripted::{MemoryFunctions, MemoryHttp, Scripted, http_answer};
use crate::config::Settings;
use crate::controls::{Limit, Mode, Pause, REFRESH, Scope};
use crate::events;
use crate::glue::mapping::{
    FUNCTION_TIMEOUT_SECONDS, QUEUE_BATCH_SIZE, STREAM_BATCH_SIZE, SWEEP_EVERY_SECONDS,
};
use crate::glue::queue::{Received, Redrive, after_failure, failed, sqs_event};
use crate::glue::stream::{Filter, Retries};
use crate::handlers::controls;
use crate::handlers::dispatcher::handle_stream;
use crate::handlers::executor::handle_queue;
use crate::handlers::sweeper::{dead_letter_mark, sweep_once};
use crate::handlers::{Executor, Handlers};
use crate::item::{AttributeValue, Item, RunRecord, Worker, attr};
use crate::job::{Mail, Registry, Services};
use crate::lifecycle::SweepReport;
use crate::seams::StoreError;
use crate::seams::{Clock, Seams};

/// Virtual time: a start instant, plus the time tokio's paused clock has moved since (a job
/// sleeping, a time limit running out), plus the jumps the harness makes between events.
#[derive(Debug)]
pub struct VirtualClock {
    origin: DateTime<Utc>,
    start: tokio::time::Instant,
    jumped: Mutex<TimeDelta>,
    /// The retry jitter's generator, once [`Harness::seed_jitter`] seeded it.
    jitter: Mutex<Option<rand::rngs::StdRng>>,
}

impl VirtualClock {
    /// Pauses tokio's clock and reads `origin` from it.
    fn paused_at(origin: DateTime<Utc>) -> Self {
        tokio::time::pause();
        VirtualClock {
            origin,
            start: tokio::time::Instant::now(),
            jumped: Mutex::new(TimeDelta::zero()),
            jitter: Mutex::new(None),
        }
    }

    /// Moves the clock forward to `to` exactly (never back). Nothing else runs between the
    /// harness's events, so no timer is waiting to fire on the way.
    fn move_to(&self, to: DateTime<Utc>) {
        let step = to - self.now();
        if step > TimeDelta::zero() {
            *self.jumped.lock().unwrap_or_else(|p| p.into_inner()) += step;
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        let jumped = *self.jumped.lock().unwrap_or_else(|p| p.into_inner());
        self.origin
            + jumped
            + TimeDelta::from_std(elapsed).expect("a test runs for less than 292 years")
    }

    fn jitter(&self) -> f64 {
        use rand::Rng;
        match self
            .jitter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            Some(seeded) => seeded.random::<f64>(),
            None => rand::random::<f64>(),
        }
    }
}

/// What [`Harness::resume`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The pause ended (`None`: the scope was not paused).
    pub pause: Option<Pause>,
    /// Held workers released, each for its catch-up run.
    pub released: usize,
}

/// A stream record the dispatcher kept failing on, set aside as the stream's on-failure
/// destination would keep it.
#[derive(Clone, Debug, PartialEq)]
pub struct SetAside {
    /// The change.
    pub change: StreamChange,
}

/// The real handlers on memory seams and a virtual clock: see the [module](self) docs.
pub struct Harness {
    clock: Arc<VirtualClock>,
    store: Arc<MemoryStore>,
    control: Arc<MemoryControl>,
    delivery: Arc<MemoryDelivery>,
    mailer: Arc<MemoryMailer>,
    http: Arc<MemoryHttp>,
    functions: Arc<MemoryFunctions>,
    bus: Arc<MemoryBus>,
    handlers: Handlers,
    seams: Seams,
    settings: Settings,
    registry: Registry,
    more_executors: Vec<Executor>,
    filter: Filter,
    retries: Retries,
    sequence: u64,
    next_sweep: DateTime<Utc>,
    sweeps: Vec<SweepReport>,
    dead_letters: Vec<Waiting>,
    set_aside: Vec<SetAside>,
    dispatched: Vec<EventRecord>,
}

impl Harness {
    /// A deployment with the default settings and the jobs of `registry`, its clock at
    /// `start`. Pauses tokio's clock.
    pub fn new(registry: Registry, start: DateTime<Utc>) -> Self {
        Harness::with_settings(registry, start, Settings::default())
    }

    /// A deployment with these `settings` (queues, limits, policy) and the jobs of
    /// `registry`, its clock at `start`. Pauses tokio's clock.
    pub fn with_settings(registry: Registry, start: DateTime<Utc>, settings: Settings) -> Self {
        let clock = Arc::new(VirtualClock::paused_at(start));
        let store = Arc::new(MemoryStore::new());
        let queues = settings.policy.queues.iter().map(|q| q.name.clone());
        let delivery = Arc::new(MemoryDelivery::new(
            settings.names.clone(),
            queues.collect(),
            clock.clone(),
        ));
        let mailer = Arc::new(MemoryMailer::new(settings.limits.allowed_senders.clone()));
        let http = Arc::new(MemoryHttp::new());
        let functions = Arc::new(MemoryFunctions::new());
        let bus = Arc::new(MemoryBus::new());
        let control = Arc::new(MemoryControl::new());
        let seams = Seams {
            store: store.clone(),
            control: control.clone(),
            delivery: delivery.clone(),
            clock: clock.clone(),
            events: bus.clone(),
            services: Services {
                mailer: mailer.clone(),
                workers: store.clone(),
                http: http.clone(),
                functions: functions.clone(),
                limits: settings.limits.clone(),
            },
        };
        Harness {
            handlers: Handlers::new(seams.clone(), &settings, registry.clone()),
            seams,
            settings,
            registry,
            more_executors: Vec::new(),
            clock,
            store,
            control,
            delivery,
            mailer,
            http,
            functions,
            bus,
            filter: Filter::default(),
            retries: Retries::default(),
            sequence: 0,
            next_sweep: start + TimeDelta::seconds(SWEEP_EVERY_SECONDS),
            sweeps: Vec::new(),
            dead_letters: Vec::new(),
            set_aside: Vec::new(),
            dispatched: Vec::new(),
        }
    }

    /// The deployment with `count` executors (at least one), each with its own reading of
    /// the controls: messages due at one instant go out in batches to all of them at once, as
    /// Lambda runs concurrent invocations.
    pub fn with_executors(mut self, count: usize) -> Self {
        self.more_executors = (1..count)
            .map(|_| Executor::new(self.seams.clone(), &self.settings, self.registry.clone()))
            .collect();
        self
    }

    /// The virtual time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Writes a worker item as a console or the SDK would, and lets the dispatcher see it.
    pub async fn put(&mut self, item: Item) -> Result<(), StoreError> {
        self.store.put_worker(item)?;
        self.pump_stream().await;
        Ok(())
    }

    /// Writes a worker given as plain JSON (numbers become `N`, `true` becomes `BOOL`, as
    /// the console's JSON view writes them).
    pub async fn put_json(&mut self, json: serde_json::Value) -> Result<(), StoreError> {
        let item: Item = serde_dynamo::to_item(json).map_err(|e| StoreError::Refused {
            operation: "PutItem",
            table: "workers".into(),
            message: format!("not an item: {e}"),
        })?;
        self.put(item).await
    }

    /// Changes a stored worker item as a person editing it would (read, change, write back).
    /// Panics if there is no such item.
    pub async fn edit(&mut self, id: &str, change: impl FnOnce(&mut Item)) {
        let mut item = self
            .store
            .worker(id)
            .unwrap_or_else(|| panic!("no worker {id:?} to edit"));
        change(&mut item);
        self.put(item).await.expect("the edited item is stored");
    }

    /// Sets a worker's `enabled` attribute, as a person flipping it in the console would.
    pub async fn set_enabled(&mut self, id: &str, enabled: bool) {
        self.edit(id, |item| {
            item.insert(attr::ENABLED.into(), AttributeValue::Bool(enabled));
        })
        .await;
    }

    /// Deletes a worker item.
    pub async fn delete(&mut self, id: &str) {
        self.store.delete_worker(id);
        self.pump_stream().await;
    }

    /// Moves time forward by `by`, running everything that falls due on the way.
    pub async fn advance(&mut self, by: TimeDelta) {
        let target = self.now() + by;
        self.advance_to(target).await;
    }

    /// Moves time forward to `target`, running everything that falls due on the way, in
    /// order: each message at its time (a batch per queue and instant), the sweeper every
    /// minute (when it has something to look at), and the dispatcher after every write.
    pub async fn advance_to(&mut self, target: DateTime<Utc>) {
        self.pump_stream().await;
        loop {
            let message = self.delivery.next_at();
            let sweep = self.next_useful_sweep();
            let next = match (message, sweep) {
                (Some(m), Some(s)) => m.min(s),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => break,
            };
            if next > target {
                break;
            }
            self.clock.move_to(next);
            let now = self.now();
            let mut batches = Vec::new();
            while batches.len() <= self.more_executors.len() {
                let batch = self.delivery.take_due(now, QUEUE_BATCH_SIZE);
                if batch.is_empty() {
                    break;
                }
                batches.push(batch);
            }
            if batches.is_empty() {
                self.sweep(now).await;
            } else {
                self.invoke_executors(batches, now).await;
            }
            self.pump_stream().await;
        }
        self.clock.move_to(target);
        self.pump_stream().await;
    }

    /// The first sweeper pass (on its one-minute grid) that finds an entry in the index, or a
    /// dead-letter queue not as its mark says: the passes before it read nothing and do
    /// nothing, so the harness skips them.
    fn next_useful_sweep(&self) -> Option<DateTime<Utc>> {
        if self.dead_letters_untold() {
            return Some(self.next_sweep);
        }
        let earliest = self.store.earliest_sweep_at()?;
        let mut at = self.next_sweep;
        if at <= earliest {
            let behind = (earliest - at).num_seconds() / SWEEP_EVERY_SECONDS + 1;
            at += TimeDelta::seconds(behind * SWEEP_EVERY_SECONDS);
        }
        Some(at)
    }

    /// Whether a dead-letter queue holds other than its mark says it was told.
    fn dead_letters_untold(&self) -> bool {
        let held: BTreeMap<String, u64> = (self.delivery.held().into_iter())
            .map(|(name, count)| (dead_letter_mark(&name), count))
            .collect();
        let marks = self.control.counters();
        let keys = held.keys().chain(marks.keys());
        keys.filter(|key| key.starts_with(&dead_letter_mark("")))
            .any(|key| held.get(key).unwrap_or(&0) != marks.get(key).unwrap_or(&0))
    }

    async fn sweep(&mut self, now: DateTime<Utc>) {
        let report = sweep_once(&self.handlers.sweeper, now)
            .await
            .expect("the index in memory can always be read");
        self.sweeps.push(report);
        while self.next_sweep <= now {
            self.next_sweep += TimeDelta::seconds(SWEEP_EVERY_SECONDS);
        }
    }

    /// Hands each of `batches` to an executor of its own, all at once (as Lambda runs
    /// concurrent invocations), and puts what each reports as failed back, or in the dead
    /// letters.
    async fn invoke_executors(&mut self, batches: Vec<Vec<Waiting>>, now: DateTime<Utc>) {
        let deadline = now + TimeDelta::seconds(FUNCTION_TIMEOUT_SECONDS);
        let events: Vec<_> = batches
            .iter()
            .filter_map(|batch| {
                let queue = batch.first()?.queue.clone();
                let received = batch.iter().map(|waiting| Received {
                    message_id: waiting.id.to_string(),
                    body: waiting.body.clone(),
                    attributes: HashMap::from([(
                        "ApproximateReceiveCount".to_owned(),
                        (waiting.receives + 1).to_string(),
                    )]),
                    ..Received::default()
                });
                Some(sqs_event(&queue, None, received))
            })
            .collect();
        let executors = std::iter::once(&self.handlers.executor).chain(&self.more_executors);
        let responses = futures::future::join_all(
            events
                .iter()
                .zip(executors)
                .map(|(event, executor)| handle_queue(event, executor, deadline)),
        )
        .await;
        for (batch, response) in batches.iter().zip(responses) {
            let failed = failed(&response);
            for waiting in batch
                .iter()
                .filter(|w| failed.contains(w.id.to_string().as_str()))
            {
                let receives = waiting.receives + 1;
                match after_failure(receives, now) {
                    Redrive::DeadLetter => {
                        self.delivery.dead_letter(waiting);
                        self.dead_letters.push(waiting.clone());
                    }
                    Redrive::Visible(back) => self.delivery.enqueue(
                        waiting.queue.clone(),
                        waiting.body.clone(),
                        back,
                        receives,
                    ),
                }
            }
        }
    }

    fn record(&mut self, change: &StreamChange) -> EventRecord {
        self.sequence += 1;
        let mut record = EventRecord::default();
        record.event_id = format!("memory-{}", self.sequence);
        record.event_name = match (&change.old, &change.new) {
            (None, _) => "INSERT",
            (Some(_), Some(_)) => "MODIFY",
            (Some(_), None) => "REMOVE",
        }
        .into();
        record.event_source = Some("aws:dynamodb".into());
        let image = change.new.as_ref().or(change.old.as_ref());
        if let Some(id) = image.and_then(|i| i.get(attr::ID)) {
            record.change.keys = Item::from(HashMap::from([(attr::ID.to_owned(), id.clone())]));
        }
        record.change.old_image = change.old.clone().unwrap_or_default();
        record.change.new_image = change.new.clone().unwrap_or_default();
        record.change.sequence_number = Some(format!("{:021}", self.sequence));
        record
    }

    /// Hands every committed change to the dispatcher, as the stream and its filter would,
    /// until its own writes stop producing changes.
    async fn pump_stream(&mut self) {
        loop {
            let changes = self.store.take_changes();
            if changes.is_empty() {
                return;
            }
            let mut pending: Vec<(EventRecord, StreamChange)> = Vec::new();
            for change in changes {
                let record = self.record(&change);
                if self.filter.passes(&record) {
                    self.dispatched.push(record.clone());
                    pending.push((record, change));
                }
            }
            while !pending.is_empty() {
                let size = pending.len().min(STREAM_BATCH_SIZE);
                let mut event = Event::default();
                event.records = pending[..size].iter().map(|p| p.0.clone()).collect();
                let response = handle_stream(&event, &self.handlers.dispatcher).await;
                let settled = self.retries.settle(&event.records, &response);
                if let Some(at) = settled.set_aside {
                    let change = pending[at].1.clone();
                    self.delivery.set_aside();
                    self.set_aside.push(SetAside { change });
                }
                pending.drain(..settled.done);
            }
        }
    }

    /// Sets `scope`'s rate limit (`None`: removes it), as `nextdue limit` does. Executors
    /// see it within [`REFRESH`].
    pub async fn limit(&mut self, scope: &Scope, limit: Option<Limit>) {
        let now = self.now();
        controls::set_limit(self.control.as_ref(), scope, limit, now)
            .await
            .expect("the control table in memory can always be written");
    }

    /// Pauses `scope` in `mode` from now, for `length` (none: until [`Harness::resume`]), as
    /// `nextdue pause` does. Executors see it within [`crate::controls::REFRESH`].
    pub async fn pause(&mut self, scope: &Scope, mode: Mode, length: Option<TimeDelta>) -> Pause {
        let now = self.now();
        controls::pause(self.control.as_ref(), scope, mode, length, "kit", now)
            .await
            .expect("the control table in memory can always be written")
    }

    /// Resumes `scope` as `nextdue resume` does: ends its pause, lets [`REFRESH`] pass (every
    /// executor reads the end meanwhile), then releases the workers it held, whose due times
    /// the dispatcher then delivers.
    pub async fn resume(&mut self, scope: &Scope) -> Resumed {
        let now = self.now();
        let pause = controls::lift(self.control.as_ref(), scope, now)
            .await
            .expect("the control table in memory can always be written");
        let mut released = 0;
        if pause.is_some() {
            self.advance(REFRESH).await;
            let now = self.now();
            released = controls::release(
                self.store.as_ref(),
                &self.handlers.sweeper.policy,
                scope,
                now,
                &mut |_| {},
            )
            .await
            .expect("the tables in memory can always be read")
            .released;
            self.pump_stream().await;
        }
        Resumed { pause, released }
    }

    /// The worker item `id` as stored, if there is one.
    pub fn item(&self, id: &str) -> Option<Item> {
        self.store.worker(id)
    }

    /// The worker `id`, decoded. Panics (naming what is wrong) if there is none or it does
    /// not decode: use [`Harness::item`] to look at invalid ones.
    pub fn worker(&self, id: &str) -> Worker {
        let item = self.item(id).unwrap_or_else(|| panic!("no worker {id:?}"));
        Worker::from_item(&item).unwrap_or_else(|e| panic!("worker {id:?} does not decode: {e}"))
    }

    /// The run records of worker `id`, oldest first.
    pub fn runs(&self, id: &str) -> Vec<RunRecord> {
        self.store.runs_of(id)
    }

    /// Every stream record the template's filter let through to the dispatcher, in order (the
    /// first time each was handed over).
    pub fn dispatched(&self) -> &[EventRecord] {
        &self.dispatched
    }

    /// The progress writes runs of worker `id` made on its item, in order, refused ones
    /// included (what each set is in its `update`).
    pub fn reports(&self, id: &str) -> Vec<ReportWrite> {
        self.store.reports_of(id)
    }

    /// Makes the retry jitter (how retries spread over their backoff) a sequence fixed by
    /// `seed`, so a test's retry times are the same on every run.
    pub fn seed_jitter(&mut self, seed: u64) {
        use rand::SeedableRng;
        *self.clock.jitter.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(rand::rngs::StdRng::seed_from_u64(seed));
    }

    /// Every event published, in order (the dispatcher publishes each committed change's facts
    /// once the change is handled).
    pub fn events(&self) -> Vec<events::Event> {
        self.bus.published()
    }

    /// The event bus: `harness.bus().refuse_next(1)` makes the next publish fail.
    pub fn bus(&self) -> &MemoryBus {
        &self.bus
    }

    /// Every message the jobs sent, in order.
    pub fn mail(&self) -> Vec<Mail> {
        self.mailer.sent()
    }

    /// The mailer the jobs send through: `harness.mailer().fail_next(error)` makes the next
    /// send fail.
    pub fn mailer(&self) -> &MemoryMailer {
        &self.mailer
    }

    /// Messages the queue gave up on after their last receive
    /// ([`MAX_RECEIVE_COUNT`](crate::glue::mapping::MAX_RECEIVE_COUNT)).
    pub fn dead_letters(&self) -> &[Waiting] {
        &self.dead_letters
    }

    /// Stream records the dispatcher failed on every attempt
    /// ([`STREAM_ATTEMPTS`](crate::glue::mapping::STREAM_ATTEMPTS)).
    pub fn set_aside(&self) -> &[SetAside] {
        &self.set_aside
    }

    /// What each sweeper pass did, in order (passes that would have found the index empty of
    /// anything overdue are skipped: they read nothing and change nothing).
    pub fn sweeps(&self) -> &[SweepReport] {
        &self.sweeps
    }

    /// The HTTP servers the `http` job (and a kind of your own, through
    /// `ctx.services.http`) reaches: script their answers, in order, failures included
    /// (`answer(url, Err(HttpFailure::Network(…)))`), and read the requests.
    pub fn http(&self) -> &MemoryHttp {
        &self.http
    }

    /// The Lambda functions the `lambda` job invokes: script their answers, in order, failures
    /// included (`answer(name, Err(JobError::retryable(…)))`), and read the calls.
    pub fn functions(&self) -> &MemoryFunctions {
        &self.functions
    }

    /// The store, to write or read items directly.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The queues, to see what waits in them.
    pub fn delivery(&self) -> &MemoryDelivery {
        &self.delivery
    }
}
