//! The webhook Lambda behind a Function URL: hands each request to the shared intake
//! and turns its receipt into an HTTP answer, a log line and an EMF metrics line.

use aws_config::SdkConfig;
use lambda_http::{Body, Request, Response};
use ota_aws::{SecretsManagerSecret, SqsEventQueue};
use shared::ports::{EventQueue, SecretSource};
use shared::webhook::intake::{AppIdentity, DEFAULT_MAX_BODY_BYTES, Intake};
use shared::webhook::secrets::{DEFAULT_MIN_REFRESH_INTERVAL, WebhookSecrets};
use shared::webhook::telemetry;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The function's settings, read once at start-up from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `INTAKE_QUEUE_URL`: the FIFO queue normalized events go to.
    pub queue_url: String,
    /// `WEBHOOK_SECRET_ARN`: the Secrets Manager secret holding the webhook secret.
    pub secret_arn: String,
    /// `APP_SLUG`: the App's slug, so its own events are dropped. Optional.
    pub app_slug: Option<String>,
    /// `MAX_BODY_BYTES`: larger bodies are answered 413.
    pub max_body_bytes: usize,
}

impl Settings {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut problems = Vec::new();
        let mut required = |name: &str| {
            var(name)
                .filter(|value| !value.trim().is_empty())
                .unwrap_or_else(|| {
                    problems.push(format!("{name} is not set"));
                    String::new()
                })
        };
        let queue_url = required("INTAKE_QUEUE_URL");
        let secret_arn = required("WEBHOOK_SECRET_ARN");
        let max_body_bytes = match var("MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "MAX_BODY_BYTES must be a number of bytes, not {raw:?}"
                ));
                DEFAULT_MAX_BODY_BYTES
            }),
        };
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(Self {
            queue_url,
            secret_arn,
            app_slug: var("APP_SLUG").filter(|slug| !slug.trim().is_empty()),
            max_body_bytes,
        })
    }
}

/// The intake as the function runs it: SQS for the queue, Secrets Manager for the secret.
pub type WebhookIntake = Intake<SqsEventQueue, SecretsManagerSecret>;

pub fn build_intake(settings: &Settings, aws: &SdkConfig) -> WebhookIntake {
    let queue = SqsEventQueue::new(aws_sdk_sqs::Client::new(aws), &settings.queue_url);
    let secret = SecretsManagerSecret::new(
        aws_sdk_secretsmanager::Client::new(aws),
        &settings.secret_arn,
    );
    Intake::new(
        queue,
        WebhookSecrets::new(secret, DEFAULT_MIN_REFRESH_INTERVAL),
        AppIdentity::from_slug(settings.app_slug.as_deref()),
    )
    .with_max_body_bytes(settings.max_body_bytes)
}

/// One HTTP request, start to answer. Never fails: every problem is an HTTP status.
pub async fn handle<Q: EventQueue, S: SecretSource>(
    intake: &Intake<Q, S>,
    request: Request,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let bytes: &[u8] = match &body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // `Body` is non-exhaustive; an unknown kind carries nothing we can verify.
        _ => &[],
    };
    let receipt = intake.receive(&parts.headers, bytes).await;
    telemetry::log(&receipt, started.elapsed());
    println!("{}", telemetry::metrics_line(&receipt, now_millis()));
    json_response(receipt.status(), receipt.body())
}

fn json_response(status: u16, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
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
    fn names_every_missing_setting() {
        let err = Settings::from_env(env(&[("MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert!(err.contains("INTAKE_QUEUE_URL is not set"), "{err}");
        assert!(err.contains("WEBHOOK_SECRET_ARN is not set"), "{err}");
        assert!(err.contains("MAX_BODY_BYTES must be a number"), "{err}");
    }

    #[test]
    fn reads_a_complete_environment() {
        let settings = Settings::from_env(env(&[
            ("INTAKE_QUEUE_URL", "https://sqs/q.fifo"),
            ("WEBHOOK_SECRET_ARN", "arn:secret"),
            ("APP_SLUG", "ollama-turbo-agent"),
        ]))
        .expect("complete");
        assert_eq!(settings.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(settings.app_slug.as_deref(), Some("ollama-turbo-agent"));
    }
}
