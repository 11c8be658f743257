//! The dispatcher's decisions: what a committed change of a worker item means.

use super::*;

/// Why the dispatcher leaves a change alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The item was deleted.
    Removed,
    /// The worker is disabled and has nothing to stop.
    Disabled,
    /// The worker's ready state did not change, so its delivery is already on its way.
    Unchanged,
    /// A run holds the claim; its finish decides what comes next.
    Running,
    /// The worker has finished; set `enabled` to false and back to true to run it again.
    Stopped,
    /// The item is already marked invalid with this very message.
    AlreadyInvalid,
    /// The worker is marked invalid; editing the item re-arms it.
    Invalid,
    /// A pause holds the worker's due run; it is delivered when the pause is over.
    Held,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Removed => "removed",
            Ignored::Disabled => "disabled",
            Ignored::Unchanged => "unchanged",
            Ignored::Running => "running",
            Ignored::Stopped => "stopped",
            Ignored::AlreadyInvalid => "already marked invalid",
            Ignored::Invalid => "invalid until edited",
            Ignored::Held => "held by a pause",
        })
    }
}

/// What the dispatcher does with one committed change of a worker item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    /// Nothing.
    Ignore(Ignored),
    /// Start a new activation: a fresh task id, `status = ready`, the first due time.
    Arm(Update),
    /// Hand the ready state to delivery.
    Deliver {
        /// What the executor will receive.
        message: Message,
        /// The worker's queue name.
        queue: String,
        /// When it should arrive: the due time, or the start a rate limit deferred it to.
        at: Due,
    },
    /// Mark the worker stopped (disabled while ready, or nothing to run).
    Stop(Update),
    /// Mark the worker invalid, saying why.
    MarkInvalid(Update),
    /// Write a ready worker's `nextDue`, which a user wrote in another RFC 3339 spelling, in
    /// the canonical one (claims compare the stored string with the message's).
    Normalize(Update),
    /// Take up a run-now request (make the worker due now, remembering where it resumes), or
    /// say on the item why it cannot be taken up.
    RunNow(Update),
}

/// Decides what a committed change of a worker item means. `old` and `new` are the stream
/// record's images; `task_id` is the fresh id to use if the change arms the worker (derived
/// from the stream record, so a replayed record arms with the same id).
pub fn on_change(
    old: Option<&Image>,
    new: Option<&Image>,
    task_id: &str,
    now: DateTime<Utc>,
    planner: &dyn Planner,
    policy: &Policy,
) -> ChangeAction {
    let Some(new) = new else {
        return ChangeAction::Ignore(Ignored::Removed);
    };
    if under_way(old, new) {
        return ChangeAction::Ignore(Ignored::Running);
    }
    let seen_task = Condition::equals_or_missing(attr::TASK_ID, new.task_id.clone().map(s));
    let worker = match check_size(new)
        .and_then(|()| new.worker.as_ref().map_err(Clone::clone))
        .and_then(|w| planner.check(w).map(|()| w))
        .and_then(|w| policy.check_queue(w).map(|()| w))
    {
        Ok(worker) => worker,
        Err(error) => return invalid(new, &error, seen_task, now, policy),
    };
    let newly_enabled = old.is_none_or(|old| !old.enabled);
    // An invalid worker that someone edited (it was invalid before this change too, and now
    // passes its checks) starts again; the change that marked it invalid does not count.
    let invalid_edited = worker.status == Some(Status::Invalid)
        && old.is_some_and(|old| old.status() == Some(Status::Invalid));
    if worker.enabled && (newly_enabled || invalid_edited || !is_armed(worker)) {
        return arm(worker, task_id, seen_task, now, planner, policy);
    }
    if worker.run_now == Some(true)
        && let Some(action) = run_now(worker, new, seen_task.clone(), now, policy)
    {
        return action;
    }
    match worker.status {
        Some(Status::Ready) if worker.enabled => {
            let (Some(task_id), Some(due)) = (&worker.task_id, worker.next_due) else {
                unreachable!("an armed ready worker has a task id and a due time")
            };
            if new.next_due.as_ref().map(|d| d.text.as_str()) != Some(due.to_string().as_str()) {
                let condition = Condition::All(vec![
                    Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
                    Condition::equals_or_missing(
                        attr::NEXT_DUE,
                        new.next_due.as_ref().map(|d| s(&d.text)),
                    ),
                    seen_task,
                ]);
                let update = Update::new(&worker.id, condition)
                    .set(attr::NEXT_DUE, s(due))
                    .set(attr::UPDATE_TIME, s(format_stamp(now)));
                return ChangeAction::Normalize(look(
                    update,
                    &worker.id,
                    Some(overdue_at(due, policy)),
                    alert::pending_alert(worker),
                    policy,
                ));
            }
            if worker.held_by.is_some() {
                return ChangeAction::Ignore(Ignored::Held);
            }
            let unchanged = old.is_some_and(|old| {
                old.next_due == new.next_due
                    && old
                        .worker
                        .as_ref()
                        .is_ok_and(|old| old.enabled && same_ready_state(old, worker))
            });
            if unchanged {
                return ChangeAction::Ignore(Ignored::Unchanged);
            }
            ChangeAction::Deliver {
                message: Message {
                    id: worker.id.clone(),
                    task_id: task_id.clone(),
                    due,
                },
                queue: worker.queue().to_owned(),
                at: worker.deferred_until.map_or(due, |at| at.max(due)),
            }
        }
        Some(Status::Ready) => {
            let condition = Condition::All(vec![
                Condition::Equals(attr::ENABLED, b(false)),
                Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
                seen_task,
            ]);
            ChangeAction::Stop(stopped(
                &worker.id,
                condition,
                alert::pending_alert(worker),
                now,
                policy,
            ))
        }
        Some(Status::Running) => ChangeAction::Ignore(Ignored::Running),
        Some(Status::Stopped) => ChangeAction::Ignore(Ignored::Stopped),
        Some(Status::Invalid) if worker.enabled => ChangeAction::Ignore(Ignored::Invalid),
        _ => ChangeAction::Ignore(Ignored::Disabled),
    }
}

/// Whether a change leaves a run under way as it was, under its claim: the run's own progress
/// write, or a person's edit of a running worker that does not re-enable it (`enabled` from the
/// boolean false to true, which starts a new activation at once). The stream filter drops these
/// changes ([`crate::stream_filter`]); the run's finish, whose write carries any edit, decides
/// what comes next. An insert is never under way (a copied item's claim is nobody's).
pub fn under_way(old: Option<&Image>, new: &Image) -> bool {
    let Some(old) = old else {
        return false;
    };
    new.status() == Some(Status::Running)
        && new.run_token.is_some()
        && !(new.enabled && old.enabled_false)
}

/// Whether nextdue has armed this worker and it is still in a state it can move on from.
fn is_armed(worker: &Worker) -> bool {
    match worker.status {
        None => false,
        Some(Status::Invalid) => true,
        Some(Status::Ready) => worker.task_id.is_some() && worker.next_due.is_some(),
        Some(Status::Running) => worker.task_id.is_some() && worker.run_token.is_some(),
        Some(Status::Stopped) => true,
    }
}

fn same_ready_state(old: &Worker, new: &Worker) -> bool {
    old.status == Some(Status::Ready)
        && old.task_id == new.task_id
        && old.next_due == new.next_due
        && old.held_by == new.held_by
        && old.deferred_until == new.deferred_until
}

/// Marks a worker invalid because of `error` (once: an item already marked with this very
/// message is left alone, so the mark's own stream record starts no loop). A disabled worker is
/// left alone too, unless it is live (ready or running: it must leave the sweeper's index) or
/// its `enabled` itself is malformed (`"true"` written as a string: say so).
pub(super) fn invalid(
    new: &Image,
    error: &ItemError,
    seen_task: Condition,
    now: DateTime<Utc>,
    policy: &Policy,
) -> ChangeAction {
    let live = matches!(new.status(), Some(Status::Ready | Status::Running));
    if !new.enabled && !live && error.attribute != attr::ENABLED {
        if !new.run_now {
            return ChangeAction::Ignore(Ignored::Disabled);
        }
        // A run-now request on it is answered on the item, as on any disabled worker.
        let condition = Condition::All(vec![
            Condition::Equals(attr::RUN_NOW, b(true)),
            Condition::Not(Box::new(Condition::Equals(attr::ENABLED, b(true)))),
            seen_task,
        ]);
        let message = bounded(&format!(
            "{RUN_NOW_IGNORED_DISABLED}; the item is invalid too: {error}"
        ));
        return ChangeAction::RunNow(
            Update::new(&new.id, condition)
                .set(attr::LAST_RUN_MESSAGE, s(message))
                .set(attr::UPDATE_TIME, s(format_stamp(now)))
                .remove(attr::RUN_NOW),
        );
    }
    let waiting = if new.run_now {
        "; the run-now request waits until the item is fixed"
    } else {
        ""
    };
    let message = bounded(&format!("invalid: {error}{waiting}"));
    if new.status() == Some(Status::Invalid) && new.last_run_message.as_ref() == Some(&message) {
        return ChangeAction::Ignore(Ignored::AlreadyInvalid);
    }
    let enabled = Condition::Equals(attr::ENABLED, b(true));
    let enabled_as_seen = if new.enabled {
        enabled
    } else {
        Condition::Not(Box::new(enabled))
    };
    let condition = Condition::All(vec![enabled_as_seen, seen_task]);
    ChangeAction::MarkInvalid(
        look(
            Update::new(&new.id, condition),
            &new.id,
            None,
            new.pending_alert,
            policy,
        )
        .set(attr::STATUS, s(Status::Invalid.as_str()))
        .set(attr::LAST_RUN_MESSAGE, s(message))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL),
    )
}

fn arm(
    worker: &Worker,
    task_id: &str,
    seen_task: Condition,
    now: DateTime<Utc>,
    planner: &dyn Planner,
    policy: &Policy,
) -> ChangeAction {
    let condition = Condition::All(vec![Condition::Equals(attr::ENABLED, b(true)), seen_task]);
    let first_due = match worker.next_due {
        Some(due) => Some(due),
        None if worker.runs_immediately() => Some(Due::floor(now)),
        None => planner.next_due(worker, None, Due::floor(now)),
    };
    let Some(due) = first_due else {
        let update = stopped(&worker.id, condition, None, now, policy).set(
            attr::LAST_RUN_MESSAGE,
            s("nothing to run: executeImmediately is false and the schedule names no future time"),
        );
        return ChangeAction::Stop(update);
    };
    let mut update = Update::new(&worker.id, condition)
        .set(attr::TASK_ID, s(task_id))
        .set(attr::STATUS, s(Status::Ready.as_str()))
        .set(attr::NEXT_DUE, s(due))
        .set(attr::ATTEMPT, n(0))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .set_if_missing(attr::CREATE_TIME, s(format_stamp(now)))
        .remove(attr::RETRY_OF)
        .remove(attr::RESUME_DUE)
        .remove(attr::HELD_BY)
        .remove(attr::DEFERRED_UNTIL)
        .remove(attr::RUN_TOKEN)
        .remove(attr::LEASE_UNTIL)
        .remove(attr::PROGRESS)
        .remove(attr::PROGRESS_FRACTION)
        .remove(attr::PROGRESS_TIME)
        .remove(attr::CHECKPOINT)
        .remove(attr::CHECKPOINT_DUE);
    if worker.status == Some(Status::Invalid) {
        update = update.remove(attr::LAST_RUN_MESSAGE);
    }
    let alert = alert::alert_for(worker, due);
    let update = alert::set_alert(update, alert);
    ChangeAction::Arm(look(
        update,
        &worker.id,
        Some(overdue_at(due, policy)),
        alert,
        policy,
    ))
}

/// Stops a worker; `alert` keeps its dead-man's switch armed (a worker someone disabled is
/// still expected to succeed).
fn stopped(
    id: &str,
    condition: Condition,
    alert: Option<Due>,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Update {
    look(Update::new(id, condition), id, None, alert, policy)
        .set(attr::STATUS, s(Status::Stopped.as_str()))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::NEXT_DUE)
        .remove(attr::RETRY_OF)
        .remove(attr::RESUME_DUE)
        .remove(attr::HELD_BY)
        .remove(attr::DEFERRED_UNTIL)
}

/// The due time of a run asked for at `now`: this second, or the second after the last run's
/// start if that was this second too, so every run has a due time of its own (at most one start
/// per due time, however fast requests come).
fn run_now_due(worker: &Worker, now: DateTime<Utc>) -> Due {
    let today = Due::floor(now);
    match worker
        .last_run_start_time
        .and_then(|start| Due::floor(start).plus_seconds(1))
    {
        Some(after_last) if after_last > today => after_last,
        _ => today,
    }
}

/// What became of a run-now request on the item, for `lastRunMessage`.
pub const RUN_NOW_IGNORED_DISABLED: &str =
    "run-now request ignored: the worker is disabled (set enabled to true to run it)";

/// Takes up a worker's run-now request: one extra run as soon as possible, after which the
/// worker returns to the due time it had (`resumeDue`), so the schedule's grid is unchanged.
/// `None` when the request waits (a run holds the claim: its finish makes the worker ready,
/// and that change takes the request up).
fn run_now(
    worker: &Worker,
    new: &Image,
    seen_task: Condition,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<ChangeAction> {
    let requested = Condition::Equals(attr::RUN_NOW, b(true));
    let asked = run_now_due(worker, now);
    if !worker.enabled {
        let mut update = Update::new(
            &worker.id,
            Condition::All(vec![
                requested,
                Condition::Not(Box::new(Condition::Equals(attr::ENABLED, b(true)))),
                seen_task,
            ]),
        )
        .set(attr::LAST_RUN_MESSAGE, s(RUN_NOW_IGNORED_DISABLED))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::RUN_NOW);
        if worker.status == Some(Status::Ready) {
            // Disabled while ready: stop it too, as any disable does.
            update = look(
                update,
                &worker.id,
                None,
                alert::pending_alert(worker),
                policy,
            )
            .set(attr::STATUS, s(Status::Stopped.as_str()))
            .remove(attr::NEXT_DUE)
            .remove(attr::RETRY_OF)
            .remove(attr::RESUME_DUE);
        }
        return Some(ChangeAction::RunNow(update));
    }
    let condition = |status: Status| {
        Condition::All(vec![
            requested.clone(),
            Condition::Equals(attr::ENABLED, b(true)),
            Condition::Equals(attr::STATUS, s(status.as_str())),
            Condition::equals_or_missing(attr::NEXT_DUE, new.next_due.as_ref().map(|d| s(&d.text))),
            seen_task.clone(),
        ])
    };
    let update = match worker.status? {
        Status::Ready => {
            let due = worker.next_due?;
            let update = Update::new(&worker.id, condition(Status::Ready)).remove(attr::RUN_NOW);
            if due <= asked {
                // The next attempt is due already: it is the run asked for.
                update
            } else {
                let moved = look(
                    update,
                    &worker.id,
                    Some(overdue_at(asked, policy)),
                    alert::pending_alert(worker),
                    policy,
                )
                .set(attr::NEXT_DUE, s(asked))
                // A reservation was for the old due time; the new one reserves its own.
                .remove(attr::DEFERRED_UNTIL);
                match worker.retry_of {
                    // Waiting to retry: the retry runs now (its anchor keeps the grid).
                    Some(_) => moved,
                    None => moved.set(
                        attr::RESUME_DUE,
                        s(worker.resume_due.map_or(due, |resume| resume.max(due))),
                    ),
                }
            }
        }
        Status::Stopped => look(
            Update::new(&worker.id, condition(Status::Stopped)),
            &worker.id,
            Some(overdue_at(asked, policy)),
            alert::pending_alert(worker),
            policy,
        )
        .set(attr::STATUS, s(Status::Ready.as_str()))
        .set(attr::NEXT_DUE, s(asked))
        .set(attr::ATTEMPT, n(0))
        .remove(attr::RUN_NOW)
        .remove(attr::RETRY_OF)
        .remove(attr::RESUME_DUE),
        Status::Running | Status::Invalid => return None,
    };
    Some(ChangeAction::RunNow(
        update.set(attr::UPDATE_TIME, s(format_stamp(now))),
    ))
}
