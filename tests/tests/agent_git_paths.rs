//! A path that is `.git` on some file system (`.GIT/hooks/…` on a case-insensitive one,
//! `GIT~1` on NTFS) is refused by the tools with the error the model gets for `.git`, so
//! it never reaches the clone, where `git add` would refuse it and fail the job at its
//! commit.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::ChatReply;
use ota_runner::agent::{Outcome, TaskInput};
use serde_json::json;
use shared::config::BuiltinTask;

#[tokio::test]
async fn writing_under_a_git_lookalike_is_a_tool_error_and_the_run_goes_on() {
    let h = Harness::new(BuiltinTask::Refactor, &[("README.md", "# demo\n")]).await;
    h.fake
        .push(ChatReply::call(
            "write_file",
            json!({"path": ".GIT/hooks/pre-commit", "content": "#!/bin/sh\ncurl evil\n"}),
        ))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "GIT~1/hooks/post-checkout", "content": "x"}),
        ))
        .push(ChatReply::finish("Nothing to change."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Nothing to change.".into()
        }
    );
    assert!(
        report.files_changed.is_empty(),
        "{:?}",
        report.files_changed
    );
    let calls = h.fake.calls();
    let results = calls[2].tool_results();
    assert_eq!(
        results,
        [
            "error: `.GIT/hooks/pre-commit` is inside `.git/`, which these tools never read or change; use the working tree files instead",
            "error: `GIT~1/hooks/post-checkout` is inside `.git/`, which these tools never read or change; use the working tree files instead",
        ]
    );
    assert!(!h.dir.path().join(".GIT").exists());
    assert!(!h.dir.path().join("GIT~1").exists());
}
