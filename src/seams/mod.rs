//! The seams: every way the handlers and jobs reach the world, as traits and their data, free of
//! every SDK crate. [`crate::adapters`] implements them on AWS; the test kit (`nextdue::testing`)
//! implements them in memory; [`crate::wiring`] chooses.

pub mod alert;
pub mod clock;
pub mod control;
pub mod deliver;
pub mod jobs;
pub mod publish;
pub mod store;

use std::sync::Arc;

pub use alert::{AlertError, Notifier};
pub use clock::Clock;
pub use control::{ControlStore, Counter, next_version};
pub use deliver::{Deliver, DeliveryError, QueueRef, Sent, schedule_name};
pub use jobs::{
    Created, HttpClient, HttpFailure, HttpRequest, HttpResponse, Invoked, Invoker, JobLimits, Mail,
    Mailer, Reporter, Services, WorkerWriter,
};
pub use publish::{MAX_EVENTS_PER_CALL, Publish, PublishError};
pub use store::{Applied, Page, RunWrite, StoreError, WorkerStore};

pub use crate::lifecycle::JobError;

/// What the handlers reach the world through: AWS in a deployment, memory in the test kit.
#[derive(Clone)]
pub struct Seams {
    /// The workers and runs tables.
    pub store: Arc<dyn WorkerStore>,
    /// The control table.
    pub control: Arc<dyn ControlStore>,
    /// The queues and one-time schedules.
    pub delivery: Arc<dyn Deliver>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where events go.
    pub events: Arc<dyn Publish>,
    /// What jobs may use (mail, HTTP, Lambda, new workers) and the rules they run under.
    pub services: Services,
}
