//! Failed runs say why on the item, leave one run record per attempt, and retry only when
//! retrying can help.

use nextdue::item::Status;
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
