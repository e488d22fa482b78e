//! Runners as child processes of `ota serve`: `ota runner` started with the job in its
//! environment ([`RunnerLaunch::to_env`]), its output in a log file of the data
//! directory, in a process group of its own so that stopping it stops what it started.
//!
//! A runner inherits nothing of its server's environment (which holds the webhook secret,
//! the Ollama key, the App key's path): it gets exactly the variables the server hands
//! the launcher ([`ChildLauncher::new`]'s `runner_env`, an allowlist and the runner's
//! non-secret settings), its launch environment, and its attempt's credential on its
//! stdin, where neither `/proc/PID/environ` nor its command line shows it.
//!
//! A runner must not outlive its server, or a restarted server would start a second
//! runner for the same job: the runner asks the kernel to kill it when its parent dies
//! (`ota runner`, in the `ota` binary, reads [`PARENT_PID_VAR`]), and every runner is
//! recorded ([`RunnerRecords`]) with its process start time, so that a restarted server
//! can tell its predecessor's runners from unrelated processes that reused their ids, and
//! stop any that survived ([`ChildLauncher::recover`]).
//!
//! A runner's slot is freed when its process is reaped, not when its job's status says it
//! finished: a runner still retrying its model call holds its slot. The reaper then wakes
//! the engine, whose queued jobs ask for the slot in the order they came.

use crate::clones::CloneDirs;
use crate::store::{Database, LOST_WITH_SERVER, RunnerRecords};
use shared::clock::now_ms;
use shared::dispatch::capacity;
use shared::job::{JobId, RunnerCredential};
use shared::ports::StoreError;
use shared::ports::{LaunchError, LaunchedRunner, RunnerLaunch, TaskLauncher};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// The runner's environment variable holding its server's process id: the runner stops
/// at once if its parent is already gone when it starts.
pub const PARENT_PID_VAR: &str = "OTA_PARENT_PID";

#[derive(Clone)]
pub struct ChildLauncher {
    inner: Arc<Inner>,
}

struct Inner {
    /// The `ota` executable.
    program: PathBuf,
    data_dir: PathBuf,
    clones: CloneDirs,
    /// The runner's whole environment besides its launch variables.
    runner_env: Vec<(String, String)>,
    records: RunnerRecords,
    /// Where the runner slots are kept, freed as runners exit.
    db: Database,
    wake: Arc<Notify>,
}

impl ChildLauncher {
    /// Runners are `program runner --data-dir DATA_DIR`, started with exactly
    /// `runner_env` and their launch environment.
    pub fn new(
        program: PathBuf,
        data_dir: PathBuf,
        runner_env: Vec<(String, String)>,
        db: Database,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                program,
                clones: CloneDirs::new(&data_dir),
                data_dir,
                records: RunnerRecords::new(db.clone()),
                db,
                runner_env,
                wake,
            }),
        }
    }

    pub fn records(&self) -> RunnerRecords {
        self.inner.records.clone()
    }

    /// At start-up: the runners of an earlier server are stopped if they somehow still
    /// run, and recorded as lost, so their jobs' waits fail and are retried, and their
    /// slots freed; how many.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let records = &self.inner.records;
        let orphans = records.unreaped().await?;
        for orphan in &orphans {
            if kill_if_same(orphan.pid, orphan.started_ticks) {
                tracing::warn!(
                    job = orphan.job.as_str(),
                    pid = orphan.pid,
                    "stopped a runner left by the previous server"
                );
            }
            if let Ok(job) = JobId::parse(&orphan.job) {
                capacity::release(&self.inner.db, &job, u32::MAX).await?;
            }
        }
        records.mark_lost(now_ms()).await?;
        Ok(orphans.len())
    }

    fn log_path(&self, launch: &RunnerLaunch) -> PathBuf {
        self.inner
            .data_dir
            .join("logs")
            .join(format!("{}-{}.log", launch.job, launch.attempt))
    }
}

impl TaskLauncher for ChildLauncher {
    async fn launch(
        &self,
        launch: &RunnerLaunch,
        credential: &RunnerCredential,
    ) -> Result<LaunchedRunner, LaunchError> {
        let log_path = self.log_path(launch);
        let log = open_log(&log_path).map_err(|err| {
            LaunchError::Rejected(format!(
                "cannot write the runner's log {}: {err}",
                log_path.display()
            ))
        })?;
        let log_err = log.try_clone().map_err(|err| {
            LaunchError::Rejected(format!(
                "cannot write the runner's log {}: {err}",
                log_path.display()
            ))
        })?;
        let clones = self
            .inner
            .clones
            .create(&launch.job, launch.attempt)
            .map_err(|err| {
                LaunchError::Rejected(format!("cannot create the runner's clone directory: {err}"))
            })?;
        let mut command = tokio::process::Command::new(&self.inner.program);
        command
            .arg("runner")
            .arg("--data-dir")
            .arg(&self.inner.data_dir)
            .env_clear()
            .envs(self.inner.runner_env.iter().cloned())
            .envs(launch.to_env())
            .env(PARENT_PID_VAR, std::process::id().to_string())
            // The runner's clone goes there (see `clones`), not into the shared `/tmp`.
            .env("TMPDIR", &clones)
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        // Spawned on a runtime worker thread: the kernel sends the runner's death signal
        // when the thread that started it ends, and worker threads live as long as the
        // server (never spawn runners from `spawn_blocking`, whose threads come and go).
        let mut child = command.spawn().map_err(|err| {
            LaunchError::Rejected(format!(
                "cannot start the runner {}: {err}",
                self.inner.program.display()
            ))
        })?;
        let Some(pid) = child.id() else {
            return Err(LaunchError::Unavailable(
                "the runner exited at once".to_owned(),
            ));
        };
        if let Err(err) = hand_credential(&mut child, credential).await {
            let _ = child.start_kill();
            return Err(LaunchError::Unavailable(format!(
                "could not hand the runner its credential: {err}"
            )));
        }
        let started = process_start_ticks(pid).unwrap_or(0);
        let records = self.inner.records.clone();
        let db = self.inner.db.clone();
        let log_text = log_path.display().to_string();
        if let Err(err) = records
            .insert(pid, started, &launch.job, launch.attempt, &log_text)
            .await
        {
            // An unrecorded runner could not be found and stopped before the next
            // attempt starts another: it must not run.
            let _ = child.start_kill();
            return Err(LaunchError::Unavailable(err.to_string()));
        }
        tracing::info!(job = %launch.job, attempt = launch.attempt, pid, log = %log_text, "runner started");
        let wake = Arc::clone(&self.inner.wake);
        let job = launch.job.clone();
        let attempt = launch.attempt;
        let clone_dirs = self.inner.clones.clone();
        tokio::spawn(async move {
            let code = match child.wait().await {
                Ok(status) => exit_code(status),
                Err(err) => {
                    tracing::warn!(%job, pid, error = %err, "lost track of the runner");
                    LOST_WITH_SERVER
                }
            };
            tracing::info!(%job, pid, code, "runner exited");
            if let Err(err) = clone_dirs.remove(&job, attempt) {
                tracing::warn!(%job, pid, error = %err, "could not remove the runner's clone");
            }
            if let Err(err) = records.exited(pid, started, code).await {
                tracing::warn!(%job, pid, error = %err, "could not record the runner's exit");
            }
            // Its slot is free now, and only now; a lease lost here expires on its own.
            if let Err(err) = capacity::release(&db, &job, attempt).await {
                tracing::warn!(%job, pid, error = %err, "could not free the runner's slot");
            }
            wake.notify_one();
        });
        Ok(LaunchedRunner {
            task: format!("process {pid}"),
            log: Some(log_text),
        })
    }

    async fn stop_job(&self, job: &JobId, reason: &str) -> Result<usize, LaunchError> {
        let running = self
            .inner
            .records
            .running(job)
            .await
            .map_err(|err| LaunchError::Unavailable(err.to_string()))?;
        let mut stopped = 0;
        for (pid, started) in running {
            if kill_if_same(pid, started) {
                tracing::info!(%job, pid, reason, "runner stopped");
                stopped += 1;
            }
        }
        Ok(stopped)
    }
}

/// Writes the credential on the runner's stdin, one line, and closes it.
async fn hand_credential(
    child: &mut tokio::process::Child,
    credential: &RunnerCredential,
) -> std::io::Result<()> {
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the runner has no stdin"))?;
    stdin
        .write_all(format!("{}\n", credential.expose()).as_bytes())
        .await?;
    stdin.shutdown().await
}

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> i64 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => i64::from(code),
        (None, Some(signal)) => -i64::from(signal),
        (None, None) => LOST_WITH_SERVER,
    }
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> i64 {
    status.code().map_or(LOST_WITH_SERVER, i64::from)
}

/// The process's start time in clock ticks after boot (`/proc/PID/stat`, field 22), which
/// tells a process from a later one with the same id. `None` when it is gone (or not Linux).
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Kills the process group of `pid` if `pid` is still the process that was started at
/// `started`; `true` if it did.
fn kill_if_same(pid: u32, started: u64) -> bool {
    let Some(now_started) = process_start_ticks(pid) else {
        return false;
    };
    if started != 0 && now_started != started {
        return false;
    }
    let Some(group) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::kill_process_group(group, rustix::process::Signal::KILL).is_ok()
}
