//! `GET /stats`: pictures of the viewer's jobs over the last days — jobs per day by
//! outcome, duration p50/p95 per task, tokens per job p50/p95 per task — and what waits
//! and runs now, each chart followed by a table of the same numbers. Read from the job
//! listing (at most [`MAX_JOBS`] jobs, the newest; the page says when it stopped there).

use crate::Web;
use crate::charts::{Layout, Series, bar_chart};
use crate::pages::{self, Frame};
use crate::time::{format_duration, format_ms};
use crate::viewer::{Refusal, reach, viewer};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::ids::RepoFullName;
use shared::job::{JobRecord, JobStatus};
use shared::ports::{ControlPlane, JobFilter};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The days shown unless the query asks for others (`?days=N`, 1 to [`MAX_DAYS`]).
pub const DEFAULT_DAYS: u64 = 14;
pub const MAX_DAYS: u64 = 90;
/// The most jobs one page reads.
pub const MAX_JOBS: usize = 5_000;

const DAY_MS: u64 = 86_400_000;

/// How a job ended, as the first chart groups them.
const OUTCOMES: [(&str, &str); 4] = [
    ("succeeded", "#1a7f37"),
    ("failed", "#cf222e"),
    ("cancelled", "#8c959f"),
    ("not ended", "#0969da"),
];

fn outcome(status: JobStatus) -> usize {
    match status {
        JobStatus::Succeeded => 0,
        JobStatus::Failed | JobStatus::Expired | JobStatus::DeadLettered => 1,
        JobStatus::Cancelled => 2,
        _ => 3,
    }
}

/// The `p`th percentile (0–100) of `values` by nearest rank; 0 for none.
pub fn percentile(values: &mut [u64], p: u64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = (p * values.len() as u64).div_ceil(100).max(1);
    values[usize::try_from(rank - 1).unwrap_or(0).min(values.len() - 1)]
}

/// One task's line of the per-task table.
pub struct TaskRow {
    pub task: String,
    pub jobs: usize,
    pub duration_p50: String,
    pub duration_p95: String,
    pub tokens_p50: u64,
    pub tokens_p95: u64,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    frame: Frame,
    days: u64,
    total: usize,
    capped: bool,
    waiting: usize,
    running: usize,
    per_day_chart: String,
    per_day: Vec<(String, [usize; 4])>,
    duration_chart: String,
    tokens_chart: String,
    tasks: Vec<TaskRow>,
}

/// `GET /stats`.
pub async fn page<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let mut days = DEFAULT_DAYS;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "days" {
            days = value
                .parse()
                .ok()
                .filter(|days| (1..=MAX_DAYS).contains(days))
                .ok_or_else(|| {
                    Refusal::BadRequest(
                        "Check the link".to_owned(),
                        format!("Days must be a number from 1 to {MAX_DAYS}, not “{value}”."),
                    )
                })?;
        }
    }
    let now = (web.clock)();
    let first_day = (now / DAY_MS + 1).saturating_sub(days) * DAY_MS;
    let mut filter = JobFilter {
        since_ms: Some(first_day),
        ..JobFilter::default()
    };
    if let Some(reach) = reach(&web, &viewer).await? {
        filter.repos = Some(
            reach
                .values()
                .map(|(name, _)| RepoFullName::new(name.clone()))
                .collect(),
        );
    }
    let mut jobs: Vec<JobRecord> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = web.plane.jobs(&filter, after.as_deref(), 500).await?;
        jobs.extend(page.jobs);
        match page.next {
            Some(next) if jobs.len() < MAX_JOBS => after = Some(next),
            _ => break,
        }
    }
    let capped = jobs.len() >= MAX_JOBS;
    jobs.truncate(MAX_JOBS);
    let view = StatsPage::new(Frame::new(&web, &viewer), days, first_day, &jobs, capped);
    Ok(pages::html(StatusCode::OK, view.render()))
}

impl StatsPage {
    fn new(frame: Frame, days: u64, first_day: u64, jobs: &[JobRecord], capped: bool) -> Self {
        // Jobs per day by outcome, every day shown, oldest first.
        let mut per_day: Vec<(String, [usize; 4])> = (0..days)
            .map(|day| {
                (
                    format_ms(first_day + day * DAY_MS)[5..10].to_owned(),
                    [0; 4],
                )
            })
            .collect();
        let mut by_task: BTreeMap<&str, (usize, Vec<u64>, Vec<u64>)> = BTreeMap::new();
        let (mut waiting, mut running) = (0, 0);
        for job in jobs {
            let day = usize::try_from(job.created_at_ms.saturating_sub(first_day) / DAY_MS)
                .unwrap_or(usize::MAX);
            if let Some((_, counts)) = per_day.get_mut(day) {
                counts[outcome(job.status)] += 1;
            }
            match job.status {
                JobStatus::Queued | JobStatus::AwaitingApproval => waiting += 1,
                JobStatus::Dispatching | JobStatus::Running => running += 1,
                _ => {}
            }
            let task = by_task.entry(job.task.as_str()).or_default();
            task.0 += 1;
            if let (Some(started), Some(done)) = (job.started_at_ms, job.completed_at_ms) {
                task.1.push(done.saturating_sub(started));
            }
            if let Some(tokens) = job.result.as_ref().and_then(|result| result.tokens) {
                task.2.push(tokens.prompt + tokens.completion);
            }
        }
        let categories: Vec<String> = per_day.iter().map(|(day, _)| day.clone()).collect();
        let series: Vec<Series> = OUTCOMES
            .iter()
            .enumerate()
            .map(|(at, (name, colour))| Series {
                name,
                colour,
                values: per_day
                    .iter()
                    .map(|(_, counts)| counts[at] as f64)
                    .collect(),
            })
            .collect();
        let per_day_chart = bar_chart(
            "Jobs per day by outcome",
            "jobs",
            &categories,
            &series,
            Layout::Stacked,
        );
        let mut tasks = Vec::new();
        let (mut d50, mut d95, mut t50, mut t95) = (vec![], vec![], vec![], vec![]);
        for (task, (count, mut durations, mut tokens)) in by_task {
            let (p50, p95) = (
                percentile(&mut durations, 50),
                percentile(&mut durations, 95),
            );
            let (k50, k95) = (percentile(&mut tokens, 50), percentile(&mut tokens, 95));
            d50.push(p50 as f64 / 60_000.0);
            d95.push(p95 as f64 / 60_000.0);
            t50.push(k50 as f64 / 1_000.0);
            t95.push(k95 as f64 / 1_000.0);
            tasks.push(TaskRow {
                task: task.to_owned(),
                jobs: count,
                duration_p50: format_duration(p50),
                duration_p95: format_duration(p95),
                tokens_p50: k50,
                tokens_p95: k95,
            });
        }
        let names: Vec<String> = tasks.iter().map(|row| row.task.clone()).collect();
        let pair = |p50: Vec<f64>, p95: Vec<f64>| {
            vec![
                Series {
                    name: "p50",
                    colour: "#54aeff",
                    values: p50,
                },
                Series {
                    name: "p95",
                    colour: "#0550ae",
                    values: p95,
                },
            ]
        };
        Self {
            frame,
            days,
            total: jobs.len(),
            capped,
            waiting,
            running,
            per_day_chart,
            per_day,
            duration_chart: bar_chart(
                "Job duration per task",
                "minutes",
                &names,
                &pair(d50, d95),
                Layout::Grouped,
            ),
            tokens_chart: bar_chart(
                "Tokens per job per task",
                "thousand tokens",
                &names,
                &pair(t50, t95),
                Layout::Grouped,
            ),
            tasks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_by_nearest_rank() {
        assert_eq!(percentile(&mut [], 50), 0);
        assert_eq!(percentile(&mut [7], 95), 7);
        let mut values: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(percentile(&mut values, 50), 10);
        assert_eq!(percentile(&mut values, 95), 19);
        assert_eq!(percentile(&mut values, 100), 20);
    }
}
