//! The soak's short version (the full one: `infra/bench.sh --soak 2000 --minutes 10`): a few
//! hundred recurring workers for a minute, their due times spread over the period as a real
//! fleet's are, and every due time of every worker served exactly once, checked against the
//! run records (a late run may stand in for a due time that passed meanwhile, as the
//! lifecycle's catch-up says; none may run twice or go missing). Nothing here is timed.

use std::time::Duration;

use chrono::TimeDelta;
use nextdue::dev::bench::exactly_once;
use nextdue::store::WorkerStore as _;
use nextdue::timestamp::Due;
use serde_json::json;

use crate::support::TestStack;

const WORKERS: usize = 200;
const PERIOD_SECONDS: i64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_due_time_of_every_recurring_worker_runs_exactly_once() {
    let mut stack = TestStack::provisioned("soak").await;
    let start = chrono::Utc::now();
    for i in 0..WORKERS {
        stack
            .put(json!({"id": format!("soak-{i:03}"), "kind": "log", "enabled": true,
                        "schedule": format!("rate({PERIOD_SECONDS} seconds)"),
                        "nextDue": Due::ceil(start + TimeDelta::seconds(5 + i as i64 % PERIOD_SECONDS)),
                        "params": {"message": "tick"}}))
            .await;
    }
    stack.start_glue().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (mut total, mut stood_in) = (0, 0);
    for i in 0..WORKERS {
        let id = format!("soak-{i:03}");
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
        assert!(
            ran.ran + ran.stood_in >= 2,
            "{id} served {ran:?} in a minute of rate({PERIOD_SECONDS} seconds)"
        );
        total += ran.ran;
        stood_in += ran.stood_in;
        let item = stack.stack.store.get_worker(&id).await.unwrap();
        assert!(item.is_some());
    }
    println!("{WORKERS} workers: {total} due times ran exactly once, {stood_in} stood in for");
}
