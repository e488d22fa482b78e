//! What can be wrong with a `.ollama-turbo.yml`: each problem with the file it is in (the
//! repository's own, or the organisation's defaults it extends), its line and column, the
//! dotted path of the key (`automation.tasks.refactor.timeout`) and the reason.

use std::fmt;

use super::suggest::did_you_mean;
use crate::ids::RepoFullName;
use crate::job::AllowedOverrides;

/// A place in the file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

/// Which `.ollama-turbo.yml` a problem is in: the repository's own, or the organisation's
/// defaults (the file of the account's `.github` repository) that it extends.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigFile {
    #[default]
    Repository,
    /// The base file, in this repository (`acme/.github`); boxed to keep [`Problem`],
    /// which is passed by value, small.
    Base(Box<RepoFullName>),
}

impl fmt::Display for ConfigFile {
    /// `.ollama-turbo.yml`, or `acme/.github: .ollama-turbo.yml` for the base.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repository => f.write_str(super::CONFIG_FILE_NAME),
            Self::Base(repo) => write!(f, "{repo}: {}", super::CONFIG_FILE_NAME),
        }
    }
}

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in.
    pub file: ConfigFile,
    /// Where, when known (a file that is too big has no position).
    pub position: Option<Position>,
    /// Dotted path of the key, like `automation.tasks.refactor.timeout`; list items are
    /// `[index]`. Empty when the problem is the whole file.
    pub field: String,
    pub kind: ProblemKind,
}

/// What is wrong. A caller that only shows problems can use [`Problem`]'s `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("the file is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge { size: usize, limit: usize },
    /// Bytes that are not UTF-8: `utf16` when the file starts with a UTF-16 byte-order
    /// mark (what some Windows editors save as "Unicode").
    #[error("{}", if *utf16 { "the file is UTF-16 text, not UTF-8" } else { "the file is not UTF-8 text" })]
    NotUtf8 { utf16: bool },
    /// Something other than a file sits where the file should be.
    #[error("`.ollama-turbo.yml` is a {kind} here, not a file")]
    NotAFile { kind: String },
    /// The file could not be looked for: the branch it is read from does not exist.
    #[error("{}", no_such_branch(branch, *empty_repository))]
    NoSuchBranch {
        branch: String,
        empty_repository: bool,
    },
    /// Not valid YAML, or YAML this file can't hold (several documents, too many aliases).
    #[error("{message}")]
    Syntax { message: String },
    #[error("unknown key `{key}`")]
    UnknownKey { key: String, expected: Vec<String> },
    #[error("unknown value `{value}`")]
    UnknownValue {
        value: String,
        expected: Vec<String>,
    },
    #[error("expected {expected}, found {found}")]
    WrongType { expected: String, found: String },
    /// The value has the right type but is not acceptable (out of range, unknown task,
    /// contradicts another key).
    #[error("{message}")]
    Invalid {
        message: String,
        hint: Option<String>,
    },
    /// The repository's file sets a key that the installation policy's `allowed_overrides`
    /// do not list (boxed: a problem is passed by value, and this is its largest kind).
    #[error("{}", not_allowed(key, &overrides.policy, &overrides.paths))]
    NotAllowed {
        key: String,
        overrides: Box<AllowedOverrides>,
    },
}

fn not_allowed(key: &str, policy: &str, allowed: &[String]) -> String {
    let may = if allowed.is_empty() {
        "no key at all".to_owned()
    } else {
        backticked(allowed)
    };
    format!(
        "the installation policy `{policy}` does not let a repository set `{key}`; its \
         `allowed_overrides` let a repository set {may}"
    )
}

impl ProblemKind {
    /// What to do about it, when there is more to say than the reason.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::TooLarge { .. } => Some(
                "keep prompts short: the model reads the repository, the file only needs to \
                 say what to do"
                    .to_owned(),
            ),
            Self::NotUtf8 { .. } => Some("save it as UTF-8".to_owned()),
            Self::NotAFile { .. } => Some(
                "put the configuration in a regular file at the root of the default branch"
                    .to_owned(),
            ),
            Self::NoSuchBranch {
                empty_repository: true,
                ..
            } => Some("push a first commit to the default branch".to_owned()),
            Self::NoSuchBranch { .. } => Some(
                "check the default branch in the repository's settings: it may have been \
                 renamed or deleted"
                    .to_owned(),
            ),
            Self::Syntax { message } if message.contains("tab") => {
                Some("indent with spaces: YAML does not allow tabs for indentation".to_owned())
            }
            Self::Syntax { .. } => None,
            Self::UnknownKey { key, expected } => Some(suggestion(key, expected, "keys")),
            Self::UnknownValue { value, expected } => Some(suggestion(value, expected, "values")),
            Self::WrongType { .. } => None,
            Self::Invalid { hint, .. } => hint.clone(),
            Self::NotAllowed { .. } => Some(
                "remove the key, so the organisation's defaults apply, or ask the App's \
                 operator to allow it"
                    .to_owned(),
            ),
        }
    }
}

impl ProblemKind {
    /// The file could not be read at all, as opposed to read and found wrong.
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. }
                | Self::NotUtf8 { .. }
                | Self::NotAFile { .. }
                | Self::NoSuchBranch { .. }
        )
    }
}

fn no_such_branch(branch: &str, empty_repository: bool) -> String {
    if empty_repository {
        "the repository has no commits yet, so there is no file to read".to_owned()
    } else if branch.is_empty() {
        "the default branch the file is read from does not exist".to_owned()
    } else {
        format!("the branch `{branch}` the file is read from does not exist")
    }
}

fn suggestion(input: &str, expected: &[String], what: &str) -> String {
    match did_you_mean(input, expected.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`?"),
        None if expected.is_empty() => format!("no {what} are allowed here"),
        None => format!("the {what} allowed here are {}", backticked(expected)),
    }
}

/// `a`, `b` and `c` as inline code, comma-separated.
pub(super) fn backticked<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|item| format!("`{}`", item.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Problem {
    pub fn whole_file(kind: ProblemKind) -> Self {
        Self {
            file: ConfigFile::Repository,
            position: None,
            field: String::new(),
            kind,
        }
    }

    /// `line 4, column 7` or `the file`, for messages.
    pub fn place(&self) -> String {
        match self.position {
            Some(Position { line, column }) => format!("line {line}, column {column}"),
            None => "the file".to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    /// `line 4, column 7, field `x`: reason (hint)`, the base's problems prefixed with its
    /// file (`acme/.github: .ollama-turbo.yml, line 4, …`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ConfigFile::Base(_) = self.file {
            write!(f, "{}, ", self.file)?;
        }
        f.write_str(&self.place())?;
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.kind)?;
        if let Some(hint) = self.kind.hint() {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in a `.ollama-turbo.yml`, in file order; never empty.
///
/// YAML and type errors stop parsing, so there is one of those at most; the checks that
/// follow (ranges, task names, references between keys) report everything at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid .ollama-turbo.yml: {}", join(.problems))]
pub struct ConfigErrors {
    problems: Vec<Problem>,
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigErrors {
    /// The one problem that kept the file from being read.
    pub fn unreadable(kind: ProblemKind) -> Self {
        Self::new(vec![Problem::whole_file(kind)])
    }

    /// Sorts `problems` into file order (the repository's file first, whole-file problems
    /// first in each). Callers pass at least one problem.
    pub(super) fn new(mut problems: Vec<Problem>) -> Self {
        problems.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
        Self { problems }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The same problems, each said to be in `file`.
    pub(super) fn in_file(mut self, file: &ConfigFile) -> Self {
        for problem in &mut self.problems {
            problem.file = file.clone();
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_sentences() {
        let problem = Problem {
            file: ConfigFile::Repository,
            position: Some(Position { line: 4, column: 7 }),
            field: "automation.tasks.refactor.timout".to_owned(),
            kind: ProblemKind::UnknownKey {
                key: "timout".to_owned(),
                expected: vec!["timeout".to_owned(), "model".to_owned()],
            },
        };
        assert_eq!(
            problem.to_string(),
            "line 4, column 7, field `automation.tasks.refactor.timout`: unknown key `timout` \
             (did you mean `timeout`?)"
        );
        let whole = Problem::whole_file(ProblemKind::TooLarge {
            size: 70_000,
            limit: 65_536,
        });
        assert!(
            whole
                .to_string()
                .starts_with("the file: the file is 70000 bytes")
        );
    }

    #[test]
    fn unknown_keys_without_a_close_match_list_the_allowed_ones() {
        let kind = ProblemKind::UnknownKey {
            key: "banana".to_owned(),
            expected: vec!["version".to_owned(), "automation".to_owned()],
        };
        assert_eq!(
            kind.hint().as_deref(),
            Some("the keys allowed here are `version`, `automation`")
        );
    }

    #[test]
    fn errors_are_sorted_into_file_order() {
        let at = |line| Problem {
            file: ConfigFile::Repository,
            position: Some(Position { line, column: 1 }),
            field: String::new(),
            kind: ProblemKind::Syntax {
                message: String::new(),
            },
        };
        let errors = ConfigErrors::new(vec![at(9), at(2), at(5)]);
        let lines: Vec<u64> = errors
            .problems()
            .iter()
            .filter_map(|p| p.position.map(|p| p.line))
            .collect();
        assert_eq!(lines, [2, 5, 9]);
    }
}
