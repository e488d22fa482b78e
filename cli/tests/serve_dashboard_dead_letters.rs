//! The dead letters on `ota serve`'s dashboard (`GET /dead-letters`, `POST
//! /dead-letters/{id}/{retry|discard}`), for the server's owner: a delivery GitHub's
//! refusal made the App give up on is listed with its error, handled again once the cause
//! is gone (its job then runs), or discarded; a signed-in GitHub user is answered as if
//! the pages did not exist.

use e2e::dashboard_client::{oauth_environment, signed_in};
use e2e::delivery::Delivery;
use e2e::fake_github::{Fault, Route};
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, SECRET, ServeWorld, eventually, first_job_id,
    pr_comment,
};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// A comment whose delivery the App gives up on: GitHub refuses, once, the permission
/// lookup it starts with (422 is no error that trying again fixes). Returns its delivery.
async fn given_up(world: &ServeWorld, server: &OtaServer, body: &str) -> String {
    world
        .github
        .inject(Route::Permission, 1, Fault::Status(422));
    let delivery = Delivery::json("issue_comment", &pr_comment("Codertocat", body), SECRET);
    let id = delivery.delivery_id.clone().expect("a delivery id");
    assert_eq!(server.post(&delivery).await.0, 202);
    let deadline = std::time::Instant::now() + JOB_TIMEOUT;
    loop {
        let (_, page) = server.get("/dead-letters").await;
        if page.contains(&id) {
            return id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery was never set aside: {page}\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `POST path` as the owner's script: the status and the `Location`.
async fn post_as_owner(server: &OtaServer, path: &str) -> (u16, Option<String>) {
    let (status, location, _) = server.post_as_operator(path, &[]).await;
    (status, location)
}

#[tokio::test]
async fn the_owner_handles_a_dead_letter_again_or_discards_it() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(&world), &[]);
    let first = given_up(&world, &server, "/ollama refactor extract the retry loop").await;

    let (status, page) = server.get("/dead-letters").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("issue_comment"), "{page}");
    assert!(page.contains("422"), "the error says why: {page}");
    let (_, jobs) = world.ota(OTA, &["jobs"]);
    assert!(first_job_id(&jobs).is_none(), "no job yet: {jobs}");

    // A GitHub user, even a repository's admin, gets no such page.
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "admin");
    let user = signed_in(&world, &server, "maintainer").await;
    let jobs_page = user.get("/jobs").await;
    assert!(
        !jobs_page.body.contains("/dead-letters"),
        "no link for a user"
    );
    assert_eq!(user.get("/dead-letters").await.status, 404);
    let csrf = jobs_page.csrf().expect("a form token");
    let refused = user
        .post(&format!("/dead-letters/{first}/retry"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 404, "{refused:?}");

    // Handled again, now that GitHub answers: the job runs to its pull request.
    assert_eq!(
        post_as_owner(&server, &format!("/dead-letters/{first}/retry")).await,
        (303, Some("/dead-letters".to_owned()))
    );
    world.opened_pull(&server).await;
    eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        let (_, jobs) = world.ota(OTA, &["jobs", "--status", "succeeded"]);
        first_job_id(&jobs)
    })
    .await;
    let (_, page) = server.get("/dead-letters").await;
    assert!(!page.contains(&first), "{page}");
    assert!(page.contains("No dead letters."), "{page}");

    // Discarded: gone, and nothing runs for it.
    let second = given_up(&world, &server, "/ollama docs the retry loop").await;
    assert_eq!(
        post_as_owner(&server, &format!("/dead-letters/{second}/discard")).await,
        (303, Some("/dead-letters".to_owned()))
    );
    let (_, page) = server.get("/dead-letters").await;
    assert!(page.contains("No dead letters."), "{page}");
    // Acting on it again, or on what never was, says so.
    let (status, _) = post_as_owner(&server, &format!("/dead-letters/{second}/retry")).await;
    assert_eq!(status, 409);
    let (status, _) = post_as_owner(&server, "/dead-letters/no-such-delivery/discard").await;
    assert_eq!(status, 409);
    let (status, _) = post_as_owner(&server, &format!("/dead-letters/{second}/burn")).await;
    assert_eq!(status, 404);
    let (_, jobs) = world.ota(OTA, &["jobs"]);
    assert_eq!(jobs.matches("docs").count(), 0, "{jobs}");
}
