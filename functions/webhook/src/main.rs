//! Entry point of the webhook Lambda: build the clients once, then serve requests.

use lambda_http::{Error, Request, service_fn};
use webhook_function::{Settings, build_intake, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|problems| format!("webhook function misconfigured: {problems}"))?;
    let intake = build_intake(&settings, &ota_aws::load_config().await);

    let intake = &intake;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(handle(intake, request).await)
    }))
    .await
}
