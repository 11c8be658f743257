//! The numbers of the deployment's event source mappings and queues, as `template.yaml` sets
//! them (`tests/configuration.rs` holds the two equal). The local stack and the test kit play
//! Lambda by these.

/// Stream records per dispatcher invocation (the stream mapping's `BatchSize`).
pub const STREAM_BATCH_SIZE: usize = 100;
/// Retries of a failing stream record before it is set aside (`MaximumRetryAttempts`).
pub const STREAM_RETRIES: u32 = 10;
/// Times a stream record is handed to the dispatcher before it is set aside: the first try and
/// its retries.
pub const STREAM_ATTEMPTS: u32 = STREAM_RETRIES + 1;
/// Messages per executor invocation (the queue mappings' `BatchSize`).
pub const QUEUE_BATCH_SIZE: usize = 10;
/// Receives of a message before its queue moves it to the dead-letter queue (the redrive
/// policy's `maxReceiveCount`).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// How long a received message stays invisible (the worker queues' `VisibilityTimeout`).
pub const VISIBILITY_TIMEOUT_SECONDS: i64 = 5400;
/// How long one executor invocation may last (the executor's `Timeout`, which is also the
/// executor's own default, `NEXTDUE_FUNCTION_TIMEOUT_SECONDS`).
pub const FUNCTION_TIMEOUT_SECONDS: i64 = crate::config::DEFAULT_FUNCTION_TIMEOUT_SECONDS;
/// How often the sweeper runs (its schedule, `rate(1 minute)`).
pub const SWEEP_EVERY_SECONDS: i64 = 60;
/// Alerts per alerter invocation at most (the alert queue mapping's `BatchSize`).
pub const ALERT_BATCH_SIZE: usize = 10_000;
/// How long the alert queue mapping gathers a batch by default (`AlertDigestSeconds`): at most
/// one digest per window and alerter running at once.
pub const ALERT_WINDOW_SECONDS: u64 = 300;
/// How many alerter invocations run at once at most (the mapping's `MaximumConcurrency`,
/// Lambda's least).
pub const ALERT_CONCURRENCY: u32 = 2;
