//! The policy function's settings, read once at start-up, and the stage built from them.

use aws_config::SdkConfig;
use lambda_support::{ConfigError, GitHubAppSettings};
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use ota_github::GitHubClient;
use shared::policy_stage::PolicyStage;
use shared::settings::EnvReader;
use shared::webhook::intake::AppIdentity;

/// The stage as the function runs it.
pub type Stage = PolicyStage<GitHubClient, DynamoStore, StepFunctionsWorkflow>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The GitHub App the function acts as.
    pub github: GitHubAppSettings,
    /// `JOBS_TABLE`: the DynamoDB table.
    pub table: String,
    /// `STATE_MACHINE_ARN`: the job workflow.
    pub state_machine_arn: String,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvReader::read_all(var, |env| Self {
            github: GitHubAppSettings::read(env),
            table: env.required("JOBS_TABLE"),
            state_machine_arn: env.required("STATE_MACHINE_ARN"),
        })
    }
}

/// Builds the stage: reads the App's private key and checks every setting that can be
/// checked before the first event.
pub async fn build_stage(settings: &Settings, aws: &SdkConfig) -> Result<Stage, ConfigError> {
    let github = settings.github.client(aws).await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table);
    let workflow =
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(aws), &settings.state_machine_arn)
            .map_err(|err| ConfigError::new("STATE_MACHINE_ARN", err.to_string()))?;
    let app = AppIdentity::from_slug(settings.github.app_slug.as_deref());
    Ok(PolicyStage::new(github, store, workflow).with_app(app))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_or_invalid_setting() {
        let err = Settings::from_env(env(&[("APP_ID", "ollama")])).unwrap_err();
        for expected in [
            "APP_ID must be the App's numeric id, not \"ollama\"",
            "PRIVATE_KEY_SECRET_ARN is not set",
            "JOBS_TABLE is not set",
            "STATE_MACHINE_ARN is not set",
        ] {
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn reads_a_complete_environment() {
        let settings = Settings::from_env(env(&[
            ("APP_ID", "12345"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
            ("JOBS_TABLE", "jobs"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:job",
            ),
        ]))
        .expect("complete");
        let expected = Settings {
            github: GitHubAppSettings {
                app_id: shared::ids::AppId(12345),
                private_key_secret_arn: "arn:key".to_owned(),
                api_url: "https://api.github.com".to_owned(),
                app_slug: None,
            },
            table: "jobs".to_owned(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:job".to_owned(),
        };
        assert_eq!(settings, expected);
    }
}
