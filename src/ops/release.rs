//! `nextdue release ID`: give up a run presumed lost (its executor gone, say) before its lease
//! expires, through the same fenced write as the sweeper's rescue: the run is recorded as lost
//! and the worker moves on as its `onLost` says; a run that was alive after all finds its claim
//! gone when it finishes, and is recorded as superseded.

use super::format::{self, paint, style};
use super::put::IdArgs;
use super::show::worker_item;
use super::{Connection, OpsError, OpsResult, program};
use crate::item::Worker;
use crate::job::Registry;
use crate::lifecycle::{NextState, release};
use crate::seams::{Applied, RunWrite, WorkerStore};

/// Runs `nextdue release`.
pub async fn run(connection: &Connection, args: &IdArgs, registry: &Registry) -> OpsResult<()> {
    let store = connection.store().await?;
    let item = worker_item(connection, &store, &args.id).await?;
    let id = format::safe(&args.id);
    let worker = Worker::from_item(&item).map_err(|e| {
        OpsError(format!(
            "{id} does not decode as a worker ({e}): nothing to release"
        ))
    })?;
    let settings = connection.settings()?;
    let Some(finish) = release(
        &worker,
        connection.now(),
        rand::random::<f64>(),
        registry,
        &settings.policy,
    ) else {
        return Err(OpsError(format!(
            "{id} is not running ({}): nothing to release",
            worker.status.map_or("not armed", |s| s.as_str())
        )));
    };
    let failed = |e: crate::seams::StoreError| OpsError(e.to_string());
    if let RunWrite::Exists(record) = store
        .put_run_if_absent(&finish.record)
        .await
        .map_err(failed)?
    {
        return Err(OpsError(format!(
            "{id}'s run has recorded its outcome already ({}): the sweeper closes it from that \
             record once its lease passes; nothing released",
            if record.succeeded == Some(true) {
                "succeeded"
            } else {
                "failed"
            }
        )));
    }
    if let Applied::Refused(_) = store.apply(&finish.update).await.map_err(failed)? {
        return Err(OpsError(format!(
            "{id} changed meanwhile (the run finished, or was given up): nothing released; \
             `{} show {id}` says where it stands",
            program()
        )));
    }
    let next = match finish.next {
        NextState::Retry { due } => format!("retried at {due}"),
        NextState::Next { due } => format!("next due {due}"),
        NextState::Stopped => "stopped".into(),
    };
    if connection.json {
        format::print_json(&serde_json::json!({"id": args.id, "released": true, "next": next}));
    } else {
        format::print(&format!(
            "{} released: the run is recorded as lost; {next}",
            paint(&args.id, style::HEAD)
        ));
    }
    Ok(())
}
