//! A deployed stack on moto, for `ota --stack` (`cli/tests/stack_*.rs`): a CloudFormation
//! stack with the logical ids and outputs `template.yaml` gives the operator's commands —
//! the jobs table, the job state machine on the real `statemachine/job.asl.json`, the
//! queues it sends to and the five dead-letter queues — and the real store and workflow
//! on it. Moto's CloudFormation has no `AWS::SecretsManager::Secret`, so the three
//! secrets are created through the API and their ARNs handed to the stack as parameters
//! that its outputs echo under `template.yaml`'s output names; the CLI reads outputs
//! either way. So is the state machine: moto creates a CloudFormation state machine in
//! its plain Step Functions backend, while with execution turned on
//! (`execute_state_machines`) its API answers from the executing one, which would not
//! know it. Moto also needs FIFO queues named (`.fifo`), which CloudFormation names
//! itself on AWS.

use crate::aws::{REGION, STATE_MACHINE_ROLE, config, execute_state_machines, moto_endpoint};
use crate::unique;
use crate::workflow::{TEST_RETRY, definition};
use ota_aws::{DynamoStore, StepFunctionsWorkflow};
use serde_json::{Value, json};
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

/// The account moto serves.
const MOTO_ACCOUNT: &str = "123456789012";

/// The secrets' initial values: placeholders the tests replace.
const PLACEHOLDER: &str = "placeholder";

/// The stack's dead-letter queues by logical id, and whether each is FIFO (as in
/// `template.yaml`).
const QUEUES: [(&str, bool); 5] = [
    ("IntakeDeadLetterQueue", true),
    ("ApprovalsDeadLetterQueue", false),
    ("DispatchDeadLetterQueue", false),
    ("ReportDeadLetterQueue", true),
    ("JobDeadLetterQueue", false),
];

/// The queues the state machine sends to, beside the stack (see the module's doc), and
/// whether each is FIFO.
const WORKFLOW_QUEUES: [(&str, bool); 3] = [
    ("ApprovalsQueue", false),
    ("DispatchQueue", false),
    ("ReportQueue", true),
];

/// `template.yaml`'s outputs the operator's commands read, and what gives their values
/// here: a resource (`Ref`) or a parameter (the secrets).
const OUTPUTS: [(&str, &str); 10] = [
    ("JobsTableName", "JobsTable"),
    ("JobStateMachineArn", "JobStateMachineArnParameter"),
    ("IntakeDeadLetterQueueUrl", "IntakeDeadLetterQueue"),
    ("ApprovalsDeadLetterQueueUrl", "ApprovalsDeadLetterQueue"),
    ("DispatchDeadLetterQueueUrl", "DispatchDeadLetterQueue"),
    ("ReportDeadLetterQueueUrl", "ReportDeadLetterQueue"),
    ("JobDeadLetterQueueUrl", "JobDeadLetterQueue"),
    ("GitHubAppPrivateKeyArn", "GitHubAppPrivateKeyArnParameter"),
    ("WebhookSecretArn", "WebhookSecretArnParameter"),
    ("OllamaApiKeyArn", "OllamaApiKeyArnParameter"),
];

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
    outputs: std::collections::BTreeMap<String, String>,
}

impl StackWorld {
    pub async fn start() -> Self {
        execute_state_machines();
        let config = config().await;
        let cloudformation = aws_sdk_cloudformation::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let sfn = aws_sdk_sfn::Client::new(&config);
        let name = unique("ota-stack");
        let state_machine_arn =
            create_state_machine(&sfn, &aws_sdk_sqs::Client::new(&config), &name).await;
        let mut create = cloudformation
            .create_stack()
            .stack_name(&name)
            .template_body(template(&name).to_string());
        for (parameter, secret) in [
            ("GitHubAppPrivateKeyArnParameter", "private-key"),
            ("WebhookSecretArnParameter", "webhook-secret"),
            ("OllamaApiKeyArnParameter", "ollama-api-key"),
        ] {
            let arn = crate::aws::secret(&secrets, &format!("{name}-{secret}"), PLACEHOLDER).await;
            create = create.parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key(parameter)
                    .parameter_value(arn)
                    .build(),
            );
        }
        create = create.parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("JobStateMachineArnParameter")
                .parameter_value(state_machine_arn)
                .build(),
        );
        create.send().await.expect("create the stack in moto");
        let outputs = wait_for_outputs(&cloudformation, &name).await;
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&config),
            &outputs["JobsTableName"],
        );
        let workflow =
            StepFunctionsWorkflow::new(sfn.clone(), &outputs["JobStateMachineArn"]).expect("arn");
        Self {
            name,
            store,
            workflow,
            sqs: aws_sdk_sqs::Client::new(&config),
            sfn,
            secrets,
            outputs,
        }
    }

    /// The stack output `name`.
    pub fn output(&self, name: &str) -> &str {
        &self.outputs[name]
    }

    /// Runs `program` (the `ota` binary) with `--stack` and `args`, against moto, as
    /// [`OPERATOR`], with `stdin` as its input.
    pub fn ota(&self, program: &str, args: &[&str], stdin: &str) -> Ran {
        let mut full = vec!["--stack", self.name.as_str()];
        full.extend_from_slice(args);
        run_ota(program, &full, stdin)
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

    /// The URL of the stack's queue `logical_id`.
    pub async fn queue_url(&self, logical_id: &str) -> String {
        let (_, fifo) = QUEUES
            .iter()
            .chain(WORKFLOW_QUEUES.iter())
            .find(|(id, _)| *id == logical_id)
            .unwrap_or_else(|| panic!("no queue {logical_id}"));
        self.sqs
            .get_queue_url()
            .queue_name(queue_name(&self.name, logical_id, *fifo))
            .send()
            .await
            .expect("the queue in moto")
            .queue_url
            .expect("url")
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

    /// The current value of the secret behind the output `output`.
    pub async fn secret_value(&self, output: &str) -> String {
        self.secrets
            .get_secret_value()
            .secret_id(self.output(output))
            .send()
            .await
            .expect("read the secret from moto")
            .secret_string
            .unwrap_or_default()
    }
}

/// Runs the `ota` binary against moto with `args`.
pub fn run_ota(program: &str, args: &[&str], stdin: &str) -> Ran {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
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

/// The stack's template: `template.yaml`'s logical ids and output names.
fn template(stack: &str) -> Value {
    let mut resources = serde_json::Map::new();
    resources.insert("JobsTable".to_owned(), jobs_table());
    for (logical_id, fifo) in QUEUES {
        let mut properties = json!({ "QueueName": queue_name(stack, logical_id, fifo) });
        if fifo {
            properties["FifoQueue"] = json!(true);
        }
        resources.insert(
            logical_id.to_owned(),
            json!({ "Type": "AWS::SQS::Queue", "Properties": properties }),
        );
    }
    let mut parameters = serde_json::Map::new();
    let mut outputs = serde_json::Map::new();
    for (output, source) in OUTPUTS {
        if source.ends_with("Parameter") {
            parameters.insert(source.to_owned(), json!({ "Type": "String" }));
        }
        outputs.insert(output.to_owned(), json!({ "Value": { "Ref": source } }));
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    })
}

/// The job state machine on the real definition, and the queues it sends to; its ARN.
async fn create_state_machine(
    sfn: &aws_sdk_sfn::Client,
    sqs: &aws_sdk_sqs::Client,
    stack: &str,
) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    let mut urls = Vec::new();
    for (logical_id, fifo) in WORKFLOW_QUEUES {
        let mut create = sqs
            .create_queue()
            .queue_name(queue_name(stack, logical_id, fifo));
        if fifo {
            // As `template.yaml`'s report queue: the workflow's sends carry no
            // deduplication id.
            create = create
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
        }
        let url = create.send().await.expect("create queue in moto").queue_url;
        urls.push(url.expect("queue url"));
    }
    // The jobs' dead-letter queue is the stack's, created after this: its URL is the one
    // moto gives a queue of that name in its one account (the workflow sends there only
    // when it sets a job aside, which these tests do by hand).
    let dead_letters = format!(
        "{}/{MOTO_ACCOUNT}/{}",
        moto_endpoint().trim_end_matches('/'),
        queue_name(stack, "JobDeadLetterQueue", false)
    );
    let definition = definition::substitute(&definition::values(
        &TEST_RETRY,
        [
            ("ApprovalsQueueUrl", &urls[0]),
            ("DispatchQueueUrl", &urls[1]),
            ("ReportQueueUrl", &urls[2]),
            ("JobDeadLetterQueueUrl", &dead_letters),
        ],
    ));
    sfn.create_state_machine()
        .name(stack)
        .role_arn(STATE_MACHINE_ROLE)
        .definition(definition)
        .send()
        .await
        .expect("create the job state machine in moto")
        .state_machine_arn
}

/// The name given to the queue `logical_id` of `stack`.
fn queue_name(stack: &str, logical_id: &str, fifo: bool) -> String {
    let suffix = if fifo { ".fifo" } else { "" };
    format!("{stack}-{logical_id}{suffix}")
}

/// The table as `template.yaml` defines it: `PK`/`SK`, the `GSI1` jobs-by-thread index.
fn jobs_table() -> Value {
    let attribute = |name: &str| json!({ "AttributeName": name, "AttributeType": "S" });
    json!({
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [attribute("PK"), attribute("SK"), attribute("GSI1PK"), attribute("GSI1SK")],
            "KeySchema": [
                { "AttributeName": "PK", "KeyType": "HASH" },
                { "AttributeName": "SK", "KeyType": "RANGE" }
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": "GSI1",
                "KeySchema": [
                    { "AttributeName": "GSI1PK", "KeyType": "HASH" },
                    { "AttributeName": "GSI1SK", "KeyType": "RANGE" }
                ],
                "Projection": { "ProjectionType": "ALL" }
            }]
        }
    })
}

/// The stack's outputs once it is created.
async fn wait_for_outputs(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    let started = Instant::now();
    loop {
        let stacks = client
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .expect("describe the stack in moto")
            .stacks
            .unwrap_or_default();
        let stack = stacks.first().expect("the stack");
        let status = stack.stack_status.as_ref().map(|s| s.as_str().to_owned());
        match status.as_deref() {
            Some("CREATE_COMPLETE") => {
                return stack
                    .outputs
                    .iter()
                    .flatten()
                    .filter_map(|o| Some((o.output_key.clone()?, o.output_value.clone()?)))
                    .collect();
            }
            Some(status) if status.contains("FAILED") || status.contains("ROLLBACK") => {
                panic!("stack {name}: {status}: {:?}", stack.stack_status_reason)
            }
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "stack {name} not created"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
