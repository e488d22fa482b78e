//! Where a repository's command runs: the isolation between the configured command
//! (`npm test`, code from a pull request or written by the model) and the runner that
//! holds the job's credentials. See `docs/security.md` for what each mode stops.
//!
//! - [`SandboxMode::Bubblewrap`] (Linux, the default where `bwrap` works): the command in
//!   its own user, PID, network, IPC, UTS and cgroup namespaces, with a fresh `/proc` (so
//!   no other process, nor its environment or memory, is visible), read-only binds of an
//!   allowlist (the system directories and the toolchains its environment names), the
//!   clone read-write (its `.git` read-only), and private `/tmp` and `HOME`. No network but
//!   loopback unless the operator sets `OTA_COMMAND_NETWORK=host`.
//! - [`SandboxMode::User`]: where namespaces are not available (Fargate), the command
//!   runs as a separate unprivileged uid (`OTA_COMMAND_USER`) that owns the clone's files
//!   but not its `.git`, while the runner runs as root and is not dumpable.
//! - [`SandboxMode::Off`]: only when the operator sets `OTA_COMMAND_SANDBOX=off`.
//!
//! When the chosen mode can't work on this host the mode is [`SandboxMode::Missing`]: a
//! job that would run a command fails with the reason, never runs it unsandboxed.
//! Limits ([`CommandLimits`]) apply in every mode; which of them this host enforces is
//! said by [`CommandSandbox::describe`](crate::agent::CommandSandbox::describe).

mod bubblewrap;
mod limits;
mod ownership;
mod spawn;

use std::path::PathBuf;

use crate::agent::RunAs;

pub use bubblewrap::SANDBOX_HOME;
pub use limits::{CgroupSupport, CommandLimits};
pub(crate) use spawn::{network_of, spawn};

/// How commands are isolated: `OTA_COMMAND_SANDBOX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxMode {
    /// `bwrap` at this path, checked to work on this host.
    Bubblewrap { program: PathBuf },
    /// A separate unprivileged uid and gid; needs the runner to run as root.
    User(RunAs),
    /// No isolation: the operator's explicit choice.
    Off,
    /// The mode asked for (or, unset, any mode) can't work here, for this reason.
    Missing { reason: String },
}

/// Whether a command may use the network: `OTA_COMMAND_NETWORK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Only its own loopback interface (bubblewrap's network namespace).
    None,
    /// The host's network, with everything it can reach (metadata endpoints included).
    Host,
}

/// The settings that choose a mode, read from the environment.
/// Every operator setting of the sandbox: a runner started by a server (`ota serve`'s
/// `ota runner`) must be handed them, or the operator's choices would not reach it.
pub const SETTINGS: &[&str] = &[
    MODE_VAR,
    USER_VAR,
    NETWORK_VAR,
    limits::CGROUP_VAR,
    limits::CPU_SECONDS_VAR,
    limits::MEMORY_MB_VAR,
    limits::MAX_PROCESSES_VAR,
];

const MODE_VAR: &str = "OTA_COMMAND_SANDBOX";
const USER_VAR: &str = "OTA_COMMAND_USER";
const NETWORK_VAR: &str = "OTA_COMMAND_NETWORK";

/// What the operator can do when no mode works, appended to every such reason.
const REMEDY: &str = "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`), or run \
    the runner as root with OTA_COMMAND_SANDBOX=user and OTA_COMMAND_USER=uid:gid, or set \
    OTA_COMMAND_SANDBOX=off to run commands without isolation (see docs/security.md)";

impl SandboxMode {
    /// The mode `var` asks for, checked on this host: `bubblewrap`, `user`, `off`, or
    /// unset (or `auto`) for the strongest that works: bubblewrap, else `user` when
    /// `OTA_COMMAND_USER` is set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let run_as = var(USER_VAR).filter(|text| !text.trim().is_empty());
        let run_as = match run_as.map(|text| text.parse::<RunAs>()) {
            None => None,
            Some(Ok(user)) => Some(user),
            Some(Err(err)) => return missing(format!("{USER_VAR} is invalid: {err}")),
        };
        let asked = var(MODE_VAR)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match asked.as_str() {
            "off" => Self::Off,
            "bubblewrap" | "bwrap" => match bubblewrap::usable() {
                Ok(program) => Self::Bubblewrap { program },
                Err(reason) => missing(format!("{MODE_VAR}={asked}, but {reason}")),
            },
            "user" => match run_as {
                None => missing(format!("{MODE_VAR}=user needs {USER_VAR}=uid:gid")),
                Some(user) => user_mode(user),
            },
            "" | "auto" => match (bubblewrap::usable(), run_as) {
                (Ok(program), _) => Self::Bubblewrap { program },
                (Err(_), Some(user)) => user_mode(user),
                (Err(reason), None) => missing(format!("no command sandbox works: {reason}")),
            },
            other => missing(format!(
                "{MODE_VAR}=`{other}` is not one of bubblewrap, user, off, auto"
            )),
        }
    }

    /// Its name, as `OTA_COMMAND_SANDBOX` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bubblewrap { .. } => "bubblewrap",
            Self::User(_) => "user",
            Self::Off => "off",
            Self::Missing { .. } => "missing",
        }
    }
}

impl Network {
    /// `OTA_COMMAND_NETWORK`: `none` (the default) or `host`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        match var(NETWORK_VAR)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "none" => Ok(Self::None),
            "host" => Ok(Self::Host),
            other => Err(format!("{NETWORK_VAR}=`{other}` is not `none` or `host`")),
        }
    }
}

fn missing(reason: String) -> SandboxMode {
    SandboxMode::Missing {
        reason: format!("{reason}; {REMEDY}"),
    }
}

/// The user mode, when this process can switch to another uid (it runs as root).
fn user_mode(user: RunAs) -> SandboxMode {
    #[cfg(unix)]
    if !rustix::process::geteuid().is_root() {
        return missing(format!(
            "{MODE_VAR}=user needs the runner to run as root to switch to {}:{}",
            user.uid, user.gid
        ));
    }
    SandboxMode::User(user)
}

/// Makes this process undumpable: no other process of the same user can read its memory
/// or environment through `/proc/<pid>/mem` or `/proc/<pid>/environ`, nor attach a
/// debugger. Both runner entries call it first thing, before any secret is read.
pub fn protect_runner_process() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_the_sandbox_reads_is_listed() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("limits.rs"),
            include_str!("bubblewrap.rs"),
            include_str!("spawn.rs"),
            include_str!("ownership.rs"),
        ];
        for source in sources {
            for (at, _) in source.match_indices("\"OTA_COMMAND_") {
                let name: String = source[at + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                if name == "OTA_COMMAND_" {
                    continue; // this test's own pattern
                }
                assert!(
                    SETTINGS.contains(&name.as_str()),
                    "{name} is not in SETTINGS"
                );
            }
        }
    }

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn off_is_only_an_explicit_choice_and_bad_settings_are_named() {
        assert_eq!(
            SandboxMode::from_vars(vars(&[("OTA_COMMAND_SANDBOX", "off")])),
            SandboxMode::Off
        );
        let SandboxMode::Missing { reason } =
            SandboxMode::from_vars(vars(&[("OTA_COMMAND_SANDBOX", "chroot")]))
        else {
            panic!("an unknown mode is refused")
        };
        assert!(reason.contains("`chroot` is not one of"), "{reason}");
        assert!(reason.contains("apt-get install bubblewrap"), "{reason}");
        let SandboxMode::Missing { reason } =
            SandboxMode::from_vars(vars(&[("OTA_COMMAND_SANDBOX", "user")]))
        else {
            panic!("user mode without a user is refused")
        };
        assert!(reason.contains("needs OTA_COMMAND_USER"), "{reason}");
        let SandboxMode::Missing { reason } =
            SandboxMode::from_vars(vars(&[("OTA_COMMAND_USER", "nobody")]))
        else {
            panic!("a bad user is refused")
        };
        assert!(reason.contains("OTA_COMMAND_USER is invalid"), "{reason}");
        assert_eq!(Network::from_vars(vars(&[])), Ok(Network::None));
        assert_eq!(
            Network::from_vars(vars(&[("OTA_COMMAND_NETWORK", "HOST")])),
            Ok(Network::Host)
        );
        assert!(Network::from_vars(vars(&[("OTA_COMMAND_NETWORK", "yes")])).is_err());
    }

    #[test]
    fn the_runner_is_not_dumpable() {
        protect_runner_process().unwrap();
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }
}
