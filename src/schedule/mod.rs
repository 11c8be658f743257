//! Schedules in EventBridge Scheduler's syntax (`rate()`, `cron()`, `at()`), evaluated in an
//! IANA time zone, and the rule that picks the next due time.
//!
//! Recurring due times are anchored to the previous due time, never to the clock, so they do
//! not drift. When due times were missed (downtime, a long run), the worker runs once, for the
//! latest missed time, and then resumes on the grid: no burst of catch-up runs.

mod cron;

use std::fmt;

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use self::cron::Cron;
use crate::timestamp::Due;

/// The longest `rate()` period accepted: ten years.
pub const MAX_RATE_SECONDS: i64 = 3650 * 86_400;

/// Why a schedule expression was rejected; the message says what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Neither `rate(…)`, `cron(…)` nor `at(…)`.
    #[error(
        "expected rate(5 minutes), cron(0 9 ? * MON-FRI *) or at(2027-01-01T09:00:00), got {0:?}"
    )]
    UnknownForm(String),
    /// A `rate()` that is not `rate(N unit)` with N ≥ 1.
    #[error("rate: {0}")]
    Rate(String),
    /// A cron expression with the wrong shape.
    #[error("cron: {0}")]
    Cron(String),
    /// One field of a cron expression is wrong.
    #[error("cron {field}: {problem}")]
    CronField {
        /// The field's name (`minutes`, `day-of-week`, …).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An `at()` that is not a local date and time.
    #[error("at: expected a local time such as at(2027-01-01T09:00:00), got {0:?}")]
    At(String),
    /// An `at()` after the last year EventBridge Scheduler can name.
    #[error("at: {0} is after 2199, the last year EventBridge Scheduler can name")]
    Horizon(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    Rate { seconds: i64 },
    Cron(Box<Cron>),
    At(NaiveDateTime),
}

/// A parsed schedule expression; it keeps its text for display and storage.
///
/// ```
/// use nextdue::schedule::Schedule;
/// let hourly: Schedule = "rate(1 hour)".parse().unwrap();
/// assert_eq!(hourly.to_string(), "rate(1 hour)");
/// assert!("rate(0 minutes)".parse::<Schedule>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    rule: Rule,
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let inner = |prefix: &str| {
            trimmed
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
        };
        let rule = if let Some(body) = inner("rate(") {
            parse_rate(body)?
        } else if let Some(body) = inner("cron(") {
            Rule::Cron(Box::new(Cron::parse(body)?))
        } else if let Some(body) = inner("at(") {
            let local = NaiveDateTime::parse_from_str(body.trim(), "%Y-%m-%dT%H:%M:%S")
                .map_err(|_| ScheduleError::At(body.to_owned()))?;
            if local.year() > cron::YEARS.1 as i32 {
                return Err(ScheduleError::Horizon(body.trim().to_owned()));
            }
            Rule::At(local)
        } else {
            return Err(ScheduleError::UnknownForm(text.to_owned()));
        };
        Ok(Schedule {
            text: trimmed.to_owned(),
            rule,
        })
    }
}

fn parse_rate(body: &str) -> Result<Rule, ScheduleError> {
    parse_seconds(body, "rate(5 minutes)")
        .map(|seconds| Rule::Rate { seconds })
        .map_err(ScheduleError::Rate)
}

/// Reads `N unit` (a whole N of at least 1; seconds, minutes, hours or days, singular or plural)
/// as seconds, up to ten years; `example` shows the form in the error.
fn parse_seconds(body: &str, example: &str) -> Result<i64, String> {
    let words: Vec<&str> = body.split_whitespace().collect();
    let [value, unit] = words[..] else {
        return Err(format!(
            "expected a number and a unit, such as {example}, got {body:?}"
        ));
    };
    let too_large = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let value: i64 = value.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
        if too_large && !value.trim_start_matches('0').is_empty() {
            "the period is longer than 3650 days".to_owned()
        } else {
            format!("{value:?} is not a whole number of at least 1")
        }
    })?;
    let unit_seconds = match unit.to_ascii_lowercase().as_str() {
        "second" | "seconds" => 1,
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => {
            return Err(format!(
                "unit {unit:?} is not one of seconds, minutes, hours, days"
            ));
        }
    };
    value
        .checked_mul(unit_seconds)
        .filter(|seconds| *seconds <= MAX_RATE_SECONDS)
        .ok_or_else(|| "the period is longer than 3650 days".into())
}

/// A length of time written as in `rate()`: a number and a unit (`10 minutes`, `2 hours`), as
/// a worker's `alertAfter` is. It keeps its text.
///
/// ```
/// use nextdue::schedule::Period;
/// let period: Period = "10 minutes".parse().unwrap();
/// assert_eq!(period.seconds(), 600);
/// assert!("10m".parse::<Period>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    text: String,
    seconds: i64,
}

impl Period {
    /// The length in seconds.
    pub fn seconds(&self) -> i64 {
        self.seconds
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let seconds = parse_seconds(text, "\"10 minutes\" or \"2 hours\"")?;
        Ok(Period {
            text: text.trim().to_owned(),
            seconds,
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Schedule {
    /// The period of a `rate()` schedule, in seconds.
    pub fn rate_seconds(&self) -> Option<i64> {
        match self.rule {
            Rule::Rate { seconds } => Some(seconds),
            _ => None,
        }
    }

    /// Whether the schedule names more than one time (`rate()` and `cron()`; `at()` names one).
    pub fn recurs(&self) -> bool {
        !matches!(self.rule, Rule::At(_))
    }

    /// Whether a worker with this schedule runs at once when first enabled, unless its item says
    /// otherwise: yes for `rate()`, no for `cron()` and `at()`, which name their own times.
    pub fn runs_immediately_by_default(&self) -> bool {
        matches!(self.rule, Rule::Rate { .. })
    }

    /// The first due time of a worker enabled at `now` that does not run at once.
    ///
    /// `rate()`: one period after `now`; `cron()`: the first match after `now`; `at()`: its time,
    /// even a past one (it then runs once, now). `None` when the schedule never fires.
    pub fn first_due(&self, now: Due, tz: Tz) -> Option<Due> {
        let first = match &self.rule {
            Rule::Rate { seconds } => now.plus_seconds(*seconds),
            Rule::Cron(cron) => cron.next_after(now.instant(), tz).map(Due::floor),
            Rule::At(local) => resolve_local(tz, *local).map(Due::floor),
        };
        first.filter(within_horizon)
    }

    /// The due time that follows `previous`, given that it is `now`.
    ///
    /// Always strictly after `previous`, and on the schedule's grid anchored at `previous`. If
    /// that time has already passed, the latest passed time is returned (the worker runs once
    /// for it, then resumes on the grid). `None` when the schedule has no further time.
    ///
    /// ```
    /// use nextdue::{schedule::Schedule, timestamp::Due};
    /// let every_5s: Schedule = "rate(5 seconds)".parse().unwrap();
    /// let due = |t: &str| t.parse::<Due>().unwrap();
    /// let tz = chrono_tz::UTC;
    /// // On time: the next slot on the grid.
    /// assert_eq!(every_5s.next_due(due("2027-01-01T09:00:00Z"), due("2027-01-01T09:00:01Z"), tz),
    ///            Some(due("2027-01-01T09:00:05Z")));
    /// // After downtime: the latest missed slot, once.
    /// assert_eq!(every_5s.next_due(due("2027-01-01T09:00:00Z"), due("2027-01-01T09:01:02Z"), tz),
    ///            Some(due("2027-01-01T09:01:00Z")));
    /// ```
    pub fn next_due(&self, previous: Due, now: Due, tz: Tz) -> Option<Due> {
        self.next_on_grid(previous, now, tz).filter(within_horizon)
    }

    fn next_on_grid(&self, previous: Due, now: Due, tz: Tz) -> Option<Due> {
        match &self.rule {
            Rule::Rate { seconds } => {
                let next = previous.plus_seconds(*seconds)?;
                if next > now {
                    return Some(next);
                }
                let elapsed = now.instant().timestamp() - previous.instant().timestamp();
                previous.plus_seconds(elapsed / seconds * seconds)
            }
            Rule::Cron(cron) => {
                let next = cron.next_after(previous.instant(), tz)?;
                if next > now.instant() {
                    return Some(Due::floor(next));
                }
                Some(Due::floor(latest_passed(cron, tz, next, now.instant())))
            }
            Rule::At(local) => resolve_local(tz, *local)
                .map(Due::floor)
                .filter(|at| *at > previous),
        }
    }
}

/// Whether a due time is within EventBridge Scheduler's horizon (the year 2199); a schedule
/// has no time past it.
fn within_horizon(due: &Due) -> bool {
    due.instant().year() <= cron::YEARS.1 as i32
}

/// The latest match of `cron` at or before `now`, given that `first` is a match at or before it.
fn latest_passed(cron: &Cron, tz: Tz, first: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    cron.last_at_or_before(now, tz)
        .filter(|latest| *latest >= first)
        .unwrap_or(first)
}

/// The instant a local wall-clock time names in `tz`, the way EventBridge Scheduler reads it:
/// a time that occurs twice (clocks going back) is its first occurrence; a time that does not
/// occur (clocks going forward) is the first valid instant after the jump.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => {
            // Walk forward a minute at a time to the end of the gap (at most a day, as when
            // Samoa skipped 30 December 2011).
            let mut probe = local.with_second(0)?;
            for _ in 0..(48 * 60) {
                probe += TimeDelta::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
            }
            None
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
