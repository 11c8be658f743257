//! The dispatcher Lambda: the workers table's stream, with the built-in jobs.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::dispatcher(nextdue::jobs::builtin()).await
}
