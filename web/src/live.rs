//! The job page's live parts: `GET /jobs/{id}/log/stream?from=N`, the job's log lines
//! after the first `N` as Server-Sent Events (`lines`, then `end` with the job's status
//! once it has ended), and the small script that shows them
//! (`GET /assets/live-log.js`, served from the binary, cached a year: its name changes
//! with its content). The page works without it: the log is a plain list.

use crate::Web;
use crate::viewer::{Refusal, permissions, reach, viewer};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use shared::job::JobId;
use shared::ports::ControlPlane;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The script, as the binary serves it.
pub const SCRIPT: &str = include_str!("../assets/live-log.js");

/// Where the script is served: its name carries a digest of its content, so a year's
/// cache never serves a stale one.
pub fn script_path() -> String {
    let digest = SCRIPT.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("/assets/live-log-{digest:016x}.js")
}

/// How often the stream looks for new lines.
const POLL: Duration = Duration::from_secs(1);

/// A stream ends after this long; the browser's `EventSource` then reconnects, which
/// checks the viewer's access again. Ten minutes: well within the dashboard function's
/// 15-minute limit on AWS, where a stream cut by the limit would count as a failure.
const MAX_STREAM: Duration = Duration::from_secs(10 * 60);

/// `GET /assets/live-log-….js`.
pub async fn script() -> Response {
    let mut response = (StatusCode::OK, SCRIPT).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    response
}

struct Progress {
    /// Lines the page already shows (`from`), until the first look.
    shown: usize,
    /// The tail as last looked at: new lines are what follows it.
    last: Option<Vec<String>>,
    ended: bool,
    polls: u64,
}

/// How many of `tail`'s first lines `last` already ended with: the longest end of
/// `last` that `tail` starts with. A tail that grew keeps all of `last`; one that moved
/// on (its oldest lines dropped, as the stores keep only a log's end) keeps part; one
/// that shares nothing (a new attempt's log) none.
fn overlap(last: &[String], tail: &[String]) -> usize {
    (1..=last.len().min(tail.len()))
        .rev()
        .find(|&k| last[last.len() - k..] == tail[..k])
        .unwrap_or(0)
}

/// The lines of `tail` not sent yet, and what to compare the next tail with.
fn fresh_lines(progress: &mut Progress, tail: Vec<String>) -> Vec<String> {
    let from = match &progress.last {
        // The first look: the page showed the first `shown` lines of the tail then.
        None => progress.shown.min(tail.len()),
        Some(last) => overlap(last, &tail),
    };
    let fresh = tail[from..].to_vec();
    progress.last = Some(tail);
    fresh
}

/// `GET /jobs/{id}/log/stream?from=N`.
pub async fn log_stream<C: ControlPlane + 'static>(
    State(web): State<Arc<Web<C>>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let id =
        JobId::parse(&id).map_err(|_| Refusal::NotFound(format!("There is no job “{id}”.")))?;
    let reach = reach(&web, &viewer).await?;
    let hidden = || Refusal::NotFound(format!("There is no job {id} that you can see."));
    let detail = web.plane.job_detail(&id).await?.ok_or_else(hidden)?;
    permissions(reach.as_deref(), detail.job.repo.as_str()).ok_or_else(hidden)?;
    let from = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "from")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let max_polls = MAX_STREAM.as_secs() / POLL.as_secs().max(1);
    let start = Progress {
        shown: from,
        last: None,
        ended: false,
        polls: 0,
    };
    let stream = futures_util::stream::unfold(start, move |mut progress| {
        let web = Arc::clone(&web);
        let id = id.clone();
        async move {
            if progress.ended || progress.polls > max_polls {
                return None;
            }
            loop {
                if progress.polls > 0 {
                    tokio::time::sleep(POLL).await;
                }
                progress.polls += 1;
                let detail = match web.plane.job_detail(&id).await {
                    Ok(Some(detail)) => detail,
                    Ok(None) | Err(_) => {
                        progress.ended = true;
                        let event = Event::default().event("end").data("unavailable");
                        return Some((Ok::<_, Infallible>(event), progress));
                    }
                };
                // The stores give the log's tail: what is new is what follows the last one.
                let fresh = fresh_lines(&mut progress, detail.log);
                if !fresh.is_empty() {
                    let lines = fresh.join("\n");
                    return Some((Ok(Event::default().event("lines").data(lines)), progress));
                }
                if detail.job.status.is_terminal() {
                    progress.ended = true;
                    let event = Event::default()
                        .event("end")
                        .data(detail.job.status.to_string());
                    return Some((Ok(event), progress));
                }
                if progress.polls > max_polls {
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn new_lines_follow_the_last_tail_even_once_it_moves_on() {
        let mut progress = Progress {
            shown: 2,
            last: None,
            ended: false,
            polls: 0,
        };
        assert_eq!(fresh_lines(&mut progress, lines("a b c")), lines("c"));
        assert!(fresh_lines(&mut progress, lines("a b c")).is_empty());
        assert_eq!(fresh_lines(&mut progress, lines("a b c d")), lines("d"));
        // A tail of four lines moving on: the oldest drop out, the new ones follow.
        assert_eq!(fresh_lines(&mut progress, lines("c d e f")), lines("e f"));
        assert_eq!(fresh_lines(&mut progress, lines("f g h i")), lines("g h i"));
        // Nothing in common (another attempt's log): all of it.
        assert_eq!(fresh_lines(&mut progress, lines("x y")), lines("x y"));
        // A page that showed more than there is now.
        let mut late = Progress {
            shown: 9,
            last: None,
            ended: false,
            polls: 0,
        };
        assert!(fresh_lines(&mut late, lines("a b")).is_empty());
        assert_eq!(overlap(&lines("x a b"), &lines("a b c")), 2);
        assert_eq!(overlap(&lines("a b"), &lines("b a b c")), 1);
    }
}
