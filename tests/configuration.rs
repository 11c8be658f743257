//! Code, template and README agree on configuration: every `NEXTDUE_…` variable the code reads
//! is set by template.yaml and documented in the README.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

fn variables_read_by_the_code(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            variables_read_by_the_code(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("\"NEXTDUE_") {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                found.insert(name);
            }
        }
    }
}

#[test]
fn every_setting_the_code_reads_is_set_by_the_template_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut variables = BTreeSet::new();
    variables_read_by_the_code(&root.join("src"), &mut variables);
    assert!(
        variables.len() >= 8,
        "expected the NEXTDUE_ settings, found {variables:?}"
    );
    let template = fs::read_to_string(root.join("template.yaml")).unwrap();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    for variable in &variables {
        assert!(
            template.contains(&format!("{variable}:")),
            "template.yaml does not set {variable}"
        );
        assert!(
            readme.contains(&format!("`{variable}`")),
            "README.md does not document {variable}"
        );
    }
}

#[test]
fn the_templates_queues_are_the_ones_the_binaries_expect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    // The default of the Queues parameter is the binaries' default set of queues.
    let default = template["Parameters"]["Queues"]["Default"]
        .as_str()
        .unwrap();
    let queues = nextdue::config::parse_queues(default).unwrap();
    assert_eq!(queues, nextdue::lifecycle::Policy::default().queues);
    // Each queue's resources are named as the binaries name them.
    let names = nextdue::config::Names {
        queue_prefix: "${QueuePrefix}".into(),
        ..Default::default()
    };
    let fragment = &template["Resources"]["Fn::ForEach::WorkerQueues"][2];
    let queue_name = |resource: &str| {
        let sub = &fragment[resource]["Properties"]["QueueName"];
        let serde_norway::Value::Tagged(tagged) = sub else {
            panic!("{resource}: QueueName is not a !Sub")
        };
        tagged.value[0].as_str().unwrap().replace("${Name}", "NAME")
    };
    assert_eq!(
        queue_name("WorkerQueue&{QueueSpec}"),
        names.queue_name("NAME")
    );
    assert_eq!(
        queue_name("DeadLetterQueue&{QueueSpec}"),
        names.dead_letter_queue_name("NAME")
    );
    assert!(
        text.contains("MaximumConcurrency: !Select [1, !Split [\":\", !Ref QueueSpec]]"),
        "each queue's mapping takes its concurrency from its entry in Queues"
    );
}

#[test]
fn the_templates_stream_filter_is_the_one_nextdue_dev_applies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let filters = &template["Resources"]["DispatcherFunction"]["Properties"]["Events"]["WorkersStream"]
        ["Properties"]["FilterCriteria"]["Filters"];
    let declared: Vec<serde_json::Value> = filters
        .as_sequence()
        .expect("the stream mapping declares filters")
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(declared, nextdue::stream_filter::patterns());
}

#[test]
fn every_example_item_in_the_readme_is_a_valid_worker() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("### Examples (DynamoDB JSON")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README's examples section");
    let registry = nextdue::jobs::builtin();
    let mut checked = 0;
    for block in section.split("```json").skip(1) {
        let json = block.split("```").next().unwrap();
        let item: std::collections::HashMap<String, nextdue::item::AttributeValue> =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let worker = nextdue::item::Worker::from_item(&nextdue::item::Item::from(item))
            .unwrap_or_else(|e| panic!("{e}: {json}"));
        let job = registry.get(&worker.kind).expect("a built-in kind");
        job.check_worker(&worker, &Default::default())
            .unwrap_or_else(|e| panic!("{e}: {json}"));
        checked += 1;
    }
    assert!(checked >= 5, "found {checked} examples");
}

#[test]
fn the_executors_fallback_deadline_is_its_timeout_in_the_template() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let executor = &template["Resources"]["ExecutorFunction"]["Properties"];
    let timeout = executor["Timeout"].as_i64().unwrap();
    let fallback = executor["Environment"]["Variables"]["NEXTDUE_FUNCTION_TIMEOUT_SECONDS"]
        .as_i64()
        .unwrap();
    assert_eq!(timeout, fallback);
    assert_eq!(timeout, nextdue::config::DEFAULT_FUNCTION_TIMEOUT_SECONDS);
}

/// The local stack and the test kit play Lambda's event source mappings and queues by
/// `nextdue::glue::mapping`; these are the template's numbers.
#[test]
fn the_glues_numbers_are_the_templates() {
    use nextdue::glue::mapping::*;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let resources = &template["Resources"];
    let number = |value: &serde_norway::Value, what: &str| {
        value
            .as_i64()
            .unwrap_or_else(|| panic!("template.yaml has no number at {what}: {value:?}"))
    };
    let stream =
        &resources["DispatcherFunction"]["Properties"]["Events"]["WorkersStream"]["Properties"];
    assert_eq!(
        number(&stream["BatchSize"], "the stream's BatchSize"),
        STREAM_BATCH_SIZE as i64
    );
    assert_eq!(
        number(&stream["MaximumRetryAttempts"], "MaximumRetryAttempts"),
        i64::from(STREAM_RETRIES)
    );
    let executor = &resources["ExecutorFunction"]["Properties"];
    assert_eq!(
        number(&executor["Timeout"], "the executor's Timeout"),
        FUNCTION_TIMEOUT_SECONDS
    );
    let queue_event =
        &executor["Events"]["Fn::ForEach::QueueEvents"][2]["Queue&{QueueSpec}"]["Properties"];
    assert_eq!(
        number(&queue_event["BatchSize"], "the queues' BatchSize"),
        QUEUE_BATCH_SIZE as i64
    );
    let queue = &resources["Fn::ForEach::WorkerQueues"][2]["WorkerQueue&{QueueSpec}"]["Properties"];
    assert_eq!(
        number(&queue["VisibilityTimeout"], "VisibilityTimeout"),
        VISIBILITY_TIMEOUT_SECONDS
    );
    assert_eq!(
        number(
            &queue["RedrivePolicy"]["maxReceiveCount"],
            "maxReceiveCount"
        ),
        i64::from(MAX_RECEIVE_COUNT)
    );
    let sweeper = &resources["SweeperFunction"]["Properties"]["Events"]["EveryMinute"]["Properties"]
        ["ScheduleExpression"];
    assert_eq!(sweeper.as_str(), Some("rate(1 minute)"));
    assert_eq!(SWEEP_EVERY_SECONDS, 60);
}

#[test]
fn the_templates_alert_rule_and_mapping_are_the_ones_the_code_knows() {
    use nextdue::glue::mapping::{ALERT_BATCH_SIZE, ALERT_CONCURRENCY, ALERT_WINDOW_SECONDS};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let resources = &template["Resources"];
    let declared: serde_json::Value = serde_json::to_value(
        serde_norway::from_value::<serde_json::Value>(
            resources["AlertRule"]["Properties"]["EventPattern"].clone(),
        )
        .unwrap(),
    )
    .unwrap();
    let known: serde_json::Value = serde_json::from_str(nextdue::alerts::PATTERN).unwrap();
    assert_eq!(declared, known, "AlertRule's EventPattern");
    let mapping = &resources["AlerterFunction"]["Properties"]["Events"]["Alerts"]["Properties"];
    assert_eq!(mapping["BatchSize"].as_u64(), Some(ALERT_BATCH_SIZE as u64));
    assert_eq!(
        mapping["ScalingConfig"]["MaximumConcurrency"].as_u64(),
        Some(u64::from(ALERT_CONCURRENCY))
    );
    assert_eq!(
        template["Parameters"]["AlertDigestSeconds"]["Default"].as_u64(),
        Some(ALERT_WINDOW_SECONDS)
    );
}
