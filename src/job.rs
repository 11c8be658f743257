//! Jobs: the work a worker does. A [`Job`] validates its `params`, runs once per due time, and
//! may override how the next due time is computed (the seed's `doCalculateNextRun`). The
//! [`Registry`] maps an item's `kind` to its job; users extend it from their own binary.
//!
//! Jobs reach AWS only through the seams ([`Services`]: [`Mailer`], [`HttpClient`],
//! [`Invoker`], [`WorkerWriter`], defined in [`crate::seams`] and re-exported here), so the core
//! never depends on an SDK and tests can run jobs without one.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::item::{ItemError, Params, Worker, attr};
use crate::lifecycle::Planner;
pub use crate::lifecycle::{
    JobError, MAX_CHECKPOINT_BYTES, MAX_PROGRESS_BYTES, Report, ReportError, Retry,
};
pub use crate::network::NetworkPolicy;
pub use crate::seams::jobs::{
    Created, DEFAULT_MAX_SPAWN_DEPTH, HttpClient, HttpFailure, HttpRequest, HttpResponse, Invoked,
    Invoker, JobLimits, Mail, Mailer, Reporter, Services, WorkerWriter,
};
use crate::timestamp::Due;

/// One run's view of the world: the worker as claimed, which due time and attempt this is.
pub struct JobContext<'a> {
    /// The worker as it stood when this run claimed it.
    pub worker: &'a Worker,
    /// The due time this run is for.
    pub due: Due,
    /// 1 for the first attempt at this due time, 2 for the first retry, …
    pub attempt: u32,
    /// The outside world.
    pub services: &'a Services,
    /// Where the run's progress and checkpoints go (use [`JobContext::progress`] and
    /// [`JobContext::checkpoint`]).
    pub reporter: &'a dyn Reporter,
}

impl JobContext<'_> {
    /// The occurrence this run belongs to: the scheduled due time, the same for the first
    /// attempt and every retry of it (a retry has a due time of its own, [`due`](Self::due),
    /// later than the first). Use it, with the worker's id, as the idempotency key of a side
    /// effect: "send the 9:00 report once".
    pub fn occurrence(&self) -> Due {
        self.worker.retry_of.unwrap_or(self.due)
    }

    /// Records how far the run has got: a short line (at most 256 bytes; control characters
    /// become spaces) and, if known, a fraction from 0 to 1. Call it as often as you like:
    /// writes are coalesced (at most one every two seconds; the latest is kept for the run's
    /// record). An error (text too long, a fraction out of range, the run superseded) changes
    /// nothing; the job may go on, or stop when told it is superseded.
    pub async fn progress(&self, text: &str, fraction: Option<f64>) -> Result<(), ReportError> {
        let report = Report {
            text: Some(crate::lifecycle::progress_text(text)?),
            fraction: fraction
                .map(crate::lifecycle::progress_fraction)
                .transpose()?,
            checkpoint: None,
        };
        self.reporter.report(report).await
    }

    /// Saves `value` (at most 4 KB of JSON) for a later attempt at this same due time, which
    /// reads it with [`JobContext::resume`]: a retry after a failure, or after the run was lost.
    /// Written as progress is (coalesced; the latest is written with a retry's finish at the
    /// latest); cleared when the due time is done.
    pub async fn checkpoint<T: serde::Serialize>(&self, value: &T) -> Result<(), ReportError> {
        let json =
            serde_json::to_string(value).map_err(|e| ReportError::Unserializable(e.to_string()))?;
        let report = Report {
            checkpoint: Some(crate::lifecycle::checkpoint_text(json)?),
            ..Report::default()
        };
        self.reporter.report(report).await
    }

    /// What an earlier attempt at this due time saved with [`JobContext::checkpoint`], read as
    /// `T`; `None` on the due time's first attempt, or when no attempt saved anything.
    pub fn resume<T: DeserializeOwned>(&self) -> Result<Option<T>, ReportError> {
        let worker = self.worker;
        if worker.checkpoint_due != Some(self.occurrence()) {
            return Ok(None);
        }
        worker
            .checkpoint
            .as_deref()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| ReportError::Unreadable(e.to_string()))
            })
            .transpose()
    }
}

/// A kind of work, as you write it: a type with its `kind` name, typed parameters that serde
/// reads from the item's `params` (errors name the attribute path, `params.to[1]`), an
/// optional check of them, and one run per due time.
///
/// ```
/// use async_trait::async_trait;
/// use nextdue::job::{JobContext, JobError, TypedJob};
///
/// /// `report`: sums up a team's week.
/// struct Report;
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct ReportParams {
///     team: String,
/// }
///
/// #[async_trait]
/// impl TypedJob for Report {
///     const KIND: &'static str = "report";
///     type Params = ReportParams;
///
///     async fn run(&self, params: ReportParams, _ctx: &JobContext<'_>) -> Result<String, JobError> {
///         Ok(format!("reported on {}", params.team))
///     }
/// }
///
/// let registry = nextdue::jobs::builtin().register(Report).unwrap();
/// assert!(registry.get("report").is_some());
/// assert!(registry.register(Report).is_err(), "a kind is registered once");
/// ```
#[async_trait]
pub trait TypedJob: Send + Sync + 'static {
    /// The `kind` that items name to run this job.
    const KIND: &'static str;
    /// The job's parameters, read from the item's `params`.
    type Params: DeserializeOwned + Send + Sync;

    /// Checks the decoded parameters, and anything else about the worker, before it is armed
    /// and again before each run, under the deployment's `limits`. Errors name the attribute.
    fn check(
        &self,
        params: &Self::Params,
        worker: &Worker,
        limits: &JobLimits,
    ) -> Result<(), ItemError> {
        let _ = (params, worker, limits);
        Ok(())
    }

    /// Runs once. The `Ok` text is a short summary for `lastRunMessage`; an error says whether
    /// a later attempt could succeed ([`JobError::retryable`], or [`JobError::retry_after`]
    /// when the other side said when to come back) or not ([`JobError::permanent`]).
    async fn run(&self, params: Self::Params, ctx: &JobContext<'_>) -> Result<String, JobError>;

    /// The next due time after `previous` (`None`: first activation), given that it is `now`;
    /// `None` stops the worker. The default follows the worker's `schedule` (the seed's
    /// `doCalculateNextRun`, for jobs that know better).
    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due> {
        scheduled_next_due(worker, previous, now)
    }
}

/// A job as the registry holds it, whatever its parameters' type: implemented for every
/// [`TypedJob`] (implement that one).
#[async_trait]
pub trait Job: Send + Sync {
    /// Decodes and checks the worker's parameters (see [`TypedJob::check`]).
    fn check_worker(&self, worker: &Worker, limits: &JobLimits) -> Result<(), ItemError>;

    /// Decodes the parameters and runs once (see [`TypedJob::run`]).
    async fn execute(&self, ctx: &JobContext<'_>) -> Result<String, JobError>;

    /// The next due time (see [`TypedJob::next_due`]).
    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due>;
}

#[async_trait]
impl<T: TypedJob> Job for T {
    fn check_worker(&self, worker: &Worker, limits: &JobLimits) -> Result<(), ItemError> {
        let params: T::Params = parse_params(&worker.params)?;
        self.check(&params, worker, limits)
    }

    async fn execute(&self, ctx: &JobContext<'_>) -> Result<String, JobError> {
        // Checked when armed; checked again, since the item may have changed since.
        let permanent = |e: ItemError| JobError::permanent(e.to_string());
        let params: T::Params = parse_params(&ctx.worker.params).map_err(permanent)?;
        self.check(&params, ctx.worker, &ctx.services.limits)
            .map_err(permanent)?;
        self.run(params, ctx).await
    }

    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due> {
        TypedJob::next_due(self, worker, previous, now)
    }
}

/// The next due time by the worker's `schedule` (none: the worker runs once).
pub fn scheduled_next_due(worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due> {
    let schedule = worker.schedule.as_ref()?;
    match previous {
        None => schedule.first_due(now, worker.tz()),
        Some(previous) => schedule.next_due(previous, now, worker.tz()),
    }
}

/// Reads a job's parameters into its typed form; errors name the parameter (`params.to`).
pub fn parse_params<T: DeserializeOwned>(params: &Params) -> Result<T, ItemError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(params.clone())).map_err(|error| {
        let path = error.path().to_string();
        let attribute = if path == "." {
            attr::PARAMS.to_owned()
        } else {
            format!("{}.{path}", attr::PARAMS)
        };
        ItemError::new(attribute, without_value(&error.into_inner().to_string()))
    })
}

/// serde's message without the value it quotes (`invalid type: string "hunter2", expected a
/// number` becomes `invalid type: string, expected a number`): `lastRunMessage` never echoes
/// `params`, which may hold secrets. Field names (`unknown field `subjet``) are kept.
fn without_value(message: &str) -> String {
    let Some(kind) = ["invalid type: ", "invalid value: ", "invalid length "]
        .iter()
        .find(|prefix| message.starts_with(**prefix))
    else {
        return message.to_owned();
    };
    let (found, expected) = message.split_once(", expected").unwrap_or((message, ""));
    let found = match found[kind.len()..].find(['"', '`']) {
        Some(at) => found[..kind.len() + at].trim_end(),
        None => found,
    };
    if expected.is_empty() {
        found.to_owned()
    } else {
        format!("{found}, expected{expected}")
    }
}

/// A kind registered twice.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the job kind {0:?} is registered already")]
pub struct DuplicateKind(pub &'static str);

/// The jobs this deployment knows, by `kind`, and the rules they are checked under.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: BTreeMap<String, Arc<dyn Job>>,
    limits: JobLimits,
}

impl Registry {
    /// A registry with no jobs.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// The registry, checking workers under these deployment rules.
    pub fn with_limits(mut self, limits: JobLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The registry with `job` added under its kind; a kind is registered once.
    pub fn register<T: TypedJob>(mut self, job: T) -> Result<Self, DuplicateKind> {
        if self.jobs.contains_key(T::KIND) {
            return Err(DuplicateKind(T::KIND));
        }
        self.jobs.insert(T::KIND.to_owned(), Arc::new(job));
        Ok(self)
    }

    /// The job for `kind`.
    pub fn get(&self, kind: &str) -> Option<&dyn Job> {
        self.jobs.get(kind).map(|job| job.as_ref())
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.jobs.keys().map(String::as_str)
    }

    fn job_for(&self, worker: &Worker) -> Result<&dyn Job, ItemError> {
        self.get(&worker.kind).ok_or_else(|| {
            let known = self.kinds().collect::<Vec<_>>().join(", ");
            ItemError::new(
                attr::KIND,
                format!(
                    "unknown kind {:?} (this deployment knows: {known})",
                    worker.kind
                ),
            )
        })
    }
}

impl Planner for Registry {
    fn check(&self, worker: &Worker) -> Result<(), ItemError> {
        self.job_for(worker)?.check_worker(worker, &self.limits)
    }

    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due> {
        match self.job_for(worker) {
            Ok(job) => job.next_due(worker, previous, now),
            Err(_) => scheduled_next_due(worker, previous, now),
        }
    }
}
