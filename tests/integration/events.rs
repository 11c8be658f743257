//! Events on the emulator's EventBridge: each fact reaches a queue a rule subscribes, exactly
//! once, however often a message comes, wherever an executor dies and however many sweeper
//! passes see a dead letter.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use nextdue::dev::queues::QueuePump;
use nextdue::faults::{Faults, Plan};
use nextdue::handlers::sweeper::sweep_once;
use nextdue::item::Status;
use nextdue::lifecycle::Message;
use nextdue::seams::Deliver as _;
use serde_json::json;

use crate::support::TestStack;

/// The executor's invocation limit (and so a claim's lease) in the crash test.
const FUNCTION_TIMEOUT: i64 = 2;

/// Waits until the tap holds the `expected` facts, then a little longer for any extra, and
/// asserts each fact came exactly once.
async fn assert_told_once(stack: &TestStack, expected: &[(&str, &str)], case: &str) {
    let mut told: Vec<(String, serde_json::Value)> = Vec::new();
    let deadline = std::time::Instant::now() + crate::support::PATIENCE;
    while told.len() < expected.len() && std::time::Instant::now() < deadline {
        told.extend(stack.take_events().await);
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    told.extend(stack.take_events().await);
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, detail) in &told {
        by_id
            .entry(detail["id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(kind.clone());
    }
    for (id, kinds) in &by_id {
        assert_eq!(
            kinds.len(),
            1,
            "{case}: fact {id} told {} times",
            kinds.len()
        );
    }
    let mut kinds: Vec<(String, String)> = told
        .iter()
        .map(|(kind, detail)| {
            let retry = match detail["willRetry"].as_bool() {
                Some(true) => "retry",
                Some(false) => "no retry",
                None => "",
            };
            (kind.clone(), retry.to_owned())
        })
        .collect();
    kinds.sort();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(kind, retry)| ((*kind).to_owned(), (*retry).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(kinds, expected, "{case}: {told:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fact_reaches_a_subscribed_queue_once_when_a_message_comes_ten_times() {
    let mut stack = TestStack::provisioned("events-dup").await;
    stack
        .put(json!({"id": "w", "kind": "always-fails", "enabled": true, "maxAttempts": 2}))
        .await;
    stack.drain_stream().await;
    let worker = stack
        .wait_for("w", "armed", |w| w.status == Some(Status::Ready))
        .await;
    let message = Message {
        id: "w".into(),
        task_id: worker.task_id.unwrap(),
        due: worker.next_due.unwrap(),
    };
    for _ in 0..9 {
        stack.send_message(&message).await;
    }
    stack.start_glue().await;
    stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_told_once(
        &stack,
        &[
            ("Run Failed", "retry"),
            ("Run Failed", "no retry"),
            ("Worker Gave Up", ""),
            ("Worker Stopped", ""),
        ],
        "ten deliveries",
    )
    .await;
    assert_eq!(stack.runs("w").await.len(), 2);
}

/// The executor takes the message of a worker whose only attempt fails and dies after
/// `crash_after` AWS calls; a healthy stack takes over. Returns the dying executor's calls.
async fn executor_dies(crash_after: Option<usize>) -> Vec<String> {
    let mut stack = TestStack::provisioned_with("events-crash", FUNCTION_TIMEOUT as u32).await;
    stack
        .put(json!({"id": "w", "kind": "always-fails", "enabled": true, "maxAttempts": 1}))
        .await;
    stack.drain_stream().await;
    while stack.queued().await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let faults = Faults::new(crash_after.map_or(Plan::Record, Plan::CrashAfter));
    let dying = stack.sibling(&faults).await;
    if let Ok(queue) = stack.stack.delivery.worker_queue("default").await {
        let pump = QueuePump::new(
            dying.clients.clone(),
            queue,
            TimeDelta::seconds(FUNCTION_TIMEOUT),
        );
        let _ = pump.run_once(&dying.executor).await;
    }
    stack.start_glue_with(FUNCTION_TIMEOUT).await;
    let case = format!("executor dead after call {crash_after:?}");
    let done = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(done.last_run_succeeded, Some(false), "{case}");
    // A run the crash cut short is rescued as a failed attempt: with one attempt allowed, the
    // worker gives up either way, and says so once.
    assert_told_once(
        &stack,
        &[
            ("Run Failed", "no retry"),
            ("Worker Gave Up", ""),
            ("Worker Stopped", ""),
        ],
        &case,
    )
    .await;
    faults.calls()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fact_reaches_a_subscribed_queue_once_when_the_executor_dies_between_any_two_calls() {
    let calls = executor_dies(None).await;
    assert!(
        calls.iter().any(|c| c.contains("UpdateItem")),
        "a clean pass claims and finishes: {calls:?}"
    );
    let cases = (0..=calls.len()).map(|k| executor_dies(Some(k)));
    futures::future::join_all(cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_reach_a_subscribed_queue_once_however_many_passes_see_them() {
    let stack = TestStack::provisioned("events-dead").await;
    stack.dead_letter("default").await;
    stack.dead_letter("default").await;
    for _ in 0..3 {
        let report = sweep_once(&stack.stack.sweeper, Utc::now()).await.unwrap();
        assert_eq!(report.failed, 0, "{report:?}");
    }
    let told = stack.take_events().await;
    let dead: Vec<_> = told
        .iter()
        .filter(|(kind, _)| kind == "Dead Lettered")
        .collect();
    assert_eq!(dead.len(), 1, "three passes, one arrival: {told:#?}");
    let detail = &dead[0].1;
    assert_eq!(detail["queue"], "default");
    assert_eq!(
        detail["deadLetterQueue"],
        stack.names.dead_letter_queue_name("default")
    );
    assert_eq!(
        (detail["arrived"].as_u64(), detail["waiting"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(detail.get("workerId").is_none(), "{detail}");
}
