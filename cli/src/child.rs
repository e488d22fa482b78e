//! `ota runner`: one runner, started by `ota serve` as a child process for one attempt
//! of one job. The same [`Runner`] as the Fargate task, on the local database and engine.
//!
//! It holds no App key and no server secret: its environment is
//! [`runner_environment`] and its launch variables, its attempt's credential comes on
//! its stdin, and its GitHub token from the server's `POST /runner/token`.

use crate::settings::{AppSettings, DataDir, Environment};
use anyhow::{Context, bail};
use ota_local::engine::LocalWorkflow;
use ota_local::processes::PARENT_PID_VAR;
use ota_local::store::Database;
use ota_runner::agent::{AgentSettings, CommandSandbox, PASSED_THROUGH};
use ota_runner::job::{Finished, HttpBroker, LIVE_UPDATE_INTERVAL, Runner, brokered_client};
use ota_runner::ollama::{OllamaClient, OllamaEnv};
use ota_runner::workspace::Identity;
use shared::ids::AppId;
use shared::job::{HEARTBEAT_INTERVAL, RunnerCredential};
use shared::ports::RunnerLaunch;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;

/// The runner's variable holding the URL of the server that started it, whose
/// `POST /runner/token` hands it the job's GitHub token.
pub const SERVER_URL_VAR: &str = "OTA_SERVER_URL";

/// Variables a runner takes from its server's environment besides the commands'
/// toolchain variables ([`PASSED_THROUGH`]): logging, and the TLS roots git may need.
const INHERITED: &[&str] = &[
    "RUST_LOG",
    "RUST_BACKTRACE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// A runner's whole environment besides its launch variables: the allowlisted variables
/// of the server's environment (read through `var`) and the runner's settings, none of
/// them secret. The server's own secrets (the webhook secret, the Ollama key, the App
/// key or its path) are never among them.
pub fn runner_environment(
    var: &impl Fn(&str) -> Option<String>,
    server_url: &str,
    app: &AppSettings,
    environment: &Environment,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = INHERITED
        .iter()
        .chain(PASSED_THROUGH)
        .chain(ota_runner::sandbox::SETTINGS)
        .filter_map(|name| var(name).map(|value| ((*name).to_owned(), value)))
        .collect();
    env.extend(
        [
            (SERVER_URL_VAR, server_url.to_owned()),
            ("APP_ID", app.app_id.0.to_string()),
            ("APP_SLUG", app.slug.clone()),
            ("GITHUB_API_URL", environment.api_url.clone()),
            ("GIT_BASE_URL", environment.git_base_url.clone()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    env
}

/// What a runner reads of [`runner_environment`].
struct ChildSettings {
    server_url: String,
    app_id: AppId,
    slug: String,
    api_url: String,
    git_base_url: String,
}

impl ChildSettings {
    fn read(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required =
            |name: &str| var(name).with_context(|| format!("{name} is not set; ota serve sets it"));
        let app_id = required("APP_ID")?;
        Ok(Self {
            server_url: required(SERVER_URL_VAR)?,
            app_id: AppId(app_id.parse().context("APP_ID must be a number")?),
            slug: required("APP_SLUG")?,
            api_url: required("GITHUB_API_URL")?,
            git_base_url: required("GIT_BASE_URL")?,
        })
    }
}

/// The attempt's credential, which the server writes on the runner's stdin.
fn read_credential() -> anyhow::Result<RunnerCredential> {
    let mut line = String::new();
    std::io::stdin()
        .take(256)
        .read_to_string(&mut line)
        .context("reading the runner's credential from stdin")?;
    RunnerCredential::parse(&line)
        .context("no runner credential on stdin; runners are started by ota serve")
}

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
    let credential = read_credential()?;
    let var = |name: &str| std::env::var(name).ok();
    let launch = RunnerLaunch::from_env(var).context("reading the runner's launch environment")?;
    let settings = ChildSettings::read(&var)?;
    let db = Database::open(&args.data_dir.path).context("opening the database")?;
    let broker = HttpBroker::new(
        &settings.server_url,
        launch.job.clone(),
        launch.attempt,
        credential,
    )
    .map_err(anyhow::Error::msg)?;
    let (github, api_key) = brokered_client(
        Arc::new(broker),
        settings.app_id,
        &settings.api_url,
        Some(&settings.slug),
    )
    .await
    .context("getting the job's GitHub token from ota serve")?;
    let ollama_url = launch.endpoint.url.clone();
    let mut ollama_env =
        OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| ollama_url.clone()))
            .context("reading the Ollama URL")?;
    // The server sends the key only for an attempt on the hosted service.
    ollama_env.api_key = api_key.filter(|_| launch.endpoint.takes_api_key());
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
        git_base_url: settings.git_base_url.clone(),
        identity: Identity::bot(&settings.slug, None),
        endpoint: Some(launch.endpoint.kind),
        heartbeat_interval: HEARTBEAT_INTERVAL,
        live_update_interval: LIVE_UPDATE_INTERVAL,
        max_runtime: launch.max_runtime,
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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn a_runner_gets_the_sandbox_settings_and_none_of_the_servers_secrets() {
        let server: &[(&str, &str)] = &[
            ("PATH", "/usr/bin:/bin"),
            ("OTA_COMMAND_NETWORK", "host"),
            ("OTA_COMMAND_MEMORY_MB", "512"),
            ("WEBHOOK_SECRET", "the-webhook-secret"),
            ("OLLAMA_API_KEY", "the-ollama-key"),
            ("PRIVATE_KEY_PATH", "/etc/ota/app.pem"),
        ];
        let var = |name: &str| {
            server
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let environment = Environment::read(&var).expect("environment");
        let app = AppSettings {
            app_id: AppId(1),
            slug: "turbo".to_owned(),
            private_key: SecretString::from("the-private-key".to_owned()),
            webhook_secret: SecretString::from("the-webhook-secret".to_owned()),
            previous_webhook_secret: None,
            source: "the environment".to_owned(),
            stored: false,
        };

        let env = runner_environment(&var, "http://127.0.0.1:1", &app, &environment);

        let get = |name: &str| {
            env.iter()
                .find(|(key, _)| key == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("OTA_COMMAND_NETWORK"), Some("host"));
        assert_eq!(get("OTA_COMMAND_MEMORY_MB"), Some("512"));
        for (name, value) in &env {
            for secret in [
                "the-webhook-secret",
                "the-ollama-key",
                "app.pem",
                "the-private-key",
            ] {
                assert!(!value.contains(secret), "{name} carries {secret}");
            }
        }
    }
}
