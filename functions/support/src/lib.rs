//! What every Lambda of the project shares: JSON logs for CloudWatch, the loop that
//! processes an SQS batch message by message and reports failures one by one, and the
//! GitHub App client built from the key in Secrets Manager.

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ota_aws::SecretsManagerSecret;
use ota_github::{GitHubApp, GitHubClient, TokenPermissions};
use shared::ids::AppId;
use shared::ports::{SecretSource, SecretVersion};
use shared::settings::EnvReader;
use std::collections::HashSet;
use std::future::Future;

/// JSON log lines on stdout, one per event, level from `RUST_LOG` (default `info`).
/// CloudWatch adds its own timestamps.
pub fn init_json_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(true)
        .without_time()
        .init();
}

/// The GitHub App a function acts as: `APP_ID`, `PRIVATE_KEY_SECRET_ARN` (the Secrets
/// Manager secret holding the App's PEM key) and `GITHUB_API_URL` (`https://api.github.com`
/// by default, or a GitHub Enterprise Server's `https://HOST/api/v3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubAppSettings {
    pub app_id: AppId,
    pub private_key_secret_arn: String,
    pub api_url: String,
}

impl GitHubAppSettings {
    pub fn read<F: Fn(&str) -> Option<String>>(env: &mut EnvReader<F>) -> Self {
        Self {
            app_id: AppId(env.required_parsed("APP_ID", "the App's numeric id")),
            private_key_secret_arn: env.required("PRIVATE_KEY_SECRET_ARN"),
            api_url: env
                .optional("GITHUB_API_URL")
                .unwrap_or_else(|| ota_github::DEFAULT_BASE_URL.to_owned()),
        }
    }

    /// The App's client, its private key read once from Secrets Manager.
    pub async fn client(&self, aws: &SdkConfig) -> Result<GitHubClient, String> {
        let private_key = SecretsManagerSecret::new(
            aws_sdk_secretsmanager::Client::new(aws),
            &self.private_key_secret_arn,
        )
        .fetch(SecretVersion::Current)
        .await
        .map_err(|err| format!("PRIVATE_KEY_SECRET_ARN: {err}"))?
        .ok_or("PRIVATE_KEY_SECRET_ARN: the secret has no current value")?;
        GitHubApp::new(self.app_id, private_key, &self.api_url)
            .client(TokenPermissions::policy_and_report())
            .map_err(|err| err.to_string())
    }
}

/// A message that could not be processed; the processor has already logged why.
#[derive(Debug)]
pub struct Failed;

/// Processes a batch with `process`, one message at a time, and names the messages to
/// deliver again (the event source mapping needs `ReportBatchItemFailures`). A failed
/// message never fails or repeats the others — except that on a FIFO queue, once a
/// message of a group fails, the group's later messages in the batch are returned
/// unprocessed, so that a group's messages are never handled out of order.
pub async fn process_batch<F, Fut>(event: SqsEvent, mut process: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Failed>>,
{
    let mut response = SqsBatchResponse::default();
    let mut failed_groups = HashSet::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let group = message.attributes.get("MessageGroupId").cloned();
        if group
            .as_ref()
            .is_some_and(|group| failed_groups.contains(group))
        {
            response.add_failure(id);
            continue;
        }
        if process(message).await.is_err() {
            response.add_failure(id);
            failed_groups.extend(group);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(messages: &[(&str, Option<&str>)]) -> SqsEvent {
        let records: Vec<String> = messages
            .iter()
            .map(|(id, group)| {
                let attributes = group
                    .map(|group| format!(r#"{{"MessageGroupId":"{group}"}}"#))
                    .unwrap_or_else(|| "{}".to_owned());
                format!(r#"{{"messageId":"{id}","body":"{id}","attributes":{attributes},"messageAttributes":{{}}}}"#)
            })
            .collect();
        let json = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        serde_json::from_str(&json).expect("a valid SQS event")
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_failure_returns_only_that_message_on_a_standard_queue() {
        let mut seen = Vec::new();
        let response = process_batch(event(&[("a", None), ("b", None), ("c", None)]), |m| {
            let id = m.message_id.unwrap_or_default();
            seen.push(id.clone());
            async move { if id == "b" { Err(Failed) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed(&response), vec!["b"]);
        assert_eq!(seen, vec!["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_failure_holds_back_the_rest_of_its_fifo_group_only() {
        let mut seen = Vec::new();
        let batch = event(&[
            ("a1", Some("a")),
            ("b1", Some("b")),
            ("a2", Some("a")),
            ("b2", Some("b")),
        ]);
        let response = process_batch(batch, |m| {
            let id = m.message_id.unwrap_or_default();
            seen.push(id.clone());
            async move { if id == "a1" { Err(Failed) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed(&response), vec!["a1", "a2"]);
        assert_eq!(
            seen,
            vec!["a1", "b1", "b2"],
            "a2 was not processed out of order"
        );
    }
}
