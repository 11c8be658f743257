//! `nextdue dead-letters`: what sits in the dead-letter queues (messages the executor failed
//! on `maxReceiveCount` times) and in the queue of stream records the dispatcher set aside,
//! with the reason where one is known; `--redrive` moves dead letters back to their queue.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use clap::Args;
use serde::Serialize;

use super::format::{self, paint, style};
use super::show::worker_item;
use super::{Connection, OpsError, OpsResult};
use crate::adapters::dynamodb::Store;
use crate::adapters::sqs::lookup_queue;
use crate::lifecycle::Message;
use crate::seams::QueueRef;

/// What `dead-letters` looks at.
#[derive(Args, Clone, Debug)]
pub struct DeadLetterArgs {
    /// Only this worker queue's dead letters (default: every queue of `NEXTDUE_QUEUES`, and
    /// the stream's set-aside records).
    #[arg(long)]
    pub queue: Option<String>,
    /// Move the worker queues' dead letters back to their queue (the executor gets them again).
    #[arg(long)]
    pub redrive: bool,
    /// Delete these dead letters, by the message id the listing shows (repeatable).
    #[arg(long = "delete", value_name = "MESSAGE_ID", conflicts_with_all = ["redrive", "purge"])]
    pub delete: Vec<String>,
    /// Delete every dead letter of the worker queues (or of `--queue`).
    #[arg(long, conflicts_with = "redrive")]
    pub purge: bool,
    /// Delete without asking.
    #[arg(long)]
    pub yes: bool,
}

/// How long listed messages stay hidden while the listing reads on (they are made visible
/// again at once afterwards).
const HIDE_SECONDS: i32 = 30;
/// How long messages stay hidden while `--redrive` moves them: long enough that none comes
/// round again during the pass (each is also read once at most, by its message id).
const REDRIVE_HIDE_SECONDS: i32 = 900;
/// The most messages a listing reads per queue (`--redrive` reads them all).
const MAX_MESSAGES: usize = 1000;

/// One dead letter, as `dead-letters --json` gives it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The queue it sits in.
    pub queue: String,
    /// The worker it is for, if it names one.
    pub worker_id: Option<String>,
    /// The due time it was for, if it is a nextdue message.
    pub due: Option<String>,
    /// SQS's message id (what `--delete` takes).
    pub message_id: String,
    /// When it was first sent to its queue (RFC 3339).
    pub sent: Option<String>,
    /// The start of its body, on one line.
    pub body: String,
    /// SQS's count of receives. SQS has no read that leaves it alone, so every listing adds
    /// one; nextdue's dead-letter queues have no redrive limit, so that changes nothing else.
    pub receive_count: Option<u32>,
    /// Why it is here, as far as is known.
    pub reason: String,
    /// Whether `--redrive` moved it back.
    pub redriven: bool,
    /// Whether `--delete` or `--purge` deleted it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

struct Received {
    message_id: String,
    body: String,
    receipt: String,
    receive_count: Option<u32>,
    sent: Option<String>,
}

/// What to do with the dead letters read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    List,
    Redrive,
    Delete,
}

/// How much of a queue to read, and how long to hide what was read.
struct Reading {
    limit: Option<usize>,
    hide_seconds: i32,
}

/// Every message of `queue` (up to the reading's limit), each once, left in the queue but
/// hidden for the reading's time. A message that comes round again (its hiding ran out
/// during a long pass) is known by its id and not read twice.
async fn read_all(
    connection: &Connection,
    sqs: &aws_sdk_sqs::Client,
    queue: &QueueRef,
    reading: &Reading,
) -> OpsResult<Vec<Received>> {
    let mut all: Vec<Received> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while reading.limit.is_none_or(|limit| all.len() < limit) {
        let page = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .visibility_timeout(reading.hide_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| connection.explain("reading a dead-letter queue", &queue.name, e))?;
        let messages = page.messages.unwrap_or_default();
        let mut new = 0;
        for message in messages {
            let id = message.message_id.clone().unwrap_or_default();
            if !seen.insert(id.clone()) {
                continue;
            }
            new += 1;
            let attribute = |name: MessageSystemAttributeName| {
                message
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&name))
                    .cloned()
            };
            let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|n| n.parse().ok());
            let sent = attribute(MessageSystemAttributeName::SentTimestamp)
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(crate::timestamp::format_stamp);
            all.push(Received {
                message_id: id,
                body: message.body.unwrap_or_default(),
                receipt: message.receipt_handle.unwrap_or_default(),
                receive_count,
                sent,
            });
        }
        if new == 0 {
            break;
        }
    }
    Ok(all)
}

/// Makes listed messages visible again.
async fn release(sqs: &aws_sdk_sqs::Client, queue: &QueueRef, messages: &[&Received]) {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        // A message left hidden comes back by itself after HIDE_SECONDS.
        let _ = sqs
            .change_message_visibility_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await;
    }
}

/// Sends copies of up to ten dead letters to `target` in one request, then removes the ones
/// sent from `dlq` in one more; returns the receipts of those moved. A copy whose original
/// could not be removed stays in both queues (its worker runs once all the same: one claim
/// wins).
async fn move_back<'a>(
    connection: &Connection,
    sqs: &aws_sdk_sqs::Client,
    dlq: &QueueRef,
    target: &QueueRef,
    messages: &[&'a Received],
) -> OpsResult<Vec<&'a str>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let entries = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&m.body)
                .build()
                .ok()
        })
        .collect();
    let sent = sqs
        .send_message_batch()
        .queue_url(&target.url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| connection.explain("redriving dead letters", &target.name, e))?;
    let sent = done(
        messages,
        sent.successful.iter().map(|entry| entry.id.as_str()),
    );
    remove(connection, sqs, dlq, &sent).await
}

/// The messages a batch request's answer lists as done (its entries' ids are positions).
fn done<'a, 'b>(
    messages: &[&'a Received],
    ids: impl Iterator<Item = &'b str>,
) -> Vec<&'a Received> {
    ids.filter_map(|id| id.parse::<usize>().ok())
        .filter_map(|i| messages.get(i).copied())
        .collect()
}

/// Deletes up to ten messages from `dlq` in one request; returns the receipts of those deleted.
async fn remove<'a>(
    connection: &Connection,
    sqs: &aws_sdk_sqs::Client,
    dlq: &QueueRef,
    messages: &[&'a Received],
) -> OpsResult<Vec<&'a str>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let entries = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&m.receipt)
                .build()
                .ok()
        })
        .collect();
    let deleted = sqs
        .delete_message_batch()
        .queue_url(&dlq.url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| connection.explain("removing dead letters", &dlq.name, e))?;
    let deleted = done(
        messages,
        deleted.successful.iter().map(|entry| entry.id.as_str()),
    );
    Ok(deleted.iter().map(|m| m.receipt.as_str()).collect())
}

/// Why a worker queue's dead letter is there: what the worker's item says of its last run.
async fn worker_reason(connection: &Connection, store: &Store, message: &Message) -> String {
    match worker_item(connection, store, &message.id).await {
        Err(_) => "the worker no longer exists".into(),
        Ok(item) => {
            let row = super::list::Row::of(&item);
            let status = row.status.unwrap_or_else(|| "-".into());
            let last = row
                .last_run_message
                .unwrap_or_else(|| "no run recorded".into());
            format!(
                "the executor failed on it each time it was received; the worker is {status} \
                 (last run: {last}); see the executor's log for worker {}",
                message.id
            )
        }
    }
}

/// Asks on the terminal before deleting; elsewhere `--yes` must say so.
fn confirmed(args: &DeadLetterArgs, what: &str) -> OpsResult<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(OpsError(format!(
            "{what}: add --yes to delete without being asked (nothing deleted)"
        )));
    }
    eprint!("{what}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(OpsError("nothing deleted".into()))
    }
}

/// The start of a body, on one line, for people.
fn summary(body: &str) -> String {
    crate::lifecycle::bounded_to(&body.replace(['\n', '\r'], " "), 200)
}

/// Runs `nextdue dead-letters`.
pub async fn run(connection: &Connection, args: &DeadLetterArgs) -> OpsResult<()> {
    let action = if args.redrive {
        Action::Redrive
    } else if args.purge || !args.delete.is_empty() {
        Action::Delete
    } else {
        Action::List
    };
    let clients = connection.clients().await?;
    let settings = connection.settings()?;
    let names = &settings.names;
    let queues: Vec<String> = match &args.queue {
        Some(queue) => vec![queue.clone()],
        None => settings
            .policy
            .queues
            .iter()
            .map(|q| q.name.clone())
            .collect(),
    };
    if action == Action::Delete {
        let what = if args.purge {
            format!("delete every dead letter of {}", queues.join(", "))
        } else {
            format!("delete {} dead letter(s)", args.delete.len())
        };
        confirmed(args, &what)?;
    }
    let mut letters = Vec::new();
    let mut counts = BTreeMap::new();
    for queue in &queues {
        let dlq_name = names.dead_letter_queue_name(queue);
        let dlq = lookup_queue(&clients.sqs, &dlq_name)
            .await
            .map_err(|e| OpsError(format!("{e}: deploy the stack, or set NEXTDUE_QUEUES and NEXTDUE_QUEUE_PREFIX to its queues")))?;
        let reading = match action {
            Action::List => Reading {
                limit: Some(MAX_MESSAGES),
                hide_seconds: HIDE_SECONDS,
            },
            Action::Redrive | Action::Delete => Reading {
                limit: None,
                hide_seconds: REDRIVE_HIDE_SECONDS,
            },
        };
        let received = read_all(connection, &clients.sqs, &dlq, &reading).await?;
        let target = match action {
            Action::Redrive => Some(
                lookup_queue(&clients.sqs, &names.queue_name(queue))
                    .await
                    .map_err(|e| OpsError(e.to_string()))?,
            ),
            _ => None,
        };
        let mut kept = Vec::new();
        for chunk in received.chunks(10) {
            let decoded: Vec<Option<Message>> = chunk
                .iter()
                .map(|m| serde_json::from_str::<Message>(&m.body).ok())
                .collect();
            let chosen: Vec<&Received> = chunk
                .iter()
                .zip(&decoded)
                .filter(|(m, d)| match action {
                    Action::List => false,
                    Action::Redrive => d.is_some(),
                    Action::Delete => args.purge || args.delete.contains(&m.message_id),
                })
                .map(|(m, _)| m)
                .collect();
            let done = match (&target, action) {
                (Some(target), _) => {
                    move_back(connection, &clients.sqs, &dlq, target, &chosen).await?
                }
                (None, Action::Delete) => remove(connection, &clients.sqs, &dlq, &chosen).await?,
                _ => Vec::new(),
            };
            for (message, decoded) in chunk.iter().zip(decoded) {
                let reason = match &decoded {
                    Some(m) => worker_reason(connection, &connection.store_on(&clients), m).await,
                    None => "not a nextdue message: its body does not decode".into(),
                };
                let gone = done.contains(&message.receipt.as_str());
                if !gone {
                    kept.push(message);
                }
                letters.push(DeadLetter {
                    queue: dlq_name.clone(),
                    worker_id: decoded.as_ref().map(|m| m.id.clone()),
                    due: decoded.as_ref().map(|m| m.due.to_string()),
                    message_id: message.message_id.clone(),
                    sent: message.sent.clone(),
                    body: summary(&message.body),
                    receive_count: message.receive_count,
                    reason,
                    redriven: gone && action == Action::Redrive,
                    deleted: gone && action == Action::Delete,
                });
            }
        }
        release(&clients.sqs, &dlq, &kept).await;
        counts.insert(dlq_name, received.len());
    }
    if args.queue.is_none() && action == Action::List {
        let name = names.stream_failure_queue_name();
        if let Ok(queue) = lookup_queue(&clients.sqs, &name).await {
            let listing = Reading {
                limit: Some(MAX_MESSAGES),
                hide_seconds: HIDE_SECONDS,
            };
            let received = read_all(connection, &clients.sqs, &queue, &listing).await?;
            for message in &received {
                let body: serde_json::Value =
                    serde_json::from_str(&message.body).unwrap_or_default();
                let reason = body["reason"].as_str().map(str::to_owned).unwrap_or_else(|| {
                    "the dispatcher failed on this stream record every time it was retried (see its log)".into()
                });
                letters.push(DeadLetter {
                    queue: name.clone(),
                    worker_id: body["workerId"].as_str().map(str::to_owned),
                    due: None,
                    message_id: message.message_id.clone(),
                    sent: message.sent.clone(),
                    body: summary(&message.body),
                    receive_count: message.receive_count,
                    reason,
                    redriven: false,
                    deleted: false,
                });
            }
            release(&clients.sqs, &queue, &received.iter().collect::<Vec<_>>()).await;
            counts.insert(name, received.len());
        }
    }
    let missing: Vec<String> = args
        .delete
        .iter()
        .filter(|id| !letters.iter().any(|l| l.deleted && &l.message_id == *id))
        .map(|id| format::safe(id))
        .collect();
    let unfound = || {
        Err(OpsError(format!(
            "no dead letter with message id {}: nothing deleted for it",
            missing.join(", ")
        )))
    };
    if connection.json {
        format::print_json(&serde_json::to_value(&letters).expect("dead letters serialize"));
        return if missing.is_empty() {
            Ok(())
        } else {
            unfound()
        };
    }
    let summary: Vec<String> = counts.iter().map(|(q, n)| format!("{q}: {n}")).collect();
    format::print(&summary.join(", "));
    if letters.is_empty() {
        format::print(&paint("no dead letters", style::OK));
        return if missing.is_empty() {
            Ok(())
        } else {
            unfound()
        };
    }
    let now = connection.now();
    let cells = letters
        .iter()
        .map(|letter| {
            let reason = match (letter.redriven, letter.deleted) {
                (true, _) => format!("{} (moved back to its queue)", letter.reason),
                (_, true) => format!("{} (deleted)", letter.reason),
                _ => letter.reason.clone(),
            };
            vec![
                letter.queue.clone(),
                letter.message_id.clone(),
                letter.worker_id.clone().unwrap_or_else(|| "?".into()),
                letter.due.clone().unwrap_or_default(),
                letter
                    .sent
                    .as_deref()
                    .and_then(|t| t.parse().ok())
                    .map(|t| format::relative(t, now))
                    .unwrap_or_default(),
                reason,
            ]
        })
        .collect();
    let headers = ["QUEUE", "MESSAGE ID", "WORKER", "DUE", "SENT", "REASON"];
    format::print(&format::table(&headers, cells));
    let moved = letters.iter().filter(|l| l.redriven).count();
    let deleted = letters.iter().filter(|l| l.deleted).count();
    match action {
        Action::Redrive => format::print(&format!(
            "moved {moved} back to their queue; left {} where they were (not worker messages, \
             or their move failed: listed above)",
            letters.len() - moved
        )),
        Action::Delete => {
            format::print(&format!("deleted {deleted}"));
            if !missing.is_empty() {
                return unfound();
            }
        }
        Action::List => format::print(
            "(each listing is a receive to SQS, so its receive count grows by one; nothing else \
             changes: the messages stay, visible again at once)",
        ),
    }
    Ok(())
}
