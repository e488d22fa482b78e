//! `ota serve`'s pages in a real browser (headless Chromium over WebDriver, see
//! `e2e::browser`): the operator's sign-in link leads to the status page with its jobs
//! and leaves a session cookie the page's scripts cannot read; a wrong token and an
//! unknown host are refused with pages that say why; a server with no App shows a
//! stranger only the sign-in form, and the operator its setup form. Each page is kept as
//! a screenshot in `target/screenshots/serve-*.png`.

use e2e::browser::{Browser, REBOUND_HOST};
use e2e::fake_github::FakeGitHub;
use e2e::ota_server::{OtaServer, PR, REPO, ServeWorld, refactor_request};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The operator's session cookie (`cli/src/serve/guard.rs`).
const SESSION_COOKIE: &str = "ota_operator";

#[tokio::test]
async fn the_operator_signs_in_with_the_link_and_reads_the_status_page() {
    let world = ServeWorld::with_lib("true").await;
    // A triager's request waits for a writer's approval: a job in the table, no runner.
    world.github.set_role(REPO, "triager", "triage");
    let server = world.serve(OTA, &[]);
    let (status, body) = server.post(&refactor_request("triager")).await;
    assert_eq!(status, 202, "{body}");
    world
        .comment_containing(&server, "the approval request", "/approve")
        .await;
    let browser = Browser::start().await;

    // A wrong token: refused, and no cookie.
    browser
        .goto(&format!("{}/signin?token=not-the-token", server.url))
        .await;
    browser
        .wait_for_text("That token is not this server's.")
        .await;
    assert_eq!(browser.title().await, "Sign in");
    assert!(browser.cookie(SESSION_COOKIE).await.is_none());
    browser.screenshot("serve-sign-in-wrong-token").await;

    // The link `ota serve` printed: the status page, and the token gone from the address.
    browser
        .goto(&format!(
            "{}/signin?token={}",
            server.url, server.operator_token
        ))
        .await;
    browser.wait_for_text("Recent jobs").await;
    assert_eq!(browser.url().await, format!("{}/", server.url));
    assert_eq!(browser.title().await, "Ollama Turbo Agent");
    let rows = browser.table_rows("table").await;
    let row = |first: &str| {
        rows.iter()
            .find(|row| row.first().is_some_and(|cell| cell == first))
    };
    assert_eq!(
        row("App"),
        Some(&vec!["App".to_owned(), "ollama-turbo-agent".to_owned()]),
        "{rows:#?}"
    );
    let header = rows
        .iter()
        .position(|row| row.starts_with(&["job".to_owned(), "status".to_owned()]))
        .unwrap_or_else(|| panic!("the jobs table's header: {rows:#?}"));
    assert_eq!(
        rows[header][..5],
        ["job", "status", "where", "task", "requester"],
        "{rows:#?}"
    );
    let jobs = &rows[header + 1..];
    assert_eq!(jobs.len(), 1, "one job: {rows:#?}");
    assert_eq!(
        jobs[0][1..5],
        [
            "awaiting_approval",
            &format!("{REPO}#{PR}"),
            "refactor",
            "triager"
        ],
        "{rows:#?}"
    );
    browser.screenshot("serve-status").await;

    // The session cookie as the browser keeps it: out of scripts' reach, and not sent
    // along with other sites' requests.
    let cookie = browser
        .cookie(SESSION_COOKIE)
        .await
        .expect("the session cookie");
    assert_eq!(cookie.http_only(), Some(true), "{cookie}");
    // The operator's cookie is `Strict` today; issue 14's GitHub sessions are `Lax`.
    // Either keeps it off other sites' requests; `None` or no attribute would not.
    let same_site = cookie.same_site().map(|same_site| same_site.to_string());
    assert!(
        matches!(same_site.as_deref(), Some("Strict" | "Lax")),
        "{cookie}"
    );
    assert_ne!(cookie.value(), server.operator_token);
    let visible = browser.script_cookies().await;
    assert!(!visible.contains(SESSION_COOKIE), "{visible}");

    // The same server under a name that now resolves to it (DNS rebinding).
    let port = server.url.rsplit(':').next().expect("a port");
    browser
        .goto(&format!("http://{REBOUND_HOST}:{port}/"))
        .await;
    browser.wait_for_text("Unknown host").await;
    let page = browser.text().await;
    assert!(
        page.contains(&format!(
            "not to “{REBOUND_HOST}:{port}”. Open it at its own address"
        )),
        "{page}"
    );
    assert!(!page.contains("Recent jobs"), "{page}");
    browser.screenshot("serve-unknown-host").await;

    browser.close().await;
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_server_without_an_app_shows_the_operator_its_setup_form() {
    let github = FakeGitHub::start().await;
    let data_dir = tempfile::tempdir().expect("data directory");
    let env = vec![("GITHUB_API_URL".to_owned(), github.base_url())];
    let server = OtaServer::start_with(OTA, data_dir.path(), &env, &[]);
    let browser = Browser::start().await;

    // A stranger: only the sign-in form, nothing about the server.
    browser.goto(&server.url).await;
    browser.wait_for_text("Open the sign-in link").await;
    assert_eq!(browser.title().await, "Sign in");
    let page = browser.text().await;
    assert!(!page.contains("APP_ID"), "the setup page leaked: {page}");
    browser.screenshot("serve-sign-in").await;

    // The operator types the token into that form.
    browser
        .fill("input[name=token]", &server.operator_token)
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("Set up Ollama Turbo Agent").await;
    assert_eq!(browser.url().await, format!("{}/", server.url));
    browser.wait_for_text("APP_ID is not set").await;

    let public_url = browser
        .find("form[action='/setup'] input[name=public_url]")
        .await;
    assert_eq!(
        public_url.attr("type").await.ok().flatten().as_deref(),
        Some("url")
    );
    assert!(public_url.attr("required").await.ok().flatten().is_some());
    for field in ["webhook_url", "organization"] {
        browser
            .find(&format!("form[action='/setup'] input[name={field}]"))
            .await;
    }
    for label in [
        "Public URL of this server",
        "Webhook URL, only if webhooks arrive another way",
        "Organization that will own the App",
    ] {
        browser.find_text(label).await;
    }
    let button = browser
        .find("form[action='/setup'] button[type=submit]")
        .await;
    assert_eq!(
        button.text().await.unwrap_or_default(),
        "Create the App on GitHub"
    );
    browser.screenshot("serve-setup").await;

    browser.close().await;
    github.assert_nothing_unexpected();
}
