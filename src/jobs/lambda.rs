//! `lambda`: invokes a Lambda function synchronously, so job code in any language gets
//! nextdue's schedules, retries, fencing and run history. A function error or a throttle is
//! retried (with the error's type and message on the item); a missing function or denied
//! access fails for good.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use serde_json::value::RawValue;

use crate::item::json::{item_to_json, to_json};
use crate::item::{ItemError, Worker};
use crate::job::{Invoked, JobContext, JobError, JobLimits, TypedJob};
use crate::jobs::http::excerpt;
use crate::timestamp::Due;

/// The `lambda` job.
pub struct LambdaJob;

/// The `lambda` job's parameters. Any others in `params` are the function's own: they reach
/// it in the default payload.
#[derive(Clone, Debug, Deserialize)]
pub struct LambdaParams {
    /// The function: its name, ARN or partial ARN, with an optional `:alias` or `:version`.
    pub function: String,
    /// What to send; without it, the worker's [`DefaultPayload`].
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

/// What a `lambda` worker sends when its `params` give no `payload`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DefaultPayload {
    /// The worker's id.
    pub id: String,
    /// The due time this run is for.
    pub due: Due,
    /// 1 for the first attempt at this due time, 2 for the first retry, …
    pub attempt: u32,
    /// The worker's `params` (`function` included), numbers as stored.
    pub params: Box<RawValue>,
}

/// JSON text as a raw value (it was written by [`to_json`], so it is JSON).
fn raw(text: String) -> Box<RawValue> {
    RawValue::from_string(text).expect("to_json writes JSON")
}

/// Whether `function` has the shape Lambda accepts: a name (letters, digits, `-`, `_`, 1–64),
/// optionally `account:function:` or a full `arn:…:lambda:region:account:function:` before
/// it, and an optional `:alias` or `:version` after it.
pub fn function_shape_problem(function: &str) -> Option<&'static str> {
    let parts: Vec<&str> = function.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        [_account, "function", name] => (*name, None),
        [_account, "function", name, qualifier] => (*name, Some(*qualifier)),
        [
            "arn",
            _partition,
            "lambda",
            _region,
            _account,
            "function",
            name,
        ] => (*name, None),
        [
            "arn",
            _partition,
            "lambda",
            _region,
            _account,
            "function",
            name,
            qualifier,
        ] => (*name, Some(*qualifier)),
        _ => return Some("is not a function name, ARN or partial ARN"),
    };
    let word = |s: &str, max: usize| {
        (1..=max).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !word(name, 64) {
        return Some("names a function Lambda would not accept (1–64 letters, digits, - or _)");
    }
    if qualifier.is_some_and(|q| q != "$LATEST" && !word(q, 128)) {
        return Some("has a version or alias Lambda would not accept");
    }
    None
}

/// How a function's answer ends the run: a function error is retried, with its type and
/// message; anything else succeeds, quoting the start of the answer.
pub fn invoked_outcome(function: &str, invoked: &Invoked) -> Result<String, JobError> {
    let quoted = excerpt(&invoked.payload_start);
    match &invoked.function_error {
        None if quoted.is_empty() => Ok(format!("invoked {function}")),
        None => Ok(format!("invoked {function}: {quoted}")),
        Some(kind) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Failure {
                error_type: Option<String>,
                error_message: Option<String>,
            }
            let detail = serde_json::from_slice::<Failure>(&invoked.payload_start)
                .ok()
                .map(|f| {
                    let kind = f.error_type.unwrap_or_default();
                    let message = f.error_message.unwrap_or_default();
                    excerpt(
                        format!("{kind}: {message}")
                            .trim_matches([':', ' '])
                            .as_bytes(),
                    )
                })
                .filter(|d| !d.is_empty())
                .unwrap_or(quoted);
            Err(JobError::retryable(format!(
                "{function} failed ({kind}): {detail}"
            )))
        }
    }
}

#[async_trait]
impl TypedJob for LambdaJob {
    const KIND: &'static str = "lambda";
    type Params = LambdaParams;

    fn check(
        &self,
        params: &LambdaParams,
        _worker: &Worker,
        _limits: &JobLimits,
    ) -> Result<(), ItemError> {
        match function_shape_problem(&params.function) {
            Some(problem) => Err(ItemError::new("params.function", problem)),
            None => Ok(()),
        }
    }

    async fn run(&self, params: LambdaParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        // Written from the params as stored, so numbers reach the function as written.
        let stored = ctx.worker.params_as_stored();
        let bytes = match (params.payload, stored.get("payload")) {
            (Some(_), Some(payload)) => to_json(payload).into_bytes(),
            (Some(payload), None) => serde_json::to_vec(&payload).expect("JSON serializes"),
            (None, _) => serde_json::to_vec(&DefaultPayload {
                id: ctx.worker.id.clone(),
                due: ctx.due,
                attempt: ctx.attempt,
                params: raw(item_to_json(&stored)),
            })
            .expect("a payload of JSON values serializes"),
        };
        let invoked = ctx
            .services
            .functions
            .invoke(&params.function, bytes)
            .await?;
        invoked_outcome(&params.function, &invoked)
    }
}
