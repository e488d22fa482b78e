//! `statemachine/job.asl.json` against the domain it expresses: the retrier is
//! `RetryPolicy::DEFAULT.to_asl_retrier(TRANSIENT_ERRORS)` once `template.yaml`'s
//! substitutions are in, the catchers route each named error where `shared::job` says it
//! ends, the waits read the timeouts the policy stage sends, and the template and the file
//! agree on the placeholders.

use dispatch_function::DispatchMessage;
use dispatch_function::message::{TASK_STATE_CHANGE, parse_message};
use e2e::workflow::definition::{
    definition_template, placeholders, substitute, template_resource, template_substitutions,
};
use serde_json::{Value, json};
use shared::job::{JobError, JobId, RetryPolicy, TRANSIENT_ERRORS, Timeouts, Wait};
use shared::ports::WorkflowInput;
use std::collections::{BTreeMap, BTreeSet};

/// The definition as deployed: the template's values, with the `!Ref`/`!GetAtt` values
/// (queue URLs) as they would resolve.
fn deployed() -> Value {
    let values: BTreeMap<String, String> = template_substitutions()
        .into_iter()
        .map(|(name, value)| {
            let value = if value.starts_with('!') {
                format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}")
            } else {
                value
            };
            (name, value)
        })
        .collect();
    serde_json::from_str(&substitute(&values)).expect("the substituted definition is JSON")
}

fn state<'d>(definition: &'d Value, name: &str) -> &'d Value {
    definition["States"]
        .get(name)
        .unwrap_or_else(|| panic!("no state {name}"))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|name| name.as_str().expect("a name").to_owned())
        .collect()
}

/// The catcher that handles `error`, as Step Functions picks it: the first that names it,
/// or `States.ALL`, or `States.Timeout` for a heartbeat timeout (a `States.Timeout`
/// catcher catches both the task's timeout and its heartbeat timeout).
fn catcher_for<'d>(state: &'d Value, error: &str) -> &'d Value {
    state["Catch"]
        .as_array()
        .expect("catchers")
        .iter()
        .find(|catcher| {
            let names = names(&catcher["ErrorEquals"]);
            names.iter().any(|name| {
                name == error
                    || name == "States.ALL"
                    || (name == "States.Timeout" && error == "States.HeartbeatTimeout")
            })
        })
        .unwrap_or_else(|| panic!("nothing catches {error}"))
}

#[test]
fn the_retrier_is_the_domain_retry_policy() {
    let definition = deployed();
    let dispatch = state(&definition, "Dispatch");
    let expected = RetryPolicy::DEFAULT.to_asl_retrier(TRANSIENT_ERRORS);
    assert_eq!(dispatch["Retry"], json!([expected]));
    // Nothing else retries: the approval and the reports fail over to the catch-all.
    for (name, other) in definition["States"].as_object().expect("states") {
        if name != "Dispatch" {
            assert!(other.get("Retry").is_none(), "{name} retries");
        }
    }
}

#[test]
fn the_template_substitutes_the_domain_numbers() {
    let values = template_substitutions();
    let asl = RetryPolicy::DEFAULT.to_asl_retrier(&[]);
    for (placeholder, field) in [
        ("RetryIntervalSeconds", "IntervalSeconds"),
        ("RetryBackoffRate", "BackoffRate"),
        ("RetryMaxAttempts", "MaxAttempts"),
        ("RetryMaxDelaySeconds", "MaxDelaySeconds"),
    ] {
        let value: f64 = values[placeholder].parse().expect("a number");
        assert_eq!(Some(value), asl[field].as_f64(), "{placeholder}");
    }
}

#[test]
fn every_placeholder_has_a_value_in_the_template_and_no_value_is_unused() {
    let in_file: BTreeSet<String> = placeholders(&definition_template()).into_iter().collect();
    let in_template: BTreeSet<String> = template_substitutions().into_keys().collect();
    assert_eq!(in_file, in_template);
}

#[test]
fn each_named_error_ends_where_the_domain_says() {
    let definition = deployed();
    let dispatch = state(&definition, "Dispatch");
    for error in JobError::ALL {
        let catcher = catcher_for(dispatch, error.name());
        let next = catcher["Next"].as_str().expect("next");
        let expected = if error.is_transient() {
            // Only reached once the retries are used up.
            "DeadLetter"
        } else {
            "ReportEnded"
        };
        if matches!(error, JobError::ApprovalDenied | JobError::ApprovalExpired) {
            // Not an error a run raises: the catch-all takes it.
            assert_eq!(next, "DeadLetter", "{error}");
            continue;
        }
        assert_eq!(next, expected, "{error}");
        assert_eq!(catcher["ResultPath"], "$.error", "{error}");
    }
    let approval = state(&definition, "AwaitApproval");
    for error in [JobError::ApprovalDenied, JobError::JobCancelled] {
        assert_eq!(catcher_for(approval, error.name())["Next"], "ReportEnded");
    }
    // Nothing the workflow does not name ends silently.
    for state_name in [
        "AwaitApproval",
        "Dispatch",
        "ReportRunning",
        "ReportSucceeded",
        "ReportEnded",
        "DeadLetter",
    ] {
        let catchers = state(&definition, state_name)["Catch"]
            .as_array()
            .expect("catchers");
        let last = catchers.last().expect("a catcher");
        assert_eq!(names(&last["ErrorEquals"]), ["States.ALL"], "{state_name}");
    }
}

#[test]
fn timeouts_become_the_job_errors_of_each_wait() {
    let definition = deployed();
    for (wait_state, wait) in [("AwaitApproval", Wait::Approval), ("Dispatch", Wait::Run)] {
        let catcher = catcher_for(state(&definition, wait_state), "States.Timeout");
        let renamer = state(&definition, catcher["Next"].as_str().expect("next"));
        assert_eq!(renamer["Result"]["Error"], wait.timeout_error().name());
        assert_eq!(renamer["ResultPath"], "$.error");
        assert_eq!(renamer["Next"], "ReportEnded");
    }
    // A heartbeat timeout is also a `States.Timeout`: its own catcher must come first.
    let dispatch = state(&definition, "Dispatch");
    assert_eq!(
        catcher_for(dispatch, "States.HeartbeatTimeout")["Next"],
        "DeadLetter"
    );
}

#[test]
fn the_waits_read_the_input_the_policy_stage_sends() {
    let input = serde_json::to_value(WorkflowInput {
        job: JobId::parse("j0123456789abcdef0123").expect("job id"),
        approval_required: true,
        timeouts: Timeouts::DEFAULT,
    })
    .expect("input");
    let resolve = |path: &str| -> Value {
        let mut value = &input;
        for part in path.trim_start_matches("$.").split('.') {
            value = value
                .get(part)
                .unwrap_or_else(|| panic!("{path} is not in the input"));
        }
        value.clone()
    };
    let definition = deployed();
    let approval = state(&definition, "AwaitApproval");
    assert_eq!(
        resolve(approval["TimeoutSecondsPath"].as_str().expect("path")),
        259_200
    );
    let dispatch = state(&definition, "Dispatch");
    assert_eq!(
        resolve(dispatch["HeartbeatSecondsPath"].as_str().expect("path")),
        300
    );
    // The runtime plus a day's allowance for waiting in line for a runner slot.
    assert_eq!(
        resolve(dispatch["TimeoutSecondsPath"].as_str().expect("path")),
        1_800 + 86_400
    );
    let choice = &state(&definition, "NeedsApproval")["Choices"][0];
    assert_eq!(resolve(choice["Variable"].as_str().expect("path")), true);
}

#[test]
fn every_state_is_reachable_and_every_path_ends() {
    let definition = deployed();
    let states = definition["States"].as_object().expect("states");
    let mut reached = BTreeSet::new();
    let mut todo = vec![definition["StartAt"].as_str().expect("start").to_owned()];
    while let Some(name) = todo.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        let state = states
            .get(&name)
            .unwrap_or_else(|| panic!("no state {name}"));
        let mut next: Vec<&Value> = vec![&state["Next"], &state["Default"]];
        next.extend(
            state["Choices"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| &c["Next"]),
        );
        next.extend(
            state["Catch"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| &c["Next"]),
        );
        let next: Vec<String> = next
            .into_iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        let ends =
            matches!(state["Type"].as_str(), Some("Succeed" | "Fail")) || state["End"] == true;
        assert!(ends || !next.is_empty(), "{name} leads nowhere");
        todo.extend(next);
    }
    let all: BTreeSet<String> = states.keys().cloned().collect();
    assert_eq!(reached, all, "unreachable states");
}

#[test]
fn every_error_name_in_the_definition_is_known() {
    let text = substitute(
        &template_substitutions()
            .into_keys()
            .map(|name| (name, "1".to_owned()))
            .collect(),
    );
    let definition: Value = serde_json::from_str(&text).expect("JSON");
    for (name, state) in definition["States"].as_object().expect("states") {
        for list in ["Retry", "Catch"] {
            for entry in state[list].as_array().into_iter().flatten() {
                for error in names(&entry["ErrorEquals"]) {
                    assert!(
                        error.starts_with("States.") || JobError::from_name(&error).is_some(),
                        "{name}: unknown error {error}"
                    );
                }
            }
        }
    }
}

/// Where the definition sends `error` raised in `wait_state` with `retries` retries done:
/// "Retry", or the catcher's target with the renaming `Pass` states followed.
fn asl_outcome(definition: &Value, wait_state: &str, error: &str, retries: u32) -> String {
    let state_value = state(definition, wait_state);
    if let Some(retriers) = state_value["Retry"].as_array() {
        for retrier in retriers {
            let max = u32::try_from(retrier["MaxAttempts"].as_u64().expect("MaxAttempts"))
                .expect("small");
            if names(&retrier["ErrorEquals"])
                .iter()
                .any(|name| name == error)
            {
                if retries < max {
                    return "Retry".to_owned();
                }
                break;
            }
        }
    }
    let mut next = catcher_for(state_value, error)["Next"]
        .as_str()
        .expect("next")
        .to_owned();
    while state(definition, &next)["Type"] == "Pass" {
        next = state(definition, &next)["Next"]
            .as_str()
            .expect("next")
            .to_owned();
    }
    next
}

#[test]
fn the_local_engine_follows_the_definitions_retry_and_catch() {
    use shared::job::{AfterError, STATES_TIMEOUT, after_error};
    let definition = deployed();
    let policy = RetryPolicy::DEFAULT;
    let mut errors: Vec<String> = JobError::ALL
        .iter()
        .map(|error| error.name().to_owned())
        .collect();
    errors.extend(
        [
            STATES_TIMEOUT,
            "States.HeartbeatTimeout",
            "States.Runtime",
            "Lambda.Unknown",
        ]
        .map(str::to_owned),
    );
    for (wait_state, wait) in [("AwaitApproval", Wait::Approval), ("Dispatch", Wait::Run)] {
        for error in &errors {
            for retries in [0, policy.max_attempts] {
                let local = match after_error(wait, error, None, retries, &policy, 0.5) {
                    AfterError::Retry { .. } => "Retry",
                    AfterError::Report { .. } => "ReportEnded",
                    AfterError::DeadLetter => "DeadLetter",
                };
                assert_eq!(
                    local,
                    asl_outcome(&definition, wait_state, error, retries),
                    "{wait_state}: {error} after {retries} retries"
                );
            }
        }
    }
}

/// Each line of `expected` is in the resource's text (whitespace at the ends aside).
fn assert_resource_has(name: &str, expected: &[&str]) {
    let resource = template_resource(name);
    let lines: Vec<&str> = resource.lines().map(str::trim).collect();
    for line in expected {
        assert!(lines.contains(line), "{name} lacks `{line}`:\n{resource}");
    }
}

#[test]
fn stopped_runner_tasks_and_the_sweep_reach_the_dispatch_queue() {
    // ECS's events for the runner cluster's stopped tasks, as the dispatch function reads them.
    assert_resource_has(
        "RunnerTaskStoppedRule",
        &[
            "Type: AWS::Events::Rule",
            "source: [aws.ecs]",
            &format!("detail-type: [{TASK_STATE_CHANGE}]"),
            "clusterArn: [!GetAtt RunnerCluster.Arn]",
            "lastStatus: [STOPPED]",
            "Arn: !GetAtt DispatchQueue.Arn",
        ],
    );
    // The sweep, every minute, with a message the dispatch function reads as one.
    assert_resource_has(
        "RunnerLineSweepSchedule",
        &[
            "Type: AWS::Events::Rule",
            "ScheduleExpression: rate(1 minute)",
            "Arn: !GetAtt DispatchQueue.Arn",
        ],
    );
    let schedule = template_resource("RunnerLineSweepSchedule");
    let input = schedule
        .lines()
        .find_map(|line| line.trim().strip_prefix("Input: "))
        .expect("the schedule's input");
    let input = input.trim_matches('\'');
    assert!(
        matches!(parse_message(input), Ok(DispatchMessage::Sweep)),
        "{input}"
    );
    // The dispatch queue (standard, so no message group) lets both rules send to it.
    assert!(!template_resource("DispatchQueue").contains("FifoQueue"));
    assert_resource_has(
        "DispatchQueuePolicy",
        &[
            "- !Ref DispatchQueue",
            "Service: events.amazonaws.com",
            "Action: sqs:SendMessage",
            "- !GetAtt RunnerTaskStoppedRule.Arn",
            "- !GetAtt RunnerLineSweepSchedule.Arn",
        ],
    );
    // The dispatch function keeps queued waits alive and tells the report queue of them.
    assert_resource_has(
        "DispatchFunction",
        &[
            "Action: states:SendTaskHeartbeat",
            "REPORT_QUEUE_URL: !Ref ReportQueue",
            "QueueName: !GetAtt ReportQueue.QueueName",
        ],
    );
}
