//! `edit_file` (replace one exact occurrence of a text) and `write_file` (write a whole file).

use std::fmt;
use std::fs;
use std::io;

use memchr::memmem;

use super::error::ToolError;
use super::read::{MAX_FILE_BYTES, load_text};
use super::similar::hint_for;
use super::workspace::Workspace;

/// The result of a successful `edit_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    /// The file edited, relative to the root.
    pub path: String,
    /// The first line of the replaced text.
    pub start_line: usize,
    /// The last line of the replaced text, before the edit.
    pub old_end_line: usize,
    /// The last line of the new text, after the edit.
    pub new_end_line: usize,
    /// Whether the new text is empty (the old text was deleted).
    pub removed: bool,
    /// Whether the texts were matched with `\r\n` line endings, as the file uses.
    pub crlf: bool,
}

/// The result of a successful `write_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The file written, relative to the root.
    pub path: String,
    /// Whether the file is new.
    pub created: bool,
    /// How many lines were written.
    pub lines: usize,
    /// How many bytes were written.
    pub bytes: usize,
}

impl Workspace {
    /// Replaces the single exact occurrence of `old` in `path` with `new`. When `old` is not
    /// found, or found more than once, the error says where to look (see [`ToolError`]).
    ///
    /// If the file uses `\r\n` line endings and `old` uses `\n`, both texts are converted to
    /// `\r\n` before matching, so the model need not reproduce the carriage returns.
    pub fn edit_file(&self, path: &str, old: &str, new: &str) -> Result<EditOutcome, ToolError> {
        let (resolved, bytes) = self.resolve_file(path)?;
        let rel = resolved.rel;
        if old.is_empty() {
            return Err(ToolError::EmptyOldText { path: rel });
        }
        let content = load_text(&resolved.abs, &rel, bytes)?;

        let mut crlf = false;
        let (mut old, mut new) = (old.to_owned(), new.to_owned());
        let mut found = occurrences(&content, old.as_bytes());
        if found.is_empty() && old.contains('\n') && !old.contains("\r\n") {
            let old_crlf = old.replace('\n', "\r\n");
            let again = occurrences(&content, old_crlf.as_bytes());
            if !again.is_empty() {
                (old, new, found, crlf) = (old_crlf, new.replace('\n', "\r\n"), again, true);
            }
        }
        match found.as_slice() {
            [] => Err(ToolError::EditNoMatch {
                hint: hint_for(&String::from_utf8_lossy(&content), &old),
                path: rel,
            }),
            [offset] => {
                let offset = *offset;
                let mut edited = Vec::with_capacity(content.len() + new.len());
                edited.extend_from_slice(&content[..offset]);
                edited.extend_from_slice(new.as_bytes());
                edited.extend_from_slice(&content[offset + old.len()..]);
                fs::write(&resolved.abs, &edited).map_err(|err| ToolError::io(&rel, err))?;
                let start_line = line_of(&content, offset);
                Ok(EditOutcome {
                    start_line,
                    old_end_line: start_line + extra_lines(&old),
                    new_end_line: start_line + extra_lines(&new),
                    removed: new.is_empty(),
                    crlf,
                    path: rel,
                })
            }
            many => Err(ToolError::EditAmbiguous {
                count: many.len(),
                lines: many.iter().map(|&o| line_of(&content, o)).collect(),
                path: rel,
            }),
        }
    }

    /// Writes `content` as the whole of `path`, creating the file and its parent directories
    /// if needed.
    pub fn write_file(&self, path: &str, content: &str) -> Result<WriteOutcome, ToolError> {
        let resolved = self.resolve(path)?;
        let rel = resolved.rel.clone();
        if rel.is_empty() || resolved.abs.is_dir() {
            return Err(ToolError::IsADirectory { path: rel });
        }
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(ToolError::TooLarge {
                path: rel,
                bytes: content.len() as u64,
                limit: MAX_FILE_BYTES,
            });
        }
        let created = !resolved.exists();
        if let Some(parent) = resolved.abs.parent() {
            fs::create_dir_all(parent).map_err(|err| match err.kind() {
                io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
                    ToolError::NotADirectory {
                        path: rel.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned(),
                    }
                }
                _ => ToolError::io(&rel, err),
            })?;
        }
        fs::write(&resolved.abs, content).map_err(|err| ToolError::io(&rel, err))?;
        Ok(WriteOutcome {
            path: rel,
            created,
            lines: content.lines().count(),
            bytes: content.len(),
        })
    }
}

/// The start offsets of the non-overlapping occurrences of `needle`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    let finder = memmem::Finder::new(needle);
    while let Some(at) = finder.find(&haystack[from..]) {
        found.push(from + at);
        from += at + needle.len().max(1);
    }
    found
}

/// The 1-based line number of byte `offset`.
fn line_of(content: &[u8], offset: usize) -> usize {
    memchr::memchr_iter(b'\n', &content[..offset]).count() + 1
}

/// How many lines past its first a text spans (a final newline ends a line, not starts one).
fn extra_lines(text: &str) -> usize {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.matches('\n').count()
}

impl fmt::Display for EditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.removed {
            write!(
                f,
                "edited `{}`: removed the text at lines {}-{}",
                self.path, self.start_line, self.old_end_line
            )?;
        } else {
            write!(
                f,
                "edited `{}`: replaced lines {}-{}; the new text is at lines {}-{}",
                self.path, self.start_line, self.old_end_line, self.start_line, self.new_end_line
            )?;
        }
        if self.crlf {
            f.write_str(" (the file uses \\r\\n line endings, which were kept)")?;
        }
        Ok(())
    }
}

impl fmt::Display for WriteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.created { "created" } else { "overwrote" };
        write!(
            f,
            "{verb} `{}` ({} lines, {} bytes)",
            self.path, self.lines, self.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::tools::ToolError;
    use crate::tools::error::NoMatchHint;
    use crate::tools::test_support::{workspace_with, write};

    const MAIN: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n";

    #[test]
    fn replaces_a_single_exact_match() {
        let (dir, ws) = workspace_with(&[("src/main.rs", MAIN)]);
        let outcome = ws
            .edit_file(
                "src/main.rs",
                "    let x = 1;\n",
                "    let x = 2;\n    let y = 3;\n",
            )
            .unwrap();
        assert_eq!(
            outcome.to_string(),
            "edited `src/main.rs`: replaced lines 2-2; the new text is at lines 2-3"
        );
        let now = fs::read_to_string(dir.path().join("src/main.rs")).unwrap();
        assert_eq!(
            now,
            "fn main() {\n    let x = 2;\n    let y = 3;\n    println!(\"{x}\");\n}\n"
        );
        let removed = ws.edit_file("src/main.rs", "    let y = 3;\n", "").unwrap();
        assert_eq!(
            removed.to_string(),
            "edited `src/main.rs`: removed the text at lines 3-3"
        );
    }

    #[test]
    fn not_found_shows_the_closest_lines() {
        let (_dir, ws) = workspace_with(&[("src/main.rs", MAIN)]);
        let err = ws
            .edit_file(
                "src/main.rs",
                "    let x = 10;\n    println!(\"{x}\");",
                "y",
            )
            .unwrap_err();
        assert!(matches!(
            err,
            ToolError::EditNoMatch {
                hint: NoMatchHint::Closest {
                    start: 2,
                    end: 3,
                    ..
                },
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "the text to replace was not found in `src/main.rs`. The most similar lines are 2-3; \
             copy the exact text from the file (read_file shows it) and retry:\n\
             2\t    let x = 1;\n3\t    println!(\"{x}\");\n"
        );
    }

    #[test]
    fn not_found_points_out_whitespace_differences() {
        let (_dir, ws) = workspace_with(&[("src/main.rs", MAIN)]);
        let old = "let x = 1;\nprintln!(\"{x}\");";
        let err = ws.edit_file("src/main.rs", old, "").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Lines 2-3 match except for whitespace"),
            "{text}"
        );
        assert!(
            text.ends_with("2\t    let x = 1;\n3\t    println!(\"{x}\");\n"),
            "{text}"
        );
    }

    #[test]
    fn multiple_matches_say_how_many_and_where() {
        let (_dir, ws) = workspace_with(&[("a.txt", "x = 1\ny = 2\nx = 1\n\nx = 1\n")]);
        let err = ws.edit_file("a.txt", "x = 1", "x = 9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the text to replace occurs 3 times in `a.txt` (starting at lines 1, 3, 5); \
             include more surrounding lines so that it matches exactly once"
        );
        assert!(
            ws.edit_file("a.txt", "y = 2\nx = 1", "y = 2\nx = 9")
                .is_ok()
        );
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let (dir, ws) = workspace_with(&[("win.txt", "one\r\ntwo\r\nthree\r\n")]);
        let outcome = ws.edit_file("win.txt", "one\ntwo\n", "uno\ndos\n").unwrap();
        assert!(outcome.crlf);
        let now = fs::read_to_string(dir.path().join("win.txt")).unwrap();
        assert_eq!(now, "uno\r\ndos\r\nthree\r\n");
    }

    #[test]
    fn refuses_empty_old_text_binary_files_and_escapes() {
        let (dir, ws) = workspace_with(&[("a.txt", "x")]);
        write(&dir, "bin.dat", b"ab\0cd");
        assert!(matches!(
            ws.edit_file("a.txt", "", "y").unwrap_err(),
            ToolError::EmptyOldText { .. }
        ));
        assert!(matches!(
            ws.edit_file("bin.dat", "ab", "y").unwrap_err(),
            ToolError::BinaryFile { .. }
        ));
        assert!(matches!(
            ws.edit_file("../a.txt", "x", "y").unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
        assert!(matches!(
            ws.edit_file("missing.txt", "x", "y").unwrap_err(),
            ToolError::NotFound { .. }
        ));
    }

    #[test]
    fn writes_new_files_with_parent_directories_and_overwrites() {
        let (dir, ws) = workspace_with(&[("src/lib.rs", "old")]);
        let created = ws.write_file("src/new/mod.rs", "pub fn f() {}\n").unwrap();
        assert_eq!(
            created.to_string(),
            "created `src/new/mod.rs` (1 lines, 14 bytes)"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/new/mod.rs")).unwrap(),
            "pub fn f() {}\n"
        );
        let overwrote = ws.write_file("src/lib.rs", "new\n").unwrap();
        assert!(!overwrote.created);
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            "new\n"
        );
    }

    #[test]
    fn write_refuses_directories_git_escapes_and_files_as_parents() {
        let (_dir, ws) = workspace_with(&[("src/lib.rs", "x")]);
        assert!(matches!(
            ws.write_file("src", "x").unwrap_err(),
            ToolError::IsADirectory { .. }
        ));
        assert!(matches!(
            ws.write_file("", "x").unwrap_err(),
            ToolError::IsADirectory { .. }
        ));
        assert!(matches!(
            ws.write_file(".git/hooks/pre-commit", "x").unwrap_err(),
            ToolError::GitDirectory { .. }
        ));
        assert!(matches!(
            ws.write_file("../evil.txt", "x").unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
        assert!(matches!(
            ws.write_file("/tmp/evil.txt", "x").unwrap_err(),
            ToolError::AbsolutePath { .. }
        ));
        let err = ws.write_file("src/lib.rs/inner.rs", "x").unwrap_err();
        assert!(
            matches!(err, ToolError::NotADirectory { ref path } if path == "src/lib.rs"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn write_refuses_links_that_lead_outside() {
        let (dir, ws) = workspace_with(&[("a.txt", "x")]);
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim.txt");
        fs::write(&target, "safe").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("link.txt")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("new.txt"),
            dir.path().join("dangling.txt"),
        )
        .unwrap();
        assert!(matches!(
            ws.write_file("link.txt", "pwned").unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
        assert!(ws.write_file("dangling.txt", "pwned").is_err());
        assert!(ws.edit_file("link.txt", "safe", "pwned").is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "safe");
        assert!(!outside.path().join("new.txt").exists());
    }
}
