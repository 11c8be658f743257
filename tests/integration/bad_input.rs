//! Bad items end as `status = invalid` with a message naming the attribute, and never hold up
//! the good items written beside them.

use nextdue::item::Status;
use nextdue::seams::WorkerStore as _;
use serde_json::json;

use crate::support::TestStack;

/// Bad items as users write them, and how their message on the item begins.
pub fn bad_items() -> Vec<(serde_json::Value, &'static str)> {
    vec![
        (
            json!({"id": "bad-due", "kind": "log", "enabled": true, "nextDue": "yesterday", "params": {"message": "x"}}),
            "invalid: nextDue: expected an RFC 3339 time",
        ),
        (
            json!({"id": "bad-kind", "kind": "teleport", "enabled": true}),
            "invalid: kind: unknown kind \"teleport\"",
        ),
        (
            json!({"id": "bad-params", "kind": "email", "enabled": true, "params": {"from": "anne@example.com", "to": 5, "text": "x"}}),
            "invalid: params.to: invalid type: integer, expected",
        ),
        (
            json!({"id": "bad-schedule", "kind": "log", "enabled": true, "schedule": "cron(0 9 * * * *)", "params": {"message": "x"}}),
            "invalid: schedule: cron: exactly one of day-of-month and day-of-week must be ?",
        ),
        (
            json!({"id": "bad-attempts", "kind": "log", "enabled": true, "maxAttempts": "three", "params": {"message": "x"}}),
            "invalid: maxAttempts: expected a number (N), got a string (S) \"three\"",
        ),
        (
            json!({"id": "bad-queue", "kind": "log", "enabled": true, "queue": "nowhere", "params": {"message": "x"}}),
            "invalid: queue: no queue",
        ),
        (
            json!({"id": "own-queue", "kind": "log", "enabled": true, "queue": "default-dlq", "params": {"message": "x"}}),
            "invalid: queue: no queue \"default-dlq\" in this deployment (its queues: default)",
        ),
        (
            json!({"id": "far-schedule", "kind": "log", "enabled": true, "schedule": "at(2300-01-01T00:00:00)", "params": {"message": "x"}}),
            "invalid: schedule: at: 2300-01-01T00:00:00 is after 2199",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_poisons_bad_items_become_invalid_while_a_good_one_runs() {
    let stack = TestStack::provisioned("bad").await;
    let bad = bad_items();
    // Written before the glue starts, so they reach the dispatcher in one batch with the good one.
    for (item, _) in &bad {
        stack.put(item.clone()).await;
    }
    stack
        .put(json!({"id": "good", "kind": "log", "enabled": true, "params": {"message": "fine"}}))
        .await;
    let mut stack = stack;
    stack.start_glue().await;

    let good = stack
        .wait_for("good", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(good.last_run_succeeded, Some(true));
    for (item, expected) in &bad {
        let id = item["id"].as_str().unwrap();
        let message = stack.invalid_message(id).await;
        assert!(
            message.starts_with(expected),
            "{id}: {message:?} should start with {expected:?}"
        );
        assert!(stack.runs(id).await.is_empty(), "{id} ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_poisons_malformed_messages_end_in_the_dead_letter_queue() {
    let mut stack = TestStack::provisioned_with("dead-letters", 1).await;
    let queue = stack.default_queue().await;
    let bodies = [
        "not json",
        "{}",
        r#"{"id": "w"}"#,
        r#"{"id": "w", "taskId": "t", "due": "soon"}"#,
        r#"{"id": "w", "taskId": "t", "due": "2027-01-01T09:00:00Z", "extra": 1}"#,
    ];
    for body in bodies {
        stack.stack.delivery.forward(&queue, body).await.unwrap();
    }
    stack
        .put(json!({"id": "good", "kind": "log", "enabled": true, "params": {"message": "fine"}}))
        .await;
    stack.start_glue().await;

    let good = stack
        .wait_for("good", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(good.last_run_succeeded, Some(true));
    let watch = nextdue::dev::dead_letters::DeadLetters::new(
        stack.stack.clients.clone(),
        vec![stack.names.dead_letter_queue_name("default")],
    );
    let started = std::time::Instant::now();
    loop {
        let counts = watch.counts().await.unwrap();
        if counts[0].1 == bodies.len() {
            break;
        }
        assert!(
            started.elapsed() < crate::support::PATIENCE,
            "dead letters: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_poisons_an_item_too_big_to_leave_nextdue_its_room() {
    let stack = TestStack::start("too-big").await;
    let domain = stack.verified_domain().await;
    let to = format!("betty@{domain}");
    let email = |id: &str, padding: usize| {
        json!({"id": id, "kind": "email", "enabled": true, "padding": "x".repeat(padding),
               "params": {"from": format!("anne@{domain}"), "to": to, "subject": "s", "text": "t"}})
    };
    // Just under the emulator's limit (405,000 bytes; DynamoDB's is a little higher): it would
    // arm, run and send, then fail to record the outcome.
    stack.put(email("huge", 404_000)).await;
    // Within the room nextdue keeps: it runs, and its finish fits.
    stack
        .put(email("large", nextdue::item::MAX_USER_BYTES - 1_000))
        .await;
    let large = stack
        .wait_for("large", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(
        large.last_run_succeeded,
        Some(true),
        "{:?}",
        large.last_run_message
    );
    let huge = stack
        .wait_for("huge", "invalid", |w| w.status == Some(Status::Invalid))
        .await;
    let message = huge.last_run_message.unwrap();
    assert!(
        message.starts_with("invalid: item: your attributes take 404")
            && message.contains(&format!(
                "at most {} may be yours",
                nextdue::item::MAX_USER_BYTES
            )),
        "{message}"
    );
    assert!(stack.runs("huge").await.is_empty());
    assert_eq!(
        stack.mail_to(&to).await.len(),
        1,
        "only the large worker sent mail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_poisons_good_workers_run_and_the_sweeper_rescues_in_every_shard() {
    use chrono::{TimeDelta, Utc};
    use nextdue::lifecycle::{DEFAULT_SWEEP_SHARDS as SWEEP_SHARDS, Message, claim, sweep_shard};
    use nextdue::timestamp::Due;

    let stack = TestStack::provisioned("poison").await;
    let domain = stack.verified_domain().await;
    let deep = (0..100).fold(json!("bottom"), |inner, _| json!({ "deeper": inner }));
    let log =
        |id: &str| json!({"id": id, "kind": "log", "enabled": true, "params": {"message": "x"}});
    let with = |mut item: serde_json::Value, name: &str, value: serde_json::Value| {
        item[name] = value;
        item
    };
    let bad = [
        (
            with(log("huge"), "padding", json!("x".repeat(404_000))),
            "invalid: item: your attributes take",
        ),
        (
            with(log("own-queue"), "queue", json!("default-dlq")),
            "invalid: queue: no queue \"default-dlq\"",
        ),
        (
            with(log("far"), "schedule", json!("at(2300-01-01T00:00:00)")),
            "invalid: schedule: at: 2300",
        ),
        (
            with(log("typo"), "nxtDue", json!("2027-01-01T00:00:00Z")),
            "invalid: nxtDue: is not an attribute",
        ),
        (
            with(log("string-enabled"), "enabled", json!("true")),
            "invalid: enabled: expected a boolean",
        ),
        (
            json!({"id": "tree", "kind": "spawn", "enabled": true, "schedule": "rate(1 second)",
                   "params": {"worker": {"kind": "log", "schedule": "rate(1 second)", "params": {"message": "x"}}}}),
            "invalid: params.worker.schedule: a recurring spawn may not write recurring children",
        ),
        (
            json!({"id": "p".repeat(2040), "kind": "spawn", "enabled": true,
                   "params": {"worker": {"kind": "log", "params": {"message": "x"}}}}),
            "invalid: id: 2040 bytes leave no room",
        ),
        (
            json!({"id": "headers", "kind": "email", "enabled": true,
                   "params": {"from": format!("a@{domain}"), "to": format!("b@{domain}"),
                              "subject": "hi\r\nBcc: all@example.com", "text": "t"}}),
            "invalid: params.subject: has a control character",
        ),
    ];
    // One good worker and one whose run will be lost, in every shard of the sweeper's index.
    let mut good = Vec::new();
    let mut lost = Vec::new();
    for i in 0.. {
        let id = format!("good-{i}");
        let shard = sweep_shard(&id, SWEEP_SHARDS) as usize;
        if good.iter().all(|(_, s)| *s != shard) {
            good.push((id, shard));
        }
        let id = format!("lost-{i}");
        let shard = sweep_shard(&id, SWEEP_SHARDS) as usize;
        if lost.iter().all(|(_, s)| *s != shard) {
            lost.push((id, shard));
        }
        if good.len() == SWEEP_SHARDS as usize && lost.len() == SWEEP_SHARDS as usize {
            break;
        }
    }
    let due = Due::ceil(Utc::now() + TimeDelta::seconds(5));
    for (id, _) in good.iter().chain(&lost) {
        stack.put(with(log(id), "nextDue", json!(due))).await;
    }
    for (item, _) in &bad {
        stack.put(item.clone()).await;
    }
    stack
        .put(json!({"id": "deep", "kind": "log", "enabled": true, "params": {"message": "x", "extra": deep}}))
        .await;
    stack.drain_stream().await;
    // An executor claims each lost-* worker and dies: only the sweeper can bring them back.
    for (id, _) in &lost {
        let armed = stack.worker(id).await;
        let message = Message {
            id: id.clone(),
            task_id: armed.task_id.unwrap(),
            due: armed.next_due.unwrap(),
        };
        let now = Utc::now();
        let claimed = claim(&message, now, now + TimeDelta::seconds(1), "dead");
        stack.stack.store.apply(&claimed).await.unwrap();
    }
    let mut stack = stack;
    stack.start_glue().await;

    for (id, _) in &good {
        let worker = stack
            .wait_for(id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
        assert_eq!(worker.last_run_succeeded, Some(true), "{id}");
        let started = worker.last_run_start_time.unwrap();
        assert!(started >= due.instant(), "{id} started before its due time");
        println!(
            "{id}: started {} ms after its due time",
            (started - due.instant()).num_milliseconds()
        );
    }
    for (id, shard) in &lost {
        let worker = stack
            .wait_for(id, "rescued and run", |w| w.status == Some(Status::Stopped))
            .await;
        assert_eq!(
            worker.last_run_succeeded,
            Some(true),
            "{id} (shard {shard})"
        );
        let runs = stack.runs(id).await;
        assert!(
            runs[0].message.as_deref().unwrap().starts_with("lost: "),
            "{id} (shard {shard}): {runs:#?}"
        );
    }
    for (item, expected) in &bad {
        let id = item["id"].as_str().unwrap();
        let worker_item = stack.item(id).await;
        let Some(nextdue::item::AttributeValue::S(message)) = worker_item.get("lastRunMessage")
        else {
            panic!("{id:.40}: no message: {:.300}", format!("{worker_item:?}"))
        };
        assert!(message.starts_with(expected), "{id:.40}: {message}");
        assert!(stack.runs(id).await.is_empty(), "{id:.40} ran");
    }
}
