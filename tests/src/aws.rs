//! AWS for tests: the real SDK clients pointed at the moto server that `scripts/test`
//! starts on a free loopback port and names in `MOTO_ENDPOINT`.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

pub const REGION: &str = "us-east-1";

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

/// Every message in the queue, removed from it, oldest first per group.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<DrainedMessage> {
    let mut drained = Vec::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .visibility_timeout(30)
            .send()
            .await
            .expect("receive from moto");
        let messages = batch.messages.unwrap_or_default();
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
