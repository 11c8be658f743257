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

/// A job that fails (retryably) while its `params.fail` is true, and succeeds otherwise: a
/// worker that starts failing and recovers when someone edits the item (for alert tests).
pub struct FailsWhenAsked;

#[async_trait]
impl TypedJob for FailsWhenAsked {
    const KIND: &'static str = "fails-when-asked";
    type Params = serde_json::Value;

    async fn run(&self, params: serde_json::Value, _: &JobContext<'_>) -> Result<String, JobError> {
        match params.get("fail") {
            Some(serde_json::Value::Bool(true)) => Err(JobError::retryable("failing as asked")),
            _ => Ok("fine".into()),
        }
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

/// A job that counts `params.rows` rows, reporting its progress after each and saving a
/// checkpoint of the rows done; on its first attempt it fails (retryably) after `failAt` rows.
/// It resumes from the checkpoint an earlier attempt saved. With `oversized`, it first asks for
/// a checkpoint and a progress text too big to keep, and says what it was told.
pub struct Counts;

/// What [`Counts`] counts.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountsParams {
    rows: u32,
    #[serde(default)]
    fail_at: Option<u32>,
    #[serde(default)]
    millis_per_row: u64,
    #[serde(default)]
    oversized: bool,
}

/// The checkpoint [`Counts`] saves.
#[derive(serde::Serialize, serde::Deserialize)]
struct Done {
    rows: u32,
}

#[async_trait]
impl TypedJob for Counts {
    const KIND: &'static str = "counts";
    type Params = CountsParams;

    async fn run(&self, params: CountsParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let mut refused = Vec::new();
        if params.oversized {
            let big = "x".repeat(5_000);
            refused.extend(ctx.checkpoint(&big).await.err().map(|e| e.to_string()));
            refused.extend(
                ctx.progress(&big[..300], None)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            );
            refused.extend(
                ctx.progress("half", Some(1.5))
                    .await
                    .err()
                    .map(|e| e.to_string()),
            );
        }
        let resumed = ctx
            .resume::<Done>()
            .map_err(|e| JobError::permanent(e.to_string()))?
            .map_or(0, |done| done.rows);
        for row in resumed + 1..=params.rows {
            if params.millis_per_row > 0 {
                tokio::time::sleep(Duration::from_millis(params.millis_per_row)).await;
            }
            let fraction = f64::from(row) / f64::from(params.rows);
            let said = ctx
                .progress(&format!("{row} of {} rows", params.rows), Some(fraction))
                .await;
            let saved = ctx.checkpoint(&Done { rows: row }).await;
            if let Err(error) = said.and(saved) {
                return Err(JobError::retryable(error.to_string()));
            }
            if ctx.attempt == 1 && params.fail_at == Some(row) {
                return Err(JobError::retryable(format!(
                    "failed on purpose after {row} rows, resumed from {resumed}"
                )));
            }
        }
        let mut message = format!("counted {} rows, resumed from {resumed}", params.rows);
        for refusal in refused {
            message.push_str(&format!("; refused: {refusal}"));
        }
        Ok(message)
    }
}

/// The registry of the tests: the built-in jobs and the test jobs.
pub fn registry() -> Registry {
    nextdue::jobs::builtin()
        .register(AlwaysFails)
        .and_then(|r| r.register(Counts))
        .and_then(|r| r.register(Sleeps))
        .and_then(|r| r.register(Panics))
        .and_then(|r| r.register(ThirdTime))
        .and_then(|r| r.register(FailsWhenAsked))
        .expect("the test kinds differ from the built-in ones")
}
