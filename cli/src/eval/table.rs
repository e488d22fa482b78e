//! The text `ota eval` prints on stdout: per model, a table of its trials (task,
//! language, kind, result, tokens, turns, time), the reasons for what is not a plain
//! verdict, and the summary line `<model>: solved N of M (P %)`; and the task list of
//! `--list`. Built from plain values, so the wording is tested here.

use std::fmt::Write as _;

use super::results::{EvalReport, ModelCounts, Status, TrialResult};
use super::suite::EvalTask;
use crate::local_run::report::Ending;
use crate::local_run::status::{clock, thousands};

/// The result column: a verdict as a mark, the rest in a word.
fn mark(status: &Status) -> &'static str {
    match status {
        Status::Solved => "✓",
        Status::Unsolved => "✗",
        Status::CheckNotRun(_) => "no check",
        Status::Error(_) => "error",
    }
}

/// The whole text: one block per model.
pub fn text(report: &EvalReport) -> String {
    let mut out = String::new();
    for (index, model) in report.models.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let results: Vec<&TrialResult> = report.of_model(model).collect();
        let _ = writeln!(out, "Model {model}, suite {}\n", report.suite);
        out.push_str(&table(&results));
        let notes = notes(&results);
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes);
        }
        out.push('\n');
        let counts = ModelCounts::of(results.iter().copied());
        if let Some(line) = not_counted(&counts) {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "{model}: {}", counts.summary());
    }
    if report.interrupted {
        out.push_str("\nInterrupted with Ctrl-C: the tasks that had not run are left out.\n");
    }
    out
}

fn table(results: &[&TrialResult]) -> String {
    let rows: Vec<[String; 8]> = results
        .iter()
        .map(|result| {
            [
                result.task.clone(),
                result.language.clone(),
                result.kind.as_str().to_owned(),
                mark(&result.status).to_owned(),
                thousands(result.tokens.prompt),
                thousands(result.tokens.completion),
                result.turns.to_string(),
                clock(result.agent_time),
            ]
        })
        .collect();
    let header = [
        "TASK",
        "LANGUAGE",
        "KIND",
        "RESULT",
        "TOKENS IN",
        "TOKENS OUT",
        "TURNS",
        "TIME",
    ];
    // Words to the left, numbers to the right.
    let right = [false, false, false, false, true, true, true, true];
    let mut widths = header.map(|title| title.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 8]| {
        let mut line = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            let width = widths[column];
            if right[column] {
                let _ = write!(line, "{cell:>width$}");
            } else {
                let _ = write!(line, "{cell:<width$}");
            }
        }
        line.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// One line per trial whose result needs a reason: a check that could not run, an
/// error, an agent that stopped before it finished.
fn notes(results: &[&TrialResult]) -> String {
    let mut out = String::new();
    for result in results {
        let note = match (&result.status, &result.agent) {
            (Status::CheckNotRun(reason), _) => format!("check could not run: {reason}"),
            (Status::Error(reason), _) => format!("error: {reason}"),
            (_, Some(Ending::Stopped { why })) => format!("the agent stopped: {why}"),
            (Status::Unsolved, _) if result.check.as_ref().is_some_and(|run| run.timed_out) => {
                "the check timed out".to_owned()
            }
            _ => continue,
        };
        let _ = writeln!(out, "  {}: {note}", result.task);
    }
    out
}

/// What `solved N of M` leaves out, when anything: `not counted: 4 checks that could not
/// run, 1 error`.
fn not_counted(counts: &ModelCounts) -> Option<String> {
    let mut parts = Vec::new();
    match counts.check_not_run {
        0 => {}
        1 => parts.push("1 check that could not run".to_owned()),
        n => parts.push(format!("{n} checks that could not run")),
    }
    match counts.errors {
        0 => {}
        1 => parts.push("1 error".to_owned()),
        n => parts.push(format!("{n} errors")),
    }
    (!parts.is_empty()).then(|| format!("not counted: {}", parts.join(", ")))
}

/// `--list`: the tasks with what their checks need.
pub fn task_list(suite: &str, tasks: &[&EvalTask]) -> String {
    let width = tasks
        .iter()
        .map(|task| task.id.chars().count())
        .max()
        .unwrap_or(0)
        .max("TASK".len());
    let mut out = format!(
        "{:<width$}  {:<10}  {:<8}  {}\n",
        "TASK", "LANGUAGE", "KIND", "CHECK NEEDS"
    );
    for task in tasks {
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {:<8}  {}",
            task.id,
            task.language,
            task.kind.as_str(),
            task.check.requires.join(", ")
        );
    }
    let _ = writeln!(out, "\n{} tasks in suite {suite}", tasks.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::results::tests::result;
    use ota_runner::agent::CommandRun;
    use std::time::Duration;

    #[test]
    fn the_table_ends_in_the_summary_of_each_model() {
        let mut stopped = result("py-slugify-tests", "small:1b", Status::Unsolved);
        stopped.agent = Some(Ending::Stopped {
            why: "the agent stopped calling tools without finishing".into(),
        });
        let mut timed_out = result("py-chunks-edge-cases", "big:70b", Status::Unsolved);
        timed_out.check = Some(CommandRun {
            command: "python3 -m unittest".into(),
            exit_code: None,
            timed_out: true,
            duration: Duration::from_secs(600),
            output: String::new(),
            output_bytes: 0,
        });
        let mut not_started = result(
            "rust-duration-tests",
            "big:70b",
            Status::Error("the repository could not be prepared: `git init` failed".into()),
        );
        not_started.agent = None;
        not_started.tokens = Default::default();
        not_started.turns = 0;
        not_started.agent_time = Duration::ZERO;
        let report = EvalReport {
            suite: "built-in".into(),
            models: vec!["big:70b".into(), "small:1b".into()],
            results: vec![
                result(
                    "go-stack-tests",
                    "big:70b",
                    Status::CheckNotRun("`go` is not installed (not found on PATH)".into()),
                ),
                timed_out,
                result("rust-page-ranges", "big:70b", Status::Solved),
                not_started,
                result("rust-page-ranges", "small:1b", Status::Solved),
                stopped,
            ],
            interrupted: true,
            candidates: 1,
        };
        insta::assert_snapshot!(text(&report));
    }
}
