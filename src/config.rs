//! Deployment settings, read once from the environment (`NEXTDUE_…`), with the defaults of the
//! design: `nextdue-workers`, `nextdue-runs`, `nextdue-control`, queues `nextdue-<name>`, schedule group `nextdue`.

use std::env;

use chrono::TimeDelta;

use crate::events::EventSet;
use crate::item::{DEFAULT_QUEUE, is_queue_name};
use crate::job::{DEFAULT_MAX_SPAWN_DEPTH, JobLimits};
use crate::lifecycle::{
    DEFAULT_QUEUE_CONCURRENCY, DEFAULT_RUN_RETENTION_DAYS, DEFAULT_SWEEP_GRACE_SECONDS,
    DEFAULT_SWEEP_SHARDS, Policy, QueueSpec,
};
use crate::network::NetworkPolicy;

/// Default name of the workers table.
pub const DEFAULT_WORKERS_TABLE: &str = "nextdue-workers";
/// Default name of the runs table.
pub const DEFAULT_RUNS_TABLE: &str = "nextdue-runs";
/// Default name of the control table (the deployment's own records).
pub const DEFAULT_CONTROL_TABLE: &str = "nextdue-control";
/// Default prefix of queue names: a worker's `queue` `default` is the queue `nextdue-default`.
pub const DEFAULT_QUEUE_PREFIX: &str = "nextdue-";
/// Default EventBridge event bus the events go to (the template creates it).
pub const DEFAULT_EVENT_BUS: &str = "nextdue";
/// Default EventBridge Scheduler group for one-time schedules.
pub const DEFAULT_SCHEDULE_GROUP: &str = "nextdue";
/// The role Scheduler assumes to send to the queue, when none is configured (the emulator
/// accepts any; a real deployment sets `NEXTDUE_SCHEDULER_ROLE_ARN`).
pub const PLACEHOLDER_SCHEDULER_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/nextdue-scheduler";
/// How long before the invocation's deadline a run is cut off, so its outcome can be recorded.
pub const DEFAULT_SAFETY_MARGIN_SECONDS: i64 = 5;
/// The executor's timeout when `NEXTDUE_FUNCTION_TIMEOUT_SECONDS` does not say: the
/// template's (Lambda's longest, 15 minutes).
pub const DEFAULT_FUNCTION_TIMEOUT_SECONDS: i64 = 900;
/// The longest timeout Lambda allows a function, in seconds.
pub const MAX_FUNCTION_TIMEOUT_SECONDS: i64 = 900;

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Where nextdue keeps its state and sends its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// The workers table (`NEXTDUE_WORKERS_TABLE`).
    pub workers_table: String,
    /// The runs table (`NEXTDUE_RUNS_TABLE`).
    pub runs_table: String,
    /// The control table (`NEXTDUE_CONTROL_TABLE`).
    pub control_table: String,
    /// The prefix of queue names (`NEXTDUE_QUEUE_PREFIX`).
    pub queue_prefix: String,
    /// The Scheduler group (`NEXTDUE_SCHEDULE_GROUP`).
    pub schedule_group: String,
    /// The role Scheduler assumes (`NEXTDUE_SCHEDULER_ROLE_ARN`).
    pub scheduler_role_arn: String,
    /// The EventBridge bus events are published to (`NEXTDUE_EVENT_BUS`).
    pub event_bus: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            workers_table: DEFAULT_WORKERS_TABLE.into(),
            runs_table: DEFAULT_RUNS_TABLE.into(),
            control_table: DEFAULT_CONTROL_TABLE.into(),
            queue_prefix: DEFAULT_QUEUE_PREFIX.into(),
            schedule_group: DEFAULT_SCHEDULE_GROUP.into(),
            scheduler_role_arn: PLACEHOLDER_SCHEDULER_ROLE_ARN.into(),
            event_bus: DEFAULT_EVENT_BUS.into(),
        }
    }
}

impl Names {
    /// Every name prefixed with `prefix` (tests use one prefix each, so they run in parallel).
    pub fn prefixed(prefix: &str) -> Self {
        Names {
            workers_table: format!("{prefix}-workers"),
            runs_table: format!("{prefix}-runs"),
            control_table: format!("{prefix}-control"),
            queue_prefix: format!("{prefix}-"),
            schedule_group: prefix.to_owned(),
            scheduler_role_arn: PLACEHOLDER_SCHEDULER_ROLE_ARN.into(),
            event_bus: prefix.to_owned(),
        }
    }

    /// The queue a worker's `queue` attribute names.
    pub fn queue_name(&self, queue: &str) -> String {
        format!("{}{queue}", self.queue_prefix)
    }

    /// The queue where stream records the dispatcher gave up on are set aside.
    pub fn stream_failure_queue_name(&self) -> String {
        format!("{}stream-failures", self.queue_prefix)
    }

    /// The queue every event on the bus is copied to in the local stack (`nextdue tail
    /// --events` reads it; a deployment may subscribe one the same way).
    pub fn events_tap_queue_name(&self) -> String {
        format!("{}events-tap", self.queue_prefix)
    }

    /// The rule on the bus that copies every event of nextdue's to the tap queue.
    pub fn events_tap_rule_name(&self) -> String {
        format!("{}events-tap", self.queue_prefix)
    }

    /// The queue the alert rule sends alerts to, for the alerter.
    pub fn alerts_queue_name(&self) -> String {
        format!("{}alerts", self.queue_prefix)
    }

    /// The rule on the bus that sends alerts to the alert queue.
    pub fn alerts_rule_name(&self) -> String {
        format!("{}alerts", self.queue_prefix)
    }

    /// The alert topic the local stack creates (a deployment's comes from the template).
    pub fn alerts_topic_name(&self) -> String {
        format!("{}alerts", self.queue_prefix)
    }

    /// The dead-letter queue of a queue.
    pub fn dead_letter_queue_name(&self, queue: &str) -> String {
        format!("{}{queue}-dlq", self.queue_prefix)
    }
}

/// The largest maximum concurrency Lambda allows on an SQS event source mapping.
pub const MAX_QUEUE_CONCURRENCY: u32 = 1000;

/// Reads the deployment's worker queues: `name` or `name:concurrency`, comma separated (the
/// template's `Queues` parameter, for example `default:20,reports:5`).
///
/// ```
/// use nextdue::config::parse_queues;
/// let queues = parse_queues("default:20, reports:5").unwrap();
/// assert_eq!((queues[1].name.as_str(), queues[1].max_concurrency), ("reports", 5));
/// assert_eq!(parse_queues("default").unwrap()[0].max_concurrency, 20);
/// assert!(parse_queues("default-dlq").is_err());
/// ```
pub fn parse_queues(text: &str) -> Result<Vec<QueueSpec>, ConfigError> {
    let problem = |problem: String| ConfigError {
        name: "NEXTDUE_QUEUES",
        problem,
    };
    let mut queues: Vec<QueueSpec> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, concurrency) = match entry.split_once(':') {
            Some((name, n)) => (name.trim(), Some(n.trim())),
            None => (entry, None),
        };
        if !is_queue_name(name) {
            return Err(problem(format!(
                "{name:?} is not a queue name (1 to 72 letters, digits, - or _)"
            )));
        }
        if name.ends_with("-dlq") || ["stream-failures", "events-tap", "alerts"].contains(&name) {
            return Err(problem(format!(
                "{name:?} is the name of one of nextdue's own queues"
            )));
        }
        if queues.iter().any(|q| q.name == name) {
            return Err(problem(format!("{name:?} is listed twice")));
        }
        let max_concurrency = match concurrency {
            None => DEFAULT_QUEUE_CONCURRENCY,
            Some(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| (2..=MAX_QUEUE_CONCURRENCY).contains(n))
                .ok_or_else(|| {
                    problem(format!(
                        "{entry:?}: the concurrency must be a whole number from 2 to \
                         {MAX_QUEUE_CONCURRENCY} (Lambda's limits)"
                    ))
                })?,
        };
        queues.push(QueueSpec {
            name: name.to_owned(),
            max_concurrency,
        });
    }
    if queues.is_empty() {
        return Err(problem("lists no queue".into()));
    }
    Ok(queues)
}

/// The longest queue name SQS accepts.
pub const MAX_SQS_QUEUE_NAME: usize = 80;

impl Names {
    /// Checks that every queue nextdue makes for `queues` (each queue, its dead-letter queue,
    /// the stream's set-aside queue) has a name SQS accepts: the prefix counts, and `-dlq`.
    pub fn check_queue_names(&self, queues: &[QueueSpec]) -> Result<(), ConfigError> {
        let longest = MAX_SQS_QUEUE_NAME.saturating_sub(self.dead_letter_queue_name("").len());
        if let Some(queue) = queues
            .iter()
            .find(|q| self.dead_letter_queue_name(&q.name).len() > MAX_SQS_QUEUE_NAME)
        {
            return Err(ConfigError {
                name: "NEXTDUE_QUEUES",
                problem: format!(
                    "{:?} is too long: its dead-letter queue {:?} would pass SQS's \
                     {MAX_SQS_QUEUE_NAME} characters (with the prefix {:?}, a queue name may \
                     have at most {longest})",
                    queue.name,
                    self.dead_letter_queue_name(&queue.name),
                    self.queue_prefix
                ),
            });
        }
        if self.stream_failure_queue_name().len() > MAX_SQS_QUEUE_NAME {
            return Err(ConfigError {
                name: "NEXTDUE_QUEUE_PREFIX",
                problem: format!(
                    "{:?} is too long: {:?} would pass SQS's {MAX_SQS_QUEUE_NAME} characters",
                    self.queue_prefix,
                    self.stream_failure_queue_name()
                ),
            });
        }
        Ok(())
    }
}

/// Everything a handler needs to know besides its clients.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Resource names.
    pub names: Names,
    /// Rules for jobs: the spawn depth limit (`NEXTDUE_MAX_SPAWN_DEPTH`), the addresses and
    /// domains the `email` job may send from (`NEXTDUE_ALLOWED_SENDERS`, comma separated; empty:
    /// any identity SES has verified), and the non-public ranges the `http` job may reach
    /// (`NEXTDUE_HTTP_ALLOW`: `loopback`, `private`, `link-local`; empty: none).
    pub limits: JobLimits,
    /// Retry, retention and sweep policy, and the worker queues (`NEXTDUE_RUN_RETENTION_DAYS`,
    /// `NEXTDUE_SWEEP_GRACE_SECONDS`, `NEXTDUE_SWEEP_SHARDS`, `NEXTDUE_QUEUES`).
    pub policy: Policy,
    /// How long before the invocation's deadline a run is cut off.
    pub safety_margin: TimeDelta,
    /// The executor function's timeout (`NEXTDUE_FUNCTION_TIMEOUT_SECONDS`, the template's
    /// `Timeout`): the deadline an invocation gets when its caller gives none that makes sense
    /// (a local runtime emulator's deadline in the past, say).
    pub function_timeout: TimeDelta,
    /// Whether the executor prints Embedded Metric Format lines (in Lambda, where
    /// `AWS_LAMBDA_FUNCTION_NAME` is set).
    pub emit_metrics: bool,
    /// Which events are published about workers whose `notify` does not say (`NEXTDUE_EVENTS`:
    /// `all`, the default, `none`, or a comma-separated list of detail types).
    pub events: EventSet,
    /// The SNS topic the alerter sends digests to (`NEXTDUE_ALERT_TOPIC_ARN`; the alerter
    /// alone needs it).
    pub alert_topic_arn: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            names: Names::default(),
            limits: JobLimits::default(),
            policy: Policy::default(),
            safety_margin: TimeDelta::seconds(DEFAULT_SAFETY_MARGIN_SECONDS),
            function_timeout: TimeDelta::seconds(DEFAULT_FUNCTION_TIMEOUT_SECONDS),
            emit_metrics: false,
            events: EventSet::all(),
            alert_topic_arn: None,
        }
    }
}

fn text(name: &'static str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn number(
    name: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let Ok(value) = env::var(name) else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError {
            name,
            problem: format!(
                "expected a whole number from {} to {}, got {value:?}",
                range.start(),
                range.end()
            ),
        })
}

impl Settings {
    /// Reads the settings from `NEXTDUE_…` environment variables.
    pub fn from_env() -> Result<Settings, ConfigError> {
        let names = Names {
            workers_table: text("NEXTDUE_WORKERS_TABLE", DEFAULT_WORKERS_TABLE),
            runs_table: text("NEXTDUE_RUNS_TABLE", DEFAULT_RUNS_TABLE),
            control_table: text("NEXTDUE_CONTROL_TABLE", DEFAULT_CONTROL_TABLE),
            queue_prefix: text("NEXTDUE_QUEUE_PREFIX", DEFAULT_QUEUE_PREFIX),
            schedule_group: text("NEXTDUE_SCHEDULE_GROUP", DEFAULT_SCHEDULE_GROUP),
            scheduler_role_arn: text("NEXTDUE_SCHEDULER_ROLE_ARN", PLACEHOLDER_SCHEDULER_ROLE_ARN),
            event_bus: text("NEXTDUE_EVENT_BUS", DEFAULT_EVENT_BUS),
        };
        let events =
            EventSet::parse(&text("NEXTDUE_EVENTS", "all")).map_err(|problem| ConfigError {
                name: "NEXTDUE_EVENTS",
                problem,
            })?;
        let allowed_senders = text("NEXTDUE_ALLOWED_SENDERS", "")
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        let retention_days = number(
            "NEXTDUE_RUN_RETENTION_DAYS",
            DEFAULT_RUN_RETENTION_DAYS,
            1..=3650,
        )?;
        let sweep_grace = number(
            "NEXTDUE_SWEEP_GRACE_SECONDS",
            DEFAULT_SWEEP_GRACE_SECONDS,
            1..=86_400,
        )?;
        let max_spawn_depth = number(
            "NEXTDUE_MAX_SPAWN_DEPTH",
            DEFAULT_MAX_SPAWN_DEPTH.into(),
            0..=100,
        )?;
        let queues = parse_queues(&text("NEXTDUE_QUEUES", DEFAULT_QUEUE))?;
        names.check_queue_names(&queues)?;
        let sweep_shards = number(
            "NEXTDUE_SWEEP_SHARDS",
            DEFAULT_SWEEP_SHARDS.into(),
            i64::from(DEFAULT_SWEEP_SHARDS)..=4096,
        )?;
        let function_timeout = number(
            "NEXTDUE_FUNCTION_TIMEOUT_SECONDS",
            DEFAULT_FUNCTION_TIMEOUT_SECONDS,
            1..=MAX_FUNCTION_TIMEOUT_SECONDS,
        )?;
        let http_allow =
            NetworkPolicy::parse(&text("NEXTDUE_HTTP_ALLOW", "")).map_err(|problem| {
                ConfigError {
                    name: "NEXTDUE_HTTP_ALLOW",
                    problem,
                }
            })?;
        Ok(Settings {
            names,
            limits: JobLimits {
                http_allow,
                max_spawn_depth: max_spawn_depth as u32,
                allowed_senders,
            },
            policy: Policy {
                retention: TimeDelta::days(retention_days),
                sweep_grace: TimeDelta::seconds(sweep_grace),
                queues,
                sweep_shards: sweep_shards as u32,
                ..Policy::default()
            },
            safety_margin: TimeDelta::seconds(DEFAULT_SAFETY_MARGIN_SECONDS),
            function_timeout: TimeDelta::seconds(function_timeout),
            emit_metrics: env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some(),
            events,
            alert_topic_arn: Some(text("NEXTDUE_ALERT_TOPIC_ARN", "")).filter(|t| !t.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_whose_dead_letter_queue_would_pass_sqs_limit_is_refused() {
        let names = Names::default();
        let fits = "q".repeat(MAX_SQS_QUEUE_NAME - "nextdue-".len() - "-dlq".len());
        assert!(
            names
                .check_queue_names(&parse_queues(&fits).unwrap())
                .is_ok()
        );
        for extra in 1..=4 {
            let name = format!("{fits}{}", "q".repeat(extra));
            let queues = parse_queues(&name).expect("a queue name by itself");
            let error = names.check_queue_names(&queues).unwrap_err();
            assert_eq!(error.name, "NEXTDUE_QUEUES");
            assert!(error.problem.contains("at most 68"), "{error}");
        }
        for taken in ["alerts", "events-tap", "stream-failures"] {
            let error = parse_queues(taken).unwrap_err();
            assert!(error.problem.contains("nextdue's own queues"), "{error}");
        }
        let long_prefix = Names {
            queue_prefix: "p".repeat(70),
            ..Names::default()
        };
        let error = long_prefix
            .check_queue_names(&parse_queues("default").unwrap())
            .unwrap_err();
        assert!(error.problem.contains("default-dlq"), "{error}");
    }
}
