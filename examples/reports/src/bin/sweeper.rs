//! The sweeper Lambda of the reports project.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::sweeper(reports::registry()?).await
}
