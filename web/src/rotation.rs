//! The settings page, for the server's owner only: `GET /settings` says where the App's
//! webhook secret and private key are kept and spells out each rotation, GitHub's side
//! included; `POST /settings/webhook-secret` makes a new webhook secret and shows it once
//! (the old one stays accepted for the overlap), `POST /settings/webhook-secret/finish`
//! ends the overlap, `POST /settings/private-key` takes a new key the owner generated on
//! GitHub, once GitHub accepts it. The work is the deployment's ([`AppSecrets`]); a
//! secret is on no page but the one that shows it new, and in no log or error.

use crate::Web;
use crate::jobs::{check_csrf, check_csrf_token, see_other};
use crate::pages::{self, Frame};
use crate::time::format_ms;
use crate::viewer::{Refusal, Viewer, viewer};
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use shared::ports::{
    AppSecrets, ControlPlane, DashboardActor, RotationError, SecretPlace, SecretsStatus,
};
use std::sync::Arc;

/// The largest private key form taken: GitHub's keys are RSA 2048 (about 1.7 KB of PEM);
/// room for a 4096-bit one, URL-encoded.
const MAX_KEY_FORM_BYTES: usize = 16 * 1024;

/// How a secret is kept, as the page words it.
struct Place {
    /// The file's path, when the server keeps it and can rotate it.
    file: Option<String>,
    /// The variables, when the environment holds it.
    environment: String,
}

impl Place {
    fn of(place: &SecretPlace) -> Self {
        match place {
            SecretPlace::File(path) => Self {
                file: Some(path.clone()),
                environment: String::new(),
            },
            SecretPlace::Environment(variables) => Self {
                file: None,
                environment: variables.clone(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: Frame,
    app_id: u64,
    slug: String,
    /// The App's settings page on GitHub.
    app_url: String,
    webhook: Place,
    overlap_until: Option<String>,
    key: Place,
    /// What came of the last action, when the page answers one.
    notice: Option<String>,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "webhook_secret.html")]
struct NewSecretPage {
    frame: Frame,
    secret: String,
    app_url: String,
    until: String,
}

/// The owner, or the refusal a GitHub user gets.
fn owner(viewer: &Viewer) -> Result<DashboardActor, Refusal> {
    match viewer {
        Viewer::Operator(_) => Ok(DashboardActor::Operator),
        Viewer::User { .. } => Err(Refusal::Forbidden(
            "The settings (the App's webhook secret and private key) are the server's owner's only, who signs in with the link `ota serve` printed."
                .to_owned(),
        )),
    }
}

/// The deployment's secrets, or why this server has no settings page.
fn secrets<C>(web: &Web<C>) -> Result<&Arc<dyn AppSecrets>, Refusal> {
    web.secrets.as_ref().ok_or_else(|| {
        Refusal::NotFound("This deployment rotates the App's secrets elsewhere.".to_owned())
    })
}

fn refusal(err: RotationError) -> Refusal {
    match err {
        RotationError::NoApp => Refusal::Conflict(
            "No GitHub App is configured on this server yet: set one up first (the setup page, or `ota setup`).".to_owned(),
        ),
        RotationError::Managed(text) => Refusal::Conflict(text),
        RotationError::Refused(text) => Refusal::BadRequest("Not taken".to_owned(), text),
        RotationError::Unavailable(text) => Refusal::Unavailable(text),
    }
}

fn app_url<C>(web: &Web<C>, slug: &str) -> String {
    format!(
        "{}/settings/apps/{slug}",
        web.github.web_url.trim_end_matches('/')
    )
}

fn page<C>(
    web: &Web<C>,
    viewer: &Viewer,
    status: SecretsStatus,
    notice: Option<String>,
    problem: Option<String>,
) -> SettingsPage {
    SettingsPage {
        frame: Frame::new(web, viewer),
        app_id: status.app_id,
        app_url: app_url(web, &status.slug),
        slug: status.slug,
        webhook: Place::of(&status.webhook_secret),
        overlap_until: status.previous_secret_until_ms.map(format_ms),
        key: Place::of(&status.private_key),
        notice,
        problem,
    }
}

/// `GET /settings`.
pub async fn show<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    owner(&viewer)?;
    let status = secrets(&web)?.status().await.map_err(refusal)?;
    Ok(pages::html(
        StatusCode::OK,
        page(&web, &viewer, status, None, None).render(),
    ))
}

/// `POST /settings/webhook-secret`: the new secret, shown this once.
pub async fn rotate_webhook_secret<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let actor = owner(&viewer)?;
    check_csrf(&web, &viewer, &body)?;
    let secrets = secrets(&web)?;
    let secret = secrets
        .rotate_webhook_secret(actor)
        .await
        .map_err(refusal)?;
    let status = secrets.status().await.map_err(refusal)?;
    tracing::info!("the owner rotated the webhook secret");
    let page = NewSecretPage {
        frame: Frame::new(&web, &viewer),
        secret: secret.expose_secret().to_owned(),
        app_url: app_url(&web, &status.slug),
        until: status
            .previous_secret_until_ms
            .map_or_else(|| "the rotation is finished".to_owned(), format_ms),
    };
    let mut response = pages::html(StatusCode::OK, page.render());
    // Shown once: no cache keeps it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /settings/webhook-secret/finish`.
pub async fn finish_webhook_rotation<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let actor = owner(&viewer)?;
    check_csrf(&web, &viewer, &body)?;
    secrets(&web)?
        .finish_webhook_rotation(actor)
        .await
        .map_err(refusal)?;
    tracing::info!("the owner finished the webhook secret's rotation");
    Ok(see_other("/settings#webhook-secret"))
}

/// The key form's CSRF token and key: the uploaded file (`private_key_file`, in a
/// `multipart/form-data` body, as the page sends it) or else the pasted text
/// (`private_key`, either encoding).
fn key_form(headers: &HeaderMap, body: &[u8]) -> Result<(String, SecretString), Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let Some(boundary) = crate::multipart::boundary(content_type) else {
        let mut csrf = String::new();
        let mut pem = String::new();
        for (name, value) in form_urlencoded::parse(body) {
            match name.as_ref() {
                "csrf" => csrf = value.into_owned(),
                "private_key" => pem = value.replace("\r\n", "\n"),
                _ => {}
            }
        }
        return Ok((csrf, SecretString::from(pem)));
    };
    let fields = crate::multipart::fields(&boundary, body).map_err(|why| {
        Refusal::BadRequest(
            "Not a form".to_owned(),
            format!("The form could not be read: {why}."),
        )
    })?;
    let field = |wanted: &str| {
        fields
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, bytes)| text(bytes))
            .unwrap_or_default()
    };
    let file = field("private_key_file");
    let pem = if file.trim().is_empty() {
        field("private_key")
    } else {
        file
    };
    Ok((field("csrf"), SecretString::from(pem)))
}

/// `POST /settings/private-key`.
pub async fn replace_private_key<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    let actor = owner(&viewer)?;
    if body.len() > MAX_KEY_FORM_BYTES {
        return Err(Refusal::BadRequest(
            "Too long".to_owned(),
            format!(
                "A private key form may have at most {MAX_KEY_FORM_BYTES} bytes: upload the one .pem file GitHub generated."
            ),
        ));
    }
    let (csrf, pem) = key_form(&headers, &body)?;
    check_csrf_token(&web, &viewer, &csrf)?;
    let secrets = secrets(&web)?;
    let (code, notice, problem) = if pem.expose_secret().trim().is_empty() {
        (
            StatusCode::BAD_REQUEST,
            None,
            Some(
                "No key was sent: choose the .pem file GitHub generated (or paste its contents)."
                    .to_owned(),
            ),
        )
    } else {
        match secrets.replace_private_key(pem, actor).await {
            Ok(()) => {
                tracing::info!("the owner replaced the App's private key");
                (
                    StatusCode::OK,
                    Some("The new key is in use: GitHub accepted it for this App, it is stored in place of the old one, and every request from now on is signed with it. Now delete the old key on GitHub (step 3).".to_owned()),
                    None,
                )
            }
            Err(RotationError::Refused(why)) => (StatusCode::BAD_REQUEST, None, Some(why)),
            Err(err) => return Err(refusal(err)),
        }
    };
    let status = secrets.status().await.map_err(refusal)?;
    Ok(pages::html(
        code,
        page(&web, &viewer, status, notice, problem).render(),
    ))
}
