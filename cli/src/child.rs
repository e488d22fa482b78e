//! `ota runner`: one runner, started by `ota serve` as a child process for one attempt
//! of one job. The same [`Runner`] as the Fargate task, on the local database and engine.

use crate::settings::{AppConfig, DataDir, Environment, read_app};
use anyhow::{Context, bail};
use ota_github::{GitHubApp, TokenPermissions};
use ota_local::engine::LocalWorkflow;
use ota_local::processes::PARENT_PID_VAR;
use ota_local::store::Database;
use ota_runner::agent::{AgentSettings, CommandSandbox};
use ota_runner::job::{Finished, LIVE_UPDATE_INTERVAL, Runner};
use ota_runner::ollama::{OllamaClient, OllamaEnv};
use ota_runner::workspace::Identity;
use shared::job::HEARTBEAT_INTERVAL;
use shared::ports::RunnerLaunch;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Clone, clap::Args)]
pub struct RunnerArgs {
    #[command(flatten)]
    pub data_dir: DataDir,
}

/// Dies with the server: a runner left behind by a killed server would run its job a
/// second time beside the retry the restarted server starts.
fn tie_to_parent() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .context("asking to be stopped with the server")?;
    // The server may have died before the request above took effect.
    if let Ok(expected) = std::env::var(PARENT_PID_VAR) {
        let parent = rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get().to_string());
        if parent.as_deref() != Some(expected.as_str()) {
            bail!("the server that started this runner is gone");
        }
    }
    Ok(())
}

pub async fn run(args: RunnerArgs) -> anyhow::Result<ExitCode> {
    ota_runner::sandbox::protect_runner_process().context("making the runner undumpable")?;
    tie_to_parent()?;
    let var = |name: &str| std::env::var(name).ok();
    let launch = RunnerLaunch::from_env(var).context("reading the runner's launch environment")?;
    let environment = Environment::read(&var).map_err(anyhow::Error::msg)?;
    let app = match read_app(&var, &args.data_dir.path).map_err(anyhow::Error::msg)? {
        AppConfig::Ready(app) => app,
        AppConfig::Missing(missing) => {
            bail!("the GitHub App is not configured: {}", missing.join("; "))
        }
    };
    let db = Database::open(&args.data_dir.path).context("opening the database")?;
    let github = GitHubApp::new(app.app_id, app.private_key.clone(), &environment.api_url)
        .client(TokenPermissions::runner())
        .context("setting up the GitHub client")?;
    let ollama_url = launch.endpoint.url.clone();
    let mut ollama_env =
        OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| ollama_url.clone()))
            .context("reading the Ollama URL")?;
    ollama_env.api_key = launch
        .endpoint
        .takes_api_key()
        .then(|| environment.ollama_api_key.clone())
        .flatten();
    let ollama = OllamaClient::new(&ollama_env, Default::default())
        .context("setting up the Ollama client")?;
    let runner = Runner {
        store: db.clone(),
        workflow: LocalWorkflow::new(db, Arc::new(Notify::new())),
        github,
        ollama,
        agent: AgentSettings {
            sandbox: CommandSandbox::from_process_env(),
            ..AgentSettings::default()
        },
        git_base_url: environment.git_base_url.clone(),
        identity: Identity::bot(&app.slug, None),
        endpoint: Some(launch.endpoint.kind),
        heartbeat_interval: HEARTBEAT_INTERVAL,
        live_update_interval: LIVE_UPDATE_INTERVAL,
    };
    tracing::info!(job = %launch.job, attempt = launch.attempt, "runner starting");
    let finished = runner
        .run_job(&launch.job)
        .await
        .context("running the job")?;
    Ok(match finished {
        Finished::Succeeded(_) | Finished::Stopped => ExitCode::SUCCESS,
        Finished::Failed(_) => ExitCode::from(2),
    })
}
