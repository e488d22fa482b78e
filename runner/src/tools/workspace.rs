//! The workspace: the clone's root directory, which every tool call is confined to.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::ToolError;
use super::file_cache::FileCache;
use super::path::{ResolvedPath, resolve};
use super::undo::History;

/// The repository clone the tools work in. Cheap to clone: the canonical root, and what the
/// task's edits replaced (shared by the clones, for `undo_edit`).
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    history: Arc<Mutex<History>>,
    /// File contents kept between searches (see the `file_cache` module).
    contents: Arc<FileCache>,
}

impl Workspace {
    /// Opens the workspace rooted at `root`, which must be an existing directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, ToolError> {
        let shown = root.as_ref().display().to_string();
        let root = fs::canonicalize(root.as_ref()).map_err(|err| ToolError::io(&shown, err))?;
        if !root.is_dir() {
            return Err(ToolError::NotADirectory { path: shown });
        }
        Ok(Workspace {
            root,
            history: Arc::default(),
            contents: Arc::default(),
        })
    }

    /// What the task's edits replaced. A panic while it was held leaves it as it was between
    /// two whole changes, so a poisoned lock is taken as it is.
    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The file contents kept between searches.
    pub(crate) fn file_cache(&self) -> &FileCache {
        &self.contents
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks a path from the model; see [`resolve`].
    pub(crate) fn resolve(&self, path: &str) -> Result<ResolvedPath, ToolError> {
        resolve(&self.root, path)
    }

    /// Checks a path from the model that must be an existing directory.
    pub(crate) fn resolve_dir(&self, path: &str) -> Result<ResolvedPath, ToolError> {
        let resolved = self.resolve(path)?;
        if !resolved.exists() {
            return Err(resolved.not_found());
        }
        if !resolved.abs.is_dir() {
            return Err(ToolError::NotADirectory { path: resolved.rel });
        }
        Ok(resolved)
    }

    /// Checks a path from the model that must be an existing file, returning its size.
    pub(crate) fn resolve_file(&self, path: &str) -> Result<(ResolvedPath, u64), ToolError> {
        let resolved = self.resolve(path)?;
        if !resolved.exists() {
            return Err(resolved.not_found());
        }
        let meta = fs::metadata(&resolved.abs).map_err(|err| ToolError::io(&resolved.rel, err))?;
        if meta.is_dir() {
            return Err(ToolError::IsADirectory { path: resolved.rel });
        }
        Ok((resolved, meta.len()))
    }
}
