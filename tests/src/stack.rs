//! A deployed stack on moto, for `ota --stack` (`cli/tests/stack_*.rs`): the stack
//! created from `template.yaml` as `tests/src/deployed` creates it (SAM translated
//! locally, what moto lacks made through the APIs), with an Ollama of its own so that no
//! GPU service is made, and the real store and workflow on its table and state machine.
//! The operator's commands find everything by the stack's name and outputs, as on AWS.

use crate::aws::{REGION, config, execute_state_machines, moto_endpoint};
use crate::deployed::stack::{self, Stack};
use crate::unique;
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use serde_json::Value;
use shared::clock::now_ms;
use shared::envelope::CommentSource;
use shared::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use shared::job::{Approval, JobId, JobRecord, JobRequest, JobStatus, Timeouts, Trigger};
use shared::ports::{JobStore, Workflow, WorkflowInput};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The installation the stack's jobs belong to.
pub const INSTALLATION: u64 = 4242;
/// The repository and pull request of the stack's jobs.
pub const REPO: &str = "octo-org/hello-world";
pub const PULL: u64 = 7;
/// The operator's name as `ota` finds it (`USER`), for the audit log.
pub const OPERATOR: &str = "ops";

/// What `ota` printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A stack on moto and clients on its resources.
pub struct StackWorld {
    pub name: String,
    pub store: DynamoStore,
    pub workflow: StepFunctionsWorkflow,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The stack as created: its resources and outputs.
    pub stack: Stack,
}

impl StackWorld {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Self::start`] with more of the template's parameters.
    pub async fn start_with(more: &[(&str, String)]) -> Self {
        execute_state_machines();
        let config = config().await;
        let name = unique("ota-stack");
        let parameters = [
            ("GitHubAppId", crate::fake_github::APP_ID.to_string()),
            (
                "SelfHostedOllamaUrl",
                "http://ollama.internal:11434".to_owned(),
            ),
            ("RunnerImage", crate::deployed::RUNNER_IMAGE.to_owned()),
        ]
        .into_iter()
        .chain(more.iter().cloned())
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        let stack = stack::create(&config, &name, &parameters)
            .await
            .unwrap_or_else(|problem| panic!("creating the stack from template.yaml: {problem}"));
        let sfn = aws_sdk_sfn::Client::new(&config);
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            stack.output("JobsTableName"),
        );
        let workflow = StepFunctionsWorkflow::new(sfn.clone(), stack.output("JobStateMachineArn"))
            .expect("the state machine's ARN");
        Self {
            name,
            store,
            workflow,
            sqs: aws_sdk_sqs::Client::new(&config),
            sfn,
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            stack,
        }
    }

    /// The stack output `name`.
    pub fn output(&self, name: &str) -> &str {
        self.stack.output(name)
    }

    /// Runs `program` (the `ota` binary) with `--stack` and `args`, against moto, as
    /// [`OPERATOR`], with `stdin` as its input.
    pub fn ota(&self, program: &str, args: &[&str], stdin: &str) -> Ran {
        self.ota_via(&moto_endpoint(), program, args, stdin)
    }

    /// [`StackWorld::ota`] with AWS at `endpoint` (moto behind a front that adds what it
    /// lacks, e.g. [`crate::sqs_redrive::SqsRedrive`]).
    pub fn ota_via(&self, endpoint: &str, program: &str, args: &[&str], stdin: &str) -> Ran {
        let mut full = vec!["--stack", self.name.as_str()];
        full.extend_from_slice(args);
        run_ota_via(endpoint, program, &full, stdin)
    }

    /// A job on the pull request, stored with the real store, `status` as given; not
    /// started.
    pub async fn job(&self, status: JobStatus, approval_required: bool) -> JobRecord {
        let delivery = DeliveryId::parse(&unique("delivery")).expect("delivery id");
        let now = now_ms();
        let mut job = JobRecord::new(
            JobRequest {
                id: JobId::for_command(&delivery, 0),
                delivery,
                installation: InstallationId(INSTALLATION),
                repo: RepoFullName::new(REPO),
                commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
                git_ref: "feature".to_owned(),
                trigger: Trigger::Comment {
                    comment_id: 99,
                    source: CommentSource::IssueComment,
                    number: PULL,
                    on_pull_request: true,
                },
                task: "refactor".to_owned(),
                params: "extract the retry loop".to_owned(),
                requester: "octocat".to_owned(),
                approval: if approval_required {
                    Approval::required(None)
                } else {
                    Approval::not_required()
                },
            },
            now,
        );
        if status != JobStatus::Queued {
            job.move_to(status, now)
                .expect("a status the job can reach");
        }
        self.store.create_job(&job).await.expect("record the job");
        job
    }

    /// Starts the job's execution as the policy stage does.
    pub async fn start_execution(&self, job: &JobRecord, approval_required: bool) {
        self.workflow
            .start(&WorkflowInput {
                job: job.id.clone(),
                approval_required,
                timeouts: Timeouts::DEFAULT,
            })
            .await
            .expect("start the execution");
    }

    /// The dashboard's control plane on the stack: its table, state machine, runners' log
    /// group and dead-letter queues, as the dashboard function is given them.
    pub async fn control_plane(&self) -> ota_aws::DynamoControlPlane {
        let config = config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let dead_letters = ota_aws::DEAD_LETTER_QUEUES
            .iter()
            .map(|spec| ota_aws::DeadLetterSource {
                name: spec.name.to_owned(),
                queue: ota_aws::DeadLetterQueue::new(sqs.clone(), self.output(spec.output)),
                holds_jobs: spec.holds_jobs(),
            })
            .collect();
        ota_aws::DynamoControlPlane::new(
            self.store.clone(),
            self.workflow.clone(),
            ota_aws::RunnerLogReader::new(
                aws_sdk_cloudwatchlogs::Client::new(&config),
                self.runner_log_group(),
            ),
            dead_letters,
        )
    }

    /// The runners' log group's name.
    pub fn runner_log_group(&self) -> &str {
        self.stack.physical("RunnerLogGroup")
    }

    /// The URL of the stack's queue `logical_id` (a queue's physical id).
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack.physical(logical_id).to_owned()
    }

    /// The messages waiting in a queue of the stack, received and left in place (visible
    /// again at once).
    pub async fn peek(&self, queue_url: &str) -> Vec<String> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive from moto");
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|message| message.body)
            .collect()
    }

    /// The first message of `queue_url` (waiting up to 10 s for one), taken off it.
    pub async fn take_message(&self, queue_url: &str) -> Value {
        let started = Instant::now();
        loop {
            let messages = crate::aws::receive(&self.sqs, queue_url).await;
            if let Some(message) = messages.into_iter().next() {
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .expect("delete from moto");
                return serde_json::from_str(&message.body.unwrap_or_default()).expect("JSON");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no message in {queue_url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The status of the job's execution (`RUNNING`, `ABORTED`, ...), if it has one.
    pub async fn execution_status(&self, id: &JobId) -> Option<String> {
        self.sfn
            .describe_execution()
            .execution_arn(self.workflow.execution_arn(id))
            .send()
            .await
            .ok()
            .map(|output| output.status.as_str().to_owned())
    }

    /// The current value of the secret behind the output `output`; `None` while it has
    /// none (the App's key of a stack just deployed).
    pub async fn secret_value(&self, output: &str) -> Option<String> {
        match self
            .secrets
            .get_secret_value()
            .secret_id(self.output(output))
            .send()
            .await
        {
            Ok(read) => read.secret_string,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|err| err.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(err) => panic!("read the secret from moto: {err}"),
        }
    }
}

/// Runs the `ota` binary against moto with `args`.
pub fn run_ota(program: &str, args: &[&str], stdin: &str) -> Ran {
    run_ota_via(&moto_endpoint(), program, args, stdin)
}

/// Runs the `ota` binary against AWS at `endpoint` with `args`.
fn run_ota_via(endpoint: &str, program: &str, args: &[&str], stdin: &str) -> Ran {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("OTA_STACK")
        .env("USER", OPERATOR)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ota");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("ota ends");
    Ran {
        success: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
