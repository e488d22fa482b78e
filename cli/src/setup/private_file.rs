//! Files only the server's user may read (the App's key, the operator's token), written so that
//! a reader never sees half a file: a temporary file created with mode 0600 in the same
//! directory, synced, then renamed over the target.

use super::SetupError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `content` to `path` atomically, readable by the owner only. Creates the parent
/// directory (mode 0700) if it is missing.
pub(crate) fn write_private(path: &Path, content: &[u8]) -> Result<(), SetupError> {
    let unwritable = |err: io::Error| SetupError::Unwritable {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(unwritable)?;
    let temp = temp_path(path);
    let written = create_private(&temp).and_then(|mut file| {
        file.write_all(content)?;
        file.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: the error that matters is the write's.
        let _ = fs::remove_file(&temp);
    }
    result.map_err(unwritable)
}

/// The file's content, `None` when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>, SetupError> {
    match fs::read_to_string(path) {
        Ok(content) => Ok(Some(content)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(SetupError::Unreadable {
            path: path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// A name next to `path` that no other writer uses at the same time.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy());
    path.with_file_name(format!(
        ".{name}.tmp-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ))
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_file_whole_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("secret.json");
        write_private(&path, b"first").unwrap();
        write_private(&path, b"second").unwrap();
        assert_eq!(read_if_exists(&path).unwrap().as_deref(), Some("second"));
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_may_read_what_is_written() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_private(&path, b"key").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        assert_eq!(read_if_exists(&path).unwrap(), None);
    }
}
