//! The three Lambda functions as entry points: a binary's `main` passes its job registry and
//! awaits one of them, so a team runs its own kinds in its own binaries without forking nextdue.
//!
//! ```no_run
//! // src/bin/executor.rs of your own package
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     nextdue::lambda::executor(nextdue::jobs::builtin()).await
//! }
//! ```

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

use crate::clients::Clients;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::delivery::{Deliver, Delivery};
use crate::handlers::dispatcher::handle_stream;
use crate::handlers::executor::handle_queue;
use crate::handlers::sweeper::{SweepReport, sweep_once};
use crate::handlers::{Dispatcher, Stack, Sweeper};
use crate::job::Registry;
use crate::store::{Store, WorkerStore};

// A panicking job is caught and recorded as that run's failure only if panics unwind; with
// `panic = "abort"` one panic would end every run of the batch. Refuse to build such an
// executor (cargo-lambda chooses abort unless the release profile says otherwise).
#[cfg(panic = "abort")]
compile_error!(
    "nextdue's executor must be built with panic = \"unwind\": set it in [profile.release]"
);

/// What every function starts from, once per process (one Lambda execution environment):
/// Lambda's logging, the SDK config and the deployment's settings.
async fn environment() -> Result<(SdkConfig, Settings), Error> {
    crate::logging::init();
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    Ok((config, Settings::from_env()?))
}

/// The tables and the queues, all the dispatcher and the sweeper reach: their binaries link the
/// DynamoDB, SQS and Scheduler clients only (the mail, HTTP and Lambda clients are the
/// executor's).
fn tables_and_queues(
    config: &SdkConfig,
    settings: &Settings,
) -> (Arc<dyn WorkerStore>, Arc<dyn Deliver>) {
    let names = &settings.names;
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(config),
        &names.workers_table,
        &names.runs_table,
    );
    let delivery = Delivery::new(
        aws_sdk_sqs::Client::new(config),
        aws_sdk_scheduler::Client::new(config),
        names.clone(),
    );
    (Arc::new(store), Arc::new(delivery))
}

/// `value` for the rest of the process, so the handlers borrow it for `'static`.
fn for_the_process<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// The dispatcher: the workers table's stream → [`handle_stream`].
pub async fn dispatcher(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_dispatcher(registry)).await
}

async fn serve_dispatcher(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let (store, delivery) = tables_and_queues(&config, &settings);
    let dispatcher = for_the_process(Dispatcher::new(
        store,
        delivery,
        Arc::new(SystemClock),
        &settings,
        registry,
    ));
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(handle_stream(&event.payload, dispatcher).await)
    }))
    .await
}

/// The executor: the worker queues → [`handle_queue`], with partial batch responses. The
/// invocation's deadline bounds every run and is the lease of its claim.
pub async fn executor(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_executor(registry)).await
}

async fn serve_executor(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let stack = for_the_process(Stack::new(
        Clients::from_config(&config),
        settings,
        registry,
    ));
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = DateTime::<Utc>::from_timestamp_millis(event.context.deadline as i64)
            .unwrap_or_else(Utc::now);
        Ok::<_, Error>(handle_queue(&event.payload, &stack.executor, deadline).await)
    }))
    .await
}

/// The sweeper, on a `rate(1 minute)` schedule: one pass of [`sweep_once`].
pub async fn sweeper(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_sweeper(registry)).await
}

async fn serve_sweeper(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let (store, delivery) = tables_and_queues(&config, &settings);
    let sweeper = for_the_process(Sweeper::new(
        store,
        delivery,
        Arc::new(SystemClock),
        &settings,
        registry,
    ));
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let report: SweepReport = sweep_once(sweeper, Utc::now()).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
