//! Where a suite comes from: the built-in one embedded in the binary (`cli/eval-suite/`,
//! by `build.rs`), a directory of task directories, or a JSONL file. All three end in
//! the one parser of [`super::suite`].

use std::path::Path;

use super::leftovers::LEFTOVERS;
use super::suite::{FileTree, Suite, SuiteError};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/eval_suite.rs"));
}

/// The name of the built-in suite, in the results.
pub const BUILT_IN: &str = "built-in";

/// The suite that ships with `ota`.
pub fn built_in() -> Result<Suite, SuiteError> {
    let tree: FileTree = embedded::FILES
        .iter()
        .map(|(path, content)| ((*path).to_owned(), content.to_vec()))
        .collect();
    Suite::from_tree(BUILT_IN, &tree, None)
}

/// The suite at `path`: a directory in the directory format, any other file as JSONL.
pub fn load(path: &Path) -> Result<Suite, SuiteError> {
    let name = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|err| {
        SuiteError::new(
            &name,
            None,
            format!("cannot be read ({err}); give a suite directory or a JSONL file"),
        )
    })?;
    if metadata.is_dir() {
        let mut tree = FileTree::new();
        read_tree(path, "", &mut tree)?;
        return Suite::from_tree(&name, &tree, Some(path));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|err| SuiteError::new(&name, None, format!("cannot be read as text: {err}")))?;
    Suite::from_jsonl(&name, &text, path.parent())
}

/// Every file below `dir` into `tree`, by its path under the root, builds and installs
/// left out ([`LEFTOVERS`]).
fn read_tree(dir: &Path, prefix: &str, tree: &mut FileTree) -> Result<(), SuiteError> {
    let unreadable = |path: &Path, err: std::io::Error| {
        SuiteError::new(
            path.display().to_string(),
            None,
            format!("cannot be read: {err}"),
        )
    };
    let entries = std::fs::read_dir(dir).map_err(|err| unreadable(dir, err))?;
    for entry in entries {
        let entry = entry.map_err(|err| unreadable(dir, err))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if LEFTOVERS.contains(&name.as_str()) {
            continue;
        }
        let relative = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(|err| unreadable(&path, err))?;
        if kind.is_dir() {
            read_tree(&path, &format!("{relative}/"), tree)?;
        } else if kind.is_symlink() && path.is_dir() {
            // A link may lead back up the tree; a task's files are its own.
            return Err(SuiteError::new(
                path.display().to_string(),
                None,
                "is a link to a directory, which a suite may not hold; copy the files instead",
            ));
        } else {
            let content = std::fs::read(&path).map_err(|err| unreadable(&path, err))?;
            tree.insert(relative, content);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::suite::Kind;

    #[test]
    fn the_built_in_suite_covers_four_languages_and_every_kind() {
        let suite = built_in().expect("the built-in suite is valid");
        assert_eq!(suite.tasks.len(), 12);
        let mut languages: Vec<&str> = suite.tasks.iter().map(|t| t.language.as_str()).collect();
        languages.dedup();
        assert_eq!(languages, ["go", "python", "rust", "typescript"]);
        for kind in [Kind::Fix, Kind::Test, Kind::Refactor, Kind::Docs] {
            assert!(suite.tasks.iter().any(|task| task.kind == kind), "{kind:?}");
        }
        for task in &suite.tasks {
            assert!(
                !task.check.requires.is_empty(),
                "{} says what its check needs",
                task.id
            );
        }
    }

    #[test]
    fn a_suite_directory_on_disk_is_read_without_its_builds() {
        let dir = tempfile::tempdir().expect("tmp");
        let task = dir.path().join("t1");
        std::fs::create_dir_all(task.join("repo/target")).expect("mkdir");
        std::fs::write(
            task.join("task.json"),
            r#"{"language": "rust", "kind": "fix", "request": "Fix.", "check": "true"}"#,
        )
        .expect("write");
        std::fs::write(task.join("repo/lib.rs"), "").expect("write");
        std::fs::write(task.join("repo/target/junk"), "").expect("write");
        let suite = load(dir.path()).expect("valid");
        let crate::eval::suite::RepoSource::Files(files) = &suite.tasks[0].repo else {
            panic!("files");
        };
        assert_eq!(files.keys().collect::<Vec<_>>(), ["lib.rs"]);
        let missing = load(&dir.path().join("nope")).expect_err("no such suite");
        assert!(missing.to_string().contains("cannot be read"), "{missing}");
    }
}
