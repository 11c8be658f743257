//! Fault injection at the seam between nextdue and AWS: an SDK interceptor that sees every AWS
//! call the clients make, and can fail the Nth one, or every call from the Nth on (the process
//! "stops" between two calls: nothing after that point reaches AWS). Tests use it to prove the
//! invariants hold whatever call fails and wherever a handler dies.

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};

/// The IAM action (service and operation) an AWS call the interceptor recorded needs, such as
/// `dynamodb:UpdateItem`; `None` for a call it cannot name.
///
/// ```
/// use nextdue::faults::operation;
/// assert_eq!(operation("DynamoDB_20120810.UpdateItem").as_deref(), Some("dynamodb:UpdateItem"));
/// assert_eq!(operation("POST http://x/v2/email/outbound-emails").as_deref(), Some("ses:SendEmail"));
/// ```
pub fn operation(call: &str) -> Option<String> {
    let prefixes = [
        ("DynamoDB_20120810.", "dynamodb"),
        ("DynamoDBStreams_20120810.", "dynamodb"),
        ("AmazonSQS.", "sqs"),
        ("AWSEvents.", "events"),
        ("AWSSecurityTokenServiceV20110615.", "sts"),
    ];
    for (prefix, service) in prefixes {
        if let Some(operation) = call.strip_prefix(prefix) {
            return Some(format!("{service}:{operation}"));
        }
    }
    let (method, uri) = call.split_once(' ')?;
    let named = match method {
        "POST" if uri.contains("/v2/email/outbound-emails") => "ses:SendEmail",
        "POST" if uri.contains("/v2/email/identities") => "ses:CreateEmailIdentity",
        "POST" if uri.contains("/schedules/") => "scheduler:CreateSchedule",
        "GET" if uri.contains("/schedules") => "scheduler:ListSchedules",
        "DELETE" if uri.contains("/schedules/") => "scheduler:DeleteSchedule",
        "POST" if uri.contains("/2015-03-31/functions/") => "lambda:InvokeFunction",
        _ => return None,
    };
    Some(named.to_owned())
}

/// What to break.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// Nothing: only record the calls.
    #[default]
    Record,
    /// Fail call number N (1-based) once; the rest go through.
    FailCall(usize),
    /// Let N calls through, then fail every later one, as if the process died after call N.
    CrashAfter(usize),
}

#[derive(Debug, Default)]
struct State {
    plan: Plan,
    calls: Vec<String>,
}

/// The interceptor; clones share one plan and one record of calls.
#[derive(Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("plan", &self.plan())
            .field("calls", &self.calls().len())
            .finish()
    }
}

/// The error an injected fault raises.
#[derive(Debug, thiserror::Error)]
#[error("injected fault: {0}")]
pub struct InjectedFault(String);

impl Faults {
    /// Faults that follow `plan`.
    pub fn new(plan: Plan) -> Self {
        let faults = Faults::default();
        faults.state.lock().expect("faults").plan = plan;
        faults
    }

    /// The plan in force.
    pub fn plan(&self) -> Plan {
        self.state.lock().expect("faults").plan
    }

    /// Every call attempted so far, in order (`x-amz-target` or `METHOD path`).
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("faults").calls.clone()
    }

    /// The interceptor, ready for an SDK config.
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(self.clone())
    }
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "nextdue-faults"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let call = match request.headers().get("x-amz-target") {
            Some(target) => target.to_owned(),
            None => format!("{} {}", request.method(), request.uri()),
        };
        let mut state = self.state.lock().expect("faults");
        state.calls.push(call.clone());
        let number = state.calls.len();
        match state.plan {
            Plan::FailCall(n) if n == number => Err(Box::new(InjectedFault(format!(
                "call {number} ({call}) failed"
            )))),
            Plan::CrashAfter(n) if number > n => Err(Box::new(InjectedFault(format!(
                "stopped after call {n}; call {number} ({call}) never left"
            )))),
            _ => Ok(()),
        }
    }
}
