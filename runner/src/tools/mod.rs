//! The repository tools the model calls: map, list, read, search, edit, write and undo
//! edits of files in the clone. An edit that breaks a file's syntax says so ([`SyntaxProblem`]).
//!
//! Everything goes through a [`Workspace`] rooted at the clone. Paths from the model are
//! untrusted: each one is resolved by [`Workspace`] against the root, refusing absolute paths,
//! `..` escapes, symbolic links that lead outside the root, and anything under `.git/`.
//!
//! Every tool returns a plain result type whose `Display` is the text sent back to the model,
//! or a [`ToolError`] whose message is addressed to the model and says what to do instead.
//!
//! Walking policy, shared by `repo_map`, `list_files` and `search`: `.gitignore`, `.ignore` and
//! `.git/info/exclude` are honoured (even when the directory is not a git checkout), the
//! user's global gitignore and ignore files above the root are not; hidden files and
//! directories (`.github/`, `.ollama-turbo.yml`) are included, because they are often what a task
//! is about; `.git/` is always skipped; symbolic links are not followed, so linked files and
//! directories are not listed or searched (they can still be read by path when they stay
//! inside the root).
//!
//! Globs (`list_files`, `search`): a glob without `/` matches file names anywhere (`*.rs`,
//! `Cargo.toml`); a glob with `/` matches the whole relative path, where `*` stays within one
//! directory and `**` crosses them (`src/**/*.rs`). A glob only narrows: files excluded by
//! `.gitignore` stay excluded whatever it says.

mod commands;
mod edit;
mod error;
mod file_cache;
mod languages;
mod list;
mod path;
mod read;
mod repo_map;
mod search;
mod search_sink;
mod similar;
mod symbols;
mod syntax;
mod tree;
mod undo;
mod walk;
mod workspace;

#[cfg(test)]
mod test_support;

pub use commands::{CommandKind, DetectedCommand, detect_commands};
pub use edit::{EditOutcome, WriteOutcome};
pub use error::{NoMatchHint, ToolError};
pub use list::{DEFAULT_LIST_LIMIT, FileList, MAX_LIST_LIMIT};
pub(crate) use path::is_git_name;
pub use read::{FileView, LineRange, MAX_FILE_BYTES, MAX_READ_CHARS, MAX_READ_LINES};
pub use repo_map::{LanguageShare, ReadmeHead, RepoMap, RepoMapLimits};
pub use search::{
    CaseMode, DEFAULT_MAX_RESULTS, MAX_CONTEXT_LINES, MAX_RESULTS_LIMIT, PatternKind,
    SearchOptions, SearchResults,
};
pub use search_sink::{FileMatches, FoundLine};
pub use symbols::{Definition, Symbols};
pub use syntax::SyntaxProblem;
pub use undo::{MAX_UNDO_BYTES, UndoOutcome};
pub use workspace::Workspace;
