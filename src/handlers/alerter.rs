//! The alerter: a batch of alerts from the alert queue → one digest to the alert topic. A
//! digest that cannot be sent fails the whole batch, which the queue hands over again; a
//! message that is not one of nextdue's events is logged and dropped (it would never be one).

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::alerts::{Delivered, digest};
use crate::seams::Notifier;

/// What the alerter works with: where digests go.
pub struct Alerter {
    /// The alert topic.
    pub notifier: Arc<dyn Notifier>,
}

/// Handles one batch of alert messages.
pub async fn handle_alerts(event: &SqsEvent, alerter: &Alerter) -> SqsBatchResponse {
    let mut alerts = Vec::new();
    for record in &event.records {
        match Delivered::read(record.body.as_deref().unwrap_or_default()) {
            Some(alert) => alerts.push(alert),
            None => {
                tracing::warn!(message_id = ?record.message_id, "not one of nextdue's events; dropped")
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    let Some(digest) = digest(&alerts) else {
        return response;
    };
    match alerter.notifier.send(&digest).await {
        Ok(()) => {
            tracing::info!(alerts = alerts.len(), subject = ?digest.subject, "digest sent")
        }
        Err(error) => {
            tracing::error!(error = ?error.to_string(), alerts = alerts.len(), "digest not sent; the batch comes again");
            for record in &event.records {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
