//! A team's own job kind on nextdue: `report` mails a short report on a team to its readers.
//! The whole project is this file, three Lambda `main`s and a `dev` binary, each a few lines.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use async_trait::async_trait;
use nextdue::item::{ItemError, Worker};
use nextdue::job::{DuplicateKind, JobContext, JobError, JobLimits, Mail, Registry, TypedJob};
use serde::Deserialize;

/// The `report` job.
pub struct Report;

/// What a `report` worker's `params` hold.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportParams {
    /// The team reported on.
    pub team: String,
    /// Who sends it (an identity SES has verified).
    pub from: String,
    /// Who reads it.
    pub to: Vec<String>,
}

#[async_trait]
impl TypedJob for Report {
    const KIND: &'static str = "report";
    type Params = ReportParams;

    fn check(
        &self,
        params: &ReportParams,
        _worker: &Worker,
        _limits: &JobLimits,
    ) -> Result<(), ItemError> {
        if params.team.trim().is_empty() {
            return Err(ItemError::new("params.team", "must name a team"));
        }
        if params.to.is_empty() {
            return Err(ItemError::new("params.to", "needs at least one reader"));
        }
        Ok(())
    }

    async fn run(&self, params: ReportParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let mail = Mail {
            from: params.from,
            to: params.to,
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject: format!("Report on {} for {}", params.team, ctx.due),
            text: Some(format!(
                "Report on {} (run {} of this worker, attempt {}).",
                params.team,
                ctx.worker.run_count + 1,
                ctx.attempt
            )),
            html: None,
        };
        let id = ctx.services.mailer.send(&mail).await?;
        Ok(format!("report on {} sent (message id {id})", params.team))
    }
}

/// This project's jobs: nextdue's built-in ones and `report`.
pub fn registry() -> Result<Registry, DuplicateKind> {
    nextdue::jobs::builtin().register(Report)
}
