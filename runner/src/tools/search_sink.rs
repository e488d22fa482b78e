//! The per-file end of `search`: a `grep-searcher` sink that keeps the first matching lines of
//! one file (with their context) and counts the rest without storing them.

use std::io;

use grep_searcher::{Searcher, Sink, SinkContext, SinkContextKind, SinkMatch};

use super::read::clip_line;

/// The lines `search` found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMatches {
    /// The file, relative to the root.
    pub path: String,
    /// Matching and context lines in line order, at most the result cap of matching ones.
    pub lines: Vec<FoundLine>,
    /// How many lines matched in the file, stored or not.
    pub matches: u64,
}

impl FileMatches {
    /// How many of `lines` are matches (not context).
    pub fn stored_matches(&self) -> usize {
        self.lines.iter().filter(|l| l.is_match).count()
    }
}

/// One line of search output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLine {
    /// 1-based line number.
    pub number: u64,
    /// The line without its terminator, cut if very long.
    pub text: String,
    /// A matching line, or a context line around one.
    pub is_match: bool,
}

/// Collects one file's lines. Only stored lines are turned into `String`s; matches past the cap
/// are just counted.
pub(crate) struct FileSink {
    lines: Vec<FoundLine>,
    matches: u64,
    stored: usize,
    cap: usize,
    line_chars: usize,
    /// Whether after-context belongs to a stored match (so is shown).
    keep_after: bool,
}

impl FileSink {
    pub fn new(cap: usize, line_chars: usize) -> Self {
        FileSink {
            lines: Vec::new(),
            matches: 0,
            stored: 0,
            cap,
            line_chars,
            keep_after: false,
        }
    }

    pub fn matches(&self) -> u64 {
        self.matches
    }

    pub fn into_matches(self, path: String) -> FileMatches {
        FileMatches {
            path,
            lines: self.lines,
            matches: self.matches,
        }
    }

    fn store(&mut self, number: u64, bytes: &[u8], is_match: bool) {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = String::from_utf8_lossy(bytes);
        let text = clip_line(&text, self.line_chars).into_owned();
        self.lines.push(FoundLine {
            number,
            text,
            is_match,
        });
    }
}

impl Sink for FileSink {
    type Error = io::Error;

    fn matched(&mut self, _searcher: &Searcher, found: &SinkMatch<'_>) -> Result<bool, io::Error> {
        let first = found.line_number().unwrap_or(0);
        for (number, line) in (first..).zip(found.lines()) {
            self.matches += 1;
            if self.stored < self.cap {
                self.store(number, line, true);
                self.stored += 1;
                self.keep_after = true;
            } else {
                self.keep_after = false;
            }
        }
        Ok(true)
    }

    fn context(
        &mut self,
        _searcher: &Searcher,
        context: &SinkContext<'_>,
    ) -> Result<bool, io::Error> {
        let keep = match context.kind() {
            SinkContextKind::Before => self.stored < self.cap,
            SinkContextKind::After => self.keep_after,
            SinkContextKind::Other => false,
        };
        if keep {
            let number = context.line_number().unwrap_or(0);
            self.store(number, context.bytes(), false);
        }
        Ok(true)
    }
}
