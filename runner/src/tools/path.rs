//! Turning a path from the model into a checked path inside the workspace root.
//!
//! The check is done in two steps: a lexical one (no absolute paths, no `..` above the root, no
//! component that names `.git` on some file system, [`is_git_name`]), then a walk of the components on disk that follows each symbolic link and
//! refuses it if it lands outside the root or inside `.git/`.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::error::ToolError;

/// A path from the model, checked to lie inside the root.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedPath {
    /// The path on disk, with symbolic links resolved (for the components that exist).
    pub abs: PathBuf,
    /// The normalized relative path with `/` separators; empty for the root.
    pub rel: String,
    /// How many leading components of `rel` exist on disk.
    existing: usize,
    /// How many components `rel` has.
    components: usize,
}

impl ResolvedPath {
    /// Whether the whole path exists.
    pub fn exists(&self) -> bool {
        self.existing == self.components
    }

    /// The error for a path that does not exist, naming its deepest existing directory.
    pub fn not_found(&self) -> ToolError {
        let existing = self
            .rel
            .split('/')
            .take(self.existing)
            .collect::<Vec<_>>()
            .join("/");
        ToolError::NotFound {
            path: self.rel.clone(),
            existing: Some(existing),
        }
    }
}

/// Splits `input` into normal components, refusing absolute paths, escapes and `.git`.
fn normalize(root: &Path, input: &str) -> Result<Vec<String>, ToolError> {
    let trimmed = input.trim();
    let path = Path::new(trimmed);
    if path.has_root() || path.is_absolute() {
        let relative = path
            .strip_prefix(root)
            .ok()
            .map(|r| r.to_string_lossy().into_owned())
            .filter(|r| !r.is_empty());
        return Err(ToolError::AbsolutePath {
            path: trimmed.to_owned(),
            relative,
        });
    }
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(ToolError::OutsideWorkspace {
                        path: trimmed.to_owned(),
                    });
                }
            }
            Component::Normal(name) => {
                let name = name.to_string_lossy();
                if is_git_name(&name) {
                    return Err(ToolError::GitDirectory {
                        path: trimmed.to_owned(),
                    });
                }
                parts.push(name.into_owned());
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(ToolError::AbsolutePath {
                    path: trimmed.to_owned(),
                    relative: None,
                });
            }
        }
    }
    Ok(parts)
}

/// Resolves `input` against `root` (which must be canonical). The path need not exist: the
/// components that do are checked, the rest can't be links.
pub(crate) fn resolve(root: &Path, input: &str) -> Result<ResolvedPath, ToolError> {
    let parts = normalize(root, input)?;
    let rel = parts.join("/");
    let mut current = root.to_path_buf();
    let mut existing = 0;
    for (index, part) in parts.iter().enumerate() {
        let next = current.join(part);
        match fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let shown = parts[..=index].join("/");
                let target = match fs::canonicalize(&next) {
                    Ok(target) => target,
                    Err(err) if is_missing(&err) => {
                        return Err(ToolError::DanglingSymlink { path: shown });
                    }
                    Err(err) => return Err(ToolError::io(&shown, err)),
                };
                check_inside(root, &target, &rel)?;
                current = target;
                existing += 1;
            }
            Ok(_) => {
                current = next;
                existing += 1;
            }
            Err(err) if is_missing(&err) => {
                for rest in &parts[index..] {
                    current.push(rest);
                }
                break;
            }
            Err(err) => return Err(ToolError::io(&rel, err)),
        }
    }
    Ok(ResolvedPath {
        abs: current,
        rel,
        existing,
        components: parts.len(),
    })
}

/// Refuses a resolved link target outside `root` or inside a `.git` directory.
fn check_inside(root: &Path, target: &Path, shown: &str) -> Result<(), ToolError> {
    let Ok(inside) = target.strip_prefix(root) else {
        return Err(ToolError::OutsideWorkspace {
            path: shown.to_owned(),
        });
    };
    if inside
        .components()
        .any(|c| is_git_name(&c.as_os_str().to_string_lossy()))
    {
        return Err(ToolError::GitDirectory {
            path: shown.to_owned(),
        });
    }
    Ok(())
}

/// Whether a file name would be the repository's `.git` on some file system, as Git itself
/// refuses such names in a tree (`core.protectHFS`, `core.protectNTFS`, on by default):
/// `.git` in any case (case-insensitive file systems), with trailing spaces or dots or an
/// NTFS stream suffix (`.git.`, `.git::$INDEX_ALLOCATION`), its NTFS short name `git~1`,
/// with characters HFS+ ignores (`.g\u{200c}it`), or as a `\`-separated part (a separator
/// on Windows). A file written there would reach the hooks on such a system, and on any
/// system `git add` refuses it, which would fail the job at its commit.
pub(crate) fn is_git_name(name: &str) -> bool {
    name.split('\\').any(|part| {
        let visible: String = part.chars().filter(|c| !hfs_ignored(*c)).collect();
        let base = visible.split(':').next().unwrap_or_default();
        let base = base.trim_end_matches([' ', '.']).to_ascii_lowercase();
        base == ".git" || base == "git~1"
    })
}

/// Code points HFS+ ignores when it compares names (Git's `is_hfs_dotgit` list).
fn hfs_ignored(c: char) -> bool {
    matches!(
        c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}'
    )
}

/// "Not found", including a path that goes through a regular file (`src/main.rs/x`).
fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::workspace_with;

    fn root_of(dir: &tempfile::TempDir) -> PathBuf {
        fs::canonicalize(dir.path()).unwrap_or_else(|_| dir.path().to_path_buf())
    }

    #[test]
    fn normalizes_dots_and_inner_parent_components() {
        let (dir, _) = workspace_with(&[("src/lib.rs", "x")]);
        let root = root_of(&dir);
        let resolved = resolve(&root, "./src/../src/./lib.rs").unwrap();
        assert_eq!(resolved.rel, "src/lib.rs");
        assert!(resolved.exists());
        assert_eq!(resolved.abs, root.join("src/lib.rs"));
        assert_eq!(resolve(&root, "").unwrap().rel, "");
        assert_eq!(resolve(&root, " . ").unwrap().rel, "");
    }

    #[test]
    fn refuses_absolute_paths_and_suggests_the_relative_form() {
        let (dir, _) = workspace_with(&[("src/lib.rs", "x")]);
        let root = root_of(&dir);
        let err = resolve(&root, "/etc/passwd").unwrap_err();
        assert!(matches!(
            err,
            ToolError::AbsolutePath { relative: None, .. }
        ));
        let inside = format!("{}/src/lib.rs", root.display());
        let err = resolve(&root, &inside).unwrap_err();
        assert!(err.to_string().contains("(use `src/lib.rs`)"), "{err}");
    }

    #[test]
    fn refuses_parent_escapes() {
        let (dir, _) = workspace_with(&[("src/lib.rs", "x")]);
        let root = root_of(&dir);
        for input in ["..", "../x", "src/../../x", "a/b/../../../etc"] {
            let err = resolve(&root, input).unwrap_err();
            assert!(
                matches!(err, ToolError::OutsideWorkspace { .. }),
                "{input}: {err}"
            );
        }
    }

    #[test]
    fn refuses_git_directory_at_any_depth() {
        let (dir, _) = workspace_with(&[(".git/config", "x"), ("sub/.git", "gitdir: x")]);
        let root = root_of(&dir);
        for input in [".git", ".git/config", "./.git/HEAD", "sub/.git"] {
            let err = resolve(&root, input).unwrap_err();
            assert!(
                matches!(err, ToolError::GitDirectory { .. }),
                "{input}: {err}"
            );
        }
        assert!(resolve(&root, ".github/workflows/ci.yml").is_ok());
        assert!(resolve(&root, ".gitignore").is_ok());
    }

    #[test]
    fn refuses_names_that_are_git_on_other_file_systems() {
        let (dir, _) = workspace_with(&[("src/lib.rs", "x")]);
        let root = root_of(&dir);
        for input in [
            ".GIT/hooks/pre-commit",
            ".Git/config",
            "src/.gIt/hooks/post-checkout",
            ".git./hooks/x",
            ".git . /hooks/x",
            ".git::$INDEX_ALLOCATION/hooks/x",
            "GIT~1/hooks/x",
            "git~1",
            ".g\u{200c}it/hooks/x",
            "\u{feff}.GIT/config",
            "a\\.git\\hooks\\x",
        ] {
            let err = resolve(&root, input).unwrap_err();
            assert!(
                matches!(err, ToolError::GitDirectory { .. }),
                "{input}: {err}"
            );
            assert!(
                err.to_string()
                    .contains("is inside `.git/`, which these tools never read or change"),
                "{err}"
            );
        }
        for fine in [
            ".gitignore",
            ".git-blame-ignore-revs",
            "git~2",
            ".github",
            "x.git",
        ] {
            assert!(resolve(&root, fine).is_ok(), "{fine}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn follows_links_inside_and_refuses_links_outside() {
        let (dir, _) = workspace_with(&[("real/file.txt", "x"), (".git/config", "x")]);
        let outside = tempfile::tempdir().unwrap();
        let root = root_of(&dir);
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
        std::os::unix::fs::symlink(root.join(".git"), root.join("sneaky")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();

        let ok = resolve(&root, "alias/file.txt").unwrap();
        assert_eq!(ok.abs, root.join("real/file.txt"));
        assert!(matches!(
            resolve(&root, "escape/new.txt").unwrap_err(),
            ToolError::OutsideWorkspace { .. }
        ));
        assert!(matches!(
            resolve(&root, "sneaky/config").unwrap_err(),
            ToolError::GitDirectory { .. }
        ));
        assert!(matches!(
            resolve(&root, "dangling").unwrap_err(),
            ToolError::DanglingSymlink { .. }
        ));
    }

    #[test]
    fn missing_paths_name_the_deepest_existing_directory() {
        let (dir, _) = workspace_with(&[("src/lib.rs", "x")]);
        let root = root_of(&dir);
        let missing = resolve(&root, "src/nope/deeper.rs").unwrap();
        assert!(!missing.exists());
        let message = missing.not_found().to_string();
        assert!(message.contains("`src` exists"), "{message}");
        let through_file = resolve(&root, "src/lib.rs/x").unwrap();
        assert!(!through_file.exists());
    }
}
