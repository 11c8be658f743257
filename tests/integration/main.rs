//! Integration tests: the real handlers and glue, through the real AWS SDK clients, against the
//! emulator that `infra/test.sh` starts. Each test has resources of its own.

mod alerts;
mod bad_input;
mod cargo_lambda;
mod cli;
mod conformance;
mod crashes;
mod dev_restart;
mod duplicates;
mod events;
mod failures;
mod http_and_lambda;
mod iam;
mod parity;
mod runs;
mod senders;
mod soak;
mod spawn;
mod steering;
mod support;
mod sweeper;
