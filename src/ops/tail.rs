//! `nextdue tail`: follows runs as they finish, and the progress of running workers as they
//! report it, one line each, until Ctrl-C; with `--events`, the events published to the bus,
//! as a queue a rule copies them to (the tap `nextdue dev` creates) receives them.
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
use super::{Connection, OpsError, OpsResult};
use crate::adapters::dynamodb::{RunQuery, Store};
use crate::adapters::sdk_error;
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
    /// Follow the events on the bus instead, from the tap queue a rule copies every event to
    /// (`nextdue dev` creates `<prefix>events-tap`; in AWS, subscribe one the same way).
    /// Each event is taken off the tap as it is shown.
    #[arg(long)]
    pub events: bool,
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

/// The line of an event from the bus (an EventBridge envelope), or `None` when it is not one
/// of nextdue's or not about the workers followed.
fn event_line(envelope: &serde_json::Value, ids: &[String]) -> Option<String> {
    if envelope["source"] != "nextdue" {
        return None;
    }
    let detail = &envelope["detail"];
    let kind = envelope["detail-type"].as_str().unwrap_or_default();
    let about = detail["workerId"]
        .as_str()
        .or(detail["deadLetterQueue"].as_str())
        .unwrap_or_default();
    if !ids.is_empty() && !ids.iter().any(|id| id == about) {
        return None;
    }
    let paint_as = match kind {
        "Worker Recovered" => style::OK,
        "Run Failed" | "Worker Stopped" => style::NOTE,
        _ => style::BAD,
    };
    Some(format!(
        "{}  {}  {}  {}",
        detail["time"].as_str().unwrap_or_default(),
        paint(kind, paint_as),
        paint(about, style::HEAD),
        format::safe(detail["message"].as_str().unwrap_or_default())
    ))
}

/// Prints the events the tap queue receives (and takes them off it), until an error.
async fn follow_events(connection: &Connection, args: &TailArgs) -> OpsResult<()> {
    let clients = connection.clients().await?;
    let tap = connection.settings()?.names.events_tap_queue_name();
    let sqs = &clients.sqs;
    let url = sqs
        .get_queue_url()
        .queue_name(&tap)
        .send()
        .await
        .map_err(|e| match sdk_error::code_of(&e) {
            Some(code) if code.contains("NonExistentQueue") => OpsError(format!(
                "no queue {tap}: `nextdue dev` creates it; in AWS, create it and a rule on the \
                 bus sending it every event with source nextdue"
            )),
            _ => connection.explain("finding the events tap", &tap, e),
        })?
        .queue_url
        .unwrap_or_default();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(args.every.clamp(1, 20) as i32)
            .send()
            .await
            .map_err(|e| connection.explain("reading the events tap", &tap, e))?;
        for message in received.messages.unwrap_or_default() {
            let body = message.body.as_deref().unwrap_or_default();
            let envelope: serde_json::Value =
                serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
            if let Some(line) = event_line(&envelope, &args.ids) {
                if connection.json {
                    format::print(&envelope.to_string());
                } else {
                    format::print(&line);
                }
            }
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .map_err(|e| connection.explain("taking an event off the tap", &tap, e))?;
        }
    }
}

/// Runs `nextdue tail` until Ctrl-C.
pub async fn run(connection: &Connection, args: &TailArgs) -> OpsResult<()> {
    if args.events {
        if !connection.json {
            eprintln!("following the events published from now on (Ctrl-C stops)");
        }
        return tokio::select! {
            result = follow_events(connection, args) => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kind: &str, detail: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"source": "nextdue", "detail-type": kind, "detail": detail})
    }

    #[test]
    fn an_event_line_names_the_kind_the_worker_and_the_message() {
        let event = envelope(
            "Worker Gave Up",
            serde_json::json!({"workerId": "nightly", "message": "SMTP said 421",
                "time": "2027-01-05T02:00:01Z"}),
        );
        let line = event_line(&event, &[]).expect("shown");
        for part in [
            "2027-01-05T02:00:01Z",
            "Worker Gave Up",
            "nightly",
            "SMTP said 421",
        ] {
            assert!(line.contains(part), "{line}");
        }
        assert_eq!(event_line(&event, &["other".into()]), None);
        assert!(event_line(&event, &["nightly".into()]).is_some());
    }

    #[test]
    fn a_dead_letter_event_is_about_its_queue_and_hostile_text_is_escaped() {
        let event = envelope(
            "Dead Lettered",
            serde_json::json!({"deadLetterQueue": "nextdue-default-dlq",
                "message": "2 messages\u{1b}[2J"}),
        );
        let line = event_line(&event, &[]).expect("shown");
        assert!(line.contains("nextdue-default-dlq"), "{line}");
        assert!(
            line.contains("messages\\u{1b}[2J"),
            "shown as a visible escape: {line}"
        );
        assert!(!line.contains("\u{1b}[2J"), "{line}");
    }

    #[test]
    fn what_is_not_an_event_of_nextdue_is_not_shown() {
        let mut event = envelope("Worker Gave Up", serde_json::json!({}));
        event["source"] = serde_json::json!("aws.s3");
        assert_eq!(event_line(&event, &[]), None);
        assert_eq!(event_line(&serde_json::Value::Null, &[]), None);
    }
}
