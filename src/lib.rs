//! nextdue: persistent, observable background workers for AWS.
//!
//! A worker is a DynamoDB item that *is* a background job: write it with `enabled = true` and it
//! runs at its due time, as often as its schedule says, and the item itself records how each
//! run went.
//!
//! The core is pure and imports no AWS crate: [`item`] (the item model), [`schedule`] (when),
//! [`lifecycle`] (what happens), [`job`] and [`jobs`] (the work: your own kinds implement
//! [`job::TypedJob`]), [`stream_filter`] (which changes reach the dispatcher), [`events`] (the facts a change
//! tells), [`alerts`] (their digests for people), [`controls`] (operators' pauses). It reaches the
//! world through [`seams`], traits free of every SDK; [`adapters`] puts them on AWS, a file per
//! service; the [`handlers`] apply the core's decisions through the seams; [`wiring`] is the one
//! place that builds them, and [`serve`] runs them as the three Lambda functions of your own
//! binaries. Behind the `dev` feature, `dev` is the local stack (`nextdue dev`) and `ops` the
//! operator's commands; behind `testing`, `testing` is the test kit; both play Lambda's glue
//! through `glue`.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod alerts;
pub mod controls;
pub mod events;
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
