//! `read_file`: a file's lines, numbered, in a range the model chooses, capped in size.

use std::borrow::Cow;
use std::fmt;
use std::fs;

use super::error::ToolError;
use super::workspace::Workspace;

/// The most lines one `read_file` call shows: a long module fits in two or three calls, and a
/// single call can't flood the model's context.
pub const MAX_READ_LINES: usize = 500;

/// The most characters one `read_file` call shows, for files with long lines (minified code,
/// generated data) where the line cap alone would let a call return megabytes.
pub const MAX_READ_CHARS: usize = 40_000;

/// Longer lines are cut with a note: nothing a model edits has lines this long, and one such
/// line (a minified bundle) would otherwise use the whole character budget.
pub(crate) const MAX_LINE_CHARS: usize = 1_000;

/// The largest file `read_file` and `edit_file` load; larger ones are data, not source, and
/// the model can still `search` them.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// How much of the start of a file is checked for a NUL byte, the same test git uses to call a
/// file binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Which lines to read: 1-based and inclusive; `end: None` reads to the end (within the caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    pub start: usize,
    pub end: Option<usize>,
}

/// The result of `read_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    /// The path read, relative to the root.
    pub path: String,
    /// The number of the first line in `lines`.
    pub first_line: usize,
    /// The lines shown, each already cut to [`MAX_LINE_CHARS`], without line terminators.
    pub lines: Vec<String>,
    /// How many lines the file has.
    pub total_lines: usize,
    /// The last line the caller asked for; more than shown when a cap cut the view short.
    pub requested_end: usize,
}

impl Workspace {
    /// Reads `path` (relative to the root), optionally only the lines in `range`.
    pub fn read_file(&self, path: &str, range: Option<LineRange>) -> Result<FileView, ToolError> {
        let range = range.unwrap_or(LineRange {
            start: 1,
            end: None,
        });
        if range.start == 0 {
            return Err(ToolError::InvalidRange {
                reason: "lines are numbered from 1".to_owned(),
            });
        }
        if let Some(end) = range.end.filter(|&end| end < range.start) {
            return Err(ToolError::InvalidRange {
                reason: format!(
                    "the end line {end} is before the start line {}",
                    range.start
                ),
            });
        }
        let (resolved, bytes) = self.resolve_file(path)?;
        let content = load_text(&resolved.abs, &resolved.rel, bytes)?;
        let all: Vec<&[u8]> = split_lines(&content).collect();
        let total_lines = all.len();
        if range.start > total_lines.max(1) {
            return Err(ToolError::LineOutOfRange {
                path: resolved.rel,
                start: range.start,
                lines: total_lines,
            });
        }
        let requested_end = range.end.unwrap_or(total_lines).min(total_lines);
        let mut lines = Vec::new();
        let mut chars = 0;
        for line in all.iter().take(requested_end).skip(range.start - 1) {
            let text = clip_line(&String::from_utf8_lossy(line), MAX_LINE_CHARS).into_owned();
            chars += text.len() + 8;
            if lines.len() == MAX_READ_LINES || (chars > MAX_READ_CHARS && !lines.is_empty()) {
                break;
            }
            lines.push(text);
        }
        Ok(FileView {
            path: resolved.rel,
            first_line: range.start,
            lines,
            total_lines,
            requested_end,
        })
    }
}

impl fmt::Display for FileView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total_lines == 0 {
            return write!(f, "`{}` is empty", self.path);
        }
        let last = self.first_line + self.lines.len() - 1;
        writeln!(
            f,
            "{} (lines {}-{last} of {})",
            self.path, self.first_line, self.total_lines
        )?;
        let width = last.to_string().len();
        for (offset, line) in self.lines.iter().enumerate() {
            writeln!(f, "{:>width$}\t{line}", self.first_line + offset)?;
        }
        if last < self.requested_end {
            write!(
                f,
                "[output capped at {MAX_READ_LINES} lines or {MAX_READ_CHARS} characters; read from line {} to continue]",
                last + 1
            )?;
        }
        Ok(())
    }
}

/// Reads a file that must be text and within [`MAX_FILE_BYTES`].
pub(crate) fn load_text(
    abs: &std::path::Path,
    rel: &str,
    bytes: u64,
) -> Result<Vec<u8>, ToolError> {
    if bytes > MAX_FILE_BYTES {
        return Err(ToolError::TooLarge {
            path: rel.to_owned(),
            bytes,
            limit: MAX_FILE_BYTES,
        });
    }
    let content = fs::read(abs).map_err(|err| ToolError::io(rel, err))?;
    if is_binary(&content) {
        return Err(ToolError::BinaryFile {
            path: rel.to_owned(),
            bytes: content.len() as u64,
        });
    }
    Ok(content)
}

/// Whether the content looks binary: a NUL byte near the start.
pub(crate) fn is_binary(content: &[u8]) -> bool {
    content[..content.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// The lines of `content` without their `\n` or `\r\n`; a final newline does not start an
/// extra empty line.
pub(crate) fn split_lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    let empty = content.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// `line` cut to `max` characters, with a note saying how long it was.
pub(crate) fn clip_line(line: &str, max: usize) -> Cow<'_, str> {
    if line.len() <= max {
        return Cow::Borrowed(line);
    }
    match line.char_indices().nth(max) {
        None => Cow::Borrowed(line),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… [line cut, {} characters in all]",
            &line[..cut],
            line.chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{workspace_with, write};

    #[test]
    fn reads_numbered_lines_in_a_range() {
        let (_dir, ws) = workspace_with(&[("src/a.rs", "one\ntwo\r\nthree\nfour\n")]);
        let all = ws.read_file("src/a.rs", None).unwrap();
        assert_eq!(all.total_lines, 4);
        assert_eq!(
            all.to_string(),
            "src/a.rs (lines 1-4 of 4)\n1\tone\n2\ttwo\n3\tthree\n4\tfour\n"
        );
        let some = ws
            .read_file(
                "src/a.rs",
                Some(LineRange {
                    start: 2,
                    end: Some(3),
                }),
            )
            .unwrap();
        assert_eq!(
            some.to_string(),
            "src/a.rs (lines 2-3 of 4)\n2\ttwo\n3\tthree\n"
        );
        let past_end = ws
            .read_file(
                "src/a.rs",
                Some(LineRange {
                    start: 3,
                    end: Some(99),
                }),
            )
            .unwrap();
        assert_eq!(past_end.lines, ["three", "four"]);
    }

    #[test]
    fn reports_bad_ranges() {
        let (_dir, ws) = workspace_with(&[("a.txt", "one\ntwo\n")]);
        let zero = ws.read_file(
            "a.txt",
            Some(LineRange {
                start: 0,
                end: None,
            }),
        );
        assert!(matches!(zero.unwrap_err(), ToolError::InvalidRange { .. }));
        let backwards = ws.read_file(
            "a.txt",
            Some(LineRange {
                start: 2,
                end: Some(1),
            }),
        );
        assert!(matches!(
            backwards.unwrap_err(),
            ToolError::InvalidRange { .. }
        ));
        let beyond = ws
            .read_file(
                "a.txt",
                Some(LineRange {
                    start: 5,
                    end: None,
                }),
            )
            .unwrap_err();
        assert_eq!(
            beyond.to_string(),
            "`a.txt` has 2 lines, so line 5 does not exist; ask for a range within 1-2"
        );
    }

    #[test]
    fn caps_long_files_and_says_where_to_continue() {
        let content: String = (1..=1200).map(|i| format!("line {i}\n")).collect();
        let (_dir, ws) = workspace_with(&[("big.txt", &content)]);
        let view = ws.read_file("big.txt", None).unwrap();
        assert_eq!(view.lines.len(), MAX_READ_LINES);
        let text = view.to_string();
        assert!(text.starts_with("big.txt (lines 1-500 of 1200)\n"));
        assert!(text.ends_with("read from line 501 to continue]"), "{text}");
    }

    #[test]
    fn cuts_very_long_lines_and_caps_characters() {
        let long = "x".repeat(5_000);
        let content = format!("{long}\n").repeat(60);
        let (_dir, ws) = workspace_with(&[("min.js", &content)]);
        let view = ws.read_file("min.js", None).unwrap();
        assert!(view.lines[0].ends_with("… [line cut, 5000 characters in all]"));
        assert!(view.to_string().len() <= MAX_READ_CHARS + 200);
        assert!(view.lines.len() < 60);
    }

    #[test]
    fn detects_binary_files_and_empty_files() {
        let (dir, ws) = workspace_with(&[("empty.txt", "")]);
        write(&dir, "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        let err = ws.read_file("logo.png", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`logo.png` is a binary file (16 bytes); it can't be read or edited as text"
        );
        assert_eq!(
            ws.read_file("empty.txt", None).unwrap().to_string(),
            "`empty.txt` is empty"
        );
    }

    #[test]
    fn explains_missing_files_directories_and_escapes() {
        let (_dir, ws) = workspace_with(&[("src/lib.rs", "x")]);
        let missing = ws.read_file("src/main.rs", None).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "`src/main.rs` does not exist; `src` exists, call list_files on it to see what it contains"
        );
        let dir = ws.read_file("src", None).unwrap_err();
        assert!(matches!(dir, ToolError::IsADirectory { .. }));
        let escape = ws.read_file("../../etc/passwd", None).unwrap_err();
        assert!(matches!(escape, ToolError::OutsideWorkspace { .. }));
        let absolute = ws.read_file("/etc/passwd", None).unwrap_err();
        assert!(matches!(absolute, ToolError::AbsolutePath { .. }));
        let git = ws.read_file(".git/config", None).unwrap_err();
        assert!(matches!(git, ToolError::GitDirectory { .. }));
    }
}
