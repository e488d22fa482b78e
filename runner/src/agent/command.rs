//! Running the task's configured command (`cargo test`, `npm test`, …) for the model, in the
//! clone, sandboxed as far as a process can be without a container of its own:
//!
//! - **Only configured commands.** The model can't type a command line; it asks for one of
//!   the commands the task's configuration lists (see `run_command` in the agent's tools).
//! - **An explicit, minimal environment.** The child's environment is cleared and rebuilt
//!   from [`CommandSandbox::env`]: a short allowlist of variables build tools need to find
//!   themselves (`PATH`, `HOME`, toolchain homes and caches) plus fixed settings (`CI=true`,
//!   no colour). Nothing is inherited wholesale, so `GITHUB_TOKEN`, `OLLAMA_API_KEY` and
//!   `AWS_*` (the task role's credentials) never reach the repository's code, and a name that
//!   looks like a credential is refused even when a caller passes it explicitly.
//! - **An unprivileged user.** With [`CommandSandbox::run_as`] set (the runner running as
//!   root), the child switches to that uid/gid, dropping supplementary groups, before it
//!   runs. The runner's container image runs as a non-root user anyway; `run_as` covers a
//!   runner started as root (`ota run` under sudo, a root container). The clone must be
//!   writable by that user.
//! - **A time limit, for the whole process group.** The command runs in its own process
//!   group; when it times out, or once it exits, the group is killed, so a test runner's
//!   children can't outlive it or keep its output open.
//! - **Bounded output.** Output (stdout and stderr interleaved) is kept as its first and last
//!   bytes ([`HeadTail`]), whatever its length.
//!
//! Not a security boundary against hostile code: the command can still read the clone and
//! use the network. The job's isolation is the runner's container.

use std::fmt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::output::HeadTail;

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
    /// The whole environment of the command.
    pub env: Vec<(String, String)>,
    pub run_as: Option<RunAs>,
    /// The limit of one command (the job's own deadline may cut it shorter).
    pub timeout: Duration,
    pub head_bytes: usize,
    pub tail_bytes: usize,
}

impl CommandSandbox {
    /// The allowlisted variables from this process's environment, plus the fixed ones.
    pub fn from_process_env() -> Self {
        Self::with_env(
            PASSED_THROUGH
                .iter()
                .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v))),
        )
    }

    /// Exactly `vars` plus the fixed ones, minus any name that looks like a credential.
    pub fn with_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| !looks_like_a_credential(name))
            .collect();
        if !env.iter().any(|(name, _)| name == "LANG") {
            env.push(("LANG".into(), "C.UTF-8".into()));
        }
        env.extend(FIXED.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self {
            env,
            run_as: None,
            timeout: DEFAULT_COMMAND_TIMEOUT,
            head_bytes: DEFAULT_HEAD_BYTES,
            tail_bytes: DEFAULT_TAIL_BYTES,
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
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_clear()
        .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    {
        cmd.process_group(0);
        if let Some(user) = sandbox.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
    }
    let mut child = cmd.spawn().map_err(|source| CommandError {
        command: command.to_owned(),
        source,
    })?;
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
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout(OUTPUT_GRACE, reader).await.is_err() {
            abort.abort();
        }
    }
    let output = output.lock().unwrap_or_else(PoisonError::into_inner);
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
