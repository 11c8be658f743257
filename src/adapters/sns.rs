//! The SNS seam: alert digests onto a topic (its subscriptions: e-mail, chat, a pager).

use async_trait::async_trait;

use crate::adapters::sdk_error;
use crate::alerts::Digest;
use crate::seams::{AlertError, Notifier};

/// Publishes digests to one SNS topic.
#[derive(Clone, Debug)]
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    arn: String,
}

impl SnsTopic {
    /// Digests to the topic `arn`, through `client`.
    pub fn new(client: aws_sdk_sns::Client, arn: impl Into<String>) -> Self {
        SnsTopic {
            client,
            arn: arn.into(),
        }
    }
}

#[async_trait]
impl Notifier for SnsTopic {
    async fn send(&self, digest: &Digest) -> Result<(), AlertError> {
        self.client
            .publish()
            .topic_arn(&self.arn)
            .subject(&digest.subject)
            .message(&digest.body)
            .send()
            .await
            .map_err(|e| AlertError {
                topic: self.arn.clone(),
                message: sdk_error::message(e),
            })?;
        Ok(())
    }
}
