//! The adapters: the seams ([`crate::seams`]) on AWS, one file per service, with the clients
//! they share and the SDK's errors in readable form. Only [`crate::wiring`], the local stack and
//! the operator's commands build them; the handlers, jobs and lifecycle never name them.

pub mod clients;
pub mod clock;
pub mod control;
pub mod dynamodb;
pub mod eventbridge;
pub mod http;
pub mod lambda;
pub mod scheduler;
pub mod sdk_error;
pub mod ses;
pub mod sns;
pub mod sqs;
