//! [`TaskLauncher`] on ECS: each runner is one Fargate task of the runner task definition,
//! started with `RunTask` (`startedBy` = the job id, so `ListTasks` finds a job's runners)
//! and stopped with `StopTask`. The task's overrides carry only
//! [`RunnerLaunch::to_env`]: the runner reads its task token from the job store.

use crate::describe;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, DesiredStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, Tag, TaskOverride,
};
use shared::job::{JobId, RunnerCredential};
use shared::ports::{CREDENTIAL_VAR, LaunchError, LaunchedRunner, RunnerLaunch, TaskLauncher};

/// `StopTask` keeps at most this many characters of the reason.
const MAX_STOP_REASON_CHARS: usize = 255;

/// Words in a `RunTask` failure's reason that mean "no room now" rather than "wrong
/// request": Fargate's "Capacity is unavailable at this time", and the EC2-style
/// `RESOURCE:CPU`/`RESOURCE:MEMORY`/`RESOURCE:ENI` shortages.
const CAPACITY_REASONS: &[&str] = &["Capacity is unavailable", "RESOURCE:", "AGENT"];

/// Error codes of ECS that mean "slow down": the throttled call is a capacity problem for
/// the job, retried by the workflow with its backoff.
const THROTTLING_CODES: &[&str] = &["ThrottlingException", "LimitExceededException"];

/// Where the runners' logs go (the task definition's `awslogs` configuration), to point
/// reports at each runner's own stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLogs {
    pub region: String,
    pub group: String,
    /// `awslogs-stream-prefix`: streams are named `<prefix>/<container>/<task id>`.
    pub stream_prefix: String,
}

/// The runner's task definition and where its tasks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerTasks {
    pub cluster: String,
    /// Family (`ota-runner`), `family:revision` or ARN.
    pub task_definition: String,
    /// The runner container's name in the task definition, for the overrides.
    pub container: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `true` in public subnets without a NAT gateway, where the runner needs a public IP
    /// to reach GitHub and Ollama's hosted service.
    pub assign_public_ip: bool,
    pub logs: Option<RunnerLogs>,
}

#[derive(Clone)]
pub struct EcsLauncher {
    client: Client,
    tasks: RunnerTasks,
}

impl EcsLauncher {
    pub fn new(client: Client, tasks: RunnerTasks) -> Self {
        Self { client, tasks }
    }

    /// The CloudWatch console's page of the task's log stream.
    fn log_url(&self, task_arn: &str) -> Option<String> {
        let logs = self.tasks.logs.as_ref()?;
        let task_id = task_arn.rsplit('/').next()?;
        let stream = format!("{}/{}/{task_id}", logs.stream_prefix, self.tasks.container);
        Some(console_log_url(&logs.region, &logs.group, &stream))
    }
}

/// A CloudWatch Logs console link to one stream. The console's fragment escapes twice,
/// writing `%` as `$25` (`/` is `$252F`).
pub fn console_log_url(region: &str, group: &str, stream: &str) -> String {
    let escape = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(byte).to_string()
                }
                other => format!("$25{other:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}\
         #logsV2:log-groups/log-group/{}/log-events/{}",
        escape(group),
        escape(stream)
    )
}

/// The log group and stream a link of [`console_log_url`] names, as the job record keeps
/// it: where the dashboard reads the runner's log back. `None` for any other text.
pub fn console_log_stream(url: &str) -> Option<(String, String)> {
    let unescape = |text: &str| -> Option<String> {
        let mut bytes = Vec::new();
        let mut rest = text.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if let Some(hex) = tail.strip_prefix(b"25").filter(|_| first == b'$') {
                let digits = std::str::from_utf8(hex.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(digits, 16).ok()?);
                rest = hex.get(2..)?;
            } else {
                bytes.push(first);
                rest = tail;
            }
        }
        String::from_utf8(bytes).ok()
    };
    let (_, fragment) = url.split_once("#logsV2:log-groups/log-group/")?;
    let (group, stream) = fragment.split_once("/log-events/")?;
    Some((unescape(group)?, unescape(stream)?))
}

/// How an ECS call failed, before each port names it: ECS answered with an error code, the
/// request could not be made, or no answer came. Each carries the sentence to report.
pub(crate) enum EcsFailure {
    Answered { code: String, text: String },
    NotSent(String),
    NoAnswer(String),
}

/// What `err` of the call `what` was.
pub(crate) fn ecs_failure<E, R>(what: &str, err: &SdkError<E, R>) -> EcsFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown error");
            let message = service.err().message().unwrap_or("no message");
            EcsFailure::Answered {
                code: code.to_owned(),
                text: format!("{what}: {code}: {message}"),
            }
        }
        SdkError::ConstructionFailure(_) => {
            EcsFailure::NotSent(format!("{what}: {}", describe(err)))
        }
        _ => EcsFailure::NoAnswer(format!("{what}: {}", describe(err))),
    }
}

/// A failed call: throttling is a capacity problem, no answer is transient, the rest is a
/// refusal (a wrong task definition, missing permissions).
fn launch_error<E, R>(what: &str, err: &SdkError<E, R>) -> LaunchError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match ecs_failure(what, err) {
        EcsFailure::Answered { code, text } if THROTTLING_CODES.contains(&code.as_str()) => {
            LaunchError::NoCapacity(text)
        }
        EcsFailure::Answered { code, text } if code == "ServerException" => {
            LaunchError::Unavailable(text)
        }
        EcsFailure::Answered { text, .. } | EcsFailure::NotSent(text) => {
            LaunchError::Rejected(text)
        }
        EcsFailure::NoAnswer(text) => LaunchError::Unavailable(text),
    }
}

impl TaskLauncher for EcsLauncher {
    async fn launch(
        &self,
        launch: &RunnerLaunch,
        credential: &RunnerCredential,
    ) -> Result<LaunchedRunner, LaunchError> {
        let tasks = &self.tasks;
        // The credential goes in the container override, where `ecs:DescribeTasks` shows
        // it: acceptable only because it is good for nothing but this attempt's token
        // requests, and worthless once the attempt is over, superseded or the job ends.
        let environment = launch
            .to_env()
            .into_iter()
            .chain([(CREDENTIAL_VAR, credential.expose().to_owned())])
            .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
            .collect();
        let network = AwsVpcConfiguration::builder()
            .set_subnets(Some(tasks.subnets.clone()))
            .set_security_groups(Some(tasks.security_groups.clone()))
            .assign_public_ip(if tasks.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|err| LaunchError::Rejected(format!("runner network: {err}")))?;
        let tag = |key: &str, value: String| Tag::builder().key(key).value(value).build();
        let sent = self
            .client
            .run_task()
            .cluster(&tasks.cluster)
            .task_definition(&tasks.task_definition)
            .launch_type(LaunchType::Fargate)
            .count(1)
            .started_by(launch.job.as_str())
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(network)
                    .build(),
            )
            .overrides(
                TaskOverride::builder()
                    .container_overrides(
                        ContainerOverride::builder()
                            .name(&tasks.container)
                            .set_environment(Some(environment))
                            .build(),
                    )
                    .build(),
            )
            .tags(tag("ota:job", launch.job.as_str().to_owned()))
            .tags(tag("ota:attempt", launch.attempt.to_string()))
            .send()
            .await
            .map_err(|err| launch_error("starting the runner", &err))?;
        if let Some(task_arn) = sent.tasks().iter().find_map(|task| task.task_arn()) {
            return Ok(LaunchedRunner {
                task: task_arn.to_owned(),
                log: self.log_url(task_arn),
            });
        }
        let reasons: Vec<String> = sent
            .failures()
            .iter()
            .map(|failure| {
                format!(
                    "{}{}",
                    failure.reason().unwrap_or("unknown reason"),
                    failure
                        .detail()
                        .map(|detail| format!(" ({detail})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let text = format!("RunTask started no task: {}", reasons.join("; "));
        if reasons
            .iter()
            .any(|reason| CAPACITY_REASONS.iter().any(|word| reason.contains(word)))
        {
            Err(LaunchError::NoCapacity(text))
        } else {
            Err(LaunchError::Rejected(text))
        }
    }

    async fn stop_job(&self, job: &JobId, reason: &str) -> Result<usize, LaunchError> {
        let reason: String = reason.chars().take(MAX_STOP_REASON_CHARS).collect();
        let mut arns = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .client
                .list_tasks()
                .cluster(&self.tasks.cluster)
                .started_by(job.as_str())
                .desired_status(DesiredStatus::Running)
                .set_next_token(next)
                .send()
                .await
                .map_err(
                    |err| match launch_error("listing the job's runners", &err) {
                        // Listing cannot be short of capacity: throttled means "later".
                        LaunchError::NoCapacity(text) => LaunchError::Unavailable(text),
                        other => other,
                    },
                )?;
            arns.extend(page.task_arns().iter().cloned());
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        for arn in &arns {
            self.client
                .stop_task()
                .cluster(&self.tasks.cluster)
                .task(arn)
                .reason(&reason)
                .send()
                .await
                .map_err(|err| match launch_error("stopping a runner", &err) {
                    LaunchError::NoCapacity(text) => LaunchError::Unavailable(text),
                    other => other,
                })?;
        }
        Ok(arns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_link_names_its_group_and_stream_again() {
        let url = console_log_url("eu-west-1", "/ota/runner", "runner/runner/0123abcd");
        assert_eq!(
            console_log_stream(&url),
            Some((
                "/ota/runner".to_owned(),
                "runner/runner/0123abcd".to_owned()
            ))
        );
        assert_eq!(console_log_stream("/var/log/job.log"), None);
        assert_eq!(
            console_log_stream("x#logsV2:log-groups/log-group/a$25Z/log-events/b"),
            None
        );
    }

    #[test]
    fn log_links_escape_like_the_console() {
        assert_eq!(
            console_log_url("eu-west-1", "/ota/runner", "runner/runner/0123abcd"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1\
             #logsV2:log-groups/log-group/$252Fota$252Frunner/log-events/\
             runner$252Frunner$252F0123abcd"
        );
    }
}
