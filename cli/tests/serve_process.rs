//! The `ota serve` process itself: it holds the webhook secret and, for a server set up
//! through the browser, reads the App's key, so no other process of its user may read
//! its environment or memory through `/proc` — a command run with the sandbox turned off
//! (`OTA_COMMAND_SANDBOX=off`) runs as that user.

#![cfg(target_os = "linux")]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// An unprivileged uid the test runs both processes as; reading another uid's `/proc`
/// files is refused anyway, so the check needs the same one.
const NOBODY: u32 = 65534;

#[test]
fn another_process_of_the_servers_user_cannot_read_its_environment() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: switching to another uid needs root");
        return;
    }
    let data_dir = tempfile::tempdir().expect("data directory");
    std::os::unix::fs::chown(data_dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    let mut server = Command::new(OTA)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("WEBHOOK_SECRET", "a-webhook-secret-the-process-keeps")
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ota serve");
    let environ = format!("/proc/{}/environ", server.id());
    // Wait until the server is past its start, where it protects itself.
    let started = Instant::now();
    while !data_dir.path().join("operator-token").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "ota serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let read = Command::new("cat")
        .arg(&environ)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("run cat");
    let _ = server.kill();
    let _ = server.wait();
    let seen = String::from_utf8_lossy(&read.stdout);
    assert!(
        !seen.contains("a-webhook-secret-the-process-keeps"),
        "a process of the server's user read its environment"
    );
    assert!(
        !read.status.success(),
        "reading {environ} should be refused: {seen}"
    );
}
