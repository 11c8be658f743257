//! `http`: calls a URL, like Cloud Tasks' HTTP targets. A 2xx answer succeeds; 429, 5xx and
//! network failures are retried (after `Retry-After` when the answer gives one); other 4xx
//! answers fail for good. The item's message gets the status and the first bytes of the
//! answer, never the request's headers or the URL's query. Addresses outside the public
//! Internet are refused unless the deployment allows them ([`NetworkPolicy`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::item::json::to_json;
use crate::item::{AttributeValue, ItemError, Worker};
use crate::job::{
    HttpFailure, HttpRequest, HttpResponse, JobContext, JobError, JobLimits, TypedJob,
};
use crate::lifecycle::bounded_to;
use crate::network::{NetworkPolicy, refusal};

/// The methods the `http` job sends.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// The longest `timeoutSeconds` (Lambda's longest invocation).
pub const MAX_TIMEOUT_SECONDS: u32 = 900;
/// How much of an answer's body the item's message quotes, in bytes.
pub const EXCERPT_BYTES: usize = 200;

/// The `http` job.
pub struct HttpJob;

/// The `http` job's parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpParams {
    /// Where to send the request (`http` or `https`).
    pub url: String,
    /// The method (default `POST`).
    #[serde(default = "post")]
    pub method: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: a string is sent as it is, anything else as JSON (with
    /// `content-type: application/json` unless `headers` sets one), its numbers as stored.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// How long to wait for the answer (default: the worker's `timeoutSeconds`).
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
}

fn post() -> String {
    "POST".into()
}

/// The URL's host, for messages (never its path's secrets, query or credentials).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the host".into())
}

/// Why `url` may not be called: not http(s), no host, or an address literal `policy` refuses.
pub fn url_refusal(url: &str, policy: &NetworkPolicy) -> Option<String> {
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("is not a URL ({e})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!(
            "must be an http or https URL, not {}:",
            parsed.scheme()
        ));
    }
    let ip: IpAddr = match parsed.host()? {
        url::Host::Domain(_) => return None,
        url::Host::Ipv4(v4) => v4.into(),
        url::Host::Ipv6(v6) => v6.into(),
    };
    refusal(ip, policy)
}

impl HttpParams {
    fn check(&self, policy: &NetworkPolicy) -> Result<(), ItemError> {
        if let Some(problem) = url_refusal(&self.url, policy) {
            return Err(ItemError::new("params.url", problem));
        }
        if !METHODS.contains(&self.method.as_str()) {
            return Err(ItemError::new(
                "params.method",
                format!("must be one of {}", METHODS.join(", ")),
            ));
        }
        for (name, value) in &self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                // Quoted with escapes: the name may hold a line break or worse.
                return Err(ItemError::new(
                    "params.headers",
                    format!("{name:?} is not a header name"),
                ));
            }
            if http::HeaderValue::from_str(value).is_err() {
                // The value is not repeated: headers often hold secrets.
                return Err(ItemError::new(
                    format!("params.headers.{name}"),
                    "is not a header value (visible ASCII and spaces only)",
                ));
            }
        }
        if let Some(seconds) = self.timeout_seconds
            && !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds)
        {
            return Err(ItemError::new(
                "params.timeoutSeconds",
                format!("must be from 1 to {MAX_TIMEOUT_SECONDS}"),
            ));
        }
        Ok(())
    }

    /// The request these parameters describe, waiting at most `default_timeout` unless they
    /// say otherwise. `body` is the `body` parameter as stored, so its numbers are sent as
    /// written (see [`item::json`](crate::item::json)).
    pub fn request(&self, default_timeout: Duration, body: Option<&AttributeValue>) -> HttpRequest {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let has_type = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        let body = match body {
            None | Some(AttributeValue::Null(_)) => None,
            Some(AttributeValue::S(text)) => Some(text.clone().into_bytes()),
            Some(json) => {
                if !has_type {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(to_json(json).into_bytes())
            }
        };
        let timeout = self
            .timeout_seconds
            .map(|s| Duration::from_secs(s.into()))
            .unwrap_or(default_timeout);
        HttpRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers,
            body,
            timeout,
        }
    }
}

/// The first bytes of a body, as one line of text.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    bounded_to(&line, EXCERPT_BYTES)
}

/// How an answer ends the run: 2xx succeeds, 429 and 5xx are retried, the rest fail for good.
pub fn outcome(response: &HttpResponse) -> Result<String, JobError> {
    let mut message = format!("HTTP {} {}", response.status, response.reason)
        .trim_end()
        .to_owned();
    let quoted = excerpt(&response.body_start);
    if !quoted.is_empty() {
        message = format!("{message}: {quoted}");
    }
    match response.status {
        200..=299 => Ok(message),
        429 | 500..=599 => Err(match response.retry_after_seconds {
            Some(seconds) => JobError::retry_after(message, seconds),
            None => JobError::retryable(message),
        }),
        300..=399 => Err(JobError::permanent(format!(
            "{message} (a redirect the job did not follow)"
        ))),
        _ => Err(JobError::permanent(message)),
    }
}

/// How a request that got no answer ends the run.
pub fn failure(url: &str, error: HttpFailure) -> JobError {
    let host = host_of(url);
    match error {
        HttpFailure::Refused(why) => JobError::permanent(format!("refused: {why}")),
        HttpFailure::Invalid(why) => JobError::permanent(format!("could not send: {why}")),
        HttpFailure::TimedOut(seconds) => {
            JobError::retryable(format!("no answer from {host} within {seconds} s"))
        }
        HttpFailure::Network(why) => JobError::retryable(format!("could not reach {host}: {why}")),
    }
}

#[async_trait]
impl TypedJob for HttpJob {
    const KIND: &'static str = "http";
    type Params = HttpParams;

    fn check(
        &self,
        params: &HttpParams,
        _worker: &Worker,
        limits: &JobLimits,
    ) -> Result<(), ItemError> {
        params.check(&limits.http_allow)
    }

    async fn run(&self, params: HttpParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let default = Duration::from_secs(ctx.worker.timeout_seconds().into());
        let request = params.request(default, ctx.worker.params_as_stored().get("body"));
        match ctx.services.http.send(&request).await {
            Ok(response) => outcome(&response),
            Err(error) => Err(failure(&request.url, error)),
        }
    }
}
