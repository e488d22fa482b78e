//! Where the run stands, on stderr: before each agent status line, a bar and the trial's
//! place among all (`[███░░░░░░░] 3/12 rust-page-ranges · `) on a terminal, or
//! `[3/12 rust-page-ranges] ` in a log; and one line when a trial ends, kept in both.

use std::time::Duration;

use super::results::Status;
use crate::local_run::status::{StatusMode, clock, redraw};

/// The longest command shown in a phase line: a longer one would wrap on a terminal, and a
/// wrapped line can't be redrawn in place.
const MAX_COMMAND_CHARS: usize = 48;

/// Cells of the bar: enough to see it move over a dozen tasks, short enough to leave the
/// status line its room.
const BAR_CELLS: usize = 10;

/// The trial's place: `done` trials of `total` are over, `task` runs now.
pub fn label(done: usize, total: usize, task: &str, mode: StatusMode) -> String {
    let number = done + 1;
    match mode {
        StatusMode::Terminal => format!("{} {number}/{total} {task} · ", bar(done, total)),
        StatusMode::Plain => format!("[{number}/{total} {task}] "),
    }
}

/// `[███░░░░░░░]`, filled for the share of trials over.
fn bar(done: usize, total: usize) -> String {
    let filled = (done * BAR_CELLS)
        .checked_div(total)
        .unwrap_or(0)
        .min(BAR_CELLS);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(BAR_CELLS - filled))
}

/// What a trial does outside the agent's run (preparing the repository, the check), which
/// can take a while: after the label, redrawn on a terminal, a line of its own in a log.
pub fn phase(mode: StatusMode, label: &str, what: &str) {
    let what = if what.chars().count() > MAX_COMMAND_CHARS {
        let cut: String = what.chars().take(MAX_COMMAND_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        what.to_owned()
    };
    match mode {
        StatusMode::Terminal => redraw(&format!("{label}{what}")),
        StatusMode::Plain => eprintln!("ota: {label}{what}"),
    }
}

/// Clears the terminal's line before a line that stays.
pub fn clear(mode: StatusMode) {
    if mode == StatusMode::Terminal {
        redraw("");
    }
}

/// `[3/12] rust-page-ranges with qwen3-coder:30b: solved (0:42)`, when a trial is over.
pub fn ended(
    number: usize,
    total: usize,
    task: &str,
    model: &str,
    status: &Status,
    took: Duration,
) -> String {
    let what = match status {
        Status::Solved => "solved".to_owned(),
        Status::Unsolved => "not solved".to_owned(),
        Status::CheckNotRun(reason) => format!("check could not run: {reason}"),
        Status::Error(reason) => format!("error: {reason}"),
    };
    format!(
        "[{number}/{total}] {task} with {model}: {what} ({})",
        clock(took)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_as_trials_end() {
        assert_eq!(
            label(0, 12, "a", StatusMode::Terminal),
            "[░░░░░░░░░░] 1/12 a · "
        );
        assert_eq!(
            label(6, 12, "b", StatusMode::Terminal),
            "[█████░░░░░] 7/12 b · "
        );
        assert_eq!(label(11, 12, "c", StatusMode::Plain), "[12/12 c] ");
        assert_eq!(bar(12, 12), "[██████████]");
        assert_eq!(bar(0, 0), "[░░░░░░░░░░]");
    }

    #[test]
    fn an_ended_trial_says_how() {
        assert_eq!(
            ended(
                3,
                12,
                "go-stack-tests",
                "m",
                &Status::CheckNotRun("`go` is not installed".into()),
                Duration::from_secs(42)
            ),
            "[3/12] go-stack-tests with m: check could not run: `go` is not installed (0:42)"
        );
    }
}
