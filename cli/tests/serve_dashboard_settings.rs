//! The dashboard's settings page on `ota serve` (`GET /settings`, `POST
//! /settings/webhook-secret`, `.../finish`, `POST /settings/private-key`), through the
//! real router, the real intake and the fake GitHub: only the server's owner reaches it;
//! a new webhook secret is shown once, deliveries signed with the old or the new one are
//! both accepted during the overlap and the old one refused once it is finished; a new
//! private key is taken only once GitHub accepts it as the App's, and the next
//! installation token is minted with it (the old key deleted on GitHub); a secret kept
//! in the environment is not rotated from the page, which says why. Each rotation is in
//! the audit log, and no secret is in the log, the audit log or another page.

use e2e::dashboard_client::{
    DashboardClient, oauth_environment, signed_in, stored_app_environment,
};
use e2e::delivery::Delivery;
use e2e::fake_github::{
    AuthKind, PUBLIC_KEY_PEM, Route, SECOND_PRIVATE_KEY_PEM, SECOND_PUBLIC_KEY_PEM,
};
use e2e::ota_server::{INSTALLATION, OtaServer, REPO, SECRET, ServeWorld, pr_comment};
use e2e::policy::installation_event;
use e2e::redact::Redact;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// A delivery GitHub would send, signed with `secret`.
fn delivery(secret: &str) -> Delivery {
    Delivery::json("installation", &installation_event("created"), secret)
}

/// The secret between `<pre id="secret">` and `</pre>`.
fn shown_secret(page: &str) -> String {
    let start = page
        .find("<pre id=\"secret\">")
        .expect("the secret's place")
        + 17;
    let end = start + page[start..].find("</pre>").expect("its end");
    page[start..end].to_owned()
}

/// The page's text, the data directory's path, GitHub's address and the times made
/// stable.
fn text(world: &ServeWorld, body: &str) -> String {
    let text = Redact::new()
        .value(world.data_dir().display().to_string(), "[data-dir]")
        .value(world.github.base_url(), "[github]")
        .apply(&e2e::dashboard_client::page_text(body));
    // `2026-12-04 00:08 UTC`, sixteen characters before ` UTC`.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" UTC") {
        let (before, after) = rest.split_at(at);
        let stamp = before.len().saturating_sub(16);
        if before.is_char_boundary(stamp) && before.as_bytes().get(stamp + 4) == Some(&b'-') {
            out.push_str(&before[..stamp]);
            out.push_str("[time]");
        } else {
            out.push_str(before);
            out.push_str(" UTC");
        }
        rest = &after[" UTC".len()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn only_the_owner_reaches_the_settings() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &stored_app_environment(&world), &[]);

    // Nobody signed in: a browser is sent to sign in, a script told 401.
    let visitor = DashboardClient::new(&server);
    let page = visitor.get("/settings").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location.as_deref(), Some("/signin/github"));
    let (status, _) = server.get_anonymously("/settings").await;
    assert_eq!(status, 401);
    let posted = visitor.post("/settings/webhook-secret", &[]).await;
    assert_eq!(posted.status, 303, "{posted:?}");

    // A GitHub user, even an admin of the repository: 403, and no link.
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "admin");
    let user = signed_in(&world, &server, "maintainer").await;
    let jobs = user.get("/jobs").await;
    assert!(
        !jobs.body.contains("href=\"/settings\""),
        "no link for a user"
    );
    let refused = user.get("/settings").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("the server's owner's only"),
        "{}",
        refused.text()
    );
    let csrf = jobs.csrf().expect("the sign-out form's token");
    for path in [
        "/settings/webhook-secret",
        "/settings/webhook-secret/finish",
        "/settings/private-key",
    ] {
        let posted = user
            .post(path, &[("csrf", &csrf), ("private_key", "x")])
            .await;
        assert_eq!(posted.status, 403, "{path}: {}", posted.text());
    }

    // The owner in a browser (the printed link's cookie): the page, its link in the
    // header, and forms that need their CSRF token.
    let owner = DashboardClient::new(&server);
    let cookie = server.sign_in().await;
    let (name, value) = cookie.split_once('=').expect("name=value");
    owner.set_cookie(name, value);
    let page = owner.get("/settings").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.body.contains("href=\"/settings\""), "the owner's link");
    insta::assert_snapshot!("settings_page", text(&world, &page.body));
    let forged = owner.post("/settings/webhook-secret", &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(forged.text().contains("CSRF"), "{}", forged.text());
    let (_, audit) = server.get("/audit.csv").await;
    assert!(
        !audit.contains("webhook secret"),
        "nothing rotated: {audit}"
    );
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_webhook_secret_rotation_accepts_both_secrets_until_it_is_finished() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &stored_app_environment(&world), &[]);
    assert_eq!(server.post(&delivery(SECRET)).await.0, 202);

    let (status, _, page) = server
        .post_as_operator("/settings/webhook-secret", &[])
        .await;
    assert_eq!(status, 200, "{page}");
    let secret = shown_secret(&page);
    assert!(secret.len() >= 40 && secret != SECRET, "{secret}");
    let shown = text(&world, &page).replace(&secret, "[new secret]");
    insta::assert_snapshot!("new_webhook_secret_page", shown);
    let stored = std::fs::read_to_string(world.data_dir().join("app.json")).expect("app.json");
    assert!(
        stored.contains(&secret),
        "the App file keeps the new secret"
    );

    // The overlap: either secret is accepted; a third is not.
    assert_eq!(server.post(&delivery(&secret)).await.0, 202);
    assert_eq!(server.post(&delivery(SECRET)).await.0, 202);
    assert_eq!(server.post(&delivery("neither")).await.0, 401);
    let (_, settings) = server.get("/settings").await;
    assert!(settings.contains("A rotation is under way"), "{settings}");
    assert!(!settings.contains(&secret), "shown once only");
    // A second rotation would drop the secret GitHub may still sign with: refused.
    let (status, _, refused) = server
        .post_as_operator("/settings/webhook-secret", &[])
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("finish it first"), "{refused}");

    let (status, location, _) = server
        .post_as_operator("/settings/webhook-secret/finish", &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/settings#webhook-secret"));
    assert_eq!(server.post(&delivery(SECRET)).await.0, 401);
    assert_eq!(server.post(&delivery(&secret)).await.0, 202);
    // Nothing more to finish.
    let (status, _, _) = server
        .post_as_operator("/settings/webhook-secret/finish", &[])
        .await;
    assert_eq!(status, 400);

    let (_, audit) = server.get("/audit.csv").await;
    for command in [
        "dashboard webhook secret rotate",
        "dashboard webhook secret finish",
    ] {
        let entry = audit
            .lines()
            .find(|line| line.contains(command))
            .unwrap_or_else(|| panic!("{command} in {audit}"));
        assert!(entry.contains(",0,,local:dashboard,"), "{entry}");
    }
    for place in [audit, server.log(), settings] {
        assert!(!place.contains(&secret), "a secret leaked: {place}");
        assert!(!place.contains(SECRET), "a secret leaked: {place}");
    }
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_new_private_key_is_used_once_github_accepts_it() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &stored_app_environment(&world), &[]);
    let upload = |pem: &str| {
        let pem = pem.to_owned();
        let server = &server;
        async move {
            server
                .post_as_operator("/settings/private-key", &[("private_key", &pem)])
                .await
        }
    };

    // Not a key; a key GitHub does not know yet: refused, the old one stays.
    let (status, _, page) = upload("-----BEGIN RSA PRIVATE KEY-----\nnot a key\n").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("not a valid RSA private key"), "{page}");
    let (status, _, page) = upload("").await;
    assert_eq!(status, 400, "{page}");
    let (status, _, page) = upload(SECOND_PRIVATE_KEY_PEM).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("it is not one of the App&#39;s keys")
            || page.contains("it is not one of the App's keys"),
        "{page}"
    );
    // GitHub refused the JWT, as the test meant it to.
    let refused = world.github.take_unexpected();
    assert!(
        refused.len() == 1 && refused[0].route == Some(Route::App) && refused[0].status == 401,
        "{refused:#?}"
    );
    let stored = std::fs::read_to_string(world.data_dir().join("app.json")).expect("app.json");
    assert!(
        !stored.contains(SECOND_PRIVATE_KEY_PEM.trim()),
        "not stored"
    );

    // Generated on GitHub, uploaded here as the owner's browser sends the page's form
    // (the file, with the form's CSRF token): taken, stored, and the old key deleted on
    // GitHub without a restart.
    world.github.add_app_key(SECOND_PUBLIC_KEY_PEM);
    let owner = DashboardClient::new(&server);
    let cookie = server.sign_in().await;
    let (name, value) = cookie.split_once('=').expect("name=value");
    owner.set_cookie(name, value);
    let file = (
        "private_key_file",
        "ota.2026-12-03.private-key.pem",
        SECOND_PRIVATE_KEY_PEM.as_bytes(),
    );
    let forged = owner.post_file("/settings/private-key", &[], file).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    let csrf = owner
        .get("/settings")
        .await
        .csrf()
        .expect("the form's token");
    let taken = owner
        .post_file("/settings/private-key", &[("csrf", &csrf)], file)
        .await;
    assert_eq!(taken.status, 200, "{}", taken.text());
    assert!(
        taken.text().contains("The new key is in use"),
        "{}",
        taken.text()
    );
    let stored = std::fs::read_to_string(world.data_dir().join("app.json")).expect("app.json");
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
    assert_eq!(
        stored["private_key"].as_str().map(str::trim),
        Some(SECOND_PRIVATE_KEY_PEM.trim())
    );
    world.github.delete_app_key(PUBLIC_KEY_PEM);

    // The next installation token is minted with the new key: a request whose policy
    // check needs one.
    world.github.set_role(REPO, "triager", "triage");
    let request = Delivery::json(
        "issue_comment",
        &pr_comment("triager", "/ollama refactor extract the retry loop"),
        SECRET,
    );
    assert_eq!(server.post(&request).await.0, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while world.github.requests_to(Route::AccessToken).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no token minted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let minted = world.github.requests_to(Route::AccessToken);
    assert!(
        minted
            .iter()
            .all(|request| request.status == 201 && matches!(request.auth, AuthKind::AppJwt { .. })),
        "{minted:#?}"
    );
    assert!(!world.github.minted_tokens().is_empty());

    let (_, audit) = server.get("/audit.csv").await;
    assert!(
        audit
            .lines()
            .any(|line| line.contains("dashboard private key replace") && line.contains("accepted")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|line| line.contains("dashboard private key replace") && line.contains("denied")),
        "{audit}"
    );
    for place in [audit, server.log()] {
        assert!(
            !place.contains("BEGIN RSA PRIVATE KEY"),
            "a key leaked: {place}"
        );
    }
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn secrets_from_the_environment_are_rotated_there() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    let (status, page) = server.get("/settings").await;
    assert_eq!(status, 200, "{page}");
    insta::assert_snapshot!("settings_from_the_environment", text(&world, &page));
    assert!(
        !page.contains("/settings/webhook-secret\""),
        "no rotation form"
    );
    let (status, _, refused) = server
        .post_as_operator("/settings/webhook-secret", &[])
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("WEBHOOK_SECRET"), "{refused}");
    let (status, _, refused) = server
        .post_as_operator(
            "/settings/private-key",
            &[("private_key", SECOND_PRIVATE_KEY_PEM)],
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("PRIVATE_KEY"), "{refused}");
    // The environment's secret still works.
    assert_eq!(server.post(&delivery(SECRET)).await.0, 202);
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_overlap_ends_when_its_time_is_up() {
    let world = ServeWorld::with_lib("true").await;
    let env = stored_app_environment(&world);
    // A rotation made a day ago whose overlap has just run out, and a server started
    // after it (the file says so).
    let path = world.data_dir().join("app.json");
    let mut app: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("app.json")).expect("JSON");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    app["previous_webhook_secret"] = "the secret before the rotation".into();
    app["previous_webhook_secret_until_ms"] = (now - 1_000).into();
    std::fs::write(&path, app.to_string()).expect("app.json");
    let server = OtaServer::start_with(OTA, world.data_dir(), &env, &[]);

    assert_eq!(
        server
            .post(&delivery("the secret before the rotation"))
            .await
            .0,
        401
    );
    assert_eq!(server.post(&delivery(SECRET)).await.0, 202);
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("app.json")).expect("JSON");
    assert!(stored["previous_webhook_secret"].is_null(), "{stored}");
    let (_, settings) = server.get("/settings").await;
    assert!(!settings.contains("A rotation is under way"), "{settings}");
    world.github.assert_nothing_unexpected();
}
