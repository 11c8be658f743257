//! `spawn`: each run writes one child worker, `<parentId>#<due time>`, enabled, so every job
//! the parent starts keeps its own record (the seed's "one worker per job").

use async_trait::async_trait;
use serde::Deserialize;

use crate::item::{Item, ItemError, Params, Worker, attr};
use crate::job::{Job, JobContext, JobError, parse_params};
use crate::timestamp::Due;

/// The `spawn` job.
pub struct SpawnJob;

/// The `spawn` job's parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnParams {
    /// The child's attributes (any of a worker's, but not `id`).
    pub worker: Params,
}

/// The child a parent writes for the run due at `due`.
pub fn child_of(parent: &Worker, template: &Params, due: Due) -> Result<Worker, ItemError> {
    if template.contains_key(attr::ID) {
        return Err(ItemError::new(
            "params.worker.id",
            "is chosen by spawn (<parentId>#<due time>); leave it out",
        ));
    }
    let mut item: Item = serde_dynamo::to_item(template)
        .map_err(|e| ItemError::new("params.worker", e.to_string()))?;
    item.insert(
        attr::ID.into(),
        serde_dynamo::AttributeValue::S(format!("{}#{due}", parent.id)),
    );
    let mut child = Worker::from_item(&item)
        .map_err(|e| ItemError::new(format!("params.worker.{}", e.attribute), e.problem))?;
    child.enabled = true;
    child.parent_id = Some(parent.id.clone());
    child.spawn_depth = parent.spawn_depth + 1;
    Ok(child)
}

#[async_trait]
impl Job for SpawnJob {
    fn validate(&self, params: &Params) -> Result<(), ItemError> {
        let params: SpawnParams = parse_params(params)?;
        let example = Worker::new("parent", "spawn");
        child_of(
            &example,
            &params.worker,
            Due::floor(chrono::DateTime::UNIX_EPOCH),
        )
        .map(|_| ())
    }

    async fn execute(&self, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let permanent = |e: ItemError| JobError::permanent(e.to_string());
        let params: SpawnParams = parse_params(&ctx.worker.params).map_err(permanent)?;
        let child = child_of(ctx.worker, &params.worker, ctx.due).map_err(permanent)?;
        let limit = ctx.services.limits.max_spawn_depth;
        if child.spawn_depth > limit {
            return Err(JobError::permanent(format!(
                "spawn depth limit reached: {} would be generation {} (the limit is {limit})",
                child.id, child.spawn_depth
            )));
        }
        if ctx.services.workers.create(&child).await? {
            Ok(format!("spawned worker {}", child.id))
        } else {
            Ok(format!(
                "worker {} already exists (an earlier attempt wrote it)",
                child.id
            ))
        }
    }
}
