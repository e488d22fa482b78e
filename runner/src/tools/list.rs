//! `list_files`: the files under a directory, sorted and capped, for the model to pick from.

use std::fmt;

use super::error::{ToolError, display_path};
use super::walk::{GlobFilter, collect_files};
use super::workspace::Workspace;

/// The most paths one `list_files` call returns, whatever limit the model asks for: at about
/// ten tokens a path, a thousand paths is already a large share of a model's context.
pub const MAX_LIST_LIMIT: usize = 1000;

/// The limit to use when the model gives none: enough to see a typical source directory whole.
pub const DEFAULT_LIST_LIMIT: usize = 200;

/// The result of `list_files`: the first `limit` paths in sorted order, and how many matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileList {
    /// The directory listed, relative to the root (empty for the root).
    pub dir: String,
    /// The glob the files were narrowed with, if any.
    pub glob: Option<String>,
    /// Relative paths from the root, sorted, at most the limit.
    pub files: Vec<String>,
    /// How many files matched in all.
    pub total: usize,
}

impl Workspace {
    /// Lists the files under `dir` (relative to the root, `""` or `"."` for the root), narrowed
    /// by `glob` (see the `tools` module for the walk policy and glob rules), sorted by path,
    /// at most `limit` of them (clamped to 1..=[`MAX_LIST_LIMIT`]).
    pub fn list_files(
        &self,
        dir: &str,
        glob: Option<&str>,
        limit: usize,
    ) -> Result<FileList, ToolError> {
        let resolved = self.resolve_dir(dir)?;
        let glob = glob.map(str::trim).filter(|g| !g.is_empty());
        let filter = glob.map(GlobFilter::new).transpose()?;
        let mut files = collect_files(self.root(), &resolved.abs, filter.as_ref());
        let total = files.len();
        let limit = limit.clamp(1, MAX_LIST_LIMIT);
        if files.len() > limit {
            // Only the first `limit` in order are shown: partition, then sort just those.
            files.select_nth_unstable(limit);
            files.truncate(limit);
        }
        files.sort_unstable();
        Ok(FileList {
            dir: resolved.rel,
            glob: glob.map(str::to_owned),
            files,
            total,
        })
    }
}

impl fmt::Display for FileList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matching = self
            .glob
            .as_ref()
            .map(|g| format!(" matching `{g}`"))
            .unwrap_or_default();
        if self.files.is_empty() {
            return write!(
                f,
                "no files under `{}`{matching} (files ignored by .gitignore or .ignore, and .git/, are not listed)",
                display_path(&self.dir)
            );
        }
        for file in &self.files {
            writeln!(f, "{file}")?;
        }
        let more = self.total - self.files.len();
        if more > 0 {
            write!(
                f,
                "… {more} more files{matching} not shown ({} in all); list a subdirectory or add a glob to narrow it",
                self.total
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::tools::test_support::workspace_with;
    use crate::tools::{DEFAULT_LIST_LIMIT, ToolError};

    fn listed(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('…')).collect()
    }

    #[test]
    fn lists_sorted_files_respecting_gitignore_and_skipping_git() {
        let (_dir, ws) = workspace_with(&[
            ("b.txt", "b"),
            ("a/z.rs", "z"),
            ("a/y.rs", "y"),
            (".gitignore", "target/\n*.log\n"),
            (".ignore", "secret.txt\n"),
            ("target/debug/out", "x"),
            ("debug.log", "x"),
            ("secret.txt", "x"),
            (".github/workflows/ci.yml", "on: push"),
            (".git/HEAD", "ref: refs/heads/main"),
        ]);
        let list = ws.list_files("", None, DEFAULT_LIST_LIMIT).unwrap();
        assert_eq!(
            list.files,
            [
                ".github/workflows/ci.yml",
                ".gitignore",
                ".ignore",
                "a/y.rs",
                "a/z.rs",
                "b.txt"
            ]
        );
        assert_eq!(list.total, 6);
        assert!(!list.to_string().contains("more"));
    }

    #[test]
    fn lists_a_subdirectory_with_the_root_gitignore_applied() {
        let (_dir, ws) = workspace_with(&[
            (".gitignore", "*.gen.rs\n"),
            ("src/lib.rs", "x"),
            ("src/api.gen.rs", "x"),
            ("src/deep/mod.rs", "x"),
            ("other/lib.rs", "x"),
        ]);
        let list = ws.list_files("./src/", None, 10).unwrap();
        assert_eq!(list.files, ["src/deep/mod.rs", "src/lib.rs"]);
        assert_eq!(list.dir, "src");
    }

    #[test]
    fn narrows_by_file_name_glob_or_path_glob() {
        let (_dir, ws) =
            workspace_with(&[("src/lib.rs", "x"), ("src/a/b.rs", "x"), ("README.md", "x")]);
        let by_name = ws.list_files("", Some("*.rs"), 10).unwrap();
        assert_eq!(by_name.files, ["src/a/b.rs", "src/lib.rs"]);
        let by_path = ws.list_files("", Some("src/*.rs"), 10).unwrap();
        assert_eq!(by_path.files, ["src/lib.rs"]);
        let none = ws.list_files("", Some("*.py"), 10).unwrap();
        assert!(
            none.to_string()
                .starts_with("no files under `.` matching `*.py`")
        );
        let bad = ws.list_files("", Some("src/[a"), 10).unwrap_err();
        assert!(matches!(bad, ToolError::InvalidGlob { .. }), "{bad}");
    }

    #[test]
    fn caps_the_list_and_says_how_many_more() {
        let files: Vec<(String, &str)> = (0..30).map(|i| (format!("f{i:02}.txt"), "x")).collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let (_dir, ws) = workspace_with(&refs);
        let list = ws.list_files("", None, 5).unwrap();
        assert_eq!(
            list.files,
            ["f00.txt", "f01.txt", "f02.txt", "f03.txt", "f04.txt"]
        );
        let text = list.to_string();
        assert_eq!(listed(&text).len(), 5);
        assert!(text.ends_with("… 25 more files not shown (30 in all); list a subdirectory or add a glob to narrow it"), "{text}");
        assert_eq!(ws.list_files("", None, 0).unwrap().files.len(), 1);
    }

    #[test]
    fn refuses_files_escapes_and_missing_directories() {
        let (_dir, ws) = workspace_with(&[("src/lib.rs", "x")]);
        assert!(matches!(
            ws.list_files("src/lib.rs", None, 10).unwrap_err(),
            ToolError::NotADirectory { .. }
        ));
        assert!(matches!(
            ws.list_files("../", None, 10).unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
        assert!(matches!(
            ws.list_files("nope", None, 10).unwrap_err(),
            ToolError::NotFound { .. }
        ));
        assert!(matches!(
            ws.list_files(".git", None, 10).unwrap_err(),
            ToolError::GitDirectory { .. }
        ));
    }
}
