//! The executor Lambda of the reports project.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::executor(reports::registry()?).await
}
