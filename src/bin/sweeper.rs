//! The sweeper Lambda, on a `rate(1 minute)` schedule: one pass of
//! `handlers::sweeper::sweep_once`.

use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use nextdue::clients::Clients;
use nextdue::config::Settings;
use nextdue::handlers::Stack;
use nextdue::handlers::sweeper::{SweepReport, sweep_once};
use nextdue::job::Registry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let stack = Stack::new(
        Clients::from_env().await,
        Settings::from_env()?,
        Registry::builtin(),
    );
    let stack = &stack;
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            sweep_once(&stack.executor, Utc::now())
                .await
                .map_err(Error::from)
                .map(|report: SweepReport| report)
        },
    ))
    .await
}
