//! The dispatch function's second door: a Fargate runner invokes it directly with
//! `{"job", "attempt", "credential"}` for its job's installation token, as `ota serve`'s
//! runners ask `POST /runner/token`. The answer is a `TokenAnswer`, or
//! `{"error", "code", "status"}` (the status that `ota serve` would answer), both as the
//! invocation's payload; an event that is neither an SQS batch nor a token request is a
//! function error that names what the function takes.

use aws_lambda_events::event::sqs::SqsEvent;
use ota_aws::{DynamoStore, SecretsManagerSecret};
use ota_github::{GitHubClient, TokenFailure, answer_token_request};
use shared::dispatch::{GrantKey, TokenRequest};
use shared::job::JobId;
use shared::ports::{SecretSource, SecretVersion};

/// Everything a token request needs: the jobs, the grants' key, the App's client that
/// mints, and the hosted Ollama's key (read only for an attempt that runs there).
pub struct TokenDesk {
    pub store: DynamoStore,
    pub grants: GrantKey,
    pub tokens: GitHubClient,
    pub ollama_key: Option<SecretsManagerSecret>,
}

/// What the function was invoked with.
#[derive(Debug)]
pub enum Invocation {
    /// The dispatch queue's batch (it has `Records`).
    Batch(SqsEvent),
    /// A runner's token request (it has `job`), as its raw JSON.
    Token(serde_json::Value),
}

/// Why an event is not one the function takes. Never quotes the event (a token
/// request holds a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the dispatch function takes an SQS event (with `Records`) or a runner's token request \
     {{\"job\", \"attempt\", \"credential\"}}: {0}"
)]
pub struct UnknownEvent(pub String);

impl Invocation {
    /// Tells the two apart by `Records` and `job`.
    pub fn read(event: serde_json::Value) -> Result<Self, UnknownEvent> {
        let Some(fields) = event.as_object() else {
            return Err(UnknownEvent("the event is not a JSON object".to_owned()));
        };
        if fields.contains_key("Records") {
            return serde_json::from_value(event)
                .map(Invocation::Batch)
                .map_err(|err| UnknownEvent(format!("`Records` is not an SQS batch: {err}")));
        }
        if fields.contains_key("job") {
            return Ok(Invocation::Token(event));
        }
        Err(UnknownEvent(
            "the event has neither `Records` nor `job`".to_owned(),
        ))
    }
}

impl TokenDesk {
    /// Answers a token request's payload with the invocation's answer: a `TokenAnswer`
    /// or `{"error", "code", "status"}`.
    pub async fn answer(&self, payload: &serde_json::Value) -> serde_json::Value {
        let request = match TokenRequest::from_json(payload.to_string().as_bytes(), None) {
            Ok(request) => request,
            Err(err) => {
                // The job's id when it is one; other text is not logged, as it may be
                // anything (a credential in the wrong field).
                let job = payload
                    .get("job")
                    .and_then(|job| job.as_str())
                    .and_then(|job| JobId::parse(job).ok())
                    .map(|job| job.to_string())
                    .unwrap_or_default();
                tracing::warn!(job, error = %err, "refused a runner token request");
                return TokenFailure::new(400, "bad_request", err.to_string()).to_json();
            }
        };
        let ollama_key = || async {
            match &self.ollama_key {
                Some(secret) => secret
                    .fetch(SecretVersion::Current)
                    .await
                    .map_err(|err| format!("OLLAMA_API_KEY_SECRET_ARN: {err}")),
                None => Ok(None),
            }
        };
        match answer_token_request(
            &self.store,
            &self.grants,
            &self.tokens,
            &request,
            ollama_key,
        )
        .await
        {
            Ok(answer) => serde_json::to_value(&answer).unwrap_or_else(|_| {
                TokenFailure::new(500, "internal", "the answer could not be written").to_json()
            }),
            Err(failure) => failure.to_json(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_batch_from_a_token_request_and_names_anything_else() {
        let batch = Invocation::read(serde_json::json!({"Records": []})).expect("batch");
        assert!(matches!(batch, Invocation::Batch(_)));
        let token = Invocation::read(serde_json::json!({"job": "j1", "attempt": 1}));
        assert!(matches!(token, Ok(Invocation::Token(_))));
        let err =
            Invocation::read(serde_json::json!({"credential": "hunter2"})).expect_err("neither");
        assert!(
            err.to_string().contains("neither `Records` nor `job`"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = Invocation::read(serde_json::json!(["hunter2"])).expect_err("not an object");
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }
}
