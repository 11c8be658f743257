//! The Lambda handlers, as plain async functions over typed events: the binaries in `src/bin`
//! and the local glue (`nextdue dev`) call the very same functions.

pub mod dispatcher;
pub mod executor;
pub mod sweeper;

use std::sync::Arc;

pub use dispatcher::Dispatcher;
pub use executor::Executor;
pub use sweeper::Sweeper;

use crate::clients::Clients;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::delivery::{Deliver, Delivery};
use crate::functions::LambdaInvoker;
use crate::http::ReqwestClient;
use crate::job::{HttpClient, Invoker, Mailer, Registry, Services, WorkerWriter};
use crate::mail::SesMailer;
use crate::store::{Store, WorkerStore};

/// What the handlers reach the world through: AWS in a deployment, memory in the test kit.
#[derive(Clone)]
pub struct Seams {
    /// The workers and runs tables.
    pub store: Arc<dyn WorkerStore>,
    /// The queues and one-time schedules.
    pub delivery: Arc<dyn Deliver>,
    /// The mail jobs send.
    pub mailer: Arc<dyn Mailer>,
    /// Where jobs write new workers.
    pub workers: Arc<dyn WorkerWriter>,
    /// The HTTP requests jobs send.
    pub http: Arc<dyn HttpClient>,
    /// The Lambda functions jobs invoke.
    pub functions: Arc<dyn Invoker>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// The three handlers' dependencies, wired to the same seams.
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
        let Seams {
            store,
            delivery,
            clock,
            ..
        } = seams.clone();
        Handlers {
            dispatcher: Dispatcher::new(
                store.clone(),
                delivery.clone(),
                clock.clone(),
                settings,
                registry.clone(),
            ),
            sweeper: Sweeper::new(store, delivery, clock, settings, registry.clone()),
            executor: Executor::new(seams, settings, registry),
        }
    }
}

impl Dispatcher {
    /// The dispatcher of a deployment with these `settings` and the jobs of `registry`: it
    /// reaches only the tables and the queues.
    pub fn new(
        store: Arc<dyn WorkerStore>,
        delivery: Arc<dyn Deliver>,
        clock: Arc<dyn Clock>,
        settings: &Settings,
        registry: Registry,
    ) -> Self {
        Dispatcher {
            store,
            delivery,
            // Workers are checked under the deployment's rules when armed, not only when run.
            registry: registry.with_limits(settings.limits.clone()),
            policy: settings.policy.clone(),
            clock,
        }
    }
}

impl Sweeper {
    /// The sweeper of a deployment with these `settings` and the jobs of `registry`: it
    /// reaches only the tables and the queues.
    pub fn new(
        store: Arc<dyn WorkerStore>,
        delivery: Arc<dyn Deliver>,
        clock: Arc<dyn Clock>,
        settings: &Settings,
        registry: Registry,
    ) -> Self {
        Sweeper {
            store,
            delivery,
            registry: registry.with_limits(settings.limits.clone()),
            policy: settings.policy.clone(),
            emit_metrics: settings.emit_metrics,
            clock,
        }
    }
}

impl Executor {
    /// The executor of a deployment with these `settings` and the jobs of `registry`,
    /// reaching the world through `seams`.
    pub fn new(seams: Seams, settings: &Settings, registry: Registry) -> Self {
        Executor {
            store: seams.store,
            delivery: seams.delivery,
            registry: registry.with_limits(settings.limits.clone()),
            services: Services {
                mailer: seams.mailer,
                workers: seams.workers,
                http: seams.http,
                functions: seams.functions,
                limits: settings.limits.clone(),
            },
            settings: settings.clone(),
            clock: seams.clock,
        }
    }
}

/// The handlers and clients of one deployment (real or local).
pub struct Stack {
    /// The AWS clients.
    pub clients: Clients,
    /// The settings.
    pub settings: Settings,
    /// The workers and runs tables.
    pub store: Store,
    /// SQS and Scheduler.
    pub delivery: Arc<Delivery>,
    /// The stream handler's dependencies.
    pub dispatcher: Dispatcher,
    /// The queue handler's dependencies.
    pub executor: Executor,
    /// The sweeper's dependencies.
    pub sweeper: Sweeper,
}

impl Stack {
    /// Wires the handlers to `clients`.
    pub fn new(clients: Clients, settings: Settings, registry: Registry) -> Self {
        let names = &settings.names;
        let store = Store::new(
            clients.dynamodb.clone(),
            &names.workers_table,
            &names.runs_table,
        );
        let delivery = Arc::new(Delivery::new(
            clients.sqs.clone(),
            clients.scheduler.clone(),
            names.clone(),
        ));
        let seams = Seams {
            store: Arc::new(store.clone()),
            delivery: delivery.clone(),
            mailer: Arc::new(SesMailer::new(
                clients.ses.clone(),
                settings.limits.allowed_senders.clone(),
            )),
            workers: Arc::new(store.clone()),
            http: Arc::new(ReqwestClient::new(settings.limits.http_allow)),
            functions: Arc::new(LambdaInvoker::new(clients.lambda.clone())),
            clock: Arc::new(SystemClock),
        };
        let Handlers {
            dispatcher,
            executor,
            sweeper,
        } = Handlers::new(seams, &settings, registry);
        Stack {
            clients,
            settings,
            store,
            delivery,
            dispatcher,
            executor,
            sweeper,
        }
    }
}
