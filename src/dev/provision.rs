//! Creates the tables (workers, runs, control), queues, schedule group and event bus of
//! [`Names`], if absent. Idempotent.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::adapters::clients::Clients;
use crate::adapters::dynamodb::SWEEP_INDEX;
use crate::adapters::sdk_error;
use crate::adapters::sqs::lookup_queue;
use crate::config::Names;
use crate::glue::mapping::MAX_RECEIVE_COUNT;
use crate::item::attr;
use crate::lifecycle::QueueSpec;

/// What CreateTable answers for a table that exists.
const TABLE_EXISTS: &[&str] = &["ResourceInUseException"];

/// Queue settings for provisioning.
#[derive(Clone, Copy, Debug)]
pub struct QueueSettings {
    /// Seconds a received message stays hidden before SQS delivers it again.
    pub visibility_timeout_seconds: u32,
}

/// Whether a create call made `name` (`false`: it existed, as one of the `exists` error codes
/// says); any other failure is an error naming the `call`.
fn created<T, E, R>(
    result: Result<T, sdk_error::SdkError<E, R>>,
    call: &str,
    name: &str,
    exists: &[&str],
) -> anyhow::Result<bool>
where
    E: sdk_error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if sdk_error::code_is(&error, exists) => Ok(false),
        Err(error) => anyhow::bail!("{call} {name}: {}", sdk_error::message(error)),
    }
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// Creates the event bus; the tap, a queue with a rule that copies every event of nextdue's to
/// it (the emulator delivers to SQS targets, as EventBridge does); the alert queue with the
/// template's alert rule; and the alert topic.
async fn provision_events(clients: &Clients, names: &Names) -> anyhow::Result<()> {
    let bus = clients
        .events
        .create_event_bus()
        .name(&names.event_bus)
        .send()
        .await;
    created(
        bus,
        "CreateEventBus",
        &names.event_bus,
        &["ResourceAlreadyExistsException"],
    )?;
    let tap = serde_json::json!({"source": [crate::events::SOURCE]}).to_string();
    subscribe(
        clients,
        names,
        &names.events_tap_rule_name(),
        &tap,
        &names.events_tap_queue_name(),
    )
    .await?;
    subscribe(
        clients,
        names,
        &names.alerts_rule_name(),
        crate::alerts::PATTERN,
        &names.alerts_queue_name(),
    )
    .await?;
    let topic = names.alerts_topic_name();
    clients
        .sns
        .create_topic()
        .name(&topic)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateTopic {topic}: {}", sdk_error::message(e)))?;
    Ok(())
}

/// Creates `queue` and a rule `rule` on the bus that sends it the events matching `pattern`.
async fn subscribe(
    clients: &Clients,
    names: &Names,
    rule: &str,
    pattern: &str,
    queue: &str,
) -> anyhow::Result<()> {
    let created = clients
        .sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateQueue {queue}: {}", sdk_error::message(e)))?;
    let url = created.queue_url().unwrap_or_default();
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("GetQueueAttributes {queue}: {}", sdk_error::message(e)))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| anyhow::anyhow!("GetQueueAttributes {queue}: no QueueArn"))?;
    clients
        .events
        .put_rule()
        .name(rule)
        .event_bus_name(&names.event_bus)
        .event_pattern(pattern)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PutRule {rule}: {}", sdk_error::message(e)))?;
    clients
        .events
        .put_targets()
        .rule(rule)
        .event_bus_name(&names.event_bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id(queue)
                .arn(arn)
                .build()
                .expect("id and arn are set"),
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("PutTargets {rule}: {}", sdk_error::message(e)))?;
    Ok(())
}

/// Creates everything `names` refers to, with the worker `queues` and their dead-letter queues.
pub async fn provision(
    clients: &Clients,
    names: &Names,
    queues: &[QueueSpec],
    settings: QueueSettings,
) -> anyhow::Result<()> {
    let db = &clients.dynamodb;
    let workers = db
        .create_table()
        .table_name(&names.workers_table)
        .attribute_definitions(string_attribute(attr::ID))
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr::SWEEP_SHARD)
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("name and type are set"),
        )
        .attribute_definitions(string_attribute(attr::SWEEP_AT))
        .key_schema(key(attr::ID, KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(SWEEP_INDEX)
                .key_schema(key(attr::SWEEP_SHARD, KeyType::Hash))
                .key_schema(key(attr::SWEEP_AT, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("name and keys are set"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("enabled is set"),
        )
        .send()
        .await;
    created(workers, "CreateTable", &names.workers_table, TABLE_EXISTS)?;
    let runs = db
        .create_table()
        .table_name(&names.runs_table)
        .attribute_definitions(string_attribute(attr::run::WORKER_ID))
        .attribute_definitions(string_attribute(attr::run::RUN_ID))
        .key_schema(key(attr::run::WORKER_ID, KeyType::Hash))
        .key_schema(key(attr::run::RUN_ID, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if created(runs, "CreateTable", &names.runs_table, TABLE_EXISTS)? {
        db.update_time_to_live()
            .table_name(&names.runs_table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr::run::EXPIRES_AT)
                    .build()
                    .expect("set"),
            )
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "UpdateTimeToLive {}: {}",
                    names.runs_table,
                    sdk_error::message(e)
                )
            })?;
    }

    let control = db
        .create_table()
        .table_name(&names.control_table)
        .attribute_definitions(string_attribute("id"))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    created(control, "CreateTable", &names.control_table, TABLE_EXISTS)?;

    for queue in queues {
        create_queue(clients, names, &queue.name, settings).await?;
    }

    let failures = names.stream_failure_queue_name();
    clients
        .sqs
        .create_queue()
        .queue_name(&failures)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateQueue {failures}: {}", sdk_error::message(e)))?;

    provision_events(clients, names).await?;

    let group = clients
        .scheduler
        .create_schedule_group()
        .name(&names.schedule_group)
        .send()
        .await;
    created(
        group,
        "CreateScheduleGroup",
        &names.schedule_group,
        &["ConflictException"],
    )?;
    Ok(())
}

async fn create_queue(
    clients: &Clients,
    names: &Names,
    queue: &str,
    settings: QueueSettings,
) -> anyhow::Result<()> {
    let sqs = &clients.sqs;
    let dlq_name = names.dead_letter_queue_name(queue);
    sqs.create_queue()
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("CreateQueue {dlq_name}: {}", sdk_error::message(e)))?;
    let dlq_arn = lookup_queue(sqs, &dlq_name).await?.arn;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string()});
    let name = names.queue_name(queue);
    let attributes = std::collections::HashMap::from([
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        (
            QueueAttributeName::VisibilityTimeout,
            settings.visibility_timeout_seconds.to_string(),
        ),
    ]);
    let created = sqs
        .create_queue()
        .queue_name(&name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        // It exists with other settings: bring them in line.
        Err(error) if sdk_error::code_is(&error, &["QueueAlreadyExists", "QueueNameExists"]) => {
            let url = lookup_queue(sqs, &name).await?.url;
            sqs.set_queue_attributes()
                .queue_url(url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("SetQueueAttributes {name}: {}", sdk_error::message(e))
                })?;
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!(
            "CreateQueue {name}: {}",
            sdk_error::message(error)
        )),
    }
}

/// Verifies in the emulator's SES each sender `NEXTDUE_ALLOWED_SENDERS` names (an address,
/// or the domain of `*@domain` and `domain`), as the SES console would once its owner clicked
/// the link: the emulator sends only from verified identities, so the first mail would
/// otherwise fail with `MessageRejected`. Returns the identities it verified.
pub async fn verify_senders(clients: &Clients, allowed: &[String]) -> anyhow::Result<Vec<String>> {
    let mut verified = Vec::new();
    for entry in allowed {
        let identity = entry.strip_prefix("*@").unwrap_or(entry).to_owned();
        match clients
            .ses
            .create_email_identity()
            .email_identity(&identity)
            .send()
            .await
        {
            Ok(_) => verified.push(identity),
            Err(error) if sdk_error::code_is(&error, &["AlreadyExistsException"]) => {
                verified.push(identity)
            }
            Err(error) => {
                anyhow::bail!(
                    "verifying {identity} in the emulator's SES: {}",
                    sdk_error::message(error)
                )
            }
        }
    }
    Ok(verified)
}
