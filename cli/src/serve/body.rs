//! Every request's body is read whole before a handler sees it, within a size limit and a
//! deadline: a client that sends less than its `Content-Length`, or trickles it, is
//! answered 408 instead of holding its connection; one that sends too much, 413. Each
//! refusal leaves a log line and is answered in the style of the routes it was meant for
//! (the webhook's JSON, the pages' HTML).

use crate::pages;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use shared::ids::DeliveryId;
use shared::webhook::intake::{Outcome, Receipt, Rejection};
use shared::webhook::telemetry;
use std::time::{Duration, Instant};

/// The pages take small forms only.
pub const PAGE_MAX_BODY_BYTES: usize = 64 * 1024;

/// Whose answers a refusal imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The webhook's JSON receipt, and its log line with the delivery and event.
    Webhook,
    /// An HTML message page.
    Page,
}

/// The limit and deadline of one group of routes.
#[derive(Debug, Clone, Copy)]
pub struct BodyRules {
    pub max_bytes: usize,
    /// From the end of the headers to the end of the body.
    pub deadline: Duration,
    pub style: Style,
}

/// The middleware: buffers the body, or refuses the request.
pub async fn read_whole(State(rules): State<BodyRules>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(
        rules.deadline,
        Limited::new(body, rules.max_bytes).collect(),
    )
    .await;
    match read {
        Ok(Ok(collected)) => {
            let request = Request::from_parts(parts, Body::from(collected.to_bytes()));
            next.run(request).await
        }
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            too_large(&parts, rules, started.elapsed())
        }
        Ok(Err(err)) => {
            // The client went away or broke the framing: nobody reads the answer.
            tracing::info!(path = %parts.uri.path(), error = %err, "a request's body could not be read");
            refusal(
                rules.style,
                &parts.headers,
                StatusCode::BAD_REQUEST,
                "The request's body could not be read",
                "The connection broke while the body was being sent; send it again.",
                "the body could not be read: the connection broke while it was sent",
            )
        }
        Err(_) => too_slow(&parts, rules),
    }
}

fn too_large(parts: &Parts, rules: BodyRules, elapsed: Duration) -> Response {
    let limit = rules.max_bytes;
    if rules.style == Style::Webhook {
        // The intake's own refusal, with the line every delivery leaves.
        let receipt = Receipt {
            outcome: Outcome::Rejected(Rejection::BodyTooLarge { limit }),
            delivery: delivery(&parts.headers),
            event: event(&parts.headers).map(str::to_owned),
            action: None,
            installation: None,
            repository: None,
        };
        telemetry::log(&receipt, elapsed);
        let status =
            StatusCode::from_u16(receipt.status()).unwrap_or(StatusCode::PAYLOAD_TOO_LARGE);
        return json(status, receipt.body());
    }
    tracing::warn!(path = %parts.uri.path(), limit, status = 413, "a request's body is too large");
    refusal(
        rules.style,
        &parts.headers,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request too large",
        &format!("This page takes at most {limit} bytes."),
        &format!("body is larger than {limit} bytes"),
    )
}

fn too_slow(parts: &Parts, rules: BodyRules) -> Response {
    let seconds = rules.deadline.as_secs();
    let delivery = delivery(&parts.headers);
    tracing::warn!(
        path = %parts.uri.path(),
        delivery = delivery.as_ref().map(DeliveryId::as_str),
        event = event(&parts.headers),
        content_length = parts.headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()),
        status = 408,
        reason = "body_timeout",
        "a request's body did not arrive within {seconds} s"
    );
    refusal(
        rules.style,
        &parts.headers,
        StatusCode::REQUEST_TIMEOUT,
        "Request too slow",
        &format!(
            "The form did not arrive within {seconds} s (or was shorter than its \
             Content-Length); send it again."
        ),
        &format!(
            "body did not arrive within {seconds} s (shorter than its Content-Length, or \
             sent too slowly)"
        ),
    )
}

/// A refusal as a page (`title`, `text`) or as the webhook's JSON (`error`, in the
/// intake's words).
fn refusal(
    style: Style,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    text: &str,
    error: &str,
) -> Response {
    match style {
        Style::Webhook => {
            let body = serde_json::json!({
                "status": "rejected",
                "delivery": delivery(headers).as_ref().map(DeliveryId::as_str),
                "error": error,
            });
            json(status, body.to_string())
        }
        Style::Page => (status, Html(pages::message_page(title, text))).into_response(),
    }
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn delivery(headers: &HeaderMap) -> Option<DeliveryId> {
    headers
        .get("x-github-delivery")
        .and_then(|value| value.to_str().ok())
        .and_then(|raw| DeliveryId::parse(raw).ok())
}

fn event(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-github-event")
        .and_then(|value| value.to_str().ok())
}
