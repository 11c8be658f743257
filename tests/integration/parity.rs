//! What users write is accepted, and what the glue does is what AWS does: time spellings from
//! JavaScript and offsets, `L-n` crons, re-enabling during a run through the template's stream
//! filter, and run-now requests.

use chrono::{SecondsFormat, TimeDelta, Utc};
use nextdue::item::{AttributeValue, Status};
use nextdue::timestamp::Due;
use serde_json::json;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_due_written_by_javascript_or_with_an_offset_runs_at_that_time_not_before() {
    let stack = TestStack::start("spellings").await;
    let soon = Utc::now() + TimeDelta::seconds(6);
    let js = soon.to_rfc3339_opts(SecondsFormat::Millis, true); // like toISOString()
    let offset = Due::ceil(soon)
        .instant()
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    assert!(js.ends_with('Z') && js.contains('.') && offset.ends_with("+02:00"));
    for (id, written) in [("js", &js), ("offset", &offset)] {
        stack
            .put(
                json!({"id": id, "kind": "log", "enabled": true, "nextDue": written,
                        "params": {"message": "on time"}}),
            )
            .await;
    }
    let asked = Due::ceil(soon);
    for id in ["js", "offset"] {
        let armed = stack.wait_for(id, "armed", |w| w.status.is_some()).await;
        assert_eq!(
            armed.next_due,
            Some(asked),
            "{id}: stored in the canonical form"
        );
        assert_eq!(
            stack.item(id).await.get("nextDue"),
            Some(&AttributeValue::S(asked.to_string()))
        );
    }
    for id in ["js", "offset"] {
        let done = stack
            .wait_for(id, "stopped", |w| w.status == Some(Status::Stopped))
            .await;
        assert_eq!(done.last_run_succeeded, Some(true), "{done:#?}");
        let started = done.last_run_start_time.unwrap();
        assert!(
            started >= asked.instant(),
            "{id} started {started}, before {asked}"
        );
        println!(
            "{id}: asked {written_for}, started {started}",
            written_for = asked
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_enabling_while_a_run_holds_the_claim_starts_a_new_activation() {
    // The template's stream filter once dropped this change (new status `running`), so in AWS
    // the re-enable was lost while `nextdue dev`, which filtered nothing, acted on it. The glue
    // now applies the template's very patterns.
    let stack = TestStack::start("re-enable").await;
    stack
        .put(json!({"id": "w", "kind": "sleeps", "enabled": true, "params": {"seconds": 3}}))
        .await;
    let running = stack
        .wait_for("w", "running", |w| w.status == Some(Status::Running))
        .await;
    let mut item = stack.item("w").await;
    item.insert("enabled".into(), AttributeValue::Bool(false));
    stack.stack.store.put_worker(item.clone()).await.unwrap();
    item.insert("enabled".into(), AttributeValue::Bool(true));
    stack.stack.store.put_worker(item).await.unwrap();
    let done = stack
        .wait_for("w", "run again under a new task id", |w| {
            w.status == Some(Status::Stopped) && w.task_id != running.task_id
        })
        .await;
    assert_eq!(done.last_run_succeeded, Some(true));
    let runs = stack.runs("w").await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(
        runs.iter()
            .any(|r| r.superseded && r.task_id == *running.task_id.as_ref().unwrap()),
        "the old run's late finish is recorded as superseded: {runs:#?}"
    );
}
