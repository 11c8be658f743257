//! EventBridge Scheduler's part of delivery: a one-time schedule, deleted after it fires, whose
//! target is the worker's queue and whose input is the message (for waits past SQS's 15
//! minutes).

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};
use chrono::{DateTime, Utc};

use crate::adapters::sdk_error::{self, call_failed};
use crate::config::Names;
use crate::lifecycle::Message;
use crate::seams::{DeliveryError, Sent, schedule_name};

/// Creates the one-time schedule that sends `body` (the serialized `message`) to the queue
/// `queue_arn` at `at`, in the group and with the role `names` gives. A schedule of the same
/// message already in place (a retried delivery) is success, `existed`.
pub async fn create_one_time(
    client: &aws_sdk_scheduler::Client,
    names: &Names,
    queue_arn: &str,
    message: &Message,
    body: String,
    at: DateTime<Utc>,
) -> Result<Sent, DeliveryError> {
    let name = schedule_name(message);
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
    let result = client
        .create_schedule()
        .name(&name)
        .group_name(&names.schedule_group)
        .schedule_expression(format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .target(target)
        .action_after_completion(ActionAfterCompletion::Delete)
        .send()
        .await;
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
