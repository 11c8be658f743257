//! `nextdue show` (a worker in words) and `nextdue runs` (its run history).

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::format::{self, paint, safe, style};
use super::list::Row;
use super::preview::{DueTime, describe, due_table};
use super::{Connection, OpsError, OpsResult};
use crate::adapters::dynamodb::{RunQuery, Store};
use crate::item::{AttributeValue, Item, RunRecord, Worker, attr};
use crate::seams::WorkerStore;

/// What `show` shows.
#[derive(Args, Clone, Debug)]
pub struct ShowArgs {
    /// The worker's id.
    pub id: String,
    /// How many of its latest runs to show.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// What `runs` shows.
#[derive(Args, Clone, Debug)]
pub struct RunsArgs {
    /// The worker's id.
    pub id: String,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only failed runs.
    #[arg(long)]
    pub failed: bool,
}

/// The worker item `id`, or an error saying there is none.
pub async fn worker_item(connection: &Connection, store: &Store, id: &str) -> OpsResult<Item> {
    store
        .get_worker(id)
        .await
        .map_err(|e| connection.explain_store("reading the worker", e))?
        .ok_or_else(|| {
            OpsError(format!(
                "no worker {id:?} in {} (`{} ls` lists them)",
                connection.workers_table,
                super::program()
            ))
        })
}

/// The latest runs of worker `id`, newest first: at most `limit`, only failed ones if asked.
pub async fn latest_runs(
    connection: &Connection,
    store: &Store,
    id: &str,
    limit: usize,
    failed_only: bool,
) -> OpsResult<Vec<RunRecord>> {
    let query = RunQuery {
        newest_first: true,
        failed_only,
        limit: Some(limit),
        ..RunQuery::default()
    };
    store
        .runs(id, &query)
        .await
        .map_err(|e| connection.explain_store("reading the runs", e))
}

/// A run as `runs --json` and `show --json` give it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunView<'a> {
    due: String,
    attempt: u32,
    start_time: DateTime<Utc>,
    finish_time: Option<DateTime<Utc>>,
    succeeded: Option<bool>,
    message: Option<&'a str>,
    duration_ms: Option<u64>,
    superseded: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skipped: bool,
    task_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress_fraction: Option<f64>,
}

fn view(run: &RunRecord) -> RunView<'_> {
    RunView {
        due: run.due.to_string(),
        attempt: run.attempt,
        start_time: run.start_time,
        finish_time: run.finish_time,
        succeeded: run.succeeded,
        message: run.message.as_deref(),
        duration_ms: run.duration_ms,
        superseded: run.superseded,
        skipped: run.skipped,
        task_id: &run.task_id,
        progress: run.progress.as_deref(),
        progress_fraction: run.progress_fraction.map(|f| f.value()),
    }
}

fn runs_table(runs: &[RunRecord], now: DateTime<Utc>) -> String {
    let cells = runs
        .iter()
        .map(|run| {
            let outcome = match (run.succeeded, run.superseded, run.skipped) {
                (_, _, true) => "skipped",
                (_, true, _) => "superseded",
                (Some(true), _, _) => "ok",
                (Some(false), _, _) => "failed",
                (None, _, _) => "-",
            };
            let took = run
                .duration_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            vec![
                format::utc(run.due.instant()),
                run.attempt.to_string(),
                format::relative(run.start_time, now),
                took,
                outcome.to_owned(),
                run.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["DUE", "ATTEMPT", "STARTED", "TOOK", "OUTCOME", "MESSAGE"];
    format::table(&headers, cells)
}

/// Runs `nextdue runs`.
pub async fn run_runs(connection: &Connection, args: &RunsArgs) -> OpsResult<()> {
    let store = connection.store().await?;
    worker_item(connection, &store, &args.id).await?;
    let runs = latest_runs(connection, &store, &args.id, args.limit, args.failed).await?;
    if connection.json {
        let views: Vec<RunView> = runs.iter().map(view).collect();
        format::print_json(&serde_json::to_value(views).expect("runs serialize"));
    } else if runs.is_empty() {
        format::print(&format!("no runs of {} yet", args.id));
    } else {
        format::print(&runs_table(&runs, connection.now()));
    }
    Ok(())
}

/// How to mend an invalid worker, from its message (`invalid: <attribute>: <problem>`).
fn remedy(message: &str) -> String {
    let attribute = message
        .strip_prefix("invalid: ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("the attribute named");
    format!(
        "fix {attribute} and save the item with enabled = true: nextdue arms it again \
         (`{} put` checks an item before writing it)",
        super::program()
    )
}

/// What a running worker last said of its progress, as its item holds it.
pub(super) struct Progress {
    /// The job's line, if it gave one.
    pub text: Option<String>,
    /// How far, 0 to 1, if it said.
    pub fraction: Option<f64>,
    /// When it was written (the report's `progressTime`, exactly as stored).
    pub at: DateTime<Utc>,
    /// `progressTime` as stored, to tell one report from the next.
    pub stamp: String,
}

impl Progress {
    /// The progress of a running item that has reported some; `None` otherwise.
    pub fn of(item: &Item) -> Option<Progress> {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(text)) => Some(text.clone()),
            _ => None,
        };
        if text(attr::STATUS).as_deref() != Some("running") {
            return None;
        }
        let stamp = text(attr::PROGRESS_TIME)?;
        let at = stamp.parse::<DateTime<Utc>>().ok()?;
        let fraction = match item.get(attr::PROGRESS_FRACTION) {
            Some(AttributeValue::N(number)) => number.parse::<f64>().ok(),
            _ => None,
        };
        Some(Progress {
            text: text(attr::PROGRESS),
            fraction,
            at,
            stamp,
        })
    }

    /// `40 of 100 rows (40%)`, printable whatever the job wrote.
    pub fn describe(&self) -> String {
        let mut line = safe(self.text.as_deref().unwrap_or("(no text)"));
        if let Some(fraction) = self.fraction {
            line.push_str(&format!(" ({:.0}%)", fraction * 100.0));
        }
        line
    }
}

/// For a running worker that has reported its progress: what it said, and when
/// (`progress  40 of 100 rows (40%), 3 seconds ago`).
fn progress_line(item: &Item, now: DateTime<Utc>) -> Option<String> {
    let progress = Progress::of(item)?;
    Some(format!(
        "progress  {}, {}",
        progress.describe(),
        format::relative(progress.at, now)
    ))
}

/// For a running worker: since when, until when its lease holds, and what happens then
/// (`running since …, lease until …; then the sweeper retries it (onLost = retry)`).
fn running_line(worker: &Worker, now: DateTime<Utc>) -> Option<String> {
    if worker.status != Some(crate::item::Status::Running) {
        return None;
    }
    let since = worker
        .last_run_start_time
        .map(|t| format::when(t, now))
        .unwrap_or_else(|| "?".into());
    let lease = worker.lease_until?;
    let then = match worker.on_lost() {
        crate::item::OnLost::Retry => "the sweeper retries it (onLost = retry)",
        crate::item::OnLost::Skip => "the sweeper skips to its next due time (onLost = skip)",
    };
    let passed = if lease < now {
        "; its lease has passed, so the sweeper's next pass acts"
    } else {
        ""
    };
    Some(format!(
        "running   since {since}, attempt {}; lease until {}; if it does not finish by then, \
         {then}{passed} (`{} release {}` gives it up now)",
        worker.attempt + 1,
        format::when(lease, now),
        super::program(),
        safe(&worker.id)
    ))
}

/// Runs `nextdue show`.
pub async fn run_show(connection: &Connection, args: &ShowArgs) -> OpsResult<()> {
    let store = connection.store().await?;
    let item = worker_item(connection, &store, &args.id).await?;
    let row = Row::of(&item);
    let decoded = Worker::from_item(&item);
    let now = connection.now();
    let upcoming: Vec<DueTime> = match (&decoded, row.next_due.as_deref()) {
        (Ok(worker), Some(next)) if worker.enabled => match (&worker.schedule, next.parse()) {
            (Some(schedule), Ok(next)) => due_times_from(schedule, worker, next),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let runs = latest_runs(connection, &store, &args.id, args.runs, false).await?;
    let problem = match (&decoded, row.status.as_deref()) {
        (Err(error), _) => Some(format!("invalid: {error}")),
        (Ok(_), Some("invalid")) => row.last_run_message.clone(),
        _ => None,
    };
    if connection.json {
        format::print_json(&serde_json::json!({
            "worker": row,
            "upcoming": upcoming,
            "runs": runs.iter().map(view).collect::<Vec<_>>(),
            "problem": problem,
            "remedy": problem.as_deref().map(remedy),
        }));
        return Ok(());
    }
    let mut lines = vec![format!(
        "{} ({}), {}",
        paint(&row.id, style::HEAD),
        safe(row.kind.as_deref().unwrap_or("no kind")),
        state(&row)
    )];
    let schedule = row.schedule.as_deref().unwrap_or("once (no schedule)");
    let zone = row.timezone.as_deref().unwrap_or("UTC");
    lines.push(format!("schedule  {}, in {}", safe(schedule), safe(zone)));
    if let Some(next) = row.next_due.as_deref().and_then(|d| d.parse().ok()) {
        lines.push(format!("next due  {}", format::when(next, now)));
    }
    if let Some(succeeded) = row.last_run_succeeded {
        let outcome = if succeeded {
            paint("succeeded", style::OK)
        } else {
            paint("failed", style::BAD)
        };
        let when = row
            .last_run_finish_time
            .as_deref()
            .and_then(|t| t.parse().ok())
            .map(|t| format!(", {}", format::relative(t, now)))
            .unwrap_or_default();
        lines.push(format!(
            "last run  {outcome}{when}: {}",
            safe(row.last_run_message.as_deref().unwrap_or_default())
        ));
    }
    if let Ok(worker) = &decoded
        && let Some(running) = running_line(worker, now)
    {
        lines.push(running);
        lines.extend(progress_line(&item, now));
    }
    lines.push(format!("runs      {} finished", row.run_count));
    if let Some(problem) = &problem {
        lines.push(String::new());
        lines.push(paint(problem, style::BAD));
        lines.push(format!("to fix it: {}", safe(&remedy(problem))));
    }
    if !upcoming.is_empty() {
        lines.push(String::new());
        lines.push(paint("upcoming", style::HEAD));
        lines.push(due_table(&upcoming, zone));
    }
    lines.push(String::new());
    if runs.is_empty() {
        lines.push("no runs yet".into());
    } else {
        lines.push(paint("latest runs", style::HEAD));
        lines.push(runs_table(&runs, now));
    }
    format::print(&lines.join("\n"));
    Ok(())
}

/// The next five due times from the worker's next one.
fn due_times_from(
    schedule: &crate::schedule::Schedule,
    worker: &Worker,
    next: crate::timestamp::Due,
) -> Vec<DueTime> {
    let mut times = vec![next];
    while times.len() < 5 {
        let last = *times.last().expect("one at least");
        match schedule.next_due(last, last, worker.tz()) {
            Some(due) => times.push(due),
            None => break,
        }
    }
    times
        .into_iter()
        .map(|due| describe(due, worker.tz()))
        .collect()
}

fn state(row: &Row) -> String {
    let status = row.status.as_deref().unwrap_or("not armed yet");
    let enabled = if row.enabled { "enabled" } else { "disabled" };
    let status = match (status, row.held_by()) {
        ("invalid", _) => paint(status, style::BAD),
        ("running", _) => paint(status, style::NOTE),
        ("ready", Some(scope)) => paint(
            &format!("held by the pause of {}", safe(&scope.to_string())),
            style::NOTE,
        ),
        _ => safe(status),
    };
    format!("{status}, {enabled}")
}
