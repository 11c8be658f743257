//! The dispatcher Lambda: the workers table's stream → `handlers::dispatcher::handle_stream`.

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use nextdue::handlers::Stack;
use nextdue::handlers::dispatcher::handle_stream;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let stack = Stack::from_env().await?;
    let stack = &stack;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(handle_stream(&event.payload, &stack.dispatcher).await)
    }))
    .await
}
