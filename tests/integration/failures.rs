//! Failed runs say why on the item: a mail SES rejects fails permanently with the reason SES
//! gave (retries, time limits and panics are the test kit's: tests/kit).

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
