//! The dashboard in a real browser (headless Chromium over WebDriver, see `e2e::browser`):
//! a maintainer signs in through the fake GitHub's OAuth pages, finds a triager's job
//! waiting on the jobs page, approves it from its page, and watches the live log (the
//! page's script on the Server-Sent Events stream) until the job ends; reloaded, the page
//! shows the pull request it opened; the statistics page draws it. Each page is kept as a screenshot in
//! `target/screenshots/dashboard-*.png` (the README shows two of them). And the server's
//! owner, signed in with the link `ota serve` printed, edits an installation's policies
//! in the page's form (a wrong file refused and kept, a right one saved) and finds the
//! change in the audit log.

use e2e::browser::Browser;
use e2e::dashboard_client::oauth_environment;
use e2e::delivery::Delivery;
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, SECRET, ServeWorld, eventually, first_job_id,
    refactor_request,
};
use e2e::policy::installation_event;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

#[tokio::test]
async fn a_maintainer_signs_in_with_github_approves_a_waiting_job_and_watches_it_run() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = OtaServer::start_with(
        OTA,
        world.data_dir(),
        &oauth_environment(&world),
        &["--retry-interval-seconds", "1"],
    );
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    let id = eventually(
        &server,
        "the job to wait for an approval",
        JOB_TIMEOUT,
        || {
            let (_, jobs) = world.ota(OTA, &["jobs", "--status", "awaiting_approval"]);
            first_job_id(&jobs)
        },
    )
    .await;
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "write");
    world.github.sign_in_as("maintainer");
    let browser = Browser::start().await;

    // Not signed in: the jobs page sends the browser to GitHub, which (the user having
    // approved the App) sends it back signed in, to the jobs.
    browser.goto(&format!("{}/jobs", server.url)).await;
    browser.wait_for_text("Signed in as").await;
    assert_eq!(browser.url().await, format!("{}/jobs", server.url));
    let session = browser.cookie("ota_session").await.expect("a session");
    assert_eq!(session.http_only(), Some(true));
    assert!(
        !browser.script_cookies().await.contains("ota_session"),
        "the page's scripts cannot read the session"
    );
    let text = browser.text().await;
    assert!(text.contains("maintainer"), "{text}");
    assert!(text.contains("awaiting_approval"), "{text}");
    assert!(text.contains(REPO), "{text}");
    browser.screenshot("dashboard-jobs").await;

    // The job's page, from its link: waiting, with the button a writer gets.
    browser
        .find(&format!("a[href='/jobs/{id}']"))
        .await
        .click()
        .await
        .expect("follow the job's link");
    browser.wait_for_text("Approve").await;
    assert_eq!(browser.url().await, format!("{}/jobs/{id}", server.url));
    browser.screenshot("dashboard-job-waiting").await;

    // Approved: back on the page, whose script appends the log as the runner writes it
    // and says when the job ends.
    browser.click_text("Approve").await;
    browser
        .wait_for_text_within("The job is succeeded.", JOB_TIMEOUT)
        .await;
    let streamed = browser.find_all("#log li").await;
    assert!(!streamed.is_empty(), "the live log showed no line");
    browser.screenshot("dashboard-job-live").await;

    // Reloaded: the final state, what it produced, and no more buttons.
    browser.goto(&format!("{}/jobs/{id}", server.url)).await;
    browser.wait_for_text("Pull request").await;
    let text = browser.text().await;
    assert!(text.contains("succeeded"), "{text}");
    assert!(text.contains("approved by maintainer"), "{text}");
    assert!(
        !text.contains("Approve\n"),
        "no approve button once done: {text}"
    );
    assert!(
        browser
            .find_all("form[action$='/approve']")
            .await
            .is_empty(),
        "no approve form once done"
    );
    browser.screenshot("dashboard-job").await;
    // The statistics draw the day's job as SVG the browser renders.
    browser.goto(&format!("{}/stats", server.url)).await;
    browser.wait_for_text("Jobs per day").await;
    assert_eq!(browser.find_all("svg.chart").await.len(), 3);
    browser.screenshot("dashboard-stats").await;
    let pull = world.opened_pull(&server).await;
    assert!(
        text.contains(&pull.url()),
        "the pull request's link: {text}"
    );
    browser.close().await;
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn the_owner_edits_an_installation_s_policies_in_the_browser() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    let created = Delivery::json("installation", &installation_event("created"), SECRET);
    assert_eq!(server.post(&created).await.0, 202);
    let page = format!("{}/installations/{INSTALLATION}", server.url);
    let browser = Browser::start().await;
    browser
        .goto(&format!(
            "{}/signin?token={}",
            server.url, server.operator_token
        ))
        .await;
    browser.wait_for_text("Recent jobs").await;
    let deadline = std::time::Instant::now() + JOB_TIMEOUT;
    loop {
        browser.goto(&format!("{}/installations", server.url)).await;
        if browser.text().await.contains("Codertocat") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no installation");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    browser.goto(&page).await;
    browser.wait_for_text("Save the policies").await;
    assert!(browser.text().await.contains(REPO));

    // A field the policy file does not have: refused, the text kept to fix.
    browser
        .fill(
            "#policies-text",
            "policies:\n  - name: careful\n    repo_pattern: \"*\"\n    run_forever: true\n",
        )
        .await;
    browser.click_text("Save the policies").await;
    browser.wait_for_text("Not saved:").await;
    assert!(browser.text().await.contains("run_forever"));
    browser.screenshot("dashboard-policy-refused").await;

    // A right one: saved, shown back, and in the audit log.
    browser
        .fill(
            "#policies-text",
            "policies:\n  - name: careful\n    repo_pattern: \"Codertocat/*\"\n    require_approval: true\n",
        )
        .await;
    browser.click_text("Save the policies").await;
    browser.wait_for_text("\"careful\"").await;
    assert!(!browser.text().await.contains("Not saved:"));
    browser.screenshot("dashboard-installation").await;
    browser.goto(&format!("{}/audit", server.url)).await;
    browser.wait_for_text("dashboard policy set").await;
    assert!(browser.text().await.contains("1 policy: careful"));
    browser.screenshot("dashboard-audit").await;
    browser.close().await;
}
