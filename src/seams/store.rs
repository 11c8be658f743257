//! The store seam: what the handlers do with the workers and runs tables, as a trait and its
//! data. DynamoDB's adapter is [`crate::adapters::dynamodb::Store`]; the test kit has one in
//! memory, and the conformance suite (`nextdue::testing::conformance`) holds both to the
//! same promises.

use async_trait::async_trait;

use crate::item::{Item, RunRecord};
use crate::lifecycle::Update;
use crate::timestamp::Due;

/// A page of the sweeper's index, and where the next one starts (the last key read).
pub type Page = (Vec<Item>, Option<Item>);

/// What became of a conditional update.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// The condition held; the item as it now stands.
    Written(Item),
    /// The condition failed; the item as it stood (`None`: there was no item).
    Refused(Option<Item>),
}

/// What became of a run record written only if absent.
#[derive(Clone, Debug, PartialEq)]
pub enum RunWrite {
    /// No record had its key; it is written.
    Written,
    /// A record with its key exists (nothing written): that record.
    Exists(RunRecord),
}

/// A DynamoDB call that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused the request itself (`ValidationException`: an item over its size
    /// limit, a key too long): sending it again cannot help.
    #[error("DynamoDB {operation} on {table} refused the request: {message}")]
    Refused {
        /// The operation (`UpdateItem`, …).
        operation: &'static str,
        /// The table.
        table: String,
        /// What DynamoDB said, in one line.
        message: String,
    },
    /// A record nextdue keeps is not as nextdue writes it (someone edited it by hand):
    /// reading it again cannot help until it is fixed.
    #[error("the record {key:?} in {table} is malformed: {message}")]
    Malformed {
        /// The table.
        table: String,
        /// The record's key.
        key: String,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// The call failed (throttling, the network, the service, an answer that does not
    /// decode): it may succeed later.
    #[error("DynamoDB {operation} on {table}: {message}")]
    Call {
        /// The operation (`UpdateItem`, …).
        operation: &'static str,
        /// The table.
        table: String,
        /// What DynamoDB (or the network) said, in one line: `Code: message` when the service
        /// answered.
        message: String,
    },
}

/// What the handlers do with the workers and runs tables.
#[async_trait]
pub trait WorkerStore: Send + Sync {
    /// Applies one conditional update; a failed condition returns the item as it stood.
    async fn apply(&self, update: &Update) -> Result<Applied, StoreError>;

    /// Writes (or overwrites) a run record.
    async fn put_run(&self, record: &RunRecord) -> Result<(), StoreError>;

    /// Writes a run record unless one with its key exists; returns the existing one then.
    async fn put_run_if_absent(&self, record: &RunRecord) -> Result<RunWrite, StoreError>;

    /// The worker item `id`, as stored (consistent read).
    async fn get_worker(&self, id: &str) -> Result<Option<Item>, StoreError>;

    /// One page (at most `limit` items) of the sweep index's entries in `shard` whose
    /// `sweepAt` is before `now`, in `sweepAt` order, starting after `start`.
    async fn overdue(
        &self,
        shard: u32,
        now: Due,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, StoreError>;
}
