//! The EventBridge seam: events onto the deployment's bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::adapters::sdk_error;
use crate::events::{Event, SOURCE};
use crate::seams::{MAX_EVENTS_PER_CALL, Publish, PublishError};

/// How often the entries EventBridge refused are offered again before the publish fails.
pub const ATTEMPTS: usize = 3;

/// Publishes to one EventBridge bus.
#[derive(Clone, Debug)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    /// Events to `bus` (a name or an ARN), through `client`.
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBus {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &Event) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.detail_type())
            .detail(event.detail_json())
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                event.detail.time.timestamp_millis(),
            ))
            .build()
    }

    fn failed(&self, message: String) -> PublishError {
        PublishError {
            bus: self.bus.clone(),
            message,
        }
    }
}

#[async_trait]
impl Publish for EventBus {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        for chunk in events.chunks(MAX_EVENTS_PER_CALL) {
            let mut waiting: Vec<PutEventsRequestEntry> =
                chunk.iter().map(|e| self.entry(e)).collect();
            for attempt in 1..=ATTEMPTS {
                let answer = self
                    .client
                    .put_events()
                    .set_entries(Some(waiting.clone()))
                    .send()
                    .await
                    .map_err(|e| self.failed(sdk_error::message(e)))?;
                if answer.failed_entry_count() == 0 {
                    waiting.clear();
                    break;
                }
                // Offer again only the entries EventBridge refused (throttled, most often).
                let results = answer.entries();
                let refused: Vec<(PutEventsRequestEntry, String)> = waiting
                    .iter()
                    .zip(results)
                    .filter(|(_, result)| result.error_code().is_some())
                    .map(|(entry, result)| {
                        let why = format!(
                            "{}: {}",
                            result.error_code().unwrap_or_default(),
                            result.error_message().unwrap_or_default()
                        );
                        (entry.clone(), why)
                    })
                    .collect();
                if attempt == ATTEMPTS {
                    let why = refused
                        .first()
                        .map(|(_, why)| why.clone())
                        .unwrap_or_default();
                    return Err(self.failed(format!(
                        "{} of {} entries refused {ATTEMPTS} times (first: {why})",
                        refused.len(),
                        chunk.len()
                    )));
                }
                waiting = refused.into_iter().map(|(entry, _)| entry).collect();
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
        }
        Ok(())
    }
}
