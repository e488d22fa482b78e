//! The GitHub App client against the fake GitHub over a real socket: what it asks GitHub
//! (routes, token scopes, JWT claims), how it maps the answers, and that no credential
//! ever shows in errors, `Debug` or logs. Retries and duplicate-free writes are in
//! `github_client_retries.rs`.

use e2e::fake_github::{APP_ID, AuthKind, FakeGitHub, Fault, PRIVATE_KEY_PEM, Route};
use e2e::github_client::{INSTALLATION, REPO, SHA, check, pull, scope, start};
use e2e::logs::CapturedLogs;
use ota_github::{
    AppCredentials, ClientOptions, GitHubClient, REFRESH_MARGIN, SetupError, TokenPermissions,
};
use secrecy::ExposeSecret;
use serde_json::json;
use shared::ids::{AppId, CommitSha};
use shared::ports::{GitHub, GitHubError, Permission, RepoFile};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::instrument::WithSubscriber;

#[tokio::test]
async fn roles_map_to_permissions_and_an_unknown_user_has_none() {
    let (fake, client) = start().await;
    for (login, role) in [
        ("ada", "admin"),
        ("mo", "maintain"),
        ("wu", "write"),
        ("tri", "triage"),
        ("rae", "read"),
    ] {
        fake.set_role(REPO, login, role);
    }
    fake.set_custom_role(REPO, "custom", Some("security-lead"), "write");
    fake.set_custom_role(REPO, "old-server", None, "admin");

    let expected = [
        ("ada", Permission::Admin),
        ("mo", Permission::Maintain),
        ("wu", Permission::Write),
        ("tri", Permission::Triage),
        ("rae", Permission::Read),
        ("custom", Permission::Write),
        ("old-server", Permission::Admin),
        ("stranger", Permission::None),
    ];
    for (login, permission) in expected {
        assert_eq!(
            client.permission(&scope(REPO), login).await,
            Ok(permission),
            "{login}"
        );
    }
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn files_come_as_bytes_and_each_reason_for_none_is_told_apart() {
    let (fake, client) = start().await;
    let config = "tasks:\n  refactor:\n    enabled: true\n".repeat(10) + "# café ✓\n";
    fake.set_file(REPO, "main", ".ollama-turbo.yml", config.clone());
    fake.set_file(REPO, "", "docs/a file.md", "default branch");
    fake.set_file(REPO, "main", "big.bin", vec![b'x'; 2 * 1024 * 1024]);
    fake.set_file(REPO, "main", "latin1.yml", b"# caf\xe9\n".to_vec());
    fake.remove_branch(REPO, "gone");
    fake.set_empty_repository("octo-org/empty");

    let repo = scope(REPO);
    assert_eq!(
        client.file(&repo, ".ollama-turbo.yml", "main").await,
        Ok(RepoFile::Found(config.into_bytes()))
    );
    assert_eq!(
        client.file(&repo, "docs/a file.md", "").await,
        Ok(RepoFile::Found(b"default branch".to_vec()))
    );
    // The bytes as stored: whether they are text is the caller's business.
    assert_eq!(
        client.file(&repo, "latin1.yml", "main").await,
        Ok(RepoFile::Found(b"# caf\xe9\n".to_vec()))
    );
    assert_eq!(
        client.file(&repo, ".ollama-turbo.yml", "dev").await,
        Ok(RepoFile::Missing)
    );
    assert_eq!(
        client.file(&repo, "missing.yml", "main").await,
        Ok(RepoFile::Missing)
    );
    assert_eq!(
        client.file(&repo, "big.bin", "main").await,
        Ok(RepoFile::TooLarge {
            bytes: 2 * 1024 * 1024
        })
    );
    assert_eq!(
        client.file(&repo, "docs", "").await,
        Ok(RepoFile::NotAFile {
            kind: "directory".to_owned()
        })
    );
    assert_eq!(
        client.file(&repo, ".ollama-turbo.yml", "gone").await,
        Ok(RepoFile::NoSuchRef {
            empty_repository: false
        })
    );
    assert_eq!(
        client
            .file(&scope("octo-org/empty"), ".ollama-turbo.yml", "")
            .await,
        Ok(RepoFile::NoSuchRef {
            empty_repository: true
        })
    );

    let reads = fake.requests_to(Route::Contents);
    assert_eq!(
        reads[0].path,
        "/repos/octo-org/hello-world/contents/.ollama-turbo.yml"
    );
    assert_eq!(reads[0].query.get("ref").map(String::as_str), Some("main"));
    assert_eq!(
        reads[1].path,
        "/repos/octo-org/hello-world/contents/docs/a file.md"
    );
    assert_eq!(reads[1].query.get("ref"), None);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn one_token_per_repository_scoped_to_it_and_signed_by_the_app() {
    let (fake, client) = start().await;
    fake.set_role(REPO, "ada", "admin");
    fake.set_role("octo-org/other", "ada", "write");

    for _ in 0..3 {
        client.permission(&scope(REPO), "ada").await.expect("role");
    }
    client
        .permission(&scope("octo-org/other"), "ada")
        .await
        .expect("role");

    let mints = fake.requests_to(Route::AccessToken);
    assert_eq!(mints.len(), 2, "one token per repository, reused");
    assert_eq!(
        mints[0].path,
        format!("/app/installations/{INSTALLATION}/access_tokens")
    );
    assert_eq!(
        mints[0].body,
        Some(json!({
            "repositories": ["hello-world"],
            "permissions": {
                "metadata": "read",
                "contents": "read",
                "issues": "write",
                "pull_requests": "write",
                "checks": "write",
            },
        }))
    );
    assert_eq!(
        mints[1].body.as_ref().map(|b| &b["repositories"]),
        Some(&json!(["other"]))
    );

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for mint in &mints {
        let AuthKind::AppJwt { iss, iat, exp } = &mint.auth else {
            panic!("minted without a valid App JWT: {:?}", mint.auth);
        };
        assert_eq!(iss, &APP_ID.to_string());
        assert!(exp - iat <= 600, "lives {}s", exp - iat);
        assert!(
            *iat <= now - 50 && *iat >= now - 70,
            "iat {iat} is backdated by ~60s"
        );
        assert!(*exp > now);
    }
    for call in fake.requests_to(Route::Permission) {
        assert!(
            matches!(&call.auth, AuthKind::InstallationToken { installation, .. } if *installation == INSTALLATION),
            "{:?}",
            call.auth
        );
    }
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_token_close_to_expiry_is_not_reused() {
    let (fake, client) = start().await;
    fake.set_token_lifetime(REFRESH_MARGIN - Duration::from_secs(60));
    fake.set_role(REPO, "ada", "admin");

    client.permission(&scope(REPO), "ada").await.expect("role");
    client.permission(&scope(REPO), "ada").await.expect("role");

    assert_eq!(fake.requests_to(Route::AccessToken).len(), 2);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once() {
    let (fake, client) = start().await;
    fake.set_role(REPO, "ada", "admin");
    client.permission(&scope(REPO), "ada").await.expect("role");

    fake.revoke_tokens();
    assert_eq!(
        client.permission(&scope(REPO), "ada").await,
        Ok(Permission::Admin)
    );

    assert_eq!(fake.requests_to(Route::AccessToken).len(), 2);
    let refused: Vec<_> = fake.take_unexpected();
    assert_eq!(
        refused.len(),
        1,
        "only the revoked token's call: {refused:#?}"
    );
    assert_eq!(refused[0].auth, AuthKind::UnknownToken);
}

#[tokio::test]
async fn other_callers_get_tokens_with_the_permissions_they_ask_for() {
    let (fake, client) = start().await;
    let runner = TokenPermissions::runner();

    let token = client
        .installation_token(&scope(REPO), &runner)
        .await
        .expect("runner token");
    let again = client
        .installation_token(&scope(REPO), &runner)
        .await
        .expect("runner token");

    let minted = fake.minted_tokens();
    assert_eq!(minted.len(), 1, "cached per permission set");
    assert_eq!(token.secret().expose_secret(), minted[0].token);
    assert_eq!(again.secret().expose_secret(), minted[0].token);
    assert_eq!(minted[0].repositories, vec!["hello-world".to_owned()]);
    assert_eq!(
        minted[0].permissions.get("contents").map(String::as_str),
        Some("write")
    );
    assert_eq!(
        minted[0].permissions.get("issues").map(String::as_str),
        Some("read"),
        "the runner reads the issue"
    );
    let lifetime = token
        .expires_at()
        .duration_since(SystemTime::now())
        .expect("expires in the future");
    assert!(lifetime > Duration::from_secs(3500), "{lifetime:?}");

    fake.set_role(REPO, "ada", "admin");
    client.permission(&scope(REPO), "ada").await.expect("role");
    assert_eq!(
        fake.minted_tokens().len(),
        2,
        "the policy set is another token"
    );
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_client_built_from_the_apps_settings_uses_the_permissions_asked_for() {
    let fake = FakeGitHub::start().await;
    fake.set_file(REPO, "main", "README.md", "hello");
    let mut app = fake.app();
    app.api_url.push('/');
    assert_eq!(app.credentials.app_id, AppId(APP_ID));
    let client = app.client(TokenPermissions::runner()).expect("client");
    assert_eq!(client.base_url(), fake.base_url(), "no trailing slash");
    assert_eq!(client.app_id(), AppId(APP_ID));

    let file = client
        .file(&scope(REPO), "README.md", "main")
        .await
        .expect("file");

    assert_eq!(file, RepoFile::Found(b"hello".to_vec()));
    let minted = fake.minted_tokens();
    assert_eq!(minted.len(), 1);
    assert_eq!(
        minted[0].permissions.get("contents").map(String::as_str),
        Some("write"),
        "the runner's permissions"
    );
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_unreachable_github_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = GitHubClient::new(
        &FakeGitHub::app_credentials(),
        ClientOptions::with_base_url(format!("http://{addr}")),
    )
    .expect("client");

    let error = client
        .permission(&scope(REPO), "ada")
        .await
        .expect_err("refused");

    assert!(matches!(error, GitHubError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn pull_requests_and_branches_are_read() {
    let (fake, client) = start().await;
    fake.set_pull_request(REPO, pull(1, Some(REPO)));
    fake.set_pull_request(REPO, pull(2, Some("mallory/hello-world")));
    fake.set_pull_request(REPO, pull(3, None));
    fake.set_branch(REPO, "feature/x", SHA);
    let repo = scope(REPO);

    let own = client.pull_request(&repo, 1).await.expect("pull 1");
    assert_eq!(own.head_sha, CommitSha::new(SHA));
    assert_eq!(
        (own.head_ref.as_str(), own.base_ref.as_str()),
        ("feature/x", "main")
    );
    assert!(!own.from_fork);
    assert_eq!(own.state, "open");
    assert!(
        client
            .pull_request(&repo, 2)
            .await
            .expect("pull 2")
            .from_fork
    );
    assert!(
        client
            .pull_request(&repo, 3)
            .await
            .expect("pull 3")
            .from_fork
    );
    assert!(matches!(
        client.pull_request(&repo, 4).await,
        Err(GitHubError::NotFound(_))
    ));

    assert_eq!(
        client.branch_head(&repo, "feature/x").await,
        Ok(CommitSha::new(SHA))
    );
    assert!(matches!(
        client.branch_head(&repo, "gone").await,
        Err(GitHubError::NotFound(_))
    ));
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_repository_is_described_and_an_issue_is_opened_once_per_call() {
    let (fake, client) = start().await;
    fake.set_repository(REPO, 1_296_269, "trunk", true);
    fake.set_pull_request(REPO, pull(4, Some(REPO)));
    let repo = scope(REPO);

    let info = client.repository(&repo).await.expect("repository");
    assert_eq!(info.id, shared::ids::RepoId(1_296_269));
    assert_eq!(info.default_branch, "trunk");
    assert!(info.private);
    assert!(matches!(
        client.repository(&scope("octocat/gone")).await,
        Err(GitHubError::NotFound(_))
    ));

    let issue = shared::ports::NewIssue {
        title: "Ollama Turbo Agent: scheduled runs".to_owned(),
        body: "Reports of the scheduled runs.".to_owned(),
        labels: vec!["automation:scheduled".to_owned()],
    };
    let number = client.open_issue(&repo, &issue).await.expect("issue");
    assert_eq!(number, 5, "after the pull request #4: one sequence");
    assert_eq!(
        fake.opened_issues(REPO),
        [(5, "Ollama Turbo Agent: scheduled runs".to_owned())]
    );
    assert_eq!(fake.labels(REPO, 5), ["automation:scheduled"]);
    let sent = fake.requests_to(Route::CreateIssue);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body.as_ref().map(|body| body["body"].clone()),
        Some(json!("Reports of the scheduled runs."))
    );
    // GitHub cannot tell a repeated issue apart: a failure is not retried.
    fake.inject(Route::CreateIssue, 1, Fault::Status(502));
    assert!(client.open_issue(&repo, &issue).await.is_err());
    assert_eq!(fake.requests_to(Route::CreateIssue).len(), 2);
    assert_eq!(fake.opened_issues(REPO).len(), 1);
    fake.take_unexpected();
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_github_enterprise_server_base_path_is_kept() {
    let fake = FakeGitHub::start_at("/api/v3").await;
    let client = fake.client();
    fake.set_role(REPO, "ada", "maintain");

    assert_eq!(
        client.permission(&scope(REPO), "ada").await,
        Ok(Permission::Maintain)
    );

    assert!(fake.base_url().ends_with("/api/v3"));
    assert_eq!(fake.requests_to(Route::AccessToken).len(), 1);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_invalid_private_key_is_named_without_being_shown() {
    let half_key = &PRIVATE_KEY_PEM[..PRIVATE_KEY_PEM.len() / 2];
    for pem in ["not a key at all", half_key] {
        let credentials = AppCredentials {
            app_id: AppId(APP_ID),
            private_key: pem.into(),
        };
        let error =
            GitHubClient::new(&credentials, ClientOptions::default()).expect_err("invalid key");
        assert!(
            matches!(error, SetupError::InvalidPrivateKey(_)),
            "{error:?}"
        );
        let shown = format!("{error} {error:?} {credentials:?}");
        assert!(shown.contains("PEM"), "{shown}");
        for line in pem
            .lines()
            .filter(|line| line.len() > 20 && !line.starts_with("-----"))
        {
            assert!(!shown.contains(line), "key material in: {shown}");
        }
    }
}

#[tokio::test]
async fn no_credential_shows_in_errors_debug_or_logs() {
    let (fake, client) = start().await;
    let logs = CapturedLogs::default();
    let wrong_app = GitHubClient::new(
        &AppCredentials {
            app_id: AppId(APP_ID + 1),
            private_key: PRIVATE_KEY_PEM.into(),
        },
        ClientOptions::with_base_url(fake.base_url()),
    )
    .expect("client");
    fake.set_pull_request(REPO, pull(12, Some(REPO)));
    fake.inject(Route::PullRequest, 3, Fault::Status(503));
    fake.inject(Route::CreateComment, 1, Fault::Status(403));
    fake.inject(Route::CreateCheckRun, 1, Fault::Status(422));

    let (token, errors) = async {
        let token = client
            .installation_token(&scope(REPO), &TokenPermissions::runner())
            .await
            .expect("token");
        let errors = vec![
            client
                .pull_request(&scope(REPO), 12)
                .await
                .expect_err("503"),
            client
                .comment(&scope(REPO), 1, "m", "b")
                .await
                .expect_err("403"),
            client
                .create_check_run(&scope(REPO), &check("c", "x"))
                .await
                .expect_err("422"),
            client
                .pull_request(&scope(REPO), 99)
                .await
                .expect_err("404"),
            wrong_app
                .permission(&scope(REPO), "ada")
                .await
                .expect_err("401"),
        ];
        (token, errors)
    }
    .with_subscriber(logs.subscriber())
    .await;
    let refused = fake.take_unexpected();
    assert_eq!(refused.len(), 1, "only the wrong App's JWT: {refused:#?}");
    assert!(
        matches!(refused[0].auth, AuthKind::BadJwt(_)),
        "{refused:#?}"
    );

    assert!(
        matches!(errors[0], GitHubError::Unavailable(_)),
        "{:?}",
        errors[0]
    );
    assert!(
        matches!(errors[1], GitHubError::Forbidden(_)),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[2], GitHubError::Rejected(_)),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(errors[3], GitHubError::NotFound(_)),
        "{:?}",
        errors[3]
    );
    assert!(
        matches!(errors[4], GitHubError::Unauthorized(_)),
        "{:?}",
        errors[4]
    );

    let mut shown = format!(
        "{client:?} {wrong_app:?} {token:?} {:?}",
        FakeGitHub::app_credentials()
    );
    for error in &errors {
        shown.push_str(&format!(" {error} {error:?}"));
    }
    shown.push_str(&logs.text());
    let minted = fake.minted_tokens();
    assert!(minted.len() >= 2);
    for minted in &minted {
        assert!(!shown.contains(&minted.token), "a token leaked: {shown}");
    }
    // Every JWT starts with the base64 of `{"`.
    assert!(!shown.contains("eyJ"), "a JWT leaked: {shown}");
    assert!(!shown.contains("PRIVATE KEY"), "the key leaked: {shown}");
    assert!(logs.text().contains("retrying"), "the retries are logged");
}

#[tokio::test]
async fn clients_sharing_the_app_s_key_sign_with_a_new_one_once_github_accepts_it() {
    use e2e::fake_github::{PUBLIC_KEY_PEM, SECOND_PRIVATE_KEY_PEM, SECOND_PUBLIC_KEY_PEM};
    use ota_github::KeyCheckError;
    let fake = FakeGitHub::start().await;
    fake.set_file(REPO, "main", "README.md", "hello");
    fake.set_file("octo/other", "main", "README.md", "hello");
    let app = fake.app();
    let key = app.key().expect("the key");
    let client = app
        .client_with_key(&key, TokenPermissions::policy_and_report())
        .expect("client");
    let second = SECOND_PRIVATE_KEY_PEM.into();

    // GitHub does not know the new key yet: refused, and the clients keep the old one.
    assert_eq!(app.check_key(&second).await, Err(KeyCheckError::Refused));
    assert_eq!(fake.take_unexpected().len(), 1, "the refused JWT");
    let err = app
        .check_key(&"-----BEGIN RSA PRIVATE KEY-----\nhunter2\n".into())
        .await
        .expect_err("not a key");
    assert!(matches!(err, KeyCheckError::Invalid(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(key.replace("hunter2".into()).is_err());
    client
        .file(&scope(REPO), "README.md", "main")
        .await
        .expect("signed with the old key");

    // Generated on GitHub: accepted, swapped in, and the old key deleted there.
    fake.add_app_key(SECOND_PUBLIC_KEY_PEM);
    app.check_key(&second).await.expect("GitHub accepts it");
    key.replace(second).expect("a key");
    fake.delete_app_key(PUBLIC_KEY_PEM);
    client
        .file(&scope("octo/other"), "README.md", "main")
        .await
        .expect("a new token, minted with the new key");
    assert_eq!(fake.requests_to(Route::AccessToken).len(), 2);
    fake.assert_nothing_unexpected();
}
