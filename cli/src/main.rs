//! `ota`: Ollama Turbo Agent on one machine. See the crate documentation of `ota`.

use clap::{Parser, Subcommand};
use ota::local_run::{self, RunArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ota", version, about = "Ollama Turbo Agent on one machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one task on a local checkout and leave the result on a new branch.
    Run(RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ota: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => local_run::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ota: {err:#}");
            ExitCode::FAILURE
        }
    }
}
