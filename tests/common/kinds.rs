//! The test suites' own job kinds, beside the built-in ones: each misbehaves on purpose.

use std::time::Duration;

use async_trait::async_trait;
use nextdue::job::{JobContext, JobError, Registry, TypedJob};

/// A job that always fails with a retryable error (for retry tests).
pub struct AlwaysFails;

#[async_trait]
impl TypedJob for AlwaysFails {
    const KIND: &'static str = "always-fails";
    type Params = serde_json::Value;

    async fn run(&self, _: serde_json::Value, ctx: &JobContext<'_>) -> Result<String, JobError> {
        Err(JobError::retryable(format!(
            "attempt {} failed on purpose",
            ctx.attempt
        )))
    }
}

/// A job that fails its first two attempts and succeeds on the third, saying each time which
/// occurrence and due time it ran for (for the idempotency-key test).
pub struct ThirdTime;

#[async_trait]
impl TypedJob for ThirdTime {
    const KIND: &'static str = "third-time";
    type Params = serde_json::Value;

    async fn run(&self, _: serde_json::Value, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let said = format!("occurrence {} due {}", ctx.occurrence(), ctx.due);
        if ctx.attempt < 3 {
            return Err(JobError::retryable(said));
        }
        Ok(said)
    }
}

/// A job that sleeps for `params.seconds` (for timeout tests).
pub struct Sleeps;

/// How long [`Sleeps`] sleeps.
#[derive(serde::Deserialize)]
pub struct SleepsParams {
    #[serde(default = "a_minute")]
    seconds: u64,
}

fn a_minute() -> u64 {
    60
}

#[async_trait]
impl TypedJob for Sleeps {
    const KIND: &'static str = "sleeps";
    type Params = SleepsParams;

    async fn run(&self, params: SleepsParams, _ctx: &JobContext<'_>) -> Result<String, JobError> {
        tokio::time::sleep(Duration::from_secs(params.seconds)).await;
        Ok(format!("slept {} s", params.seconds))
    }
}

/// A job that panics (for the test that one panic spares the rest of its batch).
pub struct Panics;

#[async_trait]
impl TypedJob for Panics {
    const KIND: &'static str = "panics";
    type Params = serde_json::Value;

    async fn run(&self, _: serde_json::Value, _ctx: &JobContext<'_>) -> Result<String, JobError> {
        panic!("a bug in the job")
    }
}

/// The registry of the tests: the built-in jobs and the test jobs.
pub fn registry() -> Registry {
    nextdue::jobs::builtin()
        .register(AlwaysFails)
        .and_then(|r| r.register(Sleeps))
        .and_then(|r| r.register(Panics))
        .and_then(|r| r.register(ThirdTime))
        .expect("the test kinds differ from the built-in ones")
}
