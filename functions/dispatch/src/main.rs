//! Entry point of the dispatch Lambda: build the clients once, then process batches.

use aws_lambda_events::event::sqs::SqsEvent;
use dispatch_function::{Settings, build_reports, build_stage, handle_batch};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_support::init_json_logs();

    let settings = Settings::from_env(|name| std::env::var(name).ok())
        .map_err(|problems| format!("dispatch function misconfigured: {problems}"))?;
    let aws = ota_aws::load_config().await;
    let stage = build_stage(&settings, &aws)
        .map_err(|problem| format!("dispatch function misconfigured: {problem}"))?;
    let reports = build_reports(&settings, &aws);

    let (stage, reports) = (&stage, &reports);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle_batch(stage, reports, event.payload).await)
    }))
    .await
}
