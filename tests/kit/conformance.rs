//! The store's promises, on the test kit's memory store (the integration suite runs the same
//! checks on DynamoDB's adapter against the emulator).

use nextdue::testing::MemoryStore;
use nextdue::testing::conformance::worker_store;

#[tokio::test]
async fn the_memory_store_keeps_every_promise_of_a_worker_store() {
    worker_store(&MemoryStore::new(), "kit").await;
}
