//! Entry point of the webhook Lambda: build the clients once, then serve requests.

use lambda_http::{Error, Request, service_fn};
use ota_aws::{SecretsManagerSecret, SqsEventQueue};
use shared::webhook::intake::{AppIdentity, Intake};
use shared::webhook::secrets::{DEFAULT_MIN_REFRESH_INTERVAL, WebhookSecrets};
use webhook_function::{Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time()
        .init();

    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|problems| format!("webhook function misconfigured: {problems}"))?;
    let aws = ota_aws::load_config().await;
    let queue = SqsEventQueue::new(aws_sdk_sqs::Client::new(&aws), &settings.queue_url);
    let secret = SecretsManagerSecret::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        &settings.secret_arn,
    );
    let intake = Intake::new(
        queue,
        WebhookSecrets::new(secret, DEFAULT_MIN_REFRESH_INTERVAL),
        AppIdentity::from_slug(settings.app_slug.as_deref()),
    )
    .with_max_body_bytes(settings.max_body_bytes);

    let intake = &intake;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(intake, request).await)
    }))
    .await
}
