//! Any schedule text: parsing never panics, and an accepted schedule's next due time is always
//! strictly after the previous one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nextdue::schedule::Schedule;
use nextdue::timestamp::Due;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(schedule) = text.parse::<Schedule>() else { return };
    let previous: Due = "2027-03-14T06:30:00Z".parse().unwrap();
    let now: Due = "2027-11-07T05:45:00Z".parse().unwrap();
    for tz in [chrono_tz::UTC, chrono_tz::America::New_York, chrono_tz::Australia::Lord_Howe] {
        if let Some(next) = schedule.next_due(previous, now, tz) {
            assert!(next > previous, "{text}: {next} is not after {previous}");
        }
        let _ = schedule.first_due(now, tz);
    }
});
