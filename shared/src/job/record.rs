//! The job record: what was asked (repository, commit, task, who), where the job is in its
//! lifecycle, and what came of it. Plain data, stored as it serializes; the task token is
//! deliberately not part of it (see [`super::TaskToken`]).

use super::error::{JobError, status_after_error};
use super::id::JobId;
use super::layers::ConfigLayers;
use super::status::{JobStatus, TransitionError};
use crate::envelope::CommentSource;
use crate::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use serde::{Deserialize, Serialize};

/// What caused a job, with just enough to answer in the right place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// A command in a comment (`/ollama refactor ...`).
    Comment {
        /// The comment's id (the review's id for a review body): where reactions go.
        comment_id: u64,
        source: CommentSource,
        /// The issue or pull request the comment is on.
        number: u64,
        on_pull_request: bool,
    },
    /// A pull request event the repository's config reacts to (opened, labeled, ...).
    PullRequest { number: u64 },
    /// An issue event the repository's config reacts to.
    Issue { number: u64 },
    /// "Re-run" on one of the App's check runs.
    CheckRun { check_run_id: u64 },
    /// A pull request's checks failed (the `ci_failed` trigger); `attempt` counts the fix
    /// jobs in a row that each followed a failure of the App's own fix (1 for the first).
    CiFailed { number: u64, attempt: u32 },
    /// A push the repository's config reacts to.
    Push,
    /// `ota run` on the command line: no conversation to answer in.
    Cli,
    /// A request from outside GitHub (a schedule, an operator): no conversation to answer
    /// in; the check run on the commit reports it.
    Request,
    /// A schedule's read-only task (a review with no pull request): its result goes to the
    /// App's tracking issue of the repository's scheduled runs, issue `number`.
    Tracking { number: u64 },
}

impl Trigger {
    /// The issue or pull request to report to, if there is one.
    pub fn number(&self) -> Option<u64> {
        match self {
            Self::Comment { number, .. }
            | Self::PullRequest { number }
            | Self::Issue { number }
            | Self::CiFailed { number, .. }
            | Self::Tracking { number } => Some(*number),
            Self::CheckRun { .. } | Self::Push | Self::Cli | Self::Request => None,
        }
    }

    /// Whether the job is about a pull request (its check run and its diff).
    pub fn on_pull_request(&self) -> bool {
        match self {
            Self::Comment {
                on_pull_request, ..
            } => *on_pull_request,
            Self::PullRequest { .. } | Self::CheckRun { .. } | Self::CiFailed { .. } => true,
            Self::Issue { .. } | Self::Tracking { .. } | Self::Push | Self::Cli | Self::Request => {
                false
            }
        }
    }
}

/// A job's part in plan, approve, apply (a task with `plan: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PlanStep {
    /// The job explores read-only and ends with a plan (its result's summary), which
    /// `/approve` applies and `/ollama revise` plans again.
    Draft {
        /// The plan this one replaces, for `/ollama revise`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revises: Option<JobId>,
        /// What the reviser asked to change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        /// The plan being revised, as it was posted: the runner reads no other job.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
    },
    /// The job carries out the plan job `plan` made (`text`, as it was posted), approved
    /// by `approved_by`.
    Apply {
        plan: JobId,
        approved_by: String,
        text: String,
    },
}

/// The most characters of a plan a job carries: far more than a readable plan, and well
/// within a stored record's size.
pub const MAX_PLAN_CHARS: usize = 20_000;

/// `text` cut to [`MAX_PLAN_CHARS`].
pub fn plan_text(text: &str) -> String {
    text.trim().chars().take(MAX_PLAN_CHARS).collect()
}

impl PlanStep {
    /// A first plan.
    pub fn draft() -> Self {
        Self::Draft {
            revises: None,
            notes: None,
            previous: None,
        }
    }

    pub fn is_draft(&self) -> bool {
        matches!(self, Self::Draft { .. })
    }
}

/// Whether the job needs `/approve`, and the approval once given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub required: bool,
    /// The pull request head the approval is asked for: it applies only while the head is
    /// still this commit, so pushing after the request cannot slip code past the approver.
    #[serde(default)]
    pub pinned_head: Option<CommitSha>,
    /// Login of whoever approved.
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_at_ms: Option<u64>,
}

impl Approval {
    pub fn not_required() -> Self {
        Self {
            required: false,
            pinned_head: None,
            approved_by: None,
            approved_at_ms: None,
        }
    }

    /// Approval needed, pinned to the pull request's head when there is one.
    pub fn required(pinned_head: Option<CommitSha>) -> Self {
        Self {
            required: true,
            pinned_head,
            approved_by: None,
            approved_at_ms: None,
        }
    }

    /// Whether an approval still holds for a pull request whose head is now `head`
    /// (`None` when the job is not on a pull request).
    pub fn applies_to(&self, head: Option<&CommitSha>) -> bool {
        match (&self.pinned_head, head) {
            (Some(pinned), Some(head)) => pinned == head,
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// Nothing stands between the job and a runner.
    pub fn is_satisfied(&self) -> bool {
        !self.required || self.approved_by.is_some()
    }
}

/// Tokens the model read and wrote over the whole job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
}

/// A final error as recorded: the name is a string, not a [`JobError`], because the
/// catch-all also records names nobody defined (`States.Runtime`, a Lambda's error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    pub name: String,
    pub message: String,
}

impl ErrorReport {
    /// The named error, if it is one of ours.
    pub fn kind(&self) -> Option<JobError> {
        JobError::from_name(&self.name)
    }
}

/// What came of a job; every part is optional, a failed job may still have a branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobResult {
    /// What the agent did, in a few sentences of Markdown.
    pub summary: Option<String>,
    pub pull_request_url: Option<String>,
    /// The branch the runner pushed, `ollama/<task>-<short id>`.
    pub branch: Option<String>,
    pub tokens: Option<TokenUsage>,
    pub error: Option<ErrorReport>,
}

/// What the policy stage decided to run: the part of a job that never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    pub id: JobId,
    pub delivery: DeliveryId,
    pub installation: InstallationId,
    pub repo: RepoFullName,
    pub commit: CommitSha,
    pub git_ref: String,
    pub trigger: Trigger,
    pub task: String,
    pub params: String,
    pub requester: String,
    pub approval: Approval,
}

/// One job, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: JobId,
    /// The delivery the job came from (its id is derived from it).
    pub delivery: DeliveryId,
    pub installation: InstallationId,
    pub repo: RepoFullName,
    /// The commit the job starts from.
    pub commit: CommitSha,
    /// The branch or ref the job works on (the pull request's head branch, or the default
    /// branch for an issue).
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub trigger: Trigger,
    /// The task's name (`refactor`, ...), as in the repository's config.
    pub task: String,
    /// The task's parameters: free text after the task name in the command.
    pub params: String,
    /// Login of whoever asked for the job.
    pub requester: String,
    pub status: JobStatus,
    /// Unix milliseconds, like the other timestamps.
    pub created_at_ms: u64,
    /// When a runner first reported that it started.
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    /// When the job reached a terminal status.
    #[serde(default)]
    pub completed_at_ms: Option<u64>,
    /// Attempts made, i.e. dispatches: 0 until the first, then one more per retry.
    pub attempts: u32,
    pub approval: Approval,
    #[serde(default)]
    pub result: Option<JobResult>,
    /// Where the full log is (a CloudWatch stream, a file path).
    #[serde(default)]
    pub log: Option<String>,
    /// The job's check run on GitHub, once created (pull request jobs).
    #[serde(default)]
    pub check_run_id: Option<u64>,
    /// The credential of the current attempt's runner, as a keyed digest
    /// ([`super::RunnerGrant`]); set when the runner is launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_grant: Option<super::RunnerGrant>,
    /// The task's `hosted_model` when the job was created: a job overflows to Ollama's
    /// hosted service only with one (see `may_use_hosted` in the dispatch module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_model: Option<String>,
    /// What the repository's `.ollama-turbo.yml` was read with when the job was decided:
    /// the organisation's defaults (the `.github` repository's file) and the keys the
    /// installation policy lets it set. The runner's token reaches the job's repository
    /// only, so it rebuilds the same configuration from these. Empty (and left out) when
    /// the file was read alone, as in records written before organisation defaults.
    #[serde(default, skip_serializing_if = "ConfigLayers::is_empty")]
    pub config_layers: ConfigLayers,
    /// The job's step in plan, approve, apply; `None` for a job that just runs its task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanStep>,
}

impl JobRecord {
    /// A new job, `queued`, created at `now_ms`.
    pub fn new(request: JobRequest, now_ms: u64) -> Self {
        let JobRequest {
            id,
            delivery,
            installation,
            repo,
            commit,
            git_ref,
            trigger,
            task,
            params,
            requester,
            approval,
        } = request;
        Self {
            id,
            delivery,
            installation,
            repo,
            commit,
            git_ref,
            trigger,
            task,
            params,
            requester,
            status: JobStatus::Queued,
            created_at_ms: now_ms,
            started_at_ms: None,
            completed_at_ms: None,
            attempts: 0,
            approval,
            result: None,
            log: None,
            check_run_id: None,
            runner_grant: None,
            hosted_model: None,
            config_layers: ConfigLayers::default(),
            plan: None,
        }
    }

    /// Moves the job to `to` if the lifecycle allows it, with the bookkeeping both engines
    /// must do alike: entering `dispatching` counts an attempt, the first `running` sets
    /// the start time, a terminal status sets the completion time.
    pub fn move_to(&mut self, to: JobStatus, now_ms: u64) -> Result<(), TransitionError> {
        self.status.check_move(to)?;
        if to == JobStatus::Dispatching {
            self.attempts = self.attempts.saturating_add(1);
        }
        if to == JobStatus::Running && self.started_at_ms.is_none() {
            self.started_at_ms = Some(now_ms);
        }
        if to.is_terminal() {
            self.completed_at_ms = Some(now_ms);
        }
        self.status = to;
        Ok(())
    }

    /// Ends the job with the final error `name` (retries, if any, are over): the status is
    /// the one [`status_after_error`] gives, and the error goes into the result.
    pub fn finish_with_error(
        &mut self,
        name: &str,
        message: impl Into<String>,
        now_ms: u64,
    ) -> Result<JobStatus, TransitionError> {
        let to = status_after_error(name);
        self.move_to(to, now_ms)?;
        self.result.get_or_insert_with(JobResult::default).error = Some(ErrorReport {
            name: name.to_owned(),
            message: message.into(),
        });
        Ok(to)
    }

    /// Whether the job makes a plan (and changes nothing).
    pub fn is_plan(&self) -> bool {
        self.plan.as_ref().is_some_and(PlanStep::is_draft)
    }

    /// The branch this job pushes to.
    pub fn branch_name(&self) -> String {
        self.id.branch_name(&self.task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(approval: Approval) -> JobRequest {
        let delivery = DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").expect("delivery");
        JobRequest {
            id: JobId::for_command(&delivery, 0),
            delivery,
            installation: InstallationId(42),
            repo: RepoFullName::new("octo-org/hello-world"),
            commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "refs/heads/feature".to_owned(),
            trigger: Trigger::Comment {
                comment_id: 1_234,
                source: CommentSource::IssueComment,
                number: 7,
                on_pull_request: true,
            },
            task: "refactor".to_owned(),
            params: "extract the retry loop into a function".to_owned(),
            requester: "octocat".to_owned(),
            approval,
        }
    }

    fn finished_job() -> JobRecord {
        let head = CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e");
        let mut job = JobRecord::new(request(Approval::required(Some(head))), 1_000);
        job.move_to(JobStatus::AwaitingApproval, 1_001)
            .expect("wait");
        job.approval.approved_by = Some("maintainer".to_owned());
        job.approval.approved_at_ms = Some(2_000);
        job.move_to(JobStatus::Dispatching, 2_000)
            .expect("dispatch");
        job.move_to(JobStatus::Running, 3_000).expect("run");
        job.result = Some(JobResult {
            summary: Some("Extracted `retry_with_backoff`.".to_owned()),
            pull_request_url: Some("https://github.com/octo-org/hello-world/pull/8".to_owned()),
            branch: Some(job.branch_name()),
            tokens: Some(TokenUsage {
                prompt: 12_000,
                completion: 3_400,
            }),
            error: None,
        });
        job.log = Some("/aws/ecs/ota-runner/j0123".to_owned());
        job.move_to(JobStatus::Succeeded, 4_000).expect("succeed");
        job
    }

    #[test]
    fn a_new_job_is_queued_with_nothing_done() {
        let job = JobRecord::new(request(Approval::not_required()), 1_000);
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.created_at_ms, 1_000);
        assert_eq!((job.started_at_ms, job.completed_at_ms), (None, None));
        assert_eq!(job.attempts, 0);
        assert_eq!(job.result, None);
        assert!(job.approval.is_satisfied());
    }

    #[test]
    fn moving_keeps_the_books() {
        let mut job = JobRecord::new(request(Approval::not_required()), 1_000);
        job.move_to(JobStatus::Dispatching, 1_100)
            .expect("dispatch");
        assert_eq!(job.attempts, 1);
        job.move_to(JobStatus::Dispatching, 1_200)
            .expect("retry before start");
        assert_eq!(job.attempts, 2);
        job.move_to(JobStatus::Running, 1_300).expect("run");
        assert_eq!(job.started_at_ms, Some(1_300));
        job.move_to(JobStatus::Dispatching, 1_400).expect("retry");
        job.move_to(JobStatus::Running, 1_500).expect("run again");
        assert_eq!(job.attempts, 3);
        assert_eq!(job.started_at_ms, Some(1_300), "first start is kept");
        assert_eq!(job.completed_at_ms, None);
        job.move_to(JobStatus::Succeeded, 1_600).expect("succeed");
        assert_eq!(job.completed_at_ms, Some(1_600));
    }

    #[test]
    fn a_refused_move_changes_nothing() {
        let mut job = finished_job();
        let before = job.clone();
        let refused = job
            .move_to(JobStatus::Running, 9_000)
            .expect_err("finished");
        assert!(refused.job_already_finished());
        assert_eq!(job, before);
        let mut queued = JobRecord::new(request(Approval::not_required()), 1_000);
        assert!(queued.move_to(JobStatus::Succeeded, 1_001).is_err());
        assert_eq!(queued.status, JobStatus::Queued);
    }

    #[test]
    fn final_errors_set_status_and_report() {
        let mut job = JobRecord::new(request(Approval::not_required()), 1_000);
        job.move_to(JobStatus::Dispatching, 1_100)
            .expect("dispatch");
        job.move_to(JobStatus::Running, 1_200).expect("run");
        let status = job
            .finish_with_error("Runner.BudgetExceeded", "used 200000 tokens", 1_300)
            .expect("fail");
        assert_eq!(status, JobStatus::Failed);
        let error = job
            .result
            .as_ref()
            .and_then(|r| r.error.clone())
            .expect("error");
        assert_eq!(error.kind(), Some(JobError::RunnerBudgetExceeded));
        assert_eq!(job.completed_at_ms, Some(1_300));

        let mut stray = JobRecord::new(request(Approval::not_required()), 1_000);
        assert_eq!(
            stray.finish_with_error("States.Runtime", "bad path", 1_001),
            Ok(JobStatus::DeadLettered)
        );
        let mut waiting = JobRecord::new(request(Approval::required(None)), 1_000);
        waiting
            .move_to(JobStatus::AwaitingApproval, 1_001)
            .expect("wait");
        assert_eq!(
            waiting.finish_with_error("Approval.Expired", "72h passed", 2_000),
            Ok(JobStatus::Expired)
        );
        assert!(
            job.finish_with_error("Job.Cancelled", "too late", 1_400)
                .is_err()
        );
    }

    #[test]
    fn approval_is_pinned_to_the_head_it_was_asked_for() {
        let head = CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e");
        let newer = CommitSha::new("0000000000000000000000000000000000000001");
        let approval = Approval::required(Some(head.clone()));
        assert!(!approval.is_satisfied());
        assert!(approval.applies_to(Some(&head)));
        assert!(!approval.applies_to(Some(&newer)));
        assert!(!approval.applies_to(None));
        assert!(Approval::required(None).applies_to(Some(&newer)));
    }

    #[test]
    fn triggers_name_where_to_report() {
        assert_eq!(request(Approval::not_required()).trigger.number(), Some(7));
        assert_eq!(Trigger::Issue { number: 3 }.number(), Some(3));
        assert_eq!(Trigger::CheckRun { check_run_id: 9 }.number(), None);
        assert_eq!(Trigger::Cli.number(), None);
        assert_eq!(
            serde_json::to_value(Trigger::PullRequest { number: 5 }).expect("json"),
            json!({ "kind": "pull_request", "number": 5 })
        );
    }

    #[test]
    fn records_round_trip_through_serde() {
        let job = finished_job();
        let json = serde_json::to_string(&job).expect("serialize");
        let back: JobRecord = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, job);

        let fresh = JobRecord::new(request(Approval::not_required()), 1_000);
        let json = serde_json::to_string(&fresh).expect("serialize");
        assert_eq!(
            serde_json::from_str::<JobRecord>(&json).expect("deserialize"),
            fresh
        );
    }

    #[test]
    fn records_serialize_with_the_stored_field_names() {
        let value = serde_json::to_value(finished_job()).expect("json");
        assert!(value["id"].as_str().expect("id").starts_with('j'));
        assert_eq!(value["status"], "succeeded");
        assert_eq!(value["ref"], "refs/heads/feature");
        assert_eq!(value["repo"], "octo-org/hello-world");
        assert_eq!(value["installation"], 42);
        assert_eq!(value["trigger"]["kind"], "comment");
        assert_eq!(value["trigger"]["source"], "issue_comment");
        assert_eq!(value["approval"]["approved_by"], "maintainer");
        assert_eq!(value["result"]["tokens"]["completion"], 3_400);
        assert_eq!(value["attempts"], 1);
        assert!(value.get("task_token").is_none());
    }

    #[test]
    fn optional_fields_may_be_absent_when_reading() {
        let value = json!({
            "id": "j0123456789abcdef0123",
            "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "installation": 42,
            "repo": "octo-org/hello-world",
            "commit": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "ref": "main",
            "trigger": { "kind": "cli" },
            "task": "refactor",
            "params": "",
            "requester": "octocat",
            "status": "queued",
            "created_at_ms": 1,
            "attempts": 0,
            "approval": { "required": false }
        });
        let job: JobRecord = serde_json::from_value(value).expect("deserialize");
        assert_eq!(job.approval, Approval::not_required());
        assert_eq!(job.branch_name(), "ollama/refactor-j0123456");
    }
}
