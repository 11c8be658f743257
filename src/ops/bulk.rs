//! `nextdue enable|disable|run-now|retry --where status=invalid,kind=report,…`: one request
//! for every worker a filter matches. The table is read page by page twice: first to count
//! (what `--dry-run` prints, and what the confirmation asks about), then to change each match
//! with the single-worker command's write, conditioned also on the item still standing as it
//! was read, so a worker that changed meanwhile is left alone and counted as such.

use std::io::IsTerminal;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;

use super::format::{self, paint, style};
use super::list::{parse_age, text};
use super::{Connection, OpsError, OpsResult};
use crate::adapters::dynamodb::{ScanStart, Store};
use crate::item::{AttributeValue, DEFAULT_QUEUE, Item, Status, attr};
use crate::lifecycle::update::{b, s};
use crate::lifecycle::{Condition, Update};
use crate::seams::{Applied, WorkerStore};
use crate::timestamp::format_stamp;

/// What a request asks of a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `enabled = true`.
    Enable,
    /// `enabled = false`.
    Disable,
    /// `runNow = true`.
    RunNow,
    /// Run a failed worker again: a stopped one whose last run failed, or one waiting to
    /// retry, runs now (as `run-now`); an invalid one is checked again by the dispatcher
    /// (armed if what made it invalid is gone, left invalid with its message if not).
    Retry,
}

impl Request {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Request::Enable => "enable",
            Request::Disable => "disable",
            Request::RunNow => "run-now",
            Request::Retry => "retry",
        }
    }

    /// The attribute and value the single-worker command sets (`retry` depends on the state).
    pub fn assignment(self) -> Option<(&'static str, AttributeValue)> {
        match self {
            Request::Enable => Some((attr::ENABLED, b(true))),
            Request::Disable => Some((attr::ENABLED, b(false))),
            Request::RunNow => Some((attr::RUN_NOW, b(true))),
            Request::Retry => None,
        }
    }
}

/// Which workers a bulk request is for: every condition given holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// `status=invalid`.
    pub status: Option<Status>,
    /// `kind=report`.
    pub kind: Option<String>,
    /// `queue=default` (a worker without `queue` is in `default`).
    pub queue: Option<String>,
    /// `failed-since=12h`: the last run failed within this long.
    pub failed_since: Option<TimeDelta>,
    /// `id-prefix=report-`.
    pub id_prefix: Option<String>,
}

const KEYS: &str = "status, kind, queue, failed-since, id-prefix";

impl std::str::FromStr for Filter {
    type Err = String;

    /// `status=invalid,kind=report,queue=default,failed-since=12h,id-prefix=r-`.
    fn from_str(text: &str) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: write KEY=VALUE ({KEYS})"))?;
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(format!("{key}: a value is needed ({key}=…)"));
            }
            match key {
                "status" => {
                    filter.status = Some(value.parse().map_err(|()| {
                        format!("status={value}: one of ready, running, stopped, invalid")
                    })?);
                }
                "kind" => filter.kind = Some(value.to_owned()),
                "queue" => filter.queue = Some(value.to_owned()),
                "failed-since" => filter.failed_since = Some(parse_age(value)?),
                "id-prefix" => filter.id_prefix = Some(value.to_owned()),
                other => return Err(format!("{other:?} is not a filter: use {KEYS}")),
            }
        }
        if filter == Filter::default() {
            return Err(format!(
                "an empty filter would match every worker: name at least one of {KEYS}"
            ));
        }
        Ok(filter)
    }
}

impl Filter {
    /// The conditions DynamoDB can check while it scans (equal strings), so pages carry only
    /// likely matches.
    fn scan_equal(&self) -> Vec<(&'static str, String)> {
        let mut equal = Vec::new();
        if let Some(status) = self.status {
            equal.push((attr::STATUS, status.as_str().to_owned()));
        }
        if let Some(kind) = &self.kind {
            equal.push((attr::KIND, kind.clone()));
        }
        // `default` also matches workers without `queue`, which no equality finds.
        if let Some(queue) = self.queue.as_ref().filter(|q| q.as_str() != DEFAULT_QUEUE) {
            equal.push((attr::QUEUE, queue.clone()));
        }
        equal
    }

    /// Whether `item` matches at `now`.
    pub fn matches(&self, item: &Item, now: DateTime<Utc>) -> bool {
        let status = text(item, attr::STATUS);
        let failed_at = || {
            (item.get(attr::LAST_RUN_SUCCEEDED) == Some(&b(false)))
                .then(|| {
                    text(item, attr::LAST_RUN_FINISH_TIME)?
                        .parse::<DateTime<Utc>>()
                        .ok()
                })
                .flatten()
        };
        self.status
            .is_none_or(|want| status.as_deref() == Some(want.as_str()))
            && self
                .kind
                .as_ref()
                .is_none_or(|kind| text(item, attr::KIND).as_ref() == Some(kind))
            && self.queue.as_ref().is_none_or(|queue| {
                text(item, attr::QUEUE).as_deref().unwrap_or(DEFAULT_QUEUE) == queue
            })
            && self
                .failed_since
                .is_none_or(|age| failed_at().is_some_and(|at| at >= now - age))
            && self.id_prefix.as_ref().is_none_or(|prefix| {
                text(item, attr::ID).is_some_and(|id| id.starts_with(prefix.as_str()))
            })
    }

    /// The conditions that `item` still stands as read, in every attribute the filter looks
    /// at (and in its activation and status, which every request depends on).
    fn still(&self, item: &Item) -> Vec<Condition> {
        let as_read =
            |name: &'static str| Condition::equals_or_missing(name, item.get(name).cloned());
        let mut all = vec![
            as_read(attr::STATUS),
            as_read(attr::TASK_ID),
            as_read(attr::ENABLED),
        ];
        if self.kind.is_some() {
            all.push(as_read(attr::KIND));
        }
        if self.queue.is_some() {
            all.push(as_read(attr::QUEUE));
        }
        if self.failed_since.is_some() {
            all.push(as_read(attr::LAST_RUN_SUCCEEDED));
            all.push(as_read(attr::LAST_RUN_FINISH_TIME));
        }
        all
    }
}

/// The write `request` makes to the stored worker `item` at `now`, or why it makes none (it
/// would change nothing). The single-worker `retry` and every bulk request go through it; the
/// single-worker `enable`, `disable` and `run-now` make the same write, and say afterwards
/// when it changed nothing.
pub fn request_update(
    request: Request,
    item: &Item,
    now: DateTime<Utc>,
) -> Result<Update, &'static str> {
    let id = text(item, attr::ID).ok_or("it has no string id")?;
    let exists = Condition::Not(Box::new(Condition::Missing(attr::ID)));
    let enabled = item.get(attr::ENABLED) == Some(&b(true));
    match request {
        Request::Enable if enabled => return Err("it is enabled already"),
        Request::Disable if !enabled => return Err("it is disabled already"),
        _ => {}
    }
    if let Some((name, value)) = request.assignment() {
        return Ok(Update::new(&id, exists).set(name, value));
    }
    let status = text(item, attr::STATUS).and_then(|s| s.parse::<Status>().ok());
    let retrying = item.contains_key(attr::RETRY_OF);
    let failed = item.get(attr::LAST_RUN_SUCCEEDED) == Some(&b(false));
    let condition = |status: Status| {
        Condition::All(vec![
            exists.clone(),
            Condition::Equals(attr::ENABLED, b(true)),
            Condition::Equals(attr::STATUS, s(status.as_str())),
        ])
    };
    match status {
        _ if !enabled => Err("it is disabled (enable it to run it again)"),
        // The dispatcher checks an invalid worker again when it is written.
        Some(Status::Invalid) => Ok(Update::new(&id, condition(Status::Invalid))
            .set(attr::UPDATE_TIME, s(format_stamp(now)))),
        Some(Status::Stopped) if failed => {
            let mut update =
                Update::new(&id, condition(Status::Stopped)).set(attr::RUN_NOW, b(true));
            update.condition = Condition::All(vec![
                update.condition,
                Condition::Equals(attr::LAST_RUN_SUCCEEDED, b(false)),
            ]);
            Ok(update)
        }
        Some(Status::Ready) if retrying => {
            Ok(Update::new(&id, condition(Status::Ready)).set(attr::RUN_NOW, b(true)))
        }
        Some(Status::Running) => Err("it is running"),
        _ => Err("it did not fail"),
    }
}

/// What a bulk request found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Items read.
    pub scanned: usize,
    /// Items the filter matched.
    pub matched: usize,
    /// Matches the request would change (the rest: a `retry` of one that did not fail, an
    /// `enable` of one enabled already, …).
    pub changes: usize,
    /// Matches changed.
    pub changed: usize,
    /// Matches that no longer stood as read when written, left alone.
    pub moved: usize,
}

/// Reads the whole table page by page, handing each item the filter matches to `each`.
async fn each_match(
    connection: &Connection,
    store: &Store,
    filter: &Filter,
    now: DateTime<Utc>,
    tally: &mut Tally,
    mut each: impl AsyncFnMut(Vec<Item>, &mut Tally),
) -> OpsResult<()> {
    let equal: Vec<(&str, String)> = filter.scan_equal();
    let mut start: Option<ScanStart> = None;
    loop {
        let page = store
            .workers_page(&equal, start)
            .await
            .map_err(|e| connection.explain_store("reading the workers", e))?;
        tally.scanned += page.read;
        let matching: Vec<Item> = (page.items.into_iter())
            .filter(|i| filter.matches(i, now))
            .collect();
        each(matching, tally).await;
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(()),
        }
    }
}

/// Asks on the terminal whether to go on; without a terminal, `--yes` must say so.
fn confirmed(question: &str) -> OpsResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(OpsError(format!(
            "{question}: not asked, since standard input is not a terminal; add --yes to go \
             ahead (or --dry-run to only count)"
        )));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| OpsError(format!("reading the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Runs `request` on every worker `filter` matches: counts first, asks (unless `yes`), then
/// changes each, at most `parallel` writes at a time.
pub async fn run(
    connection: &Connection,
    request: Request,
    filter: &Filter,
    yes: bool,
    dry_run: bool,
) -> OpsResult<()> {
    let store = connection.store().await?;
    let now = connection.now();
    let spinner = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} counting: {msg}")
            .expect("a valid template"),
    );
    let mut counted = Tally::default();
    each_match(
        connection,
        &store,
        filter,
        now,
        &mut counted,
        async |items, tally| {
            tally.matched += items.len();
            tally.changes += items
                .iter()
                .filter(|item| request_update(request, item, now).is_ok())
                .count();
            spinner.set_message(format!("{} read, {} match", tally.scanned, tally.matched));
            spinner.tick();
        },
    )
    .await?;
    spinner.finish_and_clear();
    let what = request.name();
    let counted_words = format!(
        "{} of {} workers match; {what} changes {}",
        counted.matched, counted.scanned, counted.changes
    );
    if dry_run || counted.changes == 0 {
        report(connection, request, &counted, true, &counted_words);
        return Ok(());
    }
    if !yes && !confirmed(&format!("{counted_words}. Go ahead?"))? {
        return Err(OpsError("nothing changed".into()));
    }
    let bar = indicatif::ProgressBar::new(counted.changes as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let mut done = Tally::default();
    let mut failure = None;
    each_match(
        connection,
        &store,
        filter,
        now,
        &mut done,
        async |items, tally| {
            tally.matched += items.len();
            let writes: Vec<Update> = items
                .iter()
                .filter_map(|item| {
                    let mut update = request_update(request, item, now).ok()?;
                    let mut all = vec![update.condition];
                    all.extend(filter.still(item));
                    update.condition = Condition::All(all);
                    Some(update)
                })
                .collect();
            tally.changes += writes.len();
            let results: Vec<_> = futures::stream::iter(writes.iter().map(|u| store.apply(u)))
                .buffer_unordered(8)
                .collect()
                .await;
            for result in results {
                match result {
                    Ok(Applied::Written(_)) => tally.changed += 1,
                    Ok(Applied::Refused(_)) => tally.moved += 1,
                    Err(error) => failure = Some(error),
                }
                bar.inc(1);
            }
        },
    )
    .await?;
    bar.finish_and_clear();
    if let Some(error) = failure {
        return Err(connection.explain_store(
            &format!("{what}: {} changed, then a write failed", done.changed),
            error,
        ));
    }
    let words = format!(
        "{what}: changed {} of the {} counted{}",
        done.changed,
        counted.changes,
        if done.moved > 0 {
            format!("; {} had changed meanwhile and were left alone", done.moved)
        } else {
            String::new()
        }
    );
    report(connection, request, &done, false, &words);
    Ok(())
}

fn report(connection: &Connection, request: Request, tally: &Tally, dry_run: bool, words: &str) {
    if connection.json {
        format::print_json(&serde_json::json!({
            "request": request.name(),
            "dryRun": dry_run,
            "scanned": tally.scanned,
            "matched": tally.matched,
            "changes": tally.changes,
            "changed": tally.changed,
            "movedMeanwhile": tally.moved,
        }));
    } else {
        format::print(&paint(words, style::HEAD));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_stamp;

    fn item(json: serde_json::Value) -> Item {
        serde_dynamo::to_item(json).unwrap()
    }

    #[test]
    fn filters_read_as_written_and_refuse_what_they_cannot_mean() {
        let filter: Filter = "status=invalid, kind=report,queue=default,failed-since=12h"
            .parse()
            .unwrap();
        assert_eq!(filter.status, Some(Status::Invalid));
        assert_eq!(filter.failed_since, Some(TimeDelta::hours(12)));
        for (wrong, says) in [
            ("", "empty filter"),
            ("status=broken", "one of ready"),
            ("colour=red", "not a filter"),
            ("kind", "KEY=VALUE"),
            ("kind=", "a value is needed"),
            ("failed-since=1w", "not a unit"),
        ] {
            let error = wrong.parse::<Filter>().unwrap_err();
            assert!(error.contains(says), "{wrong}: {error}");
        }
    }

    #[test]
    fn a_filter_matches_the_default_queue_without_a_queue_and_recent_failures_only() {
        let now = parse_stamp("2027-01-02T09:00:00Z").unwrap();
        let failed = |at: &str| {
            item(
                serde_json::json!({"id": "r-1", "kind": "report", "status": "stopped",
                "lastRunSucceeded": false, "lastRunFinishTime": at}),
            )
        };
        let filter: Filter = "queue=default,failed-since=12h,id-prefix=r-"
            .parse()
            .unwrap();
        assert!(filter.matches(&failed("2027-01-02T01:00:00Z"), now));
        assert!(
            !filter.matches(&failed("2027-01-01T20:00:00Z"), now),
            "too long ago"
        );
        let elsewhere: Filter = "queue=reports".parse().unwrap();
        assert!(!elsewhere.matches(&failed("2027-01-02T01:00:00Z"), now));
        assert_eq!(
            elsewhere.scan_equal(),
            vec![(attr::QUEUE, "reports".to_owned())]
        );
        assert!(filter.scan_equal().is_empty(), "default is not an equality");
    }

    #[test]
    fn retry_runs_failed_workers_again_and_rechecks_invalid_ones() {
        let now = parse_stamp("2027-01-02T09:00:00Z").unwrap();
        let stored = |json: serde_json::Value| item(json);
        let gave_up = stored(
            serde_json::json!({"id": "a", "kind": "log", "enabled": true,
            "status": "stopped", "lastRunSucceeded": false}),
        );
        let update = request_update(Request::Retry, &gave_up, now).unwrap();
        let written = update.apply(Some(&gave_up)).unwrap();
        assert_eq!(written.get(attr::RUN_NOW), Some(&b(true)));
        let invalid = stored(
            serde_json::json!({"id": "b", "kind": "log", "enabled": true,
            "status": "invalid", "lastRunMessage": "invalid: queue: …"}),
        );
        let written = request_update(Request::Retry, &invalid, now)
            .unwrap()
            .apply(Some(&invalid))
            .unwrap();
        assert_eq!(
            written.get(attr::UPDATE_TIME),
            Some(&s("2027-01-02T09:00:00.000Z"))
        );
        for (json, why) in [
            (
                serde_json::json!({"id": "c", "kind": "log", "enabled": true, "status": "stopped",
                "lastRunSucceeded": true}),
                "did not fail",
            ),
            (
                serde_json::json!({"id": "d", "kind": "log", "enabled": false, "status": "invalid"}),
                "disabled",
            ),
            (
                serde_json::json!({"id": "e", "kind": "log", "enabled": true, "status": "running"}),
                "running",
            ),
        ] {
            let error = request_update(Request::Retry, &stored(json), now).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
        // Fenced on what was read: a worker that succeeded meanwhile is not run again.
        let update = request_update(Request::Retry, &gave_up, now).unwrap();
        let mut succeeded = gave_up.clone();
        succeeded.insert(attr::LAST_RUN_SUCCEEDED.into(), b(true));
        assert_eq!(update.apply(Some(&succeeded)), None);
    }
}
