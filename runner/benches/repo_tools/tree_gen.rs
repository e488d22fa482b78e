//! The benchmark's repository: a deterministic tree of source files in several languages, with
//! `.gitignore`d directories, binary files, hidden files and a `.git/` directory.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// The rare literal the benchmark searches for: about one file in 150 has it.
pub const LITERAL: &str = "XYZZY_MARKER";

/// The regular expression the benchmark searches for: error variants, on about one line in 60.
pub const REGEX: &str = r"[A-Z][a-z]+Error::[A-Z]\w+";

/// What was generated.
#[derive(Debug, Default)]
pub struct Generated {
    pub files: usize,
    pub ignored: usize,
    pub binary: usize,
    pub bytes: u64,
}

/// A small deterministic generator (SplitMix64), so every run builds the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "config", "parser", "buffer", "token", "stream", "index", "cache", "request", "response",
    "handler", "session", "record", "value", "entry", "node", "graph", "queue", "worker", "schema",
    "report", "limit", "budget", "branch", "commit", "review", "label", "event",
];

const ERRORS: &[&str] = &["ParseError", "IoError", "ConfigError", "TimeoutError"];

const VARIANTS: &[&str] = &["Invalid", "Missing", "Closed", "Expired", "Unsupported"];

/// The kinds of file in the tree, as (share in thousandths, directory, extension, ignored).
const KINDS: &[(u64, &str, &str, bool)] = &[
    (300, "crates", "rs", false),
    (150, "web/src", "ts", false),
    (130, "python/pkg", "py", false),
    (100, "services", "go", false),
    (50, "native", "c", false),
    (50, "docs", "md", false),
    (20, "assets", "png", false),
    (100, "target/debug/build", "rs", true),
    (60, "node_modules", "js", true),
    (40, "logs", "log", true),
];

/// Writes about `total` files under `root` and returns what it wrote.
pub fn generate(root: &Path, total: usize) -> io::Result<Generated> {
    let mut fixed: Vec<(String, Vec<u8>)> = vec![
        (
            ".gitignore".into(),
            b"target/\nnode_modules/\n*.log\n".to_vec(),
        ),
        (
            "Cargo.toml".into(),
            b"[workspace]\nmembers = [\"crates/*\"]\n".to_vec(),
        ),
        (
            "package.json".into(),
            br#"{"scripts": {"test": "vitest run", "build": "tsc"}}"#.to_vec(),
        ),
        ("go.mod".into(), b"module example.com/bench\n".to_vec()),
        (
            "Makefile".into(),
            b"all: build\nbuild:\n\tcargo build\ntest:\n\tcargo test\n".to_vec(),
        ),
    ];
    let readme: String = (0..60)
        .map(|i| format!("Line {i} of the benchmark README.\n"))
        .collect();
    fixed.push(("README.md".into(), readme.into_bytes()));
    for i in 0..10 {
        fixed.push((
            format!(".github/workflows/ci{i}.yml"),
            b"on: push\njobs: {}\n".to_vec(),
        ));
    }
    for i in 0..20 {
        let object = format!("{LITERAL} in git\n").into_bytes();
        fixed.push((format!(".git/objects/{i:02}/object"), object));
    }

    let mut generated = Generated::default();
    let mut put = |rel: &str, content: &[u8], ignored: bool, binary: bool| -> io::Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, content)?;
        generated.files += 1;
        generated.bytes += content.len() as u64;
        generated.ignored += usize::from(ignored);
        generated.binary += usize::from(binary);
        Ok(())
    };
    for (rel, content) in &fixed {
        put(rel, content, false, false)?;
    }

    let mut rng = Rng(0x5EED);
    let mut content = String::new();
    for index in 0..total.saturating_sub(fixed.len()) {
        let slot = (index as u64 * 7919) % 1000;
        let mut start = 0;
        let &(_, dir, ext, ignored) = KINDS
            .iter()
            .find(|(share, ..)| {
                start += share;
                slot < start
            })
            .unwrap_or(&KINDS[0]);
        // About 40 × 8 directories per kind, so about 17 files per directory, as in a real
        // tree (the Linux kernel has about 16).
        let rel = format!(
            "{dir}/pkg{:02}/{}/file{index}.{ext}",
            index % 41,
            rng.pick(&WORDS[..8])
        );
        if ext == "png" {
            let mut bytes: Vec<u8> = (0..2048).map(|_| rng.below(256) as u8).collect();
            bytes[8] = 0;
            bytes.extend_from_slice(LITERAL.as_bytes());
            put(&rel, &bytes, ignored, true)?;
            continue;
        }
        content.clear();
        source_text(&mut rng, ext, &mut content);
        put(&rel, content.as_bytes(), ignored, false)?;
    }
    Ok(generated)
}

/// 10 to 70 lines of plausible code in the style of `ext`.
fn source_text(rng: &mut Rng, ext: &str, out: &mut String) {
    let lines = 10 + rng.below(60);
    let comment = match ext {
        "py" => "#",
        "md" | "log" => "",
        _ => "//",
    };
    if rng.below(150) == 0 {
        let _ = writeln!(out, "{comment} {LITERAL}: keep in sync with the spec");
    }
    for _ in 0..lines {
        let (a, b, n) = (rng.pick(WORDS), rng.pick(WORDS), rng.below(1000));
        let _ = match rng.below(60) {
            0 => writeln!(
                out,
                "    return Err({}::{}{});",
                rng.pick(ERRORS),
                rng.pick(VARIANTS),
                a
            ),
            1..=10 => writeln!(out, "{comment} {a} {b} handling for the {n} case"),
            11..=20 => match ext {
                "rs" => writeln!(
                    out,
                    "pub fn {a}_{b}_{n}(input: &str) -> Result<u32, Error> {{"
                ),
                "py" => writeln!(out, "def {a}_{b}_{n}(value):"),
                "go" => writeln!(out, "func {a}{b}{n}(input string) (int, error) {{"),
                _ => writeln!(out, "function {a}_{b}_{n}(input) {{"),
            },
            _ => writeln!(out, "    let {a}_{n} = {b}.get({n}).unwrap_or_default();"),
        };
    }
}
