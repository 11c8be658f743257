//! DynamoDB's adapter of the control seam ([`ControlStore`]): the control table, one item per
//! record (`id`; a counter's number `value` and its `version`; the operators' controls as the
//! item `controls`, its `pauses` a map by scope), each written on the condition that its
//! version is still the one read.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::adapters::dynamodb::store_error;
use chrono::{DateTime, Utc};

use crate::controls::{Controls, Limit};
use crate::seams::{ControlStore, Counter, StoreError, next_version};

/// The control table's key of the operators' controls.
pub const CONTROLS_KEY: &str = "controls";

/// The control table.
#[derive(Clone, Debug)]
pub struct ControlTable {
    client: Client,
    table: String,
}

impl ControlTable {
    /// The control table `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ControlTable {
            client,
            table: table.into(),
        }
    }
}

fn number_of(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

#[async_trait]
impl ControlStore for ControlTable {
    async fn counter(&self, key: &str) -> Result<Option<Counter>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?
            .item;
        let Some(item) = item else { return Ok(None) };
        match (number_of(&item, "value"), number_of(&item, "version")) {
            (Some(value), Some(version)) => Ok(Some(Counter { value, version })),
            _ => Err(StoreError::Malformed {
                table: self.table.clone(),
                key: key.to_owned(),
                message: "not a counter (it needs whole numbers `value` and `version`); delete \
                          it and nextdue writes it again"
                    .into(),
            }),
        }
    }

    async fn set_counter(
        &self,
        key: &str,
        from: Option<Counter>,
        to: u64,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(key.to_owned()))
            .item("value", AttributeValue::N(to.to_string()))
            .item("version", AttributeValue::N(next_version(from).to_string()));
        request = match from {
            None => request.condition_expression("attribute_not_exists(id)"),
            Some(from) => request
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(
                    ":version",
                    AttributeValue::N(from.version.to_string()),
                ),
        };
        conditional(request.send().await, &self.table)
    }

    async fn take_start(
        &self,
        key: &str,
        limit: &Limit,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let now_ms = now.timestamp_millis();
        let spacing = limit.spacing().num_milliseconds();
        let number = |n: i64| AttributeValue::N(n.to_string());
        let update = || {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("id", AttributeValue::S(key.to_owned()))
                .expression_attribute_names("#value", "value")
                .expression_attribute_names("#version", "version")
        };
        let malformed = |error: StoreError| match error {
            StoreError::Refused { message, .. } => StoreError::Malformed {
                table: self.table.clone(),
                key: key.to_owned(),
                message: format!(
                    "not a counter ({message}): it needs whole numbers `value` and `version`; \
                     delete it and nextdue writes it again"
                ),
            },
            other => other,
        };
        // The limit has room now: take now, the next free start one spacing on. (The type
        // test keeps a value written by hand as a string a failed condition: DynamoDB would
        // find the comparison false anyway, the emulator fails the call.)
        let now_free = update()
            .condition_expression(
                "attribute_not_exists(#value) OR (attribute_type(#value, :number) AND #value <= :now)",
            )
            .expression_attribute_values(":number", AttributeValue::S("N".into()))
            .update_expression(
                "SET #value = :next, #version = if_not_exists(#version, :zero) + :one",
            )
            .expression_attribute_values(":now", number(now_ms))
            .expression_attribute_values(":next", number(now_ms + spacing))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":one", number(1))
            .send()
            .await;
        match now_free {
            Ok(_) => return Ok(now),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() => {}
            Err(error) => return Err(malformed(store_error("UpdateItem", &self.table, error))),
        }
        // It has not: take the next free start, moving it on by one spacing in the same write.
        let taken = update()
            .update_expression("SET #value = #value + :spacing, #version = #version + :one")
            .expression_attribute_values(":spacing", number(spacing))
            .expression_attribute_values(":one", number(1))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| malformed(store_error("UpdateItem", &self.table, e)))?;
        let start = taken
            .attributes
            .as_ref()
            .and_then(|old| number_of(old, "value"))
            .and_then(|ms| DateTime::from_timestamp_millis(i64::try_from(ms).ok()?));
        start.ok_or_else(|| StoreError::Malformed {
            table: self.table.clone(),
            key: key.to_owned(),
            message: "not a counter: `value` is not a whole number of milliseconds; delete it \
                      and nextdue writes it again"
                .into(),
        })
    }

    async fn controls(&self) -> Result<(Controls, u64), StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(CONTROLS_KEY.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?
            .item;
        let Some(item) = item else {
            return Ok((Controls::default(), 0));
        };
        let version = number_of(&item, "version").unwrap_or(0);
        let deserializer = serde_dynamo::Deserializer::from_attribute_value(
            serde_dynamo::AttributeValue::from(AttributeValue::M(item)),
        );
        let controls =
            serde_path_to_error::deserialize(deserializer).map_err(|e| StoreError::Malformed {
                table: self.table.clone(),
                key: CONTROLS_KEY.to_owned(),
                message: format!(
                    "{}: {}; fix it (pauses are {{\"mode\": \"hold\" or \"skip\", \"since\": an \
                 RFC 3339 time, \"until\": one or none, \"by\": text}}, limits {{\"count\": a \
                 number, \"per\": \"second\", \"minute\" or \"hour\"}}) or delete it \
                 (which lifts every pause and limit)",
                    e.path(),
                    e.inner()
                ),
            })?;
        Ok((controls, version))
    }

    async fn set_controls(&self, controls: &Controls, version: u64) -> Result<bool, StoreError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(controls).map_err(|e| StoreError::Call {
                operation: "PutItem",
                table: self.table.clone(),
                message: e.to_string(),
            })?;
        item.insert("id".into(), AttributeValue::S(CONTROLS_KEY.to_owned()));
        item.insert(
            "version".into(),
            AttributeValue::N((version + 1).to_string()),
        );
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if version == 0 {
            request.condition_expression("attribute_not_exists(id)")
        } else {
            request
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
        };
        conditional(request.send().await, &self.table)
    }
}

/// A conditional `PutItem`'s answer: written, refused by its condition, or an error.
fn conditional<T>(
    result: Result<T, SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>>,
    table: &str,
) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(service))
            if service.err().is_conditional_check_failed_exception() =>
        {
            Ok(false)
        }
        Err(error) => Err(store_error("PutItem", table, error)),
    }
}
