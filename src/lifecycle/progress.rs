//! A running job's report of how far it has got, and the checkpoint it saves for a later attempt
//! at the same due time: written on its own item only while its run holds the claim, and
//! changing nothing else about the worker (so a superseded or rescued attempt can never
//! overwrite the live one, and the dispatcher never wakes for it: [`under_way`]).

use super::*;
use crate::item::{AttributeValue, Fraction};

/// The longest progress text, in bytes.
pub const MAX_PROGRESS_BYTES: usize = 256;
/// The largest checkpoint, in bytes of JSON.
pub const MAX_CHECKPOINT_BYTES: usize = 4 * 1024;
/// The shortest time between two progress writes of one run: the reports in between are
/// coalesced (the latest kept, and written with the next write or the run's finish).
pub const PROGRESS_EVERY_MILLIS: i64 = 2_000;

/// What a run has said of itself, as its latest report stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// How far it has got, in its own words.
    pub text: Option<String>,
    /// How far it has got, from 0 to 1.
    pub fraction: Option<Fraction>,
    /// What a later attempt at the same due time resumes from (JSON text).
    pub checkpoint: Option<String>,
}

/// Why a report or a checkpoint was not taken; the job sees it and may go on regardless.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The progress text is too long.
    #[error("a progress text of {0} bytes: at most {MAX_PROGRESS_BYTES}")]
    TextTooLong(usize),
    /// The fraction is not a number from 0 to 1.
    #[error("a progress fraction of {0}: a number from 0 to 1")]
    Fraction(String),
    /// The checkpoint is too big.
    #[error("a checkpoint of {0} bytes: at most {MAX_CHECKPOINT_BYTES}")]
    CheckpointTooBig(usize),
    /// The checkpoint does not serialize as JSON.
    #[error("the checkpoint does not serialize: {0}")]
    Unserializable(String),
    /// The saved checkpoint does not read as the type asked for.
    #[error("the saved checkpoint does not read as asked: {0}")]
    Unreadable(String),
    /// The run no longer holds its claim: nothing is recorded, and its finish will be recorded
    /// as superseded.
    #[error(
        "this run no longer holds its claim (the worker was disabled, re-enabled, released or \
         rescued meanwhile): its progress is not recorded"
    )]
    Superseded,
    /// The write failed (the store's message); the next report after the interval tries
    /// again, with the latest values.
    #[error("the progress write failed: {0}")]
    Store(String),
}

/// A progress text as stored: control and bidirectional-formatting characters become spaces
/// (the item is shown in terminals and consoles); longer than [`MAX_PROGRESS_BYTES`] is an
/// error.
pub fn progress_text(text: &str) -> Result<String, ReportError> {
    if text.len() > MAX_PROGRESS_BYTES {
        return Err(ReportError::TextTooLong(text.len()));
    }
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    Ok(text
        .chars()
        .map(|c| if hostile(c) { ' ' } else { c })
        .collect())
}

/// A progress fraction: a number from 0 to 1.
pub fn progress_fraction(value: f64) -> Result<Fraction, ReportError> {
    Fraction::new(value).ok_or_else(|| ReportError::Fraction(value.to_string()))
}

/// A checkpoint's JSON as stored: at most [`MAX_CHECKPOINT_BYTES`].
pub fn checkpoint_text(json: String) -> Result<String, ReportError> {
    if json.len() > MAX_CHECKPOINT_BYTES {
        return Err(ReportError::CheckpointTooBig(json.len()));
    }
    Ok(json)
}

/// The write of `report` for the run `claimed` at `now`: it holds only while this run holds its
/// claim on an enabled worker (a superseded, released or rescued attempt is refused), and sets
/// the progress attributes and the checkpoint alone.
pub fn report_update(claimed: &Claimed, report: &Report, now: DateTime<Utc>) -> Update {
    let condition = Condition::All(vec![
        Condition::Equals(attr::STATUS, s(Status::Running.as_str())),
        Condition::Equals(attr::RUN_TOKEN, s(&claimed.run_token)),
        Condition::Equals(attr::ENABLED, b(true)),
    ]);
    let mut update =
        Update::new(&claimed.worker.id, condition).set(attr::PROGRESS_TIME, s(format_stamp(now)));
    if let Some(text) = &report.text {
        update = update.set(attr::PROGRESS, s(text));
    }
    if let Some(fraction) = report.fraction {
        update = update.set(
            attr::PROGRESS_FRACTION,
            AttributeValue::N(fraction.to_string()),
        );
    }
    if let Some(checkpoint) = &report.checkpoint {
        update = update
            .set(attr::CHECKPOINT, s(checkpoint))
            .set(attr::CHECKPOINT_DUE, s(claimed.anchor()));
    }
    update
}
