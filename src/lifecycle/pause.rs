//! Pauses at claim time: a claim made while queues or kinds are paused carries their negation
//! in its condition, so a paused worker's claim is refused (and the refused write returns the
//! item); the executor then holds or skips its due run, in one more conditional write on the
//! claim's own condition, so a stale or duplicate message changes nothing. A held worker is
//! released, by `resume` or by the sweeper once its pause is over, into the delivery of the
//! same due time: its one catch-up run.

use super::*;
use crate::controls::{self, Controls, Mode, Pause, Scope};
use crate::item::DEFAULT_QUEUE;

/// The claim `update`, refused for a worker in any of the `paused` scopes.
pub fn unless_paused(mut update: Update, paused: &[Scope]) -> Update {
    if paused.is_empty() {
        return update;
    }
    let not = |c: Condition| Condition::Not(Box::new(c));
    let mut all = vec![update.condition];
    for scope in paused {
        match scope {
            Scope::Kind(kind) => all.push(not(Condition::Equals(attr::KIND, s(kind)))),
            // A worker without `queue` is in the default queue.
            Scope::Queue(queue) if queue == DEFAULT_QUEUE => {
                all.push(not(Condition::Missing(attr::QUEUE)));
                all.push(not(Condition::Equals(attr::QUEUE, s(queue))));
            }
            Scope::Queue(queue) => all.push(not(Condition::Equals(attr::QUEUE, s(queue)))),
        }
    }
    update.condition = Condition::All(all);
    update
}

/// What the executor does with the due run of a worker whose claim a pause refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Paused {
    /// Hold it: the worker stays ready at its due time, marked `heldBy`, and no message is
    /// sent until it is released.
    Hold(Update),
    /// Skip it: record the skipped due time, and move the worker on to its next due time (or
    /// stop it, when there is none).
    Skip {
        /// The runs table's record of the skipped due time.
        record: RunRecord,
        /// The worker's move.
        update: Update,
    },
}

/// Decides what happens to `message`'s due run of `worker`, refused by `scope`'s `pause`.
pub fn on_paused(
    worker: &Worker,
    message: &Message,
    scope: &Scope,
    pause: &Pause,
    now: DateTime<Utc>,
    planner: &dyn Planner,
    policy: &Policy,
) -> Paused {
    let update = Update::new(&worker.id, claim_condition(message))
        .set(attr::UPDATE_TIME, s(format_stamp(now)));
    let alert = alert::pending_alert(worker);
    match pause.mode {
        Mode::Hold => {
            let look_at = held_look(pause, now);
            Paused::Hold(
                look(update, &worker.id, Some(look_at), alert, policy)
                    .set(attr::HELD_BY, s(scope.key())),
            )
        }
        Mode::Skip => {
            let anchor = worker.retry_of.unwrap_or(message.due);
            let next = match worker.resume_due {
                Some(due) => Some(due),
                None => next_after_catch_up(worker, anchor, Due::floor(now), planner),
            };
            let said = format!("skipped: {}", controls::describe(scope, pause));
            let update = update
                .set(attr::ATTEMPT, n(0))
                .remove(attr::RETRY_OF)
                .remove(attr::RESUME_DUE)
                .remove(attr::DEFERRED_UNTIL)
                .remove(attr::CHECKPOINT)
                .remove(attr::CHECKPOINT_DUE);
            let update = match next {
                Some(due) => look(
                    update,
                    &worker.id,
                    Some(overdue_at(due, policy)),
                    alert,
                    policy,
                )
                .set(attr::NEXT_DUE, s(due)),
                None => unwatch(update)
                    .remove(attr::ALERT_AT)
                    .set(attr::STATUS, s(Status::Stopped.as_str()))
                    .set(attr::LAST_RUN_MESSAGE, s(&said))
                    .remove(attr::NEXT_DUE),
            };
            let record = RunRecord {
                worker_id: worker.id.clone(),
                run_id: format!(
                    "{}#{}#skipped",
                    format_stamp(message.due.instant()),
                    message.task_id
                ),
                task_id: message.task_id.clone(),
                due: message.due,
                attempt: 0,
                start_time: now,
                finish_time: Some(now),
                succeeded: None,
                message: Some(said),
                duration_ms: Some(0),
                retryable: None,
                superseded: false,
                skipped: true,
                progress: None,
                progress_fraction: None,
                expires_at: (now + policy.retention).timestamp(),
            };
            Paused::Skip { record, update }
        }
    }
}

/// When the sweeper next looks at a worker held by `pause` at `now`: when it may be released
/// ([`Pause::release_at`]), or after [`controls::HOLD_LOOK`] if that is sooner (or the pause
/// has no end).
fn held_look(pause: &Pause, now: DateTime<Utc>) -> Due {
    let horizon = now + controls::HOLD_LOOK;
    Due::ceil(pause.release_at().map_or(horizon, |at| at.min(horizon)))
}

/// What the sweeper does with a worker it finds held, at `now`, given the controls: keep
/// holding it while its pause is in force (looking again later), else release it.
pub(super) fn sweep_held(
    worker: &Worker,
    held_by: &str,
    controls: &Controls,
    now: DateTime<Utc>,
    policy: &Policy,
) -> SweepAction {
    let update = Update::new(&worker.id, held_condition(worker, held_by));
    match controls.holds(held_by, now) {
        Some(pause) => {
            let alert = alert::pending_alert(worker);
            SweepAction::Postpone(look(
                update,
                &worker.id,
                Some(held_look(pause, now)),
                alert,
                policy,
            ))
        }
        None => SweepAction::Release(release(update, worker, now, policy)),
    }
}

/// The condition of a write to a worker held by `held_by`: still held by it, in the same
/// activation.
fn held_condition(worker: &Worker, held_by: &str) -> Condition {
    Condition::All(vec![
        Condition::Equals(attr::HELD_BY, s(held_by)),
        Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
        Condition::equals_or_missing(attr::TASK_ID, worker.task_id.clone().map(s)),
    ])
}

/// Releases a held worker: its mark goes, and the change delivers its due time at once (the
/// catch-up run), with the sweeper's usual look past the grace period.
fn release(update: Update, worker: &Worker, now: DateTime<Utc>, policy: &Policy) -> Update {
    let alert = alert::pending_alert(worker);
    look(
        update,
        &worker.id,
        Some(overdue_at(Due::floor(now), policy)),
        alert,
        policy,
    )
    .remove(attr::HELD_BY)
    .set(attr::UPDATE_TIME, s(format_stamp(now)))
}

/// Releases `worker` if `scope`'s pause holds it (as `resume` does for each of its workers).
pub fn release_held(
    worker: &Worker,
    scope: &Scope,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<Update> {
    let key = scope.key();
    if worker.held_by.as_deref() != Some(key.as_str()) {
        return None;
    }
    let update = Update::new(&worker.id, held_condition(worker, &key));
    Some(release(update, worker, now, policy))
}
