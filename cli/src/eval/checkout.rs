//! A task's repository, made ready for the agent in a directory of its own: a fresh git
//! repository whose one commit holds the task's files, or a clone checked out at the
//! task's commit; then the task's setup, run in the command sandbox as the agent's
//! commands are. The commit is the starting point the hidden check's patch is applied
//! against, so it is never moved: the agent's changes stay uncommitted.

use std::path::{Path, PathBuf};

use ota_runner::agent::{CommandSandbox, run_command};

use super::suite::{EvalTask, FileTree, RepoSource};
use crate::local_run::repo::{Git, GitFailure};

/// The message of a built-in task's one commit.
const START_MESSAGE: &str = "The task's starting point";

/// Why a task's repository could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("could not write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Git(#[from] GitFailure),
    #[error("the setup `{command}` could not start: {reason}")]
    SetupStart { command: String, reason: String },
    #[error("the setup `{command}` {outcome}: {output}")]
    Setup {
        command: String,
        outcome: String,
        output: String,
    },
}

/// Makes `dir` (which must not exist yet) the task's repository, set up.
pub async fn prepare(
    task: &EvalTask,
    dir: &Path,
    sandbox: &CommandSandbox,
) -> Result<(), PrepareError> {
    match &task.repo {
        RepoSource::Files(files) => {
            write_files(dir, files).await?;
            let git = Git::as_agent(dir);
            git.run(&["init", "--quiet", "--initial-branch=main"])
                .await?;
            git.run(&["add", "--all"]).await?;
            git.run(&[
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "--no-verify",
                "-m",
                START_MESSAGE,
            ])
            .await?;
        }
        RepoSource::Git { url, commit } => {
            let parent = dir.parent().unwrap_or(dir);
            let shown = dir.display().to_string();
            Git::in_dir(parent)
                .run(&["clone", "--quiet", "--no-checkout", "--", url, &shown])
                .await?;
            Git::in_dir(dir)
                .run(&[
                    "-c",
                    "advice.detachedHead=false",
                    "checkout",
                    "--quiet",
                    "--detach",
                    commit,
                ])
                .await?;
        }
    }
    if let Some(setup) = &task.setup {
        let run = run_command(dir, setup, sandbox, None)
            .await
            .map_err(|err| PrepareError::SetupStart {
                command: setup.clone(),
                reason: err.source.to_string(),
            })?;
        if !run.succeeded() {
            return Err(PrepareError::Setup {
                command: setup.clone(),
                outcome: run.outcome(),
                output: last_lines(&run.output, SETUP_OUTPUT_LINES),
            });
        }
    }
    Ok(())
}

/// How much of a failed setup's output its error keeps: where it failed, not the whole
/// install log.
const SETUP_OUTPUT_LINES: usize = 10;

/// The last `count` lines of `output` that say something, on one line each.
pub fn last_lines(output: &str, count: usize) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(count);
    lines[start..].join("\n")
}

/// Writes `files` below `dir`, making the directories they need.
pub async fn write_files(dir: &Path, files: &FileTree) -> Result<(), PrepareError> {
    for (path, content) in files {
        let target = dir.join(path);
        let written = async {
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&target, content).await
        };
        written.await.map_err(|source| PrepareError::Write {
            path: target.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_setup_keeps_its_last_lines() {
        let output = "a\n\nb\nc  \nd\n";
        assert_eq!(last_lines(output, 2), "c\nd");
        assert_eq!(last_lines(output, 10), "a\nb\nc\nd");
        assert_eq!(last_lines("", 3), "");
    }
}
