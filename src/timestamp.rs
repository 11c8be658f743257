//! Time on the item: due times (whole seconds) and event stamps (milliseconds), both written as
//! RFC 3339 UTC strings ending in `Z`, so they sort as text and read well in the console.
//! Users may write any RFC 3339 instant; nextdue reads it and writes it back in that form.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a due time may look like, with one example of each accepted form; used in messages.
pub const DUE_FORMAT_HINT: &str = "an RFC 3339 time: UTC such as 2027-01-01T09:00:00Z, with a \
     fraction such as 2027-01-01T09:00:00.000Z, or with an offset such as \
     2027-01-01T10:00:00+01:00";

/// A due time: a UTC instant with whole seconds, written `2027-01-01T09:00:00Z`.
///
/// Due times are compared for equality inside conditional writes, so nextdue writes them in
/// exactly one spelling. It reads any RFC 3339 instant (a fraction of a second, `Z` or an
/// offset, as JavaScript's `toISOString()` writes them), rounding a fraction *up*, so a run
/// never starts before the time that was asked for.
///
/// ```
/// use nextdue::timestamp::Due;
/// let due: Due = "2027-01-01T09:00:00Z".parse().unwrap();
/// assert_eq!(due.to_string(), "2027-01-01T09:00:00Z");
/// let js: Due = "2027-01-01T09:00:00.123Z".parse().unwrap();
/// assert_eq!(js.to_string(), "2027-01-01T09:00:01Z");
/// let offset: Due = "2027-01-01T10:00:00+01:00".parse().unwrap();
/// assert_eq!(offset.to_string(), "2027-01-01T09:00:00Z");
/// assert!("2027-01-01 09:00".parse::<Due>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Due(DateTime<Utc>);

impl Due {
    /// The due time at `instant`, rounded down to the whole second.
    pub fn floor(instant: DateTime<Utc>) -> Self {
        Due(DateTime::from_timestamp(instant.timestamp(), 0)
            .expect("whole seconds of a valid instant"))
    }

    /// The due time at `instant`, rounded up to the whole second.
    pub fn ceil(instant: DateTime<Utc>) -> Self {
        let floor = Self::floor(instant);
        if floor.0 == instant {
            floor
        } else {
            Due(floor.0 + chrono::TimeDelta::seconds(1))
        }
    }

    /// The instant this due time names.
    pub fn instant(self) -> DateTime<Utc> {
        self.0
    }

    /// This due time moved by `seconds` (whole seconds, so the result is still a due time).
    pub fn plus_seconds(self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add_signed(chrono::TimeDelta::try_seconds(seconds)?)
            .map(Due)
    }
}

/// Why a due time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {DUE_FORMAT_HINT}, got {0:?}")]
pub struct DueParseError(pub String);

impl std::str::FromStr for Due {
    type Err = DueParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_stamp(text)
            .map(Due::ceil)
            .ok_or_else(|| DueParseError(text.to_owned()))
    }
}

impl fmt::Display for Due {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl Serialize for Due {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Due {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Formats an event stamp (`lastRunStartTime`, `updateTime`, …): UTC with milliseconds.
pub fn format_stamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an event stamp: any RFC 3339 time, converted to UTC.
pub fn parse_stamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Serde glue for event stamps stored as RFC 3339 strings.
pub mod stamp {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the stamp with [`super::format_stamp`].
    pub fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_stamp(*value))
    }

    /// Reads the stamp with [`super::parse_stamp`].
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_stamp(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected an RFC 3339 time such as 2027-01-01T09:00:00.000Z, got {text:?}"
            ))
        })
    }
}

/// Serde glue for optional event stamps stored as RFC 3339 strings.
pub mod stamp_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the stamp with [`super::format_stamp`].
    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(instant) => serializer.serialize_some(&super::format_stamp(*instant)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads the stamp with [`super::parse_stamp`].
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct Stamp(#[serde(with = "super::stamp")] DateTime<Utc>);
        Ok(Option::<Stamp>::deserialize(deserializer)?.map(|Stamp(t)| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_round_trips_its_one_spelling() {
        let due: Due = "2024-02-29T23:59:59Z".parse().unwrap();
        assert_eq!(due.to_string(), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn due_accepts_every_rfc_3339_instant_and_rounds_fractions_up() {
        for (written, canonical) in [
            ("2027-01-01T09:00:00Z", "2027-01-01T09:00:00Z"),
            ("2027-01-01T09:00:00.000Z", "2027-01-01T09:00:00Z"),
            ("2027-01-01T09:00:00.123Z", "2027-01-01T09:00:01Z"),
            ("2027-01-01T09:00:00.000000001Z", "2027-01-01T09:00:01Z"),
            ("2027-01-01T09:00:59.5Z", "2027-01-01T09:01:00Z"),
            ("2027-01-01T10:00:00+01:00", "2027-01-01T09:00:00Z"),
            ("2027-01-01T09:00:00+00:00", "2027-01-01T09:00:00Z"),
            ("2027-01-01T04:30:00.250-05:00", "2027-01-01T09:30:01Z"),
            ("2027-01-01t09:00:00z", "2027-01-01T09:00:00Z"),
        ] {
            let due: Due = written.parse().unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(due.to_string(), canonical, "{written}");
        }
    }

    #[test]
    fn due_rejects_what_is_not_an_instant_naming_the_accepted_forms() {
        for bad in [
            "yesterday",
            "2027-01-01T09:00:00",
            "2027-01-01",
            "2027-02-30T09:00:00Z",
            "1767258000",
            "",
        ] {
            let err = bad.parse::<Due>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "expected an RFC 3339 time: UTC such as 2027-01-01T09:00:00Z, with a fraction \
                     such as 2027-01-01T09:00:00.000Z, or with an offset such as \
                     2027-01-01T10:00:00+01:00, got {bad:?}"
                )
            );
        }
    }

    #[test]
    fn floor_and_ceil_land_on_whole_seconds() {
        let t = parse_stamp("2027-01-01T09:00:00.250Z").unwrap();
        assert_eq!(Due::floor(t).to_string(), "2027-01-01T09:00:00Z");
        assert_eq!(Due::ceil(t).to_string(), "2027-01-01T09:00:01Z");
        let whole = parse_stamp("2027-01-01T09:00:00Z").unwrap();
        assert_eq!(Due::ceil(whole).to_string(), "2027-01-01T09:00:00Z");
    }

    #[test]
    fn stamps_keep_milliseconds_and_accept_offsets() {
        let t = parse_stamp("2027-01-01T10:00:00.123+01:00").unwrap();
        assert_eq!(format_stamp(t), "2027-01-01T09:00:00.123Z");
    }
}
