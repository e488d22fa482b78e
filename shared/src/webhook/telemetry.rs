//! What one delivery says in the logs, wherever it arrives (the webhook Lambda or
//! `ota serve`): the line for its receipt at the edge and the span its queued event is
//! handled in. Neither ever carries a body, a signature or a secret. (The Lambdas' EMF
//! metrics line is built from the same [`Outcome::name`] in `lambda_support::metrics`.)

use super::intake::{Outcome, Receipt, Rejection};
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

/// Logs the receipt with its delivery, event, action, installation and repository: the
/// one line a delivery leaves in the logs, from the webhook Lambda and `ota serve` alike.
pub fn log(receipt: &Receipt, elapsed: Duration) {
    let delivery = receipt.delivery.as_ref().map(|id| id.as_str());
    let installation = receipt.installation.map(|id| id.0);
    let repo = receipt.repository.as_ref().map(|name| name.as_str());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let status = receipt.status();
    let outcome = receipt.outcome.name();
    let (event, action) = (receipt.event.as_deref(), receipt.action.as_deref());
    // Every line carries the same fields; a level is part of a call site, so each level
    // is its own call.
    macro_rules! receipt_line {
        ($level:ident, $($rest:tt)+) => {
            tracing::$level!(
                delivery, event, action, installation, repo, outcome, status, duration_ms,
                $($rest)+
            )
        };
    }
    match &receipt.outcome {
        Outcome::Queued | Outcome::Pong => receipt_line!(info, "webhook delivery {outcome}"),
        Outcome::Ignored(reason) => {
            receipt_line!(info, reason = %reason, "webhook delivery ignored")
        }
        Outcome::Rejected(rejection) => {
            let reason = rejection.reason();
            let error = loggable(rejection);
            if status >= 500 {
                receipt_line!(error, reason, error, "webhook delivery not queued");
            } else {
                receipt_line!(warn, reason, error, "webhook delivery rejected");
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
