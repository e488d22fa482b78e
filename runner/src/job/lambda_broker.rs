//! The Fargate runner's [`ControlPlane`]: it invokes the dispatch Lambda
//! (`DISPATCH_FUNCTION`) directly with `{"job", "attempt", "credential"}`, its attempt's
//! credential from `OTA_RUNNER_CREDENTIAL`, and reads the answer as `ota serve`'s: a
//! `TokenAnswer`, or `{"error", "code", "status"}`. The task role may invoke that one
//! function and read no secret.

use super::broker::{ControlPlane, Grant, read_answer};
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::primitives::Blob;
use shared::job::{JobId, RunnerCredential};
use shared::ports::GitHubError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long one invocation may take: the function's own timeout (30 s in
/// `template.yaml`) and a cold start. The SDK's usual bounds (`ota_aws::timeouts`) are
/// for quick calls.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(40);

/// Asks the dispatch function for the job's token.
pub struct LambdaBroker {
    client: aws_sdk_lambda::Client,
    function: String,
    job: JobId,
    attempt: u32,
    credential: RunnerCredential,
}

impl LambdaBroker {
    /// A Lambda client of `aws`'s settings whose invocations may take [`INVOKE_TIMEOUT`].
    pub fn client(aws: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(INVOKE_TIMEOUT)
            .operation_timeout(INVOKE_TIMEOUT * 2)
            .build();
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(aws)
                .timeout_config(timeouts)
                .build(),
        )
    }

    /// The broker of `attempt` of `job`, invoking `function` (a name or ARN).
    pub fn new(
        client: aws_sdk_lambda::Client,
        function: impl Into<String>,
        job: JobId,
        attempt: u32,
        credential: RunnerCredential,
    ) -> Self {
        Self {
            client,
            function: function.into(),
            job,
            attempt,
            credential,
        }
    }

    async fn request(&self) -> Result<Grant, GitHubError> {
        let payload = serde_json::json!({
            "job": self.job.as_str(),
            "attempt": self.attempt,
            "credential": self.credential.expose(),
        });
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|err| {
                GitHubError::Unavailable(format!(
                    "could not invoke the dispatch function {} for the job's token: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(&err)
                ))
            })?;
        let body = output
            .payload()
            .map(|blob| String::from_utf8_lossy(blob.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            // The function failed (`Unhandled`: it crashed or timed out); its answer is
            // Lambda's `{"errorMessage", "errorType"}`, which holds no secret.
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json.get("errorMessage")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "no message".to_owned());
            return Err(GitHubError::Unavailable(format!(
                "the dispatch function failed ({kind}): {message}"
            )));
        }
        read_answer(status_of(&body), &body)
    }
}

/// The status a refusal names, else 200 (a granted answer has no `error`).
fn status_of(body: &str) -> u16 {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return 502;
    };
    if json.get("error").is_none() {
        return 200;
    }
    json.get("status")
        .and_then(serde_json::Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .filter(|status| *status != 200)
        .unwrap_or(500)
}

impl ControlPlane for LambdaBroker {
    fn ask(&self) -> Pin<Box<dyn Future<Output = Result<Grant, GitHubError>> + Send + '_>> {
        Box::pin(self.request())
    }
}

impl std::fmt::Debug for LambdaBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaBroker")
            .field("function", &self.function)
            .field("job", &self.job)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_status_and_a_grant_is_200() {
        assert_eq!(
            status_of(r#"{"error": "over", "code": "job_finished", "status": 410}"#),
            410
        );
        assert_eq!(status_of(r#"{"error": "odd", "status": 200}"#), 500);
        assert_eq!(status_of(r#"{"token": "t", "expires_at_ms": 1}"#), 200);
        assert_eq!(status_of("not json"), 502);
    }
}
