//! `ota run`: one task on a local checkout, no GitHub.

use std::path::PathBuf;
use std::process::ExitCode;

/// `ota run --repo PATH --task NAME "what to do"`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The repository to work on: a Git checkout.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The task to run, e.g. `refactor`.
    #[arg(long)]
    pub task: String,
    /// What to do, in words.
    pub request: Vec<String>,
}

pub async fn run(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ota run` is not built yet")
}
