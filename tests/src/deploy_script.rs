//! The world of `scripts/deploy`'s tests: a copy of the files the script reads in a
//! temporary git repository, with the commands it calls at the edge (`sam`, `aws`, `pip`,
//! `cargo`, `sleep`) replaced by small scripts that record their arguments and answer
//! what a test scripted. Git is real: the script tags and packages a real commit.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of the workspace the script reads, copied as they are.
const WORKSPACE_FILES: [&str; 4] = [
    "scripts/deploy",
    "samconfig.toml",
    "runner/Cargo.toml",
    "requirements-deploy.txt",
];

/// The commands replaced, and where: the deployment tools in `.venv-deploy/bin` (where the
/// script installs them and puts them first on `PATH`), the others first on the `PATH`
/// the script starts with.
const STUBS: [(&str, &str); 5] = [
    (".venv-deploy/bin", "sam"),
    (".venv-deploy/bin", "aws"),
    (".venv-deploy/bin", "pip"),
    ("stub-bin", "cargo"),
    ("stub-bin", "sleep"),
];

/// A stub: appends its name and arguments to `calls.log`, then answers from
/// `responses/KEY/N/` (the Nth call with that key) or `responses/KEY/any/`: `out` on
/// stdout, `err` on stderr, exit status `code` (0 when absent). KEY is the command and
/// its first argument, and for `aws` its second (`aws.codebuild.start-build`).
const STUB: &str = r#"#!/bin/sh
name=$(basename "$0")
{ printf '%s' "$name"; for arg in "$@"; do printf ' %s' "$arg"; done; printf '\n'; } >> "$STUB_ROOT/calls.log"
key="$name.$1"
[ "$name" = aws ] && key="$key.$2"
count_file="$STUB_ROOT/counts/$key"
n=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$count_file"
dir="$STUB_ROOT/responses/$key/$n"
[ -d "$dir" ] || dir="$STUB_ROOT/responses/$key/any"
[ -f "$dir/out" ] && cat "$dir/out"
[ -f "$dir/err" ] && cat "$dir/err" >&2
exit "$(cat "$dir/code" 2>/dev/null || echo 0)"
"#;

/// What one run of the script did.
#[derive(Debug)]
pub struct Run {
    /// Its exit status (-1 when killed by a signal).
    pub code: i32,
    /// Its stdout and stderr as they interleaved, redacted (`DeployWorld::redact`).
    pub output: String,
    /// The stubbed commands it called, in order, one line each, redacted.
    pub calls: Vec<String>,
}

/// A temporary workspace to run `scripts/deploy` in.
pub struct DeployWorld {
    dir: tempfile::TempDir,
}

impl DeployWorld {
    /// The workspace's files committed in a fresh repository, every command stubbed.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let world = Self { dir };
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in WORKSPACE_FILES {
            let to = world.path().join(file);
            std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
            std::fs::copy(source.join(file), &to).unwrap_or_else(|err| panic!("{file}: {err}"));
        }
        for (at, name) in STUBS {
            let to = world.path().join(at).join(name);
            std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&to, STUB).expect("writing a stub");
            make_executable(&to);
        }
        std::fs::create_dir_all(world.path().join("counts")).expect("mkdir");
        world.git(&["init", "--quiet", "--initial-branch=main"]);
        world.git(&["add", "."]);
        world.git(&["commit", "--quiet", "--message", "the workspace"]);
        world
    }

    /// The workspace's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `n`th call (from 1) of `key` answers `out`, `err` and `code`; `None`: every
    /// call not scripted by number.
    pub fn respond(&self, key: &str, n: Option<u32>, out: &str, err: &str, code: i32) {
        let nth = n.map_or_else(|| "any".to_owned(), |n| n.to_string());
        let dir = self.path().join("responses").join(key).join(nth);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("out"), out).expect("writing a response");
        std::fs::write(dir.join("err"), err).expect("writing a response");
        std::fs::write(dir.join("code"), code.to_string()).expect("writing a response");
    }

    /// HEAD's short hash, as the script tags the image with it.
    pub fn commit(&self) -> String {
        self.git(&["rev-parse", "--short=7", "HEAD"])
    }

    /// Changes a committed file without committing it.
    pub fn change_without_committing(&self) {
        let file = self.path().join("samconfig.toml");
        let mut text = std::fs::read_to_string(&file).expect("samconfig.toml");
        text.push_str("# changed\n");
        std::fs::write(file, text).expect("writing samconfig.toml");
    }

    /// Writes `text` to `name` in the workspace (not committed) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("writing a file");
        path
    }

    /// Runs `scripts/deploy ARGS` with the stubs first on `PATH` and no AWS settings
    /// from the environment: only what samconfig.toml says.
    pub fn run(&self, args: &[&str]) -> Run {
        let path = format!(
            "{}:{}",
            self.path().join("stub-bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 2>&1"#)
            .arg(self.path().join("scripts/deploy"))
            .args(args)
            .current_dir(self.path())
            .env("PATH", path)
            .env("STUB_ROOT", self.path())
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("running scripts/deploy");
        let calls = std::fs::read_to_string(self.path().join("calls.log")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path().join("calls.log"));
        Run {
            code: output.status.code().unwrap_or(-1),
            output: self.redact(&String::from_utf8_lossy(&output.stdout)),
            calls: calls.lines().map(|line| self.redact(line)).collect(),
        }
    }

    /// `text` with what changes from run to run named instead: the workspace's path and
    /// HEAD's hash.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.path().display().to_string(), "[workspace]")
            .replace(&self.commit(), "[commit]")
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_NAME", "Deployer")
            .env("GIT_AUTHOR_EMAIL", "deployer@example.com")
            .env("GIT_COMMITTER_NAME", "Deployer")
            .env("GIT_COMMITTER_EMAIL", "deployer@example.com")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("running git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Default for DeployWorld {
    fn default() -> Self {
        Self::new()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
