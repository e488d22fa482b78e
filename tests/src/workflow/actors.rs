//! What acts on the workflow from outside in production, played through the same ports:
//! the policy stage that records a job and starts it (and answers `/approve`, refusals and
//! `/cancel`), the runner that reads its token from the store, heartbeats and answers,
//! and EventBridge, which puts Step Functions' event about a stopped execution on the
//! report queue (moto emits no such events).

use super::{HEAD_SHA, Harness, PULL, STEP_TIMEOUT};
use shared::clock::now_ms;
use shared::dispatch::{RunOutput, TestRun, runner_started};
use shared::envelope::CommentSource;
use shared::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use shared::job::{
    Approval, JobError, JobId, JobRecord, JobRequest, JobStatus, TaskToken, Timeouts, TokenUsage,
    Trigger, Wait,
};
use shared::policy::messages::{cancelled_comment, check_run_name};
use shared::ports::EndpointKind;
use shared::ports::JobStore;
use shared::ports::{CheckOutput, CheckStatus, GitHub, NewCheckRun};
use shared::ports::{Workflow, WorkflowError, WorkflowInput};
use std::time::{Duration, Instant};

/// Timeouts short enough for tests: the run's heartbeat and runtime are long enough that
/// a test's runner answers well within them.
pub const TEST_TIMEOUTS: Timeouts = Timeouts {
    approval: Duration::from_secs(60),
    heartbeat: Duration::from_secs(15),
    max_runtime: Duration::from_secs(40),
    max_queue: Duration::from_secs(60),
};

/// What a successful test runner reports.
pub fn run_output() -> RunOutput {
    RunOutput {
        summary: "Extracted the retry loop into `retry_with_backoff`.".to_owned(),
        pull_request_url: Some("https://github.com/octo-org/hello-world/pull/8".to_owned()),
        branch: Some("ollama/refactor-test".to_owned()),
        tests: vec![TestRun {
            command: "cargo test".to_owned(),
            passed: true,
            summary: Some("12 passed".to_owned()),
        }],
        model: "qwen3-coder:30b".to_owned(),
        endpoint: Some(EndpointKind::SelfHosted),
        tokens: TokenUsage {
            prompt: 12_000,
            completion: 3_400,
        },
        details: Some("### Steps\n\n1. Read `src/retry.rs`.".to_owned()),
    }
}

impl Harness {
    /// What the policy stage does for an accepted `/ollama refactor` on the pull request:
    /// records the job (awaiting approval if `approval_required`), creates its queued
    /// check run, and starts its execution with `timeouts`.
    pub async fn start_job(&self, approval_required: bool, timeouts: Timeouts) -> JobId {
        self.start_job_naming(approval_required, timeouts, Some("gpt-oss:120b"))
            .await
    }

    /// [`start_job`](Self::start_job) for a task that names `hosted_model` for Ollama's
    /// hosted service, or none.
    pub async fn start_job_naming(
        &self,
        approval_required: bool,
        timeouts: Timeouts,
        hosted_model: Option<&str>,
    ) -> JobId {
        let delivery = DeliveryId::parse(&crate::unique("delivery")).expect("delivery id");
        let now = now_ms();
        let mut job = JobRecord::new(
            JobRequest {
                id: JobId::for_command(&delivery, 0),
                delivery,
                installation: InstallationId(super::INSTALLATION),
                repo: RepoFullName::new(super::REPO),
                commit: CommitSha::new(HEAD_SHA),
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
                    Approval::required(Some(CommitSha::new(HEAD_SHA)))
                } else {
                    Approval::not_required()
                },
            },
            now,
        );
        // A task that names a model for Ollama's hosted service may spill over there when
        // a policy allows it.
        job.hosted_model = hosted_model.map(str::to_owned);
        if approval_required {
            job.move_to(JobStatus::AwaitingApproval, now).expect("wait");
        }
        let check_run_id = self
            .github_client
            .create_check_run(
                &Self::scope(),
                &NewCheckRun {
                    name: check_run_name(&job.task),
                    head_sha: job.commit.clone(),
                    external_id: job.id.to_string(),
                    status: CheckStatus::Queued,
                    details_url: None,
                    output: Some(CheckOutput {
                        title: "Queued".to_owned(),
                        summary: "Waiting for a runner.".to_owned(),
                        text: None,
                    }),
                },
            )
            .await
            .expect("create the check run");
        job.check_run_id = Some(check_run_id);
        self.store.create_job(&job).await.expect("record the job");
        self.workflow
            .start(&WorkflowInput {
                job: job.id.clone(),
                approval_required,
                timeouts,
            })
            .await
            .expect("start the execution");
        job.id
    }

    /// The token the job's wait stored, once it is there.
    pub async fn token(&self, id: &JobId, wait: Wait) -> TaskToken {
        let started = Instant::now();
        loop {
            self.pump().await;
            if let Some(token) = self.store.task_token(id, wait).await.expect("read token") {
                return token;
            }
            assert!(
                started.elapsed() < STEP_TIMEOUT,
                "job {id} never stored a {wait:?} token"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `/approve`: records the approver and ends the approval wait, as the policy stage.
    pub async fn approve(&self, id: &JobId, approver: &str) {
        let token = self.token(id, Wait::Approval).await;
        let mut job = self.job(id).await;
        job.approval.approved_by = Some(approver.to_owned());
        job.approval.approved_at_ms = Some(now_ms());
        self.store
            .update_job(&job, JobStatus::AwaitingApproval)
            .await
            .expect("record the approval");
        self.workflow
            .succeed(&token, &serde_json::json!({ "approved_by": approver }))
            .await
            .expect("end the approval wait");
    }

    /// A refused approval: the wait fails with `Approval.Denied`.
    pub async fn deny(&self, id: &JobId, cause: &str) {
        let token = self.token(id, Wait::Approval).await;
        self.workflow
            .fail(&token, JobError::ApprovalDenied, cause)
            .await
            .expect("deny");
    }

    /// `/cancel` as the policy stage does it: stops the execution, finishes the job,
    /// completes the check run and says so. Then EventBridge delivers the stopped
    /// execution's event to the report queue.
    pub async fn cancel(&self, id: &JobId, by: &str) {
        let cause = format!("cancelled by @{by}");
        self.workflow.stop(id, &cause).await.expect("stop");
        let mut job = self.job(id).await;
        let expected = job.status;
        job.move_to(JobStatus::Cancelled, now_ms()).expect("cancel");
        self.store
            .update_job(&job, expected)
            .await
            .expect("record the cancellation");
        let scope = Self::scope();
        if let Some(check_run_id) = job.check_run_id {
            self.github_client
                .update_check_run(
                    &scope,
                    check_run_id,
                    &shared::ports::CheckRunUpdate {
                        status: Some(CheckStatus::Completed),
                        conclusion: Some(shared::ports::CheckConclusion::Cancelled),
                        ..Default::default()
                    },
                )
                .await
                .expect("complete the check run");
        }
        self.github_client
            .comment(
                &scope,
                PULL,
                &format!("job:{id}:cancelled"),
                &cancelled_comment(&job, by),
            )
            .await
            .expect("comment");
        self.deliver_execution_event(id, "ABORTED", Some("Job.Cancelled"), Some(&cause))
            .await;
    }

    /// Step Functions' "Execution Status Change" event for the job's execution, on the
    /// report queue as the EventBridge rule of `template.yaml` puts it there.
    pub async fn deliver_execution_event(
        &self,
        id: &JobId,
        status: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) {
        let event = serde_json::json!({
            "version": "0",
            "id": crate::unique("event"),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": "123456789012",
            "time": "2025-01-01T00:00:00Z",
            "region": crate::aws::REGION,
            "resources": [self.workflow.execution_arn(id)],
            "detail": {
                "executionArn": self.workflow.execution_arn(id),
                "stateMachineArn": self.state_machine_arn,
                "name": id.as_str(),
                "status": status,
                "startDate": 1_735_689_600_000u64,
                "stopDate": 1_735_689_660_000u64,
                "input": "{}",
                "output": null,
                "error": error,
                "cause": cause,
            }
        });
        self.sqs
            .send_message()
            .queue_url(&self.queues.report)
            .message_group_id("execution-events")
            .message_body(event.to_string())
            .send()
            .await
            .expect("deliver the event");
    }

    /// ECS's "Task State Change" event for the job's runner task of attempt `attempt`
    /// having stopped, on the dispatch queue as `template.yaml`'s rule puts it there:
    /// `events/dispatch/ecs_task_stopped.json` with the task's ARN, cluster, job and
    /// attempt. Returns the task's ARN.
    pub async fn runner_task_stops(&self, id: &JobId, attempt: u32) -> String {
        let mut tasks = self.runner_tasks(id, "STOPPED").await;
        tasks.extend(self.runner_tasks(id, "RUNNING").await);
        let task = tasks
            .pop()
            .unwrap_or_else(|| panic!("job {id} has no runner task"));
        let mut event: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/dispatch/ecs_task_stopped.json"
        ))
        .expect("the sample event");
        let detail = &mut event["detail"];
        detail["taskArn"] = task.clone().into();
        detail["startedBy"] = id.as_str().into();
        detail["clusterArn"] = format!(
            "arn:aws:ecs:{}:123456789012:cluster/{}",
            crate::aws::REGION,
            self.cluster
        )
        .into();
        detail["overrides"]["containerOverrides"][0]["environment"] = serde_json::json!([
            {"name": "OTA_JOB_ID", "value": id.as_str()},
            {"name": "OTA_ATTEMPT", "value": attempt.to_string()},
            {"name": "OTA_MODEL_ENDPOINT", "value": "self_hosted"},
            {"name": "OTA_OLLAMA_URL", "value": "http://gpu.internal:11434"},
        ]);
        event["resources"] = serde_json::json!([task]);
        self.deliver_dispatch_message(&event.to_string()).await;
        task
    }

    /// The scheduled sweep's message, on the dispatch queue as `template.yaml`'s
    /// schedule puts it there.
    pub async fn sweep(&self) {
        self.deliver_dispatch_message(r#"{"kind": "sweep"}"#).await;
    }

    /// Puts `body` on the dispatch queue as it is.
    pub async fn deliver_dispatch_message(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queues.dispatch)
            .message_body(body)
            .send()
            .await
            .expect("deliver to the dispatch queue");
    }

    /// The runner of attempt `attempt` (1 for the first): waits until the dispatch of
    /// that attempt is done, marks the job running and returns the attempt's token. (Moto
    /// hands every retry of a wait the same token; Step Functions a new one.)
    pub async fn runner_starts(&self, id: &JobId, attempt: u32) -> TaskToken {
        self.pump_until(id, &format!("the dispatch of attempt {attempt}"), |job| {
            job.attempts >= attempt && job.status == JobStatus::Dispatching
        })
        .await;
        let token = self.token(id, Wait::Run).await;
        runner_started(&self.store, id, now_ms())
            .await
            .expect("runner started");
        token
    }

    /// The runner answers with its result.
    pub async fn runner_succeeds(&self, token: &TaskToken) -> Result<(), WorkflowError> {
        self.workflow
            .succeed(token, &run_output().to_task_output())
            .await
    }

    /// The runner succeeds with `output`.
    pub async fn runner_succeeds_with(
        &self,
        token: &TaskToken,
        output: &RunOutput,
    ) -> Result<(), WorkflowError> {
        self.workflow.succeed(token, &output.to_task_output()).await
    }

    /// The runner fails with a named error.
    pub async fn runner_fails(&self, token: &TaskToken, error: JobError, cause: &str) {
        self.workflow
            .fail(token, error, cause)
            .await
            .expect("fail the run");
    }
}
