//! What one command may use: CPU time (`RLIMIT_CPU`, enforced everywhere), memory and
//! processes (a cgroup of its own where this host lets the runner make one; else, for
//! processes, `RLIMIT_NPROC` of the user mode's uid). Wall time is the command's timeout.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// CPU seconds one process of a command may use when the operator sets none: three
/// times the default wall-time limit, as a build uses several cores.
const DEFAULT_CPU_SECONDS: u64 = 30 * 60;

/// Memory of a whole command when the operator sets none: a large test suite's build.
const DEFAULT_MEMORY_MB: u64 = 4096;

/// Processes and threads of a whole command when the operator sets none: parallel
/// builds and test runners, far below what a fork bomb reaches.
const DEFAULT_MAX_PROCESSES: u64 = 1024;

/// The cgroup v2 directory commands' cgroups are made in, when the operator delegated one.
pub(super) const CGROUP_VAR: &str = "OTA_COMMAND_CGROUP";
pub(super) const CPU_SECONDS_VAR: &str = "OTA_COMMAND_CPU_SECONDS";
pub(super) const MEMORY_MB_VAR: &str = "OTA_COMMAND_MEMORY_MB";
pub(super) const MAX_PROCESSES_VAR: &str = "OTA_COMMAND_MAX_PROCESSES";

/// The limits of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLimits {
    /// `OTA_COMMAND_CPU_SECONDS`: CPU time of each process.
    pub cpu_seconds: u64,
    /// `OTA_COMMAND_MEMORY_MB`: memory of the whole command.
    pub memory_bytes: u64,
    /// `OTA_COMMAND_MAX_PROCESSES`: processes and threads of the whole command.
    pub max_processes: u64,
}

impl Default for CommandLimits {
    fn default() -> Self {
        Self {
            cpu_seconds: DEFAULT_CPU_SECONDS,
            memory_bytes: DEFAULT_MEMORY_MB * 1024 * 1024,
            max_processes: DEFAULT_MAX_PROCESSES,
        }
    }
}

impl CommandLimits {
    /// The limits `var` sets, the defaults for the others; names every invalid one.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |name: &str, default: u64| match var(name) {
            None => Ok(default),
            Some(text) if text.trim().is_empty() => Ok(default),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name}=`{text}` is not a positive number")),
        };
        Ok(Self {
            cpu_seconds: number(CPU_SECONDS_VAR, DEFAULT_CPU_SECONDS)?,
            memory_bytes: number(MEMORY_MB_VAR, DEFAULT_MEMORY_MB)?.saturating_mul(1024 * 1024),
            max_processes: number(MAX_PROCESSES_VAR, DEFAULT_MAX_PROCESSES)?,
        })
    }
}

/// Where this host lets the runner make a cgroup per command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupSupport {
    /// A cgroup v2 directory whose children get `memory` and `pids`.
    V2(PathBuf),
    /// The runner's own cgroups in the v1 `pids` and `memory` hierarchies.
    V1 {
        pids: Option<PathBuf>,
        memory: Option<PathBuf>,
    },
    /// None, for this reason.
    None(String),
}

impl CgroupSupport {
    /// `OTA_COMMAND_CGROUP` when set (it must work), else what this process's own
    /// cgroups allow, found once per process.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(dir) = var(CGROUP_VAR).filter(|dir| !dir.trim().is_empty()) {
            let dir = PathBuf::from(dir.trim());
            return match probe_v2(&dir) {
                Ok(()) => Self::V2(dir),
                Err(reason) => Self::None(format!("{CGROUP_VAR}={}: {reason}", dir.display())),
            };
        }
        static DETECTED: OnceLock<CgroupSupport> = OnceLock::new();
        DETECTED.get_or_init(detect).clone()
    }

    /// Whether the memory limit holds.
    pub fn limits_memory(&self) -> bool {
        matches!(
            self,
            Self::V2(_)
                | Self::V1 {
                    memory: Some(_),
                    ..
                }
        )
    }

    /// Whether the process limit holds for the whole command.
    pub fn limits_processes(&self) -> bool {
        matches!(self, Self::V2(_) | Self::V1 { pids: Some(_), .. })
    }

    /// How it is done, for the runner's first log lines.
    pub fn describe(&self) -> String {
        match self {
            Self::V2(dir) => format!("cgroup v2 under {}", dir.display()),
            Self::V1 { .. } => "cgroup v1".to_owned(),
            Self::None(reason) => format!("no cgroup ({reason})"),
        }
    }
}

fn detect() -> CgroupSupport {
    let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
        return CgroupSupport::None("/proc/self/cgroup is not readable".to_owned());
    };
    let mut pids = None;
    let mut memory = None;
    let mut unified = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_start_matches('/');
        for controller in controllers.split(',') {
            match controller {
                "pids" => pids = Some(Path::new("/sys/fs/cgroup/pids").join(path)),
                "memory" => memory = Some(Path::new("/sys/fs/cgroup/memory").join(path)),
                "" => unified = Some(Path::new("/sys/fs/cgroup").join(path)),
                _ => {}
            }
        }
    }
    if pids.is_some() || memory.is_some() {
        let pids = pids.filter(|dir| probe_v1(dir, "pids.max").is_ok());
        let memory = memory.filter(|dir| probe_v1(dir, "memory.limit_in_bytes").is_ok());
        if pids.is_some() || memory.is_some() {
            return CgroupSupport::V1 { pids, memory };
        }
        return CgroupSupport::None(
            "the runner may not make cgroups in its v1 pids and memory hierarchies".to_owned(),
        );
    }
    match unified {
        Some(dir) => match probe_v2(&dir) {
            Ok(()) => CgroupSupport::V2(dir),
            Err(reason) => CgroupSupport::None(format!(
                "{reason}; set {CGROUP_VAR} to a cgroup v2 directory delegated to the runner"
            )),
        },
        None => CgroupSupport::None("this process is in no cgroup".to_owned()),
    }
}

fn probe_v1(parent: &Path, file: &str) -> Result<(), String> {
    let probe = parent.join(format!("ota-probe-{}", std::process::id()));
    let made = std::fs::create_dir(&probe).map_err(|err| err.to_string());
    let found = made.and_then(|()| {
        if probe.join(file).exists() {
            Ok(())
        } else {
            Err(format!("no {file}"))
        }
    });
    let _ = std::fs::remove_dir(&probe);
    found
}

fn probe_v2(parent: &Path) -> Result<(), String> {
    let enabled = std::fs::read_to_string(parent.join("cgroup.subtree_control"))
        .map_err(|err| format!("{} is not a cgroup v2 directory: {err}", parent.display()))?;
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    if !(enabled.contains(&"memory") && enabled.contains(&"pids")) {
        return Err(format!(
            "{} does not give its children the memory and pids controllers",
            parent.display()
        ));
    }
    probe_v1(parent, "pids.max")
}

/// The cgroups of one command, removed (with whatever is left in them) when released.
#[derive(Debug)]
pub(crate) struct CommandCgroup {
    dirs: Vec<PathBuf>,
    /// The `cgroup.procs` files the child writes itself into before it runs the command.
    pub(crate) procs: Vec<CString>,
    /// Where the kernel counts the command's processes killed for memory.
    memory_events: Option<PathBuf>,
}

impl CommandCgroup {
    /// New cgroups for one command with `limits`; `None` where the host has none.
    pub(crate) fn create(
        support: &CgroupSupport,
        limits: &CommandLimits,
    ) -> std::io::Result<Option<Self>> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "ota-command-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut cgroup = Self {
            dirs: Vec::new(),
            procs: Vec::new(),
            memory_events: None,
        };
        let memory = limits.memory_bytes.to_string();
        let pids = limits.max_processes.to_string();
        match support {
            CgroupSupport::None(_) => return Ok(None),
            CgroupSupport::V2(parent) => {
                let dir = cgroup.make(parent, &name)?;
                std::fs::write(dir.join("memory.max"), &memory)?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("pids.max"), &pids)?;
                cgroup.memory_events = Some(dir.join("memory.events"));
            }
            CgroupSupport::V1 {
                pids: pids_parent,
                memory: memory_parent,
            } => {
                if let Some(parent) = pids_parent {
                    let dir = cgroup.make(parent, &name)?;
                    std::fs::write(dir.join("pids.max"), &pids)?;
                }
                if let Some(parent) = memory_parent {
                    let dir = cgroup.make(parent, &name)?;
                    std::fs::write(dir.join("memory.limit_in_bytes"), &memory)?;
                    let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), &memory);
                    cgroup.memory_events = Some(dir.join("memory.oom_control"));
                }
            }
        }
        Ok(Some(cgroup))
    }

    fn make(&mut self, parent: &Path, name: &str) -> std::io::Result<PathBuf> {
        let dir = parent.join(name);
        std::fs::create_dir(&dir)?;
        self.dirs.push(dir.clone());
        let procs = dir.join("cgroup.procs");
        self.procs.push(
            CString::new(procs.as_os_str().as_encoded_bytes())
                .map_err(|_| std::io::Error::other("a cgroup path with a NUL byte"))?,
        );
        Ok(dir)
    }

    /// Whether the kernel killed a process of the command for its memory limit
    /// (`oom_kill` in v2's `memory.events` and v1's `memory.oom_control`).
    pub(crate) fn memory_limit_reached(&self) -> bool {
        let Some(file) = &self.memory_events else {
            return false;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines().any(|line| {
            line.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    }

    /// Kills whatever is still in the cgroups, then removes them.
    pub(crate) async fn release(mut self) {
        for _ in 0..100 {
            if self.kill_and_remove() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(cgroups = ?self.dirs, "a command's cgroups could not be removed");
        self.dirs.clear();
    }

    /// One round: SIGKILL to every process left, then `rmdir`; true once all are gone.
    fn kill_and_remove(&mut self) -> bool {
        for dir in &self.dirs {
            let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs
                .lines()
                .filter_map(|line| line.trim().parse::<i32>().ok())
            {
                #[cfg(unix)]
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
        self.dirs
            .retain(|dir| std::fs::remove_dir(dir).is_err() && dir.exists());
        self.dirs.is_empty()
    }
}

impl Drop for CommandCgroup {
    fn drop(&mut self) {
        if !self.dirs.is_empty() {
            self.kill_and_remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_and_bad_ones_named() {
        let limits = CommandLimits::from_vars(|name| {
            (name == "OTA_COMMAND_MEMORY_MB").then(|| "512".to_owned())
        })
        .unwrap();
        assert_eq!(limits.memory_bytes, 512 * 1024 * 1024);
        assert_eq!(limits.cpu_seconds, DEFAULT_CPU_SECONDS);
        let err = CommandLimits::from_vars(|name| {
            (name == "OTA_COMMAND_MAX_PROCESSES").then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert_eq!(
            err,
            "OTA_COMMAND_MAX_PROCESSES=`lots` is not a positive number"
        );
    }
}
