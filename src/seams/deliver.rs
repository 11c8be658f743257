//! The delivery seam: what the handlers do with queues (find one, and send a message along a
//! route), as a trait and its data. SQS and EventBridge Scheduler's adapter is
//! [`crate::adapters::sqs::Delivery`]; the test kit has queues in memory.

use crate::lifecycle::{Message, Route};

/// A queue: its URL (to send) and ARN (for Scheduler targets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRef {
    /// The queue's name.
    pub name: String,
    /// The queue's URL.
    pub url: String,
    /// The queue's ARN.
    pub arn: String,
}

/// A delivery call that failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The queue does not exist: the deployment lacks a queue its configuration names.
    #[error("no queue {queue} in this deployment")]
    NoSuchQueue {
        /// The queue's full name.
        queue: String,
    },
    /// The service (or the network) refused the call.
    #[error("{operation} for {target}: {message}")]
    Call {
        /// The operation (`SendMessage`, `CreateSchedule`, …).
        operation: &'static str,
        /// The queue or schedule.
        target: String,
        /// What the service (or the network) said.
        message: String,
    },
}

/// How a message was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// To the queue, with this delay.
    Queued {
        /// Seconds before SQS delivers it.
        delay_seconds: u32,
    },
    /// As a one-time schedule with this name (`existed` when a retry found it in place).
    Scheduled {
        /// The schedule's name.
        name: String,
        /// Whether the schedule already existed.
        existed: bool,
    },
}

/// What the handlers do with queues: find one, and send a message along a route.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// The queue a worker's `queue` attribute names.
    async fn worker_queue(&self, queue: &str) -> Result<QueueRef, DeliveryError>;

    /// The queue with this ARN (the executor learns its queue from the event).
    async fn queue_from_arn(&self, arn: &str) -> Result<QueueRef, DeliveryError>;

    /// Sends `message` to `queue` along `route`.
    async fn send(
        &self,
        message: &Message,
        queue: &QueueRef,
        route: Route,
    ) -> Result<Sent, DeliveryError>;

    /// How many messages the queue named `name` (its full name) holds, in flight included,
    /// approximately (SQS's own counts): the sweeper's reading of a dead-letter queue.
    async fn holding(&self, name: &str) -> Result<u64, DeliveryError>;
}

/// The schedule name for a message: the same message always gets the same name, so a retried
/// delivery finds its schedule instead of creating a second one.
pub fn schedule_name(message: &Message) -> String {
    let key = format!("{}\n{}\n{}", message.id, message.task_id, message.due);
    format!(
        "nextdue-{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes())
    )
}
