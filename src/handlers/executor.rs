//! The executor: takes due messages off the queue, claims the run, runs the job, records the
//! outcome. Messages are handled concurrently; each failure is reported on its own (partial
//! batch response), so one bad message never fails its batch.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;

use crate::clock::Clock;
use crate::config::Settings;
use crate::delivery::Deliver;
use crate::item::{AttributeValue, Image, Item, Worker, attr};
use crate::job::{JobContext, JobError, Registry, Services};
use crate::lifecycle::{
    Claimed, Finish, Message, MessageAction, Orphaned, Outcome, claim, finish, invalid_after_claim,
    on_message, orphaned, refusal,
};
use crate::metrics;
use crate::store::{Applied, WorkerStore};
use crate::timestamp::format_stamp;

/// What the executor needs: the tables, delivery, the jobs and what they may use.
pub struct Executor {
    /// The workers and runs tables.
    pub store: Arc<dyn WorkerStore>,
    /// SQS and Scheduler, to send early messages on.
    pub delivery: Arc<dyn Deliver>,
    /// The jobs this deployment knows.
    pub registry: Registry,
    /// What jobs may use.
    pub services: Services,
    /// Retry, retention and safety margins.
    pub settings: Settings,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// Handles one batch of queue messages. `deadline` is when the invocation must be over (the
/// Lambda deadline); it bounds each run and is the lease of each claim.
pub async fn handle_queue(
    event: &SqsEvent,
    executor: &Executor,
    deadline: DateTime<Utc>,
) -> SqsBatchResponse {
    let results = futures::future::join_all(
        event
            .records
            .iter()
            .map(|record| handle_message(record, executor, deadline)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, result) in event.records.iter().zip(results) {
        if let Err(error) = result {
            let worker = record
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<Message>(body).ok())
                .map(|message| message.id);
            tracing::error!(worker = ?worker, message_id = ?record.message_id, error = ?error.to_string(), "message failed; the queue will deliver it again");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn handle_message(
    record: &SqsMessage,
    executor: &Executor,
    deadline: DateTime<Utc>,
) -> anyhow::Result<()> {
    let body = record.body.as_deref().unwrap_or_default();
    let message: Message = serde_json::from_str(body)
        .map_err(|e| anyhow::anyhow!("not a nextdue message ({e}): {:.200}", body))?;
    let mut now = executor.clock.now();
    if let MessageAction::WaitThenClaim(wait) = on_message(&message, now) {
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        now = executor.clock.now();
    }
    match on_message(&message, now) {
        MessageAction::Redeliver(route) => {
            let arn = record
                .event_source_arn
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("the message has no source queue"))?;
            let queue = executor.delivery.queue_from_arn(arn).await?;
            let sent = executor.delivery.send(&message, &queue, route).await?;
            tracing::debug!(worker = ?message.id, due = %message.due, sent = ?sent, "early; sent on");
            Ok(())
        }
        MessageAction::WaitThenClaim(_) => {
            anyhow::bail!("still early after waiting for the due time")
        }
        MessageAction::Claim => {
            let token = uuid::Uuid::new_v4().to_string();
            match executor
                .store
                .apply(&claim(&message, now, deadline, &token))
                .await?
            {
                Applied::Refused(stored) => {
                    let image = stored.as_ref().map(Image::decode);
                    match refusal(&message, image.as_ref()) {
                        Some(reason) => {
                            tracing::info!(worker = ?message.id, due = %message.due, reason = %reason, "skipped");
                            if executor.settings.emit_metrics {
                                println!(
                                    "{}",
                                    metrics::skipped(&reason, &message.id, executor.clock.now())
                                );
                            }
                            Ok(())
                        }
                        None => anyhow::bail!(
                            "the claim was refused, yet the stored item matches the message"
                        ),
                    }
                }
                Applied::Written(item) => match Worker::from_item(&item) {
                    Ok(worker) => run(worker, &message, executor, deadline).await,
                    Err(error) => {
                        executor
                            .store
                            .apply(&invalid_after_claim(
                                &message.id,
                                &token,
                                &error,
                                executor.clock.now(),
                            ))
                            .await?;
                        tracing::warn!(worker = ?message.id, error = ?error.to_string(), "claimed, but the item is invalid");
                        Ok(())
                    }
                },
            }
        }
    }
}

async fn run(
    worker: Worker,
    message: &Message,
    executor: &Executor,
    deadline: DateTime<Utc>,
) -> anyhow::Result<()> {
    let claimed = Claimed::from_worker(worker)
        .ok_or_else(|| anyhow::anyhow!("the claim returned an item that is not running"))?;
    let started = Instant::now();
    let closing = match disabled_parent(&claimed.worker, executor).await? {
        Some((parent, why)) => orphaned(
            &claimed,
            &parent,
            why,
            executor.clock.now(),
            &executor.settings.policy,
        ),
        None => execute(&claimed, executor, deadline).await,
    };
    if executor.settings.emit_metrics {
        println!(
            "{}",
            metrics::finished(&closing.record, &claimed.worker.kind, executor.clock.now())
        );
    }
    // The run record first: a crash after it leaves a record and a running worker for the
    // sweeper, never a finished worker without its record.
    executor.store.put_run(&closing.record).await?;
    match executor.store.apply(&closing.update).await? {
        Applied::Written(_) => {
            tracing::info!(
                worker = ?message.id,
                due = %message.due,
                attempt = claimed.attempt(),
                succeeded = closing.record.succeeded,
                message = closing.record.message.as_deref().unwrap_or_default(),
                next = ?closing.next,
                took_ms = started.elapsed().as_millis() as u64,
                "ran"
            );
        }
        Applied::Refused(stored) if closed_from_record(stored.as_ref(), &closing) => {
            tracing::info!(worker = ?message.id, due = %message.due, "the sweeper closed this run from its record meanwhile");
        }
        Applied::Refused(_) => {
            let mut record = closing.record.clone();
            record.superseded = true;
            executor.store.put_run(&record).await?;
            tracing::warn!(worker = ?message.id, due = %message.due, "finished after its claim was given up; recorded as superseded");
        }
    }
    Ok(())
}

/// Whether the sweeper closed this run from its record (the lease ran out between the record
/// and the worker's write): the worker then shows this run's start and finish.
fn closed_from_record(stored: Option<&Item>, closing: &Finish) -> bool {
    let stamp = |name: &str| match stored.and_then(|item| item.get(name)) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    };
    let record = &closing.record;
    stamp(attr::LAST_RUN_START_TIME) == Some(format_stamp(record.start_time))
        && stamp(attr::LAST_RUN_FINISH_TIME) == record.finish_time.map(format_stamp)
}

/// For a worker a `spawn` wrote: its parent's id, and why, if that parent is disabled, gone,
/// or on another activation than the one that wrote it (re-enabled, or deleted and written
/// again since; one read, only for spawned workers), so the tree stops when its root does.
async fn disabled_parent(
    worker: &Worker,
    executor: &Executor,
) -> anyhow::Result<Option<(String, Orphaned)>> {
    let Some(parent) = &worker.parent_id else {
        return Ok(None);
    };
    let image = executor
        .store
        .get_worker(parent)
        .await?
        .map(|item| Image::decode(&item));
    let why = match image {
        Some(image) if image.enabled => match &worker.parent_task_id {
            Some(task) if image.task_id.as_ref() != Some(task) => Orphaned::Restarted,
            _ => return Ok(None),
        },
        _ => Orphaned::DisabledOrGone,
    };
    Ok(Some((parent.clone(), why)))
}

/// Runs the claimed job under its time limit, catching a panic, and decides how the run ends.
async fn execute(claimed: &Claimed, executor: &Executor, deadline: DateTime<Utc>) -> Finish {
    let budget = (deadline - executor.settings.safety_margin - executor.clock.now())
        .max(TimeDelta::seconds(1));
    let limit = TimeDelta::seconds(claimed.worker.timeout_seconds().into()).min(budget);
    let ctx = JobContext {
        worker: &claimed.worker,
        due: claimed.due,
        attempt: claimed.attempt(),
        services: &executor.services,
    };
    let result = match executor.registry.get(&claimed.worker.kind) {
        None => Err(JobError::permanent(format!(
            "unknown kind {:?}",
            claimed.worker.kind
        ))),
        Some(job) => {
            let guarded = AssertUnwindSafe(job.execute(&ctx)).catch_unwind();
            match tokio::time::timeout(limit.to_std().expect("a positive limit"), guarded).await {
                Ok(Ok(result)) => result,
                Ok(Err(panic)) => Err(JobError::retryable(format!(
                    "the job panicked: {}",
                    panic_text(panic.as_ref())
                ))),
                Err(_) => Err(JobError::retryable(format!(
                    "timed out after {} s",
                    limit.num_seconds()
                ))),
            }
        }
    };
    let outcome = Outcome {
        result,
        finished: executor.clock.now(),
    };
    finish(
        claimed,
        &outcome,
        executor.clock.jitter(),
        &executor.registry,
        &executor.settings.policy,
    )
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
