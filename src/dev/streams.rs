//! Plays the stream's event source mapping: reads the workers table's stream shard by shard,
//! from its saved position, and hands each batch to the dispatcher, filtered by the very
//! patterns the template declares, with the mapping's batch size and retries
//! ([`crate::glue`]).
//!
//! Each poll takes a fresh iterator after the checkpoint (`AFTER_SEQUENCE_NUMBER`) instead of
//! trusting a long-lived one (moto's open iterators can go stale), and the checkpoint moves only
//! past records the dispatcher handled, so a failed record is read again.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use chrono::{DateTime, Utc};

use super::checkpoint::Checkpoints;
use crate::adapters::clients::Clients;
use crate::adapters::sdk_error;
use crate::adapters::sqs::{lookup_queue, send_body};
use crate::glue::mapping::{STREAM_ATTEMPTS, STREAM_BATCH_SIZE};
use crate::glue::stream::{Filter, Retries};
use crate::handlers::Dispatcher;
use crate::handlers::dispatcher::handle_stream;
use crate::item::Item;

/// A page of a shard as read.
enum Page {
    /// The records, decoded.
    Records(Vec<aws_sdk_dynamodbstreams::types::Record>),
    /// An answer the SDK could not decode, as text.
    Undecodable(String),
}

/// The body of a successful answer the SDK could not decode (an item nested deeper than it
/// reads), if that is what `error` is.
fn undecodable_body(
    error: &sdk_error::SdkError<
        GetRecordsError,
        aws_sdk_dynamodbstreams::config::http::HttpResponse,
    >,
) -> Option<String> {
    use sdk_error::ProvideErrorMetadata;
    let service = error.as_service_error()?;
    let raw = error.raw_response()?;
    let bytes = raw.body().bytes()?;
    (service.code().is_none() && raw.status().is_success())
        .then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// The JSON string that follows `key` (and its colon) in `text`, at the first place where a
/// string follows it (an attribute a user named like the key holds a map, not a string).
fn string_after(text: &str, key: &str) -> Option<String> {
    text.match_indices(key).find_map(|(at, _)| {
        let rest = text[at + key.len()..].trim_start().strip_prefix(':')?;
        serde_json::Deserializer::from_str(rest.trim_start())
            .into_iter::<String>()
            .next()?
            .ok()
    })
}

/// The reader of one table's stream.
pub struct StreamPump {
    clients: Clients,
    table: String,
    checkpoints: Checkpoints,
    failure_queue: String,
    retries: Retries,
    invoke_url: Option<String>,
    filter: Filter,
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
            retries: Retries::default(),
            invoke_url: None,
            filter: Filter::default(),
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

    /// One page of a shard, from its checkpoint (a fresh iterator each time).
    async fn read(&self, stream_arn: &str, shard_id: &str, limit: i32) -> anyhow::Result<Page> {
        let iterator = self
            .clients
            .streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id);
        let iterator = match self.checkpoints.get(stream_arn, shard_id) {
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
        let Some(iterator) = iterator else {
            return Ok(Page::Records(Vec::new()));
        };
        let result = self
            .clients
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Page::Records(output.records.unwrap_or_default())),
            Err(error) => match undecodable_body(&error) {
                Some(raw) => Ok(Page::Undecodable(raw)),
                None => Err(anyhow::anyhow!("GetRecords: {}", sdk_error::message(error))),
            },
        }
    }

    /// Sets aside the one record of `raw`, a GetRecords answer the SDK could not decode, and
    /// moves the checkpoint past it.
    async fn set_aside_undecodable(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        raw: &str,
    ) -> anyhow::Result<()> {
        let sequence = string_after(raw, "\"SequenceNumber\"").ok_or_else(|| {
            anyhow::anyhow!("GetRecords answered a page that names no sequence number")
        })?;
        let worker = raw
            .find("\"Keys\"")
            .and_then(|at| string_after(&raw[at..], "\"S\""))
            .unwrap_or_else(|| "?".into());
        let reason = "the SDK cannot decode this stream record (nested deeper than it reads; \
                      DynamoDB allows 32 levels)";
        let body = serde_json::json!({
            "sequenceNumber": sequence,
            "workerId": worker,
            "reason": reason,
        });
        self.set_aside(&body.to_string()).await?;
        tracing::error!(worker = ?worker, sequence = %sequence, queue = %self.failure_queue, "{reason}; set aside");
        self.checkpoints.set(stream_arn, shard_id, &sequence)?;
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
            let records = match self
                .read(&stream_arn, &shard_id, STREAM_BATCH_SIZE as i32)
                .await?
            {
                Page::Records(records) => records,
                // A page the SDK cannot decode: read its first record alone. If that one is the
                // culprit it is set aside, so the shard moves on; if not, it is dispatched, and
                // the next poll gets one record further.
                Page::Undecodable(_) => match self.read(&stream_arn, &shard_id, 1).await? {
                    Page::Records(records) => records,
                    Page::Undecodable(raw) => {
                        self.set_aside_undecodable(&stream_arn, &shard_id, &raw)
                            .await?;
                        handled += 1;
                        continue;
                    }
                },
            };
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
                .filter(|r| self.filter.passes(r))
                .cloned()
                .collect();
            let response = match (&self.invoke_url, event.records.is_empty()) {
                (_, true) => Default::default(),
                (Some(url), false) => super::invoke::invoke(url, "dispatcher", &event).await?,
                (None, false) => handle_stream(&event, dispatcher).await,
            };
            let settled = self.retries.settle(&event.records, &response);
            if let Some(at) = settled.set_aside {
                // Like Lambda's MaximumRetryAttempts and on-failure destination: a record that
                // keeps failing is set aside, so it cannot hold up the shard for ever.
                let record = &event.records[at];
                self.set_aside(&serde_json::to_string(record).unwrap_or_default())
                    .await?;
                tracing::error!(sequence = ?record.change.sequence_number, queue = %self.failure_queue, "a stream record failed {STREAM_ATTEMPTS} times; set aside");
            }
            // The checkpoint moves to the first record not done; the records the filter
            // dropped before it are done as well.
            let resume = event
                .records
                .get(settled.done)
                .and_then(|r| r.change.sequence_number.as_ref());
            let done: Vec<&EventRecord> = read
                .iter()
                .take_while(|r| resume.is_none() || r.change.sequence_number.as_ref() != resume)
                .collect();
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
