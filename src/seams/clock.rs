//! Where the handlers read the time (and the chance that spreads retries): the system clock in
//! Lambda and `nextdue dev` ([`crate::adapters::clock`]), a virtual one in the test kit, so a week
//! of schedules runs in a moment.

use chrono::{DateTime, Utc};

/// A source of the current time, and of the jitter that spreads retries over it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;

    /// A number in `[0, 1)` that spreads a retry's backoff (and a rescued run's): random,
    /// unless the clock is the test kit's with a seed.
    fn jitter(&self) -> f64 {
        rand::random::<f64>()
    }
}
