//! `nextdue tail`: follows runs as they finish, one line each, until Ctrl-C.
//!
//! It polls: the workers table (only `id` and `lastRunFinishTime`, or the named workers), and
//! the runs of each worker whose last run changed, so a run finishing between two polls is
//! never missed.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use clap::Args;

use super::format::{self, paint, style};
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

/// The finish time of each worker's last run (what a poll of the workers table reads).
async fn last_finishes(
    connection: &Connection,
    store: &Store,
    ids: &[String],
) -> OpsResult<HashMap<String, String>> {
    let items = store
        .workers(&[], &mut |_| {})
        .await
        .map_err(|e| connection.explain_store("reading the workers", e))?;
    let mut finishes = HashMap::new();
    for item in items {
        let id = super::list::text(&item, attr::ID).unwrap_or_default();
        if ids.is_empty() || ids.contains(&id) {
            let finish = super::list::text(&item, attr::LAST_RUN_FINISH_TIME).unwrap_or_default();
            finishes.insert(id, finish);
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

/// Prints each run that finishes from `since` on, polling every `every`; returns only on
/// an error.
async fn follow(
    connection: &Connection,
    store: &Store,
    args: &TailArgs,
    since: &str,
) -> OpsResult<()> {
    let mut known = last_finishes(connection, store, &args.ids).await?;
    let mut printed: BTreeSet<(String, String, bool)> = BTreeSet::new();
    loop {
        tokio::time::sleep(Duration::from_secs(args.every.max(1))).await;
        let finishes = last_finishes(connection, store, &args.ids).await?;
        for (id, finish) in &finishes {
            if known.get(id) == Some(finish) {
                continue;
            }
            let mut runs = runs_since(connection, store, id, since).await?;
            runs.sort_by_key(|r| r.finish_time);
            for run in runs {
                let key = (run.worker_id.clone(), run.run_id.clone(), run.superseded);
                if run.finish_time.is_none() || !printed.insert(key) {
                    continue;
                }
                if connection.json {
                    let json = serde_json::json!({
                        "workerId": run.worker_id, "due": run.due.to_string(),
                        "attempt": run.attempt, "startTime": run.start_time,
                        "finishTime": run.finish_time, "succeeded": run.succeeded,
                        "superseded": run.superseded, "message": run.message,
                    });
                    format::print(&json.to_string());
                } else {
                    format::print(&line(&run));
                }
            }
        }
        known = finishes;
    }
}

/// Runs `nextdue tail` until Ctrl-C.
pub async fn run(connection: &Connection, args: &TailArgs) -> OpsResult<()> {
    let store = connection.store().await?;
    let since = format_stamp(connection.now());
    if !connection.json {
        eprintln!("following runs that finish from now on (Ctrl-C stops)");
    }
    tokio::select! {
        result = follow(connection, &store, args, &since) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
