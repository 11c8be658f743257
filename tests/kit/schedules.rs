//! Schedules over virtual days and weeks: every due time runs once, at its time, never before.

use std::io::Write;
use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use nextdue::item::Status;
use nextdue::jobs::builtin;
use nextdue::testing::Harness;
use serde_json::json;

#[tokio::test]
async fn a_week_of_weekday_mornings_in_london_follows_the_clocks_forward() {
    let real = Instant::now();
    // Thursday 25 March 2027; British Summer Time starts on Sunday the 28th.
    let start = Utc.with_ymd_and_hms(2027, 3, 25, 0, 0, 0).unwrap();
    let mut harness = Harness::new(builtin(), start);
    harness
        .put_json(json!({"id": "standup", "kind": "email", "enabled": true,
            "schedule": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/London",
            "params": {"from": "bot@example.com", "to": ["team@example.com"],
                       "subject": "Stand-up", "text": "Nine o'clock."}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::days(7)).await;
    // Straight to the terminal, past the test harness's capture: the figure the issue asks for.
    writeln!(
        std::io::stderr(),
        "test kit: a week of cron(0 9 ? * MON-FRI *) in Europe/London simulated in {:.0?}",
        real.elapsed()
    )
    .unwrap();

    let runs = harness.runs("standup");
    let due: Vec<String> = runs.iter().map(|r| r.due.to_string()).collect();
    assert_eq!(
        due,
        [
            "2027-03-25T09:00:00Z",
            "2027-03-26T09:00:00Z",
            // 09:00 BST is 08:00 UTC from Monday on.
            "2027-03-29T08:00:00Z",
            "2027-03-30T08:00:00Z",
            "2027-03-31T08:00:00Z",
        ]
    );
    for run in &runs {
        assert_eq!(run.succeeded, Some(true), "{run:#?}");
        assert_eq!(
            run.start_time,
            run.due.instant(),
            "on time, not before: {run:#?}"
        );
    }
    assert_eq!(harness.mail().len(), 5);
    assert_eq!(harness.mail()[0].subject, "Stand-up");
    let worker = harness.worker("standup");
    assert_eq!(worker.status, Some(Status::Ready));
    assert_eq!(
        worker.next_due.map(|d| d.to_string()).as_deref(),
        Some("2027-04-01T08:00:00Z")
    );
    assert_eq!(worker.run_count, 5);
    assert!(
        harness.sweeps().iter().all(|s| !s.did_anything()),
        "nothing was lost to rescue"
    );
}

#[tokio::test]
async fn a_rate_schedule_runs_on_its_anchored_grid_however_late_the_runs_start() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(crate::kinds::registry(), start);
    harness
        .put_json(json!({"id": "tick", "kind": "sleeps", "enabled": true,
            "schedule": "rate(1 minute)", "params": {"seconds": 20}}))
        .await
        .unwrap();
    harness
        .advance_to(start + TimeDelta::seconds(9 * 60 + 30))
        .await;
    let runs = harness.runs("tick");
    assert_eq!(runs.len(), 10, "{runs:#?}");
    for (i, run) in runs.iter().enumerate() {
        // Each run takes 20 s, yet the next is due a whole minute after the previous due time.
        assert_eq!(run.due.instant(), start + TimeDelta::minutes(i as i64));
        // SQS delays are whole seconds, rounded up: a run starts at its due time or just after.
        let late = run.start_time - run.due.instant();
        assert!(
            late >= TimeDelta::zero() && late < TimeDelta::seconds(1),
            "{run:#?}"
        );
        assert!(run.finish_time.unwrap() >= run.start_time + TimeDelta::seconds(20));
    }
}

#[tokio::test]
async fn execute_immediately_false_waits_for_the_first_period() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(builtin(), start);
    harness
        .put_json(json!({"id": "later", "kind": "log", "enabled": true,
            "executeImmediately": false, "schedule": "rate(5 minutes)",
            "params": {"message": "later"}}))
        .await
        .unwrap();
    let armed = harness.worker("later");
    assert_eq!(armed.status, Some(Status::Ready));
    assert_eq!(
        armed.next_due.unwrap().instant(),
        start + TimeDelta::minutes(5)
    );
    harness.advance(TimeDelta::seconds(299)).await;
    assert!(harness.runs("later").is_empty());
    harness.advance(TimeDelta::seconds(1)).await;
    assert_eq!(harness.runs("later").len(), 1);
}

#[tokio::test]
async fn etas_a_few_seconds_or_days_ahead_run_at_them_not_before() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(builtin(), start);
    // A JavaScript timestamp (milliseconds) 8 s ahead, and an offset time three days ahead:
    // the first through an SQS delay, the second through a one-time schedule.
    harness
        .put_json(json!({"id": "soon", "kind": "log", "enabled": true,
            "nextDue": "2027-01-04T12:00:08.000Z", "params": {"message": "soon"}}))
        .await
        .unwrap();
    harness
        .put_json(json!({"id": "far", "kind": "log", "enabled": true,
            "nextDue": "2027-01-07T13:00:00+01:00", "params": {"message": "far"}}))
        .await
        .unwrap();
    let waiting = harness.delivery().waiting();
    assert_eq!(waiting.len(), 2, "{waiting:#?}");
    assert!(
        waiting.iter().any(|w| w.schedule.is_some()),
        "the far one is a schedule"
    );
    harness.advance(TimeDelta::days(4)).await;
    for (id, due) in [
        ("soon", "2027-01-04T12:00:08Z"),
        ("far", "2027-01-07T12:00:00Z"),
    ] {
        let runs = harness.runs(id);
        assert_eq!(runs.len(), 1, "{id}: {runs:#?}");
        assert_eq!(runs[0].due.to_string(), due);
        assert_eq!(runs[0].start_time, runs[0].due.instant(), "{id}");
        assert_eq!(harness.worker(id).status, Some(Status::Stopped));
    }
}

#[tokio::test]
async fn a_cron_with_l_minus_2_runs_two_days_before_each_month_ends() {
    let start = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let mut harness = Harness::new(builtin(), start);
    harness
        .put_json(json!({"id": "month-end", "kind": "log", "enabled": true,
            "schedule": "cron(0 23 L-2 * ? *)", "params": {"message": "closing"}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::days(90)).await;
    let due: Vec<String> = harness
        .runs("month-end")
        .iter()
        .map(|r| r.due.to_string())
        .collect();
    assert_eq!(
        due,
        [
            "2027-01-29T23:00:00Z",
            "2027-02-26T23:00:00Z",
            "2027-03-29T23:00:00Z"
        ]
    );
}
