//! The operator's commands through the real `nextdue` binary, against the emulator: `--json`
//! field by field, and the human output of `ls`, `show` and `schedule` as snapshots.

use std::process::Stdio;
use std::time::Duration;

use nextdue::item::{Item, RunRecord, Status};
use nextdue::seams::WorkerStore as _;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::support::TestStack;

/// What one run of the binary gave.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {:?}, stderr {:?}", self.stdout, self.stderr))
    }
}

pub(crate) fn command(stack: Option<&TestStack>, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_nextdue"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .env_remove("RUST_BACKTRACE")
        .env_remove("AWS_ENDPOINT_URL")
        .kill_on_drop(true);
    if let Some(stack) = stack {
        let names = &stack.names;
        command
            .env("AWS_ENDPOINT_URL", &stack.endpoint)
            .env("NEXTDUE_WORKERS_TABLE", &names.workers_table)
            .env("NEXTDUE_RUNS_TABLE", &names.runs_table)
            .env("NEXTDUE_CONTROL_TABLE", &names.control_table)
            .env("NEXTDUE_QUEUE_PREFIX", &names.queue_prefix)
            .env("NEXTDUE_SCHEDULE_GROUP", &names.schedule_group)
            .env("NEXTDUE_EVENT_BUS", &names.event_bus);
    }
    command
}

pub(crate) async fn nextdue(stack: Option<&TestStack>, args: &[&str], stdin: Option<&str>) -> Ran {
    let mut child = command(stack, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the nextdue binary runs");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().unwrap();
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().await.unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn item(json: Value) -> Item {
    serde_dynamo::to_item(json).unwrap()
}

/// Three workers in fixed states and two runs, written directly (no glue runs, so nothing
/// changes them): the output is the same on every run of the test.
async fn fixed_workers(stack: &TestStack) {
    for worker in [
        json!({"id": "nightly", "kind": "log", "enabled": true, "status": "ready",
               "schedule": "cron(30 2 * * ? *)", "timezone": "America/New_York",
               "nextDue": "2027-03-14T07:00:00Z", "taskId": "t1", "runCount": 3, "attempt": 0,
               "lastRunSucceeded": true, "lastRunMessage": "logged a message of 5 characters",
               "lastRunStartTime": "2027-03-13T07:30:00.010Z",
               "lastRunFinishTime": "2027-03-13T07:30:00.250Z", "params": {"message": "hello"}}),
        json!({"id": "broken", "kind": "email", "enabled": true, "status": "invalid",
               "lastRunMessage": "invalid: params.to: invalid type: integer, expected an address or a list of addresses",
               "params": {"from": "a@example.com", "to": 5, "text": "x"}}),
        json!({"id": "welcome", "kind": "email", "enabled": true, "status": "stopped",
               "runCount": 1, "lastRunSucceeded": false, "taskId": "t2",
               "lastRunMessage": "MessageRejected: Email address not verified a@example.com",
               "lastRunFinishTime": "2027-03-13T12:00:01.000Z",
               "params": {"from": "a@example.com", "to": "b@example.com", "text": "x"}}),
    ] {
        stack.stack.store.put_worker(item(worker)).await.unwrap();
    }
    for (minute, succeeded, message) in [
        (0, false, "timed out after 60 s"),
        (1, true, "logged a message of 5 characters"),
    ] {
        let started: chrono::DateTime<chrono::Utc> =
            format!("2027-03-13T07:3{minute}:00.010Z").parse().unwrap();
        let record = RunRecord {
            worker_id: "nightly".into(),
            run_id: format!("{}#t1", nextdue::timestamp::format_stamp(started)),
            task_id: "t1".into(),
            due: "2027-03-13T06:30:00Z".parse().unwrap(),
            attempt: minute + 1,
            start_time: started,
            finish_time: Some(started + chrono::TimeDelta::milliseconds(240)),
            succeeded: Some(succeeded),
            message: Some(message.into()),
            duration_ms: Some(240),
            retryable: None,
            superseded: false,
            skipped: false,
            progress: None,
            progress_fraction: None,
            expires_at: 1_900_000_000,
        };
        stack.stack.store.put_run(&record).await.unwrap();
    }
}

const NOW: &str = "2027-03-14T06:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ls_show_and_runs_describe_the_workers() {
    let stack = TestStack::provisioned("cli-see").await;
    fixed_workers(&stack).await;
    let s = Some(&stack);

    let ls = nextdue(s, &["ls", "--now", NOW], None).await;
    assert_eq!(ls.code, 0, "{}", ls.stderr);
    insta::assert_snapshot!("ls", ls.stdout);

    let rows = nextdue(s, &["ls", "--json"], None).await.json();
    let ids: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["nightly", "broken", "welcome"],
        "soonest due first, then by id"
    );
    let nightly = &rows[0];
    assert_eq!(nightly["kind"], "log");
    assert_eq!(nightly["status"], "ready");
    assert_eq!(nightly["enabled"], true);
    assert_eq!(nightly["schedule"], "cron(30 2 * * ? *)");
    assert_eq!(nightly["timezone"], "America/New_York");
    assert_eq!(nightly["queue"], Value::Null);
    assert_eq!(nightly["nextDue"], "2027-03-14T07:00:00Z");
    assert_eq!(nightly["runCount"], 3);
    assert_eq!(nightly["lastRunSucceeded"], true);
    assert_eq!(nightly["lastRunFinishTime"], "2027-03-13T07:30:00.250Z");
    assert_eq!(
        nightly["lastRunMessage"],
        "logged a message of 5 characters"
    );
    let invalid = nextdue(s, &["ls", "--status", "invalid", "--json"], None)
        .await
        .json();
    assert_eq!(invalid.as_array().unwrap().len(), 1);
    assert_eq!(invalid[0]["id"], "broken");
    let emails = nextdue(
        s,
        &["ls", "--kind", "email", "--limit", "1", "--json"],
        None,
    )
    .await
    .json();
    assert_eq!(emails.as_array().unwrap().len(), 1);

    let show = nextdue(s, &["show", "nightly", "--now", NOW], None).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    insta::assert_snapshot!("show", show.stdout);
    let shown = nextdue(s, &["show", "nightly", "--json"], None)
        .await
        .json();
    assert_eq!(shown["worker"]["id"], "nightly");
    assert_eq!(shown["upcoming"].as_array().unwrap().len(), 5);
    assert_eq!(shown["upcoming"][0]["utc"], "2027-03-14T07:00:00Z");
    assert_eq!(
        shown["upcoming"][0]["daylightSaving"],
        "clocks go forward this day (UTC-05:00 → UTC-04:00)"
    );
    assert_eq!(shown["upcoming"][1]["utc"], "2027-03-15T06:30:00Z");
    assert_eq!(
        shown["upcoming"][1]["local"],
        "2027-03-15 02:30:00 -04:00 (Mon)"
    );
    assert_eq!(shown["runs"][0]["attempt"], 2, "newest first");
    assert_eq!(shown["problem"], Value::Null);

    let broken = nextdue(s, &["show", "broken", "--now", NOW], None).await;
    insta::assert_snapshot!("show-invalid", broken.stdout);
    let broken = nextdue(s, &["show", "broken", "--json"], None).await.json();
    assert_eq!(
        broken["problem"],
        "invalid: params.to: invalid type: integer, expected an address or a list of addresses"
    );
    assert!(
        broken["remedy"]
            .as_str()
            .unwrap()
            .starts_with("fix params.to and save")
    );

    let runs = nextdue(s, &["runs", "nightly", "--json"], None)
        .await
        .json();
    let attempts: Vec<i64> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [2, 1]);
    assert_eq!(runs[0]["due"], "2027-03-13T06:30:00Z");
    assert_eq!(runs[0]["succeeded"], true);
    assert_eq!(runs[0]["durationMs"], 240);
    assert_eq!(runs[0]["startTime"], "2027-03-13T07:31:00.010Z");
    let failed = nextdue(s, &["runs", "nightly", "--failed", "--json"], None)
        .await
        .json();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["message"], "timed out after 60 s");

    let missing = nextdue(s, &["show", "nobody"], None).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("error: no worker \"nobody\""),
        "{}",
        missing.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_schedule_previews_offline_with_the_workers_own_code() {
    let args = [
        "schedule",
        "cron(30 2 ? * SUN *)",
        "--timezone",
        "America/New_York",
        "--from",
        "2027-03-01T00:00:00Z",
        "--count",
        "3",
    ];
    let preview = nextdue(None, &args, None).await;
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    insta::assert_snapshot!("schedule", preview.stdout);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = nextdue(None, &json_args, None).await.json();
    assert_eq!(json["expression"], "cron(30 2 ? * SUN *)");
    assert_eq!(json["timezone"], "America/New_York");
    let utc: Vec<&str> = json["dueTimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["utc"].as_str().unwrap())
        .collect();
    assert_eq!(
        utc,
        [
            "2027-03-07T07:30:00Z",
            "2027-03-14T07:00:00Z",
            "2027-03-21T06:30:00Z"
        ]
    );
    assert_eq!(
        json["dueTimes"][1]["local"],
        "2027-03-14 03:00:00 -04:00 (Sun)"
    );

    let bad = nextdue(None, &["schedule", "cron(0 9 * * * *)"], None).await;
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr.trim(),
        "error: schedule: cron: exactly one of day-of-month and day-of-week must be ? (for example cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *))"
    );
    let usage = nextdue(None, &["schedule"], None).await;
    assert_eq!(usage.code, 2, "bad usage: {}", usage.stderr);
    let completions = nextdue(None, &["completions", "bash"], None).await;
    assert_eq!(completions.code, 0);
    assert!(completions.stdout.contains("dead-letters"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_put_refuses_what_the_dispatcher_would_and_writes_only_good_workers() {
    // The binary's jobs are the built-in ones: so are this stack's, for the same messages.
    let mut stack = TestStack::provisioned("cli-put").await.with_builtin_jobs();
    stack.start_glue().await;
    let s = Some(&stack);
    // Every example item of the README, in DynamoDB JSON as given there.
    let readme = include_str!("../../README.md");
    let section = readme.split("### Examples (DynamoDB JSON").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    for block in section.split("```json").skip(1) {
        let json = block.split("```").next().unwrap();
        let checked = nextdue(s, &["put", "-", "--dry-run", "--json"], Some(json)).await;
        assert_eq!(checked.code, 0, "{json}: {}", checked.stderr);
        assert_eq!(checked.json()["valid"], true);
        assert_eq!(checked.json()["written"], false);
        let id = checked.json()["id"].as_str().unwrap().to_owned();
        assert!(
            stack.stack.store.get_worker(&id).await.unwrap().is_none(),
            "--dry-run wrote {id}"
        );
        let put = nextdue(s, &["put", "-", "--json"], Some(json)).await;
        assert_eq!(put.code, 0, "{json}: {}", put.stderr);
        assert_eq!(put.json()["written"], true);
        assert!(
            stack.stack.store.get_worker(&id).await.unwrap().is_some(),
            "{id} not written"
        );
    }
    // One for real, plain JSON from a file.
    let file = stack.state_dir.join("hello.json");
    std::fs::create_dir_all(&stack.state_dir).unwrap();
    std::fs::write(
        &file,
        r#"{"id": "hello", "kind": "log", "enabled": true, "params": {"message": "hi"}}"#,
    )
    .unwrap();
    let put = nextdue(s, &["put", file.to_str().unwrap(), "--json"], None).await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert_eq!(
        put.json(),
        json!({"id": "hello", "valid": true, "written": true, "enabled": true})
    );
    stack
        .wait_for("hello", "ran", |w| w.status == Some(Status::Stopped))
        .await;

    // Every bad item: the message `put` refuses it with is the one the item gets.
    for (bad, _) in crate::bad_input::bad_items() {
        stack.put(bad.clone()).await;
        let id = bad["id"].as_str().unwrap();
        let given = stack.invalid_message(id).await;
        let mut copy = bad.clone();
        copy["id"] = json!(format!("cli-{id}"));
        let refused = nextdue(s, &["put", "-"], Some(&copy.to_string())).await;
        assert_eq!(refused.code, 1, "{id}: {}", refused.stdout);
        assert_eq!(
            refused.stderr.trim(),
            format!("error: cli-{id} not written: {given}")
        );
        let refused = nextdue(s, &["put", "-", "--json"], Some(&copy.to_string())).await;
        assert_eq!(refused.json()["message"], given.as_str());
        assert_eq!(refused.json()["written"], false);
        assert!(
            stack
                .stack
                .store
                .get_worker(&format!("cli-{id}"))
                .await
                .unwrap()
                .is_none(),
            "{id} was written"
        );
    }

    // The lifecycle's whole corpus of malformed items: where DynamoDB stores one, the
    // dispatcher's message for it is the one `put` refuses it with; where DynamoDB refuses it
    // (no glue message to compare), `put` refuses it too.
    for (i, (mut item, attribute)) in nextdue::testing::corpus::malformed_items()
        .into_iter()
        .enumerate()
    {
        let id = format!("corpus-{i}");
        item.insert("id".into(), nextdue::item::AttributeValue::S(id.clone()));
        let json = serde_json::to_string(&std::collections::HashMap::<
            String,
            nextdue::item::AttributeValue,
        >::from(item.clone()))
        .unwrap();
        let refused = nextdue(s, &["put", "-", "--json"], Some(&json)).await;
        if nextdue::item::STATE_ATTRIBUTES.contains(&attribute) {
            // nextdue's own state is left out of what put writes, malformed or not.
            assert_eq!(refused.code, 0, "{attribute}: {}", refused.stderr);
            assert_eq!(refused.json()["leftOut"], json!([attribute]));
            continue;
        }
        assert_eq!(refused.code, 1, "{attribute}: {}", refused.stdout);
        let said = refused.json()["message"].as_str().unwrap().to_owned();
        assert!(said.starts_with(&format!("invalid: {attribute}")), "{said}");
        if stack.stack.store.put_worker(item).await.is_ok() {
            assert_eq!(stack.invalid_message(&id).await, said, "{attribute}");
        }
    }

    // enable, disable, run-now: conditional, never a half-item.
    for verb in ["enable", "disable", "run-now"] {
        let missing = nextdue(s, &[verb, "ghost"], None).await;
        assert_eq!(missing.code, 1, "{verb}");
        assert!(
            missing.stderr.contains("no worker \"ghost\""),
            "{}",
            missing.stderr
        );
    }
    assert!(
        stack
            .stack
            .store
            .get_worker("ghost")
            .await
            .unwrap()
            .is_none()
    );
    let disabled = nextdue(s, &["disable", "hello", "--json"], None)
        .await
        .json();
    assert_eq!(
        disabled,
        json!({"id": "hello", "changed": true, "wasEnabled": true})
    );
    let again = nextdue(s, &["disable", "hello", "--json"], None)
        .await
        .json();
    assert_eq!(again["changed"], false);
    let enabled = nextdue(s, &["enable", "hello", "--json"], None)
        .await
        .json();
    assert_eq!(enabled["changed"], true);
    stack
        .wait_for("hello", "ran again", |w| w.run_count == 2)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_run_now_and_tail_show_one_extra_run_as_it_finishes() {
    let stack = TestStack::start("cli-tail").await;
    stack
        .put(
            json!({"id": "hourly", "kind": "log", "enabled": true, "schedule": "rate(1 hour)",
                    "executeImmediately": false, "params": {"message": "tick"}}),
        )
        .await;
    stack
        .wait_for("hourly", "armed", |w| w.status == Some(Status::Ready))
        .await;
    let mut tail = command(Some(&stack), &["tail", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = nextdue(Some(&stack), &["run-now", "hourly", "--json"], None).await;
    assert_eq!(
        asked.json(),
        json!({"id": "hourly", "changed": true, "wasEnabled": true})
    );
    let line = tokio::time::timeout(crate::support::PATIENCE, lines.next_line())
        .await
        .expect("tail printed a line")
        .unwrap()
        .unwrap();
    let run: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(run["workerId"], "hourly");
    assert_eq!(run["succeeded"], true);
    assert_eq!(run["attempt"], 1);
    assert_eq!(run["message"], "logged a message of 4 characters");
    tail.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_tail_events_shows_each_event_a_failing_worker_publishes() {
    let stack = TestStack::start("cli-tail-events").await;
    let mut tail = command(Some(&stack), &["tail", "--events", "--json", "doomed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    stack
        .put(json!({"id": "other", "kind": "always-fails", "enabled": true, "maxAttempts": 1}))
        .await;
    stack
        .put(json!({"id": "doomed", "kind": "always-fails", "enabled": true, "maxAttempts": 1}))
        .await;
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let line = tokio::time::timeout(crate::support::PATIENCE, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("tail printed the events; before them: {kinds:?}"))
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            event["detail"]["workerId"], "doomed",
            "only the worker named: {event}"
        );
        kinds.push(event["detail-type"].as_str().unwrap().to_owned());
    }
    kinds.sort();
    assert_eq!(kinds, ["Run Failed", "Worker Gave Up", "Worker Stopped"]);
    tail.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_dead_letters_are_listed_with_a_reason_and_redriven() {
    let stack = TestStack::provisioned("cli-dlq").await;
    stack
        .put(
            json!({"id": "w", "kind": "log", "enabled": true, "status": "ready", "taskId": "t",
                    "nextDue": "2027-01-01T00:00:00Z", "lastRunMessage": "timed out after 60 s",
                    "params": {"message": "x"}}),
        )
        .await;
    let dlq = stack
        .stack
        .delivery
        .queue_named(&stack.names.dead_letter_queue_name("default"))
        .await
        .unwrap();
    stack
        .stack
        .delivery
        .forward(
            &dlq,
            r#"{"id":"w","taskId":"t","due":"2027-01-01T00:00:00Z"}"#,
        )
        .await
        .unwrap();
    stack
        .stack
        .delivery
        .forward(&dlq, "not json")
        .await
        .unwrap();
    let s = Some(&stack);
    let listed = nextdue(s, &["dead-letters", "--json"], None).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let mut letters = listed.json().as_array().unwrap().clone();
    letters.sort_by_key(|l| l["workerId"].as_str().map(str::to_owned));
    assert_eq!(letters.len(), 2, "{letters:#?}");
    assert_eq!(letters[0]["workerId"], Value::Null);
    assert_eq!(
        letters[0]["reason"],
        "not a nextdue message: its body does not decode"
    );
    assert_eq!(letters[1]["workerId"], "w");
    assert_eq!(letters[1]["due"], "2027-01-01T00:00:00Z");
    assert!(
        letters[1]["reason"]
            .as_str()
            .unwrap()
            .contains("(last run: timed out after 60 s)")
    );
    assert_eq!(letters[1]["redriven"], false);
    // Listing leaves them where they are; --redrive moves the worker's back to its queue.
    let redriven = nextdue(s, &["dead-letters", "--redrive", "--json"], None)
        .await
        .json();
    let moved: Vec<&Value> = redriven
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["redriven"] == true)
        .collect();
    assert_eq!(moved.len(), 1, "{redriven:#}");
    let queue = stack.default_queue().await;
    let received = stack
        .stack
        .clients
        .sqs
        .receive_message()
        .queue_url(&queue.url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let bodies: Vec<String> = received
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("\"id\":\"w\""));
    let left = nextdue(s, &["dead-letters", "--json"], None).await.json();
    assert_eq!(left.as_array().unwrap().len(), 1, "the malformed one stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_redrive_moves_each_of_more_dead_letters_than_a_listing_reads_exactly_once() {
    const LETTERS: usize = 1200;
    let stack = TestStack::provisioned("cli-redrive").await;
    let dlq = stack
        .stack
        .delivery
        .queue_named(&stack.names.dead_letter_queue_name("default"))
        .await
        .unwrap();
    let sqs = &stack.stack.clients.sqs;
    for batch in (0..LETTERS).collect::<Vec<_>>().chunks(10) {
        let entries = batch
            .iter()
            .map(|i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!(
                        r#"{{"id":"w{i}","taskId":"t","due":"2027-01-01T00:00:00Z"}}"#
                    ))
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&dlq.url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
    let ran = nextdue(
        Some(&stack),
        &["dead-letters", "--queue", "default", "--redrive", "--json"],
        None,
    )
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let letters = ran.json();
    let moved: std::collections::BTreeSet<&str> = letters
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["redriven"] == true)
        .map(|l| l["workerId"].as_str().unwrap())
        .collect();
    assert_eq!(
        letters.as_array().unwrap().len(),
        LETTERS,
        "each reported once"
    );
    assert_eq!(moved.len(), LETTERS, "each moved");
    let count = |queue: nextdue::seams::QueueRef| async move {
        sqs.get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default()
            .values()
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    assert_eq!(
        count(stack.default_queue().await).await,
        LETTERS,
        "one copy each"
    );
    assert_eq!(count(dlq).await, 0, "none left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_say_what_to_do() {
    let stack = TestStack::provisioned("cli-errors").await;
    let mut missing_table = command(Some(&stack), &["ls"]);
    missing_table.env("NEXTDUE_WORKERS_TABLE", "no-such-table");
    let output = missing_table.output().await.unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "no table no-such-table here: deploy the stack, or set NEXTDUE_WORKERS_TABLE"
        ),
        "{stderr}"
    );
    let mut no_emulator = command(None, &["ls", "--endpoint", "http://127.0.0.1:9"]);
    let output = no_emulator.output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("cannot reach the emulator at http://127.0.0.1:9: start it with `infra/emulator.sh start`"), "{stderr}");
    // A dry run of one worker is refused, not run for real.
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": false, "params": {"message": "m"}}))
        .await;
    let dry = nextdue(Some(&stack), &["enable", "w", "--dry-run"], None).await;
    assert_eq!(dry.code, 1);
    assert!(dry.stderr.contains("go with --where"), "{}", dry.stderr);
    assert!(!stack.worker("w").await.enabled, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_human_output_escapes_control_characters_written_into_items() {
    let stack = TestStack::provisioned("cli-escapes").await;
    let hostile = "\u{1b}[2J\u{1b}]0;owned\u{7}\r\nfake row\u{202e}";
    stack
        .stack
        .store
        .put_worker(item(
            json!({"id": format!("w{hostile}"), "kind": "log", "enabled": true,
            "status": "stopped", "schedule": format!("rate(1 hour){hostile}"),
            "lastRunSucceeded": false, "lastRunMessage": format!("boom{hostile}"),
            "lastRunFinishTime": "2027-03-13T12:00:01.000Z", "params": {"message": "x"}}),
        ))
        .await
        .unwrap();
    let id = format!("w{hostile}");
    for args in [vec!["ls"], vec!["show", id.as_str()]] {
        // Colours forced on, as on a terminal: nothing strips escape codes on the way out.
        let ran = command(Some(&stack), &args)
            .env_remove("NO_COLOR")
            .env("CLICOLOR_FORCE", "1")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8(ran.stdout).unwrap();
        for raw in [
            "\u{1b}[2J",
            "\u{1b}]0;",
            "\u{7}",
            "\r",
            "\nfake row",
            "\u{202e}",
        ] {
            assert!(
                !stdout.contains(raw),
                "{args:?} printed {raw:?} as it is: {stdout:?}"
            );
        }
        assert!(stdout.contains("\\u{1b}[2J"), "{args:?}: {stdout:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_put_of_a_stored_worker_re_arms_it_and_set_changes_one_parameter() {
    let mut stack = TestStack::provisioned("cli-re-put").await;
    stack.start_glue().await;
    stack
        .put(json!({"id": "w", "kind": "log", "enabled": true, "params": {"message": "first"}}))
        .await;
    stack
        .wait_for("w", "stopped", |w| w.status == Some(Status::Stopped))
        .await;
    // What `aws dynamodb get-item` prints, a parameter fixed, put back.
    let stored: std::collections::HashMap<String, nextdue::item::AttributeValue> =
        stack.item("w").await.into();
    let mut copy = json!({ "Item": stored });
    copy["Item"]["params"]["M"]["message"] = json!({"S": "second"});
    let s = Some(&stack);
    let put = nextdue(s, &["put", "-"], Some(&copy.to_string())).await;
    assert_eq!(put.code, 0, "{}", put.stderr);
    assert!(
        put.stdout.contains("enabled, so nextdue arms it now"),
        "{}",
        put.stdout
    );
    assert!(
        put.stdout
            .contains("left out nextdue's own state (status, taskId"),
        "{}",
        put.stdout
    );
    let again = stack
        .wait_for("w", "run again", |w| {
            w.run_count == 2 && w.status == Some(Status::Stopped)
        })
        .await;
    assert_eq!(
        again.last_run_message.as_deref(),
        Some("logged a message of 6 characters")
    );

    let set = nextdue(s, &["set", "w", "params.message=third time"], None).await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(
        set.stdout
            .contains("it is stopped: `nextdue run-now w` runs it once more"),
        "{}",
        set.stdout
    );
    let worker = stack.worker("w").await;
    assert_eq!(worker.params["message"], "third time");
    assert_eq!(worker.status, Some(Status::Stopped));
    let refused = nextdue(s, &["set", "w", "kind=nothing-like-it"], None).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("w not changed: invalid: kind:"),
        "{}",
        refused.stderr
    );
    assert_eq!(stack.worker("w").await.kind, "log", "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_explains_stuck_failed_and_malformed_workers_and_releases_a_lost_run() {
    let stack = TestStack::provisioned("cli-stuck").await;
    let now = "2027-03-14T06:00:00Z";
    for worker in [
        json!({"id": "stuck", "kind": "log", "enabled": true, "status": "running",
               "taskId": "t1", "runToken": "r1", "nextDue": "2027-03-14T05:00:00Z",
               "attempt": 0, "lastRunStartTime": "2027-03-14T05:00:00.100Z",
               "leaseUntil": "2027-03-14T05:15:00.000Z", "params": {"message": "x"}}),
        json!({"id": "failing", "kind": "log", "enabled": true, "status": "stopped",
               "taskId": "t2", "lastRunSucceeded": false, "lastRunMessage": "boom",
               "lastRunFinishTime": "2027-03-14T05:30:00.000Z", "params": {"message": "x"}}),
        json!({"id": "old-failure", "kind": "log", "enabled": true, "status": "stopped",
               "taskId": "t3", "lastRunSucceeded": false, "lastRunMessage": "long ago",
               "lastRunFinishTime": "2027-03-10T05:30:00.000Z", "params": {"message": "x"}}),
        json!({"id": "numeric", "kind": "log", "enabled": 1, "params": {"message": "x"}}),
    ] {
        stack.stack.store.put_worker(item(worker)).await.unwrap();
    }
    let s = Some(&stack);
    let bad = nextdue(s, &["ls", "--status", "failed"], None).await;
    assert_eq!(bad.code, 2, "a usage error: {}", bad.stdout);
    assert!(
        bad.stderr.contains("ready") && bad.stderr.contains("invalid"),
        "{}",
        bad.stderr
    );
    let rows = nextdue(s, &["ls", "--json"], None).await.json();
    let stuck = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "stuck")
        .unwrap();
    for attribute in [
        "leaseUntil",
        "lastRunStartTime",
        "attempt",
        "taskId",
        "params",
    ] {
        assert!(stuck.get(attribute).is_some(), "{attribute}: {stuck:#}");
    }
    let ls = nextdue(s, &["ls", "--now", now], None).await;
    let numeric = ls.stdout.lines().find(|l| l.contains("numeric")).unwrap();
    assert!(
        numeric.contains("invalid: enabled:"),
        "ls says why: {numeric}"
    );
    let failed = nextdue(
        s,
        &["ls", "--failed-since", "2h", "--now", now, "--json"],
        None,
    )
    .await
    .json();
    let ids: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["failing"]);
    let show = nextdue(s, &["show", "stuck", "--now", now], None).await;
    assert!(
        show.stdout.contains("running   since 2027-03-14 05:00:00Z")
            && show.stdout.contains("lease until 2027-03-14 05:15:00Z")
            && show
                .stdout
                .contains("the sweeper retries it (onLost = retry)"),
        "{}",
        show.stdout
    );
    let enable = nextdue(s, &["enable", "failing"], None).await;
    assert!(
        enable
            .stdout
            .contains("`nextdue run-now failing` runs it once more"),
        "{}",
        enable.stdout
    );
    let released = nextdue(s, &["release", "stuck"], None).await;
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert!(
        released
            .stdout
            .contains("released: the run is recorded as lost; retried at"),
        "{}",
        released.stdout
    );
    let after = stack.worker("stuck").await;
    assert_eq!((after.status, after.attempt), (Some(Status::Ready), 1));
    let runs = stack.runs("stuck").await;
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("lost: released by an operator"),
        "{runs:#?}"
    );
    let again = nextdue(s, &["release", "stuck"], None).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("is not running"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_dead_letters_listing_keeps_them_and_delete_or_purge_asks_first() {
    let stack = TestStack::provisioned("cli-dlq-delete").await;
    let dlq = stack
        .stack
        .delivery
        .queue_named(&stack.names.dead_letter_queue_name("default"))
        .await
        .unwrap();
    for body in [
        r#"{"id":"w1","taskId":"t","due":"2027-01-01T00:00:00Z"}"#,
        r#"{"id":"w2","taskId":"t","due":"2027-01-01T00:00:00Z"}"#,
        "not json\nat all",
    ] {
        stack.stack.delivery.forward(&dlq, body).await.unwrap();
    }
    let s = Some(&stack);
    let list = |extra: &'static [&'static str]| {
        let mut args = vec!["dead-letters", "--queue", "default", "--json"];
        args.extend_from_slice(extra);
        args
    };
    let first = nextdue(s, &list(&[]), None).await.json();
    let second = nextdue(s, &list(&[]), None).await.json();
    let ids = |letters: &Value| -> std::collections::BTreeSet<String> {
        letters
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["messageId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first).len(), 3, "{first:#}");
    assert_eq!(ids(&first), ids(&second), "a listing takes nothing away");
    let malformed = first
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["workerId"].is_null())
        .unwrap();
    assert_eq!(malformed["body"], "not json at all");
    assert!(malformed["sent"].as_str().unwrap().ends_with('Z'));
    let id = malformed["messageId"].as_str().unwrap();

    let unasked = nextdue(
        s,
        &["dead-letters", "--queue", "default", "--delete", id],
        None,
    )
    .await;
    assert_eq!(unasked.code, 1);
    assert!(unasked.stderr.contains("add --yes"), "{}", unasked.stderr);
    assert_eq!(ids(&nextdue(s, &list(&[]), None).await.json()).len(), 3);

    let deleted = nextdue(
        s,
        &[
            "dead-letters",
            "--queue",
            "default",
            "--delete",
            id,
            "--yes",
        ],
        None,
    )
    .await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert!(deleted.stdout.contains("deleted 1"), "{}", deleted.stdout);
    let left = ids(&nextdue(s, &list(&[]), None).await.json());
    assert_eq!(left.len(), 2);
    assert!(!left.contains(id));
    let ghost = nextdue(
        s,
        &[
            "dead-letters",
            "--queue",
            "default",
            "--delete",
            "no-such-id",
            "--yes",
        ],
        None,
    )
    .await;
    assert_eq!(ghost.code, 1);
    assert!(
        ghost
            .stderr
            .contains("no dead letter with message id no-such-id")
    );

    let purged = nextdue(
        s,
        &["dead-letters", "--queue", "default", "--purge", "--yes"],
        None,
    )
    .await;
    assert_eq!(purged.code, 0, "{}", purged.stderr);
    assert!(purged.stdout.contains("deleted 2"), "{}", purged.stdout);
    assert!(
        nextdue(s, &list(&[]), None)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// A running job's progress is on its item while it runs (`show --json` reads it changing, and
/// `show` says it), and its run record keeps the last report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_show_reads_a_running_workers_progress_and_its_run_keeps_the_last() {
    let stack = TestStack::start("cli-progress").await;
    let s = Some(&stack);
    let mut tail = command(s, &["tail", "--json", "export"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut tailed = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack
        .put(json!({"id": "export", "kind": "counts", "enabled": true,
            "params": {"rows": 16, "millisPerRow": 500}}))
        .await;
    let mut seen = Vec::new();
    let mut said = None;
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not finish: saw {seen:?}"
        );
        let shown = nextdue(s, &["show", "export", "--json"], None).await.json();
        let worker = &shown["worker"];
        match worker["status"].as_str() {
            Some("running") => {
                if let Some(progress) = worker["progress"].as_str()
                    && seen.last().map(String::as_str) != Some(progress)
                {
                    seen.push(progress.to_owned());
                    if said.is_none() {
                        let show = nextdue(s, &["show", "export"], None).await.stdout;
                        let ls = nextdue(s, &["ls"], None).await.stdout;
                        said = Some((show, ls));
                    }
                }
            }
            Some("stopped") => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        seen.len() >= 2,
        "progress changed on the item while it ran: {seen:?}"
    );
    let (show, ls) = said.expect("show ran while the worker reported progress");
    assert!(
        show.lines()
            .any(|line| line.starts_with("progress  ") && line.contains(" of 16 rows (")),
        "{show}"
    );
    assert!(
        ls.lines()
            .any(|line| line.contains("export") && line.contains("running: ")),
        "{ls}"
    );
    let runs = stack.runs("export").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].progress.as_deref(), Some("16 of 16 rows"));
    let item = stack.item("export").await;
    assert!(
        !item.contains_key("progress"),
        "the finish clears it: {item:?}"
    );
    let mut reports = Vec::new();
    let finished = loop {
        let line = tokio::time::timeout(crate::support::PATIENCE, tailed.next_line())
            .await
            .unwrap_or_else(|_| panic!("tail printed the run's finish; before it: {reports:?}"))
            .unwrap()
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["workerId"], "export", "{event}");
        match event["event"].as_str() {
            Some("progress") => reports.push(event),
            Some("run") => break event,
            _ => panic!("an event tail does not document: {event}"),
        }
    };
    tail.kill().await.unwrap();
    assert!(
        reports.len() >= 2,
        "tail showed the reports as they came: {reports:?}"
    );
    let times: std::collections::BTreeSet<_> = reports
        .iter()
        .map(|r| r["progressTime"].to_string())
        .collect();
    assert_eq!(times.len(), reports.len(), "each report once: {reports:?}");
    assert!(
        reports.iter().all(|r| r["progress"]
            .as_str()
            .is_some_and(|p| p.ends_with(" of 16 rows"))
            && r["progressFraction"].as_f64().is_some()),
        "{reports:?}"
    );
    assert_eq!(finished["succeeded"], true, "{finished}");
    assert_eq!(finished["progress"], "16 of 16 rows", "{finished}");
}
