//! The sweeper: a pass over the sparse index of live workers, shard by shard, in bounded pages.
//! It rescues runs whose lease expired and re-delivers ready workers whose message went missing.

use chrono::{DateTime, Utc};

use super::Executor;
use crate::item::Worker;
use crate::lifecycle::{SWEEP_SHARDS, SweepAction, route, sweep};
use crate::store::Applied;
use crate::timestamp::Due;

/// Workers read per page of the index.
pub const PAGE_SIZE: i32 = 100;
/// Pages read per shard in one pass, so one pass stays bounded (16 × 10 × 100 workers).
pub const MAX_PAGES_PER_SHARD: usize = 10;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SweepReport {
    /// Workers read from the index.
    pub looked_at: usize,
    /// Runs closed because their lease expired.
    pub rescued: usize,
    /// Overdue workers whose message was sent again.
    pub redelivered: usize,
    /// Index entries of workers that are not live, removed.
    pub forgotten: usize,
}

/// One pass of the sweeper at `now`.
pub async fn sweep_once(executor: &Executor, now: DateTime<Utc>) -> anyhow::Result<SweepReport> {
    let mut report = SweepReport::default();
    for shard in 0..SWEEP_SHARDS {
        let mut start = None;
        for _ in 0..MAX_PAGES_PER_SHARD {
            let (items, next) = executor
                .store
                .overdue(shard, Due::floor(now), PAGE_SIZE, start)
                .await?;
            for item in items {
                report.looked_at += 1;
                match Worker::from_item(&item) {
                    Ok(worker) => act(executor, &worker, now, &mut report).await?,
                    Err(error) => {
                        tracing::warn!(error = %error, "sweeper: an indexed worker does not decode; the dispatcher marks it")
                    }
                }
            }
            match next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    if report
        != (SweepReport {
            looked_at: report.looked_at,
            ..SweepReport::default()
        })
    {
        tracing::info!(report = ?report, "swept");
    }
    Ok(report)
}

async fn act(
    executor: &Executor,
    worker: &Worker,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> anyhow::Result<()> {
    let settings = &executor.settings;
    match sweep(
        worker,
        now,
        rand::random::<f64>(),
        &executor.registry,
        &settings.policy,
    ) {
        SweepAction::Ignore => {}
        SweepAction::Rescue(finish) => {
            executor.store.put_run_if_absent(&finish.record).await?;
            if let Applied::Written(_) = executor.store.apply(&finish.update).await? {
                tracing::warn!(worker = %worker.id, next = ?finish.next, "rescued a run whose lease expired");
                report.rescued += 1;
            }
        }
        SweepAction::Redeliver {
            message,
            queue,
            update,
        } => {
            if let Applied::Written(_) = executor.store.apply(&update).await? {
                let queue = executor.delivery.worker_queue(&queue).await?;
                executor
                    .delivery
                    .send(&message, &queue, route(message.due, now))
                    .await?;
                tracing::warn!(worker = %worker.id, due = %message.due, "overdue; message sent again");
                report.redelivered += 1;
            }
        }
        SweepAction::Forget(update) => {
            if let Applied::Written(_) = executor.store.apply(&update).await? {
                report.forgotten += 1;
            }
        }
    }
    Ok(())
}
