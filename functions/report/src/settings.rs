//! The report function's settings, read once at start-up, and the stage built from them.

use aws_config::SdkConfig;
use ota_aws::{DynamoStore, EcsLauncher, RunnerTasks, SecretsManagerSecret};
use ota_github::{AppCredentials, ClientOptions, GitHubClient};
use shared::ids::AppId;
use shared::policy::stage::system_clock;
use shared::ports::{SecretSource, SecretVersion};
use shared::report::Reporter;

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
        let mut problems = Vec::new();
        let mut required = |name: &str| {
            var(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| {
                    problems.push(format!("{name} is not set"));
                    String::new()
                })
        };
        let app_id = required("APP_ID");
        let private_key_secret_arn = required("PRIVATE_KEY_SECRET_ARN");
        let table = required("JOBS_TABLE");
        let runner_cluster = required("RUNNER_CLUSTER");
        let app_id = match app_id.parse() {
            Ok(id) => AppId(id),
            Err(_) => {
                if !app_id.is_empty() {
                    problems.push(format!(
                        "APP_ID must be the App's numeric id, not {app_id:?}"
                    ));
                }
                AppId(0)
            }
        };
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(Self {
            app_id,
            private_key_secret_arn,
            github_api_url: var("GITHUB_API_URL")
                .filter(|url| !url.trim().is_empty())
                .unwrap_or_else(|| ota_github::DEFAULT_BASE_URL.to_owned()),
            table,
            runner_cluster,
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
pub async fn build_stage(settings: &Settings, aws: &SdkConfig) -> Result<Stage, String> {
    let key = SecretsManagerSecret::new(
        aws_sdk_secretsmanager::Client::new(aws),
        &settings.private_key_secret_arn,
    )
    .fetch(SecretVersion::Current)
    .await
    .map_err(|err| format!("PRIVATE_KEY_SECRET_ARN: {err}"))?
    .ok_or("PRIVATE_KEY_SECRET_ARN: the secret has no current value")?;
    let credentials = AppCredentials {
        app_id: settings.app_id,
        private_key: key,
    };
    let github = GitHubClient::new(
        &credentials,
        ClientOptions::with_base_url(&settings.github_api_url),
    )
    .map_err(|err| err.to_string())?;
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
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

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
