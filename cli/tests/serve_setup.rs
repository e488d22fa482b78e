//! `ota serve`'s first run through the real binary: the operator signs in with the printed
//! link and sets up with GitHub's App Manifest flow (against the fake GitHub), then the
//! server works with the new App without a restart; a server configured from the
//! environment keeps its setup closed; and settings that are wrong stop it with every
//! problem named.

use e2e::delivery::Delivery;
use e2e::fake_github::{FakeGitHub, MANIFEST_WEBHOOK_SECRET};
use e2e::fixtures;
use e2e::ota_server::OtaServer;
use reqwest::Method;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

#[tokio::test]
async fn an_app_created_with_the_manifest_flow_is_used_at_once() {
    let github = FakeGitHub::start().await;
    let data_dir = tempfile::tempdir().expect("data directory");
    let env = vec![("GITHUB_API_URL".to_owned(), github.base_url())];
    let server = OtaServer::start_with(OTA, data_dir.path(), &env, &[]);

    let ping = fixtures::as_app_delivery(fixtures::example("ping", None), 4242);
    let early = Delivery::json("ping", &ping, MANIFEST_WEBHOOK_SECRET);
    assert_eq!(server.post(&early).await.0, 503, "no App yet");

    let session = server.sign_in().await;
    let form = "public_url=https%3A%2F%2Fota.example.test&organization=";
    let answer = server
        .send(
            Method::POST,
            "/setup",
            &[("cookie", &session), ("origin", &server.url)],
            Some(form),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let browser = answer.cookie("ota_setup").expect("the setup's cookie");
    let page = answer.body;
    assert!(page.contains("https://ota.example.test/webhook"), "{page}");
    // GitHub sends the browser back where it started, where its cookie is.
    assert!(
        page.contains(&format!("{}/setup/callback", server.url)),
        "{page}"
    );
    let (_, rest) = page.split_once("state=").expect("the state");
    let state: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();

    github.add_manifest_code("code-from-github");
    let answer = server
        .send(
            Method::GET,
            &format!("/setup/callback?code=code-from-github&state={state}"),
            &[("cookie", &browser)],
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, health) = server.get("/healthz").await;
        if health.contains("\"app_configured\":true") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new App was not taken into use: {health}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pong = Delivery::json("ping", &ping, MANIFEST_WEBHOOK_SECRET);
    let (status, body) = server.post(&pong).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pong");
    let forged = Delivery::json("ping", &ping, "not the App's secret");
    assert_eq!(server.post(&forged).await.0, 401);
}

#[test]
fn wrong_settings_stop_the_server_with_every_problem_named() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let output = std::process::Command::new(OTA)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("APP_ID", "ollama")
        .env("PRIVATE_KEY_PATH", "/nonexistent/app.pem")
        .env_remove("PRIVATE_KEY")
        .env_remove("WEBHOOK_SECRET")
        .env("GITHUB_API_URL", "api.github.com")
        .output()
        .expect("run ota serve");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "GITHUB_API_URL must be an http(s) URL",
        "APP_ID must be the App's numeric id, not \"ollama\"",
        "PRIVATE_KEY_PATH: cannot read /nonexistent/app.pem",
        "WEBHOOK_SECRET is not set",
    ] {
        assert!(text.contains(expected), "{text}");
    }
}
