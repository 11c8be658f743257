//! The seams' promises, on the AWS adapters against the emulator: the very checks the test
//! kit's memory store and queues pass (`tests/kit/conformance.rs`), so the two behave alike.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use nextdue::adapters::control::ControlTable;
use nextdue::item::DEFAULT_QUEUE;
use nextdue::seams::QueueRef;
use nextdue::testing::conformance::{Inbox, control_store, deliver, worker_store};

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_store_keeps_every_promise_of_a_worker_store() {
    let stack = TestStack::provisioned("conformance").await;
    worker_store(&stack.stack.store, "emulator").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamodb_control_table_keeps_every_promise_of_a_control_store() {
    let stack = TestStack::provisioned("conformance-control").await;
    let table = ControlTable::new(
        stack.stack.clients.dynamodb.clone(),
        &stack.stack.settings.names.control_table,
    );
    control_store(&table, "emulator").await;
}

/// A queue read through SQS: received (long-polled until `within` has passed) and deleted.
struct SqsInbox(aws_sdk_sqs::Client);

#[async_trait]
impl Inbox for SqsInbox {
    async fn take(&self, queue: &QueueRef, within: Duration) -> Vec<String> {
        let until = Instant::now() + within;
        let mut bodies = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let received = self
                .0
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(left.as_secs().min(1) as i32)
                .send()
                .await
                .expect("ReceiveMessage");
            for message in received.messages.unwrap_or_default() {
                self.0
                    .delete_message()
                    .queue_url(&queue.url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
                bodies.extend(message.body);
            }
            if !bodies.is_empty() || left.is_zero() {
                return bodies;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_and_scheduler_keep_every_promise_of_a_delivery() {
    let stack = TestStack::provisioned("conformance-delivery").await;
    let inbox = SqsInbox(stack.stack.clients.sqs.clone());
    deliver(
        stack.stack.delivery.as_ref(),
        &inbox,
        DEFAULT_QUEUE,
        "emulator",
        Utc::now(),
    )
    .await;
}
