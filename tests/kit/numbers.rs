//! Numbers reach the outside world exactly as the item stores them (DynamoDB keeps a number's
//! decimal text; a float would round the first of these and rewrite the second).

use chrono::{TimeDelta, TimeZone, Utc};
use nextdue::item::json::parse;
use nextdue::item::{AttributeValue, Item};
use nextdue::job::Invoked;
use nextdue::testing::{Harness, http_answer};

const EXACT: [&str; 3] = ["12345678901234567890123456789", "0.10", "1E+3"];

fn item(text: &str) -> Item {
    let AttributeValue::M(map) = parse(text).unwrap().to_attribute() else {
        panic!("an object")
    };
    Item::from(map)
}

#[tokio::test]
async fn http_bodies_and_lambda_payloads_keep_numbers_as_written() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(nextdue::jobs::builtin(), start);
    harness
        .http()
        .answer("https://hooks.example.com/n", http_answer(200, "ok"));
    let done = Ok(Invoked {
        function_error: None,
        payload_start: b"null".to_vec(),
    });
    harness.functions().answer("crunch", done.clone());
    harness.functions().answer("given", done);
    let numbers = r#"{"big": 12345678901234567890123456789, "tenth": 0.10, "exp": 1E+3}"#;
    for text in [
        format!(
            r#"{{"id": "hook", "kind": "http", "enabled": true,
                "params": {{"url": "https://hooks.example.com/n", "body": {numbers}}}}}"#
        ),
        format!(
            r#"{{"id": "default", "kind": "lambda", "enabled": true,
                "params": {{"function": "crunch", "numbers": {numbers}}}}}"#
        ),
        format!(
            r#"{{"id": "given", "kind": "lambda", "enabled": true,
                "params": {{"function": "given", "payload": {numbers}}}}}"#
        ),
    ] {
        harness.put(item(&text)).await.unwrap();
    }
    harness.advance(TimeDelta::seconds(5)).await;
    let body = String::from_utf8(harness.http().calls()[0].body.clone().unwrap()).unwrap();
    let payloads: Vec<String> = harness
        .functions()
        .calls()
        .into_iter()
        .map(|(_, payload)| String::from_utf8(payload).unwrap())
        .collect();
    assert_eq!(payloads.len(), 2);
    for sent in payloads.iter().chain([&body]) {
        for number in EXACT {
            assert!(sent.contains(number), "{number} was changed: {sent}");
        }
        serde_json::from_str::<serde_json::Value>(sent).expect("JSON");
    }
}
