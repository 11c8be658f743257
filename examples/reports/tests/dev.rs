//! The whole path of the README's "Your own job kinds": the `report` kind, registered in this
//! project's registry, run by this project's own `dev` binary against the emulator, its
//! outcome on the item. Run by the README's test command (which starts the emulator).

use std::process::Stdio;
use std::time::{Duration, Instant};

use nextdue::adapters::clients::Clients;
use nextdue::item::{AttributeValue, Item};
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(60);

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set, so there is no emulator to test against. Run the suite \
             with infra/test.sh, which installs moto into .venv, starts it and sets AWS_ENDPOINT_URL."
        )
    })
}

fn text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_own_kind_runs_through_its_own_dev_binary() {
    let endpoint = endpoint();
    let prefix = format!(
        "reports-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let clients = Clients::local(&endpoint).await;
    let domain = format!("{prefix}.example.com");
    clients
        .ses
        .create_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .unwrap();
    let state = std::env::temp_dir().join(&prefix);
    let _dev = tokio::process::Command::new(env!("CARGO_BIN_EXE_reports-dev"))
        .args(["dev", "--sweep-every", "1", "--state-dir"])
        .arg(&state)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("NEXTDUE_WORKERS_TABLE", format!("{prefix}-workers"))
        .env("NEXTDUE_RUNS_TABLE", format!("{prefix}-runs"))
        .env("NEXTDUE_CONTROL_TABLE", format!("{prefix}-control"))
        .env("NEXTDUE_QUEUE_PREFIX", format!("{prefix}-"))
        .env("NEXTDUE_SCHEDULE_GROUP", &prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the reports project's dev binary starts");

    let reader = format!("lead@{domain}");
    let workers = [
        json!({"id": "weekly-ops", "kind": "report", "enabled": true,
               "params": {"team": "ops", "from": format!("reports@{domain}"), "to": [reader]}}),
        json!({"id": "nobody", "kind": "report", "enabled": true,
               "params": {"team": " ", "from": format!("reports@{domain}"), "to": [reader]}}),
    ];
    // The dev binary creates the tables as it starts.
    let started = Instant::now();
    for worker in &workers {
        let item: Item = serde_dynamo::to_item(worker).unwrap();
        while clients
            .dynamodb
            .put_item()
            .table_name(format!("{prefix}-workers"))
            .set_item(Some(item.clone().into()))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < PATIENCE,
                "the dev binary never made its tables"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let finished = |id: &'static str| {
        let clients = clients.clone();
        let table = format!("{prefix}-workers");
        async move {
            let started = Instant::now();
            loop {
                let item: Item = clients
                    .dynamodb
                    .get_item()
                    .table_name(&table)
                    .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
                    .send()
                    .await
                    .unwrap()
                    .item
                    .map(Item::from)
                    .unwrap_or_default();
                let status = text(&item, "status");
                if matches!(status.as_deref(), Some("stopped" | "invalid")) {
                    return item;
                }
                assert!(
                    started.elapsed() < PATIENCE,
                    "{id} never finished: {item:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let ops = finished("weekly-ops").await;
    assert_eq!(
        ops.get("lastRunSucceeded"),
        Some(&AttributeValue::Bool(true)),
        "{ops:?}"
    );
    assert_eq!(
        text(&ops, "lastRunMessage").as_deref(),
        Some("report on ops sent to 1 reader"),
        "{ops:?}"
    );
    let nobody = finished("nobody").await;
    assert_eq!(
        text(&nobody, "lastRunMessage").as_deref(),
        Some("invalid: params.team: must name a team")
    );
    let mail = nextdue::dev::emulator::sent_mail(&endpoint).await.unwrap();
    let sent: Vec<_> = mail.iter().filter(|m| m.is_to(&reader)).collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].subject.starts_with("Report on ops for "));
}
