//! nextdue: persistent, observable background workers for AWS.
//!
//! A worker is a DynamoDB item that *is* a background job: write it with `enabled = true` and it
//! runs at its due time, as often as its schedule says, and the item itself records how each
//! run went.
//!
//! The core is pure and imports no AWS crate: [`item`] (the item model), [`schedule`] (when),
//! [`lifecycle`] (what happens), [`job`] and [`jobs`] (the work, behind seams: your own kinds
//! implement [`job::TypedJob`]), [`stream_filter`] (which changes reach the dispatcher). The
//! AWS shell applies its decisions: [`store`], [`delivery`], [`mail`], the [`handlers`], and
//! [`lambda`], the three functions as entry points for your own binaries. Behind the `dev`
//! feature, `dev` is the local stack (`nextdue dev`) and its command line.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod item;
pub mod job;
pub mod jobs;
pub mod lifecycle;
pub mod network;
pub mod schedule;
pub mod stream_filter;
pub mod timestamp;

pub mod seams;

pub mod adapters;
pub mod config;
#[cfg(feature = "dev")]
pub mod dev;
#[cfg(feature = "dev")]
pub mod faults;
#[cfg(any(feature = "dev", feature = "testing"))]
pub mod glue;
pub mod handlers;
pub mod logging;
#[cfg(feature = "dev")]
pub mod ops;
pub mod serve;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wiring;
