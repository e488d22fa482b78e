//! [`GpuService`] on ECS: the GPU Ollama is one ECS service (on GPU instances of an Auto
//! Scaling group behind a capacity provider with managed scaling, `template.yaml`), started
//! and stopped by its desired count with `UpdateService` (1 or 0; the instances follow the
//! tasks). It is ready when one of its tasks runs with its Ollama container passing its
//! health check (every model present), read with `DescribeServices`, `ListTasks` and
//! `DescribeTasks`.

use crate::ecs::{EcsFailure, ecs_failure};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{DesiredStatus, HealthStatus, Task};
use shared::ports::{GpuError, GpuService, GpuState};

/// Error codes of ECS that mean "later", not "wrong".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "LimitExceededException",
    "ServerException",
];

/// `DescribeTasks` reads at most this many tasks at once.
const MAX_DESCRIBED_TASKS: usize = 100;

/// Which ECS service is the GPU Ollama.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuServiceTarget {
    /// The cluster's name or ARN.
    pub cluster: String,
    /// The service's name (not its ARN): its tasks' `group` is `service:<name>`.
    pub service: String,
    /// The Ollama container's name, whose health check says the models are there.
    pub container: String,
}

#[derive(Clone)]
pub struct EcsGpuService {
    client: Client,
    target: GpuServiceTarget,
}

impl EcsGpuService {
    pub fn new(client: Client, target: GpuServiceTarget) -> Self {
        Self { client, target }
    }

    /// Whether `task` is one of the service's, meant to run, its Ollama container healthy
    /// (ECS runs health checks only in running containers, so a healthy container is a
    /// serving one). The group is checked here too, though `ListTasks` was asked for the
    /// service's tasks only.
    fn serves(&self, task: &Task) -> bool {
        let group = format!("service:{}", self.target.service);
        task.group() == Some(group.as_str())
            && task.desired_status() == Some("RUNNING")
            && task.containers().iter().any(|container| {
                container.name() == Some(self.target.container.as_str())
                    && container.health_status() == Some(&HealthStatus::Healthy)
            })
    }

    async fn set_desired_count(&self, count: i32, what: &str) -> Result<(), GpuError> {
        self.client
            .update_service()
            .cluster(&self.target.cluster)
            .service(&self.target.service)
            .desired_count(count)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| gpu_error(what, &err))
    }
}

/// A failed call: throttling, ECS's own failures and no answer are transient; the rest
/// (a missing cluster or service, a denied call) is a misconfiguration.
fn gpu_error<E, R>(what: &str, err: &SdkError<E, R>) -> GpuError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match ecs_failure(what, err) {
        EcsFailure::Answered { code, text } if TRANSIENT_CODES.contains(&code.as_str()) => {
            GpuError::Unavailable(text)
        }
        EcsFailure::Answered { text, .. } | EcsFailure::NotSent(text) => GpuError::Rejected(text),
        EcsFailure::NoAnswer(text) => GpuError::Unavailable(text),
    }
}

impl GpuService for EcsGpuService {
    async fn state(&self) -> Result<GpuState, GpuError> {
        let what = "reading the GPU Ollama service";
        let described = self
            .client
            .describe_services()
            .cluster(&self.target.cluster)
            .services(&self.target.service)
            .send()
            .await
            .map_err(|err| gpu_error(what, &err))?;
        let Some(service) = described.services().first() else {
            let why = described
                .failures()
                .iter()
                .filter_map(|failure| failure.reason())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(GpuError::Rejected(format!(
                "{what}: service {} of cluster {} not found ({why})",
                self.target.service, self.target.cluster
            )));
        };
        if service.status() != Some("ACTIVE") {
            return Err(GpuError::Rejected(format!(
                "{what}: service {} is {}",
                self.target.service,
                service.status().unwrap_or("of no status")
            )));
        }
        if service.desired_count() < 1 {
            return Ok(GpuState::Stopped);
        }
        let listed = self
            .client
            .list_tasks()
            .cluster(&self.target.cluster)
            .service_name(&self.target.service)
            .desired_status(DesiredStatus::Running)
            .send()
            .await
            .map_err(|err| gpu_error("listing the GPU Ollama's tasks", &err))?;
        let arns: Vec<String> = listed
            .task_arns()
            .iter()
            .take(MAX_DESCRIBED_TASKS)
            .cloned()
            .collect();
        if arns.is_empty() {
            return Ok(GpuState::Starting);
        }
        let tasks = self
            .client
            .describe_tasks()
            .cluster(&self.target.cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(|err| gpu_error("reading the GPU Ollama's tasks", &err))?;
        if tasks.tasks().iter().any(|task| self.serves(task)) {
            Ok(GpuState::Ready)
        } else {
            Ok(GpuState::Starting)
        }
    }

    async fn start(&self) -> Result<(), GpuError> {
        self.set_desired_count(1, "starting the GPU Ollama service")
            .await
    }

    async fn stop(&self) -> Result<(), GpuError> {
        self.set_desired_count(0, "stopping the GPU Ollama service")
            .await
    }
}
