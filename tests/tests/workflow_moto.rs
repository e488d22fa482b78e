//! Pins a moto behaviour the workflow tests depend on knowing: moto 5.2.5 reports a task
//! whose heartbeat stopped as `States.Timeout`, where Step Functions raises
//! `States.HeartbeatTimeout`. That is why `workflow_retry.rs`'s heartbeat test is ignored;
//! when this test fails after a moto upgrade, un-ignore it.

use e2e::aws::{config, create_state_machine, execute_state_machines, finished_execution, queue};
use e2e::unique;
use std::time::{Duration, Instant};

#[tokio::test]
async fn moto_names_a_heartbeat_timeout_states_timeout() {
    execute_state_machines();
    let config = config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = unique("ota-heartbeat");
    let queue_url = queue(&sqs, &name).await;
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
    let arn = create_state_machine(&sfn, &name, &definition).await;
    let execution = sfn
        .start_execution()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("start")
        .execution_arn;
    let started = Instant::now();
    finished_execution(&sfn, &execution).await;
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
