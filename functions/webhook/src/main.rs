//! Entry point of the webhook Lambda: build the clients once, then serve requests.

use lambda_http::{Error, Request, service_fn};
use lambda_support::{ConfigError, startup};
use webhook_function::{Settings, build_intake, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    // Each problem is logged with its fix and counted (`ConfigurationErrors`).
    let fail = |error: ConfigError| startup::report("webhook", &[error]);
    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|p| fail(ConfigError::environment(p)))?;
    let aws = ota_aws::load_config().await;
    startup::check_webhook_secret(&settings.secret_arn, &aws)
        .await
        .map_err(fail)?;
    let intake = build_intake(&settings, &aws);

    let intake = &intake;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(intake, request).await)
    }))
    .await
}
