//! A team's own job kind on nextdue: `report` mails a short report on a team to each of its
//! readers, saying how far it has got as it goes and saving who has had it, so that a retry
//! mails only the rest; if asked, it writes a follow-up worker that mails them again some hours
//! later. The whole project is this file, three Lambda `main`s and a `dev` binary, each a few
//! lines.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use async_trait::async_trait;
use nextdue::item::{ItemError, Worker};
use nextdue::job::{
    Created, DuplicateKind, JobContext, JobError, JobLimits, MAX_CHECKPOINT_BYTES, Mail, Registry,
    ReportError, TypedJob,
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
    /// Who reads it: each reader gets a mail of their own.
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
        for (i, reader) in params.to.iter().enumerate() {
            if params.to[..i].contains(reader) {
                return Err(ItemError::new(
                    format!("params.to[{i}]"),
                    "lists a reader twice (each reader gets one mail)",
                ));
            }
        }
        // The checkpoint lists the readers mailed, so all of them must fit in one.
        let size = serde_json::to_string(&params.to).map_or(usize::MAX, |json| json.len());
        if size > MAX_CHECKPOINT_BYTES {
            return Err(ItemError::new(
                "params.to",
                format!(
                    "the readers' addresses take {size} bytes of JSON; at most \
                     {MAX_CHECKPOINT_BYTES} (the run's checkpoint lists those mailed)"
                ),
            ));
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
        let text = format!(
            "Report on {} (run {} of this worker, attempt {}).",
            params.team,
            ctx.worker.run_count + 1,
            ctx.attempt
        );
        // Who an earlier attempt at this occurrence mailed already (nobody on the first).
        let mut done: Vec<String> = ctx
            .resume()
            .map_err(|e| JobError::permanent(e.to_string()))?
            .unwrap_or_default();
        let earlier = done.len();
        for reader in &params.to {
            if done.contains(reader) {
                continue;
            }
            let mail = Mail {
                from: params.from.clone(),
                to: vec![reader.clone()],
                cc: Vec::new(),
                bcc: Vec::new(),
                reply_to: Vec::new(),
                subject: subject.clone(),
                text: Some(text.clone()),
                html: None,
            };
            ctx.services.mailer.send(&mail).await?;
            done.push(reader.clone());
            record(&done, params.to.len(), ctx).await?;
        }
        let plural = if done.len() == 1 { "" } else { "s" };
        let mut outcome = format!(
            "report on {} sent to {} reader{plural}",
            params.team,
            done.len()
        );
        if earlier > 0 {
            outcome += &format!(" ({earlier} of them by an earlier attempt)");
        }
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

/// Says that `done` of `readers` readers have their mail, and saves who, for a retry to
/// resume from. A write that failed is tried again with the next one (the finish of a retry
/// writes the last checkpoint in any case); a run that no longer holds its worker stops here.
///
/// A run whose executor dies resumes from the last checkpoint written, at most two seconds
/// old (the coalescing), so a reader mailed in those seconds may get a second copy: SES takes
/// no idempotency key, and the mail stays at least once per reader.
async fn record(done: &[String], readers: usize, ctx: &JobContext<'_>) -> Result<(), JobError> {
    let line = format!("{} of {readers} readers mailed", done.len());
    let said = ctx
        .progress(&line, Some(done.len() as f64 / readers as f64))
        .await;
    match said.and(ctx.checkpoint(&done).await) {
        Ok(()) | Err(ReportError::Store(_)) => Ok(()),
        Err(e) => Err(JobError::permanent(e.to_string())),
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
