//! AWS for tests: the real SDK clients pointed at the moto server that `scripts/test`
//! starts on a free loopback port and names in `MOTO_ENDPOINT`.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use shared::job::TaskToken;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// The account moto answers for (its default).
pub const ACCOUNT_ID: &str = "123456789012";

/// The moto endpoint of this test run.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MOTO_ENDPOINT is not set: run the suite with `scripts/test`, which installs and \
             starts a local moto server"
        )
    })
}

/// SDK configuration for moto: fixed test credentials, the project's own timeouts.
pub async fn config() -> SdkConfig {
    config_for(&moto_endpoint()).await
}

pub async fn config_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .timeout_config(ota_aws::timeouts())
        .load()
        .await
}

/// Creates a FIFO queue configured as `template.yaml` configures the intake queue.
pub async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .expect("create queue in moto")
        .queue_url
        .expect("queue url")
}

/// Up to ten of the queue's waiting messages, with their system attributes, hidden from
/// other receivers for 30 seconds.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .visibility_timeout(30)
        .send()
        .await
        .expect("receive from moto")
        .messages
        .unwrap_or_default()
}

/// Up to ten waiting messages of `queue_url`, as Lambda's poller hands them to a function.
pub async fn receive_for_lambda(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<aws_lambda_events::event::sqs::SqsMessage> {
    receive(sqs, queue_url)
        .await
        .into_iter()
        .map(|message| {
            let mut sqs_message = aws_lambda_events::event::sqs::SqsMessage::default();
            sqs_message.attributes = message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect();
            sqs_message.message_id = message.message_id;
            sqs_message.receipt_handle = message.receipt_handle;
            sqs_message.body = message.body;
            sqs_message
        })
        .collect()
}

/// Every message in the queue, removed from it, oldest first per group.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<DrainedMessage> {
    let mut drained = Vec::new();
    loop {
        let messages = receive(sqs, queue_url).await;
        if messages.is_empty() {
            return drained;
        }
        for message in messages {
            let attributes = message.attributes.unwrap_or_default();
            let attribute = |name: MessageSystemAttributeName| attributes.get(&name).cloned();
            drained.push(DrainedMessage {
                body: message.body.unwrap_or_default(),
                group_id: attribute(MessageSystemAttributeName::MessageGroupId),
                deduplication_id: attribute(MessageSystemAttributeName::MessageDeduplicationId),
            });
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete from moto");
        }
    }
}

#[derive(Debug, Clone)]
pub struct DrainedMessage {
    pub body: String,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// Creates a string secret and returns its ARN.
pub async fn secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret in moto")
        .arn
        .expect("secret arn")
}

/// Rotates the secret: `value` becomes AWSCURRENT, the old one AWSPREVIOUS.
pub async fn rotate_secret(client: &aws_sdk_secretsmanager::Client, arn: &str, value: &str) {
    client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .expect("put secret value in moto");
}

/// A loopback port nothing listens on: connections to it are refused.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// Creates the store's table as `docs/storage.md` (and `template.yaml`) define it: `PK`/`SK`
/// strings, the `GSI1` jobs-by-thread index and the `GSI2` by-time index projecting
/// everything, TTL on `expires_at`.
/// Returns the table's name.
pub async fn jobs_table(client: &aws_sdk_dynamodb::Client, name: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("key schema element")
    };
    let thread_index = GlobalSecondaryIndex::builder()
        .index_name("GSI1")
        .key_schema(key("GSI1PK", KeyType::Hash))
        .key_schema(key("GSI1SK", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index");
    let time_index = GlobalSecondaryIndex::builder()
        .index_name("GSI2")
        .key_schema(key("GSI2PK", KeyType::Hash))
        .key_schema(key("GSI2SK", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("index");
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("PK"))
        .attribute_definitions(attribute("SK"))
        .attribute_definitions(attribute("GSI1PK"))
        .attribute_definitions(attribute("GSI1SK"))
        .attribute_definitions(attribute("GSI2PK"))
        .attribute_definitions(attribute("GSI2SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .global_secondary_indexes(thread_index)
        .global_secondary_indexes(time_index)
        .send()
        .await
        .expect("create table in moto");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .expect("enable TTL in moto");
    name.to_owned()
}

/// A [`ota_aws::DynamoStore`] on a fresh table named after `prefix`, with a raw client on
/// the same table (to read what the store cannot show) and the table's name.
pub async fn fresh_store(prefix: &str) -> (ota_aws::DynamoStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&config().await);
    let table = jobs_table(&client, &crate::unique(prefix)).await;
    (
        ota_aws::DynamoStore::new(client.clone(), &table),
        client,
        table,
    )
}

/// The role ARN state machines are created with; moto checks its shape only.
pub const STATE_MACHINE_ROLE: &str = "arn:aws:iam::123456789012:role/ota-test-state-machine";

/// Makes moto run state machine definitions (by default it only records executions).
/// Global to the moto process and harmless to repeat.
pub fn execute_state_machines() {
    use std::io::{Read, Write};
    let endpoint = moto_endpoint();
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = r#"{"stepfunctions":{"execute_state_machine":true}}"#;
    let mut stream = std::net::TcpStream::connect(address).expect("connect to moto");
    write!(
        stream,
        "POST /moto-api/config HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send moto config");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read moto answer");
    assert!(
        answer.starts_with("HTTP/1.1 2") || answer.starts_with("HTTP/1.0 2"),
        "moto refused the config: {answer}"
    );
}

/// How long a test waits for moto to move an execution on.
pub const MOTO_STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// A standard SQS queue; returns its URL.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue in moto")
        .queue_url
        .expect("queue url")
}

/// Creates a state machine with `definition`; returns its ARN.
pub async fn create_state_machine(
    sfn: &aws_sdk_sfn::Client,
    name: &str,
    definition: &serde_json::Value,
) -> String {
    sfn.create_state_machine()
        .name(name)
        .role_arn(STATE_MACHINE_ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .expect("create state machine in moto")
        .state_machine_arn
}

/// A state machine whose one task sends `{"job": <$.job>, "token": <task token>}` to an SQS
/// queue and waits for the token (`sqs:sendMessage.waitForTaskToken`, as the job's
/// approval and dispatch waits do), then passes the task's output on and succeeds.
/// Returns the state machine's ARN and the queue's URL, where the token arrives.
pub async fn task_token_state_machine(
    sfn: &aws_sdk_sfn::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    callback_state_machine(sfn, sqs, name, "WaitForToken", serde_json::json!({})).await
}

/// [`task_token_state_machine`] with its task named `state` and `limits` (such as
/// `HeartbeatSeconds`, `TimeoutSeconds`) added to the task.
pub async fn callback_state_machine(
    sfn: &aws_sdk_sfn::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    state: &str,
    limits: serde_json::Value,
) -> (String, String) {
    execute_state_machines();
    let queue_url = queue(sqs, name).await;
    let mut task = serde_json::json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {"job.$": "$.job", "token.$": "$$.Task.Token"}
        },
        "Next": "Done"
    });
    if let (Some(task), Some(limits)) = (task.as_object_mut(), limits.as_object()) {
        task.extend(limits.clone());
    }
    let definition = serde_json::json!({
        "StartAt": state,
        "States": {
            state: task,
            "Done": {"Type": "Pass", "End": true}
        }
    });
    let arn = create_state_machine(sfn, name, &definition).await;
    (arn, queue_url)
}

/// The next `{"job", "token"}` a callback state machine sent to `queue_url`: the job it
/// named and its task token. Fails the test after [`MOTO_STEP_TIMEOUT`].
pub async fn next_task_token(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> (String, TaskToken) {
    let deadline = Instant::now() + MOTO_STEP_TIMEOUT;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        if let Some(message) = received.messages.unwrap_or_default().into_iter().next() {
            let body: serde_json::Value =
                serde_json::from_str(message.body().unwrap_or_default()).expect("json body");
            let job = body["job"].as_str().expect("job").to_owned();
            let token = body["token"].as_str().expect("token");
            return (job, TaskToken::new(token));
        }
        assert!(Instant::now() < deadline, "no task token arrived");
    }
}

/// The execution once it is no longer `RUNNING`. Fails the test after
/// [`MOTO_STEP_TIMEOUT`].
pub async fn finished_execution(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + MOTO_STEP_TIMEOUT;
    loop {
        let execution = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("describe execution");
        if execution.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return execution;
        }
        assert!(Instant::now() < deadline, "execution still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A state machine that only waits (an hour), for tests of starting and stopping: moto
/// stops it cleanly (`ABORTED`), which it does not do for a task state (see
/// `tests/tests/step_functions.rs`). Returns its ARN.
pub async fn waiting_state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> String {
    execute_state_machines();
    let definition = serde_json::json!({
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 3_600, "Next": "Done"},
            "Done": {"Type": "Pass", "End": true}
        }
    });
    create_state_machine(sfn, name, &definition).await
}

/// Deletes what the function handled; what it reported as failed comes back after a
/// second, as after a (short) visibility timeout.
pub async fn settle(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    messages: &[aws_lambda_events::event::sqs::SqsMessage],
    response: &aws_lambda_events::event::sqs::SqsBatchResponse,
) {
    for message in messages {
        let id = message.message_id.clone().unwrap_or_default();
        let handle = message.receipt_handle.clone().unwrap_or_default();
        let failed = response
            .batch_item_failures
            .iter()
            .any(|failure| failure.item_identifier == id);
        if failed {
            sqs.change_message_visibility()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .visibility_timeout(1)
                .send()
                .await
                .expect("return the message");
        } else {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .expect("delete the message");
        }
    }
}
