//! Budgets are enforced by the loop, not the model: when turns, tokens, time or tool output
//! run out, the run stops cleanly, reports which budget, and keeps the work done so far.

use std::time::{Duration, Instant};

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, call};
use ota_runner::agent::{BudgetKind, Outcome, TaskInput};
use serde_json::json;
use shared::config::BuiltinTask;
use shared::job::JobError;

const LIB: &str = "pub fn answer() -> u32 {\n    41\n}\n";

fn edit() -> ChatReply {
    ChatReply::call(
        "edit_file",
        json!({"path": "src/lib.rs", "old_text": "    41\n", "new_text": "    42\n"}),
    )
}

#[tokio::test]
async fn running_out_of_turns_stops_cleanly_with_the_partial_work() {
    let mut h = Harness::new(BuiltinTask::Fix, &[("src/lib.rs", LIB)]).await;
    h.settings.max_turns = 2;
    h.fake.push(edit()).push(ChatReply::read_file("src/lib.rs"));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::BudgetExhausted {
            budget: BudgetKind::Turns
        }
    );
    assert_eq!(
        report.outcome.job_error(),
        Some(JobError::RunnerBudgetExceeded)
    );
    assert_eq!(report.turns, 2);
    assert_eq!(report.files_changed, ["src/lib.rs"]);
    assert_eq!(h.read("src/lib.rs"), LIB.replace("41", "42"));
    assert_eq!(h.fake.calls().len(), 2, "no third call");
    assert!(h.fake.unexpected().is_empty());
}

#[tokio::test]
async fn the_wall_clock_cuts_a_slow_model_call() {
    let mut h = Harness::new(BuiltinTask::Fix, &[("src/lib.rs", LIB)]).await;
    h.spec.timeout = Duration::from_millis(1500);
    h.fake
        .push(edit())
        .push(ChatReply::read_file("src/lib.rs").with_pause(Duration::from_secs(20)));

    let started = Instant::now();
    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::BudgetExhausted {
            budget: BudgetKind::WallClock
        }
    );
    assert_eq!(report.outcome.job_error(), Some(JobError::RunnerTimedOut));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.files_changed, ["src/lib.rs"]);
    assert_eq!(h.read("src/lib.rs"), LIB.replace("41", "42"));
}

#[tokio::test]
async fn the_token_budget_counts_what_the_server_reports() {
    let mut h = Harness::new(BuiltinTask::Fix, &[("src/lib.rs", LIB)]).await;
    h.settings.max_job_tokens = 12_000;
    for _ in 0..3 {
        h.fake
            .push(ChatReply::read_file("src/lib.rs").with_counts(5_000, 20));
    }

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::BudgetExhausted {
            budget: BudgetKind::Tokens
        }
    );
    assert_eq!(report.turns, 3);
    assert_eq!(
        (report.tokens.prompt, report.tokens.completion),
        (15_000, 60)
    );
}

#[tokio::test]
async fn the_tool_output_budget_stops_a_model_that_reads_everything() {
    let big = format!("{}\n", "x".repeat(80)).repeat(100);
    let mut h = Harness::new(BuiltinTask::Fix, &[("big.txt", &big)]).await;
    h.settings.max_tool_output_chars = 12_000;
    h.fake.push(ChatReply::calls([
        call("read_file", json!({"path": "big.txt"})),
        call("read_file", json!({"path": "big.txt"})),
        call("read_file", json!({"path": "big.txt"})),
    ]));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::BudgetExhausted {
            budget: BudgetKind::ToolOutput
        }
    );
    assert_eq!(h.fake.calls().len(), 1);
}
