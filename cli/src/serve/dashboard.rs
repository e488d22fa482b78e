//! The dashboard (`ota-web`) as `ota serve` mounts it: over the SQLite store and the
//! local engine ([`LocalControlPlane`]), with its session key in the data directory, the
//! App's OAuth client from the environment or the setup's file, and the operator's token
//! (bearer or session cookie, [`super::guard`]) as the owner's way in, and the App's
//! secrets rotated in the data directory ([`super::rotation`]).

use super::Server;
use super::guard::{Gate, SESSION_COOKIE};
use crate::browser;
use crate::setup::AppFile;
use anyhow::Context;
use ota_local::control_plane::LocalControlPlane;
use ota_local::engine::LocalWorkflow;
use ota_web::{GitHubUsers, OAuthApp, OperatorSignIn, SessionKey, Web};
use shared::clock::now_ms;
use std::sync::Arc;
use tokio::sync::Notify;

/// The dashboard's shared state, for `ota serve`.
pub fn web(server: &Arc<Server>, gate: &Arc<Gate>) -> anyhow::Result<Arc<Web<LocalControlPlane>>> {
    let data_dir = server.args.data_dir.path.clone();
    let key = SessionKey::load_or_create(&data_dir).context("the dashboard's session key")?;
    // Its own bell: the engine also looks at its rows every quarter second.
    let workflow = LocalWorkflow::new(server.db.clone(), Arc::new(Notify::new()));
    let public_url = server
        .args
        .public_url
        .clone()
        .unwrap_or_else(|| browser::local_url(server.addr));
    let from_environment =
        server
            .environment
            .oauth_client
            .clone()
            .map(|(client_id, client_secret)| OAuthApp {
                client_id,
                client_secret,
            });
    let oauth = Arc::new(move || {
        from_environment.clone().or_else(|| {
            let file = AppFile::load(&data_dir).ok().flatten()?;
            Some(OAuthApp {
                client_id: file.client_id,
                client_secret: file.client_secret?,
            })
        })
    });
    let gate = Arc::clone(gate);
    let operator = Arc::new(move |headers: &axum::http::HeaderMap| {
        if super::guard::bearer(headers).is_some_and(|token| gate.token.matches(token)) {
            return Some(OperatorSignIn::Bearer);
        }
        browser::cookie(headers, SESSION_COOKIE)
            .filter(|session| gate.token.matches_session(session))
            .map(|session| OperatorSignIn::Cookie(session.to_owned()))
    });
    Ok(Arc::new(Web {
        plane: LocalControlPlane::new(server.db.clone(), workflow),
        // GitHub's web pages go with its API (`GIT_BASE_URL` is where clones come from).
        github: GitHubUsers::new(
            &ota_runner::job::git_base_url(&server.environment.api_url),
            &server.environment.api_url,
        )?,
        oauth,
        operator,
        key,
        sessions: ota_web::Sessions::default(),
        access: ota_web::access::AccessCache::default(),
        secrets: Some(Arc::new(super::rotation::LocalSecrets::new(server))),
        secure_cookies: public_url.starts_with("https://"),
        public_url,
        clock: now_ms,
        // The operator's token is the owner's way in here.
        owners: Vec::new(),
    }))
}
