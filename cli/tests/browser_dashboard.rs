//! The dashboard in a real browser (headless Chromium over WebDriver, see `e2e::browser`):
//! a maintainer signs in through the fake GitHub's OAuth pages, finds a triager's job
//! waiting on the jobs page, approves it from its page, and watches the live log (the
//! page's script on the Server-Sent Events stream) until the job ends; reloaded, the page
//! shows the pull request it opened; the statistics page draws it. Each page is kept as a screenshot in
//! `target/screenshots/dashboard-*.png` (the README shows two of them).

use e2e::browser::Browser;
use e2e::dashboard_client::oauth_environment;
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id,
    refactor_request,
};

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
