//! `nextdue ls`: one row per worker, soonest due first.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::format;
use super::{Connection, OpsResult};
use crate::controls::Scope;
use crate::item::json::to_json;
use crate::item::{AttributeValue, Item, Status, Worker, attr};

/// What `ls` shows.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    /// Only workers with this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// Only workers of this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only workers on this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only workers whose last run failed within this long (`90s`, `30m`, `1h`, `2d`): the
    /// fleet's recent failures.
    #[arg(long, value_parser = parse_age, value_name = "AGE")]
    pub failed_since: Option<chrono::TimeDelta>,
    /// At most this many rows.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Reads an age: a whole number and a unit, `s`, `m`, `h` or `d` (`30m`).
pub fn parse_age(text: &str) -> Result<chrono::TimeDelta, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit (30m, 1h, 2d)"))?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "{other:?} is not a unit: use s, m, h or d (30m, 1h, 2d)"
            ));
        }
    };
    number
        .checked_mul(seconds)
        .filter(|s| *s <= 3650 * 86_400)
        .map(chrono::TimeDelta::seconds)
        .ok_or_else(|| format!("{text:?} is longer than ten years"))
}

/// The statuses `ls --status` takes (another value is a usage error that lists these).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    /// Armed, waiting for its due time.
    Ready,
    /// A run holds the claim.
    Running,
    /// Finished, or disabled.
    Stopped,
    /// The item is wrong; its message says how.
    Invalid,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Ready => Status::Ready.as_str(),
            StatusFilter::Running => Status::Running.as_str(),
            StatusFilter::Stopped => Status::Stopped.as_str(),
            StatusFilter::Invalid => Status::Invalid.as_str(),
        }
    }
}

/// One worker as `ls --json` gives it (field names are stable): the fields below, and every
/// other attribute the item has under its own name (`leaseUntil`, `attempt`, `params`, …).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The worker's id.
    pub id: String,
    /// Its kind.
    pub kind: Option<String>,
    /// `ready`, `running`, `stopped`, `invalid`, or none yet.
    pub status: Option<String>,
    /// Whether it is enabled.
    pub enabled: bool,
    /// Its schedule expression.
    pub schedule: Option<String>,
    /// Its time zone.
    pub timezone: Option<String>,
    /// Its queue.
    pub queue: Option<String>,
    /// When it is next due.
    pub next_due: Option<String>,
    /// Finished runs.
    pub run_count: u64,
    /// Whether the last run succeeded.
    pub last_run_succeeded: Option<bool>,
    /// When the last run finished.
    pub last_run_finish_time: Option<String>,
    /// The last run's message (or why the worker is invalid).
    pub last_run_message: Option<String>,
    /// What is wrong with the item, when it does not decode as a worker (`enabled` written as
    /// a number, say) and no invalid mark says so yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Every other attribute of the item, as JSON.
    #[serde(flatten)]
    pub more: serde_json::Map<String, serde_json::Value>,
}

/// The attributes a [`Row`] has fields of.
const ROW_FIELDS: &[&str] = &[
    attr::ID,
    attr::KIND,
    attr::STATUS,
    attr::ENABLED,
    attr::SCHEDULE,
    attr::TIMEZONE,
    attr::QUEUE,
    attr::NEXT_DUE,
    attr::RUN_COUNT,
    attr::LAST_RUN_SUCCEEDED,
    attr::LAST_RUN_FINISH_TIME,
    attr::LAST_RUN_MESSAGE,
];

/// A string attribute of an item.
pub fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn boolean(item: &Item, name: &str) -> Option<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(b)) => Some(*b),
        _ => None,
    }
}

impl Row {
    /// The row of a stored item, whatever it holds (an invalid item shows what it has).
    pub fn of(item: &Item) -> Row {
        let run_count = match item.get(attr::RUN_COUNT) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        };
        let last_run_message = text(item, attr::LAST_RUN_MESSAGE);
        let marked = text(item, attr::STATUS).as_deref() == Some(Status::Invalid.as_str());
        let problem = match Worker::from_item(item) {
            Err(error) if !marked => Some(format!("invalid: {error}")),
            _ => None,
        };
        let more = item
            .iter()
            .filter(|(name, _)| !ROW_FIELDS.contains(&name.as_str()))
            .map(|(name, value)| {
                let json = serde_json::from_str(&to_json(value)).unwrap_or_default();
                (name.clone(), json)
            })
            .collect();
        Row {
            id: text(item, attr::ID).unwrap_or_default(),
            kind: text(item, attr::KIND),
            status: text(item, attr::STATUS),
            enabled: boolean(item, attr::ENABLED) == Some(true),
            schedule: text(item, attr::SCHEDULE),
            timezone: text(item, attr::TIMEZONE),
            queue: text(item, attr::QUEUE),
            next_due: text(item, attr::NEXT_DUE),
            run_count,
            last_run_succeeded: boolean(item, attr::LAST_RUN_SUCCEEDED),
            last_run_finish_time: text(item, attr::LAST_RUN_FINISH_TIME),
            last_run_message,
            problem,
            more,
        }
    }

    /// What the message column says: why the item is wrong; for a run under way that reports
    /// its progress, how far it has got; else the last run's message.
    pub fn message(&self) -> Option<String> {
        if let Some(problem) = &self.problem {
            return Some(problem.clone());
        }
        let progress = self.more.get(attr::PROGRESS).and_then(|p| p.as_str());
        match (self.status.as_deref(), progress, self.held_by()) {
            (Some("running"), Some(progress), _) => Some(format!("running: {progress}")),
            (Some("ready"), _, Some(scope)) => Some(format!(
                "held by the pause of {scope}: runs once when it ends"
            )),
            (Some("ready"), _, None) if self.more.contains_key(attr::DEFERRED_UNTIL) => {
                let start = self.more.get(attr::DEFERRED_UNTIL).and_then(|s| s.as_str());
                Some(format!(
                    "deferred by a rate limit: starts at {}",
                    start.unwrap_or("?")
                ))
            }
            _ => self.last_run_message.clone(),
        }
    }

    /// The pause holding the worker (`queue default`), if one does.
    pub fn held_by(&self) -> Option<Scope> {
        let key = self.more.get(attr::HELD_BY)?.as_str()?;
        Scope::from_key(key)
    }

    /// What the status column says: the status, or `held` for a ready worker a pause holds.
    fn status_word(&self) -> String {
        match (self.status.as_deref(), self.held_by()) {
            (Some("ready"), Some(_)) => "held".into(),
            (Some(status), _) => status.into(),
            (None, _) => "-".into(),
        }
    }

    fn next_due_at(&self) -> Option<DateTime<Utc>> {
        self.next_due.as_deref().and_then(|d| d.parse().ok())
    }
}

/// Every worker item, read page by page (with a spinner on a terminal once it takes a moment).
async fn scan(connection: &Connection, args: &ListArgs) -> OpsResult<Vec<Item>> {
    let store = connection.store().await?;
    let equal: Vec<(&str, String)> = [
        (attr::STATUS, args.status.map(|s| s.as_str().to_owned())),
        (attr::KIND, args.kind.clone()),
        (attr::QUEUE, args.queue.clone()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect();
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} reading {msg}").expect("a valid template"),
    );
    let started = std::time::Instant::now();
    let items = store
        .workers(&equal, &mut |read| {
            if started.elapsed() > Duration::from_millis(500) {
                spinner.set_message(format!("{read} workers"));
                spinner.tick();
            }
        })
        .await
        .map_err(|e| connection.explain_store("reading the workers", e))?;
    spinner.finish_and_clear();
    Ok(items)
}

/// The rows `ls` shows, soonest due first (workers with no due time last, by id).
pub async fn rows(connection: &Connection, args: &ListArgs) -> OpsResult<Vec<Row>> {
    let mut rows: Vec<Row> = scan(connection, args).await?.iter().map(Row::of).collect();
    if let Some(age) = args.failed_since {
        let since = connection.now() - age;
        rows.retain(|row| {
            row.last_run_succeeded == Some(false)
                && row
                    .last_run_finish_time
                    .as_deref()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    .is_some_and(|t| t >= since)
        });
    }
    rows.sort_by(|a, b| {
        let key = |r: &Row| (r.next_due_at().is_none(), r.next_due_at(), r.id.clone());
        key(a).cmp(&key(b))
    });
    if let Some(limit) = args.limit {
        rows.truncate(limit);
    }
    Ok(rows)
}

/// The last run, in a few words: `ok 3 minutes ago`.
fn last_run(row: &Row, now: DateTime<Utc>) -> String {
    let when = row
        .last_run_finish_time
        .as_deref()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map(|t| format::relative(t, now));
    match (row.last_run_succeeded, when) {
        (Some(true), Some(when)) => format!("ok {when}"),
        (Some(false), Some(when)) => format!("failed {when}"),
        _ => "-".into(),
    }
}

/// Runs `nextdue ls`.
pub async fn run(connection: &Connection, args: &ListArgs) -> OpsResult<()> {
    let rows = rows(connection, args).await?;
    if connection.json {
        format::print_json(&serde_json::to_value(&rows).expect("rows serialize"));
        return Ok(());
    }
    if rows.is_empty() {
        format::print("no workers");
        return Ok(());
    }
    let now = connection.now();
    let cells = rows
        .iter()
        .map(|row| {
            vec![
                row.id.clone(),
                row.kind.clone().unwrap_or_default(),
                row.status_word(),
                row.schedule.clone().unwrap_or_else(|| "once".into()),
                row.next_due_at()
                    .map(|at| format::when(at, now))
                    .unwrap_or_else(|| "-".into()),
                last_run(row, now),
                row.message().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        "ID", "KIND", "STATUS", "SCHEDULE", "NEXT DUE", "LAST RUN", "MESSAGE",
    ];
    format::print(&format::table(&headers, cells));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_or_deferred_worker_says_so_in_its_row() {
        let row = |json: serde_json::Value| Row::of(&serde_dynamo::to_item(json).unwrap());
        let held = row(
            serde_json::json!({"id": "a", "kind": "report", "status": "ready", "heldBy": "kind:report",
            "lastRunMessage": "older news"}),
        );
        assert_eq!(held.status_word(), "held");
        assert_eq!(
            held.message().as_deref(),
            Some("held by the pause of kind report: runs once when it ends")
        );
        let deferred = row(
            serde_json::json!({"id": "b", "kind": "log", "status": "ready",
            "deferredUntil": "2027-01-01T09:06:00Z"}),
        );
        assert_eq!(deferred.status_word(), "ready");
        assert_eq!(
            deferred.message().as_deref(),
            Some("deferred by a rate limit: starts at 2027-01-01T09:06:00Z")
        );
    }

    #[test]
    fn ages_read_a_number_and_a_unit() {
        assert_eq!(parse_age("90s"), Ok(chrono::TimeDelta::seconds(90)));
        assert_eq!(parse_age("30m"), Ok(chrono::TimeDelta::minutes(30)));
        assert_eq!(parse_age("1h"), Ok(chrono::TimeDelta::hours(1)));
        assert_eq!(parse_age("2d"), Ok(chrono::TimeDelta::days(2)));
        assert!(parse_age("1w").unwrap_err().contains("not a unit"));
        assert!(parse_age("h").is_err());
        assert!(parse_age("99999999999999d").is_err());
    }
}
