//! The names of the events nextdue publishes, and a worker's `notify` attribute, which picks
//! among them. The events themselves, and the facts they tell, are [`crate::events`].

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// What an event tells: its `detail-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// An attempt failed (`willRetry` says whether another attempt at its due time follows).
    RunFailed,
    /// A due time ended without a success: its attempts are used up, or the failure was
    /// permanent.
    GaveUp,
    /// The worker was marked invalid (the message says what to fix).
    Invalid,
    /// The worker stopped: its one-shot or schedule ended, or someone disabled it.
    Stopped,
    /// The worker has not succeeded within its `alertAfter` of when it should have.
    Overdue,
    /// An overdue worker succeeded again.
    Recovered,
    /// Messages reached a dead-letter queue, or stream records were set aside.
    DeadLettered,
}

impl EventType {
    /// Every event type, in the order the README lists them.
    pub const ALL: [EventType; 7] = [
        EventType::RunFailed,
        EventType::GaveUp,
        EventType::Invalid,
        EventType::Stopped,
        EventType::Overdue,
        EventType::Recovered,
        EventType::DeadLettered,
    ];

    /// The event's `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            EventType::RunFailed => "Run Failed",
            EventType::GaveUp => "Worker Gave Up",
            EventType::Invalid => "Worker Invalid",
            EventType::Stopped => "Worker Stopped",
            EventType::Overdue => "Worker Overdue",
            EventType::Recovered => "Worker Recovered",
            EventType::DeadLettered => "Dead Lettered",
        }
    }

    /// The short name used in fact ids and settings (`run-failed`, `gave-up`, …).
    pub fn slug(self) -> &'static str {
        match self {
            EventType::RunFailed => "run-failed",
            EventType::GaveUp => "gave-up",
            EventType::Invalid => "invalid",
            EventType::Stopped => "stopped",
            EventType::Overdue => "overdue",
            EventType::Recovered => "recovered",
            EventType::DeadLettered => "dead-lettered",
        }
    }

    /// The type a setting or a worker's `notify` names: its `detail-type` or its short name,
    /// in any case (`Worker Gave Up`, `gave-up`).
    pub fn named(text: &str) -> Option<EventType> {
        let text = text.trim();
        EventType::ALL.into_iter().find(|t| {
            t.detail_type().eq_ignore_ascii_case(text) || t.slug().eq_ignore_ascii_case(text)
        })
    }

    fn known() -> String {
        EventType::ALL
            .iter()
            .map(|t| t.detail_type())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_type())
    }
}

/// A set of event types: which a deployment publishes (`NEXTDUE_EVENTS`), or which a worker
/// asked for (`notify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSet(BTreeSet<EventType>);

impl EventSet {
    /// Every type.
    pub fn all() -> Self {
        EventSet(EventType::ALL.into_iter().collect())
    }

    /// No type.
    pub fn none() -> Self {
        EventSet(BTreeSet::new())
    }

    /// Whether `kind` is in the set.
    pub fn contains(&self, kind: EventType) -> bool {
        self.0.contains(&kind)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads `all`, `none`, or a comma-separated list of types.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" | "" => return Ok(EventSet::all()),
            "none" => return Ok(EventSet::none()),
            _ => {}
        }
        text.split(',')
            .map(parse_type)
            .collect::<Result<_, _>>()
            .map(EventSet)
    }
}

fn parse_type(text: &str) -> Result<EventType, String> {
    EventType::named(text).ok_or_else(|| {
        format!(
            "{:?} is not an event nextdue publishes (it publishes {})",
            text.trim(),
            EventType::known()
        )
    })
}

/// A worker's `notify` attribute: `true` (every event, even those the deployment leaves off),
/// `false` (none), or a list of the events it wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notify {
    /// `true` or `false`.
    Switch(bool),
    /// Exactly these.
    Only(EventSet),
}

impl Notify {
    /// Whether an event of `kind` about this worker is published, given what the deployment
    /// publishes by default.
    pub fn wants(notify: Option<&Notify>, kind: EventType, deployment: &EventSet) -> bool {
        match notify {
            None => deployment.contains(kind),
            Some(Notify::Switch(on)) => *on,
            Some(Notify::Only(set)) => set.contains(kind),
        }
    }
}

impl Serialize for Notify {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Notify::Switch(on) => serializer.serialize_bool(*on),
            Notify::Only(set) => serializer.collect_seq(set.0.iter().map(|t| t.detail_type())),
        }
    }
}

impl<'de> Deserialize<'de> for Notify {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Notify;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "true, false, or a list of the events to publish ({})",
                    EventType::known()
                )
            }

            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Notify, E> {
                Ok(Notify::Switch(on))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Notify, A::Error> {
                let mut set = BTreeSet::new();
                while let Some(name) = seq.next_element::<String>()? {
                    set.insert(parse_type(&name).map_err(serde::de::Error::custom)?);
                }
                Ok(Notify::Only(EventSet(set)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_types_by_detail_type_or_short_name_in_any_case() {
        assert_eq!(EventSet::parse("all").unwrap(), EventSet::all());
        assert!(EventSet::parse("none").unwrap().is_empty());
        let set = EventSet::parse("Worker Gave Up, overdue,RUN-FAILED").unwrap();
        assert!(set.contains(EventType::GaveUp));
        assert!(set.contains(EventType::Overdue));
        assert!(set.contains(EventType::RunFailed));
        assert!(!set.contains(EventType::Stopped));
        let error = EventSet::parse("Worker Gave Up, Run Faild").unwrap_err();
        assert!(
            error.contains("\"Run Faild\"") && error.contains("Run Failed"),
            "{error}"
        );
    }

    #[test]
    fn notify_is_a_switch_or_a_list_and_says_what_else_it_could_be() {
        let read = |json: serde_json::Value| serde_json::from_value::<Notify>(json);
        assert_eq!(
            read(serde_json::json!(false)).unwrap(),
            Notify::Switch(false)
        );
        let only = read(serde_json::json!(["Worker Overdue"])).unwrap();
        let all = EventSet::all();
        assert!(Notify::wants(
            Some(&only),
            EventType::Overdue,
            &EventSet::none()
        ));
        assert!(!Notify::wants(Some(&only), EventType::RunFailed, &all));
        assert!(!Notify::wants(
            Some(&Notify::Switch(false)),
            EventType::GaveUp,
            &all
        ));
        assert!(Notify::wants(
            Some(&Notify::Switch(true)),
            EventType::GaveUp,
            &EventSet::none()
        ));
        assert!(Notify::wants(None, EventType::GaveUp, &all));
        let error = read(serde_json::json!("yes")).unwrap_err().to_string();
        assert!(error.contains("true, false, or a list"), "{error}");
        let error = read(serde_json::json!([1])).unwrap_err().to_string();
        assert!(error.contains("string"), "{error}");
    }
}
