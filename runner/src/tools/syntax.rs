//! Parsing a file after an edit, so an edit that breaks its syntax is told to the model at
//! once, with where, rather than turns later by a failing command (or never, when the
//! repository has none).
//!
//! Only the languages with a tree-sitter grammar here are parsed: Rust, Python, JavaScript
//! (with JSX), TypeScript (and TSX) and Go. A file that did not parse before the edit is not
//! reported: the edit did not break it, and the model is told only about what it did.

use std::fmt;

use tree_sitter::{Language, Node, Parser};

/// Where a file stops parsing, and what the parser found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// The language the file was parsed as, by its extension.
    pub language: &'static str,
    /// 1-based line and column (in characters) of the first error.
    pub line: usize,
    pub column: usize,
    /// What is wrong there: `unexpected `}``, `missing `;``.
    pub what: String,
}

impl fmt::Display for SyntaxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.what
        )
    }
}

/// The tree-sitter grammars the tools parse with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Grammar {
    Rust,
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
}

impl Grammar {
    /// The grammar for the relative path `rel`, by its extension.
    pub(crate) fn for_path(rel: &str) -> Option<Self> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let (stem, ext) = name.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        Some(match ext.to_ascii_lowercase().as_str() {
            "rs" => Self::Rust,
            "py" | "pyi" => Self::Python,
            "js" | "mjs" | "cjs" | "jsx" => Self::JavaScript,
            "ts" | "mts" | "cts" => Self::TypeScript,
            "tsx" => Self::Tsx,
            "go" => Self::Go,
            _ => return None,
        })
    }

    /// The language's name, as the model is told it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rust => "Rust",
            Self::Python => "Python",
            Self::JavaScript => "JavaScript",
            Self::TypeScript | Self::Tsx => "TypeScript",
            Self::Go => "Go",
        }
    }

    pub(crate) fn language(self) -> Language {
        match self {
            Self::Rust => tree_sitter_rust::LANGUAGE.into(),
            Self::Python => tree_sitter_python::LANGUAGE.into(),
            Self::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Self::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }

    /// The grammar's tag queries (definitions and references), as its crate ships them.
    /// TypeScript's add only what JavaScript's lack, so both are used for it; Rust's get
    /// the references they miss.
    pub(crate) fn tags_query(self) -> String {
        match self {
            // Rust's capture only calls of a bare name; code reaches most of its items
            // through paths (`config::parse`) and names types, so those count too.
            Self::Rust => format!("{}\n{RUST_PATH_REFERENCES}", tree_sitter_rust::TAGS_QUERY),
            Self::Python => tree_sitter_python::TAGS_QUERY.to_owned(),
            Self::JavaScript => tree_sitter_javascript::TAGS_QUERY.to_owned(),
            Self::TypeScript | Self::Tsx => format!(
                "{}\n{}",
                tree_sitter_javascript::TAGS_QUERY,
                tree_sitter_typescript::TAGS_QUERY
            ),
            Self::Go => tree_sitter_go::TAGS_QUERY.to_owned(),
        }
    }
}

/// References the Rust grammar's tag queries leave out: calls through a path, and the
/// names of types wherever they are used.
const RUST_PATH_REFERENCES: &str = "
(call_expression
    function: (scoped_identifier
        name: (identifier) @name)) @reference.call

(type_identifier) @name @reference.type
";

/// A parser set to `grammar`.
pub(crate) fn parser_for(grammar: Grammar) -> Option<Parser> {
    let mut parser = Parser::new();
    parser.set_language(&grammar.language()).ok()?;
    Some(parser)
}

/// The first syntax error of `source`, the content of `rel`, when its language has a
/// grammar here; `None` when it parses, or cannot be parsed here.
pub fn first_problem(rel: &str, source: &[u8]) -> Option<SyntaxProblem> {
    let grammar = Grammar::for_path(rel)?;
    let tree = parser_for(grammar)?.parse(source, None)?;
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let node = first_error_node(root);
    let at = node.start_position();
    let line_start = source[..node.start_byte().min(source.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    let column = String::from_utf8_lossy(&source[line_start..node.start_byte().min(source.len())])
        .chars()
        .count()
        + 1;
    Some(SyntaxProblem {
        language: grammar.name(),
        line: at.row + 1,
        column,
        what: describe(node, source),
    })
}

/// Whether an edit from `before` to `after` broke the file's syntax: it parsed before and
/// does not now. `before` is `None` for a file the edit created.
pub fn broken_by_edit(rel: &str, before: Option<&[u8]>, after: &[u8]) -> Option<SyntaxProblem> {
    let problem = first_problem(rel, after)?;
    match before {
        Some(before) if first_problem(rel, before).is_some() => None,
        _ => Some(problem),
    }
}

/// The first node, in document order, that is an error or a missing token (or, failing
/// that, the innermost node holding the error).
fn first_error_node(root: Node<'_>) -> Node<'_> {
    let mut cursor = root.walk();
    let mut node = root;
    loop {
        if node.is_error() || node.is_missing() {
            return node;
        }
        // Into the first child that holds an error, else on to the next sibling that does.
        let next = node
            .children(&mut cursor)
            .find(|child| child.has_error() || child.is_missing());
        match next {
            Some(child) => node = child,
            // The error is this node's own (an unexpected end inside it).
            None => return node,
        }
    }
}

/// What the parser found: a token it did not expect, or one it needed and did not find.
fn describe(node: Node<'_>, source: &[u8]) -> String {
    if node.is_missing() {
        return format!("missing `{}`", node.kind());
    }
    let text = source
        .get(node.start_byte()..node.end_byte())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let first_line = text.lines().map(str::trim).find(|line| !line.is_empty());
    let Some(line) = first_line else {
        return "unexpected end of file".to_owned();
    };
    let shown: String = line.chars().take(40).collect();
    let more = if shown.len() < line.len() { "…" } else { "" };
    // An error running from here over several lines to the end of the file is something
    // the parser could not close: a bracket or block left open.
    let to_the_end = source
        .get(node.end_byte()..)
        .is_some_and(|rest| rest.iter().all(u8::is_ascii_whitespace));
    if to_the_end && node.end_position().row > node.start_position().row {
        format!(
            "the file ends before what starts here (`{shown}{more}`) is complete; a bracket \
             or block is left open"
        )
    } else {
        format!("unexpected `{shown}{more}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_parses_has_no_problem() {
        let rust = b"fn main() {\n    let x = 1;\n}\n";
        assert_eq!(first_problem("src/main.rs", rust), None);
        assert_eq!(first_problem("app.py", b"def f():\n    return 1\n"), None);
        assert_eq!(
            first_problem("a.go", b"package a\n\nfunc F() int { return 1 }\n"),
            None
        );
        assert_eq!(
            first_problem("a.tsx", b"const A = () => <div>{1}</div>;\n"),
            None
        );
    }

    #[test]
    fn a_stray_brace_is_found_at_its_line_and_column() {
        let broken = b"fn main() {\n    let x = 1;\n}\n    }\n";
        let problem = first_problem("src/main.rs", broken).expect("a problem");
        assert_eq!(problem.language, "Rust");
        assert_eq!(problem.line, 4);
        assert_eq!(problem.column, 5);
        assert_eq!(problem.to_string(), "line 4, column 5: unexpected `}`");
    }

    #[test]
    fn a_missing_token_is_named() {
        let problem =
            first_problem("a.ts", b"function f(a: number {\n  return a;\n}\n").expect("a problem");
        assert_eq!(problem.language, "TypeScript");
        assert_eq!(problem.line, 1, "{problem}");
        let python = first_problem("a.py", b"def f(:\n    return 1\n").expect("a problem");
        assert_eq!(python.line, 1, "{python}");
    }

    #[test]
    fn a_block_left_open_is_named_where_it_starts() {
        let problem = first_problem("src/lib.rs", b"pub fn f() -> u32 {\n    1\n\nfn g() {}\n")
            .expect("a problem");
        assert_eq!(
            problem.to_string(),
            "line 1, column 1: the file ends before what starts here (`pub fn f() -> u32 {`) \
             is complete; a bracket or block is left open"
        );
    }

    #[test]
    fn only_an_edit_that_broke_the_file_is_reported() {
        let good = b"fn a() {}\n".as_slice();
        let bad = b"fn a() {\n".as_slice();
        assert!(broken_by_edit("a.rs", Some(good), bad).is_some());
        assert!(broken_by_edit("a.rs", None, bad).is_some(), "a new file");
        assert_eq!(
            broken_by_edit("a.rs", Some(bad), bad),
            None,
            "broken before"
        );
        assert_eq!(broken_by_edit("a.rs", Some(good), good), None);
        assert_eq!(
            broken_by_edit("notes.txt", None, b"fn {"),
            None,
            "no grammar"
        );
        assert_eq!(broken_by_edit(".rs", None, b"fn {"), None, "a dotfile");
    }
}
