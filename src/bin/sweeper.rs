//! The sweeper Lambda, every minute, with the built-in jobs.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    nextdue::serve::sweeper(nextdue::jobs::builtin()).await
}
