//! What came of each trial (one model on one task) and of the whole run: the per-model
//! counts and the JSON document `--json` writes. Plain values, so the rules (what counts
//! towards `solved N of M`) and the schema are tested here; the table is [`super::table`].

use std::time::Duration;

use ota_runner::agent::CommandRun;
use serde::Serialize;
use shared::job::TokenUsage;

use super::suite::Kind;
use crate::local_run::report::Ending;

/// The version of the JSON document; a change that breaks a reader raises it.
pub const JSON_VERSION: u32 = 1;

/// How many of the check's last output lines the JSON keeps: where a check failed.
const CHECK_OUTPUT_LINES: usize = 20;

/// What a trial came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The hidden check passed.
    Solved,
    /// The hidden check failed or timed out.
    Unsolved,
    /// The hidden check could not run, for this reason: not the agent's doing either way.
    CheckNotRun(String),
    /// The trial could not be carried out: the repository could not be prepared, the
    /// task could not start, or the agent's run failed on the model (Ollama unreachable,
    /// the model refused).
    Error(String),
}

impl Status {
    /// Its name in the JSON document.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Solved => "solved",
            Self::Unsolved => "unsolved",
            Self::CheckNotRun(_) => "check_not_run",
            Self::Error(_) => "error",
        }
    }

    /// Whether the check judged the work (solved or unsolved).
    pub fn is_verdict(&self) -> bool {
        matches!(self, Self::Solved | Self::Unsolved)
    }

    /// Why, for the statuses that are not a verdict.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Self::Solved | Self::Unsolved => None,
            Self::CheckNotRun(reason) | Self::Error(reason) => Some(reason),
        }
    }
}

/// One model on one task.
#[derive(Debug, Clone)]
pub struct TrialResult {
    pub task: String,
    pub language: String,
    pub kind: Kind,
    pub model: String,
    pub status: Status,
    /// How the agent's run ended; `None` when it did not start.
    pub agent: Option<Ending>,
    pub tokens: TokenUsage,
    pub turns: u32,
    /// The agent's run, from its first model call to its end.
    pub agent_time: Duration,
    /// The whole trial: preparing the repository, the agent, the check.
    pub wall_time: Duration,
    /// The check's run, when it ran.
    pub check: Option<CommandRun>,
    /// With best-of-N, the hidden check's verdict on the first candidate alone (pass@1);
    /// `None` with one candidate, where `status` is that verdict.
    pub first_candidate: Option<Status>,
    /// Candidates made (best-of-N); 1 for one run.
    pub candidates: usize,
}

/// What one model did over the suite.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelCounts {
    pub tasks: usize,
    pub solved: usize,
    pub unsolved: usize,
    pub check_not_run: usize,
    pub errors: usize,
    /// With best-of-N: the counted tasks whose first candidate alone was solved.
    pub first_solved: usize,
    /// Candidates per task; 1 for one run.
    pub candidates: usize,
}

impl ModelCounts {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a TrialResult>) -> Self {
        let mut counts = Self {
            candidates: 1,
            ..Self::default()
        };
        for result in results {
            counts.tasks += 1;
            counts.candidates = counts.candidates.max(result.candidates);
            let first = result.first_candidate.as_ref().unwrap_or(&result.status);
            if result.status.is_verdict() && *first == Status::Solved {
                counts.first_solved += 1;
            }
            match result.status {
                Status::Solved => counts.solved += 1,
                Status::Unsolved => counts.unsolved += 1,
                Status::CheckNotRun(_) => counts.check_not_run += 1,
                Status::Error(_) => counts.errors += 1,
            }
        }
        counts
    }

    /// The tasks `solved N of M` counts: those with a verdict. A check that could not run
    /// and a trial that failed on the model say nothing of what the model can solve.
    pub fn counted(&self) -> usize {
        self.solved + self.unsolved
    }

    /// The share solved of those counted with one attempt per task (the first candidate
    /// alone, with best-of-N); `None` when none is counted.
    pub fn pass_at_1(&self) -> Option<f64> {
        (self.counted() > 0).then(|| self.first_solved as f64 / self.counted() as f64)
    }

    /// With best-of-N, the share solved by the candidate kept; `None` with one candidate
    /// or none counted.
    pub fn best_of_n(&self) -> Option<f64> {
        (self.candidates > 1 && self.counted() > 0)
            .then(|| self.solved as f64 / self.counted() as f64)
    }

    /// `solved 7 of 12 (58 %)`; with best-of-N, `solved 7 of 12 (58 %) with the best of 3
    /// candidates; the first alone solved 5 (42 %)`.
    pub fn summary(&self) -> String {
        let percent = |solved: usize| match self.counted() {
            0 => 0,
            counted => (solved * 100 + counted / 2) / counted,
        };
        let mut text = format!(
            "solved {} of {} ({} %)",
            self.solved,
            self.counted(),
            percent(self.solved)
        );
        if self.candidates > 1 {
            text.push_str(&format!(
                " with the best of {} candidates; the first alone solved {} ({} %)",
                self.candidates,
                self.first_solved,
                percent(self.first_solved)
            ));
        }
        text
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct EvalReport {
    pub suite: String,
    /// The models in the order they ran.
    pub models: Vec<String>,
    pub results: Vec<TrialResult>,
    /// Ctrl-C stopped the run before every trial was done.
    pub interrupted: bool,
    /// Candidates per task (best-of-N); 1 for one run.
    pub candidates: usize,
}

impl EvalReport {
    /// The results of `model`, in the order they ran.
    pub fn of_model<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a TrialResult> + 'a {
        self.results
            .iter()
            .filter(move |result| result.model == model)
    }

    /// The JSON document, pretty-printed.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let models = self
            .models
            .iter()
            .map(|model| {
                let counts = ModelCounts::of(self.of_model(model));
                JsonModel {
                    model,
                    tasks: counts.tasks,
                    solved: counts.solved,
                    unsolved: counts.unsolved,
                    check_not_run: counts.check_not_run,
                    errors: counts.errors,
                    pass_at_1: counts.pass_at_1(),
                    best_of_n: counts.best_of_n(),
                }
            })
            .collect();
        let results = self.results.iter().map(JsonTrial::of).collect();
        serde_json::to_string_pretty(&JsonReport {
            version: JSON_VERSION,
            suite: &self.suite,
            attempts: 1,
            candidates: self.candidates,
            interrupted: self.interrupted,
            models,
            results,
        })
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    suite: &'a str,
    /// Independent attempts per task and model; pass@1 is over one.
    attempts: u32,
    /// Candidates per attempt, one kept (best-of-N); 1 for one run.
    candidates: usize,
    interrupted: bool,
    models: Vec<JsonModel<'a>>,
    results: Vec<JsonTrial<'a>>,
}

#[derive(Serialize)]
struct JsonModel<'a> {
    model: &'a str,
    tasks: usize,
    solved: usize,
    unsolved: usize,
    check_not_run: usize,
    errors: usize,
    /// Solved by one run (the first candidate alone, with best-of-N).
    pass_at_1: Option<f64>,
    /// Solved by the kept candidate, with best-of-N; `null` with one candidate.
    best_of_n: Option<f64>,
}

#[derive(Serialize)]
struct JsonTrial<'a> {
    model: &'a str,
    task: &'a str,
    language: &'a str,
    kind: &'static str,
    status: &'static str,
    detail: Option<&'a str>,
    /// `finished` or `stopped`; `null` when the agent did not start.
    agent: Option<&'static str>,
    /// The agent's summary when it finished, why it stopped otherwise.
    agent_detail: Option<&'a str>,
    tokens: JsonTokens,
    turns: u32,
    agent_seconds: f64,
    seconds: f64,
    check: Option<JsonCheck<'a>>,
    /// Candidates made; with more than one, `status` is the kept one's and
    /// `first_candidate` the first one's alone.
    candidates: usize,
    first_candidate: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonTokens {
    prompt: u64,
    completion: u64,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    command: &'a str,
    exit_code: Option<i32>,
    timed_out: bool,
    seconds: f64,
    output: String,
}

impl<'a> JsonTrial<'a> {
    fn of(result: &'a TrialResult) -> Self {
        let (agent, agent_detail) = match &result.agent {
            None => (None, None),
            Some(Ending::Finished { summary }) => (Some("finished"), Some(summary.as_str())),
            Some(Ending::Stopped { why }) => (Some("stopped"), Some(why.as_str())),
        };
        Self {
            model: &result.model,
            task: &result.task,
            language: &result.language,
            kind: result.kind.as_str(),
            status: result.status.name(),
            detail: result.status.detail(),
            agent,
            agent_detail,
            tokens: JsonTokens {
                prompt: result.tokens.prompt,
                completion: result.tokens.completion,
            },
            turns: result.turns,
            agent_seconds: seconds(result.agent_time),
            seconds: seconds(result.wall_time),
            check: result.check.as_ref().map(|run| JsonCheck {
                command: &run.command,
                exit_code: run.exit_code,
                timed_out: run.timed_out,
                seconds: seconds(run.duration),
                output: super::checkout::last_lines(&run.output, CHECK_OUTPUT_LINES),
            }),
            candidates: result.candidates,
            first_candidate: result.first_candidate.as_ref().map(Status::name),
        }
    }
}

/// Seconds to the millisecond.
fn seconds(duration: Duration) -> f64 {
    (duration.as_millis() as f64) / 1000.0
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::eval) fn result(task: &str, model: &str, status: Status) -> TrialResult {
        TrialResult {
            task: task.into(),
            language: "rust".into(),
            kind: Kind::Fix,
            model: model.into(),
            status,
            agent: Some(Ending::Finished {
                summary: "Fixed.".into(),
            }),
            tokens: TokenUsage {
                prompt: 12_345,
                completion: 678,
            },
            turns: 3,
            agent_time: Duration::from_millis(42_250),
            wall_time: Duration::from_secs(50),
            check: None,
            first_candidate: None,
            candidates: 1,
        }
    }

    #[test]
    fn only_verdicts_count_towards_solved_of() {
        let results = [
            result("a", "m", Status::Solved),
            result("b", "m", Status::Unsolved),
            result("c", "m", Status::Solved),
            result(
                "d",
                "m",
                Status::CheckNotRun("`go` is not installed".into()),
            ),
            result("e", "m", Status::Error("Ollama stopped answering".into())),
        ];
        let counts = ModelCounts::of(&results);
        assert_eq!(counts.tasks, 5);
        assert_eq!(counts.counted(), 3);
        assert_eq!(counts.summary(), "solved 2 of 3 (67 %)");
        assert_eq!(counts.pass_at_1(), Some(2.0 / 3.0));
        assert_eq!(ModelCounts::default().summary(), "solved 0 of 0 (0 %)");
        assert_eq!(ModelCounts::default().pass_at_1(), None);
        let twelve = ModelCounts {
            tasks: 12,
            solved: 7,
            unsolved: 5,
            ..ModelCounts::default()
        };
        assert_eq!(twelve.summary(), "solved 7 of 12 (58 %)");
    }

    #[test]
    fn the_json_has_a_place_for_best_of_n_and_every_number() {
        let report = EvalReport {
            suite: "built-in".into(),
            models: vec!["m".into()],
            results: vec![result("a", "m", Status::CheckNotRun("no go".into()))],
            interrupted: false,
            candidates: 1,
        };
        let json: serde_json::Value =
            serde_json::from_str(&report.to_json().expect("serializable")).expect("JSON");
        assert_eq!(json["version"], 1);
        assert_eq!(json["candidates"], 1);
        assert_eq!(json["attempts"], 1);
        assert_eq!(json["models"][0]["check_not_run"], 1);
        assert_eq!(json["models"][0]["pass_at_1"], serde_json::Value::Null);
        let trial = &json["results"][0];
        assert_eq!(trial["status"], "check_not_run");
        assert_eq!(trial["detail"], "no go");
        assert_eq!(trial["agent"], "finished");
        assert_eq!(trial["tokens"]["prompt"], 12_345);
        assert_eq!(trial["agent_seconds"], 42.25);
        assert_eq!(trial["check"], serde_json::Value::Null);
    }
}
