//! The server's HTTP surface: `POST /webhook` and `GET /healthz` for anyone (GitHub signs
//! its deliveries); `GET /` (the status page, or the setup page while no App is
//! configured) and `POST /setup` for the operator only; the dashboard (`/jobs…`, sign-in
//! with GitHub, [`ota_web`]) for signed-in users; `GET /signin` and the setup's
//! callback for a browser on a known host ([`super::guard`]); `POST /runner/token` for
//! its runners, who prove themselves with their attempt's credential
//! ([`super::runner_token`]). Every body is read whole within a deadline and a limit
//! first ([`super::body`]).

use super::body::{self, BodyRules, PAGE_MAX_BODY_BYTES, Style};
use super::guard::{self, Gate};
use super::{Server, runner_token};
use crate::pages::{self, StatusView};
use crate::settings::AppSettings;
use crate::setup::{self, AppFile, SetupContext, SetupRoutes};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use shared::clock::now_ms;
use shared::ids::AppId;
use shared::webhook::intake::DEFAULT_MAX_BODY_BYTES;
use shared::webhook::telemetry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Jobs on the status page.
const STATUS_JOBS: usize = 50;

pub fn router(
    server: Arc<Server>,
    gate: Arc<Gate>,
    web: Arc<ota_web::Web<ota_local::control_plane::LocalControlPlane>>,
) -> Router {
    let deadline = Duration::from_secs(server.args.body_timeout_seconds);
    // The intake's own limit: a larger delivery is refused in its words, with its line.
    let delivery_body = BodyRules {
        max_bytes: DEFAULT_MAX_BODY_BYTES,
        deadline,
        style: Style::Webhook,
    };
    let page_body = BodyRules {
        max_bytes: PAGE_MAX_BODY_BYTES,
        deadline,
        style: Style::Page,
    };
    let SetupRoutes { start, callback } = setup::routes(setup_context(&server));
    let runners = Router::new()
        .route(ota_runner::job::TOKEN_PATH, post(runner_token::handle))
        .layer(DefaultBodyLimit::max(runner_token::MAX_BODY_BYTES))
        .with_state(Arc::clone(&server))
        .layer(from_fn_with_state(page_body, body::read_whole));
    let public = Router::new()
        .route("/webhook", post(webhook))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(DEFAULT_MAX_BODY_BYTES))
        .with_state(Arc::clone(&server))
        .layer(from_fn_with_state(delivery_body, body::read_whole));
    // Layers run from the last added: the guard before the body is read.
    let home_route = Router::new()
        .route("/", get(home))
        .with_state((Arc::clone(&server), Arc::clone(&gate)))
        .layer(from_fn_with_state(
            Arc::clone(&gate),
            guard::known_host_only,
        ));
    // The dashboard checks who is signed in itself (GitHub user or operator), and the
    // CSRF token of every form.
    let dashboard = ota_web::router(web)
        .layer(from_fn_with_state(page_body, body::read_whole))
        .layer(from_fn_with_state(
            Arc::clone(&gate),
            guard::known_host_only,
        ));
    let operator = Router::new()
        .merge(start)
        .layer(from_fn_with_state(page_body, body::read_whole))
        .layer(from_fn_with_state(Arc::clone(&gate), guard::operator_only));
    let browser = callback
        .merge(guard::routes(Arc::clone(&gate)))
        .layer(from_fn_with_state(page_body, body::read_whole))
        .layer(from_fn_with_state(gate, guard::known_host_only));
    public
        .merge(runners)
        .merge(home_route)
        .merge(dashboard)
        .merge(operator)
        .merge(browser)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn webhook(State(server): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(app) = server.running() else {
        let body = serde_json::json!({
            "status": "not_configured",
            "error": format!("no GitHub App is configured yet: its operator can set one up at {}/", crate::browser::local_url(server.addr)),
        });
        return json(StatusCode::SERVICE_UNAVAILABLE, body.to_string());
    };
    let started = Instant::now();
    super::rotation::expire_overlap(&server, &app).await;
    let receipt = app.intake.receive(&headers, &body).await;
    telemetry::log(&receipt, started.elapsed());
    let status =
        StatusCode::from_u16(receipt.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, receipt.body())
}

async fn healthz(State(server): State<Arc<Server>>) -> Response {
    match server.db.inbox_counts().await {
        Ok(counts) => {
            let body = serde_json::json!({
                "status": "ok",
                "app_configured": server.running().is_some(),
                "inbox_pending": counts.pending,
                "inbox_dead": counts.dead,
            });
            json(StatusCode::OK, body.to_string())
        }
        Err(err) => {
            let body = serde_json::json!({ "status": "unavailable", "error": err.to_string() });
            json(StatusCode::SERVICE_UNAVAILABLE, body.to_string())
        }
    }
}

/// `GET /`: the operator's status page (or the setup while no App is configured); anyone
/// else is sent to the dashboard's jobs, which asks them to sign in.
async fn home(
    State((server, gate)): State<(Arc<Server>, Arc<Gate>)>,
    headers: HeaderMap,
) -> Response {
    if !guard::is_operator(&gate, &headers) {
        if server.running().is_some() {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, "/jobs")]).into_response();
        }
        return guard::sign_in_required(guard::bearer(&headers).is_some());
    }
    let Some(app) = server.running() else {
        return setup::setup_page_response(&setup_context(&server)).into_response();
    };
    match status_view(&server, &app.settings).await {
        Ok(view) => Html(pages::status_page(&view)).into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(pages::message_page(
                "The database is unavailable",
                &err.to_string(),
            )),
        )
            .into_response(),
    }
}

async fn status_view(
    server: &Server,
    app: &AppSettings,
) -> Result<StatusView, shared::ports::StoreError> {
    let recent_jobs = server.db.recent_jobs(STATUS_JOBS, None).await?;
    let jobs_by_status = server.db.job_counts().await?;
    let inbox = server.db.inbox_counts().await?;
    let running = jobs_by_status
        .iter()
        .filter(|(status, _)| {
            matches!(
                status,
                shared::job::JobStatus::Dispatching | shared::job::JobStatus::Running
            )
        })
        .map(|(_, count)| *count)
        .sum::<u64>();
    let web = ota_runner::job::git_base_url(&server.environment.api_url);
    Ok(StatusView {
        app_name: app.slug.clone(),
        app_url: Some(format!("{web}/apps/{}", app.slug)),
        webhook_url: Some(server.webhook_url()),
        github_web_url: web,
        ollama_url: server.environment.ollama_host.clone(),
        runner_slots_in_use: u32::try_from(running).unwrap_or(u32::MAX),
        runner_slots: server.args.gpu_slots
            + if server.environment.hosted_url().is_some() {
                server.args.hosted_slots
            } else {
                0
            },
        inbox_pending: inbox.pending,
        inbox_dead_lettered: inbox.dead,
        jobs_by_status,
        recent_jobs,
        now_ms: now_ms(),
    })
}

/// The setup flow's view of the server; once it stored a new App, the server starts
/// using it without a restart.
fn setup_context(server: &Arc<Server>) -> SetupContext {
    let for_callback = Arc::clone(server);
    SetupContext {
        data_dir: server.args.data_dir.path.clone(),
        api_url: server.environment.api_url.clone(),
        public_url: server.args.public_url.clone(),
        listen: server.addr,
        missing: server.missing(),
        configured: {
            let server = Arc::clone(server);
            Arc::new(move || server.running().map(|app| app.settings.source.clone()))
        },
        pending: setup::PendingSetups::default(),
        on_configured: Arc::new(move |file: AppFile| {
            let settings = AppSettings {
                app_id: AppId(file.app_id),
                slug: file.slug.clone(),
                private_key: file.private_key.clone(),
                webhook_secret: file.webhook_secret.clone(),
                previous_webhook_secret: file.previous_webhook_secret.clone(),
                source: AppFile::path(&for_callback.args.data_dir.path)
                    .display()
                    .to_string(),
                stored: true,
            };
            let server = Arc::clone(&for_callback);
            tokio::spawn(async move {
                if let Err(err) = server.start_app(settings).await {
                    tracing::error!(error = %format!("{err:#}"), "the new GitHub App could not be started; restart ota serve");
                }
            });
            Ok(())
        }),
    }
}
