//! Benchmark: the runner's repository tools against ripgrep on a large generated repository.
//!
//! Builds a deterministic tree (50,000 files by default) in a temporary directory, then times
//! `repo_map`, `list_files` and two searches (a literal and a regular expression), each next to
//! `rg` run on the same tree with equivalent flags, and prints the medians side by side.
//!
//! ```text
//! cargo bench -p ota-runner --bench repo_tools -- [--files N] [--runs N] [--keep DIR]
//! ```
//!
//! `--keep DIR` generates the tree in `DIR` and leaves it there, for profiling or for running
//! `rg` by hand; a later run with the same `DIR` reuses it.
//!
//! Needs `rg` on `PATH` (`apt-get update && apt-get install ripgrep`, or
//! `cargo install ripgrep --locked`); without it only the tools' own times are printed.

mod tree_gen;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ota_runner::tools::{PatternKind, RepoMapLimits, SearchOptions, SearchResults, Workspace};

/// The flags that make `rg` walk the tree the way the tools do: hidden files included, `.git/`
/// excluded, `.gitignore` honoured without a git checkout, nothing from outside the root.
const RG_WALK: &[&str] = &[
    "--no-config",
    "--hidden",
    "--glob",
    "!.git",
    "--no-require-git",
    "--no-ignore-parent",
    "--no-ignore-global",
];

struct Row {
    operation: &'static str,
    ours: Measured,
    rg_command: String,
    rg: Option<Measured>,
}

/// One side of a comparison: median wall time, mean CPU time per run, and the last result.
struct Measured {
    wall: Duration,
    cpu_ms: f64,
    result: String,
}

fn main() {
    let mut files = 50_000;
    let mut runs = 7;
    let mut keep: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--files" => files = args.next().and_then(|v| v.parse().ok()).unwrap_or(files),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--keep" => keep = args.next().map(Into::into),
            _ => {} // `cargo bench` passes `--bench`
        }
    }

    let temp = tempfile::tempdir().expect("create a temporary directory");
    let dir = keep.as_deref().unwrap_or(temp.path());
    if dir.join("README.md").exists() {
        println!("reusing the tree in {}", dir.display());
    } else {
        let started = Instant::now();
        let generated = tree_gen::generate(dir, files).expect("generate the tree");
        println!(
            "generated {} files ({} ignored, {} binary, {:.1} MB) in {:.1?} under {}",
            generated.files,
            generated.ignored,
            generated.binary,
            generated.bytes as f64 / 1e6,
            started.elapsed(),
            dir.display()
        );
    }
    let ws = Workspace::new(dir).expect("open the workspace");
    let rg_version = Command::new("rg").arg("--version").output().ok().map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("rg")
            .to_owned()
    });
    let rg_present = rg_version.is_some();
    if let Some(version) = &rg_version {
        println!("comparing with {version}");
    } else {
        println!(
            "rg not found on PATH: install it with `apt-get update && apt-get install ripgrep` \
             or `cargo install ripgrep --locked` to get the comparison"
        );
    }
    let run_rg = |args: &[&str]| -> String {
        let output = Command::new("rg")
            .args(RG_WALK)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run rg");
        let lines = output.stdout.iter().filter(|&&b| b == b'\n').count();
        format!("{lines} lines")
    };
    let rg_shown = |args: &[&str]| {
        let walk = RG_WALK.join(" ").replace("!.git", "'!.git'");
        format!("rg {walk} {}", args.join(" "))
    };
    let mut rows = Vec::new();
    let mut measure = |operation, ours: &mut dyn FnMut() -> String, rg_args: &[&str]| {
        let mut rg = || run_rg(rg_args);
        let rg: Option<&mut dyn FnMut() -> String> = if rg_present { Some(&mut rg) } else { None };
        let (ours, rg) = compare(runs, ours, rg);
        let shown: Vec<String> = rg_args
            .iter()
            .map(|a| {
                if *a == tree_gen::REGEX {
                    format!("'{a}'")
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
        rows.push(Row {
            operation,
            ours,
            rg_command: rg_shown(&shown),
            rg,
        });
    };

    let map_without_symbols = RepoMapLimits {
        symbols: false,
        ..RepoMapLimits::default()
    };
    measure(
        "repo_map (walk, tree, languages, README, commands; rendered)",
        &mut || {
            let map = ws.repo_map(map_without_symbols).expect("repo_map");
            let text = map.render();
            format!("{} files, {} chars", map.total_files, text.len())
        },
        &["--files"],
    );
    measure(
        "list_files (root, limit 200, sorted)",
        &mut || {
            let list = ws.list_files("", None, 200).expect("list_files");
            let _ = list.to_string();
            format!("{} files", list.total)
        },
        &["--files"],
    );
    let search = |pattern: &str, kind: PatternKind| {
        let options = SearchOptions {
            kind,
            ..SearchOptions::default()
        };
        let results: SearchResults = ws.search(pattern, &options).expect("search");
        let _ = results.to_string();
        format!("{} lines", results.total_matches)
    };
    measure(
        "search literal (max_results 100)",
        &mut || search(tree_gen::LITERAL, PatternKind::Literal),
        &["-n", "--fixed-strings", tree_gen::LITERAL, "."],
    );
    measure(
        "search regex (max_results 100)",
        &mut || search(tree_gen::REGEX, PatternKind::Regex),
        &["-n", tree_gen::REGEX, "."],
    );

    // The same map with its definitions: the parsing has no ripgrep counterpart.
    let (ours, _) = compare(
        runs,
        &mut || {
            let map = ws.repo_map(RepoMapLimits::default()).expect("repo_map");
            let text = map.render();
            format!(
                "{} files, {} parsed, {} chars",
                map.total_files,
                map.symbols.files_read,
                text.len()
            )
        },
        None,
    );
    rows.push(Row {
        operation: "repo_map with definitions (tree-sitter tags; no rg counterpart)",
        ours,
        rg_command: String::new(),
        rg: None,
    });

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    print_table(&rows, runs, load.trim());
}

/// Times `ours` and `rg` alternately (one warm-up each, then `runs` rounds, switching which
/// goes first every round), so load from other processes falls on both alike.
///
/// Wall time is what the model waits for, but on a shared machine it mostly measures the
/// neighbours; CPU time (user + system, this process's for the tools, the waited-for
/// children's for `rg`) is the steadier measure of the work done.
fn compare(
    runs: usize,
    ours: &mut dyn FnMut() -> String,
    mut rg: Option<&mut dyn FnMut() -> String>,
) -> (Measured, Option<Measured>) {
    let mut ours_result = ours();
    let mut rg_result = rg.as_mut().map(|f| f());
    let (mut ours_times, mut rg_times) = (Vec::new(), Vec::new());
    let (mut ours_ticks, mut rg_ticks) = (0, 0);
    for round in 0..runs.max(1) {
        for turn in 0..2 {
            if (round + turn) % 2 == 0 {
                let (ticks, started) = (cpu_ticks(), Instant::now());
                ours_result = ours();
                ours_times.push(started.elapsed());
                ours_ticks += cpu_ticks().0 - ticks.0;
            } else if let Some(f) = rg.as_mut() {
                let (ticks, started) = (cpu_ticks(), Instant::now());
                rg_result = Some(f());
                rg_times.push(started.elapsed());
                rg_ticks += cpu_ticks().1 - ticks.1;
            }
        }
    }
    let cpu_ms = |ticks: u64| ticks as f64 * 1000.0 / CLOCK_TICKS_PER_SECOND / runs.max(1) as f64;
    let ours = Measured {
        wall: median(&mut ours_times),
        cpu_ms: cpu_ms(ours_ticks),
        result: ours_result,
    };
    let rg = rg_result.map(|result| Measured {
        wall: median(&mut rg_times),
        cpu_ms: cpu_ms(rg_ticks),
        result,
    });
    (ours, rg)
}

/// The unit of `/proc/self/stat`'s CPU times (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// This process's CPU time (all threads) and its waited-for children's, in clock ticks, from
/// `/proc/self/stat`; zeros where that file is not available.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    (field(14) + field(15), field(16) + field(17))
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn print_table(rows: &[Row], runs: usize, load: &str) {
    println!();
    println!(
        "wall: median of {runs} runs after one warm-up, alternating with rg (rg's includes \
         starting its process); CPU: mean user + system per run; load average at the end: {load}"
    );
    println!();
    println!(
        "| Operation | ota-runner wall | rg wall | wall ratio | ota-runner CPU | rg CPU | CPU ratio | ota-runner result | rg result |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---|");
    for row in rows {
        let ours = &row.ours;
        let rg = match &row.rg {
            Some(rg) => format!(
                "{:.0} ms | {:.2}× | {:.0} ms | {:.0} ms | {:.2}× | {} | {}",
                ms(rg.wall),
                ms(ours.wall) / ms(rg.wall),
                ours.cpu_ms,
                rg.cpu_ms,
                ours.cpu_ms / rg.cpu_ms,
                ours.result,
                rg.result
            ),
            None => format!(
                "n/a | n/a | {:.0} ms | n/a | n/a | {} | n/a",
                ours.cpu_ms, ours.result
            ),
        };
        println!("| {} | {:.0} ms | {rg} |", row.operation, ms(ours.wall));
    }
    println!();
    println!("rg commands (run in the tree's root):");
    for row in rows {
        println!("  {}: {}", row.operation, row.rg_command);
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
