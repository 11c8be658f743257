//! SQS's adapter of the delivery seam ([`Deliver`]): finds queues (cached), sends a message
//! with an SQS delay (up to 15 minutes), and hands longer waits to EventBridge Scheduler
//! ([`super::scheduler`]), whose one-time schedule targets the queue.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_sqs::types::QueueAttributeName;

use super::scheduler;
use crate::adapters::sdk_error::{self, call_failed, missing_in_answer};
use crate::config::Names;
use crate::lifecycle::{Message, Route};
use crate::seams::{Deliver, DeliveryError, QueueRef, Sent, schedule_name};

/// The codes SQS answers for a queue that does not exist (the second is the emulator's).
const NO_SUCH_QUEUE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

/// SQS and EventBridge Scheduler, with queue lookups cached.
#[derive(Debug)]
pub struct Delivery {
    sqs: aws_sdk_sqs::Client,
    scheduler: aws_sdk_scheduler::Client,
    names: Names,
    queues: Mutex<HashMap<String, QueueRef>>,
}

/// Looks a queue up by name: its URL and ARN.
pub(crate) async fn lookup_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<QueueRef, DeliveryError> {
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| {
            if sdk_error::code_is(&e, NO_SUCH_QUEUE) {
                DeliveryError::NoSuchQueue {
                    queue: name.to_owned(),
                }
            } else {
                call_failed("GetQueueUrl", name, e)
            }
        })?
        .queue_url
        .ok_or_else(|| missing_in_answer("GetQueueUrl", name, "URL"))?;
    let mut queue = QueueRef {
        name: name.to_owned(),
        url,
        arn: String::new(),
    };
    queue.arn = queue_attribute(sqs, &queue, QueueAttributeName::QueueArn)
        .await?
        .ok_or_else(|| missing_in_answer("GetQueueAttributes", name, "QueueArn"))?;
    Ok(queue)
}

/// One attribute of a queue, if the queue reports it.
pub(crate) async fn queue_attribute(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueRef,
    attribute: QueueAttributeName,
) -> Result<Option<String>, DeliveryError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(attribute.clone())
        .send()
        .await
        .map_err(|e| call_failed("GetQueueAttributes", &queue.name, e))?
        .attributes;
    Ok(attributes.and_then(|mut a| a.remove(&attribute)))
}

/// Sends a message body to a queue as it is, with no delay.
pub(crate) async fn send_body(
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueRef,
    body: &str,
) -> Result<(), DeliveryError> {
    sqs.send_message()
        .queue_url(&queue.url)
        .message_body(body)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| call_failed("SendMessage", &queue.name, e))
}

impl Delivery {
    /// Delivery through these clients, to the queues and schedule group `names` gives.
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        scheduler: aws_sdk_scheduler::Client,
        names: Names,
    ) -> Self {
        Delivery {
            sqs,
            scheduler,
            names,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// The queue with this full name (looked up once, then cached).
    pub async fn queue_named(&self, name: &str) -> Result<QueueRef, DeliveryError> {
        if let Some(found) = self.queues.lock().expect("queue cache").get(name) {
            return Ok(found.clone());
        }
        let found = lookup_queue(&self.sqs, name).await?;
        self.queues
            .lock()
            .expect("queue cache")
            .insert(name.to_owned(), found.clone());
        Ok(found)
    }

    /// Sends a message body as it is, with no delay (a fired schedule's input).
    pub async fn forward(&self, queue: &QueueRef, body: &str) -> Result<(), DeliveryError> {
        send_body(&self.sqs, queue, body).await
    }

    /// The schedule group and Scheduler client (for the local glue, which fires schedules).
    pub fn scheduler(&self) -> (&aws_sdk_scheduler::Client, &str) {
        (&self.scheduler, &self.names.schedule_group)
    }
}

#[async_trait::async_trait]
impl Deliver for Delivery {
    /// The queue a worker's `queue` attribute names.
    async fn worker_queue(&self, queue: &str) -> Result<QueueRef, DeliveryError> {
        self.queue_named(&self.names.queue_name(queue)).await
    }

    /// The queue with this ARN (the executor learns its queue from the event).
    async fn queue_from_arn(&self, arn: &str) -> Result<QueueRef, DeliveryError> {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        self.queue_named(name).await
    }

    /// Sends `message` to `queue` along `route`.
    async fn send(
        &self,
        message: &Message,
        queue: &QueueRef,
        route: Route,
    ) -> Result<Sent, DeliveryError> {
        let body = message.body();
        match route {
            Route::Queue { delay_seconds } => {
                self.sqs
                    .send_message()
                    .queue_url(&queue.url)
                    .message_body(body)
                    .delay_seconds(delay_seconds as i32)
                    .send()
                    .await
                    .map_err(|e| call_failed("SendMessage", &queue.name, e))?;
                Ok(Sent::Queued { delay_seconds })
            }
            Route::Schedule { at } => {
                let name = schedule_name(message);
                let request =
                    scheduler::one_time(&self.scheduler, &self.names, &queue.arn, &name, body, at);
                scheduler::created(name, request.send().await)
            }
        }
    }

    async fn holding(&self, name: &str) -> Result<u64, DeliveryError> {
        let queue = self.queue_named(name).await?;
        let counts = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .set_attribute_names(Some(counts.to_vec()))
            .send()
            .await
            .map_err(|e| call_failed("GetQueueAttributes", name, e))?
            .attributes
            .unwrap_or_default();
        Ok(counts
            .iter()
            .filter_map(|count| attributes.get(count)?.parse::<u64>().ok())
            .sum())
    }
}
