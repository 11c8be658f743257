//! `nextdue set ID ATTR=VALUE…`: change a few attributes of a worker (`params.to=…`,
//! `timeoutSeconds=120`) without rewriting the whole item, checked first as `put` checks, and
//! written with one conditional update that touches only those attributes.

use std::collections::HashMap;

use clap::Args;

use super::definition::problem;
use super::format::{self, paint, style};
use super::show::worker_item;
use super::{Connection, OpsError, OpsResult, program};
use crate::item::json::parse;
use crate::item::{AttributeValue, Item, SYSTEM_ATTRIBUTES, attr};
use crate::job::Registry;

/// What `set` changes.
#[derive(Args, Clone, Debug)]
pub struct SetArgs {
    /// The worker's id.
    pub id: String,
    /// `ATTR=VALUE` pairs: `ATTR` an attribute or a path into maps (`params.subject`), `VALUE`
    /// JSON (`5`, `true`, `["a@example.com"]`, `"text"`) or, when it is not JSON, a string.
    #[arg(required = true, value_name = "ATTR=VALUE")]
    pub changes: Vec<String>,
}

/// One change: the path of names, and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// `["params", "to"]` for `params.to`.
    pub path: Vec<String>,
    /// The value, numbers exactly as written.
    pub value: AttributeValue,
}

/// Reads `ATTR=VALUE`. nextdue's own attributes and the key cannot be set.
pub fn parse_assignment(text: &str) -> OpsResult<Assignment> {
    let Some((path, value)) = text.split_once('=') else {
        return Err(OpsError(format!(
            "{text:?}: expected ATTR=VALUE (params.subject=\"Hello\")"
        )));
    };
    let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(OpsError(format!("{text:?}: an empty attribute name")));
    }
    let top = path[0].as_str();
    if top == attr::ID {
        return Err(OpsError(
            "id is the worker's key: put a new worker instead".into(),
        ));
    }
    if SYSTEM_ATTRIBUTES.contains(&top) {
        return Err(OpsError(format!(
            "{top} is nextdue's own attribute; it sets it itself"
        )));
    }
    let value = match parse(value) {
        Ok(json) => json.to_attribute(),
        Err(_) => AttributeValue::S(value.to_owned()),
    };
    Ok(Assignment { path, value })
}

/// `item` with `assignment` made (maps on the way must exist).
fn assign(item: &mut Item, assignment: &Assignment) -> OpsResult<()> {
    let (last, parents) = assignment.path.split_last().expect("a path has a name");
    let mut map: &mut HashMap<String, AttributeValue> = item.inner_mut();
    for (depth, name) in parents.iter().enumerate() {
        map = match map.get_mut(name) {
            Some(AttributeValue::M(inner)) => inner,
            _ => {
                return Err(OpsError(format!(
                    "{} is not a map on this worker",
                    assignment.path[..=depth].join(".")
                )));
            }
        };
    }
    map.insert(last.clone(), assignment.value.clone());
    Ok(())
}

/// Runs `nextdue set`.
pub async fn run(connection: &Connection, args: &SetArgs, registry: &Registry) -> OpsResult<()> {
    let assignments = args
        .changes
        .iter()
        .map(|text| parse_assignment(text))
        .collect::<OpsResult<Vec<_>>>()?;
    let store = connection.store().await?;
    let mut item = worker_item(connection, &store, &args.id).await?;
    for assignment in &assignments {
        assign(&mut item, assignment)?;
    }
    let settings = connection.settings()?;
    if let Some(problem) = problem(&item, registry, &settings) {
        return Err(OpsError(format!(
            "{} not changed: {problem}",
            format::safe(&args.id)
        )));
    }
    let changes: Vec<(Vec<String>, AttributeValue)> = assignments
        .iter()
        .map(|a| (a.path.clone(), a.value.clone()))
        .collect();
    store
        .update_existing(&args.id, &changes)
        .await
        .map_err(|e| connection.explain_store("changing the worker", e))?
        .ok_or_else(|| {
            OpsError(format!(
                "no worker {:?} in {} (deleted meanwhile; nothing written)",
                args.id, connection.workers_table
            ))
        })?;
    let changed: Vec<String> = assignments.iter().map(|a| a.path.join(".")).collect();
    let status = match item.get(attr::STATUS) {
        Some(AttributeValue::S(status)) => status.clone(),
        _ => String::new(),
    };
    let enabled = item.get(attr::ENABLED) == Some(&AttributeValue::Bool(true));
    let (program, id) = (program(), format::safe(&args.id));
    let then = match (enabled, status.as_str()) {
        (false, _) => format!("it is disabled: `{program} enable {id}` starts it"),
        (true, "stopped") => format!(
            "it is stopped: `{program} run-now {id}` runs it once more; `{program} disable \
             {id}` then `{program} enable {id}` starts its schedule afresh"
        ),
        (true, "invalid") => "it was invalid: the dispatcher checks it again now".into(),
        (true, _) => "its next run uses it".into(),
    };
    if connection.json {
        format::print_json(&serde_json::json!({
            "id": args.id, "changed": changed, "status": status, "enabled": enabled}));
    } else {
        format::print(&format!(
            "{} set {}: {}",
            paint(&args.id, style::HEAD),
            format::safe(&changed.join(", ")),
            then
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_read_json_values_exactly_and_strings_otherwise() {
        let set = parse_assignment("params.amount=12345678901234567890.10").unwrap();
        assert_eq!(set.path, ["params", "amount"]);
        assert_eq!(
            set.value,
            AttributeValue::N("12345678901234567890.10".into())
        );
        let text = parse_assignment("params.subject=Hello there").unwrap();
        assert_eq!(text.value, AttributeValue::S("Hello there".into()));
        let quoted = parse_assignment("params.subject=\"5\"").unwrap();
        assert_eq!(quoted.value, AttributeValue::S("5".into()));
        assert!(parse_assignment("status=ready").is_err());
        assert!(parse_assignment("id=other").is_err());
        assert!(parse_assignment("no-equals").is_err());
        assert!(parse_assignment("params..to=x").is_err());
    }

    #[test]
    fn an_assignment_needs_the_maps_on_its_way() {
        let mut item: Item =
            serde_dynamo::to_item(serde_json::json!({"id": "w", "params": {"to": "a"}})).unwrap();
        assign(&mut item, &parse_assignment("params.to=b").unwrap()).unwrap();
        let Some(AttributeValue::M(params)) = item.get("params") else {
            panic!("params")
        };
        assert_eq!(params.get("to"), Some(&AttributeValue::S("b".into())));
        let error = assign(&mut item, &parse_assignment("params.to.x=1").unwrap()).unwrap_err();
        assert_eq!(error.0, "params.to is not a map on this worker");
    }
}
