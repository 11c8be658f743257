//! `log`: writes `params.message` to the log. For demos and tests.

use async_trait::async_trait;
use serde::Deserialize;

use crate::item::{ItemError, Params};
use crate::job::{Job, JobContext, JobError, parse_params};

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
impl Job for LogJob {
    fn validate(&self, params: &Params) -> Result<(), ItemError> {
        parse_params::<LogParams>(params).map(|_| ())
    }

    async fn execute(&self, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let params: LogParams =
            parse_params(&ctx.worker.params).map_err(|e| JobError::permanent(e.to_string()))?;
        tracing::info!(worker = ?ctx.worker.id, due = %ctx.due, message = ?params.message, "log job");
        // The summary goes to lastRunMessage, which never echoes params.
        Ok(format!(
            "logged a message of {} characters",
            params.message.chars().count()
        ))
    }
}
