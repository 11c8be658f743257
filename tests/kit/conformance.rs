//! The seams' promises, on the test kit's memory store and queues (the integration suite runs
//! the same checks on the AWS adapters against the emulator).

use std::sync::Arc;

use chrono::Utc;
use nextdue::adapters::clock::SystemClock;
use nextdue::config::Names;
use nextdue::item::DEFAULT_QUEUE;
use nextdue::testing::conformance::{control_store, deliver, worker_store};
use nextdue::testing::{MemoryControl, MemoryDelivery, MemoryStore};

#[tokio::test]
async fn the_memory_store_keeps_every_promise_of_a_worker_store() {
    worker_store(&MemoryStore::new(), "kit").await;
}

#[tokio::test]
async fn the_memory_control_table_keeps_every_promise_of_a_control_store() {
    control_store(&MemoryControl::new(), "kit").await;
}

#[tokio::test]
async fn the_memory_queues_keep_every_promise_of_a_delivery() {
    let queues = MemoryDelivery::new(
        Names::default(),
        vec![DEFAULT_QUEUE.to_owned()],
        Arc::new(SystemClock),
    );
    deliver(&queues, &queues, DEFAULT_QUEUE, "kit", Utc::now()).await;
}
