//! Plays the stream's event source mapping: reads the workers table's stream shard by shard,
//! from its saved position, and hands each batch to the dispatcher, filtered by the very
//! patterns the template declares ([`stream_filter::PATTERNS`]).
//!
//! Each poll takes a fresh iterator after the checkpoint (`AFTER_SEQUENCE_NUMBER`) instead of
//! trusting a long-lived one (moto's open iterators can go stale), and the checkpoint moves only
//! past records the dispatcher handled, so a failed record is read again.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{DateTime, Utc};

use super::checkpoint::Checkpoints;
use crate::clients::Clients;
use crate::delivery::{lookup_queue, send_body};
use crate::handlers::dispatcher::{Dispatcher, handle_stream};
use crate::item::Item;
use crate::sdk_error;
use crate::stream_filter;

/// Records read per poll (Lambda's default batch size for streams is 100).
pub const BATCH_SIZE: i32 = 100;

/// How many times a record is handed to the dispatcher before it is set aside (Lambda's
/// `MaximumRetryAttempts` in the template is 10 retries).
pub const MAX_RECORD_ATTEMPTS: u32 = 11;

/// The reader of one table's stream.
pub struct StreamPump {
    clients: Clients,
    table: String,
    checkpoints: Checkpoints,
    failure_queue: String,
    failures: std::collections::HashMap<String, u32>,
    invoke_url: Option<String>,
    filter: Vec<serde_json::Value>,
}

fn lambda_record(
    record: aws_sdk_dynamodbstreams::types::Record,
    stream_arn: &str,
    region: &str,
) -> EventRecord {
    let mut event = EventRecord::default();
    event.event_id = record.event_id.unwrap_or_default();
    event.event_name = record
        .event_name
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    event.event_source = Some("aws:dynamodb".into());
    event.event_version = record.event_version;
    event.event_source_arn = Some(stream_arn.to_owned());
    event.aws_region = region.to_owned();
    if let Some(change) = record.dynamodb {
        event.change.keys = Item::from(change.keys.unwrap_or_default());
        event.change.new_image = Item::from(change.new_image.unwrap_or_default());
        event.change.old_image = Item::from(change.old_image.unwrap_or_default());
        event.change.sequence_number = change.sequence_number;
        event.change.size_bytes = change.size_bytes.unwrap_or_default();
        if let Some(at) = change.approximate_creation_date_time {
            event.change.approximate_creation_date_time =
                DateTime::<Utc>::from_timestamp(at.secs(), 0).unwrap_or_default();
        }
    }
    event
}

impl StreamPump {
    /// A reader of `table`'s stream that keeps its positions in `checkpoints` and sets aside
    /// records that keep failing in the queue `failure_queue`.
    pub fn new(
        clients: Clients,
        table: impl Into<String>,
        checkpoints: Checkpoints,
        failure_queue: impl Into<String>,
    ) -> Self {
        StreamPump {
            clients,
            table: table.into(),
            checkpoints,
            failure_queue: failure_queue.into(),
            failures: std::collections::HashMap::new(),
            invoke_url: None,
            filter: stream_filter::patterns(),
        }
    }

    /// Hands batches to the `dispatcher` function at this Lambda Invoke API endpoint instead
    /// of calling the handler in process.
    pub fn through(mut self, invoke_url: Option<String>) -> Self {
        self.invoke_url = invoke_url;
        self
    }

    /// Sends a record the dispatcher gave up on to the failure queue.
    async fn set_aside(&self, body: &str) -> anyhow::Result<()> {
        let queue = lookup_queue(&self.clients.sqs, &self.failure_queue).await?;
        send_body(&self.clients.sqs, &queue, body).await?;
        Ok(())
    }

    /// Reads each shard once from its checkpoint and dispatches what it finds; returns how many
    /// records the dispatcher handled.
    pub async fn run_once(&mut self, dispatcher: &Dispatcher) -> anyhow::Result<usize> {
        let table = self
            .clients
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        let stream_arn = table
            .map_err(|e| {
                anyhow::anyhow!("DescribeTable {}: {}", self.table, sdk_error::message(e))
            })?
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| anyhow::anyhow!("table {} has no stream", self.table))?;
        let region = self
            .clients
            .streams
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let description = self
            .clients
            .streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("DescribeStream: {}", sdk_error::message(e)))?;
        let shards = description
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        let mut handled = 0;
        for shard in shards {
            let Some(shard_id) = shard.shard_id else {
                continue;
            };
            let iterator = self
                .clients
                .streams
                .get_shard_iterator()
                .stream_arn(&stream_arn)
                .shard_id(&shard_id);
            let iterator = match self.checkpoints.get(&stream_arn, &shard_id) {
                Some(sequence) => iterator
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(sequence),
                None => iterator.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = iterator
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("GetShardIterator: {}", sdk_error::message(e)))?
                .shard_iterator;
            let Some(iterator) = iterator else { continue };
            let records = self
                .clients
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(BATCH_SIZE)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("GetRecords: {}", sdk_error::message(e)))?
                .records
                .unwrap_or_default();
            if records.is_empty() {
                continue;
            }
            let read: Vec<EventRecord> = records
                .into_iter()
                .map(|r| lambda_record(r, &stream_arn, &region))
                .collect();
            // As the event source mapping does: only records that pass the template's filter
            // reach the dispatcher; the others are consumed without it.
            let mut event = Event::default();
            event.records = read
                .iter()
                .filter(|r| {
                    serde_json::to_value(r)
                        .is_ok_and(|json| stream_filter::passes(&self.filter, &json))
                })
                .cloned()
                .collect();
            let response = match (&self.invoke_url, event.records.is_empty()) {
                (_, true) => Default::default(),
                (Some(url), false) => super::invoke::invoke(url, "dispatcher", &event).await?,
                (None, false) => handle_stream(&event, dispatcher).await,
            };
            let failed = response
                .batch_item_failures
                .first()
                .and_then(|f| f.item_identifier.clone());
            let mut done = read
                .iter()
                .take_while(|r| failed.is_none() || r.change.sequence_number != failed)
                .collect::<Vec<_>>();
            if let Some(sequence) = failed {
                // Like Lambda's MaximumRetryAttempts and on-failure destination: a record that
                // keeps failing is set aside, so it cannot hold up the shard for ever.
                let attempts = self.failures.entry(sequence.clone()).or_insert(0);
                *attempts += 1;
                if *attempts >= MAX_RECORD_ATTEMPTS {
                    let record = read
                        .iter()
                        .find(|r| r.change.sequence_number.as_ref() == Some(&sequence));
                    let body = serde_json::to_string(&record).unwrap_or_default();
                    self.set_aside(&body).await?;
                    tracing::error!(sequence = %sequence, queue = %self.failure_queue, "a stream record failed {MAX_RECORD_ATTEMPTS} times; set aside");
                    self.failures.remove(&sequence);
                    done.extend(record);
                }
            }
            if let Some(last) = done
                .last()
                .and_then(|r| r.change.sequence_number.as_deref())
            {
                self.checkpoints.set(&stream_arn, &shard_id, last)?;
            }
            handled += done.len();
        }
        Ok(handled)
    }
}
