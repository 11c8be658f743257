//! Claims, fencing, retries, time limits, run-now and rescue, through the real handlers.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::item::{AttributeValue, Status, Worker};
use nextdue::lifecycle::{Claimed, JobError, Message, Outcome, claim, finish};
use nextdue::seams::{Applied, WorkerStore};
use nextdue::testing::Harness;
use serde_json::json;

use crate::kinds::registry;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn retryable_failures_are_retried_with_jittered_exponential_backoff_up_to_max_attempts() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(json!({"id": "flaky", "kind": "always-fails", "enabled": true, "maxAttempts": 4}))
        .await
        .unwrap();
    harness.advance(TimeDelta::hours(1)).await;
    let worker = harness.worker("flaky");
    assert_eq!(worker.status, Some(Status::Stopped));
    assert_eq!(worker.last_run_succeeded, Some(false));
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("attempt 4 failed on purpose")
    );
    let runs = harness.runs("flaky");
    let attempts: Vec<u32> = runs.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4], "{runs:#?}");
    let gaps: Vec<TimeDelta> = runs
        .windows(2)
        .map(|p| p[1].due.instant() - p[0].due.instant())
        .collect();
    // Full jitter under a ceiling that doubles from 5 s: 1–5 s, then 1–10 s, then 1–20 s.
    for (i, gap) in gaps.iter().enumerate() {
        let ceiling = TimeDelta::seconds(5 << i);
        assert!(*gap >= TimeDelta::seconds(1) && *gap <= ceiling, "{gaps:?}");
    }
    for run in &runs {
        assert_eq!(
            run.start_time,
            run.due.instant(),
            "each retry at its own due time"
        );
    }
}

#[tokio::test]
async fn every_attempt_at_an_occurrence_has_the_same_idempotency_key() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(json!({"id": "w", "kind": "third-time", "enabled": true,
            "schedule": "rate(1 hour)", "params": {}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(30)).await;
    let runs = harness.runs("w");
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let first = start().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for run in &runs {
        let message = run.message.as_deref().unwrap();
        assert!(
            message.starts_with(&format!("occurrence {first} due ")),
            "{message}"
        );
        assert!(message.ends_with(&run.due.to_string()), "{message}");
    }
    assert_ne!(
        runs[1].due, runs[0].due,
        "a retry has a due time of its own"
    );
    assert_eq!(runs[2].succeeded, Some(true));
}

#[tokio::test]
async fn a_seeded_jitter_gives_the_same_retry_times_on_every_run() {
    use rand::{Rng, SeedableRng};
    let mut harness = Harness::new(registry(), start());
    harness.seed_jitter(7);
    harness
        .put_json(json!({"id": "flaky", "kind": "always-fails", "enabled": true, "maxAttempts": 4}))
        .await
        .unwrap();
    harness.advance(TimeDelta::hours(1)).await;
    let runs = harness.runs("flaky");
    let gaps: Vec<i64> = runs
        .windows(2)
        .map(|p| (p[1].due.instant() - p[0].due.instant()).num_seconds())
        .collect();
    // The seed's draws, through the backoff the executor uses.
    let mut draws = rand::rngs::StdRng::seed_from_u64(7);
    let policy = nextdue::lifecycle::retry::DEFAULT_RETRY_POLICY;
    let expected: Vec<i64> = (1..=3)
        .map(|attempt| policy.delay_seconds(attempt, draws.random::<f64>()))
        .collect();
    assert_eq!(gaps, expected);
}

#[tokio::test]
async fn a_mail_the_test_fails_is_retried_and_sent_once() {
    let mut harness = Harness::new(registry(), start());
    harness.mailer().fail_next(JobError::retryable(
        "Throttling: Maximum sending rate exceeded",
    ));
    harness
        .put_json(json!({"id": "mail", "kind": "email", "enabled": true,
            "params": {"from": "a@example.com", "to": "b@example.com", "text": "hi"}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(5)).await;
    let runs = harness.runs("mail");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(runs[0].message.as_deref().unwrap().contains("Throttling"));
    assert_eq!(runs[1].succeeded, Some(true));
    assert_eq!(harness.mail().len(), 1);
}

#[tokio::test]
async fn a_run_past_its_time_limit_is_cut_off_at_it() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "slow", "kind": "sleeps", "enabled": true, "timeoutSeconds": 30,
            "maxAttempts": 1, "params": {"seconds": 600}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(20)).await;
    let worker = harness.worker("slow");
    assert_eq!(worker.status, Some(Status::Stopped));
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("timed out after 30 s")
    );
    let runs = harness.runs("slow");
    assert_eq!(runs.len(), 1);
    let took = runs[0].finish_time.unwrap() - runs[0].start_time;
    assert!(
        took >= TimeDelta::seconds(30) && took < TimeDelta::seconds(31),
        "{took}"
    );
}

#[tokio::test]
async fn a_panicking_job_fails_its_own_run_and_spares_the_rest_of_its_batch() {
    let mut harness = Harness::new(registry(), start());
    for i in 0..10 {
        let kind = if i == 4 { "panics" } else { "log" };
        harness
            .put_json(json!({"id": format!("w{i}"), "kind": kind, "enabled": true,
                "maxAttempts": 1, "params": {"message": "batch"}}))
            .await
            .unwrap();
    }
    // All ten are due at the same instant: one executor batch.
    harness.advance(TimeDelta::seconds(1)).await;
    for i in 0..10 {
        let worker = harness.worker(&format!("w{i}"));
        assert_eq!(worker.status, Some(Status::Stopped), "w{i}");
        if i == 4 {
            assert_eq!(
                worker.last_run_message.as_deref(),
                Some("the job panicked: a bug in the job")
            );
        } else {
            assert_eq!(worker.last_run_succeeded, Some(true), "w{i}");
        }
    }
    assert!(harness.dead_letters().is_empty());
}

#[tokio::test]
async fn disable_then_re_enable_fences_off_the_old_task() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "w", "kind": "log", "enabled": true, "schedule": "rate(1 minute)",
            "params": {"message": "hi"}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::seconds(90)).await;
    let old = harness.worker("w");
    let old_task = old.task_id.clone().unwrap();
    assert_eq!(old.run_count, 2);

    harness.set_enabled("w", false).await;
    assert_eq!(harness.worker("w").status, Some(Status::Stopped));
    harness.advance(TimeDelta::minutes(5)).await;
    assert_eq!(harness.runs("w").len(), 2, "a disabled worker ran");

    harness.set_enabled("w", true).await;
    let new_task = harness.worker("w").task_id.unwrap();
    assert_ne!(new_task, old_task);
    // A message of the old task turns up, due now: it must be skipped.
    let stale = Message {
        id: "w".into(),
        task_id: old_task.clone(),
        due: old.next_due.unwrap(),
    };
    let queue = nextdue::seams::Deliver::worker_queue(harness.delivery(), "default")
        .await
        .unwrap();
    harness.delivery().enqueue(
        queue,
        serde_json::to_string(&stale).unwrap(),
        harness.now(),
        0,
    );
    harness.advance(TimeDelta::minutes(3)).await;
    let runs = harness.runs("w");
    assert_eq!(
        runs.iter().filter(|r| r.task_id == old_task).count(),
        2,
        "{runs:#?}"
    );
    assert_eq!(
        runs.iter().filter(|r| r.task_id == new_task).count(),
        4,
        "{runs:#?}"
    );
}

#[tokio::test]
async fn run_now_runs_once_and_the_worker_keeps_its_grid() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "hourly", "kind": "log", "enabled": true, "schedule": "rate(1 hour)",
            "executeImmediately": false, "params": {"message": "tick"}}),
        )
        .await
        .unwrap();
    let grid = harness.worker("hourly").next_due.unwrap();
    harness.advance(TimeDelta::minutes(10)).await;
    harness
        .edit("hourly", |item| {
            item.insert("runNow".into(), AttributeValue::Bool(true));
        })
        .await;
    harness.advance(TimeDelta::seconds(1)).await;
    let after = harness.worker("hourly");
    assert_eq!((after.run_count, after.status), (1, Some(Status::Ready)));
    assert_eq!(after.next_due, Some(grid), "back on the grid");
    assert_eq!((after.run_now, after.resume_due), (None, None));
    harness.advance(TimeDelta::minutes(50)).await;
    let due: Vec<DateTime<Utc>> = harness
        .runs("hourly")
        .iter()
        .map(|r| r.due.instant())
        .collect();
    assert_eq!(due, [start() + TimeDelta::minutes(10), grid.instant()]);
}

#[tokio::test]
async fn run_now_requests_in_quick_succession_never_start_one_due_time_twice() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(json!({"id": "once", "kind": "log", "enabled": true,
            "params": {"message": "tick"}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::seconds(1)).await;
    assert_eq!(harness.worker("once").status, Some(Status::Stopped));
    for _ in 0..20 {
        harness
            .edit("once", |item| {
                item.insert("runNow".into(), AttributeValue::Bool(true));
            })
            .await;
        harness.advance(TimeDelta::milliseconds(100)).await;
    }
    harness.advance(TimeDelta::seconds(30)).await;
    let runs = harness.runs("once");
    let identities: std::collections::BTreeSet<_> = runs
        .iter()
        .map(|r| (r.task_id.clone(), r.due, r.attempt))
        .collect();
    assert_eq!(
        identities.len(),
        runs.len(),
        "one start per due time: {runs:#?}"
    );
    assert!(runs.len() > 1, "{runs:#?}");
    let worker = harness.worker("once");
    assert_eq!(
        (worker.status, worker.run_now),
        (Some(Status::Stopped), None)
    );
}

#[tokio::test]
async fn run_now_on_a_disabled_worker_is_reported_not_dropped() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "off", "kind": "log", "enabled": false, "runNow": true,
            "params": {"message": "tick"}}),
        )
        .await
        .unwrap();
    let worker = harness.worker("off");
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("run-now request ignored: the worker is disabled (set enabled to true to run it)")
    );
    assert_eq!((worker.run_now, worker.run_count), (None, 0));
}

#[tokio::test]
async fn a_claim_whose_executor_died_is_rescued_after_its_lease_and_retried() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(json!({"id": "w", "kind": "log", "enabled": true,
            "nextDue": "2027-01-04T12:10:00Z", "params": {"message": "hi"}}))
        .await
        .unwrap();
    // An executor receives the message at its due time, claims the run, and dies.
    let due = Utc.with_ymd_and_hms(2027, 1, 4, 12, 10, 0).unwrap();
    let received = harness.delivery().take_due(due, 10);
    assert_eq!(received.len(), 1);
    let message: Message = serde_json::from_str(&received[0].body).unwrap();
    harness.advance_to(due).await;
    let lease = due + TimeDelta::minutes(15);
    let claimed = harness
        .store()
        .apply(&claim(&message, due, lease, "dead-executor"))
        .await
        .unwrap();
    assert!(matches!(claimed, Applied::Written(_)));

    harness.advance(TimeDelta::minutes(14)).await;
    assert_eq!(
        harness.worker("w").status,
        Some(Status::Running),
        "not before the lease ends"
    );
    harness.advance(TimeDelta::minutes(10)).await;
    let runs = harness.runs("w");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("lost: the run did not finish"),
        "{runs:#?}"
    );
    assert_eq!((runs[1].attempt, runs[1].succeeded), (2, Some(true)));
    assert_eq!(harness.worker("w").status, Some(Status::Stopped));
    assert_eq!(harness.sweeps().iter().map(|s| s.rescued).sum::<usize>(), 1);
}

/// An executor claims the run of worker `w` (a one-shot `log` due at 12:10 on the harness's
/// clock, now) and dies; returns the claimed run.
async fn claim_and_die(harness: &mut Harness) -> Claimed {
    harness
        .put_json(json!({"id": "w", "kind": "log", "enabled": true,
            "nextDue": "2027-01-04T12:10:00Z", "params": {"message": "hi"}}))
        .await
        .unwrap();
    let due = Utc.with_ymd_and_hms(2027, 1, 4, 12, 10, 0).unwrap();
    let received = harness.delivery().take_due(due, 10);
    let message: Message = serde_json::from_str(&received[0].body).unwrap();
    harness.advance_to(due).await;
    let lease = due + TimeDelta::minutes(15);
    let Applied::Written(item) = harness
        .store()
        .apply(&claim(&message, due, lease, "dead-executor"))
        .await
        .unwrap()
    else {
        panic!("the claim holds")
    };
    Claimed::from_worker(Worker::from_item(&item).unwrap()).unwrap()
}

#[tokio::test]
async fn a_run_whose_executor_died_after_recording_success_is_not_run_again() {
    let mut harness = Harness::new(registry(), start());
    let claimed = claim_and_die(&mut harness).await;
    // The executor ran the job and wrote the run's record, then died before closing the
    // worker (the crash point between the executor's last two writes).
    let outcome = Outcome {
        result: Ok("logged".into()),
        finished: harness.now() + TimeDelta::seconds(1),
        report: Default::default(),
    };
    let closing = finish(
        &claimed,
        &outcome,
        0.0,
        &registry(),
        &nextdue::lifecycle::Policy::default(),
    );
    harness.store().put_run(&closing.record).await.unwrap();

    harness.advance(TimeDelta::minutes(20)).await;
    let runs = harness.runs("w");
    assert_eq!(runs.len(), 1, "the job ran once, so one run: {runs:#?}");
    let worker = harness.worker("w");
    assert_eq!(worker.status, Some(Status::Stopped));
    assert_eq!(
        (worker.last_run_succeeded, worker.run_count),
        (Some(true), 1)
    );
    assert_eq!(worker.last_run_message.as_deref(), Some("logged"));
    assert_eq!(harness.sweeps().iter().map(|s| s.rescued).sum::<usize>(), 1);
}

#[tokio::test]
async fn a_recorded_permanent_failure_is_not_retried_by_the_rescue() {
    let mut harness = Harness::new(registry(), start());
    let claimed = claim_and_die(&mut harness).await;
    let outcome = Outcome {
        result: Err(JobError::permanent("rejected")),
        finished: harness.now(),
        report: Default::default(),
    };
    let policy = nextdue::lifecycle::Policy::default();
    let closing = finish(&claimed, &outcome, 0.0, &registry(), &policy);
    harness.store().put_run(&closing.record).await.unwrap();

    harness.advance(TimeDelta::minutes(20)).await;
    assert_eq!(harness.runs("w").len(), 1);
    let worker = harness.worker("w");
    assert_eq!(
        (worker.status, worker.last_run_succeeded),
        (Some(Status::Stopped), Some(false))
    );
    assert_eq!(worker.last_run_message.as_deref(), Some("rejected"));
}

#[tokio::test]
async fn a_worker_naming_a_queue_the_deployment_lacks_is_invalid_and_nothing_waits() {
    let mut harness = Harness::new(registry(), start());
    harness
        .put_json(
            json!({"id": "lost", "kind": "log", "enabled": true, "queue": "reports",
            "params": {"message": "hi"}}),
        )
        .await
        .unwrap();
    let item = harness.item("lost").unwrap();
    assert_eq!(
        item.get("status"),
        Some(&AttributeValue::S("invalid".into()))
    );
    assert!(harness.delivery().waiting().is_empty());
}
