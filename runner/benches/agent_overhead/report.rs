//! The bench's options, what one job measured, and the table `docs/benchmarks.md` records.
//!
//! The model's time for a turn is its completion tokens at the given rate, and nothing for
//! the prompt: a GPU also evaluates the prompt's new tokens each turn (most of it is reused
//! from the KV cache), so counting that as zero makes the model's time shorter and the
//! agent's share larger than they are.

use std::path::PathBuf;
use std::time::Duration;

/// Options after `--`.
pub struct Options {
    pub files: usize,
    pub runs: usize,
    pub keep: Option<PathBuf>,
    pub tokens_per_second: f64,
}

impl Options {
    pub fn from_args() -> Self {
        let mut options = Options {
            files: 50_000,
            runs: 5,
            keep: None,
            tokens_per_second: 50.0,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().unwrap_or_default();
            match arg.as_str() {
                "--files" => options.files = value().parse().unwrap_or(options.files),
                "--runs" => options.runs = value().parse().unwrap_or(options.runs).max(1),
                "--tokens-per-second" => {
                    options.tokens_per_second =
                        value().parse().unwrap_or(options.tokens_per_second);
                }
                "--keep" => options.keep = Some(value().into()),
                _ => {} // `cargo bench` passes `--bench`
            }
        }
        options
    }
}

/// One turn: a model call and the tool call it asked for.
#[derive(Debug, Clone)]
pub struct TurnFigures {
    /// The script's name for its tool call.
    pub kind: &'static str,
    /// What the fake Ollama spent answering, by its own timestamps.
    pub fake: Duration,
    /// From this model call's start to the next one's (or the run's end), less `fake`:
    /// the agent's time.
    pub overhead: Duration,
    /// The tool call alone, as the agent reports it.
    pub tool_wall: Duration,
    pub tool_cpu: Duration,
    /// The agent's CPU time over the turn (the process's, less the fake's thread).
    pub cpu: Duration,
    /// The completion tokens the scripted reply says it had (`eval_count`).
    pub tokens: u64,
}

/// One run of the scripted job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Before the first model call: the model check (`/api/show`, `/api/version`), the
    /// repository map with definitions, the first prompt.
    pub setup_wall: Duration,
    pub setup_cpu: Duration,
    pub turns: Vec<TurnFigures>,
    /// Context trims over the job.
    pub trims: usize,
    /// The server's count of the last prompt.
    pub last_prompt_tokens: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`-th percentile by nearest rank.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The agent's share of a turn, in percent, when the model takes `model_s`.
fn share(overhead_ms: f64, model_s: f64) -> f64 {
    100.0 * overhead_ms / (overhead_ms + model_s * 1000.0)
}

pub fn print(jobs: &[Job], options: &Options, load: &str) {
    let rate = options.tokens_per_second;
    let turns: Vec<&TurnFigures> = jobs.iter().flat_map(|j| &j.turns).collect();
    let per_job = jobs.first().map_or(0, |j| j.turns.len());
    println!();
    println!(
        "{} jobs of {per_job} turns after one warm-up job; model time = completion tokens / \
         {rate} tokens/s, prompt evaluation counted as zero; load average at the end: {load}",
        jobs.len()
    );
    println!();
    println!(
        "| turn's tool call | turns | agent's time per turn p50 | p95 | max | the tool alone p50 | \
         agent CPU per turn, mean | completion tokens | model time at {rate} tokens/s | \
         agent's share of the turn p50 | max |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut kinds: Vec<&str> = Vec::new();
    for turn in &turns {
        if !kinds.contains(&turn.kind) {
            kinds.push(turn.kind);
        }
    }
    for kind in &kinds {
        let rows: Vec<&&TurnFigures> = turns.iter().filter(|t| t.kind == *kind).collect();
        row(kind, &rows, rate);
    }
    let all: Vec<&&TurnFigures> = turns.iter().collect();
    row("**every turn**", &all, rate);

    let outside: Vec<f64> = turns
        .iter()
        .map(|t| ms(t.overhead.saturating_sub(t.tool_wall)))
        .collect();
    let outside_cpu: Vec<f64> = turns
        .iter()
        .map(|t| ms(t.cpu.saturating_sub(t.tool_cpu)))
        .collect();
    let fake: Vec<f64> = turns.iter().map(|t| ms(t.fake)).collect();
    let setup: Vec<f64> = jobs.iter().map(|j| ms(j.setup_wall)).collect();
    let setup_cpu: Vec<f64> = jobs.iter().map(|j| ms(j.setup_cpu)).collect();
    println!();
    println!(
        "The agent's time outside the tool, per turn (request assembly and context fitting, \
         the HTTP exchange on loopback, reading the NDJSON stream): p50 {:.2} ms, p95 {:.2} ms, \
         max {:.2} ms; CPU mean {:.2} ms.",
        percentile(&outside, 0.5),
        percentile(&outside, 0.95),
        percentile(&outside, 1.0),
        mean(&outside_cpu)
    );
    println!(
        "The fake's own time per call, taken out of the turns: p50 {:.2} ms, max {:.2} ms.",
        percentile(&fake, 0.5),
        percentile(&fake, 1.0)
    );
    println!(
        "Once per job, before the first model call (model check, repository map with \
         definitions, first prompt): p50 {:.0} ms, max {:.0} ms; CPU mean {:.0} ms.",
        percentile(&setup, 0.5),
        percentile(&setup, 1.0),
        mean(&setup_cpu)
    );
    if let Some(job) = jobs.last() {
        println!(
            "Context: {} trim(s) per job; the last prompt counted {} tokens.",
            job.trims, job.last_prompt_tokens
        );
    }

    println!();
    let overhead_s: f64 = turns.iter().map(|t| t.overhead.as_secs_f64()).sum();
    let setup_s: f64 = jobs.iter().map(|j| j.setup_wall.as_secs_f64()).sum();
    let jobs_n = jobs.len().max(1) as f64;
    let headline = |label: &str, model_s: f64| {
        println!(
            "{label}: the agent's time is {:.2}% of the job's turns ({:.2} s of {:.1} s per \
             job), {:.2}% with the work before the first call ({:.2} s more per job).",
            100.0 * overhead_s / (overhead_s + model_s),
            overhead_s / jobs_n,
            (overhead_s + model_s) / jobs_n,
            100.0 * (overhead_s + setup_s) / (overhead_s + setup_s + model_s),
            setup_s / jobs_n
        );
    };
    let scripted: f64 = turns.iter().map(|t| t.tokens as f64 / rate).sum();
    headline(
        &format!(
            "Scripted tokens (mean {:.0} a turn)",
            mean(&turns.iter().map(|t| t.tokens as f64).collect::<Vec<_>>())
        ),
        scripted,
    );
    for tokens in [150.0, 400.0] {
        headline(
            &format!("{tokens:.0} tokens every turn"),
            turns.len() as f64 * tokens / rate,
        );
    }
}

fn row(label: &str, turns: &[&&TurnFigures], rate: f64) {
    let overhead: Vec<f64> = turns.iter().map(|t| ms(t.overhead)).collect();
    let tool: Vec<f64> = turns.iter().map(|t| ms(t.tool_wall)).collect();
    let cpu: Vec<f64> = turns.iter().map(|t| ms(t.cpu)).collect();
    let tokens: Vec<f64> = turns.iter().map(|t| t.tokens as f64).collect();
    let shares: Vec<f64> = turns
        .iter()
        .map(|t| share(ms(t.overhead), t.tokens as f64 / rate))
        .collect();
    let mean_tokens = mean(&tokens);
    println!(
        "| {label} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {:.1} s | {:.2}% | {:.2}% |",
        turns.len(),
        percentile(&overhead, 0.5),
        percentile(&overhead, 0.95),
        percentile(&overhead, 1.0),
        percentile(&tool, 0.5),
        mean(&cpu),
        mean_tokens,
        mean_tokens / rate,
        percentile(&shares, 0.5),
        percentile(&shares, 1.0),
    );
}
