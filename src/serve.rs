//! The Lambda functions as entry points: a binary's `main` passes its job registry and
//! awaits one of them, so a team runs its own kinds in its own binaries without forking nextdue.
//!
//! ```no_run
//! // src/bin/executor.rs of your own package
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     nextdue::serve::executor(nextdue::jobs::builtin()).await
//! }
//! ```

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::sqs::SqsEvent;
use chrono::{DateTime, TimeDelta, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

use crate::config::Settings;
use crate::handlers::alerter::handle_alerts;
use crate::handlers::dispatcher::handle_stream;
use crate::handlers::executor::handle_queue;
use crate::handlers::sweeper::sweep_once;
use crate::job::Registry;
use crate::lifecycle::SweepReport;
use crate::wiring;

// A panicking job is caught and recorded as that run's failure only if panics unwind; with
// `panic = "abort"` one panic would end every run of the batch. Refuse to build such an
// executor (cargo-lambda chooses abort unless the release profile says otherwise).
#[cfg(panic = "abort")]
compile_error!(
    "nextdue's executor must be built with panic = \"unwind\": set it in [profile.release]"
);

/// What every function starts from, once per process (one Lambda execution environment):
/// Lambda's logging, the SDK config and the deployment's settings.
async fn environment() -> Result<(SdkConfig, Settings), Error> {
    crate::logging::init();
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    Ok((config, Settings::from_env()?))
}

/// `value` for the rest of the process, so the handlers borrow it for `'static`.
fn for_the_process<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// The dispatcher: the workers table's stream → [`handle_stream`].
pub async fn dispatcher(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_dispatcher(registry)).await
}

async fn serve_dispatcher(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let dispatcher = for_the_process(wiring::dispatcher(&config, &settings, registry));
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(handle_stream(&event.payload, dispatcher).await)
    }))
    .await
}

/// The executor: the worker queues → [`handle_queue`], with partial batch responses. The
/// invocation's deadline bounds every run and is the lease of its claim.
pub async fn executor(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_executor(registry)).await
}

async fn serve_executor(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let executor = for_the_process(wiring::executor(&config, &settings, registry));
    let timeout = settings.function_timeout;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = invocation_deadline(event.context.deadline, Utc::now(), timeout);
        Ok::<_, Error>(handle_queue(&event.payload, executor, deadline).await)
    }))
    .await
}

/// The invocation's deadline from the runtime's `Lambda-Runtime-Deadline-Ms` (epoch
/// milliseconds). One that cannot be right (already past, or further off than Lambda's longest
/// timeout: a local runtime emulator's, say) is the caller's bug: the function's own `timeout`
/// from `now` stands in, and a warning says so once per process.
pub fn invocation_deadline(
    deadline_ms: u64,
    now: DateTime<Utc>,
    timeout: TimeDelta,
) -> DateTime<Utc> {
    let longest = TimeDelta::seconds(crate::config::MAX_FUNCTION_TIMEOUT_SECONDS + 60);
    match i64::try_from(deadline_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
    {
        Some(deadline) if deadline > now && deadline <= now + longest => deadline,
        given => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    deadline_ms,
                    given = ?given.map(crate::timestamp::format_stamp),
                    timeout_seconds = timeout.num_seconds(),
                    "the runtime gave an invocation deadline that cannot be right; using the \
                     function's timeout (NEXTDUE_FUNCTION_TIMEOUT_SECONDS) from now instead"
                );
            });
            now + timeout
        }
    }
}

/// The sweeper, on a `rate(1 minute)` schedule: one pass of [`sweep_once`].
pub async fn sweeper(registry: Registry) -> Result<(), Error> {
    // Boxed, so the caller's `main` future stays small (and its type shallow).
    Box::pin(serve_sweeper(registry)).await
}

async fn serve_sweeper(registry: Registry) -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let sweeper = for_the_process(wiring::sweeper(&config, &settings, registry));
    run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let report: SweepReport = sweep_once(sweeper, Utc::now()).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}

/// The alerter: the alert queue → [`handle_alerts`], one digest per batch.
pub async fn alerter() -> Result<(), Error> {
    let (config, settings) = environment().await?;
    let alerter = for_the_process(wiring::alerter(&config, &settings).map_err(Error::from)?);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle_alerts(&event.payload, alerter).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_implausible_invocation_deadline_gives_way_to_the_function_timeout() {
        let now = DateTime::parse_from_rfc3339("2027-01-04T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let timeout = TimeDelta::seconds(60);
        let in_ms = |at: DateTime<Utc>| at.timestamp_millis() as u64;
        let fine = now + TimeDelta::seconds(30);
        assert_eq!(invocation_deadline(in_ms(fine), now, timeout), fine);
        // What cargo lambda watch's runtime gave: ten minutes after the epoch.
        for wrong in [
            600_000,
            0,
            in_ms(now),
            in_ms(now + TimeDelta::hours(2)),
            u64::MAX,
        ] {
            assert_eq!(
                invocation_deadline(wrong, now, timeout),
                now + timeout,
                "{wrong}"
            );
        }
    }
}
