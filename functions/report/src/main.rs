//! Entry point of the report Lambda: build the clients once, then process batches.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_support::{ConfigError, startup};
use report_function::{Settings, build_stage, handle_batch};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let var = |name: &str| std::env::var(name).ok();
    // Each problem is logged with its fix and counted (`ConfigurationErrors`).
    let fail = |error: ConfigError| startup::report("report", &[error]);
    startup::check_app_id(var).map_err(fail)?;
    let settings = Settings::from_env(var).map_err(|p| fail(ConfigError::environment(p)))?;
    let stage = build_stage(&settings, &ota_aws::load_config().await)
        .await
        .map_err(fail)?;

    let stage = &stage;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle_batch(stage, event.payload).await)
    }))
    .await
}
