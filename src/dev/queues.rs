//! Plays the queue's event source mapping: long-polls a queue, hands each batch to the executor,
//! and deletes only what the executor did not report as failed. Failed messages come back after
//! the visibility timeout, and SQS's redrive policy moves them to the dead-letter queue.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use chrono::{TimeDelta, Utc};

use crate::adapters::clients::Clients;
use crate::adapters::sdk_error;
use crate::glue::mapping::QUEUE_BATCH_SIZE;
use crate::glue::queue::{Received, failed, sqs_event};
use crate::handlers::executor::{Executor, handle_queue};
use crate::seams::QueueRef;

/// How long one receive waits for messages.
pub const WAIT_SECONDS: i32 = 1;

/// The poller of one queue.
pub struct QueuePump {
    clients: Clients,
    queue: QueueRef,
    function_timeout: TimeDelta,
    invoke_url: Option<String>,
}

impl QueuePump {
    /// A poller of `queue` whose executor invocations may last `function_timeout`.
    pub fn new(clients: Clients, queue: QueueRef, function_timeout: TimeDelta) -> Self {
        QueuePump {
            clients,
            queue,
            function_timeout,
            invoke_url: None,
        }
    }

    /// Hands batches to the `executor` function at this Lambda Invoke API endpoint instead of
    /// calling the handler in process.
    pub fn through(mut self, invoke_url: Option<String>) -> Self {
        self.invoke_url = invoke_url;
        self
    }

    /// Receives one batch and runs the executor on it; returns how many messages it received.
    pub async fn run_once(&self, executor: &Executor) -> anyhow::Result<usize> {
        let received = self.receive().await?;
        self.process(received, executor).await
    }

    /// Receives one batch (long-polling up to [`WAIT_SECONDS`]).
    pub async fn receive(&self) -> anyhow::Result<Vec<aws_sdk_sqs::types::Message>> {
        Ok(self
            .clients
            .sqs
            .receive_message()
            .queue_url(&self.queue.url)
            .max_number_of_messages(QUEUE_BATCH_SIZE as i32)
            .wait_time_seconds(WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "ReceiveMessage {}: {}",
                    self.queue.name,
                    sdk_error::message(e)
                )
            })?
            .messages
            .unwrap_or_default())
    }

    /// Runs the executor on a batch this pump received, and deletes what it did not report as
    /// failed; returns the batch's size.
    pub async fn process(
        &self,
        received: Vec<aws_sdk_sqs::types::Message>,
        executor: &Executor,
    ) -> anyhow::Result<usize> {
        if received.is_empty() {
            return Ok(0);
        }
        let region = self.clients.sqs.config().region().map(|r| r.to_string());
        let messages = received.iter().map(|message| Received {
            message_id: message.message_id.clone().unwrap_or_default(),
            receipt_handle: message.receipt_handle.clone(),
            body: message.body.clone().unwrap_or_default(),
            md5_of_body: message.md5_of_body.clone(),
            attributes: message
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect(),
        });
        let event = sqs_event(&self.queue, region, messages);
        let response = match &self.invoke_url {
            Some(url) => super::invoke::invoke(url, "executor", &event).await?,
            None => handle_queue(&event, executor, Utc::now() + self.function_timeout).await,
        };
        let failed = failed(&response);
        let entries: Vec<DeleteMessageBatchRequestEntry> = received
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id.as_deref().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty() {
            self.clients
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "DeleteMessageBatch {}: {}",
                        self.queue.name,
                        sdk_error::message(e)
                    )
                })?;
        }
        Ok(received.len())
    }
}
