//! The `report` kind's unit tests, on nextdue's test kit: the real handlers, this project's
//! registry, memory in place of AWS and a clock the test moves. No emulator needed.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::item::{AttributeValue, Status};
use nextdue::testing::Harness;
use serde_json::json;

fn monday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap()
}

fn harness() -> Harness {
    Harness::new(reports::registry().unwrap(), monday_morning())
}

#[tokio::test]
async fn a_weekly_report_mails_its_readers_every_monday() {
    let mut harness = harness();
    harness
        .put_json(
            json!({"id": "payments-weekly", "kind": "report", "enabled": true,
            "schedule": "cron(0 9 ? * MON *)", "timezone": "Europe/London",
            "params": {"team": "payments", "from": "reports@example.com",
                       "to": ["lead@example.com", "cto@example.com"]}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::weeks(3)).await;
    let mail = harness.mail();
    let subjects: Vec<&str> = mail.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Report on payments for 2027-01-04T09:00:00Z",
            "Report on payments for 2027-01-11T09:00:00Z",
            "Report on payments for 2027-01-18T09:00:00Z",
        ]
    );
    assert_eq!(mail[0].to, ["lead@example.com", "cto@example.com"]);
    let worker = harness.worker("payments-weekly");
    assert_eq!(
        (worker.run_count, worker.last_run_succeeded),
        (3, Some(true))
    );
    assert!(
        worker
            .last_run_message
            .unwrap()
            .starts_with("report on payments sent")
    );
}

#[tokio::test]
async fn a_follow_up_is_its_own_worker_and_mails_hours_later() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "q1", "kind": "report", "enabled": true,
            "nextDue": "2027-01-04T09:00:00Z",
            "params": {"team": "search", "from": "reports@example.com", "to": ["lead@example.com"],
                       "followUp": {"afterHours": 24, "text": "Any questions on the report?"}}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::hours(2)).await;
    let id = "q1#follow-up#2027-01-04T09:00:00Z";
    let follow_up = harness.worker(id);
    assert_eq!(follow_up.parent_id.as_deref(), Some("q1"));
    assert_eq!(follow_up.status, Some(Status::Ready));
    assert_eq!(harness.mail().len(), 1);

    harness.advance(TimeDelta::hours(23)).await;
    let mail = harness.mail();
    assert_eq!(mail.len(), 2);
    assert_eq!(
        mail[1].subject,
        "Follow-up: Report on search for 2027-01-04T09:00:00Z"
    );
    assert_eq!(
        mail[1].text.as_deref(),
        Some("Any questions on the report?")
    );
    let runs = harness.runs(id);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].due.to_string(), "2027-01-05T09:00:00Z");
}

#[tokio::test]
async fn a_report_with_no_readers_is_invalid_and_says_which_attribute() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "nobody", "kind": "report", "enabled": true,
            "params": {"team": "infra", "from": "reports@example.com", "to": []}}))
        .await
        .unwrap();
    let item = harness.item("nobody").unwrap();
    assert_eq!(
        item.get("status"),
        Some(&AttributeValue::S("invalid".into()))
    );
    let Some(AttributeValue::S(message)) = item.get("lastRunMessage") else {
        panic!("no message: {item:?}")
    };
    assert!(message.contains("params.to"), "{message}");
    assert!(message.contains("needs at least one reader"), "{message}");
    assert!(harness.mail().is_empty());
}
