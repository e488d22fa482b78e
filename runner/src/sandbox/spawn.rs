//! Starting one command in its sandbox, and cleaning up after it.

use std::path::Path;
use std::process::Stdio;

use super::bubblewrap;
use super::limits::CommandCgroup;
use super::ownership;
use super::{Network, SandboxMode};
use crate::agent::{CommandSandbox, RunAs};

/// A started command: the child (its process group's leader) and what to clean up.
pub(crate) struct Spawned {
    pub child: tokio::process::Child,
    cgroup: Option<CommandCgroup>,
    user: Option<RunAs>,
}

impl Spawned {
    /// Whether the command ran into its memory limit.
    pub fn memory_limit_reached(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(CommandCgroup::memory_limit_reached)
    }

    /// Kills whatever of the command is left, wherever it went.
    pub async fn clean_up(self) {
        if let Some(cgroup) = self.cgroup {
            cgroup.release().await;
        }
        if let Some(user) = self.user {
            ownership::kill_all_of(user).await;
        }
    }
}

/// Starts `sh -c command` in `dir` as `sandbox` says, with stdout and stderr piped.
pub(crate) fn spawn(
    dir: &Path,
    command: &str,
    sandbox: &CommandSandbox,
) -> std::io::Result<Spawned> {
    let mut user = None;
    let mut cmd = match &sandbox.mode {
        SandboxMode::Missing { reason } => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("commands can't run sandboxed here: {reason}"),
            ));
        }
        SandboxMode::Bubblewrap { program } => {
            let (args, env) = bubblewrap::command_line(
                dir,
                command,
                &sandbox.env,
                sandbox.network,
                &sandbox.hidden,
            );
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args).env_clear().envs(env);
            cmd
        }
        SandboxMode::User(run_as) => {
            ownership::hand_over(dir, *run_as)?;
            user = Some(*run_as);
            plain(dir, command, sandbox)
        }
        SandboxMode::Off => plain(dir, command, sandbox),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let cgroup = CommandCgroup::create(&sandbox.cgroups, &sandbox.limits)?;
    #[cfg(unix)]
    {
        cmd.process_group(0);
        let procs = cgroup
            .as_ref()
            .map(|cgroup| cgroup.procs.clone())
            .unwrap_or_default();
        let cpu = sandbox.limits.cpu_seconds;
        let processes = user.map(|_| sandbox.limits.max_processes);
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe work is sound: it makes raw system calls through rustix on
        // values prepared before the fork (no allocation, no lock). The `set_thread_*`
        // calls change only the calling thread, which is the child's only thread.
        unsafe {
            cmd.pre_exec(move || before_exec(&procs, cpu, processes, user));
        }
    }
    let child = cmd.spawn()?;
    Ok(Spawned {
        child,
        cgroup,
        user,
    })
}

/// `sh -c command` in `dir` with exactly the sandbox's environment.
fn plain(dir: &Path, command: &str, sandbox: &CommandSandbox) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_clear()
        .envs(sandbox.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// In the child, before exec: into the command's cgroups, under its rlimits, then (user
/// mode) the unprivileged uid with no supplementary group.
#[cfg(unix)]
fn before_exec(
    procs: &[std::ffi::CString],
    cpu_seconds: u64,
    max_processes: Option<u64>,
    user: Option<RunAs>,
) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    use rustix::process::{Resource, Rlimit, setrlimit};
    for file in procs {
        let fd = rustix::fs::open(
            file.as_c_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::io::write(&fd, b"0")?;
    }
    let limit = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    setrlimit(Resource::Cpu, limit(cpu_seconds))?;
    setrlimit(Resource::Core, limit(0))?;
    if let Some(n) = max_processes {
        setrlimit(Resource::Nproc, limit(n))?;
    }
    #[cfg(target_os = "linux")]
    if let Some(user) = user {
        let gid = rustix::process::Gid::from_raw(user.gid);
        let uid = rustix::process::Uid::from_raw(user.uid);
        rustix::thread::set_thread_groups(&[])?;
        rustix::thread::set_thread_res_gid(gid, gid, gid)?;
        rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    }
    Ok(())
}

/// The network a command gets in `mode`.
pub(crate) fn network_of(mode: &SandboxMode, asked: Network) -> Network {
    match mode {
        SandboxMode::Bubblewrap { .. } => asked,
        _ => Network::Host,
    }
}
