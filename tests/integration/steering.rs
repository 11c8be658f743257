//! Steering whole classes of work through the `nextdue` binary, against the emulator: a pause
//! and a resume while `nextdue dev` runs, a bulk retry by filter, and a put of JSON Lines.

use std::time::Duration;

use nextdue::adapters::control::ControlTable;
use nextdue::controls::REFRESH;
use nextdue::item::Status;
use serde_json::json;

use crate::cli::nextdue;
use crate::dev_restart::start_dev_with;
use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_the_default_queue_stops_new_starts_and_resume_runs_each_held_worker_once() {
    let stack = TestStack::provisioned("pause").await;
    std::fs::create_dir_all(&stack.state_dir).unwrap();
    let mut dev = start_dev_with(&stack, &stack.state_dir.join("dev.log"), &[]);
    let worker =
        |id: &str| json!({"id": id, "kind": "log", "enabled": true, "params": {"message": "m"}});
    // The stack runs: a worker written now runs.
    stack.put(worker("before")).await;
    stack
        .wait_for("before", "run", |w| w.status == Some(Status::Stopped))
        .await;

    let paused = nextdue(Some(&stack), &["pause", "queue", "default", "--json"], None).await;
    assert_eq!(paused.code, 0, "{}", paused.stderr);
    assert_eq!(paused.json()["scope"], "queue:default");
    assert_eq!(paused.json()["mode"], "hold");
    // The stated bound: every executor has read the pause within REFRESH of its writing.
    tokio::time::sleep((REFRESH + chrono::TimeDelta::seconds(1)).to_std().unwrap()).await;
    let held: Vec<String> = (0..5).map(|i| format!("held-{i}")).collect();
    for id in &held {
        stack.put(worker(id)).await;
    }
    for id in &held {
        let worker = stack.wait_for(id, "held", |w| w.held_by.is_some()).await;
        assert_eq!(worker.status, Some(Status::Ready));
        assert_eq!(worker.held_by.as_deref(), Some("queue:default"));
    }
    // Held, not re-sent in a loop and not started: still no run a while later.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for id in &held {
        assert!(stack.runs(id).await.is_empty(), "{id} ran while paused");
        assert_eq!(stack.worker(id).await.run_count, 0);
    }
    let listed = nextdue(Some(&stack), &["ls", "--status", "ready"], None).await;
    assert!(
        listed.stdout.contains("held by the pause of queue default"),
        "{}",
        listed.stdout
    );
    let pauses = nextdue(Some(&stack), &["pauses", "--json"], None).await;
    assert_eq!(pauses.json()[0]["scope"], "queue:default");
    assert_eq!(pauses.json()[0]["inForce"], true);

    let resumed = nextdue(
        Some(&stack),
        &["resume", "queue", "default", "--json"],
        None,
    )
    .await;
    assert_eq!(
        resumed.json(),
        json!({"scope": "queue:default", "resumed": true, "released": 5}),
        "{}",
        resumed.stderr
    );
    for id in &held {
        let worker = stack
            .wait_for(id, "run after the resume", |w| {
                w.status == Some(Status::Stopped)
            })
            .await;
        assert_eq!(worker.run_count, 1, "{id}: one catch-up run");
        assert_eq!(worker.held_by, None);
        assert_eq!(stack.runs(id).await.len(), 1);
    }
    let again = nextdue(Some(&stack), &["resume", "queue", "default"], None).await;
    assert!(again.stdout.contains("was not paused"), "{}", again.stdout);
    dev.kill().await.unwrap();
}

/// `count` worker items with ids `{prefix}-0000` on, each `json` with its id added.
fn many(prefix: &str, count: usize, json: serde_json::Value) -> Vec<nextdue::item::Item> {
    (0..count)
        .map(|i| {
            let mut item = json.clone();
            item["id"] = json!(format!("{prefix}-{i:04}"));
            serde_dynamo::to_item(&item).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_retry_where_status_is_invalid_changes_exactly_the_workers_it_counted() {
    let stack = TestStack::provisioned("bulk").await;
    let invalid = json!({"kind": "log", "enabled": true, "status": "invalid",
        "lastRunMessage": "invalid: queue: no queue \"reports\" in this deployment",
        "params": {"message": "m"}});
    let mut items = many("inv-log", 600, invalid.clone());
    let mut other_kind = invalid.clone();
    other_kind["kind"] = json!("email");
    items.extend(many("inv-email", 150, other_kind));
    let mut disabled = invalid.clone();
    disabled["enabled"] = json!(false);
    items.extend(many("inv-off", 50, disabled));
    items.extend(many(
        "ok",
        200,
        json!({"kind": "log", "enabled": true, "status": "stopped",
        "lastRunSucceeded": true, "params": {"message": "m"}}),
    ));
    stack.stack.store.put_workers(items).await.unwrap();

    let filter = "status=invalid,kind=log";
    let counted = nextdue(
        Some(&stack),
        &["retry", "--where", filter, "--dry-run", "--json"],
        None,
    )
    .await;
    assert_eq!(counted.code, 0, "{}", counted.stderr);
    let counted = counted.json();
    assert_eq!(counted["scanned"], 1000, "the whole table read");
    assert_eq!(counted["matched"], 650, "the disabled ones match too");
    assert_eq!(counted["changes"], 600, "but are not retried: {counted}");
    // Nothing was written by the count, and without --yes (no terminal) nothing is either.
    let unasked = nextdue(Some(&stack), &["retry", "--where", filter], None).await;
    assert_eq!(unasked.code, 1);
    assert!(unasked.stderr.contains("add --yes"), "{}", unasked.stderr);
    let at = "2031-05-06T07:08:09Z";
    for id in ["inv-log-0000", "inv-log-0599"] {
        assert_ne!(
            stack.item(id).await.get("updateTime"),
            Some(&nextdue::item::AttributeValue::S(
                "2031-05-06T07:08:09.000Z".into()
            ))
        );
    }

    let done = nextdue(
        Some(&stack),
        &["retry", "--where", filter, "--yes", "--json", "--now", at],
        None,
    )
    .await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(
        done.json()["changed"],
        counted["changes"],
        "dry-run count = changed count"
    );
    assert_eq!(done.json()["movedMeanwhile"], 0);
    let touched = |item: &nextdue::item::Item| {
        item.get("updateTime")
            == Some(&nextdue::item::AttributeValue::S(
                "2031-05-06T07:08:09.000Z".into(),
            ))
    };
    let mut changed = Vec::new();
    for item in stack.stack.store.workers(&[], &mut |_| {}).await.unwrap() {
        if touched(&item) {
            changed.push(nextdue::ops::list::text(&item, "id").unwrap());
        }
    }
    changed.sort();
    let expected: Vec<String> = (0..600).map(|i| format!("inv-log-{i:04}")).collect();
    assert_eq!(changed, expected, "exactly the matching ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_json_lines_writes_the_good_lines_and_reports_each_bad_one_by_number() {
    let stack = TestStack::provisioned("put-lines").await;
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for i in 0..1010 {
        if i % 101 == 50 {
            bad.push(lines.len() + 1);
            lines.push(match bad.len() % 3 {
                0 => format!(r#"{{"id": "w-{i}", "kind": "teleport", "enabled": true}}"#),
                1 => format!(r#"{{"id": "w-{i}", "kind": "log", "enabled": "yes", "params": {{"message": "m"}}"#),
                _ => format!(r#"{{"id": "w-{i}", "kind": "log", "enabled": "true", "params": {{"message": "m"}}}}"#),
            });
        } else {
            lines.push(format!(
                r#"{{"id": "w-{i}", "kind": "log", "params": {{"message": "line {i}"}}}}"#
            ));
        }
    }
    assert_eq!(bad.len(), 10);
    let file = stack.state_dir.join("workers.jsonl");
    std::fs::create_dir_all(&stack.state_dir).unwrap();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let put = nextdue(
        Some(&stack),
        &["put", file.to_str().unwrap(), "--json"],
        None,
    )
    .await;
    assert_eq!(
        put.code, 1,
        "refused lines fail the command: {}",
        put.stderr
    );
    let answer = put.json();
    assert_eq!(answer["written"], 1000);
    let refused: Vec<u64> = answer["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, bad.iter().map(|l| *l as u64).collect::<Vec<_>>());
    for r in answer["refused"].as_array().unwrap() {
        assert!(!r["message"].as_str().unwrap().is_empty(), "{r}");
    }
    let stored = stack.stack.store.workers(&[], &mut |_| {}).await.unwrap();
    assert_eq!(
        stored.len(),
        1000,
        "the good lines, each whole, and nothing else"
    );
    let sample = stack.item("w-7").await;
    assert_eq!(
        sample.get("params"),
        serde_dynamo::to_item::<_, nextdue::item::Item>(json!({"params": {"message": "line 7"}}))
            .unwrap()
            .get("params")
    );
    let human = nextdue(
        Some(&stack),
        &["put", file.to_str().unwrap(), "--dry-run"],
        None,
    )
    .await;
    assert!(
        human
            .stdout
            .contains("1000 valid workers (nothing written)"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(&format!("line {}: not JSON", bad[0]))
            && human.stdout.contains(&format!(
                "line {} (w-151): invalid: enabled: expected a boolean",
                bad[1]
            )),
        "{}",
        human.stdout
    );
}

/// Writes `record` into the stack's control table as someone editing it in the console would.
async fn put_control_record(stack: &TestStack, record: serde_json::Value) {
    stack
        .stack
        .clients
        .dynamodb
        .put_item()
        .table_name(&stack.names.control_table)
        .set_item(Some(serde_dynamo::to_item(record).unwrap()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controls_record_edited_into_nonsense_stops_no_run_and_says_how_to_fix_it() {
    let stack = TestStack::start("bad-controls").await;
    // As someone might type it into the console: a capitalised mode.
    let typed = json!({"id": "controls", "version": 3,
        "pauses": {"queue:default": {"mode": "Hold", "since": "2026-12-04T10:00:00.000Z"}}});
    put_control_record(&stack, typed).await;
    stack
        .put(json!({"id": "runs-anyway", "kind": "log", "enabled": true, "params": {"message": "m"}}))
        .await;
    let worker = stack
        .wait_for("runs-anyway", "run", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(true));
    for args in [&["pauses"][..], &["pause", "kind", "report"]] {
        let said = nextdue(Some(&stack), args, None).await;
        assert_eq!(said.code, 1, "{args:?}: {}", said.stdout);
        assert!(
            said.stderr.contains("\"controls\"")
                && said.stderr.contains("is malformed")
                && said.stderr.contains(
                    "pauses.queue:default.mode: unknown variant `Hold`, expected `hold` or `skip`"
                )
                && said.stderr.contains("or delete it"),
            "{args:?}: {}",
            said.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_counter_edited_into_nonsense_stops_no_run() {
    let stack = TestStack::start("bad-counter").await;
    let limited = nextdue(Some(&stack), &["limit", "kind", "log", "1/hour"], None).await;
    assert_eq!(limited.code, 0, "{}", limited.stderr);
    put_control_record(&stack, json!({"id": "rate:kind:log", "value": "lots"})).await;
    stack
        .put(json!({"id": "runs-anyway", "kind": "log", "enabled": true, "params": {"message": "m"}}))
        .await;
    let worker = stack
        .wait_for("runs-anyway", "run", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(worker.last_run_succeeded, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_made_at_once_by_many_executors_never_share_a_start() {
    // Forty executors reserve under one limit at the same instant, each through a table of its
    // own, their calls in flight together: each takes its start in one atomic write, so the
    // starts are forty distinct slots one spacing apart (the kit's executors, on memory seams,
    // never have two reservations in flight at once).
    use nextdue::controls::{Limit, Scope};
    use nextdue::handlers::controls::reserve_start;
    let stack = TestStack::provisioned("reserve-race").await;
    let limit: Limit = "10/minute".parse().unwrap();
    let scope = Scope::Kind("report".into());
    let now = chrono::Utc::now();
    let tables: Vec<ControlTable> = (0..40)
        .map(|_| {
            ControlTable::new(
                stack.stack.clients.dynamodb.clone(),
                &stack.names.control_table,
            )
        })
        .collect();
    let mut starts = futures::future::join_all(
        tables
            .iter()
            .map(|table| reserve_start(table, &scope, &limit, now)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<_>>();
    starts.sort();
    let expected: Vec<_> = (0..40).map(|i| now + limit.spacing() * i).collect();
    let ms = |t: &chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    assert_eq!(
        starts.iter().map(ms).collect::<Vec<_>>(),
        expected.iter().map(ms).collect::<Vec<_>>(),
        "one start per reservation, each a spacing after the last"
    );
}
