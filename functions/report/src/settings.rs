//! The report function's settings, read once at start-up, and the stage built from them.

use aws_config::SdkConfig;
use ota_aws::{DynamoStore, EcsLauncher, RunnerTasks};
use ota_github::GitHubClient;
use shared::ids::AppId;
use shared::policy::stage::system_clock;
use shared::report::Reporter;
use shared::settings::EnvReader;

/// The stage as the function runs it.
pub type Stage = Reporter<GitHubClient, DynamoStore, EcsLauncher>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `APP_ID`: the GitHub App's id.
    pub app_id: AppId,
    /// `PRIVATE_KEY_SECRET_ARN`: the Secrets Manager secret holding the App's PEM key.
    pub private_key_secret_arn: String,
    /// `GITHUB_API_URL`: `https://api.github.com`, or a GitHub Enterprise Server's
    /// `https://HOST/api/v3`.
    pub github_api_url: String,
    /// `JOBS_TABLE`.
    pub table: String,
    /// `RUNNER_CLUSTER`: where the runners run, to stop those of a finished job.
    pub runner_cluster: String,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut env = EnvReader::new(var);
        let settings = Self {
            app_id: AppId(env.required_parsed("APP_ID", "the App's numeric id")),
            private_key_secret_arn: env.required("PRIVATE_KEY_SECRET_ARN"),
            github_api_url: env
                .optional("GITHUB_API_URL")
                .unwrap_or_else(|| ota_github::DEFAULT_BASE_URL.to_owned()),
            table: env.required("JOBS_TABLE"),
            runner_cluster: env.required("RUNNER_CLUSTER"),
        };
        env.finish(settings)
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
pub async fn build_stage(settings: &Settings, aws: &SdkConfig) -> Result<Stage, String> {
    let github = lambda_support::github_app_client(
        aws,
        settings.app_id,
        &settings.private_key_secret_arn,
        &settings.github_api_url,
    )
    .await?;
    Ok(Reporter {
        github,
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        launcher: EcsLauncher::new(
            aws_sdk_ecs::Client::new(aws),
            runner_tasks(&settings.runner_cluster),
        ),
        clock: system_clock,
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
    fn defaults_to_github_com() {
        let settings = Settings::from_env(env(&[
            ("APP_ID", "12345"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
            ("JOBS_TABLE", "jobs"),
            ("RUNNER_CLUSTER", "ota"),
        ]))
        .expect("complete");
        assert_eq!(settings.app_id, AppId(12345));
        assert_eq!(settings.github_api_url, "https://api.github.com");
    }
}
