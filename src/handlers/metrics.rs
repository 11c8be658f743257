//! CloudWatch metrics through the Embedded Metric Format: one JSON line on stdout per run, skip
//! or sweeper pass, which Lambda's log pipeline turns into metrics with no API call.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::item::RunRecord;
use crate::lifecycle::{SkipReason, SweepReport};

/// The CloudWatch namespace of nextdue's metrics.
pub const NAMESPACE: &str = "nextdue";

fn document(now: DateTime<Utc>, dimension: &str, metrics: &[(&str, &str)], fields: Value) -> Value {
    let mut document = json!({
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[dimension], []],
                "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
    });
    if let (Some(document), Value::Object(fields)) = (document.as_object_mut(), fields) {
        document.extend(fields);
    }
    document
}

/// The metrics of a finished run: started, succeeded or failed, lateness (start − due) and
/// duration, by job kind.
///
/// ```
/// # use nextdue::{item::RunRecord, handlers::metrics::finished};
/// # let record = RunRecord { worker_id: "w".into(), run_id: "r".into(), task_id: "t".into(),
/// #     due: "2027-01-01T09:00:00Z".parse().unwrap(), attempt: 1,
/// #     start_time: "2027-01-01T09:00:00.250Z".parse().unwrap(), finish_time: None,
/// #     succeeded: Some(true), message: None, duration_ms: Some(40), retryable: None, superseded: false, skipped: false, progress: None,
/// #     progress_fraction: None, expires_at: 0 };
/// let line = finished(&record, "email", record.start_time);
/// assert_eq!(line["Kind"], "email");
/// assert_eq!(line["RunsSucceeded"], 1);
/// assert_eq!(line["Lateness"], 250);
/// ```
pub fn finished(record: &RunRecord, kind: &str, now: DateTime<Utc>) -> Value {
    let succeeded = record.succeeded == Some(true);
    let lateness = (record.start_time - record.due.instant())
        .num_milliseconds()
        .max(0);
    document(
        now,
        "Kind",
        &[
            ("RunsStarted", "Count"),
            ("RunsSucceeded", "Count"),
            ("RunsFailed", "Count"),
            ("Lateness", "Milliseconds"),
            ("Duration", "Milliseconds"),
        ],
        json!({
            "Kind": kind,
            "RunsStarted": 1,
            "RunsSucceeded": u8::from(succeeded),
            "RunsFailed": u8::from(!succeeded),
            "Lateness": lateness,
            "Duration": record.duration_ms.unwrap_or(0),
            "worker": record.worker_id,
        }),
    )
}

/// The metric of a skipped message, by reason.
pub fn skipped(reason: &SkipReason, worker: &str, now: DateTime<Utc>) -> Value {
    document(
        now,
        "Reason",
        &[("RunsSkipped", "Count")],
        json!({"Reason": reason.code(), "RunsSkipped": 1, "worker": worker}),
    )
}

/// The metrics of a sweeper pass: what it rescued, re-delivered, and could not act on.
pub fn swept(report: &SweepReport, now: DateTime<Utc>) -> Value {
    document(
        now,
        "Duty",
        &[
            ("SweepRescued", "Count"),
            ("SweepRedelivered", "Count"),
            ("SweepHeldBack", "Count"),
            ("SweepFailed", "Count"),
        ],
        json!({
            "Duty": "sweep",
            "SweepLookedAt": report.looked_at,
            "SweepRescued": report.rescued,
            "SweepRedelivered": report.redelivered,
            "SweepHeldBack": report.held_back,
            "SweepFailed": report.failed,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_counted_by_reason_in_the_embedded_metric_format() {
        let now = DateTime::UNIX_EPOCH;
        let line = skipped(&SkipReason::StaleTask { current: None }, "w1", now);
        assert_eq!(line["Reason"], "stale_task");
        assert_eq!(line["RunsSkipped"], 1);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "nextdue");
        assert_eq!(directive["Dimensions"], json!([["Reason"], []]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "RunsSkipped", "Unit": "Count"}])
        );
    }
}
