//! `edit_file` (replace one exact occurrence of a text) and `write_file` (write a whole file).

use std::fmt;
use std::fs;
use std::io;

use memchr::memmem;

use super::error::ToolError;
use super::read::{MAX_FILE_BYTES, load_text};
use super::similar::{hint_for, unique_whitespace_match};
use super::syntax::{SyntaxProblem, broken_by_edit};
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
    /// Whether the old text matched only with the whitespace at the ends of its lines
    /// ignored (exactly one place did), and the new text was indented as the file is.
    pub loose: bool,
    /// The file's first syntax error, when it parsed before the edit and does not now.
    pub syntax: Option<SyntaxProblem>,
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
    /// The file's first syntax error, when it parsed before (or is new) and does not now.
    pub syntax: Option<SyntaxProblem>,
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
            [] => {
                // Only a file that is UTF-8 throughout is rewritten from its text.
                let loose = std::str::from_utf8(&content).ok().and_then(|text| {
                    unique_whitespace_match(text, &old).map(|window| (text, window))
                });
                match loose {
                    Some((text, window)) => {
                        let (mut outcome, edited) = loose_edit(text, window, &old, &new, &rel);
                        fs::write(&resolved.abs, &edited)
                            .map_err(|err| ToolError::io(&rel, err))?;
                        outcome.syntax = broken_by_edit(&rel, Some(&content), &edited);
                        self.history().record(&rel, Some(content));
                        Ok(outcome)
                    }
                    None => Err(ToolError::EditNoMatch {
                        hint: hint_for(&String::from_utf8_lossy(&content), &old),
                        path: rel,
                    }),
                }
            }
            [offset] => {
                let offset = *offset;
                let mut edited = Vec::with_capacity(content.len() + new.len());
                edited.extend_from_slice(&content[..offset]);
                edited.extend_from_slice(new.as_bytes());
                edited.extend_from_slice(&content[offset + old.len()..]);
                fs::write(&resolved.abs, &edited).map_err(|err| ToolError::io(&rel, err))?;
                let start_line = line_of(&content, offset);
                let syntax = broken_by_edit(&rel, Some(&content), &edited);
                self.history().record(&rel, Some(content));
                Ok(EditOutcome {
                    start_line,
                    old_end_line: start_line + extra_lines(&old),
                    new_end_line: start_line + extra_lines(&new),
                    removed: new.is_empty(),
                    crlf,
                    loose: false,
                    syntax,
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
        // What the file held, for undo_edit and to tell whether this write broke its syntax.
        // A file too large to load is overwritten without being kept.
        let before = if created {
            None
        } else {
            fs::metadata(&resolved.abs)
                .ok()
                .filter(|meta| meta.len() <= MAX_FILE_BYTES)
                .and_then(|_| fs::read(&resolved.abs).ok())
        };
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
        let kept = created || before.is_some();
        let syntax = kept
            .then(|| broken_by_edit(&rel, before.as_deref(), content.as_bytes()))
            .flatten();
        if kept {
            self.history().record(&rel, before);
        }
        Ok(WriteOutcome {
            path: rel,
            created,
            lines: content.lines().count(),
            bytes: content.len(),
            syntax,
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
        if self.loose {
            f.write_str(
                ". The old text matched only with whitespace ignored (at one place, so the \
                 edit was made there) and the new text was indented as those lines are: \
                 read the lines back if the indentation matters",
            )?;
        }
        if let Some(problem) = &self.syntax {
            broke(f, &self.path, problem, false)?;
        }
        Ok(())
    }
}

/// The warning that follows an edit's result when the edit broke the file's syntax.
fn broke(
    f: &mut fmt::Formatter<'_>,
    path: &str,
    problem: &SyntaxProblem,
    created: bool,
) -> fmt::Result {
    let language = problem.language;
    if created {
        write!(
            f,
            "\nWarning: `{path}` does not parse as {language} ({problem}). Fix it with \
             another edit, or call undo_edit to remove the file"
        )
    } else {
        write!(
            f,
            "\nWarning: `{path}` no longer parses as {language} after this edit ({problem}); \
             it did before. Fix it with another edit, or call undo_edit to put the file back \
             as it was"
        )
    }
}

/// Replaces the `window` of lines `(first, count)` of `text` that `old` matches with
/// whitespace ignored by `new`, indented as the file's first line of the window is rather
/// than as `old`'s, with the file's line endings. Returns the outcome and the new content.
fn loose_edit(
    text: &str,
    (first, count): (usize, usize),
    old: &str,
    new: &str,
    rel: &str,
) -> (EditOutcome, Vec<u8>) {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    let begin = starts[first];
    // The window's last line ends before its terminator, which stays.
    let last_start = starts[first + count - 1];
    let last_end = text[last_start..]
        .find('\n')
        .map_or(text.len(), |at| last_start + at);
    let last_end = if text[..last_end].ends_with('\r') {
        last_end - 1
    } else {
        last_end
    };
    // Line `i` of the file without its terminator.
    let line_at = |i: usize| {
        let end = starts.get(i + 1).map_or(text.len(), |next| next - 1);
        text[starts[i]..end]
            .strip_suffix('\r')
            .unwrap_or(&text[starts[i]..end])
    };
    let crlf = text[begin..]
        .find('\n')
        .is_some_and(|at| text[..begin + at].ends_with('\r'));
    let indent = |line: &str| line.len() - line.trim_start().len();
    // The first line of `old` with text, and the file's line it matched.
    let (offset, old_first) = old
        .lines()
        .enumerate()
        .find(|(_, line)| !line.trim().is_empty())
        .unwrap_or((0, ""));
    let file_line = line_at(first + offset.min(count - 1));
    let file_indent = &file_line[..indent(file_line)];
    let old_indent = &old_first[..indent(old_first)];
    let new = new.strip_suffix('\n').unwrap_or(new);
    let reindented: Vec<String> = new
        .split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                String::new()
            } else if let Some(rest) = line.strip_prefix(old_indent) {
                format!("{file_indent}{rest}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    let joined = reindented.join(if crlf { "\r\n" } else { "\n" });
    let mut edited = Vec::with_capacity(text.len() + joined.len());
    edited.extend_from_slice(&text.as_bytes()[..begin]);
    edited.extend_from_slice(joined.as_bytes());
    edited.extend_from_slice(&text.as_bytes()[last_end..]);
    let start_line = first + 1;
    let outcome = EditOutcome {
        path: rel.to_owned(),
        start_line,
        old_end_line: first + count,
        new_end_line: start_line + reindented.len().saturating_sub(1),
        removed: new.is_empty(),
        crlf,
        loose: true,
        syntax: None,
    };
    (outcome, edited)
}

impl fmt::Display for WriteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.created { "created" } else { "overwrote" };
        write!(
            f,
            "{verb} `{}` ({} lines, {} bytes)",
            self.path, self.lines, self.bytes
        )?;
        if let Some(problem) = &self.syntax {
            broke(f, &self.path, problem, self.created)?;
        }
        Ok(())
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
    fn a_unique_match_but_for_whitespace_is_applied_indented_as_the_file_is() {
        let (dir, ws) = workspace_with(&[("src/main.rs", MAIN)]);
        let old = "let x = 1;\n  println!(\"{x}\");";
        let new = "let x = 2;\nlet y = x + 1;\nprintln!(\"{y}\");\n";
        let outcome = ws.edit_file("src/main.rs", old, new).unwrap();
        assert!(outcome.loose);
        assert_eq!((outcome.start_line, outcome.old_end_line), (2, 3));
        assert_eq!(outcome.new_end_line, 4);
        let text = outcome.to_string();
        assert!(
            text.contains("matched only with whitespace ignored"),
            "{text}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/main.rs")).unwrap(),
            "fn main() {\n    let x = 2;\n    let y = x + 1;\n    println!(\"{y}\");\n}\n",
            "written without indentation, like old: every line gets the file's"
        );

        // Written with old's own (wrong) indentation, every line moves to the file's.
        let (dir, ws) = workspace_with(&[("src/main.rs", MAIN)]);
        let old = "  let x = 1;\n  println!(\"{x}\");\n";
        let new = "  let x = 2;\n  println!(\"{x}\");\n";
        ws.edit_file("src/main.rs", old, new).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("src/main.rs")).unwrap(),
            "fn main() {\n    let x = 2;\n    println!(\"{x}\");\n}\n"
        );
    }

    #[test]
    fn a_loose_match_keeps_crlf_line_endings() {
        let (dir, ws) = workspace_with(&[("win.txt", "a {\r\n    one\r\n    two\r\n}\r\n")]);
        let outcome = ws.edit_file("win.txt", "one\ntwo", "uno\ndos").unwrap();
        assert!(outcome.loose && outcome.crlf);
        assert_eq!(
            fs::read_to_string(dir.path().join("win.txt")).unwrap(),
            "a {\r\n    uno\r\n    dos\r\n}\r\n"
        );
    }

    #[test]
    fn whitespace_only_matches_in_two_places_are_pointed_out_not_applied() {
        let twice = "fn a() {\n    let x = 1;\n}\nfn b() {\n  let x = 1;\n}\n";
        let (dir, ws) = workspace_with(&[("src/lib.rs", twice)]);
        let err = ws
            .edit_file("src/lib.rs", "let x = 1; ", "let x = 2;")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("match except for whitespace"), "{text}");
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            twice,
            "nothing written"
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

    #[test]
    fn a_write_that_breaks_a_file_says_where_and_a_broken_file_is_not_blamed_on_it() {
        let (_dir, ws) = workspace_with(&[("src/main.rs", MAIN), ("src/old.rs", "fn (\n")]);
        let new = ws.write_file("src/new.py", "def f(:\n    pass\n").unwrap();
        assert_eq!(
            new.to_string(),
            "created `src/new.py` (2 lines, 17 bytes)\nWarning: `src/new.py` does not parse \
             as Python (line 1, column 7: missing `)`). Fix it with another edit, or call \
             undo_edit to remove the file"
        );
        let overwrite = ws.write_file("src/main.rs", "fn main() {\n").unwrap();
        assert!(
            overwrite
                .syntax
                .as_ref()
                .is_some_and(|problem| problem.line == 1),
            "{overwrite}"
        );
        // It did not parse before either: not this write's doing.
        let old = ws.write_file("src/old.rs", "fn ) {\n").unwrap();
        assert_eq!(old.syntax, None);
    }
}
