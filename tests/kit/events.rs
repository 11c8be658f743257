//! Events and the dead-man's switch, through the real handlers: each fact published once.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::events::{Event, EventType};
use nextdue::glue::mapping::STREAM_ATTEMPTS;
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
    assert_eq!(first.worker_id.as_deref(), Some("flaky"));
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
            .filter(|e| e.detail.worker_id.as_deref() == Some(id))
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

/// The stream's dead-letter queue, as the default deployment names it.
fn stream_failures() -> String {
    nextdue::config::Settings::default()
        .names
        .stream_failure_queue_name()
}

/// Makes the record telling `id`'s failure fail every attempt, so it is set aside; the bus
/// then refuses `more` publishes after those.
async fn set_aside_one(harness: &mut Harness, id: &str) {
    set_aside_one_refusing(harness, id, 0).await;
}

/// [`set_aside_one`], with the bus refusing `more` publishes after the record's.
async fn set_aside_one_refusing(harness: &mut Harness, id: &str, more: usize) {
    harness.bus().refuse_next(STREAM_ATTEMPTS as usize + more);
    harness
        .put_json(json!({"id": id, "kind": "always-fails", "enabled": true, "maxAttempts": 1}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(1)).await;
}

#[tokio::test]
async fn dead_letters_are_told_once_per_arrival_and_again_after_the_queue_was_emptied() {
    let mut harness = Harness::new(registry(), start());
    set_aside_one(&mut harness, "first").await;
    assert_eq!(
        harness.set_aside().len(),
        1,
        "the failing record was set aside"
    );
    harness.advance(TimeDelta::minutes(5)).await;
    let told = of(&harness.events(), EventType::DeadLettered)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(told.len(), 1, "{told:#?}");
    let detail = &told[0].detail;
    assert_eq!(
        detail.dead_letter_queue.as_deref(),
        Some(stream_failures().as_str())
    );
    assert_eq!((detail.arrived, detail.waiting), (Some(1), Some(1)));
    assert_eq!(detail.worker_id, None);

    // Two more arrive, a minute apart: each pass that sees one tells it, with its own id.
    set_aside_one(&mut harness, "second").await;
    set_aside_one(&mut harness, "third").await;
    harness.advance(TimeDelta::minutes(5)).await;
    let told = harness.events();
    let told = of(&told, EventType::DeadLettered);
    let counts: Vec<_> = told
        .iter()
        .map(|e| (e.detail.arrived, e.detail.waiting))
        .collect();
    assert_eq!(
        counts,
        [(Some(1), Some(1)), (Some(1), Some(2)), (Some(1), Some(3))]
    );

    // An operator empties the queue: nothing is told, and the next arrival is told afresh.
    harness.delivery().empty(&stream_failures());
    harness.advance(TimeDelta::minutes(5)).await;
    assert_eq!(of(&harness.events(), EventType::DeadLettered).len(), 3);
    set_aside_one(&mut harness, "fourth").await;
    harness.advance(TimeDelta::minutes(5)).await;
    let events = harness.events();
    let told = of(&events, EventType::DeadLettered);
    assert_eq!(told.len(), 4, "{told:#?}");
    assert_eq!(
        (told[3].detail.arrived, told[3].detail.waiting),
        (Some(1), Some(1))
    );
    let mut ids: Vec<&str> = told.iter().map(|e| e.detail.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "a new arrival has a new id: {ids:?}");
}

#[tokio::test]
async fn a_dead_letter_event_the_bus_refused_is_told_at_the_next_pass() {
    let mut harness = Harness::new(registry(), start());
    set_aside_one_refusing(&mut harness, "first", 1).await;
    harness.advance(TimeDelta::minutes(5)).await;
    let events = harness.events();
    let told = of(&events, EventType::DeadLettered);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        harness.sweeps().iter().any(|s| s.failed == 1),
        "the refused pass counted its failure: {:#?}",
        harness.sweeps()
    );
}

#[tokio::test]
async fn a_deployment_that_does_not_publish_dead_lettered_reads_no_dead_letter_queue() {
    let settings = nextdue::config::Settings {
        events: nextdue::events::EventSet::parse("Run Failed").unwrap(),
        ..Default::default()
    };
    let mut harness = Harness::with_settings(registry(), start(), settings);
    set_aside_one(&mut harness, "first").await;
    harness.advance(TimeDelta::minutes(5)).await;
    assert!(of(&harness.events(), EventType::DeadLettered).is_empty());
}
