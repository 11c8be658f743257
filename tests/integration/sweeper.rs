//! The sweeper is the second net under invariant 1: runs whose executor died, and ready workers
//! whose message went missing, still run.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use nextdue::handlers::sweeper::sweep_once;
use nextdue::item::Status;
use nextdue::lifecycle::{Message, claim};
use nextdue::seams::Applied;
use nextdue::seams::WorkerStore as _;
use nextdue::timestamp::Due;
use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_claim_is_rescued_and_retried() {
    let stack = TestStack::start("rescue").await;
    let soon = Due::ceil(Utc::now() + TimeDelta::seconds(3));
    stack.put(json!({"id": "w", "kind": "log", "enabled": true, "nextDue": soon, "params": {"message": "hi"}})).await;
    let armed = stack
        .wait_for("w", "armed", |w| w.status == Some(Status::Ready))
        .await;

    // An executor claims the run and dies before it can finish: its lease runs out in 2 s.
    let message = Message {
        id: "w".into(),
        task_id: armed.task_id.clone().unwrap(),
        due: soon,
    };
    let now = Utc::now();
    let written = stack
        .stack
        .store
        .apply(&claim(
            &message,
            now,
            now + TimeDelta::seconds(2),
            "dead-run",
        ))
        .await
        .unwrap();
    assert!(matches!(written, Applied::Written(_)));

    let done = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(done.last_run_succeeded, Some(true), "{done:#?}");
    let runs = stack.runs("w").await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!((runs[0].attempt, runs[0].succeeded), (1, Some(false)));
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("lost: the run did not finish before its lease expired")
    );
    assert_eq!((runs[1].attempt, runs[1].succeeded), (2, Some(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_delivery_is_sent_again() {
    let stack = TestStack::start("lost").await;
    let due = Due::ceil(Utc::now() + TimeDelta::seconds(10));
    stack.put(json!({"id": "w", "kind": "log", "enabled": true, "nextDue": due, "params": {"message": "hi"}})).await;
    stack
        .wait_for("w", "armed", |w| w.status == Some(Status::Ready))
        .await;
    // The delayed message is lost with everything else in the queue, once it is there (the
    // dispatcher sends it after reading the armed state; under the suite's load that takes a
    // moment).
    let queue = stack.default_queue().await;
    let started = std::time::Instant::now();
    while stack.delayed().await == 0 {
        assert!(
            started.elapsed() < crate::support::PATIENCE,
            "the message was never sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        Utc::now() < due.instant(),
        "the test needs the message still delayed"
    );
    stack
        .stack
        .clients
        .sqs
        .purge_queue()
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap();

    let done = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    let runs = stack.runs("w").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert!(
        runs[0].start_time
            >= due.instant() + TimeDelta::seconds(crate::support::SWEEP_GRACE_SECONDS)
    );
    assert_eq!(done.last_run_succeeded, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_the_sweeper_cannot_act_on_does_not_end_the_pass() {
    let stack =
        TestStack::provisioned_with_queues("sweep-isolation", 30, &["default", "doomed"]).await;
    let due = Due::ceil(Utc::now());
    for (id, queue) in [("on-doomed", "doomed"), ("on-default", "default")] {
        stack
            .put(
                json!({"id": id, "kind": "log", "enabled": true, "queue": queue, "nextDue": due,
                        "params": {"message": "hi"}}),
            )
            .await;
    }
    stack.drain_stream().await;
    // Both messages are lost, and then one worker's queue is deleted under it.
    let sqs = &stack.stack.clients.sqs;
    for queue in ["doomed", "default"] {
        let url = stack.queue(queue).await.url;
        sqs.purge_queue().queue_url(url).send().await.unwrap();
    }
    let doomed = stack.queue("doomed").await.url;
    sqs.delete_queue().queue_url(doomed).send().await.unwrap();

    let later = due.instant() + TimeDelta::seconds(crate::support::SWEEP_GRACE_SECONDS + 1);
    let report = sweep_once(&stack.stack.sweeper, later)
        .await
        .expect("a pass fails only when the index cannot be read");
    assert_eq!((report.failed, report.redelivered), (1, 1), "{report:?}");
    assert_eq!(
        stack.queued().await,
        1,
        "the other worker's message was sent again"
    );

    // The failing worker is tried again on a later pass, and still fails alone.
    let much_later = later + TimeDelta::seconds(crate::support::SWEEP_GRACE_SECONDS + 1);
    let report = sweep_once(&stack.stack.sweeper, much_later).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_worker_that_no_longer_decodes_leaves_the_index_with_a_reason() {
    let stack = TestStack::provisioned("undecodable").await;
    let due = Due::ceil(Utc::now());
    for id in ["by-sweeper", "by-dispatcher"] {
        stack
            .put(json!({"id": id, "kind": "log", "enabled": true, "nextDue": due, "params": {"message": "hi"}}))
            .await;
    }
    stack.drain_stream().await;
    // `enabled` set to the string "false" on both ready workers.
    for id in ["by-sweeper", "by-dispatcher"] {
        let mut item = stack.item(id).await;
        item.insert(
            "enabled".into(),
            nextdue::item::AttributeValue::S("false".into()),
        );
        stack.stack.store.put_worker(item).await.unwrap();
    }
    // The sweeper meets one before any dispatcher does (a lost record, or an entry from before
    // this fix); a pass marks both, as it finds them in the index.
    let later = due.instant() + TimeDelta::seconds(crate::support::SWEEP_GRACE_SECONDS + 1);
    let report = sweep_once(&stack.stack.sweeper, later).await.unwrap();
    assert_eq!(report.invalidated, 2, "{report:?}");
    // The dispatcher's view of the same changes leads nowhere new.
    stack.drain_stream().await;
    for id in ["by-sweeper", "by-dispatcher"] {
        let item = stack.item(id).await;
        assert_eq!(
            item.get("status"),
            Some(&nextdue::item::AttributeValue::S("invalid".into()))
        );
        assert!(item.get("sweepShard").is_none() && item.get("sweepAt").is_none());
        let Some(nextdue::item::AttributeValue::S(message)) = item.get("lastRunMessage") else {
            panic!("{id}: no message")
        };
        assert_eq!(
            message,
            "invalid: enabled: expected a boolean (BOOL), got a string (S) \"false\""
        );
    }
    let report = sweep_once(&stack.stack.sweeper, later).await.unwrap();
    assert_eq!(report.looked_at, 0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_overdue_workers_are_re_sent_at_most_a_cap_a_pass_and_none_is_lost() {
    use nextdue::handlers::sweeper::MAX_RESENDS_PER_PASS;
    let stack = TestStack::provisioned("resend-cap").await;
    let items: Vec<nextdue::item::Item> = (0..1000)
        .map(|i| {
            serde_dynamo::to_item(json!({"id": format!("w{i:04}"), "kind": "log",
                "enabled": true, "params": {"message": "m"}}))
            .unwrap()
        })
        .collect();
    stack.stack.store.put_workers(items).await.unwrap();
    // The dispatcher arms each and sends its message; no executor takes them.
    stack.drain_stream().await;
    let url = stack.queue_url(&stack.names.queue_name("default")).await;
    let later = Utc::now() + TimeDelta::hours(1);

    // All 1,000 are overdue, and their messages wait in the queue: it is deep, so none is sent.
    let deep = sweep_once(&stack.stack.sweeper, later).await.unwrap();
    assert_eq!((deep.redelivered, deep.held_back), (0, 1000), "{deep:?}");

    // The messages are lost (purged). Each pass re-sends at most the cap, oldest first; the
    // queue is read empty after each pass, as an executor would take them.
    stack
        .stack
        .clients
        .sqs
        .purge_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let mut sent = std::collections::BTreeMap::<String, usize>::new();
    let mut passes = 0;
    loop {
        let report = sweep_once(&stack.stack.sweeper, later).await.unwrap();
        assert!(report.redelivered <= MAX_RESENDS_PER_PASS, "{report:?}");
        if report.redelivered == 0 {
            break;
        }
        passes += 1;
        let mut taken = 0;
        while taken < report.redelivered {
            let messages = stack.receive(&url).await;
            assert!(!messages.is_empty(), "a re-sent message went missing");
            for message in messages {
                let body: Message = serde_json::from_str(message.body().unwrap()).unwrap();
                *sent.entry(body.id).or_default() += 1;
                stack
                    .stack
                    .clients
                    .sqs
                    .delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                taken += 1;
            }
        }
    }
    assert_eq!(
        passes,
        1000 / MAX_RESENDS_PER_PASS,
        "at the cap, pass after pass"
    );
    assert_eq!(
        sent.len(),
        1000,
        "every overdue worker's message was sent again"
    );
    assert!(sent.values().all(|n| *n == 1), "and each once");
}
