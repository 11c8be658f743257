//! A spawning worker writes one child worker per run, and each child runs and keeps its record.

use nextdue::item::Status;
use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_children_carry_their_parent_and_run() {
    let stack = TestStack::start("spawn").await;
    let domain = stack.verified_domain().await;
    let to = format!("betty@{domain}");
    stack
        .put(json!({"id": "parent", "kind": "spawn", "enabled": true, "schedule": "rate(2 seconds)",
                    "params": {"worker": {"kind": "email",
                        "params": {"from": format!("anne@{domain}"), "to": to, "subject": "one of many", "text": "hi"}}}}))
        .await;
    stack
        .wait_for("parent", "two runs old", |w| w.run_count >= 2)
        .await;
    let runs = stack.runs("parent").await;
    for run in runs.iter().take(2) {
        let child_id = format!("parent#{}", run.due);
        let child = stack
            .wait_for(&child_id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
        assert_eq!(child.parent_id.as_deref(), Some("parent"));
        assert_eq!(child.spawn_depth, 1);
        assert_eq!(child.last_run_succeeded, Some(true), "{child:#?}");
        assert_eq!(stack.runs(&child_id).await.len(), 1);
    }
    assert!(stack.mail_to(&to).await.len() >= 2);
}

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
    assert!(!error.retryable, "{error:?}");
    assert!(
        error
            .message
            .starts_with("DynamoDB refused the new worker: ValidationException"),
        "{}",
        error.message
    );
    assert!(error.message.len() < 1024, "{} bytes", error.message.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_the_root_of_a_spawn_tree_stops_the_whole_tree() {
    let stack = TestStack::start("spawn-tree").await;
    // A recurring spawn allowed to write recurring children: a tree that would keep growing.
    stack
        .put(
            json!({"id": "root", "kind": "spawn", "enabled": true, "schedule": "rate(2 seconds)",
                    "params": {"allowRecurringChildren": true, "worker": {"kind": "log",
                        "schedule": "rate(2 seconds)", "params": {"message": "leaf"}}}}),
        )
        .await;
    stack
        .wait_for("root", "two runs old", |w| w.run_count >= 2)
        .await;
    let mut root = stack.item("root").await;
    root.insert("enabled".into(), nextdue::item::AttributeValue::Bool(false));
    stack.stack.store.put_worker(root).await.unwrap();
    stack
        .wait_for("root", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    // Every child stops (and disables itself) at its next run.
    let runs = stack.runs("root").await;
    for run in runs.iter().filter(|r| r.succeeded == Some(true)) {
        let id = format!("root#{}", run.due);
        let child = stack
            .wait_for(&id, "stopped with its parent", |w| {
                w.status == Some(Status::Stopped) && !w.enabled
            })
            .await;
        assert!(
            child
                .last_run_message
                .as_deref()
                .unwrap()
                .starts_with("not run: its parent root is disabled or gone"),
            "{child:#?}"
        );
    }
}
