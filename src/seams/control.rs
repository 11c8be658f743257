//! The control seam: the deployment's own small records, kept in the control table beside the
//! workers (the operators' [`Controls`], the sweeper's marks of dead letters already told). DynamoDB's adapter is
//! [`crate::adapters::control::ControlTable`]; the test kit keeps them in memory, and the
//! conformance suite holds both to the same promises.

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::controls::{Controls, Limit};
use crate::seams::StoreError;

/// A counter as read: its value, and how many times it was written (each write is one more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The value.
    pub value: u64,
    /// The writes it has had, this one included: a write made from this reading is the next.
    pub version: u64,
}

/// What the handlers keep in the control table: counters, each written only from the reading
/// it was made from, so two processes never both move one, or taken from atomically (a rate
/// limit's next free start); and the operators' controls.
#[async_trait]
pub trait ControlStore: Send + Sync {
    /// The counter `key` (`None`: never written).
    async fn counter(&self, key: &str) -> Result<Option<Counter>, StoreError>;

    /// Sets the counter `key` to `to` (its version one more) if it still is as read in `from`
    /// (`None`: never written); `false` when another write came first.
    async fn set_counter(
        &self,
        key: &str,
        from: Option<Counter>,
        to: u64,
    ) -> Result<bool, StoreError>;

    /// Takes the first free start at or after `now` under `limit` from the counter `key`
    /// (whose value is the next free start, in milliseconds since the epoch), and moves the
    /// next free start one [`Limit::spacing`] past the one taken: at most two writes, no read,
    /// and however many executors take at once, no two get the same start. Returns the start.
    async fn take_start(
        &self,
        key: &str,
        limit: &Limit,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError>;

    /// The operators' controls, and the version they were read at (0: never written).
    async fn controls(&self) -> Result<(Controls, u64), StoreError>;

    /// Writes `controls` (at the next version) if they are still at `version`; `false` when
    /// another write came first.
    async fn set_controls(&self, controls: &Controls, version: u64) -> Result<bool, StoreError>;
}

/// The version a write made from `from` gives its counter.
pub fn next_version(from: Option<Counter>) -> u64 {
    from.map_or(1, |c| c.version + 1)
}
