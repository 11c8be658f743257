//! The `nextdue` command line, for any registry of jobs (a team's own `dev` binary calls
//! [`main`] with its registry).
//!
//! * `nextdue dev`: creates the tables, queues and schedule group if absent, then plays AWS's
//!   glue (stream → dispatcher, queues → executor, due schedules → queue) until Ctrl-C.
//! * `nextdue demo`: the same, plus a demo email worker, and how it went: the item, its run
//!   records, and the mail the emulator received.
//! * The operator's commands (`ls`, `show`, `runs`, `put`, `enable`, `disable`, `run-now`,
//!   `schedule`, `tail`, `dead-letters`; [`crate::ops`]), against AWS or the emulator, and
//!   `completions`.
//!
//! `dev` and `demo` refuse to run without a loopback endpoint (`AWS_ENDPOINT_URL` or
//! `--endpoint`), so they can never touch a real account.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use clap::{Args, Parser, Subcommand};

use crate::adapters::clients::{Clients, is_local_endpoint};
use crate::adapters::dynamodb::RunQuery;
use crate::config::Settings;
use crate::dev::emulator::sent_mail;
use crate::dev::launcher::{Emulator, env_lines};
use crate::dev::provision::{QueueSettings, provision, verify_senders};
use crate::dev::{
    DEFAULT_FUNCTION_TIMEOUT_SECONDS, DEFAULT_SWEEP_EVERY_SECONDS, Glue, GlueOptions,
};
use crate::item::{Status, Worker};
use crate::job::Registry;
use crate::ops;
use crate::ops::bulk::Request;
use crate::seams::WorkerStore;
use crate::wiring::Stack;

#[derive(Parser)]
#[command(
    name = "nextdue",
    version,
    about = "Persistent, observable background workers for AWS: see, start, stop and preview \
             workers, and run the local stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local glue with the real handlers against a local emulator, until Ctrl-C.
    Dev(Local),
    /// Run the glue, write a demo email worker, and show how it went.
    Demo(Local),
    /// List the workers, soonest due first.
    Ls(Operate<ops::list::ListArgs>),
    /// Show a worker in words: state, next due times, latest runs, what is wrong.
    Show(Operate<ops::show::ShowArgs>),
    /// A worker's run history, newest first.
    Runs(Operate<ops::show::RunsArgs>),
    /// Write a worker from JSON, after checking it as the dispatcher would.
    Put(Operate<ops::put::PutArgs>),
    /// Change a few attributes of a worker (`params.subject="Hi"`), checked first.
    Set(Operate<ops::set::SetArgs>),
    /// Enable a worker (it is armed with a new task id), or every one `--where` matches.
    Enable(Operate<ops::put::TargetArgs>),
    /// Disable a worker (it stops), or every one `--where` matches.
    Disable(Operate<ops::put::TargetArgs>),
    /// Ask a worker for one extra run as soon as possible; its schedule is kept.
    RunNow(Operate<ops::put::TargetArgs>),
    /// Run a failed worker again (a stopped or retrying one runs now; an invalid one is
    /// checked again), or every one `--where` matches.
    Retry(Operate<ops::put::TargetArgs>),
    /// Give up a run presumed lost now (as the sweeper would once its lease expires).
    Release(Operate<ops::put::IdArgs>),
    /// Pause a queue or a kind: due runs wait (`--mode hold`) or are skipped (`--mode skip`),
    /// until `resume` (or for `--for 2h`).
    Pause(Operate<ops::controls::PauseArgs>),
    /// Resume a paused queue or kind (held workers each run once, then on their grid).
    Resume(Operate<ops::controls::ResumeArgs>),
    /// List the pauses, in force or ended by themselves.
    Pauses(Operate<ops::controls::PausesArgs>),
    /// Rate-limit a queue or a kind (`10/minute`): runs beyond it wait for the next free
    /// start; `--off` removes the limit.
    Limit(Operate<ops::controls::LimitArgs>),
    /// List the rate limits.
    Limits(Operate<ops::controls::PausesArgs>),
    /// Preview the next due times of a rate(), cron() or at() expression (offline).
    Schedule(Operate<ops::preview::PreviewArgs>),
    /// Follow runs as they finish, until Ctrl-C.
    Tail(Operate<ops::tail::TailArgs>),
    /// List the dead-letter queues' messages, with the reason where one is known.
    DeadLetters(Operate<ops::dead_letters::DeadLetterArgs>),
    /// Start, stop, or point the shell at the local AWS emulator (moto, installed from PyPI
    /// into the state directory the first time).
    Emulator {
        /// `start` (prints the endpoint), `stop`, or `env` (prints `export AWS_…` lines for
        /// `eval "$(… emulator env)"`).
        #[arg(value_enum)]
        action: EmulatorAction,
        /// Where the emulator keeps its virtualenv, log and port.
        #[arg(long, default_value = ".nextdue")]
        state_dir: PathBuf,
    },
    /// Measure the local stack on the emulator: throughput, latency, calls, CPU and memory.
    Bench(BenchArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What `emulator` does.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum EmulatorAction {
    /// Start it (unless it runs), and print its endpoint.
    Start,
    /// Stop it.
    Stop,
    /// Print the `export` lines that point the SDK and the AWS CLI at it.
    Env,
}

/// What `bench` measures (see `infra/bench.sh`).
#[derive(Args)]
struct BenchArgs {
    /// The emulator's endpoint; must be a loopback address.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// One-shot workers written at once.
    #[arg(long, default_value_t = 1000)]
    burst: usize,
    /// Workers written per second in the steady phase.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Seconds the steady phase lasts.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Workers due 3 to 60 seconds ahead.
    #[arg(long, default_value_t = 200)]
    etas: usize,
    /// Run the soak instead: this many workers on rate(1 minute) …
    #[arg(long)]
    soak: Option<usize>,
    /// … for this many minutes.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Measure these Lambda bootstraps' size and start-up instead (no emulator needed).
    #[arg(long, num_args = 1..)]
    startup: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// An operator's command: its own arguments, and where to look.
#[derive(Args)]
struct Operate<T: Args> {
    #[command(flatten)]
    args: T,
    #[command(flatten)]
    connection: ops::Connection,
}

#[derive(Args)]
struct Local {
    /// The emulator's endpoint; must be a loopback address.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Where the stream reader keeps its checkpoints.
    #[arg(long, default_value = ".nextdue")]
    state_dir: PathBuf,
    /// The executor's invocation time limit, in seconds (Lambda's function timeout).
    #[arg(long, default_value_t = DEFAULT_FUNCTION_TIMEOUT_SECONDS)]
    function_timeout: i64,
    /// How often the sweeper runs, in seconds.
    #[arg(long, default_value_t = DEFAULT_SWEEP_EVERY_SECONDS)]
    sweep_every: u64,
    /// Run the handlers through the Lambda Invoke API at this address (`cargo lambda watch`,
    /// for example http://127.0.0.1:9000) instead of in process; must be a loopback address.
    #[arg(long)]
    invoke_url: Option<String>,
}

impl Local {
    async fn start(&self, registry: Registry) -> anyhow::Result<(Arc<Stack>, Glue, String)> {
        let Some(endpoint) = self.endpoint.clone().filter(|e| is_local_endpoint(e)) else {
            bail!(
                "{0} dev talks only to a local emulator: set AWS_ENDPOINT_URL or --endpoint to a \
                 loopback address (`{0} emulator start` starts one and prints it; then \
                 `eval \"$({0} emulator env)\"`); got {1:?}",
                ops::program(),
                self.endpoint.as_deref().unwrap_or("nothing")
            );
        };
        if let Some(url) = self.invoke_url.as_deref().filter(|u| !is_local_endpoint(u)) {
            bail!("--invoke-url must be a loopback address (cargo lambda watch); got {url:?}");
        }
        let clients = Clients::local(&endpoint).await;
        let mut settings = Settings::from_env()?;
        // Local services listen on loopback: the `http` job may call them here, unless
        // NEXTDUE_HTTP_ALLOW says otherwise (`none`, to try the deployment's refusal locally).
        if std::env::var("NEXTDUE_HTTP_ALLOW").is_err() {
            settings.limits.http_allow.loopback = true;
        }
        let queue_settings = QueueSettings {
            visibility_timeout_seconds: (self.function_timeout + 30) as u32,
        };
        provision(
            &clients,
            &settings.names,
            &settings.policy.queues,
            queue_settings,
        )
        .await
        .with_context(|| format!("provisioning on {endpoint}"))?;
        let senders = verify_senders(&clients, &settings.limits.allowed_senders).await?;
        if senders.is_empty() {
            tracing::info!(
                "the emulator's SES sends only from verified identities: set \
                 NEXTDUE_ALLOWED_SENDERS (an address, or *@domain) and nextdue dev verifies them"
            );
        } else {
            tracing::info!(identities = ?senders, "verified in the emulator's SES, from NEXTDUE_ALLOWED_SENDERS");
        }
        let names = settings.names.clone();
        let settings_queues = settings
            .policy
            .queues
            .iter()
            .map(|q| names.queue_name(&q.name))
            .collect::<Vec<_>>()
            .join(", ");
        let stack = Arc::new(Stack::new(clients, settings, registry));
        let options = GlueOptions {
            state_dir: self.state_dir.clone(),
            function_timeout: TimeDelta::seconds(self.function_timeout),
            sweep_every: Duration::from_secs(self.sweep_every.max(1)),
            invoke_url: self.invoke_url.clone(),
            clients: None,
        };
        let glue = Glue::start(stack.clone(), options).await?;
        tracing::info!(
            endpoint = %endpoint,
            workers = %names.workers_table,
            runs = %names.runs_table,
            queues = %settings_queues,
            schedules = %names.schedule_group,
            "nextdue dev is running"
        );
        Ok((stack, glue, endpoint))
    }
}

async fn demo(local: &Local, registry: Registry) -> anyhow::Result<()> {
    let (stack, _glue, endpoint) = local.start(registry).await?;
    let store = &stack.store;
    let sender_domain = "example.com";
    stack
        .clients
        .ses
        .create_email_identity()
        .email_identity(sender_domain)
        .send()
        .await
        .ok();
    let id = format!("demo-{}", Utc::now().format("%Y%m%dT%H%M%S"));
    let recipient = format!("{id}@example.net");
    let item: serde_json::Value = serde_json::json!({
        "id": id,
        "kind": "email",
        "enabled": true,
        "params": {
            "from": format!("anne@{sender_domain}"),
            "to": recipient,
            "subject": "Hello from nextdue",
            "text": "This message was sent by a worker: a DynamoDB item that is a background job.",
        },
    });
    println!(
        "\n== writing worker {id}:\n{}",
        serde_json::to_string_pretty(&item)?
    );
    store.put_worker(serde_dynamo::to_item(&item)?).await?;

    let started = Instant::now();
    let worker = loop {
        let stored = store
            .get_worker(&id)
            .await?
            .context("the demo worker vanished")?;
        let worker = Worker::from_item(&stored)?;
        if matches!(worker.status, Some(Status::Stopped | Status::Invalid)) {
            break worker;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "the demo worker did not finish within 60 s; it stands at {:?}",
                worker.status
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "\n== the item afterwards (workers table):\n{}",
        serde_json::to_string_pretty(&worker)?
    );
    let runs = store.runs(&id, &RunQuery::default()).await?;
    println!(
        "\n== its runs (runs table):\n{}",
        serde_json::to_string_pretty(&runs)?
    );
    let mail: Vec<_> = sent_mail(&endpoint)
        .await?
        .into_iter()
        .filter(|m| m.is_to(&recipient))
        .collect();
    println!("\n== mail the emulator received:\n{}", serde_json::to_string_pretty(&serde_json::json!(mail
        .iter()
        .map(|m| serde_json::json!({"id": m.id, "from": m.source, "to": m.destinations, "subject": m.subject, "body": m.body}))
        .collect::<Vec<_>>()))?);
    let ok = worker.last_run_succeeded == Some(true) && runs.len() == 1 && mail.len() == 1;
    println!(
        "\n== {}: the worker ran {} time(s), lastRunSucceeded = {:?}, lastRunMessage = {:?}",
        if ok { "demo succeeded" } else { "demo FAILED" },
        runs.len(),
        worker.last_run_succeeded,
        worker.last_run_message.as_deref().unwrap_or_default()
    );
    if !ok {
        bail!("the demo worker did not run as expected");
    }
    Ok(())
}

/// Runs the `nextdue` command line (`dev`, `demo`) with the jobs of `registry`, reading the
/// arguments of the process.
async fn bench(args: BenchArgs, registry: Registry) -> anyhow::Result<()> {
    if !args.startup.is_empty() {
        let mut found = Vec::new();
        for binary in &args.startup {
            found.push(crate::dev::bench::startup(binary, 20).await?);
        }
        let value = serde_json::to_value(found)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let Some(endpoint) = args.endpoint.clone().filter(|e| is_local_endpoint(e)) else {
        bail!(
            "nextdue bench runs against a local emulator only: run infra/bench.sh, or set AWS_ENDPOINT_URL to a loopback address"
        );
    };
    let value = match args.soak {
        Some(workers) => serde_json::to_value(
            crate::dev::bench::soak(&endpoint, workers, args.minutes, registry).await?,
        )?,
        None => {
            let options = crate::dev::bench::BenchOptions {
                burst: args.burst,
                rate: args.rate,
                seconds: args.seconds,
                etas: args.etas,
            };
            serde_json::to_value(crate::dev::bench::run(&endpoint, &options, registry).await?)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}", crate::dev::bench::render(&value));
    }
    Ok(())
}

/// An operator's command that fails prints `error: …` on stderr and exits with 1 (a usage
/// error exits with 2, as clap does).
pub async fn main(registry: Registry) -> anyhow::Result<()> {
    // Boxed, so the caller's `main` future stays small.
    match Box::pin(run(registry)).await {
        Err(error) if error.is::<ops::OpsError>() => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            let mut err = anstream::stderr();
            let _ = std::io::Write::write_fmt(
                &mut err,
                format_args!(
                    "{red}error:{red:#} {}\n",
                    error
                        .to_string()
                        .lines()
                        .map(ops::format::safe)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            );
            std::process::exit(1);
        }
        other => other,
    }
}

async fn run(registry: Registry) -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The local stack logs what it does; the operator's commands only what goes wrong. Logs
    // go to stderr, so `--json` output stays clean.
    let level = match cli.command {
        Command::Dev(_) | Command::Demo(_) => "nextdue=info",
        _ => "nextdue=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
    let done = match cli.command {
        Command::Dev(local) => {
            let (_stack, _glue, _endpoint) = local.start(registry).await?;
            tokio::signal::ctrl_c().await?;
            return Ok(());
        }
        Command::Demo(local) => return demo(&local, registry).await,
        Command::Bench(args) => return bench(args, registry).await,
        Command::Emulator { action, state_dir } => {
            let emulator = Emulator::new(state_dir);
            match action {
                EmulatorAction::Start => println!("{}", emulator.start()?),
                EmulatorAction::Stop => {
                    if !emulator.stop()? {
                        eprintln!("emulator: not running");
                    }
                }
                EmulatorAction::Env => match emulator.running() {
                    Some(endpoint) => println!("{}", env_lines(&endpoint)),
                    None => {
                        return Err(ops::OpsError(format!(
                            "the emulator is not running: start it with `{} emulator start`",
                            ops::program()
                        ))
                        .into());
                    }
                },
            }
            return Ok(());
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "nextdue", &mut std::io::stdout());
            return Ok(());
        }
        Command::Ls(o) => ops::list::run(&o.connection, &o.args).await,
        Command::Show(o) => ops::show::run_show(&o.connection, &o.args).await,
        Command::Runs(o) => ops::show::run_runs(&o.connection, &o.args).await,
        Command::Put(o) => ops::put::run_put(&o.connection, &o.args, &registry).await,
        Command::Set(o) => ops::set::run(&o.connection, &o.args, &registry).await,
        Command::Enable(o) => ops::put::run_request(&o.connection, &o.args, Request::Enable).await,
        Command::Disable(o) => {
            ops::put::run_request(&o.connection, &o.args, Request::Disable).await
        }
        Command::RunNow(o) => ops::put::run_request(&o.connection, &o.args, Request::RunNow).await,
        Command::Retry(o) => ops::put::run_request(&o.connection, &o.args, Request::Retry).await,
        Command::Release(o) => ops::release::run(&o.connection, &o.args, &registry).await,
        Command::Pause(o) => ops::controls::run_pause(&o.connection, &o.args).await,
        Command::Resume(o) => ops::controls::run_resume(&o.connection, &o.args).await,
        Command::Pauses(o) => ops::controls::run_pauses(&o.connection, &o.args).await,
        Command::Limit(o) => ops::controls::run_limit(&o.connection, &o.args).await,
        Command::Limits(o) => ops::controls::run_limits(&o.connection, &o.args).await,
        Command::Schedule(o) => ops::preview::run(&o.connection, &o.args),
        Command::Tail(o) => ops::tail::run(&o.connection, &o.args).await,
        Command::DeadLetters(o) => ops::dead_letters::run(&o.connection, &o.args).await,
    };
    Ok(done?)
}
