//! `ota`: Ollama Turbo Agent on one machine. See the crate documentation of `ota`.

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ota::child::{self, RunnerArgs};
use ota::commands::{self, JobArgs, JobsArgs};
use ota::eval::{self, EvalArgs};
use ota::local_run::{self, RunArgs};
use ota::serve;
use ota::settings::ServeArgs;
use ota::stack::dlq::DlqCommand;
use ota::stack::policy::PolicyCommand;
use ota::stack::secrets::SecretsCommand;
use ota::stack::{self, Stack};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ota", version, about = "Ollama Turbo Agent on one machine")]
struct Cli {
    /// Operate the deployed CloudFormation stack NAME instead of the local data dir
    /// (AWS credentials and region from the usual AWS_* settings and profiles).
    #[arg(long, global = true, env = "OTA_STACK", value_name = "NAME")]
    stack: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GitHub App: the webhook, the jobs and their runners, a status page.
    Serve(ServeArgs),
    /// Run one task on a local checkout and leave the result on a new branch.
    Run(RunArgs),
    /// Run the agent on a suite of tasks with hidden checks, and report what each model
    /// solved and at what cost.
    Eval(EvalArgs),
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
    /// Run one task on many repositories of an installation, a few at a time, and
    /// summarize what came of each.
    Bulk(commands::bulk::BulkArgs),
    /// A deployed stack's dead-letter queues (with --stack).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// A deployed stack's installation policies (with --stack).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// A deployed stack's secrets (with --stack).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Once after updating a stack from a version without the dashboard: index what it
    /// recorded before, so the dashboard lists it (with --stack).
    Reindex,
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

/// The stack to operate, if any: `--stack` or `OTA_STACK`. `serve`, `run`, `eval` and
/// `runner` work on this machine only: an explicit `--stack` is refused, `OTA_STACK` ignored.
fn stack_of(cli: &mut Cli, source: Option<ValueSource>) -> Result<Option<String>, String> {
    let local_only = matches!(
        cli.command,
        Command::Serve(_) | Command::Run(_) | Command::Eval(_) | Command::Runner(_)
    );
    match (cli.stack.take(), local_only) {
        (Some(_), true) if source == Some(ValueSource::CommandLine) => {
            Err("--stack is for jobs, job, approve, cancel, retry, bulk, dlq, policy, secrets and reindex; serve, run and eval work on this machine".to_owned())
        }
        (_, true) => Ok(None),
        (stack, false) => Ok(stack.filter(|name| !name.trim().is_empty())),
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let source = matches.value_source("stack");
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let stack = match stack_of(&mut cli, source) {
        Ok(stack) => stack,
        Err(message) => {
            eprintln!("ota: {message}");
            return ExitCode::FAILURE;
        }
    };
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
        if let Some(name) = stack {
            return on_stack(&name, cli.command).await;
        }
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Run(args) => local_run::run(args).await,
            Command::Eval(args) => eval::eval(args).await,
            Command::Jobs(args) => commands::jobs(args).await,
            Command::Job(args) => commands::job(args).await,
            Command::Approve(args) => commands::approve(args).await,
            Command::Cancel(args) => commands::cancel(args).await,
            Command::Retry(args) => commands::retry(args).await,
            Command::Bulk(args) => commands::bulk(args).await,
            Command::Runner(args) => child::run(args).await,
            Command::Dlq(_) | Command::Policy(_) | Command::Secrets(_) | Command::Reindex => {
                Err(anyhow::anyhow!(
                    "dlq, policy, secrets and reindex work on a deployed stack: give --stack NAME (or set OTA_STACK)"
                ))
            }
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

/// A command on the deployed stack `name`.
async fn on_stack(name: &str, command: Command) -> anyhow::Result<ExitCode> {
    let stack = Stack::connect(name).await?;
    match command {
        Command::Jobs(args) => stack::jobs::jobs(&stack, args).await,
        Command::Job(args) => stack::jobs::job(&stack, args).await,
        Command::Approve(args) => stack::jobs::approve(&stack, args).await,
        Command::Cancel(args) => stack::jobs::cancel(&stack, args).await,
        Command::Retry(args) => stack::jobs::retry(&stack, args).await,
        Command::Bulk(args) => stack::bulk::run(&stack, args).await,
        Command::Dlq(command) => stack::dlq::run(&stack, command).await,
        Command::Policy(command) => stack::policy::run(&stack, command).await,
        Command::Secrets(command) => stack::secrets::run(&stack, command).await,
        Command::Reindex => stack::reindex::run(&stack).await,
        Command::Serve(_) | Command::Run(_) | Command::Eval(_) | Command::Runner(_) => Err(
            anyhow::anyhow!("serve, run and eval work on this machine, not on a stack"),
        ),
    }
}
