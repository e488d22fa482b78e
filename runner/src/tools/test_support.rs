//! Temporary workspaces for the tools' unit tests.

use std::fs;

use tempfile::TempDir;

use super::workspace::Workspace;

/// A temporary directory holding `files` (path, content), and a workspace rooted at it.
pub(crate) fn workspace_with(files: &[(&str, &str)]) -> (TempDir, Workspace) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for (path, content) in files {
        write(&dir, path, content.as_bytes());
    }
    let workspace = Workspace::new(dir.path()).expect("open the workspace");
    (dir, workspace)
}

/// Writes `content` at `path` under `dir`, creating parent directories.
pub(crate) fn write(dir: &TempDir, path: &str, content: &[u8]) {
    let full = dir.path().join(path);
    if let Some(parent) = full.parent() {
        fs::create_dir_all(parent).expect("create parent directories");
    }
    fs::write(full, content).expect("write a test file");
}
