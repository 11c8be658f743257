//! The executor's [`Reporter`]: one per run, writing the run's progress and checkpoint on its
//! item under the run's claim, at most once every [`PROGRESS_EVERY_MILLIS`]; what it coalesces
//! reaches the run's record and (a checkpoint, for a retry) its finish.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::lifecycle::{Claimed, PROGRESS_EVERY_MILLIS, Report, ReportError, report_update};
use crate::seams::{Applied, Clock, Reporter, WorkerStore};

/// The reports of one claimed run.
pub struct RunReporter<'a> {
    claimed: &'a Claimed,
    store: &'a dyn WorkerStore,
    clock: &'a dyn Clock,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    latest: Report,
    last_write: Option<DateTime<Utc>>,
    superseded: bool,
}

impl<'a> RunReporter<'a> {
    /// The reporter of `claimed`, writing through `store` at the times `clock` reads.
    pub fn new(claimed: &'a Claimed, store: &'a dyn WorkerStore, clock: &'a dyn Clock) -> Self {
        RunReporter {
            claimed,
            store,
            clock,
            state: Mutex::default(),
        }
    }

    /// The run's latest report, written or not: for its record and its finish.
    pub fn latest(&self) -> Report {
        self.lock().latest.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Reporter for RunReporter<'_> {
    async fn report(&self, report: Report) -> Result<(), ReportError> {
        let now = self.clock.now();
        let update = {
            let mut state = self.lock();
            if state.superseded {
                return Err(ReportError::Superseded);
            }
            let latest = &mut state.latest;
            latest.text = report.text.or(latest.text.take());
            latest.fraction = report.fraction.or(latest.fraction);
            latest.checkpoint = report.checkpoint.or(latest.checkpoint.take());
            let every = TimeDelta::milliseconds(PROGRESS_EVERY_MILLIS);
            if state.last_write.is_some_and(|at| now - at < every) {
                return Ok(());
            }
            // Counted from now, before the write: reports made while it is on its way coalesce.
            state.last_write = Some(now);
            report_update(self.claimed, &state.latest, now)
        };
        match self.store.apply(&update).await {
            Ok(Applied::Written(_)) => Ok(()),
            Ok(Applied::Refused(_)) => {
                self.lock().superseded = true;
                Err(ReportError::Superseded)
            }
            // Counted as a write for the pacing (a throttled table is asked once per interval,
            // not once per report); the latest report is kept for the next write and the finish.
            Err(error) => Err(ReportError::Store(error.to_string())),
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::item::{AttributeValue, Item, Status, Worker, attr};
    use crate::testing::MemoryStore;

    #[derive(Debug)]
    struct Fixed(Mutex<DateTime<Utc>>);

    impl Clock for Fixed {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    impl Fixed {
        fn pass(&self, millis: i64) {
            *self.0.lock().unwrap() += TimeDelta::milliseconds(millis);
        }
    }

    fn text(item: &Item, name: &str) -> Option<String> {
        match item.get(name) {
            Some(AttributeValue::S(text)) => Some(text.clone()),
            _ => None,
        }
    }

    fn said(text: &str) -> Report {
        Report {
            text: Some(text.into()),
            ..Report::default()
        }
    }

    #[tokio::test]
    async fn a_failing_store_is_not_asked_again_before_the_next_interval() {
        let store = MemoryStore::new();
        let clock = Fixed(Mutex::new(
            Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap(),
        ));
        let mut worker = Worker::new("w1", "log");
        worker.status = Some(Status::Running);
        worker.task_id = Some("t1".into());
        worker.run_token = Some("r1".into());
        worker.next_due = Some("2027-01-04T09:00:00Z".parse().unwrap());
        worker.last_run_start_time = Some(clock.now());
        let claimed = Claimed::from_worker(worker).unwrap();
        // A store whose every update fails, as a throttled table's does.
        struct Failing(MemoryStore, std::sync::atomic::AtomicUsize);
        #[async_trait]
        impl WorkerStore for Failing {
            async fn apply(
                &self,
                _: &crate::lifecycle::Update,
            ) -> Result<Applied, crate::seams::StoreError> {
                self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Err(crate::seams::StoreError::Call {
                    operation: "UpdateItem",
                    table: "workers".into(),
                    message: "ProvisionedThroughputExceededException: slow down".into(),
                })
            }
            async fn put_run(
                &self,
                r: &crate::item::RunRecord,
            ) -> Result<(), crate::seams::StoreError> {
                self.0.put_run(r).await
            }
            async fn put_run_if_absent(
                &self,
                r: &crate::item::RunRecord,
            ) -> Result<crate::seams::RunWrite, crate::seams::StoreError> {
                self.0.put_run_if_absent(r).await
            }
            async fn get_worker(&self, id: &str) -> Result<Option<Item>, crate::seams::StoreError> {
                self.0.get_worker(id).await
            }
            async fn overdue(
                &self,
                shard: u32,
                now: crate::timestamp::Due,
                limit: i32,
                start: Option<Item>,
            ) -> Result<crate::seams::Page, crate::seams::StoreError> {
                self.0.overdue(shard, now, limit, start).await
            }
        }
        let failing = Failing(store, std::sync::atomic::AtomicUsize::new(0));
        let reporter = RunReporter::new(&claimed, &failing, &clock);
        assert!(matches!(
            reporter.report(said("1")).await,
            Err(ReportError::Store(_))
        ));
        for row in 2..1_000 {
            reporter.report(said(&row.to_string())).await.ok();
        }
        let calls = failing.1.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            calls, 1,
            "a throttled store is asked once per interval, not per report"
        );
        clock.pass(PROGRESS_EVERY_MILLIS);
        reporter.report(said("later")).await.ok();
        assert_eq!(failing.1.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(reporter.latest().text.as_deref(), Some("later"));
    }

    #[tokio::test]
    async fn reports_and_checkpoints_are_refused_unchanged_once_the_run_is_superseded() {
        let store = MemoryStore::new();
        let clock = Fixed(Mutex::new(
            Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap(),
        ));
        let mut worker = Worker::new("w1", "log");
        worker.enabled = true;
        worker.status = Some(Status::Running);
        worker.task_id = Some("t1".into());
        worker.run_token = Some("r1".into());
        worker.next_due = Some("2027-01-04T09:00:00Z".parse().unwrap());
        worker.last_run_start_time = Some(clock.now());
        store.put_worker(worker.to_item()).unwrap();
        let claimed = Claimed::from_worker(worker.clone()).unwrap();
        let reporter = RunReporter::new(&claimed, &store, &clock);

        reporter.report(said("1 of 3")).await.unwrap();
        clock.pass(500);
        reporter.report(said("2 of 3")).await.unwrap();
        let stored = store.worker("w1").unwrap();
        assert_eq!(text(&stored, attr::PROGRESS).as_deref(), Some("1 of 3"));
        assert_eq!(store.reports_of("w1").len(), 1, "the second report waits");
        assert_eq!(reporter.latest().text.as_deref(), Some("2 of 3"));

        // The sweeper gave the run up and another claimed it: this one's writes are refused.
        let mut taken = worker.to_item();
        taken.insert(attr::RUN_TOKEN.into(), AttributeValue::S("r2".into()));
        store.put_worker(taken.clone()).unwrap();
        clock.pass(2_000);
        let with_checkpoint = Report {
            checkpoint: Some(r#"{"rows":3}"#.into()),
            ..said("3 of 3")
        };
        assert_eq!(
            reporter.report(with_checkpoint).await,
            Err(ReportError::Superseded)
        );
        assert_eq!(
            store.worker("w1"),
            Some(taken),
            "a refused write changes nothing"
        );
        let writes = store.reports_of("w1");
        assert_eq!(writes.len(), 2);
        assert!(!writes[1].written);
        assert_eq!(
            writes[1].update.value(attr::CHECKPOINT),
            Some(&AttributeValue::S(r#"{"rows":3}"#.into())),
            "the refused write carried the checkpoint"
        );
        // Once told, it stays superseded without asking the store again.
        assert_eq!(
            reporter.report(said("again")).await,
            Err(ReportError::Superseded)
        );
        assert_eq!(store.reports_of("w1").len(), 2);
    }
}
