//! The dispatcher Lambda of the reports project.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::dispatcher(reports::registry()?).await
}
