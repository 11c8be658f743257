//! Plays EventBridge Scheduler, which the emulator stores but never fires: sends each due
//! one-time schedule's input to its target queue, then deletes the schedule
//! (`ActionAfterCompletion: DELETE`). A crash between the two sends the message again later,
//! which the executor's claim makes harmless.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::adapters::sdk_error;
use crate::adapters::sqs::Delivery;
use crate::seams::Deliver;

/// Fires due schedules of one group.
pub struct SchedulePump;

impl SchedulePump {
    /// Fires every schedule in the group whose `at()` time has come; returns how many.
    pub async fn run_once(delivery: &Delivery, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let (scheduler, group) = delivery.scheduler();
        let mut names = Vec::new();
        let mut pages = scheduler
            .list_schedules()
            .group_name(group)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| anyhow::anyhow!("ListSchedules {group}: {}", sdk_error::message(e)))?;
            names.extend(page.schedules.into_iter().filter_map(|s| s.name));
        }
        let mut fired = 0;
        for name in names {
            let schedule = scheduler
                .get_schedule()
                .name(&name)
                .group_name(group)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("GetSchedule {name}: {}", sdk_error::message(e)))?;
            let at = schedule
                .schedule_expression
                .as_deref()
                .and_then(|e| e.strip_prefix("at(")?.strip_suffix(')').map(str::to_owned))
                .and_then(|t| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S").ok())
                .map(|t| t.and_utc());
            let (Some(at), Some(target)) = (at, schedule.target) else {
                tracing::warn!(schedule = %name, "not a one-time schedule of nextdue's; left alone");
                continue;
            };
            if at > now {
                continue;
            }
            let queue = delivery.queue_from_arn(&target.arn).await?;
            delivery
                .forward(&queue, target.input.as_deref().unwrap_or_default())
                .await?;
            scheduler
                .delete_schedule()
                .name(&name)
                .group_name(group)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("DeleteSchedule {name}: {}", sdk_error::message(e)))?;
            tracing::debug!(schedule = %name, at = %at, "schedule fired");
            fired += 1;
        }
        Ok(fired)
    }
}
