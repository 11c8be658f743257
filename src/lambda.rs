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

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

use crate::handlers::Stack;
use crate::handlers::dispatcher::handle_stream;
use crate::handlers::executor::handle_queue;
use crate::handlers::sweeper::{SweepReport, sweep_once};
use crate::job::Registry;

// A panicking job is caught and recorded as that run's failure only if panics unwind; with
// `panic = "abort"` one panic would end every run of the batch. Refuse to build such an
// executor (cargo-lambda chooses abort unless the release profile says otherwise).
#[cfg(panic = "abort")]
compile_error!(
    "nextdue's executor must be built with panic = \"unwind\": set it in [profile.release]"
);

/// The stack of a function, with Lambda's logging set up once. It lives as long as the process
/// (one Lambda execution environment), so the handlers borrow it for `'static`.
async fn stack(registry: Registry) -> Result<&'static Stack, Error> {
    lambda_runtime::tracing::init_default_subscriber();
    Ok(Box::leak(Box::new(Stack::from_env(registry).await?)))
}

/// The dispatcher: the workers table's stream → [`handle_stream`].
pub async fn dispatcher(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_dispatcher(registry)).await
}

async fn serve_dispatcher(registry: Registry) -> Result<(), Error> {
    let stack = stack(registry).await?;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(handle_stream(&event.payload, &stack.dispatcher).await)
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
    let stack = stack(registry).await?;
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
    let stack = stack(registry).await?;
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let report: SweepReport = sweep_once(&stack.sweeper, Utc::now()).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
