//! The dashboard's audit log on `ota serve` (`GET /audit`, `GET /audit.csv`), through the
//! real router, the real SQLite store and the fake GitHub's OAuth web flow: a writer of
//! the repository sees its entries and filters them, downloads them as CSV; someone who
//! reaches other repositories only sees none; a visitor is sent to sign in and a script
//! without a session is answered 401.

use e2e::dashboard_client::{DashboardClient, oauth_environment, signed_in};
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id,
    refactor_request,
};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const CSV_HEADER: &str =
    "when_utc,installation,repository,actor,command,decision,reason,policy,job,delivery";

#[tokio::test]
async fn the_audit_log_shows_each_viewer_the_entries_of_their_repositories() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    // A triager's request: an `approval_required` entry about the repository.
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    let id = eventually(&server, "the job in line", JOB_TIMEOUT, || {
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

    // Nobody signed in.
    let visitor = DashboardClient::new(&server);
    let page = visitor.get("/audit").await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(page.location.as_deref(), Some("/signin/github"));
    let (status, body) = server.get_anonymously("/audit.csv").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("triager"), "{body}");

    // The repository's writer: the entry, its job linked, and the filters.
    let maintainer = signed_in(&world, &server, "maintainer").await;
    let page = maintainer.get("/audit").await;
    assert_eq!(page.status, 200, "{page:?}");
    let text = page.text();
    assert!(text.contains("Audit log"), "{text}");
    assert!(
        text.contains("/ollama refactor extract the retry loop"),
        "{text}"
    );
    assert!(text.contains("approval_required"), "{text}");
    assert!(
        page.body.contains(&format!("href=\"/jobs/{id}\"")),
        "{text}"
    );
    let by_actor = maintainer.get("/audit?actor=%40Triager").await;
    assert!(by_actor.text().contains("approval_required"));
    let by_other = maintainer.get("/audit?actor=someone-else").await;
    assert!(by_other.text().contains("No entries match."));
    let denied = maintainer.get("/audit?decision=denied").await;
    assert!(denied.text().contains("No entries match."));
    let wrong = maintainer.get("/audit?since=last-week").await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong
            .text()
            .contains("From must be a date as YYYY-MM-DD, not “last-week”.")
    );
    let bad_page = maintainer.get("/audit?after=not-a-cursor").await;
    assert_eq!(bad_page.status, 400, "{bad_page:?}");

    // The same selection as CSV: a file, one record per entry.
    let csv = maintainer
        .get("/audit.csv?decision=approval_required")
        .await;
    assert_eq!(csv.status, 200, "{csv:?}");
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.content_disposition.as_deref(),
        Some("attachment; filename=\"ota-audit.csv\"")
    );
    let lines: Vec<&str> = csv.body.split("\r\n").collect();
    assert_eq!(lines[0], CSV_HEADER);
    let record = lines
        .iter()
        .find(|line| line.contains(&id))
        .unwrap_or_else(|| panic!("the job's entry: {}", csv.body));
    assert!(
        record.contains(&format!(
            ",{INSTALLATION},{REPO},triager,/ollama refactor extract the retry loop,approval_required,"
        )),
        "{record}"
    );
    assert!(csv.body.ends_with("\r\n"), "{:?}", csv.body);

    // Someone who reaches other repositories only.
    let stranger = signed_in(&world, &server, "stranger").await;
    let page = stranger.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("No entries match."), "{}", page.text());
    assert!(!page.body.contains("triager"));
    let csv = stranger.get("/audit.csv").await;
    assert_eq!(csv.body, format!("{CSV_HEADER}\r\n"));

    // The server's owner sees every entry.
    let (status, body) = server.get("/audit.csv").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&id), "{body}");
    world.github.assert_nothing_unexpected();
}
