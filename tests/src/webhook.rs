//! The webhook function wired as it is deployed (SQS FIFO queue and Secrets Manager,
//! both in moto), with helpers to post deliveries and read what was queued.

use crate::aws::{self, DrainedMessage};
use crate::delivery::Delivery;
use crate::fixtures;
use serde_json::{Value, json};
use shared::envelope::Envelope;
use shared::webhook::intake::Intake;
use webhook_function::{Settings, WebhookIntake, build_intake, handle};

/// The webhook secret every harness starts with.
pub const SECRET: &str = "test webhook secret: not a real one";
/// The App's slug: events from `<slug>[bot]` are its own.
pub const APP_SLUG: &str = "ollama-turbo-agent";
/// The installation fixtures are delivered to.
pub const INSTALLATION: u64 = 4242;

pub struct WebhookHarness {
    pub intake: WebhookIntake,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub settings: Settings,
}

impl WebhookHarness {
    /// A fresh queue and secret, so tests running side by side never see each other.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with_secret(SECRET, adjust).await
    }

    pub async fn start_with_secret(secret: &str, adjust: impl FnOnce(&mut Settings)) -> Self {
        let config = aws::config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let queue_url = aws::fifo_queue(&sqs, &crate::unique("intake")).await;
        let secret_arn = aws::secret(&secrets, &crate::unique("webhook-secret"), secret).await;
        let mut settings = Settings {
            queue_url,
            secret_arn,
            app_slug: Some(APP_SLUG.to_owned()),
            max_body_bytes: shared::webhook::intake::DEFAULT_MAX_BODY_BYTES,
        };
        adjust(&mut settings);
        Self {
            intake: build_intake(&settings, &config),
            sqs,
            secrets,
            settings,
        }
    }

    pub async fn post(&self, delivery: &Delivery) -> (u16, Value) {
        post_to(&self.intake, delivery).await
    }

    pub async fn drain(&self) -> Vec<DrainedMessage> {
        aws::drain(&self.sqs, &self.settings.queue_url).await
    }

    pub async fn queued(&self) -> Vec<Envelope> {
        self.drain()
            .await
            .iter()
            .map(|message| serde_json::from_str(&message.body).expect("queued envelope"))
            .collect()
    }
}

pub async fn post_to<Q, S>(intake: &Intake<Q, S>, delivery: &Delivery) -> (u16, Value)
where
    Q: shared::ports::EventQueue,
    S: shared::ports::SecretSource,
{
    let response = handle(intake, delivery.to_lambda_request()).await;
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "every answer is JSON"
    );
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON answer"),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body)
}

/// A real `issue_comment.created` payload, as the App receives it, with `body`.
pub fn comment(body: &str) -> Value {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("issue_comment", Some("created")),
        INSTALLATION,
    );
    payload["comment"]["body"] = json!(body);
    payload
}
