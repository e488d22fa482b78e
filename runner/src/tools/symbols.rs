//! The symbols of the repository map: where things are defined, ranked by how much the rest
//! of the code uses them, so the model starts from the code that matters (as aider's map
//! does).
//!
//! Each file in a language with a grammar here is parsed with tree-sitter and run through
//! its grammar's tag queries, which find definitions (functions, methods, types, modules,
//! macros) and references (calls, implementations, type uses) by name. A definition ranks
//! by the number of *other* files that refer to its name, shared among the definitions of
//! that name (a name defined in five files is a weak signal for each). The map shows each
//! ranked definition as its line of source, so the model sees a signature, not a label.
//!
//! The work is bounded for a large repository: files over [`MAX_FILE_BYTES`] are left out,
//! and at most [`MAX_FILES`] files or [`MAX_TOTAL_BYTES`] are read, in path order.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use tree_sitter::{Query, QueryCursor, StreamingIterator};

use super::read::clip_line;
use super::syntax::{Grammar, parser_for};

/// Files larger than this are generated or data, not code to map.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// The most files read for symbols.
pub const MAX_FILES: usize = 2_000;
/// The most bytes read for symbols, over all files.
pub const MAX_TOTAL_BYTES: u64 = 24 * 1024 * 1024;
/// A definition's line is cut to this many characters.
const MAX_LINE_CHARS: usize = 120;

/// One definition, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub name: String,
    /// Its line of source, trimmed and cut.
    pub source_line: String,
    /// How many other files refer to the name.
    pub used_in: usize,
    /// `used_in` shared among the definitions of the name.
    pub score: f64,
}

/// The ranked definitions of a set of files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Symbols {
    /// Most used first; then by path and line.
    pub ranked: Vec<Definition>,
    /// Files parsed.
    pub files_read: usize,
    /// Files in a mapped language left out by the bounds.
    pub files_left_out: usize,
}

/// A grammar's compiled tag query and what each of its captures means.
struct Tagger {
    query: Query,
    name: Option<u32>,
    /// Per capture index: `Some(true)` for a definition, `Some(false)` for a reference.
    roles: Vec<Option<bool>>,
}

impl Tagger {
    fn new(grammar: Grammar) -> Option<Self> {
        let query = Query::new(&grammar.language(), &grammar.tags_query())
            .map_err(|err| tracing::warn!(?grammar, %err, "a grammar's tag query does not compile"))
            .ok()?;
        let roles = query
            .capture_names()
            .iter()
            .map(|capture| {
                if capture.starts_with("definition.") {
                    Some(true)
                } else if capture.starts_with("reference.") {
                    Some(false)
                } else {
                    None
                }
            })
            .collect();
        Some(Self {
            name: query.capture_index_for_name("name"),
            query,
            roles,
        })
    }
}

/// What one file defines and refers to.
#[derive(Default)]
struct FileTags {
    /// (name, 0-based row) of each definition.
    definitions: Vec<(String, usize)>,
    references: HashSet<String>,
}

fn tag_file(grammar: Grammar, tagger: &Tagger, source: &[u8]) -> Option<FileTags> {
    let name_index = tagger.name?;
    let tree = parser_for(grammar)?.parse(source, None)?;
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&tagger.query, tree.root_node(), source);
    let mut tags = FileTags::default();
    while let Some(found) = matches.next() {
        let role = found.captures().iter().find_map(|capture| {
            tagger
                .roles
                .get(usize::try_from(capture.index).ok()?)
                .copied()
                .flatten()
        });
        let Some(role) = role else { continue };
        let Some(name) = found
            .captures()
            .iter()
            .find(|capture| capture.index == name_index)
        else {
            continue;
        };
        let Ok(text) = name.node.utf8_text(source) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        if role {
            tags.definitions
                .push((text.to_owned(), name.node.start_position().row));
        } else {
            tags.references.insert(text.to_owned());
        }
    }
    Some(tags)
}

/// The ranked definitions of `files` (paths relative to `root`, in the order to read them).
pub(crate) fn rank(root: &Path, files: &[String]) -> Symbols {
    let mut taggers: HashMap<Grammar, Option<Tagger>> = HashMap::new();
    let mut tagged: Vec<(&str, Vec<u8>, FileTags)> = Vec::new();
    let mut symbols = Symbols::default();
    let mut total = 0u64;
    for rel in files {
        let Some(grammar) = Grammar::for_path(rel) else {
            continue;
        };
        let path = root.join(rel);
        let size = fs::metadata(&path)
            .map(|meta| meta.len())
            .unwrap_or(u64::MAX);
        if size > MAX_FILE_BYTES
            || tagged.len() >= MAX_FILES
            || total.saturating_add(size) > MAX_TOTAL_BYTES
        {
            symbols.files_left_out += 1;
            continue;
        }
        let Ok(source) = fs::read(&path) else {
            continue;
        };
        total += size;
        let tagger = taggers
            .entry(grammar)
            .or_insert_with(|| Tagger::new(grammar));
        let Some(tagger) = tagger.as_ref() else {
            continue;
        };
        if let Some(tags) = tag_file(grammar, tagger, &source) {
            tagged.push((rel.as_str(), source, tags));
        }
    }
    symbols.files_read = tagged.len();

    // Which files refer to each name, and how many definitions each name has.
    let mut referring: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut defined: HashMap<&str, usize> = HashMap::new();
    for (index, (_, _, tags)) in tagged.iter().enumerate() {
        for name in &tags.references {
            referring.entry(name.as_str()).or_default().push(index);
        }
        for (name, _) in &tags.definitions {
            *defined.entry(name.as_str()).or_default() += 1;
        }
    }
    for (index, (rel, source, tags)) in tagged.iter().enumerate() {
        let lines: Vec<&[u8]> = source.split(|&b| b == b'\n').collect();
        for (name, row) in &tags.definitions {
            let used_in = referring
                .get(name.as_str())
                .map_or(0, |files| files.iter().filter(|&&f| f != index).count());
            let share = defined.get(name.as_str()).copied().unwrap_or(1).max(1);
            let line = lines
                .get(*row)
                .map(|line| String::from_utf8_lossy(line).trim().to_owned())
                .unwrap_or_default();
            symbols.ranked.push(Definition {
                path: (*rel).to_owned(),
                line: row + 1,
                name: name.clone(),
                source_line: clip_line(&line, MAX_LINE_CHARS).into_owned(),
                used_in,
                score: used_in as f64 / share as f64,
            });
        }
    }
    symbols.ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.path.cmp(&b.path))
            .then(a.line.cmp(&b.line))
    });
    symbols
}

impl Symbols {
    /// The section of the map within `budget` characters: the most used definitions,
    /// grouped under their files (files in the order of their best definition, lines in
    /// file order), each as `line: source`. Empty when there is nothing to show or no room.
    pub fn render(&self, budget: usize) -> String {
        if self.ranked.is_empty() {
            return String::new();
        }
        let mut head = String::from(
            "Definitions, most used across files first (line: source; from tree-sitter tags):\n",
        );
        if self.files_left_out > 0 {
            let files = match self.files_left_out {
                1 => "1 file".to_owned(),
                n => format!("{n} files"),
            };
            head = format!(
                "Definitions, most used across files first (line: source; from tree-sitter \
                 tags; {files} left out for size):\n"
            );
        }
        if head.len() + 40 > budget {
            return String::new();
        }
        // Take definitions in rank order while their lines (and their file's heading the
        // first time) fit.
        let mut used = head.len() + "… [more definitions cut to fit]\n".len();
        let mut chosen: Vec<&Definition> = Vec::new();
        let mut files: Vec<&str> = Vec::new();
        for definition in &self.ranked {
            let mut cost = format!("  {}: {}\n", definition.line, definition.source_line).len();
            if !files.contains(&definition.path.as_str()) {
                cost += definition.path.len() + 1;
            }
            if used + cost > budget {
                continue;
            }
            used += cost;
            if !files.contains(&definition.path.as_str()) {
                files.push(&definition.path);
            }
            chosen.push(definition);
        }
        let mut out = head;
        for file in &files {
            out.push_str(file);
            out.push('\n');
            let mut lines: Vec<&&Definition> =
                chosen.iter().filter(|d| d.path.as_str() == *file).collect();
            lines.sort_by_key(|d| d.line);
            for definition in lines {
                out.push_str(&format!(
                    "  {}: {}\n",
                    definition.line, definition.source_line
                ));
            }
        }
        if chosen.len() < self.ranked.len() {
            out.push_str("… [more definitions cut to fit]\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::test_support::workspace_with;

    const CONFIG_RS: &str = "pub struct Config {\n    pub name: String,\n}\n\npub fn parse_config(text: &str) -> Config {\n    Config { name: text.to_owned() }\n}\n\nfn helper() {}\n";
    const MAIN_RS: &str = "fn main() {\n    let config = config::parse_config(\"x\");\n    run(config);\n}\n\nfn run(_: config::Config) {}\n";
    const APP_PY: &str = "from config import parse_config\n\ndef serve():\n    parse_config('y')\n";
    const UTIL_TS: &str = "export function formatName(name: string): string {\n  return name.trim();\n}\n\nexport class Greeter {\n  greet(name: string) { return formatName(name); }\n}\n";
    const USE_TS: &str = "import { Greeter, formatName } from './util';\nconst g = new Greeter();\nconsole.log(formatName(' a '));\n";
    const GO: &str = "package main\n\nfunc Add(a, b int) int { return a + b }\n\nfunc main() { println(Add(1, 2)) }\n";

    fn files(list: &[(&str, &str)]) -> Vec<String> {
        list.iter().map(|(path, _)| (*path).to_owned()).collect()
    }

    #[test]
    fn definitions_used_in_other_files_rank_first() {
        let list = [
            ("src/config.rs", CONFIG_RS),
            ("src/main.rs", MAIN_RS),
            ("app.py", APP_PY),
            ("web/util.ts", UTIL_TS),
            ("web/use.ts", USE_TS),
            ("cmd/main.go", GO),
        ];
        let (_dir, ws) = workspace_with(&list);
        let symbols = rank(ws.root(), &files(&list));
        assert_eq!(symbols.files_read, 6);
        let used: Vec<(&str, usize)> = symbols
            .ranked
            .iter()
            .map(|d| (d.name.as_str(), d.used_in))
            .collect();
        // `parse_config` is called from main.rs (through its path) and app.py; `Config`
        // is named in main.rs, `formatName` and `Greeter` in use.ts. Ties go by path.
        assert_eq!(
            used[..4],
            [
                ("parse_config", 2),
                ("Config", 1),
                ("formatName", 1),
                ("Greeter", 1)
            ],
            "{:#?}",
            symbols.ranked
        );
        let parse = &symbols.ranked[0];
        assert_eq!((parse.path.as_str(), parse.line), ("src/config.rs", 5));
        assert_eq!(
            parse.source_line,
            "pub fn parse_config(text: &str) -> Config {"
        );
        // Used only where it is defined: ranked, but last.
        let helper = symbols.ranked.iter().find(|d| d.name == "helper");
        assert_eq!(helper.map(|d| d.used_in), Some(0));
        let go = symbols.ranked.iter().find(|d| d.name == "Add");
        assert_eq!(
            go.map(|d| (d.path.as_str(), d.line)),
            Some(("cmd/main.go", 3))
        );
    }

    #[test]
    fn the_section_fits_its_budget_grouped_by_file() {
        let list = [("src/config.rs", CONFIG_RS), ("src/main.rs", MAIN_RS)];
        let (_dir, ws) = workspace_with(&list);
        let symbols = rank(ws.root(), &files(&list));
        let whole = symbols.render(10_000);
        insta::assert_snapshot!("symbols_section", whole);
        let small = symbols.render(260);
        assert!(small.len() <= 260, "{} > 260:\n{small}", small.len());
        assert!(small.contains("5: pub fn parse_config"), "{small}");
        assert!(
            small.ends_with("… [more definitions cut to fit]\n"),
            "{small}"
        );
        assert_eq!(symbols.render(20), "");
    }

    #[test]
    fn large_files_are_left_out_and_said_to_be() {
        let big = "fn f() {}\n".repeat((MAX_FILE_BYTES as usize / 10) + 1);
        let list = [("src/big.rs", big.as_str()), ("src/main.rs", MAIN_RS)];
        let (_dir, ws) = workspace_with(&list);
        let symbols = rank(ws.root(), &files(&list));
        assert_eq!((symbols.files_read, symbols.files_left_out), (1, 1));
        assert!(symbols.render(10_000).contains("1 file left out for size"));
    }
}
