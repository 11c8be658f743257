//! The imitation of Lambda's glue, written once for the local stack (`nextdue dev`) and the test
//! kit: the event source mappings' numbers ([`mapping`]), the stream's filtering, retries and
//! set-aside ([`stream`]), and the SQS events with their failures, visibility and redrive
//! ([`queue`]). `tests/configuration.rs` checks every number against `template.yaml`.

pub mod mapping;
pub mod queue;
pub mod stream;
