//! The scheduler Lambda: EventBridge Scheduler invokes it every minute (the template's
//! `SchedulerTick`), and it runs one tick of `shared::schedule` — the schedules due in the
//! DynamoDB registry, each fire time claimed, each request sent to the intake queue, where
//! the policy function takes it like a delivery. What `ota serve`'s ticker does on one
//! machine. It holds no GitHub key and starts no workflow: it reads and claims schedules
//! and sends messages, nothing else. The invocation's payload is not read: the time is the
//! function's clock, so a retried invocation fires what is due then, and nothing twice.

use aws_config::SdkConfig;
use ota_aws::{DynamoStore, SqsEventQueue};
use shared::schedule::{TickError, TickReport, tick};
use shared::settings::EnvReader;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `JOBS_TABLE`: the DynamoDB table, which holds the schedule registry.
    pub table: String,
    /// `INTAKE_QUEUE_URL`: where the requests go.
    pub queue_url: String,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvReader::read_all(var, |env| Self {
            table: env.required("JOBS_TABLE"),
            queue_url: env.required("INTAKE_QUEUE_URL"),
        })
    }
}

/// The clients, built once.
pub struct Scheduler {
    pub registry: DynamoStore,
    pub queue: SqsEventQueue,
}

pub fn build(settings: &Settings, aws: &SdkConfig) -> Scheduler {
    Scheduler {
        registry: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        queue: SqsEventQueue::new(aws_sdk_sqs::Client::new(aws), &settings.queue_url),
    }
}

/// One invocation: one tick at `now_ms`. An error fails the invocation, which the
/// scheduler's retry policy tries again; fire times already claimed are not fired twice.
pub async fn handle(scheduler: &Scheduler, now_ms: u64) -> Result<TickReport, TickError> {
    let report = tick(&scheduler.registry, &scheduler.queue, now_ms).await;
    match &report {
        Ok(report) => {
            tracing::info!(queued = report.queued.len(), taken = report.taken, "ticked");
        }
        Err(err) => tracing::error!(error = %err, "the tick failed"),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_setting() {
        let err = Settings::from_env(env(&[])).expect_err("empty");
        assert!(err.contains("JOBS_TABLE is not set"), "{err}");
        assert!(err.contains("INTAKE_QUEUE_URL is not set"), "{err}");
        let settings = Settings::from_env(env(&[
            ("JOBS_TABLE", "jobs"),
            ("INTAKE_QUEUE_URL", "https://sqs.example/intake.fifo"),
        ]))
        .expect("complete");
        assert_eq!(settings.table, "jobs");
    }
}
