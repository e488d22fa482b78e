//! The installations pages: `GET /installations` (the accounts the App is installed on:
//! every one for the server's owner, those with a repository the user can see for a
//! GitHub user), `GET /installations/{id}` (its repositories and its policies), and
//! `POST /installations/{id}/policies`, which makes the installation's policies what the
//! submitted file says — checked as `ota policy set` checks it, refused with the field
//! and the reason, every change in the audit log with who made it. The server's owner
//! edits every installation's policies; a GitHub user those of an installation whose
//! account they administer, as GitHub says ([`crate::access::account_admin`]).

use crate::Web;
use crate::access::AccountAdmin;
use crate::github::{GitHubError, GitHubUser};
use crate::jobs::{check_csrf, see_other};
use crate::pages::{self, Frame};
use crate::viewer::{Refusal, Viewer, reach, viewer};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::ids::{InstallationId, RepoFullName};
use shared::job::JobRecord;
use shared::policy::{InstallationPolicy, matching_policy, parse_policy_file, render_policy_file};
use shared::policy_stage::{
    DEFAULT_INSTALLATION_JOBS_PER_HOUR, DEFAULT_USER_JOBS_PER_HOUR, EffectiveLimits,
};
use shared::ports::{ControlPlane, DashboardActor, InstallationView, JobFilter, TokensUsed};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The largest policy file the form takes (the policy file's own limits are smaller).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The most jobs the usage section reads (the newest of the last day).
const USAGE_MAX_JOBS: usize = 2_000;

const HOUR_MS: u64 = 3_600_000;

/// What the installation's repositories (those the viewer can see) used lately.
struct Usage {
    last_hour: usize,
    last_day: usize,
    tokens_last_day: u64,
    /// The tokens the installation's jobs used today and this month (UTC), as the token
    /// budgets count them.
    tokens_today: String,
    tokens_this_month: String,
    /// Jobs asked for in the last hour, by requester, most first.
    requesters: Vec<(String, usize)>,
    installation_limit: u32,
    user_limit: u32,
    /// The limits in force on each repository, and where each comes from.
    limits: Vec<LimitRow>,
    /// The hourly limit of each requester: the same on every repository, or which.
    requester_limit: String,
    capped: bool,
}

/// The limits in force on one repository.
struct LimitRow {
    repo: String,
    policy: String,
    user: String,
    installation: String,
    /// The policy's `token_budget`, and how much of it is used.
    tokens_per_day: String,
    tokens_per_month: String,
}

impl LimitRow {
    fn new(repo: &RepoFullName, policies: &[InstallationPolicy], used: TokensUsed) -> Self {
        let policy = matching_policy(policies, repo);
        let budget = policy.and_then(|policy| policy.token_budget);
        let of_budget = |limit: Option<u64>, used: u64| match limit {
            Some(limit) if used >= limit => format!("{used} of {limit} (spent)"),
            Some(limit) => format!("{used} of {limit}"),
            None => format!("{used} (no budget)"),
        };
        let limits = EffectiveLimits::of(policy);
        let shown = |(value, from): (u32, Option<&str>)| match from {
            Some(name) => format!("{value} (policy {name})"),
            None => format!("{value} (default)"),
        };
        Self {
            repo: repo.as_str().to_owned(),
            policy: policy.map_or_else(|| "none".to_owned(), |policy| policy.name.clone()),
            user: shown(limits.user),
            installation: shown(limits.installation),
            tokens_per_day: of_budget(budget.and_then(|budget| budget.per_day), used.day),
            tokens_per_month: of_budget(budget.and_then(|budget| budget.per_month), used.month),
        }
    }
}

impl Usage {
    fn of(
        jobs: &[JobRecord],
        now: u64,
        capped: bool,
        repos: &[RepoFullName],
        policies: &[InstallationPolicy],
        used: TokensUsed,
    ) -> Self {
        let limits: Vec<LimitRow> = repos
            .iter()
            .map(|repo| LimitRow::new(repo, policies, used))
            .collect();
        let mut user_limits: Vec<&str> = limits.iter().map(|row| row.user.as_str()).collect();
        user_limits.sort_unstable();
        user_limits.dedup();
        let requester_limit = match user_limits.as_slice() {
            [] => format!("{DEFAULT_USER_JOBS_PER_HOUR} (default)"),
            [one] => (*one).to_owned(),
            _ => "depends on the repository (above)".to_owned(),
        };
        let hour_ago = now.saturating_sub(HOUR_MS);
        let mut by_requester: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last_hour = 0;
        for job in jobs.iter().filter(|job| job.created_at_ms >= hour_ago) {
            last_hour += 1;
            *by_requester.entry(job.requester.as_str()).or_default() += 1;
        }
        let mut requesters: Vec<(String, usize)> = by_requester
            .into_iter()
            .map(|(login, count)| (login.to_owned(), count))
            .collect();
        requesters.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        requesters.truncate(10);
        Self {
            last_hour,
            last_day: jobs.len(),
            tokens_last_day: jobs
                .iter()
                .filter_map(|job| job.result.as_ref().and_then(|result| result.tokens))
                .map(|tokens| tokens.prompt + tokens.completion)
                .sum(),
            tokens_today: used.day.to_string(),
            tokens_this_month: used.month.to_string(),
            requesters,
            installation_limit: DEFAULT_INSTALLATION_JOBS_PER_HOUR,
            user_limit: DEFAULT_USER_JOBS_PER_HOUR,
            limits,
            requester_limit,
            capped,
        }
    }
}

/// The jobs of the last day on `view`'s repositories, newest first.
async fn recent_jobs<C: ControlPlane>(
    web: &Arc<Web<C>>,
    view: &InstallationView,
    now: u64,
) -> Result<(Vec<JobRecord>, bool), Refusal> {
    if view.repos.is_empty() {
        return Ok((Vec::new(), false));
    }
    let filter = JobFilter {
        repos: Some(view.repos.clone()),
        since_ms: Some(now.saturating_sub(24 * HOUR_MS)),
        ..JobFilter::default()
    };
    let mut jobs = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = web.plane.jobs(&filter, after.as_deref(), 500).await?;
        jobs.extend(page.jobs);
        match page.next {
            Some(next) if jobs.len() < USAGE_MAX_JOBS => after = Some(next),
            Some(_) => return Ok((jobs, true)),
            None => return Ok((jobs, false)),
        }
    }
}

struct InstallationRow {
    id: u64,
    account: String,
    repos: usize,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "installations.html")]
struct InstallationsPage {
    frame: Frame,
    rows: Vec<InstallationRow>,
}

#[derive(Template)]
#[template(path = "installation.html")]
struct InstallationPage {
    frame: Frame,
    id: u64,
    account: String,
    state: &'static str,
    selection: String,
    repos: Vec<(String, String)>,
    editable: bool,
    /// Why the viewer cannot edit, when they cannot.
    edit_note: String,
    text: String,
    problem: Option<String>,
    usage: Usage,
}

fn state(view: &InstallationView) -> &'static str {
    if view.record.suspended {
        "suspended"
    } else {
        "active"
    }
}

/// The installations the viewer may see, each with the repositories they may see.
async fn visible<C: ControlPlane>(
    web: &Arc<Web<C>>,
    viewer: &Viewer,
) -> Result<Vec<InstallationView>, Refusal> {
    let all = web.plane.installations().await?;
    let Some(reach) = reach(web, viewer).await? else {
        return Ok(all);
    };
    let reached: BTreeSet<String> = reach.keys().cloned().collect();
    Ok(all
        .into_iter()
        .filter_map(|mut view| {
            view.repos
                .retain(|repo| reached.contains(&repo.as_str().to_ascii_lowercase()));
            (!view.repos.is_empty()).then_some(view)
        })
        .collect())
}

/// `GET /installations`.
pub async fn list<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let rows = visible(&web, &viewer)
        .await?
        .iter()
        .map(|view| InstallationRow {
            id: view.record.id.0,
            account: view.record.account.clone(),
            repos: view.repos.len(),
            state: state(view),
        })
        .collect();
    let page = InstallationsPage {
        frame: Frame::new(&web, &viewer),
        rows,
    };
    Ok(pages::html(StatusCode::OK, page.render()))
}

/// The installation `raw` names, if the viewer may see it.
async fn find<C: ControlPlane>(
    web: &Arc<Web<C>>,
    viewer: &Viewer,
    raw: &str,
) -> Result<InstallationView, Refusal> {
    let missing = || {
        Refusal::NotFound(format!(
            "There is no installation “{raw}” that you can see."
        ))
    };
    let id: u64 = raw.parse().map_err(|_| missing())?;
    visible(web, viewer)
        .await?
        .into_iter()
        .find(|view| view.record.id.0 == id)
        .ok_or_else(missing)
}

/// Who may edit `view`'s policies: `Ok(actor)` for the owner and for an admin of its
/// account, `Err(why not)` for anyone else; the refusal when GitHub could not say.
async fn editor<C: ControlPlane>(
    web: &Arc<Web<C>>,
    viewer: &Viewer,
    view: &InstallationView,
) -> Result<Result<DashboardActor, String>, Refusal> {
    // The server's owner (its operator, or on AWS a login `DashboardOwners` names).
    if viewer.is_owner(web) {
        return Ok(Ok(viewer.actor()));
    }
    let Viewer::User { id, session } = viewer else {
        return Ok(Ok(DashboardActor::Operator));
    };
    let user = GitHubUser {
        login: session.login.clone(),
        id: session.user_id,
    };
    match web
        .access
        .admin(
            &web.github,
            &user,
            &session.token,
            view.record.id.0,
            (web.clock)(),
        )
        .await
    {
        Ok(AccountAdmin::Yes) => Ok(Ok(DashboardActor::User(session.login.clone()))),
        Ok(AccountAdmin::No(why)) => Ok(Err(why)),
        Err(GitHubError::TokenRejected) => {
            web.sessions.remove(id);
            web.access.forget(&session.login);
            Err(Refusal::Expired)
        }
        Err(GitHubError::NotPermitted(why)) => Err(Refusal::Unavailable(format!(
            "Could not check whether you administer this installation's account: {why}."
        ))),
        Err(err) => Err(Refusal::Unavailable(format!(
            "Could not check on GitHub whether you administer this installation's account: {err}."
        ))),
    }
}

async fn render<C: ControlPlane>(
    web: &Arc<Web<C>>,
    viewer: &Viewer,
    view: &InstallationView,
    text: Option<String>,
    problem: Option<String>,
) -> Result<InstallationPage, Refusal> {
    let edit_note = match editor(web, viewer, view).await {
        Ok(Ok(_)) => None,
        Ok(Err(why)) => Some(why),
        Err(Refusal::Unavailable(why)) => Some(why),
        Err(refusal) => return Err(refusal),
    };
    let policies = web.plane.installation_policies(view.record.id).await?;
    let text = text.unwrap_or_else(|| render_policy_file(&policies));
    let web_url = web.github.web_url.trim_end_matches('/');
    let now = (web.clock)();
    let (jobs, capped) = recent_jobs(web, view, now).await?;
    let used = web.plane.tokens_used(view.record.id).await?;
    let usage = Usage::of(&jobs, now, capped, &view.repos, &policies, used);
    Ok(InstallationPage {
        frame: Frame::new(web, viewer),
        id: view.record.id.0,
        account: view.record.account.clone(),
        state: state(view),
        selection: view
            .record
            .repository_selection
            .clone()
            .unwrap_or_else(|| "as GitHub sent them".to_owned()),
        repos: view
            .repos
            .iter()
            .map(|repo| {
                (
                    repo.as_str().to_owned(),
                    format!("{web_url}/{}", repo.as_str()),
                )
            })
            .collect(),
        editable: edit_note.is_none(),
        edit_note: edit_note.unwrap_or_default(),
        text,
        problem,
        usage,
    })
}

/// `GET /installations/{id}`.
pub async fn detail<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let view = find(&web, &viewer, &raw).await?;
    let page = render(&web, &viewer, &view, None, None).await?;
    Ok(pages::html(StatusCode::OK, page.render()))
}

/// `POST /installations/{id}/policies`.
pub async fn set_policies<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let view = find(&web, &viewer, &raw).await?;
    let actor = editor(&web, &viewer, &view)
        .await?
        .map_err(Refusal::Forbidden)?;
    check_csrf(&web, &viewer, &body)?;
    if body.len() > MAX_FORM_BYTES {
        return Err(Refusal::BadRequest(
            "Too long".to_owned(),
            format!("A policy file may have at most {MAX_FORM_BYTES} bytes."),
        ));
    }
    let text = form_urlencoded::parse(&body)
        .find(|(key, _)| key == "policies")
        .map(|(_, value)| value.replace("\r\n", "\n"))
        .unwrap_or_default();
    match parse_policy_file(&text, InstallationId(view.record.id.0)) {
        Ok(policies) => {
            web.plane
                .set_policies(view.record.id, policies, &actor)
                .await?;
            tracing::info!(
                installation = view.record.id.0,
                by = %viewer.name(),
                "the installation's policies were set from the dashboard"
            );
            Ok(see_other(&format!(
                "/installations/{}#policies",
                view.record.id.0
            )))
        }
        Err(problem) => {
            let page = render(&web, &viewer, &view, Some(text), Some(problem.to_string())).await?;
            Ok(pages::html(StatusCode::BAD_REQUEST, page.render()))
        }
    }
}
