//! `reports-dev dev`: the local stack with this project's jobs (`nextdue dev`, for reports).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    nextdue::dev::cli::main(reports::registry()?).await
}
