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
#[error("{operation} for {target}: {message}")]
pub struct DeliveryError {
    /// The operation (`SendMessage`, `CreateSchedule`, …).
    pub operation: &'static str,
    /// The queue or schedule.
    pub target: String,
    /// What the service (or the network) said.
    pub message: String,
    /// True when the queue does not exist (a worker naming an unknown queue: the user's error).
    pub no_such_queue: bool,
}

/// How a message was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// To the queue, with this delay.
    Queued {
        /// Seconds before SQS delivers it.
        delay_seconds: u32,
    },
    /// As a one-time schedule with this name (`already` when a retry found it in place).
    Scheduled {
        /// The schedule's name.
        name: String,
        /// Whether the schedule already existed.
        already: bool,
    },
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

/// Whether an SDK call failed with one of these error codes (checked on the code itself, since
/// emulators and query-compatible services do not always map it to the typed variant).
pub(crate) fn has_code<E, R>(error: &aws_sdk_sqs::error::SdkError<E, R>, codes: &[&str]) -> bool
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| codes.contains(&code))
}

/// An SDK error in one short line: the service's code and message, or what went wrong on the
/// way (timeout, connection, …).
pub(crate) fn describe<E, R>(error: aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("no message")
        ),
        None => aws_sdk_sqs::error::DisplayErrorContext(&error).to_string(),
    }
}

/// Looks a queue up by name: its URL and ARN.
pub(crate) async fn lookup_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<QueueRef, DeliveryError> {
    let error = |operation, message| DeliveryError {
        operation,
        target: name.to_owned(),
        message,
        no_such_queue: false,
    };
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| DeliveryError {
            no_such_queue: has_code(
                &e,
                &[
                    "AWS.SimpleQueueService.NonExistentQueue",
                    "QueueDoesNotExist",
                ],
            ),
            ..error("GetQueueUrl", describe(e))
        })?
        .queue_url
        .ok_or_else(|| error("GetQueueUrl", "no URL in the answer".into()))?;
    let mut queue = QueueRef {
        name: name.to_owned(),
        url,
        arn: String::new(),
    };
    queue.arn = queue_attribute(sqs, &queue, QueueAttributeName::QueueArn)
        .await?
        .ok_or_else(|| error("GetQueueAttributes", "no QueueArn in the answer".into()))?;
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
        .map_err(|e| DeliveryError {
            operation: "GetQueueAttributes",
            target: queue.name.clone(),
            message: describe(e),
            no_such_queue: false,
        })?
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
        .map_err(|e| DeliveryError {
            operation: "SendMessage",
            target: queue.name.clone(),
            message: describe(e),
            no_such_queue: false,
        })
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

    /// The queue a worker's `queue` attribute names.
    pub async fn worker_queue(&self, queue: &str) -> Result<QueueRef, DeliveryError> {
        self.queue_named(&self.names.queue_name(queue)).await
    }

    /// The queue with this ARN (the executor learns its queue from the event).
    pub async fn queue_from_arn(&self, arn: &str) -> Result<QueueRef, DeliveryError> {
        let name = arn.rsplit(':').next().unwrap_or(arn);
        self.queue_named(name).await
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

    /// Sends `message` to `queue` along `route`.
    pub async fn send(
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
                    .map_err(|e| DeliveryError {
                        operation: "SendMessage",
                        target: queue.name.clone(),
                        message: describe(e),
                        no_such_queue: false,
                    })?;
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
                        already: false,
                    }),
                    Err(e) if has_code(&e, &["ConflictException"]) => Ok(Sent::Scheduled {
                        name,
                        already: true,
                    }),
                    Err(e) => Err(DeliveryError {
                        operation: "CreateSchedule",
                        target: name,
                        message: describe(e),
                        no_such_queue: false,
                    }),
                }
            }
        }
    }
}
