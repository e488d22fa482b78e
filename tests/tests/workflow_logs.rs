//! What the dispatch and report functions log while a job goes through its approval and
//! its run, captured at every level: the task tokens never appear. Its own test binary:
//! capturing logs per test races with other tests' threads.

use e2e::logs::CapturedLogs;
use e2e::workflow::Harness;
use e2e::workflow::actors::TEST_TIMEOUTS;
use shared::job::{JobError, Wait};
use tracing::instrument::WithSubscriber;

#[tokio::test]
async fn task_tokens_never_show_in_the_logs() {
    let logs = CapturedLogs::default();
    let tokens = async {
        let harness = Harness::start().await;
        let id = harness.start_job(true, TEST_TIMEOUTS).await;
        let approval = harness.token(&id, Wait::Approval).await;
        harness.approve(&id, "maintainer").await;
        let run = harness.runner_starts(&id, 1).await;
        harness
            .runner_fails(&run, JobError::RunnerAgentGaveUp, "no change worth making")
            .await;
        harness.finish_execution(&id).await;
        [approval, run]
    }
    .with_subscriber(logs.subscriber())
    .await;
    let text = logs.text();
    assert!(text.contains("dispatched"), "{text}");
    // The dispatch and the job's end are counted as EMF lines of their own.
    let launched = logs.metric("RunnersLaunched");
    assert_eq!(launched.len(), 1, "{text}");
    assert_eq!(launched[0]["RunnersLaunched"], 1);
    assert!(launched[0]["Endpoint"].is_string(), "{}", launched[0]);
    let finished = logs.metric("JobsFinished");
    assert_eq!(finished.len(), 1, "{text}");
    assert_ne!(finished[0]["Outcome"], "succeeded", "{}", finished[0]);
    assert_eq!(finished[0]["JobsFailed"], 1);
    assert!(
        finished[0]["JobDuration"].as_f64().is_some(),
        "{}",
        finished[0]
    );
    assert!(
        text.contains("failing the attempt") || text.contains("report"),
        "{text}"
    );
    // The SDK's own TRACE lines print whole HTTP bodies (here those of the test's stand-in
    // for Lambda's SQS poller); the template's `LogLevel` stops at `debug`.
    let ours = |line: &&str| {
        let sdk_trace = line.contains(r#""level":"TRACE""#)
            && (line.contains(r#""target":"aws_smithy"#) || line.contains(r#""target":"hyper"#));
        !sdk_trace
    };
    for token in tokens {
        let line = text
            .lines()
            .filter(ours)
            .find(|line| line.contains(token.expose()))
            .unwrap_or("");
        assert!(line.is_empty(), "a task token was logged: {line}");
    }
}
