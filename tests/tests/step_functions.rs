//! The Step Functions workflow against moto, through the real SDK client: executions
//! named after the job, started once, stopped by `/cancel`, and waits answered with real
//! task tokens from a `.waitForTaskToken` state that moto runs.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::aws::{
    closed_port, config, config_for, finished_execution, next_task_token, task_token_state_machine,
    waiting_state_machine,
};
use e2e::unique;
use e2e::workflow::seen::assert_ignored;
use ota_aws::{START_REQUEST_FIELD, StepFunctionsWorkflow};
use shared::ids::DeliveryId;
use shared::job::{JobError, JobId, TaskToken, Timeouts};
use shared::ports::{Started, Workflow, WorkflowError, WorkflowInput};
use std::time::Duration;

struct Machine {
    workflow: StepFunctionsWorkflow,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    /// Where the task token arrives (empty for the waiting machine, which has none).
    queue_url: String,
}

/// A workflow on a state machine that waits for a task token, sent to `queue_url`.
async fn machine() -> Machine {
    let config = config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (arn, queue_url) = task_token_state_machine(&sfn, &sqs, &unique("ota-job")).await;
    let workflow = StepFunctionsWorkflow::new(sfn.clone(), arn).expect("state machine arn");
    Machine {
        workflow,
        sfn,
        sqs,
        queue_url,
    }
}

/// A workflow on a state machine that only waits, which moto stops cleanly.
async fn waiting_machine() -> Machine {
    let config = config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let arn = waiting_state_machine(&sfn, &unique("ota-wait")).await;
    Machine {
        workflow: StepFunctionsWorkflow::new(sfn.clone(), arn).expect("state machine arn"),
        sfn,
        sqs: aws_sdk_sqs::Client::new(&config),
        queue_url: String::new(),
    }
}

fn input() -> WorkflowInput {
    let delivery = DeliveryId::parse(&unique("delivery")).expect("delivery id");
    WorkflowInput {
        job: JobId::for_command(&delivery, 0),
        approval_required: true,
        timeouts: Timeouts {
            approval: Duration::from_secs(3_600),
            heartbeat: Duration::from_secs(120),
            max_runtime: Duration::from_secs(1_800),
            max_queue: Duration::from_secs(3_600),
        },
    }
}

impl Machine {
    async fn describe(
        &self,
        job: &JobId,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        self.sfn
            .describe_execution()
            .execution_arn(self.workflow.execution_arn(job))
            .send()
            .await
            .expect("describe execution")
    }

    /// The execution once it is no longer `RUNNING`.
    async fn finished(
        &self,
        job: &JobId,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        finished_execution(&self.sfn, &self.workflow.execution_arn(job)).await
    }

    /// The task token the waiting state sent to the queue, with the job it named.
    async fn token(&self) -> (String, TaskToken) {
        next_task_token(&self.sqs, &self.queue_url).await
    }
}

#[tokio::test]
async fn an_execution_is_named_after_the_job_and_gets_its_input() {
    let machine = machine().await;
    let input = input();
    assert_eq!(machine.workflow.start(&input).await, Ok(Started::New));

    let execution = machine.describe(&input.job).await;
    assert_eq!(execution.name.as_deref(), Some(input.job.as_str()));
    let started_with: serde_json::Value =
        serde_json::from_str(execution.input.as_deref().expect("input")).expect("json input");
    assert_eq!(
        serde_json::from_value::<WorkflowInput>(started_with.clone()).expect("workflow input"),
        input
    );
    assert!(
        started_with[START_REQUEST_FIELD].is_string(),
        "{started_with}"
    );
    assert_eq!(started_with["timeouts"]["approval_seconds"], 3_600);
}

#[tokio::test]
async fn starting_a_job_twice_leaves_one_execution() {
    let machine = waiting_machine().await;
    let input = input();
    assert_eq!(machine.workflow.start(&input).await, Ok(Started::New));
    assert_eq!(
        machine.workflow.start(&input).await,
        Ok(Started::AlreadyStarted)
    );
    let executions = machine
        .sfn
        .list_executions()
        .state_machine_arn(machine.describe(&input.job).await.state_machine_arn)
        .send()
        .await
        .expect("list executions");
    assert_eq!(executions.executions.len(), 1);

    // Still `AlreadyStarted` once the execution has ended.
    machine
        .workflow
        .stop(&input.job, "test")
        .await
        .expect("stop");
    assert_eq!(
        machine.workflow.start(&input).await,
        Ok(Started::AlreadyStarted)
    );
}

#[tokio::test]
async fn stopping_aborts_the_execution_and_is_harmless_to_repeat() {
    let machine = waiting_machine().await;
    let input = input();
    machine.workflow.start(&input).await.expect("start");
    machine
        .workflow
        .stop(&input.job, "cancelled by @octocat")
        .await
        .expect("stop");
    let execution = machine.finished(&input.job).await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);

    machine
        .workflow
        .stop(&input.job, "cancelled again")
        .await
        .expect("stopping a stopped execution");
    machine
        .workflow
        .stop(&self::input().job, "never started")
        .await
        .expect("stopping a job that never started");
}

#[tokio::test]
async fn a_real_task_token_resumes_the_execution_once() {
    let machine = machine().await;
    let input = input();
    machine.workflow.start(&input).await.expect("start");
    let (job, token) = machine.token().await;
    assert_eq!(job, input.job.as_str());

    let approval = serde_json::json!({"approved_by": "maintainer"});
    machine
        .workflow
        .succeed(&token, &approval)
        .await
        .expect("succeed");
    let execution = machine.finished(&input.job).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let output: serde_json::Value =
        serde_json::from_str(execution.output.as_deref().expect("output")).expect("json output");
    assert_eq!(output, approval);

    // The wait is over: answering it again says so.
    assert_eq!(
        machine.workflow.succeed(&token, &approval).await,
        Err(WorkflowError::TokenExpired)
    );
    // Step Functions refuses a late failure the same way. Moto does not: its
    // `SendTaskFailure` looks for the token in finished executions too and accepts it
    // (`moto/stepfunctions/parser/models.py`, `send_task_failure`). What matters holds in
    // both: the execution's outcome does not change.
    let late = machine
        .workflow
        .fail(&token, JobError::ApprovalDenied, "too late")
        .await;
    assert_ignored(&late);
    let execution = machine.finished(&input.job).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn failing_a_wait_fails_the_execution_with_the_named_error() {
    let machine = machine().await;
    let input = input();
    machine.workflow.start(&input).await.expect("start");
    let (_, token) = machine.token().await;
    machine
        .workflow
        .fail(
            &token,
            JobError::ApprovalDenied,
            "@maintainer denied the job",
        )
        .await
        .expect("fail");
    let execution = machine.finished(&input.job).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Approval.Denied"));
    // Step Functions keeps the cause too; moto drops it (`cause` stays empty).
}

/// On Step Functions, stopping an execution ends its wait at once and its token is refused
/// (`TaskTimedOut`/`TaskDoesNotExist`: [`WorkflowError::TokenExpired`]). Moto keeps a
/// stopped execution `RUNNING` while a callback is pending, accepts the answer, and only
/// then reports it `ABORTED`. What holds in both: the stop wins, the answer cannot
/// resume the job.
#[tokio::test]
async fn a_stopped_execution_cannot_be_resumed() {
    let machine = machine().await;
    let input = input();
    machine.workflow.start(&input).await.expect("start");
    let (_, token) = machine.token().await;
    machine
        .workflow
        .stop(&input.job, "cancelled")
        .await
        .expect("stop");
    let answer = machine
        .workflow
        .succeed(&token, &serde_json::json!({"approved_by": "late"}))
        .await;
    assert_ignored(&answer);
    let execution = machine.finished(&input.job).await;
    assert_eq!(execution.status, ExecutionStatus::Aborted);
}

#[tokio::test]
async fn an_unknown_token_is_expired_and_never_printed() {
    let machine = machine().await;
    let forged = TaskToken::new("AQCEAAAAKgAAAAMAAAAAAAAAAf7-forged-secret");
    assert_eq!(
        machine
            .workflow
            .succeed(&forged, &serde_json::json!({}))
            .await,
        Err(WorkflowError::TokenExpired)
    );

    let unreachable = config_for(&format!("http://127.0.0.1:{}", closed_port())).await;
    let offline = StepFunctionsWorkflow::new(
        aws_sdk_sfn::Client::new(&unreachable),
        "arn:aws:states:us-east-1:123456789012:stateMachine:ota-job",
    )
    .expect("arn");
    let err = offline
        .fail(&forged, JobError::RunnerFailed, "crashed")
        .await
        .expect_err("unreachable");
    assert!(err.is_transient(), "{err}");
    assert!(!format!("{err} {err:?}").contains("secret"), "{err:?}");
}

#[tokio::test]
async fn a_state_machine_arn_is_checked_once_at_start() {
    let client = aws_sdk_sfn::Client::new(&config().await);
    for bad in [
        "ota-job",
        "arn:aws:states:us-east-1:123456789012:execution:ota-job:j1",
    ] {
        assert!(
            StepFunctionsWorkflow::new(client.clone(), bad).is_err(),
            "{bad}"
        );
    }
    let workflow = StepFunctionsWorkflow::new(
        client,
        "arn:aws:states:us-east-1:123456789012:stateMachine:ota-job",
    )
    .expect("arn");
    let job = input().job;
    assert_eq!(
        workflow.execution_arn(&job),
        format!("arn:aws:states:us-east-1:123456789012:execution:ota-job:{job}")
    );
}
