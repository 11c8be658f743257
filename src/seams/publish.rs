//! The event seam: where the facts about workers go ([`crate::events`]). EventBridge's adapter
//! is [`crate::adapters::eventbridge::EventBus`]; the test kit keeps them in memory.

use async_trait::async_trait;

use crate::events::Event;

/// Events EventBridge takes in one `PutEvents`: a publish of more is split into calls of this many.
pub const MAX_EVENTS_PER_CALL: usize = 10;

/// A publish that did not go through: some of the events may not have reached the bus.
#[derive(Debug, thiserror::Error)]
#[error("EventBridge PutEvents on bus {bus}: {message}")]
pub struct PublishError {
    /// The bus.
    pub bus: String,
    /// What EventBridge (or the network) said, in one line.
    pub message: String,
}

/// Where events go.
#[async_trait]
pub trait Publish: Send + Sync {
    /// Publishes `events`, in order; `Ok` once every one of them was accepted.
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError>;
}
