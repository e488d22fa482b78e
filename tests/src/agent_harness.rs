//! The agent wired to a [`FakeOllama`] and a temporary repository: what every agent test
//! starts from. Tests adjust the public fields (the task, the budgets, the sandbox) before
//! [`Harness::run`].

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ota_runner::agent::{
    Agent, AgentReport, AgentSettings, CommandSandbox, Progress, ProgressSink, TaskInput, TaskSpec,
};
use ota_runner::ollama::{ClientOptions, OllamaClient, OllamaEnv, RetryPolicy};
use ota_runner::tools::Workspace;
use shared::config::{BuiltinTask, TaskConfig};
use tempfile::TempDir;

use crate::fake_ollama::FakeOllama;
use crate::fake_ollama_models::FakeModel;

/// The model the tests' tasks name.
pub const MODEL: &str = "qwen3-coder:30b";

/// Retries quick enough for a test: three attempts, milliseconds apart.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

pub struct Harness {
    pub fake: FakeOllama,
    pub dir: TempDir,
    pub workspace: Workspace,
    pub spec: TaskSpec,
    pub settings: AgentSettings,
    /// What the runner would read from `OLLAMA_HOST` and `OLLAMA_API_KEY`.
    pub env: OllamaEnv,
    pub client_options: ClientOptions,
}

impl Harness {
    /// A fake Ollama, a repository holding `files`, and `task` with its defaults (model
    /// [`MODEL`], a one-minute timeout, 1,024 tokens per response).
    pub async fn new(task: BuiltinTask, files: &[(&str, &str)]) -> Self {
        let fake = FakeOllama::start().await;
        // The model the tests' configurations name, as Ollama's library has it.
        fake.add_model(FakeModel::qwen3_coder());
        let dir = tempfile::tempdir().expect("temporary repository");
        for (path, content) in files {
            write(dir.path(), path, content);
        }
        let workspace = Workspace::new(dir.path()).expect("workspace");
        let mut config = TaskConfig::builtin(task);
        config.model = MODEL.to_owned();
        config.max_tokens = 1024;
        config.timeout = Duration::from_secs(60);
        let host = fake.host();
        let env = OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| host.clone()))
            .expect("fake host");
        Self {
            fake,
            dir,
            workspace,
            spec: TaskSpec::from_config(&config),
            settings: AgentSettings {
                sandbox: CommandSandbox::from_process_env(),
                ..AgentSettings::default()
            },
            env,
            client_options: ClientOptions {
                connect_timeout: Duration::from_secs(2),
                idle_timeout: Duration::from_secs(10),
                retry: fast_retries(),
            },
        }
    }

    pub fn client(&self) -> OllamaClient {
        OllamaClient::new(&self.env, self.client_options).expect("client")
    }

    /// A file of the repository, as it is now.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path)).expect("repository file")
    }

    /// Runs the task; returns the report and every progress event.
    pub async fn run(&self, input: &TaskInput) -> (AgentReport, Vec<Progress>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = events.clone();
        let client = self.client();
        let agent = Agent {
            client: &client,
            workspace: &self.workspace,
            spec: &self.spec,
            settings: &self.settings,
            progress: ProgressSink::from_fn(move |event| {
                log.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(event.clone());
            }),
        };
        let report = agent.run(input).await;
        let events = events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (report, events)
    }
}

/// Writes `content` at `path` under `root`, creating directories.
pub fn write(root: &Path, path: &str, content: &str) {
    let full = root.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).expect("directories");
    }
    std::fs::write(full, content).expect("file");
}
