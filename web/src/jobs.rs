//! The jobs pages and actions: `GET /jobs` (the viewer's jobs, filtered and paged),
//! `GET /jobs/{id}` (one job), `POST /jobs/{id}/{approve|cancel|retry}`. Every route
//! asks who the viewer is first, then checks the form's CSRF token, then what GitHub says
//! the viewer may see and do on the job's repository.

use crate::Web;
use crate::pages::{self, JobPageView, JobsPage};
use crate::time::date_field;
use crate::viewer::{Refusal, Viewer, permissions, reach, viewer};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::ids::RepoFullName;
use shared::job::{JobId, JobStatus};
use shared::ports::{ActionOutcome, ControlPlane, JobAction, JobFilter};
use std::sync::Arc;

/// Jobs on one page of the listing.
pub const PAGE_SIZE: usize = 25;

/// The listing's filters as the form sends them, kept as typed to refill the form.
#[derive(Debug, Default, Clone)]
pub struct FilterForm {
    pub repo: String,
    pub task: String,
    pub status: String,
    pub requester: String,
    pub since: String,
    pub until: String,
    pub after: String,
}

impl FilterForm {
    fn parse(query: &str) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            match key.as_ref() {
                "repo" => form.repo = value,
                "task" => form.task = value,
                "status" => form.status = value,
                "requester" => form.requester = value,
                "since" => form.since = value,
                "until" => form.until = value,
                "after" => form.after = value,
                _ => {}
            }
        }
        form
    }

    /// The filter, or what is wrong with the form.
    fn filter(&self) -> Result<JobFilter, String> {
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let status =
            match self.status.as_str() {
                "" => None,
                name => Some(JobStatus::from_name(name).ok_or_else(|| {
                    format!("There is no status “{name}”; pick one from the list.")
                })?),
            };
        Ok(JobFilter {
            repos: None,
            repo: some(&self.repo).map(RepoFullName::new),
            task: some(&self.task),
            status,
            requester: some(self.requester.trim_start_matches('@')),
            since_ms: date_field("From", &self.since)?,
            // "Until" a day includes that day.
            until_ms: date_field("Until", &self.until)?.map(|ms| ms + 86_400_000),
        })
    }

    /// The query that repeats these filters, with `after` as the page's start.
    pub fn query_after(&self, after: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("repo", &self.repo),
            ("task", &self.task),
            ("status", &self.status),
            ("requester", &self.requester),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        query.append_pair("after", after);
        query.finish()
    }
}

/// `GET /jobs`.
pub async fn list<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let form = FilterForm::parse(&query.unwrap_or_default());
    let mut filter = form
        .filter()
        .map_err(|text| Refusal::BadRequest("Check the filters".to_owned(), text))?;
    let reach = reach(&web, &viewer).await?;
    if let Some(reach) = &reach {
        filter.repos = Some(
            reach
                .values()
                .map(|(name, _)| RepoFullName::new(name.clone()))
                .collect(),
        );
    }
    let after = (!form.after.is_empty()).then_some(form.after.as_str());
    let page = web
        .plane
        .jobs(&filter, after, PAGE_SIZE)
        .await
        .map_err(|err| match err {
            shared::ports::StoreError::Corrupt(_) if after.is_some() => Refusal::BadRequest(
                "Check the link".to_owned(),
                "This page link's starting point is not one this server made; go back to the first page.".to_owned(),
            ),
            err => err.into(),
        })?;
    let view = JobsPage::new(&web, &viewer, &form, page);
    Ok(pages::html(StatusCode::OK, view.render()))
}

fn job_id(raw: &str) -> Result<JobId, Refusal> {
    JobId::parse(raw).map_err(|_| Refusal::NotFound(format!("There is no job “{raw}”.")))
}

/// `GET /jobs/{id}`.
pub async fn detail<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let id = job_id(&id)?;
    let reach = reach(&web, &viewer).await?;
    let hidden = || Refusal::NotFound(format!("There is no job {id} that you can see."));
    let detail = web.plane.job_detail(&id).await?.ok_or_else(hidden)?;
    let rights = permissions(reach.as_deref(), detail.job.repo.as_str()).ok_or_else(hidden)?;
    let view = JobPageView::new(&web, &viewer, &detail, rights.push);
    Ok(pages::html(StatusCode::OK, view.render()))
}

/// The form's fields.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Refuses a form without this viewer's CSRF token (a script with the operator's token
/// sends none).
pub fn check_csrf<C>(web: &Web<C>, viewer: &Viewer, body: &[u8]) -> Result<(), Refusal> {
    check_csrf_token(web, viewer, &form_field(body, "csrf").unwrap_or_default())
}

/// Refuses a form whose CSRF token, `sent`, is not this viewer's (a script with the
/// operator's token sends none).
pub fn check_csrf_token<C>(web: &Web<C>, viewer: &Viewer, sent: &str) -> Result<(), Refusal> {
    let Some(binding) = viewer.csrf_binding() else {
        return Ok(());
    };
    if web.key.csrf_matches(&binding, sent) {
        Ok(())
    } else {
        tracing::warn!(viewer = %viewer.name(), "refused a form without its CSRF token");
        Err(Refusal::Csrf)
    }
}

/// `POST /jobs/{id}/{action}`.
pub async fn act<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    check_csrf(&web, &viewer, &body)?;
    let action = match action.as_str() {
        "approve" => JobAction::Approve,
        "cancel" => JobAction::Cancel,
        "retry" => JobAction::Retry,
        other => {
            return Err(Refusal::NotFound(format!(
                "There is no action “{other}”; a job can be approved, cancelled or retried."
            )));
        }
    };
    let id = job_id(&id)?;
    let reach = reach(&web, &viewer).await?;
    let hidden = || Refusal::NotFound(format!("There is no job {id} that you can see."));
    let detail = web.plane.job_detail(&id).await?.ok_or_else(hidden)?;
    let repo = detail.job.repo.clone();
    let rights = permissions(reach.as_deref(), repo.as_str()).ok_or_else(hidden)?;
    if !rights.push {
        tracing::info!(viewer = %viewer.name(), job = %id, action = action.as_str(), "refused an action without write access");
        return Err(Refusal::Forbidden(format!(
            "To {} job {id} you need write (push) access to {repo} on GitHub; you have read access only.",
            action.as_str()
        )));
    }
    let actor = viewer.actor();
    tracing::info!(viewer = %viewer.name(), job = %id, action = action.as_str(), "a job action from the dashboard");
    match web.plane.act(detail.job, action, &actor).await? {
        ActionOutcome::Done(_) => Ok(see_other(&format!("/jobs/{id}"))),
        ActionOutcome::Retried(new) => Ok(see_other(&format!("/jobs/{new}"))),
        ActionOutcome::NotPossible(text) => Err(Refusal::Conflict(text)),
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_form_reads_every_field_and_names_what_is_wrong() {
        let form = FilterForm::parse(
            "repo=Octo-Org%2FHello&task=refactor&status=failed&requester=%40hubot&since=2026-12-01&until=2026-12-02&after=x&other=1",
        );
        let filter = form.filter().expect("a filter");
        assert_eq!(filter.repo, Some(RepoFullName::new("Octo-Org/Hello")));
        assert_eq!(filter.task.as_deref(), Some("refactor"));
        assert_eq!(filter.status, Some(JobStatus::Failed));
        assert_eq!(filter.requester.as_deref(), Some("hubot"));
        assert_eq!(filter.since_ms, Some(1_796_083_200_000));
        // "Until" a day includes that day.
        assert_eq!(filter.until_ms, Some(1_796_256_000_000));
        assert_eq!(filter.repos, None);
        assert_eq!(
            form.query_after("c1"),
            "repo=Octo-Org%2FHello&task=refactor&status=failed&requester=%40hubot&since=2026-12-01&until=2026-12-02&after=c1"
        );

        assert_eq!(FilterForm::parse("").filter(), Ok(JobFilter::default()));
        let wrong_status = FilterForm::parse("status=done").filter();
        assert_eq!(
            wrong_status,
            Err("There is no status “done”; pick one from the list.".to_owned())
        );
        let wrong_date = FilterForm::parse("until=12%2F02%2F2026").filter();
        assert_eq!(
            wrong_date,
            Err("Until must be a date as YYYY-MM-DD, not “12/02/2026”.".to_owned())
        );
    }
}
