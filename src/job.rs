//! Jobs: the work a worker does. A [`Job`] validates its `params`, runs once per due time, and
//! may override how the next due time is computed (the seed's `doCalculateNextRun`). The
//! [`Registry`] maps an item's `kind` to its job; users extend it from their own binary.
//!
//! Jobs reach AWS only through the seams defined here ([`Mailer`], [`WorkerWriter`]), so the
//! core never depends on an SDK and tests can run jobs without one.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::item::{Item, ItemError, Params, Worker, attr};
use crate::jobs::email::Mail;
use crate::lifecycle::Planner;
use crate::timestamp::Due;

/// Why a run failed, and whether trying again could help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// A short, human account; it ends up in `lastRunMessage`, so it never holds secrets.
    pub message: String,
    /// False when the same run would fail again (bad parameters, a rejected message).
    pub retryable: bool,
}

impl JobError {
    /// A failure that a later attempt may not repeat (a timeout, throttling, a network error).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that would happen again: no retry.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Sends mail (SES v2 in production).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; returns the provider's message id.
    async fn send(&self, mail: &Mail) -> Result<String, JobError>;
}

/// What became of writing a new worker.
#[derive(Clone, Debug, PartialEq)]
pub enum Created {
    /// It was written.
    Written,
    /// An item with its id exists already; this is it.
    Exists(Item),
}

/// Writes new workers (the workers table in production).
#[async_trait]
pub trait WorkerWriter: Send + Sync {
    /// Writes the worker `item` unless an item with its id exists (then returns that one).
    async fn create(&self, item: &Item) -> Result<Created, JobError>;
}

/// The deployment's rules for jobs, checked when a worker is armed and again when it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLimits {
    /// How many `spawn` generations may stand below a worker written by a user.
    pub max_spawn_depth: u32,
    /// Addresses and domains the `email` job may send from (lower case; empty: any identity
    /// SES has verified).
    pub allowed_senders: Vec<String>,
}

/// The default spawn depth limit.
pub const DEFAULT_MAX_SPAWN_DEPTH: u32 = 5;

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            max_spawn_depth: DEFAULT_MAX_SPAWN_DEPTH,
            allowed_senders: Vec::new(),
        }
    }
}

/// What a job may use: the outside world, behind its seams, and the limits.
#[derive(Clone)]
pub struct Services {
    /// Sends mail.
    pub mailer: Arc<dyn Mailer>,
    /// Writes new workers.
    pub workers: Arc<dyn WorkerWriter>,
    /// Limits for every job.
    pub limits: JobLimits,
}

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
}

/// A kind of work.
#[async_trait]
pub trait Job: Send + Sync {
    /// Checks `params` before the worker is armed; errors name the attribute (`params.to`).
    fn validate(&self, params: &Params) -> Result<(), ItemError>;

    /// Checks the whole worker before it is armed, under the deployment's `limits`: by default
    /// its `params`. A job whose rules involve other attributes or the deployment (`spawn`
    /// derives its children's ids from the worker's; `email` may send only from allowed
    /// senders) widens it.
    fn check_worker(&self, worker: &Worker, limits: &JobLimits) -> Result<(), ItemError> {
        let _ = limits;
        self.validate(&worker.params)
    }

    /// Runs once. The `Ok` text is a short summary for `lastRunMessage`.
    async fn execute(&self, ctx: &JobContext<'_>) -> Result<String, JobError>;

    /// The next due time after `previous` (`None`: first activation), given that it is `now`;
    /// `None` stops the worker. The default follows the worker's `schedule`.
    fn next_due(&self, worker: &Worker, previous: Option<Due>, now: Due) -> Option<Due> {
        scheduled_next_due(worker, previous, now)
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

    /// The built-in jobs: `email`, `spawn` and `log`.
    pub fn builtin() -> Self {
        Registry::empty()
            .with("email", crate::jobs::email::EmailJob)
            .with("spawn", crate::jobs::spawn::SpawnJob)
            .with("log", crate::jobs::log::LogJob)
    }

    /// Adds (or replaces) the job for `kind`.
    ///
    /// ```
    /// use nextdue::job::Registry;
    /// let registry = Registry::builtin().with("also-log", nextdue::jobs::log::LogJob);
    /// assert!(registry.get("also-log").is_some());
    /// ```
    pub fn with(mut self, kind: impl Into<String>, job: impl Job + 'static) -> Self {
        self.jobs.insert(kind.into(), Arc::new(job));
        self
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
