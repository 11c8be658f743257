//! Events: the facts about workers worth telling someone (an attempt failed, a worker gave up,
//! went invalid, stopped, became overdue or recovered), as versioned EventBridge events.
//!
//! Each fact is read off one committed change of a worker item, the old and new images of its
//! stream record ([`facts`]): the stream is the outbox. A duplicate message, a racing executor
//! or a superseded run commits nothing, so it tells nothing; a replayed stream record yields the
//! same facts with the same [`Detail::id`], and the dispatcher publishes a record's facts only
//! once its batch has been handled up to that record (see [`crate::handlers::dispatcher`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::item::notify::{EventSet, EventType, Notify};
use crate::item::{Image, Status, Worker};
use crate::lifecycle::under_way;
use crate::timestamp::{Due, format_stamp};

/// The `source` of every event nextdue publishes.
pub const SOURCE: &str = "nextdue";
/// The version of the `detail` schema; a change that removes or renames a field raises it.
pub const VERSION: u32 = 1;

/// What an event says, its `detail`. Fields that do not apply to a fact are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    /// The schema's version ([`VERSION`]).
    pub version: u32,
    /// The fact's own id, the same however often it is read off the stream: consumers that
    /// must never act twice keep the ids they have seen.
    pub id: String,
    /// The worker.
    pub worker_id: String,
    /// Its job's kind (absent when the item does not decode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The due time the fact is about (during retries, the scheduled one being retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    /// Which attempt at that due time (1 for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// `lastRunMessage`: what happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The run's record in the runs table (its `runId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `Run Failed`: whether another attempt at the same due time follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_retry: Option<bool>,
    /// When the worker is next due (a retry's time, the schedule's next time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due: Option<Due>,
    /// `Worker Overdue` and `Worker Recovered`: by when it should have succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_since: Option<Due>,
    /// When the change that tells the fact was made.
    #[serde(with = "crate::timestamp::stamp")]
    pub time: DateTime<Utc>,
}

/// One event: its type and its detail.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The `detail-type`.
    pub kind: EventType,
    /// The `detail`.
    pub detail: Detail,
}

impl Event {
    /// The `detail`, as the JSON text EventBridge is given.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).expect("a detail serializes")
    }
}

/// The facts a committed change of a worker item tells, read off its stream record's images.
/// Only changes of an existing item tell anything (a written item is a definition, not a fact),
/// and none that leaves a run under way ([`under_way`]: the stream filter drops those); `now`
/// stands in for the change's time when the item does not say.
pub fn facts(old: Option<&Image>, new: Option<&Image>, now: DateTime<Utc>) -> Vec<Event> {
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    if under_way(Some(old), new) {
        return Vec::new();
    }
    let worker = new.worker.as_ref().ok();
    let time = worker.and_then(|w| w.update_time).unwrap_or(now);
    let detail = |id: String| Detail {
        version: VERSION,
        id,
        worker_id: new.id.clone(),
        kind: worker.map(|w| w.kind.clone()),
        queue: worker.map(|w| w.queue().to_owned()),
        task_id: new.task_id.clone(),
        due: None,
        attempt: None,
        message: new.last_run_message.clone(),
        run_id: None,
        will_retry: None,
        next_due: worker.and_then(|w| w.next_due),
        overdue_since: None,
        time,
    };
    let mut events = Vec::new();
    if let (Ok(before), Some(after)) = (&old.worker, worker)
        && let Some(run) = closed_run(before, after)
    {
        let failed = |kind: EventType, id: String, will_retry: Option<bool>| Event {
            kind,
            detail: Detail {
                task_id: before.task_id.clone(),
                due: Some(run.anchor),
                attempt: Some(run.attempt),
                run_id: Some(run.run_id.clone()),
                will_retry,
                ..detail(id)
            },
        };
        if after.last_run_succeeded == Some(false) {
            let key = format!("{}/{}/{}", new.id, run.task_id, run.anchor);
            let will_retry = after.status == Some(Status::Ready)
                && after.retry_of.is_some()
                && after.attempt == run.attempt;
            events.push(failed(
                EventType::RunFailed,
                format!("{key}/run-failed/{}", run.attempt),
                Some(will_retry),
            ));
            if !will_retry {
                events.push(failed(EventType::GaveUp, format!("{key}/gave-up"), None));
            }
        }
    }
    let task = new.task_id.as_deref().unwrap_or("-");
    if new.status() == Some(Status::Invalid)
        && (old.status() != Some(Status::Invalid) || old.last_run_message != new.last_run_message)
    {
        let said = new.last_run_message.as_deref().unwrap_or_default();
        let said = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, said.as_bytes());
        events.push(Event {
            kind: EventType::Invalid,
            detail: detail(format!(
                "{}/{task}/invalid/{}",
                new.id,
                &said.simple().to_string()[..12]
            )),
        });
    }
    if new.status() == Some(Status::Stopped) && old.status() != Some(Status::Stopped) {
        events.push(Event {
            kind: EventType::Stopped,
            detail: detail(format!("{}/{task}/stopped", new.id)),
        });
    }
    match (&old.overdue_since, &new.overdue_since) {
        (None, Some(since)) => events.push(Event {
            kind: EventType::Overdue,
            detail: Detail {
                overdue_since: since.parse().ok(),
                ..detail(format!("{}/overdue/{since}", new.id))
            },
        }),
        (Some(since), None) if worker.is_some_and(|w| w.last_run_succeeded == Some(true)) => events
            .push(Event {
                kind: EventType::Recovered,
                detail: Detail {
                    overdue_since: since.parse().ok(),
                    ..detail(format!("{}/recovered/{since}", new.id))
                },
            }),
        _ => {}
    }
    events
}

/// A run that a change closed: the old image held its claim, the new one counts one more run.
struct ClosedRun {
    task_id: String,
    anchor: Due,
    attempt: u32,
    run_id: String,
}

fn closed_run(before: &Worker, after: &Worker) -> Option<ClosedRun> {
    if before.status != Some(Status::Running)
        || before.run_token.is_none()
        || after.run_token == before.run_token
        || after.run_count != before.run_count + 1
    {
        return None;
    }
    let task_id = before.task_id.clone()?;
    let started = before.last_run_start_time?;
    Some(ClosedRun {
        anchor: before.retry_of.or(before.next_due)?,
        attempt: before.attempt + 1,
        run_id: format!("{}#{task_id}", format_stamp(started)),
        task_id,
    })
}
