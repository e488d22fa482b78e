//! `undo_edit`: put a file back as it was before the last `edit_file` or `write_file` of it
//! in this run, so a model that broke a file need not reconstruct it by hand.
//!
//! The workspace keeps what each edited file held before each edit, newest last, up to
//! [`MAX_UNDO_BYTES`] over all files; past that the oldest are forgotten first, so the most
//! recent edits can always be undone.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs;

use super::error::ToolError;
use super::syntax::{SyntaxProblem, first_problem};
use super::workspace::Workspace;

/// The most bytes of earlier file contents kept for undoing.
pub const MAX_UNDO_BYTES: usize = 64 * 1024 * 1024;

/// What files held before the run's edits. Its `Debug` shows counts, never contents.
#[derive(Default)]
pub(crate) struct History {
    /// Per relative path, what it held before each edit, oldest first; `None` when the edit
    /// created the file.
    before: HashMap<String, Vec<Option<Vec<u8>>>>,
    /// The paths in the order their earlier contents were kept, for forgetting the oldest.
    order: VecDeque<String>,
    bytes: usize,
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History")
            .field("files", &self.before.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl History {
    /// Keeps what `rel` held before an edit (`None`: it did not exist).
    pub(crate) fn record(&mut self, rel: &str, before: Option<Vec<u8>>) {
        self.bytes += before.as_ref().map_or(0, Vec::len);
        self.before.entry(rel.to_owned()).or_default().push(before);
        self.order.push_back(rel.to_owned());
        while self.bytes > MAX_UNDO_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(stack) = self.before.get_mut(&oldest)
                && !stack.is_empty()
            {
                let forgotten = stack.remove(0);
                self.bytes -= forgotten.as_ref().map_or(0, Vec::len);
            }
        }
    }

    /// Takes back the newest kept content of `rel`, and how many remain after it.
    fn take(&mut self, rel: &str) -> Option<(Option<Vec<u8>>, usize)> {
        let stack = self.before.get_mut(rel)?;
        let before = stack.pop()?;
        self.bytes -= before.as_ref().map_or(0, Vec::len);
        if let Some(at) = self.order.iter().rposition(|path| path == rel) {
            self.order.remove(at);
        }
        Some((before, stack.len()))
    }
}

/// The result of a successful `undo_edit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoOutcome {
    pub path: String,
    /// Whether the undone edit created the file, which is now removed.
    pub removed: bool,
    /// How many earlier edits of the file can still be undone.
    pub remaining: usize,
    /// The file's first syntax error as restored, if it has one (it had it before too).
    pub syntax: Option<SyntaxProblem>,
}

impl fmt::Display for UndoOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed {
            write!(
                f,
                "removed `{}`: your write_file created it, and undoing that removes it",
                self.path
            )?;
        } else {
            write!(
                f,
                "restored `{}` to what it was before your last edit of it",
                self.path
            )?;
        }
        match self.remaining {
            0 => f.write_str("; no earlier edit of it is left to undo")?,
            1 => f.write_str("; 1 earlier edit of it can be undone")?,
            n => write!(f, "; {n} earlier edits of it can be undone")?,
        }
        if !self.removed {
            f.write_str(". Read it again before editing it")?;
        }
        if let Some(problem) = &self.syntax {
            write!(
                f,
                ". It still does not parse as {} ({problem})",
                problem.language
            )?;
        }
        Ok(())
    }
}

impl Workspace {
    /// Puts `path` back as it was before the newest edit of it this run made.
    pub fn undo_edit(&self, path: &str) -> Result<UndoOutcome, ToolError> {
        let resolved = self.resolve(path)?;
        let rel = resolved.rel.clone();
        let taken = self.history().take(&rel);
        let Some((before, remaining)) = taken else {
            return Err(ToolError::NothingToUndo { path: rel });
        };
        let outcome = match before {
            Some(content) => {
                let restored = fs::write(&resolved.abs, &content);
                if let Err(err) = restored {
                    // Kept, so the model may try again.
                    self.history().record(&rel, Some(content));
                    return Err(ToolError::io(&rel, err));
                }
                UndoOutcome {
                    syntax: first_problem(&rel, &content),
                    path: rel,
                    removed: false,
                    remaining,
                }
            }
            None => {
                if let Err(err) = fs::remove_file(&resolved.abs)
                    && err.kind() != std::io::ErrorKind::NotFound
                {
                    self.history().record(&rel, None);
                    return Err(ToolError::io(&rel, err));
                }
                UndoOutcome {
                    path: rel,
                    removed: true,
                    remaining,
                    syntax: None,
                }
            }
        };
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::tools::test_support::workspace_with;

    const LIB: &str = "fn a() {}\n";

    #[test]
    fn each_undo_goes_one_edit_further_back_and_then_says_there_is_none() {
        let (dir, ws) = workspace_with(&[("src/lib.rs", LIB)]);
        ws.edit_file("src/lib.rs", "fn a() {}", "fn a() { 1 }")
            .unwrap();
        ws.edit_file("src/lib.rs", "{ 1 }", "{ 2 }").unwrap();
        let read = || fs::read_to_string(dir.path().join("src/lib.rs")).unwrap();

        let first = ws.undo_edit("src/lib.rs").unwrap();
        assert_eq!(read(), "fn a() { 1 }\n");
        assert_eq!(
            first.to_string(),
            "restored `src/lib.rs` to what it was before your last edit of it; 1 earlier \
             edit of it can be undone. Read it again before editing it"
        );
        ws.undo_edit("./src/lib.rs").unwrap();
        assert_eq!(read(), LIB);
        let none = ws.undo_edit("src/lib.rs").unwrap_err();
        assert_eq!(
            none.to_string(),
            "there is no edit of `src/lib.rs` in this task to undo"
        );
    }

    #[test]
    fn undoing_a_created_file_removes_it_and_an_overwrite_restores_it() {
        let (dir, ws) = workspace_with(&[("src/lib.rs", LIB)]);
        ws.write_file("src/new.rs", "fn b() {}\n").unwrap();
        ws.write_file("src/lib.rs", "fn c() {}\n").unwrap();
        let removed = ws.undo_edit("src/new.rs").unwrap();
        assert!(removed.removed);
        assert!(!dir.path().join("src/new.rs").exists());
        ws.undo_edit("src/lib.rs").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            LIB
        );
    }

    #[test]
    fn a_failed_edit_leaves_nothing_to_undo() {
        let (_dir, ws) = workspace_with(&[("src/lib.rs", LIB)]);
        ws.edit_file("src/lib.rs", "not there", "x").unwrap_err();
        assert!(matches!(
            ws.undo_edit("src/lib.rs"),
            Err(ToolError::NothingToUndo { .. })
        ));
        assert!(matches!(
            ws.undo_edit("../outside.rs"),
            Err(ToolError::OutsideWorkspace { .. })
        ));
    }

    #[test]
    fn past_the_limit_the_oldest_contents_are_forgotten_first() {
        let mut history = History::default();
        let big = vec![b'x'; MAX_UNDO_BYTES / 2];
        history.record("a", Some(big.clone()));
        history.record("b", Some(big.clone()));
        history.record("a", Some(vec![b'y'; 10]));
        // The first `a` went to make room; the newest `a` and `b` stay.
        assert!(history.bytes <= MAX_UNDO_BYTES);
        assert_eq!(history.take("a"), Some((Some(vec![b'y'; 10]), 0)));
        assert_eq!(history.take("a"), None);
        assert_eq!(history.take("b").map(|(_, left)| left), Some(0));
        assert_eq!(format!("{history:?}"), "History { files: 2, bytes: 0 }");
    }
}
