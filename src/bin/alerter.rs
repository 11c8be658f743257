//! The alerter Lambda: digests of the alert queue's batches to the alert topic.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::alerter().await
}
