//! Entry point of the dispatch Lambda: build the clients once, then process the dispatch
//! queue's batches and the runners' token requests (direct invocations).

use dispatch_function::{
    Settings, build_reports, build_stage, build_token_desk, handle_invocation,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|problems| format!("dispatch function misconfigured: {problems}"))?;
    let aws = ota_aws::load_config().await;
    let private_key = settings
        .github
        .private_key(&aws)
        .await
        .map_err(|problem| format!("dispatch function misconfigured: {problem}"))?;
    let grants = shared::dispatch::GrantKey::from_app_key(&private_key);
    let stage = build_stage(&settings, &aws, grants)
        .map_err(|problem| format!("dispatch function misconfigured: {problem}"))?;
    let desk = build_token_desk(&settings, &aws, private_key)
        .map_err(|problem| format!("dispatch function misconfigured: {problem}"))?;
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
