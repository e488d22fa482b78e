//! Running `git`: a cleared environment, credentials only as environment configuration,
//! and errors that say what failed without carrying a secret.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::Path;
use std::process::{Output, Stdio};
use tokio::io::AsyncWriteExt;

/// Variables passed on to git from the runner's environment: enough to find itself and
/// its helpers, and the CA bundle of the runtime image. Nothing else is inherited.
const PASSED_THROUGH: &[&str] = &["PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR"];

/// The most of git's error output kept in an error: the reason is in the last lines.
const MAX_STDERR_CHARS: usize = 2_000;

/// Where the repositories are and how to reach one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The repository's URL, without credentials, e.g. `https://github.com/o/r.git`.
    pub url: String,
    /// The URL prefix the credential is sent to (the Git host's root, with a final `/`).
    pub scope: String,
}

impl Remote {
    /// `{base}/{repo}.git` under the Git host root `base` (`https://github.com`, a GitHub
    /// Enterprise Server's root, or a test server).
    pub fn for_repo(base: &str, repo: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            url: format!("{base}/{repo}.git"),
            scope: format!("{base}/"),
        }
    }
}

/// An installation token, as git gets it. Prints nothing of the token.
#[derive(Clone)]
pub struct GitAuth {
    header: SecretString,
}

impl fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GitAuth(<redacted>)")
    }
}

impl GitAuth {
    /// HTTP Basic with `x-access-token`, as GitHub takes installation tokens over HTTPS.
    pub fn installation_token(token: &SecretString) -> Self {
        let pair = format!("x-access-token:{}", token.expose_secret());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        Self {
            header: SecretString::from(format!("Authorization: Basic {encoded}")),
        }
    }

    /// The variables that hand the header to git for `remote`'s host only.
    fn environment(&self, remote: &Remote) -> [(String, String); 3] {
        [
            ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
            (
                "GIT_CONFIG_KEY_0".to_owned(),
                format!("http.{}.extraHeader", remote.scope),
            ),
            (
                "GIT_CONFIG_VALUE_0".to_owned(),
                self.header.expose_secret().to_owned(),
            ),
        ]
    }
}

/// A git command that failed. The command line and output hold no credential: the token
/// is never on the command line, and git does not print extra headers.
#[derive(Debug, thiserror::Error)]
#[error("`git {command}` failed: {reason}")]
pub struct GitError {
    pub command: String,
    pub reason: String,
    /// The Git host could not be reached or answered with a server error: worth trying
    /// again later.
    pub transient: bool,
}

/// Output that means the network or the Git host failed, not the request.
const TRANSIENT_SIGNS: &[&str] = &[
    "Could not resolve host",
    "Connection refused",
    "Connection timed out",
    "Operation timed out",
    "returned error: 5",
    "HTTP 5",
    "early EOF",
    "unexpected disconnect",
    "Failed to connect",
];

/// One git invocation in `dir`.
pub(crate) struct Git<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) remote: &'a Remote,
    /// Variables for this call only (the committer's identity).
    pub(crate) extra_env: Vec<(String, String)>,
}

impl Git<'_> {
    /// Runs `git args` (with the credential when `auth` is given) and returns its stdout.
    pub(crate) async fn run(
        &self,
        args: &[&str],
        auth: Option<&GitAuth>,
        stdin: Option<&str>,
    ) -> Result<String, GitError> {
        let command = args.join(" ");
        let failed = |reason: String, transient: bool| GitError {
            command: command.clone(),
            reason,
            transient,
        };
        let mut cmd = tokio::process::Command::new("git");
        cmd.args(args)
            .current_dir(self.dir)
            .env_clear()
            .envs(
                PASSED_THROUGH
                    .iter()
                    .filter_map(|name| std::env::var(name).ok().map(|value| (*name, value))),
            )
            // No user or system configuration, no prompts, no helpers: only what is set here.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", "/nonexistent")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(auth) = auth {
            cmd.envs(auth.environment(self.remote));
        }
        let output = output(&mut cmd, stdin)
            .await
            .map_err(|err| failed(err.to_string(), false))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let transient = TRANSIENT_SIGNS.iter().any(|sign| stderr.contains(sign));
        Err(failed(tail(stderr.trim(), MAX_STDERR_CHARS), transient))
    }
}

/// Where running git failed before it could answer.
#[derive(Debug, thiserror::Error)]
pub enum GitIoError {
    #[error("could not start git: {0}")]
    Start(std::io::Error),
    #[error("could not write to git: {0}")]
    Write(std::io::Error),
    #[error("git did not finish: {0}")]
    Wait(std::io::Error),
}

/// Runs `command` (a `git` command) to its end, `input` on its stdin, and returns what it
/// printed; the process is killed if the caller stops waiting.
pub async fn output(
    command: &mut tokio::process::Command,
    input: Option<&str>,
) -> Result<Output, GitIoError> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(GitIoError::Start)?;
    if let (Some(text), Some(mut pipe)) = (input, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(GitIoError::Write)?;
    }
    child.wait_with_output().await.map_err(GitIoError::Wait)
}

/// The last `max` characters of `text`.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_scoped_to_the_host_and_never_printed() {
        let auth = GitAuth::installation_token(&SecretString::from("ghs_secret"));
        assert!(!format!("{auth:?}").contains("ghs_secret"));
        let remote = Remote::for_repo("https://github.com/", "o/r");
        assert_eq!(remote.url, "https://github.com/o/r.git");
        let env = auth.environment(&remote);
        assert_eq!(env[1].1, "http.https://github.com/.extraHeader");
        let encoded = env[2].1.trim_start_matches("Authorization: Basic ");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert_eq!(decoded, b"x-access-token:ghs_secret");
    }
}
