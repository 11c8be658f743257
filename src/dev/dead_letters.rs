//! Watches the dead-letter queues, so messages nextdue gave up on are reported, not silent.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::adapters::clients::Clients;
use crate::adapters::sqs::{lookup_queue, queue_attribute};

/// The queues where nextdue sets aside what it gave up on.
pub struct DeadLetters {
    clients: Clients,
    queues: Vec<String>,
    reported: Vec<usize>,
}

impl DeadLetters {
    /// Watches these queues (full names: dead-letter queues, the stream-failure queue).
    pub fn new(clients: Clients, queues: Vec<String>) -> Self {
        DeadLetters {
            clients,
            reported: vec![0; queues.len()],
            queues,
        }
    }

    /// How many messages wait in each dead-letter queue, by name.
    pub async fn counts(&self) -> anyhow::Result<Vec<(String, usize)>> {
        let mut counts = Vec::new();
        for name in &self.queues {
            let queue = lookup_queue(&self.clients.sqs, name).await?;
            let count = queue_attribute(
                &self.clients.sqs,
                &queue,
                QueueAttributeName::ApproximateNumberOfMessages,
            )
            .await?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
            counts.push((name.clone(), count));
        }
        Ok(counts)
    }

    /// Logs each dead-letter queue whose count grew since the last report.
    pub async fn report(&mut self) -> anyhow::Result<()> {
        for (i, (name, count)) in self.counts().await?.into_iter().enumerate() {
            if count > self.reported[i] {
                tracing::warn!(
                    queue = %name,
                    messages = count,
                    "dead letters: messages nextdue gave up on after repeated failures; read them with \
                     `aws sqs receive-message --queue-url <url of {name}>`"
                );
            }
            self.reported[i] = count;
        }
        Ok(())
    }
}
