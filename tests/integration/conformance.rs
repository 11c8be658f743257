//! The store's promises, on DynamoDB's adapter against the emulator: the very checks the test
//! kit's memory store passes (`tests/kit/conformance.rs`), so the two behave alike.

use nextdue::testing::conformance::worker_store;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_store_keeps_every_promise_of_a_worker_store() {
    let stack = TestStack::provisioned("conformance").await;
    worker_store(&stack.stack.store, "emulator").await;
}
