//! `ota`: Ollama Turbo Agent on one machine. See the crate documentation of `ota`.

use clap::{Parser, Subcommand};
use ota::child::{self, RunnerArgs};
use ota::commands::{self, JobArgs, JobsArgs};
use ota::local_run::{self, RunArgs};
use ota::serve;
use ota::settings::ServeArgs;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ota", version, about = "Ollama Turbo Agent on one machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GitHub App: the webhook, the jobs and their runners, a status page.
    Serve(ServeArgs),
    /// Run one task on a local checkout and leave the result on a new branch.
    Run(RunArgs),
    /// List the newest jobs.
    Jobs(JobsArgs),
    /// Show one job.
    Job(JobArgs),
    /// Approve a job that waits for an approval.
    Approve(JobArgs),
    /// Cancel a job that has not finished.
    Cancel(JobArgs),
    /// Run a failed, cancelled, expired or dead-lettered job again, as a new job.
    Retry(JobArgs),
    /// One runner, as `ota serve` starts it for a job (not for direct use).
    #[command(hide = true)]
    Runner(RunnerArgs),
}

/// Logs for people: to stderr, `RUST_LOG` filtering (default `info`, or `warn` for
/// commands whose own output is what matters).
fn init_logs(default: &str, ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(_) => {
            init_logs("info", std::io::IsTerminal::is_terminal(&std::io::stderr()))
        }
        Command::Runner(_) => init_logs("info", false),
        _ => init_logs("warn", std::io::IsTerminal::is_terminal(&std::io::stderr())),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ota: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Run(args) => local_run::run(args).await,
            Command::Jobs(args) => commands::jobs(args).await,
            Command::Job(args) => commands::job(args).await,
            Command::Approve(args) => commands::approve(args).await,
            Command::Cancel(args) => commands::cancel(args).await,
            Command::Retry(args) => commands::retry(args).await,
            Command::Runner(args) => child::run(args).await,
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
