//! `nextdue`: local development commands (`nextdue dev`, `nextdue demo`) with the built-in jobs;
//! see `nextdue::dev::cli`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    nextdue::dev::cli::main(nextdue::jobs::builtin()).await
}
