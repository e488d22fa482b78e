//! Before any work the runner asks Ollama about the task's model (`POST /api/show`): a
//! model the server does not have, or one that can't call tools, ends the job before the
//! clone, with what to change; the answer is asked once and cached in the client.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::fake_ollama_models::FakeModel;
use e2e::runner_world::{LIB, World};
use ota_runner::job::Finished;
use ota_runner::ollama::{ClientOptions, OllamaClient, OllamaEnv};
use shared::job::JobError;

fn config(model: &str) -> String {
    format!(
        "version: 1\nautomation:\n  defaults:\n    model: {model}\n  tasks:\n    refactor:\n      command: \"true\"\n"
    )
}

/// Runs a refactor whose task names `model`; returns the failure.
async fn fails_before_the_clone(world: &World, model: &str) -> ota_runner::job::Failure {
    let job = world.start_job("refactor", "extract the retry loop").await;
    let finished = world.run(&job).await;
    let Finished::Failed(failure) = finished else {
        panic!("the job should fail: {finished:?}");
    };
    assert_eq!(world.ollama.shows(), [model]);
    assert!(world.ollama.calls().is_empty(), "no chat call");
    assert!(
        world.git.requests().is_empty(),
        "nothing was cloned: {:?}",
        world.git.requests()
    );
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Runner.BadConfig"));
    failure
}

#[tokio::test]
async fn a_model_the_server_does_not_have_stops_the_job_before_the_clone() {
    let world = World::new(&[("src/lib.rs", LIB)], &config("tiny-coder:1b")).await;

    let failure = fails_before_the_clone(&world, "tiny-coder:1b").await;

    assert_eq!(failure.error, JobError::RunnerBadConfig);
    insta::assert_snapshot!("model_not_found_cause", failure.cause);
}

#[tokio::test]
async fn a_model_without_tools_stops_the_job_before_the_clone() {
    let world = World::new(&[("src/lib.rs", LIB)], &config("gemma3:4b")).await;
    world
        .ollama
        .add_model(FakeModel::without_tools("gemma3:4b", 131_072));

    let failure = fails_before_the_clone(&world, "gemma3:4b").await;

    assert_eq!(failure.error, JobError::RunnerBadConfig);
    insta::assert_snapshot!("tools_unsupported_cause", failure.cause);
}

#[tokio::test]
async fn the_model_is_asked_about_once_per_client() {
    let world = World::with_lib("true").await;
    let host = world.ollama.host();
    let env = OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| host.clone()))
        .expect("fake host");
    let client = OllamaClient::new(&env, ClientOptions::default()).expect("client");

    let first = client.check_model("qwen3-coder:30b").await.expect("known");
    let again = client.clone().show("qwen3-coder:30b").await.expect("known");

    assert_eq!(first.context_length, Some(262_144));
    assert_eq!(first.supports_tools(), Some(true));
    assert_eq!(first, again);
    assert_eq!(world.ollama.shows(), ["qwen3-coder:30b"]);
}
