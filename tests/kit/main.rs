//! The handlers' logic on the test kit (`nextdue::testing`): the real dispatcher, executor and
//! sweeper on memory seams and a virtual clock, so these run in milliseconds without the
//! emulator. The integration suite keeps what needs the real SDK: the AWS seam and fault
//! injection.

mod conformance;
mod events;
#[path = "../common/kinds.rs"]
mod kinds;
mod lifecycle;
mod limits;
mod numbers;
mod pauses;
mod progress;
mod schedules;
mod spawn;
