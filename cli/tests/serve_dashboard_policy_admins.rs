//! Who may edit an installation's policies from the dashboard, as GitHub says: an admin
//! of the installation's account. For an organization, an active admin
//! (`GET /user/memberships/orgs/{org}` with the user's token); for a user's account, that
//! account itself, by id. Every refusal is a page that says who may edit; an App without
//! the `members: read` permission cannot be asked, which is said apart from a refusal;
//! an admin's change is in the audit log under their login.

use e2e::dashboard_client::{DashboardClient, oauth_environment, signed_in};
use e2e::delivery::Delivery;
use e2e::fake_github::Route;
use e2e::ota_server::{INSTALLATION, OtaServer, REPO, SECRET, ServeWorld};
use e2e::policy::installation_event;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const POLICIES: &str = "policies:
  - name: careful
    repo_pattern: \"Codertocat/*\"
    require_approval: true
";

/// A server with the fake's installation recorded, and its page.
async fn start(world: &ServeWorld) -> (OtaServer, String) {
    let server = OtaServer::start_with(OTA, world.data_dir(), &oauth_environment(world), &[]);
    let created = Delivery::json("installation", &installation_event("created"), SECRET);
    assert_eq!(server.post(&created).await.0, 202);
    let page = format!("/installations/{INSTALLATION}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !server.get("/installations").await.1.contains(&page) {
        assert!(std::time::Instant::now() < deadline, "no installation");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, page)
}

/// `login`, signed in, who sees the repository.
async fn user(world: &ServeWorld, server: &OtaServer, login: &str) -> DashboardClient {
    world
        .github
        .let_user_reach(login, INSTALLATION, REPO, "read");
    signed_in(world, server, login).await
}

/// The installation's page for `client`: no form, and the sentence that says why; a
/// posted form refused with 403 and the same sentence.
async fn refused(client: &DashboardClient, page: &str, why: &str) {
    let read = client.get(page).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert!(!read.body.contains("name=\"policies\""), "{}", read.text());
    assert!(read.text().contains(why), "{}", read.text());
    let csrf = read.csrf().expect("the sign-out form's token");
    let posted = client
        .post(
            &format!("{page}/policies"),
            &[("csrf", &csrf), ("policies", POLICIES)],
        )
        .await;
    assert_eq!(posted.status, 403, "{}", posted.text());
    assert!(posted.text().contains(why), "{}", posted.text());
}

#[tokio::test]
async fn an_organization_s_active_admins_edit_its_installation_s_policies() {
    let world = ServeWorld::with_lib("true").await;
    let (server, page) = start(&world).await;
    let github = &world.github;
    github.set_installation_account(INSTALLATION, "Codertocat", "Organization", None);
    github.set_org_membership("Codertocat", "member", "member", "active");
    github.set_org_membership("Codertocat", "billing", "billing_manager", "active");
    github.set_org_membership("Codertocat", "invited", "admin", "pending");
    github.set_org_membership("acme", "elsewhere", "admin", "active");
    github.set_org_membership("Codertocat", "mona", "admin", "active");
    let who_may = "This installation is on the organization Codertocat: its admins (and the server's owner) edit its policies.";

    let outsider = user(&world, &server, "outsider").await;
    refused(&outsider, &page, who_may).await;
    refused(&outsider, &page, "You are not a member of it.").await;
    let member = user(&world, &server, "member").await;
    refused(&member, &page, "You are a member of it, not an admin.").await;
    let billing = user(&world, &server, "billing").await;
    refused(
        &billing,
        &page,
        "You are a billing manager of it, not an admin.",
    )
    .await;
    let invited = user(&world, &server, "invited").await;
    refused(&invited, &page, "Your admin membership is pending").await;
    // An admin of another organization is no admin of this one.
    let elsewhere = user(&world, &server, "elsewhere").await;
    refused(&elsewhere, &page, "You are not a member of it.").await;
    let (_, audit) = server.get("/audit.csv").await;
    assert!(!audit.contains("dashboard policy set"), "{audit}");

    // The admin: the form, a post without its CSRF token refused, with it stored and in
    // the audit log under their login.
    let mona = user(&world, &server, "mona").await;
    let read = mona.get(&page).await;
    assert!(read.body.contains("name=\"policies\""), "{}", read.text());
    let without = mona
        .post(&format!("{page}/policies"), &[("policies", POLICIES)])
        .await;
    assert_eq!(without.status, 403, "{}", without.text());
    assert!(without.text().contains("CSRF"), "{}", without.text());
    let csrf = read.csrf().expect("the form's token");
    let saved = mona
        .post(
            &format!("{page}/policies"),
            &[("csrf", &csrf), ("policies", POLICIES)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let (_, audit) = server.get("/audit.csv").await;
    let entry = audit
        .lines()
        .find(|line| line.contains("dashboard policy set"))
        .unwrap_or_else(|| panic!("the change's audit entry: {audit}"));
    assert!(
        entry.contains(&format!(",{INSTALLATION},,mona,")),
        "{entry}"
    );
    assert!(entry.contains("1 policy: careful"), "{entry}");
    let (_, shown) = server.get(&page).await;
    assert!(shown.contains("careful"), "{shown}");

    // GitHub was asked once per user within the cache's minute, each with their token.
    let asked = github.requests_to(Route::UserOrgMembership);
    assert_eq!(asked.len(), 6, "{asked:#?}");
    assert!(asked.iter().all(|request| request.status != 403));
    github.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_app_without_members_read_cannot_tell_an_admin_and_says_so() {
    let world = ServeWorld::with_lib("true").await;
    let (server, page) = start(&world).await;
    world
        .github
        .set_installation_account(INSTALLATION, "Codertocat", "Organization", None);
    world
        .github
        .set_org_membership("Codertocat", "mona", "admin", "active");
    world.github.withhold_app_permission("members");
    let mona = user(&world, &server, "mona").await;
    let read = mona.get(&page).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert!(!read.body.contains("name=\"policies\""), "{}", read.text());
    let why = "the App lacks the organization permission “Members: read”";
    assert!(read.text().contains(why), "{}", read.text());
    let csrf = read.csrf().expect("the sign-out form's token");
    let posted = mona
        .post(
            &format!("{page}/policies"),
            &[("csrf", &csrf), ("policies", POLICIES)],
        )
        .await;
    // Not a refusal: GitHub could not be asked.
    assert_eq!(posted.status, 503, "{}", posted.text());
    assert!(posted.text().contains(why), "{}", posted.text());
    let asked = world.github.requests_to(Route::UserOrgMembership);
    assert!(
        !asked.is_empty() && asked.iter().all(|request| request.status == 403),
        "{asked:#?}"
    );
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_user_account_s_installation_is_edited_by_that_account_by_id() {
    let world = ServeWorld::with_lib("true").await;
    let (server, page) = start(&world).await;
    // The installation is on the account Codertocat (GitHub's id for it is the one the
    // fake gives that login): Codertocat edits, someone else does not.
    let owner = user(&world, &server, "Codertocat").await;
    let read = owner.get(&page).await;
    assert!(read.body.contains("name=\"policies\""), "{}", read.text());
    let csrf = read.csrf().expect("the form's token");
    let saved = owner
        .post(
            &format!("{page}/policies"),
            &[("csrf", &csrf), ("policies", POLICIES)],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text());
    let (_, audit) = server.get("/audit.csv").await;
    assert!(
        audit
            .lines()
            .any(|line| line.contains("dashboard policy set")
                && line.contains(&format!(",{INSTALLATION},,Codertocat,"))),
        "{audit}"
    );
    let other = user(&world, &server, "hubot").await;
    refused(
        &other,
        &page,
        "This installation is on the personal account Codertocat: only that account (and the server's owner) edits its policies, and you are signed in as hubot.",
    )
    .await;

    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_login_that_once_named_the_account_is_not_enough() {
    let world = ServeWorld::with_lib("true").await;
    let (server, page) = start(&world).await;
    // The account Codertocat was renamed and its old login taken by another user: GitHub
    // still lists the installation under the login, but with the account's own id.
    world
        .github
        .set_installation_account(INSTALLATION, "Codertocat", "User", Some(4_242_424));
    let newcomer = user(&world, &server, "Codertocat").await;
    refused(
        &newcomer,
        &page,
        "This installation is on the personal account Codertocat: only that account (and the server's owner) edits its policies, and you are signed in as Codertocat.",
    )
    .await;
    world.github.assert_nothing_unexpected();
}
