//! Entry point of the dashboard Lambda: read the settings and secrets once, then serve
//! the dashboard's pages through the Function URL, streamed (a job's live log is a
//! stream of Server-Sent Events).

use dashboard_function::{Settings, app, build_web};
use lambda_http::Error;
use lambda_support::{ConfigError, startup};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    // Each problem is logged with its fix and counted (`ConfigurationErrors`).
    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|p| startup::report("dashboard", &[ConfigError::environment(p)]))?;
    let aws = ota_aws::load_config().await;
    let web = build_web(&settings, &aws)
        .await
        .map_err(|errors| startup::report("dashboard", &errors))?;
    lambda_http::run_with_streaming_response(app(web)).await
}
