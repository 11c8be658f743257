use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::update::{b, s};
use super::*;
use crate::controls::Controls;
use crate::item::{AttributeValue, Item, Params};
use crate::timestamp::parse_stamp;

fn at(text: &str) -> DateTime<Utc> {
    parse_stamp(text).unwrap()
}

fn due(text: &str) -> Due {
    text.parse().unwrap()
}

const NOW: &str = "2027-01-01T09:00:00.400Z";

fn log_worker(id: &str) -> Worker {
    let mut params = Params::new();
    params.insert("message".into(), "hello".into());
    Worker {
        params,
        enabled: true,
        ..Worker::new(id, "log")
    }
}

fn ready(id: &str, task: &str, next_due: &str) -> Worker {
    Worker {
        status: Some(Status::Ready),
        task_id: Some(task.into()),
        next_due: Some(due(next_due)),
        ..log_worker(id)
    }
}

fn image(worker: &Worker) -> Image {
    Image::decode(&worker.to_item())
}

/// The policy of these tests: the default, with a second worker queue `mail`.
fn policy() -> Policy {
    Policy {
        queues: vec![QueueSpec::named("default"), QueueSpec::named("mail")],
        ..Policy::default()
    }
}

fn change(old: Option<&Worker>, new: Option<&Worker>) -> ChangeAction {
    let old = old.map(image);
    let new = new.map(image);
    on_change(
        old.as_ref(),
        new.as_ref(),
        "task-new",
        at(NOW),
        &crate::jobs::builtin(),
        &policy(),
    )
}

fn change_items(old: Option<&Item>, new: &Item) -> ChangeAction {
    let old = old.map(Image::decode);
    on_change(
        old.as_ref(),
        Some(&Image::decode(new)),
        "task-new",
        at(NOW),
        &crate::jobs::builtin(),
        &policy(),
    )
}

fn applied(update: &Update, worker: &Worker) -> Worker {
    let item = update
        .apply(Some(&worker.to_item()))
        .expect("the update's condition should hold");
    Worker::from_item(&item).unwrap()
}

// ---- dispatcher: on_change ----

#[test]
fn inserting_an_enabled_worker_arms_it_to_run_now() {
    let worker = log_worker("w1");
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    assert_eq!(
        update.condition,
        Condition::All(vec![
            Condition::Equals("enabled", b(true)),
            Condition::Missing("taskId")
        ])
    );
    let armed = applied(&update, &worker);
    assert_eq!(armed.status, Some(Status::Ready));
    assert_eq!(armed.task_id.as_deref(), Some("task-new"));
    assert_eq!(armed.next_due, Some(due("2027-01-01T09:00:00Z")));
    assert_eq!(armed.attempt, 0);
    assert_eq!(armed.create_time, Some(at(NOW)));
}

#[test]
fn a_next_due_in_any_rfc_3339_spelling_is_armed_in_the_canonical_one_rounded_up() {
    for (written, canonical) in [
        ("2027-01-01T10:00:00.000Z", "2027-01-01T10:00:00Z"),
        ("2027-01-01T10:00:00.123Z", "2027-01-01T10:00:01Z"),
        ("2027-01-01T12:00:00+02:00", "2027-01-01T10:00:00Z"),
    ] {
        let mut item = log_worker("w1").to_item();
        item.insert("nextDue".into(), s(written));
        let ChangeAction::Arm(update) = change_items(None, &item) else {
            panic!("{written} should arm")
        };
        let armed = update.apply(Some(&item)).unwrap();
        assert_eq!(armed.get("nextDue"), Some(&s(canonical)), "{written}");
    }
}

#[test]
fn a_ready_worker_whose_next_due_was_rewritten_in_another_spelling_is_normalised() {
    // A user edits nextDue on a ready worker the way JavaScript writes times: the claim compares
    // strings, so the dispatcher first writes the canonical spelling back, then delivers.
    let old = ready("w1", "t1", "2027-01-01T10:00:00Z").to_item();
    let mut new = old.clone();
    new.insert("nextDue".into(), s("2027-01-01T11:00:00.500Z"));
    let ChangeAction::Normalize(update) = change_items(Some(&old), &new) else {
        panic!("expected the spelling to be normalised")
    };
    let written = update.apply(Some(&new)).unwrap();
    assert_eq!(written.get("nextDue"), Some(&s("2027-01-01T11:00:01Z")));
    assert_eq!(written.get("sweepAt"), Some(&s("2027-01-01T11:02:01Z")));
    assert_eq!(update.apply(Some(&old)), None, "only the spelling it saw");
    let ChangeAction::Deliver { message, .. } = change_items(Some(&new), &written) else {
        panic!("the canonical state is delivered")
    };
    assert_eq!(message.due, due("2027-01-01T11:00:01Z"));
}

#[test]
fn inserting_a_disabled_worker_does_nothing() {
    let worker = Worker {
        enabled: false,
        ..log_worker("w1")
    };
    assert_eq!(
        change(None, Some(&worker)),
        ChangeAction::Ignore(Ignored::Disabled)
    );
}

#[test]
fn removing_a_worker_does_nothing() {
    assert_eq!(
        change(Some(&log_worker("w1")), None),
        ChangeAction::Ignore(Ignored::Removed)
    );
}

#[test]
fn re_enabling_arms_a_new_activation_fenced_on_the_old_task_id() {
    let old = Worker {
        enabled: false,
        status: Some(Status::Stopped),
        task_id: Some("task-old".into()),
        ..log_worker("w1")
    };
    let new = Worker {
        enabled: true,
        ..old.clone()
    };
    let ChangeAction::Arm(update) = change(Some(&old), Some(&new)) else {
        panic!()
    };
    assert_eq!(
        update.condition,
        Condition::All(vec![
            Condition::Equals("enabled", b(true)),
            Condition::Equals("taskId", s("task-old"))
        ])
    );
    assert_eq!(applied(&update, &new).task_id.as_deref(), Some("task-new"));
}

#[test]
fn re_enabling_while_running_takes_the_claim_away_from_the_old_run() {
    let old = Worker {
        enabled: false,
        status: Some(Status::Running),
        run_token: Some("r1".into()),
        ..ready("w1", "task-old", "2027-01-01T08:00:00Z")
    };
    let new = Worker {
        enabled: true,
        ..old.clone()
    };
    let ChangeAction::Arm(update) = change(Some(&old), Some(&new)) else {
        panic!()
    };
    let armed = applied(&update, &new);
    assert_eq!(armed.run_token, None);
    assert_eq!(armed.status, Some(Status::Ready));
}

#[test]
fn a_replayed_enable_arms_once() {
    let worker = log_worker("w1");
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    let armed = update.apply(Some(&worker.to_item())).unwrap();
    assert_eq!(
        update.apply(Some(&armed)),
        None,
        "the second arm must find its condition false"
    );
}

#[test]
fn executing_later_waits_one_period_for_rate_schedules() {
    let worker = Worker {
        execute_immediately: Some(false),
        schedule: Some("rate(1 hour)".parse().unwrap()),
        ..log_worker("w1")
    };
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    assert_eq!(update.value("nextDue"), Some(&s("2027-01-01T10:00:00Z")));
}

#[test]
fn cron_workers_wait_for_their_first_time() {
    let worker = Worker {
        schedule: Some("cron(30 9 * * ? *)".parse().unwrap()),
        ..log_worker("w1")
    };
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    assert_eq!(update.value("nextDue"), Some(&s("2027-01-01T09:30:00Z")));
}

#[test]
fn a_user_set_next_due_is_an_eta() {
    let worker = Worker {
        next_due: Some(due("2027-06-01T12:00:00Z")),
        ..log_worker("w1")
    };
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    assert_eq!(update.value("nextDue"), Some(&s("2027-06-01T12:00:00Z")));
}

#[test]
fn nothing_to_run_stops_with_a_message() {
    let worker = Worker {
        execute_immediately: Some(false),
        ..log_worker("w1")
    };
    let ChangeAction::Stop(update) = change(None, Some(&worker)) else {
        panic!()
    };
    let stopped = applied(&update, &worker);
    assert_eq!(stopped.status, Some(Status::Stopped));
    assert!(
        stopped
            .last_run_message
            .unwrap()
            .starts_with("nothing to run")
    );
}

#[test]
fn a_committed_ready_state_is_delivered() {
    let old = log_worker("w1");
    let new = Worker {
        queue: Some("mail".into()),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    assert_eq!(
        change(Some(&old), Some(&new)),
        ChangeAction::Deliver {
            message: Message {
                id: "w1".into(),
                task_id: "t1".into(),
                due: due("2027-01-01T09:00:00Z")
            },
            queue: "mail".into(),
            at: due("2027-01-01T09:00:00Z"),
        }
    );
}

#[test]
fn a_worker_naming_a_queue_the_deployment_lacks_is_invalid_at_arm_time() {
    for queue in ["reports", "default-dlq", "stream-failures"] {
        let worker = Worker {
            queue: Some(queue.into()),
            ..log_worker("w1")
        };
        let ChangeAction::MarkInvalid(update) = change(None, Some(&worker)) else {
            panic!("{queue} should be invalid")
        };
        assert_eq!(
            update.value("lastRunMessage"),
            Some(&s(format!(
                "invalid: queue: no queue {queue:?} in this deployment (its queues: default, mail)"
            )))
        );
    }
}

#[test]
fn a_rewrite_with_the_same_ready_state_is_not_delivered_twice() {
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    assert_eq!(
        change(Some(&worker), Some(&worker)),
        ChangeAction::Ignore(Ignored::Unchanged)
    );
}

#[test]
fn running_and_stopped_workers_wait() {
    let running = Worker {
        status: Some(Status::Running),
        run_token: Some("r".into()),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    assert_eq!(
        change(Some(&running), Some(&running)),
        ChangeAction::Ignore(Ignored::Running)
    );
    let stopped = Worker {
        status: Some(Status::Stopped),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    assert_eq!(
        change(Some(&stopped), Some(&stopped)),
        ChangeAction::Ignore(Ignored::Stopped)
    );
}

#[test]
fn disabling_a_ready_worker_stops_it() {
    let old = ready("w1", "t1", "2027-01-01T10:00:00Z");
    let new = Worker {
        enabled: false,
        ..old.clone()
    };
    let ChangeAction::Stop(update) = change(Some(&old), Some(&new)) else {
        panic!()
    };
    let stopped = applied(&update, &new);
    assert_eq!(stopped.status, Some(Status::Stopped));
    assert_eq!(stopped.next_due, None);
    assert_eq!(
        update.apply(Some(&old.to_item())),
        None,
        "a worker enabled again must not be stopped"
    );
}

#[test]
fn a_malformed_item_is_marked_invalid_once() {
    let mut item = log_worker("w1").to_item();
    item.insert("nextDue".into(), s("yesterday"));
    let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
        panic!()
    };
    let marked = update.apply(Some(&item)).unwrap();
    assert_eq!(marked.get("status"), Some(&s("invalid")));
    assert_eq!(
        marked.get("lastRunMessage"),
        Some(&s(
            "invalid: nextDue: expected an RFC 3339 time: UTC such as 2027-01-01T09:00:00Z, with a \
             fraction such as 2027-01-01T09:00:00.000Z, or with an offset such as \
             2027-01-01T10:00:00+01:00, got \"yesterday\""
        ))
    );
    // The write's own stream record must not start a loop.
    assert_eq!(
        change_items(Some(&item), &marked),
        ChangeAction::Ignore(Ignored::AlreadyInvalid)
    );
}

#[test]
fn unknown_kinds_and_bad_params_are_invalid() {
    let unknown = Worker {
        kind: "teleport".into(),
        ..log_worker("w1")
    };
    let ChangeAction::MarkInvalid(update) = change(None, Some(&unknown)) else {
        panic!()
    };
    assert_eq!(
        update.value("lastRunMessage"),
        Some(&s(
            "invalid: kind: unknown kind \"teleport\" (this deployment knows: email, http, lambda, log, spawn)"
        ))
    );
    let mut bad_params = log_worker("w2");
    bad_params
        .params
        .insert("message".into(), serde_json::json!(42));
    let ChangeAction::MarkInvalid(update) = change(None, Some(&bad_params)) else {
        panic!()
    };
    assert_eq!(
        update.value("lastRunMessage"),
        Some(&s(
            "invalid: params.message: invalid type: integer, expected a string"
        ))
    );
}

#[test]
fn a_schedule_past_the_horizon_blames_the_schedule_and_a_fixed_one_recovers() {
    let mut item = log_worker("w1").to_item();
    item.insert("schedule".into(), s("at(2300-01-01T00:00:00)"));
    let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
        panic!("a schedule past 2199 is invalid")
    };
    let marked = update.apply(Some(&item)).unwrap();
    assert_eq!(
        marked.get("lastRunMessage"),
        Some(&s(
            "invalid: schedule: at: 2300-01-01T00:00:00 is after 2199, the last year \
                 EventBridge Scheduler can name"
        ))
    );
    assert_eq!(
        marked.get("nextDue"),
        None,
        "nothing past the horizon is written"
    );
    let mut fixed = marked.clone();
    fixed.insert("schedule".into(), s("at(2030-01-01T00:00:00)"));
    let ChangeAction::Arm(update) = change_items(Some(&marked), &fixed) else {
        panic!("the fixed item is armed again")
    };
    let armed = update.apply(Some(&fixed)).unwrap();
    assert_eq!(armed.get("nextDue"), Some(&s("2030-01-01T00:00:00Z")));
}

#[test]
fn an_item_that_leaves_nextdue_too_little_room_is_invalid_saying_the_sizes() {
    let mut item = log_worker("w1").to_item();
    let base = crate::item::user_size(&item);
    let pad = |bytes: usize| s("x".repeat(bytes - base - "padding".len()));
    item.insert("padding".into(), pad(crate::item::MAX_USER_BYTES + 1));
    let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
        panic!("too big to arm")
    };
    assert_eq!(
        update.value("lastRunMessage"),
        Some(&s(
            "invalid: item: your attributes take 390785 bytes; DynamoDB allows 400000 in all \
                 and nextdue keeps 9216 for its own (a run's checkpoint among them), so at most \
                 390784 may be yours: make params smaller"
        ))
    );
    item.insert("padding".into(), pad(crate::item::MAX_USER_BYTES));
    assert!(matches!(change_items(None, &item), ChangeAction::Arm(_)));
}

#[test]
fn an_item_at_the_size_limit_without_next_due_still_fits_once_armed() {
    let mut item = log_worker("w1").to_item();
    assert!(!item.contains_key("nextDue"));
    let base = crate::item::user_size(&item);
    let padding = "x".repeat(crate::item::MAX_USER_BYTES - base - "padding".len());
    item.insert("padding".into(), s(padding));
    let ChangeAction::Arm(update) = change_items(None, &item) else {
        panic!("at the limit: armed")
    };
    let armed = update.apply(Some(&item)).unwrap();
    assert!(armed.contains_key("nextDue"));
    assert!(
        !matches!(
            change_items(Some(&item), &armed),
            ChangeAction::MarkInvalid(_)
        ),
        "nextdue's own nextDue must not push the armed item over"
    );
}

#[test]
fn nextdue_attributes_written_huge_by_someone_else_are_refused() {
    let mut item = log_worker("w1").to_item();
    item.insert("lastRunMessage".into(), s("x".repeat(300_000)));
    let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
        panic!("a 300 KB lastRunMessage is not nextdue's")
    };
    let Some(AttributeValue::S(message)) = update.value("lastRunMessage") else {
        panic!("a message")
    };
    assert!(
        message.starts_with("invalid: item: nextdue's own attributes (status, lastRunMessage, …)")
            && message.contains("more than the 9216 it keeps for them"),
        "{message}"
    );
}

#[test]
fn a_finish_bounds_its_message_by_the_room_left_in_the_item() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let long = "x".repeat(2000);
    let (finish, _) = close(&run, Ok(&long), "2027-01-01T09:00:01Z");
    assert_eq!(
        finish.update.value("lastRunMessage").map(|v| match v {
            AttributeValue::S(m) => m.len(),
            _ => 0,
        }),
        Some(MAX_MESSAGE_BYTES)
    );
    // A user grew the item to 200 bytes short of the limit during the run.
    let crowded = Claimed {
        worker: Worker {
            stored_bytes: crate::item::MAX_ITEM_BYTES - 900,
            ..run.worker.clone()
        },
        ..run
    };
    let (finish, _) = close(&crowded, Ok(&long), "2027-01-01T09:00:01Z");
    let Some(AttributeValue::S(message)) = finish.update.value("lastRunMessage") else {
        panic!()
    };
    assert_eq!(message.len(), 900 - 512);
}

#[test]
fn a_disabled_malformed_item_is_left_alone() {
    let mut item = log_worker("w1").to_item();
    item.insert("enabled".into(), b(false));
    item.insert("maxAttempts".into(), s("lots"));
    assert_eq!(
        change_items(None, &item),
        ChangeAction::Ignore(Ignored::Disabled)
    );
}

#[test]
fn a_live_worker_disabled_in_a_way_that_no_longer_decodes_leaves_the_sweep_index() {
    // `enabled` set to the string "false" on a ready worker, or a ready worker disabled while
    // another attribute is bad: it must not stay ready and indexed for ever.
    for (status, change) in [
        ("ready", ("enabled", s("false"))),
        ("running", ("enabled", s("false"))),
        ("ready", ("maxAttempts", s("lots"))),
    ] {
        let mut item = ready("w1", "t1", "2027-01-01T10:00:00Z").to_item();
        item.insert("status".into(), s(status));
        item.insert("enabled".into(), b(false));
        item.insert("sweepShard".into(), AttributeValue::N("3".into()));
        item.insert("sweepAt".into(), s("2027-01-01T10:02:00Z"));
        item.insert(change.0.into(), change.1.clone());
        let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
            panic!("{status} {change:?}: {:?}", change_items(None, &item))
        };
        let marked = update
            .apply(Some(&item))
            .expect("the condition holds on what it saw");
        assert_eq!(marked.get("status"), Some(&s("invalid")));
        assert!((marked.get("sweepShard"), marked.get("sweepAt")) == (None, None));
        assert!(
            matches!(marked.get("lastRunMessage"), Some(AttributeValue::S(m)) if m.starts_with(&format!("invalid: {}", change.0))),
            "{marked:?}"
        );
        assert!(matches!(
            change_items(Some(&item), &marked),
            ChangeAction::Ignore(_)
        ));
    }
}

#[test]
fn enabled_written_as_a_string_or_a_number_is_reported_on_the_item() {
    for (value, shown) in [
        (s("true"), "a string (S) \"true\""),
        (AttributeValue::N("1".into()), "a number (N) \"1\""),
    ] {
        let mut item = log_worker("w1").to_item();
        item.insert("enabled".into(), value);
        let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
            panic!("{shown}")
        };
        assert_eq!(
            update.value("lastRunMessage"),
            Some(&s(format!(
                "invalid: enabled: expected a boolean (BOOL), got {shown}"
            )))
        );
    }
}

#[test]
fn a_fixed_invalid_worker_is_armed_again() {
    let fixed = Worker {
        status: Some(Status::Invalid),
        last_run_message: Some("invalid: kind: …".into()),
        ..log_worker("w1")
    };
    let ChangeAction::Arm(update) = change(Some(&fixed), Some(&fixed)) else {
        panic!()
    };
    let armed = applied(&update, &fixed);
    assert_eq!(armed.status, Some(Status::Ready));
    assert_eq!(armed.last_run_message, None);
}

#[test]
fn the_write_that_marks_a_worker_invalid_does_not_re_arm_it() {
    // Invalid for a reason only the shell sees (a queue that does not exist): the mark's own
    // stream record shows a decodable worker, which must not be armed again in a loop.
    let armed = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let marked = Worker {
        status: Some(Status::Invalid),
        last_run_message: Some("invalid: queue: …".into()),
        ..armed.clone()
    };
    assert_eq!(
        change(Some(&armed), Some(&marked)),
        ChangeAction::Ignore(Ignored::Invalid)
    );
}

#[test]
fn an_enabled_worker_that_lost_its_state_is_armed() {
    // A console "replace item" that kept enabled = true but dropped the system attributes.
    let old = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let replaced = log_worker("w1");
    assert!(matches!(
        change(Some(&old), Some(&replaced)),
        ChangeAction::Arm(_)
    ));
}

// ---- dispatcher: run-now requests ----

fn hourly(next_due: &str) -> Worker {
    Worker {
        schedule: Some("rate(1 hour)".parse().unwrap()),
        ..ready("w1", "t1", next_due)
    }
}

fn requested(worker: Worker) -> Worker {
    Worker {
        run_now: Some(true),
        ..worker
    }
}

fn take_up(worker: &Worker) -> Worker {
    let ChangeAction::RunNow(update) = change(Some(worker), Some(worker)) else {
        panic!(
            "the request should be taken up: {:?}",
            change(Some(worker), Some(worker))
        )
    };
    applied(&update, worker)
}

#[test]
fn run_now_runs_a_recurring_worker_at_once_and_keeps_its_grid() {
    // Due on the hour at 10:00; asked to run at 09:00:00.4.
    let worker = requested(hourly("2027-01-01T10:00:00Z"));
    let taken = take_up(&worker);
    assert_eq!(taken.next_due, Some(due("2027-01-01T09:00:00Z")));
    assert_eq!(taken.resume_due, Some(due("2027-01-01T10:00:00Z")));
    assert_eq!(taken.run_now, None, "one request, one extra run");
    assert_eq!(taken.task_id.as_deref(), Some("t1"), "same activation");
    // The extra run finishes at 09:17; the worker returns to 10:00, not 10:17 nor 10:00 + 1 h.
    let (finish, after) = close(&claimed(taken, "r1"), Ok("ok"), "2027-01-01T09:17:00Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T10:00:00Z")
        }
    );
    assert_eq!(after.resume_due, None);
    // And after the 10:00 run, 11:00, as if nothing had happened.
    let (finish, _) = close(&claimed(after, "r2"), Ok("ok"), "2027-01-01T10:00:02Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T11:00:00Z")
        }
    );
}

#[test]
fn run_now_is_fenced_on_the_state_it_saw() {
    let worker = requested(hourly("2027-01-01T10:00:00Z"));
    let ChangeAction::RunNow(update) = change(Some(&worker), Some(&worker)) else {
        panic!()
    };
    for changed in [
        Worker {
            task_id: Some("t2".into()),
            ..worker.clone()
        },
        Worker {
            next_due: Some(due("2027-01-01T11:00:00Z")),
            ..worker.clone()
        },
        Worker {
            run_now: None,
            ..worker.clone()
        },
        Worker {
            enabled: false,
            ..worker.clone()
        },
    ] {
        assert_eq!(update.apply(Some(&changed.to_item())), None, "{changed:?}");
    }
}

#[test]
fn a_second_request_before_the_extra_run_adds_no_run() {
    let taken = take_up(&requested(hourly("2027-01-01T10:00:00Z")));
    let again = take_up(&requested(taken.clone()));
    assert_eq!(again.next_due, taken.next_due);
    assert_eq!(again.resume_due, Some(due("2027-01-01T10:00:00Z")));
    assert_eq!(again.run_now, None);
}

#[test]
fn run_now_on_a_running_worker_waits_for_the_run_to_finish() {
    let run = claimed(requested(hourly("2027-01-01T09:00:00Z")), "r1");
    assert_eq!(
        change(Some(&run.worker), Some(&run.worker)),
        ChangeAction::Ignore(Ignored::Running)
    );
    // The finish makes it ready for 10:00, with the request still on it: now it is taken up.
    let (_, after) = close(&run, Ok("ok"), "2027-01-01T09:00:01Z");
    assert_eq!(after.run_now, Some(true));
    let taken = take_up(&after);
    // Due the second after the run that just started at 09:00:00 (that run's own due time):
    // each run has a due time of its own.
    assert_eq!(taken.next_due, Some(due("2027-01-01T09:00:01Z")));
    assert_eq!(taken.resume_due, Some(due("2027-01-01T10:00:00Z")));
}

#[test]
fn run_now_on_a_disabled_invalid_worker_is_reported_on_the_item_too() {
    let mut item = log_worker("w1").to_item();
    item.insert("enabled".into(), AttributeValue::Bool(false));
    item.insert("runNow".into(), AttributeValue::Bool(true));
    item.insert("schedule".into(), s("every day"));
    let ChangeAction::RunNow(update) = change_items(None, &item) else {
        panic!("the request is answered")
    };
    let after = update.apply(Some(&item)).expect("the condition holds");
    assert_eq!(after.get("runNow"), None);
    let Some(AttributeValue::S(message)) = after.get("lastRunMessage") else {
        panic!("a message: {after:?}")
    };
    assert!(
        message.starts_with(
            "run-now request ignored: the worker is disabled (set enabled to true to run it); \
             the item is invalid too: schedule:"
        ),
        "{message}"
    );
    // Its own stream record changes nothing more.
    assert_eq!(
        change_items(Some(&item), &after),
        ChangeAction::Ignore(Ignored::Disabled)
    );
}

#[test]
fn run_now_on_a_disabled_worker_is_reported_on_the_item() {
    for status in [Some(Status::Stopped), Some(Status::Ready), None] {
        let worker = Worker {
            enabled: false,
            status,
            ..requested(hourly("2027-01-01T10:00:00Z"))
        };
        let taken = take_up(&worker);
        assert_eq!(taken.run_now, None);
        assert_eq!(
            taken.last_run_message.as_deref(),
            Some("run-now request ignored: the worker is disabled (set enabled to true to run it)")
        );
        assert_ne!(
            taken.status,
            Some(Status::Ready),
            "a disabled worker never runs"
        );
    }
}

#[test]
fn run_now_on_a_stopped_worker_runs_it_once_more() {
    let worker = requested(Worker {
        status: Some(Status::Stopped),
        next_due: None,
        ..ready("w1", "t1", "2027-01-01T08:00:00Z")
    });
    let taken = take_up(&worker);
    assert_eq!(taken.status, Some(Status::Ready));
    assert_eq!(taken.next_due, Some(due("2027-01-01T09:00:00Z")));
    let (finish, _) = close(&claimed(taken, "r1"), Ok("ok"), "2027-01-01T09:00:01Z");
    assert_eq!(
        finish.next,
        NextState::Stopped,
        "a one-shot worker stops again"
    );
}

#[test]
fn run_now_on_a_worker_due_already_adds_no_run() {
    let worker = requested(hourly("2027-01-01T09:00:00Z"));
    let taken = take_up(&worker);
    assert_eq!(taken.next_due, Some(due("2027-01-01T09:00:00Z")));
    assert_eq!((taken.resume_due, taken.run_now), (None, None));
}

#[test]
fn a_failed_extra_run_is_retried_and_still_returns_to_its_grid() {
    let taken = take_up(&requested(Worker {
        max_attempts: Some(2),
        ..hourly("2027-01-01T10:00:00Z")
    }));
    let (finish, after) = close(
        &claimed(taken, "r1"),
        Err(JobError::retryable("flaky")),
        "2027-01-01T09:00:01Z",
    );
    assert!(matches!(finish.next, NextState::Retry { .. }));
    assert_eq!(after.resume_due, Some(due("2027-01-01T10:00:00Z")));
    let (finish, _) = close(&claimed(after, "r2"), Ok("ok"), "2027-01-01T09:00:09Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T10:00:00Z")
        }
    );
}

#[test]
fn run_now_on_an_invalid_worker_waits_until_it_is_fixed() {
    let mut item = requested(log_worker("w1")).to_item();
    item.insert("maxAttempts".into(), s("lots"));
    let ChangeAction::MarkInvalid(update) = change_items(None, &item) else {
        panic!()
    };
    let marked = update.apply(Some(&item)).unwrap();
    let message = marked.get("lastRunMessage").unwrap();
    assert!(
        matches!(message, AttributeValue::S(m) if m.ends_with("; the run-now request waits until the item is fixed")),
        "{message:?}"
    );
    assert_eq!(
        marked.get("runNow"),
        Some(&b(true)),
        "kept for when it is fixed"
    );
}

// ---- delivery ----

#[test]
fn short_waits_use_the_queue_delay_and_long_ones_a_schedule() {
    let now = at("2027-01-01T09:00:00.400Z");
    let queued = |delay_seconds| Route::Queue { delay_seconds };
    // Whole seconds, rounded down: the message arrives at most a second early, never late.
    assert_eq!(route(due("2027-01-01T08:00:00Z"), now), queued(0));
    assert_eq!(route(due("2027-01-01T09:00:01Z"), now), queued(0));
    assert_eq!(route(due("2027-01-01T09:00:08Z"), now), queued(7));
    assert_eq!(route(due("2027-01-01T09:15:00Z"), now), queued(899));
    assert_eq!(
        route(due("2027-01-01T09:15:00Z"), at("2027-01-01T09:00:00Z")),
        queued(900)
    );
    // Further out: a schedule for the minute before the due time.
    let scheduled = |minute| Route::Schedule { at: at(minute) };
    assert_eq!(
        route(due("2027-01-01T09:15:01Z"), now),
        scheduled("2027-01-01T09:14:00Z")
    );
    assert_eq!(
        route(due("2027-01-01T11:00:30Z"), now),
        scheduled("2027-01-01T10:59:00Z")
    );
}

#[test]
fn an_early_message_is_sent_on_and_a_due_one_claims() {
    let message = message("t1", "2027-01-01T09:00:30Z");
    assert_eq!(
        on_message(&message, at(NOW)),
        MessageAction::Redeliver(Route::Queue { delay_seconds: 29 })
    );
    assert_eq!(
        on_message(&message, at("2027-01-01T09:00:29.250Z")),
        MessageAction::WaitThenClaim(TimeDelta::milliseconds(750))
    );
    assert_eq!(
        on_message(&message, at("2027-01-01T09:00:30Z")),
        MessageAction::Claim
    );
    assert_eq!(
        on_message(&message, at("2027-01-01T10:00:00Z")),
        MessageAction::Claim
    );
}

#[test]
fn messages_are_json_with_the_design_names() {
    let message = Message {
        id: "w1".into(),
        task_id: "t1".into(),
        due: due("2027-01-01T09:00:00Z"),
    };
    let json = serde_json::to_string(&message).unwrap();
    assert_eq!(
        json,
        r#"{"id":"w1","taskId":"t1","due":"2027-01-01T09:00:00Z"}"#
    );
    assert!(serde_json::from_str::<Message>(r#"{"id":"w1","taskId":"t1","due":"soon"}"#).is_err());
}

// ---- executor: claim ----

fn message(task: &str, due_at: &str) -> Message {
    Message {
        id: "w1".into(),
        task_id: task.into(),
        due: due(due_at),
    }
}

#[test]
fn a_due_message_claims_its_run() {
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let update = claim(
        &message("t1", "2027-01-01T09:00:00Z"),
        at(NOW),
        at("2027-01-01T09:15:00Z"),
        "r1",
    );
    let claimed = applied(&update, &worker);
    assert_eq!(claimed.status, Some(Status::Running));
    assert_eq!(claimed.run_token.as_deref(), Some("r1"));
    assert_eq!(claimed.lease_until, Some(at("2027-01-01T09:15:00Z")));
    assert_eq!(claimed.last_run_start_time, Some(at(NOW)));
}

#[test]
fn stale_task_id_never_runs() {
    let worker = ready("w1", "t2", "2027-01-01T09:00:00Z");
    let stale = message("t1", "2027-01-01T09:00:00Z");
    let update = claim(&stale, at(NOW), at(NOW), "r1");
    assert_eq!(update.apply(Some(&worker.to_item())), None);
    assert_eq!(
        refusal(&stale, Some(&image(&worker))),
        Some(SkipReason::StaleTask {
            current: Some("t2".into())
        })
    );
}

#[test]
fn a_duplicate_message_starts_the_job_once() {
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let msg = message("t1", "2027-01-01T09:00:00Z");
    let first = claim(&msg, at(NOW), at(NOW), "r1")
        .apply(Some(&worker.to_item()))
        .unwrap();
    assert_eq!(
        claim(&msg, at(NOW), at(NOW), "r2").apply(Some(&first)),
        None
    );
    let reason = refusal(&msg, Some(&Image::decode(&first)));
    assert_eq!(
        reason,
        Some(SkipReason::NotReady {
            status: Some("running".into())
        })
    );
}

#[test]
fn every_refusal_has_its_reason() {
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let msg = message("t1", "2027-01-01T09:00:00Z");
    assert_eq!(refusal(&msg, None), Some(SkipReason::Gone));
    let disabled = Worker {
        enabled: false,
        ..worker.clone()
    };
    assert_eq!(
        refusal(&msg, Some(&image(&disabled))),
        Some(SkipReason::Disabled)
    );
    let stopped = Worker {
        status: Some(Status::Stopped),
        ..worker.clone()
    };
    assert_eq!(
        refusal(&msg, Some(&image(&stopped))),
        Some(SkipReason::NotReady {
            status: Some("stopped".into())
        })
    );
    let later = ready("w1", "t1", "2027-01-01T10:00:00Z");
    assert_eq!(
        refusal(&msg, Some(&image(&later))),
        Some(SkipReason::OtherDue {
            current: Some("2027-01-01T10:00:00Z".into())
        })
    );
    assert_eq!(refusal(&msg, Some(&image(&worker))), None);
    assert_eq!(
        SkipReason::StaleTask { current: None }.to_string(),
        "stale task (current task none)"
    );
}

// ---- executor: finish ----

fn claimed(worker: Worker, token: &str) -> Claimed {
    let worker = Worker {
        status: Some(Status::Running),
        run_token: Some(token.into()),
        last_run_start_time: Some(at(NOW)),
        lease_until: Some(at("2027-01-01T09:15:00Z")),
        ..worker
    };
    Claimed::from_worker(worker).expect("a claimed worker")
}

fn outcome(result: Result<&str, JobError>, finished: &str) -> Outcome {
    Outcome {
        result: result.map(str::to_owned),
        finished: at(finished),
        report: Report::default(),
    }
}

fn close(run: &Claimed, result: Result<&str, JobError>, finished: &str) -> (Finish, Worker) {
    let finish = finish(
        run,
        &outcome(result, finished),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    );
    let after = applied(&finish.update, &run.worker);
    (finish, after)
}

#[test]
fn a_one_shot_run_records_its_outcome_and_stops() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let (finish, after) = close(&run, Ok("logged: hello"), "2027-01-01T09:00:01.400Z");
    assert_eq!(finish.next, NextState::Stopped);
    assert_eq!(after.status, Some(Status::Stopped));
    assert_eq!(after.last_run_succeeded, Some(true));
    assert_eq!(after.last_run_message.as_deref(), Some("logged: hello"));
    assert_eq!(
        after.last_run_finish_time,
        Some(at("2027-01-01T09:00:01.400Z"))
    );
    assert_eq!(after.run_count, 1);
    assert_eq!(
        (after.run_token, after.lease_until, after.next_due),
        (None, None, None)
    );
    let record = finish.record;
    assert_eq!(record.run_id, "2027-01-01T09:00:00.400Z#t1");
    assert_eq!(
        (record.attempt, record.duration_ms, record.succeeded),
        (1, Some(1000), Some(true))
    );
    assert_eq!(record.expires_at, at("2027-01-31T09:00:01Z").timestamp());
}

#[test]
fn recurring_runs_are_anchored_to_the_previous_due_time() {
    let worker = Worker {
        schedule: Some("rate(3 seconds)".parse().unwrap()),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    let run = claimed(worker, "r1");
    // The run finished 2.4 s late; the next due time is still on the grid.
    let (finish, after) = close(&run, Ok("ok"), "2027-01-01T09:00:02.400Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T09:00:03Z")
        }
    );
    assert_eq!(after.status, Some(Status::Ready));
}

#[test]
fn a_late_run_is_the_one_catch_up_run_and_the_grid_resumes_after_now() {
    // An hourly worker whose nextDue a user set three hours and a half in the past.
    let worker = Worker {
        schedule: Some("rate(1 hour)".parse().unwrap()),
        ..ready("w1", "t1", "2027-01-01T05:30:00Z")
    };
    let (finish, _) = close(&claimed(worker, "r1"), Ok("ok"), "2027-01-01T09:00:01Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T09:30:00Z")
        },
        "no second run for 08:30 right after this one"
    );
}

#[test]
fn a_spawned_worker_whose_parent_is_disabled_stops_and_disables_itself() {
    let child = Worker {
        schedule: Some("rate(1 hour)".parse().unwrap()),
        parent_id: Some("root".into()),
        ..ready("root#2027-01-01T08:00:00Z", "t1", "2027-01-01T09:00:00Z")
    };
    let run = claimed(child, "r1");
    let closing = orphaned(
        &run,
        "root",
        Orphaned::DisabledOrGone,
        at("2027-01-01T09:00:01Z"),
        &Policy::default(),
    );
    assert_eq!(closing.next, NextState::Stopped);
    let after = applied(&closing.update, &run.worker);
    assert_eq!(
        (after.enabled, after.status),
        (false, Some(Status::Stopped))
    );
    assert_eq!((after.next_due, after.sweep_at), (None, None));
    assert_eq!(after.last_run_succeeded, Some(false));
    assert_eq!(
        after.last_run_message.as_deref(),
        Some(
            "not run: its parent root is disabled or gone, so this spawned worker stops with it \
              (set enabled to true to run it on its own)"
        )
    );
    assert_eq!(closing.record.succeeded, Some(false));
    // The write is fenced like any finish: a claim given up and taken again is not touched.
    let reclaimed = Worker {
        run_token: Some("r2".into()),
        ..run.worker.clone()
    };
    assert_eq!(closing.update.apply(Some(&reclaimed.to_item())), None);
}

#[test]
fn a_failed_attempt_is_retried_with_backoff() {
    let worker = Worker {
        schedule: Some("rate(1 hour)".parse().unwrap()),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    let run = claimed(worker, "r1");
    let (finish, after) = close(
        &run,
        Err(JobError::retryable("SES throttled")),
        "2027-01-01T09:00:01Z",
    );
    // Attempt 1 failed: wait up to 5 s (jitter 0.5 → 3 s).
    assert_eq!(
        finish.next,
        NextState::Retry {
            due: due("2027-01-01T09:00:04Z")
        }
    );
    assert_eq!(after.attempt, 1);
    assert_eq!(after.retry_of, Some(due("2027-01-01T09:00:00Z")));
    assert_eq!(after.last_run_succeeded, Some(false));
    assert_eq!(after.last_run_message.as_deref(), Some("SES throttled"));

    // The retry succeeds: the next due time follows the original one, not the retry's.
    let retry = claimed(after, "r2");
    assert_eq!(retry.attempt(), 2);
    let (finish, after) = close(&retry, Ok("sent"), "2027-01-01T09:00:05Z");
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T10:00:00Z")
        }
    );
    assert_eq!((after.attempt, after.retry_of), (0, None));
    assert_eq!(finish.record.attempt, 2);
}

#[test]
fn a_failure_that_says_when_to_come_back_is_retried_then_not_after_the_backoff() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let (finish, after) = close(
        &run,
        Err(JobError::retry_after("429 Too Many Requests", 120)),
        "2027-01-01T09:00:01Z",
    );
    assert_eq!(
        finish.next,
        NextState::Retry {
            due: due("2027-01-01T09:02:01Z")
        }
    );
    assert_eq!(after.attempt, 1, "it counts as an attempt");
    // Whatever a service asks for, a day at most (and a second at least).
    assert_eq!(
        JobError::retry_after("x", u32::MAX).retry,
        Retry::After(MAX_RETRY_AFTER_SECONDS)
    );
    assert_eq!(JobError::retry_after("x", 0).retry, Retry::After(1));
}

#[test]
fn a_retry_is_always_due_after_the_attempt_it_retries() {
    // Claimed before its due time (a rescued early claim): the retry still comes after it.
    let run = claimed(ready("w1", "t1", "2027-01-01T10:00:00Z"), "r1");
    let (finish, _) = close(
        &run,
        Err(JobError::retryable("lost")),
        "2027-01-01T09:00:01Z",
    );
    assert_eq!(
        finish.next,
        NextState::Retry {
            due: due("2027-01-01T10:00:03Z")
        }
    );
}

#[test]
fn attempts_run_out_at_max_attempts() {
    let worker = Worker {
        max_attempts: Some(2),
        attempt: 1,
        retry_of: Some(due("2027-01-01T09:00:00Z")),
        ..ready("w1", "t1", "2027-01-01T09:00:04Z")
    };
    let run = claimed(worker, "r2");
    let (finish, after) = close(
        &run,
        Err(JobError::retryable("still failing")),
        "2027-01-01T09:00:05Z",
    );
    assert_eq!(finish.next, NextState::Stopped);
    assert_eq!(after.status, Some(Status::Stopped));
    assert_eq!(after.last_run_message.as_deref(), Some("still failing"));
}

#[test]
fn permanent_failures_are_not_retried() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let (finish, _) = close(
        &run,
        Err(JobError::permanent("MessageRejected: address not verified")),
        "2027-01-01T09:00:01Z",
    );
    assert_eq!(finish.next, NextState::Stopped);
}

#[test]
fn a_late_finish_after_rescue_changes_nothing() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let rescued = Worker {
        run_token: Some("r2".into()),
        ..run.worker.clone()
    };
    let finish = finish(
        &run,
        &outcome(Ok("late"), "2027-01-01T09:30:00Z"),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    );
    assert_eq!(finish.update.apply(Some(&rescued.to_item())), None);
}

#[test]
fn long_messages_are_bounded() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let long = "é".repeat(5000);
    let (_, after) = close(&run, Err(JobError::permanent(long)), "2027-01-01T09:00:01Z");
    let message = after.last_run_message.unwrap();
    assert!(message.len() <= MAX_MESSAGE_BYTES);
    assert!(message.ends_with('…'));
}

#[test]
fn an_item_broken_while_queued_becomes_invalid_after_its_claim() {
    let error = ItemError::new("params.message", "missing");
    let update = invalid_after_claim("w1", "r1", &error, at(NOW));
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let after = applied(&update, &run.worker);
    assert_eq!(after.status, Some(Status::Invalid));
    assert_eq!(
        after.last_run_message.as_deref(),
        Some("invalid: params.message: missing")
    );
    assert_eq!(after.run_token, None);
}

// ---- sweeper: rescue ----

#[test]
fn crash_after_claim_is_rescued_and_retried() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    assert_eq!(
        rescue(
            &run.worker,
            at("2027-01-01T09:14:59Z"),
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
        ),
        None
    );
    let finish = rescue(
        &run.worker,
        at("2027-01-01T09:16:00Z"),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .unwrap();
    assert!(matches!(finish.next, NextState::Retry { .. }));
    let after = applied(&finish.update, &run.worker);
    assert!(after.last_run_message.unwrap().starts_with(
        "lost: the run did not finish before its lease expired at 2027-01-01T09:15:00.000Z"
    ));
}

#[test]
fn a_lost_runs_record_keeps_the_progress_it_last_wrote_and_its_retry_the_checkpoint() {
    let mut worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    worker.progress = Some("12 of 40 batches".into());
    worker.progress_fraction = crate::item::Fraction::new(0.3);
    worker.checkpoint = Some("12".into());
    worker.checkpoint_due = Some(due("2027-01-01T09:00:00Z"));
    let run = claimed(worker, "r1");
    let finish = rescue(
        &run.worker,
        at("2027-01-01T09:16:00Z"),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(finish.record.progress.as_deref(), Some("12 of 40 batches"));
    assert_eq!(
        finish.record.progress_fraction.map(|f| f.value()),
        Some(0.3)
    );
    let after = applied(&finish.update, &run.worker);
    assert_eq!((after.progress, after.progress_fraction), (None, None));
    assert_eq!(
        after.checkpoint.as_deref(),
        Some("12"),
        "its retry resumes from it"
    );
}

#[test]
fn a_lost_run_is_skipped_when_on_lost_says_skip() {
    let worker = Worker {
        on_lost: Some(OnLost::Skip),
        schedule: Some("rate(1 hour)".parse().unwrap()),
        ..ready("w1", "t1", "2027-01-01T09:00:00Z")
    };
    let run = claimed(worker, "r1");
    let finish = rescue(
        &run.worker,
        at("2027-01-01T09:16:00Z"),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .unwrap();
    assert_eq!(
        finish.next,
        NextState::Next {
            due: due("2027-01-01T10:00:00Z")
        }
    );
    assert!(
        finish
            .record
            .message
            .unwrap()
            .ends_with("skipped (onLost = skip)")
    );
}

// ---- sweeper ----

#[test]
fn live_workers_are_in_the_sweepers_index_and_finished_ones_leave_it() {
    let worker = log_worker("w1");
    let ChangeAction::Arm(update) = change(None, Some(&worker)) else {
        panic!()
    };
    let armed = applied(&update, &worker);
    assert_eq!(
        armed.sweep_shard,
        Some(sweep_shard("w1", DEFAULT_SWEEP_SHARDS))
    );
    assert_eq!(
        armed.sweep_at,
        Some(due("2027-01-01T09:02:00Z")),
        "due time + 2 minutes of grace"
    );

    let msg = message("task-new", "2027-01-01T09:00:00Z");
    let running = applied(
        &claim(&msg, at(NOW), at("2027-01-01T09:14:59.500Z"), "r1"),
        &armed,
    );
    assert_eq!(
        running.sweep_at,
        Some(due("2027-01-01T09:15:00Z")),
        "the lease, rounded up"
    );

    let (_, after) = close(
        &Claimed::from_worker(running).unwrap(),
        Ok("done"),
        "2027-01-01T09:00:01Z",
    );
    assert_eq!((after.sweep_shard, after.sweep_at), (None, None));
}

#[test]
fn sweep_shards_spread_ids_and_never_change() {
    assert_eq!(
        sweep_shard("w1", DEFAULT_SWEEP_SHARDS),
        sweep_shard("w1", DEFAULT_SWEEP_SHARDS)
    );
    let shards: std::collections::BTreeSet<u32> = (0..200)
        .map(|i| sweep_shard(&format!("worker-{i}"), DEFAULT_SWEEP_SHARDS))
        .collect();
    assert_eq!(shards.len(), DEFAULT_SWEEP_SHARDS as usize);
}

#[test]
fn a_deployment_with_more_sweep_shards_spreads_its_workers_over_them() {
    let wide = Policy {
        sweep_shards: 128,
        ..policy()
    };
    let shards: std::collections::BTreeSet<u32> = (0..2000)
        .map(|i| {
            let worker = log_worker(&format!("worker-{i}"));
            let action = on_change(
                None,
                Some(&image(&worker)),
                "t",
                at(NOW),
                &crate::jobs::builtin(),
                &wide,
            );
            let ChangeAction::Arm(update) = action else {
                panic!("{action:?}")
            };
            applied(&update, &worker).sweep_shard.unwrap()
        })
        .collect();
    assert_eq!(shards.len(), 128);
    assert_eq!(*shards.last().unwrap(), 127);
}

#[test]
fn the_sweeper_rescues_expired_leases_only() {
    let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
    let sweep_at = |now: &str| {
        sweep(
            &run.worker,
            at(now),
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
            None,
        )
    };
    assert_eq!(sweep_at("2027-01-01T09:10:00Z"), SweepAction::Ignore);
    assert!(matches!(
        sweep_at("2027-01-01T09:15:01Z"),
        SweepAction::Rescue(_)
    ));
}

#[test]
fn the_sweeper_redelivers_an_overdue_ready_worker_once_per_grace_period() {
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let policy = Policy::default();
    let on_time = sweep(
        &worker,
        at("2027-01-01T09:01:59Z"),
        0.5,
        &crate::jobs::builtin(),
        &policy,
        None,
    );
    assert_eq!(on_time, SweepAction::Ignore);
    let SweepAction::Redeliver {
        message,
        queue,
        update,
    } = sweep(
        &worker,
        at("2027-01-01T09:02:01Z"),
        0.5,
        &crate::jobs::builtin(),
        &policy,
        None,
    )
    else {
        panic!()
    };
    assert_eq!(
        (message.task_id.as_str(), message.due, queue.as_str()),
        ("t1", due("2027-01-01T09:00:00Z"), "default")
    );
    let bumped = applied(&update, &worker);
    assert_eq!(bumped.sweep_at, Some(due("2027-01-01T09:04:01Z")));
    // Claimed in the meantime: the bump must not apply.
    let running = Worker {
        status: Some(Status::Running),
        ..worker.clone()
    };
    assert_eq!(update.apply(Some(&running.to_item())), None);
}

#[test]
fn a_ready_worker_looked_at_before_its_moved_due_time_is_postponed_once() {
    // Indexed for a look at 09:02 (due 09:00), then a user moved nextDue to 12:00.
    let worker = Worker {
        sweep_at: Some(due("2027-01-01T09:02:00Z")),
        ..ready("w1", "t1", "2027-01-01T12:00:00Z")
    };
    let SweepAction::Postpone(update) = sweep(
        &worker,
        at("2027-01-01T09:05:00Z"),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
        None,
    ) else {
        panic!("expected the look to move")
    };
    let moved = applied(&update, &worker);
    assert_eq!(moved.sweep_at, Some(due("2027-01-01T12:02:00Z")));
    assert_eq!(
        sweep(
            &moved,
            at("2027-01-01T09:06:00Z"),
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
            None,
        ),
        SweepAction::Ignore
    );
    // Moved again in the meantime: this look does not apply.
    let again = Worker {
        next_due: Some(due("2027-01-01T13:00:00Z")),
        ..worker
    };
    assert_eq!(update.apply(Some(&again.to_item())), None);
}

#[test]
fn the_sweeper_forgets_workers_that_are_not_live() {
    let stopped = Worker {
        status: Some(Status::Stopped),
        sweep_shard: Some(3),
        sweep_at: Some(due("2027-01-01T09:00:00Z")),
        ..log_worker("w1")
    };
    let SweepAction::Forget(update) = sweep(
        &stopped,
        at(NOW),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
        None,
    ) else {
        panic!()
    };
    let forgotten = applied(&update, &stopped);
    assert_eq!((forgotten.sweep_shard, forgotten.sweep_at), (None, None));
}

// ---- properties ----

fn small_worker() -> impl Strategy<Value = Option<Worker>> {
    let task = prop::sample::select(vec![None, Some("t1"), Some("t2")]);
    let status = prop::sample::select(vec![
        None,
        Some(Status::Ready),
        Some(Status::Running),
        Some(Status::Stopped),
        Some(Status::Invalid),
    ]);
    let next_due = prop::sample::select(vec![
        None,
        Some("2027-01-01T09:00:00Z"),
        Some("2027-01-01T10:00:00Z"),
    ]);
    let worker =
        (any::<bool>(), task, status, next_due).prop_map(|(enabled, task, status, next_due)| {
            Worker {
                enabled,
                status,
                task_id: task.map(str::to_owned),
                next_due: next_due.map(due),
                ..log_worker("w1")
            }
        });
    prop::option::weighted(0.9, worker)
}

fn small_message() -> impl Strategy<Value = Message> {
    (
        prop::sample::select(vec!["t1", "t2"]),
        prop::sample::select(vec!["2027-01-01T09:00:00Z", "2027-01-01T10:00:00Z"]),
    )
        .prop_map(|(task, due_at)| message(task, due_at))
}

/// Any item a user or nextdue could leave in the table: each attribute absent, well formed,
/// or of the wrong type, in every combination.
fn any_item() -> impl Strategy<Value = Item> {
    fn choice(
        values: Vec<Option<AttributeValue>>,
    ) -> impl Strategy<Value = Option<AttributeValue>> {
        prop::sample::select(values)
    }
    let text = |t: &str| Some(s(t));
    (
        (
            choice(vec![
                None,
                Some(b(true)),
                Some(b(false)),
                text("true"),
                Some(AttributeValue::N("1".into())),
            ]),
            choice(vec![
                None,
                text("ready"),
                text("running"),
                text("stopped"),
                text("invalid"),
                text("bogus"),
            ]),
            choice(vec![None, text("t1"), text("t2")]),
            choice(vec![
                None,
                text("2027-01-01T09:00:00Z"),
                text("2027-01-01T10:00:00.5Z"),
                text("soon"),
            ]),
            choice(vec![None, text("r1")]),
            choice(vec![None, Some(b(true)), Some(b(false)), text("yes")]),
        ),
        (
            choice(vec![text("log"), text("teleport")]),
            choice(vec![None, text("rate(1 hour)"), text("cron(0 9 * * ? *)")]),
            choice(vec![None, text("2027-01-01T08:00:00Z")]),
            choice(vec![None, text("2027-01-01T11:00:00Z")]),
            choice(vec![None, text("default"), text("nowhere")]),
            choice(vec![None, text("invalid: kind: unknown kind \"teleport\"")]),
        ),
        (
            choice(vec![None, text("2027-01-01T09:30:00Z")]),
            choice(vec![None, Some(b(true)), Some(b(false))]),
            choice(vec![
                None,
                Some(AttributeValue::N("1".into())),
                Some(AttributeValue::N("2".into())),
            ]),
            choice(vec![None, text("2027-01-01T08:59:00Z")]),
        ),
    )
        .prop_map(|(state, definition, record)| {
            let (enabled, status, task, next_due, token, run_now) = state;
            let (kind, schedule, retry_of, resume_due, queue, message) = definition;
            let (overdue_since, succeeded, run_count, started) = record;
            let mut item = log_worker("w1").to_item();
            item.remove("enabled");
            for (name, value) in [
                ("enabled", enabled),
                ("status", status),
                ("taskId", task),
                ("nextDue", next_due),
                ("runToken", token),
                ("runNow", run_now),
                ("kind", kind),
                ("schedule", schedule),
                ("retryOf", retry_of),
                ("resumeDue", resume_due),
                ("queue", queue),
                ("lastRunMessage", message),
                ("overdueSince", overdue_since),
                ("lastRunSucceeded", succeeded),
                ("runCount", run_count),
                ("lastRunStartTime", started),
            ] {
                if let Some(value) = value {
                    item.insert(name.into(), value);
                }
            }
            item
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn every_change_the_dispatcher_acts_on_or_that_tells_a_fact_passes_the_stream_filter(
        old in prop::option::weighted(0.8, any_item()),
        new in any_item(),
    ) {
        let record = serde_json::json!({
            "eventName": if old.is_some() { "MODIFY" } else { "INSERT" },
            "dynamodb": {"OldImage": old.clone().unwrap_or_default(), "NewImage": new},
        });
        let action = change_items(old.as_ref(), &new);
        let passes = crate::stream_filter::passes(&crate::stream_filter::patterns(), &record);
        prop_assert!(
            passes || matches!(action, ChangeAction::Ignore(_)),
            "the filter drops a change the dispatcher acts on: {action:?}"
        );
        let told = crate::events::facts(
            old.as_ref().map(Image::decode).as_ref(),
            Some(&Image::decode(&new)),
            at(NOW),
        );
        prop_assert!(passes || told.is_empty(), "the filter drops a change that tells {told:?}");
    }

    #[test]
    fn no_progress_write_ever_reaches_the_dispatcher(
        old in any_item(),
        text in prop::option::of("[a-z0-9 ]{0,24}"),
        fraction in prop::option::of(0u16..=10_000),
        checkpoint in prop::option::of("[0-9]{1,6}"),
    ) {
        let run = claimed(ready("w1", "t1", "2027-01-01T09:00:00Z"), "r1");
        let report = Report {
            text,
            fraction: fraction.and_then(|f| crate::item::Fraction::new(f64::from(f) / 10_000.0)),
            checkpoint,
        };
        let update = report_update(&run, &report, at(NOW));
        // Any item the write's own condition admits: the run holds its claim, enabled.
        let mut old = old;
        old.insert(attr::STATUS.into(), s("running"));
        old.insert(attr::RUN_TOKEN.into(), s("r1"));
        old.insert(attr::ENABLED.into(), b(true));
        let new = update.apply(Some(&old)).expect("the write's condition holds");
        let record = serde_json::json!({
            "eventName": "MODIFY",
            "dynamodb": {"OldImage": old.clone(), "NewImage": new.clone()},
        });
        prop_assert!(
            !crate::stream_filter::passes(&crate::stream_filter::patterns(), &record),
            "the filter lets a progress write through"
        );
        prop_assert!(
            matches!(change_items(Some(&old), &new), ChangeAction::Ignore(_)),
            "the dispatcher acts on a progress write"
        );
        for name in [attr::STATUS, attr::TASK_ID, attr::NEXT_DUE, attr::RUN_TOKEN, attr::ENABLED] {
            prop_assert_eq!(old.get(name), new.get(name), "a progress write changed {}", name);
        }
    }

    #[test]
    fn the_claim_condition_and_the_refusal_reasons_agree(worker in small_worker(), msg in small_message()) {
        let item = worker.as_ref().map(Worker::to_item);
        let holds = claim_condition(&msg).holds(item.as_ref());
        let reason = refusal(&msg, item.as_ref().map(Image::decode).as_ref());
        prop_assert_eq!(holds, reason.is_none(), "{:?}", reason);
    }

    #[test]
    fn a_message_with_another_task_id_never_claims(worker in small_worker(), msg in small_message()) {
        let item = worker.as_ref().map(Worker::to_item);
        if worker.as_ref().and_then(|w| w.task_id.as_deref()) != Some(msg.task_id.as_str()) {
            prop_assert_eq!(claim(&msg, at(NOW), at(NOW), "r").apply(item.as_ref()), None);
            let is_stale = matches!(refusal(&msg, item.as_ref().map(Image::decode).as_ref()), Some(SkipReason::StaleTask { .. } | SkipReason::Gone));
            prop_assert!(is_stale);
        }
    }

    #[test]
    fn a_claimed_run_ends_in_exactly_one_next_state(
        succeeded in any::<bool>(),
        retryable in any::<bool>(),
        failures_before in 0u32..5,
        max_attempts in 1u32..5,
        schedule in prop::sample::select(vec![None, Some("rate(10 seconds)"), Some("cron(0 * * * ? *)"), Some("at(2027-01-01T08:00:00)")]),
        run_seconds in 0i64..20_000,
        jitter in 0.0f64..1.0,
    ) {
        let worker = Worker {
            schedule: schedule.map(|s| s.parse().unwrap()),
            max_attempts: Some(max_attempts),
            attempt: failures_before,
            retry_of: (failures_before > 0).then(|| due("2027-01-01T08:59:00Z")),
            ..ready("w1", "t1", "2027-01-01T09:00:00Z")
        };
        let run = claimed(worker, "r1");
        let result = if succeeded { Ok("ok".to_owned()) } else { Err(JobError::new("no", if retryable { Retry::Backoff } else { Retry::Never })) };
        let finished = at(NOW) + TimeDelta::seconds(run_seconds);
        let finish = finish(&run, &Outcome { result, finished, report: Report::default() }, jitter, &crate::jobs::builtin(), &Policy::default());
        let after = applied(&finish.update, &run.worker);
        prop_assert_eq!(after.run_token, None);
        // Only live workers stay in the sweeper's index.
        prop_assert_eq!(after.sweep_at.is_some(), after.status == Some(Status::Ready));
        prop_assert_eq!(after.run_count, 1);
        match finish.next {
            NextState::Retry { due } => {
                prop_assert!(!succeeded && retryable && run.attempt() < max_attempts);
                prop_assert_eq!((after.status, after.next_due, after.attempt), (Some(Status::Ready), Some(due), run.attempt()));
                prop_assert!(due > run.due);
            }
            NextState::Next { due } => {
                prop_assert_eq!((after.status, after.next_due, after.attempt), (Some(Status::Ready), Some(due), 0));
                prop_assert!(due > run.anchor());
            }
            NextState::Stopped => {
                prop_assert_eq!((after.status, after.next_due), (Some(Status::Stopped), None));
            }
        }
    }
}

#[test]
fn a_rescue_closes_a_run_from_its_own_record_as_its_finish_would_have() {
    let run = claimed(hourly("2027-01-01T09:00:00Z"), "r1");
    let (own, expected) = close(&run, Ok("done"), "2027-01-01T09:00:02Z");
    let rescued = rescue_recorded(
        &run.worker,
        &own.record,
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .expect("the claim's own finished record");
    assert_eq!(rescued.next, own.next);
    assert_eq!(rescued.record, own.record, "the record stays as written");
    let after = applied(&rescued.update, &run.worker);
    assert_eq!(
        (after.status, after.next_due, after.last_run_succeeded),
        (expected.status, expected.next_due, Some(true))
    );
    assert_eq!(after.last_run_message.as_deref(), Some("done"));
    // Fenced as a rescue is: the lease as read, the claim's token.
    let moved_on = Worker {
        lease_until: Some(at("2027-01-01T09:30:00Z")),
        ..run.worker.clone()
    };
    assert_eq!(rescued.update.apply(Some(&moved_on.to_item())), None);
    // Another run's record, or one not finished, or superseded, is not this claim's.
    for other in [
        RunRecord {
            task_id: "t-other".into(),
            ..own.record.clone()
        },
        RunRecord {
            finish_time: None,
            ..own.record.clone()
        },
        RunRecord {
            superseded: true,
            skipped: false,
            ..own.record.clone()
        },
    ] {
        let none = rescue_recorded(
            &run.worker,
            &other,
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
        );
        assert_eq!(none, None, "{other:?}");
    }
    // A recorded failure keeps its retryable flag: a permanent one is not retried.
    let (failed, _) = close(
        &run,
        Err(JobError::permanent("rejected")),
        "2027-01-01T09:00:02Z",
    );
    let closed = rescue_recorded(
        &run.worker,
        &failed.record,
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .unwrap();
    assert!(
        !matches!(closed.next, NextState::Retry { .. }),
        "{closed:?}"
    );
}

#[test]
fn an_operator_releases_a_running_worker_before_its_lease_through_the_same_fence() {
    let run = claimed(hourly("2027-01-01T09:00:00Z"), "r1");
    let now = at("2027-01-01T09:01:00Z");
    assert_eq!(
        rescue(
            &run.worker,
            now,
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
        ),
        None,
        "the sweeper waits for the lease"
    );
    let released = release(
        &run.worker,
        now,
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
    )
    .expect("a running worker");
    assert!(
        released
            .record
            .message
            .as_deref()
            .unwrap()
            .starts_with("lost: released by an operator"),
        "{released:?}"
    );
    assert!(matches!(released.next, NextState::Retry { .. }));
    let stopped = Worker {
        status: Some(Status::Stopped),
        ..run.worker.clone()
    };
    assert_eq!(
        release(
            &stopped,
            now,
            0.5,
            &crate::jobs::builtin(),
            &Policy::default(),
        ),
        None
    );
}

#[test]
fn forgetting_an_index_entry_never_creates_an_item_that_was_deleted() {
    let stray = Worker {
        status: None,
        sweep_shard: Some(1),
        sweep_at: Some(due("2027-01-01T08:00:00Z")),
        ..log_worker("w1")
    };
    let SweepAction::Forget(update) = sweep(
        &stray,
        at(NOW),
        0.5,
        &crate::jobs::builtin(),
        &Policy::default(),
        None,
    ) else {
        panic!("a worker with no status is not live: forgotten")
    };
    assert!(
        update.apply(Some(&stray.to_item())).is_some(),
        "it exists: taken out"
    );
    assert_eq!(
        update.apply(None),
        None,
        "deleted meanwhile: nothing written"
    );
}

// ---- pauses ----

fn pause(mode: crate::controls::Mode, until: Option<&str>) -> crate::controls::Pause {
    crate::controls::Pause {
        mode,
        since: at("2027-01-01T08:00:00Z"),
        until: until.map(at),
        by: "ops".into(),
    }
}

fn message_for(worker: &Worker) -> Message {
    Message {
        id: worker.id.clone(),
        task_id: worker.task_id.clone().unwrap(),
        due: worker.next_due.unwrap(),
    }
}

/// What the executor does with `message` of `worker`, refused by `scope`'s `pause` at NOW.
fn paused(
    worker: &Worker,
    message: &Message,
    scope: &crate::controls::Scope,
    pause: &crate::controls::Pause,
) -> Paused {
    on_paused(
        worker,
        message,
        scope,
        pause,
        at(NOW),
        &crate::jobs::builtin(),
        &policy(),
    )
}

fn controls_with(scope: &crate::controls::Scope, pause: crate::controls::Pause) -> Controls {
    let mut controls = Controls::default();
    controls.pauses.insert(scope.key(), pause);
    controls
}

#[test]
fn a_claim_under_a_pause_is_refused_only_for_the_paused_scopes() {
    use crate::controls::Scope;
    let due_now = hourly("2027-01-01T09:00:00Z");
    let in_mail = Worker {
        queue: Some("mail".into()),
        ..due_now.clone()
    };
    let claim_under = |paused: &[Scope], worker: &Worker| {
        let update = unless_paused(
            claim(
                &message_for(worker),
                at(NOW),
                at(NOW) + TimeDelta::minutes(15),
                "r1",
            ),
            paused,
        );
        update.apply(Some(&worker.to_item())).is_some()
    };
    let default = [Scope::Queue("default".into())];
    assert!(
        !claim_under(&default, &due_now),
        "no queue is the default queue"
    );
    let spelled = Worker {
        queue: Some("default".into()),
        ..due_now.clone()
    };
    assert!(!claim_under(&default, &spelled));
    assert!(claim_under(&default, &in_mail), "another queue runs");
    assert!(!claim_under(&[Scope::Kind("log".into())], &in_mail));
    assert!(claim_under(&[Scope::Kind("mail".into())], &in_mail));
    assert!(claim_under(&[], &due_now));
}

#[test]
fn a_hold_keeps_the_worker_ready_at_its_due_time_marked_and_looked_at_later() {
    use crate::controls::{Mode, Scope};
    let worker = hourly("2027-01-01T09:00:00Z");
    let scope = Scope::Queue("default".into());
    let Paused::Hold(update) = paused(
        &worker,
        &message_for(&worker),
        &scope,
        &pause(Mode::Hold, None),
    ) else {
        panic!("a hold pause holds")
    };
    let held = applied(&update, &worker);
    assert_eq!(held.status, Some(Status::Ready));
    assert_eq!(held.next_due, worker.next_due, "the due time waits");
    assert_eq!(held.held_by.as_deref(), Some("queue:default"));
    assert_eq!(held.attempt, worker.attempt, "not an attempt");
    // The sweeper looks again in 15 minutes (the pause has no end), not at each grace period.
    let item = held.to_item();
    assert!(
        item.get("sweepAt")
            .is_some_and(|at| at == &s("2027-01-01T09:15:01Z")),
        "{:?}",
        item.get("sweepAt")
    );
    // A second message for the same due time changes nothing more; a stale one nothing at all.
    let stale = Message {
        task_id: "t0".into(),
        ..message_for(&worker)
    };
    let Paused::Hold(stale) = paused(&worker, &stale, &scope, &pause(Mode::Hold, None)) else {
        panic!()
    };
    assert_eq!(stale.apply(Some(&worker.to_item())), None, "fenced");
    // The dispatcher does not deliver the held state.
    assert_eq!(
        change(Some(&worker), Some(&held)),
        ChangeAction::Ignore(Ignored::Held)
    );
}

#[test]
fn a_pause_with_an_end_is_looked_at_when_it_ends() {
    use crate::controls::{Mode, Scope};
    let worker = hourly("2027-01-01T09:00:00Z");
    let Paused::Hold(update) = paused(
        &worker,
        &message_for(&worker),
        &Scope::Kind("log".into()),
        &pause(Mode::Hold, Some("2027-01-01T09:05:00Z")),
    ) else {
        panic!()
    };
    let item = applied(&update, &worker).to_item();
    // Released a few seconds after the end, once every executor has read it.
    assert_eq!(item.get("sweepAt"), Some(&s("2027-01-01T09:05:05Z")));
}

#[test]
fn a_skip_records_the_due_time_and_moves_to_the_next_grid_time() {
    use crate::controls::{Mode, Scope};
    let worker = hourly("2027-01-01T09:00:00Z");
    let Paused::Skip { record, update } = paused(
        &worker,
        &message_for(&worker),
        &Scope::Queue("default".into()),
        &pause(Mode::Skip, None),
    ) else {
        panic!("a skip pause skips")
    };
    assert!(record.skipped);
    assert_eq!(record.succeeded, None, "neither a success nor a failure");
    assert_eq!(record.due, due("2027-01-01T09:00:00Z"));
    assert_eq!(record.attempt, 0);
    assert_eq!(
        record.message.as_deref(),
        Some("skipped: queue default paused (skip) until resumed")
    );
    let moved = applied(&update, &worker);
    assert_eq!(moved.status, Some(Status::Ready));
    assert_eq!(moved.next_due, Some(due("2027-01-01T10:00:00Z")));
    assert_eq!(moved.task_id, worker.task_id, "same activation");
    assert_eq!(moved.held_by, None);
}

#[test]
fn a_skipped_one_shot_stops_saying_why() {
    use crate::controls::{Mode, Scope};
    let worker = ready("w1", "t1", "2027-01-01T09:00:00Z");
    let Paused::Skip { update, .. } = paused(
        &worker,
        &message_for(&worker),
        &Scope::Kind("log".into()),
        &pause(Mode::Skip, Some("2027-01-01T10:00:00Z")),
    ) else {
        panic!()
    };
    let stopped = applied(&update, &worker);
    assert_eq!(stopped.status, Some(Status::Stopped));
    assert_eq!(
        stopped.last_run_message.as_deref(),
        Some("skipped: kind log paused (skip) until 2027-01-01T10:00:00Z")
    );
    assert!(!stopped.to_item().contains_key("sweepAt"));
}

#[test]
fn the_sweeper_keeps_a_held_worker_while_its_pause_lasts_then_releases_it() {
    use crate::controls::{Mode, Scope};
    let scope = Scope::Queue("default".into());
    let held = Worker {
        held_by: Some(scope.key()),
        ..hourly("2027-01-01T09:00:00Z")
    };
    let sweep_at = |now: &str, controls: Option<&Controls>| {
        sweep(
            &held,
            at(now),
            0.5,
            &crate::jobs::builtin(),
            &policy(),
            controls,
        )
    };
    let paused = controls_with(&scope, pause(Mode::Hold, Some("2027-01-01T12:00:00Z")));
    let SweepAction::Postpone(update) = sweep_at("2027-01-01T09:30:00Z", Some(&paused)) else {
        panic!(
            "held, not redelivered: {:?}",
            sweep_at("2027-01-01T09:30:00Z", Some(&paused))
        )
    };
    let kept = applied(&update, &held);
    assert_eq!(kept.held_by, held.held_by);
    assert_eq!(
        kept.to_item().get("sweepAt"),
        Some(&s("2027-01-01T09:45:00Z"))
    );
    // Without the controls (they could not be read) the sweeper leaves it alone.
    assert_eq!(sweep_at("2027-01-01T09:30:00Z", None), SweepAction::Ignore);
    // Just after the end an executor may still go by a reading from before it: still held.
    assert!(matches!(
        sweep_at("2027-01-01T12:00:04Z", Some(&paused)),
        SweepAction::Postpone(_)
    ));
    // Once the pause has ended (or is gone), the worker is released into its catch-up run.
    for controls in [paused.clone(), Controls::default()] {
        let SweepAction::Release(update) = sweep_at("2027-01-01T12:00:05Z", Some(&controls)) else {
            panic!("released")
        };
        let released = applied(&update, &held);
        assert_eq!(released.held_by, None);
        assert_eq!(released.next_due, held.next_due, "the held due time runs");
        let ChangeAction::Deliver { message, .. } = change(Some(&held), Some(&released)) else {
            panic!("the release is delivered")
        };
        assert_eq!(message, message_for(&held));
    }
}

#[test]
fn resume_releases_only_the_workers_its_pause_holds() {
    use crate::controls::Scope;
    let scope = Scope::Kind("log".into());
    let held = Worker {
        held_by: Some(scope.key()),
        ..hourly("2027-01-01T09:00:00Z")
    };
    assert!(release_held(&held, &Scope::Queue("default".into()), at(NOW), &policy()).is_none());
    let update = release_held(&held, &scope, at(NOW), &policy()).unwrap();
    assert_eq!(applied(&update, &held).held_by, None);
    // Fenced: a worker re-enabled (a new task) or already released is not written.
    let rearmed = Worker {
        task_id: Some("t2".into()),
        ..held.clone()
    };
    assert_eq!(update.apply(Some(&rearmed.to_item())), None);
    let released = Worker {
        held_by: None,
        ..held.clone()
    };
    assert_eq!(update.apply(Some(&released.to_item())), None);
}

// ---- rate limits ----

#[test]
fn a_deferral_keeps_the_due_time_marks_the_start_and_is_delivered_for_it() {
    let worker = hourly("2027-01-01T09:00:00Z");
    let message = message_for(&worker);
    let start = due("2027-01-01T09:06:00Z");
    let update = defer(&worker, &message, start, at(NOW), &policy());
    let deferred = applied(&update, &worker);
    assert_eq!(deferred.status, Some(Status::Ready));
    assert_eq!(deferred.next_due, worker.next_due, "the due time stays");
    assert_eq!(deferred.deferred_until, Some(start));
    assert_eq!(deferred.attempt, worker.attempt, "not an attempt");
    // The sweeper looks past the start, not past the due time: nothing is re-sent meanwhile.
    assert_eq!(
        deferred.to_item().get("sweepAt"),
        Some(&s("2027-01-01T09:08:00Z"))
    );
    assert_eq!(
        update.apply(Some(&deferred.to_item())),
        None,
        "deferred once: a second message's deferral changes nothing"
    );
    let ChangeAction::Deliver {
        message: sent,
        at: when,
        ..
    } = change(Some(&worker), Some(&deferred))
    else {
        panic!("the deferral is delivered")
    };
    assert_eq!((sent, when), (message, start));
    assert_eq!(
        change(Some(&deferred), Some(&deferred)),
        ChangeAction::Ignore(Ignored::Unchanged)
    );
}

#[test]
fn a_deferred_run_is_claimed_on_its_reservation_once_its_start_comes() {
    let worker = Worker {
        deferred_until: Some(due("2027-01-01T09:06:00Z")),
        ..hourly("2027-01-01T09:00:00Z")
    };
    let start = at("2027-01-01T09:06:00Z");
    assert_eq!(
        on_limited(&worker, start - TimeDelta::minutes(1)),
        OnLimited::Deferred(due("2027-01-01T09:06:00Z")),
        "early: its own delivery is on the way"
    );
    assert_eq!(
        on_limited(&worker, start - TimeDelta::milliseconds(300)),
        OnLimited::WaitThenClaim(TimeDelta::milliseconds(300))
    );
    assert_eq!(on_limited(&worker, start), OnLimited::Claim);
    assert_eq!(
        on_limited(&hourly("2027-01-01T09:00:00Z"), start),
        OnLimited::Reserve
    );
    let message = message_for(&worker);
    let claim = claim_reserved(
        &message,
        worker.deferred_until,
        start,
        start + TimeDelta::minutes(15),
        "r1",
    );
    let running = applied(&claim, &worker);
    assert_eq!(running.status, Some(Status::Running));
    assert_eq!(running.deferred_until, None, "the reservation is used");
    // Another reservation (the run-now request moved the due time and reserved again) fences.
    let other = Worker {
        deferred_until: Some(due("2027-01-01T09:07:00Z")),
        ..worker.clone()
    };
    assert_eq!(claim.apply(Some(&other.to_item())), None);
}

#[test]
fn run_now_on_a_deferred_worker_gives_up_its_reservation() {
    let worker = requested(Worker {
        deferred_until: Some(due("2027-01-01T10:06:00Z")),
        ..hourly("2027-01-01T10:00:00Z")
    });
    assert_eq!(take_up(&worker).deferred_until, None);
}

#[test]
fn the_sweeper_waits_for_a_deferred_start_before_it_re_sends() {
    let worker = hourly("2027-01-01T09:00:00Z");
    let start = due("2027-01-01T09:30:00Z");
    let deferred = applied(
        &defer(&worker, &message_for(&worker), start, at(NOW), &policy()),
        &worker,
    );
    let sweep_at = |now: &str, worker: &Worker| {
        sweep(
            worker,
            at(now),
            0.5,
            &crate::jobs::builtin(),
            &policy(),
            None,
        )
    };
    // Read early (an older look, say): past the due time's grace, but not the start's.
    let looked_early = Worker {
        sweep_at: Some(due("2027-01-01T09:02:00Z")),
        ..deferred.clone()
    };
    let SweepAction::Postpone(update) = sweep_at("2027-01-01T09:05:00Z", &looked_early) else {
        panic!("not re-sent before its start")
    };
    assert_eq!(
        applied(&update, &looked_early).sweep_at,
        Some(due("2027-01-01T09:32:00Z"))
    );
    // Past the start's grace, its message is presumed lost: sent again, for the same due time.
    let SweepAction::Redeliver { message, .. } = sweep_at("2027-01-01T09:32:01Z", &deferred) else {
        panic!("re-sent once the start has passed")
    };
    assert_eq!(message, message_for(&worker));
}
