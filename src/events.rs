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
    /// The worker (absent from `Dead Lettered`, which is about a queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
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
    /// `Dead Lettered`: the queue the messages reached (a worker queue's dead-letter queue, or
    /// the stream's set-aside queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    /// `Dead Lettered`: how many arrived since the last such event about that queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived: Option<u64>,
    /// `Dead Lettered`: how many wait there now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u64>,
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

impl Detail {
    /// A detail with its id and time and nothing else: the facts fill in what applies.
    pub fn new(id: String, time: DateTime<Utc>) -> Self {
        Detail {
            version: VERSION,
            id,
            worker_id: None,
            kind: None,
            queue: None,
            task_id: None,
            due: None,
            attempt: None,
            message: None,
            run_id: None,
            will_retry: None,
            next_due: None,
            overdue_since: None,
            dead_letter_queue: None,
            arrived: None,
            waiting: None,
            time,
        }
    }
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
        worker_id: Some(new.id.clone()),
        kind: worker.map(|w| w.kind.clone()),
        queue: worker.map(|w| w.queue().to_owned()),
        task_id: new.task_id.clone(),
        message: new.last_run_message.clone(),
        next_due: worker.and_then(|w| w.next_due),
        ..Detail::new(id, time)
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

/// The `Dead Lettered` fact of a dead-letter queue that held `told` messages when it was last
/// told about and holds `waiting` now: `None` unless more arrived. `queue` is the worker queue
/// whose dead letters they are (none for the stream's set-aside queue); `mark` is the version
/// of the mark this telling writes, so a pass that publishes it again (its mark not yet
/// written) repeats the id, and a later arrival has a new one.
pub fn dead_lettered(
    dead_letter_queue: &str,
    queue: Option<&str>,
    told: u64,
    waiting: u64,
    mark: u64,
    now: DateTime<Utc>,
) -> Option<Event> {
    if waiting <= told {
        return None;
    }
    let arrived = waiting - told;
    let what = match (queue, arrived) {
        (Some(_), 1) => "message",
        (Some(_), _) => "messages",
        (None, 1) => "stream record",
        (None, _) => "stream records",
    };
    Some(Event {
        kind: EventType::DeadLettered,
        detail: Detail {
            queue: queue.map(str::to_owned),
            message: Some(format!(
                "{arrived} {what} reached {dead_letter_queue} ({waiting} waiting); \
                 `nextdue dead-letters` lists them"
            )),
            dead_letter_queue: Some(dead_letter_queue.to_owned()),
            arrived: Some(arrived),
            waiting: Some(waiting),
            ..Detail::new(format!("{dead_letter_queue}/dead-lettered/{mark}"), now)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::UNIX_EPOCH
    }

    #[test]
    fn dead_letters_are_told_only_when_more_arrived_than_were_told() {
        assert_eq!(dead_lettered("q-dlq", Some("q"), 3, 3, 2, now()), None);
        assert_eq!(dead_lettered("q-dlq", Some("q"), 3, 1, 2, now()), None);
        let event = dead_lettered("q-dlq", Some("q"), 1, 3, 2, now()).unwrap();
        assert_eq!(event.kind, EventType::DeadLettered);
        let detail = &event.detail;
        assert_eq!(detail.id, "q-dlq/dead-lettered/2");
        assert_eq!(detail.worker_id, None);
        assert_eq!(detail.queue.as_deref(), Some("q"));
        assert_eq!(
            (
                detail.arrived,
                detail.waiting,
                detail.dead_letter_queue.as_deref()
            ),
            (Some(2), Some(3), Some("q-dlq"))
        );
        assert_eq!(
            detail.message.as_deref(),
            Some("2 messages reached q-dlq (3 waiting); `nextdue dead-letters` lists them")
        );
    }

    #[test]
    fn a_set_aside_stream_record_is_told_as_one() {
        let event = dead_lettered("stream-failures", None, 0, 1, 1, now()).unwrap();
        assert_eq!(event.detail.queue, None);
        assert_eq!(
            event.detail.message.as_deref(),
            Some(
                "1 stream record reached stream-failures (1 waiting); `nextdue dead-letters` lists them"
            )
        );
    }
}
