//! `ota eval`: the agent on a suite of tasks, against the configured Ollama, to see what a
//! model solves and at what cost.
//!
//! A task ([`suite`]) is a repository at a commit, a request, and a hidden check: the
//! command (with files or a patch the agent never sees) that proves it solved. Each
//! trial, one model on one task, runs in a directory of its own under a temporary
//! directory: the repository is prepared ([`checkout`]), the agent works on it as in
//! `ota run` (the same connection to Ollama, task choice, status line and command
//! sandbox), then the check runs ([`check`]). Trials run one after the other, model by
//! model.
//!
//! stderr shows where the run stands ([`progress`]); stdout gets a table per model
//! ending in `<model>: solved N of M (P %)` ([`table`]), and `--json PATH` the same
//! as JSON ([`results`]). Exit code 0 when the suite ran, whatever was solved; 1 when it
//! could not run (no Ollama, a bad suite, a missing model); 130 after Ctrl-C, with the
//! results so far.

mod check;
mod checkout;
mod leftovers;
mod progress;
#[cfg(test)]
mod reference_solutions;
mod results;
mod source;
mod suite;
mod table;
mod trial;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ota_runner::agent::AgentSettings;
use shared::config::{BuiltinTask, RepoConfig};

use crate::local_run::status::StatusMode;
use crate::local_run::{interrupted, ollama, task, usable_sandbox};
use results::EvalReport;
use suite::{EvalTask, Suite};
use trial::Trial;

/// The exit code after Ctrl-C, as shells report a process ended by SIGINT.
const INTERRUPTED_EXIT_CODE: u8 = 130;

/// `ota eval [SUITE] [--model M]... [--task ID]... [--json PATH]`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Ollama is found through OLLAMA_HOST and OLLAMA_API_KEY, as for `ota run`. \
    Each task runs in a fresh repository under the temporary directory; the hidden checks \
    run in the command sandbox, without network unless OTA_COMMAND_NETWORK=host. \
    Suite formats and the JSON schema: docs/eval.md."
)]
pub struct EvalArgs {
    /// The suite: a directory with one directory per task, or a JSONL file with one task
    /// per line. Without it, the built-in suite.
    pub suite: Option<PathBuf>,
    /// The model to evaluate, e.g. `qwen3-coder:30b`; repeat it or give a comma-separated
    /// list to compare models. Without it, the default model of the built-in tasks.
    #[arg(long = "model", value_delimiter = ',', value_name = "MODEL")]
    pub models: Vec<String>,
    /// Only these tasks: ids, or prefixes ending in `*` such as `rust-*`; repeat it or give
    /// a comma-separated list.
    #[arg(long = "task", value_delimiter = ',', value_name = "ID")]
    pub tasks: Vec<String>,
    /// Write the results as JSON to PATH too.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Keep each task's repository, with the agent's changes, to look at afterwards.
    #[arg(long)]
    pub keep: bool,
    /// List the tasks (after `--task`) and stop; Ollama is not asked.
    #[arg(long)]
    pub list: bool,
    /// Best-of-N: make this many candidates per task and keep one, as a task with
    /// `candidates: N` does (1 to 5). The table then gives pass@1 (the first candidate,
    /// checked on its own) beside best-of-N (the one kept).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub candidates: u8,
}

pub async fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let suite = match &args.suite {
        None => source::built_in()?,
        Some(path) => source::load(path)?,
    };
    let tasks = select(&suite, &args.tasks)?;
    if args.list {
        print!("{}", table::task_list(&suite.name, &tasks));
        return Ok(ExitCode::SUCCESS);
    }
    let models = models(&args.models)?;
    let settings = AgentSettings {
        sandbox: usable_sandbox()?,
        ..AgentSettings::default()
    };
    let connection = ollama::connect(|name| std::env::var(name).ok()).await?;
    for model in &models {
        ollama::check_model(&connection.client, model).await?;
    }
    let root = RunDir::create()?;
    eprintln!(
        "ota: {} task(s) of suite {} with {} via {}; repositories in {}",
        tasks.len(),
        suite.name,
        models.join(", "),
        connection.client.host(),
        root.path.display()
    );

    let status = StatusMode::for_stderr();
    let total = tasks.len() * models.len();
    let mut report = EvalReport {
        suite: suite.name.clone(),
        models: models.clone(),
        results: Vec::new(),
        interrupted: false,
        candidates: usize::from(args.candidates),
    };
    'models: for (m, model) in models.iter().enumerate() {
        for (t, task) in tasks.iter().enumerate() {
            let done = m * tasks.len() + t;
            let dir = root.path.join(format!("{}-{}", m + 1, task.id));
            let trial = Trial {
                client: &connection.client,
                settings: &settings,
                model,
                dir: dir.clone(),
                label: progress::label(done, total, &task.id, status),
                status,
                candidates: usize::from(args.candidates),
            };
            let result = tokio::select! {
                result = trial.run(task) => result,
                () = interrupted() => None,
            };
            progress::clear(status);
            let Some(result) = result else {
                report.interrupted = true;
                break 'models;
            };
            eprintln!(
                "ota: {}",
                progress::ended(
                    done + 1,
                    total,
                    &task.id,
                    model,
                    &result.status,
                    result.wall_time
                )
            );
            report.results.push(result);
            if !args.keep {
                // A build's output is what fills a disk over a suite; the rest goes at the end.
                let _ = tokio::fs::remove_dir_all(&dir).await;
            }
        }
    }
    root.finish(args.keep);

    print!("{}", table::text(&report));
    if let Some(path) = &args.json {
        let json = report.to_json().context("writing the results as JSON")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the results to {}", path.display()))?;
    }
    Ok(if report.interrupted {
        ExitCode::from(INTERRUPTED_EXIT_CODE)
    } else {
        ExitCode::SUCCESS
    })
}

/// The tasks `filters` pick, in the suite's order: all without filters. A filter that
/// picks nothing is refused, so a typo does not pass for an empty run.
fn select<'a>(suite: &'a Suite, filters: &[String]) -> anyhow::Result<Vec<&'a EvalTask>> {
    let filters: Vec<&str> = filters
        .iter()
        .map(|filter| filter.trim())
        .filter(|filter| !filter.is_empty())
        .collect();
    let matches = |filter: &str, id: &str| match filter.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => id == filter,
    };
    if let Some(unknown) = filters
        .iter()
        .find(|filter| !suite.tasks.iter().any(|task| matches(filter, &task.id)))
    {
        let ids: Vec<&str> = suite.tasks.iter().map(|task| task.id.as_str()).collect();
        anyhow::bail!(
            "no task of suite {} matches `--task {unknown}`; its tasks are {}",
            suite.name,
            ids.join(", ")
        );
    }
    Ok(suite
        .tasks
        .iter()
        .filter(|task| filters.is_empty() || filters.iter().any(|filter| matches(filter, &task.id)))
        .collect())
}

/// The models to evaluate, each once, in the order given; the built-in tasks' default
/// model without any.
fn models(given: &[String]) -> anyhow::Result<Vec<String>> {
    let mut models: Vec<String> = Vec::new();
    for model in given.iter().map(|model| model.trim()) {
        if model.is_empty() {
            anyhow::bail!("`--model` needs a model name, such as `qwen3-coder:30b`");
        }
        if !models.iter().any(|known| known == model) {
            models.push(model.to_owned());
        }
    }
    if models.is_empty() {
        let spec = task::choose(&RepoConfig::default(), BuiltinTask::Fix.name(), None)?;
        models.push(spec.model);
    }
    Ok(models)
}

/// How many random names the run's directory may try: one clash is already rare.
const RUN_DIR_ATTEMPTS: u32 = 8;

/// The run's temporary directory, one directory per trial below it.
struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// A new directory of its own: another run's is never shared.
    fn create() -> anyhow::Result<Self> {
        let temp = std::env::temp_dir();
        let mut attempt = 0;
        loop {
            let path = temp.join(format!("ota-eval-{:08x}", fastrand::u32(..)));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(err)
                    if err.kind() == std::io::ErrorKind::AlreadyExists
                        && attempt < RUN_DIR_ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("creating the directory {}", path.display()));
                }
            }
        }
    }

    /// Removes it, or says where the repositories are.
    fn finish(self, keep: bool) {
        if keep {
            eprintln!("ota: the repositories are kept in {}", self.path.display());
        } else if let Err(err) = std::fs::remove_dir_all(&self.path) {
            eprintln!("ota: could not remove {}: {err}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_picked_by_id_or_prefix() {
        let suite = source::built_in().expect("the built-in suite");
        let picked = select(&suite, &["rust-*".into(), "go-stack-tests".into()]).expect("known");
        let ids: Vec<&str> = picked.iter().map(|task| task.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "go-stack-tests",
                "rust-duration-tests",
                "rust-page-ranges",
                "rust-settings-refactor",
                "rust-tally-docs"
            ]
        );
        assert_eq!(select(&suite, &[]).expect("all").len(), suite.tasks.len());
        let error = select(&suite, &["rust-page-range".into()]).expect_err("a typo");
        assert!(
            error
                .to_string()
                .starts_with("no task of suite built-in matches `--task rust-page-range`; its tasks are go-stack-tests, "),
            "{error}"
        );
    }

    #[test]
    fn models_are_taken_once_in_order() {
        let given = ["b:1".to_owned(), " a:2 ".to_owned(), "b:1".to_owned()];
        assert_eq!(models(&given).expect("valid"), ["b:1", "a:2"]);
        assert_eq!(models(&[]).expect("the default"), ["qwen3-coder:30b"]);
        assert!(models(&[" ".to_owned()]).is_err());
    }
}
