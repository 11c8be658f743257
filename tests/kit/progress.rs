//! A running job's progress and checkpoint on the test kit: coalesced writes, a retry resuming
//! from its checkpoint, a fresh start at the next due time, oversized reports refused, and no
//! progress write waking the dispatcher.

use chrono::{TimeDelta, TimeZone, Utc};
use nextdue::item::{AttributeValue, attr};
use nextdue::lifecycle::PROGRESS_EVERY_MILLIS;
use nextdue::testing::Harness;
use serde_json::json;

use crate::kinds::registry;

fn harness() -> Harness {
    Harness::new(
        registry(),
        Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap(),
    )
}

#[tokio::test]
async fn ten_thousand_reports_in_a_run_make_a_write_every_two_seconds_at_most() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "rows", "kind": "counts", "enabled": true,
            "params": {"rows": 10_000, "millisPerRow": 1}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(1)).await;
    let run = &harness.runs("rows")[0];
    assert_eq!(run.succeeded, Some(true), "{run:?}");
    // 10,000 rows of a millisecond or two each (tokio's timer rounds up): at most one write
    // every two seconds of the run (and the first at once).
    let writes = harness.reports("rows");
    let took = run.duration_ms.expect("a finished run has its duration");
    let most = 1 + (took / PROGRESS_EVERY_MILLIS as u64) as usize;
    assert!(
        !writes.is_empty() && writes.len() <= most,
        "{} writes for 20,000 reports (at most {most})",
        writes.len()
    );
    assert!(writes.iter().all(|w| w.written));
    // Straight to the terminal, past the test harness's capture: the README quotes it.
    use std::io::Write;
    writeln!(
        std::io::stderr(),
        "test kit: 20,000 progress and checkpoint calls over a {took} ms run made {} writes",
        writes.len()
    )
    .unwrap();
    // The record keeps the last report, written or not; the worker keeps none of it.
    assert_eq!(run.progress.as_deref(), Some("10000 of 10000 rows"));
    assert_eq!(run.progress_fraction.map(|f| f.value()), Some(1.0));
    let item = harness.item("rows").unwrap();
    for name in [
        attr::PROGRESS,
        attr::PROGRESS_FRACTION,
        attr::PROGRESS_TIME,
        attr::CHECKPOINT,
    ] {
        assert!(
            !item.contains_key(name),
            "{name} left on the item: {item:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_resumes_from_its_checkpoint_and_the_next_due_time_starts_afresh() {
    let mut harness = harness();
    harness.seed_jitter(7);
    harness
        .put_json(json!({"id": "resume", "kind": "counts", "enabled": true,
            "schedule": "rate(1 hour)",
            "params": {"rows": 100, "failAt": 40, "millisPerRow": 100}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(30)).await;
    let runs = harness.runs("resume");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(
        runs[0].message.as_deref(),
        Some("failed on purpose after 40 rows, resumed from 0")
    );
    assert_eq!(runs[0].progress.as_deref(), Some("40 of 100 rows"));
    assert_eq!(
        runs[1].message.as_deref(),
        Some("counted 100 rows, resumed from 40"),
        "the retry of the same due time reads what its failed attempt saved"
    );
    // Done with that due time: the checkpoint is gone, and the next due time starts at 0.
    assert!(
        !harness
            .item("resume")
            .unwrap()
            .contains_key(attr::CHECKPOINT)
    );
    harness.advance(TimeDelta::hours(1)).await;
    let runs = harness.runs("resume");
    assert_eq!(
        runs[2].message.as_deref(),
        Some("failed on purpose after 40 rows, resumed from 0"),
        "{runs:#?}"
    );
}

#[tokio::test]
async fn an_oversized_checkpoint_or_progress_is_refused_to_the_job_and_breaks_nothing() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "big", "kind": "counts", "enabled": true,
            "params": {"rows": 3, "oversized": true}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(1)).await;
    let worker = harness.worker("big");
    assert_eq!(worker.last_run_succeeded, Some(true));
    let message = worker.last_run_message.unwrap_or_default();
    for refusal in [
        "a checkpoint of 5002 bytes: at most 4096",
        "a progress text of 300 bytes: at most 256",
        "a progress fraction of 1.5: a number from 0 to 1",
    ] {
        assert!(message.contains(refusal), "{refusal:?} not in {message:?}");
    }
    assert!(message.starts_with("counted 3 rows"), "{message}");
    assert_eq!(harness.runs("big").len(), 1);
}

#[tokio::test]
async fn no_progress_write_reaches_the_dispatcher() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "quiet", "kind": "counts", "enabled": true,
            "params": {"rows": 50, "millisPerRow": 200}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(1)).await;
    let writes = harness.reports("quiet");
    assert!(writes.len() >= 4, "{} progress writes", writes.len());
    let progress_records = harness
        .dispatched()
        .iter()
        .filter(|record| record.change.new_image.contains_key(attr::PROGRESS_TIME))
        .count();
    assert_eq!(progress_records, 0, "the dispatcher saw a progress write");
    assert_eq!(
        harness.item("quiet").unwrap().get(attr::LAST_RUN_SUCCEEDED),
        Some(&AttributeValue::Bool(true))
    );
}
