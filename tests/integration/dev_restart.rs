//! `nextdue dev` killed with SIGKILL and restarted: nothing lost, nothing repeated.

use std::process::Stdio;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use nextdue::item::Status;
use nextdue::timestamp::Due;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::support::TestStack;

fn start_dev(stack: &TestStack, log: &std::path::Path) -> Child {
    start_dev_with(stack, log, &["--function-timeout", "30"])
}

pub(crate) fn start_dev_with(stack: &TestStack, log: &std::path::Path, options: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_nextdue"))
        .arg("dev")
        .args(options)
        .arg("--state-dir")
        .arg(&stack.state_dir)
        .env("AWS_ENDPOINT_URL", &stack.endpoint)
        .env("NEXTDUE_WORKERS_TABLE", &stack.names.workers_table)
        .env("NEXTDUE_RUNS_TABLE", &stack.names.runs_table)
        .env("NEXTDUE_CONTROL_TABLE", &stack.names.control_table)
        .env("NEXTDUE_QUEUE_PREFIX", &stack.names.queue_prefix)
        .env("NEXTDUE_SCHEDULE_GROUP", &stack.names.schedule_group)
        .env("NEXTDUE_EVENT_BUS", &stack.names.event_bus)
        .env("RUST_LOG", "nextdue=debug")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("nextdue dev starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_killed_and_restarted_loses_nothing_and_repeats_nothing() {
    let stack = TestStack::provisioned("restart").await;
    std::fs::create_dir_all(&stack.state_dir).unwrap();
    let log = stack.state_dir.join("dev.log");
    let mut dev = start_dev(&stack, &log);

    let worker = |id: String, due: Option<Due>| {
        let mut item =
            json!({"id": id, "kind": "log", "enabled": true, "params": {"message": "once"}});
        if let Some(due) = due {
            item["nextDue"] = json!(due);
        }
        item
    };
    let now_ids: Vec<String> = (0..4).map(|i| format!("now-{i}")).collect();
    let later_ids: Vec<String> = (0..4).map(|i| format!("later-{i}")).collect();
    let down_ids: Vec<String> = (0..4).map(|i| format!("down-{i}")).collect();
    for id in &now_ids {
        stack.put(worker(id.clone(), None)).await;
    }
    let later = Due::ceil(Utc::now() + TimeDelta::seconds(6));
    for id in &later_ids {
        stack.put(worker(id.clone(), Some(later))).await;
    }
    for id in &now_ids {
        stack
            .wait_for(id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
    }
    for id in &later_ids {
        stack
            .wait_for(id, "armed", |w| w.status == Some(Status::Ready))
            .await;
    }
    // Give the dispatcher time to checkpoint past the delivered records, then kill it hard.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dev.kill().await.expect("SIGKILL");

    for id in &down_ids {
        stack.put(worker(id.clone(), None)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in &down_ids {
        assert_eq!(
            stack.worker(id).await.status,
            None,
            "{id} was handled while nextdue dev was down"
        );
    }

    let _dev = start_dev(&stack, &log);
    for id in now_ids.iter().chain(&later_ids).chain(&down_ids) {
        let done = stack
            .wait_for(id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
        assert_eq!(done.run_count, 1, "{id}: {done:#?}");
        let runs = stack.runs(id).await;
        assert_eq!(
            runs.len(),
            1,
            "{id} ran {} times: {runs:#?}\n{}",
            runs.len(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    for id in &later_ids {
        let runs = stack.runs(id).await;
        assert!(
            runs[0].start_time >= later.instant(),
            "{id} started before its due time"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulator_that_comes_back_empty_is_provisioned_again() {
    let stack = TestStack::start("emptied").await;
    // What an emulator restart does to this test's resources.
    stack
        .stack
        .clients
        .dynamodb
        .delete_table()
        .table_name(&stack.names.workers_table)
        .send()
        .await
        .unwrap();
    let queue = stack.default_queue().await;
    stack
        .stack
        .clients
        .sqs
        .delete_queue()
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap();
    let item: nextdue::item::Item = serde_dynamo::to_item(
        json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "again"}}),
    )
    .unwrap();
    let started = std::time::Instant::now();
    while stack.stack.store.put_worker(item.clone()).await.is_err() {
        assert!(
            started.elapsed() < crate::support::PATIENCE,
            "the glue never made the table again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let done = stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    assert_eq!(done.last_run_succeeded, Some(true));
}

/// How many of the test's workers stand stopped.
async fn stopped(stack: &TestStack) -> usize {
    let mut pages = stack
        .stack
        .clients
        .dynamodb
        .scan()
        .table_name(&stack.names.workers_table)
        .filter_expression("#s = :stopped")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":stopped",
            aws_sdk_dynamodb::types::AttributeValue::S("stopped".into()),
        )
        .select(aws_sdk_dynamodb::types::Select::Count)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        count += page.expect("Scan").count as usize;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_killed_with_runs_in_flight_repeats_no_run_that_recorded_success() {
    const WORKERS: usize = 500;
    let stack = TestStack::provisioned("kill-500").await;
    std::fs::create_dir_all(&stack.state_dir).unwrap();
    let domain = stack.verified_domain().await;
    let log = stack.state_dir.join("dev.log");
    // Short leases, a sweeper every second: the rescue comes soon after the restart.
    let options = ["--function-timeout", "10", "--sweep-every", "1"];
    for i in 0..WORKERS {
        stack
            .put(
                json!({"id": format!("w{i}"), "kind": "email", "enabled": true,
                "params": {"from": format!("sender@{domain}"), "to": format!("w{i}@{domain}"),
                    "subject": "once", "text": "one mail per worker"}}),
            )
            .await;
    }
    // All 500 written first, then taken up at full speed, and killed with runs in flight:
    // some claimed, some sent, some recorded and not closed.
    let mut dev = start_dev_with(&stack, &log, &options);
    let started = std::time::Instant::now();
    while stopped(&stack).await < 50 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no runs finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dev.kill().await.expect("SIGKILL");
    let at_kill = stopped(&stack).await;

    let _dev = start_dev_with(&stack, &log, &options);
    while stopped(&stack).await < WORKERS {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {WORKERS} stopped\n{}",
            stopped(&stack).await,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mail = nextdue::dev::emulator::sent_mail(&stack.endpoint)
        .await
        .expect("the emulator's mail");
    let (mut lost, mut doubled) = (0, 0);
    for i in 0..WORKERS {
        let id = format!("w{i}");
        let runs = stack.runs(&id).await;
        let succeeded = runs.iter().filter(|r| r.succeeded == Some(true)).count();
        assert_eq!(succeeded, 1, "{id}: one run succeeded, once: {runs:#?}");
        // A run lost with its executor, or cut off at its time limit, may have sent its mail.
        let failed_here = runs.iter().filter(|r| r.succeeded != Some(true)).count();
        let lost_here = runs
            .iter()
            .filter(|r| r.message.as_deref().is_some_and(|m| m.starts_with("lost:")))
            .count();
        let mails = mail
            .iter()
            .filter(|m| m.is_to(&format!("{id}@{domain}")))
            .count();
        // A second mail only where a run failed after its side effect (lost before it could
        // record its outcome, or cut off at its time limit): the job's own window.
        assert!(
            (1..=1 + failed_here).contains(&mails),
            "{id}: {mails} mails, {failed_here} failed runs: {runs:#?}"
        );
        lost += lost_here;
        doubled += mails - 1;
    }
    println!(
        "kill -9 with {at_kill} of {WORKERS} stopped: {lost} runs lost and rescued, {doubled} \
         mails sent twice (each after a run lost or cut off), no run that recorded success \
         repeated"
    );
}
