//! The App as deployed: the stack created from `template.yaml` in moto's CloudFormation
//! (SAM translated locally; what moto lacks made by test support, see
//! `tests/src/deployed/moto_lacks.rs`), its four functions' real handlers run with the
//! environment CloudFormation resolved, and the runner with its task definition's. Covers
//! the stack's outputs and wiring (every function names the stack's own queues, table and
//! state machine: nothing is made by hand), a `/ollama` comment from a signed delivery to
//! an opened pull request and a completed check run, and a delivery with a bad signature
//! answered 401 with nothing queued. And the stack as deployed with only the App's id
//! (and key, and the runner image's tag `scripts/deploy` sets): a job asks for the stack's
//! own GPU Ollama service, which ECS starts (played by test support, see
//! `tests/src/deployed/gpu.rs`), waits in line until it is healthy, and runs against it
//! by its Cloud Map name. And a schedule: registered by the policy function from a push of
//! the config, fired by the scheduler function on its EventBridge rule, its job a pull
//! request.

use e2e::delivery::Delivery;
use e2e::deployed::{Models, RUNNER_IMAGE_TAG, StackWorld};
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{PR, REPO, pr_comment};
use e2e::runner_world::REFACTORED;
use e2e::serve_events::push_payload;
use serde_json::json;

/// The refactor's check: passes once the model's rewrite is in.
const CHECK: &str = "grep -q retry_with_backoff src/lib.rs";

const OUTPUTS: [&str; 8] = [
    "WebhookUrl",
    "WebhookSecretArn",
    "IntakeQueueUrl",
    "IntakeDeadLetterQueueUrl",
    "JobStateMachineArn",
    "JobDeadLetterQueueUrl",
    "JobsTableName",
    "GitHubAppPrivateKeyArn",
];

fn comment(body: &str) -> serde_json::Value {
    pr_comment("Codertocat", body)
}

/// Every function, and the runner, names the stack's own resources.
fn assert_wired_to_the_stack(world: &StackWorld) {
    let stack = &world.stack;
    for key in OUTPUTS {
        assert!(!stack.output(key).is_empty(), "output {key} is empty");
    }
    assert!(
        stack.output("WebhookUrl").starts_with("http"),
        "{}",
        stack.output("WebhookUrl")
    );
    let webhook = world.env("WebhookFunction");
    assert_eq!(webhook["INTAKE_QUEUE_URL"], stack.output("IntakeQueueUrl"));
    assert!(webhook["INTAKE_QUEUE_URL"].ends_with(".fifo"));
    assert_eq!(
        webhook["WEBHOOK_SECRET_ARN"],
        stack.output("WebhookSecretArn")
    );
    for function in ["PolicyFunction", "DispatchFunction", "ReportFunction"] {
        let env = world.env(function);
        assert_eq!(
            env["JOBS_TABLE"],
            stack.output("JobsTableName"),
            "{function}"
        );
        assert_eq!(
            env["PRIVATE_KEY_SECRET_ARN"],
            stack.output("GitHubAppPrivateKeyArn"),
            "{function}"
        );
        assert_eq!(env["APP_ID"], stack.parameters["GitHubAppId"], "{function}");
    }
    for function in ["PolicyFunction", "DispatchFunction"] {
        assert_eq!(
            world.env(function)["STATE_MACHINE_ARN"],
            stack.output("JobStateMachineArn"),
            "{function}"
        );
    }
    let dispatch = world.env("DispatchFunction");
    assert_eq!(dispatch["REPORT_QUEUE_URL"], stack.physical("ReportQueue"));
    assert_eq!(dispatch["RUNNER_CLUSTER"], stack.physical("RunnerCluster"));
    assert_eq!(
        dispatch["RUNNER_TASK_DEFINITION"],
        stack.physical("RunnerTaskDefinition")
    );
    assert_eq!(
        dispatch["RUNNER_LOG_GROUP"],
        stack.physical("RunnerLogGroup")
    );
    assert_eq!(
        dispatch["OLLAMA_API_KEY_SECRET_ARN"],
        stack.physical("OllamaApiKey")
    );
    assert_eq!(
        world.env("ReportFunction")["RUNNER_CLUSTER"],
        stack.physical("RunnerCluster")
    );
    let runner = &world.runner_environment;
    assert_eq!(runner["JOBS_TABLE"], stack.output("JobsTableName"));
    assert_eq!(
        runner["STATE_MACHINE_ARN"],
        stack.output("JobStateMachineArn")
    );
    // The runner invokes the dispatch function's `live` alias, which releases move.
    assert_eq!(
        runner["DISPATCH_FUNCTION"],
        format!("{}:live", stack.physical("DispatchFunction"))
    );
}

#[tokio::test]
async fn a_stack_from_the_template_takes_an_ollama_comment_to_an_opened_pull_request() {
    let started = std::time::Instant::now();
    let world = StackWorld::start(CHECK).await;
    assert_wired_to_the_stack(&world);
    eprintln!("stack created and wired in {:?}", started.elapsed());

    world.fakes.script_checked_refactor();
    let secret = world.webhook_secret().await;
    let request = comment("/ollama refactor extract the retry loop");
    let (status, body) = world
        .post(&Delivery::json("issue_comment", &request, &secret))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");

    let github = &world.fakes.github;
    let pull = world
        .pump_until("the pull request", || {
            github.opened_pulls(REPO).into_iter().next()
        })
        .await;
    assert!(pull.head.starts_with("ollama/refactor-"), "{}", pull.head);
    assert_eq!(
        world.fakes.git.show(REPO, &pull.head, "src/lib.rs"),
        REFACTORED
    );
    let check_run = world
        .pump_until("the completed check run", || {
            github
                .check_runs(REPO)
                .into_iter()
                .find(|run| run.fields.get("status") == Some(&json!("completed")))
        })
        .await;
    assert_eq!(
        check_run.fields["conclusion"], "success",
        "{:?}",
        check_run.fields
    );
    let closing = world
        .pump_until("the closing comment", || {
            github
                .comments(REPO, PR)
                .into_iter()
                .find(|comment| comment.body.contains(&pull.url()))
        })
        .await;
    assert_eq!(closing.login, "ollama-turbo-agent[bot]");
    let job = check_run.fields["external_id"]
        .as_str()
        .expect("the check run names its job")
        .to_owned();
    let short = shared::job::JobId::parse(&job)
        .expect("a job id")
        .short()
        .to_owned();
    let redacted = e2e::redact::Redact::new()
        .value(job.as_str(), "[job]")
        .value(short.as_str(), "[short]")
        .value(pull.head.as_str(), "[branch]")
        .value(world.fakes.head.as_str(), "[head]")
        .value(pull.url().as_str(), "[pull]")
        .between("| Time | ", " |", "[time]")
        .apply(&closing.body);
    insta::assert_snapshot!("closing_comment", redacted);

    // Everything was handled: nothing dead-lettered, nothing set aside.
    for key in ["IntakeDeadLetterQueueUrl", "JobDeadLetterQueueUrl"] {
        let left = world.drain_output_queue(key).await;
        assert!(left.is_empty(), "{key}: {left:?}");
    }
    github.assert_nothing_unexpected();
    eprintln!("whole path in {:?}", started.elapsed());
}

#[tokio::test]
async fn a_pushed_schedule_fires_through_the_scheduler_function_and_opens_a_pull_request() {
    use shared::ports::ScheduleRegistry;
    let world = StackWorld::start(CHECK).await;
    let scheduler = world.env("SchedulerFunction");
    assert_eq!(scheduler["JOBS_TABLE"], world.stack.output("JobsTableName"));
    assert_eq!(
        scheduler["INTAKE_QUEUE_URL"],
        world.stack.output("IntakeQueueUrl")
    );
    world.fakes.script_quick_refactor();
    let fakes = &world.fakes;
    let config = format!(
        "{}  triggers:\n    schedule:\n      cron: \"0 3 * * *\"\n      tasks: [refactor]\n",
        e2e::runner_world::config_with_command(CHECK)
    );
    for git_ref in ["", DEFAULT_BRANCH] {
        fakes
            .github
            .set_file(REPO, git_ref, ".ollama-turbo.yml", config.as_str());
    }
    let before = fakes
        .git
        .commit(REPO, DEFAULT_BRANCH, &[("base.txt", "base\n")], "Base");
    let after = fakes.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[(".ollama-turbo.yml", config.as_str())],
        "Schedule the refactor",
    );
    let secret = world.webhook_secret().await;
    let payload = push_payload(&before, &after, &[".ollama-turbo.yml"], false);
    let (status, body) = world.post(&Delivery::json("push", &payload, &secret)).await;
    assert_eq!(status, 202, "{body}");
    world.pump().await;

    let registry = ota_aws::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&world.aws),
        world.stack.output("JobsTableName"),
    );
    let repo = shared::ids::RepoId(186_853_002);
    let entry = registry
        .schedule(repo)
        .await
        .expect("the registry")
        .expect("the schedule registered by the policy function");
    assert_eq!(entry.cron, "0 3 * * *");
    // Its time has come (as a night passing would have it).
    let due = shared::ports::ScheduleEntry {
        next_fire_ms: Some(shared::clock::now_ms() - 1_000),
        ..entry
    };
    registry.put_schedule(&due).await.expect("the registry");

    world.fire_schedule("SchedulerFunctionTick").await;
    let pull = world
        .pump_until("the scheduled pull request", || {
            fakes.github.opened_pulls(REPO).into_iter().next()
        })
        .await;
    assert_eq!(pull.base, DEFAULT_BRANCH);
    assert_eq!(fakes.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let fired = registry.schedule(repo).await.expect("get").expect("entry");
    assert!(fired.last_fired_ms.is_some(), "{fired:?}");
    // The next tick finds nothing due.
    world.fire_schedule("SchedulerFunctionTick").await;
    world.pump().await;
    assert_eq!(fakes.github.opened_pulls(REPO).len(), 1);
    fakes.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_delivery_with_a_bad_signature_is_answered_401_and_nothing_is_queued() {
    let world = StackWorld::start(CHECK).await;
    let request = comment("/ollama refactor extract the retry loop");
    let secret = world.webhook_secret().await;
    let forged = Delivery::json("issue_comment", &request, &format!("{secret}-not"));
    let (status, body) = world.post(&forged).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(world.pump().await, 0, "nothing to handle");
    assert!(world.drain_output_queue("IntakeQueueUrl").await.is_empty());
    assert!(world.fakes.github.requests().is_empty());
}

#[tokio::test]
async fn a_stack_deployed_with_only_the_app_runs_a_job_on_its_own_gpu_service() {
    let world = StackWorld::start_with(CHECK, Models::GpuService).await;
    assert_wired_to_the_stack(&world);
    let stack = &world.stack;
    let dispatch = world.env("DispatchFunction");
    let ollama_host = format!("ollama.{}.ota.internal", stack.name);
    assert_eq!(
        dispatch["SELF_HOSTED_OLLAMA_URL"],
        format!("http://{ollama_host}:11434"),
        "runners reach the GPU service by its Cloud Map name"
    );
    assert_eq!(
        dispatch["HOSTED_OLLAMA_URL"], "",
        "no hosted service by default"
    );
    assert_eq!(
        dispatch["GPU_SERVICE_CLUSTER"],
        stack.physical("OllamaCluster")
    );
    assert!(
        stack
            .physical("OllamaService")
            .ends_with(&format!("/{}", dispatch["GPU_SERVICE_NAME"])),
        "{} names {}",
        dispatch["GPU_SERVICE_NAME"],
        stack.physical("OllamaService")
    );
    // The runners' image is the stack's own, at the tag scripts/deploy built.
    let definition = world
        .ecs
        .describe_task_definition()
        .task_definition(stack.physical("RunnerTaskDefinition"))
        .send()
        .await
        .expect("DescribeTaskDefinition")
        .task_definition
        .expect("the runner's task definition");
    let image = definition.container_definitions()[0]
        .image()
        .unwrap_or_default();
    assert_eq!(
        image,
        format!(
            "{}:{RUNNER_IMAGE_TAG}",
            stack.output("RunnerImageRepositoryUri")
        )
    );
    assert_eq!(world.gpu_desired_count().await, 0, "deployed stopped");
    assert!(world.cloud_map_addresses(&ollama_host).await.is_empty());

    world.fakes.script_checked_refactor();
    let secret = world.webhook_secret().await;
    let request = comment("/ollama refactor extract the retry loop");
    let (status, body) = world
        .post(&Delivery::json("issue_comment", &request, &secret))
        .await;
    assert_eq!(status, 202, "{body}");

    // The job asks for the GPU and waits in line; nothing talks to a model yet.
    let github = &world.fakes.github;
    world
        .pump_until("the job in line", || {
            github
                .check_runs(REPO)
                .into_iter()
                .find(|run| run.fields.get("status") == Some(&json!("queued")))
        })
        .await;
    while world.pump().await > 0 {}
    assert_eq!(
        world.gpu_desired_count().await,
        1,
        "the job asked for the GPU"
    );
    assert!(
        github.opened_pulls(REPO).is_empty(),
        "no pull request before the sweep finds the GPU ready"
    );
    // ECS placed the service's task, healthy: Cloud Map answers its address.
    assert_eq!(world.cloud_map_addresses(&ollama_host).await.len(), 1);
    assert!(world.fakes.ollama.calls().is_empty(), "no model call yet");

    // The scheduled sweep (EventBridge, every minute) finds the service ready and
    // starts the job's runner, which reaches the Ollama by its Cloud Map name.
    world.fire_schedule("RunnerLineSweepSchedule").await;
    let pull = world
        .pump_until("the pull request", || {
            github.opened_pulls(REPO).into_iter().next()
        })
        .await;
    assert_eq!(
        world.fakes.git.show(REPO, &pull.head, "src/lib.rs"),
        REFACTORED
    );
    assert!(
        !world.fakes.ollama.calls().is_empty(),
        "the model was called"
    );
    assert_eq!(
        world.gpu_desired_count().await,
        1,
        "up while idle < GpuIdleSeconds"
    );
    for key in ["IntakeDeadLetterQueueUrl", "JobDeadLetterQueueUrl"] {
        let left = world.drain_output_queue(key).await;
        assert!(left.is_empty(), "{key}: {left:?}");
    }
}
