//! The built-in suite keeps its promise: for every task whose check's programs are
//! installed here, the check fails on the task's repository as it is, and passes once the
//! task's reference solution (`solution.patch`) is applied. Both run exactly as in a
//! trial: the repository prepared by [`checkout::prepare`], the check by [`check::run`]
//! in this machine's command sandbox. The tasks whose programs are missing are named on
//! stderr, so a machine without them is seen to check less.

use std::path::Path;

use ota_runner::agent::CommandSandbox;

use super::check::{self, Verdict};
use super::checkout;
use super::source;
use super::suite::{EvalTask, SOLUTION_FILE};
use crate::local_run::repo::Git;

/// The suite's directory in this crate, read as `ota eval cli/eval-suite` reads it.
fn suite_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/eval-suite"))
}

/// The check's verdict on the task's repository, with `solution` applied first if given.
async fn verdict(
    task: &EvalTask,
    solution: Option<&str>,
    sandbox: &CommandSandbox,
) -> (Verdict, String) {
    let root = tempfile::tempdir().expect("a temporary directory");
    let dir = root.path().join(&task.id);
    checkout::prepare(task, &dir, sandbox)
        .await
        .unwrap_or_else(|err| panic!("{}: the repository could not be prepared: {err}", task.id));
    if let Some(patch) = solution {
        Git::in_dir(&dir)
            .run_with_input(&["apply", "-"], Some(patch))
            .await
            .unwrap_or_else(|err| panic!("{}: the solution does not apply: {err}", task.id));
    }
    let checked = check::run(&task.check, &dir, sandbox).await;
    let output = checked.run.map(|run| run.output).unwrap_or_default();
    (checked.verdict, output)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_check_fails_as_given_and_passes_with_the_reference_solution() {
    let sandbox = CommandSandbox::from_process_env();
    if let Some(reason) = sandbox.unavailable() {
        panic!("the checks run in the command sandbox, which does not work here: {reason}");
    }
    let suite = source::load(suite_dir()).expect("the suite directory is valid");
    assert_eq!(
        suite.tasks,
        source::built_in().expect("the built-in suite").tasks,
        "the embedded suite is the directory's"
    );
    let mut skipped = Vec::new();
    for task in &suite.tasks {
        let solution = std::fs::read_to_string(suite_dir().join(&task.id).join(SOLUTION_FILE))
            .unwrap_or_else(|err| panic!("{}: no {SOLUTION_FILE}: {err}", task.id));
        let (as_given, output) = verdict(task, None, &sandbox).await;
        if let Verdict::CouldNotRun(reason) = &as_given {
            skipped.push(format!("{}: {reason}", task.id));
            continue;
        }
        assert_eq!(
            as_given,
            Verdict::Failed,
            "{}: the check passes before any change:\n{output}",
            task.id
        );
        let (solved, output) = verdict(task, Some(&solution), &sandbox).await;
        assert_eq!(
            solved,
            Verdict::Passed,
            "{}: the check fails with the reference solution:\n{output}",
            task.id
        );
    }
    if !skipped.is_empty() {
        eprintln!(
            "checks that could not run here:\n  {}",
            skipped.join("\n  ")
        );
    }
    assert!(
        skipped.len() < suite.tasks.len(),
        "no check could run here: {skipped:?}"
    );
}
