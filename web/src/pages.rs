//! The dashboard's pages: askama templates (`web/templates/`) over views of plain strings
//! made here, so the templates only lay out what this module words. Every page has the
//! same frame: a header that says who is signed in with the sign-out form, and the main
//! part.

use crate::Web;
use crate::jobs::FilterForm;
use crate::time::{format_duration, format_ms};
use crate::viewer::Viewer;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use shared::job::{JobRecord, JobStatus};
use shared::ports::{JobDetail, JobPage};

/// A rendered page, or a plain refusal if a template failed (it never should).
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(page) => {
            let mut response = (status, Html(page)).into_response();
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "a dashboard page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page failed to render; the server's log says why.",
            )
                .into_response()
        }
    }
}

/// Who is signed in, for the frame.
pub struct Frame {
    pub who: String,
    /// The server's owner: the pages only the owner has are linked.
    pub owner: bool,
    /// The sign-out form's CSRF token; `None` for a script.
    pub csrf: Option<String>,
}

impl Frame {
    pub(crate) fn new<C>(web: &Web<C>, viewer: &Viewer) -> Self {
        Self {
            owner: viewer.is_owner(web),
            who: match viewer {
                Viewer::Operator(_) => "the server's owner (operator token)".to_owned(),
                Viewer::User { session, .. } if viewer.is_owner(web) => {
                    format!("@{} (the server's owner)", session.login)
                }
                Viewer::User { session, .. } => format!("@{}", session.login),
            },
            csrf: viewer.csrf_binding().map(|binding| web.key.csrf(&binding)),
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    status: u16,
}

/// A page that says one thing: a refusal, an error, a confirmation.
pub fn message(status: StatusCode, title: &str, text: &str) -> Html<String> {
    let page = MessagePage {
        title,
        text,
        status: status.as_u16(),
    };
    Html(page.render().unwrap_or_else(|_| format!("{title}: {text}")))
}

/// One row of the jobs table.
pub struct JobRow {
    pub id: String,
    pub short: String,
    pub status: String,
    pub repo: String,
    pub repo_url: String,
    /// `#12` and its URL on GitHub, when the job is about an issue or pull request.
    pub thread: Option<(String, String)>,
    pub task: String,
    pub requester: String,
    pub created: String,
    pub attempts: u32,
}

fn thread_url(web_url: &str, job: &JobRecord) -> Option<(String, String)> {
    let number = job.trigger.number()?;
    let kind = if job.trigger.on_pull_request() {
        "pull"
    } else {
        "issues"
    };
    Some((
        format!("#{number}"),
        format!("{web_url}/{}/{kind}/{number}", job.repo),
    ))
}

impl JobRow {
    fn new(web_url: &str, job: &JobRecord) -> Self {
        Self {
            id: job.id.to_string(),
            short: job.id.short().to_owned(),
            status: job.status.to_string(),
            repo: job.repo.to_string(),
            repo_url: format!("{web_url}/{}", job.repo),
            thread: thread_url(web_url, job),
            task: job.task.clone(),
            requester: job.requester.clone(),
            created: format_ms(job.created_at_ms),
            attempts: job.attempts,
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
pub struct JobsPage {
    frame: Frame,
    form: FilterForm,
    statuses: Vec<(String, bool)>,
    rows: Vec<JobRow>,
    /// The next page's query.
    next: Option<String>,
    paged: bool,
}

impl JobsPage {
    pub fn new<C>(web: &Web<C>, viewer: &Viewer, form: &FilterForm, page: JobPage) -> Self {
        let web_url = web.github.web_url.as_str();
        Self {
            frame: Frame::new(web, viewer),
            statuses: JobStatus::ALL
                .iter()
                .map(|status| (status.as_str().to_owned(), form.status == status.as_str()))
                .collect(),
            rows: page
                .jobs
                .iter()
                .map(|job| JobRow::new(web_url, job))
                .collect(),
            next: page.next.map(|after| form.query_after(&after)),
            paged: !form.after.is_empty(),
            form: form.clone(),
        }
    }
}

/// One line of the job's timeline.
pub struct Moment {
    pub when: String,
    pub what: String,
}

/// One audit entry as the page shows it.
pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub command: String,
    pub decision: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "job.html")]
pub struct JobPageView {
    frame: Frame,
    row: JobRow,
    params: String,
    commit: String,
    commit_url: String,
    git_ref: String,
    fields: Vec<(&'static str, String)>,
    pull_request: Option<String>,
    summary: Option<String>,
    error: Option<String>,
    timeline: Vec<Moment>,
    audit: Vec<AuditRow>,
    log: Vec<String>,
    /// The live log's stream and script, while the job has not ended.
    stream: Option<(String, String)>,
    can_approve: bool,
    can_cancel: bool,
    can_retry: bool,
    /// Why no action is offered to someone who can see the job, if that is why.
    read_only: bool,
}

impl JobPageView {
    pub fn new<C>(web: &Web<C>, viewer: &Viewer, detail: &JobDetail, may_act: bool) -> Self {
        let job = &detail.job;
        let web_url = web.github.web_url.as_str();
        let result = job.result.clone().unwrap_or_default();
        let mut fields = Vec::new();
        if let Some(tokens) = result.tokens {
            fields.push((
                "Tokens",
                format!("{} in, {} out", tokens.prompt, tokens.completion),
            ));
        }
        if let Some(model) = &job.hosted_model {
            fields.push(("Hosted model", model.clone()));
        }
        if let (Some(started), Some(done)) = (job.started_at_ms, job.completed_at_ms) {
            fields.push(("Duration", format_duration(done.saturating_sub(started))));
        }
        if let Some(branch) = &result.branch {
            fields.push(("Branch", branch.clone()));
        }
        if let Some(approver) = &job.approval.approved_by {
            fields.push(("Approved by", approver.clone()));
        }
        let mut timeline = vec![Moment {
            when: format_ms(job.created_at_ms),
            what: format!("asked for by {}", job.requester),
        }];
        if let Some(at) = job.approval.approved_at_ms {
            timeline.push(Moment {
                when: format_ms(at),
                what: format!(
                    "approved by {}",
                    job.approval.approved_by.clone().unwrap_or_default()
                ),
            });
        }
        if let Some(at) = job.started_at_ms {
            timeline.push(Moment {
                when: format_ms(at),
                what: "a runner started".to_owned(),
            });
        }
        for attempt in &detail.attempts {
            timeline.push(Moment {
                when: String::new(),
                what: match attempt.exit_code {
                    None => format!("attempt {}: running or lost", attempt.attempt),
                    Some(0) => format!("attempt {}: runner exited normally", attempt.attempt),
                    Some(code) => format!("attempt {}: runner exited with {code}", attempt.attempt),
                },
            });
        }
        if let Some(at) = job.completed_at_ms {
            timeline.push(Moment {
                when: format_ms(at),
                what: format!("ended {}", job.status),
            });
        }
        Self {
            frame: Frame::new(web, viewer),
            row: JobRow::new(web_url, job),
            params: job.params.clone(),
            commit: job.commit.as_str().chars().take(12).collect(),
            commit_url: format!("{web_url}/{}/commit/{}", job.repo, job.commit.as_str()),
            git_ref: job.git_ref.clone(),
            fields,
            pull_request: result.pull_request_url.clone(),
            summary: result.summary.clone(),
            error: result
                .error
                .as_ref()
                .map(|error| format!("{}: {}", error.name, error.message)),
            timeline,
            audit: detail
                .audit
                .iter()
                .map(|entry| AuditRow {
                    when: format_ms(entry.at_ms),
                    actor: entry.actor.clone(),
                    command: entry.command.clone(),
                    decision: entry.decision.clone(),
                    reason: entry.reason.clone(),
                })
                .collect(),
            log: detail.log.clone(),
            stream: (!job.status.is_terminal()).then(|| {
                (
                    format!("/jobs/{}/log/stream?from={}", job.id, detail.log.len()),
                    crate::live::script_path(),
                )
            }),
            can_approve: may_act && detail.approvable,
            can_cancel: may_act && !job.status.is_terminal(),
            can_retry: may_act && job.status.is_retryable(),
            read_only: !may_act,
        }
    }
}
