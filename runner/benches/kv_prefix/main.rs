//! How much of each request's prompt repeats the previous request's as a prefix, over a
//! scripted 20-turn job: Ollama reuses its KV cache for that prefix, so this is the share
//! of the prompt it does not evaluate again. Prints the figure `docs/benchmarks.md` records.
//!
//! The fixed part of every prompt is the runner's own: the system prompt and the tool
//! definitions of a `fix` task with a command, and a first message built by the runner's
//! `task_prompt` around a repository map at its size limit. They change as the prompts are
//! worded, so they are taken from the code rather than written down as sizes here.
//!
//! `cargo bench -p ota-runner --bench kv_prefix` (options after `--`: `--turns N`,
//! `--num-ctx N`).

use ota_runner::agent::{
    ContextWindow, TaskInput, TaskSpec, Transcript, definitions, system_prompt, task_prompt,
};
use ota_runner::ollama::{Message, WireFunction, WireToolCall};
use ota_runner::tools::RepoMapLimits;
use shared::config::{BuiltinTask, TaskConfig};

/// What the scripted job reads each turn: sizes of file contents, search results and
/// command output, in bytes (a deterministic spread from 600 bytes to 14 KB).
fn output_bytes(turn: usize) -> usize {
    let spread = [
        4_200, 9_800, 1_300, 14_000, 6_100, 600, 11_500, 3_300, 7_700, 2_400,
    ];
    spread[turn % spread.len()]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(default)
    };
    let turns = value("--turns", 20);
    let num_ctx = value("--num-ctx", 32_768) as u32;
    let window = ContextWindow::new(num_ctx, 4096);

    // The runner's system prompt and tool definitions for a `fix` task with a command, and
    // its first message around a map as long as the map may be.
    let mut config = TaskConfig::builtin(BuiltinTask::Fix);
    config.command = Some("cargo test".to_owned());
    let spec = TaskSpec::from_config(&config);
    let tools_bytes = serde_json::to_string(&definitions(&spec)).map_or(0, |t| t.len());
    let map_line = "crates/parser/src/token_stream.rs: pub fn next_token(&mut self)\n";
    let map: String = map_line
        .repeat(RepoMapLimits::default().max_chars / map_line.len())
        .chars()
        .take(RepoMapLimits::default().max_chars)
        .collect();
    let input = TaskInput {
        request: Some("the parser panics on an empty input; make it return an error".to_owned()),
        issue: Some(format!(
            "Parser panics on empty input\n\n{}",
            "Steps to reproduce, what was expected, and a backtrace. ".repeat(16)
        )),
        pr_diff: None,
    };
    let system = system_prompt(&spec);
    let first = task_prompt(&spec, &input, &map, window.prompt_budget() * 3 / 4);
    println!(
        "system prompt {} bytes, tool definitions {tools_bytes} bytes ({} tools), first message {} bytes",
        system.len(),
        spec.tools.tools().len(),
        first.len()
    );
    let mut transcript = Transcript::new(
        vec![Message::system(system), Message::user(first)],
        tools_bytes,
    );
    let mut previous: Option<Vec<String>> = None;
    let (mut whole_prefix, mut compared, mut trims) = (0, 0, 0);
    let mut shares = Vec::new();
    for turn in 0..turns {
        if let Ok(Some(_)) = transcript.fit(window) {
            trims += 1;
        }
        let sent: Vec<String> = transcript
            .messages()
            .iter()
            .map(|m| serde_json::to_string(m).unwrap_or_default())
            .collect();
        if let Some(before) = &previous {
            compared += 1;
            let common = before.iter().zip(&sent).take_while(|(a, b)| a == b).count();
            if common == before.len() {
                whole_prefix += 1;
            }
            let repeated: usize = sent[..common].iter().map(String::len).sum();
            let total: usize = sent.iter().map(String::len).sum();
            shares.push(repeated as f64 / total as f64);
        }
        // The server's count: a quarter of the bytes, as code tokenizes.
        let bytes: usize = tools_bytes + sent.iter().map(String::len).sum::<usize>();
        transcript.observe((bytes / 4) as u64, window, true);
        previous = Some(sent);
        let call = WireToolCall {
            id: None,
            function: WireFunction {
                name: "read_file".to_owned(),
                arguments: serde_json::json!({"path": format!("src/file_{turn}.rs")})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        };
        transcript.push(Message::assistant("", vec![call]));
        transcript.push(Message::tool(
            "read_file",
            None,
            "x".repeat(output_bytes(turn)),
        ));
    }
    let mean = shares.iter().sum::<f64>() / shares.len().max(1) as f64;
    println!(
        "{turns} turns, num_ctx {num_ctx}: {whole_prefix} of {compared} requests kept the whole previous prompt as their prefix ({:.1}%); {trims} trim(s); mean share of a prompt repeated from the previous one: {:.1}%",
        100.0 * whole_prefix as f64 / compared.max(1) as f64,
        100.0 * mean
    );
}
