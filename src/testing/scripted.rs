//! The outside world in the test kit: HTTP servers and Lambda functions whose answers a test
//! scripts, target by target, and whose calls it can read back.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::memory::lock;
use crate::job::{HttpClient, HttpFailure, HttpRequest, HttpResponse, Invoked, Invoker, JobError};

/// Answers scripted per target (a URL, a function name), given out in order; the last one
/// repeats. Every call is kept.
pub struct Scripted<Call, Answer> {
    answers: Mutex<HashMap<String, VecDeque<Answer>>>,
    calls: Mutex<Vec<Call>>,
}

impl<Call: Clone, Answer: Clone> Scripted<Call, Answer> {
    /// Nothing scripted yet.
    pub fn new() -> Self {
        Scripted {
            answers: Mutex::default(),
            calls: Mutex::default(),
        }
    }

    /// Adds `answer` to those `target` gives, in order.
    pub fn answer(&self, target: &str, answer: Answer) -> &Self {
        lock(&self.answers)
            .entry(target.to_owned())
            .or_default()
            .push_back(answer);
        self
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    fn next(&self, target: &str, call: Call) -> Option<Answer> {
        lock(&self.calls).push(call);
        let mut answers = lock(&self.answers);
        let queue = answers.get_mut(target)?;
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
    }
}

impl<Call: Clone, Answer: Clone> Default for Scripted<Call, Answer> {
    fn default() -> Self {
        Self::new()
    }
}

/// HTTP servers by URL: what the `http` job reaches in the test kit.
pub type MemoryHttp = Scripted<HttpRequest, Result<HttpResponse, HttpFailure>>;

/// A successful answer with this status and body, for [`Scripted::answer`].
pub fn http_answer(status: u16, body: &str) -> Result<HttpResponse, HttpFailure> {
    Ok(HttpResponse {
        status,
        reason: http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default()
            .to_owned(),
        retry_after_seconds: None,
        body_start: body.as_bytes().to_vec(),
    })
}

#[async_trait]
impl HttpClient for MemoryHttp {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        self.next(&request.url, request.clone()).unwrap_or_else(|| {
            Err(HttpFailure::Network(format!(
                "the test kit has no answer for {} (script one with harness.http().answer)",
                request.url
            )))
        })
    }
}

/// Lambda functions by name: what the `lambda` job invokes in the test kit. Calls are kept
/// as (function, payload).
pub type MemoryFunctions = Scripted<(String, Vec<u8>), Result<Invoked, JobError>>;

#[async_trait]
impl Invoker for MemoryFunctions {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, JobError> {
        self.next(function, (function.to_owned(), payload))
            .unwrap_or_else(|| {
                Err(JobError::permanent(format!(
                    "Lambda refused to invoke {function}: ResourceNotFoundException: the test \
                     kit has no function {function} (script one with harness.functions().answer)"
                )))
            })
    }
}
