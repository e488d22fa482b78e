//! The job workflow ([`shared::job::JOB_MACHINE`]) written in Amazon States Language: the
//! text of `statemachine/job.asl.json`, which a test keeps equal to [`job_definition`].
//! Everything AWS adds to the domain's states lives here: the SQS integrations with task
//! tokens, the JSONPath of each field, and the `${...}` placeholders that `template.yaml`'s
//! `DefinitionSubstitutions` fill in (numbers unquoted).

use shared::job::{Catcher, Errors, JOB_MACHINE, Machine, RetryPolicy, StateKind, StateName, Wait};

/// The retrier's numbers come from the template, so an operator can change them there.
const RETRY_PLACEHOLDERS: [(&str, &str); 4] = [
    ("IntervalSeconds", "${RetryIntervalSeconds}"),
    ("BackoffRate", "${RetryBackoffRate}"),
    ("MaxAttempts", "${RetryMaxAttempts}"),
    ("MaxDelaySeconds", "${RetryMaxDelaySeconds}"),
];

const SEND_MESSAGE: &str = "arn:aws:states:::sqs:sendMessage";
const SEND_MESSAGE_WAIT: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

const TOP_COMMENT: &str = "Ollama Turbo Agent: one execution per job, named after the job id. Input: {job, approval_required, timeouts: {approval_seconds, heartbeat_seconds, max_runtime_seconds, max_queue_seconds, run_wait_seconds}}. The Lambdas are reached through SQS with task tokens; every path ends with a report. The dollar-brace placeholders are template.yaml's DefinitionSubstitutions (numbers unquoted). Rendered from the domain's JOB_MACHINE by ota-aws (aws/src/asl.rs); see docs/workflow.md.";

/// What Step Functions needs to know about a state beyond the domain's definition.
fn comment(state: StateName) -> Option<&'static str> {
    Some(match state {
        StateName::AwaitApproval => {
            "The policy stage already asked for /approve; the report function keeps this token for it. /approve answers with SendTaskSuccess, a refusal with SendTaskFailure Approval.Denied, /cancel stops the execution."
        }
        StateName::Dispatch => {
            "The dispatch function picks the endpoint within the caps, stores this token for the runner (task_token(job, Wait::Run)) and starts it, or keeps the attempt in line for a slot (the sweep heartbeats it); the runner heartbeats and answers. TimeoutSeconds is run_wait_seconds, the queue allowance plus the maximum runtime, so time in line does not count against the runtime, which the runner's deadline, the heartbeat and the slot's lease enforce from the dispatch on. Retry: the domain's RetryPolicy on its transient errors. Catch order matters: exhausted transient errors before States.Timeout (which also matches a heartbeat timeout), the runtime limit, then the permanent errors, then everything else."
        }
        StateName::DeadLetter => {
            "The catch-all: the job and its error go to the jobs' dead-letter queue for the operators, then to the report function, which sets the job dead_lettered and reports it."
        }
        StateName::ReportDeadLettered => {
            "No Catch: if even this fails, the execution fails, and the EventBridge rule on failed executions brings the job to the report function."
        }
        StateName::Ended => {
            "The job ended without success (failed, cancelled, expired) and was reported."
        }
        StateName::DeadLettered => {
            "The job was set aside and reported. The execution itself did its work, so it succeeds: a failed execution means the workflow broke."
        }
        _ => return None,
    })
}

/// `statemachine/job.asl.json` as it must be committed.
pub fn job_definition() -> String {
    let mut out = render_machine(&JOB_MACHINE).to_pretty();
    out.push('\n');
    out
}

/// A JSON value whose objects keep their keys in the order written, and whose numbers are
/// written as given (a placeholder may stand for one).
enum Json {
    Object(Vec<(&'static str, Json)>),
    Array(Vec<Json>),
    String(String),
    Raw(String),
    Bool(bool),
    Null,
}

fn text(value: &str) -> Json {
    Json::String(value.to_owned())
}

impl Json {
    fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
        match self {
            Self::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Self::Object(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    indent(out, depth + 1);
                    out.push_str(&serde_json::Value::from(*key).to_string());
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
            // Lists of plain names stay on one line, as a reader scans them.
            Self::Array(items) if items.iter().all(|item| matches!(item, Self::String(_))) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push(']');
            }
            Self::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Self::String(value) => {
                out.push_str(&serde_json::Value::from(value.as_str()).to_string())
            }
            Self::Raw(value) => out.push_str(value),
            Self::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Self::Null => out.push_str("null"),
        }
    }
}

fn render_machine(machine: &Machine) -> Json {
    let states = machine
        .states
        .iter()
        .map(|state| (state.name.as_str(), render_state(state.name, &state.kind)))
        .collect();
    Json::Object(vec![
        ("Comment", text(TOP_COMMENT)),
        ("StartAt", text(machine.start.as_str())),
        ("States", Json::Object(states)),
    ])
}

fn render_state(name: StateName, kind: &StateKind) -> Json {
    let mut fields = Vec::new();
    if let Some(comment) = comment(name) {
        fields.push(("Comment", text(comment)));
    }
    match *kind {
        StateKind::ApprovalChoice {
            required,
            otherwise,
        } => {
            fields.push(("Type", text("Choice")));
            fields.push((
                "Choices",
                Json::Array(vec![Json::Object(vec![
                    ("Variable", text("$.approval_required")),
                    ("BooleanEquals", Json::Bool(true)),
                    ("Next", text(required.as_str())),
                ])]),
            ));
            fields.push(("Default", text(otherwise.as_str())));
        }
        StateKind::Wait {
            wait,
            retry,
            catch,
            next,
        } => {
            fields.push(("Type", text("Task")));
            fields.push(("Resource", text(SEND_MESSAGE_WAIT)));
            fields.push(("Parameters", wait_parameters(wait)));
            if wait == Wait::Run {
                fields.push(("HeartbeatSecondsPath", text("$.timeouts.heartbeat_seconds")));
            }
            let timeout = format!("$.timeouts.{}", wait.timeout_field());
            fields.push(("TimeoutSecondsPath", text(&timeout)));
            let result = match wait {
                Wait::Approval => "$.approval",
                Wait::Run => "$.run",
            };
            fields.push(("ResultPath", text(result)));
            if let Some(errors) = retry {
                fields.push(("Retry", Json::Array(vec![retrier(errors)])));
            }
            fields.push(("Catch", catchers(catch, "$.error")));
            fields.push(("Next", text(next.as_str())));
        }
        StateKind::SetError { error, cause, next } => {
            fields.push(("Type", text("Pass")));
            fields.push((
                "Result",
                Json::Object(vec![("Error", text(error.name())), ("Cause", text(cause))]),
            ));
            fields.push(("ResultPath", text("$.error")));
            fields.push(("Next", text(next.as_str())));
        }
        StateKind::Report {
            report,
            catch,
            next,
        } => {
            let mut body = vec![("kind", text(report.as_str())), ("job.$", text("$.job"))];
            body.push(match report {
                shared::job::ReportKind::Running => ("", Json::Null),
                shared::job::ReportKind::Succeeded => ("run.$", text("$.run")),
                shared::job::ReportKind::Ended | shared::job::ReportKind::DeadLettered => {
                    ("error.$", text("$.error"))
                }
            });
            body.retain(|(key, _)| !key.is_empty());
            fields.push(("Type", text("Task")));
            fields.push(("Resource", text(SEND_MESSAGE)));
            fields.push((
                "Parameters",
                Json::Object(vec![
                    ("QueueUrl", text("${ReportQueueUrl}")),
                    ("MessageGroupId.$", text("$.job")),
                    ("MessageBody", Json::Object(body)),
                ]),
            ));
            fields.push(("ResultPath", Json::Null));
            if !catch.is_empty() {
                fields.push(("Catch", catchers(catch, "$.report_failure")));
            }
            fields.push(("Next", text(next.as_str())));
        }
        StateKind::DeadLetter { next } => {
            fields.push(("Type", text("Task")));
            fields.push(("Resource", text(SEND_MESSAGE)));
            fields.push((
                "Parameters",
                Json::Object(vec![
                    ("QueueUrl", text("${JobDeadLetterQueueUrl}")),
                    (
                        "MessageBody",
                        Json::Object(vec![
                            ("job.$", text("$.job")),
                            ("error.$", text("$.error")),
                            ("execution.$", text("$$.Execution.Id")),
                        ]),
                    ),
                ]),
            ));
            fields.push(("ResultPath", Json::Null));
            // Whether or not the dead-letter queue took it, the job is reported.
            fields.push((
                "Catch",
                Json::Array(vec![Json::Object(vec![
                    ("ErrorEquals", names(Errors::All)),
                    ("ResultPath", text("$.dead_letter_failure")),
                    ("Next", text(next.as_str())),
                ])]),
            ));
            fields.push(("Next", text(next.as_str())));
        }
        StateKind::Final(_) => fields.push(("Type", text("Succeed"))),
    }
    Json::Object(fields)
}

fn wait_parameters(wait: Wait) -> Json {
    match wait {
        Wait::Approval => Json::Object(vec![
            ("QueueUrl", text("${ApprovalsQueueUrl}")),
            (
                "MessageBody",
                Json::Object(vec![
                    ("kind", text("approval")),
                    ("job.$", text("$.job")),
                    ("token.$", text("$$.Task.Token")),
                ]),
            ),
        ]),
        Wait::Run => Json::Object(vec![
            ("QueueUrl", text("${DispatchQueueUrl}")),
            (
                "MessageBody",
                Json::Object(vec![
                    ("job.$", text("$.job")),
                    ("token.$", text("$$.Task.Token")),
                    ("retry.$", text("$$.State.RetryCount")),
                    ("timeouts.$", text("$.timeouts")),
                ]),
            ),
        ]),
    }
}

fn names(errors: Errors) -> Json {
    Json::Array(errors.names().into_iter().map(text).collect())
}

/// The retry policy's retrier, its numbers left to the template; the jitter is the
/// domain's ([`RetryPolicy::to_asl_retrier`]).
fn retrier(errors: Errors) -> Json {
    let jitter = RetryPolicy::DEFAULT.to_asl_retrier(&[])["JitterStrategy"]
        .as_str()
        .unwrap_or("FULL")
        .to_owned();
    let mut fields = vec![("ErrorEquals", names(errors))];
    for (field, placeholder) in RETRY_PLACEHOLDERS {
        fields.push((field, Json::Raw(placeholder.to_owned())));
    }
    fields.push(("JitterStrategy", Json::String(jitter)));
    Json::Object(fields)
}

/// A state's catchers; one that keeps the job's error puts the caught one at `aside`.
fn catchers(catch: &[Catcher], aside: &'static str) -> Json {
    Json::Array(
        catch
            .iter()
            .map(|catcher| {
                let result = if catcher.becomes_the_error {
                    "$.error"
                } else {
                    aside
                };
                Json::Object(vec![
                    ("ErrorEquals", names(catcher.errors)),
                    ("ResultPath", text(result)),
                    ("Next", text(catcher.next.as_str())),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../statemachine/job.asl.json")
    }

    /// Set `OTA_WRITE_ASL=1` to write the file anew after changing the machine.
    #[test]
    fn the_committed_definition_is_the_job_machine_rendered() {
        let rendered = job_definition();
        if std::env::var_os("OTA_WRITE_ASL").is_some() {
            std::fs::write(committed_path(), &rendered).expect("write the definition");
        }
        let committed = std::fs::read_to_string(committed_path()).expect("read the definition");
        assert!(
            committed == rendered,
            "statemachine/job.asl.json is not JOB_MACHINE rendered; run \
             `OTA_WRITE_ASL=1 cargo test -p ota-aws asl` and review the diff"
        );
    }

    #[test]
    fn every_state_of_the_machine_is_in_the_definition_once() {
        let mut text = job_definition();
        for (_, placeholder) in RETRY_PLACEHOLDERS {
            text = text.replace(placeholder, "1");
        }
        let value: serde_json::Value =
            serde_json::from_str(&text).expect("the rendered definition is JSON");
        let states = value["States"].as_object().expect("states");
        assert_eq!(states.len(), StateName::ALL.len());
        for name in StateName::ALL {
            assert!(states.contains_key(name.as_str()), "{name}");
        }
        assert_eq!(value["StartAt"], JOB_MACHINE.start.as_str());
    }
}
