//! The sweeper Lambda, on a `rate(1 minute)` schedule: one pass of
//! `handlers::sweeper::sweep_once`.

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use nextdue::handlers::Stack;
use nextdue::handlers::sweeper::{SweepReport, sweep_once};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let stack = Stack::from_env().await?;
    let stack = &stack;
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let report: SweepReport = sweep_once(&stack.sweeper, Utc::now()).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
