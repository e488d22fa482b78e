//! The dashboard function on a stack in moto (`e2e::stack::StackWorld`, created from
//! `template.yaml`), for the same page tests `ota serve`'s dashboard has: the function's
//! settings are the environment CloudFormation resolved for it, its secrets are read
//! from Secrets Manager as on AWS (the App's OAuth client put there as the deploy guide
//! says), and its router (`dashboard_function::app`) serves a real socket. Only
//! `DASHBOARD_PUBLIC_URL` differs from the deployed function's: browsers reach this one at the
//! local socket, not at the Function URL (whose lookup `own_url` checks apart).

use crate::aws::{config, rotate_secret};
use crate::dashboard_client::{DashboardClient, signed_in_at};
use crate::deployed::environment;
use crate::fake_github::{FakeGitHub, MANIFEST_CLIENT_ID, MANIFEST_CLIENT_SECRET};
use crate::stack::StackWorld;
use std::collections::BTreeMap;

/// The login the stack names as the dashboard's owner (`DashboardOwners`).
pub const OWNER: &str = "the-owner";

/// A stack, its dashboard served on a local socket, and the fake GitHub users sign in to.
pub struct DashboardStack {
    pub world: StackWorld,
    pub github: FakeGitHub,
    /// Where the dashboard listens (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The dashboard function's environment, as CloudFormation resolved it.
    pub env: BTreeMap<String, String>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DashboardStack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DashboardStack {
    pub async fn start() -> Self {
        let github = FakeGitHub::start().await;
        let world = StackWorld::start_with(&[
            ("GitHubApiUrl", github.base_url()),
            ("DashboardOwners", format!("@{OWNER}")),
        ])
        .await;
        let aws = config().await;
        // As the deploy guide says: the App's OAuth client into the stack's secret.
        rotate_secret(
            &world.secrets,
            world.output("DashboardOAuthClientArn"),
            &serde_json::json!({
                "client_id": MANIFEST_CLIENT_ID,
                "client_secret": MANIFEST_CLIENT_SECRET,
            })
            .to_string(),
        )
        .await;
        let env = environment(
            &aws_sdk_lambda::Client::new(&aws),
            world.stack.physical("DashboardFunction"),
        )
        .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the dashboard");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let settings = dashboard_function::Settings::from_env(|name| match name {
            "DASHBOARD_PUBLIC_URL" => Some(url.clone()),
            _ => env.get(name).cloned(),
        })
        .unwrap_or_else(|problem| panic!("the stack misconfigures the dashboard: {problem}"));
        let web = dashboard_function::build_web(&settings, &aws)
            .await
            .unwrap_or_else(|errors| panic!("the dashboard does not start: {errors:?}"));
        let app = dashboard_function::app(web);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            world,
            github,
            url,
            env,
            server,
        }
    }

    /// A browser that has not signed in.
    pub fn browser(&self) -> DashboardClient {
        DashboardClient::at(&self.url)
    }

    /// A browser signed in with GitHub as `login`.
    pub async fn signed_in(&self, login: &str) -> DashboardClient {
        signed_in_at(&self.github, &self.url, login).await
    }

    /// The URL the deployed function finds for itself (no `DASHBOARD_PUBLIC_URL`): its Function
    /// URL on the live alias.
    pub async fn own_url(&self) -> String {
        let settings = dashboard_function::Settings::from_env(|name| self.env.get(name).cloned())
            .expect("settings");
        dashboard_function::public_url(&settings, &config().await)
            .await
            .unwrap_or_else(|err| panic!("the function could not find its URL: {err}"))
    }
}
