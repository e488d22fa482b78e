//! The webhook Lambda behind a Function URL: hands each request to the shared intake
//! and turns its receipt into an HTTP answer, a log line and an EMF metrics line.

use aws_config::SdkConfig;
use lambda_http::{Body, Request, Response};
use lambda_support::metrics;
use ota_aws::{SecretsManagerSecret, SqsEventQueue};
use shared::ports::{EventQueue, SecretSource};
use shared::settings::EnvReader;
use shared::webhook::intake::{AppIdentity, DEFAULT_MAX_BODY_BYTES, Intake};
use shared::webhook::secrets::{DEFAULT_MIN_REFRESH_INTERVAL, WebhookSecrets};
use shared::webhook::telemetry;
use std::time::Instant;

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
        EnvReader::read_all(var, |env| Self {
            queue_url: env.required("INTAKE_QUEUE_URL"),
            secret_arn: env.required("WEBHOOK_SECRET_ARN"),
            app_slug: env.optional("APP_SLUG"),
            max_body_bytes: env.parsed_or(
                "MAX_BODY_BYTES",
                DEFAULT_MAX_BODY_BYTES,
                "a number of bytes",
            ),
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
    println!(
        "{}",
        metrics::receipt_line(&receipt, shared::clock::now_ms())
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::settings::from_pairs as env;

    #[test]
    fn names_every_missing_setting() {
        let err = Settings::from_env(env(&[("MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert!(err.contains("INTAKE_QUEUE_URL is not set"), "{err}");
        assert!(err.contains("WEBHOOK_SECRET_ARN is not set"), "{err}");
        assert!(
            err.contains("MAX_BODY_BYTES must be a number of bytes"),
            "{err}"
        );
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
