//! The seams jobs reach the world through: mail, HTTP, Lambda and new workers, with the
//! deployment's rules for them ([`JobLimits`]) and the bundle a run is given ([`Services`]).
//! Re-exported by [`crate::job`], where your own kinds find them.

use std::sync::Arc;

use async_trait::async_trait;

use crate::item::Item;
use crate::lifecycle::{JobError, Report, ReportError};
use crate::network::NetworkPolicy;

/// A message ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Copies.
    pub cc: Vec<String>,
    /// Blind copies.
    pub bcc: Vec<String>,
    /// Where replies go.
    pub reply_to: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
}

impl Mail {
    /// How many recipients the message has (to, cc and bcc).
    pub fn recipient_count(&self) -> usize {
        self.to.len() + self.cc.len() + self.bcc.len()
    }
}

/// Sends mail (SES v2 in production).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message; returns the provider's message id.
    async fn send(&self, mail: &Mail) -> Result<String, JobError>;
}

/// An HTTP request a job asks for (the `http` job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method (`POST`, `GET`, …).
    pub method: String,
    /// The URL (`http` or `https`).
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// How long to wait for the answer (redirects included).
    pub timeout: std::time::Duration,
}

/// The answer to an [`HttpRequest`]: its status and the start of its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The status's reason phrase (`Not Found`), empty if unknown.
    pub reason: String,
    /// What a `Retry-After` header asked for, in seconds from now.
    pub retry_after_seconds: Option<u32>,
    /// The first bytes of the body (a few hundred at most).
    pub body_start: Vec<u8>,
}

/// Why an [`HttpRequest`] got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    /// The deployment's network rules refused an address it would have reached (directly,
    /// through DNS, or after a redirect).
    #[error("refused: {0}")]
    Refused(String),
    /// No answer within the timeout.
    #[error("no answer within {0} s")]
    TimedOut(u64),
    /// The host could not be reached (DNS, connection, TLS), or redirects went on too long.
    #[error("{0}")]
    Network(String),
    /// The request could not be sent as given.
    #[error("{0}")]
    Invalid(String),
}

/// Sends HTTP requests under the deployment's network rules (reqwest in production).
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request` and reads the start of the answer.
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure>;
}

/// What a Lambda function answered to a synchronous invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoked {
    /// Set when the function itself failed (`Unhandled`, `Handled`): the payload then holds
    /// its error.
    pub function_error: Option<String>,
    /// The first bytes of the response payload (a few hundred at most).
    pub payload_start: Vec<u8>,
}

/// Invokes Lambda functions synchronously (the Lambda API in production).
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (a name, ARN or alias) with `payload`. A call Lambda refuses is a
    /// [`JobError`]: permanent when the function is missing or access is denied, retryable
    /// when throttled or the service failed.
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, JobError>;
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
    /// Which address ranges the `http` job may reach besides public ones
    /// (`NEXTDUE_HTTP_ALLOW`).
    pub http_allow: NetworkPolicy,
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
            http_allow: NetworkPolicy::default(),
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
    /// Sends HTTP requests.
    pub http: Arc<dyn HttpClient>,
    /// Invokes Lambda functions.
    pub functions: Arc<dyn Invoker>,
    /// Limits for every job.
    pub limits: JobLimits,
}

/// Where a run's progress reports and checkpoints go: its own item, written only while the run
/// holds its claim, and coalesced (the executor's; the test kit's records them too).
#[async_trait]
pub trait Reporter: Send + Sync {
    /// Takes the parts of `report` that are set (the others keep their latest values), and
    /// writes the latest report unless one was written less than
    /// [`PROGRESS_EVERY_MILLIS`](crate::lifecycle::PROGRESS_EVERY_MILLIS) ago (then the run's
    /// next write, or its finish, carries it).
    async fn report(&self, report: Report) -> Result<(), ReportError>;
}
