//! The directory tree of the repository map: built from the walked file paths, rendered with
//! a depth limit and a cap on entries per directory.

use std::collections::BTreeMap;

/// A directory and everything under it that the walk admitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DirNode {
    dirs: BTreeMap<String, DirNode>,
    files: Vec<String>,
    total_files: usize,
}

impl DirNode {
    /// The tree of `paths` (relative, `/`-separated). Sorted input gives sorted file lists.
    pub fn from_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> DirNode {
        let mut root = DirNode::default();
        for path in paths {
            root.insert(path);
        }
        root
    }

    fn insert(&mut self, path: &str) {
        self.total_files += 1;
        match path.split_once('/') {
            None => self.files.push(path.to_owned()),
            Some((dir, rest)) => {
                // Look up before inserting, so only a new directory allocates its name.
                if let Some(child) = self.dirs.get_mut(dir) {
                    child.insert(rest);
                } else {
                    let mut child = DirNode::default();
                    child.insert(rest);
                    self.dirs.insert(dir.to_owned(), child);
                }
            }
        }
    }

    /// Whether a file or directory called `name` is directly in this directory.
    pub fn has_entry(&self, name: &str) -> bool {
        self.dirs.contains_key(name) || self.files.iter().any(|f| f == name)
    }

    /// The file names directly in this directory.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Renders the directory's contents as indented lines: directories first (with their file
    /// counts), then files, at most `per_dir` entries per directory, `depth` levels deep.
    /// A chain of directories holding only one directory each is shown as one entry
    /// (`src/main/java/`), so deep Java-style layouts don't use the depth up.
    pub fn render(&self, depth: usize, per_dir: usize) -> Vec<String> {
        let mut lines = Vec::new();
        self.render_into(&mut lines, 0, depth, per_dir);
        lines
    }

    fn render_into(&self, lines: &mut Vec<String>, indent: usize, depth: usize, per_dir: usize) {
        let pad = "  ".repeat(indent);
        let mut shown = 0;
        for (name, child) in &self.dirs {
            if shown == per_dir {
                break;
            }
            shown += 1;
            let (label, node) = child.collapse(name);
            lines.push(format!("{pad}{label}/ ({})", count(node.total_files)));
            if depth > 1 {
                node.render_into(lines, indent + 1, depth - 1, per_dir);
            }
        }
        let dirs_shown = shown;
        for file in &self.files {
            if shown == per_dir {
                break;
            }
            shown += 1;
            lines.push(format!("{pad}{file}"));
        }
        let more_dirs = self.dirs.len() - dirs_shown;
        let more_files = self.files.len() - (shown - dirs_shown);
        if more_dirs + more_files > 0 {
            let mut parts = Vec::new();
            if more_dirs > 0 {
                parts.push(format!("{more_dirs} more dirs"));
            }
            if more_files > 0 {
                parts.push(format!("{more_files} more files"));
            }
            lines.push(format!("{pad}… {}", parts.join(", ")));
        }
    }

    /// Follows single-directory chains from `name`, returning the joined label and the last node.
    fn collapse<'a>(&'a self, name: &str) -> (String, &'a DirNode) {
        let mut label = name.to_owned();
        let mut node = self;
        while node.files.is_empty() && node.dirs.len() == 1 {
            let Some((child_name, child)) = node.dirs.iter().next() else {
                break;
            };
            label.push('/');
            label.push_str(child_name);
            node = child;
        }
        (label, node)
    }
}

fn count(files: usize) -> String {
    if files == 1 {
        "1 file".to_owned()
    } else {
        format!("{files} files")
    }
}

#[cfg(test)]
mod tests {
    use super::DirNode;

    #[test]
    fn renders_dirs_first_with_counts_and_depth_limit() {
        let tree = DirNode::from_paths([
            "Cargo.toml",
            "README.md",
            "src/lib.rs",
            "src/tools/mod.rs",
            "src/tools/read.rs",
            "app/src/main/java/App.java",
        ]);
        assert_eq!(
            tree.render(2, 10),
            [
                "app/src/main/java/ (1 file)",
                "  App.java",
                "src/ (3 files)",
                "  tools/ (2 files)",
                "  lib.rs",
                "Cargo.toml",
                "README.md",
            ]
        );
        assert_eq!(tree.render(1, 10)[1], "src/ (3 files)");
    }

    #[test]
    fn caps_entries_per_directory() {
        let names: Vec<String> = (0..7).map(|i| format!("f{i}.txt")).collect();
        let mut paths: Vec<&str> = names.iter().map(String::as_str).collect();
        paths.extend(["a/x", "b/x"]);
        let tree = DirNode::from_paths(paths);
        assert_eq!(
            tree.render(1, 3),
            ["a/ (1 file)", "b/ (1 file)", "f0.txt", "… 6 more files"]
        );
        assert_eq!(
            tree.render(1, 1),
            ["a/ (1 file)", "… 1 more dirs, 7 more files"]
        );
        assert!(tree.has_entry("a") && tree.has_entry("f3.txt") && !tree.has_entry("x"));
    }
}
