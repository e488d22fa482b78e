//! The dashboard's statistics on `ota serve` (`GET /stats`), through the real router, the
//! real SQLite store and engine, and the fake GitHub's OAuth web flow: a writer sees the
//! day's jobs by outcome, the per-task durations and tokens of a job that ran, what
//! waits now, as SVG charts and tables; someone who reaches other repositories only sees
//! none; a period out of range is refused.

use e2e::dashboard_client::{DashboardClient, oauth_environment, signed_in};
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id,
    refactor_request,
};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

#[tokio::test]
async fn statistics_draw_the_viewer_s_jobs_by_day_and_task() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    // A writer's job runs to its end; a triager's waits for an approval.
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    world.opened_pull(&server).await;
    eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        let (_, jobs) = world.ota(OTA, &["jobs", "--status", "succeeded"]);
        first_job_id(&jobs)
    })
    .await;
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    eventually(&server, "the job in line", JOB_TIMEOUT, || {
        let (_, jobs) = world.ota(OTA, &["jobs", "--status", "awaiting_approval"]);
        first_job_id(&jobs)
    })
    .await;
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "write");
    world
        .github
        .let_user_reach("stranger", INSTALLATION + 1, "someone/else", "admin");

    let visitor = DashboardClient::new(&server);
    assert_eq!(visitor.get("/stats").await.status, 303);

    let maintainer = signed_in(&world, &server, "maintainer").await;
    let page = maintainer.get("/stats").await;
    assert_eq!(page.status, 200, "{page:?}");
    let text = page.text();
    assert!(
        text.contains("The jobs of the last 14 days (UTC) that you can see: 2 jobs."),
        "{text}"
    );
    assert!(
        text.contains("Now 1 waits (in line or for an approval) and 0 run."),
        "{text}"
    );
    assert_eq!(page.body.matches("<svg ").count(), 3, "three charts");
    assert!(page.body.contains("role=\"img\""));
    // Today: one succeeded, one not ended; and the chart says so too.
    // Every day of the period, oldest first; today: one succeeded, one not ended; and
    // the chart says so too.
    let days: Vec<&str> = text
        .lines()
        .filter(|line| line.len() > 6 && line.as_bytes()[2] == b'-' && line.as_bytes()[5] == b' ')
        .collect();
    assert_eq!(days.len(), 14, "{text}");
    let today = days.last().expect("today");
    assert!(today.ends_with(" 1 0 0 1"), "{today}");
    assert!(
        page.body
            .contains(&format!("<title>{}: 1 succeeded</title>", &today[..5])),
        "{}",
        page.body
    );
    // Per task: both jobs are refactors; the one that ran counted its tokens.
    let row = text
        .lines()
        .find(|line| line.starts_with("refactor 2 "))
        .unwrap_or_else(|| panic!("the refactor row: {text}"));
    let tokens_p50: u64 = row
        .split_whitespace()
        .rev()
        .nth(1)
        .and_then(|cell| cell.parse().ok())
        .unwrap_or_else(|| panic!("tokens in {row}"));
    assert!(tokens_p50 > 0, "{row}");

    for wrong in ["/stats?days=0", "/stats?days=91", "/stats?days=week"] {
        let refused = maintainer.get(wrong).await;
        assert_eq!(refused.status, 400, "{wrong}: {refused:?}");
        assert!(
            refused
                .text()
                .contains("Days must be a number from 1 to 90")
        );
    }
    let week = maintainer.get("/stats?days=7").await;
    assert!(week.text().contains("last 7 days"));

    let stranger = signed_in(&world, &server, "stranger").await;
    let page = stranger.get("/stats").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("that you can see: 0 jobs."), "{text}");
    assert!(text.contains("No jobs in these days."), "{text}");
    world.github.assert_nothing_unexpected();
}
