//! The operators' controls over whole classes of work: pauses of a queue or a kind. They are
//! durable state in the control table (one record, written only from the version read), which
//! every executor reads (cached for [`REFRESH`]) and applies at claim time, and the sweeper at
//! each pass. This module is the pure part: what a pause is, which one holds a worker, and
//! the words for it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::item::{DEFAULT_QUEUE, Worker};

/// How long an executor keeps the controls it read before reading them again: a pause stops
/// new starts, and a resume allows them, within this long (plus a message's trip).
pub const REFRESH: TimeDelta = TimeDelta::seconds(5);

/// How often the sweeper looks at a held worker whose pause has no end, to release it if the
/// pause was lifted in a way that did not release it (`resume` releases its workers at once).
pub const HOLD_LOOK: TimeDelta = TimeDelta::minutes(15);

/// What a pause applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every worker of this queue (a worker without `queue` is in `default`).
    Queue(String),
    /// Every worker of this kind.
    Kind(String),
}

impl Scope {
    /// The scope named by `what` (`queue` or `kind`) and `name`.
    pub fn parse(what: &str, name: &str) -> Result<Scope, String> {
        if name.trim().is_empty() {
            return Err(format!("a {what} name is needed"));
        }
        match what {
            "queue" => Ok(Scope::Queue(name.to_owned())),
            "kind" => Ok(Scope::Kind(name.to_owned())),
            other => Err(format!("{other:?}: pause a `queue` or a `kind`")),
        }
    }

    /// The scope's key, as the control record and a held worker's `heldBy` write it:
    /// `queue:default`, `kind:report`.
    pub fn key(&self) -> String {
        match self {
            Scope::Queue(name) => format!("queue:{name}"),
            Scope::Kind(name) => format!("kind:{name}"),
        }
    }

    /// The scope of a key written by [`Scope::key`].
    pub fn from_key(key: &str) -> Option<Scope> {
        let (what, name) = key.split_once(':')?;
        Scope::parse(what, name).ok()
    }

    /// Whether `worker` falls under this scope.
    pub fn covers(&self, worker: &Worker) -> bool {
        match self {
            Scope::Queue(name) => worker.queue.as_deref().unwrap_or(DEFAULT_QUEUE) == name,
            Scope::Kind(name) => &worker.kind == name,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Queue(name) => write!(f, "queue {name}"),
            Scope::Kind(name) => write!(f, "kind {name}"),
        }
    }
}

/// What the due runs of a paused worker do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "dev", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// They wait: on resume each held worker runs once (the catch-up run), then on its grid.
    Hold,
    /// They are skipped, each recorded in the runs table; the worker goes on to its next due
    /// time, and after the pause runs on its grid.
    Skip,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Hold => "hold",
            Mode::Skip => "skip",
        })
    }
}

/// One pause, as the control record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    /// Hold or skip.
    pub mode: Mode,
    /// When it began.
    pub since: DateTime<Utc>,
    /// When it ends by itself (none: at `resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Who paused (the operator's account or user name, as the command found it).
    #[serde(default)]
    pub by: String,
}

impl Pause {
    /// Whether the pause is in force at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }

    /// Whether the workers it held stay held at `now`: while it is in force, and for
    /// [`REFRESH`] after it ends, since an executor may still go by a reading from before the
    /// end (a worker released then would meet that reading and be held again).
    pub fn holding(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until + REFRESH)
    }

    /// When the workers it held may be released: [`REFRESH`] after its end (none: at resume).
    pub fn release_at(&self) -> Option<DateTime<Utc>> {
        self.until.map(|until| until + REFRESH)
    }
}

/// How long a pause that has ended stays on record (`nextdue pauses` lists it as ended).
pub const ENDED_KEPT: TimeDelta = TimeDelta::days(1);

/// The period a rate limit counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// A second.
    Second,
    /// A minute.
    Minute,
    /// An hour.
    Hour,
}

impl Per {
    /// The period's length.
    pub fn length(self) -> TimeDelta {
        match self {
            Per::Second => TimeDelta::seconds(1),
            Per::Minute => TimeDelta::minutes(1),
            Per::Hour => TimeDelta::hours(1),
        }
    }
}

/// A rate limit: at most `count` starts per period, spread evenly (one every period/count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Starts allowed per period (1 or more).
    pub count: u32,
    /// The period.
    pub per: Per,
}

impl Limit {
    /// The time between two starts: the period over the count, to the millisecond (at least
    /// one).
    pub fn spacing(&self) -> TimeDelta {
        let ms = self.per.length().num_milliseconds() / i64::from(self.count.max(1));
        TimeDelta::milliseconds(ms.max(1))
    }
}

impl std::str::FromStr for Limit {
    type Err = String;

    /// `10/minute`, `10 per minute`, `5/s`, `100/hour`.
    fn from_str(text: &str) -> Result<Limit, String> {
        let wrong =
            || format!("{text:?}: write a rate as N/second, N/minute or N/hour (10/minute)");
        let (count, per) = text
            .split_once('/')
            .or_else(|| text.split_once(" per "))
            .ok_or_else(wrong)?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        if count == 0 {
            return Err(format!(
                "{text:?}: a limit of 0 stops everything; pause instead (`pause … --mode hold`)"
            ));
        }
        let per = match per.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => Per::Second,
            "m" | "min" | "mins" | "minute" | "minutes" => Per::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Per::Hour,
            _ => return Err(wrong()),
        };
        Ok(Limit { count, per })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = match self.per {
            Per::Second => "second",
            Per::Minute => "minute",
            Per::Hour => "hour",
        };
        write!(f, "{} per {per}", self.count)
    }
}

/// The control table's key of `scope`'s rate limit reservations: `rate:kind:report`.
pub fn rate_key(scope: &Scope) -> String {
    format!("rate:{}", scope.key())
}

/// One reservation under a limit, as a generic cell rate algorithm with no burst: `next` is
/// the earliest free start (milliseconds since the epoch, as the control table keeps it;
/// `None` before the first), `now` the time of asking. Returns the reserved start (now, or
/// the next free one) and the earliest free start after it. Starts so reserved are at least
/// [`Limit::spacing`] apart, so no window of one period holds more than `count` of them. The
/// control store's `take_start` applies it atomically (DynamoDB's adapter in two conditional
/// update expressions; the conformance suite holds both to the same starts).
pub fn reserve(next: Option<u64>, now: DateTime<Utc>, limit: &Limit) -> (DateTime<Utc>, u64) {
    let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let start = next.map_or(now_ms, |next| next.max(now_ms));
    let spacing = u64::try_from(limit.spacing().num_milliseconds()).unwrap_or(1);
    let at =
        DateTime::from_timestamp_millis(i64::try_from(start).unwrap_or(i64::MAX)).unwrap_or(now);
    (at, start + spacing)
}

/// Every control in force or on record, by scope key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// The pauses, by [`Scope::key`].
    #[serde(default)]
    pub pauses: BTreeMap<String, Pause>,
    /// The rate limits, by [`Scope::key`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Limit>,
}

impl Controls {
    /// The pause that holds `worker` at `now`, if any: its queue's first, then its kind's.
    pub fn pause_of(&self, worker: &Worker, now: DateTime<Utc>) -> Option<(Scope, &Pause)> {
        let queue = Scope::Queue(worker.queue.as_deref().unwrap_or(DEFAULT_QUEUE).to_owned());
        let kind = Scope::Kind(worker.kind.clone());
        [queue, kind].into_iter().find_map(|scope| {
            let pause = self.pauses.get(&scope.key())?;
            pause.in_force(now).then_some((scope, pause))
        })
    }

    /// The limits `worker` falls under: its queue's, then its kind's.
    pub fn limits_of(&self, worker: &Worker) -> Vec<(Scope, Limit)> {
        let queue = Scope::Queue(worker.queue.as_deref().unwrap_or(DEFAULT_QUEUE).to_owned());
        let kind = Scope::Kind(worker.kind.clone());
        [queue, kind]
            .into_iter()
            .filter_map(|scope| Some((scope.clone(), *self.limits.get(&scope.key())?)))
            .collect()
    }

    /// The scopes under a rate limit.
    pub fn limited(&self) -> Vec<Scope> {
        self.limits
            .keys()
            .filter_map(|key| Scope::from_key(key))
            .collect()
    }

    /// The scopes paused at `now`.
    pub fn paused(&self, now: DateTime<Utc>) -> Vec<Scope> {
        self.pauses
            .iter()
            .filter(|(_, pause)| pause.in_force(now))
            .filter_map(|(key, _)| Scope::from_key(key))
            .collect()
    }

    /// The pause `key` (a held worker's `heldBy`), if the workers it held stay held at `now`
    /// (see [`Pause::holding`]).
    pub fn holds(&self, key: &str, now: DateTime<Utc>) -> Option<&Pause> {
        self.pauses
            .get(key)
            .filter(|pause| pause.holding(now) && pause.mode == Mode::Hold)
    }

    /// Ends the pause `key` at `now`, if it is in force, keeping it on record as ended; returns
    /// it as it was.
    pub fn lift(&mut self, key: &str, now: DateTime<Utc>) -> Option<Pause> {
        let pause = self.pauses.get_mut(key).filter(|p| p.in_force(now))?;
        let was = pause.clone();
        pause.until = Some(now);
        Some(was)
    }

    /// Forgets the pauses that ended more than [`ENDED_KEPT`] before `now`.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.pauses
            .retain(|_, pause| pause.until.is_none_or(|until| now < until + ENDED_KEPT));
    }
}

/// The words for a worker held by `scope`'s pause, as `ls`, `show` and the skip records say.
pub fn describe(scope: &Scope, pause: &Pause) -> String {
    let until = match pause.until {
        Some(until) => format!(" until {}", until.format("%Y-%m-%dT%H:%M:%SZ")),
        None => " until resumed".to_owned(),
    };
    format!("{scope} paused ({}){until}", pause.mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Worker;

    fn worker(kind: &str, queue: Option<&str>) -> Worker {
        Worker {
            queue: queue.map(str::to_owned),
            ..Worker::new("w", kind)
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn pause(mode: Mode, until: Option<i64>) -> Pause {
        Pause {
            mode,
            since: at(0),
            until: until.map(at),
            by: "ops".into(),
        }
    }

    #[test]
    fn scopes_read_and_write_their_keys() {
        for scope in [Scope::Queue("default".into()), Scope::Kind("report".into())] {
            assert_eq!(Scope::from_key(&scope.key()), Some(scope));
        }
        assert!(Scope::parse("queues", "x").is_err());
        assert!(Scope::parse("kind", " ").is_err());
        assert_eq!(Scope::from_key("nonsense"), None);
    }

    #[test]
    fn a_worker_without_a_queue_is_in_the_default_queue() {
        let controls = Controls {
            pauses: [("queue:default".to_owned(), pause(Mode::Hold, None))].into(),
            ..Controls::default()
        };
        let plain = worker("log", None);
        assert_eq!(
            controls.pause_of(&plain, at(1)).map(|(s, _)| s),
            Some(Scope::Queue("default".into()))
        );
        assert_eq!(
            controls.pause_of(&worker("log", Some("reports")), at(1)),
            None
        );
    }

    #[test]
    fn the_queue_pause_comes_before_the_kind_pause_and_an_expired_pause_is_none() {
        let controls = Controls {
            pauses: [
                ("kind:log".to_owned(), pause(Mode::Skip, None)),
                ("queue:default".to_owned(), pause(Mode::Hold, Some(60))),
            ]
            .into(),
            ..Controls::default()
        };
        let w = worker("log", None);
        let (scope, found) = controls.pause_of(&w, at(59)).unwrap();
        assert_eq!(
            (scope, found.mode),
            (Scope::Queue("default".into()), Mode::Hold)
        );
        let (scope, found) = controls.pause_of(&w, at(60)).unwrap();
        assert_eq!((scope, found.mode), (Scope::Kind("log".into()), Mode::Skip));
        assert_eq!(controls.paused(at(60)), vec![Scope::Kind("log".into())]);
        assert!(controls.holds("queue:default", at(59)).is_some());
        // Its held workers stay held for REFRESH after the end, then go.
        let end = at(60);
        assert!(
            controls
                .holds("queue:default", end + REFRESH - TimeDelta::seconds(1))
                .is_some()
        );
        assert!(controls.holds("queue:default", end + REFRESH).is_none());
        assert!(
            controls.holds("kind:log", at(1)).is_none(),
            "a skip holds nothing"
        );
    }

    #[test]
    fn a_lifted_pause_stays_on_record_as_ended_for_a_day() {
        let mut controls = Controls {
            pauses: [("queue:default".to_owned(), pause(Mode::Hold, None))].into(),
            ..Controls::default()
        };
        let was = controls.lift("queue:default", at(30)).unwrap();
        assert_eq!(was.until, None, "returned as it was");
        let ended = &controls.pauses["queue:default"];
        assert_eq!(ended.until, Some(at(30)));
        assert!(!ended.in_force(at(30)));
        assert_eq!(controls.lift("queue:default", at(31)), None, "lifted once");
        assert_eq!(controls.lift("kind:log", at(31)), None, "never paused");
        controls.prune(at(30) + ENDED_KEPT - TimeDelta::seconds(1));
        assert_eq!(controls.pauses.len(), 1);
        controls.prune(at(30) + ENDED_KEPT);
        assert!(controls.pauses.is_empty());
    }

    #[test]
    fn rates_read_as_people_write_them() {
        let ten = Limit {
            count: 10,
            per: Per::Minute,
        };
        for text in [
            "10/minute",
            "10 per minute",
            "10/m",
            " 10 / min ",
            "10/Minutes",
            "10/mins",
        ] {
            assert_eq!(text.parse::<Limit>(), Ok(ten), "{text}");
        }
        assert_eq!(ten.to_string(), "10 per minute");
        assert_eq!(ten.spacing(), TimeDelta::seconds(6));
        assert_eq!(
            "3/s".parse::<Limit>().unwrap().spacing(),
            TimeDelta::milliseconds(333)
        );
        assert!(
            "0/minute"
                .parse::<Limit>()
                .unwrap_err()
                .contains("pause instead")
        );
        for wrong in ["10", "ten/minute", "10/week", "-1/s", "/s", "10/ms"] {
            assert!(wrong.parse::<Limit>().is_err(), "{wrong}");
        }
    }

    #[test]
    fn reservations_are_spaced_evenly_from_now_or_the_next_free_start() {
        let limit: Limit = "10/minute".parse().unwrap();
        let now = at(0);
        let ms = |t: DateTime<Utc>| u64::try_from(t.timestamp_millis()).unwrap();
        let (first, next) = reserve(None, now, &limit);
        assert_eq!(first, now);
        let (second, next) = reserve(Some(next), now, &limit);
        assert_eq!(second, now + TimeDelta::seconds(6));
        let (third, _) = reserve(Some(next), now, &limit);
        assert_eq!(third, now + TimeDelta::seconds(12));
        // Long after, the limit has room again: now, not a backlog of slots.
        let later = at(60);
        assert_eq!(reserve(Some(next), later, &limit).0, later);
        assert_eq!(reserve(Some(ms(later)), later, &limit).1, ms(later) + 6000);
    }

    #[test]
    fn a_worker_falls_under_its_queue_and_its_kind_limits() {
        let limit: Limit = "5/s".parse().unwrap();
        let controls = Controls {
            limits: [
                ("queue:default".to_owned(), limit),
                ("kind:report".to_owned(), limit),
            ]
            .into(),
            ..Controls::default()
        };
        assert_eq!(controls.limits_of(&worker("log", None)).len(), 1);
        assert_eq!(controls.limits_of(&worker("report", None)).len(), 2);
        assert!(controls.limits_of(&worker("log", Some("mail"))).is_empty());
        assert_eq!(controls.limited().len(), 2);
    }

    #[test]
    fn a_pause_is_described_with_its_mode_and_end() {
        assert_eq!(
            describe(&Scope::Kind("report".into()), &pause(Mode::Skip, Some(90))),
            "kind report paused (skip) until 2027-01-15T09:30:00Z"
        );
        assert_eq!(
            describe(&Scope::Queue("default".into()), &pause(Mode::Hold, None)),
            "queue default paused (hold) until resumed"
        );
    }
}
