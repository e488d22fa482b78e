//! The dashboard's installations on `ota serve` (`GET /installations`, `GET
//! /installations/{id}`, `POST /installations/{id}/policies`), through the real router,
//! the real SQLite store and the fake GitHub's OAuth web flow: the owner sees every
//! installation and edits its policies (a wrong file refused with its field and reason,
//! the text kept; a right one stored, shown back as the file, and in the audit log; an
//! empty one removes them); a GitHub user sees the installations of the repositories
//! they can see, read only unless they administer its account (see
//! `serve_dashboard_policy_admins.rs`); a stranger sees none.

use e2e::dashboard_client::{oauth_environment, signed_in};
use e2e::delivery::Delivery;
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, SECRET, ServeWorld, eventually, first_job_id,
    refactor_request,
};
use e2e::policy::installation_event;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const POLICIES: &str = "policies:
  - name: careful
    repo_pattern: \"Codertocat/*\"
    require_approval: true
    user_jobs_per_hour: 3
";

/// `POST path` as the owner's script with the form `form`: the status and the body.
async fn post_as_owner(server: &OtaServer, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = server.post_as_operator(path, form).await;
    (status, body)
}

#[tokio::test]
async fn the_owner_edits_an_installation_s_policies_and_users_read_them() {
    let world = ServeWorld::with_lib("true").await;
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    let created = Delivery::json("installation", &installation_event("created"), SECRET);
    assert_eq!(server.post(&created).await.0, 202);
    let page = format!("/installations/{INSTALLATION}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, list) = server.get("/installations").await;
        if list.contains(&format!("href=\"{page}\"")) {
            assert!(list.contains("Codertocat"), "{list}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no installation: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The owner: the repositories, what they used, no policy yet, and the form.
    let (status, body) = server.get(&page).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(REPO), "{body}");
    assert!(
        body.contains("0 in the last hour, 0 in the last day"),
        "{body}"
    );
    assert!(body.contains("name=\"policies\""), "the form: {body}");
    // A triager's request: one job asked for, waiting for an approval.
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    eventually(&server, "the job in line", JOB_TIMEOUT, || {
        let (_, jobs) = world.ota(OTA, &["jobs", "--status", "awaiting_approval"]);
        first_job_id(&jobs)
    })
    .await;
    let (_, body) = server.get(&page).await;
    assert!(
        body.contains("1 in the last hour, 1 in the last day, using 0 tokens"),
        "{body}"
    );
    assert!(
        body.contains("an installation may start 200 jobs an hour and each person 20"),
        "{body}"
    );
    assert!(
        body.contains("<th scope=\"row\">triager</th><td>1</td><td>20 (default)</td>"),
        "{body}"
    );

    // A wrong file: refused with where and why, nothing stored, the text kept.
    let wrong = "policies:\n  - name: careful\n    repo_pattern: \"*\"\n    run_forever: true\n";
    let (status, body) =
        post_as_owner(&server, &format!("{page}/policies"), &[("policies", wrong)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Not saved:"), "{body}");
    assert!(body.contains("run_forever"), "{body}");
    assert!(
        body.contains("run_forever: true"),
        "the text is kept: {body}"
    );
    let (_, audit) = server.get("/audit.csv").await;
    assert!(!audit.contains("dashboard policy set"), "{audit}");

    // A right one: stored, shown back as the file, and in the audit log.
    let (status, _) = post_as_owner(
        &server,
        &format!("{page}/policies"),
        &[("policies", POLICIES)],
    )
    .await;
    assert_eq!(status, 303);
    // Shown back as `ota policy get` writes the file (JSON, which YAML reads too).
    let (_, body) = server.get(&page).await;
    let body = body.replace("&#34;", "\"");
    assert!(body.contains("\"name\": \"careful\""), "{body}");
    assert!(body.contains("\"require_approval\": true"), "{body}");
    assert!(body.contains("\"user_jobs_per_hour\": 3"), "{body}");
    // The limits in force: the policy's where it sets them, else the defaults.
    assert!(
        body.contains(&format!(
            "<th scope=\"row\">{REPO}</th><td>careful</td><td>3 (policy careful)</td><td>200 (default)</td>"
        )),
        "{body}"
    );
    let (_, audit) = server.get("/audit.csv").await;
    let entry = audit
        .lines()
        .find(|line| line.contains("dashboard policy set"))
        .unwrap_or_else(|| panic!("the change's audit entry: {audit}"));
    assert!(
        entry.contains(&format!(",{INSTALLATION},,local:dashboard,")),
        "{entry}"
    );
    assert!(entry.contains("1 policy: careful"), "{entry}");
    // An empty file removes them: the defaults apply again.
    let (status, _) = post_as_owner(
        &server,
        &format!("{page}/policies"),
        &[("policies", "policies: []\n")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, body) = server.get(&page).await;
    assert!(!body.contains("careful"), "{body}");

    // A GitHub user who can see the repository reads the page, without the form, and
    // cannot post one.
    world
        .github
        .let_user_reach("reader", INSTALLATION, REPO, "admin");
    let reader = signed_in(&world, &server, "reader").await;
    let list = reader.get("/installations").await;
    assert!(
        list.body.contains(&format!("href=\"{page}\"")),
        "{}",
        list.text()
    );
    let read = reader.get(&page).await;
    assert_eq!(read.status, 200);
    assert!(
        !read.body.contains("name=\"policies\""),
        "no form: {}",
        read.text()
    );
    // The installation is on the user account Codertocat: reader is not it.
    assert!(
        read.text().contains(
            "This installation is on the personal account Codertocat: only that account (and the server's owner) edits its policies, and you are signed in as reader."
        ),
        "{}",
        read.text()
    );
    let csrf = read.csrf().expect("the sign-out form's token");
    let refused = reader
        .post(
            &format!("{page}/policies"),
            &[("csrf", &csrf), ("policies", POLICIES)],
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");

    // Someone who reaches other repositories only: no installation, no page.
    world
        .github
        .let_user_reach("stranger", INSTALLATION + 1, "someone/else", "admin");
    let stranger = signed_in(&world, &server, "stranger").await;
    assert!(
        stranger
            .get("/installations")
            .await
            .text()
            .contains("No installations.")
    );
    assert_eq!(stranger.get(&page).await.status, 404);
    assert_eq!(
        stranger.get("/installations/not-a-number").await.status,
        404
    );
    world.github.assert_nothing_unexpected();
}
