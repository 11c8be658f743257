//! `nextdue put` (write a worker, checked first), and `enable`, `disable`, `run-now`, `retry`
//! (conditional writes: acting on a worker that does not exist is an error, never a new
//! half-item; `--where` acts on every worker a filter matches, see [`bulk`]).

use std::io::Read;

use clap::Args;

use super::bulk::{self, Filter, Request, request_update};
use super::definition::{definition, parse_item, problem};
use super::format::{self, paint, style};
use super::{Connection, OpsError, OpsResult, program};
use crate::adapters::dynamodb::Store;
use crate::item::{AttributeValue, attr};
use crate::job::Registry;
use crate::seams::{Applied, WorkerStore};

/// What `put` writes.
#[derive(Args, Clone, Debug)]
pub struct PutArgs {
    /// A JSON file holding the worker (plain JSON, or DynamoDB JSON as the console and
    /// `aws dynamodb get-item` give it), or many workers, one per line (JSON Lines: a
    /// `.jsonl` or `.ndjson` file, or lines that are each a whole object); `-` reads
    /// standard input.
    pub file: String,
    /// Only check the item (or each line); write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which worker a command acts on.
#[derive(Args, Clone, Debug)]
pub struct IdArgs {
    /// The worker's id.
    pub id: String,
}

/// Which workers `enable`, `disable`, `run-now` or `retry` act on: one by id, or every one a
/// filter matches.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// The worker's id.
    #[arg(required_unless_present = "filter", conflicts_with = "filter")]
    pub id: Option<String>,
    /// Every worker matching all of these: `status=invalid,kind=report,queue=default,
    /// failed-since=12h,id-prefix=report-` (counted first, then confirmed).
    #[arg(long = "where", value_name = "FILTER")]
    pub filter: Option<Filter>,
    /// With --where: go ahead without asking.
    #[arg(long)]
    pub yes: bool,
    /// With --where: only count the workers it would change.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `nextdue put`: one worker (JSON or DynamoDB JSON), or many (JSON Lines: one worker
/// per line).
pub async fn run_put(
    connection: &Connection,
    args: &PutArgs,
    registry: &Registry,
) -> OpsResult<()> {
    let text = if args.file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| OpsError(format!("reading standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| OpsError(format!("reading {}: {e}", args.file)))?
    };
    if super::put_lines::is_json_lines(&args.file, &text) {
        return super::put_lines::run(connection, &text, args.dry_run, registry).await;
    }
    let (id, item, left_out) = definition(parse_item(&text)?)?;
    let settings = connection.settings()?;
    if let Some(problem) = problem(&item, registry, &settings) {
        if connection.json {
            format::print_json(
                &serde_json::json!({"id": id, "valid": false, "written": false, "message": problem}),
            );
        }
        return Err(OpsError(format!("{id} not written: {problem}")));
    }
    let enabled = item.get(attr::ENABLED) == Some(&AttributeValue::Bool(true));
    if !args.dry_run {
        let store = connection.store().await?;
        store
            .put_worker(item)
            .await
            .map_err(|e| connection.explain_store("writing the worker", e))?;
    }
    if connection.json {
        let mut answer = serde_json::json!({
            "id": id, "valid": true, "written": !args.dry_run, "enabled": enabled});
        if !left_out.is_empty() {
            answer["leftOut"] = serde_json::json!(left_out);
        }
        format::print_json(&answer);
    } else {
        let what = if args.dry_run {
            "is a valid worker (nothing written)"
        } else {
            "written"
        };
        let then = match (args.dry_run, enabled) {
            (true, _) => String::new(),
            (false, true) if left_out.is_empty() => ": enabled, so nextdue arms it now".to_owned(),
            (false, true) => ": enabled, so nextdue arms it now, afresh (a new task id; a run \
                              under way is recorded as superseded)"
                .to_owned(),
            (false, false) => format!(": disabled; `{} enable {id}` starts it", program()),
        };
        format::print(&format!("{} {what}{then}", paint(&id, style::HEAD)));
        if !left_out.is_empty() {
            format::print(&format!(
                "left out nextdue's own state ({}): put writes the worker's definition",
                left_out.join(", ")
            ));
        }
    }
    Ok(())
}

async fn change(connection: &Connection, id: &str, request: Request) -> OpsResult<()> {
    let store = connection.store().await?;
    let Some((name, value)) = request.assignment() else {
        return retry(connection, &store, id).await;
    };
    let assignment = (vec![name.to_owned()], value);
    let old = store
        .update_existing(id, &[assignment])
        .await
        .map_err(|e| connection.explain_store("changing the worker", e))?
        .ok_or_else(|| no_worker(connection, id))?;

    let was_enabled = old.get(attr::ENABLED) == Some(&AttributeValue::Bool(true));
    let status = match old.get(attr::STATUS) {
        Some(AttributeValue::S(status)) => status.clone(),
        _ => String::new(),
    };
    let (changed, said) = match request {
        Request::Enable if was_enabled && status == "stopped" => (
            false,
            format!(
                "was already enabled (nothing changes), and it is stopped: `{0} run-now {1}` \
                 runs it once more; `{0} disable {1}` then `{0} enable {1}` starts it afresh \
                 (a new task id, its schedule from the start)",
                program(),
                format::safe(id)
            ),
        ),
        Request::Enable if was_enabled => {
            (false, "was already enabled (nothing changes)".to_owned())
        }
        Request::Enable => (
            true,
            "enabled: nextdue arms it with a new task id".to_owned(),
        ),
        Request::Disable if !was_enabled => (false, "was already disabled".to_owned()),
        Request::Disable => (
            true,
            "disabled: it stops (a run under way finishes first)".to_owned(),
        ),
        Request::RunNow if !was_enabled => (
            true,
            "asked to run now, but it is disabled: the request is reported on the item, not run"
                .to_owned(),
        ),
        Request::RunNow | Request::Retry => (
            true,
            "asked to run now: one extra run, then back to its schedule".to_owned(),
        ),
    };
    if connection.json {
        format::print_json(
            &serde_json::json!({"id": id, "changed": changed, "wasEnabled": was_enabled}),
        );
    } else {
        format::print(&format!("{} {said}", paint(id, style::HEAD)));
    }
    Ok(())
}

fn no_worker(connection: &Connection, id: &str) -> OpsError {
    OpsError(format!(
        "no worker {id:?} in {} (nothing written; `{} put` writes a new one)",
        connection.workers_table,
        program()
    ))
}

/// `retry ID`: the write [`request_update`] makes for the worker as it stands.
async fn retry(connection: &Connection, store: &Store, id: &str) -> OpsResult<()> {
    let item = super::show::worker_item(connection, store, id).await?;
    let safe = format::safe(id);
    let update = request_update(Request::Retry, &item, connection.now())
        .map_err(|why| OpsError(format!("{safe} not retried: {why}")))?;
    let rechecked = update.value(attr::RUN_NOW).is_none();
    match store
        .apply(&update)
        .await
        .map_err(|e| connection.explain_store("retrying the worker", e))?
    {
        Applied::Refused(_) => Err(OpsError(format!(
            "{safe} changed meanwhile: nothing retried; `{} show {safe}` says where it stands",
            program()
        ))),
        Applied::Written(_) if connection.json => {
            format::print_json(&serde_json::json!({"id": id, "changed": true}));
            Ok(())
        }
        Applied::Written(_) => {
            let said = if rechecked {
                "is checked again: armed if what made it invalid is gone, else it stays invalid \
                 saying why"
            } else {
                "runs again now (one extra run, then on its schedule)"
            };
            format::print(&format!("{} {said}", paint(id, style::HEAD)));
            Ok(())
        }
    }
}

/// Runs `enable`, `disable`, `run-now` or `retry` on one worker, or on every one `--where`
/// matches.
pub async fn run_request(
    connection: &Connection,
    args: &TargetArgs,
    request: Request,
) -> OpsResult<()> {
    match (&args.id, &args.filter) {
        (_, Some(filter)) => bulk::run(connection, request, filter, args.yes, args.dry_run).await,
        // Said, not ignored: a dry run that wrote would be the worst surprise.
        (Some(_), None) if args.dry_run || args.yes => Err(OpsError(format!(
            "--dry-run and --yes go with --where; `{} {} ID` changes the one worker at once \
             (`{} show ID` shows it first)",
            program(),
            request.name(),
            program()
        ))),
        (Some(id), None) => change(connection, id, request).await,
        (None, None) => Err(OpsError("name a worker, or --where FILTER".into())),
    }
}
