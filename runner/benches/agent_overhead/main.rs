//! Benchmark: the agent's own time per turn, apart from the model's (issue 16).
//!
//! A turn is one model call and the tool call it asks for. Of its wall time, the model's
//! part is what a GPU spends answering; everything else is the agent's: assembling the
//! request and fitting it to the context window, sending it, reading the streamed answer,
//! running the tool, and, before the first call, checking the model and building the
//! repository map. This bench runs the real agent loop ([`Agent`]) on a scripted 25-turn
//! job against the end-to-end tests' fake Ollama (the real `/api/chat` NDJSON stream,
//! `/api/show`, `/api/version`), which answers at once on a loopback socket, in a
//! generated 50,000-file tree. What the fake spends answering (its own timestamps) is taken
//! out of each turn; what is left is the agent's time, set beside the time a GPU model at
//! 50 tokens/s takes to write the turn's completion tokens.
//!
//! ```text
//! cargo bench -p ota-runner --bench agent_overhead -- [--files N] [--runs N] [--keep DIR]
//!     [--tokens-per-second N]
//! ```
//!
//! Prints figures only; nothing here fails on a time. The fake runs on a thread of its own,
//! so its CPU time can be taken out of the process's. The tree and the fake are the ones
//! the repository-tools bench and the end-to-end tests use, included by path: one tree
//! generator, one fake.

mod clock;
#[allow(dead_code)]
#[path = "../../../tests/src/fake_ollama.rs"]
mod fake_ollama;
#[allow(dead_code)]
#[path = "../../../tests/src/fake_ollama_models.rs"]
mod fake_ollama_models;
mod report;
mod script;
#[path = "../repo_tools/tree_gen.rs"]
mod tree_gen;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ota_runner::agent::{
    Agent, AgentSettings, Outcome, ProgressKind, ProgressSink, TaskInput, TaskSpec,
};
use ota_runner::ollama::{ClientOptions, OllamaClient, OllamaEnv};
use ota_runner::tools::Workspace;
use shared::config::{BuiltinTask, TaskConfig};

use fake_ollama::FakeOllama;
use fake_ollama_models::FakeModel;
use report::{Job, Options, TurnFigures};

/// The model the job names: tools, and a trained context longer than the window, so the
/// window is the runner's default `num_ctx`.
const MODEL: &str = "qwen3-coder:30b";

fn main() {
    let options = Options::from_args();
    let temp = tempfile::tempdir().expect("create a temporary directory");
    let dir = options.keep.as_deref().unwrap_or(temp.path());
    if dir.join("README.md").exists() {
        println!("reusing the tree in {}", dir.display());
    } else {
        let started = Instant::now();
        let generated = tree_gen::generate(dir, options.files).expect("generate the tree");
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

    let fake = FakeThread::start();
    fake.fake.add_model(FakeModel::qwen3_coder());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the agent's runtime");
    let mut config = TaskConfig::builtin(BuiltinTask::Fix);
    config.model = MODEL.to_owned();
    config.timeout = Duration::from_secs(600);
    let spec = TaskSpec::from_config(&config);

    let mut jobs = Vec::new();
    // Job 0 warms the page cache and the allocator; it is not counted.
    for run in 0..=options.runs {
        script::put_sources(dir).expect("write the job's source files");
        let job = runtime.block_on(run_job(&fake, dir, &spec));
        if run > 0 {
            jobs.push(job);
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    report::print(&jobs, &options, load.trim());
}

/// One reading of the clocks, at a progress event or at the run's ends.
#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    cpu: Duration,
    fake_cpu: Duration,
    kind: Option<ProgressKind>,
}

impl Sample {
    fn now(fake_tid: Option<u32>, kind: Option<ProgressKind>) -> Self {
        Self {
            at: Instant::now(),
            cpu: clock::process_cpu(),
            fake_cpu: clock::thread_cpu(fake_tid),
            kind,
        }
    }

    /// The agent's CPU time from `self` to `later`: the process's, less the fake's.
    fn agent_cpu(&self, later: &Sample) -> Duration {
        (later.cpu.saturating_sub(self.cpu))
            .saturating_sub(later.fake_cpu.saturating_sub(self.fake_cpu))
    }
}

/// Runs the scripted job once with a new client and workspace, as a job starts, and reads
/// its turns off the progress events and the fake's timestamps.
async fn run_job(fake: &FakeThread, dir: &Path, spec: &TaskSpec) -> Job {
    let turns = script::job();
    let first_call = fake.fake.calls().len();
    for turn in &turns {
        fake.fake.push(turn.reply.clone());
    }
    let samples = Arc::new(Mutex::new(Vec::new()));
    let log = samples.clone();
    let tid = fake.tid;
    let progress = ProgressSink::from_fn(move |event| {
        let sample = Sample::now(tid, Some(event.kind.clone()));
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    });
    let host = fake.fake.host();
    let env = OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| host.clone()))
        .expect("the fake's address");
    let client = OllamaClient::new(&env, ClientOptions::default()).expect("the Ollama client");
    let workspace = Workspace::new(dir).expect("open the workspace");
    let settings = AgentSettings::default();
    let agent = Agent {
        client: &client,
        workspace: &workspace,
        spec,
        settings: &settings,
        progress,
    };
    let input = TaskInput {
        request: Some(
            "Let the agent take three replies without a tool call before it gives up, and \
             treat a summary of `-` as empty."
                .to_owned(),
        ),
        issue: Some(
            "Agent gives up too early\n\nWith some models the agent stops after two replies \
             without tool calls, although the third would have called one."
                .to_owned(),
        ),
        pr_diff: None,
    };

    let start = Sample::now(tid, None);
    let report = agent.run(&input).await;
    let end = Sample::now(tid, None);
    assert!(
        matches!(report.outcome, Outcome::Finished { .. }),
        "the scripted job did not finish: {:?}",
        report.outcome
    );
    let unexpected = fake.fake.unexpected();
    assert!(
        unexpected.is_empty(),
        "the fake had requests it did not expect: {unexpected:?}"
    );
    let calls = fake.fake.calls().split_off(first_call);
    assert_eq!(calls.len(), turns.len(), "one model call per scripted turn");
    check_tool_results(&calls, &turns);

    let samples = samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    figures(&samples, &start, &end, &calls, &turns)
}

/// Every scripted tool call did what the script meant (so the mix is the one measured): no
/// error results, and the loose edits matched with whitespace ignored.
fn check_tool_results(calls: &[fake_ollama::ChatCall], turns: &[script::Turn]) {
    for (index, next) in calls.iter().enumerate().skip(1) {
        let result = next.tool_results().last().cloned().unwrap_or_default();
        let kind = turns[index - 1].kind;
        assert!(
            !result.starts_with("error:"),
            "turn {index} ({kind}) failed: {result}"
        );
        if kind.contains("whitespace") {
            assert!(
                result.contains("whitespace ignored"),
                "turn {index} ({kind}) matched exactly: {result}"
            );
        }
    }
}

/// The turns' figures: each turn runs from one `ModelCall` event to the next (or to the
/// run's end), and its model part is the fake's time answering that call.
fn figures(
    samples: &[Sample],
    start: &Sample,
    end: &Sample,
    calls: &[fake_ollama::ChatCall],
    turns: &[script::Turn],
) -> Job {
    let starts: Vec<usize> = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.kind, Some(ProgressKind::ModelCall)))
        .map(|(i, _)| i)
        .collect();
    let first = starts.first().map_or(end, |&i| &samples[i]);
    let mut job = Job {
        setup_wall: first.at - start.at,
        setup_cpu: start.agent_cpu(first),
        trims: samples
            .iter()
            .filter(|s| matches!(s.kind, Some(ProgressKind::ContextTrimmed { .. })))
            .count(),
        last_prompt_tokens: 0,
        turns: Vec::new(),
    };
    for (k, &begin) in starts.iter().enumerate() {
        let until = starts.get(k + 1).copied().unwrap_or(samples.len());
        let from = &samples[begin];
        let to = samples.get(until).unwrap_or(end);
        let within = &samples[begin..until];
        let reply = within
            .iter()
            .find(|s| matches!(s.kind, Some(ProgressKind::ModelReply { .. })));
        let tool = within
            .iter()
            .find(|s| matches!(s.kind, Some(ProgressKind::ToolCall { .. })));
        if let Some(Sample {
            kind: Some(ProgressKind::ModelReply { prompt_tokens, .. }),
            ..
        }) = reply
        {
            job.last_prompt_tokens = *prompt_tokens;
        }
        let tool_wall = match tool.and_then(|t| t.kind.as_ref()) {
            Some(ProgressKind::ToolCall { duration, .. }) => *duration,
            _ => Duration::ZERO,
        };
        let tool_cpu = match (reply, tool) {
            (Some(reply), Some(tool)) => reply.agent_cpu(tool),
            _ => Duration::ZERO,
        };
        let call = &calls[k];
        let fake = call
            .answered
            .map_or(Duration::ZERO, |answered| answered - call.received);
        let wall = to.at - from.at;
        job.turns.push(TurnFigures {
            kind: turns[k].kind,
            fake,
            overhead: wall.saturating_sub(fake),
            tool_wall,
            tool_cpu,
            cpu: from.agent_cpu(to),
            tokens: turns[k].reply.eval_count,
        });
    }
    job
}

/// The fake Ollama on a thread and runtime of its own, so that its CPU time is one
/// thread's and can be taken out of the process's.
struct FakeThread {
    fake: FakeOllama,
    tid: Option<u32>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeThread {
    fn start() -> Self {
        let (started, ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the fake's runtime");
            runtime.block_on(async move {
                let fake = FakeOllama::start().await;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let _ = started.send((fake, clock::this_thread_id(), stop));
                let _ = stopped.await;
            });
        });
        let (fake, tid, stop) = ready.recv().expect("the fake Ollama started");
        Self {
            fake,
            tid,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for FakeThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
