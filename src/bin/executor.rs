//! The executor Lambda: the queue(s) → `handlers::executor::handle_queue`, with partial batch
//! responses. The invocation's deadline bounds every run.

use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use nextdue::handlers::Stack;
use nextdue::handlers::executor::handle_queue;

// A panicking job is caught and recorded as that run's failure only if panics unwind; with
// `panic = "abort"` one panic would end every run of the batch. Refuse to build such an executor.
#[cfg(panic = "abort")]
compile_error!(
    "the executor must be built with panic = \"unwind\" (see [profile.release] in Cargo.toml)"
);

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let stack = Stack::from_env().await?;
    let stack = &stack;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = DateTime::<Utc>::from_timestamp_millis(event.context.deadline as i64)
            .unwrap_or_else(Utc::now);
        Ok::<_, Error>(handle_queue(&event.payload, &stack.executor, deadline).await)
    }))
    .await
}
