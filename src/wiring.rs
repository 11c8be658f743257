//! The composition root: the one place that builds the handlers' graph from settings, on AWS's
//! adapters. The Lambda entry points ([`crate::serve`]), `nextdue dev`, the operator's commands
//! and the integration tests start here; the test kit builds the same [`Handlers`] on seams in
//! memory.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::adapters::clients::Clients;
use crate::adapters::clock::SystemClock;
use crate::adapters::control::ControlTable;
use crate::adapters::dynamodb::Store;
use crate::adapters::eventbridge::EventBus;
use crate::adapters::http::ReqwestClient;
use crate::adapters::lambda::LambdaInvoker;
use crate::adapters::ses::SesMailer;
use crate::adapters::sns::SnsTopic;
use crate::adapters::sqs::Delivery;
use crate::config::{Names, Settings};
use crate::handlers::alerter::Alerter;
use crate::handlers::{Deps, Dispatcher, Executor, Handlers, Sweeper};
use crate::job::Registry;
use crate::seams::{Seams, Services};

/// The workers and runs tables of `names`, on this client.
pub fn store(client: aws_sdk_dynamodb::Client, names: &Names) -> Store {
    Store::new(client, &names.workers_table, &names.runs_table)
}

/// The tables, queues and event bus only, on clients made from `config`: all the dispatcher and
/// the sweeper reach, so their binaries link the DynamoDB, SQS, Scheduler and EventBridge
/// clients only (mail, HTTP and Lambda are the executor's).
fn tables_and_queues(config: &SdkConfig, settings: &Settings, registry: Registry) -> Deps {
    let names = &settings.names;
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let control = ControlTable::new(dynamodb.clone(), &names.control_table);
    let store = store(dynamodb, names);
    let delivery = Delivery::new(
        aws_sdk_sqs::Client::new(config),
        aws_sdk_scheduler::Client::new(config),
        names.clone(),
    );
    Deps::new(
        Arc::new(store),
        Arc::new(control),
        Arc::new(delivery),
        Arc::new(EventBus::new(
            aws_sdk_eventbridge::Client::new(config),
            &names.event_bus,
        )),
        Arc::new(SystemClock),
        settings,
        registry,
    )
}

/// The dispatcher of a deployment, on AWS.
pub fn dispatcher(config: &SdkConfig, settings: &Settings, registry: Registry) -> Dispatcher {
    tables_and_queues(config, settings, registry)
}

/// The sweeper of a deployment, on AWS.
pub fn sweeper(config: &SdkConfig, settings: &Settings, registry: Registry) -> Sweeper {
    tables_and_queues(config, settings, registry)
}

/// The alerter of a deployment, on AWS: digests to `NEXTDUE_ALERT_TOPIC_ARN`.
pub fn alerter(config: &SdkConfig, settings: &Settings) -> anyhow::Result<Alerter> {
    let Some(topic) = &settings.alert_topic_arn else {
        anyhow::bail!(
            "NEXTDUE_ALERT_TOPIC_ARN is not set: the alerter has no topic to send digests to"
        );
    };
    Ok(Alerter {
        notifier: Arc::new(SnsTopic::new(aws_sdk_sns::Client::new(config), topic)),
    })
}

/// The executor of a deployment, on AWS.
pub fn executor(config: &SdkConfig, settings: &Settings, registry: Registry) -> Executor {
    let clients = Clients::from_config(config);
    let (seams, _, _) = seams(&clients, settings);
    Executor::new(seams, settings, registry)
}

/// Every seam on AWS, through `clients`; with the store and delivery adapters themselves, for
/// the callers that use more of them than the seams show.
fn seams(clients: &Clients, settings: &Settings) -> (Seams, Store, Arc<Delivery>) {
    let names = &settings.names;
    let store = store(clients.dynamodb.clone(), names);
    let delivery = Arc::new(Delivery::new(
        clients.sqs.clone(),
        clients.scheduler.clone(),
        names.clone(),
    ));
    let seams = Seams {
        store: Arc::new(store.clone()),
        control: Arc::new(ControlTable::new(
            clients.dynamodb.clone(),
            &names.control_table,
        )),
        delivery: delivery.clone(),
        clock: Arc::new(SystemClock),
        events: Arc::new(EventBus::new(clients.events.clone(), &names.event_bus)),
        services: Services {
            mailer: Arc::new(SesMailer::new(
                clients.ses.clone(),
                settings.limits.allowed_senders.clone(),
            )),
            workers: Arc::new(store.clone()),
            http: Arc::new(ReqwestClient::new(settings.limits.http_allow)),
            functions: Arc::new(LambdaInvoker::new(clients.lambda.clone())),
            limits: settings.limits.clone(),
        },
    };
    (seams, store, delivery)
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
    /// The three handlers on AWS's adapters, through `clients`.
    pub fn new(clients: Clients, settings: Settings, registry: Registry) -> Self {
        let (seams, store, delivery) = seams(&clients, &settings);
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
