//! Spawned workers: one child per run, each with its own record; a disabled root stops the tree.

use chrono::{TimeDelta, TimeZone, Utc};
use nextdue::item::Status;
use nextdue::testing::Harness;
use serde_json::json;

#[tokio::test]
async fn spawned_children_carry_their_parent_and_run() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(nextdue::jobs::builtin(), start);
    harness
        .put_json(
            json!({"id": "parent", "kind": "spawn", "enabled": true, "schedule": "rate(1 hour)",
            "params": {"worker": {"kind": "email", "params": {"from": "anne@example.com",
                "to": "betty@example.com", "subject": "one of many", "text": "hi"}}}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::minutes(150)).await;
    let runs = harness.runs("parent");
    assert_eq!(runs.len(), 3);
    for run in &runs {
        let id = format!("parent#{}", run.due);
        let child = harness.worker(&id);
        assert_eq!(
            (child.parent_id.as_deref(), child.spawn_depth),
            (Some("parent"), 1)
        );
        assert_eq!(
            (child.status, child.last_run_succeeded),
            (Some(Status::Stopped), Some(true))
        );
        assert_eq!(harness.runs(&id).len(), 1);
    }
    assert_eq!(harness.mail().len(), 3);
}

#[tokio::test]
async fn disabling_the_root_of_a_spawn_tree_stops_the_whole_tree() {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    let mut harness = Harness::new(nextdue::jobs::builtin(), start);
    harness
        .put_json(
            json!({"id": "root", "kind": "spawn", "enabled": true, "schedule": "rate(1 minute)",
            "params": {"allowRecurringChildren": true, "worker": {"kind": "log",
                "schedule": "rate(1 minute)", "params": {"message": "leaf"}}}}),
        )
        .await
        .unwrap();
    harness.advance(TimeDelta::seconds(150)).await;
    harness.set_enabled("root", false).await;
    harness.advance(TimeDelta::minutes(5)).await;
    let children: Vec<String> = harness
        .store()
        .worker_ids()
        .into_iter()
        .filter(|id| id.starts_with("root#"))
        .collect();
    assert_eq!(children.len(), 3, "{children:?}");
    for id in &children {
        let child = harness.worker(id);
        assert_eq!(
            (child.status, child.enabled),
            (Some(Status::Stopped), false),
            "{id}"
        );
        assert!(
            child
                .last_run_message
                .as_deref()
                .unwrap()
                .starts_with("not run: its parent root is disabled or gone"),
            "{child:#?}"
        );
    }
}

#[tokio::test]
async fn a_spawn_tree_does_not_outlive_its_root_re_enabled() {
    old_children_stop_when_the_root_restarts(false).await;
}

#[tokio::test]
async fn a_spawn_tree_does_not_outlive_its_root_deleted_and_written_again() {
    old_children_stop_when_the_root_restarts(true).await;
}

async fn old_children_stop_when_the_root_restarts(rewrite: bool) {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 12, 0, 0).unwrap();
    {
        let mut harness = Harness::new(nextdue::jobs::builtin(), start);
        let root = json!({"id": "root", "kind": "spawn", "enabled": true,
            "schedule": "rate(1 minute)", "params": {"allowRecurringChildren": true,
            "worker": {"kind": "log", "schedule": "rate(1 minute)",
                "params": {"message": "leaf"}}}});
        harness.put_json(root.clone()).await.unwrap();
        harness.advance(TimeDelta::seconds(150)).await;
        let old: Vec<String> = harness
            .store()
            .worker_ids()
            .into_iter()
            .filter(|id| id.starts_with("root#"))
            .collect();
        assert_eq!(old.len(), 3, "{old:?}");
        if rewrite {
            harness.delete("root").await;
            harness.put_json(root).await.unwrap();
        } else {
            harness.set_enabled("root", false).await;
            harness.advance(TimeDelta::seconds(2)).await;
            harness.set_enabled("root", true).await;
        }
        harness.advance(TimeDelta::minutes(3)).await;
        for id in &old {
            let child = harness.worker(id);
            assert_eq!(
                (child.status, child.enabled),
                (Some(Status::Stopped), false),
                "rewrite {rewrite}: {id}: {child:#?}"
            );
            assert!(
                child.last_run_message.as_deref().unwrap().starts_with(
                    "not run: its parent root was restarted (a new taskId) since it wrote"
                ),
                "{child:#?}"
            );
        }
        let root_task = harness.worker("root").task_id;
        let new: Vec<_> = harness
            .store()
            .worker_ids()
            .into_iter()
            .filter(|id| id.starts_with("root#") && !old.contains(id))
            .map(|id| harness.worker(&id))
            .collect();
        assert!(!new.is_empty());
        for child in new {
            assert_eq!(child.parent_task_id, root_task, "{child:#?}");
            assert!(
                child.enabled,
                "the restarted root's own children run: {child:#?}"
            );
        }
    }
}
