//! Loud configuration: what the template cannot check is checked when a function starts
//! (the App's id, the App's private key in its secret, the webhook secret), and a
//! function that finds its configuration wrong says so in one line per problem, naming
//! the setting and the fix, and counts it (`ConfigurationErrors`, which the stack's
//! "no App configured" alarm watches) before it refuses to start.

use crate::GitHubAppSettings;
use aws_config::SdkConfig;
use ota_aws::SecretsManagerSecret;
use secrecy::{ExposeSecret, SecretString};
use shared::metrics::{self, Metric};
use shared::ports::{SecretSource, SecretVersion};
use std::fmt;

/// How to put the App's private key in place (`scripts/deploy` checks it as it does).
pub const SET_PRIVATE_KEY: &str = "scripts/deploy --set-private-key app.pem";

/// One thing wrong with a function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting (environment variable) that is wrong.
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    /// The problems `Settings::from_env` found (the settings the template sets).
    pub fn environment(problems: impl Into<String>) -> Self {
        Self::new("environment", problems)
    }

    /// What the operator does about it.
    pub fn fix(&self) -> &'static str {
        match self.setting.as_str() {
            "APP_ID" => {
                "deploy with the App's numeric id (its settings page, \"App ID\"): \
                 sam deploy --parameter-overrides GitHubAppId=<id>"
            }
            "PRIVATE_KEY_SECRET_ARN" => {
                "put the App's private key (the .pem GitHub generated) in the stack's \
                 GitHubAppPrivateKey secret: scripts/deploy --set-private-key app.pem"
            }
            "WEBHOOK_SECRET_ARN" => {
                "give the stack's WebhookSecret a value (ota --stack NAME secrets set) and \
                 paste it into the App's webhook settings"
            }
            "OAUTH_CLIENT_SECRET_ARN" => {
                "put the App's client id and a client secret (the App's settings page) in the \
                 stack's DashboardOAuthClient secret as {\"client_id\": ..., \
                 \"client_secret\": ...} (docs/deploy.md, \"The dashboard\")"
            }
            "SESSION_KEY_SECRET_ARN" => {
                "give the stack's DashboardSessionKey secret a random value of 32 characters \
                 or more (the stack generates one; redeploy if it was removed)"
            }
            "DASHBOARD_PUBLIC_URL" => {
                "deploy with DashboardPublicUrl=<https URL> (a domain of your own in front of the \
                 function), or leave it empty for the function's own URL"
            }
            _ => "the stack's template sets these: redeploy the stack with scripts/deploy",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}; to fix: {}",
            self.setting,
            self.problem,
            self.fix()
        )
    }
}

/// Logs `errors` (one error line each, naming the setting and the fix) and counts each
/// as a `ConfigurationErrors` metric of `component`; returns the text the function fails
/// its start with.
pub fn report(component: &str, errors: &[ConfigError]) -> String {
    for error in errors {
        tracing::error!(
            component,
            setting = %error.setting,
            fix = error.fix(),
            "{component} function misconfigured: {error}"
        );
        metrics::record(&Metric::ConfigurationError {
            component,
            setting: &error.setting,
        });
    }
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("{component} function misconfigured: {}", lines.join(" | "))
}

/// `APP_ID`, checked on its own before the other settings: the stack's most likely
/// mistake (a deploy without `GitHubAppId`) gets a line of its own.
pub fn check_app_id(var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let value = var("APP_ID").unwrap_or_default();
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::new(
            "APP_ID",
            "is not set: the stack was deployed without GitHubAppId",
        ));
    }
    match value.parse::<u64>() {
        Ok(id) if id > 0 => Ok(()),
        _ => Err(ConfigError::new(
            "APP_ID",
            format!("must be the App's numeric id, not {value:?}"),
        )),
    }
}

/// Whether `key` is a PEM RSA private key (PKCS#1 as GitHub hands it out, or PKCS#8),
/// not whatever the secret held before someone put the key there. Never quotes the
/// value.
pub fn check_private_key(key: &SecretString) -> Result<(), ConfigError> {
    let pem = key.expose_secret().trim();
    let problem = |what: &str| ConfigError::new("PRIVATE_KEY_SECRET_ARN", what);
    if pem.is_empty() {
        return Err(problem("the secret is empty"));
    }
    let framed = |label: &str| {
        pem.starts_with(&format!("-----BEGIN {label}-----"))
            && pem.ends_with(&format!("-----END {label}-----"))
    };
    if !framed("RSA PRIVATE KEY") && !framed("PRIVATE KEY") {
        return Err(problem(
            "the secret does not hold a PEM private key (no -----BEGIN RSA PRIVATE KEY----- \
             ... -----END RSA PRIVATE KEY----- around it): it still holds what the stack \
             created it with",
        ));
    }
    ota_github::GitHubApp::new(
        shared::ids::AppId(1),
        key.clone(),
        ota_github::DEFAULT_BASE_URL,
    )
    .client(ota_github::TokenPermissions::policy_and_report())
    .map(|_| ())
    .map_err(|err| problem(&err.to_string()))
}

/// The App's private key from its secret, checked ([`check_private_key`]).
pub async fn read_private_key(
    settings: &GitHubAppSettings,
    aws: &SdkConfig,
) -> Result<SecretString, ConfigError> {
    let key = settings.private_key(aws).await.map_err(|problem| {
        let problem = problem
            .strip_prefix("PRIVATE_KEY_SECRET_ARN: ")
            .unwrap_or(&problem)
            .to_owned();
        ConfigError::new("PRIVATE_KEY_SECRET_ARN", problem)
    })?;
    check_private_key(&key)?;
    Ok(key)
}

/// The webhook secret `arn` has a current, non-empty value.
pub async fn check_webhook_secret(arn: &str, aws: &SdkConfig) -> Result<(), ConfigError> {
    let problem = |what: String| ConfigError::new("WEBHOOK_SECRET_ARN", what);
    let secret = SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(aws), arn)
        .fetch(SecretVersion::Current)
        .await
        .map_err(|err| problem(err.to_string()))?
        .ok_or_else(|| problem("the secret has no current value".to_owned()))?;
    if secret.expose_secret().trim().is_empty() {
        return Err(problem("the secret is empty".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn an_app_id_left_empty_says_to_deploy_with_it() {
        let err = check_app_id(env(&[("APP_ID", "")])).expect_err("empty");
        let line = err.to_string();
        assert!(line.starts_with("APP_ID: is not set"), "{line}");
        assert!(line.contains("GitHubAppId=<id>"), "{line}");
        let err = check_app_id(env(&[("APP_ID", "ollama")])).expect_err("not a number");
        assert!(err.problem.contains("numeric"), "{err}");
        assert!(check_app_id(env(&[("APP_ID", "0")])).is_err());
        assert!(check_app_id(env(&[("APP_ID", " 12345 ")])).is_ok());
    }

    #[test]
    fn a_key_that_is_no_pem_is_refused_without_being_quoted() {
        for value in ["", "   ", "PLACEHOLDER set me", "kXf93hs0a9Vq1"] {
            let err = check_private_key(&SecretString::from(value)).expect_err(value);
            assert_eq!(err.setting, "PRIVATE_KEY_SECRET_ARN");
            assert!(err.to_string().contains(SET_PRIVATE_KEY), "{err}");
            if !value.trim().is_empty() {
                assert!(!err.to_string().contains(value.trim()), "quoted: {err}");
            }
        }
    }

    #[test]
    fn a_framed_pem_that_is_no_rsa_key_is_refused() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----";
        let err = check_private_key(&SecretString::from(pem)).expect_err("no key");
        assert!(err.problem.contains("not a valid RSA private key"), "{err}");
    }

    #[test]
    fn the_failure_text_lists_every_problem_with_its_fix() {
        let text = report(
            "policy",
            &[
                ConfigError::new("APP_ID", "is not set"),
                ConfigError::environment("JOBS_TABLE is not set"),
            ],
        );
        assert!(
            text.starts_with("policy function misconfigured: APP_ID"),
            "{text}"
        );
        assert!(
            text.contains("JOBS_TABLE is not set; to fix: the stack's template"),
            "{text}"
        );
    }
}
