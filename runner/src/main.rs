//! `ota-runner`: the Fargate task that does one job. Reads its settings from the
//! environment (see `ota_runner::job::RunnerEnv`), builds the clients once, runs the job
//! and answers its wait; logs are JSON lines on stdout for CloudWatch.

use anyhow::Context;
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use ota_runner::agent::{AgentSettings, CommandSandbox};
use ota_runner::job::{
    Finished, LIVE_UPDATE_INTERVAL, LambdaBroker, Runner, RunnerEnv, brokered_client,
};
use ota_runner::ollama::{OllamaClient, OllamaEnv};
use ota_runner::workspace::Identity;
use shared::ids::AppId;
use shared::job::HEARTBEAT_INTERVAL;
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ota_runner::sandbox::protect_runner_process().context("making the runner undumpable")?;
    let filter = ota_aws::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing::subscriber::set_global_default(ota_aws::emf::subscriber(
        filter,
        std::io::stdout,
        true,
    ))
    .context("setting up the logs")?;

    let env = RunnerEnv::from_vars(|name| std::env::var(name).ok()).map_err(|problems| {
        // Counted like the functions' (`ConfigurationErrors`), for the stack's alarm.
        shared::metrics::record(&shared::metrics::Metric::ConfigurationError {
            component: "runner",
            setting: "environment",
        });
        anyhow::anyhow!("runner misconfigured: {problems}")
    })?;
    let aws = ota_aws::load_config().await;
    // The job's token (and, for a job on the hosted service, the Ollama key) comes from
    // the dispatch function, asked with the attempt's credential: no secret is read here.
    let broker = LambdaBroker::new(
        LambdaBroker::client(&aws),
        env.dispatch_function.clone(),
        env.launch.job.clone(),
        env.launch.attempt,
        env.credential.clone(),
    );
    let (github, api_key) = brokered_client(
        Arc::new(broker),
        AppId(env.app_id),
        &env.api_url,
        Some(&env.app_slug),
    )
    .await
    .context("getting the job's GitHub token")?;
    // Only a job on the hosted service gets the key; a self-hosted Ollama never does.
    let api_key = api_key.filter(|_| env.launch.endpoint.takes_api_key());
    let ollama_url = env.launch.endpoint.url.clone();
    let mut ollama_env =
        OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| ollama_url.clone()))
            .context("reading the Ollama URL")?;
    ollama_env.api_key = api_key;
    let ollama = OllamaClient::new(&ollama_env, Default::default())
        .context("setting up the Ollama client")?;
    let workflow = StepFunctionsWorkflow::new(
        aws_sdk_sfn::Client::new(&aws),
        env.state_machine_arn.clone(),
    )
    .map_err(|err| anyhow::anyhow!("STATE_MACHINE_ARN is not a state machine ARN: {}", err.0))?;
    let runner = Runner {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), env.table.clone()),
        workflow,
        github,
        ollama,
        agent: AgentSettings {
            sandbox: CommandSandbox::from_process_env(),
            ..AgentSettings::default()
        },
        git_base_url: env.git_base_url.clone(),
        identity: Identity::bot(&env.app_slug, None),
        endpoint: Some(env.launch.endpoint.kind),
        heartbeat_interval: HEARTBEAT_INTERVAL,
        live_update_interval: LIVE_UPDATE_INTERVAL,
        max_runtime: env.launch.max_runtime,
    };
    let job = &env.launch.job;
    tracing::info!(%job, attempt = env.launch.attempt, "runner starting");
    match runner.run_job(job).await? {
        Finished::Succeeded(_) | Finished::Failed(_) | Finished::Stopped => Ok(()),
    }
}
