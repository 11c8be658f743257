//! The Lambda handlers, as plain async functions over typed events: the binaries in `src/bin`,
//! the local glue (`nextdue dev`) and the test kit call the very same functions. They reach the
//! world only through the seams ([`crate::seams`]); [`crate::wiring`] builds them.

pub mod alerter;
pub mod controls;
pub mod dispatcher;
pub mod executor;
pub mod metrics;
pub mod progress;
pub mod sweeper;

use std::sync::Arc;

pub use executor::Executor;

use self::controls::ControlCache;

use crate::config::{Names, Settings};
use crate::events::EventSet;
use crate::job::Registry;
use crate::lifecycle::Policy;
use crate::seams::{Clock, ControlStore, Deliver, Publish, Seams, WorkerStore};

/// What every handler works with: the tables, the queues, the jobs (checked under the
/// deployment's limits), the policy and the time.
pub struct Deps {
    /// The workers and runs tables.
    pub store: Arc<dyn WorkerStore>,
    /// The control table.
    pub control: Arc<dyn ControlStore>,
    /// The operators' controls, as last read from it.
    pub controls: ControlCache,
    /// SQS and Scheduler.
    pub delivery: Arc<dyn Deliver>,
    /// The jobs this deployment knows.
    pub registry: Registry,
    /// Retry, retention and sweep settings, and the worker queues.
    pub policy: Policy,
    /// Whether the handler prints its Embedded Metric Format lines (in Lambda).
    pub emit_metrics: bool,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the events about workers go.
    pub events: Arc<dyn Publish>,
    /// Which events are published for workers whose `notify` does not say.
    pub published: EventSet,
    /// The names of the deployment's tables, queues and bus.
    pub names: Names,
}

/// The stream handler's dependencies: the tables and the queues, nothing a job uses.
pub type Dispatcher = Deps;
/// The sweeper's dependencies: the tables and the queues, nothing a job uses.
pub type Sweeper = Deps;

impl Deps {
    /// A handler of a deployment with these `settings` and the jobs of `registry`, reaching
    /// the tables, queues and event bus through `store`, `control`, `delivery` and `events`.
    pub fn new(
        store: Arc<dyn WorkerStore>,
        control: Arc<dyn ControlStore>,
        delivery: Arc<dyn Deliver>,
        events: Arc<dyn Publish>,
        clock: Arc<dyn Clock>,
        settings: &Settings,
        registry: Registry,
    ) -> Self {
        Deps {
            store,
            controls: ControlCache::new(control.clone()),
            control,
            delivery,
            // Workers are checked under the deployment's rules when armed, not only when run.
            registry: registry.with_limits(settings.limits.clone()),
            policy: settings.policy.clone(),
            emit_metrics: settings.emit_metrics,
            clock,
            events,
            published: settings.events.clone(),
            names: settings.names.clone(),
        }
    }
}

impl Deps {
    /// A handler on the tables, queues, bus and clock of `seams`.
    fn of(seams: &Seams, settings: &Settings, registry: Registry) -> Self {
        Deps::new(
            seams.store.clone(),
            seams.control.clone(),
            seams.delivery.clone(),
            seams.events.clone(),
            seams.clock.clone(),
            settings,
            registry,
        )
    }
}

impl Executor {
    /// The executor of a deployment with these `settings` and the jobs of `registry`,
    /// reaching the world through `seams`.
    pub fn new(seams: Seams, settings: &Settings, registry: Registry) -> Self {
        Executor {
            deps: Deps::of(&seams, settings, registry),
            services: seams.services,
            safety_margin: settings.safety_margin,
        }
    }
}

/// The three handlers, wired to the same seams.
pub struct Handlers {
    /// The stream handler's dependencies.
    pub dispatcher: Dispatcher,
    /// The queue handler's dependencies.
    pub executor: Executor,
    /// The sweeper's dependencies.
    pub sweeper: Sweeper,
}

impl Handlers {
    /// The handlers of a deployment with these `settings` and the jobs of `registry`, reaching
    /// the world through `seams`.
    pub fn new(seams: Seams, settings: &Settings, registry: Registry) -> Self {
        let deps = || Deps::of(&seams, settings, registry.clone());
        Handlers {
            dispatcher: deps(),
            sweeper: deps(),
            executor: Executor::new(seams.clone(), settings, registry.clone()),
        }
    }
}
