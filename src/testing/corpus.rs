//! Malformed items, as console users and buggy scripts write them: the corpus the lifecycle's
//! tests and the command line's `put` tests run, for teams to run their own checks on too.

use serde_dynamo::AttributeValue;
use serde_json::json;

use crate::item::Item;

/// A minimal valid `log` worker with `changes` applied (`null` removes an attribute).
fn item(changes: serde_json::Value) -> Item {
    let mut base = json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "hi"}});
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            base.as_object_mut().unwrap().remove(name);
        } else {
            base[name] = value.clone();
        }
    }
    serde_dynamo::to_item(base).unwrap()
}

fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!({ "deeper": inner }))
}

/// Malformed worker items, each with the attribute its `invalid: …` message must name. Every
/// one is a `log` worker with one thing wrong (or a kind's params wrong); ids are all `w`.
pub fn malformed_items() -> Vec<(Item, &'static str)> {
    let email = |params: serde_json::Value| item(json!({"kind": "email", "params": params}));
    let many: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
    let mut cases = vec![
        (item(json!({"kind": null})), "kind"),
        // nextdue's own queues are no worker queues (their messages would never run).
        (item(json!({"queue": "default-dlq"})), "queue"),
        (item(json!({"queue": "stream-failures"})), "queue"),
        // Past EventBridge's horizon: the schedule is blamed, not a nextDue nobody wrote.
        (
            item(json!({"schedule": "at(2300-01-01T00:00:00)"})),
            "schedule",
        ),
        (item(json!({"kind": 7})), "kind"),
        (item(json!({"kind": ""})), "kind"),
        (item(json!({"kind": ["log"]})), "kind"),
        (item(json!({"kind": "teleport"})), "kind"),
        (item(json!({"kind": "x".repeat(20_000)})), "kind"),
        (item(json!({"params": "message=hi"})), "params"),
        (item(json!({"params": ["hi"]})), "params"),
        (item(json!({"params": 42})), "params"),
        (item(json!({"params": {}})), "params"),
        (item(json!({"params": {"message": 42}})), "params.message"),
        (
            item(json!({"params": {"message": "hi", "extra": nested(50)}})),
            "params.extra",
        ),
        (
            item(json!({"params": {"message": "hi", "blob": "x".repeat(200_000)}})),
            "params.blob",
        ),
        (email(json!({"to": "b@example.com", "text": "t"})), "params"),
        (
            email(json!({"from": "a@example.com", "to": 5, "text": "t"})),
            "params.to",
        ),
        (
            email(json!({"from": "a@example.com", "to": ["b@example.com", 5], "text": "t"})),
            "params.to[1]",
        ),
        (
            email(json!({"from": "a@example.com", "to": "bob", "text": "t"})),
            "params.to[0]",
        ),
        (
            email(json!({"from": "a@example.com", "to": "b@example.com"})),
            "params",
        ),
        (
            email(json!({"from": "a@example.com", "to": many, "text": "t"})),
            "params",
        ),
        (
            email(
                json!({"from": "a@example.com", "to": "b@example.com", "text": "t", "subjet": "s"}),
            ),
            "params.subjet",
        ),
        (item(json!({"kind": "spawn", "params": {}})), "params"),
        (
            item(json!({"kind": "spawn", "params": {"worker": {"id": "x", "kind": "log"}}})),
            "params.worker.id",
        ),
        (
            item(
                json!({"kind": "spawn", "params": {"worker": {"kind": "log", "schedule": "often"}}}),
            ),
            "params.worker.schedule",
        ),
        (
            item(json!({"enabled": true, "schedule": "rate(0 minutes)"})),
            "schedule",
        ),
        (item(json!({"schedule": "cron(0 9 * * ? * *)"})), "schedule"),
        (item(json!({"schedule": "every day"})), "schedule"),
        (item(json!({"schedule": "rate(100000 days)"})), "schedule"),
        (item(json!({"schedule": 5})), "schedule"),
        (item(json!({"timezone": "Mars/Olympus"})), "timezone"),
        (item(json!({"timezone": 1})), "timezone"),
        (item(json!({"nextDue": "yesterday"})), "nextDue"),
        (item(json!({"nextDue": 1767258000})), "nextDue"),
        (item(json!({"nextDue": "9999-12-31T23:59:59Z"})), "nextDue"),
        (
            item(json!({"executeImmediately": "no"})),
            "executeImmediately",
        ),
        (item(json!({"queue": "has space"})), "queue"),
        (item(json!({"queue": "q".repeat(100)})), "queue"),
        (item(json!({"queue": 3})), "queue"),
        (item(json!({"maxAttempts": 0})), "maxAttempts"),
        (item(json!({"maxAttempts": 1000})), "maxAttempts"),
        (item(json!({"maxAttempts": "three"})), "maxAttempts"),
        (item(json!({"maxAttempts": -1})), "maxAttempts"),
        (item(json!({"maxAttempts": 2.5})), "maxAttempts"),
        (item(json!({"timeoutSeconds": 0})), "timeoutSeconds"),
        (item(json!({"timeoutSeconds": 901})), "timeoutSeconds"),
        (item(json!({"onLost": "panic"})), "onLost"),
        (item(json!({"status": "done"})), "status"),
        (item(json!({"spawnDepth": "deep"})), "spawnDepth"),
    ];
    let mut binary = item(json!({}));
    binary.insert("params".into(), AttributeValue::B(vec![1, 2, 3]));
    cases.push((binary, "params"));
    let mut set = item(json!({}));
    set.insert("kind".into(), AttributeValue::Ss(vec!["log".into()]));
    cases.push((set, "kind"));
    cases
}
