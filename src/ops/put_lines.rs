//! `nextdue put FILE.jsonl`: many workers, one per line, each checked as a single `put` checks
//! one; the good ones are written in batches (each item whole: DynamoDB writes an item
//! entirely or not at all), and each refused line is reported by its number and why.

use std::collections::HashMap;

use super::definition::{definition, parse_item, problem};
use super::format::{self, paint, style};
use super::{Connection, OpsError, OpsResult};
use crate::item::{AttributeValue, Item, attr};
use crate::job::Registry;

/// Whether the text of `file` holds JSON Lines: the file says so (`.jsonl`, `.ndjson`), or it
/// has more than one line and its first line is a whole object on its own.
pub fn is_json_lines(file: &str, text: &str) -> bool {
    if file.ends_with(".jsonl") || file.ends_with(".ndjson") {
        return true;
    }
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let first = lines.next();
    lines.next().is_some() && first.is_some_and(|line| parse_item(line).is_ok())
}

/// A line that was not written, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Its number, from 1.
    pub line: usize,
    /// The id it gave, if it gave one.
    pub id: Option<String>,
    /// Why.
    pub message: String,
}

/// The lines of `text` checked: the definitions to write, and the lines refused. A line is
/// refused when it is not one JSON object, has no id, is not a valid worker (the dispatcher
/// would mark it invalid), or repeats an id of an earlier line.
pub fn check_lines(
    text: &str,
    registry: &Registry,
    settings: &crate::config::Settings,
) -> (Vec<Item>, Vec<Refused>) {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let checked = parse_item(line)
            .and_then(definition)
            .map_err(|e| (None, e.0))
            .and_then(|(id, item, _)| match seen.get(&id) {
                Some(first) => Err((Some(id), format!("the id appears on line {first} already"))),
                None => match problem(&item, registry, settings) {
                    Some(problem) => Err((Some(id), problem)),
                    None => Ok((id, item)),
                },
            });
        match checked {
            Ok((id, item)) => {
                seen.insert(id, number);
                good.push(item);
            }
            Err((id, message)) => refused.push(Refused {
                line: number,
                id,
                message,
            }),
        }
    }
    (good, refused)
}

/// Runs `put` of JSON Lines.
pub async fn run(
    connection: &Connection,
    text: &str,
    dry_run: bool,
    registry: &Registry,
) -> OpsResult<()> {
    let settings = connection.settings()?;
    let (good, refused) = check_lines(text, registry, &settings);
    let enabled = good
        .iter()
        .filter(|item| item.get(attr::ENABLED) == Some(&AttributeValue::Bool(true)))
        .count();
    let valid = good.len();
    if !dry_run && !good.is_empty() {
        let store = connection.store().await?;
        store
            .put_workers(good)
            .await
            .map_err(|e| connection.explain_store("writing the workers", e))?;
    }
    if connection.json {
        let refused: Vec<_> = refused
            .iter()
            .map(|r| serde_json::json!({"line": r.line, "id": r.id, "message": r.message}))
            .collect();
        format::print_json(&serde_json::json!({
            "valid": valid,
            "written": if dry_run { 0 } else { valid },
            "enabled": enabled,
            "refused": refused,
        }));
    } else {
        let done = if dry_run {
            format!("{valid} valid workers (nothing written)")
        } else {
            format!("wrote {valid} workers ({enabled} enabled: nextdue arms them now)")
        };
        format::print(&paint(&done, style::HEAD));
        for r in &refused {
            let id = r.id.as_deref().map(|id| format!(" ({})", format::safe(id)));
            format::print(&format!(
                "line {}{}: {}",
                r.line,
                id.unwrap_or_default(),
                format::safe(&r.message)
            ));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(OpsError(format!(
            "{} line(s) refused, as listed; the {valid} others {}",
            refused.len(),
            if dry_run { "are valid" } else { "were written" }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_told_from_one_pretty_printed_object() {
        let lines = "{\"id\": \"a\", \"kind\": \"log\"}\n{\"id\": \"b\", \"kind\": \"log\"}\n";
        assert!(is_json_lines("workers.txt", lines));
        assert!(is_json_lines("w.jsonl", "{\"id\": \"a\"}"));
        assert!(!is_json_lines(
            "w.json",
            "{\n  \"id\": \"a\",\n  \"kind\": \"log\"\n}\n"
        ));
        assert!(!is_json_lines("w.json", "{\"id\": \"a\"}\n"));
    }

    #[test]
    fn each_line_is_checked_and_a_bad_one_is_reported_by_its_number() {
        let text = [
            r#"{"id": "a", "kind": "log", "enabled": true, "params": {"message": "m"}}"#,
            "",
            r#"{"id": "b", "kind": "teleport", "enabled": true}"#,
            r#"not json"#,
            r#"{"kind": "log"}"#,
            r#"{"id": "a", "kind": "log", "params": {"message": "again"}}"#,
            r#"{"id": "c", "kind": "log", "enabled": true, "params": {"message": "m"}, "status": "running"}"#,
        ]
        .join("\n");
        let (good, refused) = check_lines(
            &text,
            &crate::jobs::builtin(),
            &crate::config::Settings::default(),
        );
        let ids: Vec<_> = good.iter().map(|i| i.get(attr::ID).cloned()).collect();
        assert_eq!(
            ids,
            [
                Some(AttributeValue::S("a".into())),
                Some(AttributeValue::S("c".into()))
            ]
        );
        assert!(!good[1].contains_key(attr::STATUS), "state is left out");
        let lines: Vec<_> = refused.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(refused[0].message.contains("kind"), "{:?}", refused[0]);
        assert!(
            refused[1].message.starts_with("not JSON"),
            "{:?}",
            refused[1]
        );
        assert!(refused[2].message.contains("needs an id"));
        assert_eq!(refused[3].message, "the id appears on line 1 already");
    }
}
