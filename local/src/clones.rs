//! Where the runners of `ota serve` keep their clones: `clones/` in the data directory,
//! one directory per runner (`clones/<job>-<attempt>`), each readable by the server's user
//! alone (mode 0700, like `clones/` itself). A runner gets its directory as `TMPDIR`, so its
//! clone (a temporary directory of its own, also 0700) lands there and not in the shared
//! `/tmp`. The launcher removes a runner's directory when the runner exits, however it
//! ends; a server that was itself killed leaves them behind, and the next one removes them
//! at start ([`CloneDirs::sweep`]), once no runner of the earlier server runs.

use shared::job::JobId;
use std::io;
use std::path::{Path, PathBuf};

/// The name of the clones' directory inside the data directory.
pub const CLONES_DIR: &str = "clones";

/// The clones' directory of one data directory.
#[derive(Debug, Clone)]
pub struct CloneDirs {
    root: PathBuf,
}

impl CloneDirs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join(CLONES_DIR),
        }
    }

    /// `clones/` itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the runner of `job`'s attempt `attempt`.
    pub fn of(&self, job: &JobId, attempt: u32) -> PathBuf {
        self.root.join(format!("{job}-{attempt}"))
    }

    /// Creates the runner's directory (and `clones/`), mode 0700, empty: anything an
    /// earlier runner of the same attempt left is removed first.
    pub fn create(&self, job: &JobId, attempt: u32) -> io::Result<PathBuf> {
        private_dir(&self.root)?;
        let dir = self.of(job, attempt);
        remove(&dir)?;
        private_dir(&dir)?;
        Ok(dir)
    }

    /// Removes the runner's directory and everything in it; a missing one is fine.
    pub fn remove(&self, job: &JobId, attempt: u32) -> io::Result<()> {
        remove(&self.of(job, attempt))
    }

    /// Removes every runner's directory: at start, when no runner runs. How many there were.
    pub fn sweep(&self) -> io::Result<usize> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(err),
        };
        let mut removed = 0;
        for entry in entries {
            let path = entry?.path();
            remove(&path)?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// A directory only its owner can enter; an existing one is made so.
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Removes `path` (a directory with its contents, or a file); gone already is fine.
fn remove(path: &Path) -> io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(err) => Err(err),
    };
    match result {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn runner_directories_are_private_and_swept() {
        let data = tempfile::tempdir().unwrap();
        let dirs = CloneDirs::new(data.path());
        let job = JobId::parse("j0123456789abcdef0123").unwrap();
        assert_eq!(dirs.sweep().unwrap(), 0, "no clones/ yet");

        let dir = dirs.create(&job, 1).unwrap();
        assert_eq!(dir, data.path().join("clones/j0123456789abcdef0123-1"));
        assert_eq!(mode(dirs.root()), 0o700);
        assert_eq!(mode(&dir), 0o700);
        std::fs::create_dir_all(dir.join("ota-clone-x/src")).unwrap();
        std::fs::write(dir.join("ota-clone-x/src/lib.rs"), "x").unwrap();

        dirs.remove(&job, 1).unwrap();
        assert!(!dir.exists());
        dirs.remove(&job, 1).unwrap();

        dirs.create(&job, 2).unwrap();
        std::fs::write(dirs.root().join("stray"), "x").unwrap();
        assert_eq!(dirs.sweep().unwrap(), 2);
        assert_eq!(std::fs::read_dir(dirs.root()).unwrap().count(), 0);
    }
}
