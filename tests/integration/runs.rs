//! Workers run when they are due, as often as their schedule says, and tell how it went.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use nextdue::item::Status;
use nextdue::lifecycle::Message;
use nextdue::timestamp::Due;
use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_email_is_sent_once_and_recorded() {
    let stack = TestStack::start("oneshot").await;
    let domain = stack.verified_domain().await;
    let to = format!("betty@{domain}");
    stack
        .put(json!({"id": "welcome", "kind": "email", "enabled": true,
                    "params": {"from": format!("anne@{domain}"), "to": to, "subject": "Hi Betty", "text": "I know you love email!"}}))
        .await;
    let worker = stack
        .wait_for("welcome", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(true), "{worker:#?}");
    assert!(
        worker
            .last_run_message
            .as_deref()
            .unwrap()
            .starts_with("sent to 1 recipient")
    );
    let (start, finish) = (
        worker.last_run_start_time.unwrap(),
        worker.last_run_finish_time.unwrap(),
    );
    assert!(start <= finish);
    assert_eq!(worker.run_count, 1);
    let runs = stack.runs("welcome").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!((runs[0].succeeded, runs[0].attempt), (Some(true), 1));
    let mail = stack.mail_to(&to).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert_eq!(
        (mail[0].subject.as_str(), mail[0].source.as_str()),
        ("Hi Betty", format!("anne@{domain}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_drift_rate_schedule_runs_on_an_anchored_grid() {
    let stack = TestStack::start("rate").await;
    stack.put(json!({"id": "tick", "kind": "log", "enabled": true, "schedule": "rate(3 seconds)", "params": {"message": "tick"}})).await;
    let worker = stack
        .wait_for("tick", "three runs old", |w| w.run_count >= 3)
        .await;
    let runs = stack.runs("tick").await;
    assert!(runs.len() >= 3, "{runs:#?}");
    let first = runs[0].due;
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(
            run.due,
            first.plus_seconds(3 * i as i64).unwrap(),
            "run {i} left the grid: {runs:#?}"
        );
        assert!(
            run.start_time >= run.due.instant(),
            "run {i} started before it was due"
        );
    }
    let next = worker.next_due.unwrap();
    assert_eq!(
        (next.instant() - first.instant()).num_seconds() % 3,
        0,
        "nextDue {next} is off the grid from {first}"
    );
    assert!(
        matches!(worker.status, Some(Status::Ready | Status::Running)),
        "{worker:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_disable_then_re_enable_never_runs_the_old_task() {
    let stack = TestStack::start("fence").await;
    let item = json!({"id": "w", "kind": "log", "enabled": true, "schedule": "rate(2 seconds)", "params": {"message": "hi"}});
    stack.put(item.clone()).await;
    let running = stack.wait_for("w", "run once", |w| w.run_count >= 1).await;
    let old_task = running.task_id.clone().unwrap();

    let mut disabled = serde_json::to_value(&running).unwrap();
    disabled["enabled"] = json!(false);
    stack.put(disabled).await;
    let stopped = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    let runs_when_stopped = stack.runs("w").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.runs("w").await.len(),
        runs_when_stopped,
        "a disabled worker ran"
    );

    let mut enabled = serde_json::to_value(&stopped).unwrap();
    enabled["enabled"] = json!(true);
    stack.put(enabled).await;
    let rearmed = stack
        .wait_for("w", "re-armed", |w| {
            w.task_id.as_deref() != Some(old_task.as_str()) && w.run_count > stopped.run_count
        })
        .await;
    let new_task = rearmed.task_id.clone().unwrap();
    assert_ne!(new_task, old_task);

    // A message of the old task, due now, arrives late: it must not run.
    let stale = Message {
        id: "w".into(),
        task_id: old_task.clone(),
        due: rearmed.next_due.unwrap(),
    };
    stack.send_message(&stale).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = stack.runs("w").await;
    let old_runs = runs.iter().filter(|r| r.task_id == old_task).count();
    assert_eq!(
        old_runs, runs_when_stopped,
        "the old task ran after re-enabling: {runs:#?}"
    );
    assert!(runs.iter().any(|r| r.task_id == new_task));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_immediately_false_waits_for_the_first_period() {
    let stack = TestStack::start("later").await;
    let written = Utc::now();
    stack
        .put(
            json!({"id": "later", "kind": "log", "enabled": true, "executeImmediately": false,
                    "schedule": "rate(4 seconds)", "params": {"message": "later"}}),
        )
        .await;
    let armed = stack
        .wait_for("later", "armed", |w| w.status == Some(Status::Ready))
        .await;
    let first_due = armed.next_due.unwrap();
    assert!(
        first_due.instant() >= written + TimeDelta::seconds(3),
        "first due {first_due} is not a period away"
    );
    assert_eq!(armed.run_count, 0);
    stack
        .wait_for("later", "run once", |w| w.run_count >= 1)
        .await;
    let runs = stack.runs("later").await;
    assert_eq!(runs[0].due, first_due);
    assert!(runs[0].start_time >= first_due.instant());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eta_eight_seconds_ahead_runs_at_it_not_before() {
    let stack = TestStack::start("eta").await;
    let due = Due::ceil(Utc::now() + TimeDelta::seconds(8));
    stack.put(json!({"id": "eta", "kind": "log", "enabled": true, "nextDue": due, "params": {"message": "on time"}})).await;
    let worker = stack
        .wait_for("eta", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    let started = worker.last_run_start_time.unwrap();
    assert!(
        started >= due.instant(),
        "started {started} before its due time {due}"
    );
    let late = started - due.instant();
    assert!(
        late <= TimeDelta::milliseconds(1500),
        "started {late} after its due time"
    );
    assert_eq!(stack.runs("eta").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eta_two_hours_ahead_becomes_a_one_time_schedule() {
    let stack = TestStack::start("far").await;
    let due = Due::floor(Utc::now() + TimeDelta::hours(2));
    stack.put(json!({"id": "far", "kind": "log", "enabled": true, "nextDue": due, "params": {"message": "later"}})).await;
    let armed = stack
        .wait_for("far", "armed", |w| w.status == Some(Status::Ready))
        .await;
    assert_eq!(armed.next_due, Some(due));
    let started = std::time::Instant::now();
    while stack.schedules().await.is_empty() {
        assert!(
            started.elapsed() < crate::support::PATIENCE,
            "no schedule was created"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let schedules = stack.schedules().await;
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let worker = stack.worker("far").await;
    assert_eq!((worker.run_count, worker.status), (0, Some(Status::Ready)));
    assert!(stack.runs("far").await.is_empty());
}
