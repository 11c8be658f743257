//! The executor Lambda: the worker queues, with the built-in jobs.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::lambda::executor(nextdue::jobs::builtin()).await
}
