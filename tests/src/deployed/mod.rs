//! The App as deployed, for tests: the stack created from `template.yaml` in moto's
//! CloudFormation ([`stack`], with what moto lacks made by test support per
//! [`moto_lacks`]), the App's key put in its secret as a user puts it, and the real
//! handlers of its four functions run in-process with exactly the environment
//! CloudFormation resolved for each (`GetFunctionConfiguration`; moto runs Lambda code
//! only in Docker). The tests' pump plays Lambda's poller from the stack's own event
//! source mappings, and ECS: each runner task the dispatch function starts on the stack's
//! cluster runs in-process ([`runner`]) with the task definition's container environment
//! and the task's overrides; with the stack's own GPU service ([`Models::GpuService`]),
//! ECS's scheduler and Cloud Map for it too ([`gpu`]). GitHub, the Git server and Ollama
//! are the fakes of [`ServeWorld`].

pub mod conditions;
mod gpu;
pub mod intrinsics;
mod made_after;
pub mod moto_lacks;
mod runner;
pub mod stack;

use crate::aws::{config, execute_state_machines};
use crate::delivery::Delivery;
use crate::fake_github::{APP_ID, PRIVATE_KEY_PEM};
use crate::fake_lambda::FakeLambda;
use crate::ota_server::{APP_SLUG, ServeWorld};
use crate::unique;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;
use stack::Stack;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The image the stack's runner task definition names; moto pulls nothing.
pub const RUNNER_IMAGE: &str = "ghcr.io/example/ota-runner:test";

/// Long enough for a job's whole path on a loaded 2-core machine.
pub const PATH_TIMEOUT: Duration = Duration::from_secs(120);

/// A function's environment as CloudFormation resolved it.
pub type Env = BTreeMap<String, String>;

/// Which handler each function's code is: the `BuildProperties.Binary` it is built from.
enum Handler {
    Webhook(webhook_function::WebhookIntake),
    Policy(policy_function::Stage),
    Dispatch(dispatch_function::Stage, dispatch_function::ReportQueue),
    Report(report_function::Stage),
    Scheduler(scheduler_function::Scheduler),
    /// The dashboard serves pages, no queue: its page tests serve it on a socket of
    /// their own (`crate::dashboard_stack`); here its settings are only read.
    Dashboard,
}

/// A queue a function takes its batches from, per the stack's event source mapping.
struct Mapping {
    queue_url: String,
    function: String,
}

pub struct StackWorld {
    /// The fakes (GitHub, Git server, Ollama) and the repository jobs work on.
    pub fakes: ServeWorld,
    pub stack: Stack,
    pub aws: aws_config::SdkConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub ecs: aws_sdk_ecs::Client,
    /// Each function's resolved environment, by logical id.
    pub environments: BTreeMap<String, Env>,
    /// The runner container's environment in the stack's task definition.
    pub runner_environment: Env,
    handlers: BTreeMap<String, Handler>,
    mappings: Vec<Mapping>,
    /// The dispatch function as runners invoke it for their tokens.
    token_desk: FakeLambda,
    runners: Mutex<BTreeSet<String>>,
    /// The GPU service's task while the tests' ECS scheduler runs it.
    gpu_task: tokio::sync::Mutex<Option<gpu::GpuTask>>,
}

/// Where a test's stack runs its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Models {
    /// `SelfHostedOllamaUrl` names the fake Ollama: no GPU service.
    OwnOllama,
    /// The template's defaults: the stack's own GPU Ollama service, reached by its Cloud
    /// Map name; and the stack's own runner image (`RunnerImageTag`, as `scripts/deploy`
    /// sets it).
    GpuService,
}

/// The runner image tag `scripts/deploy` would set (VERSION-COMMIT).
pub const RUNNER_IMAGE_TAG: &str = "0.1.0-abc1234";

impl StackWorld {
    /// The stack created from `template.yaml` with `GitHubApiUrl` pointed at the fake
    /// GitHub and `SelfHostedOllamaUrl` at the fake Ollama, the App's id as a parameter
    /// and its key put in the stack's secret; the repository as
    /// [`ServeWorld::with_lib`] makes it.
    pub async fn start(command: &str) -> Self {
        Self::start_with(command, Models::OwnOllama).await
    }

    /// The stack as [`StackWorld::start`] makes it, its models where `models` says.
    pub async fn start_with(command: &str, models: Models) -> Self {
        execute_state_machines();
        let fakes = ServeWorld::with_lib(command).await;
        let aws = config().await;
        let name = unique("ota");
        let mut parameters: BTreeMap<String, String> = [
            ("GitHubAppId", APP_ID.to_string()),
            ("GitHubAppSlug", APP_SLUG.to_owned()),
            ("GitHubApiUrl", fakes.github.base_url()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        match models {
            Models::OwnOllama => {
                parameters.insert("SelfHostedOllamaUrl".to_owned(), fakes.ollama.host());
                parameters.insert("RunnerImage".to_owned(), RUNNER_IMAGE.to_owned());
            }
            Models::GpuService => {
                parameters.insert("RunnerImageTag".to_owned(), RUNNER_IMAGE_TAG.to_owned());
            }
        }
        let stack = stack::create(&aws, &name, &parameters)
            .await
            .unwrap_or_else(|problem| panic!("creating the stack from template.yaml: {problem}"));
        // As a user does after `sam deploy` (the output says how).
        crate::aws::rotate_secret(
            &aws_sdk_secretsmanager::Client::new(&aws),
            stack.output("GitHubAppPrivateKeyArn"),
            PRIVATE_KEY_PEM,
        )
        .await;
        let lambda = aws_sdk_lambda::Client::new(&aws);
        let mut environments = BTreeMap::new();
        for (logical, kind) in &stack.types {
            if kind == "AWS::Lambda::Function" {
                environments.insert(
                    logical.clone(),
                    environment(&lambda, stack.physical(logical)).await,
                );
            }
        }
        let ecs = aws_sdk_ecs::Client::new(&aws);
        let runner_environment =
            runner::task_definition_environment(&ecs, stack.physical("RunnerTaskDefinition")).await;
        let mut handlers = BTreeMap::new();
        let mut token_desk = None;
        for (logical, env) in &environments {
            let binary = stack.binaries.get(logical).map(String::as_str);
            let (handler, desk) = build_handler(binary, env, &aws).await;
            if let Some(desk) = desk {
                let name = stack.physical(logical).to_owned();
                token_desk = Some(FakeLambda::dispatch_tokens(&name, desk).await);
            }
            handlers.insert(logical.clone(), handler);
        }
        let mappings = mappings(&lambda, &aws_sdk_sqs::Client::new(&aws), &stack).await;
        Self {
            fakes,
            sqs: aws_sdk_sqs::Client::new(&aws),
            ecs,
            environments,
            runner_environment,
            handlers,
            mappings,
            token_desk: token_desk.expect("the stack has a dispatch function (ota-dispatch)"),
            runners: Mutex::new(BTreeSet::new()),
            gpu_task: tokio::sync::Mutex::new(None),
            stack,
            aws,
        }
    }

    /// The environment of the function `logical_id`.
    pub fn env(&self, logical_id: &str) -> &Env {
        self.environments
            .get(logical_id)
            .unwrap_or_else(|| panic!("the stack has no function {logical_id}"))
    }

    /// The webhook secret's value, as a user reads it to paste into the App's settings.
    pub async fn webhook_secret(&self) -> String {
        aws_sdk_secretsmanager::Client::new(&self.aws)
            .get_secret_value()
            .secret_id(self.stack.output("WebhookSecretArn"))
            .send()
            .await
            .expect("read the webhook secret")
            .secret_string
            .expect("the webhook secret has a value")
    }

    /// A delivery posted to the webhook function's URL: its answer's status and body.
    pub async fn post(&self, delivery: &Delivery) -> (u16, Value) {
        let Some(Handler::Webhook(intake)) = self.handlers.get("WebhookFunction") else {
            panic!("the stack's WebhookFunction is not ota-webhook");
        };
        crate::webhook::post_to(intake, delivery).await
    }

    /// One round of Lambda's pollers: each mapped queue's waiting messages handed to its
    /// function as one batch; then each runner task the dispatch started is run. Returns
    /// how many messages and runners were handled.
    pub async fn pump(&self) -> usize {
        let mut handled = 0;
        for mapping in &self.mappings {
            let messages = crate::aws::receive_for_lambda(&self.sqs, &mapping.queue_url).await;
            if messages.is_empty() {
                continue;
            }
            handled += messages.len();
            let mut event = SqsEvent::default();
            event.records = messages.clone();
            let response = match self.handlers.get(&mapping.function) {
                Some(Handler::Policy(stage)) => policy_function::handle_batch(stage, event).await,
                Some(Handler::Dispatch(stage, reports)) => {
                    dispatch_function::handle_batch(stage, reports, event).await
                }
                Some(Handler::Report(stage)) => report_function::handle_batch(stage, event).await,
                Some(Handler::Webhook(_) | Handler::Scheduler(_) | Handler::Dashboard) | None => {
                    panic!("{} takes no SQS batches", mapping.function)
                }
            };
            crate::aws::settle(&self.sqs, &mapping.queue_url, &messages, &response).await;
        }
        handled += self.schedule_gpu_service().await;
        handled + self.run_new_runners().await
    }

    /// EventBridge fires the scheduled rule `logical_id` once: its target's input sent to
    /// its target queue, or its target function (on its alias) invoked, as the stack
    /// wired them.
    pub async fn fire_schedule(&self, logical_id: &str) {
        let events = aws_sdk_eventbridge::Client::new(&self.aws);
        let rule = self.stack.physical(logical_id);
        let targets = events
            .list_targets_by_rule()
            .rule(rule.rsplit('/').next().unwrap_or(rule))
            .send()
            .await
            .unwrap_or_else(|err| panic!("ListTargetsByRule {rule}: {err}"));
        assert!(
            !targets.targets().is_empty(),
            "the rule {rule} has no target"
        );
        for target in targets.targets() {
            if let Some(function) = lambda_target(target.arn()) {
                self.invoke_scheduled(function).await;
                continue;
            }
            let queue = target.arn().rsplit(':').next().unwrap_or_default();
            let url = self
                .sqs
                .get_queue_url()
                .queue_name(queue)
                .send()
                .await
                .unwrap_or_else(|err| panic!("the queue of {}: {err}", target.arn()))
                .queue_url
                .unwrap_or_default();
            self.sqs
                .send_message()
                .queue_url(url)
                .message_body(target.input().unwrap_or("{}"))
                .send()
                .await
                .expect("SendMessage as EventBridge");
        }
    }

    /// The function named `name` invoked by a schedule, as Lambda would run it.
    async fn invoke_scheduled(&self, name: &str) {
        let logical = self
            .handlers
            .keys()
            .find(|logical| self.stack.physical(logical) == name)
            .unwrap_or_else(|| panic!("a schedule invokes {name}, which the stack does not have"));
        match self.handlers.get(logical) {
            Some(Handler::Scheduler(scheduler)) => {
                scheduler_function::handle(scheduler, shared::clock::now_ms())
                    .await
                    .unwrap_or_else(|err| panic!("the scheduler's tick failed: {err}"));
            }
            _ => panic!("a schedule invokes {logical}, which takes no scheduled invocation"),
        }
    }

    /// Pumps until `done` holds, or fails the test after [`PATH_TIMEOUT`].
    pub async fn pump_until<T>(&self, what: &str, done: impl Fn() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = done() {
                return found;
            }
            if self.pump().await == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                started.elapsed() < PATH_TIMEOUT,
                "never saw {what}; GitHub was asked: {:#?}",
                self.fakes
                    .github
                    .requests()
                    .iter()
                    .map(|request| format!("{} {}", request.method, request.path))
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Every message waiting on the queue of the output `key` (a queue URL), removed.
    pub async fn drain_output_queue(&self, key: &str) -> Vec<crate::aws::DrainedMessage> {
        crate::aws::drain(&self.sqs, self.stack.output(key)).await
    }
}

/// `GetFunctionConfiguration`'s environment, with what Lambda's runtime adds.
pub async fn environment(lambda: &aws_sdk_lambda::Client, function: &str) -> Env {
    let configuration = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GetFunctionConfiguration {function}: {err}"));
    let mut env: Env = configuration
        .environment
        .and_then(|environment| environment.variables)
        .unwrap_or_default()
        .into_iter()
        .collect();
    // Lambda's reserved variables, set by its runtime, not by the template.
    env.insert("AWS_REGION".to_owned(), crate::aws::REGION.to_owned());
    env.insert("AWS_LAMBDA_FUNCTION_NAME".to_owned(), function.to_owned());
    env
}

/// The handler `main` of `binary` builds, from `env` as its `main` reads it; for the
/// dispatch function also its token desk.
async fn build_handler(
    binary: Option<&str>,
    env: &Env,
    aws: &aws_config::SdkConfig,
) -> (Handler, Option<dispatch_function::TokenDesk>) {
    let var = |name: &str| env.get(name).cloned();
    let misconfigured =
        |problem: String| -> ! { panic!("{binary:?} misconfigured by the stack: {problem}") };
    match binary {
        Some("ota-webhook") => {
            let settings = webhook_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            (
                Handler::Webhook(webhook_function::build_intake(&settings, aws)),
                None,
            )
        }
        Some("ota-policy") => {
            let settings = policy_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let stage = policy_function::build_stage(&settings, aws)
                .await
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            (Handler::Policy(stage), None)
        }
        Some("ota-dispatch") => {
            let settings = dispatch_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let key = settings
                .github
                .private_key(aws)
                .await
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let grants = shared::dispatch::GrantKey::from_app_key(&key);
            let stage = dispatch_function::build_stage(&settings, aws, grants)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let desk = dispatch_function::build_token_desk(&settings, aws, key)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let reports = dispatch_function::build_reports(&settings, aws);
            (Handler::Dispatch(stage, reports), Some(desk))
        }
        Some("ota-scheduler") => {
            let settings = scheduler_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            (
                Handler::Scheduler(scheduler_function::build(&settings, aws)),
                None,
            )
        }
        Some("ota-report") => {
            let settings = report_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            let stage = report_function::build_stage(&settings, aws)
                .await
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            (Handler::Report(stage), None)
        }
        Some("ota-dashboard") => {
            dashboard_function::Settings::from_env(var)
                .unwrap_or_else(|problem| misconfigured(problem.to_string()));
            (Handler::Dashboard, None)
        }
        other => panic!(
            "a function of the stack is built from {other:?}, which tests/src/deployed does \
             not run: add its handler to build_handler"
        ),
    }
}

/// The stack's event source mappings: which function takes which queue's batches.
async fn mappings(
    lambda: &aws_sdk_lambda::Client,
    sqs: &aws_sdk_sqs::Client,
    stack: &Stack,
) -> Vec<Mapping> {
    let mut mappings = Vec::new();
    for (logical, kind) in &stack.types {
        if kind != "AWS::Lambda::Function" {
            continue;
        }
        let listed = lambda
            .list_event_source_mappings()
            .function_name(stack.physical(logical))
            .send()
            .await
            .expect("ListEventSourceMappings");
        for mapping in listed.event_source_mappings() {
            let source = mapping.event_source_arn().unwrap_or_default();
            let queue_name = source.rsplit(':').next().unwrap_or_default();
            let queue_url = sqs
                .get_queue_url()
                .queue_name(queue_name)
                .send()
                .await
                .unwrap_or_else(|err| panic!("the queue of {source}: {err}"))
                .queue_url
                .unwrap_or_default();
            mappings.push(Mapping {
                queue_url,
                function: logical.clone(),
            });
        }
    }
    mappings
}

/// The function name of a Lambda target's ARN (`arn:…:function:NAME` or `…:NAME:ALIAS`).
fn lambda_target(arn: &str) -> Option<&str> {
    let (_, after) = arn.split_once(":function:")?;
    after.split(':').next()
}
