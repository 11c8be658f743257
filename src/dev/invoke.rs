//! Calling the handlers through the Lambda Invoke API instead of in process: `cargo lambda
//! watch` serves every binary of the package at `POST /2015-03-31/functions/NAME/invocations`,
//! so `nextdue dev --invoke-url` exercises the very binaries that Lambda would run.

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Invokes `function` with `event` at the Lambda Invoke API at `base`, and reads its answer.
pub async fn invoke<E: Serialize, R: DeserializeOwned>(
    base: &str,
    function: &str,
    event: &E,
) -> anyhow::Result<R> {
    let url = format!(
        "{}/2015-03-31/functions/{function}/invocations",
        base.trim_end_matches('/')
    );
    let body = serde_json::to_string(event)?;
    let target = url.clone();
    let answer = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut response = ureq::post(&target)
            .header("content-type", "application/json")
            .send(&body)?;
        let failed = response.headers().contains_key("x-amz-function-error");
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        anyhow::ensure!(!failed, "the function failed: {text}");
        Ok(text)
    })
    .await??;
    serde_json::from_str(&answer).with_context(|| format!("{url} answered {answer:.200}"))
}
