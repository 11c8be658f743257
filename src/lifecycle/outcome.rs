//! How a job's run can fail: the lifecycle owns this, since it decides what a failure leads to
//! (a retry, or the next due time).

/// Why a run failed, and whether trying again could help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// A short, human account; it ends up in `lastRunMessage`, so it never holds secrets.
    pub message: String,
    /// False when the same run would fail again (bad parameters, a rejected message).
    pub retryable: bool,
    /// For a retryable failure: when to try again, in seconds, instead of the backoff (a
    /// service that said "slow down, come back in N seconds").
    pub retry_after_seconds: Option<u32>,
}

/// The longest wait a [`JobError::retry_after`] may ask for: a day.
pub const MAX_RETRY_AFTER_SECONDS: u32 = 86_400;

impl JobError {
    /// A failure that a later attempt may not repeat (a timeout, throttling, a network error).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
            retry_after_seconds: None,
        }
    }

    /// A retryable failure whose next attempt is due `seconds` from now (1 s to a day), not
    /// after the usual backoff: throttling that says when to come back. It still counts as an
    /// attempt, so `maxAttempts` bounds it.
    pub fn retry_after(message: impl Into<String>, seconds: u32) -> Self {
        JobError {
            retry_after_seconds: Some(seconds.clamp(1, MAX_RETRY_AFTER_SECONDS)),
            ..JobError::retryable(message)
        }
    }

    /// A failure that would happen again: no retry.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
            retry_after_seconds: None,
        }
    }
}
