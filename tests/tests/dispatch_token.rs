//! The dispatch Lambda's token door, on moto's DynamoDB and Secrets Manager behind a fake
//! Invoke API: only the job's current attempt, with its own credential, gets a token, for
//! the job's one repository; a wrong credential, another job's, an old attempt's or a
//! finished job's is refused with the reason, and the Ollama key goes only to an attempt
//! that runs on the hosted service.

use aws_sdk_lambda::primitives::Blob;
use dispatch_function::TokenDesk;
use e2e::fake_lambda::{FakeLambda, Handler};
use e2e::logs::CapturedLogs;
use e2e::runner_world::World;
use ota_aws::SecretsManagerSecret;
use ota_runner::job::ControlPlane;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::job::{JobStatus, RunnerCredential};
use shared::ports::JobStore;
use std::sync::Arc;
use tracing::instrument::WithSubscriber;

/// Invokes the world's dispatch function with `payload`: the function error's kind (if
/// any) and the answer.
async fn invoke(world: &World, payload: &Value) -> (Option<String>, Value) {
    let output = world
        .dispatch
        .client(&world.aws)
        .invoke()
        .function_name(world.dispatch.name())
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .expect("invoke");
    let body: Value =
        serde_json::from_slice(output.payload().expect("a payload").as_ref()).expect("json");
    (output.function_error().map(str::to_owned), body)
}

fn request(job: &str, attempt: u32, credential: &RunnerCredential) -> Value {
    json!({"job": job, "attempt": attempt, "credential": credential.expose()})
}

#[tokio::test]
async fn the_current_attempt_gets_a_token_for_its_one_repository() {
    let world = World::with_lib("true").await;
    let job = world.start_job("review", "").await;

    let grant = world
        .broker(&job, job.record.attempts, job.credential.clone())
        .ask()
        .await
        .expect("granted");

    assert_eq!(grant.scope, world.scope());
    assert!(grant.ollama_api_key.is_none());
    let minted = world.github.minted_tokens();
    let token = minted
        .iter()
        .find(|minted| minted.token == grant.token.secret().expose_secret())
        .expect("the fake GitHub minted it");
    let name = world.repo.split_once('/').expect("owner/name").1;
    assert_eq!(token.repositories, [name]);
    // A review reads the contents and writes only its review and check run.
    assert_eq!(
        token.permissions.get("contents").map(String::as_str),
        Some("read")
    );
    assert_eq!(world.dispatch.invocations(), 1);
}

#[tokio::test]
async fn wrong_credentials_other_jobs_old_attempts_and_finished_jobs_are_refused() {
    let world = World::with_lib("true").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    let other = world.start_job("refactor", "again").await;
    let attempt = job.record.attempts;
    let logs = CapturedLogs::default();

    async {
        // A stranger's credential.
        let stranger = RunnerCredential::generate().expect("random");
        let (error, answer) =
            invoke(&world, &request(job.record.id.as_str(), attempt, &stranger)).await;
        assert_eq!(error, None, "a refusal is an answer, not a function error");
        assert_eq!(answer["code"], "wrong_credential", "{answer}");
        assert_eq!(answer["status"], 401);

        // This job's credential on another job.
        let (_, answer) = invoke(
            &world,
            &request(other.record.id.as_str(), attempt, &job.credential),
        )
        .await;
        assert_eq!(answer["code"], "wrong_credential", "{answer}");

        // A job that does not exist.
        let (_, answer) = invoke(
            &world,
            &request("j0123456789abcdef0123", 1, &job.credential),
        )
        .await;
        assert_eq!(answer["code"], "unknown_job", "{answer}");

        // A later attempt replaces this one: the old credential is over.
        let mut record = world
            .store
            .job(&job.record.id)
            .await
            .expect("read")
            .expect("job");
        record.attempts += 1;
        let newer = RunnerCredential::generate().expect("random");
        record.runner_grant = Some(
            world
                .grants
                .grant(&record.id, record.attempts, false, &newer),
        );
        world
            .store
            .update_job(&record, record.status)
            .await
            .expect("second attempt");
        let (_, answer) = invoke(
            &world,
            &request(job.record.id.as_str(), attempt, &job.credential),
        )
        .await;
        assert_eq!(answer["code"], "attempt_over", "{answer}");
        assert_eq!(answer["status"], 410);
        // The old credential for the new attempt's number is still not the new one.
        let (_, answer) = invoke(
            &world,
            &request(job.record.id.as_str(), record.attempts, &job.credential),
        )
        .await;
        assert_eq!(answer["code"], "wrong_credential", "{answer}");
        // The new attempt's own is granted, through the runner's broker.
        let grant = world
            .broker(&job, record.attempts, newer.clone())
            .ask()
            .await;
        assert!(grant.is_ok(), "the current attempt is granted");

        // Once the job is over, nobody gets a token.
        let expected = record.status;
        record
            .move_to(JobStatus::Cancelled, 9_000)
            .expect("cancelled");
        world
            .store
            .update_job(&record, expected)
            .await
            .expect("finish");
        let err = world
            .broker(&job, record.attempts, newer.clone())
            .ask()
            .await
            .err()
            .expect("finished");
        assert!(!err.is_transient(), "{err}");
        assert!(err.to_string().contains("no more tokens"), "{err}");

        // Every refusal named the job; no log line held a credential, even at `trace`.
        for credential in [&stranger, &job.credential, &newer] {
            let text = logs.text();
            let leaks: Vec<&str> = text
                .lines()
                .filter(|line| line.contains(credential.expose()))
                .collect();
            assert!(leaks.is_empty(), "{leaks:#?}");
        }
    }
    .with_subscriber(logs.subscriber_with(ota_aws::log_filter(Some("trace"))))
    .await;
    for token in world.minted_tokens() {
        assert!(
            !logs.text().contains(&token),
            "a token in the runner's logs"
        );
    }

    // The function logs each refusal with the job's id, never the credential.
    let desk = TokenDesk {
        store: world.store.clone(),
        grants: world.grants.clone(),
        tokens: world.github.client(),
        ollama_key: None,
    };
    let stranger = RunnerCredential::generate().expect("random");
    let function_logs = CapturedLogs::default();
    let answer = desk
        .answer(&request(job.record.id.as_str(), attempt + 1, &stranger))
        .with_subscriber(function_logs.subscriber_with(ota_aws::log_filter(Some("trace"))))
        .await;
    assert_eq!(answer["code"], "wrong_credential", "{answer}");
    let text = function_logs.text();
    assert!(text.contains("refused a runner token request"), "{text}");
    assert!(text.contains(job.record.id.as_str()), "{text}");
    assert!(!text.contains(stranger.expose()), "{text}");
}

#[tokio::test]
async fn anything_but_a_batch_or_a_token_request_is_a_function_error_the_runner_retries() {
    let world = World::with_lib("true").await;
    let (error, answer) = invoke(&world, &json!({"hello": "world"})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let message = answer["errorMessage"].as_str().expect("a message");
    assert!(message.contains("neither `Records` nor `job`"), "{message}");

    // A malformed request is answered as one.
    let (error, answer) = invoke(&world, &json!({"job": "j1", "attempt": 1})).await;
    assert_eq!(error, None);
    assert_eq!(answer["code"], "bad_request", "{answer}");

    // A function that fails is worth asking again.
    let failing: Handler =
        Arc::new(|_| Box::pin(async { Err::<Value, _>("Task timed out".to_owned()) }));
    let lambda = FakeLambda::start("failing", failing).await;
    let job = world.start_job("refactor", "x").await;
    let broker = ota_runner::job::LambdaBroker::new(
        lambda.client(&world.aws),
        "failing",
        job.record.id.clone(),
        job.record.attempts,
        job.credential.clone(),
    );
    let err = broker.ask().await.err().expect("failed");
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("Task timed out"), "{err}");
}

#[tokio::test]
async fn only_an_attempt_on_the_hosted_service_gets_the_ollama_key() {
    let world = World::with_lib("true").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&world.aws);
    let arn = e2e::aws::secret(&secrets, &e2e::unique("ollama-key"), "olk_hosted_key").await;
    let desk = TokenDesk {
        store: world.store.clone(),
        grants: world.grants.clone(),
        tokens: world.github.client(),
        ollama_key: Some(SecretsManagerSecret::new(secrets, arn)),
    };
    let self_hosted = world.start_job("refactor", "x").await;
    let answer = desk
        .answer(&request(
            self_hosted.record.id.as_str(),
            self_hosted.record.attempts,
            &self_hosted.credential,
        ))
        .await;
    assert!(answer.get("token").is_some(), "{answer}");
    assert!(answer.get("ollama_api_key").is_none(), "{answer}");

    let hosted = world.start_job("refactor", "y").await;
    let mut record = hosted.record.clone();
    record.runner_grant = Some(world.grants.grant(
        &record.id,
        record.attempts,
        true,
        &hosted.credential,
    ));
    world
        .store
        .update_job(&record, record.status)
        .await
        .expect("a hosted grant");
    let answer = desk
        .answer(&request(
            record.id.as_str(),
            record.attempts,
            &hosted.credential,
        ))
        .await;
    assert_eq!(answer["ollama_api_key"], "olk_hosted_key", "{answer}");
}
