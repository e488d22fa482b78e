//! `repo_map`: a compact overview of the repository for the start of the prompt — languages,
//! build and test commands, the directory tree, the definitions the rest of the code uses
//! most (`symbols`) and the head of the README — within a size cap.

use std::collections::HashMap;
use std::fmt;
use std::fs;

use super::commands::{DetectedCommand, detect_commands};
use super::error::ToolError;
use super::languages::language_of;
use super::read::{clip_line, is_binary, split_lines};
use super::symbols::{Symbols, rank};
use super::tree::DirNode;
use super::walk::collect_files;
use super::workspace::Workspace;

/// Root files bigger than this are not read for command detection or the README: real
/// manifests and READMEs are far smaller, and this bounds the work on a hostile repository.
const MAX_ROOT_FILE_BYTES: u64 = 512 * 1024;

/// README lines are cut to this many characters (badges and long URLs add nothing).
const MAX_README_LINE_CHARS: usize = 200;

/// The most languages listed; the rest are summed up as "other".
const MAX_LANGUAGES: usize = 8;

/// The shape and size of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoMapLimits {
    /// How many directory levels the tree shows at most (fewer if it would not fit).
    pub max_depth: usize,
    /// The most entries shown per directory; the rest are counted.
    pub max_entries_per_dir: usize,
    /// How many README lines to include from the top.
    pub readme_lines: usize,
    /// The most characters the rendered map may have.
    pub max_chars: usize,
    /// Whether to parse the files for their definitions (`symbols`).
    pub symbols: bool,
}

impl Default for RepoMapLimits {
    /// About 3,000 tokens: a fair share of a 32k-token context for orientation, leaving the
    /// rest for the task and the files the model reads.
    fn default() -> Self {
        RepoMapLimits {
            max_depth: 3,
            max_entries_per_dir: 20,
            readme_lines: 30,
            max_chars: 12_000,
            symbols: true,
        }
    }
}

/// One language's share of the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageShare {
    pub language: &'static str,
    pub files: usize,
}

/// The top of the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadmeHead {
    pub path: String,
    /// The first lines, each cut to a reasonable width.
    pub lines: Vec<String>,
    pub total_lines: usize,
}

/// The repository map. `Display` renders it within `limits.max_chars`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoMap {
    /// How many files the walk admitted.
    pub total_files: usize,
    /// Languages by file count, most first.
    pub languages: Vec<LanguageShare>,
    /// Files in a language the map knows.
    pub files_with_language: usize,
    /// Commands suggested by the root files.
    pub commands: Vec<DetectedCommand>,
    pub readme: Option<ReadmeHead>,
    /// Definitions ranked by how much the rest of the code uses them.
    pub symbols: Symbols,
    tree: DirNode,
    limits: RepoMapLimits,
}

impl Workspace {
    /// Builds the repository map in one walk of the workspace (same policy as `list_files`).
    pub fn repo_map(&self, limits: RepoMapLimits) -> Result<RepoMap, ToolError> {
        self.repo_map_in("", limits)
    }

    /// The map of directory `dir` (a task's `directory` in a monorepo): its files, with
    /// their paths from the repository root, the tree as deep below `dir` as the limits
    /// allow, and the commands and README found in `dir` itself.
    pub fn repo_map_in(&self, dir: &str, limits: RepoMapLimits) -> Result<RepoMap, ToolError> {
        let start = self.resolve_dir(dir)?;
        let prefix = if start.rel.is_empty() {
            String::new()
        } else {
            format!("{}/", start.rel)
        };
        let limits = RepoMapLimits {
            max_depth: limits.max_depth + start.rel.split('/').filter(|p| !p.is_empty()).count(),
            ..limits
        };
        let mut files = collect_files(self.root(), &start.abs, None);
        files.sort_unstable();

        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        for file in &files {
            if let Some(language) = language_of(file) {
                *counts.entry(language).or_default() += 1;
            }
        }
        let files_with_language = counts.values().sum();
        let mut languages: Vec<LanguageShare> = counts
            .into_iter()
            .map(|(language, files)| LanguageShare { language, files })
            .collect();
        languages.sort_by(|a, b| b.files.cmp(&a.files).then(a.language.cmp(b.language)));

        let tree = DirNode::from_paths(files.iter().map(String::as_str));
        let here = DirNode::from_paths(files.iter().filter_map(|f| f.strip_prefix(&prefix)));
        let read_root = |name: &str| -> Option<String> {
            // Only files the walk admitted, so never a link or an ignored file.
            if !here.files().iter().any(|f| f == name) {
                return None;
            }
            let path = start.abs.join(name);
            let size = fs::metadata(&path).ok()?.len();
            if size > MAX_ROOT_FILE_BYTES {
                return None;
            }
            let bytes = fs::read(&path).ok()?;
            (!is_binary(&bytes)).then(|| String::from_utf8_lossy(&bytes).into_owned())
        };
        let commands = detect_commands(|name| here.has_entry(name), read_root);
        let readme = readme_name(here.files()).and_then(|name| {
            let text = read_root(name)?;
            let all: Vec<&[u8]> = split_lines(text.as_bytes()).collect();
            let lines = all
                .iter()
                .take(limits.readme_lines)
                .map(|l| clip_line(&String::from_utf8_lossy(l), MAX_README_LINE_CHARS).into_owned())
                .collect();
            Some(ReadmeHead {
                path: format!("{prefix}{name}"),
                lines,
                total_lines: all.len(),
            })
        });

        let symbols = if limits.symbols {
            rank(self.root(), &files)
        } else {
            Symbols::default()
        };
        Ok(RepoMap {
            total_files: files.len(),
            languages,
            files_with_language,
            commands,
            readme,
            symbols,
            tree,
            limits,
        })
    }
}

/// The README at the root, preferring Markdown: `README.md`, then any `README*` in any case.
fn readme_name(root_files: &[String]) -> Option<&str> {
    let is_readme = |f: &&String| f.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("readme"));
    root_files
        .iter()
        .find(|f| f.as_str() == "README.md")
        .or_else(|| root_files.iter().find(is_readme))
        .map(String::as_str)
}

impl RepoMap {
    /// The map as text within `limits.max_chars`: the README gets at most a quarter of the
    /// budget and the definitions a third, and the tree what is left (it loses depth first,
    /// then lines).
    pub fn render(&self) -> String {
        let max = self.limits.max_chars;
        let mut out = self.header();
        let readme = self.readme_section(max / 4);
        let symbols = self.symbols.render(max / 3);
        let budget = max.saturating_sub(out.len() + readme.len() + symbols.len());

        let mut tree_text = String::new();
        for depth in (1..=self.limits.max_depth.max(1)).rev() {
            tree_text = self.tree_section(depth, usize::MAX);
            if tree_text.len() <= budget || depth == 1 {
                break;
            }
        }
        if tree_text.len() > budget {
            tree_text = self.tree_section(1, budget);
        }
        out.push_str(&tree_text);
        out.push_str(&symbols);
        out.push_str(&readme);
        if out.len() > max {
            let cut = (0..=max)
                .rev()
                .find(|&i| out.is_char_boundary(i))
                .unwrap_or(0);
            out.truncate(cut);
            out.push_str("\n[map cut to fit]");
        }
        out
    }

    fn header(&self) -> String {
        let mut out = format!("Repository map: {} files\n", self.total_files);
        if !self.languages.is_empty() {
            let percent = |n: usize| {
                (n * 100 + self.files_with_language / 2) / self.files_with_language.max(1)
            };
            let mut parts: Vec<String> = self
                .languages
                .iter()
                .take(MAX_LANGUAGES)
                .map(|l| format!("{} {}% ({})", l.language, percent(l.files), l.files))
                .collect();
            let other: usize = self
                .languages
                .iter()
                .skip(MAX_LANGUAGES)
                .map(|l| l.files)
                .sum();
            if other > 0 {
                parts.push(format!("other {}% ({other})", percent(other)));
            }
            out.push_str(&format!("Languages by file count: {}\n", parts.join(", ")));
        }
        if self.commands.is_empty() {
            out.push_str("Build and test commands: none detected from the root files\n");
        } else {
            out.push_str("Build and test commands (guessed from the root files; check before relying on them):\n");
            for command in &self.commands {
                out.push_str(&format!("  {command}\n"));
            }
        }
        out
    }

    /// The tree at `depth`, stopping at a line that would pass `budget` characters.
    fn tree_section(&self, depth: usize, budget: usize) -> String {
        let mut out = format!(
            "Tree (depth {depth}; files ignored by .gitignore or .ignore, and .git/, are left out):\n"
        );
        for line in self.tree.render(depth, self.limits.max_entries_per_dir) {
            if out.len() + line.len() + 1 > budget.saturating_sub(24) && budget != usize::MAX {
                out.push_str("… [tree cut to fit]\n");
                break;
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn readme_section(&self, budget: usize) -> String {
        let Some(readme) = &self.readme else {
            return String::new();
        };
        let mut out = format!(
            "{} (first {} of {} lines):\n",
            readme.path,
            readme.lines.len(),
            readme.total_lines
        );
        for line in &readme.lines {
            if out.len() + line.len() + 1 > budget {
                out.push_str("…\n");
                break;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for RepoMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::{workspace_with, write};

    fn sample() -> (tempfile::TempDir, Workspace) {
        let (dir, ws) = workspace_with(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"core\"]\n"),
            ("README.md", "# Demo\n\nA demo project.\nMore text.\n"),
            (".gitignore", "target/\n"),
            ("target/debug/huge.rs", "fn ignored() {}"),
            ("core/src/lib.rs", "pub fn f() {}"),
            ("core/src/util.rs", "pub fn g() {}"),
            ("scripts/run.py", "print(1)"),
            ("docs/guide.md", "# Guide"),
        ]);
        write(&dir, "assets/logo.png", b"\x89PNG\0\0");
        (dir, ws)
    }

    #[test]
    fn maps_languages_commands_tree_and_readme() {
        let (_dir, ws) = sample();
        let map = ws.repo_map(RepoMapLimits::default()).unwrap();
        assert_eq!(map.total_files, 8);
        assert_eq!(
            map.languages,
            [
                LanguageShare {
                    language: "Markdown",
                    files: 2
                },
                LanguageShare {
                    language: "Rust",
                    files: 2
                },
                LanguageShare {
                    language: "Python",
                    files: 1
                },
                LanguageShare {
                    language: "TOML",
                    files: 1
                },
            ]
        );
        assert_eq!(
            map.render(),
            "Repository map: 8 files\n\
             Languages by file count: Markdown 33% (2), Rust 33% (2), Python 17% (1), TOML 17% (1)\n\
             Build and test commands (guessed from the root files; check before relying on them):\n\
             \x20 build: cargo build --workspace (Cargo.toml)\n\
             \x20 test: cargo test --workspace (Cargo.toml)\n\
             \x20 lint: cargo clippy --workspace --all-targets (Cargo.toml)\n\
             Tree (depth 3; files ignored by .gitignore or .ignore, and .git/, are left out):\n\
             assets/ (1 file)\n\
             \x20 logo.png\n\
             core/src/ (2 files)\n\
             \x20 lib.rs\n\
             \x20 util.rs\n\
             docs/ (1 file)\n\
             \x20 guide.md\n\
             scripts/ (1 file)\n\
             \x20 run.py\n\
             .gitignore\n\
             Cargo.toml\n\
             README.md\n\
             Definitions, most used across files first (line: source; from tree-sitter tags):\n\
             core/src/lib.rs\n\
             \x20 1: pub fn f() {}\n\
             core/src/util.rs\n\
             \x20 1: pub fn g() {}\n\
             README.md (first 4 of 4 lines):\n\
             # Demo\n\
             \n\
             A demo project.\n\
             More text.\n"
        );
    }

    #[test]
    fn shrinks_the_tree_to_fit_the_size_cap() {
        let (dir, _) = workspace_with(&[("README", "plain readme\n")]);
        for i in 0..300 {
            write(&dir, &format!("pkg{:03}/src/mod{i}/file.rs", i % 40), b"x");
        }
        let ws = Workspace::new(dir.path()).unwrap();
        let limits = RepoMapLimits {
            max_chars: 1_500,
            ..RepoMapLimits::default()
        };
        let text = ws.repo_map(limits).unwrap().render();
        assert!(text.len() <= 1_500 + 20, "{} chars", text.len());
        assert!(text.contains("Tree (depth 1;"), "{text}");
        assert!(
            text.contains("… [tree cut to fit]") || text.contains("more dirs"),
            "{text}"
        );
        assert!(
            text.contains("README (first 1 of 1 lines):\nplain readme"),
            "{text}"
        );
        assert!(text.contains("Build and test commands: none detected"));

        let tiny = RepoMapLimits {
            max_chars: 100,
            ..RepoMapLimits::default()
        };
        let text = ws.repo_map(tiny).unwrap().render();
        assert!(text.len() <= 100 + 20, "{text}");
    }

    #[test]
    fn a_map_of_a_directory_keeps_root_paths_and_finds_its_own_commands_and_readme() {
        let (_dir, ws) = workspace_with(&[
            (".gitignore", "*.gen.rs\n"),
            ("README.md", "# Monorepo\n"),
            ("packages/api/Cargo.toml", "[package]\nname = \"api\"\n"),
            ("packages/api/README.md", "# API\n"),
            ("packages/api/src/lib.rs", "pub fn f() {}"),
            ("packages/api/src/out.gen.rs", "pub fn g() {}"),
            ("packages/web/index.js", "x"),
        ]);
        let map = ws
            .repo_map_in("packages/api/", RepoMapLimits::default())
            .expect("map");
        assert_eq!(map.total_files, 3, "the root's .gitignore applies: {map:?}");
        assert_eq!(
            map.readme.as_ref().map(|r| r.path.as_str()),
            Some("packages/api/README.md")
        );
        assert!(
            !map.commands.is_empty(),
            "Cargo.toml of the directory: {map:?}"
        );
        let text = map.render();
        assert!(text.contains("lib.rs"), "{text}");
        assert!(!text.contains("index.js"), "{text}");
        assert!(
            ws.repo_map_in("packages/none", RepoMapLimits::default())
                .is_err()
        );
        assert!(
            ws.repo_map_in("../elsewhere", RepoMapLimits::default())
                .is_err()
        );
    }
}
