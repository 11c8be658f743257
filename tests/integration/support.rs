//! A stack of its own for each test: its own tables, queues and schedule group on the shared
//! emulator (so tests run in parallel), the real handlers, and the local glue.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use nextdue::adapters::clients::Clients;
use nextdue::adapters::dynamodb::RunQuery;
use nextdue::config::{Names, Settings};
use nextdue::dev::checkpoint::Checkpoints;
use nextdue::dev::emulator::{SentMail, sent_mail};
use nextdue::dev::provision::{QueueSettings, provision};
use nextdue::dev::streams::StreamPump;
use nextdue::dev::{Glue, GlueOptions};
use nextdue::faults::Faults;
use nextdue::item::{Item, RunRecord, Worker};
use nextdue::lifecycle::{Message, Policy, QueueSpec};
use nextdue::seams::Deliver as _;
use nextdue::seams::QueueRef;
use nextdue::seams::WorkerStore as _;
use nextdue::wiring::Stack;

/// How long a test waits for the system to reach a state before it fails.
pub const PATIENCE: Duration = Duration::from_secs(45);
/// How long past its due time a ready worker waits before the sweeper re-delivers it, in tests.
pub const SWEEP_GRACE_SECONDS: i64 = 2;
/// The executor's invocation limit in tests (and so the queues' visibility timeout).
pub const FUNCTION_TIMEOUT_SECONDS: i64 = 20;

/// The emulator's endpoint, or a failure that says how to get one.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set, so there is no emulator to test against. Run the suite with \
             infra/test.sh, which installs moto into .venv, starts it and sets AWS_ENDPOINT_URL."
        )
    })
}

#[path = "../common/kinds.rs"]
mod kinds;
pub use kinds::registry;

/// One test's stack.
pub struct TestStack {
    pub stack: Arc<Stack>,
    pub names: Names,
    pub endpoint: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    glue: Option<Glue>,
}

impl TestStack {
    /// Provisions resources named after `test` and starts the glue.
    pub async fn start(test: &str) -> TestStack {
        let mut stack = Self::provisioned(test).await;
        stack.start_glue().await;
        stack
    }

    /// Provisions resources named after `test`, without starting the glue.
    pub async fn provisioned(test: &str) -> TestStack {
        Self::provisioned_with(test, FUNCTION_TIMEOUT_SECONDS as u32 + 10).await
    }

    /// A second stack of handlers on this test's resources, whose every AWS call passes through
    /// `faults` (a second executor, or one that dies between two calls).
    pub async fn sibling(&self, faults: &Faults) -> Arc<Stack> {
        let clients = Clients::local_with(&self.endpoint, &[faults.interceptor()]).await;
        let registry = registry();
        Arc::new(Stack::new(clients, self.stack.settings.clone(), registry))
    }

    /// Provisions resources named after `test` whose queues redeliver after `visibility`
    /// seconds, without starting the glue.
    pub async fn provisioned_with(test: &str, visibility: u32) -> TestStack {
        Self::provisioned_with_queues(test, visibility, &["default"]).await
    }

    /// Provisions resources named after `test` with these worker queues, without starting the
    /// glue.
    pub async fn provisioned_with_queues(
        test: &str,
        visibility: u32,
        queues: &[&str],
    ) -> TestStack {
        let queues: Vec<QueueSpec> = queues.iter().map(|q| QueueSpec::named(*q)).collect();
        let endpoint = endpoint();
        let prefix = format!(
            "nd-{test}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let names = Names::prefixed(&prefix);
        let clients = Clients::local(&endpoint).await;
        let queue_settings = QueueSettings {
            visibility_timeout_seconds: visibility,
        };
        provision(&clients, &names, &queues, queue_settings)
            .await
            .expect("provisioning on the emulator");
        let policy = Policy {
            sweep_grace: TimeDelta::seconds(SWEEP_GRACE_SECONDS),
            queues,
            ..Policy::default()
        };
        let mut settings = Settings {
            names: names.clone(),
            policy,
            ..Settings::default()
        };
        // As `nextdue dev` does: the `http` job may call local servers.
        settings.limits.http_allow.loopback = true;
        let registry = registry();
        let state_dir = std::env::temp_dir().join(&prefix);
        TestStack {
            stack: Arc::new(Stack::new(clients, settings, registry)),
            names,
            endpoint,
            prefix,
            state_dir,
            glue: None,
        }
    }

    /// This stack with its `lambda` job's calls sent to the Invoke API server at `endpoint`.
    pub fn with_functions_at(mut self, endpoint: &str) -> TestStack {
        let clients = self.stack.clients.clone().with_functions_at(endpoint);
        self.stack = Arc::new(Stack::new(clients, self.stack.settings.clone(), registry()));
        self
    }

    /// This stack running only the built-in jobs, as the `nextdue` binary does.
    pub fn with_builtin_jobs(mut self) -> TestStack {
        let clients = self.stack.clients.clone();
        let settings = self.stack.settings.clone();
        self.stack = Arc::new(Stack::new(clients, settings, nextdue::jobs::builtin()));
        self
    }

    /// The message worker `id` got when it was marked invalid (waiting for the mark; the item
    /// need not decode).
    pub async fn invalid_message(&self, id: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let item = self.item(id).await;
            let text = |name: &str| match item.get(name) {
                Some(nextdue::item::AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            };
            if text("status").as_deref() == Some("invalid") {
                return text("lastRunMessage").expect("an invalid worker says why");
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{id} never became invalid: {item:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the glue (its loops and the batches under way).
    pub fn stop_glue(&mut self) {
        self.glue = None;
    }

    /// Starts (or restarts) the glue.
    pub async fn start_glue(&mut self) {
        self.start_glue_with(FUNCTION_TIMEOUT_SECONDS).await;
    }

    /// Starts (or restarts) the glue, its executor invocations limited to `function_timeout`
    /// seconds (and so the leases of its claims).
    pub async fn start_glue_with(&mut self, function_timeout: i64) {
        let options = GlueOptions {
            state_dir: self.state_dir.clone(),
            function_timeout: TimeDelta::seconds(function_timeout),
            sweep_every: Duration::from_secs(1),
            invoke_url: None,
            clients: None,
        };
        self.glue = Some(
            Glue::start(self.stack.clone(), options)
                .await
                .expect("the glue starts"),
        );
    }

    /// A sender domain verified in SES for this test.
    pub async fn verified_domain(&self) -> String {
        let domain = format!("{}.example.com", self.prefix);
        self.stack
            .clients
            .ses
            .create_email_identity()
            .email_identity(&domain)
            .send()
            .await
            .expect("verify domain");
        domain
    }

    /// Writes an item the way a console user would (a whole item, JSON attributes).
    pub async fn put(&self, item: serde_json::Value) {
        let item = serde_dynamo::to_item(&item).expect("a JSON object");
        self.stack.store.put_worker(item).await.expect("PutItem");
    }

    /// The default queue of this test's stack.
    pub async fn default_queue(&self) -> QueueRef {
        self.queue("default").await
    }

    /// A worker queue of this test's stack.
    pub async fn queue(&self, name: &str) -> QueueRef {
        self.stack
            .delivery
            .worker_queue(name)
            .await
            .expect("the queue exists")
    }

    /// The worker's item as stored, whatever it holds.
    pub async fn item(&self, id: &str) -> Item {
        self.stack
            .store
            .get_worker(id)
            .await
            .expect("GetItem")
            .expect("the worker exists")
    }

    /// The worker as stored.
    pub async fn worker(&self, id: &str) -> Worker {
        let item = self
            .stack
            .store
            .get_worker(id)
            .await
            .expect("GetItem")
            .expect("the worker exists");
        Worker::from_item(&item).unwrap_or_else(|e| panic!("worker {id} does not decode: {e}"))
    }

    /// Waits until the worker satisfies `done`, and returns it; fails after [`PATIENCE`].
    pub async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Worker) -> bool) -> Worker {
        let started = Instant::now();
        loop {
            if let Some(item) = self.stack.store.get_worker(id).await.expect("GetItem")
                && let Ok(worker) = Worker::from_item(&item)
                && done(&worker)
            {
                return worker;
            }
            if started.elapsed() > PATIENCE {
                let item = self.stack.store.get_worker(id).await.expect("GetItem");
                panic!(
                    "worker {id} never became {what} within {PATIENCE:?}; it stands as {item:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The worker's run records, oldest first.
    pub async fn runs(&self, id: &str) -> Vec<RunRecord> {
        self.stack
            .store
            .runs(id, &RunQuery::default())
            .await
            .expect("Query runs")
    }

    /// Mail the emulator received for `address`.
    pub async fn mail_to(&self, address: &str) -> Vec<SentMail> {
        sent_mail(&self.endpoint)
            .await
            .expect("moto data")
            .into_iter()
            .filter(|m| m.is_to(address))
            .collect()
    }

    /// Sends a message straight to the default queue, as a stale or duplicate delivery would.
    pub async fn send_message(&self, message: &Message) {
        let queue = self.default_queue().await;
        self.stack
            .delivery
            .forward(&queue, &serde_json::to_string(message).unwrap())
            .await
            .expect("SendMessage");
    }

    /// How many messages wait in the default queue with a delay still to run.
    pub async fn delayed(&self) -> usize {
        let queue = self.default_queue().await;
        self.stack
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            )
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default()
            .values()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// How many messages wait in the default queue (visible ones only).
    pub async fn queued(&self) -> usize {
        let queue = self.default_queue().await;
        let attributes = self
            .stack
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Runs the stream through the dispatcher (with this stack's clean clients) until it has
    /// nothing left to hand over.
    pub async fn drain_stream(&self) {
        let checkpoints = Checkpoints::load(self.state_dir.join("drain.stream.json")).unwrap();
        let mut pump = StreamPump::new(
            self.stack.clients.clone(),
            &self.names.workers_table,
            checkpoints,
            self.names.stream_failure_queue_name(),
        );
        while pump.run_once(&self.stack.dispatcher).await.expect("stream") > 0 {}
    }

    /// Names of the one-time schedules in this test's group.
    pub async fn schedules(&self) -> Vec<String> {
        let listed = self
            .stack
            .clients
            .scheduler
            .list_schedules()
            .group_name(&self.names.schedule_group)
            .send()
            .await
            .expect("ListSchedules");
        listed
            .schedules
            .into_iter()
            .filter_map(|s| s.name)
            .collect()
    }

    /// Puts a message in the dead-letter queue of worker queue `queue`, as if the executor had
    /// given up on it.
    pub async fn dead_letter(&self, queue: &str) {
        let url = self
            .queue_url(&self.names.dead_letter_queue_name(queue))
            .await;
        self.stack
            .clients
            .sqs
            .send_message()
            .queue_url(url)
            .message_body("{}")
            .send()
            .await
            .expect("SendMessage");
    }

    /// The URL of the queue `name` (which must exist).
    pub async fn queue_url(&self, name: &str) -> String {
        self.stack
            .clients
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("no queue {name}: {e}"))
            .queue_url
            .unwrap()
    }

    /// Up to ten messages of the queue at `url`, waiting a second for them (empty: none came).
    pub async fn receive(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        self.stack
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default()
    }

    /// The events on this stack's bus so far, taken off the tap queue a rule copies every event
    /// to: `(detail-type, detail)`, in the order the queue hands them over.
    pub async fn take_events(&self) -> Vec<(String, serde_json::Value)> {
        let sqs = &self.stack.clients.sqs;
        let url = self.queue_url(&self.names.events_tap_queue_name()).await;
        let mut events = Vec::new();
        loop {
            let messages = self.receive(&url).await;
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let body: serde_json::Value =
                    serde_json::from_str(message.body().unwrap_or_default()).unwrap();
                assert_eq!(body["source"], "nextdue", "{body}");
                events.push((
                    body["detail-type"].as_str().unwrap_or_default().to_owned(),
                    body["detail"].clone(),
                ));
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
    }
}
