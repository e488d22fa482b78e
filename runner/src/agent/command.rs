//! Running the task's configured command (`cargo test`, `npm test`, …) for the model, in the
//! clone, in the sandbox the operator chose (see [`crate::sandbox`] and `docs/security.md`):
//!
//! - **Only configured commands.** The model can't type a command line; it asks for one of
//!   the commands the task's configuration lists (see `run_command` in the agent's tools).
//! - **Isolated from the runner.** By default in bubblewrap: its own namespaces and a fresh
//!   `/proc` (no other process, its environment or memory), read-only system and toolchain
//!   directories, writes only in the clone and a private `/tmp` and `HOME`, no network.
//!   Where that can't work, a separate unprivileged uid ([`RunAs`]); off only when the
//!   operator says so. A job whose command can't be sandboxed fails, it never runs bare.
//! - **An explicit, minimal environment.** The child's environment is cleared and rebuilt
//!   from [`CommandSandbox::env`]: a short allowlist of variables build tools need to find
//!   themselves (`PATH`, `HOME`, toolchain homes and caches) plus fixed settings (`CI=true`,
//!   no colour). Nothing is inherited wholesale, so `GITHUB_TOKEN`, `OLLAMA_API_KEY` and
//!   `AWS_*` (the task role's credentials) never reach the repository's code, and a name that
//!   looks like a credential is refused even when a caller passes it explicitly.
//! - **Limits.** CPU time per process, memory and processes of the whole command where the
//!   host has cgroups for it ([`CommandLimits`]), and a time limit for the whole process
//!   group: when the command times out, or once it exits, the group (and its cgroup) is
//!   killed, so a test runner's children can't outlive it or keep its output open.
//! - **Bounded output.** Output (stdout and stderr interleaved) is kept as its first and last
//!   bytes ([`HeadTail`]), whatever its length.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::output::HeadTail;
use crate::sandbox::{CgroupSupport, CommandLimits, Network, SandboxMode, spawn};

/// Variables copied from the runner's environment when set: what compilers, package
/// managers and test runners need to find their toolchains and caches. No credential is
/// among them; see [`looks_like_a_credential`] for the second line of defence.
pub const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "JAVA_HOME",
    "GRADLE_USER_HOME",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "UV_CACHE_DIR",
    "PIP_CACHE_DIR",
    "npm_config_cache",
];

/// Set for every command: tools then behave as in CI (no prompts, no colour codes that
/// would waste the model's context, no git credential prompts).
const FIXED: &[(&str, &str)] = &[
    ("CI", "true"),
    ("NO_COLOR", "1"),
    ("TERM", "dumb"),
    ("CARGO_TERM_COLOR", "never"),
    ("GIT_TERMINAL_PROMPT", "0"),
];

/// Output kept from the start of a command's output: enough to see what ran.
const DEFAULT_HEAD_BYTES: usize = 4 * 1024;

/// Output kept from the end: failures and the summary of a test run are there. About
/// 4,000 tokens, a fair share of the context for the one thing the model must act on.
const DEFAULT_TAIL_BYTES: usize = 12 * 1024;

/// How long a command may run when the caller sets nothing: a typical test suite, with
/// room for a first build.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long to wait for the last output once the command has ended or was killed.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// The uid and gid commands run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl std::str::FromStr for RunAs {
    type Err = String;

    /// `uid:gid`, as in `OTA_COMMAND_USER=1000:1000`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (uid, gid) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not `uid:gid`"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{part}` in `{text}` is not a number"))
        };
        Ok(Self {
            uid: number(uid)?,
            gid: number(gid)?,
        })
    }
}

/// How commands are run.
#[derive(Debug, Clone)]
pub struct CommandSandbox {
    /// The whole environment of the command (bubblewrap then makes `HOME` and `TMPDIR`
    /// private).
    pub env: Vec<(String, String)>,
    /// The isolation: `OTA_COMMAND_SANDBOX`, checked on this host.
    pub mode: SandboxMode,
    /// `OTA_COMMAND_NETWORK`; only bubblewrap can take the network away.
    pub network: Network,
    pub limits: CommandLimits,
    /// How this host enforces the memory and process limits.
    pub cgroups: CgroupSupport,
    /// Files never visible to a command even inside a bound directory: the App's private
    /// key file (`PRIVATE_KEY_PATH`).
    pub hidden: Vec<PathBuf>,
    /// The limit of one command (the job's own deadline may cut it shorter).
    pub timeout: Duration,
    pub head_bytes: usize,
    pub tail_bytes: usize,
}

impl CommandSandbox {
    /// The allowlisted variables from this process's environment, plus the fixed ones,
    /// in the sandbox this process's environment chooses.
    pub fn from_process_env() -> Self {
        Self::with_env(
            PASSED_THROUGH
                .iter()
                .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v))),
        )
    }

    /// Exactly `vars` plus the fixed ones, minus any name that looks like a credential, in
    /// the sandbox this process's environment chooses (`OTA_COMMAND_*`).
    pub fn with_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| !looks_like_a_credential(name))
            .collect();
        if !env.iter().any(|(name, _)| name == "LANG") {
            env.push(("LANG".into(), "C.UTF-8".into()));
        }
        env.extend(FIXED.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let var = |name: &str| std::env::var(name).ok();
        let mut mode = SandboxMode::from_vars(var);
        let settings = Network::from_vars(var)
            .and_then(|network| CommandLimits::from_vars(var).map(|limits| (network, limits)));
        let (network, limits) = settings.unwrap_or_else(|problem| {
            mode = SandboxMode::Missing { reason: problem };
            (Network::None, CommandLimits::default())
        });
        Self {
            env,
            network,
            limits,
            cgroups: CgroupSupport::from_vars(var),
            hidden: var("PRIVATE_KEY_PATH")
                .map(PathBuf::from)
                .into_iter()
                .collect(),
            mode,
            timeout: DEFAULT_COMMAND_TIMEOUT,
            head_bytes: DEFAULT_HEAD_BYTES,
            tail_bytes: DEFAULT_TAIL_BYTES,
        }
    }

    /// Why no command can run here, in words for the job's report; `None` when they can.
    pub fn unavailable(&self) -> Option<String> {
        match &self.mode {
            SandboxMode::Missing { reason } => Some(format!(
                "this runner can't run the repository's commands in a sandbox: {reason}"
            )),
            _ => None,
        }
    }

    /// How commands run here, one line each, with `(warn, text)`: the mode, the network,
    /// every limit and whether this host enforces it. Logged when a runner starts.
    pub fn describe(&self) -> Vec<(bool, String)> {
        let mut lines = Vec::new();
        let network = crate::sandbox::network_of(&self.mode, self.network);
        match &self.mode {
            SandboxMode::Missing { .. } => {
                lines.push((true, self.unavailable().unwrap_or_default()));
                return lines;
            }
            SandboxMode::Off => lines.push((
                true,
                "commands run without a sandbox (OTA_COMMAND_SANDBOX=off): they can read \
                 what the runner can read and reach what it can reach"
                    .to_owned(),
            )),
            SandboxMode::Bubblewrap { program } => lines.push((
                false,
                format!("commands run in bubblewrap ({})", program.display()),
            )),
            SandboxMode::User(user) => lines.push((
                false,
                format!(
                    "commands run as uid {}:{}, without namespaces",
                    user.uid, user.gid
                ),
            )),
        }
        lines.push(match network {
            Network::None => (false, "commands have no network but loopback".to_owned()),
            Network::Host => (
                true,
                "commands use the host's network: whatever it reaches (metadata endpoints, \
                 this server's port) they reach"
                    .to_owned(),
            ),
        });
        lines.push((
            false,
            format!(
                "each command process may use {}s of CPU; a command may run {}s",
                self.limits.cpu_seconds,
                self.timeout.as_secs()
            ),
        ));
        let memory = self.limits.memory_bytes / (1024 * 1024);
        lines.push(if self.cgroups.limits_memory() {
            (
                false,
                format!(
                    "a command may use {memory} MiB of memory ({})",
                    self.cgroups.describe()
                ),
            )
        } else {
            (
                true,
                format!(
                    "the memory limit of commands ({memory} MiB) is NOT enforced on this host: {}",
                    self.cgroups.describe()
                ),
            )
        });
        let processes = self.limits.max_processes;
        let by_uid = matches!(self.mode, SandboxMode::User(_));
        lines.push(if self.cgroups.limits_processes() {
            (
                false,
                format!(
                    "a command may have {processes} processes ({})",
                    self.cgroups.describe()
                ),
            )
        } else if by_uid {
            (
                false,
                format!("a command may have {processes} processes (RLIMIT_NPROC of its uid)"),
            )
        } else {
            (
                true,
                format!(
                    "the process limit of commands ({processes}) is NOT enforced on this host: {}",
                    self.cgroups.describe()
                ),
            )
        });
        lines
    }

    /// Logs [`Self::describe`]: what is not enforced as a warning.
    pub fn log_setup(&self) {
        for (warn, line) in self.describe() {
            if warn {
                tracing::warn!(sandbox = self.mode.name(), "{line}");
            } else {
                tracing::info!(sandbox = self.mode.name(), "{line}");
            }
        }
    }
}

/// Names that hold secrets by convention. Never passed to a command.
pub fn looks_like_a_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["AWS_", "GITHUB_", "GH_", "OLLAMA_", "ACTIONS_"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
        || [
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "CREDENTIAL",
            "API_KEY",
            "APIKEY",
            "PRIVATE_KEY",
            "AUTH",
        ]
        .iter()
        .any(|part| upper.contains(part))
}

/// What one run of a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRun {
    pub command: String,
    /// The exit code; `None` when the command was killed or timed out.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// Start and end of stdout and stderr, interleaved as they came.
    pub output: String,
    pub output_bytes: u64,
}

impl CommandRun {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// How it ended, in words: `passed`, `timed out`, `failed (exit code 1)`.
    pub fn outcome(&self) -> String {
        if self.succeeded() {
            "passed".to_owned()
        } else if self.timed_out {
            "timed out".to_owned()
        } else {
            match self.exit_code {
                Some(code) => format!("failed (exit code {code})"),
                None => "failed (killed by a signal)".to_owned(),
            }
        }
    }
}

impl fmt::Display for CommandRun {
    /// The result as the model reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.duration.as_secs_f64();
        let time = if secs < 10.0 {
            format!("{secs:.1}s")
        } else {
            format!("{secs:.0}s")
        };
        match (self.timed_out, self.exit_code) {
            (true, _) => write!(
                f,
                "`{}` did not finish within {time} and was stopped",
                self.command
            )?,
            (false, Some(0)) => write!(f, "`{}` succeeded in {time}", self.command)?,
            (false, Some(code)) => write!(
                f,
                "`{}` failed with exit code {code} after {time}",
                self.command
            )?,
            (false, None) => write!(f, "`{}` was killed by a signal after {time}", self.command)?,
        }
        if self.output.trim().is_empty() {
            f.write_str(" and printed nothing")
        } else {
            write!(f, ". Output:\n{}", self.output.trim_end())
        }
    }
}

/// The command could not be started at all.
#[derive(Debug, thiserror::Error)]
#[error("could not start `{command}`: {source}")]
pub struct CommandError {
    pub command: String,
    #[source]
    pub source: std::io::Error,
}

/// Runs `command` with `sh -c` in `dir`, sandboxed as described in the module docs, until
/// it ends, its timeout passes, or `deadline` comes.
pub async fn run_command(
    dir: &Path,
    command: &str,
    sandbox: &CommandSandbox,
    deadline: Option<Instant>,
) -> Result<CommandRun, CommandError> {
    let started = Instant::now();
    let mut limit = started + sandbox.timeout;
    if let Some(deadline) = deadline {
        limit = limit.min(deadline);
    }
    let mut spawned = spawn(dir, command, sandbox).map_err(|source| CommandError {
        command: command.to_owned(),
        source,
    })?;
    let child = &mut spawned.child;
    let pid = child.id();
    let output = Arc::new(Mutex::new(HeadTail::new(
        sandbox.head_bytes,
        sandbox.tail_bytes,
    )));
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        readers.push(tokio::spawn(pump(stdout, output.clone())));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(tokio::spawn(pump(stderr, output.clone())));
    }

    let waited = tokio::time::timeout_at(limit, child.wait()).await;
    // The group goes in every case: leftovers of a finished command, or all of a late one.
    kill_group(pid);
    let (exit_code, timed_out) = match waited {
        Ok(Ok(status)) => (status.code(), false),
        Ok(Err(_)) => (None, false),
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            (None, true)
        }
    };
    let memory_limit_reached = spawned.memory_limit_reached();
    spawned.clean_up().await;
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, reader).await.is_err() {
            abort.abort();
        }
    }
    let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
    if memory_limit_reached {
        let note = format!(
            "\n[the command reached its memory limit of {} MiB]\n",
            sandbox.limits.memory_bytes / (1024 * 1024)
        );
        output.push(note.as_bytes());
    }
    Ok(CommandRun {
        command: command.to_owned(),
        exit_code,
        timed_out,
        duration: started.elapsed(),
        output: output.render(),
        output_bytes: output.total(),
    })
}

async fn pump(mut from: impl AsyncRead + Unpin, into: Arc<Mutex<HeadTail>>) {
    let mut buffer = vec![0u8; 8 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => into
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(&buffer[..n]),
        }
    }
}

/// Kills the process group the command leads (its id is the command's pid).
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    {
        // Never 0 or 1: `kill(0)` and `kill(-1)` would reach far more than the command.
        let pid = pid
            .and_then(|p| i32::try_from(p).ok())
            .filter(|&p| p > 1)
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_passed() {
        for name in [
            "GITHUB_TOKEN",
            "OLLAMA_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "NPM_TOKEN",
            "DATABASE_PASSWORD",
            "gh_token",
        ] {
            assert!(looks_like_a_credential(name), "{name}");
        }
        for name in PASSED_THROUGH {
            assert!(!looks_like_a_credential(name), "{name}");
        }
        let sandbox = CommandSandbox::with_env([
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ("GITHUB_TOKEN".to_owned(), "ghs_x".to_owned()),
        ]);
        let names: Vec<&str> = sandbox.env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"PATH") && names.contains(&"CI") && names.contains(&"LANG"));
        assert!(!names.contains(&"GITHUB_TOKEN"));
    }

    #[test]
    fn run_as_parses_uid_and_gid() {
        assert_eq!(
            "1000:1001".parse(),
            Ok(RunAs {
                uid: 1000,
                gid: 1001
            })
        );
        assert!("1000".parse::<RunAs>().is_err());
        assert!("me:you".parse::<RunAs>().is_err());
    }

    fn sandbox() -> CommandSandbox {
        CommandSandbox::with_env([("PATH".to_owned(), "/usr/bin:/bin".to_owned())])
    }

    #[tokio::test]
    async fn runs_in_the_directory_with_only_the_given_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker.txt"), "here").unwrap();
        // Cargo sets CARGO_PKG_NAME for this test process; the child must not inherit it.
        let run = run_command(dir.path(), "cat marker.txt; env | sort", &sandbox(), None)
            .await
            .unwrap();
        assert!(run.succeeded(), "{run}");
        assert!(run.output.starts_with("here"), "{}", run.output);
        assert!(run.output.contains("CI=true"));
        assert!(!run.output.contains("CARGO_PKG_NAME"), "{}", run.output);
        let failed = run_command(dir.path(), "echo oops >&2; exit 3", &sandbox(), None)
            .await
            .unwrap();
        assert_eq!(failed.exit_code, Some(3));
        assert_eq!(
            failed.to_string(),
            format!(
                "`echo oops >&2; exit 3` failed with exit code 3 after {:.1}s. Output:\noops",
                failed.duration.as_secs_f64()
            )
        );
    }

    #[tokio::test]
    async fn a_command_that_runs_too_long_is_stopped_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let mut sandbox = sandbox();
        sandbox.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let run = run_command(
            dir.path(),
            "echo started; (sleep 30; echo late) & sleep 30",
            &sandbox,
            None,
        )
        .await
        .unwrap();
        assert!(run.timed_out);
        assert!(!run.succeeded());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(run.output.trim(), "started");
        assert!(run.to_string().contains("did not finish"));
    }

    #[tokio::test]
    async fn background_leftovers_do_not_hold_the_output_open() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let run = run_command(dir.path(), "(sleep 30) & echo done", &sandbox(), None)
            .await
            .unwrap();
        assert!(run.succeeded(), "{run}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn huge_output_keeps_head_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let run = run_command(dir.path(), "seq 1 100000", &sandbox(), None)
            .await
            .unwrap();
        assert!(run.output.starts_with("1\n2\n"));
        assert!(run.output.trim_end().ends_with("100000"));
        assert!(run.output.contains("bytes of output left out"));
        assert!(run.output.len() < DEFAULT_HEAD_BYTES + DEFAULT_TAIL_BYTES + 100);
    }
}
