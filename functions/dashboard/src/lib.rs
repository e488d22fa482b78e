//! The dashboard function: the same router and pages `ota serve` mounts (`ota-web`), over
//! the stack's table, state machine, runners' log group and dead-letter queues
//! ([`ota_aws::DynamoControlPlane`]), answered through the function's own URL. Its
//! settings come from the environment; the App's OAuth client and the session key are
//! read from Secrets Manager at start, never from the environment. There is no
//! operator's token on AWS: the server's owners are GitHub users, named by login
//! (`DASHBOARD_OWNERS`), who sign in like everyone else. Sessions are sealed into their
//! cookies ([`ota_web::Sessions::sealed`]), so any of the function's instances opens them.

use aws_config::SdkConfig;
use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use lambda_support::ConfigError;
use ota_aws::{
    DEAD_LETTER_QUEUES, DeadLetterQueue, DeadLetterSource, DynamoControlPlane, DynamoStore,
    RunnerLogReader, SecretsManagerSecret, StepFunctionsWorkflow,
};
use ota_web::{GitHubUsers, OAuthApp, SessionKey, Sessions, Web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::clock::now_ms;
use shared::ports::{SecretSource, SecretVersion};
use shared::settings::EnvReader;
use std::sync::Arc;

/// The alias the stack's Function URLs are on (`AutoPublishAlias`).
pub const LIVE_ALIAS: &str = "live";

/// The shortest session key accepted: 32 characters of a generated password are far more
/// than the 256 bits the key holds once hashed.
const MIN_SESSION_KEY_CHARS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `JOBS_TABLE`.
    pub table: String,
    /// `STATE_MACHINE_ARN`.
    pub state_machine: String,
    /// `RUNNER_LOG_GROUP`: where the runners' logs are.
    pub runner_log_group: String,
    /// The dead-letter queues' URLs, by `ota dlq`'s names (`INTAKE_DLQ_URL`, ...).
    pub dead_letter_queues: Vec<(&'static str, String, bool)>,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `OAUTH_CLIENT_SECRET_ARN`: `{"client_id": ..., "client_secret": ...}` of the App.
    pub oauth_secret_arn: String,
    /// `SESSION_KEY_SECRET_ARN`: the key that signs cookies and seals sessions.
    pub session_key_secret_arn: String,
    /// `DASHBOARD_OWNERS`: GitHub logins of the server's owners (comma-separated; may be
    /// empty: then nobody has the owner's pages).
    pub owners: Vec<String>,
    /// `DASHBOARD_PUBLIC_URL`: where browsers reach the dashboard; without it, the function's
    /// own URL (asked of Lambda at start, for `AWS_LAMBDA_FUNCTION_NAME`).
    pub public_url: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`, set by Lambda.
    pub function_name: Option<String>,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvReader::read_all(var, |env| {
            let dead_letter_queues = DEAD_LETTER_QUEUES
                .iter()
                .map(|spec| (spec.name, env.required(spec.env), spec.holds_jobs()))
                .collect();
            let public_url = env.optional("DASHBOARD_PUBLIC_URL");
            if let Some(url) = &public_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                env.problem(format!(
                    "DASHBOARD_PUBLIC_URL must be an http(s) URL, not {url:?}"
                ));
            }
            Self {
                table: env.required("JOBS_TABLE"),
                state_machine: env.required("STATE_MACHINE_ARN"),
                runner_log_group: env.required("RUNNER_LOG_GROUP"),
                dead_letter_queues,
                api_url: env
                    .optional("GITHUB_API_URL")
                    .unwrap_or_else(|| ota_github::DEFAULT_BASE_URL.to_owned()),
                oauth_secret_arn: env.required("OAUTH_CLIENT_SECRET_ARN"),
                session_key_secret_arn: env.required("SESSION_KEY_SECRET_ARN"),
                owners: env
                    .optional("DASHBOARD_OWNERS")
                    .map(|raw| {
                        raw.split(',')
                            .map(|login| login.trim().trim_start_matches('@').to_owned())
                            .filter(|login| !login.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                public_url,
                function_name: env.optional("AWS_LAMBDA_FUNCTION_NAME"),
            }
        })
    }
}

/// The App's OAuth client as its secret holds it.
#[derive(Deserialize)]
struct OAuthSecret {
    client_id: String,
    client_secret: String,
}

/// The App's OAuth client from its secret; `None` while the secret is not filled in yet
/// (a stack just deployed), which the sign-in page then says.
pub async fn read_oauth_client(
    arn: &str,
    aws: &SdkConfig,
) -> Result<Option<OAuthApp>, ConfigError> {
    let problem = |what: String| ConfigError::new("OAUTH_CLIENT_SECRET_ARN", what);
    let value = SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(aws), arn)
        .fetch(SecretVersion::Current)
        .await
        .map_err(|err| problem(err.to_string()))?;
    let Some(value) = value.filter(|value| !value.expose_secret().trim().is_empty()) else {
        return Ok(None);
    };
    let deserializer = &mut serde_json::Deserializer::from_str(value.expose_secret());
    // The error names the field, never the value.
    let secret: OAuthSecret = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        problem(format!(
            "the secret is not {{\"client_id\": ..., \"client_secret\": ...}}: {} at `{}`",
            json_problem(err.inner()),
            err.path()
        ))
    })?;
    if secret.client_id.trim().is_empty() || secret.client_secret.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(OAuthApp {
        client_id: secret.client_id.trim().to_owned(),
        client_secret: SecretString::from(secret.client_secret.trim().to_owned()),
    }))
}

/// What kind of JSON error, in words that quote nothing of the input.
fn json_problem(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not JSON",
        serde_json::error::Category::Data => "a field is missing or of the wrong type",
    }
}

/// The session key from its secret (a generated password): its SHA-256.
pub async fn read_session_key(arn: &str, aws: &SdkConfig) -> Result<SessionKey, ConfigError> {
    let problem = |what: String| ConfigError::new("SESSION_KEY_SECRET_ARN", what);
    let value = SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(aws), arn)
        .fetch(SecretVersion::Current)
        .await
        .map_err(|err| problem(err.to_string()))?
        .ok_or_else(|| problem("the secret has no current value".to_owned()))?;
    let text = value.expose_secret().trim();
    if text.chars().count() < MIN_SESSION_KEY_CHARS {
        return Err(problem(format!(
            "the key is shorter than {MIN_SESSION_KEY_CHARS} characters"
        )));
    }
    Ok(SessionKey::from_bytes(
        Sha256::digest(text.as_bytes()).into(),
    ))
}

/// Where browsers reach the dashboard: `DASHBOARD_PUBLIC_URL`, else the function's own URL on
/// its live alias.
pub async fn public_url(settings: &Settings, aws: &SdkConfig) -> Result<String, ConfigError> {
    if let Some(url) = &settings.public_url {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let problem = |what: String| ConfigError::new("DASHBOARD_PUBLIC_URL", what);
    let Some(function) = &settings.function_name else {
        return Err(problem(
            "not set, and AWS_LAMBDA_FUNCTION_NAME is not either (not running in Lambda)"
                .to_owned(),
        ));
    };
    let output = aws_sdk_lambda::Client::new(aws)
        .get_function_url_config()
        .function_name(function)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
        .map_err(|err| {
            problem(format!(
                "not set, and the function's own URL could not be read: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&err)
            ))
        })?;
    Ok(output.function_url.trim_end_matches('/').to_owned())
}

/// The dashboard's control plane on the stack.
pub fn control_plane(
    settings: &Settings,
    aws: &SdkConfig,
) -> Result<DynamoControlPlane, ConfigError> {
    let workflow =
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(aws), &settings.state_machine)
            .map_err(|err| ConfigError::new("STATE_MACHINE_ARN", err.to_string()))?;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let dead_letters = settings
        .dead_letter_queues
        .iter()
        .map(|(name, url, holds_jobs)| DeadLetterSource {
            name: (*name).to_owned(),
            queue: DeadLetterQueue::new(sqs.clone(), url),
            holds_jobs: *holds_jobs,
        })
        .collect();
    Ok(DynamoControlPlane::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &settings.table),
        workflow,
        RunnerLogReader::new(
            aws_sdk_cloudwatchlogs::Client::new(aws),
            &settings.runner_log_group,
        ),
        dead_letters,
    ))
}

/// The dashboard's state: everything read and checked before the first request.
pub async fn build_web(
    settings: &Settings,
    aws: &SdkConfig,
) -> Result<Arc<Web<DynamoControlPlane>>, Vec<ConfigError>> {
    let plane = control_plane(settings, aws);
    let oauth = read_oauth_client(&settings.oauth_secret_arn, aws).await;
    let key = read_session_key(&settings.session_key_secret_arn, aws).await;
    let public_url = public_url(settings, aws).await;
    let github = GitHubUsers::new(
        &ota_github::web_base_url(&settings.api_url),
        &settings.api_url,
    )
    .map_err(|err| ConfigError::new("GITHUB_API_URL", format!("{err:#}")));
    let (plane, oauth, key, public_url, github) = match (plane, oauth, key, public_url, github) {
        (Ok(plane), Ok(oauth), Ok(key), Ok(public_url), Ok(github)) => {
            (plane, oauth, key, public_url, github)
        }
        (plane, oauth, key, public_url, github) => {
            return Err([
                plane.err(),
                oauth.err(),
                key.err(),
                public_url.err(),
                github.err(),
            ]
            .into_iter()
            .flatten()
            .collect());
        }
    };
    if oauth.is_none() {
        tracing::warn!(
            "the App's OAuth client is not in its secret yet: nobody can sign in until it is \
             (docs/deploy.md, \"The dashboard\")"
        );
    }
    Ok(Arc::new(Web {
        plane,
        github,
        oauth: Arc::new(move || oauth.clone()),
        // No operator's token on AWS: the owners sign in with GitHub.
        operator: Arc::new(|_| None),
        sessions: Sessions::sealed(&key),
        key,
        access: ota_web::access::AccessCache::default(),
        secure_cookies: public_url.starts_with("https://"),
        public_url,
        clock: now_ms,
        owners: settings.owners.clone(),
        // The stack's secrets are rotated with `ota --stack NAME secrets`.
        secrets: None,
    }))
}

/// The function's routes: the dashboard's, `/` sending to the jobs, `/healthz`, every
/// answer hardened ([`ota_web::hardened`]).
pub fn app(web: Arc<Web<DynamoControlPlane>>) -> Router {
    ota_web::router(web)
        .route("/", get(|| async { Redirect::to("/jobs") }))
        .route("/healthz", get(healthz))
        .layer(axum::middleware::map_response(harden))
}

async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
        .into_response()
}

async fn harden(response: Response) -> Response {
    ota_web::hardened(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_or_invalid_setting() {
        let err = Settings::from_env(env(&[("DASHBOARD_PUBLIC_URL", "dashboard.example")]))
            .expect_err("incomplete");
        for expected in [
            "JOBS_TABLE is not set",
            "STATE_MACHINE_ARN is not set",
            "RUNNER_LOG_GROUP is not set",
            "INTAKE_DLQ_URL is not set",
            "JOB_DLQ_URL is not set",
            "OAUTH_CLIENT_SECRET_ARN is not set",
            "SESSION_KEY_SECRET_ARN is not set",
            "DASHBOARD_PUBLIC_URL must be an http(s) URL",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn owners_are_logins_without_their_at() {
        let mut pairs = vec![
            ("JOBS_TABLE", "t"),
            ("STATE_MACHINE_ARN", "arn"),
            ("RUNNER_LOG_GROUP", "/ota/runner"),
            ("OAUTH_CLIENT_SECRET_ARN", "arn:oauth"),
            ("SESSION_KEY_SECRET_ARN", "arn:key"),
            ("DASHBOARD_OWNERS", " @Octocat, hubot ,,"),
        ];
        for spec in &DEAD_LETTER_QUEUES {
            pairs.push((spec.env, "https://sqs/queue"));
        }
        let settings = Settings::from_env(env(&pairs)).expect("settings");
        assert_eq!(settings.owners, ["Octocat", "hubot"]);
        assert_eq!(settings.dead_letter_queues.len(), DEAD_LETTER_QUEUES.len());
        assert_eq!(settings.api_url, ota_github::DEFAULT_BASE_URL);
        assert_eq!(settings.public_url, None);
    }
}
