//! Failed runs say why on the item, leave one run record per attempt, and retry only when
//! retrying can help.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{TimeDelta, Utc};
use nextdue::handlers::executor::handle_queue;
use nextdue::item::Status;
use nextdue::lifecycle::Message;
use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_sender_fails_with_the_reason_ses_gave() {
    let stack = TestStack::start("unverified").await;
    let from = format!("nobody@unverified-{}.example.org", stack.prefix);
    stack
        .put(json!({"id": "rejected", "kind": "email", "enabled": true, "maxAttempts": 3,
                    "params": {"from": from, "to": "betty@example.org", "subject": "s", "text": "t"}}))
        .await;
    let worker = stack
        .wait_for("rejected", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(false));
    let message = worker.last_run_message.clone().unwrap();
    assert!(
        message.contains("MessageRejected") && message.contains("not verified"),
        "{message}"
    );
    // SES rejects the same message again, so it is not retried: one attempt, one record.
    let runs = stack.runs("rejected").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(
        (runs[0].succeeded, runs[0].message.as_deref()),
        (Some(false), Some(message.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_up_to_max_attempts() {
    let stack = TestStack::start("retries").await;
    stack
        .put(json!({"id": "flaky", "kind": "always-fails", "enabled": true, "maxAttempts": 3}))
        .await;
    let worker = stack
        .wait_for("flaky", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(false));
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("attempt 3 failed on purpose")
    );
    let runs = stack.runs("flaky").await;
    let attempts: Vec<u32> = runs.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3], "{runs:#?}");
    for pair in runs.windows(2) {
        assert!(
            pair[1].due > pair[0].due,
            "each retry has its own, later due time"
        );
        assert!(pair[1].start_time >= pair[1].due.instant());
    }
    assert_eq!(worker.run_count, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_time_limit_is_cut_off_and_recorded_as_failed() {
    let stack = TestStack::start("timeout").await;
    stack
        .put(json!({"id": "slow", "kind": "sleeps", "enabled": true, "timeoutSeconds": 1, "maxAttempts": 1, "params": {"seconds": 30}}))
        .await;
    let worker = stack
        .wait_for("slow", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(false));
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("timed out after 1 s")
    );
    let runs = stack.runs("slow").await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].duration_ms.unwrap() < 5_000, "{runs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_fails_its_own_run_and_spares_the_rest_of_its_batch() {
    // With panic = "abort" (cargo-lambda's default for release builds unless Cargo.toml sets a
    // release profile) the panic would end the process and every claim in the batch; the
    // release profile unwinds, and nextdue::lambda refuses to build otherwise.
    const { assert!(cfg!(panic = "unwind")) };
    let stack = TestStack::provisioned("panic-batch").await;
    let ids: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let kind = if i == 4 { "panics" } else { "log" };
        stack
            .put(
                json!({"id": id, "kind": kind, "enabled": true, "maxAttempts": 2,
                        "params": {"message": "batch"}}),
            )
            .await;
    }
    stack.drain_stream().await;
    let queue = stack.default_queue().await;
    let mut event = SqsEvent::default();
    for id in &ids {
        let worker = stack
            .wait_for(id, "armed", |w| w.status == Some(Status::Ready))
            .await;
        let message = Message {
            id: id.clone(),
            task_id: worker.task_id.unwrap(),
            due: worker.next_due.unwrap(),
        };
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("m-{id}"));
        record.body = Some(serde_json::to_string(&message).unwrap());
        record.event_source_arn = Some(queue.arn.clone());
        event.records.push(record);
    }
    let deadline = Utc::now() + TimeDelta::seconds(30);
    let response = handle_queue(&event, &stack.stack.executor, deadline).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    for (i, id) in ids.iter().enumerate() {
        let worker = stack.worker(id).await;
        let runs = stack.runs(id).await;
        assert_eq!(runs.len(), 1, "{id}: {runs:#?}");
        if i == 4 {
            assert_eq!(worker.last_run_succeeded, Some(false));
            assert_eq!(
                worker.last_run_message.as_deref(),
                Some("the job panicked: a bug in the job")
            );
            assert_eq!(
                worker.status,
                Some(Status::Ready),
                "a failed attempt, retried"
            );
            assert_eq!(worker.attempt, 1);
        } else {
            assert_eq!(worker.last_run_succeeded, Some(true), "{id}");
            assert_eq!(worker.status, Some(Status::Stopped), "{id}");
        }
    }
}
