//! The errors the repository tools return, worded for the model that receives them as tool results.

use std::fmt;
use std::io;

/// Why a tool call failed. `Display` is the message sent back to the model, so each one says
/// what went wrong in terms of the call it made and what to do next.
///
/// Every variant except [`ToolError::Io`] is caused by the call's arguments (the model can fix
/// it); see [`ToolError::is_internal`].
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An absolute path was given; `relative` is the relative form when it lies under the root.
    #[error(
        "`{path}` is an absolute path; paths are relative to the repository root{}",
        .relative.as_ref().map(|r| format!(" (use `{r}`)")).unwrap_or_else(|| ", such as `src/main.rs`".to_owned())
    )]
    AbsolutePath {
        path: String,
        relative: Option<String>,
    },
    /// The path leaves the root through `..` or through a symbolic link.
    #[error(
        "`{path}` points outside the repository; only paths inside the repository root can be used"
    )]
    OutsideWorkspace { path: String },
    /// The path is (or goes through) `.git`.
    #[error(
        "`{path}` is inside `.git/`, which these tools never read or change; use the working tree files instead"
    )]
    GitDirectory { path: String },
    /// A symbolic link in the path points at something that does not exist.
    #[error("`{path}` is a symbolic link whose target does not exist")]
    DanglingSymlink { path: String },
    /// Nothing exists at the path. `existing` is the deepest directory of the path that exists.
    #[error(
        "`{path}` does not exist; {}",
        match .existing.as_deref() { Some("") | None => "call list_files on the repository root to see what exists".to_owned(), Some(dir) => format!("`{dir}` exists, call list_files on it to see what it contains") }
    )]
    NotFound {
        path: String,
        existing: Option<String>,
    },
    /// A file operation was asked of a directory.
    #[error("`{path}` is a directory, not a file; call list_files on it to see what it contains")]
    IsADirectory { path: String },
    /// A directory operation was asked of a file.
    #[error("`{path}` is a file, not a directory; call read_file on it")]
    NotADirectory { path: String },
    /// The file holds binary data, so it can't be shown or edited as text.
    #[error("`{path}` is a binary file ({bytes} bytes); it can't be read or edited as text")]
    BinaryFile { path: String, bytes: u64 },
    /// The file is bigger than the tools will load.
    #[error(
        "`{path}` is too large to load ({bytes} bytes, the limit is {limit}); use search to find the lines you need"
    )]
    TooLarge {
        path: String,
        bytes: u64,
        limit: u64,
    },
    /// The requested first line is past the end of the file.
    #[error(
        "`{path}` has {lines} lines, so line {start} does not exist; ask for a range within 1-{lines}"
    )]
    LineOutOfRange {
        path: String,
        start: usize,
        lines: usize,
    },
    /// The line range is malformed (zero, or end before start).
    #[error("invalid line range: {reason}")]
    InvalidRange { reason: String },
    /// The search pattern does not compile.
    #[error("invalid search pattern `{pattern}`: {message}")]
    InvalidPattern { pattern: String, message: String },
    /// The glob does not compile.
    #[error("invalid glob `{glob}`: {message}")]
    InvalidGlob { glob: String, message: String },
    /// `edit_file` was given an empty `old` text.
    #[error(
        "the text to replace is empty; give the exact existing text to replace in `{path}`, or use write_file to write the whole file"
    )]
    EmptyOldText { path: String },
    /// `edit_file` found no exact occurrence of the `old` text.
    #[error("the text to replace was not found in `{path}`. {hint}")]
    EditNoMatch { path: String, hint: NoMatchHint },
    /// `edit_file` found the `old` text more than once.
    #[error(
        "the text to replace occurs {count} times in `{path}` (starting at lines {}); include more surrounding lines so that it matches exactly once",
        join_numbers(.lines)
    )]
    EditAmbiguous {
        path: String,
        count: usize,
        lines: Vec<usize>,
    },
    /// `undo_edit` was asked of a file no edit of this task changed (or whose edits were
    /// all undone).
    #[error("there is no edit of `{path}` in this task to undo")]
    NothingToUndo { path: String },
    /// The file system failed; not something the model caused.
    #[error("could not access `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl ToolError {
    /// True when the failure is the runner's (file system), not the call's arguments. The
    /// message is still fit to send to the model, but the runner may want to log it or stop.
    pub fn is_internal(&self) -> bool {
        matches!(self, ToolError::Io { .. })
    }

    pub(crate) fn io(path: &str, source: io::Error) -> Self {
        ToolError::Io {
            path: display_path(path).to_owned(),
            source,
        }
    }
}

/// What `edit_file` can tell the model about a failed match, to help it retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatchHint {
    /// The text matches these lines once indentation and trailing whitespace are ignored.
    WhitespaceOnly {
        start: usize,
        end: usize,
        snippet: String,
    },
    /// These lines are the most similar to the text.
    Closest {
        start: usize,
        end: usize,
        snippet: String,
    },
    /// Nothing in the file resembles the text.
    Nothing,
}

impl fmt::Display for NoMatchHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoMatchHint::WhitespaceOnly {
                start,
                end,
                snippet,
            } => write!(
                f,
                "Lines {start}-{end} match except for whitespace (indentation or trailing spaces); \
                 copy them exactly as shown and retry:\n{snippet}"
            ),
            NoMatchHint::Closest {
                start,
                end,
                snippet,
            } => write!(
                f,
                "The most similar lines are {start}-{end}; copy the exact text from the file \
                 (read_file shows it) and retry:\n{snippet}"
            ),
            NoMatchHint::Nothing => f.write_str(
                "Nothing in the file resembles it; call read_file to see the current content and retry with text copied exactly from it.",
            ),
        }
    }
}

/// `.` for the root, the path otherwise, so messages never show an empty path.
pub(crate) fn display_path(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// How many line numbers an ambiguity message lists; more would only fill the model's context.
const MAX_LISTED_LINES: usize = 20;

fn join_numbers(numbers: &[usize]) -> String {
    let mut text = numbers
        .iter()
        .take(MAX_LISTED_LINES)
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if numbers.len() > MAX_LISTED_LINES {
        text.push_str(", …");
    }
    text
}
