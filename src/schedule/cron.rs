//! EventBridge Scheduler's `cron(minutes hours day-of-month month day-of-week year)` dialect:
//! parsing, and the next matching instant in a time zone.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::{ScheduleError, resolve_local};

/// The first and last year EventBridge accepts in a cron expression.
pub const YEARS: (u32, u32) = (1970, 2199);

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field of the expression: its name in messages, its range and the names it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    steps: bool,
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    steps: true,
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    steps: true,
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    steps: true,
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTH_NAMES,
    steps: true,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: WEEKDAY_NAMES,
    steps: false,
};
const YEAR: Field = Field {
    name: "year",
    min: YEARS.0,
    max: YEARS.1,
    names: &[],
    steps: true,
};

/// A set of small numbers, offset by the field's minimum (years need 230 of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ValueSet {
    min: u32,
    bits: [u64; 4],
}

impl ValueSet {
    fn empty(min: u32) -> Self {
        ValueSet { min, bits: [0; 4] }
    }

    fn insert(&mut self, value: u32) {
        let i = (value - self.min) as usize;
        self.bits[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, value: u32) -> bool {
        let Some(i) = value.checked_sub(self.min).map(|i| i as usize) else {
            return false;
        };
        i < 256 && self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        (0..256u32)
            .filter(|i| self.bits[*i as usize / 64] & (1 << (i % 64)) != 0)
            .map(|i| i + self.min)
    }
}

/// How the day-of-month field picks days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfMonth {
    /// `?`: the day-of-week field decides.
    Any,
    /// Listed days, ranges and steps.
    Days(ValueSet),
    /// `L`: the last day of the month.
    Last,
    /// `nW`: the weekday (Monday to Friday) nearest to day n, within the same month.
    NearestWeekday(u32),
    /// `L-n`: n days before the last day of the month.
    BeforeLast(u32),
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
}

/// How the day-of-week field picks days (1 = Sunday … 7 = Saturday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOfWeek {
    /// `?`: the day-of-month field decides.
    Any,
    /// Listed weekdays and ranges; `L` alone is Saturday, the week's last day.
    Days(ValueSet),
    /// `nL`: the last weekday n of the month.
    LastOf(u32),
    /// `n#k`: the k-th weekday n of the month.
    Nth(u32, u32),
}

/// A parsed cron expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: ValueSet,
    hours: ValueSet,
    day_of_month: DayOfMonth,
    months: ValueSet,
    day_of_week: DayOfWeek,
    years: ValueSet,
}

fn field_error(field: &Field, problem: impl Into<String>) -> ScheduleError {
    ScheduleError::CronField {
        field: field.name,
        problem: problem.into(),
    }
}

impl Field {
    fn describe_range(&self) -> String {
        match self.names {
            [] => format!("{}-{}", self.min, self.max),
            names => format!(
                "{}-{} or {}-{}",
                self.min,
                self.max,
                names[0],
                names[names.len() - 1]
            ),
        }
    }

    fn value(&self, text: &str) -> Result<u32, ScheduleError> {
        let upper = text.to_ascii_uppercase();
        let value = match self.names.iter().position(|name| *name == upper) {
            Some(index) => index as u32 + self.min,
            None => text.parse::<u32>().map_err(|_| {
                field_error(
                    self,
                    format!(
                        "{text:?} is not a value (expected {})",
                        self.describe_range()
                    ),
                )
            })?,
        };
        if value < self.min || value > self.max {
            return Err(field_error(
                self,
                format!("{value} is out of range {}", self.describe_range()),
            ));
        }
        Ok(value)
    }

    /// Parses `*`, `a`, `a-b`, `*/s`, `a/s`, `a-b/s` and comma lists of them.
    fn list(&self, text: &str) -> Result<ValueSet, ScheduleError> {
        let mut set = ValueSet::empty(self.min);
        for element in text.split(',') {
            let (range, step) = match element.split_once('/') {
                Some(_) if !self.steps => {
                    return Err(field_error(self, "the / wildcard is not allowed here"));
                }
                Some((range, step)) => {
                    let step = step
                        .parse::<u32>()
                        .ok()
                        .filter(|s| *s >= 1)
                        .ok_or_else(|| {
                            field_error(
                                self,
                                format!("step {step:?} must be a whole number of at least 1"),
                            )
                        })?;
                    // EventBridge refuses a step longer than the field (`*/60` minutes,
                    // `*/32` days).
                    let longest = if self.min <= 1 {
                        self.max
                    } else {
                        self.max - self.min
                    };
                    if step > longest {
                        return Err(field_error(
                            self,
                            format!(
                                "step {step} is longer than the field's range (at most {longest})"
                            ),
                        ));
                    }
                    (range, Some(step))
                }
                None => (element, None),
            };
            let (first, last) = match range.split_once('-') {
                _ if range == "*" => (self.min, self.max),
                Some((a, b)) => (self.value(a)?, self.value(b)?),
                None if step.is_some() => (self.value(range)?, self.max),
                None => {
                    let value = self.value(range)?;
                    (value, value)
                }
            };
            if first > last {
                return Err(field_error(self, format!("range {range} runs backwards")));
            }
            for value in (first..=last).step_by(step.unwrap_or(1) as usize) {
                set.insert(value);
            }
        }
        Ok(set)
    }
}

impl Cron {
    /// Parses the text between `cron(` and `)`.
    pub fn parse(text: &str) -> Result<Cron, ScheduleError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err(ScheduleError::Cron(format!(
                "expected 6 fields (minutes hours day-of-month month day-of-week year), got {}",
                fields.len()
            )));
        };
        let cron = Cron {
            minutes: MINUTES.list(minutes)?,
            hours: HOURS.list(hours)?,
            day_of_month: parse_day_of_month(dom)?,
            months: MONTH.list(month)?,
            day_of_week: parse_day_of_week(dow)?,
            years: YEAR.list(year)?,
        };
        let month_any = cron.day_of_month == DayOfMonth::Any;
        let week_any = cron.day_of_week == DayOfWeek::Any;
        if month_any == week_any {
            return Err(ScheduleError::Cron(
                "exactly one of day-of-month and day-of-week must be ? \
                 (for example cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *))"
                    .into(),
            ));
        }
        Ok(cron)
    }

    fn matches_day(&self, date: NaiveDate) -> bool {
        let day = date.day();
        let last = last_day_of_month(date);
        let weekday = date.weekday().number_from_sunday();
        let by_month = match self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(set) => set.contains(day),
            DayOfMonth::Last => day == last,
            DayOfMonth::BeforeLast(n) => day + n == last,
            DayOfMonth::LastWeekday => {
                nearest_weekday(date.with_day(last).expect("the last day exists")) == day
            }
            DayOfMonth::NearestWeekday(n) => {
                n <= last && nearest_weekday(date.with_day(n).expect("n <= last")) == day
            }
        };
        let by_week = match self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(set) => set.contains(weekday),
            DayOfWeek::LastOf(n) => weekday == n && day + 7 > last,
            DayOfWeek::Nth(n, k) => weekday == n && (day - 1) / 7 + 1 == k,
        };
        by_month && by_week
    }

    /// The first matching instant strictly after `after`, reading the fields in `tz`.
    ///
    /// A local time that a daylight-saving jump skips runs at the first valid instant after the
    /// jump; a local time that occurs twice runs once, at its first occurrence. `None` when
    /// nothing matches before the end of the year range.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local();
        // Local times more than a few hours before `after` map to instants before it, whatever
        // the offsets on either side; skipping them keeps the search short.
        let skip_before = local - TimeDelta::hours(4);
        let mut date = skip_before.date();
        loop {
            if date.year() as u32 > YEARS.1 {
                return None;
            }
            if !self.years.contains(date.year() as u32) {
                date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
                continue;
            }
            if !self.months.contains(date.month()) {
                date = first_of_next_month(date)?;
                continue;
            }
            if self.matches_day(date) {
                for hour in self.hours.iter() {
                    for minute in self.minutes.iter() {
                        let naive =
                            NaiveDateTime::new(date, NaiveTime::from_hms_opt(hour, minute, 0)?);
                        if naive < skip_before {
                            continue;
                        }
                        match resolve_local(tz, naive) {
                            Some(instant) if instant > after => return Some(instant),
                            _ => {}
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
    }

    /// The last matching instant at or before `at`, reading the fields in `tz` (the mirror of
    /// [`Cron::next_after`], with the same daylight-saving rules). `None` when nothing matches
    /// since the start of the year range.
    pub fn last_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz).naive_local();
        // Local times more than a few hours after `at` map to instants after it.
        let skip_after = local + TimeDelta::hours(4);
        let mut date = skip_after.date();
        loop {
            if (date.year() as u32) < YEARS.0 {
                return None;
            }
            if !self.years.contains(date.year() as u32) {
                date = NaiveDate::from_ymd_opt(date.year() - 1, 12, 31)?;
                continue;
            }
            if !self.months.contains(date.month()) {
                date = date.with_day(1)?.pred_opt()?;
                continue;
            }
            if self.matches_day(date) {
                for hour in self.hours.iter().rev() {
                    for minute in self.minutes.iter().rev() {
                        let naive =
                            NaiveDateTime::new(date, NaiveTime::from_hms_opt(hour, minute, 0)?);
                        if naive > skip_after {
                            continue;
                        }
                        match resolve_local(tz, naive) {
                            Some(instant) if instant <= at => return Some(instant),
                            _ => {}
                        }
                    }
                }
            }
            date = date.pred_opt()?;
        }
    }
}

fn parse_day_of_month(text: &str) -> Result<DayOfMonth, ScheduleError> {
    if text == "?" {
        return Ok(DayOfMonth::Any);
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(DayOfMonth::Last);
    }
    if text.eq_ignore_ascii_case("LW") {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(n) = text
        .strip_prefix(['L', 'l'])
        .and_then(|t| t.strip_prefix('-'))
    {
        return n
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 30)
            .map(DayOfMonth::BeforeLast)
            .ok_or_else(|| {
                field_error(
                    &DAY_OF_MONTH,
                    format!("{text:?}: the number after L- must be 0 to 30"),
                )
            });
    }
    if let Some(day) = text.strip_suffix(['W', 'w']) {
        return Ok(DayOfMonth::NearestWeekday(DAY_OF_MONTH.value(day)?));
    }
    if text.contains(['L', 'l', 'W', 'w', '#', '?']) {
        return Err(field_error(
            &DAY_OF_MONTH,
            format!("{text:?}: L, W and ? stand alone (L, L-2, LW, 15W, ?)"),
        ));
    }
    DAY_OF_MONTH.list(text).map(DayOfMonth::Days)
}

fn parse_day_of_week(text: &str) -> Result<DayOfWeek, ScheduleError> {
    if text == "?" {
        return Ok(DayOfWeek::Any);
    }
    if text.eq_ignore_ascii_case("L") {
        let mut saturday = ValueSet::empty(DAY_OF_WEEK.min);
        saturday.insert(7);
        return Ok(DayOfWeek::Days(saturday));
    }
    if let Some(day) = text.strip_suffix(['L', 'l']) {
        return Ok(DayOfWeek::LastOf(DAY_OF_WEEK.value(day)?));
    }
    if text.contains('#') && text.contains([',', '-']) {
        return Err(field_error(
            &DAY_OF_WEEK,
            format!("{text:?}: # allows one expression such as 2#1, not a list"),
        ));
    }
    if let Some((day, nth)) = text.split_once('#') {
        let nth = nth
            .parse::<u32>()
            .ok()
            .filter(|k| (1..=5).contains(k))
            .ok_or_else(|| {
                field_error(
                    &DAY_OF_WEEK,
                    format!("{text:?}: the number after # must be 1 to 5"),
                )
            })?;
        return Ok(DayOfWeek::Nth(DAY_OF_WEEK.value(day)?, nth));
    }
    if text.contains(['L', 'l', '?']) {
        return Err(field_error(
            &DAY_OF_WEEK,
            format!("{text:?}: L, # and ? stand alone (L, 6L, 2#1, ?)"),
        ));
    }
    DAY_OF_WEEK.list(text).map(DayOfWeek::Days)
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    match date.month() {
        12 => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1),
        month => NaiveDate::from_ymd_opt(date.year(), month + 1, 1),
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    first_of_next_month(date)
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day())
}

/// The weekday nearest to `date` without leaving its month (Quartz's and EventBridge's `W`).
fn nearest_weekday(date: NaiveDate) -> u32 {
    let day = date.day();
    let last = last_day_of_month(date);
    match date.weekday() {
        chrono::Weekday::Sat if day == 1 => 3,
        chrono::Weekday::Sat => day - 1,
        chrono::Weekday::Sun if day == last => day - 2,
        chrono::Weekday::Sun => day + 1,
        _ => day,
    }
}
