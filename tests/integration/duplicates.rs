//! Invariant 2: duplicates start the job once, whatever repeats: messages, executors, stream
//! batches, whole `nextdue dev` processes.

use std::process::Stdio;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{TimeDelta, Utc};
use nextdue::faults::Faults;
use nextdue::handlers::executor::handle_queue;
use nextdue::item::Status;
use nextdue::lifecycle::Message;
use serde_json::json;
use tokio::process::Command;

use crate::support::TestStack;

async fn armed_message(stack: &TestStack, id: &str) -> Message {
    let worker = stack
        .wait_for(id, "armed", |w| w.status == Some(Status::Ready))
        .await;
    Message {
        id: id.into(),
        task_id: worker.task_id.unwrap(),
        due: worker.next_due.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_start_when_the_same_message_comes_ten_times() {
    let mut stack = TestStack::provisioned("dup-message").await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
        .await;
    stack.drain_stream().await;
    let message = armed_message(&stack, "w").await;
    for _ in 0..9 {
        stack.send_message(&message).await;
    }
    stack.start_glue().await;
    stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let runs = stack.runs("w").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_start_when_two_executors_race_on_one_message() {
    let stack = TestStack::provisioned("dup-executors").await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
        .await;
    stack.drain_stream().await;
    let message = armed_message(&stack, "w").await;
    let other = stack.sibling(&Faults::default()).await;
    let queue = stack.default_queue().await;
    let mut record = SqsMessage::default();
    record.message_id = Some("m-1".into());
    record.body = Some(serde_json::to_string(&message).unwrap());
    record.event_source_arn = Some(queue.arn.clone());
    let mut event = SqsEvent::default();
    event.records.push(record);
    let deadline = Utc::now() + TimeDelta::seconds(30);
    let (a, b) = tokio::join!(
        handle_queue(&event, &stack.stack.executor, deadline),
        handle_queue(&event, &other.executor, deadline)
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    let runs = stack.runs("w").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(stack.worker("w").await.run_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_start_when_the_stream_batch_is_replayed() {
    let mut stack = TestStack::provisioned("replay").await;
    stack.put(json!({"id": "w", "kind": "log", "enabled": true, "schedule": "rate(1 hour)", "params": {"message": "once"}})).await;
    stack.drain_stream().await;
    let first = armed_message(&stack, "w").await;
    // The glue keeps its own checkpoint, so it reads the whole stream again from the start.
    stack.start_glue().await;
    let ran = stack.wait_for("w", "run once", |w| w.run_count >= 1).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        ran.task_id.as_deref(),
        Some(first.task_id.as_str()),
        "a replayed enable must not re-arm"
    );
    assert_eq!(stack.runs("w").await.len(), 1);
    assert_eq!(stack.worker("w").await.run_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_one_start_when_two_dev_processes_share_the_resources() {
    let stack = TestStack::provisioned("two-devs").await;
    let mut devs = Vec::new();
    for n in 0..2 {
        let state = stack.state_dir.join(format!("dev-{n}"));
        devs.push(
            Command::new(env!("CARGO_BIN_EXE_nextdue"))
                .args(["dev", "--function-timeout", "60", "--state-dir"])
                .arg(&state)
                .env("AWS_ENDPOINT_URL", &stack.endpoint)
                .env("NEXTDUE_WORKERS_TABLE", &stack.names.workers_table)
                .env("NEXTDUE_RUNS_TABLE", &stack.names.runs_table)
                .env("NEXTDUE_CONTROL_TABLE", &stack.names.control_table)
                .env("NEXTDUE_QUEUE_PREFIX", &stack.names.queue_prefix)
                .env("NEXTDUE_SCHEDULE_GROUP", &stack.names.schedule_group)
                .env("NEXTDUE_EVENT_BUS", &stack.names.event_bus)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("nextdue dev starts"),
        );
    }
    let ids: Vec<String> = (0..6).map(|i| format!("w{i}")).collect();
    for id in &ids {
        stack
            .put(json!({"id": id, "kind": "log", "enabled": true, "params": {"message": "once"}}))
            .await;
    }
    for id in &ids {
        stack
            .wait_for(id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for id in &ids {
        let runs = stack.runs(id).await;
        assert_eq!(runs.len(), 1, "{id}: {runs:#?}");
    }
}
