//! `nextdue bench`: the project's own benchmark, on the local stack against the emulator.
//!
//! It provisions resources of its own, runs the real handlers through the local glue (the
//! queue pollers at the queues' concurrency, the dispatcher concurrent across workers), and
//! measures, for workers written by the benchmark itself:
//!
//! * a burst of one-shot `email` workers written at once: runs per second from the first
//!   write to the last run's end, and write → run start;
//! * a steady rate of them: write → run start;
//! * workers due a few seconds to a minute ahead: start − due (none may be negative);
//! * AWS calls per run by operation, the handlers' apart from the glue's (counted by the same
//!   SDK interceptor the fault-injection tests use);
//! * the process's CPU time per run and its peak memory (Linux `/proc`);
//! * the emulator's own write rate, beside ours, to show how close to it we are.
//!
//! `--soak` instead runs recurring workers on `rate(1 minute)` and checks that every due time
//! of every worker ran exactly once ([`exactly_once`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue as SdkValue, Select};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::adapters::clients::Clients;
use crate::config::{Names, Settings};
use crate::dev::emulator::{self, OperationCpu};
use crate::dev::provision::{QueueSettings, provision};
use crate::dev::{Glue, GlueOptions};
use crate::faults::{Faults, operation};
use crate::item::{AttributeValue, Item, RunRecord, attr};
use crate::job::Registry;
use crate::seams::WorkerStore as _;
use crate::timestamp::Due;
use crate::wiring::Stack;

/// Writers the benchmark uses at once.
const WRITERS: usize = 16;
/// How long any phase may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(900);

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// One-shot workers written at once.
    pub burst: usize,
    /// Workers written per second in the steady phase.
    pub rate: u32,
    /// How long the steady phase writes, in seconds.
    pub seconds: u64,
    /// Workers due a few seconds to a minute ahead.
    pub etas: usize,
}

/// Percentiles of a set of durations, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Spread {
    /// How many samples.
    pub count: usize,
    /// The smallest.
    pub min_ms: i64,
    /// The median.
    pub p50_ms: i64,
    /// The 95th percentile.
    pub p95_ms: i64,
    /// The 99th percentile.
    pub p99_ms: i64,
    /// The largest.
    pub max_ms: i64,
}

impl Spread {
    /// The spread of `samples`.
    pub fn of(mut samples: Vec<i64>) -> Spread {
        samples.sort_unstable();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Spread {
            count: samples.len(),
            min_ms: samples.first().copied().unwrap_or_default(),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// The benchmark's findings.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BenchReport {
    /// The machine: processors, and the kernel.
    pub machine: String,
    /// The emulator's own rate of PutItem calls, with as many writers as the benchmark.
    pub emulator_writes_per_second: f64,
    /// Burst: workers written at once.
    pub burst_workers: usize,
    /// Burst: runs per second, first write to the last run's end.
    pub burst_runs_per_second: f64,
    /// Burst: write → run start.
    pub burst_write_to_start: Spread,
    /// Steady: workers per second.
    pub steady_rate: u32,
    /// Steady: write → run start.
    pub steady_write_to_start: Spread,
    /// Workers with an ETA: start − due (`min_ms` < 0 would be a run started early).
    pub eta_start_minus_due: Spread,
    /// AWS calls per run made by the handlers, by operation.
    pub handler_calls_per_run: BTreeMap<String, f64>,
    /// AWS calls per run made by the glue (what Lambda's pollers do in AWS), by operation.
    pub glue_calls_per_run: BTreeMap<String, f64>,
    /// CPU time of the whole process (handlers, glue and the benchmark's own writes) per run.
    pub cpu_ms_per_run: f64,
    /// The process's peak resident memory, in MiB.
    pub peak_memory_mib: f64,
    /// Burst: what it took of the emulator (absent on an emulator started otherwise).
    pub burst_emulator: Option<EmulatorShare>,
    /// Steady: what it took of the emulator.
    pub steady_emulator: Option<EmulatorShare>,
}

/// What a phase took of the emulator, from the account `infra/moto_server.py` keeps.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EmulatorShare {
    /// CPU time per run, in milliseconds, by operation.
    pub cpu_ms_per_run: BTreeMap<String, f64>,
    /// CPU time over the phase's wall time, in percent. moto handles requests in Python under
    /// one lock, so about 100 % is all it can give.
    pub busy_percent: f64,
    /// The runs per second the emulator could serve at that CPU time per run (the benchmark's
    /// own `Scan`s, which count stopped workers, left out).
    pub ceiling_runs_per_second: f64,
}

impl EmulatorShare {
    /// The share of the phase between the accounts `before` and `after`, `wall` long, that
    /// ran `runs` runs.
    fn between(
        before: &BTreeMap<String, OperationCpu>,
        after: &BTreeMap<String, OperationCpu>,
        runs: usize,
        wall: Duration,
    ) -> EmulatorShare {
        let runs = runs.max(1) as f64;
        let per_run: BTreeMap<String, f64> = after
            .iter()
            .map(|(op, cpu)| {
                let spent = cpu.cpu_seconds - before.get(op).map_or(0.0, |b| b.cpu_seconds);
                (op.clone(), spent * 1000.0 / runs)
            })
            .filter(|(_, ms)| *ms > 0.0)
            .collect();
        let total: f64 = per_run.values().sum();
        let stack: f64 = per_run
            .iter()
            .filter(|(op, _)| !op.ends_with(".Scan"))
            .map(|(_, ms)| ms)
            .sum();
        EmulatorShare {
            cpu_ms_per_run: per_run
                .into_iter()
                .map(|(op, ms)| (op, (ms * 100.0).round() / 100.0))
                .collect(),
            busy_percent: (total * runs / 10.0 / wall.as_secs_f64().max(0.001)).round(),
            ceiling_runs_per_second: (10_000.0 / stack.max(0.001)).round() / 10.0,
        }
    }

    /// The share of the phase that began with the account `before` (if the emulator keeps
    /// one) `since` ago and ran `runs` runs.
    async fn since(
        endpoint: &str,
        before: Option<BTreeMap<String, OperationCpu>>,
        since: Instant,
        runs: usize,
    ) -> anyhow::Result<Option<EmulatorShare>> {
        let wall = since.elapsed();
        Ok(match (before, emulator::cpu(endpoint).await?) {
            (Some(before), Some(after)) => {
                Some(EmulatorShare::between(&before, &after, runs, wall))
            }
            _ => None,
        })
    }
}

/// CPU time of this process so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in clock ticks.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Peak resident memory of this process, in MiB, from `/proc/self/status`.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or_default()
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown processor".into());
    format!("{cpus} × {model}")
}

/// Counts calls by operation between two snapshots of an interceptor's record.
fn per_run(calls: &[String], runs: usize) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for call in calls {
        let name = operation(call).unwrap_or_else(|| call.clone());
        *counts.entry(name).or_default() += 1.0;
    }
    for count in counts.values_mut() {
        *count = (*count / runs.max(1) as f64 * 100.0).round() / 100.0;
    }
    counts
}

/// The resources, clients and handlers of one benchmark.
struct Bench {
    endpoint: String,
    names: Names,
    admin: Clients,
    handlers: Faults,
    glue_calls: Faults,
    glue: Option<Glue>,
    domain: String,
}

impl Bench {
    async fn start(
        endpoint: &str,
        registry: Registry,
        sweep_every: Duration,
    ) -> anyhow::Result<Bench> {
        let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let names = Names::prefixed(&prefix);
        let admin = Clients::local(endpoint).await;
        // The deployment's settings (`NEXTDUE_QUEUES` sets the pollers' concurrency), on the
        // benchmark's own resources.
        let mut settings = Settings::from_env()?;
        settings.names = names.clone();
        settings.limits.http_allow.loopback = true;
        provision(
            &admin,
            &names,
            &settings.policy.queues,
            QueueSettings {
                visibility_timeout_seconds: 930,
            },
        )
        .await?;
        let domain = format!("{prefix}.example.com");
        admin
            .ses
            .create_email_identity()
            .email_identity(&domain)
            .send()
            .await
            .context("verifying the sender domain")?;
        let (handlers, glue_calls) = (Faults::default(), Faults::default());
        let stack = Arc::new(Stack::new(
            Clients::local_with(endpoint, &[handlers.interceptor()]).await,
            settings,
            registry,
        ));
        let glue = Glue::start(
            stack,
            GlueOptions {
                state_dir: std::env::temp_dir().join(&prefix),
                function_timeout: TimeDelta::seconds(900),
                sweep_every,
                invoke_url: None,
                clients: Some(Clients::local_with(endpoint, &[glue_calls.interceptor()]).await),
            },
        )
        .await?;
        Ok(Bench {
            endpoint: endpoint.to_owned(),
            names,
            admin,
            handlers,
            glue_calls,
            glue: Some(glue),
            domain,
        })
    }

    /// Writes `items` with [`WRITERS`] writers; returns when each was written (just before the
    /// write was sent).
    async fn write(
        &self,
        items: Vec<serde_json::Value>,
    ) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
        let table = &self.names.workers_table;
        let written = futures::stream::iter(items)
            .map(|item| async move {
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                let item: Item = serde_dynamo::to_item(item)?;
                let at = Utc::now();
                self.admin
                    .dynamodb
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item.into()))
                    .send()
                    .await?;
                anyhow::Ok((id, at))
            })
            .buffer_unordered(WRITERS)
            .collect::<Vec<_>>()
            .await;
        written.into_iter().collect()
    }

    fn email(&self, id: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "kind": "email", "enabled": true,
            "params": {"from": format!("bench@{}", self.domain), "to": format!("{id}@example.net"),
                       "subject": "benchmark", "text": "a run"}})
    }

    /// A scan of the workers table by `filter`, in which `:p` is `prefix` and `#id` the id.
    fn scan(&self, filter: &str, prefix: &str) -> ScanFluentBuilder {
        self.admin
            .dynamodb
            .scan()
            .table_name(&self.names.workers_table)
            .filter_expression(filter)
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_values(":p", SdkValue::S(prefix.to_owned()))
    }

    /// Every worker item whose id starts with `prefix`.
    async fn workers(&self, prefix: &str) -> anyhow::Result<Vec<Item>> {
        let mut found = self
            .scan("begins_with(#id, :p)", prefix)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = found.next().await {
            items.push(Item::from(item?));
        }
        Ok(items)
    }

    /// How many workers whose ids start with `prefix` have stopped, counted by the emulator
    /// (a `COUNT` scan: the emulator's cost of sending the items back would be the largest
    /// part of its work while the benchmark waits).
    async fn stopped_count(&self, prefix: &str) -> anyhow::Result<usize> {
        let mut pages = self
            .scan("begins_with(#id, :p) AND #status = :stopped", prefix)
            .select(Select::Count)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":stopped", SdkValue::S("stopped".to_owned()))
            .into_paginator()
            .send();
        let mut count = 0;
        while let Some(page) = pages.next().await {
            count += page?.count as usize;
        }
        Ok(count)
    }

    /// Waits until the `count` workers whose ids start with `prefix` have stopped; returns them.
    async fn stopped(&self, prefix: &str, count: usize) -> anyhow::Result<Vec<Item>> {
        let started = Instant::now();
        loop {
            let done = self.stopped_count(prefix).await?;
            if done == count {
                return self.workers(prefix).await;
            }
            if started.elapsed() > PATIENCE {
                bail!("{done} of {count} {prefix} workers stopped within {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The emulator's own PutItem rate, with [`WRITERS`] writers, over `count` items.
    async fn emulator_rate(&self, count: usize) -> anyhow::Result<f64> {
        let started = Instant::now();
        let table = &self.names.runs_table;
        let results = futures::stream::iter(0..count)
            .map(|i| async move {
                self.admin
                    .dynamodb
                    .put_item()
                    .table_name(table)
                    .item(
                        attr::run::WORKER_ID,
                        SdkValue::S("emulator-baseline".into()),
                    )
                    .item(attr::run::RUN_ID, SdkValue::S(format!("{i:08}")))
                    .send()
                    .await
            })
            .buffer_unordered(WRITERS)
            .collect::<Vec<_>>()
            .await;
        for result in results {
            result?;
        }
        Ok(count as f64 / started.elapsed().as_secs_f64())
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn stamp(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    text(item, name).and_then(|t| t.parse().ok())
}

/// Write → start of each worker in `items`, in milliseconds.
fn write_to_start(items: &[Item], written: &HashMap<String, DateTime<Utc>>) -> Vec<i64> {
    items
        .iter()
        .filter_map(|item| {
            let id = text(item, attr::ID)?;
            let start = stamp(item, attr::LAST_RUN_START_TIME)?;
            Some((start - *written.get(&id)?).num_milliseconds())
        })
        .collect()
}

/// Runs the benchmark against the emulator at `endpoint`.
pub async fn run(
    endpoint: &str,
    options: &BenchOptions,
    registry: Registry,
) -> anyhow::Result<BenchReport> {
    let bench = Bench::start(endpoint, registry, Duration::from_secs(10)).await?;
    let mut report = BenchReport {
        machine: machine(),
        burst_workers: options.burst,
        steady_rate: options.rate,
        ..BenchReport::default()
    };
    report.emulator_writes_per_second = (bench.emulator_rate(600).await? * 10.0).round() / 10.0;

    // Burst.
    let (handler_calls, glue_calls, cpu) = (
        bench.handlers.calls().len(),
        bench.glue_calls.calls().len(),
        cpu_time(),
    );
    let items = (0..options.burst)
        .map(|i| bench.email(&format!("burst-{i:05}")))
        .collect();
    let (emulator_before, began) = (emulator::cpu(endpoint).await?, Instant::now());
    let written = bench.write(items).await?;
    let done = bench.stopped("burst-", options.burst).await?;
    let cpu = cpu_time() - cpu;
    report.burst_emulator =
        EmulatorShare::since(endpoint, emulator_before, began, options.burst).await?;
    let first = written.values().min().copied().unwrap_or_else(Utc::now);
    let last = done
        .iter()
        .filter_map(|i| stamp(i, attr::LAST_RUN_FINISH_TIME))
        .max()
        .unwrap_or(first);
    let seconds = (last - first).num_milliseconds() as f64 / 1000.0;
    report.burst_runs_per_second = (options.burst as f64 / seconds * 10.0).round() / 10.0;
    report.burst_write_to_start = Spread::of(write_to_start(&done, &written));
    let failed = done
        .iter()
        .filter(|i| i.get(attr::LAST_RUN_SUCCEEDED) != Some(&AttributeValue::Bool(true)))
        .count();
    if failed > 0 {
        bail!("{failed} burst runs failed");
    }
    let mail = emulator::sent_mail(&bench.endpoint)
        .await?
        .into_iter()
        .filter(|m| m.source.ends_with(&bench.domain))
        .count();
    if mail != options.burst {
        bail!("{mail} mails for {} runs", options.burst);
    }
    report.handler_calls_per_run = per_run(&bench.handlers.calls()[handler_calls..], options.burst);
    report.glue_calls_per_run = per_run(&bench.glue_calls.calls()[glue_calls..], options.burst);
    report.cpu_ms_per_run =
        (cpu.as_secs_f64() * 1000.0 / options.burst as f64 * 100.0).round() / 100.0;

    // Steady.
    let mut written = HashMap::new();
    let total = options.rate as u64 * options.seconds;
    let tick = Duration::from_secs(1) / options.rate.max(1);
    let emulator_before = emulator::cpu(endpoint).await?;
    let started = Instant::now();
    for i in 0..total {
        let due = started + tick * i as u32;
        tokio::time::sleep_until(due.into()).await;
        written.extend(
            bench
                .write(vec![bench.email(&format!("steady-{i:05}"))])
                .await?,
        );
    }
    let done = bench.stopped("steady-", total as usize).await?;
    report.steady_write_to_start = Spread::of(write_to_start(&done, &written));
    report.steady_emulator =
        EmulatorShare::since(endpoint, emulator_before, started, total as usize).await?;

    // ETAs, 3 s to a minute ahead.
    let now = Utc::now();
    let etas: Vec<serde_json::Value> = (0..options.etas)
        .map(|i| {
            let due = Due::ceil(
                now + TimeDelta::seconds(3 + (i as i64 * 57) / options.etas.max(1) as i64),
            );
            serde_json::json!({"id": format!("eta-{i:05}"), "kind": "log", "enabled": true,
                "nextDue": due, "params": {"message": "on time"}})
        })
        .collect();
    let dues: HashMap<String, Due> = etas
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_owned(),
                serde_json::from_value(e["nextDue"].clone()).unwrap_or(Due::floor(now)),
            )
        })
        .collect();
    bench.write(etas).await?;
    let done = bench.stopped("eta-", options.etas).await?;
    let lateness = done
        .iter()
        .filter_map(|item| {
            let id = text(item, attr::ID)?;
            let start = stamp(item, attr::LAST_RUN_START_TIME)?;
            Some((start - dues.get(&id)?.instant()).num_milliseconds())
        })
        .collect();
    report.eta_start_minus_due = Spread::of(lateness);
    report.peak_memory_mib = (peak_memory_mib() * 10.0).round() / 10.0;
    Ok(report)
}

/// What the soak found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SoakReport {
    /// Recurring workers.
    pub workers: usize,
    /// How long they ran, in minutes.
    pub minutes: u64,
    /// Due times that ran (once each, as checked).
    pub runs: usize,
    /// How far behind the workers were at the end (now − their next due time, 0 when on
    /// time): what the stack had not caught up with, waiting, not lost.
    pub behind: Spread,
    /// Due times a late run stood in for (0 when the stack keeps up).
    pub stood_in: usize,
    /// Start − due of every run.
    pub lateness: Spread,
    /// Queries of the sweep index per minute (a pass queries each of the 16 shards, a page of
    /// at most 100 entries at a time; under overload a pass takes longer than its minute).
    pub sweep_queries_per_minute: f64,
}

/// How a worker's due times were served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Served {
    /// Due times that ran (once each).
    pub ran: usize,
    /// Due times that passed while an earlier run was late, which that run stood in for (the
    /// lifecycle's catch-up: one run for missed times, never a burst).
    pub stood_in: usize,
}

/// Checks that `runs` (one worker's, any order) served every due time on a grid of `period`
/// from the first due time to the last exactly once: no due time succeeded twice, and no due
/// time was skipped unless the run before it finished after it (then that run stood in for
/// it: the lifecycle's catch-up plans the next due time from when a run finishes).
pub fn exactly_once(runs: &[RunRecord], period: TimeDelta) -> Result<Served, String> {
    let mut dues: BTreeMap<Due, (usize, DateTime<Utc>)> = BTreeMap::new();
    for run in runs
        .iter()
        .filter(|r| r.succeeded == Some(true) && !r.superseded)
    {
        let finished = run.finish_time.unwrap_or(run.start_time);
        let entry = dues.entry(run.due).or_insert((0, finished));
        entry.0 += 1;
        entry.1 = entry.1.max(finished);
    }
    if let Some((due, (n, _))) = dues.iter().find(|(_, (n, _))| *n > 1) {
        return Err(format!("{due} ran {n} times"));
    }
    let mut served = Served {
        ran: dues.len(),
        stood_in: 0,
    };
    let times: Vec<(DateTime<Utc>, DateTime<Utc>)> = dues
        .iter()
        .map(|(d, (_, started))| (d.instant(), *started))
        .collect();
    for pair in times.windows(2) {
        let ((due, finished), (next, _)) = (pair[0], pair[1]);
        let gap = next - due;
        if gap == period {
            continue;
        }
        let last_skipped = next - period;
        if gap.num_seconds() % period.num_seconds() != 0 || finished < last_skipped {
            return Err(format!(
                "due times {due} and {next} are {} s apart, and the run for {due} finished at \
                 {finished}, before {last_skipped}: a due time between them never ran",
                gap.num_seconds()
            ));
        }
        served.stood_in += (gap.num_seconds() / period.num_seconds() - 1) as usize;
    }
    Ok(served)
}

/// Checks the end of a recurring worker's record: its next due time is the grid point after
/// its last run (a later point only if that run finished after the points in between, which
/// it stood in for), or it is still running that last due time. A worker that is merely behind
/// (its next due time long past) passes: nothing of it is lost, it waits its turn.
pub fn none_missed_at_the_end(
    runs: &[RunRecord],
    next_due: Option<Due>,
    running: bool,
    period: TimeDelta,
) -> Result<(), String> {
    let Some(last) = runs
        .iter()
        .filter(|r| r.succeeded == Some(true) && !r.superseded)
        .max_by_key(|r| r.due)
    else {
        return Ok(());
    };
    let next = next_due
        .ok_or("a recurring worker has no next due time")?
        .instant();
    let gap = next - last.due.instant();
    let finished = last.finish_time.unwrap_or(last.start_time);
    let on_grid = gap.num_seconds() % period.num_seconds().max(1) == 0;
    if gap == period
        || (gap.is_zero() && running)
        || (gap > period && on_grid && finished >= next - period)
    {
        Ok(())
    } else {
        Err(format!(
            "its last run was for {}, yet it is next due at {next}",
            last.due
        ))
    }
}

/// Runs `workers` recurring workers on `rate(1 minute)` for `minutes`, and checks every due
/// time of every worker ran exactly once.
pub async fn soak(
    endpoint: &str,
    workers: usize,
    minutes: u64,
    registry: Registry,
) -> anyhow::Result<SoakReport> {
    let bench = Bench::start(endpoint, registry, Duration::from_secs(60)).await?;
    let items = (0..workers)
        .map(|i| {
            serde_json::json!({"id": format!("soak-{i:05}"), "kind": "log", "enabled": true,
            "schedule": "rate(1 minute)", "params": {"message": "tick"}})
        })
        .collect();
    let before = bench.handlers.calls().len();
    let started = Utc::now();
    bench.write(items).await?;
    tokio::time::sleep(Duration::from_secs(minutes * 60)).await;
    let ended = Utc::now();
    // Stop the stack, so nothing changes while the records are read.
    let mut bench = bench;
    bench.glue = None;
    let ids: Vec<String> = (0..workers).map(|i| format!("soak-{i:05}")).collect();
    let sweeps = bench.handlers.calls()[before..]
        .iter()
        .filter(|c| c.as_str() == "DynamoDB_20120810.Query")
        .count();
    let store = crate::wiring::store(bench.admin.dynamodb.clone(), &bench.names);
    let mut lateness = Vec::new();
    let mut behind = Vec::new();
    let (mut total, mut stood_in) = (0, 0);
    for id in &ids {
        let runs = store
            .runs(id, &crate::adapters::dynamodb::RunQuery::default())
            .await?;
        let period = TimeDelta::minutes(1);
        let served = exactly_once(&runs, period).map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        let item = store
            .get_worker(id)
            .await?
            .with_context(|| format!("{id} vanished"))?;
        let worker = crate::item::Worker::from_item(&item)?;
        let running = worker.status == Some(crate::item::Status::Running);
        none_missed_at_the_end(&runs, worker.next_due, running, period)
            .map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        if let Some(next) = worker.next_due {
            behind.push((ended - next.instant()).num_milliseconds().max(0));
        }
        total += served.ran;
        stood_in += served.stood_in;
        lateness.extend(
            runs.iter()
                .map(|r| (r.start_time - r.due.instant()).num_milliseconds()),
        );
    }
    let minutes_run = ((ended - started).num_seconds() as f64 / 60.0).max(1.0);
    Ok(SoakReport {
        workers,
        minutes,
        runs: total,
        behind: Spread::of(behind),
        stood_in,
        lateness: Spread::of(lateness),
        sweep_queries_per_minute: (sweeps as f64 / minutes_run * 10.0).round() / 10.0,
    })
}

/// A report as lines of `name  value`, nested names joined with dots, for people.
pub fn render(value: &serde_json::Value) -> String {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, inner) in map {
                    let name = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    walk(&name, inner, out);
                }
            }
            other => out.push((
                prefix.to_owned(),
                other.to_string().trim_matches('"').to_owned(),
            )),
        }
    }
    let mut lines = Vec::new();
    walk("", value, &mut lines);
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(name, value)| format!("{name:width$}  {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_share_is_its_cpu_per_run_and_the_ceiling_leaves_out_the_benchmarks_scans() {
        let account = |entries: &[(&str, u64, f64)]| -> BTreeMap<String, OperationCpu> {
            entries
                .iter()
                .map(|(op, calls, cpu_seconds)| {
                    let cpu = OperationCpu {
                        calls: *calls,
                        cpu_seconds: *cpu_seconds,
                    };
                    (op.to_string(), cpu)
                })
                .collect()
        };
        let before = account(&[("UpdateItem", 1, 1.0), ("ListTables", 1, 0.2)]);
        let after = account(&[
            ("UpdateItem", 31, 2.0),
            ("ListTables", 1, 0.2),
            ("DynamoDB_20120810.Scan", 5, 0.5),
        ]);
        let share = EmulatorShare::between(&before, &after, 10, Duration::from_secs(2));
        assert_eq!(
            share.cpu_ms_per_run,
            BTreeMap::from([
                ("DynamoDB_20120810.Scan".to_owned(), 50.0),
                ("UpdateItem".to_owned(), 100.0)
            ])
        );
        assert_eq!(share.busy_percent, 75.0);
        assert_eq!(share.ceiling_runs_per_second, 10.0);
    }

    fn run(due: &str, attempt: u32, succeeded: bool) -> RunRecord {
        let due: Due = due.parse().unwrap();
        RunRecord {
            worker_id: "w".into(),
            run_id: format!("{due}#{attempt}"),
            task_id: "t".into(),
            due,
            attempt,
            start_time: due.instant(),
            finish_time: Some(due.instant()),
            succeeded: Some(succeeded),
            message: None,
            duration_ms: None,
            retryable: None,
            superseded: false,
            skipped: false,
            progress: None,
            progress_fraction: None,
            expires_at: 0,
        }
    }

    #[test]
    fn exactly_once_finds_a_due_time_run_twice_and_one_never_run() {
        let minute = TimeDelta::minutes(1);
        let good = [
            run("2027-01-01T09:00:00Z", 1, true),
            run("2027-01-01T09:01:00Z", 1, false),
            run("2027-01-01T09:01:00Z", 2, true),
            run("2027-01-01T09:02:00Z", 1, true),
        ];
        assert_eq!(
            exactly_once(&good, minute),
            Ok(Served {
                ran: 3,
                stood_in: 0
            })
        );
        // The 09:00 run finished at 09:01:30, after 09:01 was due: it stood in for 09:01.
        let mut late = run("2027-01-01T09:00:00Z", 1, true);
        late.finish_time = Some(late.start_time + TimeDelta::seconds(90));
        let covered = [late, run("2027-01-01T09:02:00Z", 1, true)];
        assert_eq!(
            exactly_once(&covered, minute),
            Ok(Served {
                ran: 2,
                stood_in: 1
            })
        );
        let twice = [
            run("2027-01-01T09:00:00Z", 1, true),
            run("2027-01-01T09:00:00Z", 2, true),
        ];
        assert_eq!(
            exactly_once(&twice, minute),
            Err("2027-01-01T09:00:00Z ran 2 times".into())
        );
        let gap = [
            run("2027-01-01T09:00:00Z", 1, true),
            run("2027-01-01T09:02:00Z", 1, true),
        ];
        assert!(
            exactly_once(&gap, minute)
                .unwrap_err()
                .contains("never ran")
        );
    }

    #[test]
    fn spreads_are_nearest_rank_percentiles() {
        let spread = Spread::of((1..=100).collect());
        assert_eq!(
            (
                spread.min_ms,
                spread.p50_ms,
                spread.p95_ms,
                spread.p99_ms,
                spread.max_ms
            ),
            (1, 50, 95, 99, 100)
        );
    }
}

/// How fast a Lambda bootstrap starts, and how big it is.
#[derive(Clone, Debug, Serialize)]
pub struct Startup {
    /// The bootstrap's path.
    pub binary: String,
    /// Its size, in bytes.
    pub bytes: u64,
    /// Process start → its first request to the runtime API (`GET …/invocation/next`): the
    /// fastest, median and slowest of the starts, in milliseconds.
    pub init_ms: [f64; 3],
}

/// Starts `binary` `times` times against a stub of Lambda's runtime API and measures the time
/// from process start to its first request for an invocation (the function's init: reading
/// its configuration, building the AWS clients). The stub answers nothing: the process is
/// stopped once it has asked.
pub async fn startup(binary: &str, times: usize) -> anyhow::Result<Startup> {
    if times == 0 {
        bail!("measure at least one start");
    }
    use tokio::io::AsyncReadExt;
    let bytes = std::fs::metadata(binary)
        .with_context(|| format!("no bootstrap at {binary}"))?
        .len();
    let mut samples = Vec::new();
    for _ in 0..times {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = listener.local_addr()?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "startup")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .with_context(|| format!("{binary} never called the runtime API"))??;
        let mut first = [0u8; 64];
        let read = socket.read(&mut first).await?;
        let elapsed = started.elapsed();
        let line = String::from_utf8_lossy(&first[..read]);
        if !line.starts_with("GET /2018-06-01/runtime/invocation/next") {
            bail!("{binary} began with {line:?}, not a request for an invocation");
        }
        child.kill().await.ok();
        samples.push(elapsed.as_micros() as i64);
    }
    samples.sort_unstable();
    let ms = |us: i64| (us as f64 / 100.0).round() / 10.0;
    Ok(Startup {
        binary: binary.to_owned(),
        bytes,
        init_ms: [
            ms(samples[0]),
            ms(samples[samples.len() / 2]),
            ms(samples[samples.len() - 1]),
        ],
    })
}
