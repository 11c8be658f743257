use chrono_tz::{America::New_York, Europe::London, Tz, UTC};
use proptest::prelude::*;

use super::*;

fn due(text: &str) -> Due {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn schedule(text: &str) -> Schedule {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The first `expected.len()` due times of `expr` after `start`, each found from the one before.
fn assert_runs(expr: &str, tz: Tz, start: &str, expected: &[&str]) {
    let schedule = schedule(expr);
    let mut previous = due(start);
    for want in expected {
        let next = schedule
            .next_due(previous, previous, tz)
            .unwrap_or_else(|| panic!("{expr} in {tz}: no run after {previous}, wanted {want}"));
        assert_eq!(next.to_string(), *want, "{expr} in {tz} after {previous}");
        previous = next;
    }
}

#[test]
fn rate_accepts_every_unit_singular_or_plural() {
    for (text, seconds) in [
        ("rate(1 second)", 1),
        ("rate(10 seconds)", 10),
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 minutes)", 60),
        ("rate(1 hour)", 3_600),
        ("rate(2 hours)", 7_200),
        ("rate(1 day)", 86_400),
        ("rate(3 days)", 259_200),
        ("rate( 3   Days )", 259_200),
    ] {
        assert_eq!(schedule(text).rate_seconds(), Some(seconds), "{text}");
    }
}

#[test]
fn rate_schedule_never_drifts() {
    // Runs finishing late do not move the grid.
    let every_3s = schedule("rate(3 seconds)");
    let first = due("2027-01-01T09:00:00Z");
    let late = due("2027-01-01T09:00:02Z");
    assert_eq!(
        every_3s.next_due(first, late, UTC),
        Some(due("2027-01-01T09:00:03Z"))
    );
}

#[test]
fn rate_days_are_24_hours_across_dst() {
    assert_runs(
        "rate(1 day)",
        New_York,
        "2027-03-13T12:00:00Z",
        &["2027-03-14T12:00:00Z", "2027-03-15T12:00:00Z"],
    );
}

#[test]
fn missed_rate_runs_run_once_then_resume_on_the_grid() {
    let hourly = schedule("rate(1 hour)");
    let previous = due("2027-01-01T09:00:00Z");
    let after_downtime = due("2027-01-03T17:30:00Z");
    let next = hourly.next_due(previous, after_downtime, UTC).unwrap();
    assert_eq!(next, due("2027-01-03T17:00:00Z"));
    assert_eq!(
        hourly.next_due(next, after_downtime, UTC),
        Some(due("2027-01-03T18:00:00Z"))
    );
}

#[test]
fn missed_cron_runs_run_once_then_resume_on_the_grid() {
    let weekdays = schedule("cron(0 9 ? * MON-FRI *)");
    let previous = due("2027-01-01T09:00:00Z"); // a Friday
    let after_downtime = due("2027-01-13T12:00:00Z"); // the Wednesday after next
    let next = weekdays.next_due(previous, after_downtime, UTC).unwrap();
    assert_eq!(next, due("2027-01-13T09:00:00Z"));
    assert_eq!(
        weekdays.next_due(next, after_downtime, UTC),
        Some(due("2027-01-14T09:00:00Z"))
    );
}

#[test]
fn a_dense_month_after_a_long_wait_is_caught_up_quickly() {
    // Every minute of April, months after April: the latest missed minute, found without
    // stepping through the month minute by minute.
    let april = schedule("cron(* * * 4 ? *)");
    let next = april.next_due(
        due("2027-03-14T06:30:00Z"),
        due("2027-11-07T05:45:00Z"),
        New_York,
    );
    assert_eq!(next, Some(due("2027-05-01T03:59:00Z")));
}

#[test]
fn missed_minutely_cron_after_a_year_finds_the_latest_minute() {
    let minutely = schedule("cron(* * * * ? *)");
    let next = minutely
        .next_due(
            due("2026-01-01T00:00:00Z"),
            due("2027-01-01T00:00:30Z"),
            UTC,
        )
        .unwrap();
    assert_eq!(next, due("2027-01-01T00:00:00Z"));
}

#[test]
fn cron_examples_from_the_eventbridge_reference() {
    // 2027-01-01 is a Friday.
    let start = "2027-01-01T00:00:00Z";
    assert_runs(
        "cron(0 10 * * ? *)",
        UTC,
        start,
        &["2027-01-01T10:00:00Z", "2027-01-02T10:00:00Z"],
    );
    assert_runs(
        "cron(15 12 * * ? *)",
        UTC,
        start,
        &["2027-01-01T12:15:00Z", "2027-01-02T12:15:00Z"],
    );
    assert_runs(
        "cron(0 18 ? * MON-FRI *)",
        UTC,
        "2027-01-01T19:00:00Z",
        &["2027-01-04T18:00:00Z"],
    );
    assert_runs(
        "cron(0 8 1 * ? *)",
        UTC,
        start,
        &["2027-01-01T08:00:00Z", "2027-02-01T08:00:00Z"],
    );
    assert_runs(
        "cron(0/15 * * * ? *)",
        UTC,
        start,
        &[
            "2027-01-01T00:15:00Z",
            "2027-01-01T00:30:00Z",
            "2027-01-01T00:45:00Z",
            "2027-01-01T01:00:00Z",
        ],
    );
    assert_runs(
        "cron(0/10 * ? * MON-FRI *)",
        UTC,
        "2027-01-01T23:55:00Z",
        &["2027-01-04T00:00:00Z", "2027-01-04T00:10:00Z"],
    );
    assert_runs(
        "cron(0/5 8-17 ? * MON-FRI *)",
        UTC,
        "2027-01-01T17:50:00Z",
        &["2027-01-01T17:55:00Z", "2027-01-04T08:00:00Z"],
    );
    assert_runs(
        "cron(1/20 * * * ? *)",
        UTC,
        start,
        &[
            "2027-01-01T00:01:00Z",
            "2027-01-01T00:21:00Z",
            "2027-01-01T00:41:00Z",
            "2027-01-01T01:01:00Z",
        ],
    );
    assert_runs(
        "cron(5,35 */6 * * ? *)",
        UTC,
        start,
        &[
            "2027-01-01T00:05:00Z",
            "2027-01-01T00:35:00Z",
            "2027-01-01T06:05:00Z",
        ],
    );
    assert_runs(
        "cron(0 0 ? * SUN,SAT *)",
        UTC,
        start,
        &[
            "2027-01-02T00:00:00Z",
            "2027-01-03T00:00:00Z",
            "2027-01-09T00:00:00Z",
        ],
    );
    assert_runs("cron(0 0 ? * 1-7 *)", UTC, start, &["2027-01-02T00:00:00Z"]);
    assert_runs(
        "cron(0 9 ? jan mon *)",
        UTC,
        start,
        &["2027-01-04T09:00:00Z", "2027-01-11T09:00:00Z"],
    );
    assert_runs(
        "cron(0 0 1 JAN,JUL ? *)",
        UTC,
        start,
        &["2027-07-01T00:00:00Z", "2028-01-01T00:00:00Z"],
    );
    assert_runs(
        "cron(0 0 1 1/3 ? *)",
        UTC,
        start,
        &["2027-04-01T00:00:00Z", "2027-07-01T00:00:00Z"],
    );
    assert_runs(
        "cron(0 12 1-3 * ? *)",
        UTC,
        start,
        &[
            "2027-01-01T12:00:00Z",
            "2027-01-02T12:00:00Z",
            "2027-01-03T12:00:00Z",
            "2027-02-01T12:00:00Z",
        ],
    );
}

#[test]
fn cron_last_day_of_month_knows_29_february() {
    assert_runs(
        "cron(0 0 L * ? *)",
        UTC,
        "2028-01-31T00:00:00Z",
        &[
            "2028-02-29T00:00:00Z",
            "2028-03-31T00:00:00Z",
            "2028-04-30T00:00:00Z",
        ],
    );
}

#[test]
fn cron_29_february_runs_in_leap_years_only() {
    assert_runs(
        "cron(0 12 29 2 ? *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &[
            "2028-02-29T12:00:00Z",
            "2032-02-29T12:00:00Z",
            "2036-02-29T12:00:00Z",
        ],
    );
    // 2100 is not a leap year.
    assert_runs(
        "cron(0 12 29 2 ? 2100-2104)",
        UTC,
        "2099-01-01T00:00:00Z",
        &["2104-02-29T12:00:00Z"],
    );
}

#[test]
fn cron_day_that_never_comes_has_no_next_run() {
    let never = schedule("cron(0 0 30 2 ? *)");
    assert_eq!(never.first_due(due("2027-01-01T00:00:00Z"), UTC), None);
}

#[test]
fn a_rate_schedule_ends_at_the_horizon() {
    let decade = schedule("rate(3650 days)");
    let last = due("2195-01-01T00:00:00Z");
    assert_eq!(decade.next_due(last, last, UTC), None);
    assert_eq!(decade.first_due(last, UTC), None);
}

#[test]
fn cron_year_field_ends_the_schedule() {
    let once = schedule("cron(0 0 1 JAN ? 2030)");
    let first = once.first_due(due("2027-01-01T00:00:00Z"), UTC).unwrap();
    assert_eq!(first, due("2030-01-01T00:00:00Z"));
    assert_eq!(once.next_due(first, first, UTC), None);
}

#[test]
fn cron_w_picks_the_nearest_weekday_in_the_same_month() {
    // May 2027: the 15th is a Saturday (so Friday 14th), the 1st a Saturday (so Monday 3rd),
    // the 30th a Sunday (so Monday 31st). October 2027: the 31st is a Sunday (so Friday 29th).
    assert_runs(
        "cron(0 9 15W * ? *)",
        UTC,
        "2027-05-01T00:00:00Z",
        &["2027-05-14T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 1W * ? *)",
        UTC,
        "2027-04-30T00:00:00Z",
        &["2027-05-03T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 30W * ? *)",
        UTC,
        "2027-05-01T00:00:00Z",
        &["2027-05-31T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 31W * ? *)",
        UTC,
        "2027-10-01T00:00:00Z",
        &["2027-10-29T09:00:00Z", "2027-12-31T09:00:00Z"],
    );
}

#[test]
fn cron_l_minus_n_runs_n_days_before_the_last_day() {
    // cron(0 23 L-2 * ? *): 23:00 two days before the month's last day (29 Jan, 26 Feb 2027,
    // 27 Feb in the leap year 2028).
    assert_runs(
        "cron(0 23 L-2 * ? *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &[
            "2027-01-29T23:00:00Z",
            "2027-02-26T23:00:00Z",
            "2027-03-29T23:00:00Z",
        ],
    );
    assert_runs(
        "cron(0 23 L-2 * ? *)",
        UTC,
        "2028-02-01T00:00:00Z",
        &["2028-02-27T23:00:00Z"],
    );
    // L-0 is L.
    assert_runs(
        "cron(0 0 L-0 * ? *)",
        UTC,
        "2027-01-31T00:00:00Z",
        &["2027-02-28T00:00:00Z"],
    );
}

#[test]
fn cron_lw_runs_on_the_last_weekday_of_the_month() {
    // 2027: January ends on a Sunday (so Friday 29th), February on a Sunday (Friday 26th),
    // March on a Wednesday (31st), July on a Saturday (Friday 30th).
    assert_runs(
        "cron(0 17 LW * ? *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &[
            "2027-01-29T17:00:00Z",
            "2027-02-26T17:00:00Z",
            "2027-03-31T17:00:00Z",
        ],
    );
    assert_runs(
        "cron(0 17 LW * ? *)",
        UTC,
        "2027-07-01T00:00:00Z",
        &["2027-07-30T17:00:00Z"],
    );
}

#[test]
fn cron_steps_may_span_the_whole_field() {
    assert_runs(
        "cron(*/59 0 1 1 ? 2027)",
        UTC,
        "2026-12-31T00:00:00Z",
        &["2027-01-01T00:00:00Z", "2027-01-01T00:59:00Z"],
    );
    assert!("cron(0 */23 */31 */12 ? *)".parse::<Schedule>().is_ok());
}

#[test]
fn cron_hash_picks_the_nth_weekday() {
    // First Monday, third Friday, fifth Wednesday (only in months that have one).
    assert_runs(
        "cron(0 9 ? * 2#1 *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &["2027-01-04T09:00:00Z", "2027-02-01T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 ? * FRI#3 *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &["2027-01-15T09:00:00Z", "2027-02-19T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 ? * 4#5 *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &["2027-03-31T09:00:00Z", "2027-06-30T09:00:00Z"],
    );
}

#[test]
fn cron_l_in_day_of_week_is_saturday_and_nl_the_last_of_a_weekday() {
    assert_runs(
        "cron(0 9 ? * L *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &["2027-01-02T09:00:00Z", "2027-01-09T09:00:00Z"],
    );
    assert_runs(
        "cron(0 9 ? * 6L *)",
        UTC,
        "2027-01-01T00:00:00Z",
        &["2027-01-29T09:00:00Z", "2027-02-26T09:00:00Z"],
    );
}

#[test]
fn cron_spring_forward_runs_at_the_first_valid_instant_new_york() {
    // 2027-03-14: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist.
    assert_runs(
        "cron(30 2 * * ? *)",
        New_York,
        "2027-03-13T12:00:00Z",
        &["2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"],
    );
    // Every quarter hour of the missing hour collapses into one run at 03:00 EDT.
    assert_runs(
        "cron(0/15 2 * * ? *)",
        New_York,
        "2027-03-14T06:50:00Z",
        &["2027-03-14T07:00:00Z", "2027-03-15T06:00:00Z"],
    );
}

#[test]
fn cron_fall_back_runs_a_repeated_time_once_new_york() {
    // 2027-11-07: New York clocks go back from 02:00 EDT to 01:00 EST; 01:30 occurs twice.
    assert_runs(
        "cron(30 1 * * ? *)",
        New_York,
        "2027-11-06T12:00:00Z",
        &["2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"],
    );
    assert_runs(
        "cron(0/30 1 * * ? *)",
        New_York,
        "2027-11-07T04:00:00Z",
        &[
            "2027-11-07T05:00:00Z",
            "2027-11-07T05:30:00Z",
            "2027-11-08T06:00:00Z",
        ],
    );
}

#[test]
fn cron_spring_forward_and_fall_back_london() {
    // 2027-03-28: London jumps from 01:00 GMT to 02:00 BST. 2027-10-31: back from 02:00 BST to 01:00 GMT.
    assert_runs(
        "cron(30 1 * * ? *)",
        London,
        "2027-03-27T12:00:00Z",
        &["2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"],
    );
    assert_runs(
        "cron(30 1 * * ? *)",
        London,
        "2027-10-30T12:00:00Z",
        &["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"],
    );
    assert_runs(
        "cron(0 9 * * ? *)",
        London,
        "2027-03-27T12:00:00Z",
        &["2027-03-28T08:00:00Z"],
    );
}

#[test]
fn at_names_a_local_time_once() {
    let at = schedule("at(2027-01-01T09:00:00)");
    let now = due("2026-12-01T00:00:00Z");
    assert_eq!(at.first_due(now, UTC), Some(due("2027-01-01T09:00:00Z")));
    assert_eq!(
        at.first_due(now, New_York),
        Some(due("2027-01-01T14:00:00Z"))
    );
    assert_eq!(at.next_due(due("2027-01-01T09:00:00Z"), now, UTC), None);
    assert_eq!(
        at.next_due(now, now, UTC),
        Some(due("2027-01-01T09:00:00Z"))
    );
    let in_the_gap = schedule("at(2027-03-14T02:30:00)");
    assert_eq!(
        in_the_gap.first_due(now, New_York),
        Some(due("2027-03-14T07:00:00Z"))
    );
    let summer_london = schedule("at(2027-07-01T12:00:00)");
    assert_eq!(
        summer_london.first_due(now, London),
        Some(due("2027-07-01T11:00:00Z"))
    );
}

#[test]
fn only_rate_runs_immediately_by_default() {
    assert!(schedule("rate(1 hour)").runs_immediately_by_default());
    assert!(!schedule("cron(0 9 * * ? *)").runs_immediately_by_default());
    assert!(!schedule("at(2027-01-01T09:00:00)").runs_immediately_by_default());
}

#[test]
fn invalid_expressions_say_what_is_wrong() {
    for (text, expected) in [
        (
            "",
            "expected rate(5 minutes), cron(0 9 ? * MON-FRI *) or at(2027-01-01T09:00:00), got \"\"",
        ),
        ("every 5 minutes", "expected rate(5 minutes)"),
        ("RATE(5 minutes)", "expected rate(5 minutes)"),
        ("rate(5 minutes", "expected rate(5 minutes)"),
        (
            "rate(0 minutes)",
            "rate: \"0\" is not a whole number of at least 1",
        ),
        ("rate(-1 minutes)", "rate: \"-1\" is not a whole number"),
        ("rate(1.5 hours)", "rate: \"1.5\" is not a whole number"),
        ("rate(5)", "rate: expected a number and a unit"),
        (
            "rate(5 fortnights)",
            "rate: unit \"fortnights\" is not one of seconds, minutes, hours, days",
        ),
        (
            "rate(99999999999 days)",
            "rate: the period is longer than 3650 days",
        ),
        (
            "rate(3651 days)",
            "rate: the period is longer than 3650 days",
        ),
        (
            "rate(99999999999999999999999 minutes)",
            "rate: the period is longer than 3650 days",
        ),
        (
            "cron(0 9 * * ?)",
            "cron: expected 6 fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        ("cron(0 9 * * ? * *)", "cron: expected 6 fields"),
        (
            "cron(0 9 * * * *)",
            "cron: exactly one of day-of-month and day-of-week must be ?",
        ),
        (
            "cron(0 9 ? * ? *)",
            "cron: exactly one of day-of-month and day-of-week must be ?",
        ),
        (
            "cron(0 9 1 * MON *)",
            "cron: exactly one of day-of-month and day-of-week must be ?",
        ),
        (
            "cron(60 9 * * ? *)",
            "cron minutes: 60 is out of range 0-59",
        ),
        ("cron(0 24 * * ? *)", "cron hours: 24 is out of range 0-23"),
        (
            "cron(0 9 32 * ? *)",
            "cron day-of-month: 32 is out of range 1-31",
        ),
        (
            "cron(0 9 0 * ? *)",
            "cron day-of-month: 0 is out of range 1-31",
        ),
        (
            "cron(0 9 * 13 ? *)",
            "cron month: 13 is out of range 1-12 or JAN-DEC",
        ),
        (
            "cron(0 9 * FOO ? *)",
            "cron month: \"FOO\" is not a value (expected 1-12 or JAN-DEC)",
        ),
        (
            "cron(0 9 ? * 8 *)",
            "cron day-of-week: 8 is out of range 1-7 or SUN-SAT",
        ),
        (
            "cron(0 9 ? * 0 *)",
            "cron day-of-week: 0 is out of range 1-7 or SUN-SAT",
        ),
        (
            "cron(0 9 * * ? 1969)",
            "cron year: 1969 is out of range 1970-2199",
        ),
        (
            "cron(0 9 * * ? 2200)",
            "cron year: 2200 is out of range 1970-2199",
        ),
        (
            "cron(0 9 ? * MON/2 *)",
            "cron day-of-week: the / wildcard is not allowed here",
        ),
        (
            "cron(0 9 ? * 2#6 *)",
            "cron day-of-week: \"2#6\": the number after # must be 1 to 5",
        ),
        (
            "cron(0 9 ? * 2#0 *)",
            "cron day-of-week: \"2#0\": the number after # must be 1 to 5",
        ),
        (
            "cron(0 9 ? * 2#1,3#2 *)",
            "cron day-of-week: \"2#1,3#2\": # allows one expression such as 2#1, not a list",
        ),
        (
            "cron(0 9 ? * 9L *)",
            "cron day-of-week: 9 is out of range 1-7 or SUN-SAT",
        ),
        (
            "cron(0 9 LW,15 * ? *)",
            "cron day-of-month: \"LW,15\": L, W and ? stand alone",
        ),
        (
            "cron(0 9 L-31 * ? *)",
            "cron day-of-month: \"L-31\": the number after L- must be 0 to 30",
        ),
        (
            "cron(0 9 L-x * ? *)",
            "cron day-of-month: \"L-x\": the number after L- must be 0 to 30",
        ),
        (
            "cron(*/60 * * * ? *)",
            "cron minutes: step 60 is longer than the field's range (at most 59)",
        ),
        (
            "cron(0 */24 * * ? *)",
            "cron hours: step 24 is longer than the field's range (at most 23)",
        ),
        (
            "cron(0 9 */32 * ? *)",
            "cron day-of-month: step 32 is longer than the field's range (at most 31)",
        ),
        (
            "cron(0 9 1 */13 ? *)",
            "cron month: step 13 is longer than the field's range (at most 12)",
        ),
        (
            "cron(0 9 L,15 * ? *)",
            "cron day-of-month: \"L,15\": L, W and ? stand alone",
        ),
        (
            "cron(0 9 32W * ? *)",
            "cron day-of-month: 32 is out of range 1-31",
        ),
        (
            "cron(*/0 9 * * ? *)",
            "cron minutes: step \"0\" must be a whole number of at least 1",
        ),
        (
            "cron(10-5 * * * ? *)",
            "cron minutes: range 10-5 runs backwards",
        ),
        (
            "cron(a b c d e f)",
            "cron minutes: \"a\" is not a value (expected 0-59)",
        ),
        (
            "cron(0 9 * * ? */x)",
            "cron year: step \"x\" must be a whole number of at least 1",
        ),
        (
            "at(2027-01-01)",
            "at: expected a local time such as at(2027-01-01T09:00:00), got \"2027-01-01\"",
        ),
        ("at(2027-13-01T09:00:00)", "at: expected a local time"),
        ("at(2027-01-01T09:00:00Z)", "at: expected a local time"),
        ("at(tomorrow)", "at: expected a local time"),
        (
            "at(2300-01-01T00:00:00)",
            "at: 2300-01-01T00:00:00 is after 2199, the last year EventBridge Scheduler can name",
        ),
    ] {
        let err = text.parse::<Schedule>().expect_err(text).to_string();
        assert!(
            err.starts_with(expected),
            "{text}: got {err:?}, wanted it to start with {expected:?}"
        );
    }
}

const CRONS: &[&str] = &[
    "cron(* * * * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(30 2 * * ? *)",
    "cron(0 1-3 ? * MON-FRI *)",
    "cron(0 0 L * ? *)",
    "cron(0 9 15W * ? *)",
    "cron(0 23 L-2 * ? *)",
    "cron(0 17 LW * ? *)",
    "cron(0 9 ? * 6L *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 12 29 2 ? *)",
];
const ZONES: &[Tz] = &[
    UTC,
    New_York,
    London,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
];

fn instant_strategy() -> impl Strategy<Value = Due> {
    // 2020-01-01 to 2035-01-01.
    (1_577_836_800i64..2_051_222_400)
        .prop_map(|s| Due::floor(DateTime::from_timestamp(s, 0).unwrap()))
}

proptest! {
    #[test]
    fn next_due_is_strictly_after_the_previous(
        expr in prop::sample::select(CRONS),
        tz in prop::sample::select(ZONES),
        previous in instant_strategy(),
        lag in 0i64..(40 * 86_400),
    ) {
        let schedule = schedule(expr);
        let now = previous.plus_seconds(lag).unwrap();
        let next = schedule.next_due(previous, now, tz).unwrap();
        prop_assert!(next > previous);
        // Either the first time after `previous`, or (if that has passed) one that has passed.
        let first = schedule.next_due(previous, previous, tz).unwrap();
        prop_assert!(next == first || (first <= now && next >= first && next <= now));
    }

    #[test]
    fn rate_due_times_stay_on_the_grid(
        period in 1i64..(10 * 86_400),
        previous in instant_strategy(),
        lag in 0i64..(100 * 86_400),
        steps in 1usize..20,
    ) {
        let schedule = schedule(&format!("rate({period} seconds)"));
        let first = previous;
        let mut due = previous;
        let mut now = previous.plus_seconds(lag).unwrap();
        for _ in 0..steps {
            let next = schedule.next_due(due, now, UTC).unwrap();
            prop_assert!(next > due);
            let offset = next.instant().timestamp() - first.instant().timestamp();
            prop_assert_eq!(offset % period, 0);
            // Never more than one period behind the clock: no burst of catch-up runs.
            prop_assert!(next.plus_seconds(period).unwrap() > now);
            due = next;
            now = now.max(next);
        }
    }

    #[test]
    fn the_latest_passed_match_has_no_match_after_it(
        expr in prop::sample::select(CRONS),
        tz in prop::sample::select(ZONES),
        at in instant_strategy(),
    ) {
        let schedule = schedule(expr);
        let Rule::Cron(cron) = &schedule.rule else { unreachable!() };
        let latest = cron.last_at_or_before(at.instant(), tz).unwrap();
        prop_assert!(latest <= at.instant());
        prop_assert!(cron.next_after(latest, tz).unwrap() > at.instant(), "a match between {} and {}", latest, at);
    }

    #[test]
    fn cron_matches_are_never_skipped(
        expr in prop::sample::select(CRONS),
        tz in prop::sample::select(ZONES),
        start in instant_strategy(),
    ) {
        // Stepping one match at a time never jumps over a minute that matches.
        let schedule = schedule(expr);
        let next = schedule.next_due(start, start, tz).unwrap();
        let Rule::Cron(cron) = &schedule.rule else { unreachable!() };
        let minute_after = |t: DateTime<Utc>| t + TimeDelta::minutes(1);
        let mut probe = start.instant().with_second(0).unwrap();
        let mut checked = 0;
        while minute_after(probe) < next.instant() && checked < 600 {
            probe = minute_after(probe);
            if probe > start.instant() {
                prop_assert!(cron.next_after(probe - TimeDelta::seconds(1), tz).unwrap() >= next.instant());
            }
            checked += 1;
        }
    }
}
