//! The delivery seam: gets a message to the executor's queue when it is due, through an SQS
//! delay (up to 15 minutes) or a one-time EventBridge Scheduler schedule that targets the queue.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::config::Names;
use crate::lifecycle::{Message, Route};
use crate::sdk_error::{self, ProvideErrorMetadata, SdkError};

/// The codes SQS answers for a queue that does not exist (the second is the emulator's).
const NO_SUCH_QUEUE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

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

impl DeliveryError {
    fn call<E, R>(operation: &'static str, target: &str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        DeliveryError::Call {
            operation,
            target: target.to_owned(),
            message: sdk_error::message(error),
        }
    }

    fn missing(operation: &'static str, target: &str, what: &str) -> Self {
        DeliveryError::Call {
            operation,
            target: target.to_owned(),
            message: format!("no {what} in the answer"),
        }
    }
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
}

/// SQS and EventBridge Scheduler, with queue lookups cached.
#[derive(Debug)]
pub struct Delivery {
    sqs: aws_sdk_sqs::Client,
    scheduler: aws_sdk_scheduler::Client,
    names: Names,
    queues: Mutex<HashMap<String, QueueRef>>,
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
                DeliveryError::call("GetQueueUrl", name, e)
            }
        })?
        .queue_url
        .ok_or_else(|| DeliveryError::missing("GetQueueUrl", name, "URL"))?;
    let mut queue = QueueRef {
        name: name.to_owned(),
        url,
        arn: String::new(),
    };
    queue.arn = queue_attribute(sqs, &queue, QueueAttributeName::QueueArn)
        .await?
        .ok_or_else(|| DeliveryError::missing("GetQueueAttributes", name, "QueueArn"))?;
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
        .map_err(|e| DeliveryError::call("GetQueueAttributes", &queue.name, e))?
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
        .map_err(|e| DeliveryError::call("SendMessage", &queue.name, e))
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
        let body = serde_json::to_string(message).expect("a message always serializes");
        match route {
            Route::Queue { delay_seconds } => {
                self.sqs
                    .send_message()
                    .queue_url(&queue.url)
                    .message_body(body)
                    .delay_seconds(delay_seconds as i32)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::call("SendMessage", &queue.name, e))?;
                Ok(Sent::Queued { delay_seconds })
            }
            Route::Schedule { at } => {
                let name = schedule_name(message);
                let target = Target::builder()
                    .arn(&queue.arn)
                    .role_arn(&self.names.scheduler_role_arn)
                    .input(body)
                    .build()
                    .expect("arn, role and input are set");
                let window = FlexibleTimeWindow::builder()
                    .mode(FlexibleTimeWindowMode::Off)
                    .build()
                    .expect("mode is set");
                let result = self
                    .scheduler
                    .create_schedule()
                    .name(&name)
                    .group_name(&self.names.schedule_group)
                    .schedule_expression(format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")))
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window)
                    .target(target)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(Sent::Scheduled {
                        name,
                        existed: false,
                    }),
                    Err(e) if sdk_error::code_is(&e, &["ConflictException"]) => {
                        Ok(Sent::Scheduled {
                            name,
                            existed: true,
                        })
                    }
                    Err(e) => Err(DeliveryError::call("CreateSchedule", &name, e)),
                }
            }
        }
    }
}
