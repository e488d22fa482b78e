//! The one directory walk behind `repo_map`, `list_files` and `search`, and the glob filter they share.
//!
//! The policy is described in the `tools` module docs; it lives here once so the three tools
//! always agree on which files exist.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use globset::{GlobBuilder, GlobMatcher};
use ignore::{WalkBuilder, WalkState};

use super::error::ToolError;

/// A parallel walk of `root` that visits only `target` (a directory at or under `root`) and
/// the directories leading to it. Walking from the root rather than from `target` means the
/// `.gitignore` files of `target`'s parents inside the repository apply, and none above it.
pub(crate) fn walker(root: &Path, target: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(false)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .threads(0);
    let whole_tree = target == root;
    let target = target.to_path_buf();
    builder.filter_entry(move |entry| {
        !super::path::is_git_name(&entry.file_name().to_string_lossy())
            && (whole_tree || entry.path().starts_with(&target) || target.starts_with(entry.path()))
    });
    builder
}

/// The relative path of `path` under `root`, with `/` separators.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    match rel.to_str() {
        Some(text) => text.to_owned(),
        None => rel.to_string_lossy().into_owned(),
    }
}

/// Every regular file under `target` that the walk policy admits and `filter` accepts, as
/// relative paths, unsorted.
pub(crate) fn collect_files(
    root: &Path,
    target: &Path,
    filter: Option<&GlobFilter>,
) -> Vec<String> {
    let found = Mutex::new(Vec::new());
    walker(root, target).build_parallel().run(|| {
        let mut batch = Batch {
            local: Vec::new(),
            shared: &found,
        };
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            if entry.file_type().is_some_and(|t| t.is_file()) {
                let rel = relative(root, entry.path());
                if filter.is_none_or(|f| f.matches(&rel)) {
                    batch.push(rel);
                }
            }
            WalkState::Continue
        })
    });
    found.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// How many paths a walker thread gathers before taking the shared lock.
const BATCH: usize = 256;

/// A walker thread's paths, handed to the shared list in batches (one lock per batch, not per
/// file) and for the last time when the thread's visitor is dropped at the end of the walk.
struct Batch<'a> {
    local: Vec<String>,
    shared: &'a Mutex<Vec<String>>,
}

impl Batch<'_> {
    fn push(&mut self, rel: String) {
        self.local.push(rel);
        if self.local.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.append(&mut self.local);
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A glob from the model, used to narrow `list_files` and `search`.
///
/// A glob without `/` matches file names anywhere (`*.rs`, `Cargo.toml`); a glob with `/`
/// matches the whole relative path, where `*` stays within one directory and `**` crosses them
/// (`src/**/*.rs`). Files excluded by `.gitignore` stay excluded whatever the glob says.
#[derive(Debug, Clone)]
pub(crate) struct GlobFilter {
    matcher: GlobMatcher,
    whole_path: bool,
}

impl GlobFilter {
    pub fn new(glob: &str) -> Result<Self, ToolError> {
        let glob = glob.trim().trim_start_matches("./");
        let compiled = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|err| ToolError::InvalidGlob {
                glob: glob.to_owned(),
                message: err.kind().to_string(),
            })?;
        Ok(GlobFilter {
            matcher: compiled.compile_matcher(),
            whole_path: glob.contains('/'),
        })
    }

    /// Whether the relative path `rel` is accepted.
    pub fn matches(&self, rel: &str) -> bool {
        if self.whole_path {
            self.matcher.is_match(rel)
        } else {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            self.matcher.is_match(name)
        }
    }
}
