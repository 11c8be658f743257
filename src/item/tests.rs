use std::collections::HashMap;

use super::*;

use AttributeValue::{Bool, L, M, N, S};

fn s(text: &str) -> AttributeValue {
    S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    N(text.to_owned())
}

/// A minimal valid worker item with `overrides` applied (NULL removes an attribute).
fn item(overrides: &[(&str, AttributeValue)]) -> Item {
    let mut map: HashMap<String, AttributeValue> = HashMap::from([
        ("id".to_owned(), s("w1")),
        ("kind".to_owned(), s("log")),
        ("enabled".to_owned(), Bool(true)),
    ]);
    for (name, value) in overrides {
        match value {
            AttributeValue::Null(true) => map.remove(*name),
            value => map.insert((*name).to_owned(), value.clone()),
        };
    }
    Item::from(map)
}

fn decode_error(overrides: &[(&str, AttributeValue)]) -> String {
    Worker::from_item(&item(overrides))
        .expect_err("the item should be rejected")
        .to_string()
}

#[test]
fn a_console_item_decodes_with_defaults() {
    let worker = Worker::from_item(&item(&[])).unwrap();
    assert_eq!(worker.id, "w1");
    assert!(worker.enabled);
    assert_eq!(worker.max_attempts(), DEFAULT_MAX_ATTEMPTS);
    assert_eq!(worker.timeout_seconds(), DEFAULT_TIMEOUT_SECONDS);
    assert_eq!(worker.queue(), "default");
    assert_eq!(worker.on_lost(), OnLost::Retry);
    assert_eq!(worker.tz(), Tz::UTC);
    assert!(worker.runs_immediately());
    assert_eq!(worker.status, None);
}

#[test]
fn every_attribute_round_trips_through_an_item() {
    let mut params = Params::new();
    params.insert(
        "to".into(),
        serde_json::json!(["a@example.com", "b@example.com"]),
    );
    params.insert("retries".into(), serde_json::json!(3));
    let worker = Worker {
        params,
        schedule: Some("cron(0 9 ? * MON-FRI *)".parse().unwrap()),
        timezone: Some(chrono_tz::Europe::London),
        next_due: Some("2027-01-01T09:00:00Z".parse().unwrap()),
        execute_immediately: Some(false),
        queue: Some("mail".into()),
        max_attempts: Some(5),
        timeout_seconds: Some(30),
        on_lost: Some(OnLost::Skip),
        status: Some(Status::Running),
        task_id: Some("t-1".into()),
        last_run_succeeded: Some(false),
        last_run_message: Some("boom".into()),
        last_run_start_time: crate::timestamp::parse_stamp("2027-01-01T09:00:00.250Z"),
        last_run_finish_time: crate::timestamp::parse_stamp("2027-01-01T09:00:01.500Z"),
        run_count: 7,
        attempt: 1,
        lease_until: crate::timestamp::parse_stamp("2027-01-01T09:15:00Z"),
        run_token: Some("r-1".into()),
        retry_of: Some("2027-01-01T08:00:00Z".parse().unwrap()),
        create_time: crate::timestamp::parse_stamp("2026-12-01T00:00:00Z"),
        update_time: crate::timestamp::parse_stamp("2027-01-01T09:00:00.250Z"),
        parent_id: Some("parent".into()),
        spawn_depth: 2,
        ..Worker::new("w1", "email")
    };
    let item = worker.to_item();
    assert_eq!(item.get("nextDue"), Some(&s("2027-01-01T09:00:00Z")));
    assert_eq!(
        item.get("lastRunStartTime"),
        Some(&s("2027-01-01T09:00:00.250Z"))
    );
    assert_eq!(item.get("timezone"), Some(&s("Europe/London")));
    assert_eq!(item.get("status"), Some(&s("running")));
    assert_eq!(item.get("onLost"), Some(&s("skip")));
    assert_eq!(item.get("runCount"), Some(&n("7")));
    let back = Worker::from_item(&item).unwrap();
    assert_eq!(back.params_as_stored(), worker.params_as_stored());
    assert_eq!(
        Worker {
            stored_params: None,
            stored_bytes: 0,
            ..back
        },
        worker
    );
}

#[test]
fn cron_and_at_schedules_wait_for_their_time_by_default() {
    let cron = Worker::from_item(&item(&[("schedule", s("cron(0 9 * * ? *)"))])).unwrap();
    assert!(!cron.runs_immediately());
    let forced = Worker::from_item(&item(&[
        ("schedule", s("cron(0 9 * * ? *)")),
        ("executeImmediately", Bool(true)),
    ]))
    .unwrap();
    assert!(forced.runs_immediately());
    let rate = Worker::from_item(&item(&[("schedule", s("rate(1 hour)"))])).unwrap();
    assert!(rate.runs_immediately());
}

#[test]
fn each_attribute_reports_its_own_decoding_error() {
    let null = AttributeValue::Null(true);
    let cases: Vec<(&str, AttributeValue, &str)> = vec![
        ("id", null.clone(), "id: is required"),
        (
            "id",
            n("5"),
            "id: expected a string (S), got a number (N) \"5\"",
        ),
        ("id", s(""), "id: must not be empty"),
        ("kind", null.clone(), "kind: is required"),
        (
            "kind",
            Bool(true),
            "kind: expected a string (S), got a boolean (BOOL) true",
        ),
        (
            "params",
            s("to=bob"),
            "params: expected a map (M), got a string (S)",
        ),
        (
            "enabled",
            s("yes"),
            "enabled: expected a boolean (BOOL), got a string (S) \"yes\"",
        ),
        (
            "schedule",
            s("every day"),
            "schedule: expected rate(5 minutes), cron(0 9 ? * MON-FRI *) or at(2027-01-01T09:00:00), got \"every day\"",
        ),
        (
            "schedule",
            s("rate(0 minutes)"),
            "schedule: rate: \"0\" is not a whole number of at least 1",
        ),
        (
            "schedule",
            n("5"),
            "schedule: expected a string (S), got a number (N) \"5\"",
        ),
        (
            "timezone",
            s("Mars/Olympus"),
            "timezone: expected an IANA time zone such as Europe/London or America/New_York, got \"Mars/Olympus\"",
        ),
        (
            "timezone",
            n("1"),
            "timezone: expected a string (S), got a number (N) \"1\"",
        ),
        (
            "nextDue",
            s("yesterday"),
            "nextDue: expected an RFC 3339 time: UTC such as 2027-01-01T09:00:00Z, with a fraction \
             such as 2027-01-01T09:00:00.000Z, or with an offset such as 2027-01-01T10:00:00+01:00, \
             got \"yesterday\"",
        ),
        (
            "nextDue",
            n("1767258000"),
            "nextDue: expected a string (S), got a number (N) \"1767258000\"",
        ),
        (
            "nextDue",
            s("9999-12-31T23:59:59Z"),
            "nextDue: 9999-12-31T23:59:59Z is after 2199, the last year EventBridge Scheduler can name; \
             set an earlier time, or remove nextDue to follow the schedule",
        ),
        (
            "executeImmediately",
            s("no"),
            "executeImmediately: expected a boolean (BOOL), got a string (S) \"no\"",
        ),
        (
            "queue",
            s("my queue"),
            "queue: expected 1 to 72 letters, digits, - or _, got \"my queue\"",
        ),
        (
            "queue",
            Bool(false),
            "queue: expected a string (S), got a boolean (BOOL) false",
        ),
        (
            "maxAttempts",
            s("three"),
            "maxAttempts: expected a number (N), got a string (S) \"three\"",
        ),
        (
            "maxAttempts",
            n("0"),
            "maxAttempts: expected 1 to 100, got 0",
        ),
        (
            "maxAttempts",
            n("-1"),
            "maxAttempts: expected a whole number from 1 to 100, got a number (N) \"-1\"",
        ),
        (
            "maxAttempts",
            n("2.5"),
            "maxAttempts: expected a whole number from 1 to 100, got a number (N) \"2.5\"",
        ),
        (
            "timeoutSeconds",
            n("901"),
            "timeoutSeconds: expected 1 to 900 seconds, got 901",
        ),
        (
            "timeoutSeconds",
            L(vec![]),
            "timeoutSeconds: expected a number (N), got a list (L)",
        ),
        (
            "onLost",
            s("panic"),
            "onLost: unknown variant `panic`, expected `retry` or `skip`",
        ),
        (
            "onLost",
            n("1"),
            "onLost: expected a string (S), got a number (N) \"1\"",
        ),
        (
            "status",
            s("done"),
            "status: unknown variant `done`, expected one of `ready`, `running`, `stopped`, `invalid`",
        ),
        (
            "taskId",
            n("7"),
            "taskId: expected a string (S), got a number (N) \"7\"",
        ),
        (
            "lastRunSucceeded",
            s("true"),
            "lastRunSucceeded: expected a boolean (BOOL), got a string (S) \"true\"",
        ),
        (
            "lastRunMessage",
            Bool(true),
            "lastRunMessage: expected a string (S), got a boolean (BOOL) true",
        ),
        (
            "lastRunStartTime",
            s("soon"),
            "lastRunStartTime: expected an RFC 3339 time such as 2027-01-01T09:00:00.000Z, got \"soon\"",
        ),
        (
            "lastRunFinishTime",
            n("1"),
            "lastRunFinishTime: expected a string (S), got a number (N) \"1\"",
        ),
        (
            "runCount",
            s("many"),
            "runCount: expected a number (N), got a string (S) \"many\"",
        ),
        (
            "attempt",
            n("1.5"),
            "attempt: expected a whole number of at least 0, got a number (N) \"1.5\"",
        ),
        (
            "leaseUntil",
            s("later"),
            "leaseUntil: expected an RFC 3339 time such as 2027-01-01T09:00:00.000Z, got \"later\"",
        ),
        (
            "runToken",
            M(HashMap::new()),
            "runToken: expected a string (S), got a map (M)",
        ),
        (
            "retryOf",
            s("2027-01-01"),
            "retryOf: expected an RFC 3339 time: UTC such as 2027-01-01T09:00:00Z, with a fraction \
             such as 2027-01-01T09:00:00.000Z, or with an offset such as 2027-01-01T10:00:00+01:00, \
             got \"2027-01-01\"",
        ),
        (
            "createTime",
            Bool(false),
            "createTime: expected a string (S), got a boolean (BOOL) false",
        ),
        (
            "updateTime",
            s("now"),
            "updateTime: expected an RFC 3339 time such as 2027-01-01T09:00:00.000Z, got \"now\"",
        ),
        (
            "parentId",
            n("3"),
            "parentId: expected a string (S), got a number (N) \"3\"",
        ),
        (
            "spawnDepth",
            s("deep"),
            "spawnDepth: expected a number (N), got a string (S) \"deep\"",
        ),
    ];
    for (name, value, expected) in cases {
        assert_eq!(
            decode_error(&[(name, value.clone())]),
            expected,
            "{name} = {value:?}"
        );
    }
}

#[test]
fn long_values_are_cut_short_in_messages() {
    let long = "x".repeat(10_000);
    let message = decode_error(&[("enabled", s(&long))]);
    assert!(message.len() < 120, "{message}");
    assert!(message.ends_with("…"), "{message}");
}

#[test]
fn run_records_round_trip() {
    let record = RunRecord {
        worker_id: "w1".into(),
        run_id: "2027-01-01T09:00:00.250Z#t-1".into(),
        task_id: "t-1".into(),
        due: "2027-01-01T09:00:00Z".parse().unwrap(),
        attempt: 1,
        start_time: crate::timestamp::parse_stamp("2027-01-01T09:00:00.250Z").unwrap(),
        finish_time: crate::timestamp::parse_stamp("2027-01-01T09:00:01.250Z"),
        succeeded: Some(true),
        message: Some("sent".into()),
        duration_ms: Some(1000),
        retryable: None,
        superseded: false,
        skipped: false,
        progress: None,
        progress_fraction: None,
        expires_at: 1_800_000_000,
    };
    let item = record.to_item();
    assert_eq!(item.get("expiresAt"), Some(&n("1800000000")));
    assert_eq!(item.get("superseded"), None);
    assert_eq!(RunRecord::from_item(&item).unwrap(), record);
}

#[test]
fn near_misses_of_nextdues_attribute_names_are_reported_and_other_names_kept() {
    let base = || Worker::new("w1", "log").to_item();
    for (typo, meant) in [
        ("nxtDue", "nextDue"),
        ("scheduel", "schedule"),
        ("NextDue", "nextDue"),
        ("maxAtempts", "maxAttempts"),
        ("Enabled", "enabled"),
        ("timezon", "timezone"),
    ] {
        let mut item = base();
        item.insert(typo.into(), s("x"));
        let error = Worker::from_item(&item).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{typo}: is not an attribute nextdue knows; did you mean {meant}?")
        );
    }
    for own in ["owner", "notes", "team", "padding", "parent", "description"] {
        let mut item = base();
        item.insert(own.into(), s("x"));
        assert!(Worker::from_item(&item).is_ok(), "{own} is the user's own");
    }
}
