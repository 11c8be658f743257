//! How long to wait before retrying a failed attempt: exponential backoff with full jitter.

/// Exponential backoff with full jitter: attempt n waits a random time up to
/// `min(cap, base × 2^(n−1))`, and at least one second (so each retry has its own due time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The longest wait after the first failure, in seconds.
    pub base_seconds: i64,
    /// The longest wait after any failure, in seconds.
    pub cap_seconds: i64,
}

/// The policy nextdue uses: up to 5 s after the first failure, doubling, never over 15 minutes.
pub const DEFAULT_RETRY_POLICY: RetryPolicy = RetryPolicy {
    base_seconds: 5,
    cap_seconds: 900,
};

impl RetryPolicy {
    /// The wait before the next attempt after `failures` failed attempts (≥ 1), given a random
    /// `jitter` in `[0, 1)`.
    ///
    /// ```
    /// use nextdue::lifecycle::retry::DEFAULT_RETRY_POLICY;
    /// assert_eq!(DEFAULT_RETRY_POLICY.delay_seconds(1, 0.0), 1);
    /// assert_eq!(DEFAULT_RETRY_POLICY.delay_seconds(3, 0.999), 20);
    /// assert_eq!(DEFAULT_RETRY_POLICY.delay_seconds(60, 0.999), 900);
    /// ```
    pub fn delay_seconds(&self, failures: u32, jitter: f64) -> i64 {
        let exponent = failures.saturating_sub(1).min(32);
        let ceiling = self
            .base_seconds
            .saturating_mul(1i64 << exponent)
            .min(self.cap_seconds);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((ceiling as f64 * jitter).ceil() as i64).clamp(1, ceiling.max(1))
    }
}
