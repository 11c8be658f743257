//! The queue mappings' part: the SQS event a batch of received messages becomes, which of them
//! the executor reported as failed, and what the queue does with a failed one (visible again
//! after the visibility timeout, or moved to the dead-letter queue after its last receive).

use std::collections::{HashMap, HashSet};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeDelta, Utc};

use super::mapping::{MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT_SECONDS};
use crate::seams::QueueRef;

/// A message as received from a queue.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// The queue's id of the message.
    pub message_id: String,
    /// The handle to delete it with (a real queue's).
    pub receipt_handle: Option<String>,
    /// The body.
    pub body: String,
    /// The MD5 of the body (a real queue's).
    pub md5_of_body: Option<String>,
    /// The system attributes (`ApproximateReceiveCount`, …).
    pub attributes: HashMap<String, String>,
}

/// The event Lambda hands the executor for `messages` received from `queue`.
pub fn sqs_event(
    queue: &QueueRef,
    region: Option<String>,
    messages: impl IntoIterator<Item = Received>,
) -> SqsEvent {
    let mut event = SqsEvent::default();
    for message in messages {
        let mut record = SqsMessage::default();
        record.message_id = Some(message.message_id);
        record.receipt_handle = message.receipt_handle;
        record.body = Some(message.body);
        record.md5_of_body = message.md5_of_body;
        record.attributes = message.attributes;
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(queue.arn.clone());
        record.aws_region = region.clone();
        event.records.push(record);
    }
    event
}

/// The ids of the messages the executor reported as failed (the others are deleted).
pub fn failed(response: &SqsBatchResponse) -> HashSet<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// What the queue does with a failed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redrive {
    /// It is received again at this time (the visibility timeout after this receive).
    Visible(DateTime<Utc>),
    /// That was its last receive: it moves to the dead-letter queue.
    DeadLetter,
}

/// What becomes of a message that failed on its `receives`-th receive, at `now`.
pub fn after_failure(receives: u32, now: DateTime<Utc>) -> Redrive {
    if receives >= MAX_RECEIVE_COUNT {
        Redrive::DeadLetter
    } else {
        Redrive::Visible(now + TimeDelta::seconds(VISIBILITY_TIMEOUT_SECONDS))
    }
}
