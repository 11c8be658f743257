//! The Lambda binaries themselves, served by `cargo lambda watch` and invoked through the
//! Lambda Invoke API by `nextdue dev --invoke-url`'s glue: a worker runs end to end.
//! Part of the test command, which installs cargo-lambda from PyPI into `.venv` (a prebuilt
//! binary) and puts `.venv/bin` on the PATH.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use nextdue::dev::{Glue, GlueOptions};
use nextdue::item::Status;
use serde_json::json;
use tokio::process::Command;

use crate::support::TestStack;

/// Building the binaries on first invocation takes a while.
const FIRST_BUILD: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_run_through_the_lambda_binaries_under_cargo_lambda_watch() {
    let has_cargo_lambda = std::process::Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_cargo_lambda,
        "cargo-lambda is missing: run the suite with infra/test.sh, which installs it into .venv \
         from PyPI (pip install cargo-lambda) and puts .venv/bin on the PATH"
    );
    let stack = TestStack::provisioned("cargo-lambda").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log =
        std::fs::File::create(std::env::temp_dir().join(format!("{}-watch.log", stack.prefix)))
            .unwrap();
    let _watch = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            // This package's binaries (the example project in the workspace has its own).
            "--package",
            "nextdue",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", &stack.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("NEXTDUE_WORKERS_TABLE", &stack.names.workers_table)
        .env("NEXTDUE_RUNS_TABLE", &stack.names.runs_table)
        .env("NEXTDUE_CONTROL_TABLE", &stack.names.control_table)
        .env("NEXTDUE_QUEUE_PREFIX", &stack.names.queue_prefix)
        .env("NEXTDUE_SCHEDULE_GROUP", &stack.names.schedule_group)
        .env("NEXTDUE_EVENT_BUS", &stack.names.event_bus)
        .env("NEXTDUE_HTTP_ALLOW", "loopback")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("cargo lambda watch starts");
    let options = GlueOptions {
        state_dir: stack.state_dir.clone(),
        function_timeout: TimeDelta::seconds(60),
        sweep_every: Duration::from_secs(5),
        invoke_url: Some(format!("http://127.0.0.1:{port}")),
        clients: None,
    };
    let _glue = Glue::start(stack.stack.clone(), options).await.unwrap();
    stack.put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "from the binaries"}})).await;
    let started = Instant::now();
    loop {
        let worker = stack.worker("w").await;
        if worker.status == Some(Status::Stopped) {
            assert_eq!(worker.last_run_succeeded, Some(true), "{worker:#?}");
            break;
        }
        assert!(
            started.elapsed() < FIRST_BUILD,
            "the worker did not run through cargo lambda watch: {worker:#?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(stack.runs("w").await.len(), 1);

    // A job of several seconds: its lease is the invocation's real deadline (or the function's
    // timeout, when the runtime's deadline cannot be right), not a moment that has passed.
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(4)))
        .mount(&server)
        .await;
    stack
        .put(
            json!({"id": "slow", "kind": "http", "enabled": true, "timeoutSeconds": 60,
            "params": {"url": format!("{}/work", server.uri())}}),
        )
        .await;
    let started = Instant::now();
    let mut saw_lease = false;
    loop {
        let worker = stack.worker("slow").await;
        if worker.status == Some(Status::Running) {
            let lease = worker.lease_until.expect("a running worker has a lease");
            assert!(
                lease > chrono::Utc::now() + TimeDelta::seconds(10),
                "the lease must be a real time, well ahead: {lease}"
            );
            saw_lease = true;
        }
        if worker.status == Some(Status::Stopped) {
            assert_eq!(worker.last_run_succeeded, Some(true), "{worker:#?}");
            break;
        }
        assert!(
            started.elapsed() < FIRST_BUILD,
            "the slow worker did not finish under cargo lambda watch: {worker:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(saw_lease, "the run was seen running, with its lease");
    let runs = stack.runs("slow").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert!(runs[0].duration_ms.unwrap() >= 4000, "{runs:#?}");
}
