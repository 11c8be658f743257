//! Which stream records reach the dispatcher: the event filter patterns of the stream's event
//! source mapping, defined once here. `template.yaml` declares exactly these patterns (a test
//! compares them), and `nextdue dev` applies them with [`passes`], so the local glue sees the
//! records AWS delivers and no others.
//!
//! A record passes unless it leaves a run under way as it was ([`crate::lifecycle::under_way`]):
//! the run's own progress writes, and edits of a running worker that its finish will take up,
//! never wake the dispatcher. In Lambda's syntax (five patterns per mapping, no negation across
//! fields), it passes when the new image's status is a string other than `running`, or is no
//! string (a fresh or re-written definition); when a running worker is re-enabled (`enabled`
//! from the boolean false to true); on an insert; or when a running item holds no claim (written
//! by hand). Removals are dropped. Every change the dispatcher acts on passes, and no progress
//! write does: property tests over generated changes check both.

use serde_json::Value;

/// The filter patterns, in Lambda's event filtering syntax, as `template.yaml` declares them.
pub const PATTERNS: &[&str] = &[
    r#"{"dynamodb": {"NewImage": {"status": {"S": [{"anything-but": ["running"]}]}}}}"#,
    r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": [{"exists": false}]}}}}"#,
    r#"{"dynamodb": {"NewImage": {"enabled": {"BOOL": [true]}}, "OldImage": {"enabled": {"BOOL": [false]}}}}"#,
    r#"{"eventName": ["INSERT"]}"#,
    r#"{"dynamodb": {"NewImage": {"status": {"S": ["running"]}, "runToken": {"S": [{"exists": false}]}}}}"#,
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
