//! `log`: writes `params.message` to the log. For demos and tests.

use async_trait::async_trait;
use serde::Deserialize;

use crate::job::{JobContext, JobError, TypedJob};

/// The `log` job.
pub struct LogJob;

/// The `log` job's parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    /// What to write.
    pub message: String,
}

#[async_trait]
impl TypedJob for LogJob {
    const KIND: &'static str = "log";
    type Params = LogParams;

    async fn run(&self, params: LogParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        tracing::info!(worker = ?ctx.worker.id, due = %ctx.due, message = ?params.message, "log job");
        // The summary goes to lastRunMessage, which never echoes params.
        Ok(format!(
            "logged a message of {} characters",
            params.message.chars().count()
        ))
    }
}
