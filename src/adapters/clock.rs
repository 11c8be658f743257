//! The system clock, the [`Clock`] of a deployment and of `nextdue dev`.

use chrono::{DateTime, Utc};

use crate::seams::Clock;

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
