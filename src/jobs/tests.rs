//! The built-in jobs against in-memory seams: parameter checks, and what each run does.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;

use crate::item::{AttributeValue, Item, Params, Worker};
use crate::job::{Created, JobContext, JobError, JobLimits, Mailer, Services, WorkerWriter};
use crate::job::{Mail, ReportError, Reporter, TypedJob};
use crate::lifecycle::Planner;
use crate::lifecycle::Report as RunReport;
use crate::timestamp::Due;

#[derive(Default)]
struct Outbox {
    sent: Mutex<Vec<Mail>>,
    reject: Option<JobError>,
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<String, JobError> {
        if let Some(error) = &self.reject {
            return Err(error.clone());
        }
        self.sent.lock().unwrap().push(mail.clone());
        Ok("m-1".into())
    }
}

#[derive(Default)]
struct Table {
    items: Mutex<Vec<Item>>,
}

impl Table {
    fn workers(&self) -> Vec<Worker> {
        let items = self.items.lock().unwrap();
        items
            .iter()
            .map(|i| Worker::from_item(i).unwrap())
            .collect()
    }
}

#[async_trait]
impl WorkerWriter for Table {
    async fn create(&self, item: &Item) -> Result<Created, JobError> {
        let mut items = self.items.lock().unwrap();
        if let Some(existing) = items.iter().find(|i| i.get("id") == item.get("id")) {
            return Ok(Created::Exists(existing.clone()));
        }
        items.push(item.clone());
        Ok(Created::Written)
    }
}

fn params(value: serde_json::Value) -> Params {
    value.as_object().unwrap().clone()
}

fn worker(kind: &str, value: serde_json::Value) -> Worker {
    Worker {
        params: params(value),
        enabled: true,
        ..Worker::new("w1", kind)
    }
}

fn check(kind: &str, value: serde_json::Value) -> Result<(), String> {
    crate::jobs::builtin()
        .check(&worker(kind, value))
        .map_err(|e| e.to_string())
}

/// Services with this mailer and worker table, and no network: HTTP and Lambda answer as the
/// test kit's scripts say (nothing scripted: unreachable).
fn services(outbox: Arc<Outbox>, table: Arc<Table>) -> Services {
    Services {
        mailer: outbox,
        workers: table,
        http: Arc::new(crate::testing::MemoryHttp::new()),
        functions: Arc::new(crate::testing::MemoryFunctions::new()),
        limits: JobLimits::default(),
    }
}

/// The reports a job made, kept in order.
#[derive(Default)]
struct Kept(Mutex<Vec<RunReport>>);

#[async_trait]
impl Reporter for Kept {
    async fn report(&self, report: RunReport) -> Result<(), ReportError> {
        self.0.lock().unwrap().push(report);
        Ok(())
    }
}

#[tokio::test]
async fn a_jobs_progress_and_checkpoints_are_checked_then_reported_and_resumed_by_occurrence() {
    let mut worker = worker("log", json!({}));
    let kept = Kept::default();
    let services = services(Arc::default(), Arc::default());
    let due: Due = "2027-01-01T09:00:00Z".parse().unwrap();
    worker.retry_of = Some(due);
    worker.checkpoint = Some("{\"rows\": 40}".into());
    worker.checkpoint_due = Some(due);
    let ctx = JobContext {
        worker: &worker,
        due: due.plus_seconds(30).unwrap(),
        attempt: 2,
        services: &services,
        reporter: &kept,
    };
    assert_eq!(
        ctx.resume::<serde_json::Value>(),
        Ok(Some(json!({"rows": 40}))),
        "a retry reads what its occurrence saved"
    );
    assert!(matches!(
        ctx.resume::<Vec<u8>>(),
        Err(ReportError::Unreadable(_))
    ));
    ctx.progress("40 of\n100 \u{202e}rows", Some(0.4))
        .await
        .unwrap();
    ctx.checkpoint(&json!({"rows": 41})).await.unwrap();
    assert_eq!(
        ctx.progress(&"x".repeat(257), None).await,
        Err(ReportError::TextTooLong(257))
    );
    assert_eq!(
        ctx.progress("", Some(f64::NAN)).await,
        Err(ReportError::Fraction("NaN".into()))
    );
    let reports = kept.0.lock().unwrap().clone();
    assert_eq!(
        reports.len(),
        2,
        "refused reports reach nothing: {reports:?}"
    );
    assert_eq!(reports[0].text.as_deref(), Some("40 of 100  rows"));
    assert_eq!(reports[0].fraction.map(|f| f.value()), Some(0.4));
    assert_eq!(reports[1].checkpoint.as_deref(), Some("{\"rows\":41}"));
    // Another occurrence's checkpoint is not this run's.
    let mut later = worker.clone();
    later.checkpoint_due = due.plus_seconds(3600);
    let other = JobContext {
        worker: &later,
        ..ctx
    };
    assert_eq!(other.resume::<serde_json::Value>(), Ok(None));
}

async fn run(worker: &Worker, outbox: Arc<Outbox>, table: Arc<Table>) -> Result<String, JobError> {
    let services = services(outbox, table);
    let ctx = JobContext {
        worker,
        due: "2027-01-01T09:00:00Z".parse::<Due>().unwrap(),
        attempt: 1,
        services: &services,
        reporter: &Kept::default(),
    };
    crate::jobs::builtin()
        .get(&worker.kind)
        .unwrap()
        .execute(&ctx)
        .await
}

#[test]
fn email_params_accept_one_address_or_a_list() {
    assert_eq!(
        check(
            "email",
            json!({"from": "a@example.com", "to": "b@example.com", "text": "hi"})
        ),
        Ok(())
    );
    assert_eq!(
        check(
            "email",
            json!({"from": "Anne <a@example.com>", "to": ["b@example.com", "c@example.com"], "cc": "d@example.com", "subject": "s", "html": "<p>hi</p>"})
        ),
        Ok(())
    );
}

#[test]
fn email_params_name_what_is_wrong() {
    for (value, expected) in [
        (
            json!({"to": "b@example.com", "text": "hi"}),
            "params: missing field `from`",
        ),
        (
            json!({"from": "a@example.com", "to": 5, "text": "hi"}),
            "params.to: invalid type: integer, expected an address or a list of addresses",
        ),
        (
            json!({"from": "a@example.com", "to": ["b@example.com", 7], "text": "hi"}),
            "params.to[1]: invalid type: integer, expected a string",
        ),
        (
            json!({"from": "a@example.com", "to": ["b@example.com", "bob"], "text": "hi"}),
            "params.to[1]: is not an email address",
        ),
        (
            json!({"from": "anne", "to": "b@example.com", "text": "hi"}),
            "params.from: is not an email address",
        ),
        (
            json!({"from": "a@example.com", "to": [], "text": "hi"}),
            "params.to: needs at least one address",
        ),
        (
            json!({"from": "a@example.com", "to": "b@example.com"}),
            "params: needs text or html (or both)",
        ),
        (
            json!({"from": "a@example.com", "to": "b@example.com", "text": "hi", "subjet": "typo"}),
            "params.subjet: unknown field `subjet`, expected one of `from`, `to`",
        ),
    ] {
        let error = check("email", value.clone()).expect_err(&value.to_string());
        assert!(error.starts_with(expected), "{value}: got {error:?}");
    }
}

#[test]
fn email_recipients_stay_within_the_ses_limit() {
    let many: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
    let error = check(
        "email",
        json!({"from": "a@example.com", "to": many, "text": "hi"}),
    )
    .unwrap_err();
    assert_eq!(
        error,
        "params: 51 recipients; SES allows at most 50 per message"
    );
}

#[tokio::test]
async fn email_sends_one_message_and_says_so() {
    let outbox = Arc::new(Outbox::default());
    let job = worker(
        "email",
        json!({"from": "a@example.com", "to": ["b@example.com", "c@example.com"], "subject": "Hi", "text": "hello"}),
    );
    let summary = run(&job, outbox.clone(), Arc::default()).await.unwrap();
    assert_eq!(summary, "sent to 2 recipients (message id m-1)");
    let sent = outbox.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].subject.as_str(),
            sent[0].to.len(),
            sent[0].text.as_deref()
        ),
        ("Hi", 2, Some("hello"))
    );
}

#[tokio::test]
async fn email_failures_come_back_as_they_were_classified() {
    let outbox = Arc::new(Outbox {
        reject: Some(JobError::permanent("MessageRejected: not verified")),
        ..Outbox::default()
    });
    let job = worker(
        "email",
        json!({"from": "a@example.com", "to": "b@example.com", "text": "hello"}),
    );
    assert_eq!(
        run(&job, outbox, Arc::default()).await,
        Err(JobError::permanent("MessageRejected: not verified"))
    );
}

#[test]
fn email_header_fields_refuse_control_characters() {
    let base =
        json!({"from": "anne@example.com", "to": "b@example.com", "subject": "s", "text": "t"});
    for (field, value, expected) in [
        (
            "subject",
            json!("Hi\r\nBcc: all@example.com"),
            "params.subject: has a control character",
        ),
        (
            "from",
            json!("Anne\r\nBcc: x@example.com <anne@example.com>"),
            "params.from: has a control character",
        ),
        (
            "to",
            json!(["ok@example.com", "Bob\n <b@example.com>"]),
            "params.to[1]: has a control character",
        ),
        (
            "replyTo",
            json!("Eve\u{7} <e@example.com>"),
            "params.replyTo[0]: has a control character",
        ),
    ] {
        let mut params = base.clone();
        params[field] = value;
        let error = check("email", params).unwrap_err();
        assert!(error.starts_with(expected), "{field}: {error}");
        assert!(
            !error.contains("Bcc"),
            "the message does not echo the value: {error}"
        );
    }
}

#[test]
fn spawn_params_check_the_child_template() {
    assert_eq!(
        check(
            "spawn",
            json!({"worker": {"kind": "log", "params": {"message": "hi"}}})
        ),
        Ok(())
    );
    for (value, expected) in [
        (
            json!({"worker": "log"}),
            "params.worker: invalid type: string, expected a map",
        ),
        (
            json!({"worker": {"id": "x", "kind": "log"}}),
            "params.worker.id: is chosen by spawn",
        ),
        (
            json!({"worker": {"params": {}}}),
            "params.worker.kind: is required",
        ),
        (
            json!({"worker": {"kind": "log", "schedule": "often"}}),
            "params.worker.schedule: expected rate(5 minutes)",
        ),
        (
            json!({"worker": {"kind": "log", "maxAttempts": "many"}}),
            "params.worker.maxAttempts: expected a number (N), got a string (S)",
        ),
    ] {
        let error = check("spawn", value.clone()).expect_err(&value.to_string());
        assert!(error.starts_with(expected), "{value}: got {error:?}");
    }
}

#[tokio::test]
async fn spawn_writes_one_enabled_child_per_due_time() {
    let table = Arc::new(Table::default());
    let parent = worker(
        "spawn",
        json!({"worker": {"kind": "log", "params": {"message": "child"}}}),
    );
    let summary = run(&parent, Arc::default(), table.clone()).await.unwrap();
    assert_eq!(summary, "spawned worker w1#2027-01-01T09:00:00Z");
    // A retry of the same due time finds its child already written.
    let again = run(&parent, Arc::default(), table.clone()).await.unwrap();
    assert_eq!(
        again,
        "worker w1#2027-01-01T09:00:00Z already exists (an earlier attempt wrote it)"
    );
    let children = table.workers();
    assert_eq!(children.len(), 1);
    let child = &children[0];
    assert!(child.enabled);
    assert_eq!(
        (
            child.parent_id.as_deref(),
            child.spawn_depth,
            child.kind.as_str()
        ),
        (Some("w1"), 1, "log")
    );
}

#[tokio::test]
async fn spawn_gives_the_child_exactly_the_values_its_template_holds() {
    let value =
        |json: serde_json::Value| -> AttributeValue { serde_json::from_value(json).unwrap() };
    let template = value(json!({"M": {
        "kind": {"S": "log"},
        "params": {"M": {
            "message": {"S": "child"},
            "big": {"N": "12345678901234567890123456789"},
            "price": {"N": "0.10"},
            "tags": {"SS": ["a", "b"]},
        }},
    }}));
    let mut parent = worker("spawn", json!({})).to_item();
    parent.insert("params".into(), value(json!({"M": {"worker": template}})));
    parent.insert("taskId".into(), AttributeValue::S("t1".into()));
    let parent = Worker::from_item(&parent).unwrap();
    let table = Arc::new(Table::default());
    run(&parent, Arc::default(), table.clone()).await.unwrap();
    let child = table.items.lock().unwrap()[0].clone();
    let Some(AttributeValue::M(params)) = child.get("params") else {
        panic!("{child:?}")
    };
    assert_eq!(
        params.get("big"),
        Some(&AttributeValue::N("12345678901234567890123456789".into()))
    );
    assert_eq!(params.get("price"), Some(&AttributeValue::N("0.10".into())));
    assert_eq!(
        params.get("tags"),
        Some(&AttributeValue::Ss(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        child.get("parentTaskId"),
        Some(&AttributeValue::S("t1".into()))
    );
}

#[tokio::test]
async fn spawn_does_not_take_an_item_it_did_not_write_for_its_child() {
    let parent = Worker {
        task_id: Some("t1".into()),
        ..worker(
            "spawn",
            json!({"worker": {"kind": "log", "params": {"message": "child"}}}),
        )
    };
    let table = Arc::new(Table::default());
    let squatter: Item = serde_dynamo::to_item(json!({
        "id": "w1#2027-01-01T09:00:00Z", "kind": "log", "parentId": "w1", "parentTaskId": "t0",
    }))
    .unwrap();
    table.items.lock().unwrap().push(squatter);
    let error = run(&parent, Arc::default(), table.clone())
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.message,
        "an item w1#2027-01-01T09:00:00Z exists already and is not this worker's child for this \
         due time; remove it, or it stands in for no run"
    );
}

#[test]
fn a_recurring_spawn_of_recurring_children_is_refused_unless_allowed() {
    let tree = |allow: bool| Worker {
        schedule: Some("rate(1 second)".parse().unwrap()),
        ..worker(
            "spawn",
            json!({"allowRecurringChildren": allow, "worker": {"kind": "log",
                   "schedule": "rate(1 second)", "params": {"message": "x"}}}),
        )
    };
    let error = crate::jobs::builtin()
        .check(&tree(false))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "params.worker.schedule: a recurring spawn may not write recurring children"
        ),
        "{error}"
    );
    assert_eq!(crate::jobs::builtin().check(&tree(true)), Ok(()));
    let once = Worker {
        schedule: None,
        ..tree(false)
    };
    assert_eq!(
        crate::jobs::builtin().check(&once),
        Ok(()),
        "a one-shot spawn may"
    );
}

#[test]
fn a_spawn_worker_whose_id_leaves_no_room_for_child_ids_is_invalid() {
    let long = Worker {
        id: "p".repeat(2028),
        ..worker(
            "spawn",
            json!({"worker": {"kind": "log", "params": {"message": "x"}}}),
        )
    };
    let error = crate::jobs::builtin().check(&long).unwrap_err().to_string();
    assert!(
        error.starts_with("id: 2028 bytes leave no room for the ids of spawned children"),
        "{error}"
    );
    let fits = Worker {
        id: "p".repeat(2027),
        ..long
    };
    assert_eq!(crate::jobs::builtin().check(&fits), Ok(()));
}

#[tokio::test]
async fn spawn_chains_stop_at_the_depth_limit() {
    let table = Arc::new(Table::default());
    let deep = Worker {
        spawn_depth: JobLimits::default().max_spawn_depth,
        ..worker("spawn", json!({"worker": {"kind": "spawn", "params": {}}}))
    };
    let error = run(&deep, Arc::default(), table.clone()).await.unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.message,
        "spawn depth limit reached: w1#2027-01-01T09:00:00Z would be generation 6 (the limit is 5)"
    );
    assert!(table.workers().is_empty());
}

#[tokio::test]
async fn log_writes_its_message() {
    assert_eq!(
        check("log", json!({})).unwrap_err(),
        "params: missing field `message`"
    );
    let job = worker("log", json!({"message": "hello"}));
    assert_eq!(
        run(&job, Arc::default(), Arc::default()).await.unwrap(),
        "logged a message of 5 characters"
    );
}

/// A user's own kind, as a team would write it.
struct Report;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    team: String,
}

#[async_trait]
impl TypedJob for Report {
    const KIND: &'static str = "report";
    type Params = ReportParams;

    fn check(
        &self,
        params: &ReportParams,
        _worker: &Worker,
        _limits: &JobLimits,
    ) -> Result<(), crate::item::ItemError> {
        if params.team.is_empty() {
            return Err(crate::item::ItemError::new(
                "params.team",
                "must not be empty",
            ));
        }
        Ok(())
    }

    async fn run(&self, params: ReportParams, _ctx: &JobContext<'_>) -> Result<String, JobError> {
        Ok(format!("reported on {}", params.team))
    }
}

#[tokio::test]
async fn users_register_their_own_typed_kinds_once() {
    let registry = crate::jobs::builtin().register(Report).unwrap();
    assert_eq!(
        registry.kinds().collect::<Vec<_>>(),
        ["email", "http", "lambda", "log", "report", "spawn"]
    );
    assert_eq!(
        registry.clone().register(Report).err(),
        Some(crate::job::DuplicateKind("report"))
    );
    // Its parameters are decoded and checked, naming the attribute; then it runs.
    assert_eq!(
        registry
            .check(&worker("report", json!({"team": 7})))
            .unwrap_err()
            .to_string(),
        "params.team: invalid type: integer, expected a string"
    );
    assert_eq!(
        registry
            .check(&worker("report", json!({"team": ""})))
            .unwrap_err()
            .to_string(),
        "params.team: must not be empty"
    );
    let team = worker("report", json!({"team": "ops"}));
    assert_eq!(registry.check(&team), Ok(()));
    let services = services(Arc::default(), Arc::default());
    let ctx = JobContext {
        worker: &team,
        due: "2027-01-01T09:00:00Z".parse().unwrap(),
        attempt: 1,
        services: &services,
        reporter: &Kept::default(),
    };
    assert_eq!(
        registry.get("report").unwrap().execute(&ctx).await,
        Ok("reported on ops".into())
    );
}

#[test]
fn messages_about_params_never_echo_their_values() {
    for (kind, params) in [
        ("log", json!({"message": {"password": "hunter2"}})),
        ("log", json!({"message": 12345678})),
        (
            "email",
            json!({"from": "a@example.com", "to": "hunter2", "text": "t"}),
        ),
        ("spawn", json!({"worker": "hunter2"})),
    ] {
        let error = check(kind, params.clone()).unwrap_err();
        assert!(
            !error.contains("hunter2") && !error.contains("12345678"),
            "{params}: {error}"
        );
    }
}

#[test]
fn an_email_sender_outside_the_allowed_senders_is_refused_when_the_worker_is_armed() {
    let registry = crate::jobs::builtin().with_limits(JobLimits {
        allowed_senders: vec!["ops@example.com".into(), "*@example.org".into()],
        ..JobLimits::default()
    });
    let from = |sender: &str| {
        worker(
            "email",
            json!({"from": sender, "to": "b@example.net", "text": "t"}),
        )
    };
    assert_eq!(registry.check(&from("ops@example.com")), Ok(()));
    assert_eq!(registry.check(&from("Anne <anne@example.org>")), Ok(()));
    assert_eq!(
        registry
            .check(&from("dev@example.com"))
            .unwrap_err()
            .to_string(),
        "params.from: is not one of this deployment's allowed senders (NEXTDUE_ALLOWED_SENDERS)"
    );
    // Without a list, any sender SES has verified.
    assert_eq!(
        crate::jobs::builtin().check(&from("dev@example.com")),
        Ok(())
    );
}

mod http_job {
    use std::time::Duration;

    use serde_json::json;

    use super::{check, run, worker};
    use crate::item::Item;
    use crate::job::{HttpFailure, HttpResponse, JobError, Retry};
    use crate::jobs::http::{HttpParams, excerpt, failure, outcome};

    fn answer(status: u16, reason: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            reason: reason.into(),
            retry_after_seconds: None,
            body_start: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn two_hundreds_succeed_with_the_status_and_the_start_of_the_answer() {
        assert_eq!(
            outcome(&answer(200, "OK", "{\"ok\": true}\n")),
            Ok("HTTP 200 OK: {\"ok\": true}".into())
        );
        assert_eq!(
            outcome(&answer(204, "No Content", "")),
            Ok("HTTP 204 No Content".into())
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried_and_client_errors_are_not() {
        for status in [429, 500, 502, 503, 504] {
            let error = outcome(&answer(status, "", "busy")).unwrap_err();
            assert!(error.is_retryable(), "{status}");
            assert_eq!(error.retry, Retry::Backoff);
        }
        for status in [400, 401, 403, 404, 410, 422, 301] {
            assert!(
                !outcome(&answer(status, "", "")).unwrap_err().is_retryable(),
                "{status}"
            );
        }
        let throttled = HttpResponse {
            retry_after_seconds: Some(30),
            ..answer(429, "Too Many Requests", "slow down")
        };
        assert_eq!(
            outcome(&throttled),
            Err(JobError::retry_after(
                "HTTP 429 Too Many Requests: slow down",
                30
            ))
        );
    }

    #[test]
    fn the_excerpt_is_one_bounded_line() {
        let long = format!("line one\r\n\tline two\u{0007}{}", "x".repeat(500));
        let quoted = excerpt(long.as_bytes());
        assert!(quoted.starts_with("line one line two x"), "{quoted}");
        assert!(quoted.len() <= 200 && quoted.ends_with('…'));
        assert_eq!(excerpt(&[0xff, b'o', b'k']), "\u{fffd}ok");
    }

    #[test]
    fn failures_name_the_host_never_the_query() {
        let url = "https://api.example.com/hook?token=hunter2";
        let timed_out = failure(url, HttpFailure::TimedOut(10));
        assert_eq!(
            timed_out.message,
            "no answer from api.example.com within 10 s"
        );
        assert!(timed_out.is_retryable());
        let refused = failure(
            url,
            HttpFailure::Refused("10.0.0.1 is a private address".into()),
        );
        assert!(!refused.is_retryable());
        let network = failure(url, HttpFailure::Network("connection refused".into()));
        assert_eq!(
            network.message,
            "could not reach api.example.com: connection refused"
        );
        assert!(network.is_retryable() && !network.message.contains("hunter2"));
    }

    #[test]
    fn params_are_checked_before_the_worker_is_armed() {
        assert_eq!(
            check("http", json!({"url": "https://example.com/hook"})),
            Ok(())
        );
        let cases = [
            (
                json!({"url": "ftp://example.com/"}),
                "params.url: must be an http or https URL",
            ),
            (json!({"url": "not a url"}), "params.url: is not a URL"),
            (
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
                "params.url: 169.254.169.254 is a link-local address",
            ),
            (
                json!({"url": "http://[::1]:8080/"}),
                "params.url: ::1 is a loopback address",
            ),
            (
                json!({"url": "https://example.com", "method": "FETCH"}),
                "params.method: must be one of GET, POST",
            ),
            (
                json!({"url": "https://example.com", "headers": {"bad name": "x"}}),
                "params.headers: \"bad name\" is not a header name",
            ),
            (
                json!({"url": "https://example.com", "headers": {"x-a\r\nInjected: 1": "x"}}),
                "params.headers: \"x-a\\r\\nInjected: 1\" is not a header name",
            ),
            (
                json!({"url": "https://example.com", "headers": {"x-token": "a\nb"}}),
                "params.headers.x-token: is not a header value",
            ),
            (
                json!({"url": "https://example.com", "timeoutSeconds": 0}),
                "params.timeoutSeconds: must be from 1 to 900",
            ),
            (
                json!({"url": "https://example.com", "retries": 3}),
                "params.retries: unknown field `retries`",
            ),
        ];
        for (params, expected) in cases {
            let error = check("http", params.clone()).unwrap_err();
            assert!(error.starts_with(expected), "{params}: {error}");
        }
    }

    #[test]
    fn a_json_body_is_sent_as_json_and_a_string_as_it_is() {
        let request_of = |params: serde_json::Value| {
            let stored: Item = serde_dynamo::to_item(&params).unwrap();
            let params: HttpParams = serde_json::from_value(params).unwrap();
            params.request(Duration::from_secs(60), stored.get("body"))
        };
        let request = request_of(json!({
            "url": "https://example.com", "body": {"a": [1, 2]}, "headers": {"x-api-key": "k"}}));
        assert_eq!(request.method, "POST");
        assert_eq!(request.body.as_deref(), Some(&b"{\"a\":[1,2]}"[..]));
        assert!(
            request
                .headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        assert_eq!(request.timeout, Duration::from_secs(60));
        let request = request_of(json!({
            "url": "https://example.com", "method": "PUT", "body": "plain", "timeoutSeconds": 5,
            "headers": {"Content-Type": "text/csv"}}));
        assert_eq!(request.body.as_deref(), Some(&b"plain"[..]));
        assert_eq!(
            request.headers,
            [("Content-Type".into(), "text/csv".into())]
        );
        assert_eq!(request.timeout, Duration::from_secs(5));
    }

    #[tokio::test]
    async fn with_nothing_to_reach_the_run_fails_retryably_naming_the_host() {
        let hook = worker(
            "http",
            json!({"url": "https://hooks.example.com/x?secret=s"}),
        );
        let error = run(&hook, Default::default(), Default::default())
            .await
            .unwrap_err();
        assert!(error.is_retryable());
        assert!(
            error
                .message
                .starts_with("could not reach hooks.example.com"),
            "{error:?}"
        );
    }
}

mod lambda_job {
    use serde_json::json;

    use super::check;
    use crate::job::Invoked;
    use crate::jobs::lambda::{function_shape_problem, invoked_outcome};

    #[test]
    fn function_names_arns_and_qualifiers_are_accepted_in_lambdas_shapes() {
        for function in [
            "report",
            "report:live",
            "report:$LATEST",
            "report:7",
            "123456789012:function:report",
            "arn:aws:lambda:eu-west-1:123456789012:function:report",
            "arn:aws:lambda:eu-west-1:123456789012:function:report:live",
        ] {
            assert_eq!(function_shape_problem(function), None, "{function}");
        }
        for function in [
            "",
            "a b",
            "report:",
            "x".repeat(65).as_str(),
            "arn:aws:s3:::bucket",
            "a:b:c:d:e",
        ] {
            assert!(function_shape_problem(function).is_some(), "{function}");
        }
        assert!(
            check("lambda", json!({"function": "no spaces please"}))
                .unwrap_err()
                .starts_with("params.function:")
        );
        assert_eq!(
            check(
                "lambda",
                json!({"function": "report", "payload": {"any": "json"}})
            ),
            Ok(())
        );
    }

    #[test]
    fn a_function_error_is_retried_with_its_type_and_message() {
        let failed = Invoked {
            function_error: Some("Unhandled".into()),
            payload_start:
                br#"{"errorType":"TypeError","errorMessage":"x is undefined","trace":[]}"#.to_vec(),
        };
        let error = invoked_outcome("report", &failed).unwrap_err();
        assert!(error.is_retryable());
        assert_eq!(
            error.message,
            "report failed (Unhandled): TypeError: x is undefined"
        );
        let ok = Invoked {
            function_error: None,
            payload_start: b"\"done\"".to_vec(),
        };
        assert_eq!(
            invoked_outcome("report", &ok),
            Ok("invoked report: \"done\"".into())
        );
    }
}
