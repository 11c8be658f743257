//! The dispatcher: reacts to committed changes of worker items (the DynamoDB stream).
//!
//! A batch's records are handled concurrently across workers and in order within each worker
//! (as Lambda's parallelization factor does per partition key): one worker's changes are never
//! reordered, and one slow worker does not hold up the others. When records fail, the handler
//! reports the earliest of them, so Lambda (or the local glue) retries from there and no record
//! is skipped; records after it that succeeded are handled again, which changes nothing (every
//! write is conditional, and a replayed record arms with the same task id).
//!
//! The facts a record tells ([`crate::events::facts`]) are published after its batch has been
//! handled, in stream order, and only for the records before the earliest failure: the records
//! from there on come again, and tell their facts then. So a fact is published once per committed
//! change, however often Lambda hands the batch over, unless EventBridge refuses a publish
//! a few times after accepting part of it, or the
//! function dies between publishing and returning; then the retry publishes it again, with the
//! same `detail.id`.

use std::time::Instant;

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use super::Dispatcher;
use crate::events::{Event, Notify, facts};
use crate::item::{Image, Item, attr};
use crate::lifecycle::{ChangeAction, on_change, route};
use crate::seams::{Applied, MAX_EVENTS_PER_CALL, StoreError};

/// Handles one batch of stream records.
pub async fn handle_stream(event: &StreamEvent, dispatcher: &Dispatcher) -> DynamoDbEventResponse {
    // Each worker's records, in stream order, as positions in the batch.
    let mut by_worker: Vec<(String, Vec<usize>)> = Vec::new();
    for (position, record) in event.records.iter().enumerate() {
        let worker = worker_id(record);
        match by_worker.iter_mut().find(|(id, _)| *id == worker) {
            Some((_, positions)) => positions.push(position),
            None => by_worker.push((worker, vec![position])),
        }
    }
    let outcomes = futures::future::join_all(by_worker.iter().map(|(_, positions)| async move {
        let mut told = Vec::new();
        for &position in positions {
            let record = &event.records[position];
            match handle_record(record, dispatcher).await {
                Ok(facts) => told.push((position, facts)),
                Err(error) => return (told, Some((position, error))),
            }
        }
        (told, None)
    }))
    .await;
    let mut told = Vec::new();
    let mut earliest: Option<(usize, anyhow::Error)> = None;
    for (handled, failure) in outcomes {
        told.extend(handled);
        if let Some(failure) = failure
            && earliest.as_ref().is_none_or(|(at, _)| failure.0 < *at)
        {
            earliest = Some(failure);
        }
    }
    told.sort_by_key(|(position, _)| *position);
    told.retain(|(position, facts)| {
        !facts.is_empty() && earliest.as_ref().is_none_or(|(at, _)| position < at)
    });
    if let Some(failure) = publish_in_order(&told, event, dispatcher).await {
        earliest = Some(failure);
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some((position, error)) = earliest {
        let record = &event.records[position];
        tracing::error!(worker = ?worker_id(record), error = ?error.to_string(), "dispatch failed; the batch resumes here");
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = record.change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

/// Publishes the facts of the records in `told` (in stream order, each record's in one call
/// where they fit), stopping at the first record whose publish fails: that record is where the
/// batch resumes.
async fn publish_in_order(
    told: &[(usize, Vec<Event>)],
    event: &StreamEvent,
    dispatcher: &Dispatcher,
) -> Option<(usize, anyhow::Error)> {
    let mut start = 0;
    while start < told.len() {
        let mut end = start;
        let mut entries = 0;
        while end < told.len()
            && (end == start || entries + told[end].1.len() <= MAX_EVENTS_PER_CALL)
        {
            entries += told[end].1.len();
            end += 1;
        }
        let chunk: Vec<Event> = told[start..end]
            .iter()
            .flat_map(|(_, facts)| facts.iter().cloned())
            .collect();
        if let Err(error) = dispatcher.events.publish(&chunk).await {
            return Some((told[start].0, error.into()));
        }
        for (position, facts) in &told[start..end] {
            let worker = worker_id(&event.records[*position]);
            for fact in facts {
                tracing::info!(worker = ?worker, event = %fact.kind, id = ?fact.detail.id, message = ?fact.detail.message, "published");
            }
        }
        start = end;
    }
    None
}

fn image(item: &Item) -> Option<Image> {
    (!item.is_empty()).then(|| Image::decode(item))
}

fn worker_id(record: &EventRecord) -> String {
    match record.change.keys.get("id") {
        Some(crate::item::AttributeValue::S(id)) => id.clone(),
        _ => "?".into(),
    }
}

/// The task id a record arms with: derived from the record itself, so a replayed record arms
/// with the same id and its conditional write finds the work already done.
pub fn task_id_for(record: &EventRecord) -> String {
    match record.change.sequence_number.as_deref() {
        Some(sequence) if record.event_id.is_empty() => sequence.to_owned(),
        _ => record.event_id.clone(),
    }
}

/// Handles one record; returns the facts it tells that its worker's `notify` (or the
/// deployment) wants published.
async fn handle_record(
    record: &EventRecord,
    dispatcher: &Dispatcher,
) -> anyhow::Result<Vec<Event>> {
    let started = Instant::now();
    let now = dispatcher.clock.now();
    let old = image(&record.change.old_image);
    let new = image(&record.change.new_image);
    let notify = new
        .as_ref()
        .and_then(|new| new.worker.as_ref().ok())
        .and_then(|worker| worker.notify.as_ref());
    let mut told = facts(old.as_ref(), new.as_ref(), now);
    told.retain(|fact| Notify::wants(notify, fact.kind, &dispatcher.published));
    let action = on_change(
        old.as_ref(),
        new.as_ref(),
        &task_id_for(record),
        now,
        &dispatcher.registry,
        &dispatcher.policy,
    );
    let worker = worker_id(record);
    let action = match action {
        ChangeAction::Ignore(reason) => {
            tracing::debug!(worker = ?worker, reason = %reason, "ignored");
            return Ok(told);
        }
        ChangeAction::Deliver { message, queue, at } => {
            let queue = dispatcher.delivery.worker_queue(&queue).await?;
            let sent = dispatcher
                .delivery
                .send(&message, &queue, route(at, now))
                .await?;
            tracing::info!(worker = ?worker, due = %message.due, sent = ?sent, took_ms = started.elapsed().as_millis() as u64, "delivered");
            return Ok(told);
        }
        action => action,
    };
    apply(action, &worker, dispatcher, started).await?;
    Ok(told)
}

/// Applies an action's write, logging what became of it.
async fn apply(
    action: ChangeAction,
    worker: &str,
    dispatcher: &Dispatcher,
    started: Instant,
) -> anyhow::Result<()> {
    let (what, update) = match action {
        ChangeAction::Arm(update) => ("armed", update),
        ChangeAction::Stop(update) => ("stopped", update),
        ChangeAction::MarkInvalid(update) => ("marked invalid", update),
        ChangeAction::Normalize(update) => ("normalised nextDue", update),
        ChangeAction::RunNow(update) => ("took up the run-now request", update),
        ChangeAction::Ignore(_) | ChangeAction::Deliver { .. } => return Ok(()),
    };
    let applied = match dispatcher.store.apply(&update).await {
        Ok(applied) => applied,
        // Retrying a write DynamoDB refuses (an item already at its size limit cannot even be
        // marked invalid) would only hold up the shard: say so, naming the worker, and go on.
        Err(error @ StoreError::Refused { .. }) => {
            tracing::error!(worker = ?worker, error = ?error.to_string(), "DynamoDB refused the write that would have {what} this worker; nothing more can be done with this change");
            return Ok(());
        }
        Err(error) => return Err(error.into()),
    };
    match applied {
        Applied::Written(_) => match update.value(attr::LAST_RUN_MESSAGE) {
            Some(message) => {
                tracing::info!(worker = ?worker, message = ?message, took_ms = started.elapsed().as_millis() as u64, "{what}")
            }
            None => {
                tracing::info!(worker = ?worker, took_ms = started.elapsed().as_millis() as u64, "{what}")
            }
        },
        Applied::Refused(_) => {
            tracing::debug!(worker = ?worker, "not {what}: the item has changed since (a later record decides)");
        }
    }
    Ok(())
}
