//! The command sandbox on this host, from the outside: what a repository's command can
//! and can't see, write and reach, and the limits it is stopped by. These tests need
//! bubblewrap and run as root (`scripts/test` installs it; CI runs as root).

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ota_runner::agent::{CommandRun, CommandSandbox, RunAs, run_command};
use ota_runner::sandbox::{Network, SandboxMode};

fn sandbox() -> CommandSandbox {
    let sandbox = CommandSandbox::with_env([("PATH".to_owned(), "/usr/bin:/bin".to_owned())]);
    assert!(
        matches!(sandbox.mode, SandboxMode::Bubblewrap { .. }),
        "bubblewrap works on this host: {:?}",
        sandbox.mode
    );
    sandbox
}

/// A clone-like workspace with a `.git` directory.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ota-clone-")
        .tempdir()
        .unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/config"), "[core]\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "hello\n").unwrap();
    dir
}

async fn run(dir: &Path, command: &str, sandbox: &CommandSandbox) -> CommandRun {
    run_command(dir, command, sandbox, None).await.unwrap()
}

#[tokio::test]
async fn a_command_sees_only_its_own_processes() {
    let dir = workspace();
    let me = std::process::id();
    let script = format!(
        "ls /proc | grep -c '^[0-9]*$'; cat /proc/{me}/environ && echo READ-ENVIRON; \
         head -c 16 /proc/{me}/mem && echo READ-MEM; cat /proc/*/environ | tr '\\0' '\\n'"
    );
    let run = run(dir.path(), &script, &sandbox()).await;
    let count: u32 = run
        .output
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(u32::MAX);
    assert!(count < 10, "only the sandbox's own pids: {}", run.output);
    assert!(!run.output.contains("READ-ENVIRON"), "{}", run.output);
    assert!(!run.output.contains("READ-MEM"), "{}", run.output);
    // Cargo sets this for the test process; no environment the command sees has it.
    assert!(!run.output.contains("CARGO_MANIFEST_DIR"), "{}", run.output);
}

#[tokio::test]
async fn a_command_reads_only_the_allowlist_and_writes_only_the_clone_and_tmp() {
    let dir = workspace();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("app.json");
    std::fs::write(&secret, "SECRET-OUTSIDE").unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let script = format!(
        "cat {secret}; ls {home} && echo LISTED-HOME; cat /etc/shadow; \
         ls {parent} | grep -v '^ota-clone-' | head -3; \
         echo x > /usr/owned && echo WROTE-USR; echo x > /etc/owned && echo WROTE-ETC; \
         echo x > {outside_dir}/new && echo WROTE-OUTSIDE; \
         echo '[core] hooksPath = /tmp' >> .git/config && echo WROTE-GIT; \
         echo made > built.txt && echo x > /tmp/scratch && echo x > $HOME/.cache-file && \
         echo WROTE-ALLOWED; pwd",
        secret = secret.display(),
        parent = dir.path().parent().unwrap().display(),
        outside_dir = outside.path().display(),
    );
    let run = run(dir.path(), &script, &sandbox()).await;
    for leak in [
        "SECRET-OUTSIDE",
        "LISTED-HOME",
        "root:",
        "WROTE-USR",
        "WROTE-ETC",
    ] {
        assert!(!run.output.contains(leak), "{leak}: {}", run.output);
    }
    assert!(!run.output.contains("WROTE-OUTSIDE"), "{}", run.output);
    assert!(!run.output.contains("WROTE-GIT"), "{}", run.output);
    assert!(!outside.path().join("new").exists());
    assert!(run.output.contains("WROTE-ALLOWED"), "{}", run.output);
    assert!(run.output.contains(&dir.path().display().to_string()));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("built.txt")).unwrap(),
        "made\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".git/config")).unwrap(),
        "[core]\n"
    );
}

/// A listener on the host's loopback, and whether anything connected to it.
fn listener() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reached = Arc::new(AtomicBool::new(false));
    let flag = reached.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            flag.store(true, Ordering::SeqCst);
            let _ = stream.read(&mut [0u8; 16]);
        }
    });
    (port, reached)
}

fn connect_script(port: u16) -> String {
    format!(
        "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"127.0.0.1:{port}\", \
         Timeout => 3) or die \"refused: $!\\n\"; print \"CONNECTED\\n\"'"
    )
}

#[tokio::test]
async fn a_command_has_no_network_unless_the_operator_opts_in() {
    let dir = workspace();
    let (port, reached) = listener();
    let run = run(dir.path(), &connect_script(port), &sandbox()).await;
    assert!(!run.succeeded(), "{}", run.output);
    assert!(!run.output.contains("CONNECTED"), "{}", run.output);
    assert!(!reached.load(Ordering::SeqCst));

    let mut host = sandbox();
    host.network = Network::Host;
    let run = self::run(dir.path(), &connect_script(port), &host).await;
    assert!(run.output.contains("CONNECTED"), "{}", run.output);
    // The listener's thread marks the connection after accepting it, which may come a
    // moment after the command printed that it connected.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !reached.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(reached.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_command_is_stopped_by_its_limits() {
    let dir = workspace();
    let mut sandbox = sandbox();
    assert!(sandbox.cgroups.limits_memory(), "{:?}", sandbox.cgroups);
    assert!(sandbox.cgroups.limits_processes(), "{:?}", sandbox.cgroups);
    sandbox.timeout = Duration::from_secs(30);
    sandbox.limits.cpu_seconds = 1;
    sandbox.limits.memory_bytes = 64 * 1024 * 1024;
    sandbox.limits.max_processes = 16;

    let spin = run(dir.path(), "while :; do :; done", &sandbox).await;
    assert!(!spin.timed_out && !spin.succeeded(), "{spin}");
    assert!(spin.duration < Duration::from_secs(15), "{spin}");

    sandbox.limits.cpu_seconds = 100;
    let hog = run(
        dir.path(),
        "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo SURVIVED ${#x}",
        &sandbox,
    )
    .await;
    assert!(!hog.output.contains("SURVIVED"), "{hog}");
    assert!(hog.output.contains("memory limit of 64 MiB"), "{hog}");

    let bomb = run(
        dir.path(),
        "i=0; while [ $i -lt 64 ]; do sleep 5 & i=$((i+1)); done; echo SPAWNED-ALL",
        &sandbox,
    )
    .await;
    assert!(!bomb.output.contains("SPAWNED-ALL"), "{bomb}");
}

#[tokio::test]
async fn without_a_working_sandbox_no_command_runs() {
    let dir = workspace();
    let mut sandbox = sandbox();
    sandbox.mode = SandboxMode::Missing {
        reason: "`bwrap` (bubblewrap) is not on PATH".to_owned(),
    };
    let err = run_command(dir.path(), "touch ran", &sandbox, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not on PATH"), "{err}");
    assert!(!dir.path().join("ran").exists());
    assert!(sandbox.unavailable().is_some());
}

#[tokio::test]
async fn the_user_mode_hands_the_clone_but_not_its_git_to_another_uid() {
    let dir = workspace();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "// written by the runner\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("key.pem");
    std::fs::write(&secret, "PRIVATE-KEY").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // A uid of this test's own, so no other process is killed with the command's.
    let uid = 60_000 + std::process::id() % 5_000;
    let mut sandbox = sandbox();
    sandbox.mode = SandboxMode::User(RunAs { uid, gid: uid });
    let script = format!(
        "id -u; cat {}; echo changed >> src/lib.rs && echo x > target && echo WROTE; \
         mv .git moved && echo MOVED-GIT; echo x >> .git/config && echo WROTE-GIT; \
         (sleep 30 &) ; true",
        secret.display()
    );
    let run = run(dir.path(), &script, &sandbox).await;
    assert!(run.output.starts_with(&uid.to_string()), "{}", run.output);
    assert!(!run.output.contains("PRIVATE-KEY"), "{}", run.output);
    assert!(run.output.contains("WROTE"), "{}", run.output);
    assert!(!run.output.contains("MOVED-GIT"), "{}", run.output);
    assert!(!run.output.contains("WROTE-GIT"), "{}", run.output);
    assert!(dir.path().join(".git/config").exists());
    // Dead is enough: a zombie waits for whoever adopted it to reap it.
    let states = std::process::Command::new("ps")
        .args(["-u", &uid.to_string(), "-o", "stat="])
        .output()
        .unwrap();
    let alive: Vec<String> = String::from_utf8_lossy(&states.stdout)
        .lines()
        .filter(|state| !state.trim_start().starts_with('Z'))
        .map(str::to_owned)
        .collect();
    assert!(alive.is_empty(), "the uid's processes are gone: {alive:?}");
}
