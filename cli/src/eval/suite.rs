//! The evaluation suite: tasks, each a repository at a commit, a request for the agent and
//! a hidden check that proves it solved. Two formats carry the same fields: a directory
//! with one directory per task (the built-in suite is one, embedded in the binary) and a
//! JSONL file with one task per line, onto which SWE-bench instances map (docs/eval.md).
//!
//! Parsing is pure: files come in as a [`FileTree`] or as text, so every rule is tested
//! from strings, and every error names the file, the line and the field.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Files by their path relative to a root, with `/` between the parts.
pub type FileTree = BTreeMap<String, Vec<u8>>;

/// The task file of a task directory.
pub const TASK_FILE: &str = "task.json";
/// The files committed as the task's repository, in a task directory.
const REPO_DIR: &str = "repo/";
/// The hidden check files, copied over the repository once the agent has finished.
const CHECK_DIR: &str = "check/";
/// The hidden check as a patch (a SWE-bench `test_patch`), applied once the agent has
/// finished.
const CHECK_PATCH_FILE: &str = "check.patch";
/// The reference solution: kept beside the task for its tests, never read by `ota eval`.
pub const SOLUTION_FILE: &str = "solution.patch";

/// How long a check may run when its task does not say: a test suite with a first build,
/// as long as one command of the agent may run.
const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The longest check a task may ask for: a day, far beyond any test suite, so a typo of
/// a few zeros is caught.
const MAX_CHECK_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// The longest task id: it names a directory and a table row.
const MAX_ID_CHARS: usize = 100;

/// What a task asks of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Fix,
    Test,
    Refactor,
    Docs,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fix => "fix",
            Self::Test => "test",
            Self::Refactor => "refactor",
            Self::Docs => "docs",
        }
    }
}

/// Where a task's repository comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// Files committed into a fresh repository (a task directory's `repo/`).
    Files(FileTree),
    /// A repository to clone, a URL or a local path, checked out at `commit`.
    Git { url: String, commit: String },
}

/// The proof that a task is solved, which the agent never sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Run with `sh -c` in the repository, in the command sandbox; exit code 0 is solved.
    pub command: String,
    /// Written over the repository once the agent has finished.
    pub files: FileTree,
    /// Applied with `git apply` once the agent has finished, after the files it touches
    /// are put back as they were at the task's commit.
    pub patch: Option<String>,
    /// Programs the check needs; one not on `PATH` means the check could not run.
    pub requires: Vec<String>,
    pub timeout: Duration,
}

/// One task of a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalTask {
    pub id: String,
    /// As the task says it, in lower case: `rust`, `python`, ….
    pub language: String,
    pub kind: Kind,
    /// The agent's task that runs: a built-in one (`fix`, `test`, …) or one the
    /// repository's `.ollama-turbo.yml` defines. The kind's name unless the task says.
    pub agent_task: String,
    /// What the agent is asked to do.
    pub request: String,
    pub repo: RepoSource,
    /// Run once in the repository before the agent starts, in the command sandbox.
    pub setup: Option<String>,
    pub check: Check,
}

/// The tasks of a suite, in order, and what to call the suite in the results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    pub tasks: Vec<EvalTask>,
}

/// A suite that can't be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}{}: {message}", field.as_ref().map(|field| format!(", field `{field}`")).unwrap_or_default())]
pub struct SuiteError {
    /// The file, and the line when it is known: `suite.jsonl, line 3`.
    pub place: String,
    pub field: Option<String>,
    pub message: String,
}

impl SuiteError {
    pub fn new(place: impl Into<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// The fields of a task, as both formats write them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    id: Option<String>,
    language: String,
    kind: Kind,
    #[serde(default)]
    agent_task: Option<String>,
    request: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    setup: Option<String>,
    check: String,
    #[serde(default)]
    check_files: BTreeMap<String, String>,
    #[serde(default)]
    check_patch: Option<String>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    check_timeout_secs: Option<u64>,
}

/// Reads one task's fields from JSON; `file` and `first_line` place the errors.
fn parse_fields(text: &str, file: &str, first_line: usize) -> Result<Fields, SuiteError> {
    let place = |error: &serde_json::Error| {
        format!(
            "{file}, line {}",
            first_line + error.line().saturating_sub(1)
        )
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields =
        serde_path_to_error::deserialize::<_, Fields>(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let field = (path != ".").then_some(path);
            SuiteError::new(place(&inner), field.as_deref(), json_message(&inner))
        })?;
    deserializer
        .end()
        .map_err(|error| SuiteError::new(place(&error), None, json_message(&error)))?;
    Ok(fields)
}

/// serde_json's message without the position it ends with, which the place already says.
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// What a task's place in its suite brings besides its fields.
struct Origin<'a> {
    /// For errors: `suite.jsonl, line 3`, `suite/x/task.json`.
    place: String,
    /// The id the place gives (a task directory's name), if any.
    id: Option<&'a str>,
    /// Files of the task directory: its `repo/`, `check/` and `check.patch`.
    repo_files: Option<FileTree>,
    check_files: FileTree,
    check_patch: Option<String>,
    /// Where a relative `repo` path starts.
    base: Option<&'a Path>,
}

/// Checks `fields` and makes the task.
fn task(fields: Fields, origin: Origin<'_>) -> Result<EvalTask, SuiteError> {
    let place = origin.place.as_str();
    let error = |field: &str, message: String| SuiteError::new(place, Some(field), message);
    let id = match (fields.id, origin.id) {
        (Some(id), Some(dir)) if id != dir => {
            return Err(error(
                "id",
                format!(
                    "`{id}` differs from the task's directory `{dir}`; leave it out or make them the same"
                ),
            ));
        }
        (Some(id), _) => id,
        (None, Some(dir)) => dir.to_owned(),
        (None, None) => return Err(error("id", "missing: every task needs an id".to_owned())),
    };
    check_id(&id).map_err(|message| error("id", message))?;
    let language = non_empty(&fields.language).map_err(|m| error("language", m))?;
    let request = non_empty(&fields.request).map_err(|m| error("request", m))?;
    let command = non_empty(&fields.check).map_err(|m| error("check", m))?;
    let agent_task = match &fields.agent_task {
        Some(name) => non_empty(name).map_err(|m| error("agent_task", m))?,
        None => fields.kind.as_str().to_owned(),
    };
    let setup = match &fields.setup {
        Some(setup) => Some(non_empty(setup).map_err(|m| error("setup", m))?),
        None => None,
    };
    let repo = match (fields.repo, fields.commit, origin.repo_files) {
        (Some(_), _, Some(_)) => {
            return Err(error(
                "repo",
                "the task has a repo/ directory too; give one or the other".to_owned(),
            ));
        }
        (Some(url), Some(commit), None) => RepoSource::Git {
            url: resolve_repo(url.trim(), origin.base).map_err(|m| error("repo", m))?,
            commit: revision(&commit).map_err(|m| error("commit", m))?,
        },
        (Some(_), None, None) => {
            return Err(error(
                "commit",
                "missing: a task that names its repository names the commit to start from"
                    .to_owned(),
            ));
        }
        (None, Some(_), _) => {
            return Err(error(
                "commit",
                "given without `repo`: the repository to check out is missing".to_owned(),
            ));
        }
        (None, None, Some(files)) if !files.is_empty() => RepoSource::Files(files),
        (None, None, Some(_)) => {
            return Err(error("repo", "the repo/ directory is empty".to_owned()));
        }
        (None, None, None) => {
            return Err(error(
                "repo",
                "missing: the repository to clone (a git URL or a path)".to_owned(),
            ));
        }
    };
    let mut files = origin.check_files;
    for (path, content) in fields.check_files {
        let field = format!("check_files.{path}");
        check_path(&path).map_err(|m| error(&field, m))?;
        if files.insert(path.clone(), content.into_bytes()).is_some() {
            return Err(error(
                &field,
                "the task's check/ directory has this file too".to_owned(),
            ));
        }
    }
    let patch = match (fields.check_patch, origin.check_patch) {
        (Some(_), Some(_)) => {
            return Err(error(
                "check_patch",
                format!("the task has a {CHECK_PATCH_FILE} file too; give one or the other"),
            ));
        }
        (Some(patch), None) | (None, Some(patch)) if patch.trim().is_empty() => {
            return Err(error("check_patch", "the patch is empty".to_owned()));
        }
        (patch, from_file) => patch.or(from_file),
    };
    let mut requires = Vec::new();
    for program in &fields.requires {
        let program = program.trim();
        if program.is_empty() || program.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(error(
                "requires",
                format!("`{program}` is not a program name, such as `cargo` or `go`"),
            ));
        }
        requires.push(program.to_owned());
    }
    let timeout = match fields.check_timeout_secs {
        None => DEFAULT_CHECK_TIMEOUT,
        Some(secs @ 1..=MAX_CHECK_TIMEOUT_SECS) => Duration::from_secs(secs),
        Some(secs) => {
            return Err(error(
                "check_timeout_secs",
                format!("{secs} is not between 1 and {MAX_CHECK_TIMEOUT_SECS}"),
            ));
        }
    };
    Ok(EvalTask {
        id,
        language: language.to_lowercase(),
        kind: fields.kind,
        agent_task,
        request,
        repo,
        setup,
        check: Check {
            command,
            files,
            patch,
            requires,
            timeout,
        },
    })
}

fn non_empty(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        Err("empty".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// A commit to check out: a hash or a name git takes, never an option.
fn revision(text: &str) -> Result<String, String> {
    let text = non_empty(text)?;
    if text.starts_with('-') || text.contains(char::is_whitespace) {
        return Err(format!("`{text}` is not a commit"));
    }
    Ok(text)
}

/// An id names a directory and a row: letters, digits, `-`, `_` and `.`, not starting
/// with `.`.
fn check_id(id: &str) -> Result<(), String> {
    let fine = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not an id: up to {MAX_ID_CHARS} letters, digits, `-`, `_` and `.`, not starting with `.`"
        ))
    }
}

/// A check file's path: relative, inside the repository, not in `.git`.
fn check_path(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let fine = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && parts
            .iter()
            .all(|part| !part.is_empty() && *part != "." && *part != "..")
        && parts.first() != Some(&".git");
    if fine {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a relative path inside the repository (no `..`, not in `.git`)"
        ))
    }
}

/// A URL as it is; a local path from `base` when it is relative.
fn resolve_repo(repo: &str, base: Option<&Path>) -> Result<String, String> {
    if repo.is_empty() {
        return Err("empty".to_owned());
    }
    let is_url = repo.contains("://") || (repo.contains('@') && repo.contains(':'));
    if is_url || Path::new(repo).is_absolute() {
        return Ok(repo.to_owned());
    }
    Ok(match base {
        Some(base) => base.join(repo).display().to_string(),
        None => repo.to_owned(),
    })
}

impl Suite {
    /// A suite in the JSONL format: one task per line (blank lines skipped). `file` names
    /// it in errors; a relative `repo` path starts at `base`.
    pub fn from_jsonl(file: &str, text: &str, base: Option<&Path>) -> Result<Self, SuiteError> {
        let mut tasks: Vec<EvalTask> = Vec::new();
        let mut lines_of: BTreeMap<String, usize> = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields = parse_fields(line, file, number)?;
            let task = task(
                fields,
                Origin {
                    place: format!("{file}, line {number}"),
                    id: None,
                    repo_files: None,
                    check_files: FileTree::new(),
                    check_patch: None,
                    base,
                },
            )?;
            if let Some(first) = lines_of.insert(task.id.clone(), number) {
                return Err(SuiteError::new(
                    format!("{file}, line {number}"),
                    Some("id"),
                    format!("`{}` is the id of line {first} too", task.id),
                ));
            }
            tasks.push(task);
        }
        Self::named(file, tasks)
    }

    /// A suite in the directory format, from its files: one directory per task, holding
    /// `task.json`, the repository as `repo/` (unless the task names one to clone), the
    /// hidden check files as `check/` or `check.patch`, and the reference solution as
    /// `solution.patch` (ignored here). Files beside the task directories are ignored, so a
    /// suite may have a README. `name` names it in errors and results.
    pub fn from_tree(name: &str, tree: &FileTree, base: Option<&Path>) -> Result<Self, SuiteError> {
        let mut dirs: BTreeMap<&str, FileTree> = BTreeMap::new();
        for (path, content) in tree {
            let Some((dir, rest)) = path.split_once('/') else {
                continue; // a file beside the tasks
            };
            if dir.starts_with('.') {
                continue;
            }
            dirs.entry(dir)
                .or_default()
                .insert(rest.to_owned(), content.clone());
        }
        let mut tasks = Vec::new();
        for (dir, files) in dirs {
            tasks.push(task_of_dir(name, dir, files, base)?);
        }
        Self::named(name, tasks)
    }

    fn named(name: &str, tasks: Vec<EvalTask>) -> Result<Self, SuiteError> {
        if tasks.is_empty() {
            return Err(SuiteError::new(
                name,
                None,
                "has no tasks (see docs/eval.md for the formats)",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            tasks,
        })
    }
}

/// The task of directory `dir` of suite `suite`, from its files.
fn task_of_dir(
    suite: &str,
    dir: &str,
    mut files: FileTree,
    base: Option<&Path>,
) -> Result<EvalTask, SuiteError> {
    let place = format!("{suite}/{dir}");
    let Some(task_file) = files.remove(TASK_FILE) else {
        return Err(SuiteError::new(
            place,
            None,
            format!("has no {TASK_FILE}; every directory of a suite is a task (see docs/eval.md)"),
        ));
    };
    let file = format!("{place}/{TASK_FILE}");
    let text = String::from_utf8(task_file)
        .map_err(|_| SuiteError::new(&file, None, "is not UTF-8 text"))?;
    let fields = parse_fields(&text, &file, 1)?;
    let mut repo_files: Option<FileTree> = None;
    let mut check_files = FileTree::new();
    let mut check_patch = None;
    for (path, content) in files {
        if let Some(rest) = path.strip_prefix(REPO_DIR) {
            repo_files
                .get_or_insert_default()
                .insert(rest.to_owned(), content);
        } else if let Some(rest) = path.strip_prefix(CHECK_DIR) {
            check_files.insert(rest.to_owned(), content);
        } else if path == CHECK_PATCH_FILE {
            let patch = String::from_utf8(content).map_err(|_| {
                SuiteError::new(
                    format!("{place}/{CHECK_PATCH_FILE}"),
                    None,
                    "is not UTF-8 text",
                )
            })?;
            check_patch = Some(patch);
        } else if path != SOLUTION_FILE {
            return Err(SuiteError::new(
                format!("{place}/{path}"),
                None,
                format!(
                    "is not part of a task: a task directory holds {TASK_FILE}, {REPO_DIR}, \
                     {CHECK_DIR}, {CHECK_PATCH_FILE} and {SOLUTION_FILE}"
                ),
            ));
        }
    }
    let task_base = base.map(|base| base.join(dir));
    task(
        fields,
        Origin {
            place: file,
            id: Some(dir),
            repo_files,
            check_files,
            check_patch,
            base: task_base.as_deref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id": "a-1", "language": "Python", "kind": "fix", "request": "Fix it.", "repo": "https://example.org/a.git", "commit": "abc123", "check": "pytest", "check_patch": "diff --git a/t.py b/t.py\n"}"#;

    fn tree(files: &[(&str, &str)]) -> FileTree {
        files
            .iter()
            .map(|(path, content)| (path.to_string(), content.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_jsonl_line_is_a_task() {
        let suite = Suite::from_jsonl("s.jsonl", &format!("{GOOD}\n\n"), None).expect("valid");
        let [task] = suite.tasks.as_slice() else {
            panic!("one task expected: {suite:?}");
        };
        assert_eq!(task.id, "a-1");
        assert_eq!(task.language, "python");
        assert_eq!(task.agent_task, "fix");
        assert_eq!(
            task.repo,
            RepoSource::Git {
                url: "https://example.org/a.git".into(),
                commit: "abc123".into()
            }
        );
        assert_eq!(task.check.timeout, DEFAULT_CHECK_TIMEOUT);
        assert!(task.check.patch.is_some());
    }

    #[test]
    fn relative_repo_paths_start_at_the_suite() {
        let line = GOOD.replace("https://example.org/a.git", "repos/a");
        let suite = Suite::from_jsonl("s.jsonl", &line, Some(Path::new("/suites"))).expect("valid");
        let RepoSource::Git { url, .. } = &suite.tasks[0].repo else {
            panic!("a git repository");
        };
        assert_eq!(url, "/suites/repos/a");
    }

    #[test]
    fn jsonl_errors_name_the_line_and_the_field() {
        let text = format!(
            "{GOOD}\n{}\n",
            GOOD.replace(r#""kind": "fix""#, r#""kind": "fixx""#)
        );
        let error = Suite::from_jsonl("s.jsonl", &text, None).expect_err("a bad kind");
        assert_eq!(error.place, "s.jsonl, line 2");
        assert_eq!(error.field.as_deref(), Some("kind"));
        assert!(error.message.contains("unknown variant `fixx`"), "{error}");

        let missing = GOOD.replace(r#", "check": "pytest""#, "");
        let error = Suite::from_jsonl("s.jsonl", &missing, None).expect_err("no check");
        assert_eq!(error.to_string(), "s.jsonl, line 1: missing field `check`");

        let error = Suite::from_jsonl("s.jsonl", &format!("{GOOD}\n{GOOD}"), None)
            .expect_err("a repeated id");
        assert_eq!(
            error.to_string(),
            "s.jsonl, line 2, field `id`: `a-1` is the id of line 1 too"
        );

        let error = Suite::from_jsonl("s.jsonl", "{\"id\": ", None).expect_err("broken JSON");
        assert_eq!(error.place, "s.jsonl, line 1");

        let typo = GOOD.replace("\"request\"", "\"reqest\"");
        let error = Suite::from_jsonl("s.jsonl", &typo, None).expect_err("an unknown field");
        assert!(error.message.contains("unknown field `reqest`"), "{error}");
    }

    #[test]
    fn fields_are_checked() {
        let cases = [
            (GOOD.replace("\"a-1\"", "\"../a\""), "id"),
            (GOOD.replace("\"Fix it.\"", "\"  \""), "request"),
            (GOOD.replace(r#", "commit": "abc123""#, ""), "commit"),
            (
                GOOD.replace(
                    r#""check": "pytest""#,
                    r#""check": "pytest", "check_timeout_secs": 0"#,
                ),
                "check_timeout_secs",
            ),
            (
                GOOD.replace(
                    r#""check": "pytest""#,
                    r#""check": "pytest", "requires": ["go test"]"#,
                ),
                "requires",
            ),
            (
                GOOD.replace(
                    r#""check": "pytest""#,
                    r#""check": "pytest", "check_files": {"../x": ""}"#,
                ),
                "check_files.../x",
            ),
            (
                GOOD.replace(
                    r#""check": "pytest""#,
                    r#""check": "pytest", "check_files": {".git/hooks/x": ""}"#,
                ),
                "check_files..git/hooks/x",
            ),
        ];
        for (line, field) in cases {
            let error = Suite::from_jsonl("s.jsonl", &line, None).expect_err(field);
            assert_eq!(error.field.as_deref(), Some(field), "{error}");
        }
        let error = Suite::from_jsonl("s.jsonl", "\n\n", None).expect_err("no tasks");
        assert_eq!(
            error.to_string(),
            "s.jsonl: has no tasks (see docs/eval.md for the formats)"
        );
    }

    const TASK_JSON: &str = r#"{"language": "rust", "kind": "test", "request": "Add tests.", "check": "sh .c/check.sh", "requires": ["cargo"]}"#;

    #[test]
    fn a_task_directory_is_a_task() {
        let suite = Suite::from_tree(
            "suite",
            &tree(&[
                ("README.md", "about the suite"),
                ("t1/task.json", TASK_JSON),
                ("t1/repo/src/lib.rs", "pub fn f() {}"),
                ("t1/repo/.ollama-turbo.yml", "version: 1\n"),
                ("t1/check/.c/check.sh", "exit 0"),
                ("t1/solution.patch", "the answer"),
            ]),
            None,
        )
        .expect("valid");
        let [task] = suite.tasks.as_slice() else {
            panic!("one task expected: {suite:?}");
        };
        assert_eq!(task.id, "t1");
        assert_eq!(task.agent_task, "test");
        assert_eq!(
            task.repo,
            RepoSource::Files(tree(&[
                (".ollama-turbo.yml", "version: 1\n"),
                ("src/lib.rs", "pub fn f() {}")
            ]))
        );
        assert_eq!(task.check.files, tree(&[(".c/check.sh", "exit 0")]));
        assert_eq!(task.check.requires, ["cargo"]);
    }

    #[test]
    fn task_directory_errors_name_the_file() {
        let error = Suite::from_tree("suite", &tree(&[("t1/repo/a", "x")]), None)
            .expect_err("no task.json");
        assert_eq!(error.place, "suite/t1");
        assert!(error.message.starts_with("has no task.json"), "{error}");

        let error = Suite::from_tree(
            "suite",
            &tree(&[
                ("t1/task.json", TASK_JSON),
                ("t1/repo/a", "x"),
                ("t1/checks/b", "y"),
            ]),
            None,
        )
        .expect_err("a stray directory");
        assert_eq!(error.place, "suite/t1/checks/b");

        let error = Suite::from_tree(
            "suite",
            &tree(&[(
                "t1/task.json",
                "{\n  \"language\": \"rust\",\n  \"kind\": 3\n}",
            )]),
            None,
        )
        .expect_err("a bad kind");
        assert_eq!(error.place, "suite/t1/task.json, line 3");
        assert_eq!(error.field.as_deref(), Some("kind"));

        let error = Suite::from_tree("suite", &tree(&[("t1/task.json", TASK_JSON)]), None)
            .expect_err("no repository");
        assert_eq!(error.field.as_deref(), Some("repo"));

        let other_id = TASK_JSON.replace("{", r#"{"id": "t2", "#);
        let error = Suite::from_tree(
            "suite",
            &tree(&[("t1/task.json", &other_id), ("t1/repo/a", "x")]),
            None,
        )
        .expect_err("an id that is not the directory's");
        assert_eq!(error.field.as_deref(), Some("id"));
    }
}
