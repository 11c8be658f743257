//! A worker's definition as the operator's commands read it: an item from JSON (plain, or
//! DynamoDB JSON), checked as the dispatcher would check it, without nextdue's own state.

use std::collections::HashMap;

use super::{OpsError, OpsResult};
use crate::item::json::{self, Json};
use crate::item::{AttributeValue, Image, Item, STATE_ATTRIBUTES, attr};
use crate::job::Registry;
use crate::lifecycle::{ChangeAction, on_change};

const TYPES: &[&str] = &["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

/// Whether an object looks like DynamoDB JSON: every attribute a one-key object naming a type.
fn is_dynamodb_json(members: &[(String, Json)]) -> bool {
    !members.is_empty()
        && members.iter().all(|(_, v)| {
            matches!(v, Json::Object(o) if o.len() == 1 && TYPES.contains(&o[0].0.as_str()))
        })
}

/// Reads an item from JSON text: plain JSON (numbers become `N`, exactly as written, as the
/// console's JSON view writes them), or DynamoDB JSON, bare or under `"Item"`. A key written
/// twice in one object is refused (which one a tool keeps differs).
pub fn parse_item(text: &str) -> OpsResult<Item> {
    let json = json::parse(text).map_err(|e| OpsError(format!("not JSON: {e}")))?;
    let Json::Object(mut members) = json else {
        return Err(OpsError("expected a JSON object (one worker)".into()));
    };
    if let [(key, Json::Object(inner))] = members.as_slice()
        && key == "Item"
    {
        members = inner.clone();
    }
    if is_dynamodb_json(&members) {
        let typed: HashMap<String, AttributeValue> =
            serde_json::from_value(Json::Object(members).to_value())
                .map_err(|e| OpsError(format!("not DynamoDB JSON: {e}")))?;
        return Ok(Item::from(typed));
    }
    match Json::Object(members).to_attribute() {
        AttributeValue::M(map) => Ok(Item::from(map)),
        _ => unreachable!("an object is a map"),
    }
}

/// What the dispatcher would say of `item` if it were enabled: `None` when it is a valid
/// worker, else the `lastRunMessage` it would get (`invalid: …`).
pub fn problem(
    item: &Item,
    registry: &Registry,
    settings: &crate::config::Settings,
) -> Option<String> {
    let mut probe = item.clone();
    // A disabled worker is checked as if enabled (the dispatcher would check it then); an
    // `enabled` of the wrong type is left for the check to report.
    if matches!(
        probe.get(attr::ENABLED),
        None | Some(AttributeValue::Bool(false))
    ) {
        probe.insert(attr::ENABLED.into(), AttributeValue::Bool(true));
    }
    let registry = registry.clone().with_limits(settings.limits.clone());
    let action = on_change(
        None,
        Some(&Image::decode(&probe)),
        "nextdue-put-check",
        chrono::Utc::now(),
        &registry,
        &settings.policy,
    );
    match action {
        ChangeAction::MarkInvalid(update) => match update.value(attr::LAST_RUN_MESSAGE) {
            Some(AttributeValue::S(message)) => Some(message.clone()),
            _ => Some("invalid".into()),
        },
        _ => None,
    }
}

/// The definition `put` writes of `item`: its id, the item without nextdue's own state, and
/// the state attributes left out. A copy of a stored worker (as `aws dynamodb get-item` prints
/// it) carries nextdue's state; written back it would pin the worker where it stood (a stopped
/// worker would never run again). What put writes is the definition; the dispatcher arms it
/// afresh.
pub fn definition(mut item: Item) -> OpsResult<(String, Item, Vec<&'static str>)> {
    let left_out: Vec<&str> = STATE_ATTRIBUTES
        .iter()
        .copied()
        .filter(|name| item.remove(*name).is_some())
        .collect();
    match item.get(attr::ID) {
        Some(AttributeValue::S(id)) if !id.is_empty() => Ok((id.clone(), item, left_out)),
        _ => Err(OpsError("id: a worker needs an id (a string)".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_keeps_numbers_as_written_and_refuses_a_key_written_twice() {
        let item = parse_item(
            "\u{feff}{\"id\": \"w\", \"params\": {\"big\": 12345678901234567890123456789, \
             \"tenth\": 0.10}}",
        )
        .unwrap();
        let Some(AttributeValue::M(params)) = item.get(attr::PARAMS) else {
            panic!("params is a map: {item:?}")
        };
        assert_eq!(
            params.get("big"),
            Some(&AttributeValue::N("12345678901234567890123456789".into()))
        );
        assert_eq!(params.get("tenth"), Some(&AttributeValue::N("0.10".into())));
        let twice = parse_item(r#"{"id": "w", "enabled": false, "enabled": true}"#).unwrap_err();
        assert!(twice.0.contains("\"enabled\" appears twice"), "{}", twice.0);
        let typed = parse_item(r#"{"Item": {"id": {"S": "w"}, "n": {"N": "0.10"}}}"#).unwrap();
        assert_eq!(typed.get("n"), Some(&AttributeValue::N("0.10".into())));
    }
}
