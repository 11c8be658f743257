//! The promises of a [`WorkerStore`], a [`ControlStore`] and a [`Deliver`], as suites that every implementation
//! must pass: the test kit's memory seams and the AWS adapters (on the emulator) run these same
//! checks, so the kit is known to behave as the real services do. Each check panics with the
//! promise it found broken.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::controls::Controls;
use crate::item::{AttributeValue, Item, RunRecord, attr};
use crate::lifecycle::update::{n, s};
use crate::lifecycle::{Condition, Message, Route, Update};
use crate::seams::{
    Applied, ControlStore, Counter, Deliver, DeliveryError, QueueRef, RunWrite, Sent, StoreError,
    WorkerStore, schedule_name,
};
use crate::timestamp::Due;

/// Runs every check against `store`, on items whose ids start with `prefix` (so suites on
/// one table do not meet).
pub async fn worker_store(store: &dyn WorkerStore, prefix: &str) {
    conditional_writes(store, prefix).await;
    run_records(store, prefix).await;
    oversized_writes(store, prefix).await;
    overdue_pages(store, prefix).await;
}

/// Runs every check of a [`ControlStore`] against `control`, on keys starting with `prefix`: a
/// counter is written only from the reading it was made from, so of two writers from one
/// reading exactly one moves it.
pub async fn control_store(control: &dyn ControlStore, prefix: &str) {
    let key = format!("{prefix}/counter");
    assert_eq!(
        control.counter(&key).await.expect("read"),
        None,
        "a counter never written reads as none"
    );
    assert!(
        control
            .set_counter(&key, None, 3)
            .await
            .expect("first write"),
        "the first write of a counter succeeds"
    );
    let first = Counter {
        value: 3,
        version: 1,
    };
    assert_eq!(control.counter(&key).await.expect("read"), Some(first));
    assert!(
        !control.set_counter(&key, None, 4).await.expect("refused"),
        "a write from \"never written\" is refused once the counter exists"
    );
    assert!(
        control
            .set_counter(&key, Some(first), 0)
            .await
            .expect("moved"),
        "a write from the current reading succeeds (even down to zero)"
    );
    assert!(
        !control
            .set_counter(&key, Some(first), 9)
            .await
            .expect("refused"),
        "a second write from the same reading is refused"
    );
    assert_eq!(
        control.counter(&key).await.expect("read"),
        Some(Counter {
            value: 0,
            version: 2
        }),
        "a refused write changes nothing"
    );
    controls(control).await;
    starts(control, prefix).await;
}

/// A rate limit's starts: the first at once, the next one spacing on while they come faster
/// than the limit, at once again when it has room; the counter reads as one written each time.
async fn starts(control: &dyn ControlStore, prefix: &str) {
    let key = format!("{prefix}/rate");
    let limit: crate::controls::Limit = "10/minute".parse().unwrap();
    let now = crate::timestamp::parse_stamp("2027-01-01T09:00:00.250Z").unwrap();
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(control.take_start(&key, &limit, now).await.expect("take"));
    }
    let spacing = TimeDelta::seconds(6);
    assert_eq!(
        taken,
        [now, now + spacing, now + spacing * 2],
        "one spacing apart"
    );
    let later = now + TimeDelta::minutes(5);
    assert_eq!(
        control.take_start(&key, &limit, later).await.expect("take"),
        later,
        "room again: at once, not at the end of a backlog"
    );
    let counter = control.counter(&key).await.expect("read").expect("written");
    assert_eq!(
        (counter.value, counter.version),
        (
            u64::try_from((later + spacing).timestamp_millis()).unwrap(),
            4
        )
    );
}

/// The controls record: read as empty at version 0 until written, written only from the
/// version read, and read back whole (each pause's mode, times and author).
async fn controls(control: &dyn ControlStore) {
    use crate::controls::{Mode, Pause, Scope};
    let (empty, version) = control.controls().await.expect("read");
    assert_eq!((empty, version), (Controls::default(), 0), "never written");
    let mut paused = Controls::default();
    let since = crate::timestamp::parse_stamp("2027-01-01T09:00:00Z").unwrap();
    paused.pauses.insert(
        Scope::Queue("default".into()).key(),
        Pause {
            mode: Mode::Hold,
            since,
            until: None,
            by: "ops".into(),
        },
    );
    paused.pauses.insert(
        Scope::Kind("report".into()).key(),
        Pause {
            mode: Mode::Skip,
            since,
            until: Some(since + TimeDelta::hours(2)),
            by: "arn:aws:iam::123456789012:user/ops".into(),
        },
    );
    assert!(control.set_controls(&paused, 0).await.expect("write"));
    assert_eq!(control.controls().await.expect("read"), (paused.clone(), 1));
    assert!(
        !control
            .set_controls(&Controls::default(), 0)
            .await
            .expect("refused"),
        "a write from a version already passed is refused"
    );
    assert!(
        control
            .set_controls(&Controls::default(), 1)
            .await
            .expect("write"),
        "a write from the current version succeeds, down to no pause at all"
    );
    assert_eq!(
        control.controls().await.expect("read"),
        (Controls::default(), 2)
    );
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

/// A conditional update applies only when its condition holds, returns the item as it now
/// stands, and on refusal returns the item as it stood (`None`: there was none).
async fn conditional_writes(store: &dyn WorkerStore, prefix: &str) {
    let id = format!("{prefix}-conditional");
    let create = Update::new(&id, Condition::Missing(attr::ID))
        .set(attr::KIND, s("log"))
        .set(attr::STATUS, s("ready"))
        .set(attr::TASK_ID, s("t1"));
    let Applied::Written(created) = store.apply(&create).await.expect("the call succeeds") else {
        panic!("a write conditional on no item creates it")
    };
    assert_eq!(text(&created, attr::ID).as_deref(), Some(id.as_str()));
    assert_eq!(text(&created, attr::STATUS).as_deref(), Some("ready"));
    assert_eq!(
        store.get_worker(&id).await.expect("GetItem"),
        Some(created.clone()),
        "a read returns what the write returned"
    );
    match store.apply(&create).await.expect("the call succeeds") {
        Applied::Refused(Some(stood)) => {
            assert_eq!(stood, created, "refused: the item as it stood")
        }
        other => panic!("a second create is refused with the item: {other:?}"),
    }
    let wrong_state = Update::new(&id, Condition::Equals(attr::STATUS, s("running")))
        .set(attr::STATUS, s("stopped"));
    assert!(
        matches!(
            store.apply(&wrong_state).await.expect("the call succeeds"),
            Applied::Refused(Some(_))
        ),
        "a condition that fails changes nothing"
    );
    let claim = Update::new(
        &id,
        Condition::All(vec![
            Condition::Equals(attr::STATUS, s("ready")),
            Condition::Equals(attr::TASK_ID, s("t1")),
            Condition::Not(Box::new(Condition::Equals(attr::TASK_ID, s("t0")))),
        ]),
    )
    .set(attr::STATUS, s("running"))
    .set(attr::ATTEMPT, n(1))
    .remove(attr::TASK_ID);
    let Applied::Written(claimed) = store.apply(&claim).await.expect("the call succeeds") else {
        panic!("a condition that holds applies")
    };
    assert_eq!(text(&claimed, attr::STATUS).as_deref(), Some("running"));
    assert_eq!(claimed.get(attr::ATTEMPT), Some(&n(1)));
    assert_eq!(
        claimed.get(attr::TASK_ID),
        None,
        "a removed attribute is gone"
    );
    let kept = Update::new(&id, Condition::Equals(attr::STATUS, s("running")))
        .set_if_missing(attr::CREATE_TIME, s("first"))
        .set_if_missing(attr::KIND, s("not-this"));
    let Applied::Written(kept) = store.apply(&kept).await.expect("the call succeeds") else {
        panic!("set-if-missing applies")
    };
    assert_eq!(text(&kept, attr::CREATE_TIME).as_deref(), Some("first"));
    assert_eq!(
        text(&kept, attr::KIND).as_deref(),
        Some("log"),
        "set-if-missing keeps a value"
    );
    let missing = Update::new(
        &format!("{prefix}-nobody"),
        Condition::Equals(attr::STATUS, s("ready")),
    )
    .set(attr::STATUS, s("running"));
    assert_eq!(
        store.apply(&missing).await.expect("the call succeeds"),
        Applied::Refused(None),
        "no item: refused, and nothing created"
    );
    assert_eq!(
        store
            .get_worker(&format!("{prefix}-nobody"))
            .await
            .expect("GetItem"),
        None
    );
}

fn record(worker: &str, message: &str) -> RunRecord {
    let start = chrono::DateTime::parse_from_rfc3339("2027-01-04T09:00:00.250Z")
        .expect("a stamp")
        .with_timezone(&Utc);
    RunRecord {
        worker_id: worker.to_owned(),
        run_id: format!("{}#t1", crate::timestamp::format_stamp(start)),
        task_id: "t1".into(),
        due: "2027-01-04T09:00:00Z".parse().expect("a due time"),
        attempt: 1,
        start_time: start,
        finish_time: Some(start + TimeDelta::milliseconds(40)),
        succeeded: Some(true),
        message: Some(message.into()),
        duration_ms: Some(40),
        retryable: None,
        superseded: false,
        skipped: false,
        progress: None,
        progress_fraction: None,
        expires_at: 1_900_000_000,
    }
}

/// A run record written only if absent is written once; after that the refusal returns the
/// record in the way, as stored. An unconditional write overwrites.
async fn run_records(store: &dyn WorkerStore, prefix: &str) {
    let worker = format!("{prefix}-runs");
    let first = record(&worker, "first");
    assert_eq!(
        store
            .put_run_if_absent(&first)
            .await
            .expect("the call succeeds"),
        RunWrite::Written
    );
    let second = record(&worker, "second");
    assert_eq!(
        store
            .put_run_if_absent(&second)
            .await
            .expect("the call succeeds"),
        RunWrite::Exists(first),
        "refused, with the record in the way"
    );
    store.put_run(&second).await.expect("the call succeeds");
    assert_eq!(
        store
            .put_run_if_absent(&record(&worker, "third"))
            .await
            .expect("the call succeeds"),
        RunWrite::Exists(second),
        "put_run overwrote"
    );
}

/// A write that would take an item past DynamoDB's size limit is refused as such, and the
/// item stays as it was.
async fn oversized_writes(store: &dyn WorkerStore, prefix: &str) {
    let id = format!("{prefix}-big");
    let create = Update::new(&id, Condition::Missing(attr::ID)).set(attr::KIND, s("log"));
    let Applied::Written(before) = store.apply(&create).await.expect("the call succeeds") else {
        panic!("created")
    };
    let huge = Update::new(&id, Condition::Equals(attr::KIND, s("log")))
        .set(attr::LAST_RUN_MESSAGE, s("x".repeat(420_000)));
    assert!(
        matches!(store.apply(&huge).await, Err(StoreError::Refused { .. })),
        "an item over the limit is refused for good (not a call that may succeed later)"
    );
    assert_eq!(store.get_worker(&id).await.expect("GetItem"), Some(before));
}

/// The sweep index: entries of one shard whose `sweepAt` is before `now`, in `sweepAt` order,
/// in pages of at most `limit`, each page starting after the last one's key; other shards and
/// later entries never appear.
async fn overdue_pages(store: &dyn WorkerStore, prefix: &str) {
    let shard = 7 + prefix.len() as u32 % 5;
    let now: Due = "2027-01-04T10:00:00Z".parse().expect("a due time");
    let index = |id: &str, shard: u32, at: &str| {
        Update::new(&format!("{prefix}-{id}"), Condition::Missing(attr::ID))
            .set(attr::KIND, s("log"))
            .set(attr::SWEEP_SHARD, n(shard))
            .set(attr::SWEEP_AT, s(at))
    };
    let entries = [
        index("c", shard, "2027-01-04T09:03:00Z"),
        index("a", shard, "2027-01-04T09:01:00Z"),
        index("e", shard, "2027-01-04T09:05:00Z"),
        index("b", shard, "2027-01-04T09:02:00Z"),
        index("d", shard, "2027-01-04T09:04:00Z"),
        index("later", shard, "2027-01-04T11:00:00Z"),
        index("elsewhere", shard + 1, "2027-01-04T09:00:00Z"),
    ];
    for entry in &entries {
        assert!(matches!(
            store.apply(entry).await.expect("the call succeeds"),
            Applied::Written(_)
        ));
    }
    let mut seen = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let (items, next) = store
            .overdue(shard, now, 2, start)
            .await
            .expect("the index reads");
        assert!(items.len() <= 2, "a page holds at most its limit");
        pages += 1;
        seen.extend(items.iter().filter_map(|item| text(item, attr::ID)));
        match next {
            Some(key) => start = Some(key),
            None => break,
        }
        assert!(pages < 10, "the pages end");
    }
    let ours: Vec<String> = seen
        .into_iter()
        .filter(|id| id.starts_with(&format!("{prefix}-")))
        .collect();
    let expected: Vec<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|id| format!("{prefix}-{id}"))
        .collect();
    assert_eq!(
        ours, expected,
        "overdue entries of the shard, in sweepAt order"
    );
}

/// What a queue holds, as a test reads it: the other side of a [`Deliver`].
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Takes (receives and deletes) the messages of `queue` that are visible now or become
    /// visible within `within`, and returns their bodies.
    async fn take(&self, queue: &QueueRef, within: Duration) -> Vec<String>;
}

/// Runs every check of a [`Deliver`] against `delivery`, whose messages `inbox` reads, with the
/// worker queue `queue` (which must exist and be empty), at about `now`, on workers whose ids
/// start with `prefix`.
pub async fn deliver(
    delivery: &dyn Deliver,
    inbox: &dyn Inbox,
    queue: &str,
    prefix: &str,
    now: DateTime<Utc>,
) {
    let found = queue_lookups(delivery, queue).await;
    assert_eq!(
        delivery.holding(&found.name).await.expect("counted"),
        0,
        "an empty queue holds nothing"
    );
    immediate_and_delayed_sends(delivery, inbox, &found, prefix, now).await;
    scheduled_sends(delivery, inbox, &found, prefix, now).await;
}

/// A worker queue is found by its short name and by its ARN, as the same queue; a missing one
/// is `NoSuchQueue`, with its full name.
async fn queue_lookups(delivery: &dyn Deliver, queue: &str) -> QueueRef {
    let found = delivery
        .worker_queue(queue)
        .await
        .expect("the queue exists");
    assert!(
        found.name.ends_with(queue) && !found.url.is_empty() && !found.arn.is_empty(),
        "a queue has its full name, a URL and an ARN: {found:?}"
    );
    assert_eq!(
        delivery
            .queue_from_arn(&found.arn)
            .await
            .expect("found by its ARN"),
        found,
        "the queue an ARN names is the same queue"
    );
    match delivery.worker_queue("no-such-queue").await {
        Err(DeliveryError::NoSuchQueue { queue }) => assert!(
            queue.ends_with("no-such-queue"),
            "a missing queue is named in full: {queue}"
        ),
        other => panic!("a missing queue is NoSuchQueue: {other:?}"),
    }
    found
}

fn message(prefix: &str, name: &str, due: DateTime<Utc>) -> (Message, String) {
    let message = Message {
        id: format!("{prefix}-{name}"),
        task_id: format!("{prefix}-task"),
        due: Due::floor(due),
    };
    let body = message.body();
    (message, body)
}

/// A message sent with no delay arrives at once, its body the message as JSON, once; one sent
/// with a delay is not visible before it, and arrives after it.
async fn immediate_and_delayed_sends(
    delivery: &dyn Deliver,
    inbox: &dyn Inbox,
    queue: &QueueRef,
    prefix: &str,
    now: DateTime<Utc>,
) {
    let (now_message, now_body) = message(prefix, "now", now);
    let sent = delivery
        .send(&now_message, queue, Route::Queue { delay_seconds: 0 })
        .await
        .expect("SendMessage");
    assert_eq!(sent, Sent::Queued { delay_seconds: 0 });
    let taken = inbox.take(queue, Duration::from_secs(5)).await;
    assert_eq!(
        taken,
        vec![now_body],
        "the message arrives at once, as sent"
    );
    assert!(
        inbox.take(queue, Duration::ZERO).await.is_empty(),
        "a message taken is gone"
    );
    let (later, later_body) = message(prefix, "later", now);
    let sent = delivery
        .send(&later, queue, Route::Queue { delay_seconds: 3 })
        .await
        .expect("SendMessage");
    assert_eq!(sent, Sent::Queued { delay_seconds: 3 });
    assert!(
        inbox.take(queue, Duration::ZERO).await.is_empty(),
        "a delayed message is not visible before its delay"
    );
    assert_eq!(
        inbox.take(queue, Duration::from_secs(8)).await,
        vec![later_body],
        "a delayed message arrives after its delay"
    );
}

/// A long wait becomes a one-time schedule named after the message (the same message, the same
/// name), which a second send finds in place instead of doubling; nothing reaches the queue
/// before its time.
async fn scheduled_sends(
    delivery: &dyn Deliver,
    inbox: &dyn Inbox,
    queue: &QueueRef,
    prefix: &str,
    now: DateTime<Utc>,
) {
    let at = now + TimeDelta::hours(2);
    let (message, _) = message(prefix, "scheduled", at);
    let route = Route::Schedule { at };
    let first = delivery
        .send(&message, queue, route)
        .await
        .expect("CreateSchedule");
    assert_eq!(
        first,
        Sent::Scheduled {
            name: schedule_name(&message),
            existed: false
        }
    );
    let again = delivery
        .send(&message, queue, route)
        .await
        .expect("a second CreateSchedule is no error");
    assert_eq!(
        again,
        Sent::Scheduled {
            name: schedule_name(&message),
            existed: true
        },
        "a retried send finds its schedule"
    );
    assert!(
        inbox.take(queue, Duration::ZERO).await.is_empty(),
        "a scheduled message waits for its time"
    );
}
