//! A team's own job kind on nextdue: `report` mails a short report on a team to its readers
//! and, if asked, writes a follow-up worker that mails them again some hours later. The whole
//! project is this file, three Lambda `main`s and a `dev` binary, each a few lines.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use async_trait::async_trait;
use nextdue::item::{ItemError, Worker};
use nextdue::job::{
    Created, DuplicateKind, JobContext, JobError, JobLimits, Mail, Registry, TypedJob,
};
use nextdue::jobs::spawn::{child, create_child};
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
    /// A reminder to send after the report, as a worker of its own.
    #[serde(default)]
    pub follow_up: Option<FollowUp>,
}

/// The follow-up a report may ask for: one `email` worker, due some hours after the report.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FollowUp {
    /// Hours after the report's due time (1 to a week).
    pub after_hours: u32,
    /// What it says.
    pub text: String,
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
        if let Some(follow_up) = &params.follow_up
            && !(1..=168).contains(&follow_up.after_hours)
        {
            return Err(ItemError::new(
                "params.followUp.afterHours",
                "must be from 1 to 168 (a week)",
            ));
        }
        Ok(())
    }

    async fn run(&self, params: ReportParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        // The occurrence, not `ctx.due`: a retry has a later due time of its own, and the
        // report (its subject, its follow-up's id) is the scheduled one's.
        let subject = format!("Report on {} for {}", params.team, ctx.occurrence());
        let mail = Mail {
            from: params.from.clone(),
            to: params.to.clone(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject: subject.clone(),
            text: Some(format!(
                "Report on {} (run {} of this worker, attempt {}).",
                params.team,
                ctx.worker.run_count + 1,
                ctx.attempt
            )),
            html: None,
        };
        let id = ctx.services.mailer.send(&mail).await?;
        let mut outcome = format!("report on {} sent (message id {id})", params.team);
        if let Some(follow_up) = &params.follow_up {
            let worker = follow_up_worker(&params, follow_up, &subject, ctx)?;
            // Written once per run, even when this run is retried after the mail went out.
            match create_child(&worker.0, &worker.1, ctx).await? {
                Created::Written => outcome += &format!("; follow-up {} written", worker.1.id),
                Created::Exists(_) => {
                    outcome += &format!("; follow-up {} was written", worker.1.id)
                }
            }
        }
        Ok(outcome)
    }
}

/// The follow-up `email` worker of this occurrence: `<id>#follow-up#<occurrence>`, the same
/// for every attempt at it.
fn follow_up_worker(
    params: &ReportParams,
    follow_up: &FollowUp,
    subject: &str,
    ctx: &JobContext<'_>,
) -> Result<(nextdue::item::Item, Worker), JobError> {
    let due = ctx
        .occurrence()
        .plus_seconds(i64::from(follow_up.after_hours) * 3600)
        .ok_or_else(|| JobError::permanent("the follow-up would be due after 9999"))?;
    let template = serde_dynamo::to_item(serde_json::json!({
        "kind": "email",
        "nextDue": due,
        "params": {"from": params.from, "to": params.to,
                   "subject": format!("Follow-up: {subject}"), "text": follow_up.text},
    }))
    .map_err(|e| JobError::permanent(format!("the follow-up does not encode: {e}")))?;
    child(
        ctx.worker,
        format!("follow-up#{}", ctx.occurrence()),
        template,
    )
    .map_err(|e| JobError::permanent(format!("the follow-up is not a valid worker: {e}")))
}

/// This project's jobs: nextdue's built-in ones and `report`.
pub fn registry() -> Result<Registry, DuplicateKind> {
    nextdue::jobs::builtin().register(Report)
}
