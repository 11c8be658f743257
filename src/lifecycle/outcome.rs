//! How a job's run can fail: the lifecycle owns this, since it decides what a failure leads to
//! (a retry, or the next due time).

/// Whether, and when, a failed run may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// The same run would fail again (bad parameters, a rejected message): no retry.
    Never,
    /// After the worker's backoff (a timeout, throttling, a network error).
    Backoff,
    /// After this many seconds (1 s to a day) instead of the backoff: a service that said "slow
    /// down, come back in N seconds".
    After(u32),
}

/// Why a run failed, and whether trying again could help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// A short, human account; it ends up in `lastRunMessage`, so it never holds secrets.
    pub message: String,
    /// Whether, and when, a later attempt may succeed.
    pub retry: Retry,
}

/// The longest wait a [`JobError::retry_after`] may ask for: a day.
pub const MAX_RETRY_AFTER_SECONDS: u32 = 86_400;

impl JobError {
    /// A failure that `retry` says whether to try again (an [`Retry::After`] is held to 1 s
    /// to a day).
    pub fn new(message: impl Into<String>, retry: Retry) -> Self {
        let retry = match retry {
            Retry::After(seconds) => Retry::After(seconds.clamp(1, MAX_RETRY_AFTER_SECONDS)),
            other => other,
        };
        JobError {
            message: message.into(),
            retry,
        }
    }

    /// A failure that a later attempt may not repeat (a timeout, throttling, a network error).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError::new(message, Retry::Backoff)
    }

    /// A retryable failure whose next attempt is due `seconds` from now (1 s to a day), not
    /// after the usual backoff: throttling that says when to come back. It still counts as an
    /// attempt, so `maxAttempts` bounds it.
    pub fn retry_after(message: impl Into<String>, seconds: u32) -> Self {
        JobError::new(message, Retry::After(seconds))
    }

    /// A failure that would happen again: no retry.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError::new(message, Retry::Never)
    }

    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry != Retry::Never
    }
}
