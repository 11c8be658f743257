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
}

impl JobError {
    /// A failure that a later attempt may not repeat (a timeout, throttling, a network error).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that would happen again: no retry.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
        }
    }
}
