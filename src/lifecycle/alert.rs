//! The dead-man's switch: a worker with `alertAfter` must succeed within that long of each due
//! time it is given. `alertAt` on the item is the instant by which it must have succeeded; the
//! sweeper's index looks at the worker no later than then, so a worker that is stuck, failing,
//! disabled or lost is found within its existing index reads. The first change that sees the
//! instant pass without a success (a failed finish, or the sweeper's look) sets `overdueSince`;
//! the next success removes it. Each of the two changes tells its fact once
//! ([`crate::events`]).

use super::*;

/// When the worker's switch goes off, if it is armed: it has an `alertAfter`, an `alertAt`, and
/// is not overdue already.
pub(super) fn pending_alert(worker: &Worker) -> Option<Due> {
    worker.alert_after.as_ref()?;
    worker.alert_at.filter(|_| worker.overdue_since.is_none())
}

/// The instant by which a worker first due at `due` must have succeeded: `None` without an
/// `alertAfter`, or while it is overdue (the switch re-arms when it succeeds).
pub(super) fn alert_for(worker: &Worker, due: Due) -> Option<Due> {
    let after = worker.alert_after.as_ref()?;
    if worker.overdue_since.is_some() {
        return None;
    }
    due.plus_seconds(after.seconds()).or(Some(due))
}

/// Writes the switch's instant (or takes it away).
pub(super) fn set_alert(update: Update, alert: Option<Due>) -> Update {
    match alert {
        Some(at) => update.set(attr::ALERT_AT, s(at)),
        None => update.remove(attr::ALERT_AT),
    }
}

/// The switch after a run for `anchor` that ended `succeeded` at `now`, with the worker going
/// on as `next` says: a success re-arms it for the next due time (and ends an overdue spell), a
/// failure leaves it as it was, or, if its instant has passed, makes the worker overdue.
/// Returns the update and the instant the sweeper should look by.
pub(super) fn after_run(
    update: Update,
    worker: &Worker,
    anchor: Due,
    succeeded: bool,
    next: &NextState,
    now: DateTime<Utc>,
) -> (Update, Option<Due>) {
    if worker.alert_after.is_none() {
        // No switch (or no longer one): a success still ends an overdue spell.
        let update = update.remove(attr::ALERT_AT);
        let update = match succeeded {
            true => update.remove(attr::OVERDUE_SINCE),
            false => update,
        };
        return (update, None);
    }
    if succeeded {
        let alert = match next {
            NextState::Next { due } | NextState::Retry { due } => {
                let rearmed = Worker {
                    overdue_since: None,
                    ..worker.clone()
                };
                alert_for(&rearmed, *due)
            }
            NextState::Stopped => None,
        };
        return (set_alert(update.remove(attr::OVERDUE_SINCE), alert), alert);
    }
    if worker.overdue_since.is_some() {
        return (update.remove(attr::ALERT_AT), None);
    }
    let alert = worker.alert_at.or_else(|| alert_for(worker, anchor));
    match alert {
        Some(at) if at.instant() <= now => (
            update
                .set(attr::OVERDUE_SINCE, s(at))
                .remove(attr::ALERT_AT),
            None,
        ),
        alert => (set_alert(update, alert), alert),
    }
}

/// The sweeper's mark of a worker (not running) whose switch went off at `now`: it becomes
/// overdue, if it still stands as read.
pub(super) fn overdue_mark(worker: &Worker, now: DateTime<Utc>, policy: &Policy) -> Option<Update> {
    let at = pending_alert(worker)?;
    if at.instant() > now || worker.status == Some(Status::Running) {
        return None;
    }
    let condition = Condition::All(vec![
        Condition::Equals(attr::ALERT_AT, s(at)),
        Condition::Missing(attr::OVERDUE_SINCE),
        Condition::equals_or_missing(attr::STATUS, worker.status.map(|status| s(status.as_str()))),
    ]);
    let update = Update::new(&worker.id, condition)
        .set(attr::OVERDUE_SINCE, s(at))
        .remove(attr::ALERT_AT);
    Some(look(
        update,
        &worker.id,
        state_look(worker, policy),
        None,
        policy,
    ))
}

/// When the sweeper should look at a worker for its state alone: a ready, enabled worker after
/// its grace period; others never.
pub(super) fn state_look(worker: &Worker, policy: &Policy) -> Option<Due> {
    match (worker.status, worker.next_due) {
        (Some(Status::Ready), Some(due)) if worker.enabled => Some(overdue_at(due, policy)),
        _ => None,
    }
}
