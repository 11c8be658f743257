//! The sweeper's decisions: the second net under invariant 1. A run whose lease expired is
//! closed as its worker's `onLost` says; a ready worker whose due time passed long ago without
//! a claim has its message sent again (duplicates are harmless: one claim wins).

use super::*;
use crate::controls::Controls;

/// What the sweeper does with one worker from its index.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepAction {
    /// Nothing (the index lagged behind the item, or the worker is on time).
    Ignore,
    /// The run's executor vanished: close the run as `onLost` says.
    Rescue(Finish),
    /// The worker is overdue and its message seems lost: send it again, and look again after
    /// the grace period.
    Redeliver {
        /// The message to send.
        message: Message,
        /// The worker's queue name.
        queue: String,
        /// Moves the worker's next look forward, if it is still in the same state.
        update: Update,
    },
    /// The worker is in the index but not live (someone edited it): take it out.
    Forget(Update),
    /// The worker's look in the index is earlier than its due time allows (its `nextDue` was
    /// moved later): move the look, so passes until then do not read it.
    Postpone(Update),
    /// The indexed item no longer decodes: mark it invalid, saying why (which takes it out of
    /// the index), as the dispatcher does.
    MarkInvalid(Update),
    /// The worker was held by a pause that has ended: release it (its due time is delivered
    /// at once, the catch-up run).
    Release(Update),
    /// The worker's dead-man's switch went off (its `alertAt` passed without a success): mark
    /// it overdue, which tells `Worker Overdue` once.
    Overdue(Update),
}

/// Takes worker `id` out of the index if it still stands as `condition` says, and only if it
/// still exists: a condition on an absent attribute alone would hold on a deleted item, and
/// the write would create one holding only its key.
fn forget(id: &str, condition: Condition) -> Update {
    let exists = Condition::Not(Box::new(Condition::Missing(attr::ID)));
    unwatch(Update::new(id, Condition::All(vec![exists, condition])))
}

/// Decides what the sweeper does with an indexed item that does not decode (`item.worker` is
/// an error): the dispatcher's own mark, so it leaves the index with a status and a message
/// instead of being looked at on every pass.
pub fn sweep_undecodable(item: &Image, now: DateTime<Utc>, policy: &Policy) -> SweepAction {
    let Err(error) = &item.worker else {
        return SweepAction::Ignore;
    };
    let seen_task = Condition::equals_or_missing(attr::TASK_ID, item.task_id.clone().map(s));
    match dispatch::invalid(item, error, seen_task, now, policy) {
        ChangeAction::MarkInvalid(update) => SweepAction::MarkInvalid(update),
        _ => {
            let condition = Condition::equals_or_missing(
                attr::STATUS,
                item.status.as_ref().map(|status| s(&status.text)),
            );
            SweepAction::Forget(forget(&item.id, condition))
        }
    }
}

/// Decides what the sweeper does with `worker` at `now`, under the operators' `controls`
/// (`None`: they could not be read, so a held worker is left as it is).
pub fn sweep(
    worker: &Worker,
    now: DateTime<Utc>,
    jitter: f64,
    planner: &dyn Planner,
    policy: &Policy,
    controls: Option<&Controls>,
) -> SweepAction {
    let overdue = |at: Option<Due>| at.is_some_and(|at| at.instant() < now);
    if let Some(update) = alert::overdue_mark(worker, now, policy) {
        return SweepAction::Overdue(update);
    }
    if let (Some(Status::Ready), true, Some(held_by)) =
        (worker.status, worker.enabled, worker.held_by.as_deref())
    {
        // Held by a pause: never re-sent while it lasts, released when it is over.
        return match controls {
            Some(controls) => pause::sweep_held(worker, held_by, controls, now, policy),
            None => SweepAction::Ignore,
        };
    }
    // When its message should arrive: its due time, or the later start a rate limit deferred
    // it to (nothing is overdue before that).
    let expected = worker
        .next_due
        .map(|due| worker.deferred_until.map_or(due, |start| start.max(due)));
    match worker.status {
        Some(Status::Running) => match rescue(worker, now, jitter, planner, policy) {
            Some(finish) => SweepAction::Rescue(finish),
            None => SweepAction::Ignore,
        },
        Some(Status::Ready)
            if worker.enabled && overdue(expected.map(|at| overdue_at(at, policy))) =>
        {
            let (Some(task_id), Some(due)) = (&worker.task_id, worker.next_due) else {
                return SweepAction::Ignore;
            };
            let message = Message {
                id: worker.id.clone(),
                task_id: task_id.clone(),
                due,
            };
            let update = look(
                Update::new(&worker.id, claim_condition(&message)),
                &worker.id,
                Some(overdue_at(Due::floor(now), policy)),
                alert::pending_alert(worker),
                policy,
            );
            SweepAction::Redeliver {
                message,
                queue: worker.queue().to_owned(),
                update,
            }
        }
        // Ready, not overdue, but looked at too early: someone moved its nextDue later. Move
        // its look to match, so it is not read again on every pass until then.
        Some(Status::Ready) => match (worker.next_due, expected, worker.sweep_at) {
            (Some(due), Some(expected), Some(at)) if at < overdue_at(expected, policy) => {
                let condition = Condition::All(vec![
                    Condition::Equals(attr::STATUS, update::s(Status::Ready.as_str())),
                    Condition::Equals(attr::NEXT_DUE, update::s(due)),
                    Condition::equals_or_missing(
                        attr::DEFERRED_UNTIL,
                        worker.deferred_until.map(update::s),
                    ),
                ]);
                SweepAction::Postpone(look(
                    Update::new(&worker.id, condition),
                    &worker.id,
                    Some(overdue_at(expected, policy)),
                    alert::pending_alert(worker),
                    policy,
                ))
            }
            _ => SweepAction::Ignore,
        },
        status => {
            let condition =
                Condition::equals_or_missing(attr::STATUS, status.map(|s| update::s(s.as_str())));
            match alert::pending_alert(worker) {
                // Not live, but its switch is armed: look again when it goes off.
                Some(at) if worker.sweep_at != Some(at) => SweepAction::Postpone(look(
                    Update::new(&worker.id, condition),
                    &worker.id,
                    None,
                    Some(at),
                    policy,
                )),
                Some(_) => SweepAction::Ignore,
                None => SweepAction::Forget(forget(&worker.id, condition)),
            }
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepReport {
    /// Workers read from the index.
    pub looked_at: usize,
    /// Runs closed because their lease expired.
    pub rescued: usize,
    /// Overdue workers whose message was sent again.
    pub redelivered: usize,
    /// Index entries of workers that are not live, removed.
    pub forgotten: usize,
    /// Index entries looked at too early (a `nextDue` moved later), moved to match.
    #[serde(default)]
    pub postponed: usize,
    /// Indexed items that no longer decode, marked invalid (which takes them out of the index).
    #[serde(default)]
    pub invalidated: usize,
    /// Workers whose dead-man's switch went off, marked overdue.
    #[serde(default)]
    pub overdue: usize,
    /// Dead-letter queues new messages reached, told of (`Dead Lettered`).
    #[serde(default)]
    pub dead_lettered: usize,
    /// Held workers whose pause was over, released (their due time delivered).
    #[serde(default)]
    pub released: usize,
    /// Overdue workers not re-sent this pass: the pass had re-sent its most, or their queue
    /// holds so many messages that theirs is likely among them (the next pass looks again).
    #[serde(default)]
    pub held_back: usize,
    /// Workers (or dead-letter queues) the pass could not act on (each is logged; the next
    /// pass tries again).
    #[serde(default)]
    pub failed: usize,
}

impl SweepReport {
    /// Whether the pass changed or tried to change anything (beyond reading the index).
    pub fn did_anything(&self) -> bool {
        self.rescued
            + self.redelivered
            + self.released
            + self.held_back
            + self.forgotten
            + self.postponed
            + self.invalidated
            + self.overdue
            + self.dead_lettered
            + self.failed
            > 0
    }
}
