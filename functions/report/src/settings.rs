//! The report function's settings, read once at start-up, and the stage built from them.

use aws_config::SdkConfig;
use lambda_support::{ConfigError, GitHubAppSettings};
use ota_aws::{DynamoStore, EcsLauncher, RunnerTasks};
use ota_github::GitHubClient;
use shared::clock::now_ms;
use shared::report::Reporter;
use shared::settings::EnvReader;

/// The stage as the function runs it.
pub type Stage = Reporter<GitHubClient, DynamoStore, EcsLauncher>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The GitHub App the function acts as.
    pub github: GitHubAppSettings,
    /// `JOBS_TABLE`.
    pub table: String,
    /// `RUNNER_CLUSTER`: where the runners run, to stop those of a finished job.
    pub runner_cluster: String,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvReader::read_all(var, |env| Self {
            github: GitHubAppSettings::read(env),
            table: env.required("JOBS_TABLE"),
            runner_cluster: env.required("RUNNER_CLUSTER"),
        })
    }
}

/// The runner tasks as far as stopping them goes: only the cluster is read.
fn runner_tasks(cluster: &str) -> RunnerTasks {
    RunnerTasks {
        cluster: cluster.to_owned(),
        task_definition: String::new(),
        container: String::new(),
        subnets: Vec::new(),
        security_groups: Vec::new(),
        assign_public_ip: false,
        logs: None,
    }
}

/// Builds the stage: reads the App's private key and checks every setting that can be
/// checked before the first message.
pub async fn build_stage(settings: &Settings, aws: &SdkConfig) -> Result<Stage, ConfigError> {
    let github = settings.github.client(aws).await?;
    Ok(Reporter {
        github,
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        launcher: EcsLauncher::new(
            aws_sdk_ecs::Client::new(aws),
            runner_tasks(&settings.runner_cluster),
        ),
        clock: now_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_or_invalid_setting() {
        let err = Settings::from_env(env(&[("APP_ID", "ollama")])).expect_err("incomplete");
        for expected in [
            "APP_ID must be the App's numeric id",
            "PRIVATE_KEY_SECRET_ARN is not set",
            "JOBS_TABLE is not set",
            "RUNNER_CLUSTER is not set",
        ] {
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn reads_a_complete_environment_on_github_com() {
        let complete = env(&[
            ("APP_ID", "12345"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
            ("JOBS_TABLE", "jobs"),
            ("RUNNER_CLUSTER", "ota"),
        ]);
        let settings = Settings::from_env(complete).expect("complete");
        assert_eq!(settings.github.app_id, shared::ids::AppId(12345));
        assert_eq!(settings.github.api_url, "https://api.github.com");
        assert_eq!(
            (settings.table.as_str(), settings.runner_cluster.as_str()),
            ("jobs", "ota")
        );
    }
}
