//! `nextdue tail`: follows runs as they finish, and the progress of running workers as they
//! report it, one line each, until Ctrl-C.
//!
//! It polls: the workers table (or the named workers), and the runs of each worker whose last
//! run changed, so a run finishing between two polls is never missed. A progress report is
//! shown when a poll finds a newer one than the last (reports closer together than a poll
//! show only the latest).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use clap::Args;

use super::format::{self, paint, style};
use super::show::Progress;
use super::{Connection, OpsResult};
use crate::adapters::dynamodb::{RunQuery, Store};
use crate::item::{RunRecord, attr};
use crate::timestamp::format_stamp;

/// What `tail` follows.
#[derive(Args, Clone, Debug)]
pub struct TailArgs {
    /// Only these workers (default: every worker).
    pub ids: Vec<String>,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1)]
    pub every: u64,
}

/// What a poll of the workers table saw of one worker.
struct Seen {
    /// The finish time of its last run, as stored.
    finish: String,
    /// Its progress, while it runs and has reported some.
    progress: Option<Progress>,
}

/// What a poll of the workers table sees of each worker followed.
async fn poll(
    connection: &Connection,
    store: &Store,
    ids: &[String],
) -> OpsResult<HashMap<String, Seen>> {
    let items = store
        .workers(&[], &mut |_| {})
        .await
        .map_err(|e| connection.explain_store("reading the workers", e))?;
    let mut finishes = HashMap::new();
    for item in items {
        let id = super::list::text(&item, attr::ID).unwrap_or_default();
        if ids.is_empty() || ids.contains(&id) {
            let finish = super::list::text(&item, attr::LAST_RUN_FINISH_TIME).unwrap_or_default();
            let progress = Progress::of(&item);
            finishes.insert(id, Seen { finish, progress });
        }
    }
    Ok(finishes)
}

/// The runs of `id` that started at or after `since` (a run-record stamp).
async fn runs_since(
    connection: &Connection,
    store: &Store,
    id: &str,
    since: &str,
) -> OpsResult<Vec<RunRecord>> {
    let query = RunQuery {
        since: Some(since.to_owned()),
        ..RunQuery::default()
    };
    store
        .runs(id, &query)
        .await
        .map_err(|e| connection.explain_store("reading the runs", e))
}

/// The line of a run that finished.
fn line(run: &RunRecord) -> String {
    let outcome = match (run.succeeded, run.superseded) {
        (_, true) => paint("superseded", style::NOTE),
        (Some(true), _) => paint("ok", style::OK),
        _ => paint("failed", style::BAD),
    };
    let finish = run.finish_time.map(format::utc).unwrap_or_default();
    format!(
        "{finish}  {}  {outcome}  due {}  attempt {}  {}",
        paint(&run.worker_id, style::HEAD),
        run.due,
        run.attempt,
        format::safe(run.message.as_deref().unwrap_or_default())
    )
}

/// The line of a running worker's new progress report.
fn progress_line(id: &str, progress: &Progress) -> String {
    format!(
        "{}  {}  {}  {}",
        format::utc(progress.at),
        paint(id, style::HEAD),
        paint("running", style::NOTE),
        progress.describe()
    )
}

/// Prints a worker's progress report if it is newer than the one seen before.
fn show_progress(connection: &Connection, id: &str, before: Option<&Seen>, now: &Seen) {
    let Some(progress) = &now.progress else {
        return;
    };
    let earlier = before.and_then(|seen| seen.progress.as_ref());
    if earlier.is_some_and(|earlier| earlier.stamp == progress.stamp) {
        return;
    }
    if connection.json {
        let json = serde_json::json!({
            "event": "progress", "workerId": id, "progress": progress.text,
            "progressFraction": progress.fraction, "progressTime": progress.stamp,
        });
        format::print(&json.to_string());
    } else {
        format::print(&progress_line(id, progress));
    }
}

/// Prints the runs of `id` that finished from `since` on and were not printed before.
async fn show_runs(
    connection: &Connection,
    store: &Store,
    id: &str,
    since: &str,
    printed: &mut BTreeSet<(String, String, bool)>,
) -> OpsResult<()> {
    let mut runs = runs_since(connection, store, id, since).await?;
    runs.sort_by_key(|r| r.finish_time);
    for run in runs {
        let key = (run.worker_id.clone(), run.run_id.clone(), run.superseded);
        if run.finish_time.is_none() || !printed.insert(key) {
            continue;
        }
        if connection.json {
            let json = serde_json::json!({
                "event": "run", "workerId": run.worker_id, "due": run.due.to_string(),
                "attempt": run.attempt, "startTime": run.start_time,
                "finishTime": run.finish_time, "succeeded": run.succeeded,
                "superseded": run.superseded, "message": run.message,
                "progress": run.progress,
            });
            format::print(&json.to_string());
        } else {
            format::print(&line(&run));
        }
    }
    Ok(())
}

/// Prints each run that finishes from `since` on, and each progress report found, polling
/// every `every`; returns only on an error.
async fn follow(
    connection: &Connection,
    store: &Store,
    args: &TailArgs,
    since: &str,
) -> OpsResult<()> {
    let mut known = poll(connection, store, &args.ids).await?;
    let mut printed: BTreeSet<(String, String, bool)> = BTreeSet::new();
    loop {
        tokio::time::sleep(Duration::from_secs(args.every.max(1))).await;
        let finishes = poll(connection, store, &args.ids).await?;
        for (id, seen) in &finishes {
            let before = known.get(id);
            if before.map(|b| &b.finish) != Some(&seen.finish) {
                show_runs(connection, store, id, since, &mut printed).await?;
            }
            show_progress(connection, id, before, seen);
        }
        known = finishes;
    }
}

/// Runs `nextdue tail` until Ctrl-C.
pub async fn run(connection: &Connection, args: &TailArgs) -> OpsResult<()> {
    let store = connection.store().await?;
    let since = format_stamp(connection.now());
    if !connection.json {
        eprintln!("following runs that finish, and progress, from now on (Ctrl-C stops)");
    }
    tokio::select! {
        result = follow(connection, &store, args, &since) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
