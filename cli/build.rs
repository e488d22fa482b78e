//! Embeds the built-in evaluation suite (`eval-suite/`) in the binary, so that `ota eval`
//! needs no files beside it: every file of a task as its path under `eval-suite/` and its
//! bytes. The reference solutions (`solution.patch`) stay out: the binary never needs them,
//! and the agent must never be shown them. See `src/eval/builtin.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The one file of a task the binary leaves out.
const SOLUTION: &str = "solution.patch";

include!("src/eval/leftovers.rs");

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval-suite");
    println!("cargo::rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if let Err(err) = collect(&root, &mut files) {
        panic!("reading {}: {err}", root.display());
    }
    files.sort();
    let mut code = String::from(
        "/// Every file of `cli/eval-suite/` but the reference solutions, by its path there.\n\
         pub(super) const FILES: &[(&str, &[u8])] = &[\n",
    );
    for file in &files {
        let Ok(relative) = file.strip_prefix(&root) else {
            continue;
        };
        let relative: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        let _ = writeln!(
            code,
            "    ({:?}, include_bytes!({:?})),",
            relative.join("/"),
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        panic!("cargo sets OUT_DIR for build scripts");
    };
    let out = PathBuf::from(out_dir).join("eval_suite.rs");
    if let Err(err) = std::fs::write(&out, code) {
        panic!("writing {}: {err}", out.display());
    }
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if LEFTOVERS.iter().any(|leftover| name == *leftover) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&path, files)?;
        } else if name != SOLUTION {
            files.push(path);
        }
    }
    Ok(())
}
