//! `nextdue schedule`: the next due times of a schedule expression, offline, computed by the
//! very code the workers use (and refused with the same messages).

use chrono::{DateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use clap::Args;
use serde::Serialize;

use super::format::{self, paint, style};
use super::{Connection, OpsError, OpsResult};
use crate::schedule::Schedule;
use crate::timestamp::Due;

/// What `schedule` previews.
#[derive(Args, Clone, Debug)]
pub struct PreviewArgs {
    /// A `rate()`, `cron()` or `at()` expression.
    pub expression: String,
    /// The IANA time zone `cron()` and `at()` read their times in.
    #[arg(long, default_value = "UTC")]
    pub timezone: String,
    /// When the worker would be enabled (RFC 3339; default: now).
    #[arg(long)]
    pub from: Option<DateTime<Utc>>,
    /// How many due times to show (1 to 1,000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
}

/// One due time, as `schedule --json` gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DueTime {
    /// The due time in UTC (as stored in `nextDue`).
    pub utc: String,
    /// The same instant in the schedule's time zone, with its offset.
    pub local: String,
    /// Set when the zone's clocks change on that local day: what they do.
    pub daylight_saving: Option<String>,
}

/// The offset of `tz` at `at`, in seconds east of UTC.
fn offset(tz: Tz, at: DateTime<Utc>) -> i32 {
    at.with_timezone(&tz).offset().fix().local_minus_utc()
}

/// `-05:00`.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What the clocks of `tz` do on the local day of `at`, if they change.
fn clock_change(tz: Tz, at: DateTime<Utc>) -> Option<String> {
    let day = at.with_timezone(&tz).date_naive();
    let midnight = |d: chrono::NaiveDate| tz.from_local_datetime(&d.and_time(NaiveTime::MIN));
    let start = midnight(day).earliest()?.with_timezone(&Utc);
    let end = midnight(day.succ_opt()?).earliest()?.with_timezone(&Utc) - TimeDelta::seconds(1);
    let (before, after) = (offset(tz, start), offset(tz, end));
    (before != after).then(|| {
        let direction = if after > before { "forward" } else { "back" };
        format!(
            "clocks go {direction} this day (UTC{} → UTC{})",
            offset_text(before),
            offset_text(after)
        )
    })
}

/// One due time, in UTC and in `tz`, with what the clocks do that day.
pub fn describe(due: Due, tz: Tz) -> DueTime {
    let at = due.instant();
    DueTime {
        utc: due.to_string(),
        local: at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %:z (%a)")
            .to_string(),
        daylight_saving: clock_change(tz, at),
    }
}

/// The first `count` due times of `schedule` for a worker enabled at `from` in `tz` (a
/// `rate()` worker runs at once, as by default; `cron()` and `at()` wait for their time).
pub fn due_times(schedule: &Schedule, tz: Tz, from: DateTime<Utc>, count: usize) -> Vec<DueTime> {
    let start = Due::ceil(from);
    let first = if schedule.runs_immediately_by_default() {
        Some(start)
    } else {
        schedule.first_due(start, tz)
    };
    let mut times = Vec::new();
    let mut next = first;
    while let Some(due) = next {
        if times.len() >= count {
            break;
        }
        times.push(describe(due, tz));
        next = schedule.next_due(due, due, tz);
    }
    times
}

/// Runs `nextdue schedule`.
pub fn run(connection: &Connection, args: &PreviewArgs) -> OpsResult<()> {
    let schedule: Schedule = args
        .expression
        .parse()
        .map_err(|e| OpsError(format!("schedule: {e}")))?;
    let tz: Tz = args.timezone.parse().map_err(|_| {
        OpsError(format!(
            "timezone: expected an IANA time zone such as Europe/London, got {:?}",
            args.timezone
        ))
    })?;
    let from = args.from.unwrap_or_else(|| connection.now());
    let times = due_times(&schedule, tz, from, args.count.into());
    if connection.json {
        format::print_json(&serde_json::json!({
            "expression": schedule.to_string(),
            "timezone": tz.name(),
            "from": Due::ceil(from),
            "dueTimes": times,
        }));
        return Ok(());
    }
    format::print(&format!(
        "{} in {}, from {}:",
        paint(&schedule.to_string(), style::HEAD),
        tz.name(),
        format::utc(from)
    ));
    if times.is_empty() {
        format::print("no due time (the schedule never fires after this)");
        return Ok(());
    }
    format::print(&due_table(&times, tz.name()));
    Ok(())
}

/// Due times as a table: UTC, local time in `zone`, and any daylight-saving change.
pub fn due_table(times: &[DueTime], zone: &str) -> String {
    let local = format!("IN {zone}");
    let cells = times
        .iter()
        .map(|time| {
            let note = time
                .daylight_saving
                .as_deref()
                .map(|n| format!("daylight saving: {n}"))
                .unwrap_or_default();
            vec![time.utc.clone(), time.local.clone(), note]
        })
        .collect();
    format::table(&["UTC", &local, ""], cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spring_forward_sunday_in_new_york_is_marked() {
        let schedule: Schedule = "cron(30 2 ? * SUN *)".parse().unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        let from = "2027-03-01T00:00:00Z".parse().unwrap();
        let times = due_times(&schedule, tz, from, 3);
        let utc: Vec<&str> = times.iter().map(|t| t.utc.as_str()).collect();
        // 7 March at 02:30 EST; 14 March has no 02:30 (clocks jump from 02:00 to 03:00), so
        // it runs at the first instant after the jump, 03:00 EDT; then 02:30 EDT.
        assert_eq!(
            utc,
            [
                "2027-03-07T07:30:00Z",
                "2027-03-14T07:00:00Z",
                "2027-03-21T06:30:00Z"
            ]
        );
        assert_eq!(times[0].daylight_saving, None);
        assert_eq!(
            times[1].daylight_saving.as_deref(),
            Some("clocks go forward this day (UTC-05:00 → UTC-04:00)")
        );
        assert_eq!(times[1].local, "2027-03-14 03:00:00 -04:00 (Sun)");
    }

    #[test]
    fn a_rate_starts_at_once_and_an_at_names_one_time() {
        let from = "2027-01-01T09:00:00.500Z".parse().unwrap();
        let rate: Schedule = "rate(90 minutes)".parse().unwrap();
        let times = due_times(&rate, Tz::UTC, from, 2);
        assert_eq!(times[0].utc, "2027-01-01T09:00:01Z");
        assert_eq!(times[1].utc, "2027-01-01T10:30:01Z");
        let at: Schedule = "at(2027-06-01T12:00:00)".parse().unwrap();
        assert_eq!(due_times(&at, Tz::UTC, from, 5).len(), 1);
    }
}
