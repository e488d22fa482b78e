//! `ota --stack NAME policy get | set INSTALLATION [FILE]`: an installation's policies as
//! a file ([`shared::policy::parse_policy_file`]), rather than hand-written table items.
//! `set` reads and checks the whole file first and writes nothing if any of it is wrong;
//! then it stores every policy of the file and removes the installation's others, so
//! the table holds what the file says.

use super::Stack;
use anyhow::Context;
use shared::ids::InstallationId;
use shared::policy::{parse_policy_file, render_policy_file};
use shared::ports::PolicyStore;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The largest policy file read: far above [`shared::policy::MAX_POLICIES`] policies.
const MAX_FILE_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the installation's policies as a file `policy set` takes.
    Get {
        /// The installation's numeric id (in the App's installation settings URL).
        installation: u64,
    },
    /// Replace the installation's policies with those of FILE (YAML or JSON), checked first.
    Set {
        installation: u64,
        /// The policy file; `-` reads stdin.
        file: PathBuf,
    },
}

pub async fn run(stack: &Stack, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Get { installation } => {
            let mut policies = stack
                .store()?
                .policies(InstallationId(installation))
                .await?;
            policies.sort_by(|a, b| a.name.cmp(&b.name));
            print!("{}", render_policy_file(&policies));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Set { installation, file } => {
            set(stack, InstallationId(installation), &file).await
        }
    }
}

async fn set(stack: &Stack, installation: InstallationId, file: &Path) -> anyhow::Result<ExitCode> {
    let text = super::secrets::read_input(file, MAX_FILE_BYTES)
        .with_context(|| format!("reading {}", file.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
    let policies = parse_policy_file(&text, installation).map_err(|err| {
        anyhow::anyhow!(
            "{} is not a valid policy file, nothing was changed: {err}",
            file.display()
        )
    })?;
    let removed = stack
        .store()?
        .replace_policies(installation, &policies)
        .await?;
    let names: Vec<&str> = policies.iter().map(|policy| policy.name.as_str()).collect();
    println!(
        "Installation {installation} has {} {}{}{}.",
        policies.len(),
        if policies.len() == 1 {
            "policy"
        } else {
            "policies"
        },
        if names.is_empty() {
            String::new()
        } else {
            format!(": {}", names.join(", "))
        },
        if removed.is_empty() {
            String::new()
        } else {
            format!(" (removed: {})", removed.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}
