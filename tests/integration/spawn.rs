//! The spawn job's DynamoDB seam (children running and trees stopping are the test kit's: tests/kit).

use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_dynamodb_refuses_fails_permanently_with_the_reason_first() {
    let stack = TestStack::provisioned("spawn-refused").await;
    // An id longer than DynamoDB's 2,048-byte partition key (a spawn worker with such an id is
    // refused at arm time; the seam itself must still call the refusal what it is).
    let child: nextdue::item::Item =
        serde_dynamo::to_item(json!({"id": "c".repeat(2100), "kind": "log"})).unwrap();
    let error = nextdue::job::WorkerWriter::create(&stack.stack.store, &child)
        .await
        .unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(
        error
            .message
            .starts_with("DynamoDB refused the new worker: ValidationException"),
        "{}",
        error.message
    );
    assert!(error.message.len() < 1024, "{} bytes", error.message.len());
}
