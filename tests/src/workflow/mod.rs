//! The job workflow end to end, for tests: moto runs `statemachine/job.asl.json` (with
//! short intervals substituted in) against real SQS queues, a DynamoDB table and an ECS
//! cluster; the real dispatch and report Lambda handlers take the messages off those
//! queues; GitHub is the fake GitHub. What nobody runs here — the runner and the policy
//! stage's `/approve` and `/cancel` — is played by [`actors`] through the same ports
//! they use.

pub mod actors;
pub mod definition;
pub mod gpu;
pub mod seen;

use crate::aws::{STATE_MACHINE_ROLE, config, execute_state_machines, jobs_table};
use crate::fake_github::FakeGitHub;
use crate::unique;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use ota_aws::{DynamoStore, EcsGpuService, EcsLauncher, RunnerTasks, StepFunctionsWorkflow};
use ota_github::GitHubClient;
use shared::clock::now_ms;
use shared::dispatch::{DispatchSettings, Dispatcher, Endpoints, Limits, ManagedGpu};
use shared::ids::{InstallationId, RepoFullName};
use shared::job::{JobId, JobRecord, JobStatus, RetryPolicy};
use shared::ports::JobStore;
use shared::ports::RepoScope;
use shared::report::Reporter;
use std::time::{Duration, Instant};

pub const INSTALLATION: u64 = 4242;
pub const REPO: &str = "octo-org/hello-world";
pub const HEAD_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
/// The pull request the test jobs report to.
pub const PULL: u64 = 7;
/// The runner container's name in the test task definition.
pub const CONTAINER: &str = "runner";
/// How long a test waits for the workflow to reach a point before failing.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The retry policy the tests substitute: the domain's attempts, one-second backoffs.
pub const TEST_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: RetryPolicy::DEFAULT.max_attempts,
    interval: Duration::from_secs(1),
    backoff_rate: 1.0,
    max_delay: Duration::from_secs(1),
    jitter: RetryPolicy::DEFAULT.jitter,
};

/// The queues the state machine talks to.
pub struct Queues {
    pub approvals: String,
    pub dispatch: String,
    /// FIFO, grouped by job, as in `template.yaml`.
    pub report: String,
    pub dead_letter: String,
}

pub type TestDispatcher =
    Dispatcher<DynamoStore, StepFunctionsWorkflow, EcsLauncher, EcsGpuService>;
pub type TestReporter = Reporter<GitHubClient, DynamoStore, EcsLauncher>;

pub struct Harness {
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub github: FakeGitHub,
    pub github_client: GitHubClient,
    pub store: DynamoStore,
    pub workflow: StepFunctionsWorkflow,
    pub dispatcher: TestDispatcher,
    /// The report queue as the dispatch function tells it of queued jobs.
    pub report_queue: dispatch_function::ReportQueue,
    pub reporter: TestReporter,
    pub queues: Queues,
    pub cluster: String,
    pub state_machine_arn: String,
    /// The managed GPU Ollama service in moto, when [`Options::gpu_idle`] asked for one.
    pub gpu: Option<gpu::GpuInMoto>,
}

/// What a test may change about the deployment.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    pub endpoints: Endpoints,
    /// A managed GPU Ollama service (an ECS service in moto, desired count 0) serving
    /// `endpoints.self_hosted`, stopped after this idle period; `None`: that Ollama is
    /// always there.
    pub gpu_idle: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            limits: Limits {
                gpu_slots: 2,
                hosted_slots: 2,
                per_installation: 2,
            },
            endpoints: Endpoints {
                self_hosted: Some("http://gpu.internal:11434".to_owned()),
                hosted: Some("https://ollama.com".to_owned()),
                self_hosted_down: None,
            },
            gpu_idle: None,
        }
    }
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> String {
    if !fifo {
        return crate::aws::queue(sqs, name).await;
    }
    sqs.create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .expect("create queue in moto")
        .queue_url
        .expect("queue url")
}

/// A subnet of moto's default VPC: its `RunTask` checks that the subnets exist (and not
/// the security groups). Asked through EC2's query API by hand, as the project has no
/// use for the EC2 SDK.
pub fn default_subnet() -> String {
    use std::io::{Read, Write};
    let endpoint = crate::aws::moto_endpoint();
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = "Action=DescribeSubnets&Version=2016-11-15";
    let mut stream = std::net::TcpStream::connect(address).expect("connect to moto");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20250101/{region}/ec2/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        region = crate::aws::REGION,
    )
    .expect("ask moto for subnets");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read moto's subnets");
    let start = answer
        .find("<subnetId>")
        .expect("moto has a default subnet")
        + "<subnetId>".len();
    let end = answer[start..].find('<').expect("end of the subnet id");
    answer[start..start + end].to_owned()
}

/// An ECS cluster and a Fargate task definition shaped like `template.yaml`'s. Moto wants
/// a container-level `memory`.
async fn runner_cluster(ecs: &aws_sdk_ecs::Client, name: &str) -> (String, String) {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, CpuArchitecture, NetworkMode, OsFamily, RuntimePlatform,
    };
    ecs.create_cluster()
        .cluster_name(name)
        .send()
        .await
        .expect("create cluster in moto");
    let family = format!("{name}-runner");
    ecs.register_task_definition()
        .family(&family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("1024")
        .memory("2048")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name(CONTAINER)
                .image("ghcr.io/example/ota-runner:test")
                .memory(2048)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("register task definition in moto");
    (name.to_owned(), family)
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        execute_state_machines();
        let config = config().await;
        let sfn = aws_sdk_sfn::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let ecs = aws_sdk_ecs::Client::new(&config);
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let name = unique("ota-wf");
        let queues = Queues {
            approvals: queue(&sqs, &format!("{name}-approvals"), false).await,
            dispatch: queue(&sqs, &format!("{name}-dispatch"), false).await,
            report: queue(&sqs, &format!("{name}-report"), true).await,
            dead_letter: queue(&sqs, &format!("{name}-jobs-dlq"), false).await,
        };
        let table = jobs_table(&dynamodb, &name).await;
        let (cluster, task_definition) = runner_cluster(&ecs, &name).await;
        let definition = definition::substitute(&definition::values(
            &TEST_RETRY,
            [
                ("ApprovalsQueueUrl", &queues.approvals),
                ("DispatchQueueUrl", &queues.dispatch),
                ("ReportQueueUrl", &queues.report),
                ("JobDeadLetterQueueUrl", &queues.dead_letter),
            ],
        ));
        let state_machine_arn = sfn
            .create_state_machine()
            .name(&name)
            .role_arn(STATE_MACHINE_ROLE)
            .definition(definition)
            .send()
            .await
            .expect("create the job state machine in moto")
            .state_machine_arn;
        let workflow = StepFunctionsWorkflow::new(sfn.clone(), &state_machine_arn).expect("arn");
        let store = DynamoStore::new(dynamodb.clone(), &table);
        let launcher = EcsLauncher::new(
            ecs.clone(),
            RunnerTasks {
                cluster: cluster.clone(),
                task_definition,
                container: CONTAINER.to_owned(),
                subnets: vec![default_subnet()],
                // Moto's RunTask insists on security groups.
                security_groups: vec!["sg-0123456789abcdef0".to_owned()],
                assign_public_ip: false,
                logs: Some(ota_aws::RunnerLogs {
                    region: crate::aws::REGION.to_owned(),
                    group: format!("/ota/{name}/runner"),
                    stream_prefix: "runner".to_owned(),
                }),
            },
        );
        let github = FakeGitHub::start().await;
        let report_queue = dispatch_function::ReportQueue::new(sqs.clone(), &queues.report);
        let gpu = match options.gpu_idle {
            Some(_) => Some(gpu::GpuInMoto::create(&ecs, &name, default_subnet()).await),
            None => None,
        };
        Self {
            report_queue,
            dispatcher: Dispatcher {
                store: store.clone(),
                workflow: workflow.clone(),
                launcher: launcher.clone(),
                settings: DispatchSettings {
                    limits: options.limits,
                    endpoints: options.endpoints,
                },
                gpu: gpu
                    .as_ref()
                    .zip(options.gpu_idle)
                    .map(|(gpu, idle)| ManagedGpu {
                        service: EcsGpuService::new(ecs.clone(), gpu.target.clone()),
                        idle,
                    }),
                grants: shared::dispatch::GrantKey::from_app_key(
                    &crate::fake_github::PRIVATE_KEY_PEM.into(),
                ),
                clock: now_ms,
            },
            reporter: Reporter {
                github: github.client(),
                store: store.clone(),
                launcher,
                clock: now_ms,
            },
            github_client: github.client(),
            github,
            sfn,
            sqs,
            ecs,
            store,
            workflow,
            queues,
            cluster,
            state_machine_arn,
            gpu,
        }
    }

    pub fn scope() -> RepoScope {
        RepoScope {
            installation: InstallationId(INSTALLATION),
            repo: RepoFullName::new(REPO),
        }
    }

    pub async fn job(&self, id: &JobId) -> JobRecord {
        self.store
            .job(id)
            .await
            .expect("read the job")
            .expect("the job exists")
    }

    /// One round of the Lambdas: each queue's waiting messages, handed to its function as
    /// one SQS event. Returns how many messages were handled.
    pub async fn pump(&self) -> usize {
        let mut handled = 0;
        let approvals = self.receive(&self.queues.approvals).await;
        handled += approvals.len();
        let response = report_function::handle_batch(&self.reporter, event(&approvals)).await;
        crate::aws::settle(&self.sqs, &self.queues.approvals, &approvals, &response).await;

        let dispatches = self.receive(&self.queues.dispatch).await;
        handled += dispatches.len();
        let response = dispatch_function::handle_batch(
            &self.dispatcher,
            &self.report_queue,
            event(&dispatches),
        )
        .await;
        crate::aws::settle(&self.sqs, &self.queues.dispatch, &dispatches, &response).await;

        let reports = self.receive(&self.queues.report).await;
        handled += reports.len();
        let response = report_function::handle_batch(&self.reporter, event(&reports)).await;
        crate::aws::settle(&self.sqs, &self.queues.report, &reports, &response).await;
        handled
    }

    async fn receive(&self, queue_url: &str) -> Vec<SqsMessage> {
        crate::aws::receive_for_lambda(&self.sqs, queue_url).await
    }

    /// Pumps until `done` holds for the job, or fails the test after [`STEP_TIMEOUT`].
    pub async fn pump_until(
        &self,
        id: &JobId,
        what: &str,
        done: impl Fn(&JobRecord) -> bool,
    ) -> JobRecord {
        let started = Instant::now();
        loop {
            self.pump().await;
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            assert!(
                started.elapsed() < STEP_TIMEOUT,
                "job {id} never got to {what}; it is {} after {} attempts ({:?})",
                job.status,
                job.attempts,
                job.result.as_ref().and_then(|result| result.error.as_ref())
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn pump_until_status(&self, id: &JobId, status: JobStatus) -> JobRecord {
        self.pump_until(id, status.as_str(), |job| job.status == status)
            .await
    }

    /// Pumps until the job's execution ended, then drains what it sent last. Returns the
    /// execution's status.
    pub async fn finish_execution(&self, id: &JobId) -> aws_sdk_sfn::types::ExecutionStatus {
        let started = Instant::now();
        let arn = self.workflow.execution_arn(id);
        loop {
            self.pump().await;
            let execution = self
                .sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .expect("describe the execution");
            if execution.status != aws_sdk_sfn::types::ExecutionStatus::Running {
                while self.pump().await > 0 {}
                return execution.status;
            }
            assert!(
                started.elapsed() < STEP_TIMEOUT,
                "the execution of job {id} never ended"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The states the execution entered, in order.
    pub async fn states_entered(&self, id: &JobId) -> Vec<String> {
        let history = self
            .sfn
            .get_execution_history()
            .execution_arn(self.workflow.execution_arn(id))
            .max_results(1000)
            .send()
            .await
            .expect("execution history");
        history
            .events()
            .iter()
            .filter_map(|event| event.state_entered_event_details())
            .map(|details| details.name().to_owned())
            .collect()
    }

    /// The job's runner tasks with the given desired status (`RUNNING`, `STOPPED`),
    /// without describing them (each `DescribeTasks` moves a moto task along).
    pub async fn runner_tasks(&self, id: &JobId, desired: &str) -> Vec<String> {
        self.ecs
            .list_tasks()
            .cluster(&self.cluster)
            .started_by(id.as_str())
            .desired_status(aws_sdk_ecs::types::DesiredStatus::from(desired))
            .send()
            .await
            .expect("list tasks")
            .task_arns()
            .to_vec()
    }

    /// Every message on the jobs' dead-letter queue, as JSON.
    pub async fn dead_letters(&self) -> Vec<serde_json::Value> {
        crate::aws::drain(&self.sqs, &self.queues.dead_letter)
            .await
            .into_iter()
            .map(|message| serde_json::from_str(&message.body).expect("JSON dead letter"))
            .collect()
    }
}

fn event(messages: &[SqsMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages.to_vec();
    event
}
