//! The executor's decisions: whether a message is due, the claim, and why a claim was refused.

use super::*;

/// The longest the executor waits in-process for a message that arrived just early.
pub const MAX_EARLY_WAIT: TimeDelta = TimeDelta::seconds(1);

/// What the executor does with a message before touching the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageAction {
    /// Not due for a while (delivery is early by design): send it on again.
    Redeliver(Route),
    /// Due within [`MAX_EARLY_WAIT`]: wait this long, then claim.
    WaitThenClaim(TimeDelta),
    /// Due: try to claim the run.
    Claim,
}

/// Decides what to do with a message at `now`. Queue delays count whole seconds and Scheduler
/// whole minutes, so messages arrive up to a second (or a minute) early, never late; the last
/// second is waited out in-process so a run starts at its due time, not up to a second after.
pub fn on_message(message: &Message, now: DateTime<Utc>) -> MessageAction {
    let wait = message.due.instant() - now;
    if wait <= TimeDelta::zero() {
        MessageAction::Claim
    } else if wait <= MAX_EARLY_WAIT {
        MessageAction::WaitThenClaim(wait)
    } else {
        MessageAction::Redeliver(route(message.due, now))
    }
}

/// The condition under which a message may start a run: the worker is enabled, ready, in the
/// message's activation (task id) and due at the message's due time.
pub fn claim_condition(message: &Message) -> Condition {
    Condition::All(vec![
        Condition::Equals(attr::ENABLED, b(true)),
        Condition::Equals(attr::STATUS, s(Status::Ready.as_str())),
        Condition::Equals(attr::TASK_ID, s(&message.task_id)),
        Condition::Equals(attr::NEXT_DUE, s(message.due)),
    ])
}

/// The claim: one conditional write that moves `ready → running` for exactly this message,
/// holding `run_token` until `lease_until`.
pub fn claim(
    message: &Message,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    run_token: &str,
) -> Update {
    let update = Update::new(&message.id, claim_condition(message))
        .set(attr::STATUS, s(Status::Running.as_str()))
        .set(attr::RUN_TOKEN, s(run_token))
        .set(attr::LEASE_UNTIL, s(format_stamp(lease_until)))
        .set(attr::LAST_RUN_START_TIME, s(format_stamp(now)))
        .set(attr::UPDATE_TIME, s(format_stamp(now)))
        .remove(attr::HELD_BY)
        .remove(attr::DEFERRED_UNTIL);
    // Once the lease has passed, the sweeper looks at the run. A ready worker is in the index
    // already (its shard set by the write that made it ready); one a person wrote as ready
    // by hand gets the default partition, which the sweeper always reads.
    update
        .set_if_missing(
            attr::SWEEP_SHARD,
            n(sweep_shard(&message.id, DEFAULT_SWEEP_SHARDS)),
        )
        .set(attr::SWEEP_AT, s(Due::ceil(lease_until)))
}

/// Why a message does not start a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The worker item no longer exists.
    Gone,
    /// The message belongs to another activation (the worker was disabled and re-enabled).
    StaleTask {
        /// The item's task id.
        current: Option<String>,
    },
    /// The worker is disabled.
    Disabled,
    /// The worker is not ready (running, stopped or invalid).
    NotReady {
        /// The item's status.
        status: Option<String>,
    },
    /// The worker is due at another time; that time has its own message.
    OtherDue {
        /// The item's due time.
        current: Option<String>,
    },
}

impl SkipReason {
    /// A short, stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::Gone => "gone",
            SkipReason::StaleTask { .. } => "stale_task",
            SkipReason::Disabled => "disabled",
            SkipReason::NotReady { .. } => "not_ready",
            SkipReason::OtherDue { .. } => "other_due",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        match self {
            SkipReason::Gone => f.write_str("worker gone"),
            SkipReason::StaleTask { current } => {
                write!(f, "stale task (current task {})", or_none(current))
            }
            SkipReason::Disabled => f.write_str("disabled"),
            SkipReason::NotReady { status } => write!(f, "not ready (status {})", or_none(status)),
            SkipReason::OtherDue { current } => {
                write!(f, "not this due time (due {})", or_none(current))
            }
        }
    }
}

/// Explains a refused claim from the item the failed write returned (`None`: no item).
/// Returns `None` when the claim condition holds on that item, so nothing explains a refusal.
pub fn refusal(message: &Message, stored: Option<&Image>) -> Option<SkipReason> {
    let Some(item) = stored else {
        return Some(SkipReason::Gone);
    };
    if item.task_id.as_deref() != Some(message.task_id.as_str()) {
        Some(SkipReason::StaleTask {
            current: item.task_id.clone(),
        })
    } else if !item.enabled {
        Some(SkipReason::Disabled)
    } else if item.status() != Some(Status::Ready) {
        Some(SkipReason::NotReady {
            status: item.status.as_ref().map(|status| status.text.clone()),
        })
    } else if item.next_due.as_ref().map(|d| d.text.as_str())
        != Some(message.due.to_string().as_str())
    {
        Some(SkipReason::OtherDue {
            current: item.next_due.as_ref().map(|d| d.text.clone()),
        })
    } else {
        None
    }
}
