//! Check runs: created exactly once (a retry first looks for a run of the same name on the
//! commit carrying the same `external_id`) and updated with only the fields that change.

use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode};
use serde::{Deserialize, Serialize};
use shared::github_text::CHECK_TEXT;
use shared::ports::{
    CheckConclusion, CheckOutput, CheckRunUpdate, CheckStatus, FailedCheck, GitHubError,
    MAX_CHECK_ANNOTATIONS, MAX_FAILED_CHECKS, NewCheckRun, RepoScope,
};

/// One page of a commit's runs of one name is plenty: a job creates one.
const PER_PAGE: &str = "100";

#[derive(Serialize)]
struct OutputJson<'a> {
    title: &'a str,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl<'a> OutputJson<'a> {
    fn new(output: &'a CheckOutput) -> Self {
        Self {
            title: &output.title,
            // GitHub counts these in bytes (see `shared::github_text`).
            summary: CHECK_TEXT.fit(&output.summary),
            text: output.text.as_deref().map(|text| CHECK_TEXT.fit(text)),
        }
    }
}

#[derive(Serialize)]
struct NewCheckJson<'a> {
    name: &'a str,
    head_sha: &'a str,
    external_id: &'a str,
    status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    details_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<OutputJson<'a>>,
}

#[derive(Serialize)]
struct UpdateJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<CheckStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conclusion: Option<CheckConclusion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<OutputJson<'a>>,
}

#[derive(Deserialize)]
struct CreatedJson {
    id: u64,
}

#[derive(Deserialize)]
struct RunsJson {
    check_runs: Vec<RunJson>,
}

#[derive(Deserialize)]
struct RunJson {
    id: u64,
    external_id: Option<String>,
}

fn body(value: impl Serialize) -> Result<serde_json::Value, GitHubError> {
    serde_json::to_value(value)
        .map_err(|err| GitHubError::Rejected(format!("check run could not be encoded: {err}")))
}

impl GitHubClient {
    pub(crate) async fn create_check(
        &self,
        scope: &RepoScope,
        check: &NewCheckRun,
    ) -> Result<u64, GitHubError> {
        let call = Call::post(
            Endpoint::CreateCheckRun,
            repo_path(scope, "check-runs"),
            body(NewCheckJson {
                name: &check.name,
                head_sha: check.head_sha.as_str(),
                external_id: &check.external_id,
                status: check.status,
                details_url: check.details_url.as_deref(),
                output: check.output.as_ref().map(OutputJson::new),
            })?,
        );
        let call = &call;
        self.retry
            .run("create check run", |attempt| async move {
                if attempt > 1
                    && let Some(id) = self.find_check_run(scope, check).await?
                {
                    tracing::info!(repo = %scope.repo, check_run = id, "the failed attempt had created the check run");
                    return Ok(id);
                }
                let reply = self.send(scope, call).await?;
                Ok(reply.json::<CreatedJson>(call)?.id)
            })
            .await
    }

    /// This App's run named `check.name` on `check.head_sha` with `check.external_id`.
    async fn find_check_run(
        &self,
        scope: &RepoScope,
        check: &NewCheckRun,
    ) -> Result<Option<u64>, GitHubError> {
        let call = Call::new(
            Endpoint::ListCheckRunsForRef,
            repo_path(
                scope,
                &format!("commits/{}/check-runs", encode(check.head_sha.as_str())),
            ),
        )
        .query("check_name", check.name.as_str())
        .query("filter", "all")
        .query("app_id", self.app_id().to_string())
        .query("per_page", PER_PAGE);
        let runs: RunsJson = self.send(scope, &call).await?.json(&call)?;
        Ok(runs
            .check_runs
            .iter()
            .find(|run| run.external_id.as_deref() == Some(check.external_id.as_str()))
            .map(|run| run.id))
    }

    /// Setting the same fields twice is harmless, so every attempt just sends them.
    pub(crate) async fn update_check(
        &self,
        scope: &RepoScope,
        check_run_id: u64,
        update: &CheckRunUpdate,
    ) -> Result<(), GitHubError> {
        let call = Call::new(
            Endpoint::UpdateCheckRun,
            repo_path(scope, &format!("check-runs/{check_run_id}")),
        )
        .body(body(UpdateJson {
            status: update.status,
            conclusion: update.conclusion,
            details_url: update.details_url.as_deref(),
            output: update.output.as_ref().map(OutputJson::new),
        })?);
        self.retry
            .run("update check run", |_| self.send(scope, &call))
            .await
            .map(|_| ())
    }
}

/// Conclusions of a run that failed the suite (GitHub's `conclusion` values).
const FAILING: [&str; 3] = ["failure", "timed_out", "startup_failure"];

#[derive(Deserialize)]
struct SuiteRunsJson {
    check_runs: Vec<SuiteRunJson>,
}

#[derive(Deserialize)]
struct SuiteRunJson {
    id: u64,
    name: String,
    conclusion: Option<String>,
    #[serde(default)]
    output: Option<RunOutputJson>,
}

#[derive(Deserialize, Default)]
struct RunOutputJson {
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    #[serde(default)]
    annotations_count: u64,
}

#[derive(Deserialize)]
struct AnnotationJson {
    path: String,
    start_line: u64,
    annotation_level: Option<String>,
    message: String,
}

impl GitHubClient {
    /// The failing runs of a suite with their annotations; see
    /// [`shared::ports::GitHub::failed_checks`].
    pub(crate) async fn list_failed_checks(
        &self,
        scope: &RepoScope,
        suite_id: u64,
    ) -> Result<Vec<FailedCheck>, GitHubError> {
        let call = Call::new(
            Endpoint::ListCheckRunsInSuite,
            repo_path(scope, &format!("check-suites/{suite_id}/check-runs")),
        )
        .query("filter", "latest")
        .query("status", "completed")
        .query("per_page", PER_PAGE);
        let runs: SuiteRunsJson = self.send(scope, &call).await?.json(&call)?;
        let failing = runs.check_runs.into_iter().filter(|run| {
            run.conclusion
                .as_deref()
                .is_some_and(|conclusion| FAILING.contains(&conclusion))
        });
        let mut checks = Vec::new();
        for run in failing.take(MAX_FAILED_CHECKS) {
            let output = run.output.unwrap_or_default();
            let annotations = if output.annotations_count > 0 {
                self.annotations(scope, run.id).await?
            } else {
                Vec::new()
            };
            checks.push(FailedCheck {
                name: run.name,
                conclusion: run.conclusion.unwrap_or_default(),
                title: output.title.unwrap_or_default(),
                summary: output.summary.unwrap_or_default(),
                text: output.text.unwrap_or_default(),
                annotations,
            });
        }
        Ok(checks)
    }

    /// A run's first failure and warning annotations, as `path:line: message`.
    async fn annotations(
        &self,
        scope: &RepoScope,
        run_id: u64,
    ) -> Result<Vec<String>, GitHubError> {
        let call = Call::new(
            Endpoint::ListCheckRunAnnotations,
            repo_path(scope, &format!("check-runs/{run_id}/annotations")),
        )
        .query("per_page", MAX_CHECK_ANNOTATIONS.to_string());
        let annotations: Vec<AnnotationJson> = self.send(scope, &call).await?.json(&call)?;
        Ok(annotations
            .into_iter()
            .filter(|note| note.annotation_level.as_deref() != Some("notice"))
            .map(|note| format!("{}:{}: {}", note.path, note.start_line, note.message.trim()))
            .collect())
    }
}
