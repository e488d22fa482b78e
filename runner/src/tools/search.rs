//! `search`: ripgrep's engine (the `ignore` parallel walker, `grep-searcher`, `grep-regex`) over
//! the workspace, with results as `path:line: text`, capped and in path order.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder};
use ignore::WalkState;

use super::error::ToolError;
use super::file_cache::FileCache;
use super::read::clip_line;
use super::search_sink::{FileMatches, FileSink};
use super::walk::{GlobFilter, relative, walker};
use super::workspace::Workspace;

/// The result cap when the model gives none: enough to see how a name is used across a
/// codebase without spending much of the context on it.
pub const DEFAULT_MAX_RESULTS: usize = 100;

/// The most matching lines one search returns, whatever the model asks for.
pub const MAX_RESULTS_LIMIT: usize = 500;

/// The most context lines around each match; more is a `read_file` call's job.
pub const MAX_CONTEXT_LINES: usize = 10;

/// Matching lines are cut to this many characters: a match in minified code would otherwise
/// bring a whole bundle into the context.
const MAX_SEARCH_LINE_CHARS: usize = 300;

/// How the pattern is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatternKind {
    /// The pattern is exact text.
    #[default]
    Literal,
    /// The pattern is a regular expression in Rust `regex` syntax (as ripgrep's).
    Regex,
}

/// How letter case is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMode {
    /// Case must match.
    #[default]
    Sensitive,
    /// Case is ignored.
    Insensitive,
    /// Case is ignored unless the pattern has an upper-case letter (ripgrep's `--smart-case`).
    Smart,
}

/// The options of one search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Literal text (the default) or a regular expression.
    pub kind: PatternKind,
    /// Case matching; sensitive by default.
    pub case: CaseMode,
    /// Only files this glob accepts (see the `tools` module for the glob rules).
    pub glob: Option<String>,
    /// A file or directory to search instead of the whole workspace.
    pub path: Option<String>,
    /// The most matching lines to return, clamped to 1..=[`MAX_RESULTS_LIMIT`].
    pub max_results: usize,
    /// Lines of context before and after each match, at most [`MAX_CONTEXT_LINES`].
    pub context: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            kind: PatternKind::Literal,
            case: CaseMode::Sensitive,
            glob: None,
            path: None,
            max_results: DEFAULT_MAX_RESULTS,
            context: 0,
        }
    }
}

/// The result of `search`: the first matching lines in path order, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    /// The pattern searched for.
    pub pattern: String,
    /// Files with stored lines, in path order; together at most `max_results` matches.
    pub files: Vec<FileMatches>,
    /// How many matching lines there were in all the files searched.
    pub total_matches: u64,
    /// How many files had a match.
    pub files_with_matches: usize,
    /// The cap that applied.
    pub max_results: usize,
}

impl Workspace {
    /// Searches the workspace (or `options.path`) for `pattern`, line by line.
    pub fn search(
        &self,
        pattern: &str,
        options: &SearchOptions,
    ) -> Result<SearchResults, ToolError> {
        let matcher = build_matcher(pattern, options)?;
        let filter = options
            .glob
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(GlobFilter::new)
            .transpose()?;
        let max_results = options.max_results.clamp(1, MAX_RESULTS_LIMIT);
        let context = options.context.min(MAX_CONTEXT_LINES);
        let mut builder = SearcherBuilder::new();
        builder
            .line_number(true)
            .before_context(context)
            .after_context(context)
            .binary_detection(BinaryDetection::quit(b'\x00'));
        let job = Job {
            root: self.root(),
            cache: self.file_cache(),
            matcher,
            builder,
            filter,
            collector: Mutex::new(Collector::new(max_results)),
            per_file_cap: max_results,
        };

        let target = match options.path.as_deref() {
            Some(path) => self.resolve(path)?,
            None => self.resolve("")?,
        };
        if !target.exists() {
            return Err(target.not_found());
        }
        if target.abs.is_file() {
            job.search_one(&target.abs, target.rel.clone());
        } else {
            job.search_tree(&target.abs);
        }
        let collector = job
            .collector
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(collector.finish(pattern, max_results))
    }
}

/// Compiles the pattern the way ripgrep does for the same flags.
fn build_matcher(pattern: &str, options: &SearchOptions) -> Result<RegexMatcher, ToolError> {
    if pattern.is_empty() {
        return Err(ToolError::InvalidPattern {
            pattern: String::new(),
            message: "the pattern is empty; give the text to look for".to_owned(),
        });
    }
    let mut builder = RegexMatcherBuilder::new();
    builder
        .line_terminator(Some(b'\n'))
        .fixed_strings(options.kind == PatternKind::Literal);
    match options.case {
        CaseMode::Sensitive => {}
        CaseMode::Insensitive => {
            builder.case_insensitive(true);
        }
        CaseMode::Smart => {
            builder.case_smart(true);
        }
    }
    builder
        .build(pattern)
        .map_err(|err| ToolError::InvalidPattern {
            pattern: pattern.to_owned(),
            message: err.to_string(),
        })
}

/// One search's shared state: what every walker thread needs.
struct Job<'a> {
    root: &'a Path,
    cache: &'a FileCache,
    matcher: RegexMatcher,
    builder: SearcherBuilder,
    filter: Option<GlobFilter>,
    collector: Mutex<Collector>,
    per_file_cap: usize,
}

impl Job<'_> {
    fn search_tree(&self, target: &Path) {
        walker(self.root, target).build_parallel().run(|| {
            let mut searcher = self.builder.build();
            let matcher = self.matcher.clone();
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    return WalkState::Continue;
                }
                let rel = relative(self.root, entry.path());
                if self.filter.as_ref().is_none_or(|f| f.matches(&rel)) {
                    let meta = entry.metadata().ok();
                    self.search_file(&mut searcher, &matcher, entry.path(), meta, rel);
                }
                WalkState::Continue
            })
        });
    }

    fn search_one(&self, path: &Path, rel: String) {
        let mut searcher = self.builder.build();
        let meta = std::fs::metadata(path).ok();
        self.search_file(&mut searcher, &self.matcher, path, meta, rel);
    }

    fn search_file(
        &self,
        searcher: &mut Searcher,
        matcher: &RegexMatcher,
        path: &Path,
        meta: Option<std::fs::Metadata>,
        rel: String,
    ) {
        let mut sink = FileSink::new(self.per_file_cap, MAX_SEARCH_LINE_CHARS);
        // The kept contents when current; a file too big to keep is searched on disk. A
        // file that can't be read (permissions, vanished) is skipped, as ripgrep does.
        let searched = match meta.map(|meta| self.cache.contents(path, &meta)) {
            Some(Ok(Some(contents))) => searcher.search_slice(matcher, &contents, &mut sink),
            Some(Err(_)) => return,
            Some(Ok(None)) | None => searcher.search_path(matcher, path, &mut sink),
        };
        if searched.is_ok() && sink.matches() > 0 {
            let found = sink.into_matches(rel);
            self.collector
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(found);
        }
    }
}

/// Keeps the files whose matches come first in path order, holding at most about `max`
/// matching lines whatever order the walker threads report in, so the result is deterministic
/// and memory stays bounded when a pattern matches everywhere.
struct Collector {
    files: BTreeMap<String, FileMatches>,
    stored: usize,
    max: usize,
    total_matches: u64,
    files_with_matches: usize,
}

impl Collector {
    fn new(max: usize) -> Self {
        Collector {
            files: BTreeMap::new(),
            stored: 0,
            max,
            total_matches: 0,
            files_with_matches: 0,
        }
    }

    fn add(&mut self, found: FileMatches) {
        self.total_matches += found.matches;
        self.files_with_matches += 1;
        if self.stored >= self.max
            && self
                .files
                .last_key_value()
                .is_some_and(|(last, _)| *last < found.path)
        {
            return;
        }
        self.stored += found.stored_matches();
        self.files.insert(found.path.clone(), found);
        // Drop files at the end while the ones before them still hold `max` matches.
        while let Some(entry) = self.files.last_entry() {
            let last = entry.get().stored_matches();
            if self.stored - last < self.max {
                break;
            }
            self.stored -= last;
            entry.remove();
        }
    }

    fn finish(self, pattern: &str, max_results: usize) -> SearchResults {
        SearchResults {
            pattern: pattern.to_owned(),
            files: self.files.into_values().collect(),
            total_matches: self.total_matches,
            files_with_matches: self.files_with_matches,
            max_results,
        }
    }
}

impl fmt::Display for SearchResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total_matches == 0 {
            return write!(
                f,
                "no matches for `{}` (files ignored by .gitignore or .ignore, binary files and .git/ are not searched)",
                clip_line(&self.pattern, MAX_SEARCH_LINE_CHARS)
            );
        }
        let mut shown = 0;
        let mut first_group = true;
        'files: for file in &self.files {
            let mut previous: Option<u64> = None;
            for line in &file.lines {
                if line.is_match && shown == self.max_results {
                    break 'files;
                }
                if previous.is_none_or(|p| p + 1 != line.number) && !first_group {
                    writeln!(f, "--")?;
                }
                first_group = false;
                previous = Some(line.number);
                let mark = if line.is_match { ':' } else { '-' };
                writeln!(f, "{}{mark}{}{mark} {}", file.path, line.number, line.text)?;
                if line.is_match {
                    shown += 1;
                }
            }
        }
        if self.total_matches > shown as u64 {
            write!(
                f,
                "[showing {shown} of {} matching lines in {} files; narrow the pattern, or add a glob or a path]",
                self.total_matches, self.files_with_matches
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{workspace_with, write};

    fn literal() -> SearchOptions {
        SearchOptions::default()
    }

    fn regex() -> SearchOptions {
        SearchOptions {
            kind: PatternKind::Regex,
            ..SearchOptions::default()
        }
    }

    #[test]
    fn finds_lines_in_path_order_respecting_gitignore() {
        let (dir, ws) = workspace_with(&[
            (".gitignore", "target/\n"),
            ("src/b.rs", "fn beta() {}\n// TODO later\n"),
            ("src/a.rs", "// TODO first\nfn alpha() {}\n"),
            ("target/gen.rs", "// TODO ignored\n"),
            (".github/ci.yml", "# TODO hidden but searched\n"),
            (".git/HEAD", "TODO never\n"),
        ]);
        write(&dir, "bin.dat", b"TODO\0binary");
        let results = ws.search("TODO", &literal()).unwrap();
        assert_eq!(
            results.to_string(),
            ".github/ci.yml:1: # TODO hidden but searched\n\
             --\n\
             src/a.rs:1: // TODO first\n\
             --\n\
             src/b.rs:2: // TODO later\n"
        );
        assert_eq!(results.total_matches, 3);
    }

    #[test]
    fn kept_contents_are_searched_and_a_change_is_seen() {
        let (dir, ws) = workspace_with(&[("a.rs", "fn alpha() {}\n"), ("b.rs", "fn beta() {}\n")]);
        let settled = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        for name in ["a.rs", "b.rs"] {
            let file = std::fs::File::options()
                .write(true)
                .open(dir.path().join(name))
                .unwrap();
            file.set_modified(settled).unwrap();
        }
        assert_eq!(ws.search("fn ", &literal()).unwrap().total_matches, 2);
        assert_eq!(ws.file_cache().bytes(), 27, "both files kept");
        // The same length, written now: the kept copy is not used.
        write(&dir, "a.rs", b"fn gamma() {}\n");
        let found = ws.search("gamma", &literal()).unwrap();
        assert_eq!(found.to_string(), "a.rs:1: fn gamma() {}\n");
        assert_eq!(ws.search("alpha", &literal()).unwrap().total_matches, 0);
    }

    #[test]
    fn regex_case_and_literal_modes() {
        let (_dir, ws) = workspace_with(&[("a.txt", "Foo(1)\nfoo(2)\nbar\n")]);
        let lit = ws.search("foo(", &literal()).unwrap();
        assert_eq!(lit.total_matches, 1);
        let insensitive = SearchOptions {
            case: CaseMode::Insensitive,
            ..literal()
        };
        assert_eq!(ws.search("foo(", &insensitive).unwrap().total_matches, 2);
        let smart = SearchOptions {
            case: CaseMode::Smart,
            ..regex()
        };
        assert_eq!(ws.search(r"foo\(\d\)", &smart).unwrap().total_matches, 2);
        assert_eq!(ws.search(r"Foo\(\d\)", &smart).unwrap().total_matches, 1);
        let err = ws.search("foo(", &regex()).unwrap_err();
        assert!(matches!(err, ToolError::InvalidPattern { .. }), "{err}");
        assert!(err.to_string().starts_with("invalid search pattern `foo(`"));
        assert!(matches!(
            ws.search("", &literal()).unwrap_err(),
            ToolError::InvalidPattern { .. }
        ));
    }

    #[test]
    fn shows_context_lines_with_separators() {
        let (_dir, ws) = workspace_with(&[("a.txt", "1\n2\nhit\n4\n5\n6\n7\nhit\n9\n")]);
        let options = SearchOptions {
            context: 1,
            ..literal()
        };
        assert_eq!(
            ws.search("hit", &options).unwrap().to_string(),
            "a.txt-2- 2\na.txt:3: hit\na.txt-4- 4\n--\na.txt-7- 7\na.txt:8: hit\na.txt-9- 9\n"
        );
    }

    #[test]
    fn caps_results_deterministically_and_counts_the_rest() {
        let (dir, ws) = workspace_with(&[]);
        for i in 0..40 {
            write(&dir, &format!("f{i:02}.txt"), b"needle\nneedle\nhay\n");
        }
        let options = SearchOptions {
            max_results: 5,
            ..literal()
        };
        for _ in 0..3 {
            let results = ws.search("needle", &options).unwrap();
            assert_eq!(
                results.to_string(),
                "f00.txt:1: needle\nf00.txt:2: needle\n--\nf01.txt:1: needle\nf01.txt:2: needle\n--\n\
                 f02.txt:1: needle\n\
                 [showing 5 of 80 matching lines in 40 files; narrow the pattern, or add a glob or a path]"
            );
            assert!(results.files.len() <= 5);
        }
    }

    #[test]
    fn narrows_by_glob_and_path() {
        let (_dir, ws) = workspace_with(&[
            ("src/a.rs", "needle\n"),
            ("src/a.py", "needle\n"),
            ("docs/a.md", "needle\n"),
        ]);
        let by_glob = SearchOptions {
            glob: Some("*.rs".into()),
            ..literal()
        };
        assert_eq!(
            ws.search("needle", &by_glob).unwrap().to_string(),
            "src/a.rs:1: needle\n"
        );
        let by_dir = SearchOptions {
            path: Some("docs".into()),
            ..literal()
        };
        assert_eq!(
            ws.search("needle", &by_dir).unwrap().to_string(),
            "docs/a.md:1: needle\n"
        );
        let by_file = SearchOptions {
            path: Some("src/a.py".into()),
            ..literal()
        };
        assert_eq!(
            ws.search("needle", &by_file).unwrap().to_string(),
            "src/a.py:1: needle\n"
        );
        let outside = SearchOptions {
            path: Some("../".into()),
            ..literal()
        };
        assert!(matches!(
            ws.search("needle", &outside).unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
    }

    #[test]
    fn says_so_when_nothing_matches_and_cuts_long_lines() {
        let long = format!("{}needle{}\n", "a".repeat(400), "b".repeat(400));
        let (_dir, ws) = workspace_with(&[("min.js", &long)]);
        let none = ws.search("absent", &literal()).unwrap();
        assert!(none.to_string().starts_with("no matches for `absent`"));
        let text = ws.search("needle", &literal()).unwrap().to_string();
        assert!(
            text.contains("… [line cut, 806 characters in all]"),
            "{text}"
        );
        assert!(text.len() < 400);
    }
}
