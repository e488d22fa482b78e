//! The runner's side of the workflow contract. A runner starts with the variables of
//! [`crate::ports::RunnerLaunch::to_env`], reads its job and its task token
//! (`task_token(job, Wait::Run)`) from the job store, marks the job running
//! ([`runner_started`]), sends a heartbeat every [`crate::job::HEARTBEAT_INTERVAL`] and
//! ends its wait once: `SendTaskSuccess` with a [`RunOutput`], or `SendTaskFailure` with
//! one of the `Runner.*` names of [`crate::job::JobError`]. A runner whose heartbeat is
//! refused (the job was cancelled, or a newer attempt replaced it) stops at once.

use crate::job::{JobId, JobRecord, JobStatus, TokenUsage};
use crate::ports::EndpointKind;
use crate::ports::{JobStore, StoreError};
use serde::{Deserialize, Serialize};

/// The most a [`RunOutput`] may take as JSON, counted as [`json_size`] counts. Step
/// Functions refuses a state over 256 KiB ("as a UTF-8 encoded string"), the state that
/// holds the run also holds the job's small input, and the report message that carries it
/// adds the job's id and a few fields; the full log is in CloudWatch anyway.
pub const MAX_RUN_OUTPUT_BYTES: usize = 200 * 1024;

/// The size of `value` as JSON with every non-ASCII character escaped (`\u00e9`, six
/// bytes; twelve for a surrogate pair). Step Functions documents its limit in UTF-8 bytes
/// but does not say how it writes the state it measures; a JSON writer that escapes
/// non-ASCII makes text up to three times larger (moto's does), so this counts the larger
/// form and a non-ASCII output fits either way.
pub fn json_size<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |json| {
        json.chars()
            .map(|c| match c.len_utf16() {
                _ if c.is_ascii() => 1,
                1 => 6,
                _ => 12,
            })
            .sum()
    })
}

/// One test command the runner ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRun {
    /// As run, e.g. `cargo test --workspace`.
    pub command: String,
    pub passed: bool,
    /// A line or two of its output (`142 passed; 0 failed`).
    #[serde(default)]
    pub summary: Option<String>,
}

/// What a runner answers with `SendTaskSuccess`; the report stage turns it into the
/// check run, the summary comment and the job's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOutput {
    /// What the agent did, in a few sentences of Markdown.
    pub summary: String,
    #[serde(default)]
    pub pull_request_url: Option<String>,
    /// The branch it pushed, `ollama/<task>-<short id>`.
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub tests: Vec<TestRun>,
    /// The Ollama model that did the work, e.g. `qwen3-coder:30b`.
    pub model: String,
    #[serde(default)]
    pub endpoint: Option<EndpointKind>,
    #[serde(default)]
    pub tokens: TokenUsage,
    /// The longer account for the check run (steps, files changed); cut to fit there.
    #[serde(default)]
    pub details: Option<String>,
}

impl RunOutput {
    /// The output as `SendTaskSuccess` takes it, with [`details`](Self::details) cut so the
    /// whole stays within [`MAX_RUN_OUTPUT_BYTES`].
    pub fn to_task_output(&self) -> serde_json::Value {
        let mut output = self.clone();
        while json_size(&output) > MAX_RUN_OUTPUT_BYTES {
            match output.details.as_mut() {
                Some(details) if !details.is_empty() => {
                    let keep = details.chars().count() / 2;
                    *details = details.chars().take(keep).collect();
                }
                _ => {
                    let keep = output.summary.chars().count() / 2;
                    output.summary = output.summary.chars().take(keep).collect();
                }
            }
        }
        serde_json::to_value(output).unwrap_or_default()
    }
}

/// How often [`runner_started`] reads and writes again after losing a race.
const START_ATTEMPTS: usize = 3;

/// Marks the job `running` (from `dispatching`), as its runner does once it is up. A job
/// already running is left as it is; a finished one is an error the runner stops on.
pub async fn runner_started<S: JobStore>(
    store: &S,
    job: &JobId,
    now_ms: u64,
) -> Result<JobRecord, StoreError> {
    for _ in 0..START_ATTEMPTS {
        let record = store
            .job(job)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("job {job} does not exist")))?;
        if record.status == JobStatus::Running {
            return Ok(record);
        }
        let expected = record.status;
        let mut moved = record;
        moved
            .move_to(JobStatus::Running, now_ms)
            .map_err(|err| StoreError::Conflict {
                current: Some(err.from),
            })?;
        match store.update_job(&moved, expected).await {
            Ok(()) => return Ok(moved),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Unavailable(format!(
        "job {job} kept changing while its runner started"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> RunOutput {
        RunOutput {
            summary: "Extracted `retry_with_backoff`.".to_owned(),
            pull_request_url: Some("https://github.com/o/r/pull/8".to_owned()),
            branch: Some("ollama/refactor-j0123456".to_owned()),
            tests: vec![TestRun {
                command: "cargo test".to_owned(),
                passed: true,
                summary: None,
            }],
            model: "qwen3-coder:30b".to_owned(),
            endpoint: Some(EndpointKind::SelfHosted),
            tokens: TokenUsage {
                prompt: 12_000,
                completion: 3_400,
            },
            details: None,
        }
    }

    #[test]
    fn a_small_output_is_sent_as_it_is_and_reads_back() {
        let value = output().to_task_output();
        let back: RunOutput = serde_json::from_value(value).expect("reads back");
        assert_eq!(back, output());
    }

    #[test]
    fn long_details_are_cut_to_fit_the_task_output_limit() {
        let mut long = output();
        long.details = Some("é".repeat(MAX_RUN_OUTPUT_BYTES));
        let value = long.to_task_output();
        assert!(json_size(&value) <= MAX_RUN_OUTPUT_BYTES);
        // Escaped, 200 KiB of `é` is 1.2 MB: what is left is a sixth of the limit at most.
        assert!(serde_json::to_vec(&value).expect("json").len() <= MAX_RUN_OUTPUT_BYTES / 3 + 1024);
        let back: RunOutput = serde_json::from_value(value).expect("reads back");
        assert_eq!(back.summary, long.summary);
        assert!(!back.details.unwrap_or_default().is_empty());
    }

    #[test]
    fn escaped_characters_count_as_written() {
        assert_eq!(json_size(&"ab"), 4);
        assert_eq!(json_size(&"é"), 2 + 6);
        assert_eq!(json_size(&"🦀"), 2 + 12);
    }

    #[test]
    fn only_the_summary_and_model_are_required() {
        let minimal: RunOutput =
            serde_json::from_str(r#"{"summary": "Nothing to change.", "model": "llama3"}"#)
                .expect("minimal output");
        assert!(minimal.tests.is_empty());
        assert_eq!(minimal.tokens, TokenUsage::default());
    }
}
