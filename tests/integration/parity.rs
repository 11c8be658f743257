//! What users write is accepted, and what the glue does is what AWS does: time spellings from
//! JavaScript and offsets, `L-n` crons, re-enabling during a run through the template's stream
//! filter, and run-now requests.

use chrono::{Datelike, NaiveDate, SecondsFormat, TimeDelta, Utc};
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

/// 23:00 UTC two days before the last day of the month, the next one after `now`.
fn two_days_before_month_end(now: chrono::DateTime<Utc>) -> Due {
    let mut month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    loop {
        let next_month = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let last = next_month.pred_opt().unwrap();
        let at = (last - TimeDelta::days(2))
            .and_hms_opt(23, 0, 0)
            .unwrap()
            .and_utc();
        if at > now {
            return Due::floor(at);
        }
        month = next_month;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_with_l_minus_2_is_due_two_days_before_the_month_ends() {
    let stack = TestStack::start("l-minus-2").await;
    let now = Utc::now();
    stack
        .put(json!({"id": "month-end", "kind": "log", "enabled": true,
                    "schedule": "cron(0 23 L-2 * ? *)", "params": {"message": "closing"}}))
        .await;
    let armed = stack
        .wait_for("month-end", "armed", |w| w.status == Some(Status::Ready))
        .await;
    let due = two_days_before_month_end(now);
    assert_eq!(armed.next_due, Some(due));
    // More than 15 minutes ahead: a one-time Scheduler schedule delivers it (the emulator never
    // fires it, so the run itself cannot be waited for here; the cron's evaluation is
    // unit-tested month by month).
    if due.instant() > now + TimeDelta::minutes(16) {
        let started = std::time::Instant::now();
        while stack.schedules().await.is_empty() {
            assert!(started.elapsed() < crate::support::PATIENCE, "no schedule");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // A cron waits for its first time; no run happens now.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(stack.worker("month-end").await.run_count, 0);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_runs_once_and_the_worker_keeps_its_grid() {
    let stack = TestStack::start("run-now").await;
    stack
        .put(
            json!({"id": "hourly", "kind": "log", "enabled": true, "schedule": "rate(1 hour)",
                    "executeImmediately": false, "params": {"message": "tick"}}),
        )
        .await;
    let armed = stack
        .wait_for("hourly", "armed", |w| w.status == Some(Status::Ready))
        .await;
    let grid = armed.next_due.unwrap();
    assert!(grid.instant() > Utc::now() + TimeDelta::minutes(59));

    let mut item = stack.item("hourly").await;
    item.insert("runNow".into(), AttributeValue::Bool(true));
    stack.stack.store.put_worker(item).await.unwrap();
    let after = stack
        .wait_for("hourly", "run once", |w| {
            w.run_count == 1 && w.status == Some(Status::Ready) && w.next_due == Some(grid)
        })
        .await;
    assert_eq!(after.last_run_succeeded, Some(true));
    assert_eq!((after.run_now, after.resume_due), (None, None));
    assert_eq!(after.task_id, armed.task_id, "the same activation");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(stack.runs("hourly").await.len(), 1, "one request, one run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_on_a_disabled_worker_is_reported_not_dropped() {
    let stack = TestStack::start("run-now-off").await;
    stack
        .put(
            json!({"id": "off", "kind": "log", "enabled": false, "runNow": true,
                    "params": {"message": "tick"}}),
        )
        .await;
    let reported = stack
        .wait_for("off", "told", |w| w.last_run_message.is_some())
        .await;
    assert_eq!(
        reported.last_run_message.as_deref(),
        Some("run-now request ignored: the worker is disabled (set enabled to true to run it)")
    );
    assert_eq!((reported.run_now, reported.run_count), (None, 0));
}
