//! `spawn`: each run writes one child worker, `<parentId>#<due time>`, enabled, so every job
//! the parent starts keeps its own record (the seed's "one worker per job").
//!
//! The child holds exactly the attribute values of the template in `params.worker` (numbers as
//! written, sets as sets), plus `id`, `enabled`, `parentId`, `parentTaskId` and `spawnDepth`.

use async_trait::async_trait;
use serde::Deserialize;

use crate::item::{AttributeValue, Item, ItemError, Params, Worker, attr};
use crate::job::{Created, JobContext, JobError, JobLimits, TypedJob};
use crate::timestamp::Due;

/// DynamoDB's limit on a partition key, in bytes.
pub const MAX_ID_BYTES: usize = 2048;
/// What a child's id adds to its parent's: `#` and a due time (`#2027-01-01T09:00:00Z`).
pub const CHILD_ID_SUFFIX_BYTES: usize = 21;

/// The `spawn` job.
pub struct SpawnJob;

/// The `spawn` job's parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpawnParams {
    /// The child's attributes (any of a worker's, but not `id`).
    pub worker: Params,
    /// Whether a recurring spawn may write recurring children (off by default: each such child
    /// spawns in turn, and a tree grows as a power of time).
    #[serde(default)]
    pub allow_recurring_children: bool,
}

/// A worker a job writes under its own: `template`'s attributes, with the id
/// `<parentId>#<suffix>`, enabled, and the parent's id, task id and spawn depth plus one (so
/// disabling the parent stops it, and the depth limit bounds the tree). Returns the item to
/// write (through `ctx.services.workers`) and the worker it decodes to, which checks it.
pub fn child(
    parent: &Worker,
    suffix: impl std::fmt::Display,
    mut item: Item,
) -> Result<(Item, Worker), ItemError> {
    let id = format!("{}#{suffix}", parent.id);
    item.insert(attr::ID.into(), AttributeValue::S(id));
    item.insert(attr::ENABLED.into(), AttributeValue::Bool(true));
    item.insert(attr::PARENT_ID.into(), AttributeValue::S(parent.id.clone()));
    if let Some(task) = &parent.task_id {
        item.insert(attr::PARENT_TASK_ID.into(), AttributeValue::S(task.clone()));
    }
    item.insert(
        attr::SPAWN_DEPTH.into(),
        AttributeValue::N((parent.spawn_depth + 1).to_string()),
    );
    let child = Worker::from_item(&item)?;
    Ok((item, child))
}

/// The child a parent writes for the run due at `due`, built from the template `params.worker`
/// as stored: the item to write, and the worker it decodes to (which checks it).
pub fn child_of(parent: &Worker, due: Due) -> Result<(Item, Worker), ItemError> {
    let stored = parent.params_as_stored();
    let Some(AttributeValue::M(template)) = stored.get("worker") else {
        return Err(ItemError::new("params.worker", "expected a map (M)"));
    };
    if template.contains_key(attr::ID) {
        return Err(ItemError::new(
            "params.worker.id",
            "is chosen by spawn (<parentId>#<due time>); leave it out",
        ));
    }
    child(parent, due, Item::from(template.clone()))
        .map_err(|e| ItemError::new(format!("params.worker.{}", e.attribute), e.problem))
}

/// What a job that writes a child does with the answer: `Ok` when it was written now or by an
/// earlier attempt of the same run, a permanent error when someone else's item has its id.
pub async fn create_child(
    item: &Item,
    child: &Worker,
    ctx: &JobContext<'_>,
) -> Result<Created, JobError> {
    let limit = ctx.services.limits.max_spawn_depth;
    if child.spawn_depth > limit {
        return Err(JobError::permanent(format!(
            "spawn depth limit reached: {} would be generation {} (the limit is {limit})",
            child.id, child.spawn_depth
        )));
    }
    match ctx.services.workers.create(item).await? {
        Created::Exists(existing) if !written_by(&existing, ctx.worker) => {
            Err(JobError::permanent(format!(
                "an item {} exists already and is not this worker's child for this due time; \
                 remove it, or it stands in for no run",
                child.id
            )))
        }
        created => Ok(created),
    }
}

/// Whether `existing` is the child this parent's activation wrote for this due time (an
/// earlier attempt of the same run), and not an item someone else wrote under that id.
fn written_by(existing: &Item, parent: &Worker) -> bool {
    let text = |name: &str| match existing.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    text(attr::PARENT_ID) == Some(parent.id.as_str())
        && text(attr::PARENT_TASK_ID) == parent.task_id.as_deref()
}

#[async_trait]
impl TypedJob for SpawnJob {
    const KIND: &'static str = "spawn";
    type Params = SpawnParams;

    fn check(
        &self,
        params: &SpawnParams,
        worker: &Worker,
        _limits: &JobLimits,
    ) -> Result<(), ItemError> {
        let longest = MAX_ID_BYTES - CHILD_ID_SUFFIX_BYTES;
        if worker.id.len() > longest {
            return Err(ItemError::new(
                attr::ID,
                format!(
                    "{} bytes leave no room for the ids of spawned children (#<due time>, \
                     {CHILD_ID_SUFFIX_BYTES} bytes; DynamoDB allows {MAX_ID_BYTES}): use an id \
                     of at most {longest} bytes",
                    worker.id.len()
                ),
            ));
        }
        let parent = Worker {
            id: "parent".into(),
            ..worker.clone()
        };
        let (_, child) = child_of(&parent, Due::floor(chrono::DateTime::UNIX_EPOCH))?;
        let recurs = |w: &Worker| w.schedule.as_ref().is_some_and(|s| s.recurs());
        if recurs(worker) && recurs(&child) && !params.allow_recurring_children {
            return Err(ItemError::new(
                "params.worker.schedule",
                "a recurring spawn may not write recurring children (each would spawn in turn); \
                 give the child no schedule or an at(), or set params.allowRecurringChildren \
                 to true",
            ));
        }
        Ok(())
    }

    async fn run(&self, _params: SpawnParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        // Named after the occurrence, so a retry finds the child its first attempt wrote.
        let (item, child) = child_of(ctx.worker, ctx.occurrence())
            .map_err(|e| JobError::permanent(e.to_string()))?;
        Ok(match create_child(&item, &child, ctx).await? {
            Created::Written => format!("spawned worker {}", child.id),
            Created::Exists(_) => format!(
                "worker {} already exists (an earlier attempt wrote it)",
                child.id
            ),
        })
    }
}
