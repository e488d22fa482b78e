//! Naming a file's language from its name or extension, for the repository map's breakdown.

use std::borrow::Cow;

/// The language of the file at the relative path `rel`, if it is one the map reports.
pub(crate) fn language_of(rel: &str) -> Option<&'static str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if let Some(language) = by_name(name) {
        return Some(language);
    }
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() {
        return None; // a dotfile such as `.gitignore`
    }
    let ext = if ext.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(ext.to_ascii_lowercase())
    } else {
        Cow::Borrowed(ext)
    };
    by_extension(&ext)
}

fn by_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "Makefile" | "makefile" | "GNUmakefile" => "Makefile",
        "Dockerfile" | "Containerfile" => "Dockerfile",
        "CMakeLists.txt" => "CMake",
        "Rakefile" | "Gemfile" => "Ruby",
        "Justfile" | "justfile" => "Just",
        _ => return None,
    })
}

fn by_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "rs" => "Rust",
        "py" | "pyi" => "Python",
        "js" | "mjs" | "cjs" | "jsx" => "JavaScript",
        "ts" | "mts" | "cts" | "tsx" => "TypeScript",
        "go" => "Go",
        "java" => "Java",
        "kt" | "kts" => "Kotlin",
        "scala" => "Scala",
        "c" | "h" => "C",
        "cc" | "cpp" | "cxx" | "hh" | "hpp" | "hxx" => "C++",
        "cs" => "C#",
        "fs" | "fsx" => "F#",
        "swift" => "Swift",
        "m" | "mm" => "Objective-C",
        "rb" => "Ruby",
        "php" => "PHP",
        "pl" | "pm" => "Perl",
        "lua" => "Lua",
        "r" => "R",
        "jl" => "Julia",
        "dart" => "Dart",
        "ex" | "exs" => "Elixir",
        "erl" | "hrl" => "Erlang",
        "hs" => "Haskell",
        "ml" | "mli" => "OCaml",
        "clj" | "cljs" | "cljc" => "Clojure",
        "zig" => "Zig",
        "nim" => "Nim",
        "sh" | "bash" | "zsh" => "Shell",
        "ps1" => "PowerShell",
        "sql" => "SQL",
        "html" | "htm" => "HTML",
        "css" | "scss" | "sass" | "less" => "CSS",
        "vue" => "Vue",
        "svelte" => "Svelte",
        "md" | "markdown" => "Markdown",
        "rst" => "reStructuredText",
        "tex" => "TeX",
        "json" | "jsonc" => "JSON",
        "yml" | "yaml" => "YAML",
        "toml" => "TOML",
        "xml" => "XML",
        "proto" => "Protocol Buffers",
        "tf" | "hcl" => "HCL",
        "nix" => "Nix",
        "gradle" => "Gradle",
        "cmake" => "CMake",
        "mk" => "Makefile",
        "ipynb" => "Jupyter Notebook",
        "sol" => "Solidity",
        "graphql" | "gql" => "GraphQL",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::language_of;

    #[test]
    fn names_languages_by_file_name_and_extension() {
        assert_eq!(language_of("src/main.rs"), Some("Rust"));
        assert_eq!(language_of("web/App.TSX"), Some("TypeScript"));
        assert_eq!(language_of("Makefile"), Some("Makefile"));
        assert_eq!(language_of("build/CMakeLists.txt"), Some("CMake"));
        assert_eq!(language_of("notes.txt"), None);
        assert_eq!(language_of(".gitignore"), None);
        assert_eq!(language_of("LICENSE"), None);
    }
}
