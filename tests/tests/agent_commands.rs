//! `run_command` through the agent: only configured commands run, a command that runs too
//! long is stopped and reported to the model as an error (the loop goes on), `auto_fix`
//! hands a failing check back to the model until it passes, and commands see only the
//! sandbox's environment.

use std::time::Duration;

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, call};
use ota_runner::agent::{Outcome, TaskInput, looks_like_a_credential};
use serde_json::json;
use shared::config::BuiltinTask;

const LIB: &str = "pub fn answer() -> u32 {\n    41\n}\n";

#[tokio::test]
async fn a_command_that_times_out_is_an_error_result_and_the_loop_goes_on() {
    let mut h = Harness::new(BuiltinTask::Docs, &[("src/lib.rs", LIB)]).await;
    h.spec.commands = vec!["echo building; sleep 30".into()];
    h.spec.tools.run_command = true;
    h.settings.sandbox.timeout = Duration::from_millis(300);
    h.fake
        .push(ChatReply::calls([
            call("run_command", json!({"command": "rm -rf /"})),
            call("run_command", json!({})),
        ]))
        .push(ChatReply::finish("Could not run the build."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Could not run the build.".into()
        }
    );
    let results = h.fake.calls()[1].tool_results();
    assert_eq!(
        results[0],
        "error: `rm -rf /` is not a configured command; run_command can only run `echo building; sleep 30`"
    );
    assert!(
        results[1].starts_with("error: `echo building; sleep 30` did not finish within ")
            && results[1].ends_with("s and was stopped. Output:\nbuilding"),
        "{}",
        results[1]
    );
    let run = report.last_command.expect("the run is reported");
    assert!(run.timed_out && !run.succeeded());
}

#[tokio::test]
async fn auto_fix_hands_a_failing_check_back_until_it_passes() {
    let mut h = Harness::new(BuiltinTask::Fix, &[("src/lib.rs", LIB)]).await;
    h.spec.commands = vec!["grep -q 42 src/lib.rs".into()];
    h.spec.tools.run_command = true;
    assert!(h.spec.auto_fix, "on by default for fix");
    h.fake
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "src/lib.rs", "old_text": "41", "new_text": "40"}),
        ))
        .push(ChatReply::finish("Fixed it."))
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "src/lib.rs", "old_text": "40", "new_text": "42"}),
        ))
        .push(ChatReply::finish("Fixed it, really."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Fixed it, really.".into()
        }
    );
    let calls = h.fake.calls();
    assert_eq!(calls.len(), 4);
    let refusal = calls[2].tool_results().last().cloned().unwrap();
    assert!(
        refusal.starts_with("error: the task is not finished: after your changes, `grep -q 42 src/lib.rs` failed with exit code 1"),
        "{refusal}"
    );
    assert!(report.last_command.expect("the check ran").succeeded());
    assert_eq!(h.read("src/lib.rs"), LIB.replace("41", "42"));
}

#[tokio::test]
async fn commands_see_only_the_sandbox_environment() {
    let mut h = Harness::new(BuiltinTask::Test, &[("src/lib.rs", LIB)]).await;
    h.spec.commands = vec!["env".into()];
    h.spec.tools.run_command = true;
    h.fake
        .push(ChatReply::call("run_command", json!({"command": "  env "})))
        .push(ChatReply::finish("Looked at the environment."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert!(
        matches!(report.outcome, Outcome::Finished { .. }),
        "{:?}",
        report.outcome
    );
    let output = &h.fake.calls()[1].tool_results()[0];
    assert!(output.starts_with("`env` succeeded"), "{output}");
    assert!(output.contains("CI=true"), "{output}");
    let names: Vec<&str> = output
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    // Cargo gives this test process CARGO_* variables; a wholesale inherit would show them.
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("CARGO_PKG") || n.starts_with("CARGO_MANIFEST")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| looks_like_a_credential(n)),
        "{names:?}"
    );
}
