//! Who may use `ota serve`'s pages, through the real binary: strangers get neither the
//! status page nor the setup (only `/webhook` and `/healthz`), the operator signs in with
//! the printed link or sends the token as a bearer token; requests for names the server is
//! not known as and forms posted from other sites are refused; and a server that has an
//! App keeps its setup closed.

use e2e::fake_github::{APP_ID, FakeGitHub, PRIVATE_KEY_PEM, Route};
use e2e::ota_server::{Answer, OtaServer};
use reqwest::Method;
use std::path::Path;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const FORM: &str = "public_url=https%3A%2F%2Fota.example.test&organization=";

/// A server with no App, against a fake GitHub.
async fn unconfigured(data_dir: &Path) -> (FakeGitHub, OtaServer) {
    let github = FakeGitHub::start().await;
    let env = vec![("GITHUB_API_URL".to_owned(), github.base_url())];
    let server = OtaServer::start_with(OTA, data_dir, &env, &[]);
    (github, server)
}

/// Posts the setup form with `headers`.
async fn post_setup(server: &OtaServer, headers: &[(&str, &str)]) -> Answer {
    server
        .send(Method::POST, "/setup", headers, Some(FORM))
        .await
}

/// GETs `path` with `headers`.
async fn get_with(server: &OtaServer, path: &str, headers: &[(&str, &str)]) -> Answer {
    server.send(Method::GET, path, headers, None).await
}

#[tokio::test]
async fn strangers_get_neither_the_pages_nor_the_setup() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let (github, server) = unconfigured(data_dir.path()).await;

    let page = get_with(&server, "/", &[]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        !page.body.contains("APP_ID"),
        "the setup page leaked: {}",
        page.body
    );
    insta::assert_snapshot!("sign_in_page", page.body);

    let setup = post_setup(&server, &[("origin", &server.url)]).await;
    assert_eq!(setup.status, 403, "{}", setup.body);
    assert!(setup.body.contains("operator-token"), "{}", setup.body);
    assert_eq!(setup.cookie("ota_setup"), None);

    // A stranger finishing a setup with their own App's code, with no setup of theirs.
    github.add_manifest_code("the-strangers-code");
    let state = "a".repeat(64);
    let callback = format!("/setup/callback?code=the-strangers-code&state={state}");
    let finished = get_with(&server, &callback, &[]).await;
    assert_eq!(finished.status, 403, "{}", finished.body);
    assert!(github.requests_to(Route::ManifestConversion).is_empty());
    assert!(!data_dir.path().join("app.json").exists());

    let guess = get_with(&server, "/signin?token=guessed", &[]).await;
    assert_eq!(guess.status, 403, "{}", guess.body);
    assert!(
        guess.body.contains("That token is not this server's"),
        "{}",
        guess.body
    );
    assert_eq!(guess.cookie("ota_operator"), None);

    // What stays public: the health check, and the webhook (GitHub signs it).
    let (status, health) = server.get_anonymously("/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"app_configured\":false"), "{health}");

    // The operator: a bearer token, or the cookie the sign-in link sets.
    let (status, page) = server.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("APP_ID is not set"), "{page}");
    let session = server.sign_in().await;
    let page = get_with(&server, "/", &[("cookie", &session)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let setup = post_setup(&server, &[("cookie", &session), ("origin", &server.url)]).await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let bound = setup
        .set_cookie("ota_setup")
        .expect("the setup is bound to the browser");
    assert!(
        bound.contains("HttpOnly") && bound.contains("SameSite=Lax"),
        "{bound}"
    );

    // The token is in a file only the server's user reads, and never in the log.
    let token_file = data_dir.path().join("operator-token");
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        server.operator_token
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let log = server.log();
    assert!(!log.contains(&server.operator_token), "{log}");
    assert!(log.contains("sign-in with a wrong operator token"), "{log}");
    assert!(!log.contains("guessed"), "{log}");
}

#[tokio::test]
async fn unknown_hosts_and_forms_from_other_sites_are_refused() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let (_github, server) = unconfigured(data_dir.path()).await;
    let session = server.sign_in().await;
    let bearer = format!("Bearer {}", server.operator_token);

    // A page of rebind.evil.example whose name now points at 127.0.0.1.
    let rebound = [
        ("host", "rebind.evil.example:3000"),
        ("authorization", &bearer),
    ];
    let page = get_with(&server, "/", &rebound).await;
    assert_eq!(page.status, 421, "{}", page.body);
    insta::assert_snapshot!("unknown_host_page", page.body);
    let sign_in = format!("/signin?token={}", server.operator_token);
    let signed = get_with(&server, &sign_in, &[("host", "rebind.evil.example")]).await;
    assert_eq!(signed.status, 421);
    assert_eq!(signed.cookie("ota_operator"), None);

    // A form another site makes the operator's browser post, with its cookie.
    let forged = [
        ("cookie", session.as_str()),
        ("origin", "https://evil.example"),
    ];
    let setup = post_setup(&server, &forged).await;
    assert_eq!(setup.status, 403, "{}", setup.body);
    assert!(
        setup.body.contains("not sent from this server's own page"),
        "{}",
        setup.body
    );
    assert_eq!(setup.cookie("ota_setup"), None);
    let setup = post_setup(&server, &[("cookie", &session)]).await;
    assert_eq!(setup.status, 403, "no Origin nor Referer");
    let referred = [
        ("cookie", session.as_str()),
        ("referer", "https://evil.example/x"),
    ];
    assert_eq!(post_setup(&server, &referred).await.status, 403);

    // The server's own names are fine.
    let port = server.url.rsplit(':').next().unwrap();
    let localhost = format!("localhost:{port}");
    let local_origin = format!("http://localhost:{port}");
    let own = [
        ("host", localhost.as_str()),
        ("cookie", session.as_str()),
        ("origin", local_origin.as_str()),
    ];
    let setup = post_setup(&server, &own).await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let callback = format!("{local_origin}/setup/callback");
    assert!(setup.body.contains(&callback), "{}", setup.body);

    let log = server.log();
    assert!(log.contains("host=\"rebind.evil.example:3000\""), "{log}");
    assert!(log.contains("origin=\"https://evil.example\""), "{log}");
    assert!(!data_dir.path().join("app.json").exists());
}

#[tokio::test]
async fn a_server_configured_from_the_environment_never_sets_up_another_app() {
    const TOKEN: &str = "the-operators-own-token-from-the-environment";
    let github = FakeGitHub::start().await;
    let data_dir = tempfile::tempdir().expect("data directory");
    let env: Vec<(String, String)> = [
        ("GITHUB_API_URL", github.base_url()),
        ("APP_ID", APP_ID.to_string()),
        ("PRIVATE_KEY", PRIVATE_KEY_PEM.to_owned()),
        ("WEBHOOK_SECRET", "a webhook secret".to_owned()),
        ("OTA_OPERATOR_TOKEN", TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let server = OtaServer::start_with(OTA, data_dir.path(), &env, &[]);
    assert_eq!(server.operator_token, TOKEN);
    let session = server.sign_in().await;

    let (status, page) = server.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Recent jobs"), "the status page: {page}");

    let setup = post_setup(&server, &[("cookie", &session), ("origin", &server.url)]).await;
    assert_eq!(setup.status, 409, "{}", setup.body);
    insta::assert_snapshot!("already_configured_page", setup.body);
    assert_eq!(setup.cookie("ota_setup"), None);

    github.add_manifest_code("code-from-github");
    let state = "a".repeat(64);
    let callback = format!("/setup/callback?code=code-from-github&state={state}");
    let finished = get_with(&server, &callback, &[("cookie", "ota_setup=whatever")]).await;
    assert_eq!(finished.status, 409, "{}", finished.body);

    assert!(github.requests_to(Route::ManifestConversion).is_empty());
    assert!(!data_dir.path().join("app.json").exists());
    assert!(
        !data_dir.path().join("operator-token").exists(),
        "the environment's token is not written down"
    );
    assert!(!server.log().contains(TOKEN));
}
