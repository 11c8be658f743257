//! The `report` kind's unit tests, on nextdue's test kit: the real handlers, this project's
//! registry, memory in place of AWS and a clock the test moves. No emulator needed.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nextdue::item::{AttributeValue, Status};
use nextdue::job::JobError;
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
    let sent: Vec<(&str, &str)> = mail
        .iter()
        .map(|m| (m.subject.as_str(), m.to.join(",")))
        .map(|(subject, to)| {
            (
                subject,
                if to == "lead@example.com" {
                    "lead"
                } else {
                    "cto"
                },
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("Report on payments for 2027-01-04T09:00:00Z", "lead"),
            ("Report on payments for 2027-01-04T09:00:00Z", "cto"),
            ("Report on payments for 2027-01-11T09:00:00Z", "lead"),
            ("Report on payments for 2027-01-11T09:00:00Z", "cto"),
            ("Report on payments for 2027-01-18T09:00:00Z", "lead"),
            ("Report on payments for 2027-01-18T09:00:00Z", "cto"),
        ]
    );
    assert_eq!(mail[1].to, ["cto@example.com"]);
    let worker = harness.worker("payments-weekly");
    assert_eq!(
        (worker.run_count, worker.last_run_succeeded),
        (3, Some(true))
    );
    assert!(
        worker
            .last_run_message
            .unwrap()
            .starts_with("report on payments sent to 2 readers")
    );
    let runs = harness.runs("payments-weekly");
    assert!(
        runs.iter()
            .all(|run| run.progress.as_deref() == Some("2 of 2 readers mailed")),
        "each run's record keeps its last progress: {runs:#?}"
    );
}

#[tokio::test]
async fn a_retry_mails_only_the_readers_its_failed_attempt_did_not_reach() {
    let mut harness = harness();
    let readers = ["a@example.com", "b@example.com", "c@example.com"];
    harness
        .mailer()
        .fail_next_to(readers[1], JobError::retryable("Throttling: slow down"));
    harness
        .put_json(json!({"id": "ops-daily", "kind": "report", "enabled": true,
            "nextDue": "2027-01-04T09:00:00Z", "maxAttempts": 3,
            "params": {"team": "ops", "from": "reports@example.com", "to": readers}}))
        .await
        .unwrap();
    harness.advance(TimeDelta::hours(3)).await;

    let runs = harness.runs("ops-daily");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0].succeeded, Some(false));
    assert_eq!(runs[0].progress.as_deref(), Some("1 of 3 readers mailed"));
    assert_eq!(runs[1].succeeded, Some(true));
    assert_eq!(
        runs[1].message.as_deref(),
        Some("report on ops sent to 3 readers (1 of them by an earlier attempt)")
    );
    let mailed: Vec<String> = harness.mail().iter().map(|m| m.to.join(",")).collect();
    assert_eq!(mailed, readers, "each reader mailed once, in order");
    let reports = harness.reports("ops-daily");
    assert!(
        !reports.is_empty() && reports.iter().all(|r| r.written),
        "{reports:#?}"
    );
    let worker = harness.worker("ops-daily");
    assert_eq!(worker.checkpoint, None, "the due time is done: {worker:#?}");
    assert_eq!(worker.progress, None);
}

#[tokio::test]
async fn a_reader_listed_twice_is_invalid_and_says_where() {
    let mut harness = harness();
    harness
        .put_json(json!({"id": "twice", "kind": "report", "enabled": true,
            "params": {"team": "infra", "from": "reports@example.com",
                       "to": ["a@example.com", "b@example.com", "a@example.com"]}}))
        .await
        .unwrap();
    let Some(AttributeValue::S(message)) = harness
        .item("twice")
        .unwrap()
        .get("lastRunMessage")
        .cloned()
    else {
        panic!("no message")
    };
    assert!(message.contains("params.to[2]"), "{message}");
    assert!(!message.contains("a@example.com"), "{message}");
    assert!(harness.mail().is_empty());
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
