//! The executor Lambda: the worker queues, with the built-in jobs.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::executor(nextdue::jobs::builtin()).await
}
