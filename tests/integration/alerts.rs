//! Alerts to people on the emulator: a flood of failing workers reaches the alert queue through
//! the template's rule, and the alerter sends one digest per batch, not one message per worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use nextdue::adapters::sns::SnsTopic;
use nextdue::glue::mapping::ALERT_BATCH_SIZE;
use nextdue::handlers::alerter::{Alerter, handle_alerts};
use serde_json::json;

use crate::support::TestStack;

const FLOOD: usize = 500;

async fn depth(stack: &TestStack, url: &str) -> usize {
    let answer = stack
        .stack
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .expect("GetQueueAttributes");
    answer
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Takes one batch off the alert queue as the alerter's mapping gathers it: until the batch is
/// full or the queue has no more.
async fn gather(stack: &TestStack, url: &str) -> (SqsEvent, Vec<String>) {
    let mut event = SqsEvent::default();
    let mut receipts = Vec::new();
    while event.records.len() < ALERT_BATCH_SIZE {
        let messages = stack.receive(url).await;
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.body = message.body.clone();
            event.records.push(record);
            receipts.push(message.receipt_handle.unwrap_or_default());
        }
    }
    (event, receipts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_failing_workers_sends_one_digest_not_one_message_each() {
    let mut stack = TestStack::provisioned("alerts").await;
    let sns = stack.stack.clients.sns.clone();
    let topic = sns
        .create_topic()
        .name(stack.names.alerts_topic_name())
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .unwrap();
    // What the topic sends, as an e-mail subscription would receive it, lands in a queue.
    let inbox = stack
        .stack
        .clients
        .sqs
        .create_queue()
        .queue_name(format!("{}inbox", stack.names.queue_prefix))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .unwrap();
    let inbox_arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}inbox",
        stack.names.queue_prefix
    );
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(inbox_arn)
        .send()
        .await
        .expect("Subscribe");

    for i in 0..FLOOD {
        stack
            .put(
                json!({"id": format!("w{i:03}"), "kind": "always-fails", "enabled": true,
                "maxAttempts": 1}),
            )
            .await;
    }
    stack.start_glue().await;
    let alerts = stack.queue_url(&stack.names.alerts_queue_name()).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    while depth(&stack, &alerts).await < FLOOD {
        assert!(
            Instant::now() < deadline,
            "only {} of {FLOOD} alerts reached the alert queue",
            depth(&stack, &alerts).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stack.stop_glue();

    let alerter = Alerter {
        notifier: Arc::new(SnsTopic::new(sns, &topic)),
    };
    let mut digests_sent = 0;
    let mut alerts_handled = 0;
    loop {
        let (batch, receipts) = gather(&stack, &alerts).await;
        if batch.records.is_empty() {
            break;
        }
        let response = handle_alerts(&batch, &alerter).await;
        assert!(response.batch_item_failures.is_empty());
        alerts_handled += batch.records.len();
        digests_sent += 1;
        for receipt in receipts {
            stack
                .stack
                .clients
                .sqs
                .delete_message()
                .queue_url(&alerts)
                .receipt_handle(receipt)
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
    assert_eq!(
        alerts_handled, FLOOD,
        "each failing worker's give-up is one alert"
    );
    assert_eq!(digests_sent, FLOOD.div_ceil(ALERT_BATCH_SIZE));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = stack
        .stack
        .clients
        .sqs
        .receive_message()
        .queue_url(&inbox)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default();
    assert_eq!(
        received.len(),
        1,
        "one message reached the topic's subscriber"
    );
    let body: serde_json::Value =
        serde_json::from_str(received[0].body().unwrap_or_default()).unwrap();
    assert_eq!(
        body["Subject"],
        format!("nextdue: {FLOOD} alerts ({FLOOD} Worker Gave Up)")
    );
    let text = body["Message"].as_str().unwrap_or_default();
    assert!(text.contains("… and 480 more"), "{text}");
}
