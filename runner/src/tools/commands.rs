//! Guessing a repository's build, test and lint commands from the files at its root.
//!
//! Pure: [`detect_commands`] is given a way to ask whether a root entry exists and to read a
//! root file, so it is tested from strings. Only the root is looked at; a monorepo's nested
//! packages are for the model to explore.

use std::fmt;

/// What a detected command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CommandKind {
    Build,
    Test,
    Lint,
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandKind::Build => "build",
            CommandKind::Test => "test",
            CommandKind::Lint => "lint",
        })
    }
}

/// A command the repository's files suggest, and the file that suggests it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedCommand {
    pub kind: CommandKind,
    pub command: String,
    pub source: &'static str,
}

impl fmt::Display for DetectedCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.kind, self.command, self.source)
    }
}

/// The text npm writes into a new `package.json` as its test script, which only fails.
const NPM_PLACEHOLDER_TEST: &str = "no test specified";

/// Detects commands. `has(name)` says whether a file or directory `name` exists at the root;
/// `read(name)` returns a root file's text. The project's own entry point (a Makefile) comes
/// first, then each ecosystem's commands.
pub fn detect_commands(
    has: impl Fn(&str) -> bool,
    read: impl Fn(&str) -> Option<String>,
) -> Vec<DetectedCommand> {
    let mut found = Vec::new();
    let mut add = |kind, command: String, source| {
        found.push(DetectedCommand {
            kind,
            command,
            source,
        })
    };

    for makefile in ["Makefile", "makefile", "GNUmakefile"] {
        if let Some(text) = read(makefile) {
            let targets = make_targets(&text);
            let has_target = |t: &str| targets.iter().any(|x| x == t);
            if has_target("build") {
                add(CommandKind::Build, "make build".into(), makefile);
            } else if has_target("all") {
                add(CommandKind::Build, "make".into(), makefile);
            }
            for (target, kind) in [
                ("test", CommandKind::Test),
                ("check", CommandKind::Test),
                ("lint", CommandKind::Lint),
            ] {
                if has_target(target) {
                    add(kind, format!("make {target}"), makefile);
                }
            }
            break;
        }
    }

    if let Some(text) = read("Cargo.toml") {
        let all = if text.contains("[workspace]") {
            " --workspace"
        } else {
            ""
        };
        add(
            CommandKind::Build,
            format!("cargo build{all}"),
            "Cargo.toml",
        );
        add(CommandKind::Test, format!("cargo test{all}"), "Cargo.toml");
        add(
            CommandKind::Lint,
            format!("cargo clippy{all} --all-targets"),
            "Cargo.toml",
        );
    }

    if let Some(text) = read("package.json") {
        let runner = if has("pnpm-lock.yaml") {
            "pnpm"
        } else if has("yarn.lock") {
            "yarn"
        } else if has("bun.lockb") || has("bun.lock") {
            "bun"
        } else {
            "npm"
        };
        for (script, kind) in npm_scripts(&text) {
            let command = match kind {
                CommandKind::Test => format!("{runner} test"),
                _ => format!("{runner} run {script}"),
            };
            add(kind, command, "package.json");
        }
    }

    if has("deno.json") || has("deno.jsonc") {
        add(CommandKind::Test, "deno test".into(), "deno.json");
    }

    let pyproject = read("pyproject.toml");
    let uses_pytest = pyproject.as_deref().is_some_and(|t| t.contains("pytest"))
        || has("pytest.ini")
        || has("conftest.py")
        || read("setup.cfg").is_some_and(|t| t.contains("[tool:pytest]"))
        || read("tox.ini").is_some_and(|t| t.contains("[pytest]"));
    let python_runner = if has("uv.lock") {
        "uv run "
    } else if has("poetry.lock") {
        "poetry run "
    } else {
        ""
    };
    if uses_pytest {
        let source = if pyproject.is_some() {
            "pyproject.toml"
        } else {
            "pytest configuration"
        };
        add(CommandKind::Test, format!("{python_runner}pytest"), source);
    } else if has("tox.ini") {
        add(CommandKind::Test, "tox".into(), "tox.ini");
    } else if (pyproject.is_some() || has("setup.py")) && has("tests") {
        add(
            CommandKind::Test,
            format!("{python_runner}python -m unittest discover tests"),
            "tests/",
        );
    }
    if pyproject
        .as_deref()
        .is_some_and(|t| t.contains("[tool.ruff"))
    {
        add(
            CommandKind::Lint,
            format!("{python_runner}ruff check ."),
            "pyproject.toml",
        );
    }

    if has("go.mod") {
        add(CommandKind::Build, "go build ./...".into(), "go.mod");
        add(CommandKind::Test, "go test ./...".into(), "go.mod");
        add(CommandKind::Lint, "go vet ./...".into(), "go.mod");
    }

    if has("pom.xml") {
        add(
            CommandKind::Build,
            "mvn -B package -DskipTests".into(),
            "pom.xml",
        );
        add(CommandKind::Test, "mvn -B test".into(), "pom.xml");
    }
    for gradle in ["build.gradle.kts", "build.gradle"] {
        if has(gradle) {
            let tool = if has("gradlew") {
                "./gradlew"
            } else {
                "gradle"
            };
            add(CommandKind::Build, format!("{tool} assemble"), gradle);
            add(CommandKind::Test, format!("{tool} test"), gradle);
            break;
        }
    }

    if has("CMakeLists.txt") {
        add(
            CommandKind::Build,
            "cmake -S . -B build && cmake --build build".into(),
            "CMakeLists.txt",
        );
        add(
            CommandKind::Test,
            "ctest --test-dir build".into(),
            "CMakeLists.txt",
        );
    }

    if has("mix.exs") {
        add(CommandKind::Build, "mix compile".into(), "mix.exs");
        add(CommandKind::Test, "mix test".into(), "mix.exs");
    }

    if has("Gemfile") {
        if has("spec") {
            add(CommandKind::Test, "bundle exec rspec".into(), "Gemfile");
        } else if has("Rakefile") {
            add(
                CommandKind::Test,
                "bundle exec rake test".into(),
                "Rakefile",
            );
        }
    }

    found
}

/// The targets a Makefile defines (rule lines `a b: deps`), skipping variable assignments
/// (`X := y`, `X = a:b`), recipes and special targets such as `.PHONY`.
fn make_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in text.lines() {
        if line.starts_with(['\t', ' ', '#', '.']) {
            continue;
        }
        let Some((left, right)) = line.split_once(':') else {
            continue;
        };
        if right.starts_with('=') || left.contains('=') || left.contains('$') {
            continue;
        }
        targets.extend(left.split_whitespace().map(str::to_owned));
    }
    targets
}

/// The `package.json` scripts worth running, with what each is for: `test` (unless it is
/// npm's placeholder), `build` and `lint`. Unparsable JSON yields nothing.
fn npm_scripts(text: &str) -> Vec<(&'static str, CommandKind)> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let Some(scripts) = json.get("scripts").and_then(|s| s.as_object()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if scripts.contains_key("build") {
        found.push(("build", CommandKind::Build));
    }
    if scripts
        .get("test")
        .and_then(|t| t.as_str())
        .is_some_and(|t| !t.contains(NPM_PLACEHOLDER_TEST))
    {
        found.push(("test", CommandKind::Test));
    }
    if scripts.contains_key("lint") {
        found.push(("lint", CommandKind::Lint));
    }
    found
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn detect(files: &[(&str, &str)]) -> Vec<String> {
        let files: HashMap<&str, &str> = files.iter().copied().collect();
        detect_commands(
            |name| files.contains_key(name),
            |name| files.get(name).map(|t| (*t).to_owned()),
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn cargo_projects_and_workspaces() {
        assert_eq!(
            detect(&[("Cargo.toml", "[package]\nname = \"x\"\n")]),
            [
                "build: cargo build (Cargo.toml)",
                "test: cargo test (Cargo.toml)",
                "lint: cargo clippy --all-targets (Cargo.toml)"
            ]
        );
        let workspace = detect(&[("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n")]);
        assert_eq!(workspace[1], "test: cargo test --workspace (Cargo.toml)");
    }

    #[test]
    fn package_json_scripts_skip_the_npm_placeholder() {
        let real = r#"{"scripts": {"test": "vitest run", "build": "tsc", "lint": "eslint ."}}"#;
        assert_eq!(
            detect(&[("package.json", real), ("pnpm-lock.yaml", "")]),
            [
                "build: pnpm run build (package.json)",
                "test: pnpm test (package.json)",
                "lint: pnpm run lint (package.json)"
            ]
        );
        let placeholder = r#"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#;
        assert!(detect(&[("package.json", placeholder)]).is_empty());
        assert!(detect(&[("package.json", "{ not json")]).is_empty());
    }

    #[test]
    fn python_projects() {
        let pyproject = "[project]\nname='x'\n[tool.pytest.ini_options]\n[tool.ruff]\n";
        assert_eq!(
            detect(&[("pyproject.toml", pyproject), ("uv.lock", "")]),
            [
                "test: uv run pytest (pyproject.toml)",
                "lint: uv run ruff check . (pyproject.toml)"
            ]
        );
        assert_eq!(
            detect(&[("setup.py", ""), ("tox.ini", "[tox]\n")]),
            ["test: tox (tox.ini)"]
        );
        assert_eq!(
            detect(&[("setup.py", ""), ("tests", "")]),
            ["test: python -m unittest discover tests (tests/)"]
        );
    }

    #[test]
    fn go_modules() {
        assert_eq!(
            detect(&[("go.mod", "module x\n")]),
            [
                "build: go build ./... (go.mod)",
                "test: go test ./... (go.mod)",
                "lint: go vet ./... (go.mod)"
            ]
        );
    }

    #[test]
    fn makefile_targets_come_first() {
        let makefile = ".PHONY: test\nCC := gcc\nURL = http://x\nall: app\n\ttest -f x: y\ntest check: all\n\t./run\nlint:\n";
        assert_eq!(
            detect(&[("Makefile", makefile), ("go.mod", "")])[..4],
            [
                "build: make (Makefile)",
                "test: make test (Makefile)",
                "test: make check (Makefile)",
                "lint: make lint (Makefile)"
            ]
        );
    }

    #[test]
    fn other_ecosystems() {
        assert_eq!(
            detect(&[("build.gradle.kts", ""), ("gradlew", "")]),
            [
                "build: ./gradlew assemble (build.gradle.kts)",
                "test: ./gradlew test (build.gradle.kts)"
            ]
        );
        assert_eq!(detect(&[("pom.xml", "")])[1], "test: mvn -B test (pom.xml)");
        assert_eq!(detect(&[("mix.exs", "")])[1], "test: mix test (mix.exs)");
        assert_eq!(
            detect(&[("Gemfile", ""), ("spec", "")]),
            ["test: bundle exec rspec (Gemfile)"]
        );
        assert!(detect(&[("README.md", "hi")]).is_empty());
    }
}
