//! Entry point of the scheduler Lambda: build the clients once, then tick per invocation.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_support::{ConfigError, startup};
use scheduler_function::{Settings, build, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let fail = |error: ConfigError| startup::report("scheduler", &[error]);
    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|p| fail(ConfigError::environment(p)))?;
    let scheduler = build(&settings, &ota_aws::load_config().await);

    let scheduler = &scheduler;
    lambda_runtime::run(service_fn(
        move |_event: LambdaEvent<serde_json::Value>| async move {
            let report = handle(scheduler, shared::clock::now_ms()).await?;
            Ok::<_, Error>(
                serde_json::json!({ "queued": report.queued.len(), "taken": report.taken }),
            )
        },
    ))
    .await
}
