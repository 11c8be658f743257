//! The operators' controls as the handlers use them: the executor's cached reading of them,
//! reserving a start under a rate limit, and pausing, resuming and limiting (the operator
//! commands and the test kit call the same functions).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::controls::{Controls, Limit, Mode, Pause, REFRESH, Scope, rate_key};
use crate::item::Image;
use crate::lifecycle::{DEFAULT_SWEEP_SHARDS, Policy, release_held};
use crate::seams::{Applied, ControlStore, StoreError, WorkerStore};
use crate::timestamp::Due;

/// The controls as last read, kept for [`REFRESH`] so an executor reads them at most once
/// every few seconds, however many messages it takes.
pub struct ControlCache {
    control: Arc<dyn ControlStore>,
    last: Mutex<Option<(Controls, DateTime<Utc>)>>,
}

impl ControlCache {
    /// A cache over the control table `control`, empty.
    pub fn new(control: Arc<dyn ControlStore>) -> Self {
        ControlCache {
            control,
            last: Mutex::new(None),
        }
    }

    /// The controls at `now`: as read less than [`REFRESH`] ago, or read afresh. When the read
    /// fails, the last reading stands in (a pause goes on holding) for another [`REFRESH`];
    /// with none, the error (or, for a malformed record, no controls).
    pub async fn get(&self, now: DateTime<Utc>) -> Result<Controls, StoreError> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((controls, read)) = &last
            && now - *read < REFRESH
            && now >= *read
        {
            return Ok(controls.clone());
        }
        let reading = match self.control.controls().await {
            Ok((controls, _)) => controls,
            Err(error) => match last {
                Some((controls, _)) => {
                    tracing::warn!(error = ?error.to_string(), "could not read the controls; using the last reading");
                    controls
                }
                // A record edited into nonsense must not stop every run (each message would
                // fail until it dead-lettered): without a good reading, no controls, said
                // loudly at every refresh. A failed call is different: the message waits.
                None if matches!(error, StoreError::Malformed { .. }) => {
                    tracing::error!(error = ?error.to_string(), "the controls record is malformed; running without pauses or limits until it is fixed");
                    Controls::default()
                }
                None => return Err(error),
            },
        };
        // Kept for REFRESH whatever its source, so a failing read is tried (and logged) once
        // every few seconds, not once a message.
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((reading.clone(), now));
        Ok(reading)
    }
}

/// Writes one change to the controls at `now`, read afresh and written on the version read,
/// again if another write came first (pauses ended more than
/// [`crate::controls::ENDED_KEPT`] ago are forgotten on the way). Returns what `change`
/// returned.
async fn change_controls<T>(
    control: &dyn ControlStore,
    now: DateTime<Utc>,
    mut change: impl FnMut(&mut Controls) -> T,
) -> Result<T, StoreError> {
    loop {
        let (mut controls, version) = control.controls().await?;
        let said = change(&mut controls);
        controls.prune(now);
        if control.set_controls(&controls, version).await? {
            return Ok(said);
        }
    }
}

/// Pauses `scope` from `now` in `mode`, for `length` (none: until resumed), on behalf of
/// `by`; replaces any pause of the same scope. Returns the pause written.
pub async fn pause(
    control: &dyn ControlStore,
    scope: &Scope,
    mode: Mode,
    length: Option<TimeDelta>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Pause, StoreError> {
    let pause = Pause {
        mode,
        since: now,
        until: length.map(|length| now + length),
        by: by.to_owned(),
    };
    change_controls(control, now, |controls| {
        controls.pauses.insert(scope.key(), pause.clone());
    })
    .await?;
    Ok(pause)
}

/// Ends `scope`'s pause at `now` (kept on record as ended); returns it as it was, or `None`
/// when the scope was not paused. Its held workers may be released with [`release`]
/// [`REFRESH`] later, once every executor has read the end.
pub async fn lift(
    control: &dyn ControlStore,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Option<Pause>, StoreError> {
    change_controls(control, now, |controls| controls.lift(&scope.key(), now)).await
}

/// What [`release`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Held workers released, each now delivered for its catch-up run.
    pub released: usize,
    /// Index entries read to find them.
    pub looked_at: usize,
}

/// Releases the workers `scope`'s pause held, found through the sweeper's index (a held
/// worker's look is never more than [`crate::controls::HOLD_LOOK`] ahead, so this reads the
/// entries due within that long, whatever the table's size). Call it [`REFRESH`] after
/// [`lift`]; a worker it misses (held a moment after) is released by the sweeper's next look.
pub async fn release(
    store: &dyn WorkerStore,
    policy: &Policy,
    scope: &Scope,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(usize),
) -> Result<Released, StoreError> {
    let mut done = Released::default();
    // A worker is held with its next look at most HOLD_LOOK on, and moved no further.
    let horizon = now + crate::controls::HOLD_LOOK + TimeDelta::minutes(1);
    for shard in 0..policy.sweep_shards.max(DEFAULT_SWEEP_SHARDS) {
        let mut start = None;
        loop {
            let (items, next) = store.overdue(shard, Due::ceil(horizon), 100, start).await?;
            for item in &items {
                done.looked_at += 1;
                let Ok(worker) = Image::decode(item).worker else {
                    continue;
                };
                if let Some(update) = release_held(&worker, scope, now, policy)
                    && let Applied::Written(_) = store.apply(&update).await?
                {
                    done.released += 1;
                    progress(done.released);
                }
            }
            match next {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    Ok(done)
}

/// Sets (or, with `None`, removes) `scope`'s rate limit at `now`. Returns the limit it had.
pub async fn set_limit(
    control: &dyn ControlStore,
    scope: &Scope,
    limit: Option<Limit>,
    now: DateTime<Utc>,
) -> Result<Option<Limit>, StoreError> {
    change_controls(control, now, |controls| match limit {
        Some(limit) => controls.limits.insert(scope.key(), limit),
        None => controls.limits.remove(&scope.key()),
    })
    .await
}

/// Reserves the next free start under `scope`'s `limit` at `now`, in the control table's
/// counter of that scope (taken atomically, so the limit holds across every executor).
/// Returns the start reserved.
pub async fn reserve_start(
    control: &dyn ControlStore,
    scope: &Scope,
    limit: &Limit,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    match control.take_start(&rate_key(scope), limit, now).await {
        // As with the controls record: nonsense written by hand stops no run.
        Err(error @ StoreError::Malformed { .. }) => {
            tracing::error!(error = ?error.to_string(), "a rate limit's counter is malformed; starting without the limit until it is fixed");
            Ok(now)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::seams::Counter;

    /// A control table whose controls record is always malformed, counting the reads.
    #[derive(Default)]
    struct Malformed(AtomicUsize);

    #[async_trait]
    impl ControlStore for Malformed {
        async fn counter(&self, _: &str) -> Result<Option<Counter>, StoreError> {
            Ok(None)
        }
        async fn set_counter(
            &self,
            _: &str,
            _: Option<Counter>,
            _: u64,
        ) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn take_start(
            &self,
            _: &str,
            _: &Limit,
            now: DateTime<Utc>,
        ) -> Result<DateTime<Utc>, StoreError> {
            Ok(now)
        }
        async fn controls(&self) -> Result<(Controls, u64), StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Malformed {
                table: "control".into(),
                key: "controls".into(),
                message: "pauses: expected a map".into(),
            })
        }
        async fn set_controls(&self, _: &Controls, _: u64) -> Result<bool, StoreError> {
            Ok(false)
        }
    }

    #[tokio::test]
    async fn a_malformed_record_means_no_controls_read_again_once_a_refresh_not_once_a_message() {
        let table = Arc::new(Malformed::default());
        let cache = ControlCache::new(table.clone());
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for seconds in [0, 1, 4] {
            let controls = cache.get(t0 + TimeDelta::seconds(seconds)).await.unwrap();
            assert_eq!(controls, Controls::default());
        }
        assert_eq!(table.0.load(Ordering::SeqCst), 1, "one read within REFRESH");
        cache.get(t0 + REFRESH).await.unwrap();
        assert_eq!(table.0.load(Ordering::SeqCst), 2);
    }
}
