//! The operator's commands of `nextdue` (`ls`, `show`, `runs`, `put`, `set`, `enable`,
//! `disable`, `run-now`, `retry`, `release`, `pause`, `resume`, `pauses`, `schedule`, `tail`,
//! `dead-letters`): against AWS (the SDK's usual credentials,
//! region and profile) or the emulator (`AWS_ENDPOINT_URL` or `--endpoint`), with the
//! deployment's names from the same `NEXTDUE_…` settings as the Lambdas.

pub mod bulk;
pub mod controls;
pub mod dead_letters;
pub mod definition;
pub mod format;
pub mod list;
pub mod preview;
pub mod put;
pub mod put_lines;
pub mod release;
pub mod set;
pub mod show;
pub mod tail;

use aws_config::{BehaviorVersion, Region};
use chrono::{DateTime, Utc};
use clap::Args;

use crate::adapters::clients::{Clients, is_local_endpoint};
use crate::adapters::control::ControlTable;
use crate::adapters::dynamodb::Store;
use crate::adapters::sdk_error::{self, ProvideErrorMetadata, SdkError};
use crate::config::{
    DEFAULT_CONTROL_TABLE, DEFAULT_QUEUE_PREFIX, DEFAULT_RUNS_TABLE, DEFAULT_WORKERS_TABLE, Names,
    Settings,
};
use crate::seams::StoreError;

/// Where the commands look, and how they answer.
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// The AWS endpoint (the emulator's, for example); default: AWS itself.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub endpoint: Option<String>,
    /// The workers table.
    #[arg(long, env = "NEXTDUE_WORKERS_TABLE", default_value = DEFAULT_WORKERS_TABLE, global = true)]
    pub workers_table: String,
    /// The runs table.
    #[arg(long, env = "NEXTDUE_RUNS_TABLE", default_value = DEFAULT_RUNS_TABLE, global = true)]
    pub runs_table: String,
    /// The control table (the operators' pauses).
    #[arg(long, env = "NEXTDUE_CONTROL_TABLE", default_value = DEFAULT_CONTROL_TABLE, global = true)]
    pub control_table: String,
    /// The prefix of the queue names.
    #[arg(long, env = "NEXTDUE_QUEUE_PREFIX", default_value = DEFAULT_QUEUE_PREFIX, global = true)]
    pub queue_prefix: String,
    /// Answer in JSON (stable field names, for scripts) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Say which endpoint, region and account the command talks to.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Read the time as this instant instead of the clock (for reproducible output).
    #[arg(long, global = true, hide = true)]
    pub now: Option<DateTime<Utc>>,
}

/// The name this program was started as (`nextdue`, or a team's own operator binary such as
/// `reports-dev`), for the commands a message suggests.
pub fn program() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|path| path.file_stem())
        .and_then(|stem| stem.to_str())
        .map_or_else(|| "nextdue".to_owned(), str::to_owned)
}

/// A command that failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpsError(pub String);

/// What a command's result is: a message for the user on failure.
pub type OpsResult<T> = Result<T, OpsError>;

impl Connection {
    /// The time the command reads.
    pub fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn is_local(&self) -> bool {
        self.endpoint.as_deref().is_some_and(is_local_endpoint)
    }

    /// The SDK config: throwaway credentials for a loopback endpoint (the emulator), the SDK's
    /// usual chain otherwise.
    pub(crate) async fn config(&self) -> aws_config::SdkConfig {
        match &self.endpoint {
            Some(endpoint) if self.is_local() => Clients::local_config(endpoint).await,
            Some(endpoint) => {
                aws_config::defaults(BehaviorVersion::latest())
                    .endpoint_url(endpoint)
                    .load()
                    .await
            }
            None => aws_config::load_defaults(BehaviorVersion::latest()).await,
        }
    }

    /// The AWS clients.
    pub async fn clients(&self) -> OpsResult<Clients> {
        let config = self.config().await;
        let Some(region) = config.region().map(Region::to_string) else {
            return Err(OpsError(
                "no AWS region: set AWS_REGION (or a profile with a region), or point \
                 --endpoint at the emulator"
                    .into(),
            ));
        };
        if self.verbose {
            let sts = aws_sdk_sts::Client::new(&config);
            let account = match sts.get_caller_identity().send().await {
                Ok(identity) => identity.account.unwrap_or_else(|| "?".into()),
                Err(error) => format!("unknown ({})", sdk_error::message(error)),
            };
            eprintln!(
                "endpoint {}, region {region}, account {account}, workers table {}, runs table {}",
                self.endpoint.as_deref().unwrap_or("AWS"),
                self.workers_table,
                self.runs_table
            );
        }
        Ok(Clients::from_config(&config))
    }

    /// The deployment's settings, with this command's names.
    pub fn settings(&self) -> OpsResult<Settings> {
        let mut settings = Settings::from_env().map_err(|e| OpsError(e.to_string()))?;
        settings.names.workers_table = self.workers_table.clone();
        settings.names.runs_table = self.runs_table.clone();
        settings.names.queue_prefix = self.queue_prefix.clone();
        settings.names.control_table = self.control_table.clone();
        // Against the emulator, workers are checked as `nextdue dev` runs them.
        if self.is_local() {
            settings.limits.http_allow.loopback = true;
        }
        Ok(settings)
    }

    /// A failed AWS call, explained: what went wrong, and what to do about it.
    pub fn explain<E, R>(&self, what: &str, table: &str, error: SdkError<E, R>) -> OpsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = sdk_error::code_of(&error).map(str::to_owned);
        self.explained(what, table, code.as_deref(), &sdk_error::message(error))
    }

    /// [`Connection::explain`] for a failed call of the store adapter.
    pub fn explain_store(&self, what: &str, error: StoreError) -> OpsError {
        match error {
            StoreError::Call { table, message, .. } => {
                self.explained(what, &table, sdk_error::code_in(&message), &message)
            }
            StoreError::Refused { message, .. } => OpsError(format!("{what}: {message}")),
            error @ StoreError::Malformed { .. } => OpsError(format!("{what}: {error}")),
        }
    }

    /// A failed call's error `code` (if the service answered one) and `message`, in words that
    /// say what to do.
    fn explained(&self, what: &str, table: &str, code: Option<&str>, message: &str) -> OpsError {
        OpsError(match code {
            Some("ResourceNotFoundException") if table == self.control_table => format!(
                "{what}: no table {table} here: deploy the stack, or set NEXTDUE_CONTROL_TABLE \
                 (or --control-table) to its control table"
            ),
            Some("ResourceNotFoundException") => format!(
                "{what}: no table {table} here: deploy the stack, or set NEXTDUE_WORKERS_TABLE \
                 and NEXTDUE_RUNS_TABLE (or --workers-table, --runs-table) to its tables"
            ),
            Some(
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "AccessDeniedException",
            ) => format!(
                "{what}: AWS refused the credentials ({message}): check AWS_PROFILE or your \
                 credentials"
            ),
            Some(_) => format!("{what}: {message}"),
            None if message.contains("credentials") => format!(
                "{what}: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID (or point \
                 --endpoint at the emulator)"
            ),
            None if self.is_local() => format!(
                "{what}: cannot reach the emulator at {}: start it with `infra/emulator.sh \
                 start` (or run `infra/demo.sh`)",
                self.endpoint.as_deref().unwrap_or_default()
            ),
            None => format!("{what}: {message}"),
        })
    }

    /// The workers and runs tables, through DynamoDB's adapter.
    pub async fn store(&self) -> OpsResult<Store> {
        Ok(self.store_on(&self.clients().await?))
    }

    /// The workers and runs tables, through DynamoDB's adapter on these `clients` (built by
    /// the composition root, as every handler's store is).
    pub fn store_on(&self, clients: &Clients) -> Store {
        let names = Names {
            workers_table: self.workers_table.clone(),
            runs_table: self.runs_table.clone(),
            queue_prefix: self.queue_prefix.clone(),
            ..Names::default()
        };
        crate::wiring::store(clients.dynamodb.clone(), &names)
    }

    /// The control table, on these `clients`.
    pub fn control_on(&self, clients: &Clients) -> ControlTable {
        ControlTable::new(clients.dynamodb.clone(), &self.control_table)
    }
}
