//! The soak's short version (the full one: `infra/bench.sh --soak 2000 --minutes 10`): a few
//! hundred recurring workers for a minute, their due times spread over the period as a real
//! fleet's are, and every due time of every worker served exactly once, checked against the
//! run records (a late run may stand in for a due time that passed meanwhile, as the
//! lifecycle's catch-up says; none may run twice or go missing). Nothing here is timed.

use std::time::Duration;

use chrono::TimeDelta;
use nextdue::dev::bench::{exactly_once, none_missed_at_the_end};
use nextdue::timestamp::Due;
use serde_json::json;

use crate::support::TestStack;

const WORKERS: usize = 200;
const PERIOD_SECONDS: i64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_due_time_of_every_recurring_worker_runs_exactly_once() {
    let mut stack = TestStack::provisioned("soak").await;
    let start = chrono::Utc::now();
    let firsts: Vec<Due> = (0..WORKERS)
        .map(|i| Due::ceil(start + TimeDelta::seconds(5 + i as i64 % PERIOD_SECONDS)))
        .collect();
    for (i, first) in firsts.iter().enumerate() {
        stack
            .put(
                json!({"id": format!("soak-{i:03}"), "kind": "log", "enabled": true,
                        "schedule": format!("rate({PERIOD_SECONDS} seconds)"),
                        "nextDue": first, "params": {"message": "tick"}}),
            )
            .await;
    }
    stack.start_glue().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    // Stop the stack, so nothing changes while the records are read.
    stack.stop_glue();
    let (mut total, mut stood_in) = (0, 0);
    let period = TimeDelta::seconds(PERIOD_SECONDS);
    for (i, written_first) in firsts.iter().enumerate() {
        let id = format!("soak-{i:03}");
        let worker = stack.worker(&id).await;
        let runs = stack.runs(&id).await;
        let ran =
            exactly_once(&runs, TimeDelta::seconds(PERIOD_SECONDS)).unwrap_or_else(|problem| {
                let seen: Vec<String> = runs
                    .iter()
                    .map(|r| {
                        format!(
                            "due {} attempt {} started {} finished {:?} ok {:?}",
                            r.due, r.attempt, r.start_time, r.finish_time, r.succeeded
                        )
                    })
                    .collect();
                panic!("{id}: {problem}:\n{}", seen.join("\n"))
            });
        // None missed at the start: the first due time served is the one written.
        let first = runs.iter().map(|r| r.due).min().expect("every worker ran");
        assert_eq!(first, *written_first, "{id}");
        // None missed at the end either.
        let running = worker.status == Some(nextdue::item::Status::Running);
        none_missed_at_the_end(&runs, worker.next_due, running, period)
            .unwrap_or_else(|problem| panic!("{id}: {problem}"));
        total += ran.ran;
        stood_in += ran.stood_in;
    }
    println!("{WORKERS} workers: {total} due times ran exactly once, {stood_in} stood in for");
}
