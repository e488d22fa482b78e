//! The audit log pages: `GET /audit` (the entries of the repositories the viewer can
//! see, filtered and paged) and `GET /audit.csv` (the same selection as a CSV file). The
//! server's owner also sees the entries about no repository (installations coming and
//! going).

use crate::Web;
use crate::pages::{self, Frame};
use crate::time::{date_field, format_ms};
use crate::viewer::{Refusal, Viewer, reach, viewer};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::ids::RepoFullName;
use shared::ports::{AuditEntry, AuditFilter, ControlPlane, StoreError};
use std::sync::Arc;

/// Entries on one page of the listing.
pub const PAGE_SIZE: usize = 50;

/// The most entries one CSV file holds; the file says when it stopped there.
pub const CSV_MAX_ENTRIES: usize = 10_000;

/// Entries read per store call for the CSV file.
const CSV_PAGE: usize = 1_000;

/// The filters as the form sends them, kept as typed to refill the form.
#[derive(Debug, Default, Clone)]
pub struct AuditForm {
    pub repo: String,
    pub actor: String,
    pub decision: String,
    pub since: String,
    pub until: String,
    pub after: String,
}

impl AuditForm {
    fn parse(query: &str) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            match key.as_ref() {
                "repo" => form.repo = value,
                "actor" => form.actor = value,
                "decision" => form.decision = value,
                "since" => form.since = value,
                "until" => form.until = value,
                "after" => form.after = value,
                _ => {}
            }
        }
        form
    }

    /// The filter, or what is wrong with the form.
    fn filter(&self) -> Result<AuditFilter, String> {
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Ok(AuditFilter {
            repos: None,
            repo: some(&self.repo).map(RepoFullName::new),
            actor: some(self.actor.trim_start_matches('@')),
            decision: some(&self.decision),
            since_ms: date_field("From", &self.since)?,
            // "Until" a day includes that day.
            until_ms: date_field("Until", &self.until)?.map(|ms| ms + 86_400_000),
        })
    }

    /// The query that repeats these filters, with `after` as the page's start if given.
    fn query(&self, after: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("repo", &self.repo),
            ("actor", &self.actor),
            ("decision", &self.decision),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        query.finish()
    }
}

/// One entry as the page shows it.
struct AuditRowView {
    when: String,
    repo: String,
    actor: String,
    command: String,
    decision: String,
    reason: String,
    job: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPageView {
    frame: Frame,
    form: AuditForm,
    rows: Vec<AuditRowView>,
    next: Option<String>,
    paged: bool,
    csv_query: String,
}

/// The filter the form and the viewer's reach make, or the refusal.
async fn selection<C: ControlPlane>(
    web: &Arc<Web<C>>,
    viewer: &Viewer,
    form: &AuditForm,
) -> Result<AuditFilter, Refusal> {
    let mut filter = form
        .filter()
        .map_err(|text| Refusal::BadRequest("Check the filters".to_owned(), text))?;
    if let Some(reach) = reach(web, viewer).await? {
        filter.repos = Some(
            reach
                .values()
                .map(|(name, _)| RepoFullName::new(name.clone()))
                .collect(),
        );
    }
    Ok(filter)
}

fn bad_cursor(err: StoreError, after: Option<&str>) -> Refusal {
    match err {
        StoreError::Corrupt(_) if after.is_some() => Refusal::BadRequest(
            "Check the link".to_owned(),
            "This page link's starting point is not one this server made; go back to the first page.".to_owned(),
        ),
        err => err.into(),
    }
}

/// `GET /audit`.
pub async fn list<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let form = AuditForm::parse(&query.unwrap_or_default());
    let filter = selection(&web, &viewer, &form).await?;
    let after = (!form.after.is_empty()).then_some(form.after.as_str());
    let page = web
        .plane
        .audit(&filter, after, PAGE_SIZE)
        .await
        .map_err(|err| bad_cursor(err, after))?;
    let view = AuditPageView {
        frame: Frame::new(&web, &viewer),
        rows: page
            .entries
            .iter()
            .map(|entry| AuditRowView {
                when: format_ms(entry.at_ms),
                repo: entry
                    .repo
                    .as_ref()
                    .map_or_else(String::new, |repo| repo.as_str().to_owned()),
                actor: entry.actor.clone(),
                command: entry.command.clone(),
                decision: entry.decision.clone(),
                reason: entry.reason.clone(),
                job: entry.job.as_ref().map(|job| job.as_str().to_owned()),
            })
            .collect(),
        next: page.next.map(|next| form.query(Some(&next))),
        paged: after.is_some(),
        csv_query: form.query(None),
        form,
    };
    Ok(pages::html(StatusCode::OK, view.render()))
}

/// `GET /audit.csv`: newest first, at most [`CSV_MAX_ENTRIES`].
pub async fn csv<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let form = AuditForm::parse(&query.unwrap_or_default());
    let filter = selection(&web, &viewer, &form).await?;
    let mut out = String::from(CSV_HEADER);
    let mut written = 0;
    let mut after: Option<String> = None;
    let mut truncated = false;
    loop {
        let page = web
            .plane
            .audit(&filter, after.as_deref(), CSV_PAGE)
            .await
            .map_err(Refusal::from)?;
        for entry in &page.entries {
            if written == CSV_MAX_ENTRIES {
                truncated = true;
                break;
            }
            out.push_str(&csv_line(entry));
            written += 1;
        }
        match page.next {
            Some(next) if !truncated => after = Some(next),
            Some(_) => break,
            None => break,
        }
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"ota-audit.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if truncated {
        // The file holds the newest entries only: narrow the dates for the rest.
        headers.insert(
            "x-ota-truncated",
            HeaderValue::from(u64::try_from(CSV_MAX_ENTRIES).unwrap_or(u64::MAX)),
        );
    }
    Ok(response)
}

const CSV_HEADER: &str =
    "when_utc,installation,repository,actor,command,decision,reason,policy,job,delivery\r\n";

/// One entry as a CSV record (RFC 4180, CRLF).
fn csv_line(entry: &AuditEntry) -> String {
    let fields = [
        format_ms(entry.at_ms),
        entry.installation.0.to_string(),
        entry
            .repo
            .as_ref()
            .map_or_else(String::new, |repo| repo.as_str().to_owned()),
        entry.actor.clone(),
        entry.command.clone(),
        entry.decision.clone(),
        entry.reason.clone(),
        entry.policy.clone().unwrap_or_default(),
        entry
            .job
            .as_ref()
            .map_or_else(String::new, |job| job.as_str().to_owned()),
        entry.delivery.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// A field quoted when it must be, and kept from being read as a formula by a spreadsheet
/// (a comment's text starts with what its author wrote: `=HYPERLINK(...)` stays text).
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_they_must_be_and_never_read_as_formulas() {
        assert_eq!(csv_field("accepted"), "accepted");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("@octocat"), "'@octocat");
    }

    #[test]
    fn the_form_repeats_its_filters_and_refuses_a_date_that_is_not_one() {
        let form = AuditForm::parse("actor=%40octocat&decision=denied&after=a9&since=2026-12-01");
        let filter = form.filter().expect("a filter");
        assert_eq!(filter.actor.as_deref(), Some("octocat"));
        assert_eq!(filter.decision.as_deref(), Some("denied"));
        assert!(filter.since_ms.is_some());
        assert_eq!(
            form.query(Some("a3")),
            "actor=%40octocat&decision=denied&since=2026-12-01&after=a3"
        );
        assert_eq!(
            AuditForm::parse("until=yesterday").filter(),
            Err("Until must be a date as YYYY-MM-DD, not “yesterday”.".to_owned())
        );
    }
}
