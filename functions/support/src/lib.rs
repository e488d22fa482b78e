//! What every Lambda of the project shares: JSON logs and EMF metrics for CloudWatch
//! ([`metrics`]), the start-up checks that make a wrong configuration loud ([`startup`]),
//! the loop that processes an SQS batch message by message and reports
//! failures one by one ([`batch`]), and the GitHub App client built from the key in
//! Secrets Manager.

pub mod batch;
pub mod metrics;
pub mod startup;

pub use batch::{Failed, QueueMessages, handle_each, process_batch};
pub use startup::ConfigError;

use aws_config::SdkConfig;
use ota_aws::SecretsManagerSecret;
use ota_github::{GitHubApp, GitHubClient, TokenPermissions};
use secrecy::SecretString;
use shared::ids::AppId;
use shared::ports::{SecretSource, SecretVersion};
use shared::settings::EnvReader;

/// JSON log lines on stdout, one per event, level from `RUST_LOG` (default `info`; the
/// SDK's bodies never, `ota_aws::log_filter`). CloudWatch adds its own timestamps.
/// Metric events are printed as EMF lines of their own at any level (`ota_aws::emf`).
pub fn init_json_logs() {
    let filter = ota_aws::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let subscriber = ota_aws::emf::subscriber(filter, std::io::stdout, false);
    // Only fails when a subscriber is set already, which then logs instead.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The GitHub App a function acts as: `APP_ID`, `PRIVATE_KEY_SECRET_ARN` (the Secrets
/// Manager secret holding the App's PEM key) and `GITHUB_API_URL` (`https://api.github.com`
/// by default, or a GitHub Enterprise Server's `https://HOST/api/v3`), and `APP_SLUG`
/// (optional), which the requests' `User-Agent` names as GitHub asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAppSettings {
    pub app_id: AppId,
    pub private_key_secret_arn: String,
    pub api_url: String,
    pub app_slug: Option<String>,
}

impl GitHubAppSettings {
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut EnvReader<F>) -> Self {
        Self {
            app_id: AppId(env.required_parsed("APP_ID", "the App's numeric id")),
            private_key_secret_arn: env.required("PRIVATE_KEY_SECRET_ARN"),
            api_url: env
                .optional("GITHUB_API_URL")
                .unwrap_or_else(|| ota_github::DEFAULT_BASE_URL.to_owned()),
            app_slug: env.optional("APP_SLUG"),
        }
    }

    /// The App's client, its private key read once from Secrets Manager and checked
    /// ([`startup::read_private_key`]).
    pub async fn client(&self, aws: &SdkConfig) -> Result<GitHubClient, ConfigError> {
        let key = startup::read_private_key(self, aws).await?;
        self.client_with_key(key)
            .map_err(|problem| ConfigError::new("PRIVATE_KEY_SECRET_ARN", problem))
    }

    /// The App's client on `private_key` ([`Self::private_key`]).
    pub fn client_with_key(&self, private_key: SecretString) -> Result<GitHubClient, String> {
        let app = GitHubApp::new(self.app_id, private_key, &self.api_url);
        let app = match &self.app_slug {
            Some(slug) => app.with_slug(slug.clone()),
            None => app,
        };
        app.client(TokenPermissions::policy_and_report())
            .map_err(|err| err.to_string())
    }

    /// The App's private key, read from Secrets Manager.
    pub async fn private_key(&self, aws: &SdkConfig) -> Result<SecretString, String> {
        SecretsManagerSecret::new(
            aws_sdk_secretsmanager::Client::new(aws),
            &self.private_key_secret_arn,
        )
        .fetch(SecretVersion::Current)
        .await
        .map_err(|err| format!("PRIVATE_KEY_SECRET_ARN: {err}"))?
        .ok_or_else(|| "PRIVATE_KEY_SECRET_ARN: the secret has no current value".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    fn read(pairs: &[(&str, &str)]) -> Result<GitHubAppSettings, String> {
        EnvReader::read_all(env(pairs), GitHubAppSettings::read)
    }

    #[test]
    fn names_a_non_numeric_app_id_and_a_missing_key() {
        let err = read(&[("APP_ID", "ollama")]).expect_err("incomplete");
        for expected in [
            "APP_ID must be the App's numeric id, not \"ollama\"",
            "PRIVATE_KEY_SECRET_ARN is not set",
        ] {
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn defaults_to_github_com() {
        let settings =
            read(&[("APP_ID", "12345"), ("PRIVATE_KEY_SECRET_ARN", "arn:key")]).expect("complete");
        assert_eq!(settings.app_id, AppId(12345));
        assert_eq!(settings.private_key_secret_arn, "arn:key");
        assert_eq!(settings.api_url, "https://api.github.com");
        assert_eq!(settings.app_slug, None);
        let named = read(&[
            ("APP_ID", "12345"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
            ("APP_SLUG", "my-ollama"),
        ])
        .expect("complete");
        assert_eq!(named.app_slug.as_deref(), Some("my-ollama"));
    }

    #[test]
    fn reads_a_github_enterprise_api_url() {
        let settings = read(&[
            ("APP_ID", "12345"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3"),
        ])
        .expect("complete");
        assert_eq!(settings.api_url, "https://ghe.example/api/v3");
    }
}
