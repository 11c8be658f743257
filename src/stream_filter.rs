//! Which stream records reach the dispatcher: the event filter patterns of the stream's event
//! source mapping, defined once here. `template.yaml` declares exactly these patterns (a test
//! compares them), and `nextdue dev` applies them with [`passes`], so the local glue sees the
//! records AWS delivers and no others.
//!
//! The rule is deliberately loose: a record passes when the new image is enabled, live (ready
//! or running), carries a run-now request, or has `enabled` written as a string or number (a
//! mistake to report). Every change the dispatcher acts on has one of these (a property test
//! over generated changes checks it); what the filter drops (removals, and changes of disabled
//! workers that are not live) is always ignored. Lambda allows five patterns per mapping.

use serde_json::Value;

/// The filter patterns, in Lambda's event filtering syntax, as `template.yaml` declares them.
pub const PATTERNS: &[&str] = &[
    r#"{"dynamodb": {"NewImage": {"enabled": {"BOOL": [true]}}}}"#,
    r#"{"dynamodb": {"NewImage": {"status": {"S": ["ready", "running"]}}}}"#,
    r#"{"dynamodb": {"NewImage": {"runNow": {"BOOL": [{"exists": true}]}}}}"#,
    r#"{"dynamodb": {"NewImage": {"enabled": {"S": [{"exists": true}]}}}}"#,
    r#"{"dynamodb": {"NewImage": {"enabled": {"N": [{"exists": true}]}}}}"#,
];

/// The patterns, parsed.
pub fn patterns() -> Vec<Value> {
    PATTERNS
        .iter()
        .map(|p| serde_json::from_str(p).expect("the filter patterns are JSON"))
        .collect()
}

/// Whether a record (the JSON Lambda gives the function) passes any of `patterns`, as Lambda's
/// event filtering decides (the subset the patterns use: nested fields, literal values,
/// `exists`, `anything-but` and `prefix`).
///
/// ```
/// use nextdue::stream_filter::{passes, patterns};
/// let enabled = serde_json::json!({"eventName": "INSERT",
///     "dynamodb": {"NewImage": {"id": {"S": "w"}, "enabled": {"BOOL": true}}}});
/// let removed = serde_json::json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {}}});
/// assert!(passes(&patterns(), &enabled));
/// assert!(!passes(&patterns(), &removed));
/// ```
pub fn passes(patterns: &[Value], record: &Value) -> bool {
    patterns
        .iter()
        .any(|pattern| matches(pattern, Some(record)))
}

fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(name, inner)| {
            let field = value.and_then(|v| v.as_object()).and_then(|o| o.get(name));
            matches(inner, field)
        }),
        Value::Array(rules) => rules.iter().any(|rule| leaf_matches(rule, value)),
        _ => false,
    }
}

fn leaf_matches(rule: &Value, value: Option<&Value>) -> bool {
    if let Value::Object(operator) = rule {
        return operator.iter().all(|(name, argument)| match name.as_str() {
            "exists" => argument.as_bool() == Some(value.is_some()),
            "anything-but" => value.is_some_and(|v| match argument {
                Value::Array(excluded) => !excluded.contains(v),
                excluded => excluded != v,
            }),
            "prefix" => matches!((value, argument), (Some(Value::String(v)), Value::String(p)) if v.starts_with(p.as_str())),
            _ => false,
        });
    }
    match value {
        Some(Value::Array(values)) => values.contains(rule),
        Some(value) => value == rule,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_matcher_follows_lambdas_rules_for_the_operators_it_knows() {
        let record = json!({"a": {"b": "x", "n": 5, "list": ["p", "q"]}});
        let cases = [
            (json!({"a": {"b": ["x"]}}), true),
            (json!({"a": {"b": ["y", "x"]}}), true),
            (json!({"a": {"b": ["y"]}}), false),
            (json!({"a": {"c": ["x"]}}), false),
            (json!({"a": {"n": [5]}}), true),
            (json!({"a": {"list": ["q"]}}), true),
            (json!({"a": {"b": [{"exists": true}]}}), true),
            (json!({"a": {"c": [{"exists": false}]}}), true),
            (json!({"a": {"b": [{"exists": false}]}}), false),
            (json!({"a": {"b": [{"anything-but": ["y"]}]}}), true),
            (json!({"a": {"b": [{"anything-but": ["x"]}]}}), false),
            (json!({"a": {"c": [{"anything-but": ["x"]}]}}), false),
            (json!({"a": {"b": [{"prefix": "x"}]}}), true),
            (json!({"a": {"b": [{"prefix": "z"}]}}), false),
            (json!({"a": {"b": [{"unknown-operator": 1}]}}), false),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                passes(std::slice::from_ref(&pattern), &record),
                expected,
                "{pattern}"
            );
        }
    }
}
