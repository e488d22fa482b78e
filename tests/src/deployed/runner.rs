//! ECS for the deployed stack's tests: moto records the runner tasks the dispatch
//! function starts (`RunTask`) and runs nothing, so each new task on the stack's cluster
//! is run here, in-process, as the runner's `main` builds it from the task definition's
//! container environment plus the task's overrides. Only `GIT_BASE_URL` is added: on
//! AWS the Git host follows `GITHUB_API_URL`; here the fake GitHub and the Git server are
//! two servers.

use super::{Env, StackWorld};
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use ota_runner::agent::{AgentSettings, CommandSandbox};
use ota_runner::job::{LIVE_UPDATE_INTERVAL, LambdaBroker, Runner, RunnerEnv, brokered_client};
use ota_runner::ollama::{OllamaClient, OllamaEnv};
use ota_runner::workspace::Identity;
use shared::ids::AppId;
use shared::job::HEARTBEAT_INTERVAL;
use std::sync::Arc;

/// The runner container's environment in the task definition `arn`.
pub(super) async fn task_definition_environment(ecs: &aws_sdk_ecs::Client, arn: &str) -> Env {
    let described = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .unwrap_or_else(|err| panic!("DescribeTaskDefinition {arn}: {err}"));
    let definition = described
        .task_definition
        .unwrap_or_else(|| panic!("no task definition {arn}"));
    let container = definition
        .container_definitions()
        .iter()
        .find(|container| container.name() == Some("runner"))
        .unwrap_or_else(|| panic!("the task definition {arn} has no `runner` container"));
    container
        .environment()
        .iter()
        .filter_map(|pair| Some((pair.name()?.to_owned(), pair.value()?.to_owned())))
        .collect()
}

impl StackWorld {
    /// The cluster the dispatch function starts runners on (its resolved environment).
    fn cluster(&self) -> &str {
        self.env("DispatchFunction")
            .get("RUNNER_CLUSTER")
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the dispatch function has no RUNNER_CLUSTER"))
    }

    /// Runs each runner task started since the last call, one after the other, then stops
    /// it as its container's exit would. Returns how many ran.
    pub(super) async fn run_new_runners(&self) -> usize {
        let listed = self
            .ecs
            .list_tasks()
            .cluster(self.cluster())
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .send()
            .await
            .expect("ListTasks on the stack's cluster");
        let new: Vec<String> = {
            let mut seen = self.runners.lock().unwrap_or_else(|err| err.into_inner());
            listed
                .task_arns()
                .iter()
                .filter(|arn| seen.insert((*arn).clone()))
                .cloned()
                .collect()
        };
        for arn in &new {
            let env = self.task_environment(arn).await;
            self.run_runner(&env).await;
            self.ecs
                .stop_task()
                .cluster(self.cluster())
                .task(arn)
                .reason("Essential container in task exited")
                .send()
                .await
                .expect("StopTask");
        }
        new.len()
    }

    /// The environment ECS gives the task's runner container: the task definition's,
    /// then the task's overrides.
    pub async fn task_environment(&self, arn: &str) -> Env {
        let described = self
            .ecs
            .describe_tasks()
            .cluster(self.cluster())
            .tasks(arn)
            .send()
            .await
            .expect("DescribeTasks");
        let task = described
            .tasks()
            .first()
            .unwrap_or_else(|| panic!("no task {arn}"));
        let mut env = self.runner_environment.clone();
        let overrides = task
            .overrides()
            .map(|overrides| overrides.container_overrides())
            .unwrap_or_default();
        for container in overrides
            .iter()
            .filter(|container| container.name() == Some("runner"))
        {
            for pair in container.environment() {
                if let (Some(name), Some(value)) = (pair.name(), pair.value()) {
                    env.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        env
    }

    /// The runner as its `main` builds it from `env`, run to its end.
    async fn run_runner(&self, env: &Env) {
        let mut env = env.clone();
        env.insert("GIT_BASE_URL".to_owned(), self.fakes.git.base_url());
        let env = RunnerEnv::from_vars(|name| env.get(name).cloned())
            .unwrap_or_else(|problem| panic!("runner misconfigured by the stack: {problem}"));
        let broker = LambdaBroker::new(
            self.token_desk.client(&self.aws),
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
        .expect("the job's token from the dispatch function");
        let api_key = api_key.filter(|_| env.launch.endpoint.takes_api_key());
        let ollama_url = self.resolve_ollama(&env.launch.endpoint.url).await;
        let mut ollama_env =
            OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| ollama_url.clone()))
                .expect("the Ollama URL");
        ollama_env.api_key = api_key;
        let runner = Runner {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.aws), env.table.clone()),
            workflow: StepFunctionsWorkflow::new(
                aws_sdk_sfn::Client::new(&self.aws),
                env.state_machine_arn.clone(),
            )
            .expect("STATE_MACHINE_ARN"),
            github,
            ollama: OllamaClient::new(&ollama_env, Default::default()).expect("Ollama client"),
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
        runner
            .run_job(&env.launch.job)
            .await
            .expect("the runner runs the job");
    }
}
