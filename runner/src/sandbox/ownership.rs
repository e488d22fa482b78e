//! The user mode's clone: writable by the command's uid, its `.git` not. Before each
//! command the clone's root becomes root-owned and sticky (`1777`), so the command can
//! add files there but never rename or replace the root-owned `.git`, whose config and
//! hooks the runner's own git would run; every other file the runner owns is handed to
//! the command's uid. After each command, every process of that uid is killed.

#[cfg(target_os = "linux")]
use rustix::fd::OwnedFd;
#[cfg(target_os = "linux")]
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use std::path::Path;

use crate::agent::RunAs;

/// Prepares `dir` for a command that runs as `user`.
pub(super) fn hand_over(dir: &Path, user: RunAs) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let root = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::fchown(&root, Some(rustix::process::Uid::ROOT), None)?;
        rustix::fs::fchmod(&root, Mode::from_raw_mode(0o1777))?;
        hand_over_entries(&root, user, true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (dir, user);
    Ok(())
}

/// Gives `user` every entry below `dir` that the runner (root) owns, through file
/// descriptors and without following symlinks, so a path swapped for a symlink meanwhile
/// can't turn this into a chown of something outside. A file with more than one link
/// is left alone: it may be a hard link to a file outside the clone.
#[cfg(target_os = "linux")]
fn hand_over_entries(dir: &OwnedFd, user: RunAs, top: bool) -> std::io::Result<()> {
    let uid = rustix::process::Uid::from_raw(user.uid);
    let gid = rustix::process::Gid::from_raw(user.gid);
    let entries = Dir::read_from(dir)?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        if top && name.to_bytes() == b".git" {
            continue;
        }
        let Ok(stat) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind == FileType::Directory {
            let Ok(child) = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            if stat.st_uid == 0 {
                rustix::fs::fchown(&child, Some(uid), Some(gid))?;
            }
            hand_over_entries(&child, user, false)?;
        } else if stat.st_uid == 0 && (kind == FileType::Symlink || stat.st_nlink == 1) {
            rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
        }
    }
    Ok(())
}

/// Kills every process of `user`, the command's leftovers that left its process group
/// included: `kill(-1, SIGKILL)` sent as that user reaches exactly its processes. The
/// uid must be the command's alone.
pub(super) async fn kill_all_of(user: RunAs) {
    let mut kill = tokio::process::Command::new("sh");
    kill.args(["-c", "kill -KILL -1"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    kill.uid(user.uid).gid(user.gid);
    match kill.status().await {
        Ok(_) => {}
        Err(err) => {
            tracing::warn!(error = %err, "the command's leftover processes could not be killed")
        }
    }
}
