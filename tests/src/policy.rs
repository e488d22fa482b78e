//! The policy function wired as it is deployed — the real `build_stage` with its GitHub
//! client, DynamoDB store and Step Functions workflow — against the fake GitHub server and
//! moto, with helpers to feed it events the way its SQS trigger does.

use crate::aws;
use crate::fake_github::{FakeGitHub, FakePull};
use crate::fixtures;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use ota_aws::DynamoStore;
use policy_function::{Settings, Stage, build_stage, handle_batch};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::envelope::{Envelope, EventName};
use shared::ids::{DeliveryId, InstallationId};
use shared::inbound::Inbound;
use shared::job::{JobRecord, TaskToken, Wait};
use shared::ports::{AuditEntry, AuditLog, JobStore};
use shared::webhook::payload::normalize;

/// The repository of the webhook fixtures.
pub const REPO: &str = "Codertocat/Hello-World";
pub const DEFAULT_BRANCH: &str = "master";
pub const DEFAULT_BRANCH_HEAD: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
/// The installation fixtures are delivered to.
pub const INSTALLATION: u64 = 4242;
/// The pull request the PR fixtures are about, and its head.
pub const PR: u64 = 2;
pub const PR_HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
pub const PR_BRANCH: &str = "changes";

pub struct PolicyHarness {
    pub github: FakeGitHub,
    pub stage: Stage,
    /// The same table, for assertions.
    pub store: DynamoStore,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub state_machine_arn: String,
    /// Where the state machine's task sends `{job, token}`.
    pub token_queue_url: String,
}

impl PolicyHarness {
    /// A fresh table, state machine and fake GitHub, with a repository whose default
    /// branch and pull request #2 exist, and `Codertocat` as a writer. The state machine
    /// waits for a task token, as the job's approval wait does.
    pub async fn start() -> Self {
        Self::start_with(Machine::TaskToken).await
    }

    /// The same, with a state machine that only waits: moto stops those cleanly
    /// (`ABORTED`), which it does not do for an execution inside a callback task.
    pub async fn start_waiting() -> Self {
        Self::start_with(Machine::Waiting).await
    }

    async fn start_with(machine: Machine) -> Self {
        let github = FakeGitHub::start().await;
        github.set_branch(REPO, DEFAULT_BRANCH, DEFAULT_BRANCH_HEAD);
        github.set_pull_request(REPO, pull(PR_HEAD, Some(REPO)));
        github.set_role(REPO, "Codertocat", "write");

        let config = aws::config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&config);
        let sfn = aws_sdk_sfn::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let table = aws::jobs_table(&dynamo, &crate::unique("jobs")).await;
        let (state_machine_arn, token_queue_url) = match machine {
            Machine::TaskToken => {
                aws::task_token_state_machine(&sfn, &sqs, &crate::unique("job")).await
            }
            Machine::Waiting => (
                aws::waiting_state_machine(&sfn, &crate::unique("job")).await,
                String::new(),
            ),
        };
        let credentials = FakeGitHub::app_credentials();
        let key_arn = aws::secret(
            &secrets,
            &crate::unique("app-key"),
            credentials.private_key.expose_secret(),
        )
        .await;
        let settings = Settings {
            github: lambda_support::GitHubAppSettings {
                app_id: credentials.app_id,
                private_key_secret_arn: key_arn,
                api_url: github.base_url(),
                app_slug: Some(crate::fake_github::MANIFEST_APP_SLUG.to_owned()),
            },
            table: table.clone(),
            state_machine_arn: state_machine_arn.clone(),
        };
        let stage = build_stage(&settings, &config)
            .await
            .expect("the policy stage builds");
        Self {
            github,
            stage,
            store: DynamoStore::new(dynamo, table),
            sfn,
            sqs,
            state_machine_arn,
            token_queue_url,
        }
    }

    /// Feeds envelopes as one SQS batch, the way the Lambda trigger does.
    pub async fn process(&self, envelopes: &[Envelope]) -> SqsBatchResponse {
        let messages: Vec<Inbound> = envelopes.iter().cloned().map(Inbound::from).collect();
        self.process_inbound(&messages).await
    }

    /// Feeds intake messages (deliveries and requests) as one SQS batch.
    pub async fn process_inbound(&self, messages: &[Inbound]) -> SqsBatchResponse {
        let records: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                json!({
                    "messageId": format!("message-{index}"),
                    "receiptHandle": "handle",
                    "body": message.to_queue_message().expect("the message serializes"),
                    "attributes": {
                        "MessageGroupId": message.ordering_key(),
                        "MessageDeduplicationId": message.id().as_str(),
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1795000000000",
                        "SenderId": "AIDAEXAMPLE",
                        "ApproximateFirstReceiveTimestamp": "1795000000000"
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:intake.fifo",
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
        handle_batch(&self.stage, event).await
    }

    /// Processes envelopes and asserts that none failed.
    pub async fn process_ok(&self, envelopes: &[Envelope]) {
        let response = self.process(envelopes).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "failed: {:?}",
            response.batch_item_failures
        );
    }

    /// `login` comments `body` on pull request #2, and the stage handles it.
    pub async fn comment(&self, login: &str, body: &str) {
        self.process_ok(&[envelope("issue_comment", &comment(login, body, true))])
            .await;
    }

    /// `login` comments `body` on issue #1, and the stage handles it.
    pub async fn comment_on_issue(&self, login: &str, body: &str) {
        self.process_ok(&[envelope("issue_comment", &comment(login, body, false))])
            .await;
    }

    /// The default branch's `.ollama-turbo.yml` becomes `yaml`.
    pub fn set_config(&self, yaml: &str) {
        self.github
            .set_file(REPO, DEFAULT_BRANCH, ".ollama-turbo.yml", yaml);
    }

    /// Comments written on a thread by the App (the fake's only commenter here).
    pub fn comments(&self, number: u64) -> Vec<String> {
        self.github.comment_bodies(REPO, number)
    }

    /// The one comment on pull request #2.
    pub fn the_comment(&self) -> String {
        let replies = self.comments(PR);
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies[0].clone()
    }

    /// The latest comment on pull request #2.
    pub fn last_comment(&self) -> String {
        let replies = self.comments(PR);
        replies
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("no comment on #{PR}"))
    }

    /// The installation's audit trail, newest first.
    pub async fn audit(&self) -> Vec<AuditEntry> {
        self.store
            .recent(InstallationId(INSTALLATION), 10)
            .await
            .expect("audit")
    }

    pub async fn jobs(&self, number: u64) -> Vec<JobRecord> {
        self.store
            .jobs_for_thread(&shared::ids::RepoFullName::new(REPO), number, 100)
            .await
            .expect("jobs from the store")
    }

    /// The job's execution status (`RUNNING`, `SUCCEEDED`, `ABORTED`, ...), or `None`.
    pub async fn execution_status(&self, job: &JobRecord) -> Option<String> {
        let arn = format!(
            "{}:{}",
            self.state_machine_arn
                .replace(":stateMachine:", ":execution:"),
            job.id
        );
        let execution = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .ok()?;
        Some(execution.status.as_str().to_owned())
    }

    /// Waits until the job's execution has `status`, and returns the last one seen.
    pub async fn execution_reaches(&self, job: &JobRecord, status: &str) -> Option<String> {
        let mut seen = None;
        for _ in 0..50 {
            seen = self.execution_status(job).await;
            if seen.as_deref() == Some(status) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        seen
    }

    /// The executions started, by name.
    pub async fn execution_names(&self) -> Vec<String> {
        let listed = self
            .sfn
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .send()
            .await
            .expect("list executions");
        listed
            .executions
            .into_iter()
            .map(|execution| execution.name)
            .collect()
    }

    /// Plays the workflow's part: once an execution waits at its task, stores the task
    /// token for `job` as the approvals consumer does.
    pub async fn approval_wait_reached(&self, job: &JobRecord) {
        for _ in 0..50 {
            for message in aws::drain(&self.sqs, &self.token_queue_url).await {
                let body: Value = serde_json::from_str(&message.body).expect("token message");
                let token = body["token"].as_str().expect("token").to_owned();
                let id = body["job"].as_str().expect("job id");
                let id = shared::job::JobId::parse(id).expect("job id");
                self.store
                    .put_task_token(&id, Wait::Approval, &TaskToken::new(token))
                    .await
                    .expect("store token");
                if id == job.id {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the execution of {} never reached its wait", job.id);
    }
}

enum Machine {
    TaskToken,
    Waiting,
}

pub fn pull(head_sha: &str, head_repo: Option<&str>) -> FakePull {
    FakePull {
        number: PR,
        state: "open".to_owned(),
        head_sha: head_sha.to_owned(),
        head_ref: PR_BRANCH.to_owned(),
        base_ref: DEFAULT_BRANCH.to_owned(),
        head_repo: head_repo.map(str::to_owned),
    }
}

/// `text` with its job and delivery ids replaced by placeholders, for a snapshot.
pub fn redact(text: &str) -> String {
    crate::redact::Redact::new().ids().apply(text)
}

/// An `installation` event with `action` (`created`, `deleted`) for [`INSTALLATION`].
pub fn installation_event(action: &str) -> Value {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("installation", Some(action)),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload
}

/// A payload normalized as the webhook function would, with a fresh delivery id.
pub fn envelope(event: &str, payload: &Value) -> Envelope {
    let delivery = DeliveryId::parse(&crate::unique("delivery")).expect("delivery id");
    let event = EventName::from_header(event).expect("a supported event");
    let body = serde_json::to_vec(payload).expect("payload serializes");
    normalize(event, delivery, &body).expect("the fixture normalizes")
}

/// A new comment by `login` with `body`, on pull request #2 or on issue #1.
pub fn comment(login: &str, body: &str, on_pull_request: bool) -> Value {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("issue_comment", Some("created")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["comment"]["body"] = json!(body);
    payload["comment"]["user"]["login"] = json!(login);
    payload["sender"]["login"] = json!(login);
    if on_pull_request {
        payload["issue"]["number"] = json!(PR);
        payload["issue"]["pull_request"] =
            json!({ "url": format!("https://api.github.com/repos/{REPO}/pulls/{PR}") });
    }
    payload
}

/// A `pull_request` event for #2 with `action` and head `head_sha`.
pub fn pull_request_event(action: &str, head_sha: &str) -> Value {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("pull_request", Some("synchronize")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["action"] = json!(action);
    payload["number"] = json!(PR);
    payload["pull_request"]["number"] = json!(PR);
    payload["pull_request"]["head"]["sha"] = json!(head_sha);
    payload
}
