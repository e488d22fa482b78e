//! The dispatch function's settings, read once at start-up, and the stage built from them.

use crate::token::TokenDesk;
use aws_config::SdkConfig;
use lambda_support::GitHubAppSettings;
use ota_aws::{
    DynamoStore, EcsGpuService, EcsLauncher, GpuServiceTarget, RunnerLogs, RunnerTasks,
    SecretsManagerSecret, StepFunctionsWorkflow,
};
use secrecy::SecretString;
use shared::clock::now_ms;
use shared::dispatch::gpu::DEFAULT_IDLE;
use shared::dispatch::{DispatchSettings, Dispatcher, Endpoints, GrantKey, Limits, ManagedGpu};
use shared::settings::EnvReader;
use std::time::Duration;

use crate::ReportQueue;

/// The stage as the function runs it.
pub type Stage = Dispatcher<DynamoStore, StepFunctionsWorkflow, EcsLauncher, EcsGpuService>;

/// GPU slots when `GPU_SLOTS` is not set: Ollama's default `OLLAMA_NUM_PARALLEL` is 4
/// for a GPU with room for it.
const DEFAULT_GPU_SLOTS: u32 = 4;
/// Hosted jobs at once when `HOSTED_SLOTS` is not set: modest, as the hosted service's
/// rate limits are per account.
const DEFAULT_HOSTED_SLOTS: u32 = 4;
/// Jobs of one installation at once when `INSTALLATION_SLOTS` is not set: half the GPU,
/// so a second installation always finds room.
const DEFAULT_INSTALLATION_SLOTS: u32 = 2;
/// The runner's container name when `RUNNER_CONTAINER` is not set (as `template.yaml`
/// names it).
const DEFAULT_CONTAINER: &str = "runner";
/// The `awslogs-stream-prefix` when `RUNNER_LOG_STREAM_PREFIX` is not set.
const DEFAULT_LOG_STREAM_PREFIX: &str = "runner";
/// The GPU Ollama's container name when `GPU_SERVICE_CONTAINER` is not set (as
/// `template.yaml` names it).
const DEFAULT_GPU_CONTAINER: &str = "ollama";

/// The managed GPU Ollama service, when the stack runs one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuSettings {
    /// `GPU_SERVICE_CLUSTER`, `GPU_SERVICE_NAME`, `GPU_SERVICE_CONTAINER`.
    pub target: GpuServiceTarget,
    /// `GPU_IDLE_SECONDS`: how long it runs with nothing to do before it is stopped.
    pub idle: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `JOBS_TABLE`.
    pub table: String,
    /// `STATE_MACHINE_ARN`: the job workflow, whose waits this function fails.
    pub state_machine_arn: String,
    /// `RUNNER_CLUSTER`, `RUNNER_TASK_DEFINITION`, `RUNNER_CONTAINER`, `RUNNER_SUBNETS`
    /// and `RUNNER_SECURITY_GROUPS` (comma-separated), `RUNNER_ASSIGN_PUBLIC_IP`
    /// (`true`/`false`), `RUNNER_LOG_GROUP` and `RUNNER_LOG_STREAM_PREFIX`.
    pub runner: RunnerTasks,
    /// `SELF_HOSTED_OLLAMA_URL`, `HOSTED_OLLAMA_URL` (either may be empty).
    pub endpoints: Endpoints,
    /// `GPU_SLOTS`, `HOSTED_SLOTS`, `INSTALLATION_SLOTS`.
    pub limits: Limits,
    /// The GPU Ollama service serving `SELF_HOSTED_OLLAMA_URL`, started and stopped by
    /// this function; `None` (no `GPU_SERVICE_NAME`) when that Ollama is always there.
    pub gpu: Option<GpuSettings>,
    /// `APP_ID`, `PRIVATE_KEY_SECRET_ARN`, `GITHUB_API_URL`: the App, whose key mints the
    /// runners' tokens and keys their credentials' digests.
    pub github: GitHubAppSettings,
    /// `OLLAMA_API_KEY_SECRET_ARN`: the hosted service's key, handed with the token to a
    /// runner whose attempt runs there.
    pub ollama_key_secret_arn: Option<String>,
    /// `REPORT_QUEUE_URL`: where a job that waits for a slot is reported as queued.
    pub report_queue_url: String,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut read = EnvReader::new(var);
        let table = read.required("JOBS_TABLE");
        let report_queue_url = read.required("REPORT_QUEUE_URL");
        let state_machine_arn = read.required("STATE_MACHINE_ARN");
        let cluster = read.required("RUNNER_CLUSTER");
        let task_definition = read.required("RUNNER_TASK_DEFINITION");
        let container = read
            .optional("RUNNER_CONTAINER")
            .unwrap_or_else(|| DEFAULT_CONTAINER.to_owned());
        let subnets = read.required_list("RUNNER_SUBNETS");
        let security_groups = read.required_list("RUNNER_SECURITY_GROUPS");
        let assign_public_ip =
            read.parsed_or("RUNNER_ASSIGN_PUBLIC_IP", false, "`true` or `false`");
        let logs = read.optional("RUNNER_LOG_GROUP").map(|group| RunnerLogs {
            region: read.optional("AWS_REGION").unwrap_or_default(),
            group,
            stream_prefix: read
                .optional("RUNNER_LOG_STREAM_PREFIX")
                .unwrap_or_else(|| DEFAULT_LOG_STREAM_PREFIX.to_owned()),
        });
        let endpoints = Endpoints {
            self_hosted: read.optional("SELF_HOSTED_OLLAMA_URL"),
            hosted: read.optional("HOSTED_OLLAMA_URL"),
            self_hosted_down: None,
        };
        if endpoints.self_hosted.is_none() && endpoints.hosted.is_none() {
            read.problem(
                "neither SELF_HOSTED_OLLAMA_URL nor HOSTED_OLLAMA_URL is set: runners would \
                 have no model",
            );
        }
        let gpu = read_gpu(&mut read, endpoints.self_hosted.is_some());
        let github = GitHubAppSettings::read(&mut read);
        let ollama_key_secret_arn = read.optional("OLLAMA_API_KEY_SECRET_ARN");
        let limits = Limits {
            gpu_slots: read.parsed_or("GPU_SLOTS", DEFAULT_GPU_SLOTS, "a whole number"),
            hosted_slots: read.parsed_or("HOSTED_SLOTS", DEFAULT_HOSTED_SLOTS, "a whole number"),
            per_installation: read.parsed_or(
                "INSTALLATION_SLOTS",
                DEFAULT_INSTALLATION_SLOTS,
                "a whole number",
            ),
        };
        read.finish(Self {
            table,
            state_machine_arn,
            runner: RunnerTasks {
                cluster,
                task_definition,
                container,
                subnets,
                security_groups,
                assign_public_ip,
                logs,
            },
            endpoints,
            limits,
            gpu,
            github,
            ollama_key_secret_arn,
            report_queue_url,
        })
    }
}

/// The managed GPU service's settings: all or none of its cluster and name.
fn read_gpu<F: Fn(&str) -> Option<String>>(
    read: &mut EnvReader<F>,
    has_self_hosted: bool,
) -> Option<GpuSettings> {
    let cluster = read.optional("GPU_SERVICE_CLUSTER");
    let service = read.optional("GPU_SERVICE_NAME");
    let (cluster, service) = match (cluster, service) {
        (None, None) => return None,
        (Some(cluster), Some(service)) => (cluster, service),
        (Some(_), None) => {
            read.problem("GPU_SERVICE_CLUSTER is set without GPU_SERVICE_NAME");
            return None;
        }
        (None, Some(_)) => {
            read.problem("GPU_SERVICE_NAME is set without GPU_SERVICE_CLUSTER");
            return None;
        }
    };
    if !has_self_hosted {
        read.problem(
            "GPU_SERVICE_NAME is set without SELF_HOSTED_OLLAMA_URL, the service's address",
        );
    }
    let idle_seconds = read.parsed_or(
        "GPU_IDLE_SECONDS",
        DEFAULT_IDLE.as_secs(),
        "a whole number of seconds",
    );
    Some(GpuSettings {
        target: GpuServiceTarget {
            cluster,
            service,
            container: read
                .optional("GPU_SERVICE_CONTAINER")
                .unwrap_or_else(|| DEFAULT_GPU_CONTAINER.to_owned()),
        },
        idle: Duration::from_secs(idle_seconds),
    })
}

/// The report queue the function tells of queued jobs.
pub fn build_reports(settings: &Settings, aws: &SdkConfig) -> ReportQueue {
    ReportQueue::new(aws_sdk_sqs::Client::new(aws), &settings.report_queue_url)
}

/// Builds the stage from the settings and one SDK configuration.
pub fn build_stage(
    settings: &Settings,
    aws: &SdkConfig,
    grants: GrantKey,
) -> Result<Stage, String> {
    let workflow =
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(aws), &settings.state_machine_arn)
            .map_err(|err| format!("STATE_MACHINE_ARN: {err}"))?;
    Ok(Dispatcher {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        workflow,
        launcher: EcsLauncher::new(aws_sdk_ecs::Client::new(aws), settings.runner.clone()),
        settings: DispatchSettings {
            limits: settings.limits,
            endpoints: settings.endpoints.clone(),
        },
        gpu: settings.gpu.as_ref().map(|gpu| ManagedGpu {
            service: EcsGpuService::new(aws_sdk_ecs::Client::new(aws), gpu.target.clone()),
            idle: gpu.idle,
        }),
        grants,
        clock: now_ms,
    })
}

/// Builds the token desk (the runners' token requests) from the settings, one SDK
/// configuration and the App's private key.
pub fn build_token_desk(
    settings: &Settings,
    aws: &SdkConfig,
    private_key: SecretString,
) -> Result<TokenDesk, String> {
    let grants = GrantKey::from_app_key(&private_key);
    let tokens = settings
        .github
        .client_with_key(private_key)
        .map_err(|err| format!("the GitHub App: {err}"))?;
    Ok(TokenDesk {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        grants,
        tokens,
        ollama_key: settings
            .ollama_key_secret_arn
            .as_ref()
            .map(|arn| SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(aws), arn)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_or_invalid_setting() {
        let err = Settings::from_env(env(&[("GPU_SLOTS", "four"), ("RUNNER_SUBNETS", " , ")]))
            .expect_err("incomplete");
        for expected in [
            "JOBS_TABLE is not set",
            "REPORT_QUEUE_URL is not set",
            "STATE_MACHINE_ARN is not set",
            "RUNNER_CLUSTER is not set",
            "RUNNER_SUBNETS lists nothing",
            "RUNNER_SECURITY_GROUPS is not set",
            "neither SELF_HOSTED_OLLAMA_URL nor HOSTED_OLLAMA_URL",
            "GPU_SLOTS must be a whole number",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn reads_a_complete_configuration_with_defaults() {
        let settings = Settings::from_env(env(&[
            ("JOBS_TABLE", "jobs"),
            (
                "REPORT_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/1/ota-report.fifo",
            ),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:job",
            ),
            ("RUNNER_CLUSTER", "ota"),
            ("RUNNER_TASK_DEFINITION", "ota-runner"),
            ("RUNNER_SUBNETS", "subnet-1, subnet-2"),
            ("RUNNER_SECURITY_GROUPS", "sg-1"),
            ("RUNNER_LOG_GROUP", "/ota/runner"),
            ("AWS_REGION", "eu-west-1"),
            ("SELF_HOSTED_OLLAMA_URL", "http://gpu.internal:11434"),
            ("APP_ID", "42"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
        ]))
        .expect("complete");
        assert_eq!(settings.runner.subnets, ["subnet-1", "subnet-2"]);
        assert_eq!(settings.runner.container, "runner");
        assert!(!settings.runner.assign_public_ip);
        assert_eq!(
            settings
                .runner
                .logs
                .as_ref()
                .map(|logs| logs.region.as_str()),
            Some("eu-west-1")
        );
        assert_eq!(settings.endpoints.hosted, None);
        assert_eq!(settings.limits.gpu_slots, DEFAULT_GPU_SLOTS);
        assert_eq!(settings.gpu, None);
    }

    const BASE: [(&str, &str); 9] = [
        ("JOBS_TABLE", "jobs"),
        ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
        ("REPORT_QUEUE_URL", "https://sqs/1/ota-report.fifo"),
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:1:stateMachine:job",
        ),
        ("RUNNER_CLUSTER", "ota"),
        ("RUNNER_TASK_DEFINITION", "ota-runner"),
        ("RUNNER_SUBNETS", "subnet-1"),
        ("RUNNER_SECURITY_GROUPS", "sg-1"),
        ("APP_ID", "42"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        BASE.iter().chain(extra).copied().collect()
    }

    #[test]
    fn reads_the_managed_gpu_service() {
        let settings = Settings::from_env(env(&with(&[
            ("SELF_HOSTED_OLLAMA_URL", "http://ollama.ota.internal:11434"),
            ("GPU_SERVICE_CLUSTER", "ota-gpu"),
            ("GPU_SERVICE_NAME", "ollama"),
        ])))
        .expect("complete");
        let gpu = settings.gpu.expect("a managed GPU service");
        assert_eq!(gpu.target.cluster, "ota-gpu");
        assert_eq!(gpu.target.service, "ollama");
        assert_eq!(gpu.target.container, DEFAULT_GPU_CONTAINER);
        assert_eq!(gpu.idle, DEFAULT_IDLE);

        let settings = Settings::from_env(env(&with(&[
            ("SELF_HOSTED_OLLAMA_URL", "http://ollama.ota.internal:11434"),
            ("GPU_SERVICE_CLUSTER", "ota-gpu"),
            ("GPU_SERVICE_NAME", "ollama"),
            ("GPU_IDLE_SECONDS", "300"),
        ])))
        .expect("complete");
        assert_eq!(
            settings.gpu.map(|gpu| gpu.idle),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn a_half_configured_gpu_service_is_named() {
        let err = Settings::from_env(env(&with(&[
            ("HOSTED_OLLAMA_URL", "https://ollama.com"),
            ("GPU_SERVICE_NAME", "ollama"),
        ])))
        .expect_err("incomplete");
        assert!(
            err.contains("GPU_SERVICE_NAME is set without GPU_SERVICE_CLUSTER"),
            "{err}"
        );
        let err = Settings::from_env(env(&with(&[
            ("HOSTED_OLLAMA_URL", "https://ollama.com"),
            ("GPU_SERVICE_CLUSTER", "ota-gpu"),
            ("GPU_SERVICE_NAME", "ollama"),
            ("GPU_IDLE_SECONDS", "soon"),
        ])))
        .expect_err("incomplete");
        assert!(err.contains("without SELF_HOSTED_OLLAMA_URL"), "{err}");
        assert!(
            err.contains("GPU_IDLE_SECONDS must be a whole number of seconds"),
            "{err}"
        );
    }
}
