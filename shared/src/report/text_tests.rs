use super::*;
use crate::dispatch::TestRun;
use crate::envelope::CommentSource;
use crate::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use crate::job::{Approval, ErrorReport, JobId, JobRequest, JobResult, TokenUsage, Trigger};
use crate::ports::EndpointKind;

const LOG: &str =
    "https://console.aws.amazon.com/cloudwatch/home#logsV2:log-groups/log-group/ota-runner";

fn job() -> JobRecord {
    let delivery = DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").expect("delivery");
    let mut job = JobRecord::new(
        JobRequest {
            id: JobId::for_command(&delivery, 0),
            delivery,
            installation: InstallationId(42),
            repo: RepoFullName::new("octo-org/hello-world"),
            commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "feature".to_owned(),
            trigger: Trigger::Comment {
                comment_id: 1,
                source: CommentSource::IssueComment,
                number: 7,
                on_pull_request: true,
            },
            task: "refactor".to_owned(),
            params: "extract the retry loop".to_owned(),
            requester: "octocat".to_owned(),
            approval: Approval::not_required(),
        },
        1_000,
    );
    job.move_to(JobStatus::Dispatching, 2_000)
        .expect("dispatch");
    job.move_to(JobStatus::Running, 5_000).expect("run");
    job.log = Some(LOG.to_owned());
    job
}

fn run() -> RunOutput {
    RunOutput {
        summary: "Extracted the retry loop into `retry_with_backoff` and covered it with tests."
            .to_owned(),
        pull_request_url: Some("https://github.com/octo-org/hello-world/pull/8".to_owned()),
        branch: Some("ollama/refactor-j1a2b3c4".to_owned()),
        tests: vec![
            TestRun {
                command: "cargo test".to_owned(),
                passed: true,
                summary: Some("142 passed".to_owned()),
            },
            TestRun {
                command: "cargo clippy".to_owned(),
                passed: false,
                summary: None,
            },
        ],
        model: "qwen3-coder:30b".to_owned(),
        endpoint: Some(EndpointKind::SelfHosted),
        tokens: TokenUsage {
            prompt: 12_345,
            completion: 3_400,
        },
        details: Some("### Steps\n\n1. Read `src/retry.rs`\n2. Edited it".to_owned()),
    }
}

fn succeeded() -> JobRecord {
    let mut job = job();
    let run = run();
    job.result = Some(JobResult {
        summary: Some(run.summary.clone()),
        pull_request_url: run.pull_request_url.clone(),
        branch: run.branch.clone(),
        tokens: Some(run.tokens),
        error: None,
    });
    job.move_to(JobStatus::Succeeded, 257_000).expect("succeed");
    job
}

fn ended(name: &str, message: &str) -> JobRecord {
    let mut job = job();
    job.finish_with_error(name, message, 9_000).expect("finish");
    job
}

#[test]
fn the_summary_comment_says_what_was_done() {
    insta::assert_snapshot!(succeeded_comment(&succeeded(), Some(&run())));
}

#[test]
fn failures_say_why_and_what_to_do() {
    let failed = ended(
        "Runner.BadConfig",
        "`.ollama-turbo.yml` line 3: unknown task `refactr`",
    );
    insta::assert_snapshot!("failed", finished_comment(&failed, None));
    let mut dead = job();
    dead.attempts = 4;
    dead.move_to(JobStatus::DeadLettered, 9_000)
        .expect("dead-letter");
    dead.result = Some(JobResult {
        error: Some(ErrorReport {
            name: "Runner.ModelUnavailable".to_owned(),
            message: "the model did not load in time".to_owned(),
        }),
        ..JobResult::default()
    });
    insta::assert_snapshot!("dead_lettered", finished_comment(&dead, None));
    let denied = ended("Approval.Denied", "refused by @maintainer");
    insta::assert_snapshot!("denied", finished_comment(&denied, None));
    let mut waiting = job();
    waiting.status = JobStatus::AwaitingApproval;
    waiting
        .finish_with_error("Approval.Expired", "", 9_000)
        .expect("expire");
    insta::assert_snapshot!("expired", finished_comment(&waiting, None));
}

#[test]
fn conclusions_follow_the_final_status() {
    assert_eq!(check_conclusion(&succeeded()), CheckConclusion::Success);
    assert_eq!(
        check_conclusion(&ended("Runner.AgentGaveUp", "")),
        CheckConclusion::Failure
    );
    assert_eq!(
        check_conclusion(&ended("Runner.TimedOut", "")),
        CheckConclusion::TimedOut
    );
    assert_eq!(
        check_conclusion(&ended("Job.Cancelled", "")),
        CheckConclusion::Cancelled
    );
    assert_eq!(
        check_conclusion(&ended("States.Runtime", "")),
        CheckConclusion::Failure
    );
}

#[test]
fn the_check_run_has_a_title_summary_and_details_with_the_log() {
    let output = finished_output(&succeeded(), Some(&run()));
    assert_eq!(output.title, "Done: pull request #8");
    assert!(output.summary.ends_with(&format!("Full log: {LOG}")));
    let text = output.text.expect("details");
    assert!(text.starts_with("### Steps"), "{text}");
    let failed = finished_output(&ended("Runner.Failed", "panicked at src/main.rs:3"), None);
    assert_eq!(failed.title, "Failed: Runner.Failed");
    assert_eq!(
        failed.summary.matches("Full log:").count(),
        1,
        "{}",
        failed.summary
    );
    assert!(
        failed
            .text
            .expect("error")
            .contains("panicked at src/main.rs:3")
    );
}

#[test]
fn check_run_text_is_cut_to_github_limit_keeping_the_log_pointer() {
    let long = "x".repeat(MAX_CHECK_TEXT_BYTES * 2);
    let pointer = format!("Full log: {LOG}");
    let fitted = fit_check_text(&long, Some(&pointer));
    assert_eq!(fitted.len(), MAX_CHECK_TEXT_BYTES);
    assert!(fitted.ends_with(&format!("Full log: {LOG}")));
    assert!(fitted.contains("cut to fit GitHub's limit"));
    assert_eq!(fit_check_text("short", None), "short");

    let mut huge = run();
    huge.details = Some("y".repeat(200_000));
    let mut job = succeeded();
    job.result.as_mut().expect("result").summary = Some("z".repeat(100_000));
    let output = finished_output(&job, Some(&huge));
    assert!(output.summary.len() <= MAX_CHECK_TEXT_BYTES);
    assert!(output.text.expect("text").len() <= MAX_CHECK_TEXT_BYTES);
}

/// GitHub counts a check run's text in bytes: 65,535 `é` are 131,070 bytes, and a text
/// of them is refused with 422 "summary exceeds a maximum bytesize of 65535".
#[test]
fn non_ascii_check_run_text_is_cut_by_bytes_on_a_character_boundary() {
    let pointer = format!("Full log: {LOG}");
    let wide = "é".repeat(MAX_CHECK_TEXT_BYTES);
    let fitted = fit_check_text(&wide, Some(&pointer));
    assert!(
        fitted.len() <= MAX_CHECK_TEXT_BYTES,
        "{} bytes",
        fitted.len()
    );
    assert!(fitted.ends_with(&pointer));
    let crabs = "🦀".repeat(30_000);
    assert!(fit_check_text(&crabs, None).len() <= MAX_CHECK_TEXT_BYTES);

    let mut wide_run = run();
    wide_run.details = Some("ü".repeat(40_000));
    let mut job = succeeded();
    job.result.as_mut().expect("result").summary = Some("ß".repeat(40_000));
    wide_run.summary = "ß".repeat(40_000);
    let output = finished_output(&job, Some(&wide_run));
    assert!(output.summary.len() <= MAX_CHECK_TEXT_BYTES);
    assert!(output.text.expect("text").len() <= MAX_CHECK_TEXT_BYTES);
}

#[test]
fn labels_say_what_the_latest_job_did() {
    assert_eq!(labels_while_running().add, [LABEL_PENDING]);
    assert_eq!(
        labels_when_finished(JobStatus::Succeeded).add,
        [LABEL_APPLIED]
    );
    assert_eq!(labels_when_finished(JobStatus::Failed).add, [LABEL_FAILED]);
    assert_eq!(
        labels_when_finished(JobStatus::DeadLettered).add,
        [LABEL_FAILED]
    );
    for quiet in [JobStatus::Cancelled, JobStatus::Expired] {
        let change = labels_when_finished(quiet);
        assert!(change.add.is_empty());
        assert_eq!(change.remove, [LABEL_PENDING]);
    }
    for status in JobStatus::ALL {
        assert!(labels_when_finished(status).remove.contains(&LABEL_PENDING));
    }
}

#[test]
fn durations_read_naturally() {
    assert_eq!(format_duration(850), "850 ms");
    assert_eq!(format_duration(42_000), "42 s");
    assert_eq!(format_duration(252_000), "4 min 12 s");
    assert_eq!(format_duration(3_780_000), "1 h 3 min");
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(12_345_678), "12,345,678");
}

#[test]
fn a_log_on_the_servers_disk_is_never_published() {
    let mut job = ended("Runner.Failed", "the clone is unusable");
    job.log = Some("/var/lib/ota/logs/j7c4a6f78a5722932c4ca-1.log".to_owned());
    let comment = failed_comment(&job);
    let output = finished_output(&job, None);
    for text in [
        comment.as_str(),
        output.summary.as_str(),
        output.text.as_deref().unwrap_or_default(),
    ] {
        assert!(!text.contains("/var/lib/ota"), "{text}");
        assert!(text.contains(&format!("`ota job {}`", job.id)), "{text}");
    }
    insta::assert_snapshot!("failed_with_a_local_log", comment);

    assert_eq!(log_pointer(&job.id, None), None);
    assert_eq!(log_pointer(&job.id, Some("  ")), None);
    assert_eq!(
        log_pointer(&job.id, Some(LOG)).as_deref(),
        Some(format!("Full log: {LOG}").as_str())
    );
    for not_a_link in [
        "/tmp/ota/x.log",
        "C:\\ota\\x.log",
        "file:///tmp/x",
        "https://a b",
    ] {
        let pointer = log_pointer(&job.id, Some(not_a_link)).expect("a pointer");
        assert!(!pointer.contains(not_a_link), "{pointer}");
    }
}

#[test]
fn a_job_waiting_for_the_gpu_service_says_it_is_starting() {
    let output = queued_output(&job(), crate::dispatch::gpu::STARTING);
    insta::assert_snapshot!(
        "queued_for_the_gpu_service",
        format!("{}\n\n{}", output.title, output.summary)
    );
}
