//! Workers run when they are due, as often as their schedule says, and tell how it went.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use nextdue::item::Status;
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
