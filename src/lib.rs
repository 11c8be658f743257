//! nextdue: persistent, observable background workers for AWS.
//!
//! A worker is a DynamoDB item that *is* a background job: write it with `enabled = true` and it
//! runs at its due time, as often as its schedule says, and the item itself records how each
//! run went. This crate holds the pure core ([`timestamp`], [`schedule`]) and grows the AWS
//! shell around it.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod item;
pub mod schedule;
pub mod timestamp;
