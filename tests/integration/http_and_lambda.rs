//! The `http` and `lambda` kinds end to end: the local stack's handlers against a local HTTP
//! server, and the Lambda client against a local Invoke API server (wiremock stands in for
//! both; the SDK client and reqwest are the real ones).

use std::time::Duration;

use nextdue::item::Status;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::TestStack;

fn stopped(w: &nextdue::item::Worker) -> bool {
    w.status == Some(Status::Stopped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_a_2xx_answer_succeeds_and_the_request_is_sent_as_written() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/hooks/nightly"))
        .and(header("x-team", "payments"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"report": "nightly", "pages": [1, 2]})))
        .respond_with(ResponseTemplate::new(202).set_body_string("queued as job 17\n"))
        .expect(1)
        .mount(&server)
        .await;
    let stack = TestStack::start("http-ok").await;
    stack
        .put(json!({"id": "hook", "kind": "http", "enabled": true,
            "params": {"url": format!("{}/hooks/nightly", server.uri()), "method": "PUT",
                       "headers": {"x-team": "payments"},
                       "body": {"report": "nightly", "pages": [1, 2]}}}))
        .await;
    let worker = stack.wait_for("hook", "stopped", stopped).await;
    assert_eq!(worker.last_run_succeeded, Some(true), "{worker:#?}");
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("HTTP 202 Accepted: queued as job 17")
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_a_500_is_retried_and_the_retry_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database is away"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&server)
        .await;
    let stack = TestStack::start("http-retry").await;
    stack
        .put(
            json!({"id": "flaky", "kind": "http", "enabled": true, "maxAttempts": 3,
            "params": {"url": format!("{}/flaky", server.uri())}}),
        )
        .await;
    let worker = stack.wait_for("flaky", "stopped", stopped).await;
    assert_eq!(worker.last_run_message.as_deref(), Some("HTTP 200 OK: ok"));
    let runs = stack.runs("flaky").await;
    let outcomes: Vec<(u32, Option<bool>, Option<&str>)> = runs
        .iter()
        .map(|r| (r.attempt, r.succeeded, r.message.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                1,
                Some(false),
                Some("HTTP 500 Internal Server Error: database is away")
            ),
            (2, Some(true), Some("HTTP 200 OK: ok")),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_a_404_fails_once_for_good() {
    let server = MockServer::start().await;
    Mock::given(path("/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such hook"))
        .expect(1)
        .mount(&server)
        .await;
    let stack = TestStack::start("http-404").await;
    stack
        .put(
            json!({"id": "gone", "kind": "http", "enabled": true, "maxAttempts": 5,
            "params": {"url": format!("{}/gone", server.uri())}}),
        )
        .await;
    let worker = stack.wait_for("gone", "stopped", stopped).await;
    assert_eq!(worker.last_run_succeeded, Some(false));
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("HTTP 404 Not Found: no such hook")
    );
    assert_eq!(stack.runs("gone").await.len(), 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_no_answer_within_the_timeout_fails_the_attempt() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let stack = TestStack::start("http-timeout").await;
    stack
        .put(
            json!({"id": "slow", "kind": "http", "enabled": true, "maxAttempts": 1,
            "params": {"url": format!("{}/slow", server.uri()), "timeoutSeconds": 1}}),
        )
        .await;
    let worker = stack.wait_for("slow", "stopped", stopped).await;
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("no answer from 127.0.0.1 within 1 s")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_the_metadata_service_is_refused_directly_and_through_a_redirect() {
    let server = MockServer::start().await;
    Mock::given(path("/innocent"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "http://169.254.169.254/latest/meta-data/iam/"),
        )
        .mount(&server)
        .await;
    let stack = TestStack::start("http-imds").await;
    stack
        .put(json!({"id": "direct", "kind": "http", "enabled": true,
            "params": {"url": "http://169.254.169.254/latest/meta-data/iam/"}}))
        .await;
    stack
        .put(
            json!({"id": "redirected", "kind": "http", "enabled": true, "maxAttempts": 3,
            "params": {"url": format!("{}/innocent", server.uri())}}),
        )
        .await;
    let direct = stack
        .wait_for("direct", "invalid", |w| w.status == Some(Status::Invalid))
        .await;
    assert_eq!(
        direct.last_run_message.as_deref(),
        Some(
            "invalid: params.url: 169.254.169.254 is a link-local address (where the instance \
             metadata service answers); this deployment does not allow it \
             (NEXTDUE_HTTP_ALLOW=link-local)"
        )
    );
    let redirected = stack.wait_for("redirected", "stopped", stopped).await;
    assert_eq!(
        redirected.last_run_message.as_deref(),
        Some(
            "refused: 169.254.169.254 is a link-local address (where the instance metadata \
             service answers); this deployment does not allow it (NEXTDUE_HTTP_ALLOW=link-local)"
        )
    );
    assert_eq!(stack.runs("redirected").await.len(), 1, "refused for good");
}

/// A stack whose `lambda` job calls go to `server`, with its glue running.
async fn invoking(test: &str, server: &MockServer) -> TestStack {
    let mut stack = TestStack::provisioned(test)
        .await
        .with_functions_at(&server.uri());
    stack.start_glue().await;
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_a_function_receives_the_documented_payload_and_its_answer_is_on_the_item() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2015-03-31/functions/report/invocations"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"pages\": 12}"))
        .expect(1)
        .mount(&server)
        .await;
    let stack = invoking("lambda-ok", &server).await;
    stack
        .put(json!({"id": "weekly", "kind": "lambda", "enabled": true,
            "nextDue": "2026-01-05T09:00:00Z",
            "params": {"function": "report", "team": "search"}}))
        .await;
    let worker = stack.wait_for("weekly", "stopped", stopped).await;
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("invoked report: {\"pages\": 12}")
    );
    let received = server.received_requests().await.unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        payload,
        json!({"id": "weekly", "due": "2026-01-05T09:00:00Z", "attempt": 1,
               "params": {"function": "report", "team": "search"}})
    );
    assert_eq!(
        received[0]
            .headers
            .get("x-amz-invocation-type")
            .map(|v| v.to_str().unwrap()),
        Some("RequestResponse")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_a_function_error_is_retried_up_to_max_attempts() {
    let server = MockServer::start().await;
    // The SDK escapes the `:` of a qualified name in the path.
    Mock::given(path_regex(
        "^/2015-03-31/functions/crunch(:|%3A)live/invocations$",
    ))
    .respond_with(
        ResponseTemplate::new(200)
            .insert_header("x-amz-function-error", "Unhandled")
            .set_body_string(
                r#"{"errorType":"KeyError","errorMessage":"'team'","stackTrace":["  File ..."]}"#,
            ),
    )
    .expect(3)
    .mount(&server)
    .await;
    let stack = invoking("lambda-error", &server).await;
    stack
        .put(
            json!({"id": "crunch", "kind": "lambda", "enabled": true, "maxAttempts": 3,
            "params": {"function": "crunch:live", "payload": {"any": "thing"}}}),
        )
        .await;
    let worker = stack.wait_for("crunch", "stopped", stopped).await;
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some("crunch:live failed (Unhandled): KeyError: 'team'")
    );
    let attempts: Vec<u32> = stack
        .runs("crunch")
        .await
        .iter()
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let received = server.received_requests().await.unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(payload, json!({"any": "thing"}), "the payload as written");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_a_missing_function_fails_once_for_good() {
    let server = MockServer::start().await;
    Mock::given(path("/2015-03-31/functions/nowhere/invocations"))
        .respond_with(
            ResponseTemplate::new(404)
                .insert_header("x-amzn-errortype", "ResourceNotFoundException")
                .set_body_string(
                    r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:nowhere"}"#,
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let stack = invoking("lambda-missing", &server).await;
    stack
        .put(
            json!({"id": "lost", "kind": "lambda", "enabled": true, "maxAttempts": 3,
            "params": {"function": "nowhere"}}),
        )
        .await;
    let worker = stack.wait_for("lost", "stopped", stopped).await;
    assert_eq!(
        worker.last_run_message.as_deref(),
        Some(
            "Lambda refused to invoke nowhere: ResourceNotFoundException: Function not found: \
             arn:aws:lambda:us-east-1:123456789012:function:nowhere"
        )
    );
    assert_eq!(stack.runs("lost").await.len(), 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_a_throttle_is_one_invocation_per_attempt() {
    let server = MockServer::start().await;
    Mock::given(path("/2015-03-31/functions/busy/invocations"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-amzn-errortype", "TooManyRequestsException")
                .set_body_string(r#"{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","message":"Rate Exceeded."}"#),
        )
        .mount(&server)
        .await;
    let stack = invoking("lambda-throttled", &server).await;
    stack
        .put(
            json!({"id": "busy", "kind": "lambda", "enabled": true, "maxAttempts": 2,
            "params": {"function": "busy"}}),
        )
        .await;
    let worker = stack.wait_for("busy", "stopped", stopped).await;
    assert!(
        worker
            .last_run_message
            .as_deref()
            .is_some_and(|m| m.contains("TooManyRequestsException")),
        "{worker:#?}"
    );
    assert_eq!(stack.runs("busy").await.len(), 2);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "nextdue's attempts are the retries: the SDK adds none of its own"
    );
}
