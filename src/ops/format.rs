//! How the commands print: tables sized to the terminal, times in UTC with how far they are
//! from now ("in 4 minutes"), colour only on a terminal, JSON for scripts.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Utc};
use chrono_humanize::HumanTime;
use comfy_table::{ContentArrangement, Table, presets};

use crate::lifecycle::bounded_to;

/// `2027-01-04 09:00:00Z`.
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// How far `at` is from `now`, in words: `in 4 minutes`, `2 hours ago`, `now`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = at - now;
    if delta.num_seconds().abs() < 1 {
        return "now".into();
    }
    HumanTime::from(delta).to_string()
}

/// `2027-01-04 09:00:00Z (in 4 minutes)`.
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", utc(at), relative(at, now))
}

/// The width output should fit: the terminal's, `COLUMNS`, or none (a pipe or a file).
pub fn width() -> Option<u16> {
    if std::io::stdout().is_terminal()
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        return Some(w);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

/// `text` with every control character (line breaks, escape sequences, …) and every
/// bidirectional-text control written as a visible escape (`\u{1b}`, `\n`), so that what
/// anyone wrote into an item cannot clear the operator's screen, set its title, recolour it
/// or draw a fake row. Applied to every value a command prints for people; `--json` is
/// escaped by JSON itself.
///
/// ```
/// use nextdue::ops::format::safe;
/// assert_eq!(safe("ok\u{1b}]0;owned\u{7}\nfake row"), "ok\\u{1b}]0;owned\\u{7}\\nfake row");
/// assert_eq!(safe("plain – text"), "plain – text");
/// ```
pub fn safe(text: &str) -> String {
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hostile) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if hostile(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A table of these headers and rows, its last column (a message) cut so each line fits
/// [`width`]; the other columns are never wrapped. Cells stay plain (no colour): the table
/// measures escape codes as text.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|cell| safe(cell)).collect())
        .collect();
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(columns - 1) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    // Each column is padded by one space on either side.
    let used: usize = widths[..columns - 1].iter().map(|w| w + 2).sum::<usize>() + 2;
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        let mut row = row;
        if let Some(last) = row.last_mut() {
            *last = fit(last, used);
        }
        table.add_row(row);
    }
    table.trim_fmt()
}

/// `text` on one line, cut to what remains of the width after `used` columns (whole when
/// there is no width, as in a pipe).
pub fn fit(text: &str, used: usize) -> String {
    let line = text.replace(['\n', '\r'], " ");
    match width() {
        Some(width) => bounded_to(&line, (width as usize).saturating_sub(used).max(20)),
        None => line,
    }
}

/// Styles, as anstream renders them: colours on a terminal, plain text elsewhere (and
/// when `NO_COLOR` is set).
pub mod style {
    use super::*;

    /// Good news.
    pub const OK: Style = AnsiColor::Green.on_default();
    /// Bad news.
    pub const BAD: Style = AnsiColor::Red.on_default().bold();
    /// Something to notice.
    pub const NOTE: Style = AnsiColor::Yellow.on_default();
    /// A heading.
    pub const HEAD: Style = Style::new().bold();
}

/// `text` in `style` (plain when stdout is not a terminal), made [`safe`].
pub fn paint(text: &str, style: Style) -> String {
    format!("{style}{}{style:#}", safe(text))
}

/// Prints `text` to stdout, colours stripped unless it is a terminal.
pub fn print(text: &str) {
    let mut out = anstream::stdout();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = writeln!(out, "{text}");
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &serde_json::Value) {
    print(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
}
