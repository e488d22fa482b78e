//! What one delivery leaves behind: a structured log line and an EMF metrics line.
//! Neither ever carries a body, a signature or a secret.

use super::intake::{Outcome, Receipt, Rejection};
use crate::metrics::Emf;
use std::time::Duration;

impl Outcome {
    /// `queued`, `ignored` (pings included) or `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Queued => "queued",
            Outcome::Pong | Outcome::Ignored(_) => "ignored",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// Logs the receipt with its delivery, event, action, installation and repository.
pub fn log(receipt: &Receipt, elapsed: Duration) {
    let delivery = receipt.delivery.as_ref().map(|id| id.as_str());
    let installation = receipt.installation.map(|id| id.0);
    let repo = receipt.repository.as_ref().map(|name| name.as_str());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let status = receipt.status();
    let outcome = receipt.outcome.name();
    let (event, action) = (receipt.event.as_deref(), receipt.action.as_deref());
    match &receipt.outcome {
        Outcome::Queued | Outcome::Pong => tracing::info!(
            delivery,
            event,
            action,
            installation,
            repo,
            outcome,
            status,
            duration_ms,
            "webhook delivery {outcome}"
        ),
        Outcome::Ignored(reason) => tracing::info!(
            delivery, event, action, installation, repo, outcome, status, duration_ms,
            reason = %reason, "webhook delivery ignored"
        ),
        Outcome::Rejected(rejection) => {
            let reason = rejection.reason();
            let error = loggable(rejection);
            if status >= 500 {
                tracing::error!(
                    delivery,
                    event,
                    action,
                    installation,
                    repo,
                    outcome,
                    status,
                    duration_ms,
                    reason,
                    error,
                    "webhook delivery not queued"
                );
            } else {
                tracing::warn!(
                    delivery,
                    event,
                    action,
                    installation,
                    repo,
                    outcome,
                    status,
                    duration_ms,
                    reason,
                    error,
                    "webhook delivery rejected"
                );
            }
        }
    }
}

/// The rejection as it may be logged: a parser's message can quote the body, so for a
/// malformed payload only the field's path is kept.
fn loggable(rejection: &Rejection) -> String {
    use super::payload::PayloadError;
    match rejection {
        Rejection::MalformedPayload(PayloadError::Malformed { event, path, .. }) => {
            format!(
                "malformed `{event}` payload at `{}`",
                path.as_deref().unwrap_or(".")
            )
        }
        Rejection::SecretUnavailable(err) => format!("{rejection}: {err}"),
        Rejection::QueueUnavailable(err) => format!("{rejection}: {err}"),
        other => other.to_string(),
    }
}

/// The EMF line: `Received` always, one of `Queued` / `Ignored` / `Rejected`, and
/// `Rejected` again by `Reason`.
pub fn metrics_line(receipt: &Receipt, timestamp_millis: u64) -> String {
    let outcome = receipt.outcome.name();
    let mut emf = Emf::new()
        .property("Outcome", outcome)
        .property("event", receipt.event.clone())
        .property(
            "delivery",
            receipt.delivery.as_ref().map(|id| id.to_string()),
        );
    let count = |name: &str| u64::from(outcome == name);
    emf = emf.counts(
        &[&[]],
        &[
            ("Received", 1),
            ("Queued", count("queued")),
            ("Ignored", count("ignored")),
        ],
    );
    if let Outcome::Rejected(rejection) = &receipt.outcome {
        emf = emf
            .property("Reason", rejection.reason())
            .counts(&[&[], &["Reason"]], &[("Rejected", 1)]);
    }
    emf.to_line(timestamp_millis)
}
