//! Who may use `ota serve`'s pages, through the real binary: strangers get neither the
//! status page nor the setup (only `/webhook` and `/healthz`), the operator signs in with
//! the printed link or sends the token as a bearer token; requests for names the server is
//! not known as and forms posted from other sites are refused; and a server that has an
//! App keeps its setup closed.

use e2e::fake_github::{APP_ID, FakeGitHub, PRIVATE_KEY_PEM, Route};
use e2e::ota_server::OtaServer;
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

/// Posts the setup form with `headers`; the status, the `Set-Cookie` values and the body.
async fn post_setup(server: &OtaServer, headers: &[(&str, &str)]) -> (u16, Vec<String>, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/setup", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(FORM);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("post the setup form");
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    (status, cookies, response.text().await.unwrap_or_default())
}

/// GETs `path` with `headers`; the status and the body.
async fn get_with(server: &OtaServer, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}{path}", server.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("get");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn strangers_get_neither_the_pages_nor_the_setup() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let (github, server) = unconfigured(data_dir.path()).await;
    let origin = [("origin", server.url.as_str())];

    let (status, page) = server.get_anonymously("/").await;
    assert_eq!(status, 403, "{page}");
    assert!(!page.contains("APP_ID"), "the setup page leaked: {page}");
    insta::assert_snapshot!("sign_in_page", page);

    let (status, cookies, page) = post_setup(&server, &origin).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("operator-token"), "{page}");
    assert!(
        cookies
            .iter()
            .all(|cookie| !cookie.starts_with("ota_setup="))
    );

    // A stranger finishing a setup with their own App's code, with no setup of theirs.
    github.add_manifest_code("the-strangers-code");
    let (status, page) = server
        .get_anonymously(&format!(
            "/setup/callback?code=the-strangers-code&state={}",
            "a".repeat(64)
        ))
        .await;
    assert_eq!(status, 403, "{page}");
    assert!(github.requests_to(Route::ManifestConversion).is_empty());
    assert!(!data_dir.path().join("app.json").exists());

    let (status, page) = server.get_anonymously("/signin?token=guessed").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("That token is not this server's"), "{page}");

    // What stays public: the health check, and the webhook (GitHub signs it).
    let (status, health) = server.get_anonymously("/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"app_configured\":false"), "{health}");

    // The operator: a bearer token, or the cookie the sign-in link sets.
    let (status, page) = server.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("APP_ID is not set"), "{page}");
    let session = server.sign_in().await;
    let (status, page) = get_with(&server, "/", &[("cookie", &session)]).await;
    assert_eq!(status, 200, "{page}");
    let (status, cookies, page) =
        post_setup(&server, &[("cookie", &session), ("origin", &server.url)]).await;
    assert_eq!(status, 200, "{page}");
    let bound = cookies
        .iter()
        .find(|cookie| cookie.starts_with("ota_setup="))
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
    let (status, page) = get_with(&server, "/", &rebound).await;
    assert_eq!(status, 421, "{page}");
    insta::assert_snapshot!("unknown_host_page", page);
    let (status, _) = get_with(
        &server,
        &format!("/signin?token={}", server.operator_token),
        &[("host", "rebind.evil.example")],
    )
    .await;
    assert_eq!(status, 421);

    // A form another site makes the operator's browser post, with its cookie.
    let (status, cookies, page) = post_setup(
        &server,
        &[("cookie", &session), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("not sent from this server's own page"),
        "{page}"
    );
    assert!(
        cookies
            .iter()
            .all(|cookie| !cookie.starts_with("ota_setup="))
    );
    let (status, _, _) = post_setup(&server, &[("cookie", &session)]).await;
    assert_eq!(status, 403, "no Origin nor Referer");
    let (status, _, _) = post_setup(
        &server,
        &[("cookie", &session), ("referer", "https://evil.example/x")],
    )
    .await;
    assert_eq!(status, 403);

    // The server's own names are fine.
    let port = server.url.rsplit(':').next().unwrap();
    let localhost = format!("localhost:{port}");
    let local_origin = format!("http://localhost:{port}");
    let (status, _, page) = post_setup(
        &server,
        &[
            ("host", &localhost),
            ("cookie", &session),
            ("origin", &local_origin),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("{local_origin}/setup/callback")),
        "{page}"
    );

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

    let (status, cookies, page) =
        post_setup(&server, &[("cookie", &session), ("origin", &server.url)]).await;
    assert_eq!(status, 409, "{page}");
    insta::assert_snapshot!("already_configured_page", page);
    assert!(
        cookies
            .iter()
            .all(|cookie| !cookie.starts_with("ota_setup="))
    );

    github.add_manifest_code("code-from-github");
    let (status, page) = get_with(
        &server,
        &format!(
            "/setup/callback?code=code-from-github&state={}",
            "a".repeat(64)
        ),
        &[("cookie", "ota_setup=whatever")],
    )
    .await;
    assert_eq!(status, 409, "{page}");

    assert!(github.requests_to(Route::ManifestConversion).is_empty());
    assert!(!data_dir.path().join("app.json").exists());
    assert!(
        !data_dir.path().join("operator-token").exists(),
        "the environment's token is not written down"
    );
    assert!(!server.log().contains(TOKEN));
}
