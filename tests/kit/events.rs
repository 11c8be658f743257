//! Events and the dead-man's switch, through the real handlers: each fact published once.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::events::{Event, EventType};
use nextdue::item::AttributeValue;
use nextdue::testing::Harness;
use serde_json::json;

use crate::kinds::registry;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap()
}

fn of(events: &[Event], kind: EventType) -> Vec<&Event> {
    events.iter().filter(|e| e.kind == kind).collect()
}

#[tokio::test]
async fn a_worker_failing_its_three_attempts_tells_three_failures_and_one_give_up() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(json!({"id": "flaky", "kind": "always-fails", "enabled": true}))
        .await
        .unwrap();
    harness.advance(TimeDelta::hours(1)).await;
    let events = harness.events();
    let failed = of(&events, EventType::RunFailed);
    let retries: Vec<Option<bool>> = failed.iter().map(|e| e.detail.will_retry).collect();
    assert_eq!(
        retries,
        [Some(true), Some(true), Some(false)],
        "{events:#?}"
    );
    let attempts: Vec<Option<u32>> = failed.iter().map(|e| e.detail.attempt).collect();
    assert_eq!(attempts, [Some(1), Some(2), Some(3)]);
    let gave_up = of(&events, EventType::GaveUp);
    assert_eq!(gave_up.len(), 1, "{events:#?}");
    assert_eq!(
        gave_up[0].detail.message.as_deref(),
        Some("attempt 3 failed on purpose")
    );
    // A one-shot that gave up has also stopped; nothing else was told.
    assert_eq!(of(&events, EventType::Stopped).len(), 1);
    assert_eq!(events.len(), 5, "{events:#?}");
    // Every fact has its own id, and the ids name the worker, activation and due time.
    let runs = harness.runs("flaky");
    let first = &failed[0].detail;
    assert_eq!(first.worker_id, "flaky");
    assert_eq!(first.kind.as_deref(), Some("always-fails"));
    assert_eq!(first.queue.as_deref(), Some("default"));
    assert_eq!(first.due, Some(runs[0].due));
    assert_eq!(first.run_id.as_deref(), Some(runs[0].run_id.as_str()));
    assert_eq!(first.version, 1);
    let mut ids: Vec<&str> = events.iter().map(|e| e.detail.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "{ids:?}");
}

#[tokio::test]
async fn a_publish_that_fails_is_retried_and_tells_each_fact_once() {
    let mut harness = Harness::new(registry(), start());
    harness.bus().refuse_next(2);
    harness
        .put_json(json!({"id": "flaky", "kind": "always-fails", "enabled": true, "maxAttempts": 1}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(10)).await;
    let events = harness.events();
    let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EventType::RunFailed, EventType::GaveUp, EventType::Stopped],
        "{events:#?}"
    );
    // The outcome is on the item whatever became of the events.
    assert_eq!(harness.worker("flaky").last_run_succeeded, Some(false));
}

#[tokio::test]
async fn notify_opts_a_worker_out_or_down_to_the_events_it_names() {
    let mut harness = Harness::new(registry(), start());
    for (id, notify) in [
        ("quiet", json!(false)),
        ("only-give-up", json!(["Worker Gave Up"])),
    ] {
        harness
            .put_json(json!({"id": id, "kind": "always-fails", "enabled": true,
                "maxAttempts": 2, "notify": notify}))
            .await
            .unwrap();
    }
    harness
        .put_json(
            json!({"id": "typo", "kind": "always-fails", "enabled": true,
            "notify": ["Worker Gave Upp"]}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(10)).await;
    let events = harness.events();
    let about = |id: &str| -> Vec<EventType> {
        events
            .iter()
            .filter(|e| e.detail.worker_id == id)
            .map(|e| e.kind)
            .collect()
    };
    assert_eq!(about("quiet"), []);
    assert_eq!(about("only-give-up"), [EventType::GaveUp]);
    // A notify naming no event is invalid, and says which it could have named.
    let typo = harness.item("typo").unwrap();
    let Some(AttributeValue::S(message)) = typo.get("lastRunMessage") else {
        panic!("no lastRunMessage on {typo:?}")
    };
    assert!(
        message.contains("notify") && message.contains("Worker Gave Up"),
        "{message}"
    );
    assert_eq!(about("typo"), [EventType::Invalid]);
}

#[tokio::test]
async fn a_disabled_worker_tells_it_stopped_once() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "daily", "kind": "fails-when-asked", "enabled": true,
            "schedule": "rate(1 day)", "executeImmediately": false}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(1)).await;
    harness.set_enabled("daily", false).await;
    harness.advance(TimeDelta::minutes(1)).await;
    harness
        .edit("daily", |item| {
            item.insert("note".into(), AttributeValue::S("edited".into()));
        })
        .await;
    harness.advance(TimeDelta::minutes(1)).await;
    let events = harness.events();
    assert_eq!(of(&events, EventType::Stopped).len(), 1, "{events:#?}");
    assert_eq!(events.len(), 1, "{events:#?}");
}

#[tokio::test]
async fn an_overdue_worker_is_told_once_about_ten_minutes_late_and_once_when_it_recovers() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "pulse", "kind": "fails-when-asked", "enabled": true,
            "schedule": "rate(1 minute)", "alertAfter": "10 minutes", "params": {"fail": false}}),
        )
        .await
        .unwrap();
    // Healthy for an hour: nothing to tell.
    harness.advance(TimeDelta::hours(1)).await;
    assert_eq!(harness.events(), [], "a healthy worker tells nothing");
    let last_success = harness.worker("pulse").last_run_finish_time.unwrap();
    harness
        .edit("pulse", |item| {
            item.insert(
                "params".into(),
                AttributeValue::M([("fail".into(), AttributeValue::Bool(true))].into()),
            );
        })
        .await;
    harness.advance(TimeDelta::minutes(30)).await;
    let events = harness.events();
    let overdue = of(&events, EventType::Overdue);
    assert_eq!(overdue.len(), 1, "{events:#?}");
    let late = overdue[0].detail.time - last_success;
    assert!(
        late >= TimeDelta::minutes(10) && late <= TimeDelta::minutes(12),
        "told {late} after the last success"
    );
    assert!(of(&events, EventType::Recovered).is_empty());
    harness
        .edit("pulse", |item| {
            item.insert(
                "params".into(),
                AttributeValue::M([("fail".into(), AttributeValue::Bool(false))].into()),
            );
        })
        .await;
    harness.advance(TimeDelta::minutes(30)).await;
    let events = harness.events();
    assert_eq!(of(&events, EventType::Overdue).len(), 1, "{events:#?}");
    let recovered = of(&events, EventType::Recovered);
    assert_eq!(recovered.len(), 1, "{events:#?}");
    assert_eq!(
        recovered[0].detail.overdue_since,
        overdue[0].detail.overdue_since
    );
    // Healthy again: the switch is armed for the next due time, and nothing more is told.
    let worker = harness.worker("pulse");
    assert_eq!(worker.overdue_since, None);
    assert!(worker.alert_at.is_some());
    let told = harness.events().len();
    harness.advance(TimeDelta::hours(1)).await;
    assert_eq!(harness.events().len(), told);
}

#[tokio::test]
async fn a_worker_someone_disabled_becomes_overdue_from_the_sweeper() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "pulse", "kind": "fails-when-asked", "enabled": true,
            "schedule": "rate(5 minutes)", "alertAfter": "1 hour"}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(12)).await;
    harness.set_enabled("pulse", false).await;
    harness.advance(TimeDelta::hours(3)).await;
    let events = harness.events();
    let overdue = of(&events, EventType::Overdue);
    assert_eq!(overdue.len(), 1, "{events:#?}");
    // Its last success was at 12:10; the next due time 12:15; an hour later it is overdue.
    assert_eq!(
        overdue[0]
            .detail
            .overdue_since
            .map(|d| d.to_string())
            .as_deref(),
        Some("2027-01-04T13:15:00Z")
    );
    // Stopped and overdue, it is out of the sweeper's index: no more reads.
    assert_eq!(harness.worker("pulse").sweep_at, None);
}

#[tokio::test]
async fn an_alert_after_that_is_not_a_duration_is_invalid_and_says_how_to_write_one() {
    let mut harness = Harness::new(registry(), start());
    for (id, alert_after) in [("number", json!(600)), ("short", json!("10m"))] {
        harness
            .put_json(
                json!({"id": id, "kind": "fails-when-asked", "enabled": true,
                "schedule": "rate(1 minute)", "alertAfter": alert_after}),
            )
            .await
            .unwrap();
    }
    for (id, expected) in [("number", "a string"), ("short", "10 minutes")] {
        let item = harness.item(id).unwrap();
        let Some(AttributeValue::S(message)) = item.get("lastRunMessage") else {
            panic!("no lastRunMessage on {item:?}")
        };
        assert!(
            message.starts_with("invalid: alertAfter") && message.contains(expected),
            "{id}: {message}"
        );
    }
}

#[tokio::test]
async fn an_overdue_worker_whose_alert_after_is_removed_recovers_at_its_next_success() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "pulse", "kind": "fails-when-asked", "enabled": true,
            "schedule": "rate(1 minute)", "alertAfter": "5 minutes", "params": {"fail": true}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(20)).await;
    assert_eq!(of(&harness.events(), EventType::Overdue).len(), 1);
    harness
        .edit("pulse", |item| {
            item.remove("alertAfter");
            item.insert(
                "params".into(),
                AttributeValue::M([("fail".into(), AttributeValue::Bool(false))].into()),
            );
        })
        .await;
    harness.advance(TimeDelta::minutes(5)).await;
    let worker = harness.worker("pulse");
    assert_eq!(worker.overdue_since, None);
    assert_eq!(worker.alert_at, None);
    assert_eq!(of(&harness.events(), EventType::Recovered).len(), 1);
}
