//! EventBridge Scheduler's part of delivery: a one-time schedule, deleted after it fires, whose
//! target is the worker's queue and whose input is the message (for waits past SQS's 15
//! minutes).

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use chrono::{DateTime, Utc};

use aws_sdk_scheduler::config::http::HttpResponse;
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::operation::create_schedule::builders::CreateScheduleFluentBuilder;

use crate::adapters::sdk_error::{self, SdkError, call_failed};
use crate::config::Names;
use crate::seams::{DeliveryError, Sent};

/// The request that creates the one-time schedule `name`, which sends `body` (a serialized
/// message) to the queue `queue_arn` at `at`, in the group and with the role `names` gives.
pub fn one_time(
    client: &aws_sdk_scheduler::Client,
    names: &Names,
    queue_arn: &str,
    name: &str,
    body: String,
    at: DateTime<Utc>,
) -> CreateScheduleFluentBuilder {
    let target = Target::builder()
        .arn(queue_arn)
        .role_arn(&names.scheduler_role_arn)
        .input(body)
        .build()
        .expect("arn, role and input are set");
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .expect("mode is set");
    client
        .create_schedule()
        .name(name)
        .group_name(&names.schedule_group)
        .schedule_expression(format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .target(target)
        .action_after_completion(ActionAfterCompletion::Delete)
}

/// What became of creating the schedule `name`: a schedule of the same name already in place
/// (a retried delivery of the same message) is success, `existed`.
pub fn created<R>(
    name: String,
    result: Result<R, SdkError<CreateScheduleError, HttpResponse>>,
) -> Result<Sent, DeliveryError> {
    match result {
        Ok(_) => Ok(Sent::Scheduled {
            name,
            existed: false,
        }),
        Err(e) if sdk_error::code_is(&e, &["ConflictException"]) => Ok(Sent::Scheduled {
            name,
            existed: true,
        }),
        Err(e) => Err(call_failed("CreateSchedule", &name, e)),
    }
}
