//! Steering whole classes of work through the `nextdue` binary, against the emulator: a pause
//! and a resume while `nextdue dev` runs.

use std::time::Duration;

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
