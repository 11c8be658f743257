//! Invariants 1 and 2 under fire: a handler that dies between any two of its AWS calls loses
//! nothing (the worker still runs) and starts nothing twice for one due time.

use std::collections::BTreeSet;

use chrono::TimeDelta;
use nextdue::dev::checkpoint::Checkpoints;
use nextdue::dev::queues::QueuePump;
use nextdue::dev::streams::StreamPump;
use nextdue::faults::{Faults, Plan};
use nextdue::item::Status;
use nextdue::seams::Deliver as _;
use serde_json::json;

use crate::support::TestStack;

/// The executor's invocation limit (and so the lease of a claim) in these tests.
const FUNCTION_TIMEOUT: i64 = 2;

/// Asserts the worker finished well, with exactly one start per due time.
async fn assert_ran_once_per_due_time(stack: &TestStack, case: &str) {
    let done = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(done.last_run_succeeded, Some(true), "{case}: {done:#?}");
    let runs = stack.runs("w").await;
    let dues: BTreeSet<_> = runs.iter().map(|r| r.due).collect();
    assert_eq!(
        dues.len(),
        runs.len(),
        "{case}: two starts for one due time: {runs:#?}"
    );
    assert_eq!(
        runs.last().and_then(|r| r.succeeded),
        Some(true),
        "{case}: {runs:#?}"
    );
    assert_eq!(
        runs.iter().filter(|r| r.succeeded == Some(true)).count(),
        1,
        "{case}: a run that recorded success was started again: {runs:#?}"
    );
}

/// The executor takes the worker's message and dies after `crash_after` AWS calls (`None`: it
/// does not die); then a healthy stack takes over. Returns the calls the first executor made.
async fn executor_dies(crash_after: Option<usize>) -> Vec<String> {
    let mut stack = TestStack::provisioned_with("exec-crash", FUNCTION_TIMEOUT as u32).await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
        .await;
    stack.drain_stream().await;
    while stack.queued().await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let faults = Faults::new(crash_after.map_or(Plan::Record, Plan::CrashAfter));
    let dying = stack.sibling(&faults).await;
    let queue = dying.delivery.worker_queue("default").await.ok();
    if let Some(queue) = queue.or(stack.stack.delivery.worker_queue("default").await.ok()) {
        let pump = QueuePump::new(
            dying.clients.clone(),
            queue,
            TimeDelta::seconds(FUNCTION_TIMEOUT),
        );
        let _ = pump.run_once(&dying.executor).await;
    }
    stack.start_glue_with(FUNCTION_TIMEOUT).await;
    assert_ran_once_per_due_time(&stack, &format!("executor dead after call {crash_after:?}"))
        .await;
    faults.calls()
}

/// The dispatcher reads the stream and dies after `crash_after` AWS calls; then a healthy stack
/// takes over from the same checkpoint. Returns the calls the first dispatcher made.
async fn dispatcher_dies(crash_after: Option<usize>) -> Vec<String> {
    let mut stack = TestStack::provisioned_with("disp-crash", FUNCTION_TIMEOUT as u32).await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
        .await;
    let faults = Faults::new(crash_after.map_or(Plan::Record, Plan::CrashAfter));
    let dying = stack.sibling(&faults).await;
    let checkpoints = Checkpoints::load(
        stack
            .state_dir
            .join(format!("{}.stream.json", stack.names.workers_table)),
    )
    .unwrap();
    let mut pump = StreamPump::new(
        dying.clients.clone(),
        &stack.names.workers_table,
        checkpoints,
        stack.names.stream_failure_queue_name(),
    );
    // Two passes: the first arms the worker, the second hands the armed state to delivery.
    for _ in 0..2 {
        let _ = pump.run_once(&dying.dispatcher).await;
    }
    stack.start_glue_with(FUNCTION_TIMEOUT).await;
    assert_ran_once_per_due_time(
        &stack,
        &format!("dispatcher dead after call {crash_after:?}"),
    )
    .await;
    assert_eq!(
        stack.runs("w").await.len(),
        1,
        "the dispatcher's crash must not cause a second run"
    );
    faults.calls()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_the_executor_dies_between_any_two_calls() {
    let calls = executor_dies(None).await;
    assert!(
        calls.iter().any(|c| c.contains("UpdateItem")),
        "a clean pass claims and finishes: {calls:?}"
    );
    let cases = (0..=calls.len()).map(|k| executor_dies(Some(k)));
    futures::future::join_all(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_the_dispatcher_dies_between_any_two_calls() {
    let calls = dispatcher_dies(None).await;
    assert!(
        calls.iter().any(|c| c.contains("SendMessage")),
        "a clean pass delivers: {calls:?}"
    );
    let cases = (0..=calls.len()).map(|k| dispatcher_dies(Some(k)));
    futures::future::join_all(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_fails_once_anywhere_loses_nothing() {
    let calls = executor_dies(None).await;
    let cases = (1..=calls.len()).map(|k| async move {
        let stack = TestStack::provisioned_with("fail-once", FUNCTION_TIMEOUT as u32).await;
        let faults = Faults::new(Plan::FailCall(k));
        let flaky = stack.sibling(&faults).await;
        stack
            .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
            .await;
        // The flaky stack runs the whole flow; every handler failure is retried by the glue.
        let options = nextdue::dev::GlueOptions {
            state_dir: stack.state_dir.clone(),
            function_timeout: TimeDelta::seconds(FUNCTION_TIMEOUT),
            sweep_every: std::time::Duration::from_secs(1),
            invoke_url: None,
            clients: None,
        };
        // Starting may itself hit the failing call; start again, as a person would.
        let _glue = loop {
            if let Ok(glue) = nextdue::dev::Glue::start(flaky.clone(), options.clone()).await {
                break glue;
            }
        };
        assert_ran_once_per_due_time(&stack, &format!("call {k} failed once")).await;
    });
    futures::future::join_all(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_record_that_keeps_failing_is_set_aside_and_reported() {
    let stack = TestStack::provisioned_with("set-aside", 30).await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "once"}}))
        .await;
    // A dispatcher none of whose calls get through; the stream is read with healthy clients.
    let broken = stack.sibling(&Faults::new(Plan::CrashAfter(0))).await;
    let checkpoints = Checkpoints::load(stack.state_dir.join("set-aside.json")).unwrap();
    let failures = stack.names.stream_failure_queue_name();
    let mut pump = StreamPump::new(
        stack.stack.clients.clone(),
        &stack.names.workers_table,
        checkpoints,
        failures.clone(),
    );
    let mut handled = 0;
    for _ in 0..nextdue::glue::mapping::STREAM_ATTEMPTS {
        handled += pump.run_once(&broken.dispatcher).await.unwrap();
    }
    assert_eq!(
        handled, 1,
        "after its last attempt the record is set aside and the shard moves on"
    );
    let watch =
        nextdue::dev::dead_letters::DeadLetters::new(stack.stack.clients.clone(), vec![failures]);
    assert_eq!(watch.counts().await.unwrap()[0].1, 1);
    assert_eq!(
        pump.run_once(&broken.dispatcher).await.unwrap(),
        0,
        "the set-aside record is not read again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_record_too_deep_to_decode_is_set_aside_and_the_stream_goes_on() {
    // DynamoDB refuses items nested deeper than 32 levels; the emulator stores them, and the
    // SDK then refuses the whole stream page that holds one.
    let stack = TestStack::provisioned_with("too-deep", 30).await;
    let deep = (0..100).fold(json!("bottom"), |inner, _| json!({ "deeper": inner }));
    stack
        .put(json!({"id": "deep", "kind": "log", "enabled": true, "params": {"message": "x", "extra": deep}}))
        .await;
    stack
        .put(json!({"id": "after", "kind": "log", "enabled": true, "params": {"message": "fine"}}))
        .await;
    let failures = stack.names.stream_failure_queue_name();
    let mut stack = stack;
    stack.start_glue().await;
    let after = stack
        .wait_for("after", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(after.last_run_succeeded, Some(true));
    let watch =
        nextdue::dev::dead_letters::DeadLetters::new(stack.stack.clients.clone(), vec![failures]);
    assert_eq!(
        watch.counts().await.unwrap()[0].1,
        1,
        "the deep record is set aside"
    );
    let queue = stack
        .stack
        .delivery
        .queue_named(&stack.names.stream_failure_queue_name())
        .await
        .unwrap();
    let set_aside = stack
        .stack
        .clients
        .sqs
        .receive_message()
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let body: serde_json::Value =
        serde_json::from_str(set_aside[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["workerId"], "deep",
        "the set-aside record names its worker: {body}"
    );
}
