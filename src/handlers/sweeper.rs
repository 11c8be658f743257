//! The sweeper: a pass over the sparse index of live workers, shard by shard, in bounded pages.
//! It rescues runs whose lease expired and re-delivers ready workers whose message went missing.
//! Then it reads how many messages each dead-letter queue holds and tells of new arrivals
//! (`Dead Lettered`), marking in the control table how many it has told of.
//!
//! One worker's trouble (its queue deleted, a throttled call) is that worker's: it is logged,
//! counted in the pass's report and metric, and the pass goes on. Only a failed read of the
//! index itself ends a pass.

use chrono::{DateTime, Utc};

use super::{Sweeper, metrics};
use crate::controls::Controls;
use crate::events::{EventType, dead_lettered};
use crate::item::{Image, Item, attr};
use crate::lifecycle::{
    DEFAULT_SWEEP_SHARDS, SweepAction, SweepReport, rescue_recorded, route, sweep,
    sweep_undecodable,
};
use crate::seams::{Applied, QueueRef, RunWrite, next_version};
use crate::timestamp::Due;

/// Workers read per page of the index.
pub const PAGE_SIZE: i32 = 100;
/// Pages read per shard in one pass, so one pass stays bounded (shards × 10 × 100 workers).
pub const MAX_PAGES_PER_SHARD: usize = 10;

/// The most messages one pass re-sends. With more overdue workers than this, the rest wait
/// for the next passes, oldest first (they stay in the index as they are): a backlog is never
/// multiplied by the sweeper.
pub const MAX_RESENDS_PER_PASS: usize = 100;

/// What a pass knows of the worker queues: how many messages each holds (read once a pass,
/// when an overdue worker of it first comes up). A queue holding [`MAX_RESENDS_PER_PASS`] or
/// more is deep: its overdue workers' messages are likely waiting in it, not lost, so none is
/// re-sent until it drains below that.
#[derive(Default)]
struct Depths(std::collections::HashMap<String, u64>);

impl Depths {
    async fn deep(&mut self, sweeper: &Sweeper, queue: &QueueRef) -> anyhow::Result<bool> {
        let held = match self.0.get(&queue.name) {
            Some(held) => *held,
            None => {
                let held = sweeper.delivery.holding(&queue.name).await?;
                self.0.insert(queue.name.clone(), held);
                held
            }
        };
        Ok(held >= MAX_RESENDS_PER_PASS as u64)
    }
}

/// One pass of the sweeper at `now`. Fails only when the index cannot be read.
pub async fn sweep_once(sweeper: &Sweeper, now: DateTime<Utc>) -> anyhow::Result<SweepReport> {
    let mut report = SweepReport::default();
    let mut depths = Depths::default();
    // Read once a pass: which pauses hold workers (unknown: held workers are left as they are).
    let controls = match sweeper.control.controls().await {
        Ok((controls, _)) => Some(controls),
        Err(error) => {
            report.failed += 1;
            tracing::warn!(error = ?error.to_string(), "sweeper: could not read the controls; held workers wait for the next pass");
            None
        }
    };
    // At least the default partitions: a worker indexed before the count was raised keeps its
    // partition until its next write.
    for shard in 0..sweeper.policy.sweep_shards.max(DEFAULT_SWEEP_SHARDS) {
        let mut start = None;
        for _ in 0..MAX_PAGES_PER_SHARD {
            let (items, next) = sweeper
                .store
                .overdue(shard, Due::floor(now), PAGE_SIZE, start)
                .await?;
            for item in items {
                report.looked_at += 1;
                let looked = look_at(
                    sweeper,
                    &item,
                    controls.as_ref(),
                    now,
                    &mut depths,
                    &mut report,
                )
                .await;
                if let Err(error) = looked {
                    report.failed += 1;
                    tracing::warn!(worker = ?worker_id(&item), error = ?error.to_string(), "sweeper: could not act on this worker; the next pass tries again");
                }
            }
            match next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    if sweeper.published.contains(EventType::DeadLettered) {
        for (dead_letter_queue, queue) in dead_letter_queues(sweeper) {
            match tell_dead_letters(sweeper, &dead_letter_queue, queue.as_deref(), now).await {
                Ok(told) => report.dead_lettered += told,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(queue = ?dead_letter_queue, error = ?error.to_string(), "sweeper: could not read or tell this dead-letter queue; the next pass tries again");
                }
            }
        }
    }
    if report.did_anything() {
        tracing::info!(report = ?report, "swept");
    }
    if sweeper.emit_metrics {
        println!("{}", metrics::swept(&report, sweeper.clock.now()));
    }
    Ok(report)
}

/// Every dead-letter queue of the deployment, with the worker queue whose it is (none: the
/// stream's set-aside records).
fn dead_letter_queues(sweeper: &Sweeper) -> Vec<(String, Option<String>)> {
    let names = &sweeper.names;
    let queues = sweeper.policy.queues.iter();
    queues
        .map(|q| (names.dead_letter_queue_name(&q.name), Some(q.name.clone())))
        .chain([(names.stream_failure_queue_name(), None)])
        .collect()
}

/// The control table's key of the mark of how many messages of `dead_letter_queue` were told.
pub fn dead_letter_mark(dead_letter_queue: &str) -> String {
    format!("dead-letters/{dead_letter_queue}")
}

/// Tells of the messages that reached `dead_letter_queue` since the last pass that told, and
/// marks them told; `1` when it published. A queue emptied since is marked down silently, so
/// its next arrival is told again. The event goes out before the mark: a pass that dies between
/// the two tells it again, under the same id.
async fn tell_dead_letters(
    sweeper: &Sweeper,
    dead_letter_queue: &str,
    queue: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let key = dead_letter_mark(dead_letter_queue);
    let waiting = sweeper.delivery.holding(dead_letter_queue).await?;
    let marked = sweeper.control.counter(&key).await?;
    let told = marked.map_or(0, |mark| mark.value);
    if waiting == told {
        return Ok(0);
    }
    let mark = next_version(marked);
    let event = dead_lettered(dead_letter_queue, queue, told, waiting, mark, now);
    if let Some(event) = &event {
        sweeper.events.publish(std::slice::from_ref(event)).await?;
        tracing::warn!(queue = ?dead_letter_queue, arrived = waiting - told, waiting, id = ?event.detail.id, "dead letters arrived; published");
    }
    // Another pass that moved the mark meanwhile has told (or reset) it: nothing more to do.
    sweeper.control.set_counter(&key, marked, waiting).await?;
    Ok(usize::from(event.is_some()))
}

fn worker_id(item: &Item) -> &str {
    match item.get(attr::ID) {
        Some(crate::item::AttributeValue::S(id)) => id,
        _ => "?",
    }
}

async fn look_at(
    sweeper: &Sweeper,
    item: &Item,
    controls: Option<&Controls>,
    now: DateTime<Utc>,
    depths: &mut Depths,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let id = worker_id(item);
    let image = Image::decode(item);
    let action = match &image.worker {
        Ok(worker) => sweep(
            worker,
            now,
            sweeper.clock.jitter(),
            &sweeper.registry,
            &sweeper.policy,
            controls,
        ),
        Err(_) => sweep_undecodable(&image, now, &sweeper.policy),
    };
    match action {
        SweepAction::Ignore => {}
        SweepAction::Rescue(lost) => {
            // The run's own record, if its executor wrote one before it died, has the outcome:
            // the worker moves on as that finish said (a run that succeeded is not run again).
            let recorded = match sweeper.store.put_run_if_absent(&lost.record).await? {
                RunWrite::Written => None,
                RunWrite::Exists(record) => image.worker.as_ref().ok().and_then(|worker| {
                    rescue_recorded(
                        worker,
                        &record,
                        sweeper.clock.jitter(),
                        &sweeper.registry,
                        &sweeper.policy,
                    )
                }),
            };
            let (finish, what) = match recorded {
                Some(finish) => (
                    finish,
                    "closed a run whose executor died after recording it",
                ),
                None => (lost, "rescued a run whose lease expired"),
            };
            if let Applied::Written(_) = sweeper.store.apply(&finish.update).await? {
                tracing::warn!(worker = ?id, next = ?finish.next, succeeded = ?finish.record.succeeded, "{what}");
                report.rescued += 1;
            }
        }
        SweepAction::Redeliver {
            message,
            queue,
            update,
        } => {
            let queue = sweeper.delivery.worker_queue(&queue).await?;
            if report.redelivered >= MAX_RESENDS_PER_PASS || depths.deep(sweeper, &queue).await? {
                report.held_back += 1;
                return Ok(());
            }
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                sweeper
                    .delivery
                    .send(&message, &queue, route(message.due, now))
                    .await?;
                tracing::warn!(worker = ?id, due = %message.due, "overdue; message sent again");
                report.redelivered += 1;
            }
        }
        SweepAction::Forget(update) => {
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                report.forgotten += 1;
            }
        }
        SweepAction::Postpone(update) => {
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                report.postponed += 1;
            }
        }
        SweepAction::Release(update) => {
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                tracing::info!(worker = ?id, "its pause is over; released");
                report.released += 1;
            }
        }
        SweepAction::Overdue(update) => {
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                tracing::warn!(worker = ?id, since = ?update.value(attr::OVERDUE_SINCE), "overdue: no success within its alertAfter");
                report.overdue += 1;
            }
        }
        SweepAction::MarkInvalid(update) => {
            if let Applied::Written(_) = sweeper.store.apply(&update).await? {
                tracing::warn!(worker = ?id, message = ?update.value(attr::LAST_RUN_MESSAGE), "an indexed worker no longer decodes; marked invalid");
                report.invalidated += 1;
            }
        }
    }
    Ok(())
}
