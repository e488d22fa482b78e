//! Everything a runner test starts from: a job in DynamoDB (moto) with a task token from a
//! real `.waitForTaskToken` execution, a repository on a [`GitServer`], a [`FakeGitHub`]
//! that minted the tokens the Git server accepts, a [`FakeOllama`] to script, the dispatch
//! function's token handler behind a [`FakeLambda`], and the [`Runner`] wired to all of
//! them as `main` wires it to AWS: it holds no App key, only its attempt's credential,
//! and gets its job's token from the dispatch function.

use crate::agent_harness::{MODEL, fast_retries};
use crate::aws::{self, config, jobs_table};
use crate::fake_github::{APP_ID, FakeGitHub, PRIVATE_KEY_PEM};
use crate::fake_lambda::FakeLambda;
use crate::fake_ollama::FakeOllama;
use crate::fake_ollama_models::FakeModel;
use crate::git_server::GitServer;
use crate::unique;
use dispatch_function::TokenDesk;
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use ota_runner::agent::{AgentSettings, CommandSandbox};
use ota_runner::job::{Finished, LambdaBroker, Runner, brokered_client};
use ota_runner::ollama::{ClientOptions, OllamaClient, OllamaEnv};
use ota_runner::workspace::Identity;
use secrecy::SecretString;
use shared::dispatch::GrantKey;
use shared::envelope::CommentSource;
use shared::ids::{AppId, CommitSha, DeliveryId, InstallationId, RepoFullName};
use shared::job::{
    Approval, JobId, JobRecord, JobRequest, JobStatus, RunnerCredential, TaskToken, Trigger, Wait,
};
use shared::ports::EndpointKind;
use shared::ports::JobStore;
use shared::ports::{CheckStatus, GitHub, NewCheckRun, RepoScope};
use std::sync::Arc;
use std::time::Duration;

/// The installation the test jobs belong to.
pub const INSTALLATION: u64 = 42;

/// The pull request the test jobs' commands were posted on.
pub const PULL_NUMBER: u64 = 7;

pub struct World {
    pub github: FakeGitHub,
    pub git: GitServer,
    pub ollama: FakeOllama,
    pub repo: String,
    /// The commit the repository starts at (the job's commit).
    pub head: String,
    pub store: DynamoStore,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub state_machine: String,
    pub queue_url: String,
    /// The dispatch function, as far as runners ask it for their tokens.
    pub dispatch: FakeLambda,
    /// The key of the runners' grants (the App key's, as the dispatch stage derives it).
    pub grants: GrantKey,
    pub aws: aws_config::SdkConfig,
}

/// A job started: its record, its execution, and its attempt's credential.
pub struct StartedJob {
    pub record: JobRecord,
    pub execution_arn: String,
    pub credential: RunnerCredential,
}

impl World {
    /// A repository holding `files` and `.ollama-turbo.yml` with `config`.
    pub async fn new(files: &[(&str, &str)], config_yaml: &str) -> Self {
        let github = FakeGitHub::start().await;
        let git = GitServer::start(github.token_checker()).await;
        let ollama = FakeOllama::start().await;
        // The model the tests' configurations name, as Ollama's library has it.
        ollama.add_model(FakeModel::qwen3_coder());
        let repo = format!("octo-org/{}", unique("repo"));
        let mut all: Vec<(&str, &str)> = files.to_vec();
        all.push((".ollama-turbo.yml", config_yaml));
        let head = git.create_repo(&repo, &all);
        github.set_file(&repo, "", ".ollama-turbo.yml", config_yaml);
        let aws = config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let table = jobs_table(&dynamo, &unique("ota-jobs")).await;
        let sfn = aws_sdk_sfn::Client::new(&aws);
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let (state_machine, queue_url) = run_state_machine(&sfn, &sqs, &unique("ota-run")).await;
        let store = DynamoStore::new(dynamo, table);
        let private_key = SecretString::from(PRIVATE_KEY_PEM);
        let grants = GrantKey::from_app_key(&private_key);
        let desk = TokenDesk {
            store: store.clone(),
            grants: grants.clone(),
            tokens: github.client(),
            ollama_key: None,
        };
        let dispatch = FakeLambda::dispatch_tokens(&unique("ota-dispatch"), desk).await;
        Self {
            github,
            git,
            ollama,
            repo,
            head,
            store,
            sfn,
            sqs,
            state_machine,
            queue_url,
            dispatch,
            grants,
            aws,
        }
    }

    /// The usual repository: `src/lib.rs` is [`LIB`], and the refactor runs `command`.
    pub async fn with_lib(command: &str) -> Self {
        Self::new(&[("src/lib.rs", LIB)], &config_with_command(command)).await
    }

    /// Runs the job to its end with the runner as `main` builds it.
    pub async fn run(&self, job: &StartedJob) -> Finished {
        self.runner(job)
            .await
            .run_job(&job.record.id)
            .await
            .expect("runner")
    }

    pub fn scope(&self) -> RepoScope {
        RepoScope {
            installation: InstallationId(INSTALLATION),
            repo: RepoFullName::new(&self.repo),
        }
    }

    /// A job for `/ollama <task> <params>` on the pull request, dispatched: stored as
    /// `dispatching` with a check run, its execution waiting on the run's task token,
    /// which is stored under [`Wait::Run`] as the dispatch stage stores it.
    pub async fn start_job(&self, task: &str, params: &str) -> StartedJob {
        let delivery = DeliveryId::parse(&unique("delivery")).expect("delivery id");
        let mut record = JobRecord::new(
            JobRequest {
                id: JobId::for_command(&delivery, 0),
                delivery,
                installation: InstallationId(INSTALLATION),
                repo: RepoFullName::new(&self.repo),
                commit: CommitSha::new(self.head.clone()),
                git_ref: "refs/heads/main".to_owned(),
                trigger: Trigger::Comment {
                    comment_id: 1_234,
                    source: CommentSource::IssueComment,
                    number: PULL_NUMBER,
                    on_pull_request: true,
                },
                task: task.to_owned(),
                params: params.to_owned(),
                requester: "octocat".to_owned(),
                approval: Approval::not_required(),
            },
            1_000,
        );
        record
            .move_to(JobStatus::Dispatching, 2_000)
            .expect("dispatching");
        // The attempt's credential, granted as the dispatch stage grants it.
        let credential = RunnerCredential::generate().expect("a credential");
        record.runner_grant =
            Some(
                self.grants
                    .grant(&record.id, record.attempts, false, &credential),
            );
        let check = self
            .github
            .client()
            .create_check_run(
                &self.scope(),
                &NewCheckRun {
                    name: format!("Ollama Turbo Agent · {task}"),
                    head_sha: record.commit.clone(),
                    external_id: record.id.to_string(),
                    status: CheckStatus::Queued,
                    details_url: None,
                    output: None,
                },
            )
            .await
            .expect("check run");
        record.check_run_id = Some(check);
        record.log = Some("https://logs.example/runner/abc".to_owned());
        self.store.create_job(&record).await.expect("create job");
        let execution_arn = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.state_machine)
            .name(record.id.as_str())
            .input(serde_json::json!({ "job": record.id.as_str() }).to_string())
            .send()
            .await
            .expect("start execution")
            .execution_arn;
        let token = self.token().await;
        self.store
            .put_task_token(&record.id, Wait::Run, &token)
            .await
            .expect("store the run's token");
        StartedJob {
            record,
            execution_arn,
            credential,
        }
    }

    async fn token(&self) -> TaskToken {
        aws::next_task_token(&self.sqs, &self.queue_url).await.1
    }

    /// The runner of `job`'s attempt as `main` builds it, pointed at this world's servers:
    /// its GitHub client gets its tokens from the dispatch function.
    pub async fn runner(&self, job: &StartedJob) -> Runner<DynamoStore, StepFunctionsWorkflow> {
        let host = self.ollama.host();
        self.runner_with_ollama(job, &host).await
    }

    pub async fn runner_with_ollama(
        &self,
        job: &StartedJob,
        host: &str,
    ) -> Runner<DynamoStore, StepFunctionsWorkflow> {
        let host = host.to_owned();
        let env = OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| host.clone()))
            .expect("ollama host");
        let broker = self.broker(job, job.record.attempts, job.credential.clone());
        let (github, api_key) = brokered_client(
            Arc::new(broker),
            AppId(APP_ID),
            &self.github.base_url(),
            Some(crate::fake_github::MANIFEST_APP_SLUG),
        )
        .await
        .expect("the job's token from the dispatch function");
        assert!(api_key.is_none(), "a self-hosted job got the Ollama key");
        Runner {
            store: self.store.clone(),
            workflow: StepFunctionsWorkflow::new(self.sfn.clone(), self.state_machine.clone())
                .expect("state machine arn"),
            github,
            ollama: OllamaClient::new(
                &env,
                ClientOptions {
                    connect_timeout: Duration::from_secs(2),
                    idle_timeout: Duration::from_secs(10),
                    retry: fast_retries(),
                },
            )
            .expect("ollama client"),
            agent: AgentSettings {
                sandbox: CommandSandbox::from_process_env(),
                ..AgentSettings::default()
            },
            git_base_url: self.git.base_url(),
            identity: Identity::bot("ollama-turbo-agent", None),
            endpoint: Some(EndpointKind::SelfHosted),
            heartbeat_interval: Duration::from_millis(200),
            live_update_interval: Duration::from_millis(50),
            max_runtime: Duration::from_secs(600),
        }
    }

    /// The broker a runner of `job` builds, for `attempt` with `credential`.
    pub fn broker(
        &self,
        job: &StartedJob,
        attempt: u32,
        credential: RunnerCredential,
    ) -> LambdaBroker {
        LambdaBroker::new(
            self.dispatch.client(&self.aws),
            self.dispatch.name(),
            job.record.id.clone(),
            attempt,
            credential,
        )
    }

    /// The execution once it is no longer running.
    pub async fn finished(
        &self,
        execution_arn: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        aws::finished_execution(&self.sfn, execution_arn).await
    }

    /// `text` with what changes from run to run — the job's id and short id, the
    /// repository's name, its first commit, the run's duration — replaced by
    /// placeholders, for a snapshot.
    pub fn redact(&self, job: &StartedJob, text: &str) -> String {
        crate::redact::Redact::new()
            .value(job.record.id.as_str(), "[job]")
            .value(job.record.id.short(), "[short]")
            .value(&self.repo, "[repo]")
            .value(&self.head, "[head]")
            .between("Time: ", " (", "[time]")
            .apply(text)
    }

    /// Every token the fake GitHub minted: none may show up anywhere a person can read.
    pub fn minted_tokens(&self) -> Vec<String> {
        self.github
            .minted_tokens()
            .into_iter()
            .map(|minted| minted.token)
            .collect()
    }
}

/// A state machine whose one task waits for the runner as the job's `Run` state does:
/// `sqs:sendMessage.waitForTaskToken` with a heartbeat timeout (without one, Step
/// Functions has no heartbeat to refresh), sending `{"job", "token"}` to a queue.
/// Returns the state machine's ARN and the queue's URL.
async fn run_state_machine(
    sfn: &aws_sdk_sfn::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let limits = serde_json::json!({"HeartbeatSeconds": 60, "TimeoutSeconds": 600});
    aws::callback_state_machine(sfn, sqs, name, "Run", limits).await
}

/// The test repository's one source file.
pub const LIB: &str =
    "pub fn fetch() {\n    for attempt in 0..3 {\n        let _ = attempt;\n    }\n}\n";

/// [`LIB`] refactored as the scripted model does it.
pub const REFACTORED: &str = "pub fn fetch() {\n    retry_with_backoff(3);\n}\n\nfn retry_with_backoff(times: u32) {\n    for attempt in 0..times {\n        let _ = attempt;\n    }\n}\n";

/// The model every test task names.
pub const TASK_MODEL: &str = MODEL;

/// A `.ollama-turbo.yml` whose `refactor` and `review` use [`TASK_MODEL`], and whose
/// refactor runs `command`.
pub fn config_with_command(command: &str) -> String {
    format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    refactor:\n      command: \"{command}\"\n"
    )
}
