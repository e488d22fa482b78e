//! The dashboard on `ota serve`, through the real router over a real socket, the real
//! SQLite store and engine, and the fake GitHub's OAuth web flow: signing in, what each
//! user may see and do (as GitHub says), every refusal, and the actions carried out.

use e2e::dashboard_client::{DashboardClient, oauth_environment, signed_in};
use e2e::fake_github::{MANIFEST_CLIENT_SECRET, Route};
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id,
    refactor_request,
};
use e2e::redact::Redact;
use e2e::runner_world::REFACTORED;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// A triage user's job on [`REPO`], waiting for an approval; returns its id.
async fn waiting_job(world: &ServeWorld, server: &OtaServer) -> String {
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    eventually(
        server,
        "the job to wait for an approval",
        JOB_TIMEOUT,
        || {
            let (_, jobs) = world.ota(OTA, &["jobs", "--status", "awaiting_approval"]);
            first_job_id(&jobs)
        },
    )
    .await
}

fn serve(world: &ServeWorld) -> OtaServer {
    OtaServer::start_with(
        OTA,
        world.data_dir(),
        &oauth_environment(world),
        &["--retry-interval-seconds", "1"],
    )
}

/// Every `YYYY-MM-DD HH:MM UTC` of the page becomes `[time]`.
fn without_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" UTC") {
        let (before, after) = rest.split_at(at);
        let stamp = before.len().saturating_sub(16);
        let is_time = before.is_char_boundary(stamp)
            && before[stamp..].len() == 16
            && before.as_bytes()[stamp + 4] == b'-'
            && before.as_bytes()[stamp + 13] == b':';
        if is_time {
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

fn redact(id: &str) -> Redact {
    Redact::new()
        .value(id, "[job]")
        .value(&id[..8], "[short]")
        .ids()
        .after("Signed in as", "[who]")
}

#[tokio::test]
async fn a_visitor_who_is_not_signed_in_sees_nothing_and_bad_sign_ins_are_refused() {
    let world = ServeWorld::with_lib("true").await;
    let server = serve(&world);
    let id = waiting_job(&world, &server).await;
    let browser = DashboardClient::new(&server);

    for path in ["/jobs", &format!("/jobs/{id}")] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 303, "{path}: {page:?}");
        assert_eq!(page.location.as_deref(), Some("/signin/github"));
        let (status, body) = server.get_anonymously(path).await;
        assert_eq!(status, 401, "a script is told, not sent: {body}");
        assert!(!body.contains(&id), "{body}");
    }
    let page = browser.post(&format!("/jobs/{id}/approve"), &[]).await;
    assert_eq!(page.status, 303, "{page:?}");
    let home = browser.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/jobs"), "{home:?}");

    // A callback this browser did not start.
    let forged = browser
        .get("/signin/github/callback?code=anything&state=made-up")
        .await;
    assert_eq!(forged.status, 400, "{forged:?}");
    insta::assert_snapshot!("bad_state_page", forged.text());

    // A started sign-in whose code GitHub does not know.
    let start = browser.get("/signin/github").await;
    let authorize = start.location.expect("to GitHub");
    assert!(
        authorize.starts_with(&world.github.base_url()),
        "{authorize}"
    );
    let state = authorize
        .split("state=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a state")
        .to_owned();
    let wrong_code = browser
        .get(&format!(
            "/signin/github/callback?code=not-a-code&state={state}"
        ))
        .await;
    assert_eq!(wrong_code.status, 400, "{wrong_code:?}");
    insta::assert_snapshot!("bad_code_page", wrong_code.text());
    assert!(browser.cookie("ota_session").is_none());

    // A code is spent by its first use.
    world.github.sign_in_as("maintainer");
    let signed = browser.sign_in_with_github().await;
    assert_eq!(signed.status, 303, "{signed:?}");
    let session = signed
        .set_cookies
        .iter()
        .find(|cookie| cookie.starts_with("ota_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    // The dashboard answers only to this server's names, like every page.
    let rebound = server
        .send(
            reqwest::Method::GET,
            "/jobs",
            &[("host", "rebound.evil.example")],
            None,
        )
        .await;
    assert_eq!(rebound.status, 421, "{rebound:?}");
    let used = world
        .github
        .requests_to(Route::OAuthAuthorize)
        .last()
        .map(|request| request.query.clone())
        .expect("the authorize request");
    assert_eq!(
        used.get("redirect_uri").map(String::as_str),
        Some(format!("{}/signin/github/callback", server.url).as_str())
    );
    let log = server.log();
    assert!(
        !log.contains(MANIFEST_CLIENT_SECRET),
        "the client secret is logged"
    );
    for token in world.github.user_tokens() {
        assert!(!log.contains(&token), "a user token is logged");
    }
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn users_see_the_jobs_of_their_repositories_and_act_only_with_write_access() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = serve(&world);
    let id = waiting_job(&world, &server).await;
    world
        .github
        .let_user_reach("reader", INSTALLATION, REPO, "read");
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "write");
    world
        .github
        .let_user_reach("stranger", INSTALLATION + 1, "someone/else", "admin");

    // Someone who reaches other repositories only sees no job, and no job page.
    let stranger = signed_in(&world, &server, "stranger").await;
    let jobs = stranger.get("/jobs").await;
    assert_eq!(jobs.status, 200, "{jobs:?}");
    assert!(jobs.text().contains("No jobs match."), "{}", jobs.text());
    assert!(!jobs.body.contains(&id));
    let hidden = stranger.get(&format!("/jobs/{id}")).await;
    assert_eq!(hidden.status, 404, "{hidden:?}");
    let csrf = jobs.csrf().expect("the sign-out form's token");
    let act = stranger
        .post(&format!("/jobs/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(act.status, 404, "{act:?}");

    // A reader sees it, without buttons, and is refused the action.
    let reader = signed_in(&world, &server, "reader").await;
    let jobs = reader.get("/jobs").await;
    assert!(
        jobs.body.contains(&format!("/jobs/{id}")),
        "{}",
        jobs.text()
    );
    let page = reader.get(&format!("/jobs/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/approve\""), "{}", page.text());
    assert!(page.text().contains("acting on it needs write access"));
    let csrf = page.csrf().expect("a csrf token");
    let refused = reader
        .post(&format!("/jobs/{id}/approve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    insta::assert_snapshot!("read_only_refusal", redact(&id).apply(&refused.text()));

    // The maintainer's forms need their own CSRF token.
    let maintainer = signed_in(&world, &server, "maintainer").await;
    let page = maintainer.get(&format!("/jobs/{id}")).await;
    insta::assert_snapshot!(
        "waiting_job_page",
        without_times(
            &redact(&id)
                .between("Commit", "(", "[commit] ")
                .apply(&page.text())
        )
    );
    let jobs = maintainer.get("/jobs").await;
    insta::assert_snapshot!("jobs_page", without_times(&redact(&id).apply(&jobs.text())));
    for form in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", csrf.as_str())],
    ] {
        let refused = maintainer.post(&format!("/jobs/{id}/approve"), &form).await;
        assert_eq!(refused.status, 403, "{form:?}: {refused:?}");
        assert!(refused.text().contains("CSRF token is missing or wrong"));
    }
    assert_eq!(world.job_status(OTA, &id), "awaiting_approval");

    // The waiting job's page streams its log; strangers get no stream.
    let stream = format!("/jobs/{id}/log/stream?from=0");
    assert!(
        page.body
            .contains(&format!("data-stream=\"{}\"", stream.replace('&', "&amp;"))),
        "{}",
        page.body
    );
    let script = page
        .body
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the live log's script")
        .to_owned();
    let served = maintainer.get(&script).await;
    assert_eq!(served.status, 200);
    assert!(served.body.contains("EventSource"));
    let (status, _) = stranger
        .events(&stream, std::time::Duration::from_secs(5))
        .await;
    assert_eq!(status, 404);
    // The reader watches the log while the job runs.
    let live = tokio::spawn({
        let watcher = DashboardClient::new(&server);
        watcher.set_cookie(
            "ota_session",
            &reader.cookie("ota_session").expect("a session"),
        );
        let stream = stream.clone();
        async move { watcher.events(&stream, JOB_TIMEOUT).await }
    });

    // Approved from the page, the job runs.
    let csrf = page.csrf().expect("a csrf token");
    let approved = maintainer
        .post(&format!("/jobs/{id}/approve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(approved.status, 303, "{approved:?}");
    assert_eq!(approved.location, Some(format!("/jobs/{id}")));
    let (status, events) = live.await.expect("the stream");
    assert_eq!(status, 200);
    assert!(events.contains("event: lines"), "{events}");
    assert!(events.contains("event: end\ndata: succeeded"), "{events}");
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "succeeded").then_some(())
    })
    .await;
    let done = maintainer.get(&format!("/jobs/{id}")).await;
    let text = done.text();
    assert!(text.contains("approved by maintainer"), "{text}");
    assert!(
        text.contains("dashboard approve"),
        "the audit entry: {text}"
    );
    assert!(text.contains("succeeded"), "{text}");
    assert!(
        !done.body.contains("/approve\""),
        "no approve button once done"
    );
    assert!(
        !text.contains("No log lines yet."),
        "the runner's log: {text}"
    );
    assert!(text.contains("attempt 1: runner exited normally"), "{text}");
    assert!(
        text.contains("Pull request") && text.contains("Tokens") && text.contains("Duration"),
        "what the job produced: {text}"
    );

    // Filters.
    let none = maintainer.get("/jobs?status=failed").await;
    assert!(none.text().contains("No jobs match."));
    let some = maintainer
        .get("/jobs?status=succeeded&requester=%40triager&task=refactor")
        .await;
    assert!(
        some.body.contains(&format!("/jobs/{id}")),
        "{}",
        some.text()
    );
    let wrong = maintainer.get("/jobs?since=yesterday").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("From must be a date as YYYY-MM-DD"));

    // Signed out, the old cookie opens nothing.
    let session = maintainer.cookie("ota_session").expect("a session");
    let out = maintainer.post("/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(maintainer.cookie("ota_session").is_none());
    maintainer.set_cookie("ota_session", &session);
    assert_eq!(maintainer.get("/jobs").await.status, 303);

    for token in world.github.user_tokens() {
        assert!(!server.log().contains(&token), "a user token is logged");
        assert!(!done.body.contains(&token), "a user token is shown");
    }
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_writer_cancels_and_retries_and_the_operator_sees_everything() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = serve(&world);
    let id = waiting_job(&world, &server).await;
    world
        .github
        .let_user_reach("maintainer", INSTALLATION, REPO, "write");
    let maintainer = signed_in(&world, &server, "maintainer").await;

    let page = maintainer.get(&format!("/jobs/{id}")).await;
    assert!(
        !page.body.contains("/retry\""),
        "a waiting job is not retried"
    );
    let csrf = page.csrf().expect("a csrf token");
    let cancelled = maintainer
        .post(&format!("/jobs/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(cancelled.status, 303, "{cancelled:?}");
    eventually(&server, "the job to be cancelled", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "cancelled").then_some(())
    })
    .await;
    world.completed_check_run(&server, "cancelled").await;
    let again = maintainer
        .post(&format!("/jobs/{id}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert!(
        again.text().contains("already cancelled"),
        "{}",
        again.text()
    );

    let retried = maintainer
        .post(&format!("/jobs/{id}/retry"), &[("csrf", &csrf)])
        .await;
    assert_eq!(retried.status, 303, "{retried:?}");
    let new = retried
        .location
        .and_then(|to| to.strip_prefix("/jobs/").map(str::to_owned))
        .expect("the new job's page");
    assert_ne!(new, id);
    world.opened_pull(&server).await;
    eventually(&server, "the retry to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &new) == "succeeded").then_some(())
    })
    .await;
    let (_, details) = world.ota(OTA, &["job", &new]);
    assert!(details.contains("retry of"), "{details}");

    // The operator's token, from a script: everything, no CSRF token asked.
    let (status, jobs) = server.get("/jobs").await;
    assert_eq!(status, 200);
    assert!(jobs.contains(&id) && jobs.contains(&new), "{jobs}");
    let (status, page) = server.get(&format!("/jobs/{new}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Signed in as the server&#39;s owner")
            || page.contains("Signed in as the server's owner"),
        "{page}"
    );
    // The operator's browser session needs the token on its forms.
    let cookie = server.sign_in().await;
    let operator = DashboardClient::new(&server);
    let (name, value) = cookie.split_once('=').expect("a cookie");
    operator.set_cookie(name, value);
    let refused = operator.post(&format!("/jobs/{new}/retry"), &[]).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let page = operator.get(&format!("/jobs/{new}")).await;
    let csrf = page.csrf().expect("the operator's forms carry a token");
    let finished = operator
        .post(&format!("/jobs/{new}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(finished.status, 409, "{finished:?}");
    assert!(
        finished.text().contains("already succeeded"),
        "{}",
        finished.text()
    );
    let home = operator.get("/").await;
    assert_eq!(home.status, 200, "the operator's status page: {home:?}");
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn pages_read_on_and_github_s_failures_are_told_apart_from_refusals() {
    let world = ServeWorld::with_lib("true").await;
    let server = serve(&world);
    // Thirty jobs on the repository, written as `ota` commands write beside the server.
    let db = ota_local::store::Database::open(world.data_dir()).expect("the database");
    for at in 1..=30u64 {
        let job = e2e::store_contract::job_on(REPO, e2e::store_contract::comment_on(2), at * 1_000);
        shared::ports::JobStore::create_job(&db, &job)
            .await
            .expect("a job");
    }
    world
        .github
        .let_user_reach("reader", INSTALLATION, REPO, "read");
    let reader = signed_in(&world, &server, "reader").await;
    let first = reader.get("/jobs").await;
    assert_eq!(
        first.body.matches("<tr>").count(),
        1 + 25,
        "{}",
        first.text()
    );
    let older = first
        .body
        .split("href=\"/jobs?")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an older page")
        .replace("&amp;", "&");
    let second = reader.get(&format!("/jobs?{older}")).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(
        second.body.matches("<tr>").count(),
        1 + 5,
        "{}",
        second.text()
    );
    assert!(!second.body.contains("rel=\"next\""));
    let forged = reader.get("/jobs?after=not-a-cursor").await;
    assert_eq!(forged.status, 400, "{forged:?}");

    // GitHub cannot answer: the access could not be checked, which is not a refusal.
    world
        .github
        .let_user_reach("newcomer", INSTALLATION, REPO, "write");
    let newcomer = signed_in(&world, &server, "newcomer").await;
    world.github.inject(
        Route::UserInstallations,
        1,
        e2e::fake_github::Fault::Status(502),
    );
    let down = newcomer.get("/jobs").await;
    assert_eq!(down.status, 503, "{down:?}");
    insta::assert_snapshot!("github_unavailable_page", down.text());
    assert_eq!(newcomer.get("/jobs").await.status, 200);

    // GitHub no longer takes the user's token: sign in again.
    world
        .github
        .let_user_reach("latecomer", INSTALLATION, REPO, "write");
    let latecomer = signed_in(&world, &server, "latecomer").await;
    world.github.revoke_user_tokens();
    let expired = latecomer.get("/jobs").await;
    assert_eq!(expired.status, 401, "{expired:?}");
    assert!(
        expired.text().contains("Sign in again"),
        "{}",
        expired.text()
    );
    assert_eq!(
        latecomer.get("/jobs").await.status,
        303,
        "the session is over"
    );
    // The 401s GitHub gave were provoked on purpose.
    let refused = world.github.take_unexpected();
    assert!(
        refused
            .iter()
            .all(|request| request.route == Some(Route::UserInstallations)),
        "{refused:#?}"
    );
}
