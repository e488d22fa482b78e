//! Pins a moto behaviour the workflow tests depend on knowing: moto 5.2.5 reports a task
//! whose heartbeat stopped as `States.Timeout`, where Step Functions raises
//! `States.HeartbeatTimeout`. That is why `workflow_retry.rs`'s heartbeat test is ignored;
//! when this test fails after a moto upgrade, un-ignore it.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::aws::{STATE_MACHINE_ROLE, config, execute_state_machines};
use e2e::unique;
use std::time::{Duration, Instant};

#[tokio::test]
async fn moto_names_a_heartbeat_timeout_states_timeout() {
    execute_state_machines();
    let config = config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = unique("ota-heartbeat");
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let definition = serde_json::json!({
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "HeartbeatSeconds": 1,
                "TimeoutSeconds": 60,
                "Catch": [
                    {"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Heartbeat"},
                    {"ErrorEquals": ["States.Timeout"], "Next": "Timeout"}
                ],
                "End": true
            },
            "Heartbeat": {"Type": "Succeed"},
            "Timeout": {"Type": "Succeed"}
        }
    });
    let arn = sfn
        .create_state_machine()
        .name(&name)
        .role_arn(STATE_MACHINE_ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .expect("state machine")
        .state_machine_arn;
    let execution = sfn
        .start_execution()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("start")
        .execution_arn;
    let started = Instant::now();
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .expect("describe");
        if described.status != ExecutionStatus::Running {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never timed out"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it was the heartbeat, not the timeout"
    );
    let history = sfn
        .get_execution_history()
        .execution_arn(&execution)
        .send()
        .await
        .expect("history");
    let entered: Vec<&str> = history
        .events()
        .iter()
        .filter_map(|event| event.state_entered_event_details())
        .map(|details| details.name())
        .collect();
    assert_eq!(
        entered,
        ["Wait", "Timeout"],
        "moto now names heartbeat timeouts properly"
    );
}
