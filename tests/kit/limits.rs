//! Rate limits, through the real handlers in virtual time: runs beyond a limit are deferred
//! (not failed, not an attempt) to the next free start, spread evenly, across executors.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::controls::{Limit, Scope};
use nextdue::item::Status;
use nextdue::testing::Harness;
use serde_json::json;

use crate::kinds::registry;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, hour, minute, 0).unwrap()
}

/// The most run starts in any window of `length` (each window starting at a start).
fn most_in_any(starts: &[DateTime<Utc>], length: TimeDelta) -> usize {
    starts
        .iter()
        .map(|first| {
            starts
                .iter()
                .filter(|s| **s >= *first && **s < *first + length)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_hundred_workers_due_at_once_under_ten_a_minute_run_over_ten_minutes() {
    let mut harness = Harness::new(registry(), at(9, 0)).with_executors(4);
    harness
        .limit(
            &Scope::Kind("log".into()),
            Some("10/minute".parse().unwrap()),
        )
        .await;
    let due = at(9, 1);
    for i in 0..100 {
        harness
            .put_json(
                json!({"id": format!("w{i:03}"), "kind": "log", "enabled": true,
                "nextDue": due.to_rfc3339(), "params": {"message": "m"}}),
            )
            .await
            .unwrap();
    }
    harness.advance_to(at(9, 30)).await;
    let mut starts = Vec::new();
    for i in 0..100 {
        let id = format!("w{i:03}");
        let worker = harness.worker(&id);
        assert_eq!(worker.status, Some(Status::Stopped), "{id}");
        assert_eq!(
            worker.last_run_succeeded,
            Some(true),
            "{id}: deferred, never failed"
        );
        let runs = harness.runs(&id);
        assert_eq!(runs.len(), 1, "{id}: one run");
        assert_eq!(runs[0].attempt, 1, "{id}: a deferral is not an attempt");
        starts.push(runs[0].start_time);
    }
    starts.sort();
    let first = starts[0];
    let last = starts[99];
    assert!(
        first < due + TimeDelta::seconds(2),
        "the first ran at once: {first}"
    );
    assert!(
        last - first >= TimeDelta::seconds(594) && last - first < TimeDelta::seconds(600),
        "spread over ten minutes: {first} .. {last}"
    );
    assert_eq!(
        most_in_any(&starts, TimeDelta::minutes(1)),
        10,
        "never more than 10 in any minute"
    );
    let per_minute: Vec<usize> = (0..10)
        .map(|m| {
            let from = due + TimeDelta::minutes(m);
            starts
                .iter()
                .filter(|s| **s >= from && **s < from + TimeDelta::minutes(1))
                .count()
        })
        .collect();
    assert_eq!(per_minute, [10; 10], "an even spread: {per_minute:?}");
    let sweeps = harness.sweeps();
    assert_eq!(
        sweeps.iter().map(|s| s.redelivered).sum::<usize>(),
        0,
        "the sweeper re-sends no deferred worker"
    );
}

#[tokio::test]
async fn a_limit_of_another_kind_defers_nothing_and_a_removed_limit_frees_the_rest() {
    let mut harness = Harness::new(registry(), at(9, 0));
    let limit: Limit = "1/hour".parse().unwrap();
    harness
        .limit(&Scope::Kind("email".into()), Some(limit))
        .await;
    harness
        .limit(&Scope::Queue("default".into()), Some(limit))
        .await;
    for i in 0..3 {
        harness
            .put_json(
                json!({"id": format!("w{i}"), "kind": "log", "enabled": true,
                "params": {"message": "m"}}),
            )
            .await
            .unwrap();
    }
    harness.advance_to(at(9, 5)).await;
    let ran = |h: &Harness| {
        (0..3)
            .filter(|i| h.runs(&format!("w{i}")).len() == 1)
            .count()
    };
    assert_eq!(ran(&harness), 1, "one an hour on the default queue");
    let deferred = (0..3)
        .map(|i| harness.worker(&format!("w{i}")))
        .filter(|w| w.deferred_until.is_some())
        .count();
    assert_eq!(
        deferred, 2,
        "the others wait, ready, marked with their start"
    );
    harness.limit(&Scope::Queue("default".into()), None).await;
    harness.advance_to(at(11, 30)).await;
    assert_eq!(
        ran(&harness),
        3,
        "each deferred run kept its reserved start"
    );
}
