//! `nextdue dev`: the local stand-in for AWS's glue. The emulator stores state but runs no
//! Lambda functions, feeds no streams to them and fires no schedules; this module does, calling
//! the very same handler functions as the Lambda binaries.
//!
//! Each duty has a `run_once` that tests call directly; [`Glue`] only loops over them, and
//! ticks the sweeper ([`sweep_once`]).

pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod dead_letters;
pub mod emulator;
pub mod invoke;
pub mod launcher;
pub mod provision;
pub mod queues;
pub mod schedules;
pub mod streams;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::task::JoinHandle;

use self::checkpoint::Checkpoints;
use self::dead_letters::DeadLetters;
use self::provision::{QueueSettings, provision};
use self::queues::QueuePump;
use self::schedules::SchedulePump;
use self::streams::StreamPump;
use crate::adapters::sqs::Delivery;
use crate::handlers::sweeper::sweep_once;
use crate::lifecycle::SweepReport;
use crate::seams::Deliver;
use crate::wiring::Stack;

/// How long the loops rest when there was nothing to do.
pub const IDLE: Duration = Duration::from_millis(200);
/// How long the loops rest after an error.
pub const BACKOFF: Duration = Duration::from_secs(1);
/// The executor's invocation time limit in `nextdue dev` when none is given.
pub const DEFAULT_FUNCTION_TIMEOUT_SECONDS: i64 = 60;
/// How often `nextdue dev` runs the sweeper when not told otherwise.
pub const DEFAULT_SWEEP_EVERY_SECONDS: u64 = 10;

/// Options of the local glue.
#[derive(Clone, Debug)]
pub struct GlueOptions {
    /// Where stream checkpoints are kept.
    pub state_dir: PathBuf,
    /// The executor's invocation time limit (its deadline, and the lease of its claims).
    pub function_timeout: TimeDelta,
    /// How often the sweeper runs (`rate(1 minute)` in production).
    pub sweep_every: Duration,
    /// The Lambda Invoke API of `cargo lambda watch`, to run the handlers there instead of
    /// in process.
    pub invoke_url: Option<String>,
    /// The clients the glue's own calls (reading the stream, receiving and deleting messages,
    /// watching dead letters) go through; `None`: the stack's. The benchmark counts them apart.
    pub clients: Option<crate::adapters::clients::Clients>,
}

/// Whether an error says nextdue's table or a queue does not exist (the emulator was reset).
fn resources_missing(error: &anyhow::Error) -> bool {
    let text = format!("{error:#}");
    [
        "ResourceNotFoundException",
        "NonExistentQueue",
        "QueueDoesNotExist",
    ]
    .iter()
    .any(|code| text.contains(code))
}

/// Plays an SQS event source mapping: receives batch after batch, and runs up to
/// `max_concurrency` executor batches at once (the mapping's maximum concurrency), starting
/// the next receive as soon as a batch is handed over, as Lambda's pollers scale out.
async fn poll(pump: Arc<QueuePump>, stack: Arc<Stack>, max_concurrency: u32) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_concurrency as usize));
    // Owned here, so stopping the glue stops the batches under way too.
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let received = match pump.receive().await {
            Ok(received) => received,
            Err(error) => {
                tracing::error!(error = ?error.to_string(), "queue poller");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        if received.is_empty() {
            continue;
        }
        let (pump, stack) = (pump.clone(), stack.clone());
        running.spawn(async move {
            if let Err(error) = pump.process(received, &stack.executor).await {
                tracing::error!(error = ?error.to_string(), "queue poller");
            }
            drop(slot);
        });
    }
}

/// The running glue: its loops stop when it is dropped.
pub struct Glue {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Glue {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Glue {
    /// Starts the loops: stream → dispatcher, each configured worker queue → executor, due
    /// schedules → queue.
    pub async fn start(stack: Arc<Stack>, options: GlueOptions) -> anyhow::Result<Glue> {
        let names = &stack.settings.names;
        let checkpoints = Checkpoints::load(
            options
                .state_dir
                .join(format!("{}.stream.json", names.workers_table)),
        )?;
        let glue_clients = options
            .clients
            .clone()
            .unwrap_or_else(|| stack.clients.clone());
        let mut stream = StreamPump::new(
            glue_clients.clone(),
            &names.workers_table,
            checkpoints,
            names.stream_failure_queue_name(),
        )
        .through(options.invoke_url.clone());
        let mut tasks = Vec::new();

        let dispatching = stack.clone();
        let queue_settings = QueueSettings {
            visibility_timeout_seconds: (options.function_timeout.num_seconds() + 30) as u32,
        };
        tasks.push(tokio::spawn(async move {
            loop {
                match stream.run_once(&dispatching.dispatcher).await {
                    Ok(0) => tokio::time::sleep(IDLE).await,
                    Ok(_) => {}
                    Err(error) if resources_missing(&error) => {
                        // The emulator restarted empty: make the resources again, as at start.
                        tracing::warn!("the workers table is gone (did the emulator restart?); provisioning again");
                        let settings = &dispatching.settings;
                        if let Err(error) = provision(
                            &dispatching.clients,
                            &settings.names,
                            &settings.policy.queues,
                            queue_settings,
                        )
                        .await
                        {
                            tracing::error!(error = ?format!("{error:#}"), "provisioning");
                        }
                        tokio::time::sleep(BACKOFF).await;
                    }
                    Err(error) => {
                        tracing::error!(error = ?error.to_string(), "stream reader");
                        tokio::time::sleep(BACKOFF).await;
                    }
                }
            }
        }));

        let polled: Vec<String> = stack
            .settings
            .policy
            .queues
            .iter()
            .map(|q| q.name.clone())
            .collect();
        for spec in &stack.settings.policy.queues {
            let queue = stack.delivery.worker_queue(&spec.name).await?;
            let pump = Arc::new(
                QueuePump::new(glue_clients.clone(), queue, options.function_timeout)
                    .through(options.invoke_url.clone()),
            );
            tasks.push(tokio::spawn(poll(
                pump,
                stack.clone(),
                spec.max_concurrency,
            )));
        }

        // Scheduler's part is the glue's too: its calls go through the glue's clients.
        let scheduling = Delivery::new(
            glue_clients.sqs.clone(),
            glue_clients.scheduler.clone(),
            names.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(error) = SchedulePump::run_once(&scheduling, Utc::now()).await {
                    tracing::error!(error = ?error.to_string(), "schedule firer");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
        let sweeping = stack.clone();
        let every = options.sweep_every;
        let invoke_url = options.invoke_url.clone();
        let mut watched: Vec<String> = polled
            .iter()
            .map(|q| names.dead_letter_queue_name(q))
            .collect();
        watched.push(names.stream_failure_queue_name());
        let mut dead_letters = DeadLetters::new(glue_clients.clone(), watched);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let swept = match &invoke_url {
                    Some(url) => {
                        invoke::invoke::<_, SweepReport>(url, "sweeper", &serde_json::json!({}))
                            .await
                    }
                    None => sweep_once(&sweeping.sweeper, Utc::now()).await,
                };
                if let Err(error) = swept {
                    tracing::error!(error = ?error.to_string(), "sweeper");
                }
                if let Err(error) = dead_letters.report().await {
                    tracing::error!(error = ?error.to_string(), "dead-letter watch");
                }
            }
        }));
        Ok(Glue { tasks })
    }
}
