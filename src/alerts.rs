//! Alerts to people: the events that need someone (a worker gave up, went invalid or overdue,
//! messages were dead-lettered) folded into one digest per batch, so a thousand failing workers
//! send one message, not a thousand. The template's rule copies those events to a queue; the alerter function takes
//! them off it in batches (up to [`crate::glue::mapping::ALERT_BATCH_SIZE`], gathered for up to
//! the `AlertDigestSeconds` window) and publishes a digest of each batch to the alert topic.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::events::{Detail, EventType, SOURCE};

/// The events that are alerts: someone should look.
pub const ALERTS: [EventType; 4] = [
    EventType::GaveUp,
    EventType::Invalid,
    EventType::Overdue,
    EventType::DeadLettered,
];
/// The rule pattern that sends alerts to the alert queue (the template's `AlertRule` declares
/// exactly this; a test compares them).
pub const PATTERN: &str = r#"{"source": ["nextdue"], "detail-type": ["Worker Gave Up", "Worker Invalid", "Worker Overdue", "Dead Lettered"]}"#;
/// How many workers a digest names; the rest are counted.
pub const LISTED: usize = 20;
/// The longest subject SNS takes (e-mail subscriptions show it).
pub const MAX_SUBJECT: usize = 100;

/// One digest: a subject and a plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// For the e-mail's subject line: how many, of what.
    pub subject: String,
    /// Counts by type, then the first [`LISTED`] alerts, one per line.
    pub body: String,
}

/// An EventBridge event as a rule delivers it to a queue (the fields a digest reads).
#[derive(Clone, Debug, Deserialize)]
pub struct Delivered {
    /// `nextdue`.
    pub source: String,
    /// The event's type, as its detail type.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// What it says.
    pub detail: Detail,
}

impl Delivered {
    /// Reads a queue message's body; `None` if it is not one of nextdue's events.
    pub fn read(body: &str) -> Option<(EventType, Detail)> {
        let event: Delivered = serde_json::from_str(body).ok()?;
        if event.source != SOURCE {
            return None;
        }
        Some((EventType::named(&event.detail_type)?, event.detail))
    }
}

/// The digest of a batch of alerts; `None` for an empty batch.
pub fn digest(alerts: &[(EventType, Detail)]) -> Option<Digest> {
    if alerts.is_empty() {
        return None;
    }
    let mut counts: BTreeMap<EventType, usize> = BTreeMap::new();
    for (kind, _) in alerts {
        *counts.entry(*kind).or_default() += 1;
    }
    let tally = counts
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect::<Vec<_>>()
        .join(", ");
    let noun = if alerts.len() == 1 { "alert" } else { "alerts" };
    let mut subject = format!("nextdue: {} {noun} ({tally})", alerts.len());
    if subject.len() > MAX_SUBJECT {
        subject = format!("nextdue: {} {noun}", alerts.len());
    }
    let mut body = format!("{tally}\n\n");
    for (kind, detail) in alerts.iter().take(LISTED) {
        let what = detail.message.as_deref().unwrap_or_default();
        let kind_of = detail.kind.as_deref().unwrap_or("?");
        let due = detail
            .due
            .or(detail.overdue_since)
            .map(|due| format!(" {due}"))
            .unwrap_or_default();
        match &detail.worker_id {
            Some(worker) => body.push_str(&format!("{kind}: {worker} ({kind_of}){due}: {what}\n")),
            None => body.push_str(&format!("{kind}: {what}\n")),
        }
    }
    if alerts.len() > LISTED {
        body.push_str(&format!(
            "… and {} more; `nextdue ls` lists them.\n",
            alerts.len() - LISTED
        ));
    }
    Some(Digest { subject, body })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn gave_up(worker: &str) -> (EventType, Detail) {
        let detail = Detail {
            worker_id: Some(worker.into()),
            kind: Some("report".into()),
            queue: Some("default".into()),
            task_id: Some("t".into()),
            due: "2027-01-04T09:00:00Z".parse().ok(),
            message: Some("SMTP said no".into()),
            ..Detail::new(
                format!("{worker}/t/2027-01-04T09:00:00Z/gave-up"),
                Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 5).unwrap(),
            )
        };
        (EventType::GaveUp, detail)
    }

    #[test]
    fn a_flood_of_five_hundred_is_one_digest_naming_twenty() {
        let mut alerts: Vec<_> = (0..500).map(|i| gave_up(&format!("w{i}"))).collect();
        alerts.push((EventType::Invalid, gave_up("bad").1));
        let digest = digest(&alerts).unwrap();
        assert_eq!(
            digest.subject,
            "nextdue: 501 alerts (500 Worker Gave Up, 1 Worker Invalid)"
        );
        assert_eq!(
            digest
                .body
                .lines()
                .filter(|l| l.contains("(report)"))
                .count(),
            LISTED
        );
        assert!(digest.body.contains("… and 481 more"), "{}", digest.body);
        assert!(
            digest
                .body
                .starts_with("500 Worker Gave Up, 1 Worker Invalid\n")
        );
        assert!(
            digest
                .body
                .contains("Worker Gave Up: w0 (report) 2027-01-04T09:00:00Z: SMTP said no")
        );
    }

    #[test]
    fn the_rule_pattern_names_exactly_the_alerts() {
        let pattern: serde_json::Value = serde_json::from_str(PATTERN).unwrap();
        let named: Vec<&str> = ALERTS.iter().map(|t| t.detail_type()).collect();
        assert_eq!(pattern["detail-type"], serde_json::json!(named));
        assert_eq!(pattern["source"], serde_json::json!([SOURCE]));
    }

    #[test]
    fn nothing_to_tell_sends_nothing_and_foreign_messages_are_not_alerts() {
        assert_eq!(digest(&[]), None);
        assert!(Delivered::read("{}").is_none());
        assert!(
            Delivered::read(
                r#"{"source": "aws.s3", "detail-type": "Worker Gave Up", "detail": {}}"#
            )
            .is_none()
        );
        let (kind, detail) = gave_up("w");
        let body = serde_json::json!({"source": "nextdue", "detail-type": kind.detail_type(),
            "detail": detail});
        assert_eq!(Delivered::read(&body.to_string()), Some((kind, detail)));
    }
}
