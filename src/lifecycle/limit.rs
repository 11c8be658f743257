//! Rate limits at claim time: a claim made while queues or kinds are rate-limited carries
//! their negation in its condition (as a pause's does), so a limited worker's claim is refused
//! and the refused write returns the item. The executor then reserves the next free start
//! under each limit (a shared reservation in the control table) and either claims at once (the
//! start is now) or defers the due run to it: one conditional write that keeps the worker
//! ready at its due time and marks `deferredUntil`, which the dispatcher delivers for. The
//! deferred run is no attempt and no failure; when its message comes, the claim is made on
//! the reservation, without reserving again.

use super::*;

/// What the executor does with a due run whose claim a rate limit refused, given the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnLimited {
    /// The run holds a reservation whose start has come: claim it with [`claim_reserved`].
    Claim,
    /// The run holds a reservation whose start is this close: wait, then claim it.
    WaitThenClaim(TimeDelta),
    /// The run holds a reservation further off (this message came early, or twice): its own
    /// delivery is on the way, so this one changes nothing.
    Deferred(Due),
    /// The run holds no reservation yet: reserve a start under each limit.
    Reserve,
}

/// Decides what a message of `worker`'s due run does at `now`, once a limit refused its claim.
pub fn on_limited(worker: &Worker, now: DateTime<Utc>) -> OnLimited {
    let Some(at) = worker.deferred_until else {
        return OnLimited::Reserve;
    };
    let wait = at.instant() - now;
    if wait <= TimeDelta::zero() {
        OnLimited::Claim
    } else if wait <= MAX_EARLY_WAIT {
        OnLimited::WaitThenClaim(wait)
    } else {
        OnLimited::Deferred(at)
    }
}

/// The claim of a run that holds its reservation (`deferred`, as read; `None`: reserved for
/// now, not deferred): the claim's own condition, and the reservation still the one read, so
/// of two messages for one reservation one claims.
pub fn claim_reserved(
    message: &Message,
    deferred: Option<Due>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    run_token: &str,
) -> Update {
    let mut update = claim(message, now, lease_until, run_token);
    update.condition = Condition::All(vec![
        update.condition,
        Condition::equals_or_missing(attr::DEFERRED_UNTIL, deferred.map(s)),
    ]);
    update
}

/// Defers `message`'s due run of `worker` to the reserved start `at`: the worker stays ready
/// at its due time, marked `deferredUntil`, and the sweeper looks past `at` (not past the due
/// time), so it re-sends nothing meanwhile. Only from the state the message is for, and only
/// once (a worker deferred already is left as it is).
pub fn defer(
    worker: &Worker,
    message: &Message,
    at: Due,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Update {
    let condition = Condition::All(vec![
        claim_condition(message),
        Condition::Missing(attr::DEFERRED_UNTIL),
    ]);
    let update = Update::new(&worker.id, condition)
        .set(attr::DEFERRED_UNTIL, s(at))
        .set(attr::UPDATE_TIME, s(format_stamp(now)));
    look(
        update,
        &worker.id,
        Some(overdue_at(at, policy)),
        alert::pending_alert(worker),
        policy,
    )
}
