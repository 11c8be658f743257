//! Pauses of a queue or a kind, through the real handlers in virtual time: `hold` keeps due
//! runs waiting and runs each held worker once on resume, `skip` records the due times it
//! skips, and a pause with an end lifts itself.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::controls::{Mode, Scope};
use nextdue::item::{RunRecord, Status};
use nextdue::lifecycle::Message;
use nextdue::seams::Deliver;
use nextdue::testing::Harness;
use nextdue::timestamp::Due;
use serde_json::json;

use crate::kinds::registry;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, hour, minute, 0).unwrap()
}

fn due(hour: u32, minute: u32) -> Due {
    Due::floor(at(hour, minute))
}

fn default_queue() -> Scope {
    Scope::Queue("default".into())
}

/// An hourly cron worker, put at 09:30; its first run is at 10:00.
async fn hourly(harness: &mut Harness) {
    harness
        .put_json(json!({"id": "hourly", "kind": "log", "enabled": true,
            "schedule": "cron(0 * * * ? *)", "params": {"message": "tick"}}))
        .await
        .unwrap();
}

fn ran(runs: &[RunRecord]) -> Vec<Due> {
    runs.iter().filter(|r| !r.skipped).map(|r| r.due).collect()
}

fn skipped(runs: &[RunRecord]) -> Vec<Due> {
    runs.iter().filter(|r| r.skipped).map(|r| r.due).collect()
}

#[tokio::test]
async fn an_hourly_worker_under_a_three_hour_hold_runs_once_on_resume_then_on_its_grid() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.advance_to(at(10, 5)).await;
    harness.pause(&default_queue(), Mode::Hold, None).await;
    harness.advance_to(at(13, 5)).await;
    assert_eq!(
        ran(&harness.runs("hourly")),
        [due(10, 0)],
        "nothing ran while held"
    );
    let held = harness.worker("hourly");
    assert_eq!(held.held_by.as_deref(), Some("queue:default"));
    assert_eq!(
        (held.status, held.next_due),
        (Some(Status::Ready), Some(due(11, 0)))
    );
    let sweeps = harness.sweeps();
    assert_eq!(
        sweeps.iter().map(|s| s.redelivered).sum::<usize>(),
        0,
        "the sweeper re-sends no held worker: {sweeps:#?}"
    );

    let resumed = harness.resume(&default_queue()).await;
    assert_eq!(resumed.released, 1);
    harness.advance_to(at(15, 30)).await;
    let runs = harness.runs("hourly");
    assert_eq!(
        ran(&runs),
        [due(10, 0), due(11, 0), due(14, 0), due(15, 0)],
        "one catch-up run for the held 11:00, then the grid"
    );
    let catch_up = &runs[1];
    assert!(
        catch_up.start_time < at(13, 6),
        "the catch-up ran at the resume: {catch_up:?}"
    );
    assert!(skipped(&runs).is_empty());
    assert_eq!(harness.worker("hourly").held_by, None);
}

#[tokio::test]
async fn under_skip_no_run_happens_and_the_runs_table_shows_each_skipped_due_time() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.advance_to(at(10, 5)).await;
    harness
        .pause(&Scope::Kind("log".into()), Mode::Skip, None)
        .await;
    harness.advance_to(at(13, 5)).await;
    harness.resume(&Scope::Kind("log".into())).await;
    harness.advance_to(at(14, 30)).await;
    let runs = harness.runs("hourly");
    assert_eq!(ran(&runs), [due(10, 0), due(14, 0)]);
    assert_eq!(skipped(&runs), [due(11, 0), due(12, 0), due(13, 0)]);
    let record = runs.iter().find(|r| r.skipped).unwrap();
    assert_eq!(
        record.message.as_deref(),
        Some("skipped: kind log paused (skip) until resumed")
    );
    assert_eq!((record.succeeded, record.attempt), (None, 0));
    let worker = harness.worker("hourly");
    assert_eq!(worker.next_due, Some(due(15, 0)));
    assert_eq!(worker.run_count, 2, "a skipped due time is not a run");
    assert_eq!(worker.last_run_succeeded, Some(true));
}

#[tokio::test]
async fn a_pause_for_an_hour_ends_by_itself_and_its_held_workers_run() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.advance_to(at(10, 5)).await;
    let pause = harness
        .pause(&default_queue(), Mode::Hold, Some(TimeDelta::hours(1)))
        .await;
    assert_eq!(pause.until, Some(at(11, 5)));
    harness.advance_to(at(12, 30)).await;
    let runs = harness.runs("hourly");
    assert_eq!(ran(&runs), [due(10, 0), due(11, 0), due(12, 0)]);
    let late = &runs[1];
    assert!(
        late.start_time >= at(11, 5) && late.start_time < at(11, 7),
        "the held 11:00 ran when the pause ended, within a sweeper pass: {late:?}"
    );
    assert!(harness.sweeps().iter().any(|s| s.released == 1));
}

#[tokio::test]
async fn a_pause_of_another_queue_or_kind_changes_nothing_and_resuming_nothing_says_so() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness
        .pause(&Scope::Kind("email".into()), Mode::Hold, None)
        .await;
    harness
        .pause(&Scope::Queue("reports".into()), Mode::Skip, None)
        .await;
    harness.advance_to(at(12, 30)).await;
    assert_eq!(
        ran(&harness.runs("hourly")),
        [due(10, 0), due(11, 0), due(12, 0)]
    );
    let resumed = harness.resume(&Scope::Kind("log".into())).await;
    assert_eq!((resumed.pause, resumed.released), (None, 0));
}

#[tokio::test]
async fn a_worker_disabled_while_held_stops_and_re_enabled_runs_afresh_under_the_pause_rules() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.pause(&default_queue(), Mode::Hold, None).await;
    harness.advance_to(at(10, 30)).await;
    assert_eq!(
        harness.worker("hourly").held_by.as_deref(),
        Some("queue:default")
    );
    harness.set_enabled("hourly", false).await;
    let stopped = harness.worker("hourly");
    assert_eq!(
        (stopped.status, stopped.held_by),
        (Some(Status::Stopped), None)
    );
    harness.resume(&default_queue()).await;
    harness.set_enabled("hourly", true).await;
    harness.advance_to(at(11, 30)).await;
    assert_eq!(ran(&harness.runs("hourly")), [due(11, 0)]);
}

#[tokio::test]
async fn a_message_that_comes_twice_while_held_holds_once_and_runs_once_after() {
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.pause(&default_queue(), Mode::Hold, None).await;
    harness.advance_to(at(10, 1)).await;
    let held = harness.worker("hourly");
    assert_eq!(held.held_by.as_deref(), Some("queue:default"));
    // A duplicate of the held due time's message: refused by the pause, its hold write finds
    // the worker held already (same condition, same result).
    let duplicate = Message {
        id: "hourly".into(),
        task_id: held.task_id.clone().unwrap(),
        due: due(10, 0),
    };
    let queue = Deliver::worker_queue(harness.delivery(), "default")
        .await
        .unwrap();
    let now = harness.now();
    harness.delivery().enqueue(queue, duplicate.body(), now, 0);
    harness.advance_to(at(10, 10)).await;
    harness.resume(&default_queue()).await;
    harness.advance_to(at(10, 20)).await;
    assert_eq!(
        ran(&harness.runs("hourly")),
        [due(10, 0)],
        "one run for one due time"
    );
}

#[tokio::test]
async fn a_resume_just_after_an_executor_read_the_pause_still_runs_each_held_worker_at_once() {
    // Executors keep the controls they read for a few seconds. A worker held a moment before
    // the resume was held by an executor that read the pause just then: released at once, its
    // delivery would meet that reading and be held again, for the sweeper's next long look.
    let mut harness = Harness::new(registry(), at(9, 30));
    hourly(&mut harness).await;
    harness.pause(&default_queue(), Mode::Hold, None).await;
    harness.advance_to(at(10, 0)).await;
    assert_eq!(
        harness.worker("hourly").held_by.as_deref(),
        Some("queue:default")
    );
    harness.advance(TimeDelta::seconds(1)).await;
    let resumed = harness.resume(&default_queue()).await;
    assert_eq!(resumed.released, 1);
    harness.advance(TimeDelta::minutes(2)).await;
    let runs = harness.runs("hourly");
    assert_eq!(
        ran(&runs),
        [due(10, 0)],
        "the held 10:00 ran after the resume"
    );
    assert!(
        runs[0].start_time < at(10, 1),
        "at once, not at the sweeper's next look: {runs:?}"
    );
}
