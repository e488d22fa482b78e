//! The webhook edge, independent of how HTTP arrives (Lambda Function URL or `ota
//! serve`): check size, signature and headers, normalize, queue, and say what happened.
//! A delivery is answered 2xx only once it is durably queued or deliberately dropped.

use super::payload::{self, PayloadError};
use super::secrets::{VerifyError, WebhookSecrets};
use super::signature::Signature;
use crate::envelope::{AccountKind, Envelope, EventName, Subject};
use crate::ids::{DeliveryId, DeliveryIdError, InstallationId, RepoFullName};
use crate::inbound::Inbound;
use crate::ports::{EventQueue, SecretSource};
use http::HeaderMap;
use std::borrow::Cow;

/// GitHub caps webhook payloads at 25 MB; anything larger did not come from GitHub.
pub const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Who the App is, so that the events it causes itself are dropped at the edge and it
/// can never answer its own comments in a loop.
#[derive(Debug, Clone, Default)]
pub struct AppIdentity {
    /// `<app-slug>[bot]`, the login GitHub shows for the App's own actions.
    pub bot_login: Option<String>,
}

impl AppIdentity {
    pub fn from_slug(slug: Option<&str>) -> Self {
        Self {
            bot_login: slug
                .map(str::trim)
                .filter(|slug| !slug.is_empty())
                .map(|slug| format!("{slug}[bot]")),
        }
    }

    /// Whether the App caused the event. A completed check suite is the App's when the
    /// suite is: CI's verdict on a commit the App pushed is news to act on (the
    /// `ci_failed` trigger counts its own attempts), while the App's own suite completing
    /// is the end of its own job.
    fn caused(&self, envelope: &Envelope) -> bool {
        if let Subject::CheckSuite(suite) = &envelope.subject
            && envelope.action.as_deref() == Some("completed")
        {
            return suite
                .app_slug
                .as_deref()
                .is_some_and(|slug| self.is_bot(&format!("{slug}[bot]")));
        }
        envelope.sender.kind == AccountKind::Bot && self.is_bot(&envelope.sender.login)
    }

    /// Whether `login` (or a commit author's name) is the App's bot.
    pub fn is_bot(&self, login: &str) -> bool {
        self.bot_login
            .as_deref()
            .is_some_and(|bot| bot.eq_ignore_ascii_case(login.trim()))
    }
}

pub struct Intake<Q, S> {
    queue: Q,
    secrets: WebhookSecrets<S>,
    app: AppIdentity,
    max_body_bytes: usize,
}

/// What became of one delivery, with what is known about it for logs and metrics.
#[derive(Debug)]
pub struct Receipt {
    pub outcome: Outcome,
    pub delivery: Option<DeliveryId>,
    pub event: Option<String>,
    pub action: Option<String>,
    pub installation: Option<InstallationId>,
    pub repository: Option<RepoFullName>,
}

#[derive(Debug)]
pub enum Outcome {
    /// Durably queued for the policy stage.
    Queued,
    /// A `ping`, answered and not queued.
    Pong,
    /// Authentic, but nothing the App acts on.
    Ignored(IgnoreReason),
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreReason {
    #[error("event `{0}` is not one the App handles")]
    UnsupportedEvent(String),
    #[error("action `{action}` of `{event}` does not lead to any work")]
    UnhandledAction { event: EventName, action: String },
    #[error("no installation in the payload: only GitHub App deliveries are handled")]
    NoInstallation,
    #[error("caused by the App itself")]
    OwnEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("missing X-Hub-Signature-256 header")]
    MissingSignature,
    #[error("malformed X-Hub-Signature-256 header: expected `sha256=` and 64 hex digits")]
    MalformedSignature,
    #[error("X-Hub-Signature-256 does not match the body and the webhook secret")]
    SignatureMismatch,
    #[error("the webhook secret could not be read; retry later")]
    SecretUnavailable(#[source] crate::ports::SecretError),
    #[error("Content-Type must be application/json or application/x-www-form-urlencoded, not {0}")]
    UnsupportedMediaType(String),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("invalid X-GitHub-Delivery header: {0}")]
    BadDeliveryId(DeliveryIdError),
    #[error("form body has no `payload` field")]
    MissingFormPayload,
    #[error("{0}")]
    MalformedPayload(PayloadError),
    #[error("the event queue is unavailable; retry later")]
    QueueUnavailable(#[source] crate::ports::QueueError),
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Self::BodyTooLarge { .. } => 413,
            Self::MissingSignature | Self::MalformedSignature | Self::SignatureMismatch => 401,
            Self::UnsupportedMediaType(_) => 415,
            Self::MissingHeader(_)
            | Self::BadDeliveryId(_)
            | Self::MissingFormPayload
            | Self::MalformedPayload(_) => 400,
            Self::SecretUnavailable(_) | Self::QueueUnavailable(_) => 503,
        }
    }

    /// A stable, low-cardinality name for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::SignatureMismatch => "bad_signature",
            Self::SecretUnavailable(_) => "secret_unavailable",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::MissingHeader(_) => "missing_header",
            Self::BadDeliveryId(_) => "bad_delivery_id",
            Self::MissingFormPayload | Self::MalformedPayload(_) => "malformed_payload",
            Self::QueueUnavailable(_) => "queue_unavailable",
        }
    }
}

impl Receipt {
    fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            delivery: None,
            event: None,
            action: None,
            installation: None,
            repository: None,
        }
    }

    pub fn status(&self) -> u16 {
        match &self.outcome {
            Outcome::Queued => 202,
            Outcome::Pong | Outcome::Ignored(_) => 200,
            Outcome::Rejected(rejection) => rejection.status(),
        }
    }

    /// The JSON body of the answer: short, and free of anything secret.
    pub fn body(&self) -> String {
        let delivery = self.delivery.as_ref().map(DeliveryId::as_str);
        let body = match &self.outcome {
            Outcome::Queued => serde_json::json!({ "status": "queued", "delivery": delivery }),
            Outcome::Pong => serde_json::json!({ "status": "pong", "delivery": delivery }),
            Outcome::Ignored(reason) => serde_json::json!({
                "status": "ignored", "delivery": delivery, "reason": reason.to_string(),
            }),
            Outcome::Rejected(rejection) => serde_json::json!({
                "status": "rejected", "delivery": delivery, "error": rejection.to_string(),
            }),
        };
        body.to_string()
    }
}

impl<Q: EventQueue, S: SecretSource> Intake<Q, S> {
    pub fn new(queue: Q, secrets: WebhookSecrets<S>, app: AppIdentity) -> Self {
        Self {
            queue,
            secrets,
            app,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Handles one delivery end to end.
    /// Reads the webhook secret again for the next delivery (see
    /// [`WebhookSecrets::forget`]).
    pub async fn forget_secrets(&self) {
        self.secrets.forget().await;
    }

    pub async fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Receipt {
        let mut receipt = Receipt::new(Outcome::Queued);
        receipt.event = header(headers, EVENT_HEADER).map(str::to_owned);
        receipt.delivery =
            header(headers, DELIVERY_HEADER).and_then(|raw| DeliveryId::parse(raw).ok());
        receipt.outcome = match self.process(headers, body, &mut receipt).await {
            Ok(outcome) => outcome,
            Err(rejection) => Outcome::Rejected(rejection),
        };
        receipt
    }

    async fn process(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        receipt: &mut Receipt,
    ) -> Result<Outcome, Rejection> {
        if body.len() > self.max_body_bytes {
            return Err(Rejection::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        self.authenticate(headers, body).await?;

        let json = payload_json(headers, body)?;
        let event_header =
            header(headers, EVENT_HEADER).ok_or(Rejection::MissingHeader("X-GitHub-Event"))?;
        let delivery = header(headers, DELIVERY_HEADER)
            .ok_or(Rejection::MissingHeader("X-GitHub-Delivery"))
            .and_then(|raw| DeliveryId::parse(raw).map_err(Rejection::BadDeliveryId))?;
        let Some(event) = EventName::from_header(event_header) else {
            return Ok(Outcome::Ignored(IgnoreReason::UnsupportedEvent(
                event_header.to_owned(),
            )));
        };

        let envelope =
            payload::normalize(event, delivery, &json).map_err(Rejection::MalformedPayload)?;
        receipt.action = envelope.action.clone();
        receipt.installation = envelope.installation;
        receipt.repository = envelope
            .repository
            .as_ref()
            .map(|repo| repo.full_name.clone());

        if let Some(reason) = self.reason_to_ignore(&envelope) {
            return Ok(reason);
        }
        self.queue
            .enqueue(&Inbound::Delivery(envelope))
            .await
            .map_err(Rejection::QueueUnavailable)?;
        Ok(Outcome::Queued)
    }

    async fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let raw = header(headers, SIGNATURE_HEADER).ok_or(Rejection::MissingSignature)?;
        let signature = Signature::parse(raw).map_err(|_| Rejection::MalformedSignature)?;
        self.secrets
            .verify(&signature, body)
            .await
            .map_err(|err| match err {
                VerifyError::Mismatch => Rejection::SignatureMismatch,
                VerifyError::Unavailable(err) => Rejection::SecretUnavailable(err),
            })
    }

    fn reason_to_ignore(&self, envelope: &Envelope) -> Option<Outcome> {
        if envelope.event == EventName::Ping {
            return Some(Outcome::Pong);
        }
        if self.app.caused(envelope) {
            return Some(Outcome::Ignored(IgnoreReason::OwnEvent));
        }
        if envelope.installation.is_none() {
            return Some(Outcome::Ignored(IgnoreReason::NoInstallation));
        }
        let handled = envelope.event.handled_actions();
        let action = envelope.action.as_deref().unwrap_or("");
        if handled.is_some_and(|actions| !actions.contains(&action)) {
            return Some(Outcome::Ignored(IgnoreReason::UnhandledAction {
                event: envelope.event,
                action: action.to_owned(),
            }));
        }
        None
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The JSON document, from either of the two content types GitHub can be set to send.
fn payload_json<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<Cow<'b, [u8]>, Rejection> {
    let content_type = header(headers, http::header::CONTENT_TYPE.as_str()).unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Ok(Cow::Borrowed(body)),
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| Cow::Owned(value.into_owned().into_bytes()))
            .ok_or(Rejection::MissingFormPayload),
        "" => Err(Rejection::UnsupportedMediaType(
            "a missing Content-Type".to_owned(),
        )),
        _ => Err(Rejection::UnsupportedMediaType(format!("`{media_type}`"))),
    }
}
