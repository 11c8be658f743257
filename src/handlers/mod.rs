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
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::job::{Registry, Services};
use crate::mail::SesMailer;
use crate::store::Store;

/// The handlers and clients of one deployment (real or local).
pub struct Stack {
    /// The AWS clients.
    pub clients: Clients,
    /// The settings.
    pub settings: Settings,
    /// The stream handler's dependencies.
    pub dispatcher: Dispatcher,
    /// The queue handler's dependencies.
    pub executor: Executor,
    /// The sweeper's dependencies.
    pub sweeper: Sweeper,
}

impl Stack {
    /// The stack of a Lambda function: clients and settings from the environment, and the jobs
    /// of `registry`.
    pub async fn from_env(registry: Registry) -> Result<Self, crate::config::ConfigError> {
        Ok(Stack::new(
            Clients::from_env().await,
            Settings::from_env()?,
            registry,
        ))
    }

    /// Wires the handlers to `clients`.
    pub fn new(clients: Clients, settings: Settings, registry: Registry) -> Self {
        // Workers are checked under the deployment's rules when armed, not only when run.
        let registry = registry.with_limits(settings.limits.clone());
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
        let services = Services {
            mailer: Arc::new(SesMailer::new(
                clients.ses.clone(),
                settings.limits.allowed_senders.clone(),
            )),
            workers: Arc::new(store.clone()),
            limits: settings.limits.clone(),
        };
        Stack {
            dispatcher: Dispatcher {
                store: store.clone(),
                delivery: delivery.clone(),
                registry: registry.clone(),
                policy: settings.policy.clone(),
            },
            sweeper: Sweeper {
                store: store.clone(),
                delivery: delivery.clone(),
                registry: registry.clone(),
                policy: settings.policy.clone(),
                emit_metrics: settings.emit_metrics,
            },
            executor: Executor {
                store,
                delivery,
                registry,
                services,
                settings: settings.clone(),
            },
            clients,
            settings,
        }
    }
}
