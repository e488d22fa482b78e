//! Loud configuration against moto's Secrets Manager: a function finds the App's private
//! key secret empty, left as created or filled with a key, and the webhook secret present
//! or not, as it does at start-up; each refusal is one error line naming the setting and
//! the fix, and one `ConfigurationErrors` EMF line. Its own test binary: capturing logs
//! per test races with other tests' threads.

use e2e::aws;
use e2e::fake_github::FakeGitHub;
use e2e::logs::CapturedLogs;
use lambda_support::GitHubAppSettings;
use lambda_support::startup::{self, ConfigError};
use secrecy::ExposeSecret;
use tracing::instrument::WithSubscriber;

fn settings(arn: &str) -> GitHubAppSettings {
    GitHubAppSettings {
        app_id: shared::ids::AppId(1),
        private_key_secret_arn: arn.to_owned(),
        api_url: ota_github::DEFAULT_BASE_URL.to_owned(),
        app_slug: None,
    }
}

/// A secret with no value at all, as the stack creates the App's key secret.
async fn secret_without_value(client: &aws_sdk_secretsmanager::Client, name: &str) -> String {
    client
        .create_secret()
        .name(name)
        .send()
        .await
        .expect("create the secret")
        .arn
        .expect("an ARN")
}

#[tokio::test]
async fn the_app_key_secret_is_checked_and_each_refusal_is_logged_and_counted() {
    let config = aws::config().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let suffix = format!("{}-{}", std::process::id(), shared::clock::now_ms());
    let unset = secret_without_value(&client, &format!("startup-unset-{suffix}")).await;
    let placeholder = aws::secret(
        &client,
        &format!("startup-placeholder-{suffix}"),
        "kQ2gT7Z8rYpW4nV1mX0cB3sD6fH9jL5a",
    )
    .await;
    let pem = FakeGitHub::app_credentials().private_key;
    let filled = aws::secret(
        &client,
        &format!("startup-key-{suffix}"),
        pem.expose_secret(),
    )
    .await;

    let logs = CapturedLogs::default();
    let (refusals, key) = async {
        let mut refusals: Vec<ConfigError> = Vec::new();
        for arn in [&unset, &placeholder] {
            let err = startup::read_private_key(&settings(arn), &config)
                .await
                .expect_err("no key in the secret");
            refusals.push(err);
        }
        let text = startup::report("policy", &refusals);
        assert!(text.starts_with("policy function misconfigured"), "{text}");
        let key = startup::read_private_key(&settings(&filled), &config)
            .await
            .expect("a PEM RSA key");
        (refusals, key)
    }
    .with_subscriber(logs.subscriber())
    .await;

    assert_eq!(key.expose_secret(), pem.expose_secret());
    for refusal in &refusals {
        assert_eq!(refusal.setting, "PRIVATE_KEY_SECRET_ARN", "{refusal}");
        assert!(
            refusal.to_string().contains(startup::SET_PRIVATE_KEY),
            "{refusal}"
        );
    }
    assert!(refusals[1].problem.contains("PEM"), "{}", refusals[1]);
    let text = logs.text();
    assert!(
        !text.contains("kQ2gT7Z8rYpW4nV1mX0cB3sD6fH9jL5a"),
        "the value was logged"
    );
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#))
        .collect();
    assert_eq!(errors.len(), 2, "{text}");
    for line in errors {
        assert!(line.contains("PRIVATE_KEY_SECRET_ARN"), "{line}");
        assert!(
            line.contains("scripts/deploy --set-private-key app.pem"),
            "{line}"
        );
    }
    let counted = logs.metric("ConfigurationErrors");
    assert_eq!(counted.len(), 2, "{text}");
    for doc in counted {
        assert_eq!(doc["ConfigurationErrors"], 1);
        assert_eq!(doc["Component"], "policy");
        assert_eq!(doc["setting"], "PRIVATE_KEY_SECRET_ARN");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "OllamaTurboAgent"
        );
    }
}

#[tokio::test]
async fn the_webhook_secret_must_have_a_value() {
    let config = aws::config().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let suffix = format!("{}-{}", std::process::id(), shared::clock::now_ms());
    let unset = secret_without_value(&client, &format!("startup-webhook-unset-{suffix}")).await;
    let set = aws::secret(&client, &format!("startup-webhook-{suffix}"), "s3cr3t").await;

    let err = startup::check_webhook_secret(&unset, &config)
        .await
        .expect_err("no value");
    assert_eq!(err.setting, "WEBHOOK_SECRET_ARN");
    assert!(err.fix().contains("secrets set"), "{err}");
    startup::check_webhook_secret(&set, &config)
        .await
        .expect("a value");
}
