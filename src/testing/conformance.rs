//! The promises of a [`WorkerStore`], as one suite that every implementation must pass: the
//! test kit's memory store and DynamoDB's adapter (on the emulator) run these same checks, so
//! the kit is known to behave as the real store does. Each check panics with the promise it
//! found broken.

use chrono::{TimeDelta, Utc};

use crate::item::{AttributeValue, Item, RunRecord, attr};
use crate::lifecycle::update::{n, s};
use crate::lifecycle::{Condition, Update};
use crate::seams::{Applied, RunWrite, StoreError, WorkerStore};
use crate::timestamp::Due;

/// Runs every check against `store`, on items whose ids start with `prefix` (so suites on
/// one table do not meet).
pub async fn worker_store(store: &dyn WorkerStore, prefix: &str) {
    conditional_writes(store, prefix).await;
    run_records(store, prefix).await;
    oversized_writes(store, prefix).await;
    overdue_pages(store, prefix).await;
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
