//! Invariant 6, in the template: each function's role allows exactly the AWS actions its code
//! calls. The calls are recorded (fault-injection interceptor, recording only) while each
//! handler works through everything it can do, and compared with template.yaml's policies.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use nextdue::adapters::clients::Clients;
use nextdue::dev::checkpoint::Checkpoints;
use nextdue::dev::queues::QueuePump;
use nextdue::dev::streams::StreamPump;
use nextdue::faults::Faults;
use nextdue::handlers::sweeper::sweep_once;
use nextdue::item::Status;
use nextdue::lifecycle::{Message, claim};
use nextdue::seams::WorkerStore as _;
use nextdue::timestamp::Due;
use nextdue::wiring::Stack;
use serde_json::json;
use serde_norway::Value;

use crate::support::TestStack;

/// The IAM action an AWS call needs (`x-amz-target` for JSON protocols, the REST route else).
fn action(call: &str) -> String {
    nextdue::faults::operation(call)
        .unwrap_or_else(|| panic!("an AWS call this test cannot name: {call}"))
}

fn actions_of(faults: &Faults) -> BTreeSet<String> {
    let mut actions: BTreeSet<String> = faults.calls().iter().map(|c| action(c)).collect();
    if actions.contains("scheduler:CreateSchedule") {
        // Creating a schedule hands Scheduler the role it will assume.
        actions.insert("iam:PassRole".into());
    }
    actions
}

/// Every action in a function's inline policies, both branches of any `!If` included.
fn template_actions(function: &str) -> BTreeSet<String> {
    fn collect(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Mapping(map) => {
                for (key, value) in map {
                    if key.as_str() == Some("Action") {
                        match value {
                            Value::String(action) => {
                                out.insert(action.clone());
                            }
                            Value::Sequence(actions) => out.extend(
                                actions.iter().filter_map(|a| a.as_str().map(str::to_owned)),
                            ),
                            _ => {}
                        }
                    } else {
                        collect(value, out);
                    }
                }
            }
            Value::Sequence(items) => items.iter().for_each(|v| collect(v, out)),
            Value::Tagged(tagged) => collect(&tagged.value, out),
            _ => {}
        }
    }
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let template: Value = serde_norway::from_str(&text).unwrap();
    let policies = &template["Resources"][function]["Properties"]["Policies"];
    assert!(
        !policies.is_null(),
        "{function} has no policies in template.yaml"
    );
    let mut actions = BTreeSet::new();
    collect(policies, &mut actions);
    actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_each_role_allows_exactly_the_calls_its_function_makes() {
    // Two worker queues, as a deployment with `Queues: default:20,second:5` has.
    let stack = TestStack::provisioned_with_queues("iam", 40, &["default", "second"]).await;
    let domain = stack.verified_domain().await;
    let (dispatcher_calls, executor_calls, sweeper_calls) =
        (Faults::default(), Faults::default(), Faults::default());
    let dispatcher = stack.sibling(&dispatcher_calls).await;
    // The executor's `lambda` job calls go to a local Invoke API server.
    let functions = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path(
        "/2015-03-31/functions/report/invocations",
    ))
    .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("{}"))
    .mount(&functions)
    .await;
    let executor_clients = Clients::local_with(&stack.endpoint, &[executor_calls.interceptor()])
        .await
        .with_functions_at(&functions.uri());
    let executor = Arc::new(Stack::new(
        executor_clients,
        stack.stack.settings.clone(),
        crate::support::registry(),
    ));
    let sweeper = stack.sibling(&sweeper_calls).await;

    // Everything the dispatcher does: arm, deliver by queue and by schedule, stop, mark invalid.
    let later = Due::floor(Utc::now() + TimeDelta::hours(2));
    for item in [
        json!({"id": "mail", "kind": "email", "enabled": true, "params": {"from": format!("a@{domain}"), "to": format!("b@{domain}"), "text": "t"}}),
        json!({"id": "spawner", "kind": "spawn", "enabled": true, "params": {"worker": {"kind": "log", "params": {"message": "x"}}}}),
        json!({"id": "later", "kind": "log", "enabled": true, "nextDue": later, "params": {"message": "x"}}),
        json!({"id": "bad", "kind": "teleport", "enabled": true}),
        json!({"id": "nowhere", "kind": "log", "enabled": true, "queue": "nowhere", "params": {"message": "x"}}),
        json!({"id": "second", "kind": "log", "enabled": true, "queue": "second", "params": {"message": "x"}}),
        json!({"id": "function", "kind": "lambda", "enabled": true, "params": {"function": "report"}}),
        // A spawned worker: the executor reads its parent before each run.
        json!({"id": "adopted", "kind": "log", "enabled": true, "parentId": "spawner", "params": {"message": "x"}}),
    ] {
        stack.put(item).await;
    }
    let checkpoints = Checkpoints::load(stack.state_dir.join("iam.json")).unwrap();
    let mut stream = StreamPump::new(
        stack.stack.clients.clone(),
        &stack.names.workers_table,
        checkpoints,
        stack.names.stream_failure_queue_name(),
    );
    while stream.run_once(&dispatcher.dispatcher).await.unwrap() > 0 {}
    let mut disabled = serde_json::to_value(stack.worker("later").await).unwrap();
    disabled["enabled"] = json!(false);
    stack.put(disabled).await;
    while stream.run_once(&dispatcher.dispatcher).await.unwrap() > 0 {}
    assert_eq!(stack.worker("later").await.status, Some(Status::Stopped));

    // Everything the executor does: claim, send mail, spawn, record, finish, send early
    // messages on (by queue and by schedule).
    let second = stack.queue("second").await;
    let second = QueuePump::new(stack.stack.clients.clone(), second, TimeDelta::seconds(30));
    while second.run_once(&executor.executor).await.unwrap() > 0 {}
    assert_eq!(stack.worker("second").await.last_run_succeeded, Some(true));
    let queue = stack.default_queue().await;
    let pump = QueuePump::new(stack.stack.clients.clone(), queue, TimeDelta::seconds(30));
    while pump.run_once(&executor.executor).await.unwrap() > 0 {}
    assert_eq!(stack.worker("mail").await.last_run_succeeded, Some(true));
    assert_eq!(
        stack.worker("function").await.last_run_succeeded,
        Some(true)
    );
    let spawner = stack.worker("spawner").await;
    for due in [
        Utc::now() + TimeDelta::seconds(30),
        Utc::now() + TimeDelta::hours(3),
    ] {
        let early = Message {
            id: "spawner".into(),
            task_id: spawner.task_id.clone().unwrap(),
            due: Due::floor(due),
        };
        stack.send_message(&early).await;
    }
    while pump.run_once(&executor.executor).await.unwrap() > 0 {}

    // Everything the sweeper does: a pass a day from now finds a run whose executor died (a
    // spawned child, claimed here and never finished) and a ready worker never claimed.
    while stream.run_once(&stack.stack.dispatcher).await.unwrap() > 0 {}
    let child_due = stack.runs("spawner").await[0].due;
    let child = stack.worker(&format!("spawner#{child_due}")).await;
    let message = Message {
        id: child.id.clone(),
        task_id: child.task_id.clone().unwrap(),
        due: child.next_due.unwrap(),
    };
    let now = Utc::now();
    let claimed = claim(&message, now, now + TimeDelta::seconds(1), "dead");
    stack.stack.store.apply(&claimed).await.unwrap();
    let tomorrow = Due::floor(Utc::now() + TimeDelta::hours(1));
    stack.put(json!({"id": "unclaimed", "kind": "log", "enabled": true, "nextDue": tomorrow, "params": {"message": "x"}})).await;
    while stream.run_once(&stack.stack.dispatcher).await.unwrap() > 0 {}
    // And a message the executor gave up on, which the sweeper tells of.
    stack.dead_letter("default").await;
    let report = sweep_once(&sweeper.sweeper, Utc::now() + TimeDelta::days(1))
        .await
        .unwrap();
    assert_eq!(
        (report.rescued, report.redelivered, report.dead_lettered),
        (1, 1, 1),
        "{report:?}"
    );

    for (function, calls) in [
        ("DispatcherFunction", &dispatcher_calls),
        ("ExecutorFunction", &executor_calls),
        ("SweeperFunction", &sweeper_calls),
    ] {
        let used = actions_of(calls);
        let allowed = template_actions(function);
        assert_eq!(
            used, allowed,
            "{function}: the code calls {used:?}; template.yaml allows {allowed:?}"
        );
    }
}
