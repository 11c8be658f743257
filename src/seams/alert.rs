//! The alert seam: where digests for people go. SNS's adapter is
//! [`crate::adapters::sns::SnsTopic`].

use async_trait::async_trait;

use crate::alerts::Digest;

/// A digest that was not sent.
#[derive(Debug, thiserror::Error)]
#[error("SNS Publish to {topic}: {message}")]
pub struct AlertError {
    /// The topic.
    pub topic: String,
    /// What SNS (or the network) said, in one line.
    pub message: String,
}

/// Where digests go.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one digest.
    async fn send(&self, digest: &Digest) -> Result<(), AlertError>;
}
