//! Entry point of the dispatch Lambda: build the clients once, then process the dispatch
//! queue's batches and the runners' token requests (direct invocations).

use dispatch_function::{
    Settings, build_reports, build_stage, build_token_desk, handle_invocation,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_support::{ConfigError, startup};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let var = |name: &str| std::env::var(name).ok();
    // Each problem is logged with its fix and counted (`ConfigurationErrors`).
    let fail = |error: ConfigError| startup::report("dispatch", &[error]);
    startup::check_app_id(var).map_err(fail)?;
    let settings = Settings::from_env(var).map_err(|p| fail(ConfigError::environment(p)))?;
    let aws = ota_aws::load_config().await;
    let private_key = startup::read_private_key(&settings.github, &aws)
        .await
        .map_err(fail)?;
    let grants = shared::dispatch::GrantKey::from_app_key(&private_key);
    let stage = build_stage(&settings, &aws, grants)
        .map_err(|problem| fail(ConfigError::environment(problem)))?;
    let desk = build_token_desk(&settings, &aws, private_key)
        .map_err(|problem| fail(ConfigError::environment(problem)))?;
    let reports = build_reports(&settings, &aws);

    let (stage, reports, desk) = (&stage, &reports, &desk);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle_invocation(stage, reports, desk, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
