//! The executor: takes due messages off the queue and, for each, follows the protocol in four
//! steps: wait until due (or send it on), claim the run or skip it, run the claimed job under
//! its guard, record the finish. Messages are handled concurrently; each failure is reported on its own (partial
//! batch response), so one bad message never fails its batch.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;

use super::controls::reserve_start;
use super::progress::RunReporter;
use super::{Deps, metrics};
use crate::controls::{Limit, Pause, Scope};
use crate::item::{AttributeValue, Image, Item, Worker, attr};
use crate::job::{Job, JobContext, JobError, Services};
use crate::lifecycle::{
    Claimed, Finish, MAX_EARLY_WAIT, Message, MessageAction, OnLimited, Orphaned, Outcome, Paused,
    claim, claim_reserved, defer, finish, invalid_after_claim, on_limited, on_message, on_paused,
    orphaned, refusal, route, unless_paused,
};
use crate::seams::Applied;
use crate::timestamp::{Due, format_stamp};

/// What the executor needs: what every handler has, and what jobs may use.
pub struct Executor {
    /// The tables, the queues (to send early messages on), the jobs, the policy, the time.
    pub deps: Deps,
    /// What jobs may use.
    pub services: Services,
    /// How long before the invocation's deadline a run must be over.
    pub safety_margin: TimeDelta,
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
    let Some(now) = until_due(&message, record, executor).await? else {
        return Ok(());
    };
    let Some(claimed) = claim_or_skip(&message, now, deadline, executor).await? else {
        return Ok(());
    };
    let started = Instant::now();
    let closing = run_claimed(&claimed, executor, deadline).await?;
    record_finish(&message, &claimed, &closing, executor, started).await
}

/// Step 1: waits out a message that is a moment early, or sends on one that is early by more
/// (`None`); `Some(now)` when the run may be claimed.
async fn until_due(
    message: &Message,
    record: &SqsMessage,
    executor: &Executor,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let clock = &executor.deps.clock;
    let mut now = clock.now();
    if let MessageAction::WaitThenClaim(wait) = on_message(message, now) {
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        now = clock.now();
    }
    match on_message(message, now) {
        MessageAction::Claim => Ok(Some(now)),
        MessageAction::WaitThenClaim(_) => {
            anyhow::bail!("still early after waiting for the due time")
        }
        MessageAction::Redeliver(route) => {
            let arn = record
                .event_source_arn
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("the message has no source queue"))?;
            let delivery = &executor.deps.delivery;
            let queue = delivery.queue_from_arn(arn).await?;
            let sent = delivery.send(message, &queue, route).await?;
            tracing::debug!(worker = ?message.id, due = %message.due, sent = ?sent, "early; sent on");
            Ok(None)
        }
    }
}

/// Step 2: claims the run with a fresh token, leased until `deadline`. A refused claim is a
/// skip (stale task, disabled, already done: logged and counted); a claimed item that no
/// longer decodes is marked invalid. `Some` only for a run this invocation now owns.
async fn claim_or_skip(
    message: &Message,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    executor: &Executor,
) -> anyhow::Result<Option<Claimed>> {
    let deps = &executor.deps;
    let token = uuid::Uuid::new_v4().to_string();
    let controls = deps.controls.get(now).await?;
    let mut steered = controls.paused(now);
    steered.extend(controls.limited());
    let item = match deps
        .store
        .apply(&unless_paused(
            claim(message, now, deadline, &token),
            &steered,
        ))
        .await?
    {
        Applied::Written(item) => item,
        Applied::Refused(stored) => {
            let image = stored.as_ref().map(Image::decode);
            let Some(reason) = refusal(message, image.as_ref()) else {
                // The claim's own condition holds: a pause or a rate limit refused it.
                let Some(worker) = image.and_then(|image| image.worker.ok()) else {
                    anyhow::bail!("the claim was refused, yet the stored item matches the message");
                };
                if let Some((scope, pause)) = controls.pause_of(&worker, now) {
                    apply_pause(&worker, message, &scope, pause, now, deps).await?;
                    return Ok(None);
                }
                let limits = controls.limits_of(&worker);
                if limits.is_empty() {
                    anyhow::bail!("the claim was refused, yet the stored item matches the message");
                }
                return match under_limits(&worker, message, &limits, now, deadline, &token, deps)
                    .await?
                {
                    Some(item) => claimed(item, message, &token, deps).await,
                    None => Ok(None),
                };
            };
            tracing::info!(worker = ?message.id, due = %message.due, reason = %reason, "skipped");
            if deps.emit_metrics {
                println!(
                    "{}",
                    metrics::skipped(&reason, &message.id, deps.clock.now())
                );
            }
            return Ok(None);
        }
    };
    claimed(item, message, &token, deps).await
}

/// The run a claim wrote `item` for (holding `token`); a claimed item that no longer decodes
/// is marked invalid.
async fn claimed(
    item: Item,
    message: &Message,
    token: &str,
    deps: &Deps,
) -> anyhow::Result<Option<Claimed>> {
    match Worker::from_item(&item) {
        Ok(worker) => Claimed::from_worker(worker)
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("the claim returned an item that is not running")),
        Err(error) => {
            deps.store
                .apply(&invalid_after_claim(
                    &message.id,
                    token,
                    &error,
                    deps.clock.now(),
                ))
                .await?;
            tracing::warn!(worker = ?message.id, error = ?error.to_string(), "claimed, but the item is invalid");
            Ok(None)
        }
    }
}

/// The due run of `worker`, whose claim its rate `limits` refused: claimed on its reservation
/// (the claimed item), or deferred to a start reserved now, or left to the delivery already on
/// its way to its reservation (`None`).
async fn under_limits(
    worker: &Worker,
    message: &Message,
    limits: &[(Scope, Limit)],
    mut now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    token: &str,
    deps: &Deps,
) -> anyhow::Result<Option<Item>> {
    let wait = |wait: TimeDelta| tokio::time::sleep(wait.to_std().unwrap_or_default());
    let deferred = match on_limited(worker, now) {
        OnLimited::Claim => worker.deferred_until,
        OnLimited::WaitThenClaim(until) => {
            wait(until).await;
            now = deps.clock.now();
            worker.deferred_until
        }
        OnLimited::Deferred(at) => {
            // Early (a schedule fires up to a minute ahead) or a second copy: on to the start.
            let queue = deps.delivery.worker_queue(worker.queue()).await?;
            deps.delivery.send(message, &queue, route(at, now)).await?;
            tracing::debug!(worker = ?message.id, due = %message.due, until = %at, "deferred; sent on");
            return Ok(None);
        }
        OnLimited::Reserve => {
            let mut start = now;
            for (scope, limit) in limits {
                start = start.max(reserve_start(deps.control.as_ref(), scope, limit, now).await?);
            }
            if start - now > MAX_EARLY_WAIT {
                let at = Due::ceil(start);
                let deferral = defer(worker, message, at, now, &deps.policy);
                if let Applied::Written(_) = deps.store.apply(&deferral).await? {
                    tracing::info!(worker = ?message.id, due = %message.due, until = %at, "deferred by a rate limit");
                }
                return Ok(None);
            }
            if start > now {
                wait(start - now).await;
                now = deps.clock.now();
            }
            None
        }
    };
    let claim = claim_reserved(message, deferred, now, deadline, token);
    match deps.store.apply(&claim).await? {
        Applied::Written(item) => Ok(Some(item)),
        Applied::Refused(_) => {
            tracing::info!(worker = ?message.id, due = %message.due, "skipped: another delivery claimed the reservation");
            Ok(None)
        }
    }
}

/// Holds or skips the due run of `worker`, whose claim `scope`'s pause refused.
async fn apply_pause(
    worker: &Worker,
    message: &Message,
    scope: &Scope,
    pause: &Pause,
    now: DateTime<Utc>,
    deps: &Deps,
) -> anyhow::Result<()> {
    match on_paused(
        worker,
        message,
        scope,
        pause,
        now,
        &deps.registry,
        &deps.policy,
    ) {
        Paused::Hold(update) => {
            if let Applied::Written(_) = deps.store.apply(&update).await? {
                tracing::info!(worker = ?message.id, due = %message.due, pause = %scope, "held by a pause");
            }
        }
        Paused::Skip { record, update } => {
            // The record first, once per due time (a repeat finds it): the worker's move then
            // cannot leave a skipped due time unrecorded.
            deps.store.put_run_if_absent(&record).await?;
            if let Applied::Written(_) = deps.store.apply(&update).await? {
                tracing::info!(worker = ?message.id, due = %message.due, pause = %scope, "skipped by a pause");
            }
        }
    }
    Ok(())
}

/// Step 3: runs the claimed job (unless its spawn parent has stopped) and decides how the run
/// ends: the run record and the worker's closing write.
async fn run_claimed(
    claimed: &Claimed,
    executor: &Executor,
    deadline: DateTime<Utc>,
) -> anyhow::Result<Finish> {
    let deps = &executor.deps;
    if let Some((parent, why)) = disabled_parent(&claimed.worker, deps).await? {
        return Ok(orphaned(
            claimed,
            &parent,
            why,
            deps.clock.now(),
            &deps.policy,
        ));
    }
    let budget = (deadline - executor.safety_margin - deps.clock.now()).max(TimeDelta::seconds(1));
    let limit = TimeDelta::seconds(claimed.worker.timeout_seconds().into()).min(budget);
    let reporter = RunReporter::new(claimed, deps.store.as_ref(), deps.clock.as_ref());
    let ctx = JobContext {
        worker: &claimed.worker,
        due: claimed.due,
        attempt: claimed.attempt(),
        services: &executor.services,
        reporter: &reporter,
    };
    let result = match deps.registry.get(&claimed.worker.kind) {
        None => Err(JobError::permanent(format!(
            "unknown kind {:?}",
            claimed.worker.kind
        ))),
        Some(job) => guarded(job, &ctx, limit).await,
    };
    let outcome = Outcome {
        result,
        finished: deps.clock.now(),
        report: reporter.latest(),
    };
    Ok(finish(
        claimed,
        &outcome,
        deps.clock.jitter(),
        &deps.registry,
        &deps.policy,
    ))
}

/// Runs `job` once within `limit`: a panic or the limit running out is that run's retryable
/// failure, never the batch's.
async fn guarded(
    job: &dyn Job,
    ctx: &JobContext<'_>,
    limit: TimeDelta,
) -> Result<String, JobError> {
    let caught = AssertUnwindSafe(job.execute(ctx)).catch_unwind();
    match tokio::time::timeout(limit.to_std().expect("a positive limit"), caught).await {
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

/// Step 4: records the run, then closes the worker (fenced by the claim's token). The record
/// comes first: a crash after it leaves a record and a running worker for the sweeper, never a
/// finished worker without its record.
async fn record_finish(
    message: &Message,
    claimed: &Claimed,
    closing: &Finish,
    executor: &Executor,
    started: Instant,
) -> anyhow::Result<()> {
    let deps = &executor.deps;
    if deps.emit_metrics {
        println!(
            "{}",
            metrics::finished(&closing.record, &claimed.worker.kind, deps.clock.now())
        );
    }
    deps.store.put_run(&closing.record).await?;
    match deps.store.apply(&closing.update).await? {
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
        Applied::Refused(stored) if closed_from_record(stored.as_ref(), closing) => {
            tracing::info!(worker = ?message.id, due = %message.due, "the sweeper closed this run from its record meanwhile");
        }
        Applied::Refused(_) => {
            let mut record = closing.record.clone();
            record.superseded = true;
            deps.store.put_run(&record).await?;
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
    deps: &Deps,
) -> anyhow::Result<Option<(String, Orphaned)>> {
    let Some(parent) = &worker.parent_id else {
        return Ok(None);
    };
    let image = deps
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

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}
