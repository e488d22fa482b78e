//! Path filters of the `pr_opened` and `push` triggers (`paths`, `paths_ignore`): globs
//! over the repository paths a change touches, as in GitHub Actions — `*` any characters
//! but `/`, `**` any characters across directories, `?` one character, `[abc]` a class,
//! `{a,b}` alternatives. Matching is done by `globset`. Also a task's `directory`, a
//! path inside the repository.

use globset::{GlobBuilder, GlobMatcher};
use serde_saphyr::Spanned;

use super::check::Checker;
use super::limits::{MAX_PATH_PATTERN_CHARS, MAX_PATH_PATTERNS};

/// A checked path glob, kept as written.
#[derive(Debug, Clone)]
pub struct PathPattern {
    text: String,
    matcher: GlobMatcher,
}

impl PartialEq for PathPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PathPattern {}

impl PathPattern {
    /// Checks and compiles `text`. The error is a sentence for the user.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("a path pattern can't be empty".to_owned());
        }
        if text.chars().count() > MAX_PATH_PATTERN_CHARS {
            return Err(format!(
                "path pattern is longer than {MAX_PATH_PATTERN_CHARS} characters"
            ));
        }
        if text.starts_with('/') || text.starts_with("./") {
            return Err(format!(
                "`{text}` starts with `{}`; paths are relative to the repository's root, like `docs/**`",
                if text.starts_with('/') { "/" } else { "./" }
            ));
        }
        let matcher = GlobBuilder::new(text)
            .literal_separator(true)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|err| format!("`{text}` is not a valid glob: {}", err.kind()))?
            .compile_matcher();
        Ok(Self {
            text: text.to_owned(),
            matcher,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the repository path `path` (no leading `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

/// A trigger's `paths` and `paths_ignore`; both empty means every change counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathFilter {
    pub paths: Vec<PathPattern>,
    pub ignore: Vec<PathPattern>,
}

impl PathFilter {
    /// Whether the trigger looks at the changed files at all.
    pub fn is_set(&self) -> bool {
        !self.paths.is_empty() || !self.ignore.is_empty()
    }

    /// Whether a change to `files` starts the trigger's tasks: some file matches `paths`
    /// (when given), and not every file matches `paths_ignore`. A change to no file at
    /// all starts nothing once a filter is set.
    pub fn admits<S: AsRef<str>>(&self, files: &[S]) -> bool {
        let any = |patterns: &[PathPattern], file: &str| patterns.iter().any(|p| p.matches(file));
        let wanted =
            self.paths.is_empty() || files.iter().any(|file| any(&self.paths, file.as_ref()));
        let all_ignored =
            !self.ignore.is_empty() && files.iter().all(|file| any(&self.ignore, file.as_ref()));
        wanted && !all_ignored && !(self.is_set() && files.is_empty())
    }
}

/// A task's `directory`, checked: a path inside the repository, relative to its root,
/// without `..`; `None` for the root itself (empty or `.`). A trailing `/` is dropped.
pub(super) fn task_directory(text: &str) -> Result<Option<String>, String> {
    let trimmed = text.trim().trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(None);
    }
    if trimmed.chars().count() > MAX_PATH_PATTERN_CHARS {
        return Err(format!(
            "the directory is longer than {MAX_PATH_PATTERN_CHARS} characters"
        ));
    }
    if trimmed.starts_with('/') || trimmed.contains('\\') || trimmed.contains(':') {
        return Err(format!(
            "`{trimmed}` is not a path relative to the repository's root; write it like `packages/api`"
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("the directory contains a control character".to_owned());
    }
    if trimmed.split('/').any(|part| part == "..") {
        return Err(format!(
            "`{trimmed}` leads out with `..`; a task's directory is inside the repository"
        ));
    }
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == ".")
    {
        let tidy: Vec<&str> = trimmed
            .split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .collect();
        return Err(format!("write `{trimmed}` as `{}`", tidy.join("/")));
    }
    Ok(Some(trimmed.to_owned()))
}

impl Checker {
    /// A trigger's `paths` and `paths_ignore`, each pattern checked at its position.
    pub(super) fn path_filter(
        &mut self,
        paths: Option<Spanned<Vec<Spanned<String>>>>,
        ignore: Option<Spanned<Vec<Spanned<String>>>>,
        field: &str,
    ) -> PathFilter {
        PathFilter {
            paths: paths
                .map(|list| self.path_patterns(list, &format!("{field}.paths")))
                .unwrap_or_default(),
            ignore: ignore
                .map(|list| self.path_patterns(list, &format!("{field}.paths_ignore")))
                .unwrap_or_default(),
        }
    }

    fn path_patterns(
        &mut self,
        list: Spanned<Vec<Spanned<String>>>,
        field: &str,
    ) -> Vec<PathPattern> {
        if list.value.is_empty() {
            self.invalid(
                &list.referenced,
                field,
                "lists no patterns",
                Some("list some globs, like `src/**`, or leave the key out"),
            );
        }
        if list.value.len() > MAX_PATH_PATTERNS {
            self.invalid(
                &list.referenced,
                field,
                format!("more than {MAX_PATH_PATTERNS} path patterns"),
                Some("use wildcards, like `docs/**` or `**/*.md`"),
            );
        }
        let mut patterns = Vec::new();
        for (index, pattern) in list.value.iter().enumerate() {
            match PathPattern::parse(&pattern.value) {
                Ok(parsed) => patterns.push(parsed),
                Err(message) => self.invalid(
                    &pattern.referenced,
                    &format!("{field}[{index}]"),
                    message,
                    None,
                ),
            }
        }
        patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(paths: &[&str], ignore: &[&str]) -> PathFilter {
        let parse = |list: &[&str]| {
            list.iter()
                .map(|p| PathPattern::parse(p).expect("valid"))
                .collect()
        };
        PathFilter {
            paths: parse(paths),
            ignore: parse(ignore),
        }
    }

    #[test]
    fn stars_stay_in_a_directory_and_double_stars_cross_them() {
        let docs = PathPattern::parse("docs/*.md").expect("valid");
        assert!(docs.matches("docs/index.md"));
        assert!(!docs.matches("docs/guide/intro.md"));
        let all_docs = PathPattern::parse("docs/**").expect("valid");
        assert!(all_docs.matches("docs/guide/intro.md"));
        assert!(!all_docs.matches("src/docs.rs"));
        let markdown = PathPattern::parse("**/*.md").expect("valid");
        assert!(markdown.matches("README.md") && markdown.matches("a/b/c.md"));
        assert!(
            PathPattern::parse("src/{lib,main}.rs")
                .expect("valid")
                .matches("src/main.rs")
        );
    }

    #[test]
    fn bad_patterns_say_why() {
        for (text, says) in [
            ("", "can't be empty"),
            ("/src/**", "relative to the repository's root"),
            ("./src", "starts with `./`"),
            ("src/[a", "is not a valid glob"),
            ("{a,b", "is not a valid glob"),
        ] {
            let err = PathPattern::parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn a_task_directory_stays_inside_the_repository() {
        assert_eq!(
            task_directory(" packages/api/ "),
            Ok(Some("packages/api".to_owned()))
        );
        assert_eq!(task_directory("."), Ok(None));
        assert_eq!(task_directory(""), Ok(None));
        for (text, says) in [
            ("/srv/app", "not a path relative"),
            ("C:\\app", "not a path relative"),
            ("../other", "leads out with `..`"),
            ("a/../../b", "leads out with `..`"),
            ("./app", "as `app`"),
            ("a//b", "as `a/b`"),
        ] {
            let err = task_directory(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn a_filter_needs_a_wanted_file_and_one_not_ignored() {
        let none = PathFilter::default();
        assert!(!none.is_set() && none.admits::<&str>(&[]));
        let src = filter(&["src/**"], &[]);
        assert!(src.admits(&["README.md", "src/lib.rs"]));
        assert!(!src.admits(&["README.md"]));
        let not_docs = filter(&[], &["docs/**", "**/*.md"]);
        assert!(!not_docs.admits(&["docs/a.txt", "README.md"]));
        assert!(not_docs.admits(&["docs/a.txt", "src/lib.rs"]));
        assert!(!not_docs.admits::<&str>(&[]), "no change, nothing to do");
        let both = filter(&["src/**"], &["src/generated/**"]);
        assert!(!both.admits(&["src/generated/api.rs"]));
        assert!(both.admits(&["src/generated/api.rs", "src/lib.rs"]));
    }
}
